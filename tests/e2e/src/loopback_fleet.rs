//! Many Unix targets for the fault tests, each on its own loopback address 127.0.0.n and all on
//! one real sshd's port: real logins (127.0.0.1 is sshd itself, other addresses relay to it)
//! and silent listeners, scanned with one record through the real control plane by an agent
//! with short login bounds. The control plane runs on a manual clock, so a dead agent's lease
//! can run out without waiting.

use crate::agent::{Agent, AgentSettings};
use crate::control_plane::ControlPlane;
use sealscan_test_peers::faulty::{Behaviour, FaultyTarget};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

/// The peers of 127.0.0.1..=127.0.0.`hosts`; they stop when dropped.
pub struct Peers {
    pub sshd: Sshd,
    pub targets: Vec<FaultyTarget>,
    hosts: u8,
}

impl Peers {
    /// Creates a Unix scan named `title` of every address; its id.
    pub fn scan(&self, plane: &ControlPlane, title: &str) -> String {
        plane.scan(json!({"title": title, "targets": [self.range()],
                          "kinds": "unix", "ports": {"unix": self.sshd.port()}}))
    }

    fn range(&self) -> String {
        format!("127.0.0.1-127.0.0.{}", self.hosts)
    }
}

/// Starts the peers of 127.0.0.1..=127.0.0.`hosts` (a real login where `real(n)`, a silent
/// listener elsewhere), a control plane, an agent running `concurrency` targets at once with
/// 2 s login bounds, and a record of `user` and `password` for every address.
pub fn start(
    user: &str,
    password: &str,
    hosts: u8,
    real: impl Fn(u8) -> bool,
    concurrency: u16,
) -> (Peers, ControlPlane, Agent) {
    ensure_user(user, password);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let targets = FaultyTarget::on_each(2..=hosts, port, |n| {
        if real(n) {
            Behaviour::Relay(([127, 0, 0, 1], port).into())
        } else {
            Behaviour::Silent
        }
    });
    let plane = ControlPlane::with_manual_clock();
    let agent = plane.running_agent(AgentSettings {
        concurrency,
        unix_secs: 2,
        windows_secs: 2,
    });
    let peers = Peers {
        sshd,
        targets,
        hosts,
    };
    plane.unix_password_record("fleet", user, &[&peers.range()], password);
    (peers, plane, agent)
}

/// [`start`], then a scan named `title` of every address; its id last.
pub fn scan(
    user: &str,
    password: &str,
    title: &str,
    hosts: u8,
    real: impl Fn(u8) -> bool,
    concurrency: u16,
) -> (Peers, ControlPlane, Agent, String) {
    let (peers, plane, agent) = start(user, password, hosts, real, concurrency);
    let scan = peers.scan(&plane, title);
    (peers, plane, agent, scan)
}

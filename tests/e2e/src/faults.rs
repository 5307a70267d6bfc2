//! The harness of the fault tests: the real control plane (HTTPS + SQLite, in process) and an
//! enrolled, approved agent binary, with the handles a fault needs that `control::world`
//! does not give: the agent killed with SIGKILL and started again, the control plane
//! dropped (connections and all) and started again on the same port and data directory, a
//! manual clock to let a dead agent's lease run out without waiting two minutes, and short
//! per-target timeouts.

use crate::agent::{AgentHome, RunningAgent, wait_until};
use crate::control::{Api, BOUND, MANAGER, MANAGER_PW, now};
use sealscan_control::clock::ManualClock;
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{RunningServer, ServerOptions, start};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The agent's settings for a fault test.
#[derive(Clone, Copy, Debug)]
pub struct AgentSettings {
    pub concurrency: u16,
    pub unix_secs: u32,
    pub windows_secs: u32,
}

/// The control plane's own runtime: dropping it ends every connection the server holds, as a
/// crash or a restart of the process would (stopping only the accept loop would let open
/// connections, a long-poll among them, go on being served by the old instance).
struct Served {
    rt: tokio::runtime::Runtime,
    server: RunningServer,
}

pub struct Plane {
    pub data: tempfile::TempDir,
    pub clock: ManualClock,
    pub addr: SocketAddr,
    served: Option<Served>,
    /// The operator's side: its own runtime, so it outlives control-plane restarts.
    rt: tokio::runtime::Runtime,
    pub api: Api,
    pub home: AgentHome,
    pub appliance_id: String,
    agent: Option<RunningAgent>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn serve(data: &std::path::Path, clock: &ManualClock, listen: SocketAddr) -> Served {
    let rt = runtime();
    // The port was just released by the previous instance; binding it again can race the
    // kernel's teardown of its sockets, so a refusal is retried briefly.
    let mut last = String::new();
    for _ in 0..100 {
        let started = rt.block_on(start(ServerOptions {
            data_dir: data.to_path_buf(),
            listen,
            cert: None,
            key: None,
            hash_cost: HashCost::TEST,
            clock: Arc::new(clock.clone()),
        }));
        match started {
            Ok(server) => return Served { rt, server },
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the control plane did not start on {listen}: {last}");
}

impl Plane {
    /// Initialises a control plane, serves it, enrolls and approves an agent with `settings`
    /// and starts it.
    pub fn start(settings: AgentSettings) -> Plane {
        let data = tempfile::tempdir().expect("data dir");
        init(
            data.path(),
            InitOptions {
                subscription: "faults".into(),
                edition: Edition::Standard,
                username: MANAGER.into(),
                first_name: "Alice".into(),
                last_name: "Smith".into(),
                email: "alice@example.com".into(),
                password: Password::new(MANAGER_PW.into()),
                hash_cost: HashCost::TEST,
                now: now(),
            },
        )
        .expect("init");
        let clock = ManualClock::new(now());
        let served = serve(data.path(), &clock, "127.0.0.1:0".parse().expect("addr"));
        let addr = served.server.addr;
        let base = format!("https://127.0.0.1:{}", addr.port());
        let ca_pem = std::fs::read_to_string(data.path().join("tls/cert.pem")).expect("cert");
        let rt = runtime();
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
            .build()
            .expect("client");
        let token = rt.block_on(async {
            let r = client
                .post(format!("{base}/api/v1/session"))
                .json(&json!({"username": MANAGER, "password": MANAGER_PW}))
                .send()
                .await
                .expect("sign in");
            let body: Value = r.json().await.expect("session body");
            body["token"].as_str().expect("session token").to_string()
        });
        let api = Api::new(client, base.clone(), token);
        let home = AgentHome::new(&base, &ca_pem, settings.concurrency);
        let config = format!(
            "control_plane_url = \"{base}\"\nca_file = \"{}\"\nstate_dir = \"{}\"\n\
             concurrency = {}\nlog = \"stderr\"\n\n[timeouts]\nunix_secs = {}\n\
             windows_secs = {}\nvault_secs = 30\n",
            home.ca_file().display(),
            home.state_dir().display(),
            settings.concurrency,
            settings.unix_secs,
            settings.windows_secs,
        );
        std::fs::write(home.config(), config).expect("write agent config");
        let enrollment = rt.block_on(api.call(
            reqwest::Method::POST,
            "/api/v1/appliances/tokens",
            Some(json!({})),
        ));
        let enrollment = enrollment["token"].as_str().expect("enrollment token");
        let out = home.enroll(&base, enrollment, &[]);
        assert!(
            out.status.success(),
            "enroll: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let appliances = rt.block_on(api.call(reqwest::Method::GET, "/api/v1/appliances", None));
        let appliance_id = appliances[0]["id"]
            .as_str()
            .expect("the enrolled appliance")
            .to_string();
        rt.block_on(api.call(
            reqwest::Method::POST,
            &format!("/api/v1/appliances/{appliance_id}/approve"),
            Some(json!({})),
        ));
        let mut plane = Plane {
            data,
            clock,
            addr,
            served: Some(served),
            rt,
            api,
            home,
            appliance_id,
            agent: None,
        };
        plane.start_agent();
        wait_until("the agent collects its credential", BOUND, || {
            plane.home.state_dir().join("credential").exists()
        });
        plane
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.rt.block_on(self.api.call(method, path, body))
    }

    pub fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "the agent is already running");
        self.agent = Some(self.home.run());
    }

    /// SIGKILL: no grace, no spool flush, nothing the agent can do about it.
    pub fn kill_agent(&mut self) {
        let agent = self.agent.take().expect("a running agent");
        // Dropping the handle kills with SIGKILL and reaps the process.
        drop(agent);
    }

    /// The agent is still running (it has not exited on its own).
    pub fn agent_alive(&mut self) -> bool {
        self.agent.as_mut().is_some_and(|a| a.exited().is_none())
    }

    /// SIGTERM to the agent; its exit status must be 0.
    pub fn stop_agent(&mut self) {
        if let Some(agent) = self.agent.take() {
            let status = agent.terminate();
            assert_eq!(status.code(), Some(0), "{}", self.home.stderr());
        }
    }

    /// Drops the control plane at once: its runtime, listener and every open connection.
    pub fn stop_control_plane(&mut self) {
        let served = self.served.take().expect("a running control plane");
        served.rt.shutdown_timeout(Duration::from_secs(1));
        drop(served.server);
    }

    /// Serves the same data directory on the same address again.
    pub fn start_control_plane(&mut self) {
        assert!(
            self.served.is_none(),
            "the control plane is already running"
        );
        let served = serve(self.data.path(), &self.clock, self.addr);
        assert_eq!(served.server.addr, self.addr);
        self.served = Some(served);
    }

    /// Creates a scan; returns its id.
    pub fn create_scan(&self, body: Value) -> String {
        let scan = self.call(reqwest::Method::POST, "/api/v1/scans", Some(body));
        scan["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| scan["id"].to_string())
    }

    pub fn results(&self, scan_id: &str) -> Vec<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/scans/{scan_id}/results"),
            None,
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    pub fn scan_view(&self, scan_id: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/scans/{scan_id}"),
            None,
        )
    }

    /// Waits until the control plane holds at least `count` results for the scan.
    pub fn wait_results(&self, scan_id: &str, count: usize) -> Vec<Value> {
        let mut rows = Vec::new();
        wait_until(
            &format!("{count} results of scan {scan_id} in the control plane"),
            BOUND,
            || {
                rows = self.results(scan_id);
                rows.len() >= count
            },
        );
        rows
    }

    /// Waits until the scan is done in the control plane; returns its results.
    pub fn wait_done(&self, scan_id: &str) -> Vec<Value> {
        wait_until(&format!("scan {scan_id} done"), BOUND, || {
            self.scan_view(scan_id)["state"] == "done"
        });
        self.results(scan_id)
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        self.agent.take();
        if let Some(served) = self.served.take() {
            served.rt.block_on(served.server.stop());
        }
    }
}

/// The results keyed by (target id, kind), asserting that no target and kind has two.
pub fn one_per_target(rows: &[Value]) -> BTreeMap<(String, String), Value> {
    let mut by_target = BTreeMap::new();
    for row in rows {
        let key = (
            row["target_id"].as_str().unwrap_or_default().to_string(),
            row["kind"].as_str().unwrap_or_default().to_string(),
        );
        if let Some(first) = by_target.insert(key.clone(), row.clone()) {
            panic!("two results for {key:?}: {first} and {row}");
        }
    }
    by_target
}

/// A unix record with a legacy password for the addresses in `ips`.
pub fn unix_record(ips: &[&str], user: &str, password: &str) -> Value {
    json!({
        "kind": "unix",
        "title": format!("fault unix {}", ips.join(" ")),
        "user": user,
        "ips": ips,
        "secrets": [{"field": "password",
                     "value": {"model": "legacy", "value": crate::control::b64(password.as_bytes())}}]
    })
}

/// A windows record (local account) with a legacy password for the addresses in `ips`.
pub fn windows_record(ips: &[&str], user: &str, password: &str) -> Value {
    json!({
        "kind": "windows",
        "title": format!("fault windows {}", ips.join(" ")),
        "user": user,
        "ips": ips,
        "secrets": [{"field": "password",
                     "value": {"model": "legacy", "value": crate::control::b64(password.as_bytes())}}]
    })
}

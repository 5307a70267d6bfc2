//! kill -9 of the agent in the middle of a job with many targets, then a restart: every
//! target ends with exactly one result in the control plane, none lost, none doubled.
//!
//! The job: 30 Unix targets on loopback, every fifth a real OpenSSH login (a relay on its
//! address to the real sshd), the others a listener that accepts and never answers, so the
//! job is still running, with results posted and targets in flight, when the agent dies.
//! The dead agent's lease runs out on the control plane's clock (moved, not waited for), and
//! the restarted agent posts what it had spooled and claims the rest.

use sealscan_control::api::jobs::LEASE_SECS;
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, loopback_fleet, wait_until};

const USER: &str = "e2e_fkill";
const PASSWORD: &str = "Fk4!kill-Zq9w";
const HOSTS: u8 = 30;

fn is_real(n: u8) -> bool {
    n % 5 == 1
}

#[test]
fn kill_9_mid_job_then_restart_leaves_exactly_one_result_per_target() {
    let (_peers, plane, mut agent, scan) =
        loopback_fleet::scan(USER, PASSWORD, "kill -9", HOSTS, is_real, 4);

    // Mid-job: some results recorded, the rest not yet.
    let before = plane.wait_results(&scan, 8);
    agent.kill();
    let recorded = plane.results(&scan).len();
    eprintln!(
        "killed with {} results recorded ({} seen before)",
        recorded,
        before.len()
    );
    assert!(
        recorded < usize::from(HOSTS),
        "the job had finished before the kill"
    );
    let spooled = agent.home.spooled();
    eprintln!("left in the spool: {spooled:?}");

    // The dead agent's lease runs out (the control plane's clock moves past it).
    let view = plane.scan_view(&scan);
    assert_eq!(view["jobs"][0]["state"], "leased", "{view}");
    plane.advance(i64::from(LEASE_SECS) + 1);
    agent.start();

    let rows = plane.wait_done(&scan);
    assert_unix_logins(&rows, HOSTS, is_real);
    let view = plane.scan_view(&scan);
    let job = &view["jobs"][0];
    assert_eq!(job["state"], "done", "{view}");
    assert_eq!(
        job["claims"], 2,
        "claimed once before the kill, once after: {view}"
    );
    assert_eq!(job["targets_done"], i64::from(HOSTS), "{view}");
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    agent.stop();
}

/// The crash windows the spool exists for, made certain rather than hoped for: results that
/// were spooled but never posted when the agent died (the control plane was down), and
/// results posted but still in the spool (the agent died between the post and the removal;
/// reproduced by putting the agent's own spool files back). After each restart every target
/// has exactly one result.
#[test]
fn kill_9_with_results_only_in_the_spool_then_reposts_record_each_once() {
    const N: u8 = 8;
    let (_peers, mut plane, mut agent, scan) =
        loopback_fleet::scan(USER, PASSWORD, "spool", N, |n| n % 2 == 1, 2);
    plane.wait_results(&scan, 1);
    plane.stop();
    wait_until("two results waiting in the spool", BOUND, || {
        agent.home.spooled().len() >= 2
    });
    agent.kill();
    let saved = tempfile::tempdir().expect("temp dir");
    let spooled: Vec<_> = agent
        .home
        .spooled()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    for file in &spooled {
        std::fs::copy(file, saved.path().join(file.file_name().expect("name"))).expect("copy");
    }
    eprintln!("{} results only in the spool at the kill", spooled.len());

    plane.restart();
    plane.advance(i64::from(LEASE_SECS) + 1);
    agent.start();
    let rows = plane.wait_done(&scan);
    assert_unix_logins(&rows, N, |n| n % 2 == 1);
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());

    // Posted and acknowledged, yet back in the spool: re-posted at the next start, recorded
    // as duplicates, and removed.
    agent.stop();
    for file in &spooled {
        let name = file.file_name().expect("name");
        std::fs::copy(saved.path().join(name), file).expect("restore");
    }
    agent.start();
    wait_until(
        "the restored results acknowledged as duplicates",
        BOUND,
        || agent.home.stderr().matches("was already recorded").count() >= spooled.len(),
    );
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    let again = plane.results(&scan);
    one_per_target(&again);
    assert_eq!(again.len(), usize::from(N), "{again:#?}");
    agent.stop();
}

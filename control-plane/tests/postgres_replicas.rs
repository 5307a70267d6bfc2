//! Replicas of the real `sealscan-control serve` binary on one real PostgreSQL (tests/peers):
//! the NCSM migration runs on one replica at a time (a session advisory lock), and when the
//! replica running it is SIGKILLed halfway, Resume on another continues it, every record
//! migrated exactly once. And the fault test: three replicas, appliances claiming 30-target
//! jobs and posting results through whichever replica answers, one replica SIGKILLed while
//! claims and posts are in flight, then the database restarted: every target ends with
//! exactly one result, no job is stuck, no session is lost.
mod common;
mod records_support;

use common::cli::PW;
use records_support::served::{Http, Served as Replica, login, ncsm_status, serve};
use records_support::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `n` data directories on the database `url`, as an operator sets up replicas: the same
/// `database.url`, data key and certificate (the others copies of the first).
fn data_dirs(tmp: &Path, url: &str, n: usize) -> Vec<std::path::PathBuf> {
    let first = tmp.join("r0");
    sealscan_control::datadir::create(&first).expect("data dir");
    sealscan_control::datadir::set_database(&first, url).expect("database.url");
    let init = common::cli::init(&first, &format!("{PW}\n"));
    assert!(init.status.success(), "init: {init:?}");
    let mut dirs = vec![first.clone()];
    for i in 1..n {
        let dir = tmp.join(format!("r{i}"));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&first)
            .arg(&dir)
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the data directory");
        dirs.push(dir);
    }
    dirs
}

#[tokio::test(flavor = "multi_thread")]
async fn ncsm_migration_runs_on_one_replica_and_resumes_on_another_after_sigkill() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = sealscan_test_peers::postgres::shared().create_database();
    let dirs = data_dirs(tmp.path(), &url, 2);
    ncsm_enable(&dirs[0]);
    let (data_a, data_b) = (&dirs[0], &dirs[1]);
    let a = serve(data_a, Some(250), &[]);
    let b = serve(data_b, None, &[]);
    let token = login(&a.api, PW).await;

    const N: usize = 8;
    let mut ids = Vec::new();
    for i in 0..N {
        let (s, v) = a
            .api
            .call_json(
                "post",
                "/api/v1/records",
                Some(&token),
                Some(unix_record(
                    &format!("host {i}"),
                    &[&format!("10.30.0.{i}")],
                    &format!("Replica-Secret-{i}-w4Rt"),
                )),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    approved_appliance(&a.api, &token, "scanner-1").await;
    let (s, v) = a
        .api
        .call_json("post", "/api/v1/ncsm/start", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");

    // The session made on A is valid on B; B sees A's progress.
    loop {
        let v = ncsm_status(&b.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(
            migrated < N as u64,
            "finished before the test got going: {v}"
        );
        if migrated >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Resume on B while A runs: B leaves it to A (the lock is A's).
    let (s, v) = b
        .api
        .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    loop {
        let v = ncsm_status(&b.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(migrated < N as u64, "A finished before the kill: {v}");
        if migrated >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut a = a;
    a.child.kill().expect("kill -9"); // SIGKILL: no shutdown code runs.
    a.child.wait().expect("reaped");
    drop(a);

    // Resume on B continues it. PostgreSQL ends A's lock when it sees A's connection close;
    // until then B's run finds the lock held and leaves, so ask again until it runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let (s, v) = b
            .api
            .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
            .await;
        assert_eq!(s, 202, "{v}");
        let v = loop {
            let v = ncsm_status(&b.api, &token).await;
            if v["running"] == false {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        if v["state"] == "complete" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "B never took the migration over: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["migrated"], N, "{done}");
    drop(b);

    assert_eq!(raw_count(data_b, "SELECT COUNT(*) FROM legacy_secrets"), 0);
    for id in &ids {
        let migrated = raw_count(
            data_b,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.record-migrated' \
                 AND target = 'unix:{id}'"
            ),
        );
        assert_eq!(migrated, 1, "record {id} migrated {migrated} times");
        let sealed = raw_count(
            data_b,
            &format!("SELECT COUNT(*) FROM sealed_secrets WHERE record_id = '{id}'"),
        );
        assert_eq!(sealed, 1, "record {id}");
    }
    // Only the run that held the lock to the end finished: B's first Resume, while A held
    // it, ran nothing.
    let finished = raw_count(
        data_b,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.migration-finished'",
    );
    assert_eq!(finished, 1, "the migration finished {finished} times");
}

/// An appliance as the fleet runs it: its credential, and the replicas it may reach (any;
/// a load balancer would pick one per request).
struct FleetAppliance {
    credential: String,
    replicas: Vec<(String, reqwest::Client)>,
}

/// One request to the first replica that answers it, starting at `*at` and moving on past a
/// dead replica (no connection) or a failed transaction (5xx: the database restarting).
/// Gives up after 30 s, naming what it tried.
async fn any_replica(a: &FleetAppliance, at: &mut usize, path: &str, body: &Value) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (base, client) = &a.replicas[*at % a.replicas.len()];
        let sent = client
            .post(format!("{base}{path}"))
            .bearer_auth(&a.credential)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let failure = match sent {
            Ok(resp) if resp.status().is_server_error() => {
                format!(
                    "{} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                )
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                return (status, serde_json::from_str(&text).unwrap_or(Value::Null));
            }
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "{path}: no replica answered for 30 s; last: {failure}"
        );
        *at += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Claims jobs and posts one result per target until `stop`, through any replica.
async fn work(
    a: FleetAppliance,
    start: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> usize {
    use sealscan_protocols::appliance::ResultPost;
    use sealscan_protocols::results::{LoginKind, LoginOutcome};
    let mut at = start;
    let mut posted = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let (s, job) = any_replica(
            &a,
            &mut at,
            "/api/v1/appliance/jobs/claim",
            &json!({"wait_secs": 1}),
        )
        .await;
        if s == 204 {
            continue;
        }
        assert_eq!(s, 200, "claim: {job}");
        let job_id = job["job_id"].as_str().expect("job id").to_string();
        for target in job["targets"].as_array().expect("targets") {
            let target_id = target["target_id"].as_str().expect("target id");
            let kind: LoginKind = serde_json::from_value(target["kind"].clone()).expect("kind");
            let post = ResultPost {
                idempotency_key: ResultPost::key_for(&job_id, target_id, kind),
                target_id: target_id.into(),
                host: target["host"].as_str().expect("host").into(),
                record_id: None,
                outcome: LoginOutcome::passed(kind, "root", "password"),
            };
            let body = serde_json::to_value(&post).expect("json");
            // Alternate replicas per post, as a load balancer spreads them.
            at += 1;
            let (s, v) = any_replica(
                &a,
                &mut at,
                &format!("/api/v1/appliance/jobs/{job_id}/results"),
                &body,
            )
            .await;
            if s == 403 && v["error"]["rule"] == "job.not-yours" {
                // The lease ran out while the database restarted and another appliance
                // holds the job now: stop, as the agent does; that one finishes it.
                break;
            }
            assert_eq!(s, 200, "result for {target_id}: {v}");
            posted += 1;
            // A scanner's pace: posts are still in flight when the replica dies.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    posted
}

/// Enrolls and approves an appliance through `api`; its credential.
async fn fleet_credential(api: &Http, token: &str, name: &str) -> String {
    use base64::Engine;
    let key = sealscan_protocols::envelope::PrivateKey::generate().expect("key");
    let (_, t) = api
        .call_json(
            "post",
            "/api/v1/appliances/tokens",
            Some(token),
            Some(json!({"label": name})),
        )
        .await;
    let (s, enrolled) = api
        .call_json(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({
                "token": t["token"], "name": name,
                "public_key": base64::engine::general_purpose::STANDARD.encode(key.public_key()),
            })),
        )
        .await;
    assert!((200..300).contains(&s), "enroll: {enrolled}");
    let id = enrolled["appliance_id"].as_str().expect("id");
    let (s, v) = api
        .call_json(
            "post",
            &format!("/api/v1/appliances/{id}/approve"),
            Some(token),
            Some(json!({})),
        )
        .await;
    assert!((200..300).contains(&s), "approve: {v}");
    let (s, v) = api
        .call_json(
            "post",
            "/api/v1/appliance/enroll/poll",
            None,
            Some(json!({"appliance_id": id, "poll_secret": enrolled["poll_secret"]})),
        )
        .await;
    assert_eq!(s, 200, "poll: {v}");
    v["credential"].as_str().expect("credential").to_string()
}

/// The sum of the scans' recorded results, read through `api` (None while it cannot answer).
async fn results_recorded(api: &Http, token: &str, scans: &[String]) -> Option<usize> {
    let mut n = 0;
    for id in scans {
        let (s, v) = api
            .call_json(
                "get",
                &format!("/api/v1/scans/{id}/results"),
                Some(token),
                None,
            )
            .await;
        if s != 200 {
            return None;
        }
        n += v.as_array().map_or(0, Vec::len);
    }
    Some(n)
}

async fn create_scans(api: &Http, token: &str, first: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in first..first + n {
        let targets: Vec<String> = (1..=30).map(|h| format!("10.50.{i}.{h}")).collect();
        let (s, v) = api
            .call_json(
                "post",
                "/api/v1/scans",
                Some(token),
                Some(json!({"title": format!("fleet {i}"), "targets": targets, "kinds": "unix"})),
            )
            .await;
        assert!((200..300).contains(&s), "scan: {v}");
        assert_eq!(v["targets_total"], 30, "{v}");
        ids.push(v["id"].as_str().expect("scan id").to_string());
    }
    ids
}

async fn wait_for_results(api: &Http, token: &str, scans: &[String], at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if results_recorded(api, token, scans).await.unwrap_or(0) >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {at_least} results after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_survive_a_sigkill_and_a_database_restart_mid_fleet() {
    // A PostgreSQL of this test's own: it is restarted below.
    let pg = std::sync::Arc::new(std::sync::Mutex::new(
        sealscan_test_peers::postgres::Postgres::start(),
    ));
    let url = {
        let pg = pg.lock().expect("pg");
        pg.psql("CREATE DATABASE fleet");
        pg.url("fleet")
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let dirs = data_dirs(tmp.path(), &url, 3);
    // A short lease: a claim whose answer was lost with the killed replica (the job leased
    // to an appliance that never heard so) goes back to the queue within seconds, as it
    // would after the default 120 s.
    let mut replicas: Vec<Option<Replica>> = dirs
        .iter()
        .map(|d| Some(serve(d, None, &["--lease-seconds", "5"])))
        .collect();
    let r0 = replicas[0].as_ref().expect("r0");
    let token = login(&r0.api, PW).await;

    // Three appliances, each enrolled through a different replica, reaching all three.
    let mut fleet = Vec::new();
    for i in 0..3 {
        let via = &replicas[i].as_ref().expect("replica").api;
        let credential = fleet_credential(via, &token, &format!("fleet-{i}")).await;
        fleet.push(FleetAppliance {
            credential,
            replicas: replicas
                .iter()
                .map(|r| {
                    let r = r.as_ref().expect("replica");
                    (r.api.base.clone(), r.api.client.clone())
                })
                .collect(),
        });
    }
    let mut scans = create_scans(&replicas[1].as_ref().expect("r1").api, &token, 0, 3).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = fleet
        .into_iter()
        .enumerate()
        .map(|(i, a)| tokio::spawn(work(a, i, stop.clone())))
        .collect();

    // Claims and posts in flight: SIGKILL replica 1.
    let r2 = &replicas[2].as_ref().expect("r2").api;
    wait_for_results(r2, &token, &scans, 20).await;
    eprintln!(
        "SIGKILL of replica 1 with {:?} results recorded",
        results_recorded(r2, &token, &scans).await
    );
    let mut killed = replicas[1].take().expect("r1");
    killed.child.kill().expect("kill -9");
    killed.child.wait().expect("reaped");
    drop(killed);
    let r2 = &replicas[2].as_ref().expect("r2").api;
    // More work queued after the kill, through a survivor, while the first is under way.
    scans.extend(create_scans(r2, &token, 3, 3).await);
    wait_for_results(r2, &token, &scans, 110).await;

    // Then the database restarts under everyone's feet.
    eprintln!(
        "database restart with {:?} results recorded",
        results_recorded(r2, &token, &scans).await
    );
    let restarting = pg.clone();
    tokio::task::spawn_blocking(move || restarting.lock().expect("pg").restart())
        .await
        .expect("restart");

    // Every job finishes: no job stuck.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut done = true;
        for id in &scans {
            let (s, v) = r2
                .call_json("get", &format!("/api/v1/scans/{id}"), Some(&token), None)
                .await;
            done &= s == 200 && v["state"] == "done";
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a job is stuck 40 s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut posted = 0;
    for w in workers {
        posted += w.await.expect("appliance");
    }
    eprintln!("{posted} result posts answered");

    // The session made before the kill and the restart is valid on both survivors.
    for i in [0, 2] {
        let (s, v) = replicas[i]
            .as_ref()
            .expect("survivor")
            .api
            .call_json("get", "/api/v1/session", Some(&token), None)
            .await;
        assert_eq!(s, 200, "replica {i} lost the session: {v}");
    }
    // Every target has exactly one result.
    for id in &scans {
        let (s, v) = r2
            .call_json(
                "get",
                &format!("/api/v1/scans/{id}/results"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let rows = v.as_array().expect("rows");
        let targets: std::collections::BTreeSet<_> = rows
            .iter()
            .map(|r| (r["target_id"].to_string(), r["host"].to_string()))
            .collect();
        assert_eq!(rows.len(), 30, "scan {id}: {} results", rows.len());
        assert_eq!(targets.len(), 30, "scan {id}: a target has two results");
        let (_, view) = r2
            .call_json("get", &format!("/api/v1/scans/{id}"), Some(&token), None)
            .await;
        for job in view["jobs"].as_array().expect("jobs") {
            assert_eq!(job["targets_done"], job["targets_total"], "{view}");
        }
    }
}

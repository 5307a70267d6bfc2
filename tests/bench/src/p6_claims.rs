//! P6: job claims per second and p99 claim latency with 1,000 appliances long-polling one
//! control plane on SQLite, beside raw SQLite write throughput (rusqlite, WAL, one INSERT per
//! transaction) on the same machine in the same run.
//!
//! Every appliance is enrolled with its own one-time token, approved and holding its own
//! credential, with its own HTTPS connection. The jobs are queued (scans created through the
//! API) while every appliance has a connection open; then all of them long-poll at once and
//! claim until the queue is empty. Claim latency is the round trip of a claim that returned
//! a job, under that load.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rusqlite::{Connection, params};
use serde_json::json;
use tokio::sync::{Barrier, Notify};

use crate::control_plane::{Appliance, ControlPlane};
use crate::report::{Row, Verdict, rate};

pub const RAW_WRITES: usize = 5_000;
pub const APPLIANCES: usize = 1_000;
pub const JOBS: usize = 2_000;
/// Scans created one at a time while the fleet long-polls.
const LIVE_SAMPLES: usize = 100;
const CLAIM_WAIT_SECS: u32 = 30;
/// A stuck run gives up after this; it bounds a hang, it is not a measurement.
const BOUND: Duration = Duration::from_secs(300);

pub fn run(writes: usize, appliances: usize, jobs: usize) -> Result<Vec<Row>, String> {
    raise_open_files(appliances)?;
    let raw = raw_sqlite_writes(writes)?;
    let mut cp = ControlPlane::start()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let measured = runtime.block_on(async {
        cp.login().await?;
        measure(&cp, appliances, jobs).await
    });
    drop(runtime);
    drop(cp);
    let m = measured?;
    let ratio = m.claims_per_sec / raw;
    let row = Row::new(
        format!("P6 burst {appliances}"),
        format!(
            "{:.0} claims/s ({ratio:.3}x), p99 {:.1} ms, p50 {:.1} ms",
            m.claims_per_sec, m.p99_ms, m.p50_ms
        ),
        format!("{raw:.0} SQLite writes/s (WAL, 1 INSERT/txn)"),
        "≥ 0.5x raw writes, p99 ≤ 50 ms",
        Row::verdict_for(ratio >= 0.5 && m.p99_ms <= 50.0),
    );
    row.print();
    let live = Row::new(
        format!("P6 live {appliances}"),
        format!(
            "scan→claim p99 {:.1} ms, p50 {:.1} ms ({} scans)",
            m.live_p99_ms, m.live_p50_ms, m.live_samples
        ),
        "-",
        "p99 ≤ 50 ms",
        Row::verdict_for(m.live_p99_ms <= 50.0),
    );
    live.print();
    let setup = Row::new(
        "P6 setup",
        format!(
            "{appliances} enrolled+approved in {:.1} s, {jobs} scans queued in {:.1} s",
            m.enroll_secs, m.queue_secs
        ),
        "-",
        "(context)",
        Verdict::Info,
    );
    setup.print();
    let transport = Row::new(
        format!("P6 transport {appliances}"),
        format!(
            "{:.0} HTTPS round trips/s through the same server and fleet, no handler ({:.2}x of raw writes)",
            m.transport_per_sec,
            m.transport_per_sec / raw
        ),
        format!("{:.0} claims/s", m.claims_per_sec),
        "(the ceiling any claim has here)",
        Verdict::Info,
    );
    transport.print();
    Ok(vec![row, live, setup, transport])
}

struct Measured {
    claims_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Scan created → job received, one scan at a time, the whole fleet long-polling.
    live_p50_ms: f64,
    live_p99_ms: f64,
    live_samples: usize,
    enroll_secs: f64,
    queue_secs: f64,
    /// Requests a second the same fleet gets through the same server when no handler runs.
    transport_per_sec: f64,
}

async fn measure(cp: &ControlPlane, appliances: usize, jobs: usize) -> Result<Measured, String> {
    // Enrollment, a few at a time as operators would bring appliances up.
    let started = Instant::now();
    let mut fleet: Vec<Appliance> = Vec::with_capacity(appliances);
    let mut next = 0;
    while next < appliances {
        let batch = (next..(next + 8).min(appliances))
            .map(|i| async move { cp.appliance(&format!("bench-{i}")).await });
        for a in join_all(batch).await {
            fleet.push(a?);
        }
        next = fleet.len();
    }
    let enroll_secs = started.elapsed().as_secs_f64();

    // Every appliance opens its connection with a claim that finds nothing (no scan yet).
    let url = format!("{}/api/v1/appliance/jobs/claim", cp.base);
    let warmups = fleet.iter().map(|a| claim(a, &url, 0)).collect::<Vec<_>>();
    for got in join_all(warmups).await {
        if got?.is_some() {
            return Err("a claim returned a job before any scan existed".into());
        }
    }

    let started = Instant::now();
    let mut queued = 0;
    while queued < jobs {
        let batch = (queued..(queued + 4).min(jobs)).map(|i| {
            cp.manager_call(
                "POST",
                "/api/v1/scans",
                Some(json!({"title": format!("bench {i}"), "targets": ["127.0.0.1"], "kinds": "unix"})),
            )
        });
        for r in join_all(batch).await {
            r?;
            queued += 1;
        }
    }
    let queue_secs = started.elapsed().as_secs_f64();

    // All appliances long-poll at once and claim until every job is out.
    let fleet: Vec<Arc<Appliance>> = fleet.into_iter().map(Arc::new).collect();
    let delivered = Arc::new(AtomicUsize::new(0));
    // Shared, not per task: a task still in its long-poll when the queue empties is aborted,
    // and the claims it made before must still count.
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(jobs)));
    let done = Arc::new(Notify::new());
    let barrier = Arc::new(Barrier::new(fleet.len() + 1));
    let mut tasks = Vec::with_capacity(fleet.len());
    for a in &fleet {
        let (a, url) = (Arc::clone(a), url.clone());
        let (delivered, done, barrier) = (delivered.clone(), done.clone(), barrier.clone());
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            loop {
                let sent = Instant::now();
                match claim(&a, &url, CLAIM_WAIT_SECS).await {
                    Ok(Some(())) => {
                        let ms = sent.elapsed().as_secs_f64() * 1000.0;
                        latencies.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
                        if delivered.fetch_add(1, Ordering::SeqCst) + 1 >= jobs {
                            done.notify_one();
                        }
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e),
                }
                if delivered.load(Ordering::SeqCst) >= jobs {
                    return Ok(());
                }
            }
        }));
    }
    let finished = done.notified();
    tokio::pin!(finished);
    finished.as_mut().enable();
    barrier.wait().await;
    let started = Instant::now();
    if tokio::time::timeout(BOUND, finished).await.is_err() {
        return Err(format!(
            "only {} of {jobs} jobs were claimed in {} s",
            delivered.load(Ordering::SeqCst),
            BOUND.as_secs()
        ));
    }
    let drain_secs = started.elapsed().as_secs_f64();
    // Appliances still in their long-poll are not waited for; the jobs they claimed before
    // are counted all the same.
    for task in tasks {
        if task.is_finished() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(format!("appliance task: {e}")),
            }
        } else {
            task.abort();
        }
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    let claims = delivered.load(Ordering::SeqCst);
    let transport_per_sec = transport_ceiling(
        &fleet,
        &format!("{}/api/v1/appliance/bench-no-route", cp.base),
    )
    .await?;
    let live = live_latencies(cp, &fleet, &url, LIVE_SAMPLES).await?;
    Ok(Measured {
        claims_per_sec: rate(claims, drain_secs),
        p50_ms: percentile(&mut latencies, 0.50),
        p99_ms: percentile(&mut latencies, 0.99),
        transport_per_sec,
        live_p50_ms: percentile(&mut live.clone(), 0.50),
        live_p99_ms: percentile(&mut live.clone(), 0.99),
        live_samples: live.len(),
        enroll_secs,
        queue_secs,
    })
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = ((values.len() as f64 * p).ceil() as usize).saturating_sub(1);
    values.get(at).copied().unwrap_or(f64::NAN)
}

/// The whole fleet long-polls with nothing queued; scans are then created one at a time, and
/// each sample is the time from sending the scan to an appliance holding its job. Every scan
/// wakes every waiting claim, so this includes the fleet's wake-up.
async fn live_latencies(
    cp: &ControlPlane,
    fleet: &[Arc<Appliance>],
    url: &str,
    samples: usize,
) -> Result<Vec<f64>, String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<Instant, String>>();
    let mut tasks = Vec::with_capacity(fleet.len());
    for a in fleet {
        let (a, url, tx) = (Arc::clone(a), url.to_string(), tx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let got = claim(&a, &url, CLAIM_WAIT_SECS).await;
                let stop = got.is_err();
                match got {
                    Ok(Some(())) => {
                        let _ = tx.send(Ok(Instant::now()));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
                if stop {
                    return;
                }
            }
        }));
    }
    // Let every appliance reach its long-poll (new connections after the burst phase).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let created = Instant::now();
        cp.manager_call(
            "POST",
            "/api/v1/scans",
            Some(json!({"title": format!("bench live {i}"), "targets": ["127.0.0.1"], "kinds": "unix"})),
        )
        .await?;
        match tokio::time::timeout(BOUND, rx.recv()).await {
            Ok(Some(Ok(at))) => out.push(at.duration_since(created).as_secs_f64() * 1000.0),
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) | Err(_) => return Err(format!("live scan {i} was never claimed")),
        }
    }
    for t in tasks {
        t.abort();
    }
    Ok(out)
}

/// The claim's transport alone: every appliance posts a claim-shaped request to a path with
/// no route (the server answers 404 before any handler or store work), over the same
/// connections, with the whole fleet in flight as in the burst. One untimed round first, so
/// connections the burst left in a long-poll are re-established outside the timing.
async fn transport_ceiling(fleet: &[Arc<Appliance>], url: &str) -> Result<f64, String> {
    const ROUNDS: usize = 3;
    let run = |rounds: usize| {
        let tasks: Vec<_> = fleet
            .iter()
            .map(|a| {
                let (a, url) = (Arc::clone(a), url.to_string());
                tokio::spawn(async move {
                    for _ in 0..rounds {
                        let response = a
                            .client
                            .post(&url)
                            .bearer_auth(&a.credential)
                            .json(&json!({"wait_secs": 0}))
                            .send()
                            .await
                            .map_err(|e| format!("appliance {} transport: {e}", a.id))?;
                        let status = response.status();
                        response
                            .bytes()
                            .await
                            .map_err(|e| format!("transport body: {e}"))?;
                        if status.as_u16() != 404 {
                            return Err(format!("unrouted path answered {status}, not 404"));
                        }
                    }
                    Ok::<_, String>(())
                })
            })
            .collect();
        async move {
            for t in join_all(tasks).await {
                t.map_err(|e| format!("transport task: {e}"))??;
            }
            Ok::<_, String>(())
        }
    };
    run(1).await?;
    let started = Instant::now();
    run(ROUNDS).await?;
    Ok(rate(fleet.len() * ROUNDS, started.elapsed().as_secs_f64()))
}

/// One claim: `Some(())` when it returned a job, `None` on 204.
async fn claim(a: &Appliance, url: &str, wait_secs: u32) -> Result<Option<()>, String> {
    let response = a
        .client
        .post(url)
        .bearer_auth(&a.credential)
        .json(&json!({"wait_secs": wait_secs}))
        .send()
        .await
        .map_err(|e| format!("appliance {} claim: {e}", a.id))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("claim body: {e}"))?;
    match status.as_u16() {
        200 => Ok(Some(())),
        204 => Ok(None),
        _ => Err(format!(
            "appliance {} claim answered {status}: {}",
            a.id,
            String::from_utf8_lossy(&body)
        )),
    }
}

/// Two descriptors per appliance (its client socket and the server's) plus headroom.
#[allow(unsafe_code)]
fn raise_open_files(appliances: usize) -> Result<(), String> {
    let wanted = (appliances as u64) * 2 + 512;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit structure.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err("getrlimit(RLIMIT_NOFILE) failed".into());
        }
        if limit.rlim_cur >= wanted {
            return Ok(());
        }
        if limit.rlim_max < wanted {
            return Err(format!(
                "{appliances} appliances need {wanted} open files; the hard limit is {}",
                limit.rlim_max
            ));
        }
        limit.rlim_cur = wanted;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err("setrlimit(RLIMIT_NOFILE) failed".into());
        }
    }
    Ok(())
}

/// Single-INSERT transactions per second on a fresh WAL database in the temp directory, with
/// the pragmas the control plane's store sets (WAL, synchronous=NORMAL).
pub fn raw_sqlite_writes(writes: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let conn =
        Connection::open(dir.path().join("raw.sqlite")).map_err(|e| format!("open SQLite: {e}"))?;
    let setup = || -> rusqlite::Result<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE claims (id INTEGER PRIMARY KEY, appliance TEXT NOT NULL, \
             job TEXT NOT NULL, claimed_at INTEGER NOT NULL)",
        )
    };
    setup().map_err(|e| format!("SQLite setup: {e}"))?;
    let mut statement = conn
        .prepare("INSERT INTO claims (appliance, job, claimed_at) VALUES (?1, ?2, ?3)")
        .map_err(|e| format!("prepare: {e}"))?;
    let started = Instant::now();
    for i in 0..writes {
        // Autocommit: every execute is its own transaction.
        statement
            .execute(params![
                format!("appliance-{}", i % 1000),
                format!("job-{i}"),
                i as i64
            ])
            .map_err(|e| format!("insert {i}: {e}"))?;
    }
    Ok(rate(writes, started.elapsed().as_secs_f64()))
}

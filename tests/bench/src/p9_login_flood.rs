//! P9: an authenticated request's latency and the control plane's memory while N sign-ins
//! run in parallel, beside the same requests with no flood, both against one real
//! `sealscan-control serve` process (production Argon2 cost) in the same run. Argon2 costs
//! ~19 MiB and tens of milliseconds a sign-in; the server runs it on a bounded pool so a
//! flood neither stalls other endpoints nor grows memory with the number of sign-ins.

use crate::report::{Row, Verdict};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const FLOOD: usize = 40;
pub const SECONDS: u64 = 10;
const USER: &str = "benchpc";
const PASSWORD: &str = "Vq7!mZp4#Lw-bench";
/// The target: an unrelated request stays interactive under the flood.
const P99_TARGET_MS: f64 = 100.0;
/// The target: the flood adds at most this much to the baseline's peak, whatever N: the
/// pool's Argon2 blocks (19 MiB a worker) with what the allocator keeps of them, and the
/// connections. Before the pool, 40 sign-ins took the server past 600 MiB.
const RSS_GROWTH_TARGET_MIB: f64 = 128.0;

/// The release server next to this binary (scripts/bench builds it), or SEALSCAN_CONTROL_BIN.
fn control_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SEALSCAN_CONTROL_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let sibling = exe
        .parent()
        .map(|d| d.join("sealscan-control"))
        .filter(|p| p.exists());
    sibling.ok_or_else(|| {
        "sealscan-control is not built next to sealscan-bench: cargo build --release -p sealscan-control (or set SEALSCAN_CONTROL_BIN)".into()
    })
}

struct Server {
    child: Child,
    url: String,
    ca_pem: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Result<Server, String> {
    let bin = control_binary()?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let data = dir.path().join("data");
    let mut init = Command::new(&bin)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "init",
            "--username",
            USER,
            "--first-name",
            "Petra",
            "--last-name",
            "Quist",
            "--email",
            "bench@example.invalid",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    init.stdin
        .take()
        .ok_or("init stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .map_err(|e| format!("init stdin: {e}"))?;
    let out = init.wait_with_output().map_err(|e| format!("init: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut child = Command::new(&bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        // One log line a failed sign-in: thousands here, not part of the measure.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("serve stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    break rest.trim_end_matches("/api/v1").to_string();
                }
            }
            _ => {
                let _ = child.kill();
                return Err("serve ended before listening".into());
            }
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let ca_pem = std::fs::read(data.join("tls/cert.pem")).map_err(|e| format!("cert: {e}"))?;
    Ok(Server {
        child,
        url,
        ca_pem,
        _dir: dir,
    })
}

fn client(ca_pem: &[u8]) -> Result<reqwest::Client, String> {
    let ca = reqwest::Certificate::from_pem(ca_pem).map_err(|e| format!("CA: {e}"))?;
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .map_err(|e| format!("client: {e}"))
}

/// The server's resident memory in KiB (VmRSS), sampled by the phase.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

struct Phase {
    latencies_ms: Vec<f64>,
    peak_rss_mib: f64,
    sign_ins: usize,
    busy: usize,
    seconds: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn phase(server: &Server, token: &str, flood: usize, seconds: u64) -> Result<Phase, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let sign_ins = Arc::new(AtomicUsize::new(0));
    let busy = Arc::new(AtomicUsize::new(0));
    let pid = server.child.id();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let mut flooders = Vec::new();
    for i in 0..flood {
        // Each flooder its own connection, as separate attackers would have.
        let c = client(&server.ca_pem)?;
        let url = format!("{}/api/v1/session", server.url);
        let (stop, sign_ins, busy) = (stop.clone(), sign_ins.clone(), busy.clone());
        flooders.push(tokio::spawn(async move {
            // An unknown user name: the same Argon2 work as a wrong password, and no lockout.
            let body = json!({"username": format!("nobody{i}"), "password": "Wrong!guess#1"});
            while !stop.load(Ordering::Relaxed) {
                match c.post(&url).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 503 => {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(r) => {
                        let _ = r.bytes().await;
                        sign_ins.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    if flood > 0 {
        // Let the flood reach its steady state before measuring.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let getter = client(&server.ca_pem)?;
    let url = format!("{}/api/v1/session", server.url);
    let mut latencies_ms = Vec::new();
    let started = Instant::now();
    let signed_before = sign_ins.load(Ordering::Relaxed);
    while started.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let r = getter
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("GET /session: {e}"))?;
        let ok = r.status().is_success();
        let _ = r.bytes().await;
        if !ok {
            return Err("the authenticated GET was refused".into());
        }
        latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let seconds = started.elapsed().as_secs_f64();
    let signed = sign_ins.load(Ordering::Relaxed) - signed_before;
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.await;
    }
    let peak_kib = sampler.join().map_err(|_| "RSS sampler panicked")?;
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    Ok(Phase {
        latencies_ms,
        peak_rss_mib: peak_kib as f64 / 1024.0,
        sign_ins: signed,
        busy: busy.load(Ordering::Relaxed),
        seconds,
    })
}

pub fn run(flood: usize, seconds: u64) -> Result<Vec<Row>, String> {
    let server = start_server()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (base, flooded) = rt.block_on(async {
        let c = client(&server.ca_pem)?;
        let r = c
            .post(format!("{}/api/v1/session", server.url))
            .json(&json!({"username": USER, "password": PASSWORD}))
            .send()
            .await
            .map_err(|e| format!("sign-in: {e}"))?;
        let v: serde_json::Value = r.json().await.map_err(|e| format!("sign-in: {e}"))?;
        let token = v["token"]
            .as_str()
            .ok_or("the sign-in gave no token")?
            .to_string();
        let base = phase(&server, &token, 0, seconds).await?;
        let flooded = phase(&server, &token, flood, seconds).await?;
        Ok::<_, String>((base, flooded))
    })?;
    let p = |ph: &Phase, q| percentile(&ph.latencies_ms, q);
    let p99 = p(&flooded, 0.99);
    let latency = Row::new(
        format!("P9 GET, {flood} sign-ins"),
        format!(
            "p99 {:.1} ms, p50 {:.1} ms ({} GETs)",
            p99,
            p(&flooded, 0.5),
            flooded.latencies_ms.len()
        ),
        format!(
            "p99 {:.1} ms, p50 {:.1} ms, no flood",
            p(&base, 0.99),
            p(&base, 0.5)
        ),
        format!("p99 ≤ {P99_TARGET_MS} ms"),
        Row::verdict_for(p99 <= P99_TARGET_MS),
    );
    latency.print();
    let growth = flooded.peak_rss_mib - base.peak_rss_mib;
    let memory = Row::new(
        format!("P9 peak RSS, {flood} sign-ins"),
        format!("{:.0} MiB (+{growth:.0} MiB)", flooded.peak_rss_mib),
        format!("{:.0} MiB, no flood", base.peak_rss_mib),
        format!("≤ baseline + {RSS_GROWTH_TARGET_MIB} MiB"),
        Row::verdict_for(growth <= RSS_GROWTH_TARGET_MIB),
    );
    memory.print();
    let throughput = Row::new(
        "P9 sign-ins served",
        format!(
            "{:.1}/s, {} turned away busy (503)",
            crate::report::rate(flooded.sign_ins, flooded.seconds),
            flooded.busy
        ),
        "-",
        "(context: Argon2 m=19 MiB t=2)",
        Verdict::Info,
    );
    throughput.print();
    Ok(vec![latency, memory, throughput])
}

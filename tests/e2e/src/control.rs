//! The real control plane (its HTTPS server and SQLite store, in process) with an enrolled,
//! approved agent binary running against it, driven through the control plane's API as an
//! operator's tools drive it.

use crate::agent::{AgentHome, RunningAgent, wait_until};
use sealscan_control::clock::SystemClock;
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{ServerOptions, start};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const MANAGER: &str = "alice";
pub const MANAGER_PW: &str = "Vq7!mZp4#Lw";
/// Caps on waiting for a broken run, never measurements.
pub const BOUND: Duration = Duration::from_secs(120);

pub struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// An operator's API client: `token` is a session token for `base`.
    pub fn new(client: reqwest::Client, base: String, token: String) -> Self {
        Self {
            client,
            base,
            token,
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control plane reachable");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

/// A running control plane with an enrolled, approved agent running against it.
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub data: tempfile::TempDir,
    pub server: Option<sealscan_control::server::RunningServer>,
    pub api: Api,
    pub home: AgentHome,
    pub agent: Option<RunningAgent>,
}

pub fn world() -> World {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let data = tempfile::tempdir().expect("data dir");
    init(
        data.path(),
        InitOptions {
            subscription: "e2e".into(),
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
    let server = rt
        .block_on(start(ServerOptions {
            data_dir: data.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            cert: None,
            key: None,
            hash_cost: HashCost::TEST,
            clock: Arc::new(SystemClock),
        }))
        .expect("control plane starts");
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let ca_pem = std::fs::read_to_string(data.path().join("tls/cert.pem")).expect("cert");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .build()
        .expect("client");
    let session = rt.block_on(async {
        let r = client
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"username": MANAGER, "password": MANAGER_PW}))
            .send()
            .await
            .expect("sign in");
        let body: Value = r.json().await.expect("session body");
        body["token"].as_str().expect("session token").to_string()
    });
    let api = Api {
        client,
        base: base.clone(),
        token: session,
    };
    let call = |method, path: &str, body| rt.block_on(api.call(method, path, body));

    // Enrollment as an operator does it: token, enroll, compare the fingerprint, approve.
    let token = call(
        reqwest::Method::POST,
        "/api/v1/appliances/tokens",
        Some(json!({})),
    );
    let token = token["token"]
        .as_str()
        .expect("enrollment token")
        .to_string();
    let home = AgentHome::new(&base, &ca_pem, 2);
    let out = home.enroll(&base, &token, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let appliances = call(reqwest::Method::GET, "/api/v1/appliances", None);
    let pending = appliances
        .as_array()
        .and_then(|a| a.first())
        .expect("a pending appliance")
        .clone();
    let fingerprint = pending["fingerprint"].as_str().expect("fingerprint");
    assert!(stdout.contains(fingerprint), "{stdout} vs {pending}");
    let id = pending["id"].as_str().expect("appliance id").to_string();
    call(
        reqwest::Method::POST,
        &format!("/api/v1/appliances/{id}/approve"),
        Some(json!({})),
    );
    let agent = home.run();
    wait_until("the agent collects its credential", BOUND, || {
        home.state_dir().join("credential").exists()
    });
    World {
        rt,
        data,
        server: Some(server),
        api,
        home,
        agent: Some(agent),
    }
}

impl World {
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.rt.block_on(self.api.call(method, path, body))
    }

    /// Creates a scan and waits for `count` results.
    pub fn scan(&self, body: Value, count: usize) -> Vec<Value> {
        let scan = self.call(reqwest::Method::POST, "/api/v1/scans", Some(body));
        let scan_id = scan["id"].to_string().trim_matches('"').to_string();
        let mut results = Value::Null;
        wait_until("the scan's results in the control plane", BOUND, || {
            results = self.call(
                reqwest::Method::GET,
                &format!("/api/v1/scans/{scan_id}/results"),
                None,
            );
            results.as_array().is_some_and(|a| a.len() == count)
        });
        results.as_array().cloned().unwrap_or_default()
    }

    pub fn agent_pid(&self) -> u32 {
        self.agent.as_ref().map(RunningAgent::pid).unwrap_or(0)
    }

    /// SIGTERM to the agent; its exit status must be 0.
    pub fn stop_agent(&mut self) {
        if let Some(agent) = self.agent.take() {
            let status = agent.terminate();
            assert_eq!(status.code(), Some(0), "{}", self.home.stderr());
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.agent.take();
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
    }
}

pub fn find(rows: &[Value], kind: &str) -> Value {
    rows.iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} result in {rows:?}"))
        .clone()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn walk(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

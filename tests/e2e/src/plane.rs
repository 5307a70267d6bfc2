//! The real control plane (sealscan-control's HTTPS server and SQLite store, in process) as the
//! daemon and resilience tests drive it: a Manager's API session, enrollment tokens, approvals,
//! records, scans and their results; stopping and restarting the server on the same address
//! and data directory; and, when a test needs leases to expire, a clock only the test moves.
//! Agents are the real `sealscan-agent` binary ([`crate::agent`]).

use crate::agent::{AgentHome, wait_until};
use crate::control::{MANAGER, MANAGER_PW, now};
use reqwest::{Method, StatusCode};
use sealscan_control::clock::{Clock, ManualClock, SystemClock};
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{RunningServer, ServerOptions, open_store, start};
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// Caps on waiting for a broken run, never measurements.
pub const BOUND: Duration = Duration::from_secs(120);

pub struct Plane {
    /// Runs the tests' API calls.
    pub rt: tokio::runtime::Runtime,
    /// Runs the server and every connection it serves, so [`Plane::stop`] ends them all as a
    /// crash would (the server's own `stop` leaves open connections served).
    server_rt: Option<tokio::runtime::Runtime>,
    pub data: tempfile::TempDir,
    pub addr: SocketAddr,
    pub ca_pem: String,
    /// Set when the plane runs on a clock the test moves ([`Plane::advance`]).
    pub manual: Option<ManualClock>,
    clock: Arc<dyn Clock>,
    server: Option<RunningServer>,
    client: reqwest::Client,
    session: String,
}

impl Plane {
    /// A fresh subscription (Manager `alice`, the Primary Contact) served on a free loopback
    /// port, on the system clock.
    pub fn start() -> Self {
        Self::start_on(None)
    }

    /// [`Plane::start`] on a clock that moves only with [`Plane::advance`].
    pub fn with_manual_clock() -> Self {
        Self::start_on(Some(ManualClock::new(now())))
    }

    fn start_on(manual: Option<ManualClock>) -> Self {
        let clock: Arc<dyn Clock> = match &manual {
            Some(m) => Arc::new(m.clone()),
            None => Arc::new(SystemClock),
        };
        let rt = runtime();
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
                now: clock.now(),
            },
        )
        .expect("init");
        let server_rt = runtime();
        let server = server_rt
            .block_on(start(options(data.path(), "127.0.0.1:0", &clock)))
            .expect("control plane starts");
        let addr = server.addr;
        let ca_pem = std::fs::read_to_string(data.path().join("tls/cert.pem")).expect("cert");
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
            .build()
            .expect("client");
        let mut plane = Plane {
            rt,
            server_rt: Some(server_rt),
            data,
            addr,
            ca_pem,
            manual,
            clock,
            server: Some(server),
            client,
            session: String::new(),
        };
        plane.sign_in();
        plane
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A new Manager session (needed again after NCSM activation).
    pub fn sign_in(&mut self) {
        let (status, body) = self.request(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"username": MANAGER, "password": MANAGER_PW})),
        );
        assert!(status.is_success(), "sign in: {status} {body}");
        self.session = body["token"].as_str().expect("session token").to_string();
    }

    /// One API call with `bearer` (none for public endpoints); status and JSON body.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.rt.block_on(async {
            let mut request = self.client.request(method, format!("{}{path}", self.url()));
            if let Some(b) = bearer {
                request = request.bearer_auth(b);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("control plane reachable");
            let status = response.status();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    }

    /// A Manager's call that must succeed.
    pub fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.request(method.clone(), path, Some(&self.session), body);
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    pub fn enrollment_token(&self) -> String {
        let token = self.call(Method::POST, "/api/v1/appliances/tokens", Some(json!({})));
        token["token"].as_str().expect("token").to_string()
    }

    pub fn appliances(&self) -> Vec<Value> {
        let list = self.call(Method::GET, "/api/v1/appliances", None);
        list.as_array().cloned().unwrap_or_default()
    }

    /// The appliance whose fingerprint `stdout` (enroll's output) shows, as a Manager compares it.
    pub fn appliance_in(&self, stdout: &str) -> Value {
        self.appliances()
            .into_iter()
            .find(|a| {
                a["fingerprint"]
                    .as_str()
                    .is_some_and(|f| stdout.contains(f))
            })
            .unwrap_or_else(|| panic!("no appliance with the fingerprint in {stdout:?}"))
    }

    pub fn approve(&self, appliance_id: &str) -> Value {
        self.call(
            Method::POST,
            &format!("/api/v1/appliances/{appliance_id}/approve"),
            Some(json!({})),
        )
    }

    /// A new appliance home (`concurrency` targets at once) enrolled with a fresh token.
    pub fn enroll(&self, concurrency: u16) -> (AgentHome, String) {
        let home = AgentHome::new(&self.url(), &self.ca_pem, concurrency);
        let out = home.enroll(&self.url(), &self.enrollment_token(), &[]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = self.appliance_in(&stdout)["id"]
            .as_str()
            .expect("appliance id")
            .to_string();
        (home, id)
    }

    /// [`Plane::enroll`] and approved by the Manager.
    pub fn enroll_approved(&self, concurrency: u16) -> (AgentHome, String) {
        let (home, id) = self.enroll(concurrency);
        self.approve(&id);
        (home, id)
    }

    /// Creates a record; its id.
    pub fn record(&self, body: Value) -> String {
        let record = self.call(Method::POST, "/api/v1/records", Some(body));
        id_text(&record["id"])
    }

    /// A Unix record with `password` (legacy model) for `ips`.
    pub fn unix_password_record(&self, title: &str, user: &str, ips: &[&str], password: &str) {
        self.record(json!({
            "kind": "unix", "title": title, "user": user, "ips": ips,
            "secrets": [{"field": "password",
                         "value": {"model": "legacy", "value": crate::control::b64(password.as_bytes())}}]
        }));
    }

    /// Creates a scan; its id.
    pub fn scan(&self, body: Value) -> String {
        id_text(&self.call(Method::POST, "/api/v1/scans", Some(body))["id"])
    }

    pub fn scan_view(&self, scan_id: &str) -> Value {
        self.call(Method::GET, &format!("/api/v1/scans/{scan_id}"), None)
    }

    pub fn results(&self, scan_id: &str) -> Vec<Value> {
        self.call(
            Method::GET,
            &format!("/api/v1/scans/{scan_id}/results"),
            None,
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Waits until the scan has `count` results; returns them.
    pub fn wait_results(&self, scan_id: &str, count: usize) -> Vec<Value> {
        let mut rows = Vec::new();
        wait_until(&format!("{count} results of scan {scan_id}"), BOUND, || {
            rows = self.results(scan_id);
            rows.len() >= count
        });
        rows
    }

    /// Waits until an appliance has claimed the scan's job.
    pub fn wait_claimed(&self, scan_id: &str) -> Value {
        let mut view = Value::Null;
        wait_until(&format!("a claim of scan {scan_id}"), BOUND, || {
            view = self.scan_view(scan_id);
            view["jobs"]
                .as_array()
                .is_some_and(|jobs| jobs.iter().any(|j| j["claims"].as_i64() > Some(0)))
        });
        view
    }

    /// Moves the control plane's clock (only on [`Plane::with_manual_clock`]).
    pub fn advance(&self, seconds: i64) {
        self.manual
            .as_ref()
            .expect("a plane started with_manual_clock")
            .advance(seconds);
    }

    /// Goes away as a crashed control plane does: listener and open connections closed at once.
    pub fn stop(&mut self) {
        self.server.take();
        if let Some(rt) = self.server_rt.take() {
            rt.shutdown_background();
        }
    }

    /// Serves again on the same address, certificate and database.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "stop the control plane first");
        let listen = self.addr.to_string();
        let server_rt = runtime();
        let mut server = None;
        // The old listener's port may take a moment to be free again.
        wait_until("the control plane listens again", BOUND, || {
            server = server_rt
                .block_on(start(options(self.data.path(), &listen, &self.clock)))
                .ok();
            server.is_some()
        });
        self.server = server;
        self.server_rt = Some(server_rt);
    }

    /// `sealscan-control ncsm enable`, as the operator runs it on the data directory.
    pub fn enable_ncsm(&self) {
        let store = open_store(self.data.path()).expect("open the store");
        store
            .write(|tx| {
                let mut features = tx.require_subscription()?.features;
                features.ncsm = true;
                tx.save_features(&features)?;
                Ok::<_, sealscan_control::store::StoreError>(())
            })
            .expect("enable NCSM");
    }

    /// The Manager Primary Contact starts NCSM and waits for the migration to complete; a new
    /// session follows, as the control plane requires after activation.
    pub fn activate_ncsm(&mut self) {
        self.enable_ncsm();
        let (status, body) = self.request(
            Method::POST,
            "/api/v1/ncsm/start",
            Some(&self.session.clone()),
            None,
        );
        assert!(status.is_success(), "ncsm start: {status} {body}");
        wait_until("the NCSM migration completes", BOUND, || {
            self.call(Method::GET, "/api/v1/ncsm", None)["state"] == "complete"
        });
        self.sign_in();
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        self.stop();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn options(data_dir: &std::path::Path, listen: &str, clock: &Arc<dyn Clock>) -> ServerOptions {
    ServerOptions {
        data_dir: data_dir.to_path_buf(),
        listen: listen.parse().expect("listen address"),
        cert: None,
        key: None,
        hash_cost: HashCost::TEST,
        clock: clock.clone(),
    }
}

fn id_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The row of `rows` for `host` and `kind`.
pub fn row<'a>(rows: &'a [Value], host: &str, kind: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["host"] == host && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} result for {host} in {rows:#?}"))
}

/// Listeners that accept TCP (the kernel completes the handshake) and never answer, one on
/// each of `hosts`, all on one port, so a scan's port override reaches each of them.
pub fn silent_listeners(hosts: &[&str]) -> (Vec<TcpListener>, u16) {
    'port: for _ in 0..50 {
        let first = TcpListener::bind((hosts[0], 0)).expect("bind a silent listener");
        let port = first.local_addr().expect("address").port();
        let mut all = vec![first];
        for h in &hosts[1..] {
            match TcpListener::bind((*h, port)) {
                Ok(l) => all.push(l),
                Err(_) => continue 'port,
            }
        }
        return (all, port);
    }
    panic!("no port free on all of {hosts:?}");
}

/// Server-side sockets of `port` the kernel holds as ESTABLISHED (accepted or waiting in the
/// backlog): the agent's open connections to listeners that never answer.
pub fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1).is_some_and(|local| local.ends_with(&wanted)) && cols.get(3) == Some(&"01")
        })
        .count()
}

/// Sets a per-target login bound in the agent's configuration (seconds).
pub fn set_unix_timeout(home: &AgentHome, secs: u32) {
    let config = std::fs::read_to_string(home.config()).expect("config");
    let config = config.replace("unix_secs = 5", &format!("unix_secs = {secs}"));
    std::fs::write(home.config(), config).expect("config");
}

pub fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

//! The real control plane for tests: sealscan-control's HTTPS server and SQLite store, in
//! process, driven through its API as an operator's tools drive it (a Manager's session,
//! enrollment tokens, approvals, records, scans and their results). It serves on its own
//! runtime, so stopping it is a crash (listener and open connections gone at once) and it
//! restarts on the same address and database; it may run on a clock only the test moves, for
//! leases; NCSM is activated as the operator and the Primary Contact do. Agents are the real
//! `sealscan-agent` binary ([`crate::agent`]).

use crate::agent::{Agent, AgentHome, AgentSettings};
use crate::{BOUND, wait_until};
use reqwest::{Method, StatusCode};
use sealscan_control::api::jobs::LEASE_SECS;
use sealscan_control::clock::{Clock, ManualClock, SystemClock};
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{RunningServer, ServerOptions, open_store, start};
use sealscan_control::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub const MANAGER: &str = "alice";
pub const MANAGER_PW: &str = "Vq7!mZp4#Lw";

pub struct ControlPlane {
    /// Runs the tests' API calls.
    pub rt: tokio::runtime::Runtime,
    /// Runs the server and every connection it serves, so [`ControlPlane::stop`] ends them all as a
    /// crash would (the server's own `stop` leaves open connections served).
    server_rt: Option<tokio::runtime::Runtime>,
    pub data: tempfile::TempDir,
    pub addr: SocketAddr,
    pub ca_pem: String,
    /// Set when the plane runs on a clock the test moves ([`ControlPlane::advance`]).
    pub manual: Option<ManualClock>,
    clock: Arc<dyn Clock>,
    /// The job lease the server grants (kept across [`ControlPlane::restart`]-style stops).
    lease_secs: u32,
    server: Option<RunningServer>,
    client: reqwest::Client,
    session: String,
}

impl ControlPlane {
    /// A fresh subscription (Manager `alice`, the Primary Contact) served on a free loopback
    /// port, on the system clock.
    pub fn start() -> Self {
        Self::start_on(None, LEASE_SECS)
    }

    /// [`ControlPlane::with_manual_clock`] granting `lease_secs` job leases, so a test that
    /// waits for an agent's heartbeat (every third of the lease, on the real clock) needs
    /// seconds, not the default lease's 40.
    pub fn with_manual_clock_and_lease(lease_secs: u32) -> Self {
        Self::start_on(Some(ManualClock::new(now())), lease_secs)
    }

    /// [`ControlPlane::start`] on a clock that moves only with [`ControlPlane::advance`].
    pub fn with_manual_clock() -> Self {
        Self::start_on(Some(ManualClock::new(now())), LEASE_SECS)
    }

    fn start_on(manual: Option<ManualClock>, lease_secs: u32) -> Self {
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
            .block_on(start(options(
                data.path(),
                "127.0.0.1:0",
                &clock,
                lease_secs,
            )))
            .expect("control plane starts");
        let addr = server.addr;
        let ca_pem = std::fs::read_to_string(data.path().join("tls/cert.pem")).expect("cert");
        let client = https_client(&ca_pem);
        let mut plane = ControlPlane {
            rt,
            server_rt: Some(server_rt),
            data,
            addr,
            ca_pem,
            manual,
            clock,
            lease_secs,
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
        let (status, answer) = self.try_call(method.clone(), path, body);
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// A Manager's call whose refusal the test reads: status and JSON body.
    pub fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.request(method, path, Some(&self.session), body)
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
        self.enroll_with(AgentSettings::concurrency(concurrency))
    }

    /// A new appliance home with `settings`, enrolled with a fresh token; its appliance id,
    /// found by the fingerprint enroll shows, as a Manager compares it.
    pub fn enroll_with(&self, settings: AgentSettings) -> (AgentHome, String) {
        let home = AgentHome::with_settings(&self.url(), &self.ca_pem, settings);
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

    /// [`ControlPlane::enroll`] and approved by the Manager.
    pub fn enroll_approved(&self, concurrency: u16) -> (AgentHome, String) {
        let (home, id) = self.enroll(concurrency);
        self.approve(&id);
        (home, id)
    }

    /// An enrolled, approved agent with `settings`, running, its credential collected.
    pub fn running_agent(&self, settings: AgentSettings) -> Agent {
        let (home, id) = self.enroll_with(settings);
        self.approve(&id);
        let mut agent = Agent::new(home, id);
        agent.start();
        wait_until("the agent collects its credential", BOUND, || {
            agent.home.state_dir().join("credential").exists()
        });
        agent
    }

    /// Creates a record; its id.
    pub fn record(&self, body: Value) -> String {
        let record = self.call(Method::POST, "/api/v1/records", Some(body));
        id_text(&record["id"])
    }

    /// A Unix record with `password` (legacy model) for `ips`.
    pub fn unix_password_record(&self, title: &str, user: &str, ips: &[&str], password: &str) {
        self.record(password_record(
            "unix",
            title,
            user,
            ips,
            password.as_bytes(),
        ));
    }

    /// Creates a scan; its id.
    pub fn scan(&self, body: Value) -> String {
        id_text(&self.call(Method::POST, "/api/v1/scans", Some(body))["id"])
    }

    /// Creates a scan and waits for its `count` results, which must be all it gets.
    pub fn run_scan(&self, body: Value, count: usize) -> Vec<Value> {
        let scan_id = self.scan(body);
        let rows = self.wait_results(&scan_id, count);
        assert_eq!(rows.len(), count, "{rows:#?}");
        rows
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

    /// Waits until the scan is done; its results.
    pub fn wait_done(&self, scan_id: &str) -> Vec<Value> {
        wait_until(&format!("scan {scan_id} done"), BOUND, || {
            self.scan_view(scan_id)["state"] == "done"
        });
        self.results(scan_id)
    }

    /// Moves the control plane's clock (only on [`ControlPlane::with_manual_clock`]).
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
                .block_on(start(options(
                    self.data.path(),
                    &listen,
                    &self.clock,
                    self.lease_secs,
                )))
                .ok();
            server.is_some()
        });
        self.server = server;
        self.server_rt = Some(server_rt);
    }

    /// The running server's own store, for what only someone holding the database can do.
    pub fn store(&self) -> &Store {
        &self
            .server
            .as_ref()
            .expect("control plane running")
            .state
            .store
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

impl Drop for ControlPlane {
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

fn options(
    data_dir: &std::path::Path,
    listen: &str,
    clock: &Arc<dyn Clock>,
    lease_secs: u32,
) -> ServerOptions {
    ServerOptions {
        lease_secs,
        data_dir: data_dir.to_path_buf(),
        listen: listen.parse().expect("listen address"),
        cert: None,
        key: None,
        hash_cost: HashCost::TEST,
        clock: clock.clone(),
    }
}

/// An HTTPS client that trusts `ca_pem` only.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .build()
        .expect("client")
}

fn id_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
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

/// A record secret in the legacy model, as the API takes it.
pub fn legacy_secret(field: &str, value: &[u8]) -> Value {
    json!({"field": field, "value": {"model": "legacy", "value": b64(value)}})
}

/// A record secret sealed in an NCSM envelope (its text form).
pub fn sealed_secret(field: &str, envelope: &str) -> Value {
    json!({"field": field, "value": {"model": "sealed", "envelope": envelope}})
}

/// A record of `kind` ("unix" or "windows") for `ips` whose password is `password` (legacy
/// model); a Windows one is a local account.
pub fn password_record(
    kind: &str,
    title: &str,
    user: &str,
    ips: &[&str],
    password: &[u8],
) -> Value {
    json!({"kind": kind, "title": title, "user": user, "ips": ips,
           "secrets": [legacy_secret("password", password)]})
}

/// The row of `rows` for `host` and `kind`.
pub fn row<'a>(rows: &'a [Value], host: impl std::fmt::Display, kind: &str) -> &'a Value {
    let host = host.to_string();
    rows.iter()
        .find(|r| r["host"] == host.as_str() && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} result for {host} in {rows:#?}"))
}

/// Asserts a result row's status, QID, step and words of its cause (which starts with its
/// step); prints what an operator reads.
pub fn assert_row(row: &Value, status: &str, qid: u32, step: &str, words: &[&str]) {
    eprintln!(
        "{} {} {} {} {} | {}",
        row["target_id"], row["host"], row["kind"], row["status"], row["qid"], row["cause"]
    );
    assert_eq!(row["status"], status, "{row:#}");
    assert_eq!(row["qid"], qid, "{row:#}");
    assert_eq!(row["step"], step, "{row:#}");
    let cause = row["cause"].as_str().unwrap_or_default();
    assert!(cause.starts_with(&format!("{step}: ")), "{row:#}");
    for w in words {
        assert!(cause.contains(w), "{w:?} not in the cause: {row:#}");
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

/// A scan's Unix results for targets t1..t`hosts` on 127.0.0.1..=127.0.0.`hosts`: exactly one
/// each, passed where `passes(n)`, timed out elsewhere.
pub fn assert_unix_logins(rows: &[Value], hosts: u8, passes: impl Fn(u8) -> bool) {
    let by_target = one_per_target(rows);
    assert_eq!(rows.len(), usize::from(hosts), "{rows:#?}");
    for n in 1..=hosts {
        let row = by_target
            .get(&(format!("t{n}"), "unix".to_string()))
            .unwrap_or_else(|| panic!("no result for target t{n} (127.0.0.{n})"));
        assert_eq!(row["host"], format!("127.0.0.{n}"), "{row}");
        let (status, qid) = if passes(n) {
            ("passed", 38307)
        } else {
            ("timed_out", 115263)
        };
        assert_eq!(row["status"], status, "{row}");
        assert_eq!(row["qid"], qid, "{row}");
    }
}

pub fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

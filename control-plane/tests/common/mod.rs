//! A real control plane per test: a temp data dir with its SQLite file (or, with
//! SEALSCAN_TEST_STORE=postgres, a fresh database on a real PostgreSQL), the server on
//! 127.0.0.1:<free port> over real TLS, a clock the test moves, and reqwest clients that
//! trust the generated certificate.
#![allow(dead_code)]

pub mod cli;

use reqwest::{Method, StatusCode};
use sealscan_control::clock::ManualClock;
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{RunningServer, ServerOptions, start};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;

pub const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub const PC_USER: &str = "alice";
pub const PC_PASSWORD: &str = "Vq7!mZp4#Lw";
pub const PASSWORD: &str = "Gt5%nRw8!Kd";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub server: RunningServer,
    pub clock: ManualClock,
    pub base: String,
    pub ca_pem: Vec<u8>,
    client: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn rule(&self) -> &str {
        self.body["error"]["rule"].as_str().unwrap_or("")
    }
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
    #[track_caller]
    pub fn expect_ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }
    #[track_caller]
    pub fn expect_refused(&self, status: u16, rule: &str) {
        assert_eq!(
            (self.status.as_u16(), self.rule()),
            (status, rule),
            "unexpected reply {}",
            self.body
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "a refusal carries a message: {}",
            self.body
        );
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_edition(Edition::Standard).await
    }

    pub async fn start_edition(edition: Edition) -> Harness {
        Self::start_full(edition, None).await
    }

    /// `tls`: operator-supplied (cert, key, CA to trust) instead of the generated certificate.
    pub async fn start_full(
        edition: Edition,
        tls: Option<(std::path::PathBuf, std::path::PathBuf, Vec<u8>)>,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        use_test_store(dir.path());
        let clock = ManualClock::new(T0);
        init(
            dir.path(),
            InitOptions {
                subscription: "test".into(),
                edition,
                username: PC_USER.into(),
                first_name: "Alice".into(),
                last_name: "Smith".into(),
                email: "alice@example.com".into(),
                password: Password::new(PC_PASSWORD.into()),
                hash_cost: HashCost::TEST,
                now: T0,
            },
        )
        .expect("init");
        let server = start(ServerOptions {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            cert: tls.as_ref().map(|t| t.0.clone()),
            key: tls.as_ref().map(|t| t.1.clone()),
            hash_cost: HashCost::TEST,
            clock: Arc::new(clock.clone()),
            lease_secs: sealscan_control::api::jobs::LEASE_SECS,
        })
        .await
        .expect("server starts");
        let ca_pem = match tls {
            Some((_, _, ca)) => ca,
            None => std::fs::read(dir.path().join("tls/cert.pem")).expect("cert written"),
        };
        let base = format!("https://127.0.0.1:{}", server.addr.port());
        let client = make_client(&ca_pem, None);
        Harness {
            dir,
            server,
            clock,
            base,
            ca_pem,
            client,
        }
    }

    /// Everything the store holds as bytes: the SQLite file and its WAL, or a `pg_dump` of
    /// the PostgreSQL database (for "this secret is stored nowhere" checks).
    pub fn stored_bytes(&self) -> Vec<Vec<u8>> {
        let url_file = self
            .dir
            .path()
            .join(sealscan_control::datadir::DATABASE_FILE);
        if let Ok(url) = std::fs::read_to_string(url_file) {
            let out = std::process::Command::new("pg_dump")
                .args(["--data-only", "--dbname", url.trim()])
                .output()
                .expect("pg_dump (package postgresql-client)");
            assert!(out.status.success(), "pg_dump failed");
            return vec![out.stdout];
        }
        let db = std::fs::read(self.dir.path().join("control.db")).expect("db");
        let wal = std::fs::read(self.dir.path().join("control.db-wal")).unwrap_or_default();
        vec![db, wal]
    }

    /// A client whose connections come from `ip` (127.0.0.2, 127.0.0.3...).
    pub fn client_from(&self, ip: &str) -> reqwest::Client {
        make_client(&self.ca_pem, Some(ip.parse().expect("ip")))
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(&self.client, method, path, token, body)
            .await
    }

    pub async fn call_with(
        &self,
        client: &reqwest::Client,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
        let mut req = client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        Reply { status, body }
    }

    pub async fn login_reply(&self, user: &str, password: &str) -> Reply {
        self.call(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": user, "password": password})),
        )
        .await
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self.login_reply(user, password).await;
        let body = r.expect_ok();
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn pc(&self) -> String {
        self.login(PC_USER, PC_PASSWORD).await
    }

    pub async fn security(&self, token: &str, patch: Value) -> Value {
        self.call("put", "/api/v1/security", Some(token), Some(patch))
            .await
            .expect_ok()
    }

    /// Creates a user with the shared test password (turns user-defined passwords on).
    pub async fn user(&self, admin: &str, username: &str, role: &str) -> i64 {
        self.security(admin, json!({"user_defined_passwords": true}))
            .await;
        let r = self
            .call(
                "post",
                "/api/v1/users",
                Some(admin),
                Some(json!({
                    "username": username,
                    "first_name": format!("First{username}"),
                    "last_name": format!("Last{username}"),
                    "email": format!("{username}@example.com"),
                    "role": role,
                    "password": PASSWORD
                })),
            )
            .await
            .expect_ok();
        r["user"]["id"].as_i64().expect("id")
    }

    pub async fn user_json(&self, admin: &str, who: &str) -> Value {
        self.call("get", &format!("/api/v1/users/{who}"), Some(admin), None)
            .await
            .expect_ok()
    }

    pub async fn audit_actions(&self, admin: &str) -> Vec<String> {
        let log = self
            .call("get", "/api/v1/audit", Some(admin), None)
            .await
            .expect_ok();
        log.as_array()
            .expect("array")
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// Points the data directory at the store the run asks for: SEALSCAN_TEST_STORE unset or
/// `sqlite` leaves its own SQLite file; `postgres` gives it a new database on the process's
/// PostgreSQL (tests/peers).
pub fn use_test_store(data_dir: &std::path::Path) {
    match std::env::var("SEALSCAN_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "sqlite") => {}
        Ok("postgres") => {
            let url = sealscan_test_peers::postgres::shared().create_database();
            sealscan_control::datadir::create(data_dir).expect("data dir");
            sealscan_control::datadir::set_database(data_dir, &url).expect("database.url");
        }
        Ok(other) => panic!("SEALSCAN_TEST_STORE={other:?}: expected sqlite or postgres"),
    }
}

/// Runs SQL straight on the data directory's database, whichever store it is (a test that
/// sets up what an older control plane left). A SELECT answers its first column of its
/// first row (an integer, on SQLite).
pub fn raw_sql(data_dir: &std::path::Path, sql: &str) -> String {
    let url_file = data_dir.join(sealscan_control::datadir::DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(url_file) {
        let out = std::process::Command::new("psql")
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "--dbname",
                url.trim(),
                "-c",
                sql,
            ])
            .output()
            .expect("psql (package postgresql-client)");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let conn = rusqlite::Connection::open(data_dir.join("control.db")).expect("open db");
    if sql.trim_start().to_uppercase().starts_with("SELECT") {
        let v: i64 = conn.query_row(sql, [], |r| r.get(0)).expect("query");
        v.to_string()
    } else {
        conn.execute_batch(sql).expect("sql");
        String::new()
    }
}

pub fn make_client(ca_pem: &[u8], local: Option<IpAddr>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("CA pem");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .local_address(local)
        .build()
        .expect("client")
}

impl Harness {
    /// Enrols the session's user in two-factor login; returns the base32 secret. The code
    /// used is spent: a sign-in needs the clock moved on a step.
    pub async fn enrol_2fa(&self, token: &str) -> String {
        let e = self
            .call("post", "/api/v1/2fa/enroll", Some(token), None)
            .await
            .expect_ok();
        let secret = e["secret_base32"].as_str().expect("secret").to_string();
        let code = sealscan_control::api::twofa::code_for(&secret, self.clock_now()).expect("code");
        self.call(
            "post",
            "/api/v1/2fa/confirm",
            Some(token),
            Some(json!({ "code": code })),
        )
        .await
        .expect_ok();
        secret
    }

    pub fn clock_now(&self) -> i64 {
        use sealscan_control::clock::Clock;
        self.clock.now()
    }
}

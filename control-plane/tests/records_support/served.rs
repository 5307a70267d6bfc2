//! The real `sealscan-control serve` binary as a child process, and an HTTPS client for it:
//! for the tests that kill it (kill -9 in the NCSM migration, replicas SIGKILLed).
use super::{Api, CONTROL};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// One `serve` process; killed when dropped.
pub struct Served {
    pub child: Child,
    pub api: Http,
}

/// A client of one served process, trusting its data directory's certificate.
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api for Http {
    async fn call_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("m");
        let mut req = self.client.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` on `data` with `extra` arguments; `slow_ms` slows the NCSM migration down
/// per record so a test can kill it halfway. Returns once it prints its address.
pub fn serve(data: &Path, slow_ms: Option<u64>, extra: &[&str]) -> Served {
    let mut cmd = Command::new(CONTROL);
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(ms) = slow_ms {
        cmd.env(sealscan_control::ncsm::SLOW_ENV, ms.to_string());
    }
    let mut child = cmd.spawn().expect("spawn sealscan-control serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim_end_matches("/api/v1").to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let ca = std::fs::read(data.join("tls/cert.pem")).expect("cert");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"))
        .build()
        .expect("client");
    Served {
        child,
        api: Http { base, client },
    }
}

/// Signs in as the first Manager (`alice`, made by `init`); the session token.
pub async fn login(api: &Http, password: &str) -> String {
    let (s, v) = api
        .call_json(
            "post",
            "/api/v1/session",
            None,
            Some(json!({"username": "alice", "password": password})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

/// `GET /ncsm`, which must answer 200.
pub async fn ncsm_status(api: &Http, token: &str) -> Value {
    let (s, v) = api
        .call_json("get", "/api/v1/ncsm", Some(token), None)
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

//! The real control plane (sealscan-control) in this process: a fresh data directory with its
//! SQLite store, the HTTPS server on a loopback port on its own runtime, a Manager session,
//! and appliances enrolled, approved and holding their credentials through the API.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sealscan_control::clock::SystemClock;
use sealscan_control::init::{InitOptions, init};
use sealscan_control::model::Edition;
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{RunningServer, ServerOptions, start};
use sealscan_protocols::appliance::{EnrollResponse, EnrollState};
use sealscan_protocols::envelope::PrivateKey;
use serde_json::{Value, json};

const MANAGER: &str = "benchmgr";
// The Manager Primary Contact of a throwaway control plane created for this run.
const MANAGER_PASSWORD: &str = "Vq7!mZp4#Lw-bench";

pub struct ControlPlane {
    pub base: String,
    pub ca_pem: Vec<u8>,
    pub manager: reqwest::Client,
    pub session: String,
    server: Option<RunningServer>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// One enrolled and approved appliance: its id, credential and own HTTP client (its own
/// connection, as a separate machine would have).
pub struct Appliance {
    pub id: String,
    pub credential: String,
    pub client: reqwest::Client,
}

impl ControlPlane {
    pub fn start() -> Result<ControlPlane, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| format!("clock: {e}"))?
            .as_secs() as i64;
        init(
            dir.path(),
            InitOptions {
                subscription: "bench".into(),
                edition: Edition::Standard,
                username: MANAGER.into(),
                first_name: "Petra".into(),
                last_name: "Quist".into(),
                email: "bench@example.invalid".into(),
                password: Password::new(MANAGER_PASSWORD.into()),
                hash_cost: HashCost::TEST,
                now,
            },
        )
        .map_err(|e| format!("control plane init: {e}"))?;
        // Its own runtime and threads, as its own process would have.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("control-plane")
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let server = runtime
            .block_on(start(ServerOptions {
                data_dir: dir.path().to_path_buf(),
                listen: ([127, 0, 0, 1], 0).into(),
                cert: None,
                key: None,
                hash_cost: HashCost::TEST,
                clock: Arc::new(SystemClock),
                lease_secs: sealscan_control::api::jobs::LEASE_SECS,
            }))
            .map_err(|e| format!("control plane start: {e}"))?;
        let ca_pem = std::fs::read(dir.path().join("tls/cert.pem"))
            .map_err(|e| format!("control plane certificate: {e}"))?;
        let base = format!("https://127.0.0.1:{}", server.addr.port());
        let manager = client(&ca_pem)?;
        Ok(ControlPlane {
            base,
            ca_pem,
            manager,
            session: String::new(),
            server: Some(server),
            runtime,
            _dir: dir,
        })
    }

    pub async fn login(&mut self) -> Result<(), String> {
        let body = call(
            &self.manager,
            "POST",
            &format!("{}/api/v1/session", self.base),
            None,
            Some(json!({"username": MANAGER, "password": MANAGER_PASSWORD})),
        )
        .await?;
        self.session = body
            .get("token")
            .and_then(Value::as_str)
            .ok_or("the Manager login returned no session token")?
            .to_string();
        Ok(())
    }

    /// A one-time enrollment token, as a Manager creates it.
    pub async fn enrollment_token(&self) -> Result<String, String> {
        let body = self
            .manager_call("POST", "/api/v1/appliances/tokens", Some(json!({})))
            .await?;
        body.get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "token creation returned no token".into())
    }

    pub async fn approve(&self, appliance_id: &str) -> Result<(), String> {
        self.manager_call(
            "POST",
            &format!("/api/v1/appliances/{appliance_id}/approve"),
            None,
        )
        .await
        .map(drop)
    }

    pub async fn manager_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        call(
            &self.manager,
            method,
            &format!("{}{path}", self.base),
            Some(&self.session),
            body,
        )
        .await
    }

    /// Enrolls a fresh appliance key with its own token, approves it as the Manager and
    /// collects its credential.
    pub async fn appliance(&self, name: &str) -> Result<Appliance, String> {
        let key = PrivateKey::generate().map_err(|e| format!("appliance key: {e}"))?;
        let token = self.enrollment_token().await?;
        let client = client(&self.ca_pem)?;
        let enrolled: EnrollResponse = serde_json::from_value(
            call(
                &client,
                "POST",
                &format!("{}/api/v1/appliance/enroll", self.base),
                None,
                Some(json!({
                    "token": token,
                    "name": name,
                    "public_key": base64::engine::general_purpose::STANDARD.encode(key.public_key()),
                })),
            )
            .await?,
        )
        .map_err(|e| format!("enroll response: {e}"))?;
        self.approve(&enrolled.appliance_id).await?;
        let state: EnrollState = serde_json::from_value(
            call(
                &client,
                "POST",
                &format!("{}/api/v1/appliance/enroll/poll", self.base),
                None,
                Some(json!({
                    "appliance_id": enrolled.appliance_id,
                    "poll_secret": enrolled.poll_secret,
                })),
            )
            .await?,
        )
        .map_err(|e| format!("enroll poll response: {e}"))?;
        match state {
            EnrollState::Approved { credential } => Ok(Appliance {
                id: enrolled.appliance_id,
                credential,
                client,
            }),
            other => Err(format!("appliance {name} was not approved: {other:?}")),
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

pub fn client(ca_pem: &[u8]) -> Result<reqwest::Client, String> {
    let ca =
        reqwest::Certificate::from_pem(ca_pem).map_err(|e| format!("control plane CA: {e}"))?;
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// One API call; a non-2xx answer is an error quoting the control plane's reply.
pub async fn call(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<Value, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| format!("HTTP method {method}: {e}"))?;
    let mut request = client.request(method.clone(), url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{method} {url}: body: {e}"))?;
    if !status.is_success() {
        return Err(format!("{method} {url} answered {status}: {text}"));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{method} {url}: not JSON ({e}): {text}"))
}

//! Shared by the simulator's integration tests: the seed they run against and small client
//! helpers. Every test starts its own simulator on 127.0.0.1:0.
#![allow(dead_code)]

use std::net::IpAddr;

use reqwest::{Client, Response, StatusCode};
use secret_server_sim::{Seed, Sim, SimConfig, start};
use serde_json::Value;

pub const SVC_USER: &str = "svc-scan";
pub const SVC_PASSWORD: &str = "S3rv!ce-pw";
pub const AD_USER: &str = "aduser";
pub const AD_DOMAIN: &str = "CORP";
pub const AD_PASSWORD: &str = "AdPa55!";
pub const OTHER_USER: &str = "other";
pub const OTHER_PASSWORD: &str = "0ther-pw";
pub const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtest\n-----END OPENSSH PRIVATE KEY-----\n";

pub fn seed_json() -> String {
    let mut secrets = vec![
        r#"{"id": 10, "name": "unix-root", "folderId": 2, "template": "Unix Account (SSH)",
            "fields": {"machine": "127.0.0.1", "username": "scanuser", "password": "pw&\"quoted\"",
                       "private-key": {"fileName": "id_ed25519", "content": "PRIVATE_KEY"},
                       "private-key-passphrase": "pp"},
            "readers": ["svc-scan", "CORP\\aduser"]}"#
            .replace("PRIVATE_KEY", &PRIVATE_KEY.replace('\n', "\\n")),
        r#"{"id": 11, "name": "appliance-only", "folderId": 2, "template": "Unix Account (SSH Key Rotation)",
            "fields": {"username": "scanuser", "password": "src-pw"},
            "readers": ["svc-scan"], "allowedSources": ["127.0.0.1"]}"#
            .to_string(),
        r#"{"id": 12, "name": "win-admin", "folderId": 4, "template": "Windows Account",
            "fields": {"machine": "127.0.0.1", "username": "Administrator", "password": "WinPw1!"},
            "readers": ["svc-scan", "CORP\\aduser"]}"#
            .to_string(),
        r#"{"id": 13, "name": "needs-comment", "folderId": 2, "template": "Password",
            "fields": {"username": "c", "password": "comment-pw"},
            "readers": ["svc-scan", "other"], "requiresComment": true}"#
            .to_string(),
        r#"{"id": 14, "name": "needs-checkout", "folderId": 2, "template": "Active Directory Account",
            "fields": {"domain": "CORP", "username": "co", "password": "checkout-pw"},
            "readers": ["svc-scan", "other"], "checkOutEnabled": true}"#
            .to_string(),
        r#"{"id": 15, "name": "needs-approval", "folderId": 2, "template": "Password",
            "fields": {"password": "approval-pw"}, "readers": ["svc-scan"], "requiresApproval": true}"#
            .to_string(),
        r#"{"id": 16, "name": "retired", "folderId": 2, "template": "Password",
            "fields": {"password": "old-pw"}, "readers": ["svc-scan"], "active": false}"#
            .to_string(),
        r#"{"id": 17, "name": "not-for-svc", "folderId": 2, "template": "Password",
            "fields": {"password": "secret-pw"}, "readers": ["other"]}"#
            .to_string(),
        r#"{"id": 18, "name": "dup-name", "folderId": 2, "template": "Password",
            "fields": {"password": "dup-a"}, "readers": ["svc-scan"]}"#
            .to_string(),
        r#"{"id": 19, "name": "dup-name", "folderId": 3, "template": "Password",
            "fields": {"password": "dup-b"}, "readers": ["svc-scan"]}"#
            .to_string(),
    ];
    for n in 0..25 {
        secrets.push(format!(
            r#"{{"id": {}, "name": "bulk-{n:02}", "folderId": 3, "template": "Password",
                "fields": {{"username": "bulk-user-{n:02}", "password": "p{n}"}}, "readers": ["svc-scan"]}}"#,
            100 + n
        ));
    }
    format!(
        r#"{{
  "users": [{{"username": "svc-scan", "password": "S3rv!ce-pw", "domain": null}},
            {{"username": "aduser", "password": "AdPa55!", "domain": "CORP"}},
            {{"username": "other", "password": "0ther-pw"}},
            {{"username": "otp-user", "password": "Otp-pw1", "otp": "123456"}}],
  "folders": [{{"id": 2, "name": "Unix", "parentId": null}},
              {{"id": 3, "name": "Prod", "parentId": 2}},
              {{"id": 4, "name": "Windows"}}],
  "secrets": [{}]
}}"#,
        secrets.join(",\n")
    )
}

pub fn seed() -> Seed {
    Seed::from_json(&seed_json()).expect("the test seed is valid")
}

pub async fn sim_with(adjust: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut config = SimConfig::new(seed());
    adjust(&mut config);
    start(config).await.expect("simulator starts")
}

pub async fn sim() -> Sim {
    sim_with(|_| {}).await
}

/// A client for the simulator: trusts its CA when it has one, optionally bound to a source.
pub fn client_for(sim: &Sim, source: Option<IpAddr>) -> Client {
    let mut builder = Client::builder().local_address(source);
    if let Some(pem) = sim.ca_pem() {
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA PEM"));
    }
    builder.build().expect("reqwest client")
}

pub fn client(sim: &Sim) -> Client {
    client_for(sim, None)
}

pub async fn token_response(
    client: &Client,
    sim: &Sim,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .form(form)
        .send()
        .await
        .expect("token request");
    json_of(r).await
}

pub async fn token_for(client: &Client, sim: &Sim, user: &str, password: &str) -> String {
    let (status, body) = token_response(
        client,
        sim,
        &[
            ("username", user),
            ("password", password),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "token for {user}: {body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn svc_token(client: &Client, sim: &Sim) -> String {
    token_for(client, sim, SVC_USER, SVC_PASSWORD).await
}

pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, value)
}

/// GET `{base}{path}` with the bearer token.
pub async fn api_get(client: &Client, sim: &Sim, token: &str, path: &str) -> (StatusCode, Value) {
    let r = client
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    json_of(r).await
}

pub async fn api_post(
    client: &Client,
    sim: &Sim,
    token: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = client
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST");
    json_of(r).await
}

//! Vault records through the real control plane, and the Secret Server simulator they name:
//! what the end-to-end vault tests create through the operator's API and read back from the
//! simulator's request log.

use crate::control_plane::{ControlPlane, b64, https_client};
use secret_server_sim::{LoggedRequest, Seed, Sim, SimConfig};
use serde_json::{Value, json};

/// The web-service account the scanner logs in to Secret Server with.
pub const SVC_USER: &str = "svc-scan";
/// Another Secret Server user, who holds a check-out the scanner then meets.
pub const OTHER_USER: &str = "other";
pub const OTHER_PW: &str = "0ther-Pw!";

/// Starts an HTTPS simulator serving `seed` on its own thread.
pub fn start_sim(plane: &ControlPlane, seed: Seed) -> Sim {
    let mut config = SimConfig::new(seed);
    config.tls = true;
    plane
        .rt
        .block_on(secret_server_sim::start(config))
        .expect("the Secret Server simulator starts")
}

pub fn seed(json: &Value) -> Seed {
    Seed::from_json(&json.to_string()).expect("the test seed is valid")
}

/// Creates a vault record as an operator does; its web-service password goes in as a legacy
/// secret, the model the control plane uses before NCSM. Returns the vault's id.
pub fn create_vault(
    plane: &ControlPlane,
    title: &str,
    url: &str,
    ca_pem: &str,
    password: &str,
) -> String {
    let v = plane.call(
        reqwest::Method::POST,
        "/api/v1/vaults",
        Some(json!({
            "title": title,
            "url": url,
            "user": SVC_USER,
            "ca_pem": ca_pem,
            "api": "rest",
            "password": {"model": "legacy", "value": b64(password.as_bytes())},
        })),
    );
    v["id"].as_str().expect("vault id").to_string()
}

/// Creates a record of `kind` ("unix" or "windows") for `ip` whose credential is the vault
/// secret `secret_name`. Returns the record's id.
pub fn create_vault_record(
    plane: &ControlPlane,
    kind: &str,
    ip: &str,
    vault_id: &str,
    secret_name: &str,
) -> String {
    create_vault_record_with(
        plane,
        json!({"kind": kind, "ip": ip, "user": "from-the-vault",
               "vault_id": vault_id, "secret_name": secret_name}),
    )
}

/// A vault record from `spec`: `kind`, `ip`, `user`, `vault_id`, and the secret reference
/// and options as the API takes them (`secret_name`, `folder`, `secret_id`, `secret_path`,
/// `unix_auth`).
pub fn create_vault_record_with(plane: &ControlPlane, spec: Value) -> String {
    let (kind, ip) = (spec["kind"].clone(), spec["ip"].clone());
    let mut body = json!({
        "kind": kind,
        "title": format!("{} {} via vault", kind.as_str().unwrap_or(""), ip.as_str().unwrap_or("")),
        "ips": [ip],
        "login_type": "vault",
    });
    for (k, v) in spec.as_object().into_iter().flatten() {
        if k != "ip" {
            body[k] = v.clone();
        }
    }
    let r = plane.call(reqwest::Method::POST, "/api/v1/records", Some(body));
    r["id"].as_str().expect("record id").to_string()
}

/// Checks secret `id` out as [`OTHER_USER`] over the simulator's REST API, as a colleague in
/// the Secret Server web UI would.
pub fn check_out_as_other(plane: &ControlPlane, sim: &Sim, id: i64) {
    let ca = sim.ca_pem().expect("an HTTPS simulator");
    let client = https_client(&ca);
    let base = sim.base_url();
    plane.rt.block_on(async {
        let token: Value = client
            .post(format!("{base}/oauth2/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", OTHER_USER),
                ("password", OTHER_PW),
            ])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token body");
        let token = token["access_token"].as_str().expect("access token");
        let r = client
            .post(format!("{base}/api/v1/secrets/{id}/check-out"))
            .bearer_auth(token)
            .header("Content-Length", "0")
            .send()
            .await
            .expect("check-out request");
        assert!(r.status().is_success(), "check-out by {OTHER_USER}: {r:?}");
    });
}

/// Requests in `log` with this method and path.
pub fn count(log: &[LoggedRequest], method: &str, path: &str) -> usize {
    log.iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

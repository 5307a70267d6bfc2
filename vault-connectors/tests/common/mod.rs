//! The simulator seed and helpers the connector's integration tests share.
#![allow(dead_code)]

use std::time::Duration;

use sealscan_vault::{
    Api, JobLabel, Limits, SecretBytes, SecretServer, SecretServerSession, TlsSettings,
    VaultConnector, VaultRecord,
};
use secret_server_sim::{LoggedRequest, Seed, Sim, SimConfig};

pub const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
pub const SVC_PASSWORD: &str = "S3rv!ce-pw&<x>";

pub fn seed() -> Seed {
    let json = serde_json::json!({
        "users": [
            {"username": "svc-scan", "password": SVC_PASSWORD, "domain": null},
            {"username": "aduser", "password": "AdPa55!", "domain": "CORP"},
            {"username": "other", "password": "0ther-pw", "domain": null}
        ],
        "folders": [
            {"id": 2, "name": "Unix", "parentId": null},
            {"id": 3, "name": "Windows", "parentId": null},
            {"id": 4, "name": "Lab", "parentId": null}
        ],
        "secrets": [
            {"id": 10, "name": "unix-root", "folderId": 2, "template": "Unix Account (SSH)",
             "fields": {"machine": "127.0.0.1", "username": "scanuser", "password": "pw-unix",
                        "private-key": {"fileName": "id_ed25519", "content": KEY},
                        "private-key-passphrase": "pp"},
             "readers": ["svc-scan", "aduser"], "allowedSources": ["127.0.0.1"]},
            {"id": 11, "name": "shared-pw", "folderId": 2, "template": "Unix Account (SSH)",
             "fields": {"username": "scanuser", "password": "pw-shared"},
             "readers": ["svc-scan"]},
            {"id": 12, "name": "win-admin", "folderId": 3, "template": "Active Directory Account",
             "fields": {"domain": "CORP", "username": "Administrator", "password": "W1n-pw"},
             "readers": ["svc-scan"]},
            {"id": 20, "name": "dup", "folderId": 2, "template": "Password",
             "fields": {"username": "a", "password": "pa"}, "readers": ["svc-scan"]},
            {"id": 21, "name": "dup", "folderId": 4, "template": "Password",
             "fields": {"username": "b", "password": "pb"}, "readers": ["svc-scan"]},
            {"id": 30, "name": "needs-comment", "folderId": 2, "template": "Unix Account (SSH)",
             "fields": {"username": "cuser", "password": "pw-comment",
                        "private-key": {"fileName": "id", "content": KEY}},
             "readers": ["svc-scan"], "requiresComment": true},
            {"id": 31, "name": "needs-approval", "folderId": 2, "template": "Password",
             "fields": {"username": "u", "password": "p"}, "readers": ["svc-scan"],
             "requiresApproval": true},
            {"id": 32, "name": "checkout", "folderId": 2, "template": "Password",
             "fields": {"username": "co", "password": "pw-co"}, "readers": ["svc-scan", "other"],
             "checkOutEnabled": true},
            {"id": 33, "name": "no-password", "folderId": 2, "template": "Password",
             "fields": {"username": "lonely"}, "readers": ["svc-scan"]},
            {"id": 34, "name": "remote-only", "folderId": 2, "template": "Password",
             "fields": {"username": "r", "password": "p"}, "readers": ["svc-scan"],
             "allowedSources": ["10.0.0.5"]},
            {"id": 35, "name": "not-mine", "folderId": 2, "template": "Password",
             "fields": {"username": "n", "password": "p"}, "readers": ["aduser"]},
            {"id": 36, "name": "comment-checkout", "folderId": 2, "template": "Password",
             "fields": {"username": "cc", "password": "pw-cc"}, "readers": ["svc-scan"],
             "requiresComment": true, "checkOutEnabled": true}
        ]
    });
    Seed::from_json(&json.to_string()).expect("test seed is valid")
}

pub async fn sim(tls: bool) -> Sim {
    let mut config = SimConfig::new(seed());
    config.tls = tls;
    secret_server_sim::start(config)
        .await
        .expect("simulator starts")
}

pub fn record(sim: &Sim, api: Api) -> VaultRecord {
    VaultRecord {
        url: sim.base_url(),
        username: "svc-scan".into(),
        password: SecretBytes::copy_from(SVC_PASSWORD.as_bytes()),
        domain: None,
        organization: None,
        tls: TlsSettings {
            verify: true,
            ca_bundle_pem: sim.ca_pem(),
        },
        api,
    }
}

/// Quick retries so fault tests do not wait long; the count of attempts is what they check.
pub fn limits() -> Limits {
    Limits {
        backoff: Duration::from_millis(20),
        ..Limits::default()
    }
}

pub fn session(record: VaultRecord) -> SecretServerSession {
    let connector = SecretServer { limits: limits() };
    connector
        .open_session(record, &JobLabel::new("job-7"))
        .expect("record is usable")
}

pub fn count(log: &[LoggedRequest], method: &str, path: &str) -> usize {
    log.iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

pub fn soap_calls(log: &[LoggedRequest]) -> usize {
    log.iter()
        .filter(|r| {
            r.path
                .eq_ignore_ascii_case("/webservices/SSWebService.asmx")
        })
        .count()
}

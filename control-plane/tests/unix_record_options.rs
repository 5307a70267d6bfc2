//! Unix records' SSH options through the records API: host-key trust and root delegation are
//! checked when entered, shown by `records show`, carried into job material, and the
//! delegation password is a secret field of its own.
mod common;
mod records_support;

use common::*;
use records_support::*;
use serde_json::{Value, json};

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICVDmpgSY1h5lZkf1q+jJv46GPYGy9HudZoG/S/TbG3d host";

fn unix(title: &str, unix: Value, secrets: Value) -> Value {
    json!({"kind": "unix", "title": title, "user": "scan", "ips": ["10.8.0.1"],
           "unix": unix, "secrets": secrets})
}

fn password() -> Value {
    json!([{"field": "password", "value": legacy("Unix-Login-Secret-4")}])
}

#[tokio::test]
async fn host_key_and_delegation_options_are_checked_shown_and_kept() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let post = |body: Value| {
        let (h, pc) = (&h, &pc);
        async move {
            h.call("post", "/api/v1/records", Some(pc), Some(body))
                .await
        }
    };
    for (options, secrets, rule) in [
        (
            json!({"host_key_policy": "trust"}),
            password(),
            "record.host-key-policy-invalid",
        ),
        (
            json!({"host_key_policy": "known"}),
            password(),
            "record.host-keys-required",
        ),
        (
            json!({"host_key_policy": "pin", "known_host_keys": [HOST_KEY]}),
            password(),
            "record.host-keys-unused",
        ),
        (
            json!({"host_key_policy": "known", "known_host_keys": ["ssh-ed25519 !!"]}),
            password(),
            "record.host-key-invalid",
        ),
        (
            json!({"delegation": "pbrun"}),
            password(),
            "record.delegation-invalid",
        ),
        (
            json!({"delegation": "su"}),
            password(),
            "record.secret-required",
        ),
        (
            json!({"delegation": "su", "delegation_password": "login"}),
            password(),
            "record.delegation-password-invalid",
        ),
        (
            json!({"delegation_password": "none"}),
            password(),
            "record.delegation-password-invalid",
        ),
    ] {
        post(unix("refused", options, secrets))
            .await
            .expect_refused(400, rule);
    }
    // The delegation password only where the delegation takes one.
    let mut secrets = password();
    secrets
        .as_array_mut()
        .unwrap()
        .push(json!({"field": "delegation_password", "value": legacy("Root-Secret-1")}));
    post(unix(
        "extra",
        json!({"delegation": "sudo"}),
        secrets.clone(),
    ))
    .await
    .expect_refused(400, "record.secret-unexpected");

    let r = post(unix(
        "su",
        json!({"host_key_policy": "known", "known_host_keys": [HOST_KEY], "delegation": "su"}),
        secrets,
    ))
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let shown = h
        .call("get", &format!("/api/v1/records/{id}"), Some(&pc), None)
        .await
        .body;
    assert_eq!(shown["unix"]["host_key_policy"], "known", "{shown}");
    // Stored without the comment, as OpenSSH's `type base64`.
    assert_eq!(
        shown["unix"]["known_host_keys"][0],
        HOST_KEY.trim_end_matches(" host"),
        "{shown}"
    );
    assert_eq!(shown["unix"]["delegation"], "su", "{shown}");
    assert_eq!(shown["unix"]["delegation_password"], "separate", "{shown}");
    assert!(shown.to_string().contains("delegation_password"), "{shown}");
    assert!(!shown.to_string().contains("Root-Secret-1"), "{shown}");

    // Leaving `known` drops the keys; leaving su drops root's password.
    let r = h
        .call(
            "patch",
            &format!("/api/v1/records/{id}"),
            Some(&pc),
            Some(
                json!({"unix": {"host_key_policy": "off", "delegation": "sudo",
                                 "delegation_password": "none"}}),
            ),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["unix"]["host_key_policy"], "off", "{}", r.body);
    assert!(
        r.body["unix"].get("known_host_keys").is_none(),
        "{}",
        r.body
    );
    assert!(
        !r.body["secrets"]
            .to_string()
            .contains("delegation_password"),
        "{}",
        r.body
    );

    // A key login has no password for sudo to take.
    h.call(
        "patch",
        &format!("/api/v1/records/{id}"),
        Some(&pc),
        Some(json!({"unix": {"delegation_password": "login"}, "unix_auth": "private_key"})),
    )
    .await
    .expect_refused(400, "record.delegation-password-invalid");

    // A key login carries its certificate.
    let r = post(json!({"kind": "unix", "title": "cert", "user": "scan", "ips": ["10.8.0.3"],
        "unix_auth": "private_key",
        "unix": {"certificate": "ssh-ed25519-cert-v01@openssh.com AAAA user"},
        "secrets": [{"field": "private_key", "value": legacy("-----BEGIN OPENSSH PRIVATE KEY-----")}]}))
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(
        r.body["unix"]["certificate"],
        "ssh-ed25519-cert-v01@openssh.com AAAA user"
    );

    // Windows records take no Unix options.
    post(
        json!({"kind": "windows", "title": "w", "user": "scan", "ips": ["10.8.0.2"],
                "unix": {}, "secrets": password()}),
    )
    .await
    .expect_refused(400, "record.unix-options-invalid");
}

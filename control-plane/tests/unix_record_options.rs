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

/// The same options from the real `sealscan` CLI against the real server: the flags reach the
/// record, `records show` shows them, and bad files or combinations are refused with words.
#[test]
fn unix_record_flags_through_the_cli() {
    use common::cli::*;
    const LOGIN: &str = "Cli-Unix-Login-5";
    const ROOT: &str = "Cli-Unix-Root-6";
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let served = init_and_serve(&data);
    login(&cfg, &served, &data.join("tls/cert.pem"));
    let file = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    // A `.pub` file, and a CA as a known_hosts `@cert-authority` line.
    let keys = file("host.pub", &format!("{HOST_KEY}\n"));
    let ca_line =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0dJ8Rz4yqkxJ0Yh4wN2m7x2a3v1dH8Gq6tU0iV1bC2";
    let cas = file(
        "ca",
        &format!("# host CA\n@cert-authority *.lab {ca_line} lab-ca\n"),
    );
    let json = |args: &[&str], stdin: &str| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(&run(&cfg, &all, stdin))).expect("json output")
    };
    let created = json(
        &[
            "--password-stdin",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "cli unix",
            "--user",
            "scan",
            "--ip",
            "10.9.0.1",
            "--host-key-policy",
            "known",
            "--host-key-file",
            &keys,
            "--host-ca-file",
            &cas,
            "--delegation",
            "su",
        ],
        &format!("{LOGIN}\n{ROOT}\n"),
    );
    let id = created["id"].as_str().expect("id").to_string();
    let shown = json(&["records", "show", &id], "");
    let unix = &shown["unix"];
    assert_eq!(unix["host_key_policy"], "known", "{shown:#}");
    assert_eq!(
        unix["known_host_keys"][0],
        HOST_KEY.trim_end_matches(" host")
    );
    assert_eq!(unix["host_ca_keys"], json!([ca_line]), "{shown:#}");
    assert_eq!(unix["delegation"], "su", "{shown:#}");
    assert_eq!(unix["delegation_password"], "separate", "{shown:#}");
    assert!(
        shown["secrets"].to_string().contains("delegation_password"),
        "{shown:#}"
    );
    assert!(!shown.to_string().contains(ROOT) && !shown.to_string().contains(LOGIN));
    // The operator's table view says it too.
    let table = ok(&run(&cfg, &["records", "show", &id], ""));
    assert!(
        table.contains("\"host_key_policy\":\"known\"") && table.contains("\"delegation\":\"su\""),
        "{table}"
    );

    // Update: off is explicit and drops the keys and CAs; sudo NOPASSWD drops root's password.
    let updated = json(
        &[
            "records",
            "update",
            &id,
            "--host-key-policy",
            "off",
            "--delegation",
            "sudo",
            "--delegation-password",
            "none",
        ],
        "",
    );
    assert_eq!(updated["unix"]["host_key_policy"], "off", "{updated:#}");
    assert!(updated["unix"].get("host_ca_keys").is_none(), "{updated:#}");
    assert!(
        updated["unix"].get("known_host_keys").is_none(),
        "{updated:#}"
    );
    assert_eq!(
        updated["unix"]["delegation_password"], "none",
        "{updated:#}"
    );
    let table = ok(&run(&cfg, &["records", "show", &id], ""));
    assert!(table.contains("\"host_key_policy\":\"off\""), "{table}");

    // Refusals name what is wrong.
    let empty = file("empty.pub", "# nothing\n");
    fails(
        &run(
            &cfg,
            &[
                "records",
                "update",
                &id,
                "--host-key-policy",
                "known",
                "--host-ca-file",
                &empty,
            ],
            "",
        ),
        "the --host-ca-file files hold no key",
    );
    let garbage = file("garbage.pub", "ssh-ed25519 !!not-base64\n");
    fails(
        &run(
            &cfg,
            &[
                "records",
                "update",
                &id,
                "--host-key-policy",
                "known",
                "--host-ca-file",
                &garbage,
            ],
            "",
        ),
        "host_ca_keys[0]",
    );
    fails(
        &run(
            &cfg,
            &["records", "update", &id, "--host-key-policy", "known"],
            "",
        ),
        "record.host-keys-required",
    );
    fails(
        &run(
            &cfg,
            &[
                "records",
                "update",
                &id,
                "--delegation-vault-secret",
                "root",
            ],
            "",
        ),
        "record.delegation-secret-unused",
    );

    // A key login with its certificate.
    let key = tmp.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("run ssh-keygen (package openssh-client)");
    assert!(made.success(), "ssh-keygen failed");
    let key = key.display().to_string();
    let cert_line = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t scan-cert";
    let cert = file("id_ed25519-cert.pub", &format!("{cert_line}\n"));
    let created = json(
        &[
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "cli cert",
            "--user",
            "scan",
            "--ip",
            "10.9.0.2",
            "--private-key-file",
            &key,
            "--certificate-file",
            &cert,
        ],
        "",
    );
    assert_eq!(created["unix"]["certificate"], cert_line, "{created:#}");
    assert_eq!(created["unix"]["host_key_policy"], "pin", "{created:#}");

    // A vault record takes su's password from a second secret of its vault.
    let vault = json(
        &[
            "--password-stdin",
            "vaults",
            "create",
            "--title",
            "SS",
            "--url",
            "https://ss.example",
            "--user",
            "svc",
        ],
        "Cli-Vault-Svc-7\n",
    );
    let vault = vault["id"].as_str().expect("vault id").to_string();
    fails(
        &run(
            &cfg,
            &[
                "records",
                "create",
                "--kind",
                "unix",
                "--title",
                "cli vault",
                "--user",
                "scan",
                "--ip",
                "10.9.0.3",
                "--login-type",
                "vault",
                "--vault",
                &vault,
                "--secret-id",
                "12",
                "--delegation",
                "su",
            ],
            "",
        ),
        "record.delegation-secret-required",
    );
    let created = json(
        &[
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "cli vault",
            "--user",
            "scan",
            "--ip",
            "10.9.0.3",
            "--login-type",
            "vault",
            "--vault",
            &vault,
            "--secret-id",
            "12",
            "--delegation",
            "su",
            "--delegation-vault-secret",
            "\\Unix\\root-lab",
        ],
        "",
    );
    assert_eq!(
        created["unix"]["delegation_secret"],
        json!({"secret_name": "root-lab", "folder": "\\Unix"}),
        "{created:#}"
    );
    let id = created["id"].as_str().expect("id").to_string();
    let updated = json(
        &["records", "update", &id, "--delegation-vault-secret", "61"],
        "",
    );
    assert_eq!(
        updated["unix"]["delegation_secret"],
        json!({"secret_id": 61}),
        "{updated:#}"
    );
    assert!(
        !updated["secrets"]
            .to_string()
            .contains("delegation_password"),
        "a vault record holds no sealed delegation password: {updated:#}"
    );
    drop(served);
}

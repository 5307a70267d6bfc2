//! Issue 17, items 6-7, from the real `sealscan` CLI against the real server: a vault record
//! names its secret by name (with a folder), by Secret Server id or by folder path, and a Unix
//! vault record may choose the secret's password or its private key; `records list` and
//! `vaults list` show each record's vault and secret in the table. Wrong combinations are
//! refused, naming the fields, and change nothing.
mod common;

use common::cli::*;
use serde_json::Value;

fn json_out(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).expect("json output")
}

#[test]
fn vault_records_by_name_id_or_path_show_their_secret_in_the_tables() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let served = init_and_serve(&data);
    let ca = data.join("tls/cert.pem");
    login(&cfg, &served, &ca);
    let vault = json_out(&run(
        &cfg,
        &[
            "--password-stdin",
            "--json",
            "vaults",
            "create",
            "--title",
            "SS",
            "--url",
            "https://ss.example/SecretServer",
            "--user",
            "svc",
        ],
        "Vault-Pw-17\n",
    ));
    let vault_id = vault["id"].as_str().expect("vault id").to_string();
    let create = |title: &str, ip: &str, kind: &str, extra: &[&str]| {
        let mut args = vec![
            "--json",
            "records",
            "create",
            "--kind",
            kind,
            "--title",
            title,
            "--user",
            "scan",
            "--ip",
            ip,
            "--login-type",
            "vault",
            "--vault",
            &vault_id,
        ];
        args.extend_from_slice(extra);
        run(&cfg, &args, "")
    };
    let by_name = json_out(&create(
        "by name",
        "10.17.0.1",
        "unix",
        &["--secret-name", "root", "--folder", "Lab"],
    ));
    assert_eq!(by_name["secret"], "root in folder Lab");
    let by_id = json_out(&create(
        "by id",
        "10.17.0.2",
        "unix",
        &["--secret-id", "42", "--secret-auth", "password"],
    ));
    assert_eq!(
        (
            by_id["secret"].clone(),
            by_id["secret_id"].clone(),
            by_id["unix_auth"].clone()
        ),
        ("id 42".into(), 42.into(), "password".into())
    );
    let by_path = json_out(&create(
        "by path",
        "10.17.0.3",
        "unix",
        &[
            "--secret-path",
            "/Unix/Prod/root-key",
            "--secret-auth",
            "private_key",
        ],
    ));
    assert_eq!(by_path["secret"], "\\Unix\\Prod\\root-key");
    assert_eq!(by_path["folder"], "\\Unix\\Prod");
    assert_eq!(by_path["secret_name"], "root-key");

    // The tables, not only --json, show the vault and the secret.
    let listed = ok(&run(&cfg, &["records", "list"], ""));
    let header = listed.lines().next().unwrap_or("");
    assert!(
        header.contains("VAULT") && header.contains("SECRET"),
        "{listed}"
    );
    for (title, secret) in [
        ("by name", "root in folder Lab"),
        ("by id", "id 42"),
        ("by path", "\\Unix\\Prod\\root-key"),
    ] {
        let line = listed
            .lines()
            .find(|l| l.contains(title))
            .unwrap_or_else(|| panic!("{title} not listed: {listed}"));
        assert!(line.contains(&vault_id) && line.contains(secret), "{line}");
    }
    let vaults = ok(&run(&cfg, &["vaults", "list"], ""));
    let by_id_id = by_id["id"].as_str().expect("id");
    assert!(vaults.contains(&format!("{by_id_id}: id 42")), "{vaults}");

    // Refused, naming the fields; nothing created.
    for (extra, kind, words) in [
        (
            &["--secret-id", "0"][..],
            "unix",
            "secret_id is a positive number",
        ),
        (
            &["--secret-path", "root"][..],
            "unix",
            "secret_path names no folder",
        ),
        (&["--secret-path", "\\\\"][..], "unix", "secret_path is"),
        (&[][..], "unix", "secret_name, secret_id or secret_path"),
        (
            &["--secret-name", "w", "--secret-auth", "private_key"][..],
            "windows",
            "unix_auth applies to Unix records only",
        ),
    ] {
        let out = create("refused", "10.17.0.9", kind, extra);
        fails(&out, words);
    }
    let out = create(
        "refused",
        "10.17.0.9",
        "unix",
        &["--secret-id", "7", "--secret-path", "\\A\\b"],
    );
    assert!(!out.status.success());
    let listed = json_out(&run(&cfg, &["--json", "records", "list"], ""));
    assert_eq!(
        listed["records"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );

    // An update replaces the reference whole: from a path to an id, folder and name gone.
    let id = by_path["id"].as_str().expect("id");
    let updated = json_out(&run(
        &cfg,
        &["--json", "records", "update", id, "--secret-id", "77"],
        "",
    ));
    assert_eq!(updated["secret"], "id 77", "{updated}");
    assert!(
        updated["folder"].is_null() && updated["secret_name"].is_null(),
        "{updated}"
    );
    assert_eq!(
        updated["unix_auth"], "private_key",
        "the choice stays: {updated}"
    );
    // A folder alone cannot go with an id.
    fails(
        &run(
            &cfg,
            &["--json", "records", "update", id, "--folder", "Lab"],
            "",
        ),
        "folder goes with secret_name",
    );
}

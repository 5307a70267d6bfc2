//! Authentication records, vault records, legacy encryption at rest, the job material built
//! from them, and NCSM (activation, migration, pending records, sealed records, the rules in
//! force afterwards), over real TLS and SQLite.
mod common;
mod records_support;

use base64::Engine;
use common::*;
use records_support::*;
use sealscan_control::credentials::record_binding;
use sealscan_control::jobs_material::build_job_material;
use sealscan_control::keyfile::DataKey;
use sealscan_control::store::StoreError;
use sealscan_protocols::appliance::{RecordLogin, SecretFieldName, SecretValue};
use sealscan_protocols::envelope::{self, Binding, Envelope, PrivateKey};
use sealscan_protocols::results::LoginKind;
use serde_json::{Value, json};

impl Api for Harness {
    async fn call_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.call(method, path, token, body).await;
        (r.status.as_u16(), r.body)
    }
}

fn material(
    h: &Harness,
    targets: &[(&str, &str, LoginKind)],
) -> (
    Vec<sealscan_protocols::appliance::JobTarget>,
    Vec<sealscan_protocols::appliance::JobRecord>,
    Vec<sealscan_protocols::appliance::JobVault>,
) {
    let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
    let key = DataKey::load_or_create(h.dir.path()).expect("key");
    let targets: Vec<(String, String, LoginKind)> = targets
        .iter()
        .map(|(a, b, k)| (a.to_string(), b.to_string(), *k))
        .collect();
    store
        .read(|tx| build_job_material(tx, &key, &targets))
        .map_err(|e: StoreError| e.to_string())
        .expect("material")
}

fn open_with(key: &PrivateKey, text: &str, fields: &Binding) -> Vec<u8> {
    let env = Envelope::from_text(text).expect("envelope");
    envelope::open(&env, fields, key.as_bytes())
        .expect("opens")
        .expose()
        .to_vec()
}

async fn create(h: &Harness, token: &str, path: &str, body: Value) -> Value {
    let r = h.call("post", path, Some(token), Some(body)).await;
    assert!(r.ok(), "POST {path}: {} {}", r.status, r.body);
    r.body
}

#[tokio::test]
async fn record_and_vault_rules_and_secrets_never_returned() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "rd", "reader").await;
    let reader = h.login("rd", PASSWORD).await;

    let a = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Linux A", &["10.1.0.0/24"], "Unix-Secret-1"),
    )
    .await;
    let a_id = a["id"].as_str().unwrap().to_string();
    // Same title refused; an IP another record holds refused, naming the IP and the record.
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(unix_record("Linux A", &["10.9.0.1"], "x")),
    )
    .await
    .expect_refused(409, "record.title-taken");
    let r = h
        .call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(unix_record("Linux B", &["10.1.0.200-10.1.1.5"], "x")),
        )
        .await;
    r.expect_refused(409, "record.ip-taken");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("10.1.0.200") && msg.contains("Linux A") && msg.contains(&a_id),
        "{msg}"
    );
    // Bad input changes nothing.
    for (body, rule) in [
        (
            unix_record("Bad ip", &["10.2.0.1/40"], "x"),
            "record.ip-invalid",
        ),
        (
            json!({"kind": "unix", "title": "No secret", "user": "u", "ips": ["10.3.0.1"]}),
            "record.secret-required",
        ),
        (
            json!({"kind": "solaris", "title": "K", "user": "u", "ips": ["10.3.0.1"]}),
            "record.kind-invalid",
        ),
        (
            json!({"kind": "unix", "title": "PK", "user": "u", "ips": ["10.3.0.2"], "unix_auth": "private_key",
                "secrets": [{"field": "password", "value": legacy("x")}]}),
            "record.secret-unexpected",
        ),
    ] {
        h.call("post", "/api/v1/records", Some(&pc), Some(body))
            .await
            .expect_refused(400, rule);
    }
    // The same IP for the other type is fine.
    let win = create(&h, &pc, "/api/v1/records", json!({
        "kind": "windows", "title": "Win A", "user": "Administrator", "ips": ["10.1.0.5"],
        "windows": {"domain_type": "active_directory", "domain": "corp.example", "require_signing": true, "min_smb_version": "3.0"},
        "secrets": [{"field": "password", "value": legacy("Win-Secret-2")}]
    })).await;
    assert_eq!(win["windows"]["ntlmv1"], false);
    // Active Directory records log in with Kerberos unless told otherwise, in the domain's realm.
    assert_eq!(win["windows"]["auth_protocol"], "kerberos");
    assert_eq!(win["windows"]["realm"], "CORP.EXAMPLE");
    // Windows rules: NTLMv1 stays off, service-selected NetBIOS records carry no IPs.
    for (w, ips, rule) in [
        (
            json!({"domain_type": "netbios", "domain": "CORP", "ntlmv1": true}),
            json!(["10.5.0.1"]),
            "record.ntlmv1-refused",
        ),
        (
            json!({"domain_type": "netbios", "domain": "CORP", "service_selected": true}),
            json!(["10.5.0.1"]),
            "record.service-selected-ips",
        ),
        (
            json!({"domain_type": "active_directory", "domain": "c.example", "service_selected": true}),
            json!([]),
            "record.service-selected-invalid",
        ),
        (
            json!({"domain_type": "none", "min_smb_version": "1.0"}),
            json!(["10.5.0.2"]),
            "record.smb-version-invalid",
        ),
        (
            json!({"domain_type": "netbios", "domain": "CORP", "auth_protocol": "kerberos"}),
            json!(["10.5.0.3"]),
            "record.realm-required",
        ),
        (
            json!({"domain_type": "none", "auth_protocol": "lanman"}),
            json!(["10.5.0.4"]),
            "record.auth-protocol-invalid",
        ),
    ] {
        h.call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(json!({
                "kind": "windows", "title": "W bad", "user": "u", "ips": ips, "windows": w,
                "secrets": [{"field": "password", "value": legacy("x")}]
            })),
        )
        .await
        .expect_refused(400, rule);
    }
    let nb = create(
        &h,
        &pc,
        "/api/v1/records",
        json!({
            "kind": "windows", "title": "CORP any host", "user": "scan",
            "windows": {"domain_type": "netbios", "domain": "CORP", "service_selected": true},
            "secrets": [{"field": "password", "value": legacy("Netbios-Secret-3")}]
        }),
    )
    .await;
    assert_eq!(nb["ips"], json!([]));
    assert_eq!(nb["windows"]["auth_protocol"], "ntlm");

    // Vaults: http(s) URLs only; a vault login names the vault and the secret.
    h.call(
        "post",
        "/api/v1/vaults",
        Some(&pc),
        Some(json!({
            "title": "SS", "url": "ftp://ss.example", "user": "svc", "password": legacy("x")
        })),
    )
    .await
    .expect_refused(400, "vault.url-invalid");
    let vault = create(
        &h,
        &pc,
        "/api/v1/vaults",
        json!({
            "title": "Secret Server", "url": "https://ss.example/SecretServer", "user": "svc",
            "domain": "CORP", "password": legacy("Vault-Secret-4")
        }),
    )
    .await;
    assert_eq!(vault["verify_tls"], true);
    let vid = vault["id"].as_str().unwrap().to_string();
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(json!({
            "kind": "unix", "title": "Vaulted", "user": "root", "ips": ["10.7.0.1"],
            "login_type": "vault", "vault_id": "v-missing", "secret_name": "root@web"
        })),
    )
    .await
    .expect_refused(404, "vault.not-found");
    let vaulted = create(
        &h,
        &pc,
        "/api/v1/records",
        json!({
            "kind": "unix", "title": "Vaulted", "user": "root", "ips": ["10.7.0.1"],
            "login_type": "vault", "vault_id": vid, "secret_name": "root@web", "folder": "Linux"
        }),
    )
    .await;
    h.call("delete", &format!("/api/v1/vaults/{vid}"), Some(&pc), None)
        .await
        .expect_refused(409, "vault.in-use");
    // Readers see records, never secrets; and cannot change them.
    let list = h
        .call("get", "/api/v1/records", Some(&reader), None)
        .await
        .expect_ok();
    let vaults = h
        .call("get", "/api/v1/vaults", Some(&reader), None)
        .await
        .expect_ok();
    let text = format!("{list}{vaults}{a}{win}{nb}{vault}{vaulted}");
    for secret in [
        "Unix-Secret-1",
        "Win-Secret-2",
        "Netbios-Secret-3",
        "Vault-Secret-4",
    ] {
        assert!(!text.contains(secret));
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!text.contains(&b64));
        // Encrypted at rest with the data key.
        assert!(
            db_files_holding(h.dir.path(), secret.as_bytes()).is_empty(),
            "{secret} in the database"
        );
    }
    assert_eq!(list["records"].as_array().unwrap().len(), 4);
    assert_eq!(
        a["secrets"],
        json!([{"field": "password", "model": "legacy"}])
    );
    h.call(
        "post",
        "/api/v1/records",
        Some(&reader),
        Some(unix_record("R", &["10.8.0.1"], "x")),
    )
    .await
    .expect_refused(403, "role.forbidden");
    // Sealed secrets before NCSM is active are refused.
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(json!({
            "kind": "unix", "title": "Early", "user": "u", "ips": ["10.8.0.2"],
            "secrets": [{"field": "password", "value": {"model": "sealed", "envelope": "x"}}]
        })),
    )
    .await
    .expect_refused(409, "ncsm.not-active");

    // The job material: IP matches first; Windows targets without one get the
    // service-selected NetBIOS records; vault records come with the vault.
    let (targets, records, vaults) = material(
        &h,
        &[
            ("t1", "10.1.0.7", LoginKind::Unix),
            ("t2", "10.1.0.5", LoginKind::Windows),
            ("t3", "10.200.0.1", LoginKind::Windows),
            ("t4", "10.7.0.1", LoginKind::Unix),
            ("t5", "host.example", LoginKind::Unix),
        ],
    );
    let ids: Vec<Option<String>> = targets.iter().map(|t| t.record_id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            Some(a_id.clone()),
            Some(win["id"].as_str().unwrap().into()),
            None,
            Some(vaulted["id"].as_str().unwrap().into()),
            None,
        ]
    );
    assert_eq!(records.len(), 4);
    let unix = records.iter().find(|r| r.record_id == a_id).unwrap();
    match &unix.login {
        RecordLogin::Basic { secrets } => match &secrets[0].value {
            SecretValue::Legacy { value } => assert_eq!(value.expose(), b"Unix-Secret-1"),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(
        records
            .iter()
            .any(|r| r.windows.as_ref().is_some_and(|w| w.service_selected))
    );
    assert_eq!(vaults.len(), 1);
    assert_eq!(vaults[0].vault_id, vid);

    h.call(
        "delete",
        &format!("/api/v1/records/{}", vaulted["id"].as_str().unwrap()),
        Some(&pc),
        None,
    )
    .await
    .expect_ok();
    h.call("delete", &format!("/api/v1/vaults/{vid}"), Some(&pc), None)
        .await
        .expect_ok();
    let audit = h.audit_actions(&pc).await;
    assert!(
        audit.iter().any(|a| a == "record.created") && audit.iter().any(|a| a == "vault.deleted")
    );
}

async fn list_vault_id(h: &Harness, token: &str) -> String {
    let list = h
        .call("get", "/api/v1/vaults", Some(token), None)
        .await
        .expect_ok();
    let vaults = list["vaults"]
        .as_array()
        .or(list.as_array())
        .expect("vaults");
    vaults[0]["id"].as_str().expect("vault id").to_string()
}

async fn wait_for_state(h: &Harness, token: &str, until: &[&str]) -> Value {
    // The migration finishes or stops on its own; the bound only turns a hang into a report.
    for _ in 0..3000 {
        let s = h
            .call("get", "/api/v1/ncsm", Some(token), None)
            .await
            .expect_ok();
        if until.contains(&s["state"].as_str().unwrap_or("")) && s["running"] == false {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let s = h
        .call("get", "/api/v1/ncsm", Some(token), None)
        .await
        .expect_ok();
    panic!("the migration never reached {until:?}: {s}");
}

#[tokio::test]
async fn ncsm_activation_migration_and_the_rules_in_force() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    h.user(&pc, "sc", "scanner").await;
    let m2 = h.login("m2", PASSWORD).await;
    let um = h.login("um", PASSWORD).await;

    let a = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Linux A", &["10.1.0.1"], "Legacy-Pass-A"),
    )
    .await;
    let pk = create(&h, &pc, "/api/v1/records", json!({
        "kind": "unix", "title": "Keyed", "user": "deploy", "ips": ["10.1.0.2"], "unix_auth": "private_key",
        "secrets": [{"field": "private_key", "value": legacy("Legacy-Key-B")},
                    {"field": "passphrase", "value": legacy("Legacy-Phrase-B")}]
    })).await;
    create(&h, &pc, "/api/v1/vaults", json!({
        "title": "SS", "url": "https://ss.example", "user": "svc", "password": legacy("Legacy-Vault-C")
    })).await;
    let broken = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Broken", &["10.1.0.3"], "Legacy-Pass-D"),
    )
    .await;
    let broken_id = broken["id"].as_str().unwrap().to_string();

    // Not enabled by the operator yet; then only the Primary Contact; then an appliance first.
    h.call("post", "/api/v1/ncsm/start", Some(&pc), None)
        .await
        .expect_refused(409, "ncsm.not-enabled");
    ncsm_enable(h.dir.path());
    h.call("post", "/api/v1/ncsm/start", Some(&m2), None)
        .await
        .expect_refused(403, "role.primary-contact-only");
    h.call("post", "/api/v1/ncsm/start", Some(&pc), None)
        .await
        .expect_refused(409, "ncsm.no-appliance");
    let (_, key1) = approved_appliance(&h, &pc, "scanner-1").await;
    let (_, key2) = approved_appliance(&h, &pc, "scanner-2").await;

    let before = h
        .call("get", "/api/v1/ncsm", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(before["state"], "off");
    assert_eq!(before["enabled"], true);
    assert_eq!(
        before["to_migrate"],
        json!({"records": 3, "vaults": 1, "total": 4})
    );
    let recipients = h
        .call("get", "/api/v1/ncsm/recipients", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(recipients["recipients"].as_array().unwrap().len(), 2);

    // A record whose ciphertext no longer opens stays pending with its reason.
    damage_legacy_secret(h.dir.path(), &broken_id);
    h.clock.advance(60);
    let started = h.call("post", "/api/v1/ncsm/start", Some(&pc), None).await;
    assert_eq!(started.status.as_u16(), 202, "{}", started.body);
    h.call("post", "/api/v1/ncsm/start", Some(&pc), None)
        .await
        .expect_refused(409, "ncsm.already-active");
    let s = wait_for_state(&h, &pc, &["pending", "complete"]).await;
    assert_eq!(s["state"], "pending", "{s}");
    assert_eq!(s["migrated"], 3);
    let pending = s["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], broken_id.as_str());
    assert!(
        pending[0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not open")
    );
    let list = h
        .call("get", "/api/v1/records", Some(&pc), None)
        .await
        .expect_ok();
    let marked: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pending_migration"] == true)
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(marked, vec!["Broken"]);

    // Pending: no record or vault changes (the seed), whatever the model of the secret, each
    // refusal naming the way out; only the record left pending may be fixed (here deleted).
    let migrated_id = a["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            "post",
            "/api/v1/records".to_string(),
            Some(unix_record("Plain", &["10.1.0.9"], "x")),
        ),
        (
            "patch",
            format!("/api/v1/records/{migrated_id}"),
            Some(json!({"title": "Renamed"})),
        ),
        ("delete", format!("/api/v1/records/{migrated_id}"), None),
        (
            "post",
            "/api/v1/vaults".to_string(),
            Some(json!({
            "title": "SS2", "url": "https://ss2.example", "user": "svc", "password": legacy("x")})),
        ),
    ] {
        let r = h.call(method, &path, Some(&pc), body).await;
        r.expect_refused(409, "ncsm.migration-pending");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("sealscan ncsm resume") && message.contains("pending migration"),
            "{message}"
        );
    }
    let vault_id = list_vault_id(&h, &pc).await;
    h.call(
        "delete",
        &format!("/api/v1/vaults/{vault_id}"),
        Some(&pc),
        None,
    )
    .await
    .expect_refused(409, "ncsm.migration-pending");
    h.call(
        "delete",
        &format!("/api/v1/records/{broken_id}"),
        Some(&pc),
        None,
    )
    .await
    .expect_ok();
    h.clock.advance(60);
    let resumed = h.call("post", "/api/v1/ncsm/resume", Some(&pc), None).await;
    assert_eq!(resumed.status.as_u16(), 202, "{}", resumed.body);
    let s = wait_for_state(&h, &pc, &["complete"]).await;
    assert_eq!(s["in_force"], true);
    h.call("post", "/api/v1/ncsm/resume", Some(&pc), None)
        .await
        .expect_refused(409, "ncsm.complete");

    // No legacy ciphertext and no plaintext left; each secret opens with either appliance key.
    let left: i64 = raw_count(h.dir.path(), "SELECT COUNT(*) FROM legacy_secrets");
    assert_eq!(left, 0);
    for s in [
        "Legacy-Pass-A",
        "Legacy-Key-B",
        "Legacy-Phrase-B",
        "Legacy-Vault-C",
        "Legacy-Pass-D",
    ] {
        assert!(
            db_files_holding(h.dir.path(), s.as_bytes()).is_empty(),
            "{s} in the database"
        );
    }
    let (_, records, vaults) = material(
        &h,
        &[
            ("t1", "10.1.0.1", LoginKind::Unix),
            ("t2", "10.1.0.2", LoginKind::Unix),
        ],
    );
    let mut opened = Vec::new();
    for r in &records {
        let RecordLogin::Basic { secrets } = &r.login else {
            panic!()
        };
        for s in secrets {
            let SecretValue::Sealed { envelope } = &s.value else {
                panic!("still legacy")
            };
            let fields = Binding::for_record("unix", &r.record_id, s.field, &r.user, None, false);
            opened.push(String::from_utf8(open_with(&key1, envelope, &fields)).unwrap());
            assert_eq!(
                open_with(&key2, envelope, &fields),
                open_with(&key1, envelope, &fields)
            );
        }
    }
    opened.sort();
    assert_eq!(
        opened,
        vec!["Legacy-Key-B", "Legacy-Pass-A", "Legacy-Phrase-B"]
    );
    assert!(vaults.is_empty());
    let audit = h.audit_actions(&pc).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "ncsm.record-migrated")
            .count(),
        3
    );

    // Sessions from before completion cannot change records until their next sign-in.
    let pk_id = pk["id"].as_str().unwrap();
    h.call(
        "delete",
        &format!("/api/v1/records/{pk_id}"),
        Some(&pc),
        None,
    )
    .await
    .expect_refused(403, "ncsm.sign-in-again");
    h.clock.advance(60);
    let pc = h.pc().await;
    // In force: plaintext refused.
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(unix_record("Plain", &["10.1.0.9"], "x")),
    )
    .await
    .expect_refused(422, "ncsm.plaintext-refused");

    // A sealed record: bound to its id, sealed to both appliances.
    let binding = |id: &str| Binding {
        record_kind: "unix".into(),
        record_id: id.into(),
        field: "password".into(),
        user: "ops".into(),
        ..Default::default()
    };
    let both = [key1.public_key(), key2.public_key()];
    let sealed = |b: &Binding, keys: &[[u8; 32]]| {
        envelope::seal(b"Sealed-Pass-E", b, keys).unwrap().to_text()
    };
    let body = |env: String| {
        json!({
            "id": "r-sealed", "kind": "unix", "title": "Sealed", "user": "ops", "ips": ["10.1.0.10"],
            "secrets": [{"field": "password", "value": {"model": "sealed", "envelope": env}}]
        })
    };
    for (env, rule) in [
        (sealed(&binding("r-other"), &both), "ncsm.binding-mismatch"),
        (
            sealed(&binding("r-sealed"), &both[..1]),
            "ncsm.recipient-missing",
        ),
        ("ncsm1:garbage".to_string(), "ncsm.envelope-invalid"),
    ] {
        h.call("post", "/api/v1/records", Some(&pc), Some(body(env)))
            .await
            .expect_refused(400, rule);
    }
    let rec = create(
        &h,
        &pc,
        "/api/v1/records",
        body(sealed(&binding("r-sealed"), &both)),
    )
    .await;
    assert_eq!(rec["secrets"][0]["model"], "sealed");
    let (_, records, _) = material(&h, &[("t", "10.1.0.10", LoginKind::Unix)]);
    let RecordLogin::Basic { secrets } = &records[0].login else {
        panic!()
    };
    let SecretValue::Sealed { envelope } = &secrets[0].value else {
        panic!()
    };
    let row_binding = Binding::for_record(
        "unix",
        "r-sealed",
        SecretFieldName::Password,
        "ops",
        None,
        false,
    );
    assert_eq!(open_with(&key2, envelope, &row_binding), b"Sealed-Pass-E");
    let _ = record_binding;

    // Password resets under NCSM: Managers only; self-service refused naming who can help.
    let sc = h
        .call("get", "/api/v1/users/sc", Some(&pc), None)
        .await
        .expect_ok();
    let sc_id = sc["user"]["id"].as_i64().or(sc["id"].as_i64()).unwrap();
    h.call(
        "post",
        &format!("/api/v1/users/{sc_id}/reset-password"),
        Some(&um),
        Some(json!({"password": "Zq8!pLm3#Tv"})),
    )
    .await
    .expect_refused(403, "ncsm.reset-managers-only");
    h.call(
        "post",
        &format!("/api/v1/users/{sc_id}/reset-password"),
        Some(&m2),
        Some(json!({"password": "Zq8!pLm3#Tv"})),
    )
    .await
    .expect_ok();
    let r = h
        .call(
            "post",
            "/api/v1/password/forgot",
            None,
            Some(json!({"username": "sc"})),
        )
        .await;
    r.expect_refused(403, "ncsm.self-service-reset-off");
    // Who can help, by role; not the Primary Contact's name or email to an anonymous caller.
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Manager Primary Contact"), "{message}");
    for private in ["Alice", "Smith", "alice@example.com"] {
        assert!(!r.body.to_string().contains(private), "{}", r.body);
    }
}

#[tokio::test]
async fn windows_user_with_a_domain_part_is_refused_naming_the_fix() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    for (windows, local) in [
        (json!({"domain_type": "none"}), true),
        (json!({"domain_type": "netbios", "domain": "CORP"}), false),
    ] {
        let r = h
            .call(
                "post",
                "/api/v1/records",
                Some(&pc),
                Some(json!({
                    "kind": "windows", "title": "W dom user", "user": "TARGET1\\scan",
                    "ips": ["10.9.0.1"], "windows": windows,
                    "secrets": [{"field": "password", "value": legacy("Dom-User-Secret-9")}]
                })),
            )
            .await;
        r.expect_refused(400, "record.user-has-domain");
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("bare account name"), "{message}");
        assert_eq!(message.contains("domain_type none"), local, "{message}");
        assert!(
            !message.contains("TARGET1"),
            "the value is not echoed: {message}"
        );
    }
    // Nothing was stored; the bare name with the domain in its field is accepted.
    let (status, list) = h.call_json("get", "/api/v1/records", Some(&pc), None).await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains("W dom user"), "{list}");
    create(
        &h,
        &pc,
        "/api/v1/records",
        json!({
            "kind": "windows", "title": "W dom user", "user": "scan", "ips": ["10.9.0.1"],
            "windows": {"domain_type": "netbios", "domain": "TARGET1"},
            "secrets": [{"field": "password", "value": legacy("Dom-User-Secret-9")}]
        }),
    )
    .await;
}

#[tokio::test]
async fn host_name_targets_carry_the_records_of_their_kind_with_address_ranges() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let unix = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record(
            "Linux by name",
            &["10.7.0.0/30", "10.8.0.9"],
            "Name-Secret-1",
        ),
    )
    .await;
    let unix_id = unix["id"].as_str().expect("id").to_string();
    create(
        &h,
        &pc,
        "/api/v1/records",
        json!({
            "kind": "windows", "title": "Win by name", "user": "scan", "ips": ["10.7.0.1"],
            "windows": {"domain_type": "none"},
            "secrets": [{"field": "password", "value": legacy("Name-Secret-2")}]
        }),
    )
    .await;

    let (targets, records, _) = material(&h, &[("t1", "host-a.example", LoginKind::Unix)]);
    assert_eq!(targets[0].host, "host-a.example");
    assert_eq!(
        targets[0].record_id, None,
        "names are resolved by the appliance"
    );
    let ids: Vec<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, [unix_id.as_str()], "the Unix records only");
    let ranges: Vec<(String, String)> = records[0]
        .address_ranges
        .iter()
        .map(|a| (a.first.to_string(), a.last.to_string()))
        .collect();
    assert_eq!(
        ranges,
        [
            ("10.7.0.0".to_string(), "10.7.0.3".to_string()),
            ("10.8.0.9".to_string(), "10.8.0.9".to_string())
        ]
    );

    // An IP target is still matched here, and carries only its record.
    let (targets, records, _) = material(&h, &[("t2", "10.8.0.9", LoginKind::Unix)]);
    assert_eq!(targets[0].record_id.as_deref(), Some(unix_id.as_str()));
    assert_eq!(records.len(), 1);
}

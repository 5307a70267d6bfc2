//! Updating records and vault records over the real HTTPS API (the same rules as create, in
//! both secret models), and the reason a scan gives when its job waits for rewrap work.
mod common;
mod records_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use records_support::*;
use sealscan_control::jobs_material::build_job_material;
use sealscan_control::keyfile::DataKey;
use sealscan_control::store::StoreError;
use sealscan_protocols::appliance::{RecordLogin, RewrapWork, SecretFieldName, SecretValue};
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

/// The secret each field of a record holds, as a job would carry it (legacy values opened).
fn job_secrets(h: &Harness, host: &str) -> Vec<(SecretFieldName, SecretValue)> {
    let store = sealscan_control::server::open_store(h.dir.path()).expect("store");
    let key = DataKey::load_or_create(h.dir.path()).expect("key");
    let targets = vec![("t".to_string(), host.to_string(), LoginKind::Unix)];
    let (_, records, _) = store
        .read(|tx| build_job_material(tx, &key, &targets))
        .map_err(|e: StoreError| e.to_string())
        .expect("material");
    let RecordLogin::Basic { secrets } = &records[0].login else {
        panic!("basic login expected")
    };
    secrets.iter().map(|s| (s.field, s.value.clone())).collect()
}

fn legacy_text(v: &SecretValue) -> String {
    match v {
        SecretValue::Legacy { value } => String::from_utf8(value.expose().to_vec()).expect("utf8"),
        SecretValue::Sealed { .. } => panic!("legacy expected"),
    }
}

async fn patch(h: &Harness, token: &str, path: &str, body: Value) -> Reply {
    h.call("patch", path, Some(token), Some(body)).await
}

async fn create(h: &Harness, token: &str, path: &str, body: Value) -> Value {
    h.call("post", path, Some(token), Some(body))
        .await
        .expect_ok()
}

#[tokio::test]
async fn updates_follow_the_create_rules_in_the_legacy_model() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "rd", "reader").await;
    let reader = h.login("rd", PASSWORD).await;
    let a = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Linux A", &["10.1.0.0/24"], "Upd-Secret-A1"),
    )
    .await;
    let b = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Linux B", &["10.2.0.1"], "Upd-Secret-B1"),
    )
    .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let a_path = format!("/api/v1/records/{a_id}");
    let b_path = format!("/api/v1/records/{b_id}");

    // Refusals name the rule and change nothing.
    patch(&h, &pc, &b_path, json!({"title": "Linux A"}))
        .await
        .expect_refused(409, "record.title-taken");
    let r = patch(&h, &pc, &b_path, json!({"ips": ["10.2.0.1", "10.1.0.77"]})).await;
    r.expect_refused(409, "record.ip-taken");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("10.1.0.77") && msg.contains("Linux A") && msg.contains(a_id),
        "{msg}"
    );
    assert_eq!(r.body["error"]["details"]["record_id"], a_id);
    for (body, status, rule) in [
        (json!({"ips": ["10.9.0.1/40"]}), 400, "record.ip-invalid"),
        (json!({"ips": []}), 400, "record.ips-required"),
        (json!({"title": " "}), 400, "record.field-invalid"),
        (json!({"kind": "windows"}), 400, "request.malformed"),
        (
            json!({"unix_auth": "private_key"}),
            400,
            "record.secret-required",
        ),
        (
            json!({"windows": {"require_signing": true}}),
            400,
            "record.windows-options-invalid",
        ),
        (
            json!({"secrets": [{"field": "private_key", "value": legacy("k")}]}),
            400,
            "record.secret-unexpected",
        ),
        (
            json!({"login_type": "vault", "vault_id": "v-none", "secret_name": "s"}),
            404,
            "vault.not-found",
        ),
    ] {
        patch(&h, &pc, &b_path, body)
            .await
            .expect_refused(status, rule);
    }
    patch(&h, &reader, &b_path, json!({"comments": "x"}))
        .await
        .expect_refused(403, "role.forbidden");
    patch(&h, &pc, "/api/v1/records/r-none", json!({"comments": "x"}))
        .await
        .expect_refused(404, "record.not-found");
    let same = h.call("get", &b_path, Some(&pc), None).await.expect_ok();
    assert_eq!(same["title"], "Linux B");
    assert_eq!(same["ips"], json!(["10.2.0.1"]));

    // A record may keep, shrink or move within its own addresses; fields not given stay.
    let moved = patch(
        &h,
        &pc,
        &a_path,
        json!({"ips": ["10.1.0.0/25"], "user": "ops", "comments": "rack 4"}),
    )
    .await
    .expect_ok();
    assert_eq!(moved["title"], "Linux A");
    assert_eq!(moved["username"], "ops");
    assert_eq!(moved["comments"], "rack 4");
    // The freed addresses are free for another record now.
    patch(&h, &pc, &b_path, json!({"ips": ["10.2.0.1", "10.1.0.200"]}))
        .await
        .expect_ok();
    // Secrets change only when given, and are never returned.
    assert_eq!(
        legacy_text(&job_secrets(&h, "10.1.0.1")[0].1),
        "Upd-Secret-A1"
    );
    let changed = patch(
        &h,
        &pc,
        &a_path,
        json!({"secrets": [{"field": "password", "value": legacy("Upd-Secret-A2")}]}),
    )
    .await
    .expect_ok();
    assert!(!changed.to_string().contains("Upd-Secret"), "{changed}");
    let now = job_secrets(&h, "10.1.0.1");
    assert_eq!(now.len(), 1);
    assert_eq!(legacy_text(&now[0].1), "Upd-Secret-A2");
    // Switching to a private key drops the password and needs the key.
    patch(
        &h,
        &pc,
        &a_path,
        json!({
            "unix_auth": "private_key",
            "secrets": [{"field": "private_key", "value": legacy("Upd-Key-A3")}]
        }),
    )
    .await
    .expect_ok();
    let now = job_secrets(&h, "10.1.0.1");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].0, SecretFieldName::PrivateKey);

    // Windows: the same domain and NTLM rules; options merge with what the record has.
    let w = create(
        &h,
        &pc,
        "/api/v1/records",
        json!({
            "kind": "windows", "title": "Win", "user": "Administrator", "ips": ["10.1.0.1"],
            "windows": {"domain_type": "active_directory", "domain": "corp.example"},
            "secrets": [{"field": "password", "value": legacy("Upd-Win-1")}]
        }),
    )
    .await;
    let w_path = format!("/api/v1/records/{}", w["id"].as_str().unwrap());
    for (body, rule) in [
        (
            json!({"windows": {"ntlmv1": true}}),
            "record.ntlmv1-refused",
        ),
        (
            json!({"windows": {"domain_type": "none", "domain": "x"}}),
            "record.domain-invalid",
        ),
        (
            json!({"windows": {"min_smb_version": "1.0"}}),
            "record.smb-version-invalid",
        ),
        (
            json!({"windows": {"domain_type": "netbios", "domain": "CORP", "service_selected": true}}),
            "record.service-selected-ips",
        ),
    ] {
        patch(&h, &pc, &w_path, body)
            .await
            .expect_refused(400, rule);
    }
    let w2 = patch(
        &h,
        &pc,
        &w_path,
        json!({"windows": {"require_signing": true}}),
    )
    .await
    .expect_ok();
    assert_eq!(w2["windows"]["domain"], "corp.example");
    assert_eq!(w2["windows"]["require_signing"], true);

    // Vaults: unique title, URL rules, password only when given.
    let v1 = create(&h, &pc, "/api/v1/vaults", json!({
        "title": "SS1", "url": "https://ss1.example", "user": "svc", "password": legacy("Upd-Vault-1")
    }))
    .await;
    create(&h, &pc, "/api/v1/vaults", json!({
        "title": "SS2", "url": "https://ss2.example", "user": "svc", "password": legacy("Upd-Vault-2")
    }))
    .await;
    let v_path = format!("/api/v1/vaults/{}", v1["id"].as_str().unwrap());
    for (body, rule) in [
        (json!({"title": "SS2"}), "vault.title-taken"),
        (json!({"url": "ftp://ss1.example"}), "vault.url-invalid"),
        (json!({"api": "graphql"}), "vault.api-invalid"),
        (
            json!({"verify_tls": false, "ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
            "vault.ca-unused",
        ),
    ] {
        let r = patch(&h, &pc, &v_path, body).await;
        let status = if rule == "vault.title-taken" {
            409
        } else {
            400
        };
        r.expect_refused(status, rule);
    }
    let v2 = patch(
        &h,
        &pc,
        &v_path,
        json!({"url": "https://ss1b.example", "organization": "lab", "password": legacy("Upd-Vault-3")}),
    )
    .await
    .expect_ok();
    assert_eq!(v2["url"], "https://ss1b.example");
    assert_eq!(v2["organization"], "lab");
    assert!(!v2.to_string().contains("Upd-Vault"), "{v2}");
    let audit = h.audit_actions(&pc).await;
    assert!(audit.iter().any(|a| a == "record.updated"));
    assert!(audit.iter().any(|a| a == "vault.updated"));
    // Nothing returned any secret, and no plaintext is stored.
    for s in [
        "Upd-Secret-A1",
        "Upd-Secret-A2",
        "Upd-Key-A3",
        "Upd-Vault-3",
    ] {
        assert!(
            db_files_holding(h.dir.path(), s.as_bytes()).is_empty(),
            "{s} in the database"
        );
    }
}

struct Appliance {
    id: String,
    key: PrivateKey,
    credential: String,
}

/// Enrolls, approves and collects the credential, as the agent does.
async fn appliance(h: &Harness, pc: &str, name: &str) -> Appliance {
    let key = PrivateKey::generate().expect("key");
    let tok = h
        .call(
            "post",
            "/api/v1/appliances/tokens",
            Some(pc),
            Some(json!({"label": name})),
        )
        .await
        .expect_ok();
    let enrolled = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": tok["token"], "name": name, "public_key": STANDARD.encode(key.public_key())})),
        )
        .await
        .expect_ok();
    let id = enrolled["appliance_id"].as_str().unwrap().to_string();
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/approve"),
        Some(pc),
        None,
    )
    .await
    .expect_ok();
    let state = h
        .call(
            "post",
            "/api/v1/appliance/enroll/poll",
            None,
            Some(json!({"appliance_id": id, "poll_secret": enrolled["poll_secret"]})),
        )
        .await
        .expect_ok();
    Appliance {
        id,
        key,
        credential: state["credential"].as_str().unwrap().to_string(),
    }
}

/// NCSM on and complete (no legacy record to migrate), and a session from after completion.
async fn ncsm_in_force(h: &Harness, pc: &str) -> String {
    ncsm_enable(h.dir.path());
    // Sessions older than the completion must sign in again: make them strictly older.
    h.clock.advance(60);
    let r = h.call("post", "/api/v1/ncsm/start", Some(pc), None).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    for _ in 0..500 {
        let s = h
            .call("get", "/api/v1/ncsm", Some(pc), None)
            .await
            .expect_ok();
        if s["state"] == "complete" && s["running"] == false {
            h.clock.advance(60);
            return h.pc().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("NCSM never completed");
}

fn unix_binding(id: &str, user: &str) -> Binding {
    Binding {
        record_kind: "unix".into(),
        record_id: id.into(),
        field: "password".into(),
        user: user.into(),
        ..Default::default()
    }
}

fn sealed_value(plain: &[u8], b: &Binding, keys: &[[u8; 32]]) -> Value {
    json!({"model": "sealed", "envelope": envelope::seal(plain, b, keys).unwrap().to_text()})
}

#[tokio::test]
async fn updates_under_ncsm_and_the_rewrap_wait_reason() {
    let h = Harness::start().await;
    let old_pc = h.pc().await;
    let a1 = appliance(&h, &old_pc, "scanner-1").await;
    let pc = ncsm_in_force(&h, &old_pc).await;
    let keys1 = [a1.key.public_key()];
    let rec = create(&h, &pc, "/api/v1/records", json!({
        "id": "r-upd", "kind": "unix", "title": "Sealed", "user": "ops", "ips": ["10.7.0.1"],
        "secrets": [{"field": "password", "value": sealed_value(b"Ncsm-Pass-1", &unix_binding("r-upd", "ops"), &keys1)}]
    }))
    .await;
    assert_eq!(rec["secrets"][0]["model"], "sealed");
    let path = "/api/v1/records/r-upd";

    // A session from before NCSM completed is told to sign in again.
    patch(&h, &old_pc, path, json!({"comments": "x"}))
        .await
        .expect_refused(403, "ncsm.sign-in-again");
    // Plaintext refused; envelopes are checked as on create.
    patch(
        &h,
        &pc,
        path,
        json!({"secrets": [{"field": "password", "value": legacy("Ncsm-Plain")}]}),
    )
    .await
    .expect_refused(422, "ncsm.plaintext-refused");
    patch(
        &h,
        &pc,
        path,
        json!({"secrets": [{"field": "password",
        "value": sealed_value(b"x", &unix_binding("r-other", "ops"), &keys1)}]}),
    )
    .await
    .expect_refused(400, "ncsm.binding-mismatch");
    // A new user name would leave the stored envelope bound to the old one.
    let r = patch(&h, &pc, path, json!({"user": "deploy"})).await;
    r.expect_refused(409, "record.secrets-rebind-required");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user")
    );
    // Other fields change without touching the envelope.
    patch(&h, &pc, path, json!({"comments": "rack 5"}))
        .await
        .expect_ok();
    // With the secret sealed for the new user it goes through, and opens for that binding.
    patch(
        &h,
        &pc,
        path,
        json!({"user": "deploy", "secrets": [{"field": "password",
        "value": sealed_value(b"Ncsm-Pass-2", &unix_binding("r-upd", "deploy"), &keys1)}]}),
    )
    .await
    .expect_ok();
    let secrets = job_secrets(&h, "10.7.0.1");
    let SecretValue::Sealed { envelope: text } = &secrets[0].1 else {
        panic!("sealed expected")
    };
    let fields = Binding::for_record(
        "unix",
        "r-upd",
        SecretFieldName::Password,
        "deploy",
        None,
        false,
    );
    let env = Envelope::from_text(text).unwrap();
    let plain = envelope::open(&env, &fields, a1.key.as_bytes()).unwrap();
    assert_eq!(plain.expose(), b"Ncsm-Pass-2");

    // Vaults: the password is bound to the URL and user too.
    let vb = |id: &str, url: &str| Binding {
        record_kind: "vault".into(),
        record_id: id.into(),
        field: "vault_password".into(),
        user: "svc".into(),
        vault_url: url.into(),
        ..Default::default()
    };
    create(&h, &pc, "/api/v1/vaults", json!({"id": "v-upd", "title": "SS", "url": "https://ss.example",
        "user": "svc", "password": sealed_value(b"Ncsm-Vault-1", &vb("v-upd", "https://ss.example"), &keys1)}))
    .await;
    patch(
        &h,
        &pc,
        "/api/v1/vaults/v-upd",
        json!({"url": "https://ss2.example"}),
    )
    .await
    .expect_refused(409, "vault.secrets-rebind-required");
    patch(
        &h,
        &pc,
        "/api/v1/vaults/v-upd",
        json!({"url": "https://ss2.example",
        "password": sealed_value(b"Ncsm-Vault-2", &vb("v-upd", "https://ss2.example"), &keys1)}),
    )
    .await
    .expect_ok();

    // A second appliance approved now: the record is not sealed to it until a1 rewraps.
    let a2 = appliance(&h, &pc, "scanner-2").await;
    let scan = h
        .call(
            "post",
            "/api/v1/scans",
            Some(&pc),
            Some(json!({"targets": ["10.7.0.1"], "kinds": "unix", "appliance": a2.id})),
        )
        .await
        .expect_ok();
    let scan_path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    let shown = h.call("get", &scan_path, Some(&pc), None).await.expect_ok();
    let waiting = &shown["jobs"][0]["waiting"];
    assert_eq!(waiting["cause"], "rewrap", "{shown}");
    let reason = waiting["reason"].as_str().unwrap();
    for needle in [
        "waiting for rewrap",
        "\"Sealed\"",
        "r-upd",
        "scanner-2",
        &a2.id,
    ] {
        assert!(reason.contains(needle), "{needle} missing from {reason}");
    }
    assert_eq!(shown["waiting"].as_str(), Some(reason));
    assert_eq!(waiting["targets"][0]["host"], "10.7.0.1");
    assert_eq!(waiting["targets"][0]["record_id"], "r-upd");
    let claim = h
        .call(
            "post",
            "/api/v1/appliance/jobs/claim",
            Some(&a2.credential),
            Some(json!({"wait_secs": 0})),
        )
        .await;
    assert_eq!(claim.status.as_u16(), 204, "{}", claim.body);
    // An approved appliance that can open it does the rewrap work; the wait ends.
    let work: RewrapWork = serde_json::from_value(
        h.call(
            "get",
            "/api/v1/appliance/rewrap",
            Some(&a1.credential),
            None,
        )
        .await
        .expect_ok(),
    )
    .unwrap();
    let new_pk: [u8; 32] = STANDARD
        .decode(&work.new_public_key)
        .unwrap()
        .try_into()
        .unwrap();
    let items: Vec<Value> = work
        .items
        .iter()
        .map(|item| {
            let old = Envelope::from_text(&item.envelope).unwrap();
            let b = item.binding.clone();
            let env = envelope::add_recipient(&old, &b, a1.key.as_bytes(), &new_pk).unwrap();
            json!({"item_id": item.item_id, "envelope": env.to_text()})
        })
        .collect();
    h.call(
        "post",
        "/api/v1/appliance/rewrap",
        Some(&a1.credential),
        Some(json!({"new_appliance_id": a2.id, "items": items})),
    )
    .await
    .expect_ok();
    let shown = h.call("get", &scan_path, Some(&pc), None).await.expect_ok();
    assert!(shown["jobs"][0]["waiting"].is_null(), "{shown}");
    assert!(shown["waiting"].is_null(), "{shown}");

    // A scan pinned to a revoked appliance says so.
    h.call(
        "post",
        &format!("/api/v1/appliances/{}/revoke", a2.id),
        Some(&pc),
        Some(json!({"reason": "retired"})),
    )
    .await
    .expect_ok();
    let shown = h.call("get", &scan_path, Some(&pc), None).await.expect_ok();
    let waiting = &shown["jobs"][0]["waiting"];
    assert_eq!(waiting["cause"], "appliance", "{shown}");
    assert!(
        waiting["reason"].as_str().unwrap().contains("revoked"),
        "{shown}"
    );
    for s in ["Ncsm-Pass-1", "Ncsm-Pass-2", "Ncsm-Plain", "Ncsm-Vault-2"] {
        assert!(
            db_files_holding(h.dir.path(), s.as_bytes()).is_empty(),
            "{s} in the database"
        );
    }
}

#[tokio::test]
async fn a_record_left_pending_by_the_migration_is_fixed_by_an_update() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let rec = create(
        &h,
        &pc,
        "/api/v1/records",
        unix_record("Broken", &["10.8.0.1"], "Pending-Pass-1"),
    )
    .await;
    let id = rec["id"].as_str().unwrap().to_string();
    let a1 = appliance(&h, &pc, "scanner-1").await;
    // Its ciphertext no longer opens: the migration leaves it pending, with the way out.
    damage_legacy_secret(h.dir.path(), &id);
    ncsm_enable(h.dir.path());
    h.clock.advance(60);
    let r = h.call("post", "/api/v1/ncsm/start", Some(&pc), None).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    let mut status = Value::Null;
    for _ in 0..500 {
        status = h
            .call("get", "/api/v1/ncsm", Some(&pc), None)
            .await
            .expect_ok();
        if status["running"] == false && status["state"] == "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status["state"], "pending", "{status}");
    let reason = status["pending"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("records update"), "{reason}");
    // The secret given again, sealed: the record is migrated and Resume completes NCSM.
    let path = format!("/api/v1/records/{id}");
    let fixed = patch(&h, &pc, &path, json!({"secrets": [{"field": "password",
        "value": sealed_value(b"Pending-Pass-2", &unix_binding(&id, "scanuser"), &[a1.key.public_key()])}]}))
    .await
    .expect_ok();
    assert_eq!(fixed["pending_migration"], false, "{fixed}");
    assert_eq!(
        fixed["secrets"],
        json!([{"field": "password", "model": "sealed",
        "recipients": [fixed["secrets"][0]["recipients"][0].clone()]}])
    );
    let r = h.call("post", "/api/v1/ncsm/resume", Some(&pc), None).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    for _ in 0..500 {
        status = h
            .call("get", "/api/v1/ncsm", Some(&pc), None)
            .await
            .expect_ok();
        if status["running"] == false && status["state"] == "complete" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status["state"], "complete", "{status}");
    assert!(db_files_holding(h.dir.path(), b"Pending-Pass-2").is_empty());
}

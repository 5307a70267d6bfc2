//! Signed data over the real HTTPS API and SQLite: the control plane stores a record's signed
//! statement only when it describes the record it comes with, keeps the subscription's
//! signing material (refusing an older trust list), and puts both into each job where the
//! agent reads them. It never makes or verifies the chain: the appliance does.
mod common;
mod records_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use records_support::*;
use sealscan_protocols::appliance::{
    AddressRange, Delegation, DelegationPassword, HostKeyPolicy, LoginType, RecordKind,
};
use sealscan_protocols::envelope::PrivateKey;
use sealscan_protocols::signing::{
    JobSignatures, RecordStatement, RootDeclaration, SignedUnix, SignerRole, SigningKey, Statement,
    TrustList, UserCertificate,
};
use serde_json::{Value, json};

const NOW: u64 = 1_780_272_000;
const RECORD: &str = "r-5e0c2f7a9b13d846";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn trust_list(root: &SigningKey, number: u64, editor: &SigningKey) -> String {
    let fp = root.fingerprint();
    let cert = UserCertificate {
        user_id: "u-alice".into(),
        role: SignerRole::Manager,
        public_key: editor.public_key(),
        not_before: NOW - 1000,
        not_after: NOW + 365 * 86_400,
    }
    .sign(root, &fp);
    TrustList {
        number,
        issued_at: NOW,
        certificates: vec![cert],
        revoked: vec![],
    }
    .sign(root, &fp)
    .to_text()
}

fn declaration(root: &SigningKey) -> String {
    RootDeclaration {
        subscription_id: "sub-1".into(),
        recovery_key: key(2).public_key(),
        issued_at: NOW,
    }
    .sign(root, &root.fingerprint())
    .to_text()
}

fn statement(root: &SigningKey, signer: &SigningKey, id: &str, version: u64, last: &str) -> String {
    RecordStatement {
        record_id: id.into(),
        version,
        kind: RecordKind::Unix,
        login_type: LoginType::Basic,
        user: "scanuser".into(),
        domain: None,
        scope: vec![AddressRange {
            first: "127.0.0.1".parse().unwrap(),
            last: last.parse().unwrap(),
        }],
        ports: vec![],
        unix: Some(SignedUnix {
            host_key_policy: HostKeyPolicy::Pin,
            known_host_keys: vec![],
            delegation: Delegation::None,
            delegation_password: DelegationPassword::Login,
            certificate: None,
            auth: None,
        }),
        windows: None,
        vault: None,
        envelopes: vec![],
        signer_certificate: [7; 32],
        signed_at: NOW,
    }
    .sign(signer, &root.fingerprint())
    .to_text()
}

fn record(statement: Option<String>) -> Value {
    let mut body = unix_record("signed", &["127.0.0.2"], "Signed-Secret-1");
    body["id"] = json!(RECORD);
    if let Some(s) = statement {
        body["statement"] = json!(s);
    }
    body
}

async fn approved_appliance(h: &Harness, admin: &str) -> String {
    let key = PrivateKey::generate().expect("key");
    let token = h
        .call(
            "post",
            "/api/v1/appliances/tokens",
            Some(admin),
            Some(json!({"label": "rack"})),
        )
        .await
        .expect_ok()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": token, "name": "a1", "public_key": STANDARD.encode(key.public_key())})),
        )
        .await
        .expect_ok();
    let id = r["appliance_id"].as_str().unwrap().to_string();
    let secret = r["poll_secret"].as_str().unwrap().to_string();
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/approve"),
        Some(admin),
        None,
    )
    .await
    .expect_ok();
    let state = h
        .call(
            "post",
            "/api/v1/appliance/enroll/poll",
            None,
            Some(json!({"appliance_id": id, "poll_secret": secret})),
        )
        .await
        .expect_ok();
    state["credential"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn signed_statements_are_checked_stored_and_served_in_jobs() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let (root, alice, stranger) = (key(1), key(3), key(4));

    // Signing material: structure checked, newest trust list kept, an older one refused.
    h.call(
        "put",
        "/api/v1/signing",
        Some(&pc),
        Some(json!({"trust_list": "sgn1:AAAA"})),
    )
    .await
    .expect_refused(400, "signing.invalid");
    let stored = h
        .call(
            "put",
            "/api/v1/signing",
            Some(&pc),
            Some(json!({"root_declaration": declaration(&root), "trust_list": trust_list(&root, 5, &alice)})),
        )
        .await
        .expect_ok();
    assert_eq!(stored["trust_list"], json!(trust_list(&root, 5, &alice)));
    h.call(
        "put",
        "/api/v1/signing",
        Some(&pc),
        Some(json!({"trust_list": trust_list(&root, 4, &alice)})),
    )
    .await
    .expect_refused(409, "signing.trust-list-old");
    // A trust list under another root is not this subscription's.
    h.call(
        "put",
        "/api/v1/signing",
        Some(&pc),
        Some(json!({"trust_list": trust_list(&stranger, 9, &alice)})),
    )
    .await
    .expect_refused(400, "signing.invalid");
    h.call(
        "put",
        "/api/v1/signing",
        Some(&pc),
        Some(json!({"trust_list": trust_list(&root, 6, &alice)})),
    )
    .await
    .expect_ok();
    let shown = h
        .call("get", "/api/v1/signing", Some(&pc), None)
        .await
        .expect_ok();
    assert_eq!(shown["trust_list"], json!(trust_list(&root, 6, &alice)));

    // A statement that does not describe the record refuses the change (nothing is stored).
    for (s, status, rule) in [
        ("sgn1:AAAA".to_string(), 400, "record.statement-invalid"),
        (
            statement(&root, &alice, "r-other", 1, "127.0.0.9"),
            400,
            "record.statement-mismatch",
        ),
        (
            statement(&root, &alice, RECORD, 1, "127.0.0.1"),
            400,
            "record.statement-mismatch",
        ),
        (
            statement(&stranger, &alice, RECORD, 1, "127.0.0.9"),
            400,
            "record.statement-mismatch",
        ),
    ] {
        h.call("post", "/api/v1/records", Some(&pc), Some(record(Some(s))))
            .await
            .expect_refused(status, rule);
    }
    let mut tampered = statement(&root, &alice, RECORD, 1, "127.0.0.9");
    tampered.replace_range(20..21, if &tampered[20..21] == "A" { "B" } else { "A" });
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(record(Some(tampered))),
    )
    .await
    .expect_refused(400, "record.statement-invalid");
    h.call("get", &format!("/api/v1/records/{RECORD}"), Some(&pc), None)
        .await
        .expect_refused(404, "record.not-found");

    let v1 = statement(&root, &alice, RECORD, 1, "127.0.0.9");
    let created = h
        .call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(record(Some(v1.clone()))),
        )
        .await
        .expect_ok();
    assert_eq!(created["statement"], json!(v1));
    // A version not above the stored one is refused; an unsigned change keeps the statement.
    let path = format!("/api/v1/records/{RECORD}");
    h.call(
        "patch",
        &path,
        Some(&pc),
        Some(json!({"comments": "x", "statement": v1})),
    )
    .await
    .expect_refused(409, "record.statement-old");
    let unsigned = h
        .call("patch", &path, Some(&pc), Some(json!({"comments": "y"})))
        .await
        .expect_ok();
    assert_eq!(unsigned["statement"], json!(v1));
    let v2 = statement(&root, &alice, RECORD, 2, "127.0.0.9");
    h.call("patch", &path, Some(&pc), Some(json!({"statement": v2})))
        .await
        .expect_ok();

    // The job carries the material and the statement where the agent reads them.
    let credential = approved_appliance(&h, &pc).await;
    h.call(
        "post",
        "/api/v1/scans",
        Some(&pc),
        Some(json!({"targets": ["127.0.0.2"], "kinds": "unix"})),
    )
    .await
    .expect_ok();
    let body = h
        .call(
            "post",
            "/api/v1/appliance/jobs/claim",
            Some(&credential),
            Some(json!({"wait_secs": 0})),
        )
        .await
        .expect_ok();
    let sigs: JobSignatures = serde_json::from_value(body.clone()).expect("signatures");
    let signing = sigs.signing.as_ref().expect("signing material");
    assert_eq!(signing.root_declaration, declaration(&root));
    assert_eq!(signing.trust_list, trust_list(&root, 6, &alice));
    assert_eq!(sigs.statement_for(RECORD), Some(v2.as_str()));
    let _: sealscan_protocols::appliance::Job = serde_json::from_value(body).expect("job");
    let _ = RecordStatement::KIND;

    // Deleting the record drops its statement: a new record under the id starts over.
    h.call("delete", &path, Some(&pc), None).await.expect_ok();
    let again = h
        .call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(record(Some(v1.clone()))),
        )
        .await
        .expect_ok();
    assert_eq!(again["statement"], json!(v1));
}

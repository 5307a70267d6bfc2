//! The served OpenAPI document describes every endpoint with the `sealscan-api` types, and
//! those types read and write exactly what the server sends.
mod common;

use common::*;
use sealscan_api::{Code, ErrorBody};
use sealscan_control::api::openapi::ENDPOINTS;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|x| refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_served_document_has_schemas_for_every_endpoint() {
    let h = Harness::start().await;
    let doc = h
        .call("get", "/api/v1/openapi.json", None, None)
        .await
        .expect_ok();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = std::collections::BTreeSet::new();
    for e in ENDPOINTS {
        let op = &doc["paths"][e.path][e.method];
        let name = format!("{} {}", e.method, e.path);
        assert!(op.is_object(), "{name} missing");
        assert!(
            ids.insert(op["operationId"].as_str().expect("operationId").to_string()),
            "{name}: operationId repeated"
        );
        if e.request.is_some() {
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{name}: no request schema"
            );
        }
        for (code, body) in e.responses {
            let r = &op["responses"][code.to_string()];
            assert!(r.is_object(), "{name}: no {code} answer");
            assert_eq!(
                r["content"]["application/json"]["schema"].is_object(),
                body.is_some(),
                "{name}: {code} answer's schema"
            );
        }
        for class in ["4XX", "5XX"] {
            assert_eq!(
                op["responses"][class]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{name}: {class}"
            );
        }
        for p in e.path.split('/').filter(|s| s.starts_with('{')) {
            let p = &p[1..p.len() - 1];
            assert!(
                op["parameters"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["name"] == p && x["in"] == "path")),
                "{name}: path parameter {p} undeclared"
            );
        }
    }
    // Every reference resolves, and the refusal's rule is the closed list of codes.
    let schemas = &doc["components"]["schemas"];
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside components/schemas"));
        assert!(schemas[name].is_object(), "{r} does not resolve");
    }
    let codes = schemas["Code"]["enum"].as_array().expect("Code is an enum");
    assert_eq!(codes.len(), Code::ALL.len(), "{}", schemas["Code"]);
    assert_eq!(schemas["ErrorBody"]["additionalProperties"], false);
}

/// `GET path` as `token`, read as `T` and written back: the same JSON both ways.
async fn round_trip<T: DeserializeOwned + Serialize>(h: &Harness, token: &str, path: &str) -> T {
    let sent = h.call("get", path, Some(token), None).await.expect_ok();
    let typed: T = serde_json::from_value(sent.clone())
        .unwrap_or_else(|e| panic!("GET {path} does not read as its type: {e}\n{sent}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(back, sent, "GET {path} changes when read and written again");
    typed
}

#[tokio::test]
async fn one_typed_answer_of_each_resource_round_trips() {
    use sealscan_api::{admin, appliances, ncsm, records, scans, security, session, users};
    let h = Harness::start().await;
    let pc = h.pc().await;
    // Something in each list: a user, a vault and a record using it, a refusal.
    h.user(&pc, "bob", "reader").await;
    h.call(
        "post",
        "/api/v1/vaults",
        Some(&pc),
        Some(
            json!({"title": "ss", "url": "https://vault.example", "user": "svc",
                     "password": {"model": "legacy", "value": "c2VjcmV0"}}),
        ),
    )
    .await
    .expect_ok();
    let vault: records::VaultList = round_trip(&h, &pc, "/api/v1/vaults").await;
    let vault_id = vault.vaults[0].vault.id.clone();
    h.call(
        "post",
        "/api/v1/records",
        Some(&pc),
        Some(
            json!({"kind": "unix", "title": "web", "user": "root", "ips": ["10.0.0.5"],
                     "login_type": "vault", "vault_id": vault_id, "secret_name": "root-web"}),
        ),
    )
    .await
    .expect_ok();
    let me: session::WhoAmI = round_trip(&h, &pc, "/api/v1/session").await;
    assert_eq!(me.user.person.username, PC_USER);
    let list: Vec<users::UserView> = round_trip(&h, &pc, "/api/v1/users").await;
    assert_eq!(list.len(), 2);
    round_trip::<users::UserView>(&h, &pc, "/api/v1/users/bob").await;
    round_trip::<users::UserUnit>(&h, &pc, "/api/v1/users/bob/unit").await;
    round_trip::<security::SecurityView>(&h, &pc, "/api/v1/security").await;
    round_trip::<security::AllowlistView>(&h, &pc, "/api/v1/security/allowlist").await;
    let recs: records::RecordList = round_trip(&h, &pc, "/api/v1/records").await;
    assert_eq!(recs.records[0].secret.as_deref(), Some("root-web"));
    round_trip::<records::RecordView>(
        &h,
        &pc,
        &format!("/api/v1/records/{}", recs.records[0].record.id),
    )
    .await;
    let v: records::VaultView = round_trip(&h, &pc, &format!("/api/v1/vaults/{vault_id}")).await;
    assert_eq!(v.used_by, Some(vec!["web".to_string()]));
    round_trip::<ncsm::NcsmStatus>(&h, &pc, "/api/v1/ncsm").await;
    round_trip::<ncsm::Recipients>(&h, &pc, "/api/v1/ncsm/recipients").await;
    round_trip::<Vec<appliances::ApplianceView>>(&h, &pc, "/api/v1/appliances").await;
    round_trip::<Vec<appliances::EnrollmentToken>>(&h, &pc, "/api/v1/appliances/tokens").await;
    round_trip::<Vec<scans::ScanView>>(&h, &pc, "/api/v1/scans").await;
    round_trip::<Vec<admin::AuditEntry>>(&h, &pc, "/api/v1/audit").await;
    round_trip::<Vec<admin::OutboxEmail>>(&h, &pc, "/api/v1/outbox").await;
    // A refusal reads as the error body, its rule as a known code.
    let refused = h.call("get", "/api/v1/users/nobody", Some(&pc), None).await;
    let body: ErrorBody = serde_json::from_value(refused.body.clone()).expect("error body");
    assert_eq!(body.error.rule, Code::UserNotFound);
    assert_eq!(serde_json::to_value(&body).expect("json"), refused.body);
}

/// The server names every refusal by a [`Code`] variant, never by its text: a rule written
/// as a string literal would compile even after the code was renamed, and reach clients as
/// one they cannot name. Audit event names (`appliance.approved`) are not codes and are fine.
#[test]
fn the_server_writes_no_rule_literal() {
    let known: std::collections::BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut literals = Vec::new();
    let mut files = vec![src];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("dir") {
                files.push(e.expect("entry").path());
            }
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("source");
        // Every double-quoted piece of text on one line, whatever its position.
        for line in text.lines() {
            for (i, lit) in line.split('"').enumerate() {
                if i % 2 == 1 && known.contains(lit) {
                    literals.push(format!("{}: \"{lit}\"", p.display()));
                }
            }
        }
    }
    literals.sort();
    literals.dedup();
    assert!(
        literals.is_empty(),
        "write these as Code variants: {literals:#?}"
    );
}

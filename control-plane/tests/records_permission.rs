//! The records permission: a Manager grants or withdraws it per Unit Manager; without it a
//! Unit Manager may read records and vaults but not create, update or delete them. Over the
//! real HTTPS API and SQLite store.
mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};

fn legacy(value: &str) -> Value {
    json!({"model": "legacy", "value": base64::engine::general_purpose::STANDARD.encode(value)})
}

/// Each record gets its own IP: one record per IP and type.
fn record(id: &str, ip: &str) -> Value {
    json!({
        "id": id, "kind": "unix", "title": format!("Record {id}"), "user": "scanuser",
        "ips": [ip], "secrets": [{"field": "password", "value": legacy("Legacy-Pass-1")}]
    })
}

fn vault(id: &str) -> Value {
    json!({"id": id, "title": format!("Vault {id}"), "url": "https://ss.example", "user": "svc",
           "password": legacy("Legacy-Vault-1")})
}

async fn set_permission(h: &Harness, token: &str, who: &str, granted: bool) -> Reply {
    h.call(
        "put",
        &format!("/api/v1/users/{who}/records-permission"),
        Some(token),
        Some(json!({"granted": granted})),
    )
    .await
}

/// Every record and vault change a Unit Manager can attempt, each refused with the rule.
async fn expect_all_changes_refused(h: &Harness, um: &str) {
    let calls: [(&str, &str, Option<Value>); 6] = [
        ("post", "/api/v1/records", Some(record("r-um", "10.9.0.2"))),
        (
            "patch",
            "/api/v1/records/r-base",
            Some(json!({"title": "Renamed"})),
        ),
        ("delete", "/api/v1/records/r-base", None),
        ("post", "/api/v1/vaults", Some(vault("v-um"))),
        (
            "patch",
            "/api/v1/vaults/v-base",
            Some(json!({"title": "Renamed"})),
        ),
        ("delete", "/api/v1/vaults/v-base", None),
    ];
    for (method, path, body) in calls {
        let r = h.call(method, path, Some(um), body).await;
        r.expect_refused(403, "role.records-permission-required");
        let message = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("Unit Manager with the records permission"),
            "{method} {path}: the refusal names the rule: {message}"
        );
    }
}

async fn titles(h: &Harness, token: &str, path: &str) -> Vec<String> {
    let v = h.call("get", path, Some(token), None).await.expect_ok();
    let items = v
        .as_array()
        .cloned()
        .or_else(|| {
            v.as_object()
                .and_then(|o| o.values().find_map(|x| x.as_array().cloned()))
        })
        .unwrap_or_else(|| panic!("{path}: no list in {v}"));
    let mut out: Vec<String> = items
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("").to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn unit_manager_edits_records_only_while_a_manager_grants_it() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "um", "unit_manager").await;
    let m2 = h.login("m2", PASSWORD).await;
    let um = h.login("um", PASSWORD).await;
    h.call(
        "post",
        "/api/v1/records",
        Some(&m2),
        Some(record("r-base", "10.9.0.1")),
    )
    .await
    .expect_ok();
    h.call("post", "/api/v1/vaults", Some(&m2), Some(vault("v-base")))
        .await
        .expect_ok();

    // A new Unit Manager starts without it, and it shows.
    let shown = h.user_json(&pc, "um").await;
    assert_eq!(shown["records_permission"], false);
    assert_eq!(shown["records_permission_effective"], false);
    assert_eq!(
        h.user_json(&pc, "m2").await["records_permission_effective"],
        true
    );

    // Reading stays allowed; every change is refused and changes nothing.
    let records_before = titles(&h, &pc, "/api/v1/records").await;
    let vaults_before = titles(&h, &pc, "/api/v1/vaults").await;
    assert_eq!(titles(&h, &um, "/api/v1/records").await, records_before);
    expect_all_changes_refused(&h, &um).await;
    assert_eq!(titles(&h, &pc, "/api/v1/records").await, records_before);
    assert_eq!(titles(&h, &pc, "/api/v1/vaults").await, vaults_before);

    // A Manager who is not the Primary Contact grants it; the same session may now edit.
    let granted = set_permission(&h, &m2, "um", true).await.expect_ok();
    assert_eq!(granted["records_permission"], true);
    assert_eq!(granted["records_permission_effective"], true);
    let listed = h
        .call("get", "/api/v1/users", Some(&pc), None)
        .await
        .expect_ok();
    let um_row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "um")
        .cloned()
        .unwrap();
    assert_eq!(um_row["records_permission"], true);
    h.call(
        "post",
        "/api/v1/records",
        Some(&um),
        Some(record("r-um", "10.9.0.2")),
    )
    .await
    .expect_ok();
    h.call(
        "patch",
        "/api/v1/records/r-um",
        Some(&um),
        Some(json!({"title": "Renamed by um"})),
    )
    .await
    .expect_ok();
    h.call("post", "/api/v1/vaults", Some(&um), Some(vault("v-um")))
        .await
        .expect_ok();
    h.call("delete", "/api/v1/vaults/v-um", Some(&um), None)
        .await
        .expect_ok();
    h.call("delete", "/api/v1/records/r-um", Some(&um), None)
        .await
        .expect_ok();

    // Withdrawn: refused again at once, on the session already open.
    let revoked = set_permission(&h, &m2, "um", false).await.expect_ok();
    assert_eq!(revoked["records_permission"], false);
    expect_all_changes_refused(&h, &um).await;
    assert_eq!(titles(&h, &pc, "/api/v1/records").await, records_before);

    // Both security changes are in the audit log, naming who, whom and what.
    let log = h
        .call("get", "/api/v1/audit", Some(&pc), None)
        .await
        .expect_ok();
    let entries: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "records.permission")
        .collect();
    assert_eq!(entries.len(), 2, "{log}");
    // Newest first.
    assert_eq!(entries[0]["actor"], "m2");
    assert_eq!(entries[0]["target"], "um");
    assert_eq!(entries[0]["detail"]["granted"], false);
    assert_eq!(entries[1]["detail"]["granted"], true);
}

#[tokio::test]
async fn only_managers_grant_and_only_unit_managers_hold_it() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    for (name, role) in [
        ("um", "unit_manager"),
        ("um2", "unit_manager"),
        ("ua", "user_administrator"),
        ("sc", "scanner"),
        ("m2", "manager"),
    ] {
        h.user(&pc, name, role).await;
    }
    set_permission(&h, &pc, "um", true).await.expect_ok();

    // A Unit Manager, even one holding it, cannot grant it (to others or to themself).
    let um = h.login("um", PASSWORD).await;
    set_permission(&h, &um, "um2", true)
        .await
        .expect_refused(403, "role.forbidden");
    let ua = h.login("ua", PASSWORD).await;
    set_permission(&h, &ua, "um2", true)
        .await
        .expect_refused(403, "role.forbidden");
    let sc = h.login("sc", PASSWORD).await;
    set_permission(&h, &sc, "um2", true)
        .await
        .expect_refused(403, "role.forbidden");
    assert_eq!(h.user_json(&pc, "um2").await["records_permission"], false);

    // Nobody but a Unit Manager holds it: Managers always may, the others never.
    set_permission(&h, &pc, "sc", true)
        .await
        .expect_refused(409, "records-permission.role");
    set_permission(&h, &pc, "m2", true)
        .await
        .expect_refused(409, "records-permission.role");
    set_permission(&h, &pc, "nobody", true)
        .await
        .expect_refused(404, "user.not-found");
    let r = h
        .call(
            "put",
            "/api/v1/users/um2/records-permission",
            Some(&pc),
            Some(json!({"granted": "yes"})),
        )
        .await;
    r.expect_refused(422, "request.malformed");

    // Leaving the role withdraws it; coming back does not restore it.
    for role in ["scanner", "unit_manager"] {
        h.call(
            "put",
            "/api/v1/users/um/role",
            Some(&pc),
            Some(json!({"role": role})),
        )
        .await
        .expect_ok();
    }
    let back = h.user_json(&pc, "um").await;
    assert_eq!(back["records_permission"], false);
    assert!(
        h.audit_actions(&pc)
            .await
            .iter()
            .filter(|a| *a == "records.permission")
            .count()
            == 1
    );
}

/// A database from before the permission existed: its Unit Managers come out of the
/// migration without it (nobody chose to give it while the rule was not enforced).
#[tokio::test]
async fn existing_unit_managers_are_migrated_without_the_permission() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "um", "unit_manager").await;
    let dir = h.dir;
    h.server.stop().await;
    {
        // Back to the schema before migration 3, as an older control plane left it.
        common::raw_sql(
            dir.path(),
            "ALTER TABLE users DROP COLUMN can_edit_records;
             DELETE FROM schema_migrations WHERE version = 3;",
        );
    }
    let store = sealscan_control::server::open_store(dir.path()).expect("reopen");
    let um = store
        .read(|tx| tx.user_by_username("um"))
        .expect("read")
        .expect("um survives the migration");
    assert!(!um.can_edit_records);
    let applied: i64 = common::raw_sql(
        dir.path(),
        "SELECT COUNT(*) FROM schema_migrations WHERE version = 3",
    )
    .trim()
    .parse()
    .expect("count");
    assert_eq!(applied, 1);
}

//! Business units for Unit Managers: a Unit Manager manages only the users, records and vaults
//! of their own unit (no unit counts as a unit of its own), what they create joins it, and only
//! Managers put people and records in units. Managers and User Administrators are not bound.
mod common;
mod records_support;

use common::*;
use records_support::*;
use serde_json::{Value, json};

async fn put_unit(h: &Harness, token: &str, path: &str, unit: Value) -> Reply {
    h.call("put", path, Some(token), Some(json!({ "unit": unit })))
        .await
}

#[tokio::test]
async fn unit_managers_manage_only_their_unit() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    for (name, role, unit) in [
        ("ume", "unit_manager", Some("east")),
        ("umw", "unit_manager", Some("west")),
        ("umn", "unit_manager", None),
        ("se", "scanner", Some("east")),
        ("sw", "scanner", Some("west")),
        ("sn", "scanner", None),
        ("ua", "user_administrator", None),
    ] {
        h.user(&pc, name, role).await;
        if let Some(u) = unit {
            let r = put_unit(&h, &pc, &format!("/api/v1/users/{name}/unit"), json!(u)).await;
            assert_eq!(r.expect_ok()["unit"], u);
        }
    }
    let ume = h.login("ume", PASSWORD).await;
    let umn = h.login("umn", PASSWORD).await;
    let ua = h.login("ua", PASSWORD).await;

    // Users: the east Unit Manager manages east users only, for every managing action.
    h.call("post", "/api/v1/users/se/lock", Some(&ume), None)
        .await
        .expect_ok();
    h.call("post", "/api/v1/users/se/unlock", Some(&ume), None)
        .await
        .expect_ok();
    for other in ["sw", "sn"] {
        for (method, path, body) in [
            ("post", format!("/api/v1/users/{other}/lock"), None),
            ("post", format!("/api/v1/users/{other}/unlock"), None),
            (
                "patch",
                format!("/api/v1/users/{other}"),
                Some(json!({"first_name": "X"})),
            ),
            (
                "put",
                format!("/api/v1/users/{other}/role"),
                Some(json!({"role": "reader"})),
            ),
            ("delete", format!("/api/v1/users/{other}/2fa"), None),
            (
                "post",
                format!("/api/v1/users/{other}/reset-password"),
                Some(json!({"password": "Zq8!pLm3#Tv"})),
            ),
        ] {
            h.call(method, &path, Some(&ume), body)
                .await
                .expect_refused(403, "unit.other-unit");
        }
    }
    // No unit is a unit of its own.
    h.call("post", "/api/v1/users/sn/lock", Some(&umn), None)
        .await
        .expect_ok();
    h.call("post", "/api/v1/users/sn/unlock", Some(&umn), None)
        .await
        .expect_ok();
    h.call("post", "/api/v1/users/se/lock", Some(&umn), None)
        .await
        .expect_refused(403, "unit.other-unit");
    // User Administrators are not bound to units.
    h.call(
        "patch",
        "/api/v1/users/sw",
        Some(&ua),
        Some(json!({"first_name": "West"})),
    )
    .await
    .expect_ok();
    // A Unit Manager's new user joins their unit; only Managers set units.
    h.call(
        "post",
        "/api/v1/users",
        Some(&ume),
        Some(
            json!({"username": "newe", "first_name": "New", "last_name": "East",
                    "email": "newe@example.com", "role": "reader", "password": PASSWORD}),
        ),
    )
    .await
    .expect_ok();
    let shown = h
        .call("get", "/api/v1/users/newe/unit", Some(&ume), None)
        .await
        .expect_ok();
    assert_eq!(shown["unit"], "east");
    put_unit(&h, &ume, "/api/v1/users/sw/unit", json!("east"))
        .await
        .expect_refused(403, "role.forbidden");
    assert_eq!(
        h.call("get", "/api/v1/users/sw/unit", Some(&pc), None)
            .await
            .expect_ok()["unit"],
        "west"
    );
    // Bad unit names are named and change nothing.
    for bad in [json!(""), json!("x".repeat(65)), json!("a\nb"), json!(5)] {
        let r = put_unit(&h, &pc, "/api/v1/users/se/unit", bad.clone()).await;
        assert!(
            matches!(r.status.as_u16(), 400 | 422),
            "{bad}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body.to_string().contains("unit"), "{}", r.body);
    }
    assert_eq!(
        h.call("get", "/api/v1/users/se/unit", Some(&pc), None)
            .await
            .expect_ok()["unit"],
        "east"
    );
    // Taking someone out of every unit.
    put_unit(&h, &pc, "/api/v1/users/sw/unit", Value::Null)
        .await
        .expect_ok();
    h.call("post", "/api/v1/users/sw/lock", Some(&umn), None)
        .await
        .expect_ok();
    assert!(
        h.audit_actions(&pc)
            .await
            .iter()
            .any(|a| a == "unit.changed")
    );
}

#[tokio::test]
async fn records_and_vaults_follow_the_unit() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    for (name, unit) in [("ume", "east"), ("umw", "west")] {
        h.user(&pc, name, "unit_manager").await;
        put_unit(&h, &pc, &format!("/api/v1/users/{name}/unit"), json!(unit))
            .await
            .expect_ok();
        h.call(
            "put",
            &format!("/api/v1/users/{name}/records-permission"),
            Some(&pc),
            Some(json!({"granted": true})),
        )
        .await
        .expect_ok();
    }
    let ume = h.login("ume", PASSWORD).await;
    let umw = h.login("umw", PASSWORD).await;

    // A Manager's record starts in no unit; a Manager puts it in one.
    let r1 = h
        .call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(unix_record("R1", &["10.1.0.1"], "Pass-R1-x")),
        )
        .await
        .expect_ok();
    assert!(r1["unit"].is_null(), "{r1}");
    let r1 = r1["id"].as_str().unwrap().to_string();
    let path1 = format!("/api/v1/records/{r1}");
    h.call("patch", &path1, Some(&ume), Some(json!({"title": "R1e"})))
        .await
        .expect_refused(403, "unit.other-unit");
    put_unit(&h, &ume, &format!("{path1}/unit"), json!("east"))
        .await
        .expect_refused(403, "role.forbidden");
    put_unit(&h, &pc, &format!("{path1}/unit"), json!("east"))
        .await
        .expect_ok();
    h.call("patch", &path1, Some(&ume), Some(json!({"title": "R1e"})))
        .await
        .expect_ok();
    h.call("patch", &path1, Some(&umw), Some(json!({"title": "R1w"})))
        .await
        .expect_refused(403, "unit.other-unit");
    h.call("delete", &path1, Some(&umw), None)
        .await
        .expect_refused(403, "unit.other-unit");
    // A Unit Manager's record and vault join their unit; the other unit cannot touch them.
    let r2 = h
        .call(
            "post",
            "/api/v1/records",
            Some(&ume),
            Some(unix_record("R2", &["10.1.0.2"], "Pass-R2-x")),
        )
        .await
        .expect_ok();
    assert_eq!(r2["unit"], "east", "{r2}");
    let v = h
        .call(
            "post",
            "/api/v1/vaults",
            Some(&ume),
            Some(
                json!({"title": "SS", "url": "https://ss.example", "user": "svc",
                        "password": legacy("Vault-Pass-x")}),
            ),
        )
        .await
        .expect_ok();
    assert_eq!(v["unit"], "east", "{v}");
    let vpath = format!("/api/v1/vaults/{}", v["id"].as_str().unwrap());
    h.call("patch", &vpath, Some(&umw), Some(json!({"title": "SSw"})))
        .await
        .expect_refused(403, "unit.other-unit");
    h.call("delete", &vpath, Some(&umw), None)
        .await
        .expect_refused(403, "unit.other-unit");
    // Viewing is not managing: every record is listed to every viewer, with its unit.
    let listed = h
        .call("get", "/api/v1/records", Some(&umw), None)
        .await
        .expect_ok();
    assert_eq!(
        listed["records"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    // Managers are not bound; a deleted record's id keeps no unit.
    h.call("delete", &path1, Some(&pc), None).await.expect_ok();
    let again = h
        .call(
            "post",
            "/api/v1/records",
            Some(&pc),
            Some(
                json!({"id": r1, "kind": "unix", "title": "R1 again", "user": "scanuser",
                        "ips": ["10.1.0.1"],
                        "secrets": [{"field": "password", "value": legacy("Pass-R1-y")}]}),
            ),
        )
        .await
        .expect_ok();
    assert!(again["unit"].is_null(), "{again}");
    put_unit(&h, &pc, "/api/v1/records/r-nothing/unit", json!("east"))
        .await
        .expect_refused(404, "unit.owner-unknown");
}

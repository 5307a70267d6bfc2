//! The NCSM migration survives a kill -9 of the real server binary in the middle of it:
//! after a restart and Resume every record is migrated exactly once and no secret is lost,
//! and no plaintext secret is in the database files.
mod common;
mod records_support;

use common::cli::PW;
use records_support::served::{login, ncsm_status, serve};
use records_support::*;
use sealscan_protocols::appliance::SecretFieldName;
use sealscan_protocols::envelope::{self, Binding, Envelope};

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_migration_then_resume_migrates_every_record_exactly_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let init = common::cli::init(&data, &format!("{PW}\n"));
    assert!(init.status.success(), "init: {init:?}");
    ncsm_enable(&data);

    const N: usize = 8;
    let secrets: Vec<String> = (0..N).map(|i| format!("Crash-Secret-{i}-q7Zp")).collect();
    let first = serve(&data, Some(250), &[]);
    let token = login(&first.api, PW).await;
    let mut ids = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let (s, v) = first
            .api
            .call_json(
                "post",
                "/api/v1/records",
                Some(&token),
                Some(unix_record(
                    &format!("host {i}"),
                    &[&format!("10.20.0.{i}")],
                    secret,
                )),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    let (_, key) = approved_appliance(&first.api, &token, "scanner-1").await;
    assert_eq!(
        ncsm_status(&first.api, &token).await["to_migrate"]["total"],
        N
    );
    let (s, v) = first
        .api
        .call_json("post", "/api/v1/ncsm/start", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    // Kill once some, but not all, records moved: the delay makes each record take a while.
    loop {
        let v = ncsm_status(&first.api, &token).await;
        let migrated = v["migrated"].as_u64().unwrap_or(0);
        assert!(
            migrated < N as u64,
            "the migration finished before the kill: {v}"
        );
        if migrated >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let mut first = first;
    first.child.kill().expect("kill -9"); // SIGKILL: no shutdown code runs.
    first.child.wait().expect("reaped");
    drop(first);

    // Each record is either untouched (legacy) or fully migrated: never half of each.
    let conn = db(&data);
    for id in &ids {
        let count = |table: &str| -> i64 {
            conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE record_id = ?1"),
                [id],
                |r| r.get(0),
            )
            .expect("count")
        };
        assert_eq!(
            count("legacy_secrets") + count("sealed_secrets"),
            1,
            "record {id}"
        );
    }
    drop(conn);

    let second = serve(&data, None, &[]);
    let token = login(&second.api, PW).await;
    let v = ncsm_status(&second.api, &token).await;
    assert_eq!(v["state"], "migrating", "{v}");
    assert_eq!(v["running"], false);
    let (s, v) = second
        .api
        .call_json("post", "/api/v1/ncsm/resume", Some(&token), None)
        .await;
    assert_eq!(s, 202, "{v}");
    let done = loop {
        let v = ncsm_status(&second.api, &token).await;
        if v["running"] == false {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(done["state"], "complete", "{done}");
    assert_eq!(done["migrated"], N);
    drop(second);

    let conn = db(&data);
    let legacy_left: i64 = conn
        .query_row("SELECT COUNT(*) FROM legacy_secrets", [], |r| r.get(0))
        .expect("count");
    assert_eq!(legacy_left, 0);
    for (id, secret) in ids.iter().zip(&secrets) {
        let migrations: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ncsm.record-migrated' AND target = ?1",
                [format!("unix:{id}")],
                |r| r.get(0),
            )
            .expect("audit");
        assert_eq!(migrations, 1, "record {id} migrated {migrations} times");
        let text: String = conn
            .query_row(
                "SELECT envelope FROM sealed_secrets WHERE record_id = ?1 AND field = 'password'",
                [id],
                |r| r.get(0),
            )
            .expect("envelope");
        let fields = Binding::for_record(
            "unix",
            id,
            SecretFieldName::Password,
            "scanuser",
            None,
            false,
        );
        let env = Envelope::from_text(&text).expect("parses");
        let plain = envelope::open(&env, &fields, key.as_bytes()).expect("opens");
        assert_eq!(plain.expose(), secret.as_bytes(), "secret of {id} kept");
    }
    drop(conn);
    for secret in &secrets {
        assert!(
            db_files_holding(&data, secret.as_bytes()).is_empty(),
            "{secret} is in the database files"
        );
    }
}

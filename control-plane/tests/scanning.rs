//! The scanning side over real TLS and SQLite: enrollment tokens, enroll and poll, approval
//! with the credential collected once, rewrap checks, scans, long-poll claims, leases,
//! heartbeats and idempotent results. A test client stands in for the agent; it is a real HTTP
//! client of the real server and opens envelopes with a test key.
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use sealscan_control::store::Store;
use sealscan_protocols::appliance::{ResultPost, RewrapWork};
use sealscan_protocols::envelope::{self, Binding, Envelope, PrivateKey};
use sealscan_protocols::identity;
use sealscan_protocols::results::{Cause, LoginKind, LoginOutcome, Status, Step, qid_for};
use serde_json::{Value, json};

struct Appliance {
    id: String,
    key: PrivateKey,
    credential: String,
}

async fn token(h: &Harness, admin: &str) -> String {
    let r = h
        .call(
            "post",
            "/api/v1/appliances/tokens",
            Some(admin),
            Some(json!({"label": "rack 4"})),
        )
        .await
        .expect_ok();
    r["token"].as_str().expect("token").to_string()
}

async fn enroll(h: &Harness, admin: &str, name: &str) -> (String, String, PrivateKey) {
    let key = PrivateKey::generate().expect("key");
    let t = token(h, admin).await;
    let r = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(
                json!({"token": t, "name": name, "public_key": STANDARD.encode(key.public_key())}),
            ),
        )
        .await
        .expect_ok();
    assert_eq!(r["fingerprint"], identity::fingerprint(&key.public_key()));
    (
        r["appliance_id"].as_str().expect("id").to_string(),
        r["poll_secret"].as_str().expect("poll secret").to_string(),
        key,
    )
}

async fn poll(h: &Harness, id: &str, secret: &str) -> Value {
    h.call(
        "post",
        "/api/v1/appliance/enroll/poll",
        None,
        Some(json!({"appliance_id": id, "poll_secret": secret})),
    )
    .await
    .expect_ok()
}

async fn approved(h: &Harness, admin: &str, name: &str) -> Appliance {
    let (id, secret, key) = enroll(h, admin, name).await;
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/approve"),
        Some(admin),
        None,
    )
    .await
    .expect_ok();
    let state = poll(h, &id, &secret).await;
    assert_eq!(state["state"], "approved");
    Appliance {
        id,
        key,
        credential: state["credential"]
            .as_str()
            .expect("credential")
            .to_string(),
    }
}

async fn claim(h: &Harness, a: &Appliance, wait: u32) -> Reply {
    h.call(
        "post",
        "/api/v1/appliance/jobs/claim",
        Some(&a.credential),
        Some(json!({"wait_secs": wait})),
    )
    .await
}

async fn scan(h: &Harness, user: &str, body: Value) -> Value {
    h.call("post", "/api/v1/scans", Some(user), Some(body))
        .await
        .expect_ok()
}

fn outcome(kind: LoginKind, passed: bool) -> LoginOutcome {
    if passed {
        let mut o = LoginOutcome::passed(kind, "root", "password");
        o.facts.insert("uname".into(), "Linux test 6.1".into());
        o
    } else {
        LoginOutcome {
            kind,
            status: Status::Failed,
            qid: qid_for(kind, Status::Failed),
            cause: Some(Cause {
                step: Step::Authentication,
                detail: "STATUS_LOGON_FAILURE".into(),
            }),
            login_id: "CORP\\scan".into(),
            method: "NTLMv2".into(),
            facts: Default::default(),
        }
    }
}

async fn post_result(
    h: &Harness,
    a: &Appliance,
    job: &Value,
    target: &Value,
    passed: bool,
) -> Reply {
    let job_id = job["job_id"].as_str().expect("job id");
    let target_id = target["target_id"].as_str().expect("target id");
    let kind: LoginKind = serde_json::from_value(target["kind"].clone()).expect("kind");
    let post = ResultPost {
        idempotency_key: ResultPost::key_for(job_id, target_id, kind),
        target_id: target_id.into(),
        host: target["host"].as_str().expect("host").into(),
        record_id: None,
        outcome: outcome(kind, passed),
    };
    h.call(
        "post",
        &format!("/api/v1/appliance/jobs/{job_id}/results"),
        Some(&a.credential),
        Some(serde_json::to_value(&post).expect("json")),
    )
    .await
}

fn db_bytes(h: &Harness) -> Vec<u8> {
    h.stored_bytes().concat()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn enrollment_approval_and_the_credential() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "m2", "manager").await;
    h.user(&pc, "sc", "scanner").await;
    let key = PrivateKey::generate().expect("key");
    let pk = STANDARD.encode(key.public_key());
    let t = token(&h, &pc).await;

    // Bad input is refused by name and uses up nothing.
    for (body, status, rule) in [
        (
            json!({"token": t, "name": "a1", "public_key": "AAAA"}),
            422,
            "enroll.public-key",
        ),
        (
            json!({"token": t, "name": "a1", "public_key": STANDARD.encode([0u8; 32])}),
            422,
            "enroll.public-key",
        ),
        (
            json!({"token": t, "name": "", "public_key": pk}),
            422,
            "enroll.name",
        ),
        (
            json!({"token": "enr_nope", "name": "a1", "public_key": pk}),
            401,
            "enroll.token-invalid",
        ),
    ] {
        h.call("post", "/api/v1/appliance/enroll", None, Some(body))
            .await
            .expect_refused(status, rule);
    }
    let r = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": t, "name": "a1", "public_key": pk})),
        )
        .await
        .expect_ok();
    let id = r["appliance_id"].as_str().expect("id").to_string();
    let secret = r["poll_secret"].as_str().expect("secret").to_string();
    let fingerprint = identity::fingerprint(&key.public_key());
    assert_eq!(r["fingerprint"], fingerprint.as_str());

    // One-time: the same token never enrolls a second key.
    let other = STANDARD.encode(PrivateKey::generate().expect("key").public_key());
    h.call(
        "post",
        "/api/v1/appliance/enroll",
        None,
        Some(json!({"token": t, "name": "a2", "public_key": other})),
    )
    .await
    .expect_refused(401, "enroll.token-invalid");
    // The same key twice is refused naming the appliance that has it.
    let t2 = token(&h, &pc).await;
    let dup = h
        .call(
            "post",
            "/api/v1/appliance/enroll",
            None,
            Some(json!({"token": t2, "name": "again", "public_key": pk})),
        )
        .await;
    dup.expect_refused(409, "enroll.key-in-use");
    assert!(dup.body.to_string().contains(&id));

    // Pending, listed with its fingerprint; tokens listed without the token itself.
    assert_eq!(poll(&h, &id, &secret).await["state"], "pending");
    h.call(
        "post",
        "/api/v1/appliance/enroll/poll",
        None,
        Some(json!({"appliance_id": id, "poll_secret": "eps_wrong"})),
    )
    .await
    .expect_refused(401, "enroll.poll-refused");
    let sc = h.login("sc", PASSWORD).await;
    let list = h
        .call("get", "/api/v1/appliances", Some(&sc), None)
        .await
        .expect_ok();
    assert_eq!(list[0]["state"], "pending");
    assert_eq!(list[0]["fingerprint"], fingerprint.as_str());
    assert_eq!(list[0]["public_key"], pk.as_str());
    let tokens = h
        .call("get", "/api/v1/appliances/tokens", Some(&pc), None)
        .await
        .expect_ok();
    assert!(!tokens.to_string().contains(&t));
    assert_eq!(tokens[0]["appliance_id"], id.as_str());

    // Approval: audited, announced to every Manager with the fingerprint.
    let approved = h
        .call(
            "post",
            &format!("/api/v1/appliances/{id}/approve"),
            Some(&pc),
            None,
        )
        .await
        .expect_ok();
    assert_eq!(approved["appliance"]["state"], "approved");
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/approve"),
        Some(&pc),
        None,
    )
    .await
    .expect_refused(409, "appliance.state");
    assert!(
        h.audit_actions(&pc)
            .await
            .contains(&"appliance.approved".to_string())
    );
    let outbox = h
        .call("get", "/api/v1/outbox", Some(&pc), None)
        .await
        .expect_ok();
    let announced: Vec<&Value> = outbox
        .as_array()
        .expect("array")
        .iter()
        .filter(|m| {
            m["kind"] == "appliance" && m["subject"].as_str().unwrap_or("").contains("approved")
        })
        .collect();
    let mut to: Vec<&str> = announced.iter().filter_map(|m| m["to"].as_str()).collect();
    to.sort();
    assert_eq!(to, ["alice@example.com", "m2@example.com"]);
    assert!(
        announced[0]["body"]
            .as_str()
            .unwrap_or("")
            .contains(&fingerprint)
    );

    // The credential is handed out once and kept only as a hash.
    let state = poll(&h, &id, &secret).await;
    assert_eq!(state["state"], "approved");
    let credential = state["credential"]
        .as_str()
        .expect("credential")
        .to_string();
    assert_eq!(poll(&h, &id, &secret).await["state"], "already_collected");
    assert!(!contains(&db_bytes(&h), credential.as_bytes()));
    let a = Appliance {
        id: id.clone(),
        key,
        credential,
    };
    assert_eq!(claim(&h, &a, 0).await.status.as_u16(), 204);

    // Each principal reaches only its own API.
    h.call("get", "/api/v1/users", Some(&a.credential), None)
        .await
        .expect_refused(403, "role.user-only");
    h.call(
        "post",
        "/api/v1/appliance/jobs/claim",
        Some(&pc),
        Some(json!({"wait_secs": 0})),
    )
    .await
    .expect_refused(403, "role.appliance-only");

    // Reject another; revoke this one, after which its credential is dead.
    let (rid, rsecret, _) = enroll(&h, &pc, "rogue").await;
    h.call(
        "post",
        &format!("/api/v1/appliances/{rid}/reject"),
        Some(&pc),
        Some(json!({"reason": "fingerprint differs"})),
    )
    .await
    .expect_ok();
    assert_eq!(
        poll(&h, &rid, &rsecret).await,
        json!({"state": "rejected", "reason": "fingerprint differs"})
    );
    h.call(
        "post",
        &format!("/api/v1/appliances/{rid}/approve"),
        Some(&pc),
        None,
    )
    .await
    .expect_refused(409, "appliance.state");
    h.call(
        "post",
        &format!("/api/v1/appliances/{id}/revoke"),
        Some(&pc),
        Some(json!({})),
    )
    .await
    .expect_ok();
    claim(&h, &a, 0)
        .await
        .expect_refused(401, "auth.invalid-token");
    assert_eq!(poll(&h, &id, &secret).await["state"], "revoked");
    let actions = h.audit_actions(&pc).await;
    for action in [
        "appliance.enrolled",
        "appliance.rejected",
        "appliance.revoked",
    ] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }
    h.call(
        "post",
        "/api/v1/appliances/app_unknown/approve",
        Some(&pc),
        None,
    )
    .await
    .expect_refused(404, "appliance.unknown");
}

#[tokio::test]
async fn scans_claims_leases_and_results() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "sc", "scanner").await;
    h.user(&pc, "rd", "reader").await;
    let sc = h.login("sc", PASSWORD).await;

    // No approved appliance: the scan is refused saying so.
    h.call(
        "post",
        "/api/v1/scans",
        Some(&sc),
        Some(json!({"targets": ["127.0.0.1"], "kinds": "unix"})),
    )
    .await
    .expect_refused(409, "scan.no-appliance");
    let a = approved(&h, &pc, "a1").await;
    let b = approved(&h, &pc, "a2").await;
    for (body, rule) in [
        (
            json!({"targets": ["127.0.0.300"], "kinds": "unix"}),
            "scan.targets",
        ),
        (json!({"targets": [], "kinds": "unix"}), "scan.targets"),
        (
            json!({"targets": ["10.0.0.0/8"], "kinds": "unix"}),
            "scan.targets",
        ),
        (
            json!({"targets": ["127.0.0.1"], "kinds": "ssh"}),
            "scan.kinds",
        ),
        (
            json!({"targets": ["127.0.0.1"], "kinds": "unix", "appliance": "app_x"}),
            "scan.appliance",
        ),
    ] {
        let r = h.call("post", "/api/v1/scans", Some(&sc), Some(body)).await;
        r.expect_refused(422, rule);
    }
    let bad = h
        .call(
            "post",
            "/api/v1/scans",
            Some(&sc),
            Some(json!({"targets": ["127.0.0.1", "bad_host!"], "kinds": "unix"})),
        )
        .await;
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("bad_host!")
    );
    assert_eq!(
        h.call("get", "/api/v1/scans", Some(&sc), None)
            .await
            .expect_ok(),
        json!([])
    );

    // Nothing queued: a claim without a wait answers 204 at once.
    assert_eq!(claim(&h, &a, 0).await.status.as_u16(), 204);

    // A claim waiting for work is woken by the new scan (no polling: the wait is 60 s).
    let waiting = {
        let client = make_client(&h.ca_pem, None);
        let url = format!("{}/api/v1/appliance/jobs/claim", h.base);
        let cred = a.credential.clone();
        tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(cred)
                .json(&json!({"wait_secs": 60}))
                .send()
                .await
                .expect("claim reaches the server");
            (resp.status().as_u16(), resp.text().await.expect("body"))
        })
    };
    let created = scan(
        &h,
        &sc,
        json!({"title": "nightly", "targets": ["127.0.0.1", "127.0.0.2-127.0.0.3", "host-a.test"], "kinds": "both"}),
    )
    .await;
    assert_eq!(created["targets_total"], 8);
    assert_eq!(created["state"], "queued");
    let scan_id = created["id"].as_str().expect("id").to_string();
    let (status, text) = waiting.await.expect("claim task");
    assert_eq!(status, 200, "{text}");
    let job: Value = serde_json::from_str(&text).expect("job");
    assert_eq!(job["scan_id"], scan_id.as_str());
    let targets = job["targets"].as_array().expect("targets").clone();
    assert_eq!(targets.len(), 8);
    assert_eq!(targets[0]["host"], "127.0.0.1");
    assert_eq!(targets[0]["kind"], "unix");
    assert_eq!(targets[1]["kind"], "windows");
    assert_eq!(targets[7]["host"], "host-a.test");
    // Leased: nobody else gets it.
    assert_eq!(claim(&h, &b, 0).await.status.as_u16(), 204);

    // Results: the first post records, a retry is a duplicate, bad posts are refused by name.
    assert_eq!(
        post_result(&h, &a, &job, &targets[0], true)
            .await
            .expect_ok(),
        json!({"duplicate": false})
    );
    assert_eq!(
        post_result(&h, &a, &job, &targets[0], true)
            .await
            .expect_ok(),
        json!({"duplicate": true})
    );
    let job_id = job["job_id"].as_str().expect("job id");
    let mut wrong = serde_json::to_value(ResultPost {
        idempotency_key: "whatever".into(),
        target_id: "t2".into(),
        host: "127.0.0.1".into(),
        record_id: None,
        outcome: outcome(LoginKind::Windows, false),
    })
    .expect("json");
    let path = format!("/api/v1/appliance/jobs/{job_id}/results");
    h.call("post", &path, Some(&a.credential), Some(wrong.clone()))
        .await
        .expect_refused(422, "result.idempotency-key");
    wrong["idempotency_key"] = json!(ResultPost::key_for(job_id, "t2", LoginKind::Windows));
    wrong["outcome"]["qid"] = json!(38307);
    h.call("post", &path, Some(&a.credential), Some(wrong.clone()))
        .await
        .expect_refused(422, "result.qid");
    wrong["outcome"]["qid"] = json!(105015);
    wrong["host"] = json!("127.0.0.9");
    h.call("post", &path, Some(&a.credential), Some(wrong.clone()))
        .await
        .expect_refused(422, "result.target-mismatch");
    wrong["target_id"] = json!("t99");
    wrong["idempotency_key"] = json!(ResultPost::key_for(job_id, "t99", LoginKind::Windows));
    h.call("post", &path, Some(&a.credential), Some(wrong))
        .await
        .expect_refused(422, "result.unknown-target");
    post_result(&h, &b, &job, &targets[1], false)
        .await
        .expect_refused(403, "job.not-yours");
    post_result(&h, &a, &job, &targets[1], false)
        .await
        .expect_ok();

    // Heartbeats extend the lease: past the first lease, it still holds.
    let hb = format!("/api/v1/appliance/jobs/{job_id}/heartbeat");
    h.clock.advance(100);
    let beat = h
        .call("post", &hb, Some(&a.credential), Some(json!({})))
        .await
        .expect_ok();
    assert_eq!(beat["cancel"], false);
    h.clock.advance(100);
    assert_eq!(claim(&h, &b, 0).await.status.as_u16(), 204);

    // An expired lease puts the unfinished targets back; the old holder is told to stop.
    h.clock
        .advance(i64::from(beat["lease_secs"].as_u64().expect("lease") as u32) + 1);
    let again = claim(&h, &b, 0).await.expect_ok();
    assert_eq!(again["job_id"], job_id);
    let rest = again["targets"].as_array().expect("targets").clone();
    assert_eq!(rest.len(), 6);
    assert!(
        rest.iter()
            .all(|t| t["target_id"] != "t1" && t["target_id"] != "t2")
    );
    let beat = h
        .call("post", &hb, Some(&a.credential), Some(json!({})))
        .await
        .expect_ok();
    assert_eq!(beat["cancel"], true);
    let shown = h
        .call("get", &format!("/api/v1/scans/{scan_id}"), Some(&sc), None)
        .await
        .expect_ok();
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["jobs"][0]["claimed_by"], b.id.as_str());
    assert_eq!(shown["jobs"][0]["claims"], 2);
    assert_eq!(shown["targets_done"], 2);

    for t in &rest {
        post_result(&h, &b, &again, t, true).await.expect_ok();
    }
    // A retried post after completion still never doubles a result.
    assert_eq!(
        post_result(&h, &b, &again, &rest[0], true)
            .await
            .expect_ok(),
        json!({"duplicate": true})
    );
    let rd = h.login("rd", PASSWORD).await;
    let shown = h
        .call("get", &format!("/api/v1/scans/{scan_id}"), Some(&rd), None)
        .await
        .expect_ok();
    assert_eq!(shown["state"], "done");
    assert_eq!(shown["jobs"][0]["state"], "done");
    let results = h
        .call(
            "get",
            &format!("/api/v1/scans/{scan_id}/results"),
            Some(&rd),
            None,
        )
        .await
        .expect_ok();
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), 8);
    assert_eq!(results[0]["host"], "127.0.0.1");
    assert_eq!(results[0]["qid"], 38307);
    assert_eq!(results[0]["facts"]["uname"], "Linux test 6.1");
    assert_eq!(results[1]["status"], "failed");
    assert_eq!(results[1]["qid"], 105015);
    assert_eq!(results[1]["login_id"], "CORP\\scan");
    assert!(
        results[1]["cause"]
            .as_str()
            .unwrap_or("")
            .contains("STATUS_LOGON_FAILURE")
    );
    assert_eq!(claim(&h, &a, 0).await.status.as_u16(), 204);
    h.call("post", &hb, Some(&b.credential), Some(json!({})))
        .await
        .expect_ok();
    h.call("get", "/api/v1/scans/999/results", Some(&rd), None)
        .await
        .expect_refused(404, "scan.unknown");

    // A scan pinned to one appliance is claimed by that appliance only.
    scan(
        &h,
        &sc,
        json!({"targets": ["127.0.0.5"], "kinds": "windows", "appliance": a.id, "ports": {"windows": 4450}}),
    )
    .await;
    assert_eq!(claim(&h, &b, 0).await.status.as_u16(), 204);
    let pinned = claim(&h, &a, 0).await.expect_ok();
    assert_eq!(pinned["targets"][0]["host"], "127.0.0.5");
    assert_eq!(pinned["targets"][0]["port"], 4450);
    h.call(
        "post",
        "/api/v1/scans",
        Some(&sc),
        Some(json!({"targets": ["127.0.0.5"], "kinds": "unix", "ports": {"unix": 0}})),
    )
    .await
    .expect_refused(422, "scan.ports");
    assert!(
        h.audit_actions(&pc)
            .await
            .contains(&"scan.created".to_string())
    );
}

fn binding() -> Binding {
    Binding {
        record_kind: "unix".into(),
        record_id: "7".into(),
        field: "password".into(),
        user: "root".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn rewrap_adds_the_new_appliance_and_nothing_else() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let a = approved(&h, &pc, "a1").await;
    let secret = b"rewrap-canary-Zx81";
    let sealed = envelope::seal(secret, &binding(), &[a.key.public_key()]).expect("seal");
    let store: &Store = &h.server.state.store;
    store
        .write(|tx| tx.put_sealed_secret("unix", "7", "password", &sealed.to_text(), T0))
        .expect("store envelope");
    // Nothing to rewrap while a is the only appliance.
    assert_eq!(
        h.call("get", "/api/v1/appliance/rewrap", Some(&a.credential), None)
            .await
            .status
            .as_u16(),
        204
    );

    let (bid, bsecret, bkey) = enroll(&h, &pc, "a2").await;
    let decided = h
        .call(
            "post",
            &format!("/api/v1/appliances/{bid}/approve"),
            Some(&pc),
            None,
        )
        .await
        .expect_ok();
    assert_eq!(decided["rewrap_pending"], 1);
    let b = Appliance {
        id: bid.clone(),
        credential: poll(&h, &bid, &bsecret).await["credential"]
            .as_str()
            .expect("credential")
            .to_string(),
        key: bkey,
    };
    // b cannot provide entries it cannot open.
    assert_eq!(
        h.call("get", "/api/v1/appliance/rewrap", Some(&b.credential), None)
            .await
            .status
            .as_u16(),
        204
    );
    let work: RewrapWork = serde_json::from_value(
        h.call("get", "/api/v1/appliance/rewrap", Some(&a.credential), None)
            .await
            .expect_ok(),
    )
    .expect("work");
    assert_eq!(work.new_appliance_id, bid);
    assert_eq!(work.items.len(), 1);
    let item = &work.items[0];
    assert_eq!(item.binding.record_id, "7");
    let new_pk: [u8; 32] = STANDARD
        .decode(&work.new_public_key)
        .expect("b64")
        .try_into()
        .expect("32 bytes");
    let old = Envelope::from_text(&item.envelope).expect("parses");
    let rewrapped =
        envelope::add_recipient(&old, &binding(), a.key.as_bytes(), &new_pk).expect("rewrap");
    let submit = |env: String| json!({"new_appliance_id": bid, "items": [{"item_id": item.item_id, "envelope": env}]});

    // Each kind of bad submission is refused naming the item, and changes nothing.
    let other_payload =
        envelope::seal(b"other", &binding(), &[a.key.public_key(), new_pk]).expect("seal");
    let rogue = PrivateKey::generate().expect("key");
    let with_rogue = envelope::add_recipient(
        &rewrapped,
        &binding(),
        a.key.as_bytes(),
        &rogue.public_key(),
    )
    .expect("rewrap");
    let only_new = envelope::seal(secret, &binding(), &[new_pk]).expect("seal");
    for (env, rule) in [
        ("ncsm1:garbage".to_string(), "rewrap.envelope-invalid"),
        (other_payload.to_text(), "rewrap.payload-changed"),
        (only_new.to_text(), "rewrap.payload-changed"),
        (sealed.to_text(), "rewrap.recipient-missing"),
        (with_rogue.to_text(), "rewrap.recipient-unknown"),
    ] {
        let r = h
            .call(
                "post",
                "/api/v1/appliance/rewrap",
                Some(&a.credential),
                Some(submit(env)),
            )
            .await;
        r.expect_refused(422, rule);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(&item.item_id)
        );
    }
    let stored = store
        .read(|tx| tx.sealed_secrets())
        .expect("read")
        .remove(0);
    assert_eq!(stored.envelope, sealed.to_text());

    let ok = h
        .call(
            "post",
            "/api/v1/appliance/rewrap",
            Some(&a.credential),
            Some(submit(rewrapped.to_text())),
        )
        .await
        .expect_ok();
    assert_eq!(ok, json!({"stored": 1, "remaining": 0}));
    // The new appliance opens the stored envelope; the payload is the original.
    let stored = store
        .read(|tx| tx.sealed_secrets())
        .expect("read")
        .remove(0);
    let env = Envelope::from_text(&stored.envelope).expect("parses");
    assert!(envelope::same_payload(&env, &sealed));
    let opened = envelope::open(&env, &binding(), b.key.as_bytes()).expect("b opens");
    assert_eq!(opened.expose(), secret);
    assert_eq!(
        h.call("get", "/api/v1/appliance/rewrap", Some(&a.credential), None)
            .await
            .status
            .as_u16(),
        204
    );
    assert!(
        h.audit_actions(&pc)
            .await
            .contains(&"appliance.rewrapped".to_string())
    );
    assert!(!contains(&db_bytes(&h), secret));
}

#[tokio::test]
async fn a_claimed_job_carries_the_matched_records_envelopes() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    let a = approved(&h, &pc, "a1").await;
    let store: &Store = &h.server.state.store;
    let record_id = "rec-unix-1".to_string();
    let bound = Binding {
        record_kind: "unix".into(),
        record_id: record_id.clone(),
        field: "password".into(),
        user: "scan".into(),
        ..Default::default()
    };
    let sealed = envelope::seal(b"material-canary", &bound, &[a.key.public_key()]).expect("seal");
    store
        .write(|tx| {
            tx.insert_record(&sealscan_control::store::RecordRow {
                id: record_id.clone(),
                kind: sealscan_protocols::appliance::RecordKind::Unix,
                title: "Linux loopback".into(),
                username: "scan".into(),
                ips: vec!["127.0.0.0/30".into()],
                login_type: sealscan_protocols::appliance::LoginType::Basic,
                vault_id: None,
                secret_name: None,
                folder: None,
                secret_id: None,
                comments: String::new(),
                unix_auth: Some(sealscan_protocols::appliance::UnixAuth::Password),
                windows: None,
                unix: None,
                migration: None,
                migration_reason: None,
                created_by: "alice".into(),
                created_at: T0,
            })?;
            tx.put_sealed_secret("unix", &record_id, "password", &sealed.to_text(), T0)
                .map(|_| ())
        })
        .expect("record stored");
    scan(
        &h,
        &pc,
        json!({"targets": ["127.0.0.1", "127.0.0.9"], "kinds": "both"}),
    )
    .await;
    // Approved after the secret was sealed and not rewrapped for yet: no job for it.
    let late = approved(&h, &pc, "late").await;
    assert_eq!(claim(&h, &late, 0).await.status.as_u16(), 204);
    let job = claim(&h, &a, 0).await.expect_ok();
    let targets = job["targets"].as_array().expect("targets");
    // 127.0.0.1 unix matches the record by IP; the rest match nothing.
    assert_eq!(targets[0]["record_id"], record_id.as_str());
    for t in &targets[1..] {
        assert!(t["record_id"].is_null(), "{t}");
    }
    let records = job["records"].as_array().expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["record_id"], record_id.as_str());
    assert_eq!(records[0]["user"], "scan");
    let secret = &records[0]["login"]["secrets"][0];
    assert_eq!(secret["field"], "password");
    assert_eq!(secret["value"]["model"], "sealed");
    // The appliance opens what it was given, bound to the record the job names.
    let env =
        Envelope::from_text(secret["value"]["envelope"].as_str().expect("text")).expect("parses");
    let opened = envelope::open(&env, &bound, a.key.as_bytes()).expect("opens");
    assert_eq!(opened.expose(), b"material-canary");
}

/// Every path routed in api/scan_routes.rs is in the endpoint table (so in the OpenAPI
/// document and the role matrix).
#[test]
fn every_scanning_route_is_in_the_endpoint_table() {
    let src = include_str!("../src/api/scan_routes.rs");
    let mut routed = Vec::new();
    for piece in src.split('"').skip(1).step_by(2) {
        let path = piece
            .replace("{app}", "/appliance")
            .replace("{{", "{")
            .replace("}}", "}");
        if path.starts_with('/') && path != "/api/v1" {
            routed.push(format!("/api/v1{path}"));
        }
    }
    assert!(routed.len() >= 14, "{routed:?}");
    let table = sealscan_control::api::openapi::ENDPOINTS;
    for path in routed {
        assert!(
            table.iter().any(|e| e.path == path),
            "{path} is routed but not in the endpoint table"
        );
    }
}

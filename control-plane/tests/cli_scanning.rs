//! Tried as a new user would: the real `sealscan-control` server binary and the `sealscan` CLI
//! for appliances and scans, with a test client standing in for the agent over real HTTPS.
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::cli::*;
use sealscan_protocols::appliance::ResultPost;
use sealscan_protocols::envelope::PrivateKey;
use sealscan_protocols::results::{Cause, LoginKind, LoginOutcome, Status, Step, qid_for};
use serde_json::{Value, json};

/// The agent's side, as a plain HTTPS client of the real server.
struct Agent {
    http: reqwest::Client,
    base: String,
    rt: tokio::runtime::Runtime,
}

impl Agent {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self
                .http
                .request(method, format!("{}/api/v1/appliance{path}", self.base))
                .json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.expect("reaches the server");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }
}

#[test]
fn appliances_and_scans_from_the_cli() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("cfg");
    let served = init_and_serve(&data);
    let ca_path = data.join("tls/cert.pem");
    login(&cfg, &served, &ca_path);

    let out = ok(&run(
        &cfg,
        &[
            "--json",
            "appliances",
            "tokens",
            "create",
            "--label",
            "rack 4",
        ],
        "",
    ));
    let token: Value = serde_json::from_str(&out).expect("json");
    let token = token["token"].as_str().expect("token").to_string();
    assert!(ok(&run(&cfg, &["appliances", "tokens", "list"], "")).contains("rack 4"));

    let pem = std::fs::read(&ca_path).expect("ca");
    let agent = Agent {
        http: reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
            .build()
            .expect("client"),
        base: served.url.clone(),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    };
    let key = PrivateKey::generate().expect("key");
    let (status, enrolled) = agent.call(
        reqwest::Method::POST,
        "/enroll",
        None,
        json!({"token": token, "name": "scanner-1", "public_key": STANDARD.encode(key.public_key())}),
    );
    assert_eq!(status, 200, "{enrolled}");
    let id = enrolled["appliance_id"].as_str().expect("id").to_string();
    let fingerprint = enrolled["fingerprint"].as_str().expect("fp").to_string();

    let listed = ok(&run(&cfg, &["appliances", "list"], ""));
    assert!(listed.contains("FINGERPRINT"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&id) && l.contains("pending") && l.contains(&fingerprint)),
        "{listed}"
    );
    let approved = ok(&run(&cfg, &["appliances", "approve", "--yes", &id], ""));
    assert!(approved.contains("is now approved"), "{approved}");
    assert!(approved.contains(&fingerprint), "{approved}");
    let (_, state) = agent.call(
        reqwest::Method::POST,
        "/enroll/poll",
        None,
        json!({"appliance_id": id, "poll_secret": enrolled["poll_secret"]}),
    );
    let credential = state["credential"]
        .as_str()
        .expect("credential")
        .to_string();

    let created = ok(&run(
        &cfg,
        &[
            "scans",
            "create",
            "127.0.0.1,127.0.0.2",
            "--kinds",
            "unix",
            "--title",
            "first",
            "--unix-port",
            "2222",
        ],
        "",
    ));
    assert!(created.contains("scan 1 queued: 2 targets"), "{created}");
    let (status, job) = agent.call(
        reqwest::Method::POST,
        "/jobs/claim",
        Some(&credential),
        json!({"wait_secs": 5}),
    );
    assert_eq!(status, 200, "{job}");
    let job_id = job["job_id"].as_str().expect("job id").to_string();
    assert_eq!(job["targets"][0]["port"], 2222);
    let running = ok(&run(&cfg, &["scans", "show", "1"], ""));
    assert!(
        running.contains("running") && running.contains(&id),
        "{running}"
    );

    for (i, t) in job["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .enumerate()
    {
        let target_id = t["target_id"].as_str().expect("id");
        let outcome = if i == 0 {
            let mut o = LoginOutcome::passed(LoginKind::Unix, "scan", "password");
            o.facts.insert("uname".into(), "Linux t1 6.1".into());
            o
        } else {
            LoginOutcome {
                kind: LoginKind::Unix,
                status: Status::Failed,
                qid: qid_for(LoginKind::Unix, Status::Failed),
                cause: Some(Cause {
                    step: Step::Authentication,
                    detail: "server offered publickey".into(),
                }),
                login_id: "scan".into(),
                method: "password".into(),
                facts: Default::default(),
            }
        };
        let post = ResultPost {
            idempotency_key: ResultPost::key_for(&job_id, target_id, LoginKind::Unix),
            target_id: target_id.into(),
            host: t["host"].as_str().expect("host").into(),
            record_id: None,
            outcome,
        };
        let (status, ack) = agent.call(
            reqwest::Method::POST,
            &format!("/jobs/{job_id}/results"),
            Some(&credential),
            serde_json::to_value(&post).expect("json"),
        );
        assert_eq!((status, ack), (200, json!({"duplicate": false})));
    }

    let list = ok(&run(&cfg, &["scans", "list"], ""));
    assert!(
        list.lines()
            .any(|l| l.contains("first") && l.contains("done") && l.contains("2/2")),
        "{list}"
    );
    let results = ok(&run(&cfg, &["scans", "results", "1"], ""));
    for needle in [
        "TARGET",
        "QID",
        "LOGIN ID",
        "FACTS",
        "127.0.0.1",
        "38307",
        "uname=Linux t1 6.1",
        "105053",
        "server offered publickey",
    ] {
        assert!(results.contains(needle), "{needle} missing from\n{results}");
    }
    let json_results: Value =
        serde_json::from_str(&ok(&run(&cfg, &["--json", "scans", "results", "1"], "")))
            .expect("json");
    assert_eq!(json_results.as_array().map(Vec::len), Some(2));

    ok(&run(
        &cfg,
        &["appliances", "revoke", &id, "--reason", "retired"],
        "",
    ));
    assert!(ok(&run(&cfg, &["appliances", "list"], "")).contains("revoked"));
    let (status, _) = agent.call(
        reqwest::Method::POST,
        "/jobs/claim",
        Some(&credential),
        json!({"wait_secs": 0}),
    );
    assert_eq!(status, 401);
    let refused = run(&cfg, &["appliances", "approve", "--yes", &id], "");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("appliance.state"));
}

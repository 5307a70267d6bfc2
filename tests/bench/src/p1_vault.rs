//! P1: Secret Server requests for one job of N targets sharing one secret, through
//! sealscan-vault, beside the reference client's per-target pattern (a token, a lookup and a
//! fetch for every target), both counted from the simulator's own request log.

use std::sync::Arc;
use std::time::Instant;

use sealscan_vault::{
    Api, JobLabel, Limits, SecretBytes, SecretRef, SecretServer, TlsSettings, VaultConnector,
    VaultRecord, VaultSession,
};
use secret_server_sim::{LoggedRequest, Seed, Sim, SimConfig};

use crate::report::{Row, Verdict};

const SERVICE_USER: &str = "svc-bench";
// A throwaway account of the simulator seeded below, not a real credential.
const SERVICE_PASSWORD: &str = "Bench-svc-pw-1!";
const SECRET_NAME: &str = "bench-shared";
const TARGET: &str = "1 token + 1 lookup + 1 fetch (+1 revoke)";

pub fn run(sizes: &[usize]) -> Result<Vec<Row>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(measure(sizes))
}

async fn measure(sizes: &[usize]) -> Result<Vec<Row>, String> {
    let mut config = SimConfig::new(seed()?);
    config.tls = true;
    let sim = secret_server_sim::start(config)
        .await
        .map_err(|e| format!("Secret Server simulator did not start: {e}"))?;
    let mut rows = Vec::new();
    for &n in sizes {
        sim.clear_requests();
        let started = Instant::now();
        ours(&sim, n).await?;
        let ours_ms = started.elapsed().as_secs_f64() * 1000.0;
        let ours_log = sim.requests();

        sim.clear_requests();
        let started = Instant::now();
        per_target_client(&sim, n).await?;
        let base_ms = started.elapsed().as_secs_f64() * 1000.0;
        let base_log = sim.requests();

        let (token, lookup, fetch, revoke) = breakdown(&ours_log);
        let pass = token == 1 && lookup == 1 && fetch == 1 && revoke <= 1 && ours_log.len() <= 4;
        let row = Row::new(
            format!("P1 N={n}"),
            format!(
                "{} req ({token}+{lookup}+{fetch}+{revoke}) {ours_ms:.0} ms",
                ours_log.len()
            ),
            format!("{} req ({}/target) {base_ms:.0} ms", base_log.len(), 3),
            TARGET,
            if pass { Verdict::Pass } else { Verdict::Miss },
        );
        row.print();
        rows.push(row);
    }
    sim.shutdown().await;
    Ok(rows)
}

fn seed() -> Result<Seed, String> {
    let json = serde_json::json!({
        "users": [{"username": SERVICE_USER, "password": SERVICE_PASSWORD, "domain": null}],
        "folders": [{"id": 2, "name": "Unix", "parentId": null}],
        "secrets": [
            {"id": 11, "name": SECRET_NAME, "folderId": 2, "template": "Unix Account (SSH)",
             "fields": {"username": "scanuser", "password": "bench-target-pw"},
             "readers": [SERVICE_USER]}
        ]
    });
    Seed::from_json(&json.to_string()).map_err(|e| format!("simulator seed: {e}"))
}

/// One job: one session, N targets asking for the same secret at once, then the job's end.
async fn ours(sim: &Sim, n: usize) -> Result<(), String> {
    let record = VaultRecord {
        url: sim.base_url(),
        username: SERVICE_USER.into(),
        password: SecretBytes::copy_from(SERVICE_PASSWORD.as_bytes()),
        domain: None,
        organization: None,
        tls: TlsSettings {
            verify: true,
            ca_bundle_pem: sim.ca_pem(),
        },
        api: Api::Rest,
    };
    let connector = SecretServer {
        limits: Limits::default(),
    };
    let session = Arc::new(
        connector
            .open_session(record, &JobLabel::new(format!("bench-p1-{n}")))
            .map_err(|e| format!("vault session: {e}"))?,
    );
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let session = Arc::clone(&session);
        tasks.push(tokio::spawn(async move {
            session
                .credential(&SecretRef::named(SECRET_NAME))
                .await
                .map(|c| c.password.is_some())
        }));
    }
    for task in tasks {
        match task.await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err("sealscan-vault returned no password".into()),
            Ok(Err(e)) => return Err(format!("sealscan-vault fetch failed: {e}")),
            Err(e) => return Err(format!("fetch task failed: {e}")),
        }
    }
    session.finish().await;
    Ok(())
}

/// The reference client's pattern: every target logs in, looks the secret up by name and
/// fetches it, on its own. One HTTP client (connection reuse) is the most generous reading.
async fn per_target_client(sim: &Sim, n: usize) -> Result<(), String> {
    let mut builder = reqwest::Client::builder();
    if let Some(pem) = sim.ca_pem() {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("simulator CA: {e}"))?;
        builder = builder.add_root_certificate(ca);
    }
    let client = builder
        .build()
        .map_err(|e| format!("reqwest client: {e}"))?;
    let base = sim.base_url();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let client = client.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(
            async move { one_target(&client, &base).await },
        ));
    }
    for task in tasks {
        task.await.map_err(|e| format!("baseline task: {e}"))??;
    }
    Ok(())
}

async fn one_target(client: &reqwest::Client, base: &str) -> Result<(), String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", SERVICE_USER)
        .append_pair("password", SERVICE_PASSWORD)
        .finish();
    let token: serde_json::Value = client
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("baseline token request: {e}"))?
        .json()
        .await
        .map_err(|e| format!("baseline token body: {e}"))?;
    let bearer = token
        .get("access_token")
        .and_then(|t| t.as_str())
        .ok_or("baseline token response has no access_token")?;
    let found: serde_json::Value = client
        .get(format!("{base}/api/v1/secrets"))
        .query(&[
            ("filter.searchText", SECRET_NAME),
            ("filter.isExactMatch", "true"),
            ("take", "50"),
        ])
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| format!("baseline lookup: {e}"))?
        .json()
        .await
        .map_err(|e| format!("baseline lookup body: {e}"))?;
    let id = found
        .get("records")
        .and_then(|r| r.as_array())
        .and_then(|r| r.first())
        .and_then(|r| r.get("id"))
        .and_then(|id| id.as_i64())
        .ok_or("baseline lookup found no secret")?;
    let secret = client
        .get(format!("{base}/api/v1/secrets/{id}"))
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| format!("baseline fetch: {e}"))?;
    if !secret.status().is_success() {
        return Err(format!("baseline fetch answered {}", secret.status()));
    }
    Ok(())
}

fn breakdown(log: &[LoggedRequest]) -> (usize, usize, usize, usize) {
    let count = |method: &str, path: &str| {
        log.iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    };
    (
        count("POST", "/oauth2/token"),
        count("GET", "/api/v1/secrets"),
        count("GET", "/api/v1/secrets/11"),
        count("POST", "/api/v1/oauth-expiration"),
    )
}

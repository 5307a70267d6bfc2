//! `sealscan appliances ...` and `sealscan scans ...`: enrollment tokens, approvals with the
//! key fingerprints to compare out of band, scans and their results tables.
use super::{Ctx, Failure, R, enc, print_kv, print_table};
use crate::untyped::s;
use sealscan_api::dates::rfc3339;
use sealscan_cli::args::scanning::{AppliancesCmd, ScansCmd, TokensCmd};
use serde_json::{Value, json};

fn time(v: &Value) -> String {
    v.as_i64().map(rfc3339).unwrap_or_else(|| "-".into())
}

fn rows(v: &Value, f: impl Fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn print_appliances(v: &Value) {
    print_table(
        &[
            "id",
            "name",
            "state",
            "fingerprint",
            "enrolled",
            "last seen",
        ],
        rows(v, |a| {
            vec![
                s(&a["id"]),
                s(&a["name"]),
                s(&a["state"]),
                s(&a["fingerprint"]),
                time(&a["enrolled_at"]),
                time(&a["last_seen_at"]),
            ]
        }),
    );
}

pub async fn appliances(ctx: &Ctx, cmd: AppliancesCmd) -> R<()> {
    match cmd {
        AppliancesCmd::Tokens {
            cmd:
                TokensCmd::Create {
                    label,
                    expires_hours,
                },
        } => {
            let v = ctx
                .call_value(
                    "POST",
                    "/appliances/tokens",
                    Some(json!({"label": label, "expires_in_hours": expires_hours})),
                )
                .await?;
            ctx.out(&v, |v| {
                println!("enrollment token (shown once): {}", s(&v["token"]));
                println!("expires: {}", time(&v["expires_at"]));
                println!(
                    "on the appliance: sealscan-agent enroll --token <token>; then compare fingerprints and approve"
                );
            });
        }
        AppliancesCmd::Tokens {
            cmd: TokensCmd::List,
        } => {
            let v = ctx.call_value("GET", "/appliances/tokens", None).await?;
            ctx.out(&v, |v| {
                print_table(
                    &[
                        "label",
                        "created by",
                        "created",
                        "expires",
                        "used",
                        "appliance",
                    ],
                    rows(v, |t| {
                        vec![
                            s(&t["label"]),
                            s(&t["created_by"]),
                            time(&t["created_at"]),
                            time(&t["expires_at"]),
                            time(&t["used_at"]),
                            s(&t["appliance_id"]),
                        ]
                    }),
                )
            });
        }
        AppliancesCmd::List => {
            let v = ctx.call_value("GET", "/appliances", None).await?;
            ctx.out(&v, print_appliances);
        }
        AppliancesCmd::Approve { id, yes } => {
            if !yes {
                confirm_approval(ctx, &id).await?;
            }
            decide(ctx, &id, "approve", None).await?
        }
        AppliancesCmd::Reject { id, reason } => decide(ctx, &id, "reject", reason).await?,
        AppliancesCmd::Revoke { id, reason } => decide(ctx, &id, "revoke", reason).await?,
    }
    Ok(())
}

/// Shows the key fingerprint the approval trusts and asks before approving.
async fn confirm_approval(ctx: &Ctx, id: &str) -> R<()> {
    let list = ctx.call_value("GET", "/appliances", None).await?;
    let found = list
        .as_array()
        .or_else(|| list["appliances"].as_array())
        .and_then(|all| all.iter().find(|a| a["id"].as_str() == Some(id)).cloned());
    let Some(a) = found else {
        return Err(Failure(format!(
            "no appliance has the id {id:?} (see `sealscan appliances list`)"
        )));
    };
    eprintln!(
        "appliance {} ({}) is {}; key fingerprint:\n  {}\ncompare it with `sealscan-agent fingerprint` on the appliance.",
        s(&a["name"]),
        s(&a["id"]),
        s(&a["state"]),
        s(&a["fingerprint"])
    );
    ctx.confirm(
        "Approve it, trusting this key with the secrets sealed to appliances?",
        "not approved (answer y to approve; --yes skips the question in scripts)",
    )
}

async fn decide(ctx: &Ctx, id: &str, verb: &str, reason: Option<String>) -> R<()> {
    let body = (verb != "approve").then(|| json!({"reason": reason}));
    let v = ctx
        .call_value("POST", &format!("/appliances/{}/{verb}", enc(id)), body)
        .await?;
    ctx.out(&v, |v| {
        let a = &v["appliance"];
        println!(
            "appliance {} ({}) is now {}",
            s(&a["name"]),
            s(&a["id"]),
            s(&a["state"])
        );
        println!("key fingerprint: {}", s(&a["fingerprint"]));
        if verb == "approve" {
            println!("compare it with `sealscan-agent fingerprint` on the appliance; revoke at once if it differs");
            if v["rewrap_pending"].as_u64().unwrap_or(0) > 0 {
                println!(
                    "{} sealed secrets await a rewrap by an approved appliance",
                    s(&v["rewrap_pending"])
                );
            }
        }
    });
    Ok(())
}

fn print_scans(v: &Value) {
    print_table(
        &[
            "id",
            "title",
            "state",
            "done",
            "kinds",
            "appliance",
            "created",
            "by",
        ],
        rows(v, |sc| {
            vec![
                s(&sc["id"]),
                s(&sc["title"]),
                match sc["waiting"].as_str() {
                    Some(_) => format!("{} (waiting)", s(&sc["state"])),
                    None => s(&sc["state"]),
                },
                format!("{}/{}", s(&sc["targets_done"]), s(&sc["targets_total"])),
                s(&sc["kinds"]),
                sc["appliance"].as_str().unwrap_or("any").to_string(),
                time(&sc["created_at"]),
                s(&sc["created_by"]),
            ]
        }),
    );
}

fn print_scan(v: &Value) {
    print_kv(&json!({
        "id": v["id"], "title": v["title"], "state": v["state"],
        "targets": v["targets"].as_array().map(|t| t.iter().map(s).collect::<Vec<_>>().join(", ")),
        "kinds": v["kinds"], "appliance": v["appliance"].as_str().unwrap_or("any"),
        "progress": format!("{}/{} targets", s(&v["targets_done"]), s(&v["targets_total"])),
        "created": time(&v["created_at"]), "created_by": v["created_by"],
        "completed": time(&v["completed_at"]),
    }));
    println!();
    print_table(
        &["job", "state", "appliance", "claims", "lease until", "done"],
        rows(&v["jobs"], |j| {
            vec![
                s(&j["id"]),
                s(&j["state"]),
                s(&j["claimed_by"]),
                s(&j["claims"]),
                time(&j["lease_expires_at"]),
                format!("{}/{}", s(&j["targets_done"]), s(&j["targets_total"])),
            ]
        }),
    );
    for j in v["jobs"].as_array().into_iter().flatten() {
        let w = &j["waiting"];
        if w.is_null() {
            continue;
        }
        println!();
        println!("job {} is {}", s(&j["id"]), s(&w["reason"]));
        let held: Vec<Vec<String>> = rows(&w["targets"], |t| {
            vec![s(&t["host"]), s(&t["kind"]), s(&t["reason"])]
        });
        if !held.is_empty() {
            print_table(&["target", "kind", "waiting because"], held);
        }
    }
}

fn facts(v: &Value) -> String {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "-".into())
}

fn print_results(v: &Value) {
    print_table(
        &[
            "target", "kind", "status", "qid", "cause", "login id", "method", "facts",
        ],
        rows(v, |r| {
            vec![
                s(&r["host"]),
                s(&r["kind"]),
                s(&r["status"]),
                s(&r["qid"]),
                s(&r["cause"]),
                s(&r["login_id"]),
                s(&r["method"]),
                facts(&r["facts"]),
            ]
        }),
    );
}

pub async fn scans(ctx: &Ctx, cmd: ScansCmd) -> R<()> {
    match cmd {
        ScansCmd::Create {
            targets,
            kinds,
            appliance,
            title,
            unix_port,
            windows_port,
        } => {
            // "a,b c" and "a b c" both work.
            let targets: Vec<String> = targets
                .iter()
                .flat_map(|t| t.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if targets.is_empty() {
                return Err(Failure("name at least one target".into()));
            }
            let v = ctx
                .call_value(
                    "POST",
                    "/scans",
                    Some(json!({
                        "targets": targets, "kinds": kinds, "appliance": appliance, "title": title,
                        "ports": {"unix": unix_port, "windows": windows_port},
                    })),
                )
                .await?;
            ctx.out(&v, |v| {
                println!(
                    "scan {} queued: {} targets",
                    s(&v["id"]),
                    s(&v["targets_total"])
                );
            });
        }
        ScansCmd::List => {
            let v = ctx.call_value("GET", "/scans", None).await?;
            ctx.out(&v, print_scans);
        }
        ScansCmd::Show { id } => {
            let v = ctx
                .call_value("GET", &format!("/scans/{}", enc(&id)), None)
                .await?;
            ctx.out(&v, print_scan);
        }
        ScansCmd::Results { id } => {
            let v = ctx
                .call_value("GET", &format!("/scans/{}/results", enc(&id)), None)
                .await?;
            ctx.out(&v, print_results);
        }
    }
    Ok(())
}

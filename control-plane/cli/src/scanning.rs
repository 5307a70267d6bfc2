//! `sealscan appliances ...` and `sealscan scans ...`: enrollment tokens, approvals with the
//! key fingerprints to compare out of band, scans and their results tables.
use super::{Ctx, Failure, R, name, print_kv, print_table, s};
use sealscan_api::appliances::{
    ApplianceView, Decided, DecisionRequest, EnrollmentToken, TokenCreated, TokenRequest,
};
use sealscan_api::dates::rfc3339;
use sealscan_api::scans::{ResultView, ScanPorts, ScanRequest, ScanView};
use sealscan_cli::args::scanning::{AppliancesCmd, ScansCmd, TokensCmd};
use serde::Serialize;

fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), rfc3339)
}

fn print_appliances(list: &[ApplianceView]) {
    print_table(
        &[
            "id",
            "name",
            "state",
            "fingerprint",
            "enrolled",
            "last seen",
        ],
        list.iter()
            .map(|a| {
                vec![
                    a.id.clone(),
                    a.name.clone(),
                    a.state.as_str().to_string(),
                    a.fingerprint.clone(),
                    rfc3339(a.enrolled_at),
                    time(a.last_seen_at),
                ]
            })
            .collect(),
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
            let body = TokenRequest {
                label,
                expires_in_hours: expires_hours,
            };
            let v: TokenCreated = ctx.api()?.create_enrollment_token(&body).await?;
            ctx.out(&v, |v| {
                println!("enrollment token (shown once): {}", v.token);
                println!("expires: {}", rfc3339(v.expires_at));
                println!(
                    "on the appliance: sealscan-agent enroll --token <token>; then compare fingerprints and approve"
                );
            });
        }
        AppliancesCmd::Tokens {
            cmd: TokensCmd::List,
        } => {
            let v: Vec<EnrollmentToken> = ctx.api()?.enrollment_tokens().await?;
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
                    v.iter()
                        .map(|t| {
                            vec![
                                t.label.clone(),
                                t.created_by.clone(),
                                rfc3339(t.created_at),
                                rfc3339(t.expires_at),
                                time(t.used_at),
                                s(t.appliance_id.as_deref()),
                            ]
                        })
                        .collect(),
                )
            });
        }
        AppliancesCmd::List => {
            let v: Vec<ApplianceView> = ctx.api()?.appliances().await?;
            ctx.out(&v, |v| print_appliances(v));
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
    let list: Vec<ApplianceView> = ctx.api()?.appliances().await?;
    let Some(a) = list.into_iter().find(|a| a.id == id) else {
        return Err(Failure(format!(
            "no appliance has the id {id:?} (see `sealscan appliances list`)"
        )));
    };
    eprintln!(
        "appliance {} ({}) is {}; key fingerprint:\n  {}\ncompare it with `sealscan-agent fingerprint` on the appliance.",
        a.name,
        a.id,
        a.state.as_str(),
        a.fingerprint
    );
    ctx.confirm(
        "Approve it, trusting this key with the secrets sealed to appliances?",
        "not approved (answer y to approve; --yes skips the question in scripts)",
    )
}

async fn decide(ctx: &Ctx, id: &str, verb: &str, reason: Option<String>) -> R<()> {
    let api = ctx.api()?;
    let why = DecisionRequest { reason };
    let v: Decided = match verb {
        "approve" => api.approve_appliance(id).await?,
        "reject" => api.reject_appliance(id, &why).await?,
        _ => api.revoke_appliance(id, &why).await?,
    };
    ctx.out(&v, |v| {
        let a = &v.appliance;
        println!(
            "appliance {} ({}) is now {}",
            a.name,
            a.id,
            a.state.as_str()
        );
        println!("key fingerprint: {}", a.fingerprint);
        if verb == "approve" {
            println!("compare it with `sealscan-agent fingerprint` on the appliance; revoke at once if it differs");
            if v.rewrap_pending > 0 {
                println!(
                    "{} sealed secrets await a rewrap by an approved appliance",
                    v.rewrap_pending
                );
            }
        }
    });
    Ok(())
}

fn print_scans(list: &[ScanView]) {
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
        list.iter()
            .map(|sc| {
                vec![
                    sc.id.clone(),
                    sc.title.clone(),
                    match sc.waiting {
                        Some(_) => format!("{} (waiting)", name(&sc.state)),
                        None => name(&sc.state),
                    },
                    format!("{}/{}", sc.targets_done, sc.targets_total),
                    sc.kinds.clone(),
                    sc.appliance.clone().unwrap_or_else(|| "any".into()),
                    rfc3339(sc.created_at),
                    sc.created_by.clone(),
                ]
            })
            .collect(),
    );
}

/// The `scans show` summary above the jobs table.
#[derive(Serialize)]
struct ScanSummary<'a> {
    id: &'a str,
    title: &'a str,
    state: String,
    targets: String,
    kinds: &'a str,
    appliance: &'a str,
    progress: String,
    created: String,
    created_by: &'a str,
    completed: String,
}

fn print_scan(v: &ScanView) {
    print_kv(&ScanSummary {
        id: &v.id,
        title: &v.title,
        state: name(&v.state),
        targets: v.targets.join(", "),
        kinds: &v.kinds,
        appliance: v.appliance.as_deref().unwrap_or("any"),
        progress: format!("{}/{} targets", v.targets_done, v.targets_total),
        created: rfc3339(v.created_at),
        created_by: &v.created_by,
        completed: time(v.completed_at),
    });
    println!();
    print_table(
        &["job", "state", "appliance", "claims", "lease until", "done"],
        v.jobs
            .iter()
            .map(|j| {
                vec![
                    j.id.clone(),
                    j.state.clone(),
                    s(j.claimed_by.as_deref()),
                    j.claims.to_string(),
                    time(j.lease_expires_at),
                    format!("{}/{}", j.targets_done, j.targets_total),
                ]
            })
            .collect(),
    );
    for j in &v.jobs {
        let Some(w) = &j.waiting else {
            continue;
        };
        println!();
        println!("job {} is {}", j.id, w.reason);
        let held: Vec<Vec<String>> = w
            .targets
            .iter()
            .map(|t| vec![t.host.clone(), name(&t.kind), t.reason.clone()])
            .collect();
        if !held.is_empty() {
            print_table(&["target", "kind", "waiting because"], held);
        }
    }
}

fn facts(r: &ResultView) -> String {
    if r.facts.is_empty() {
        return "-".into();
    }
    r.facts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_results(list: &[ResultView]) {
    print_table(
        &[
            "target", "kind", "status", "qid", "cause", "login id", "method", "facts",
        ],
        list.iter()
            .map(|r| {
                vec![
                    r.host.clone(),
                    name(&r.kind),
                    name(&r.status),
                    r.qid.to_string(),
                    s(r.cause.as_deref()),
                    r.login_id.clone(),
                    r.method.clone(),
                    facts(r),
                ]
            })
            .collect(),
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
            let body = ScanRequest {
                title,
                targets,
                kinds,
                appliance,
                ports: Some(ScanPorts {
                    unix: unix_port,
                    windows: windows_port,
                }),
            };
            let v: ScanView = ctx.api()?.create_scan(&body).await?;
            ctx.out(&v, |v| {
                println!("scan {} queued: {} targets", v.id, v.targets_total);
            });
        }
        ScansCmd::List => {
            let v: Vec<ScanView> = ctx.api()?.scans().await?;
            ctx.out(&v, |v| print_scans(v));
        }
        ScansCmd::Show { id } => {
            let v: ScanView = ctx.api()?.scan(&id).await?;
            ctx.out(&v, print_scan);
        }
        ScansCmd::Results { id } => {
            let v: Vec<ResultView> = ctx.api()?.scan_results(&id).await?;
            ctx.out(&v, |v| print_results(v));
        }
    }
    Ok(())
}

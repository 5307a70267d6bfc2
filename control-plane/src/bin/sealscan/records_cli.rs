//! `sealscan records|vaults|ncsm`: records are sealed here, on the client, once NCSM is
//! active: the approved appliances' keys are fetched and shown by fingerprint, secrets are read
//! from a prompt or stdin into zeroizing buffers, and only envelopes leave this process. Before
//! activation (legacy model) the secret travels to the server over TLS.
use super::{Ctx, Failure, R, print_kv, print_table, s};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sealscan_control::cli::operator::records::{
    CreateRecordArgs, NcsmCmd, RecordsCmd, UnixArgs, UpdateRecordArgs, UpdateVaultArgs, VaultsCmd,
};
use sealscan_protocols::appliance::{SecretFieldName, SecretValue, WireSecret};
use sealscan_protocols::envelope::{self, Binding};
use serde_json::{Value, json};
use std::io::Write;
use zeroize::Zeroizing;

fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}-{}", hex::encode(b))
}

/// The approved appliances' keys, shown by fingerprint before anything is sealed to them.
async fn recipients(ctx: &Ctx) -> R<Vec<[u8; 32]>> {
    let v = ctx.call("GET", "/ncsm/recipients", None).await?;
    let list = v["recipients"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return Err(Failure(
            "no approved appliance to seal to; approve one first (sealscan appliances approve)"
                .into(),
        ));
    }
    eprintln!("sealing to {} approved appliance(s):", list.len());
    let mut keys = Vec::with_capacity(list.len());
    for a in &list {
        eprintln!("  {}  {}", s(&a["name"]), s(&a["fingerprint"]));
        let raw = STANDARD
            .decode(a["public_key"].as_str().unwrap_or(""))
            .map_err(|_| Failure("the server sent a malformed appliance key".into()))?;
        let key: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| Failure("the server sent an appliance key that is not 32 bytes".into()))?;
        keys.push(key);
    }
    Ok(keys)
}

async fn ncsm_active(ctx: &Ctx) -> R<bool> {
    let v = ctx.call("GET", "/ncsm", None).await?;
    Ok(v["state"].as_str().unwrap_or("off") != "off")
}

/// One secret as the server takes it: an envelope when sealing, else the legacy value.
fn secret_value(plain: &[u8], binding: Option<(&Binding, &[[u8; 32]])>) -> R<Value> {
    let value = match binding {
        Some((b, keys)) => SecretValue::Sealed {
            envelope: envelope::seal(plain, b, keys)
                .map_err(|e| Failure(format!("sealing failed: {e}")))?
                .to_text(),
        },
        None => SecretValue::Legacy {
            value: WireSecret::new(plain),
        },
    };
    serde_json::to_value(&value).map_err(|e| Failure(e.to_string()))
}

pub async fn records(ctx: &Ctx, cmd: RecordsCmd) -> R<()> {
    match cmd {
        RecordsCmd::List => {
            let v = ctx.call("GET", "/records", None).await?;
            ctx.out(&v, |v| {
                let rows = v["records"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        vec![
                            s(&r["id"]),
                            s(&r["kind"]),
                            s(&r["title"]),
                            s(&r["username"]),
                            r["ips"]
                                .as_array()
                                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(","))
                                .filter(|x| !x.is_empty())
                                .unwrap_or_else(|| "service-selected".into()),
                            s(&r["login_type"]),
                            s(&r["vault_id"]),
                            s(&r["secret"]),
                            secrets_cell(&r["secrets"]),
                            if r["pending_migration"] == true {
                                "PENDING MIGRATION".into()
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "id", "kind", "title", "user", "ips", "login", "vault", "secret",
                        "secrets", "ncsm",
                    ],
                    rows,
                );
            });
        }
        RecordsCmd::Unit { id, unit, none: _ } => set_unit(ctx, "records", &id, unit).await?,
        RecordsCmd::Show { id } => {
            let v = ctx
                .call("GET", &format!("/records/{}", super::enc(&id)), None)
                .await?;
            ctx.out(&v, print_kv);
        }
        RecordsCmd::Delete { id } => {
            let v = ctx
                .call("DELETE", &format!("/records/{}", super::enc(&id)), None)
                .await?;
            ctx.out(&v, |_| println!("deleted record {id}"));
        }
        RecordsCmd::Create(a) => create_record(ctx, *a).await?,
        RecordsCmd::Update(a) => update_record(ctx, *a).await?,
    }
    Ok(())
}

fn secrets_cell(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| format!("{}({})", s(&x["field"]), s(&x["model"])))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

async fn create_record(ctx: &Ctx, a: CreateRecordArgs) -> R<()> {
    let sealed = ncsm_active(ctx).await?;
    let keys = if sealed && a.login_type == "basic" {
        Some(recipients(ctx).await?)
    } else {
        None
    };
    let id = new_id("r");
    // Only a Windows record of a domain type other than none carries a domain, as stored.
    let local = a.kind != "windows" || a.domain_type == "none";
    let binding = |field: SecretFieldName| {
        Binding::for_record(&a.kind, &id, field, &a.user, a.domain.as_deref(), local)
    };
    let mut secrets = Vec::new();
    if a.login_type == "basic" {
        let mut add = |field: SecretFieldName, plain: &[u8]| -> R<()> {
            let b = binding(field);
            let value = secret_value(plain, keys.as_deref().map(|k| (&b, k)))?;
            secrets.push(json!({"field": field.as_str(), "value": value}));
            Ok(())
        };
        match &a.private_key_file {
            Some(path) if a.kind == "unix" => {
                let pem = Zeroizing::new(std::fs::read(path).map_err(|e| {
                    Failure(format!(
                        "cannot read the private key {}: {e}",
                        path.display()
                    ))
                })?);
                add(SecretFieldName::PrivateKey, &pem)?;
                if a.passphrase {
                    let p = ctx.new_secret("Passphrase of the private key: ")?;
                    add(SecretFieldName::Passphrase, p.expose().as_bytes())?;
                }
            }
            Some(_) => {
                return Err(Failure("--private-key-file is for Unix records".into()));
            }
            None => {
                let p = ctx.new_secret(&format!("Password of {}: ", a.user))?;
                add(SecretFieldName::Password, p.expose().as_bytes())?;
            }
        }
        if let Some(prompt) = delegation_prompt(
            a.unix.delegation.as_deref(),
            a.unix.delegation_password.as_deref(),
            &a.user,
        ) {
            let p = ctx.new_secret(&prompt)?;
            add(SecretFieldName::DelegationPassword, p.expose().as_bytes())?;
        }
    }
    let mut body = json!({
        "id": id, "kind": a.kind, "title": a.title, "user": a.user, "ips": a.ips,
        "login_type": a.login_type, "comments": a.comments, "secrets": secrets,
    });
    if a.private_key_file.is_some() {
        body["unix_auth"] = json!("private_key");
    }
    if a.login_type == "vault" {
        body["vault_id"] = json!(a.vault);
        put(
            &mut body,
            "secret_name",
            a.secret_name.clone().map(Value::from),
        );
        put(&mut body, "folder", a.folder.clone().map(Value::from));
        put(&mut body, "secret_id", a.secret_id.map(Value::from));
        put(
            &mut body,
            "secret_path",
            a.secret_path.clone().map(Value::from),
        );
    }
    put(
        &mut body,
        "unix_auth",
        a.secret_auth.clone().map(Value::from),
    );
    put(&mut body, "unix", unix_options(&a.unix)?);
    if a.kind == "windows" {
        body["windows"] = json!({
            "domain_type": a.domain_type, "domain": a.domain,
            "service_selected": a.service_selected, "require_signing": a.require_signing,
            "min_smb_version": a.min_smb_version,
        });
    }
    let v = ctx.call("POST", "/records", Some(body)).await?;
    ctx.out(&v, |v| {
        println!(
            "created {} record {} ({}), secrets {}",
            s(&v["kind"]),
            s(&v["id"]),
            s(&v["title"]),
            if sealed {
                "sealed on this machine"
            } else {
                "sent over TLS (legacy model)"
            }
        );
    });
    Ok(())
}

pub async fn vaults(ctx: &Ctx, cmd: VaultsCmd) -> R<()> {
    match cmd {
        VaultsCmd::List => {
            let v = ctx.call("GET", "/vaults", None).await?;
            ctx.out(&v, |v| {
                let rows = v["vaults"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|x| {
                        vec![
                            s(&x["id"]),
                            s(&x["title"]),
                            s(&x["url"]),
                            s(&x["username"]),
                            s(&x["verify_tls"]),
                            secrets_cell(&x["secrets"]),
                            x["secret_refs"]
                                .as_array()
                                .map(|a| {
                                    a.iter()
                                        .map(|r| {
                                            format!("{}: {}", s(&r["record"]), s(&r["secret"]))
                                        })
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                })
                                .filter(|x| !x.is_empty())
                                .unwrap_or_else(|| "-".into()),
                            if x["pending_migration"] == true {
                                "PENDING MIGRATION".into()
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "id",
                        "title",
                        "url",
                        "user",
                        "verify tls",
                        "secrets",
                        "records: secret",
                        "ncsm",
                    ],
                    rows,
                );
            });
        }
        VaultsCmd::Unit { id, unit, none: _ } => set_unit(ctx, "vaults", &id, unit).await?,
        VaultsCmd::Show { id } => {
            let v = ctx
                .call("GET", &format!("/vaults/{}", super::enc(&id)), None)
                .await?;
            ctx.out(&v, print_kv);
        }
        VaultsCmd::Delete { id } => {
            let v = ctx
                .call("DELETE", &format!("/vaults/{}", super::enc(&id)), None)
                .await?;
            ctx.out(&v, |_| println!("deleted vault {id}"));
        }
        VaultsCmd::Update(a) => update_vault(ctx, *a).await?,
        VaultsCmd::Create(a) => {
            let sealed = ncsm_active(ctx).await?;
            let keys = if sealed {
                Some(recipients(ctx).await?)
            } else {
                None
            };
            let id = new_id("v");
            let url = a.url.trim().to_string();
            let ca_pem = match &a.ca_file {
                Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                    Failure(format!("cannot read the CA bundle {}: {e}", p.display()))
                })?),
                None => None,
            };
            let domain = a.domain.clone().filter(|d| !d.is_empty());
            let b = Binding::for_vault(&id, &a.user, domain.as_deref(), &url);
            let p = ctx.new_secret(&format!("Web-service password of {}: ", a.user))?;
            let password = secret_value(p.expose().as_bytes(), keys.as_deref().map(|k| (&b, k)))?;
            drop(p);
            let body = json!({
                "id": id, "title": a.title, "url": url, "user": a.user, "domain": domain,
                "organization": a.organization, "verify_tls": !a.no_verify_tls, "ca_pem": ca_pem,
                "api": a.api, "comments": a.comments, "password": password,
            });
            let v = ctx.call("POST", "/vaults", Some(body)).await?;
            ctx.out(&v, |v| {
                println!("created vault {} ({})", s(&v["id"]), s(&v["title"]))
            });
        }
    }
    Ok(())
}

fn bar(done: i64, total: i64) -> String {
    let width = 30usize;
    let filled = if total > 0 {
        usize::try_from(done.clamp(0, total) * width as i64 / total).unwrap_or(0)
    } else {
        width
    };
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        "-".repeat(width - filled)
    )
}

fn print_status(v: &Value) {
    println!(
        "NCSM: {} (enabled by the operator: {})",
        s(&v["state"]),
        s(&v["enabled"])
    );
    println!(
        "to migrate: {} record(s), {} vault(s); migrated: {}",
        s(&v["to_migrate"]["records"]),
        s(&v["to_migrate"]["vaults"]),
        s(&v["migrated"])
    );
    let pending = v["pending"].as_array().cloned().unwrap_or_default();
    if !pending.is_empty() && v["state"] != "off" {
        println!("pending migration:");
        print_table(
            &["kind", "id", "title", "reason"],
            pending
                .iter()
                .map(|p| vec![s(&p["kind"]), s(&p["id"]), s(&p["title"]), s(&p["reason"])])
                .collect(),
        );
    }
}

pub async fn ncsm(ctx: &Ctx, cmd: NcsmCmd) -> R<()> {
    let path = match cmd {
        NcsmCmd::Status => {
            let v = ctx.call("GET", "/ncsm", None).await?;
            ctx.out(&v, print_status);
            return Ok(());
        }
        NcsmCmd::Start { yes } => {
            if !yes {
                let v = ctx.call("GET", "/ncsm", None).await?;
                eprintln!(
                    "NCSM moves {} record(s) and {} vault(s) into envelopes sealed to the {} approved appliance(s) and destroys their legacy ciphertext; it cannot be turned off, and records cannot change until the migration completes.",
                    s(&v["to_migrate"]["records"]),
                    s(&v["to_migrate"]["vaults"]),
                    s(&v["approved_appliances"])
                );
                ctx.confirm(
                    "Start the migration?",
                    "not started (answer y to start; --yes skips the question in scripts)",
                )?;
            }
            "/ncsm/start"
        }
        NcsmCmd::Resume => "/ncsm/resume",
    };
    ctx.call("POST", path, None).await?;
    let mut last = String::new();
    let v = loop {
        let v = ctx.call("GET", "/ncsm", None).await?;
        if !ctx.json {
            let line = bar(
                v["migrated"].as_i64().unwrap_or(0),
                v["total"].as_i64().unwrap_or(0),
            );
            if line != last {
                eprint!("\rmigrating {line}");
                let _ = std::io::stderr().flush();
                last = line;
            }
        }
        // The server runs the migration; it is over (finished, pending or interrupted) once
        // nothing runs it.
        if v["running"] != true {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    if !ctx.json {
        eprintln!();
    }
    ctx.out(&v, print_status);
    if v["state"] == "pending" {
        return Err(Failure(
            "some records are pending migration (reasons above); fix them, then run `sealscan ncsm resume`".into(),
        ));
    }
    Ok(())
}

/// Inserts the options that were given; `None` leaves the field as the server holds it.
/// The prompt for a new record's delegation secret, when its delegation takes one.
fn delegation_prompt(
    delegation: Option<&str>,
    password: Option<&str>,
    user: &str,
) -> Option<String> {
    match (delegation, password) {
        (Some("su"), _) => Some("Root's password (for su): ".into()),
        (Some("sudo" | "sudo_su"), Some("separate")) => Some(format!("sudo password of {user}: ")),
        _ => None,
    }
}

/// The record's `unix` options from the host-key flags; None when none was given. Key files
/// may be `.pub` files or ssh-keyscan output (`HOST TYPE BASE64`): the host is dropped.
fn unix_options(a: &UnixArgs) -> R<Option<Value>> {
    let files = &a.host_key_files;
    let mut keys = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let scanned = words.len() >= 3
                && !words[0].starts_with("ssh-")
                && !words[0].starts_with("ecdsa-");
            keys.push(if scanned {
                words[1..].join(" ")
            } else {
                line.to_string()
            });
        }
    }
    if !files.is_empty() && keys.is_empty() {
        return Err(Failure("the --host-key-file files hold no key".into()));
    }
    let mut unix = json!({});
    if let Some(path) = &a.certificate_file {
        let cert = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
        unix["certificate"] = json!(cert.trim());
    }
    for (key, value) in [
        ("host_key_policy", &a.host_key_policy),
        ("delegation", &a.delegation),
        ("delegation_password", &a.delegation_password),
    ] {
        put(&mut unix, key, value.clone().map(Value::from));
    }
    if !files.is_empty() {
        unix["known_host_keys"] = json!(keys);
    }
    Ok(unix
        .as_object()
        .is_some_and(|u| !u.is_empty())
        .then_some(unix))
}

fn put(body: &mut Value, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        body[key] = v;
    }
}

async fn update_record(ctx: &Ctx, a: UpdateRecordArgs) -> R<()> {
    let path = format!("/records/{}", super::enc(&a.id));
    let mut body = json!({});
    put(&mut body, "title", a.title.clone().map(Value::from));
    put(&mut body, "user", a.user.clone().map(Value::from));
    if a.no_ips {
        body["ips"] = json!([]);
    } else if !a.ips.is_empty() {
        body["ips"] = json!(a.ips);
    }
    put(
        &mut body,
        "login_type",
        a.login_type.clone().map(Value::from),
    );
    put(&mut body, "vault_id", a.vault.clone().map(Value::from));
    put(
        &mut body,
        "secret_name",
        a.secret_name.clone().map(Value::from),
    );
    put(&mut body, "folder", a.folder.clone().map(Value::from));
    put(&mut body, "secret_id", a.secret_id.map(Value::from));
    put(
        &mut body,
        "secret_path",
        a.secret_path.clone().map(Value::from),
    );
    put(
        &mut body,
        "unix_auth",
        a.secret_auth.clone().map(Value::from),
    );
    put(&mut body, "comments", a.comments.clone().map(Value::from));
    let mut windows = json!({});
    put(
        &mut windows,
        "domain_type",
        a.domain_type.clone().map(Value::from),
    );
    put(&mut windows, "domain", a.domain.clone().map(Value::from));
    put(
        &mut windows,
        "service_selected",
        a.service_selected.map(Value::from),
    );
    put(
        &mut windows,
        "require_signing",
        a.require_signing.map(Value::from),
    );
    put(
        &mut windows,
        "min_smb_version",
        a.min_smb_version.clone().map(Value::from),
    );
    if windows.as_object().is_some_and(|w| !w.is_empty()) {
        body["windows"] = windows;
    }
    put(&mut body, "unix", unix_options(&a.unix)?);
    if a.private_key_file.is_some() {
        body["unix_auth"] = json!("private_key");
    }
    let asks_secret =
        a.password || a.private_key_file.is_some() || a.passphrase || a.delegation_secret;
    if !asks_secret && body.as_object().is_some_and(|b| b.is_empty()) {
        return Err(Failure(
            "nothing to change: give at least one option (see sealscan records update --help)"
                .into(),
        ));
    }
    let mut sealed = false;
    if asks_secret {
        // The binding is the record as it will be: its kind and id, and the new user and
        // domain when they change.
        let cur = ctx.call("GET", &path, None).await?;
        let kind = s(&cur["kind"]);
        // A new password on a key-based Unix record switches it back to password logins.
        if kind == "unix" && a.password && cur["unix_auth"] == "private_key" {
            body["unix_auth"] = json!("password");
        }
        if kind != "unix" && (a.private_key_file.is_some() || a.passphrase) {
            return Err(Failure(
                "--private-key-file and --passphrase are for Unix records".into(),
            ));
        }
        let user = a.user.clone().unwrap_or_else(|| s(&cur["username"]));
        let w = &cur["windows"];
        let domain_type = a
            .domain_type
            .clone()
            .or_else(|| w["domain_type"].as_str().map(str::to_string))
            .unwrap_or_else(|| "none".into());
        let domain = a
            .domain
            .clone()
            .or_else(|| w["domain"].as_str().map(str::to_string));
        let local = kind != "windows" || domain_type == "none";
        sealed = ncsm_active(ctx).await?;
        let keys = if sealed {
            Some(recipients(ctx).await?)
        } else {
            None
        };
        let id = s(&cur["id"]);
        let binding = |field: SecretFieldName| {
            Binding::for_record(&kind, &id, field, &user, domain.as_deref(), local)
        };
        let mut secrets = Vec::new();
        let mut add = |field: SecretFieldName, plain: &[u8]| -> R<()> {
            let b = binding(field);
            let value = secret_value(plain, keys.as_deref().map(|k| (&b, k)))?;
            secrets.push(json!({"field": field.as_str(), "value": value}));
            Ok(())
        };
        if a.password {
            let p = ctx.new_secret(&format!("New password of {user}: "))?;
            add(SecretFieldName::Password, p.expose().as_bytes())?;
        }
        if let Some(path) = &a.private_key_file {
            let pem = Zeroizing::new(std::fs::read(path).map_err(|e| {
                Failure(format!(
                    "cannot read the private key {}: {e}",
                    path.display()
                ))
            })?);
            add(SecretFieldName::PrivateKey, &pem)?;
        }
        if a.passphrase {
            let p = ctx.new_secret("Passphrase of the private key: ")?;
            add(SecretFieldName::Passphrase, p.expose().as_bytes())?;
        }
        if a.delegation_secret {
            let p = ctx.new_secret("Delegation password (sudo's own, or root's for su): ")?;
            add(SecretFieldName::DelegationPassword, p.expose().as_bytes())?;
        }
        body["secrets"] = Value::Array(secrets);
    }
    let v = ctx.call("PATCH", &path, Some(body)).await?;
    ctx.out(&v, |v| {
        println!(
            "updated {} record {} ({}){}",
            s(&v["kind"]),
            s(&v["id"]),
            s(&v["title"]),
            match (asks_secret, sealed) {
                (false, _) => "; secrets unchanged",
                (true, true) => "; secrets sealed on this machine",
                (true, false) => "; secrets sent over TLS (legacy model)",
            }
        );
    });
    Ok(())
}

async fn update_vault(ctx: &Ctx, a: UpdateVaultArgs) -> R<()> {
    let path = format!("/vaults/{}", super::enc(&a.id));
    let mut body = json!({});
    put(&mut body, "title", a.title.clone().map(Value::from));
    put(
        &mut body,
        "url",
        a.url.clone().map(|u| Value::from(u.trim())),
    );
    put(&mut body, "user", a.user.clone().map(Value::from));
    put(&mut body, "domain", a.domain.clone().map(Value::from));
    put(
        &mut body,
        "organization",
        a.organization.clone().map(Value::from),
    );
    put(&mut body, "verify_tls", a.verify_tls.map(Value::from));
    put(&mut body, "api", a.api.clone().map(Value::from));
    put(&mut body, "comments", a.comments.clone().map(Value::from));
    if let Some(p) = &a.ca_file {
        let pem = std::fs::read_to_string(p)
            .map_err(|e| Failure(format!("cannot read the CA bundle {}: {e}", p.display())))?;
        body["ca_pem"] = json!(pem);
    }
    if !a.password && body.as_object().is_some_and(|b| b.is_empty()) {
        return Err(Failure(
            "nothing to change: give at least one option (see sealscan vaults update --help)"
                .into(),
        ));
    }
    let mut sealed = false;
    if a.password {
        let cur = ctx.call("GET", &path, None).await?;
        let user = a.user.clone().unwrap_or_else(|| s(&cur["username"]));
        let url = a
            .url
            .as_deref()
            .map(str::trim)
            .map(str::to_string)
            .unwrap_or_else(|| s(&cur["url"]));
        let domain = a
            .domain
            .clone()
            .or_else(|| cur["domain"].as_str().map(str::to_string));
        sealed = ncsm_active(ctx).await?;
        let keys = if sealed {
            Some(recipients(ctx).await?)
        } else {
            None
        };
        let b = Binding::for_vault(&s(&cur["id"]), &user, domain.as_deref(), &url);
        let p = ctx.new_secret(&format!("New web-service password of {user}: "))?;
        body["password"] = secret_value(p.expose().as_bytes(), keys.as_deref().map(|k| (&b, k)))?;
    }
    let v = ctx.call("PATCH", &path, Some(body)).await?;
    ctx.out(&v, |v| {
        println!(
            "updated vault {} ({}){}",
            s(&v["id"]),
            s(&v["title"]),
            match (a.password, sealed) {
                (false, _) => "; password unchanged",
                (true, true) => "; password sealed on this machine",
                (true, false) => "; password sent over TLS (legacy model)",
            }
        );
    });
    Ok(())
}

/// `unit` None (--none) takes the record or vault out of every unit.
async fn set_unit(ctx: &Ctx, collection: &str, id: &str, unit: Option<String>) -> R<()> {
    let v = ctx
        .call(
            "PUT",
            &format!("/{collection}/{}/unit", super::enc(id)),
            Some(json!({ "unit": unit })),
        )
        .await?;
    ctx.out(&v, |v| {
        println!(
            "{} {}: {}",
            s(&v["kind"]),
            s(&v["id"]),
            v["unit"]
                .as_str()
                .map_or("no unit".to_string(), |u| format!("unit {u}"))
        )
    });
    Ok(())
}

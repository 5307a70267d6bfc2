//! `sealscan records|vaults|ncsm`: records are sealed here, on the client, once NCSM is
//! active: the approved appliances' keys are fetched and shown by fingerprint, secrets are read
//! from a prompt or stdin into zeroizing buffers, and only envelopes leave this process. Before
//! activation (legacy model) the secret travels to the server over TLS.
use super::{Ctx, Failure, R, name, print_kv, print_table, s};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sealscan_api::ncsm::{NcsmStateName, NcsmStatus};
use sealscan_api::records::{
    CreateRecord, CreateVault, DelegationSecretInput, Deleted, RecordList, RecordView, SecretInfo,
    SecretLocator, UnixInput, UpdateRecord, UpdateVault, VaultList, VaultView, WindowsSettings,
};
use sealscan_api::users::{OwnerUnit, UnitRequest};
use sealscan_cli::args::records::{
    CollectionCmd, CreateRecordArgs, NcsmCmd, RecordsCmd, UnixArgs, UpdateRecordArgs,
    UpdateVaultArgs, VaultsCmd,
};
use sealscan_protocols::appliance::{
    SecretField, SecretFieldName, SecretValue, UnixAuth, WindowsAuthProtocol, WireSecret,
};
use sealscan_protocols::envelope::{self, Binding};
use std::io::Write;
use zeroize::Zeroizing;

fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}-{}", hex::encode(b))
}

/// The approved appliances' keys, shown by fingerprint before anything is sealed to them.
async fn recipients(ctx: &Ctx) -> R<Vec<[u8; 32]>> {
    let list = ctx.api()?.ncsm_recipients().await?.recipients;
    if list.is_empty() {
        return Err(Failure(
            "no approved appliance to seal to; approve one first (sealscan appliances approve)"
                .into(),
        ));
    }
    eprintln!("sealing to {} approved appliance(s):", list.len());
    let mut keys = Vec::with_capacity(list.len());
    for a in &list {
        eprintln!("  {}  {}", a.name, a.fingerprint);
        let raw = STANDARD
            .decode(&a.public_key)
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
    let v: NcsmStatus = ctx.api()?.ncsm_status().await?;
    Ok(v.state != NcsmStateName::Off)
}

/// One secret as the server takes it: an envelope when sealing, else the legacy value.
fn secret_value(plain: &[u8], binding: Option<(&Binding, &[[u8; 32]])>) -> R<SecretValue> {
    Ok(match binding {
        Some((b, keys)) => SecretValue::Sealed {
            envelope: envelope::seal(plain, b, keys)
                .map_err(|e| Failure(format!("sealing failed: {e}")))?
                .to_text(),
        },
        None => SecretValue::Legacy {
            value: WireSecret::new(plain),
        },
    })
}

const RECORD_COLUMNS: &[&str] = &[
    "id", "kind", "title", "user", "ips", "login", "vault", "secret", "secrets", "ncsm",
];

fn record_row(r: &RecordView) -> Vec<String> {
    vec![
        r.record.id.clone(),
        r.record.kind.as_str().to_string(),
        r.record.title.clone(),
        r.record.username.clone(),
        if r.record.ips.is_empty() {
            "service-selected".into()
        } else {
            r.record.ips.join(",")
        },
        r.record.login_type.as_str().to_string(),
        s(r.record.vault_id.as_deref()),
        s(r.secret.as_deref()),
        secrets_cell(&r.secrets),
        pending_cell(r.pending_migration),
    ]
}

const VAULT_COLUMNS: &[&str] = &[
    "id",
    "title",
    "url",
    "user",
    "verify tls",
    "secrets",
    "records: secret",
    "ncsm",
];

fn vault_row(x: &VaultView) -> Vec<String> {
    let refs: Vec<String> = x
        .secret_refs
        .iter()
        .flatten()
        .map(|r| format!("{}: {}", r.record, s(r.secret.as_deref())))
        .collect();
    vec![
        x.vault.id.clone(),
        x.vault.title.clone(),
        x.vault.url.clone(),
        x.vault.username.clone(),
        x.vault.verify_tls.to_string(),
        secrets_cell(&x.secrets),
        if refs.is_empty() {
            "-".into()
        } else {
            refs.join(", ")
        },
        pending_cell(x.pending_migration),
    ]
}

pub async fn records(ctx: &Ctx, cmd: RecordsCmd) -> R<()> {
    match cmd {
        RecordsCmd::Common(cmd) => common(ctx, Collection::Records, cmd).await?,
        RecordsCmd::Create(a) => create_record(ctx, *a).await?,
        RecordsCmd::Update(a) => update_record(ctx, *a).await?,
    }
    Ok(())
}

fn secrets_cell(secrets: &[SecretInfo]) -> String {
    secrets
        .iter()
        .map(|x| format!("{}({})", x.field, name(&x.model)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pending_cell(pending: bool) -> String {
    if pending {
        "PENDING MIGRATION".into()
    } else {
        String::new()
    }
}

/// Seals (or, before NCSM, wraps) each secret for `binding` and collects the request's list.
struct Secrets<'a, F: Fn(SecretFieldName) -> Binding> {
    binding: F,
    keys: Option<&'a [[u8; 32]]>,
    fields: Vec<SecretField>,
}

impl<F: Fn(SecretFieldName) -> Binding> Secrets<'_, F> {
    fn add(&mut self, field: SecretFieldName, plain: &[u8]) -> R<()> {
        let b = (self.binding)(field);
        let value = secret_value(plain, self.keys.map(|k| (&b, k)))?;
        self.fields.push(SecretField { field, value });
        Ok(())
    }
}

fn read_key(path: &std::path::Path) -> R<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Failure(format!(
            "cannot read the private key {}: {e}",
            path.display()
        ))
    })
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
    let local = a.kind != "windows" || a.windows.domain_type.as_deref().is_none_or(|t| t == "none");
    let mut secrets = Secrets {
        binding: |field: SecretFieldName| {
            Binding::for_record(
                &a.kind,
                &id,
                field,
                &a.user,
                a.windows.domain.as_deref(),
                local,
            )
        },
        keys: keys.as_deref(),
        fields: Vec::new(),
    };
    if a.login_type == "basic" {
        match &a.private_key_file {
            Some(path) if a.kind == "unix" => {
                secrets.add(SecretFieldName::PrivateKey, &read_key(path)?)?;
                if a.passphrase {
                    let p = ctx.new_secret("Passphrase of the private key: ")?;
                    secrets.add(SecretFieldName::Passphrase, p.expose().as_bytes())?;
                }
            }
            Some(_) => {
                return Err(Failure("--private-key-file is for Unix records".into()));
            }
            None => {
                let p = ctx.new_secret(&format!("Password of {}: ", a.user))?;
                secrets.add(SecretFieldName::Password, p.expose().as_bytes())?;
            }
        }
        if let Some(prompt) = delegation_prompt(
            a.unix.delegation.as_deref(),
            a.unix.delegation_password.as_deref(),
            &a.user,
        ) {
            let p = ctx.new_secret(&prompt)?;
            secrets.add(SecretFieldName::DelegationPassword, p.expose().as_bytes())?;
        }
    }
    let secrets = secrets.fields;
    let unix = unix_options(&a.unix)?;
    let by_vault = a.login_type == "vault";
    let body = CreateRecord {
        id: Some(id.clone()),
        unix_auth: a
            .secret
            .secret_auth
            .clone()
            .or_else(|| a.private_key_file.is_some().then(|| "private_key".into())),
        vault_id: a.secret.vault.clone().filter(|_| by_vault),
        secret: if by_vault {
            a.secret.locator()
        } else {
            SecretLocator::default()
        },
        windows: (a.kind == "windows").then(|| a.windows.patch().over_defaults()),
        unix,
        kind: a.kind.clone(),
        title: a.title,
        user: a.user.clone(),
        ips: a.ips,
        login_type: a.login_type.clone(),
        comments: a.comments,
        secrets,
        statement: None,
    };
    let v: RecordView = ctx.api()?.create_record(&body).await?;
    let note = if sealed {
        ", secrets sealed on this machine"
    } else {
        ", secrets sent over TLS (legacy model)"
    };
    print_saved(ctx, "created", &v, note);
    Ok(())
}

/// What create and update say: the record, then `note` on what became of its secrets.
fn print_saved(ctx: &Ctx, verb: &str, v: &RecordView, note: &str) {
    ctx.out(v, |v| {
        println!(
            "{verb} {} record {} ({}){note}",
            v.record.kind.as_str(),
            v.record.id,
            v.record.title
        )
    });
}

pub async fn vaults(ctx: &Ctx, cmd: VaultsCmd) -> R<()> {
    match cmd {
        VaultsCmd::Common(cmd) => common(ctx, Collection::Vaults, cmd).await?,
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
            let body = CreateVault {
                id: Some(id),
                title: a.title,
                url,
                user: a.user,
                domain,
                organization: a.organization,
                verify_tls: !a.no_verify_tls,
                ca_pem,
                api: a.api,
                comments: a.comments,
                password,
            };
            let v: VaultView = ctx.api()?.create_vault(&body).await?;
            ctx.out(&v, |v| {
                println!("created vault {} ({})", v.vault.id, v.vault.title)
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

fn print_status(v: &NcsmStatus) {
    println!(
        "NCSM: {} (enabled by the operator: {})",
        name(&v.state),
        v.enabled
    );
    println!(
        "to migrate: {} record(s), {} vault(s); migrated: {}",
        v.to_migrate.records, v.to_migrate.vaults, v.migrated
    );
    if !v.pending.is_empty() && v.state != NcsmStateName::Off {
        println!("pending migration:");
        print_table(
            &["kind", "id", "title", "reason"],
            v.pending
                .iter()
                .map(|p| {
                    vec![
                        p.kind.clone(),
                        p.id.clone(),
                        p.title.clone(),
                        s(p.reason.as_deref()),
                    ]
                })
                .collect(),
        );
    }
}

pub async fn ncsm(ctx: &Ctx, cmd: NcsmCmd) -> R<()> {
    let start = match cmd {
        NcsmCmd::Status => {
            let v: NcsmStatus = ctx.api()?.ncsm_status().await?;
            ctx.out(&v, print_status);
            return Ok(());
        }
        NcsmCmd::Start { yes } => {
            if !yes {
                let v: NcsmStatus = ctx.api()?.ncsm_status().await?;
                eprintln!(
                    "NCSM moves {} record(s) and {} vault(s) into envelopes sealed to the {} approved appliance(s) and destroys their legacy ciphertext; it cannot be turned off, and records cannot change until the migration completes.",
                    v.to_migrate.records, v.to_migrate.vaults, v.approved_appliances
                );
                ctx.confirm(
                    "Start the migration?",
                    "not started (answer y to start; --yes skips the question in scripts)",
                )?;
            }
            true
        }
        NcsmCmd::Resume => false,
    };
    if start {
        ctx.api()?.start_ncsm().await?;
    } else {
        ctx.api()?.resume_ncsm().await?;
    }
    let mut last = String::new();
    let v = loop {
        let v: NcsmStatus = ctx.api()?.ncsm_status().await?;
        if !ctx.json {
            let line = bar(v.migrated, v.total);
            if line != last {
                eprint!("\rmigrating {line}");
                let _ = std::io::stderr().flush();
                last = line;
            }
        }
        // The server runs the migration; it is over (finished, pending or interrupted) once
        // nothing runs it.
        if !v.running {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    if !ctx.json {
        eprintln!();
    }
    ctx.out(&v, print_status);
    if v.state == NcsmStateName::Pending {
        return Err(Failure(
            "some records are pending migration (reasons above); fix them, then run `sealscan ncsm resume`".into(),
        ));
    }
    Ok(())
}

/// Whether a PATCH body changes nothing (every field absent).
/// What a Windows record will log in with, in words.
fn windows_auth_line(w: &WindowsSettings) -> String {
    let realm = w.realm.as_deref().unwrap_or("?");
    let kdcs = if w.kdcs.is_empty() {
        format!("{} (DNS)", realm.to_ascii_lowercase())
    } else {
        w.kdcs.join(", ")
    };
    match w.auth_protocol {
        WindowsAuthProtocol::Kerberos => {
            format!("login: Kerberos only (realm {realm}, KDC {kdcs}); never NTLM")
        }
        WindowsAuthProtocol::Negotiate => format!(
            "login: Kerberos (realm {realm}, KDC {kdcs}), NTLMv2 where Kerberos is not possible"
        ),
        WindowsAuthProtocol::Ntlm => "login: NTLMv2".to_string(),
    }
}

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

/// The record's `unix` options from the host-key and delegation flags; None when none was
/// given.
fn unix_options(a: &UnixArgs) -> R<Option<UnixInput>> {
    let keys = key_lines(&a.host_key_files, "--host-key-file")?;
    let cas = key_lines(&a.host_ca_files, "--host-ca-file")?;
    let certificate = match &a.certificate_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let unix = UnixInput {
        host_key_policy: a.host_key_policy.clone(),
        known_host_keys: (!a.host_key_files.is_empty()).then_some(keys),
        host_ca_keys: (!a.host_ca_files.is_empty()).then_some(cas),
        certificate,
        delegation: a.delegation.clone(),
        delegation_password: a.delegation_password.clone(),
        delegation_secret: a.delegation_vault_secret.as_deref().map(|r| {
            let r = r.trim();
            let secret = match r.parse::<i64>() {
                Ok(id) => SecretLocator {
                    secret_id: Some(id),
                    ..SecretLocator::default()
                },
                Err(_) if r.contains(['\\', '/']) => SecretLocator {
                    secret_path: Some(r.to_string()),
                    ..SecretLocator::default()
                },
                Err(_) => SecretLocator {
                    secret_name: Some(r.to_string()),
                    ..SecretLocator::default()
                },
            };
            DelegationSecretInput { secret }
        }),
    };
    Ok((!is_empty_patch(&unix)).then_some(unix))
}

/// The public keys in `files`, one per line: `.pub` files, ssh-keyscan output (`HOST TYPE
/// BASE64`) or known_hosts `@cert-authority PATTERN TYPE BASE64` lines; the host part is
/// dropped.
fn key_lines(files: &[std::path::PathBuf], flag: &str) -> R<Vec<String>> {
    let mut keys = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"@cert-authority") {
                words.remove(0);
            }
            let scanned = words.len() >= 3
                && !words[0].starts_with("ssh-")
                && !words[0].starts_with("ecdsa-");
            keys.push(if scanned {
                words[1..].join(" ")
            } else {
                words.join(" ")
            });
        }
    }
    if !files.is_empty() && keys.is_empty() {
        return Err(Failure(format!("the {flag} files hold no key")));
    }
    Ok(keys)
}

fn is_empty_patch<T: serde::Serialize>(patch: &T) -> bool {
    serde_json::to_string(patch).is_ok_and(|text| text == "{}")
}

async fn update_record(ctx: &Ctx, a: UpdateRecordArgs) -> R<()> {
    let windows = a.windows.patch();
    let mut body = UpdateRecord {
        title: a.title.clone(),
        user: a.user.clone(),
        ips: if a.no_ips {
            Some(Vec::new())
        } else {
            (!a.ips.is_empty()).then(|| a.ips.clone())
        },
        login_type: a.login_type.clone(),
        vault_id: a.secret.vault.clone(),
        secret: a.secret.locator(),
        comments: a.comments.clone(),
        unix_auth: if a.private_key_file.is_some() {
            Some("private_key".into())
        } else {
            a.secret.secret_auth
        },
        windows: (!is_empty_patch(&windows)).then_some(windows),
        unix: unix_options(&a.unix)?,
        secrets: Vec::new(),
        statement: None,
    };
    let asks_secret =
        a.password || a.private_key_file.is_some() || a.passphrase || a.delegation_secret;
    if !asks_secret && is_empty_patch(&body) {
        return Err(Failure(
            "nothing to change: give at least one option (see sealscan records update --help)"
                .into(),
        ));
    }
    let mut sealed = false;
    if asks_secret {
        // The binding is the record as it will be: its kind and id, and the new user and
        // domain when they change.
        let cur: RecordView = ctx.api()?.record(&a.id).await?;
        let kind = cur.record.kind.as_str();
        // A new password on a key-based Unix record switches it back to password logins.
        if kind == "unix" && a.password && cur.record.unix_auth == Some(UnixAuth::PrivateKey) {
            body.unix_auth = Some("password".into());
        }
        if kind != "unix" && (a.private_key_file.is_some() || a.passphrase) {
            return Err(Failure(
                "--private-key-file and --passphrase are for Unix records".into(),
            ));
        }
        let user = a
            .user
            .clone()
            .unwrap_or_else(|| cur.record.username.clone());
        let w = cur.record.windows.as_ref();
        let domain_type = a
            .windows
            .domain_type
            .clone()
            .or_else(|| w.map(|w| w.domain_type.as_str().to_string()))
            .unwrap_or_else(|| "none".into());
        let domain = a
            .windows
            .domain
            .clone()
            .or_else(|| w.and_then(|w| w.domain.clone()));
        let local = kind != "windows" || domain_type == "none";
        sealed = ncsm_active(ctx).await?;
        let keys = if sealed {
            Some(recipients(ctx).await?)
        } else {
            None
        };
        let mut secrets = Secrets {
            binding: |field: SecretFieldName| {
                Binding::for_record(kind, &cur.record.id, field, &user, domain.as_deref(), local)
            },
            keys: keys.as_deref(),
            fields: Vec::new(),
        };
        if a.password {
            let p = ctx.new_secret(&format!("New password of {user}: "))?;
            secrets.add(SecretFieldName::Password, p.expose().as_bytes())?;
        }
        if let Some(path) = &a.private_key_file {
            secrets.add(SecretFieldName::PrivateKey, &read_key(path)?)?;
        }
        if a.passphrase {
            let p = ctx.new_secret("Passphrase of the private key: ")?;
            secrets.add(SecretFieldName::Passphrase, p.expose().as_bytes())?;
        }
        if a.delegation_secret {
            let p = ctx.new_secret("Delegation password (sudo's own, or root's for su): ")?;
            secrets.add(SecretFieldName::DelegationPassword, p.expose().as_bytes())?;
        }
        body.secrets = secrets.fields;
    }
    let v: RecordView = ctx.api()?.update_record(&a.id, &body).await?;
    let note = match (asks_secret, sealed) {
        (false, _) => "; secrets unchanged",
        (true, true) => "; secrets sealed on this machine",
        (true, false) => "; secrets sent over TLS (legacy model)",
    };
    print_saved(ctx, "updated", &v, note);
    Ok(())
}

async fn update_vault(ctx: &Ctx, a: UpdateVaultArgs) -> R<()> {
    let ca_pem = match &a.ca_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Failure(format!("cannot read the CA bundle {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let mut body = UpdateVault {
        title: a.title.clone(),
        url: a.url.as_deref().map(|u| u.trim().to_string()),
        user: a.user.clone(),
        domain: a.domain.clone(),
        organization: a.organization.clone(),
        verify_tls: a.verify_tls,
        ca_pem,
        api: a.api.clone(),
        comments: a.comments.clone(),
        password: None,
    };
    if !a.password && is_empty_patch(&body) {
        return Err(Failure(
            "nothing to change: give at least one option (see sealscan vaults update --help)"
                .into(),
        ));
    }
    let mut sealed = false;
    if a.password {
        let cur: VaultView = ctx.api()?.vault(&a.id).await?;
        let user = a.user.clone().unwrap_or_else(|| cur.vault.username.clone());
        let url = body.url.clone().unwrap_or_else(|| cur.vault.url.clone());
        let domain = a.domain.clone().or_else(|| cur.vault.domain.clone());
        sealed = ncsm_active(ctx).await?;
        let keys = if sealed {
            Some(recipients(ctx).await?)
        } else {
            None
        };
        let b = Binding::for_vault(&cur.vault.id, &user, domain.as_deref(), &url);
        let p = ctx.new_secret(&format!("New web-service password of {user}: "))?;
        body.password = Some(secret_value(
            p.expose().as_bytes(),
            keys.as_deref().map(|k| (&b, k)),
        )?);
    }
    let v: VaultView = ctx.api()?.update_vault(&a.id, &body).await?;
    ctx.out(&v, |v| {
        println!(
            "updated vault {} ({}){}",
            v.vault.id,
            v.vault.title,
            match (a.password, sealed) {
                (false, _) => "; password unchanged",
                (true, true) => "; password sealed on this machine",
                (true, false) => "; password sent over TLS (legacy model)",
            }
        );
    });
    Ok(())
}

/// Which collection a [`CollectionCmd`] acts on: records and vaults differ only in endpoints.
#[derive(Clone, Copy)]
enum Collection {
    Records,
    Vaults,
}

async fn common(ctx: &Ctx, collection: Collection, cmd: CollectionCmd) -> R<()> {
    let api = ctx.api()?;
    match (cmd, collection) {
        (CollectionCmd::List, Collection::Records) => {
            let v: RecordList = api.records().await?;
            ctx.out(&v, |v| {
                print_table(RECORD_COLUMNS, v.records.iter().map(record_row).collect())
            });
        }
        (CollectionCmd::List, Collection::Vaults) => {
            let v: VaultList = api.vaults().await?;
            ctx.out(&v, |v| {
                print_table(VAULT_COLUMNS, v.vaults.iter().map(vault_row).collect())
            });
        }
        (CollectionCmd::Show { id }, Collection::Records) => {
            ctx.out(&api.record(&id).await?, |v| {
                // The statement's bytes are for appliances; people read who signed it.
                let mut shown = v.clone();
                shown.statement = None;
                print_kv(&shown);
                if let Some(line) = v.record.windows.as_ref().map(windows_auth_line) {
                    println!("{line}");
                }
                println!("{}", signed_line(v.statement.as_deref()));
            });
        }
        (CollectionCmd::Show { id }, Collection::Vaults) => {
            ctx.out(&api.vault(&id).await?, print_kv)
        }
        (CollectionCmd::Delete { id }, _) => {
            let (v, noun): (Deleted, _) = match collection {
                Collection::Records => (api.delete_record(&id).await?, "record"),
                Collection::Vaults => (api.delete_vault(&id).await?, "vault"),
            };
            ctx.out(&v, |_| println!("deleted {noun} {id}"));
        }
        (CollectionCmd::Unit { id, unit, none: _ }, _) => {
            // `unit` None (--none) takes the record or vault out of every unit.
            let body = UnitRequest { unit };
            let v: OwnerUnit = match collection {
                Collection::Records => api.set_record_unit(&id, &body).await?,
                Collection::Vaults => api.set_vault_unit(&id, &body).await?,
            };
            ctx.out(&v, |v| {
                println!(
                    "{} {}: {}",
                    name(&v.kind),
                    v.id,
                    v.unit
                        .as_deref()
                        .map_or("no unit".to_string(), |u| format!("unit {u}"))
                )
            });
        }
    }
    Ok(())
}

/// Who signed the record's stored statement, as its own bytes say: the version and the
/// signer's key fingerprint. Whether that key is certified under the subscription's root is
/// the appliance's check, not this line's.
fn signed_line(statement: Option<&str>) -> String {
    use sealscan_protocols::signing::{RecordStatement, Signed, fingerprint_text, open};
    let Some(text) = statement else {
        return "signed: no (appliances with a pinned root refuse this record)".into();
    };
    match Signed::from_text(text).and_then(|s| open::<RecordStatement>(&s)) {
        Ok(o) => format!(
            "signed: version {} by key {}",
            o.statement.version,
            fingerprint_text(&o.signer_fingerprint())
        ),
        Err(e) => format!("signed: unreadable statement ({e})"),
    }
}

//! Authentication records (Unix, Windows) and Secret Server vault records. Secrets go in and
//! never come out: legacy values are encrypted with the data key, NCSM envelopes are checked
//! against the binding and the approved appliances, and every view names fields only.
use super::Shared;
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, RawJson};
use super::units;
use crate::authz::{self, Action};
use crate::credentials::{record_binding, seal_legacy, vault_binding};
use crate::iprange::IpRange;
use crate::store::{NcsmState, RecordRow, Tx, UnitOwner, VAULT_KIND, VaultRow, WindowsSettings};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
use rand::rngs::OsRng;
use sealscan_protocols::appliance::{
    Delegation, DelegationPassword, HostKeyPolicy, SecretField, SecretFieldName, SecretValue,
    UnixOptions,
};
use sealscan_protocols::envelope::{Binding, Envelope};
use sealscan_protocols::host_key::HostKey;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub const SMB_VERSIONS: [&str; 5] = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRecord {
    #[serde(default)]
    pub id: Option<String>,
    pub kind: String,
    pub title: String,
    pub user: String,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default = "basic")]
    pub login_type: String,
    #[serde(default)]
    pub vault_id: Option<String>,
    #[serde(default)]
    pub secret_name: Option<String>,
    #[serde(default)]
    pub folder: Option<String>,
    /// Vault logins: the secret by Secret Server's id, instead of its name.
    #[serde(default)]
    pub secret_id: Option<i64>,
    /// Vault logins: the secret by its path, `\Folder\Sub\Name` (stored as folder and name).
    #[serde(default)]
    pub secret_path: Option<String>,
    #[serde(default)]
    pub comments: String,
    /// Unix basic logins: "password" (default) or "private_key". Unix vault logins: which of
    /// the secret's fields to use; absent takes the private key when the secret holds one.
    #[serde(default)]
    pub unix_auth: Option<String>,
    #[serde(default)]
    pub windows: Option<WindowsInput>,
    #[serde(default)]
    pub unix: Option<UnixInput>,
    #[serde(default)]
    pub secrets: Vec<SecretField>,
}

/// Unix records' SSH options; in an update, what is absent keeps its value.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UnixInput {
    /// "pin" (default), "known" or "off".
    #[serde(default)]
    pub host_key_policy: Option<String>,
    /// For "known": host public keys as OpenSSH writes them.
    #[serde(default)]
    pub known_host_keys: Option<Vec<String>>,
    /// Key logins: an OpenSSH user certificate for the key; "" removes it in an update.
    #[serde(default)]
    pub certificate: Option<String>,
    /// "none" (default), "sudo", "su" or "sudo_su".
    #[serde(default)]
    pub delegation: Option<String>,
    /// sudo's password: "login" (default), "separate" (the `delegation_password` secret) or
    /// "none" (NOPASSWD). su always takes `delegation_password` (root's password).
    #[serde(default)]
    pub delegation_password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsInput {
    #[serde(default = "none_domain")]
    pub domain_type: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub service_selected: bool,
    #[serde(default = "yes")]
    pub ntlmv2: bool,
    #[serde(default)]
    pub ntlmv1: bool,
    #[serde(default)]
    pub require_signing: bool,
    #[serde(default = "smb_min")]
    pub min_smb_version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVault {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    pub url: String,
    pub user: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default = "yes")]
    pub verify_tls: bool,
    #[serde(default)]
    pub ca_pem: Option<String>,
    #[serde(default = "auto")]
    pub api: String,
    #[serde(default)]
    pub comments: String,
    pub password: SecretValue,
}

fn basic() -> String {
    "basic".into()
}
fn none_domain() -> String {
    "none".into()
}
fn yes() -> bool {
    true
}
fn smb_min() -> String {
    "2.0.2".into()
}
fn auto() -> String {
    "auto".into()
}

fn bad(rule: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(rule, message)
}

fn text(field: &'static str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(bad(
            "record.field-invalid",
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

fn new_id(given: Option<String>, prefix: &str) -> ApiResult<String> {
    if let Some(id) = given {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(bad(
                "record.id-invalid",
                "a record id is 1 to 64 lowercase letters, digits or '-'",
            ));
        }
        return Ok(id);
    }
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    Ok(format!("{prefix}-{}", hex::encode(bytes)))
}

/// Where NCSM stands for a record change by this caller.
enum SecretModel {
    Legacy,
    Sealed,
}

/// `pending_target`: the change is to a record or vault the migration left pending. While the
/// migration is not complete no record or vault changes (the seed), but such a record may be
/// given its secrets again or deleted: the only ways out of a stuck migration.
/// A migration left `migrating` by a crash runs no more: it is treated as pending.
fn model_for_change(
    tx: &Tx<'_>,
    state: &Shared,
    p: &UserPrincipal,
    pending_target: bool,
) -> ApiResult<SecretModel> {
    match tx.ncsm()? {
        None => Ok(SecretModel::Legacy),
        Some(n) if n.state != NcsmState::Complete && crate::ncsm::is_running(state) => {
            Err(ApiError::conflict(
                "ncsm.migration-running",
                "the NCSM migration is running: records and vaults cannot change until it completes; follow it with `sealscan ncsm status`",
            ))
        }
        Some(n) if n.state != NcsmState::Complete && !pending_target => Err(ApiError::conflict(
            "ncsm.migration-pending",
            "the NCSM migration is pending: records and vaults cannot change until it completes. The way out: give each record or vault marked pending migration its secrets again (sealscan records update ID) or delete it, then `sealscan ncsm resume`; sign in again once it is complete",
        )),
        Some(n) => {
            if n.state == NcsmState::Complete
                && n.completed_at
                    .is_some_and(|done| p.session.created_at < done)
            {
                return Err(ApiError::forbidden(
                    "ncsm.sign-in-again",
                    "the New Credential Security Model is now in force; you are activated for it at your next sign-in: sign out and in again before changing records",
                ));
            }
            Ok(SecretModel::Sealed)
        }
    }
}

fn is_pending(migration: &Option<String>) -> bool {
    migration.as_deref() == Some("pending")
}

/// Checks every secret against the model in force and, for envelopes, the binding and the
/// recipient set (every approved appliance, no other key).
fn check_secrets(
    tx: &Tx<'_>,
    model: &SecretModel,
    secrets: &[(Binding, &SecretValue)],
) -> ApiResult<()> {
    let approved = tx.approved_appliances()?;
    for (binding, value) in secrets {
        let field = binding.field.as_str();
        match (model, value) {
            (SecretModel::Legacy, SecretValue::Sealed { .. }) => {
                return Err(ApiError::conflict(
                    "ncsm.not-active",
                    format!(
                        "the {field} is an NCSM envelope but NCSM is not active; send it as a legacy secret (over TLS)"
                    ),
                ));
            }
            (SecretModel::Sealed, SecretValue::Legacy { .. }) => {
                return Err(ApiError::unprocessable(
                    "ncsm.plaintext-refused",
                    format!(
                        "NCSM is active: the server refuses plaintext secrets; seal the {field} to the approved appliances (sealscan records create does this)"
                    ),
                ));
            }
            (SecretModel::Legacy, SecretValue::Legacy { value }) => {
                if value.expose().is_empty() {
                    return Err(bad("record.secret-empty", format!("the {field} is empty")));
                }
            }
            (SecretModel::Sealed, SecretValue::Sealed { envelope }) => {
                let env = Envelope::from_text(envelope).map_err(|e| {
                    bad(
                        "ncsm.envelope-invalid",
                        format!("the {field} envelope does not parse: {e}"),
                    )
                })?;
                if let Some(diff) = env.binding().first_difference(binding) {
                    return Err(bad(
                        "ncsm.binding-mismatch",
                        format!(
                            "the {field} envelope is bound to another {diff} than this record's"
                        ),
                    ));
                }
                let have: BTreeSet<String> = env.recipient_key_ids().map(hex::encode).collect();
                if let Some(missing) = approved.iter().find(|a| !have.contains(&a.key_id)) {
                    return Err(bad(
                        "ncsm.recipient-missing",
                        format!(
                            "the {field} envelope is not sealed to approved appliance {} ({}); fetch the current keys and seal again",
                            missing.name, missing.fingerprint
                        ),
                    ));
                }
                let known: BTreeSet<&str> = approved.iter().map(|a| a.key_id.as_str()).collect();
                if let Some(extra) = have.iter().find(|k| !known.contains(k.as_str())) {
                    return Err(bad(
                        "ncsm.recipient-unknown",
                        format!(
                            "the {field} envelope is sealed to key {extra}, which is no approved appliance's"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn store_secret(
    tx: &Tx<'_>,
    state: &Shared,
    binding: &Binding,
    value: &SecretValue,
    now: i64,
) -> ApiResult<()> {
    let field = binding.field.as_str();
    match value {
        SecretValue::Legacy { value } => {
            let blob = seal_legacy(
                &state.data_key,
                &binding.record_kind,
                &binding.record_id,
                field,
                value.expose(),
            );
            tx.put_legacy_secret(&binding.record_kind, &binding.record_id, field, &blob)?;
        }
        SecretValue::Sealed { envelope } => {
            tx.put_sealed_secret(
                &binding.record_kind,
                &binding.record_id,
                field,
                envelope,
                now,
            )?;
        }
    }
    Ok(())
}

fn validate_windows(w: WindowsInput, ips_empty: bool) -> ApiResult<WindowsSettings> {
    if !["none", "netbios", "active_directory"].contains(&w.domain_type.as_str()) {
        return Err(bad(
            "record.domain-type-invalid",
            "domain_type is none, netbios or active_directory",
        ));
    }
    let domain = w.domain.filter(|d| !d.trim().is_empty());
    match (w.domain_type.as_str(), &domain) {
        ("none", Some(_)) => {
            return Err(bad(
                "record.domain-invalid",
                "a record for local accounts (domain_type none) takes no domain",
            ));
        }
        ("netbios" | "active_directory", None) => {
            return Err(bad(
                "record.domain-invalid",
                format!("domain_type {} needs a domain", w.domain_type),
            ));
        }
        (_, Some(d)) => text("domain", d, 255)?,
        _ => {}
    }
    if w.service_selected && w.domain_type != "netbios" {
        return Err(bad(
            "record.service-selected-invalid",
            "service-selected IPs apply to NetBIOS-domain records only",
        ));
    }
    if w.service_selected && !ips_empty {
        return Err(bad(
            "record.service-selected-ips",
            "a service-selected NetBIOS record carries no IP list: it applies to every Windows target reporting its domain",
        ));
    }
    if !w.service_selected && ips_empty {
        return Err(bad(
            "record.ips-required",
            "a Windows record needs IPs, unless it is a NetBIOS-domain record with service-selected IPs",
        ));
    }
    if !w.ntlmv2 {
        return Err(bad(
            "record.ntlmv2-required",
            "NTLMv2 must stay on: it is the only NTLM version sealscan logs in with",
        ));
    }
    if w.ntlmv1 {
        return Err(bad(
            "record.ntlmv1-refused",
            "NTLMv1 stays off: it is broken and sealscan never sends it",
        ));
    }
    if !SMB_VERSIONS.contains(&w.min_smb_version.as_str()) {
        return Err(bad(
            "record.smb-version-invalid",
            format!("min_smb_version is one of {}", SMB_VERSIONS.join(", ")),
        ));
    }
    Ok(WindowsSettings {
        domain_type: w.domain_type,
        domain,
        service_selected: w.service_selected,
        ntlmv2: true,
        ntlmv1: false,
        require_signing: w.require_signing,
        min_smb_version: w.min_smb_version,
    })
}

/// One record per IP per type: the first address another record of the kind already holds.
fn validate_unix(u: UnixInput) -> ApiResult<UnixOptions> {
    let policy = u.host_key_policy.as_deref().unwrap_or("pin");
    let host_key_policy = HostKeyPolicy::from_name(policy).ok_or_else(|| {
        bad(
            "record.host-key-policy-invalid",
            "host_key_policy is pin, known or off",
        )
    })?;
    let keys = u.known_host_keys.unwrap_or_default();
    match (host_key_policy, keys.is_empty()) {
        (HostKeyPolicy::Known, true) => {
            return Err(bad(
                "record.host-keys-required",
                "host_key_policy known needs at least one known_host_keys entry",
            ));
        }
        (HostKeyPolicy::Pin | HostKeyPolicy::Off, false) => {
            return Err(bad(
                "record.host-keys-unused",
                "known_host_keys apply to host_key_policy known only",
            ));
        }
        _ => {}
    }
    let known_host_keys = keys
        .iter()
        .enumerate()
        .map(|(i, line)| {
            HostKey::parse(line).map(|k| k.to_line()).map_err(|e| {
                bad(
                    "record.host-key-invalid",
                    format!("known_host_keys[{i}]: {e}"),
                )
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let delegation =
        Delegation::from_name(u.delegation.as_deref().unwrap_or("none")).ok_or_else(|| {
            bad(
                "record.delegation-invalid",
                "delegation is none, sudo, su or sudo_su",
            )
        })?;
    let given = u.delegation_password.as_deref();
    let delegation_password = match (delegation, given) {
        (Delegation::Su, None | Some("separate")) => DelegationPassword::Separate,
        (Delegation::Su, Some(_)) => {
            return Err(bad(
                "record.delegation-password-invalid",
                "su takes root's password as the record's delegation_password secret \
                 (delegation_password separate)",
            ));
        }
        (Delegation::None, Some(_)) => {
            return Err(bad(
                "record.delegation-password-invalid",
                "delegation_password applies to sudo, su and sudo_su only",
            ));
        }
        (_, given) => DelegationPassword::from_name(given.unwrap_or("login")).ok_or_else(|| {
            bad(
                "record.delegation-password-invalid",
                "delegation_password is login, separate or none",
            )
        })?,
    };
    let certificate = u
        .certificate
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(cert) = &certificate {
        use base64::Engine as _;
        let mut words = cert.split_whitespace();
        let kind = words.next().unwrap_or_default();
        let body = words.next().unwrap_or_default();
        if !kind.ends_with("-cert-v01@openssh.com")
            || base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_err()
            || cert.chars().any(char::is_control)
        {
            return Err(bad(
                "record.certificate-invalid",
                "certificate is an OpenSSH certificate line as ssh-keygen -s writes it \
                 (TYPE-cert-v01@openssh.com BASE64 [comment])",
            ));
        }
    }
    Ok(UnixOptions {
        host_key_policy,
        known_host_keys,
        delegation,
        delegation_password,
        certificate,
    })
}

fn needs_delegation_secret(row: &RecordRow) -> bool {
    row.unix
        .as_ref()
        .is_some_and(UnixOptions::needs_delegation_secret)
}

/// The secret fields a Unix record's delegation adds, after checking that its login can
/// supply what the delegation needs.
fn delegation_fields(
    unix: Option<&UnixOptions>,
    login_type: &str,
    unix_auth: Option<&str>,
) -> ApiResult<Vec<SecretFieldName>> {
    let Some(u) = unix.filter(|u| u.delegation != Delegation::None) else {
        return Ok(Vec::new());
    };
    let login_password =
        u.delegation != Delegation::Su && u.delegation_password == DelegationPassword::Login;
    if login_type == "vault" && u.needs_delegation_secret() {
        return Err(bad(
            "record.delegation-invalid",
            "vault records delegate with sudo or sudo_su and the login password or NOPASSWD \
             (delegation_password login or none)",
        ));
    }
    if login_password && unix_auth == Some("private_key") {
        return Err(bad(
            "record.delegation-password-invalid",
            "a key login has no login password for sudo: use delegation_password separate or none",
        ));
    }
    Ok(if u.needs_delegation_secret() {
        vec![SecretFieldName::DelegationPassword]
    } else {
        Vec::new()
    })
}

fn check_ip_claims(
    tx: &Tx<'_>,
    kind: &str,
    ranges: &[(String, IpRange)],
    except: Option<&str>,
) -> ApiResult<()> {
    for other in tx
        .records()?
        .into_iter()
        .filter(|r| r.kind == kind && Some(r.id.as_str()) != except)
    {
        for entry in &other.ips {
            let Ok(theirs) = IpRange::parse(entry) else {
                continue;
            };
            for (_, mine) in ranges {
                if let Some(ip) = mine.first_common(&theirs) {
                    return Err(ApiError::conflict(
                        "record.ip-taken",
                        format!(
                            "{ip} already belongs to the {kind} record {:?} ({}); one record per IP per type",
                            other.title, other.id
                        ),
                    )
                    .with_details(json!({"ip": ip.to_string(), "record_id": other.id})));
                }
            }
        }
    }
    Ok(())
}

fn secret_names(tx: &Tx<'_>, kind: &str, id: &str) -> ApiResult<Vec<Value>> {
    let mut out: Vec<Value> = tx
        .envelopes_of(kind, id)?
        .into_iter()
        .map(|(f, env)| {
            let recipients = Envelope::from_text(&env)
                .map(|e| e.recipient_key_ids().map(hex::encode).collect::<Vec<_>>())
                .unwrap_or_default();
            json!({"field": f, "model": "sealed", "recipients": recipients})
        })
        .collect();
    out.extend(
        tx.legacy_secrets_of(kind, id)?
            .into_iter()
            .map(|(f, _)| json!({"field": f, "model": "legacy"})),
    );
    Ok(out)
}

fn record_view(tx: &Tx<'_>, r: &RecordRow) -> ApiResult<Value> {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "secrets".into(),
            Value::Array(secret_names(tx, &r.kind, &r.id)?),
        );
        obj.insert(
            "pending_migration".into(),
            Value::Bool(r.migration.as_deref() == Some("pending")),
        );
        obj.insert("unit".into(), tx.unit_of(UnitOwner::Record(&r.id))?.into());
        if let Some(shown) = secret_shown(r) {
            obj.insert("secret".into(), Value::String(shown));
        }
    }
    Ok(v)
}

fn vault_view(tx: &Tx<'_>, vault: &VaultRow) -> ApiResult<Value> {
    let mut v = serde_json::to_value(vault).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "secrets".into(),
            Value::Array(secret_names(tx, VAULT_KIND, &vault.id)?),
        );
        obj.insert(
            "pending_migration".into(),
            Value::Bool(vault.migration.as_deref() == Some("pending")),
        );
        obj.insert(
            "unit".into(),
            tx.unit_of(UnitOwner::Vault(&vault.id))?.into(),
        );
    }
    Ok(v)
}

pub async fn list(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    let records = state.store.read(|tx| {
        tx.records()?
            .iter()
            .map(|r| record_view(tx, r))
            .collect::<ApiResult<Vec<_>>>()
    })?;
    Ok(Json(json!({ "records": records })))
}

pub async fn show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    let record = state.store.read(|tx| match tx.record(&id)? {
        Some(r) => record_view(tx, &r),
        None => Err(no_record(&id)),
    })?;
    Ok(Json(record))
}

fn no_record(id: &str) -> ApiError {
    ApiError::not_found(
        "record.not-found",
        format!("no authentication record {id:?}"),
    )
}

fn no_vault(id: &str) -> ApiError {
    ApiError::not_found("vault.not-found", format!("no vault record {id:?}"))
}

/// A record request checked field by field, before anything touches the store.
struct CheckedRecord {
    row: RecordRow,
    ranges: Vec<(String, IpRange)>,
    /// The secret fields this record takes; the first is required.
    fields: Vec<SecretFieldName>,
    secrets: Vec<SecretField>,
}

fn check_record(req: CreateRecord, actor: &str, now: i64) -> ApiResult<CheckedRecord> {
    if req.kind != "unix" && req.kind != "windows" {
        return Err(bad("record.kind-invalid", "kind is unix or windows"));
    }
    text("title", &req.title, 128)?;
    text("user", &req.user, 255)?;
    if req.comments.chars().count() > 2000 {
        return Err(bad(
            "record.field-invalid",
            "comments are at most 2000 characters",
        ));
    }
    let mut ranges = Vec::with_capacity(req.ips.len());
    for entry in &req.ips {
        let r = IpRange::parse(entry).map_err(|e| bad("record.ip-invalid", e))?;
        if ranges
            .iter()
            .any(|(_, x): &(String, IpRange)| x.overlaps(&r))
        {
            return Err(bad(
                "record.ip-duplicate",
                format!("{entry:?} overlaps another entry of the same list"),
            ));
        }
        ranges.push((entry.trim().to_string(), r));
    }
    let windows = match (req.kind.as_str(), req.windows) {
        ("windows", w) => Some(validate_windows(
            w.unwrap_or(WindowsInput {
                domain_type: none_domain(),
                domain: None,
                service_selected: false,
                ntlmv2: true,
                ntlmv1: false,
                require_signing: false,
                min_smb_version: smb_min(),
            }),
            ranges.is_empty(),
        )?),
        (_, Some(_)) => {
            return Err(bad(
                "record.windows-options-invalid",
                "Windows options belong to Windows records only",
            ));
        }
        _ => None,
    };
    let unix = match (req.kind.as_str(), req.unix) {
        ("unix", u) => Some(validate_unix(u.unwrap_or_default())?),
        (_, Some(_)) => {
            return Err(bad(
                "record.unix-options-invalid",
                "Unix options belong to Unix records only",
            ));
        }
        _ => None,
    };
    if req.kind == "unix" && ranges.is_empty() {
        return Err(bad("record.ips-required", "a Unix record needs IPs"));
    }
    // NTLM carries the domain in its own field: a `DOM\user` name would be sent whole as the
    // account name and fail with a bare STATUS_LOGON_FAILURE, so it is refused here, where
    // the operator can still say which part is the domain.
    if req.kind == "windows" && req.user.contains('\\') {
        let local = windows.as_ref().is_none_or(|w| w.domain_type == "none");
        return Err(bad(
            "record.user-has-domain",
            if local {
                "user holds a domain part (DOMAIN\\user) but domain_type none means a local \
                 account of the target: for a domain account set domain_type netbios or \
                 active_directory, the domain in domain and the bare account name in user; for \
                 a local account give the bare account name"
            } else {
                "user holds a domain part (DOMAIN\\user): the record's domain is already sent \
                 as the domain, so give the bare account name in user"
            },
        ));
    }
    let id = new_id(req.id, "r")?;
    let (unix_auth, fields): (Option<String>, Vec<SecretFieldName>) =
        match (req.login_type.as_str(), req.kind.as_str()) {
            ("vault", kind) => match (kind, req.unix_auth.as_deref()) {
                (_, None) => (None, Vec::new()),
                ("unix", Some(a @ ("password" | "private_key"))) => {
                    (Some(a.to_string()), Vec::new())
                }
                ("unix", Some(_)) => {
                    return Err(bad(
                        "record.unix-auth-invalid",
                        "unix_auth is password or private_key",
                    ));
                }
                (_, Some(_)) => {
                    return Err(bad(
                        "record.unix-auth-invalid",
                        "unix_auth applies to Unix records only",
                    ));
                }
            },
            ("basic", "unix") => match req.unix_auth.as_deref().unwrap_or("password") {
                "password" => (Some("password".into()), vec![SecretFieldName::Password]),
                "private_key" => (
                    Some("private_key".into()),
                    vec![SecretFieldName::PrivateKey, SecretFieldName::Passphrase],
                ),
                _ => {
                    return Err(bad(
                        "record.unix-auth-invalid",
                        "unix_auth is password or private_key",
                    ));
                }
            },
            ("basic", _) => {
                if req.unix_auth.is_some() {
                    return Err(bad(
                        "record.unix-auth-invalid",
                        "unix_auth applies to Unix records only",
                    ));
                }
                (None, vec![SecretFieldName::Password])
            }
            _ => {
                return Err(bad(
                    "record.login-type-invalid",
                    "login_type is basic or vault",
                ));
            }
        };
    let (vault_id, secret_name, folder, secret_id) = if req.login_type == "vault" {
        let vault_id = req.vault_id.ok_or_else(|| {
            bad(
                "record.vault-required",
                "a vault login names the vault (vault_id)",
            )
        })?;
        let (secret_name, folder, secret_id) =
            secret_reference(req.secret_name, req.folder, req.secret_id, req.secret_path)?;
        if !req.secrets.is_empty() {
            return Err(bad(
                "record.secrets-unexpected",
                "a vault login holds no secret: the appliance fetches it from the vault at scan time",
            ));
        }
        (Some(vault_id), secret_name, folder, secret_id)
    } else {
        if req.vault_id.is_some()
            || req.secret_name.is_some()
            || req.folder.is_some()
            || req.secret_id.is_some()
            || req.secret_path.is_some()
        {
            return Err(bad(
                "record.vault-unexpected",
                "vault_id, secret_name, secret_id, secret_path and folder belong to vault logins",
            ));
        }
        (None, None, None, None)
    };
    if unix.as_ref().is_some_and(|u| u.certificate.is_some())
        && req.login_type == "basic"
        && unix_auth.as_deref() != Some("private_key")
    {
        return Err(bad(
            "record.certificate-unused",
            "a certificate applies to key logins only (unix_auth private_key)",
        ));
    }
    let delegation = delegation_fields(unix.as_ref(), &req.login_type, unix_auth.as_deref())?;
    let fields: Vec<SecretFieldName> = fields.into_iter().chain(delegation).collect();
    // Secrets: each allowed field at most once; the password (or private key) is required.
    let mut seen = std::collections::HashSet::new();
    for s in &req.secrets {
        if !fields.contains(&s.field) {
            return Err(bad(
                "record.secret-unexpected",
                format!("this record takes no {}", s.field.as_str()),
            ));
        }
        if !seen.insert(s.field) {
            return Err(bad(
                "record.secret-duplicate",
                format!("the {} is given twice", s.field.as_str()),
            ));
        }
    }
    let row = RecordRow {
        id,
        kind: req.kind,
        title: req.title.trim().to_string(),
        username: req.user,
        ips: ranges.iter().map(|(e, _)| e.clone()).collect(),
        login_type: req.login_type,
        vault_id,
        secret_name,
        folder,
        secret_id,
        comments: req.comments,
        unix_auth,
        windows,
        unix,
        migration: None,
        migration_reason: None,
        created_by: actor.to_string(),
        created_at: now,
    };
    Ok(CheckedRecord {
        row,
        ranges,
        fields,
        secrets: req.secrets,
    })
}

/// A vault login's secret: exactly one of a name (optionally with its folder), an id, or a
/// path (`\Folder\Name`, stored as its folder and name). Returns (name, folder, id).
type SecretReference = (Option<String>, Option<String>, Option<i64>);

fn secret_reference(
    name: Option<String>,
    folder: Option<String>,
    id: Option<i64>,
    path: Option<String>,
) -> ApiResult<SecretReference> {
    let given = [name.is_some(), id.is_some(), path.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(bad(
                "record.secret-name-required",
                "a vault login names the secret to fetch: secret_name, secret_id or secret_path",
            ));
        }
        1 => {}
        _ => {
            return Err(bad(
                "record.secret-reference-conflict",
                "give one of secret_name, secret_id and secret_path",
            ));
        }
    }
    if folder.is_some() && name.is_none() {
        return Err(bad(
            "record.folder-unexpected",
            "folder goes with secret_name; a secret_path holds its folder, a secret_id needs none",
        ));
    }
    if let Some(id) = id {
        if id <= 0 {
            return Err(bad(
                "record.secret-id-invalid",
                "secret_id is a positive number",
            ));
        }
        return Ok((None, None, Some(id)));
    }
    if let Some(path) = path {
        text("secret_path", &path, 1000)?;
        let parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
        let Some((last, folders)) = parts.split_last() else {
            return Err(bad(
                "record.secret-path-invalid",
                "secret_path is \\Folder\\Name: a folder path and the secret's name",
            ));
        };
        if folders.is_empty() {
            return Err(bad(
                "record.secret-path-invalid",
                "secret_path names no folder; give the name alone as secret_name",
            ));
        }
        let folder: String = folders.iter().flat_map(|f| ["\\", f]).collect();
        text("secret_path", last, 255)?;
        text("folder", &folder, 255)?;
        return Ok((Some((*last).to_string()), Some(folder), None));
    }
    let name = name.unwrap_or_default();
    text("secret_name", &name, 255)?;
    if let Some(f) = &folder {
        text("folder", f, 255)?;
    }
    Ok((Some(name), folder, None))
}

/// How a record's secret is shown in listings: `name`, `\Folder\name` (or `name in
/// folder F` for a folder given by name or id), or `id 42`.
pub fn secret_shown(r: &RecordRow) -> Option<String> {
    if let Some(id) = r.secret_id {
        return Some(format!("id {id}"));
    }
    let name = r.secret_name.as_ref()?;
    Some(match &r.folder {
        Some(f) if f.starts_with('\\') => format!("{f}\\{name}"),
        Some(f) => format!("{name} in folder {f}"),
        None => name.clone(),
    })
}

/// The rules against other records: unique title, one record per IP per type, one
/// service-selected record per NetBIOS domain, an existing vault. `except`: the record being
/// updated, which may keep what it holds.
fn check_conflicts(
    tx: &Tx<'_>,
    row: &RecordRow,
    ranges: &[(String, IpRange)],
    except: Option<&str>,
) -> ApiResult<()> {
    if let Some(other) = tx.record_by_title(&row.title)?
        && Some(other.id.as_str()) != except
    {
        return Err(ApiError::conflict(
            "record.title-taken",
            format!("the title {:?} is taken by record {}", row.title, other.id),
        ));
    }
    if except.is_none() && tx.record(&row.id)?.is_some() {
        return Err(ApiError::conflict(
            "record.id-taken",
            format!("a record with id {} exists", row.id),
        ));
    }
    if let Some(v) = &row.vault_id
        && tx.vault(v)?.is_none()
    {
        return Err(no_vault(v));
    }
    check_ip_claims(tx, &row.kind, ranges, except)?;
    if let Some(w) = &row.windows
        && w.service_selected
        && let Some(other) = tx.records()?.into_iter().find(|o| {
            Some(o.id.as_str()) != except
                && o.windows.as_ref().is_some_and(|ow| {
                    ow.service_selected
                        && ow.domain.as_deref().map(str::to_ascii_lowercase)
                            == w.domain.as_deref().map(str::to_ascii_lowercase)
                })
        })
    {
        return Err(ApiError::conflict(
            "record.domain-taken",
            format!(
                "the NetBIOS domain {} already has the service-selected record {:?} ({})",
                w.domain.as_deref().unwrap_or(""),
                other.title,
                other.id
            ),
        ));
    }
    Ok(())
}

pub async fn create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let req: CreateRecord = body.parse()?;
    let now = state.now();
    let CheckedRecord {
        row,
        ranges,
        fields,
        secrets,
    } = check_record(req, &actor.username, now)?;
    let seen: std::collections::HashSet<SecretFieldName> =
        secrets.iter().map(|s| s.field).collect();
    if let Some(required) = fields.first()
        && !seen.contains(required)
    {
        return Err(bad(
            "record.secret-required",
            format!("this record needs its {}", required.as_str()),
        ));
    }
    if needs_delegation_secret(&row) && !seen.contains(&SecretFieldName::DelegationPassword) {
        return Err(bad(
            "record.secret-required",
            "this record's delegation needs its delegation_password",
        ));
    }
    let view = state.store.write(|tx| {
        let model = model_for_change(tx, &state, &p, false)?;
        check_conflicts(tx, &row, &ranges, None)?;
        let bound: Vec<(Binding, &SecretValue)> = secrets
            .iter()
            .map(|s| (record_binding(&row, s.field), &s.value))
            .collect();
        check_secrets(tx, &model, &bound)?;
        tx.insert_record(&row)?;
        units::adopt(tx, &p, UnitOwner::Record(&row.id))?;
        for (binding, value) in &bound {
            store_secret(tx, &state, binding, value, now)?;
        }
        tx.audit(
            now,
            &actor.username,
            "record.created",
            &format!("record:{}", row.id),
            &json!({"kind": row.kind, "title": row.title, "ips": row.ips,
                    "model": match model { SecretModel::Legacy => "legacy", SecretModel::Sealed => "sealed" }}),
            Some(&p.ip.to_string()),
        )?;
        record_view(tx, &row)
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let now = state.now();
    state.store.write(|tx| {
        let r = tx.record(&id)?.ok_or_else(|| no_record(&id))?;
        units::check(tx, &p, UnitOwner::Record(&r.id))?;
        model_for_change(tx, &state, &p, is_pending(&r.migration))?;
        tx.delete_record(&r.id, &r.kind)?;
        tx.set_unit(UnitOwner::Record(&r.id), None)?;
        tx.audit(
            now,
            &actor.username,
            "record.deleted",
            &format!("record:{}", r.id),
            &json!({"title": r.title}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(json!({"deleted": id})))
}

pub async fn vault_list(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    let vaults = state.store.read(|tx| {
        let records = tx.records()?;
        tx.vaults()?
            .iter()
            .map(|v| {
                let mut view = vault_view(tx, v)?;
                // Which records fetch which secret from this vault.
                let secrets: Vec<Value> = records
                    .iter()
                    .filter(|r| r.vault_id.as_deref() == Some(v.id.as_str()))
                    .map(|r| json!({"record": r.id, "title": r.title, "secret": secret_shown(r)}))
                    .collect();
                if let Some(obj) = view.as_object_mut() {
                    obj.insert("secret_refs".into(), Value::Array(secrets));
                }
                Ok(view)
            })
            .collect::<ApiResult<Vec<_>>>()
    })?;
    Ok(Json(json!({ "vaults": vaults })))
}

pub async fn vault_show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    let v = state.store.read(|tx| match tx.vault(&id)? {
        Some(v) => {
            let mut view = vault_view(tx, &v)?;
            if let Some(obj) = view.as_object_mut() {
                obj.insert("used_by".into(), json!(tx.records_using_vault(&id)?));
            }
            Ok(view)
        }
        None => Err(no_vault(&id)),
    })?;
    Ok(Json(v))
}

/// A vault request checked field by field, before anything touches the store.
fn check_vault(req: CreateVault, actor: &str, now: i64) -> ApiResult<(VaultRow, SecretValue)> {
    text("title", &req.title, 128)?;
    text("user", &req.user, 255)?;
    text("url", &req.url, 2000)?;
    let url = reqwest::Url::parse(req.url.trim()).map_err(|e| {
        bad(
            "vault.url-invalid",
            format!("the vault URL does not parse: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            "vault.url-invalid",
            "the vault URL is http:// or https:// with a host",
        ));
    }
    if !["rest", "soap", "auto"].contains(&req.api.as_str()) {
        return Err(bad("vault.api-invalid", "api is rest, soap or auto"));
    }
    for (name, v) in [("domain", &req.domain), ("organization", &req.organization)] {
        if let Some(v) = v {
            text(name, v, 255)?;
        }
    }
    if let Some(pem) = &req.ca_pem {
        let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad("vault.ca-invalid", format!("the CA bundle is not PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad(
                "vault.ca-invalid",
                "the CA bundle holds no certificate",
            ));
        }
        if !req.verify_tls {
            return Err(bad(
                "vault.ca-unused",
                "a CA bundle is given but TLS verification is off",
            ));
        }
    }
    let row = VaultRow {
        id: new_id(req.id, "v")?,
        title: req.title.trim().to_string(),
        url: req.url.trim().to_string(),
        username: req.user,
        domain: req.domain.filter(|d| !d.is_empty()),
        organization: req.organization.filter(|o| !o.is_empty()),
        verify_tls: req.verify_tls,
        ca_pem: req.ca_pem,
        api: req.api,
        comments: req.comments,
        migration: None,
        migration_reason: None,
        created_by: actor.to_string(),
        created_at: now,
    };
    Ok((row, req.password))
}

pub async fn vault_create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let req: CreateVault = body.parse()?;
    let now = state.now();
    let (row, password) = check_vault(req, &actor.username, now)?;
    let view = state.store.write(|tx| {
        let model = model_for_change(tx, &state, &p, false)?;
        if let Some(other) = tx.vault_by_title(&row.title)? {
            return Err(ApiError::conflict(
                "vault.title-taken",
                format!("the title {:?} is taken by vault {}", row.title, other.id),
            ));
        }
        if tx.vault(&row.id)?.is_some() {
            return Err(ApiError::conflict(
                "vault.id-taken",
                format!("a vault with id {} exists", row.id),
            ));
        }
        let binding = vault_binding(&row);
        check_secrets(tx, &model, &[(binding.clone(), &password)])?;
        tx.insert_vault(&row)?;
        units::adopt(tx, &p, UnitOwner::Vault(&row.id))?;
        store_secret(tx, &state, &binding, &password, now)?;
        tx.audit(
            now,
            &actor.username,
            "vault.created",
            &format!("vault:{}", row.id),
            &json!({"title": row.title, "url": row.url}),
            Some(&p.ip.to_string()),
        )?;
        vault_view(tx, &row)
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn vault_delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let now = state.now();
    state.store.write(|tx| {
        let v = tx.vault(&id)?.ok_or_else(|| no_vault(&id))?;
        units::check(tx, &p, UnitOwner::Vault(&v.id))?;
        model_for_change(tx, &state, &p, is_pending(&v.migration))?;
        let users = tx.records_using_vault(&id)?;
        if !users.is_empty() {
            return Err(ApiError::conflict(
                "vault.in-use",
                format!(
                    "the vault is used by the records {}; delete or change them first",
                    users.join(", ")
                ),
            ));
        }
        tx.delete_vault(&id)?;
        tx.set_unit(UnitOwner::Vault(&id), None)?;
        tx.audit(
            now,
            &actor.username,
            "vault.deleted",
            &format!("vault:{id}"),
            &json!({"title": v.title}),
            Some(&p.ip.to_string()),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Json(json!({"deleted": id})))
}

/// `PATCH /records/{id}`: only the fields given change; the kind and id stay. Secrets are
/// replaced only when given (per field), under the same NCSM rules as create.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    #[serde(default)]
    pub login_type: Option<String>,
    #[serde(default)]
    pub vault_id: Option<String>,
    #[serde(default)]
    pub secret_name: Option<String>,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub secret_id: Option<i64>,
    #[serde(default)]
    pub secret_path: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub unix_auth: Option<String>,
    #[serde(default)]
    pub windows: Option<WindowsPatch>,
    #[serde(default)]
    pub unix: Option<UnixInput>,
    #[serde(default)]
    pub secrets: Vec<SecretField>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WindowsPatch {
    #[serde(default)]
    pub domain_type: Option<String>,
    /// An empty string clears it.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub service_selected: Option<bool>,
    #[serde(default)]
    pub ntlmv2: Option<bool>,
    #[serde(default)]
    pub ntlmv1: Option<bool>,
    #[serde(default)]
    pub require_signing: Option<bool>,
    #[serde(default)]
    pub min_smb_version: Option<String>,
}

/// The record as a create request would describe it with `patch` applied, so one set of
/// checks serves both.
fn merged_request(old: &RecordRow, patch: UpdateRecord) -> ApiResult<CreateRecord> {
    let login_type = patch.login_type.unwrap_or_else(|| old.login_type.clone());
    let to_vault = login_type == "vault";
    // Fields of the other login type fall away with a change of type, unless given again
    // (which the checks then refuse, naming them).
    let keep = |given: Option<String>, old: &Option<String>| {
        given.or_else(|| if to_vault { old.clone() } else { None })
    };
    let windows = match (old.windows.as_ref(), patch.windows) {
        (Some(w), p) => {
            let p = p.unwrap_or_default();
            let domain_type = p.domain_type.unwrap_or_else(|| w.domain_type.clone());
            Some(WindowsInput {
                domain: match p.domain {
                    Some(d) => Some(d),
                    // Local accounts carry no domain: switching to none drops the old one.
                    None if domain_type == "none" => None,
                    None => w.domain.clone(),
                },
                domain_type,
                service_selected: p.service_selected.unwrap_or(w.service_selected),
                ntlmv2: p.ntlmv2.unwrap_or(w.ntlmv2),
                ntlmv1: p.ntlmv1.unwrap_or(w.ntlmv1),
                require_signing: p.require_signing.unwrap_or(w.require_signing),
                min_smb_version: p
                    .min_smb_version
                    .unwrap_or_else(|| w.min_smb_version.clone()),
            })
        }
        (None, Some(_)) => {
            return Err(bad(
                "record.windows-options-invalid",
                "Windows options belong to Windows records only",
            ));
        }
        (None, None) => None,
    };
    let unix = match (old.unix.as_ref(), patch.unix) {
        (Some(u), p) => {
            let p = p.unwrap_or_default();
            let policy = p
                .host_key_policy
                .unwrap_or_else(|| u.host_key_policy.as_str().to_string());
            // Keys mean something only to `known`; leaving it drops them.
            let keys = p.known_host_keys.or_else(|| {
                (policy == HostKeyPolicy::Known.as_str()).then(|| u.known_host_keys.clone())
            });
            let delegation = p
                .delegation
                .unwrap_or_else(|| u.delegation.as_str().to_string());
            // sudo's password choice carries over only while the method stays.
            let delegation_password = p.delegation_password.or_else(|| {
                (delegation == u.delegation.as_str() && delegation != "none")
                    .then(|| u.delegation_password.as_str().to_string())
            });
            Some(UnixInput {
                host_key_policy: Some(policy),
                known_host_keys: keys,
                certificate: p.certificate.or_else(|| u.certificate.clone()),
                delegation: Some(delegation),
                delegation_password,
            })
        }
        (None, p) => p,
    };
    let was_vault = old.login_type == "vault";
    let unix_auth = match patch.unix_auth {
        Some(a) => Some(a),
        None if old.kind == "unix" && !to_vault => Some(
            old.unix_auth
                .clone()
                .filter(|_| !was_vault)
                .unwrap_or_else(|| "password".to_string()),
        ),
        // A vault login keeps its choice; a basic login's does not carry over.
        None if to_vault && was_vault => old.unix_auth.clone(),
        None => None,
    };
    // A new secret reference replaces the old one whole (name, folder, id).
    let new_reference =
        patch.secret_name.is_some() || patch.secret_id.is_some() || patch.secret_path.is_some();
    let (secret_name, folder, secret_id) = if new_reference || !to_vault {
        (patch.secret_name, patch.folder, patch.secret_id)
    } else {
        (
            old.secret_name.clone(),
            patch.folder.or_else(|| old.folder.clone()),
            old.secret_id,
        )
    };
    Ok(CreateRecord {
        id: Some(old.id.clone()),
        kind: old.kind.clone(),
        title: patch.title.unwrap_or_else(|| old.title.clone()),
        user: patch.user.unwrap_or_else(|| old.username.clone()),
        ips: patch.ips.unwrap_or_else(|| old.ips.clone()),
        vault_id: keep(patch.vault_id, &old.vault_id),
        secret_name,
        folder,
        secret_id,
        secret_path: patch.secret_path,
        login_type,
        comments: patch.comments.unwrap_or_else(|| old.comments.clone()),
        unix_auth,
        windows,
        unix,
        secrets: patch.secrets,
    })
}

/// Stored envelopes that a change of the user, domain or vault URL would leave bound to the
/// old values: the appliance could no longer open them, so they must be sealed again.
fn rebind_needed(
    tx: &Tx<'_>,
    kind: &str,
    id: &str,
    replaced: &BTreeSet<String>,
    binding_for: impl Fn(&str) -> Option<Binding>,
) -> ApiResult<Option<String>> {
    for (field, text) in tx.envelopes_of(kind, id)? {
        if replaced.contains(&field) {
            continue;
        }
        let (Ok(env), Some(b)) = (Envelope::from_text(&text), binding_for(&field)) else {
            continue;
        };
        if let Some(diff) = env.binding().first_difference(&b) {
            return Ok(Some(format!(
                "its sealed {field} is bound to the old {diff}: the appliances could not open it after this change; send the {field} again, sealed for the new values (sealscan records|vaults update seals it when asked for the secret)"
            )));
        }
    }
    Ok(None)
}

/// After secrets were given again under NCSM: a record left pending by the migration whose
/// legacy ciphertext is now all replaced is migrated.
fn settle_migration(tx: &Tx<'_>, kind: &str, id: &str, pending: bool) -> ApiResult<()> {
    if pending && tx.legacy_secrets_of(kind, id)?.is_empty() {
        tx.set_migration(
            &crate::store::SecretOwner {
                kind: kind.to_string(),
                id: id.to_string(),
            },
            Some("migrated"),
            None,
        )?;
    }
    Ok(())
}

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: RawJson,
) -> ApiResult<Json<Value>> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let patch: UpdateRecord = body.parse()?;
    let now = state.now();
    let view = state.store.write(|tx| {
        let old = tx.record(&id)?.ok_or_else(|| no_record(&id))?;
        units::check(tx, &p, UnitOwner::Record(&old.id))?;
        let model = model_for_change(tx, &state, &p, is_pending(&old.migration))?;
        let CheckedRecord {
            mut row,
            ranges,
            fields,
            secrets,
        } = check_record(merged_request(&old, patch)?, &old.created_by, old.created_at)?;
        row.migration = old.migration.clone();
        row.migration_reason = old.migration_reason.clone();
        check_conflicts(tx, &row, &ranges, Some(&old.id))?;
        let given: BTreeSet<String> = secrets
            .iter()
            .map(|s| s.field.as_str().to_string())
            .collect();
        let takes: BTreeSet<String> = fields.iter().map(|f| f.as_str().to_string()).collect();
        let stored: BTreeSet<String> = tx
            .envelopes_of(&row.kind, &row.id)?
            .into_iter()
            .map(|(f, _)| f)
            .chain(
                tx.legacy_secrets_of(&row.kind, &row.id)?
                    .into_iter()
                    .map(|(f, _)| f),
            )
            .collect();
        let delegation = needs_delegation_secret(&row).then_some(SecretFieldName::DelegationPassword);
        for required in fields.first().into_iter().copied().chain(delegation) {
            let name = required.as_str();
            if !given.contains(name) && !stored.contains(name) {
                return Err(bad(
                    "record.secret-required",
                    format!("this record needs its {name}: give it with this change"),
                ));
            }
        }
        let kept: BTreeSet<String> = stored
            .iter()
            .filter(|f| takes.contains(*f))
            .cloned()
            .collect::<BTreeSet<_>>();
        let check_row = row.clone();
        if let Some(why) = rebind_needed(tx, &row.kind, &row.id, &given, |f| {
            SecretFieldName::from_name(f)
                .filter(|_| kept.contains(f))
                .map(|field| record_binding(&check_row, field))
        })? {
            return Err(ApiError::conflict("record.secrets-rebind-required", why));
        }
        let bound: Vec<(Binding, &SecretValue)> = secrets
            .iter()
            .map(|s| (record_binding(&row, s.field), &s.value))
            .collect();
        check_secrets(tx, &model, &bound)?;
        tx.update_record(&row)?;
        // Secrets the record no longer takes (another login type or Unix method) go.
        for field in stored.difference(&takes) {
            tx.delete_secret_field(&row.kind, &row.id, field)?;
        }
        for (binding, value) in &bound {
            tx.delete_secret_field(&row.kind, &row.id, binding.field.as_str())?;
            store_secret(tx, &state, binding, value, now)?;
        }
        settle_migration(
            tx,
            &row.kind,
            &row.id,
            row.migration.as_deref() == Some("pending") && !given.is_empty(),
        )?;
        let row = tx.record(&row.id)?.ok_or_else(|| no_record(&id))?;
        tx.audit(
            now,
            &actor.username,
            "record.updated",
            &format!("record:{}", row.id),
            &json!({"title": row.title, "ips": row.ips, "secrets_replaced": given,
                    "model": match model { SecretModel::Legacy => "legacy", SecretModel::Sealed => "sealed" }}),
            Some(&p.ip.to_string()),
        )?;
        record_view(tx, &row)
    })?;
    Ok(Json(view))
}

/// `PATCH /vaults/{id}`: only the fields given change; the password only when given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVault {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// An empty string clears it.
    #[serde(default)]
    pub domain: Option<String>,
    /// An empty string clears it.
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub verify_tls: Option<bool>,
    /// An empty string clears it.
    #[serde(default)]
    pub ca_pem: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub password: Option<SecretValue>,
}

pub async fn vault_update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: RawJson,
) -> ApiResult<Json<Value>> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let patch: UpdateVault = body.parse()?;
    let now = state.now();
    let view = state.store.write(|tx| {
        let old = tx.vault(&id)?.ok_or_else(|| no_vault(&id))?;
        units::check(tx, &p, UnitOwner::Vault(&old.id))?;
        let model = model_for_change(tx, &state, &p, is_pending(&old.migration))?;
        let clearable = |given: Option<String>, old: &Option<String>| match given {
            Some(v) if v.is_empty() => None,
            Some(v) => Some(v),
            None => old.clone(),
        };
        let req = CreateVault {
            id: Some(old.id.clone()),
            title: patch.title.unwrap_or_else(|| old.title.clone()),
            url: patch.url.unwrap_or_else(|| old.url.clone()),
            user: patch.user.unwrap_or_else(|| old.username.clone()),
            domain: clearable(patch.domain, &old.domain),
            organization: clearable(patch.organization, &old.organization),
            verify_tls: patch.verify_tls.unwrap_or(old.verify_tls),
            ca_pem: clearable(patch.ca_pem, &old.ca_pem),
            api: patch.api.unwrap_or_else(|| old.api.clone()),
            comments: patch.comments.unwrap_or_else(|| old.comments.clone()),
            // Checked apart below: the vault keeps its stored password when none is given.
            password: SecretValue::Sealed {
                envelope: String::new(),
            },
        };
        let (mut row, _) = check_vault(req, &old.created_by, old.created_at)?;
        row.migration = old.migration.clone();
        row.migration_reason = old.migration_reason.clone();
        if let Some(other) = tx.vault_by_title(&row.title)?
            && other.id != row.id
        {
            return Err(ApiError::conflict(
                "vault.title-taken",
                format!("the title {:?} is taken by vault {}", row.title, other.id),
            ));
        }
        let binding = vault_binding(&row);
        let given: BTreeSet<String> = patch
            .password
            .iter()
            .map(|_| binding.field.as_str().to_string())
            .collect();
        if let Some(why) =
            rebind_needed(tx, VAULT_KIND, &row.id, &given, |_| Some(binding.clone()))?
        {
            return Err(ApiError::conflict("vault.secrets-rebind-required", why));
        }
        if let Some(password) = &patch.password {
            check_secrets(tx, &model, &[(binding.clone(), password)])?;
        }
        tx.update_vault(&row)?;
        if let Some(password) = &patch.password {
            tx.delete_secret_field(VAULT_KIND, &row.id, binding.field.as_str())?;
            store_secret(tx, &state, &binding, password, now)?;
        }
        settle_migration(
            tx,
            VAULT_KIND,
            &row.id,
            row.migration.as_deref() == Some("pending") && !given.is_empty(),
        )?;
        let row = tx.vault(&row.id)?.ok_or_else(|| no_vault(&id))?;
        tx.audit(
            now,
            &actor.username,
            "vault.updated",
            &format!("vault:{}", row.id),
            &json!({"title": row.title, "url": row.url, "password_replaced": !given.is_empty()}),
            Some(&p.ip.to_string()),
        )?;
        vault_view(tx, &row)
    })?;
    Ok(Json(view))
}

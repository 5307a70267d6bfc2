//! Authentication records (Unix, Windows) and Secret Server vault records. Secrets go in and
//! never come out: legacy values are encrypted with the data key, NCSM envelopes are checked
//! against the binding and the approved appliances, and every view names fields only.
use super::Shared;
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, Body};
use crate::authz::{self, Action};
use crate::credentials::{envelope_binding, record_binding, seal_legacy, vault_binding};
use crate::iprange::IpRange;
use crate::store::{NcsmState, RecordRow, Tx, VAULT_KIND, VaultRow, WindowsSettings};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
use rand::rngs::OsRng;
use sealscan_protocols::appliance::{BindingFields, SecretField, SecretFieldName, SecretValue};
use sealscan_protocols::envelope::Envelope;
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
    #[serde(default)]
    pub comments: String,
    /// Unix basic logins: "password" (default) or "private_key".
    #[serde(default)]
    pub unix_auth: Option<String>,
    #[serde(default)]
    pub windows: Option<WindowsInput>,
    #[serde(default)]
    pub secrets: Vec<SecretField>,
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

fn parse_body<T: serde::de::DeserializeOwned>(body: Value) -> ApiResult<T> {
    // Parsed after the role check, so a refused caller learns nothing about the body rules.
    serde_json::from_value(body).map_err(|e| {
        // serde's message may quote a value; keep only its position-free description.
        let text = e.to_string();
        let safe = text.split('`').step_by(2).collect::<Vec<_>>().join("…");
        bad(
            "request.malformed",
            format!("the request body is not valid: {safe}"),
        )
    })
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

fn model_for_change(tx: &Tx<'_>, p: &UserPrincipal) -> ApiResult<SecretModel> {
    match tx.ncsm()? {
        None => Ok(SecretModel::Legacy),
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

/// Checks every secret against the model in force and, for envelopes, the binding and the
/// recipient set (every approved appliance, no other key).
fn check_secrets(
    tx: &Tx<'_>,
    model: &SecretModel,
    secrets: &[(BindingFields, &SecretValue)],
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
                if let Some(diff) = env.binding().first_difference(&envelope_binding(binding)) {
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
    binding: &BindingFields,
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
fn check_ip_claims(tx: &Tx<'_>, kind: &str, ranges: &[(String, IpRange)]) -> ApiResult<()> {
    for other in tx.records()?.into_iter().filter(|r| r.kind == kind) {
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

pub async fn create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let req: CreateRecord = parse_body(body)?;
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
    if req.kind == "unix" && ranges.is_empty() {
        return Err(bad("record.ips-required", "a Unix record needs IPs"));
    }
    let id = new_id(req.id, "r")?;
    let (unix_auth, fields): (Option<String>, Vec<SecretFieldName>) =
        match (req.login_type.as_str(), req.kind.as_str()) {
            ("vault", _) => {
                if req.unix_auth.is_some() {
                    return Err(bad(
                        "record.unix-auth-invalid",
                        "unix_auth applies to basic logins; a vault login fetches the secret",
                    ));
                }
                (None, Vec::new())
            }
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
    let (vault_id, secret_name, folder) = if req.login_type == "vault" {
        let vault_id = req.vault_id.ok_or_else(|| {
            bad(
                "record.vault-required",
                "a vault login names the vault (vault_id)",
            )
        })?;
        let secret_name = req.secret_name.ok_or_else(|| {
            bad(
                "record.secret-name-required",
                "a vault login names the secret to fetch (secret_name)",
            )
        })?;
        text("secret_name", &secret_name, 255)?;
        if let Some(f) = &req.folder {
            text("folder", f, 255)?;
        }
        if !req.secrets.is_empty() {
            return Err(bad(
                "record.secrets-unexpected",
                "a vault login holds no secret: the appliance fetches it from the vault at scan time",
            ));
        }
        (Some(vault_id), Some(secret_name), req.folder)
    } else {
        if req.vault_id.is_some() || req.secret_name.is_some() || req.folder.is_some() {
            return Err(bad(
                "record.vault-unexpected",
                "vault_id, secret_name and folder belong to vault logins",
            ));
        }
        (None, None, None)
    };
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
    if let Some(required) = fields.first()
        && !seen.contains(required)
    {
        return Err(bad(
            "record.secret-required",
            format!("this record needs its {}", required.as_str()),
        ));
    }
    let now = state.now();
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
        comments: req.comments,
        unix_auth,
        windows,
        migration: None,
        migration_reason: None,
        created_by: actor.username.clone(),
        created_at: now,
    };
    let view = state.store.write(|tx| {
        let model = model_for_change(tx, &p)?;
        if let Some(other) = tx.record_by_title(&row.title)? {
            return Err(ApiError::conflict(
                "record.title-taken",
                format!("the title {:?} is taken by record {}", row.title, other.id),
            ));
        }
        if tx.record(&row.id)?.is_some() {
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
        check_ip_claims(tx, &row.kind, &ranges)?;
        if let Some(w) = &row.windows
            && w.service_selected
            && let Some(other) = tx.records()?.into_iter().find(|o| {
                o.windows.as_ref().is_some_and(|ow| {
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
        let bound: Vec<(BindingFields, &SecretValue)> = req
            .secrets
            .iter()
            .map(|s| (record_binding(&row, s.field), &s.value))
            .collect();
        check_secrets(tx, &model, &bound)?;
        tx.insert_record(&row)?;
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
        model_for_change(tx, &p)?;
        let r = tx.record(&id)?.ok_or_else(|| no_record(&id))?;
        tx.delete_record(&r.id, &r.kind)?;
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
        tx.vaults()?
            .iter()
            .map(|v| vault_view(tx, v))
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

pub async fn vault_create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = p.actor();
    authz::require(&actor, Action::EditRecords)?;
    let req: CreateVault = parse_body(body)?;
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
    let now = state.now();
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
        created_by: actor.username.clone(),
        created_at: now,
    };
    let view = state.store.write(|tx| {
        let model = model_for_change(tx, &p)?;
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
        check_secrets(tx, &model, &[(binding.clone(), &req.password)])?;
        tx.insert_vault(&row)?;
        store_secret(tx, &state, &binding, &req.password, now)?;
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
        model_for_change(tx, &p)?;
        let v = tx.vault(&id)?.ok_or_else(|| no_vault(&id))?;
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

//! Authentication records (Unix, Windows) and Secret Server vault records. Secrets go in and
//! never come out: legacy values are encrypted with the data key, NCSM envelopes are checked
//! against the binding and the approved appliances, and every view names fields only.
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, RawJson};
use crate::authz::{self, Action, Actor};
use crate::domain::editor::Editor;
use crate::domain::records::windows::WindowsDraft;
use crate::domain::records::{self, RecordDraft, RecordPatch, SecretRef};
use crate::domain::validate;
use crate::domain::vaults::{self, VaultDraft, VaultPatch};
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{RecordRow, Tx, UnitOwner, VAULT_KIND, VaultRow};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealscan_protocols::appliance::{
    LoginType, RecordKind, SecretField, SecretValue, UnixAuth, WindowsDomainType,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::smb2::Dialect;
use serde::Deserialize;
use serde_json::{Value, json};

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

/// The request's names as the protocol's enums, each refusal naming the field and its
/// choices. Everything else is checked by the domain.
fn kind(v: &str) -> DomainResult<RecordKind> {
    validate::choice(v, "record.kind-invalid", "kind is unix or windows")
}
fn login_type(v: &str) -> DomainResult<LoginType> {
    validate::choice(
        v,
        "record.login-type-invalid",
        "login_type is basic or vault",
    )
}
fn unix_auth(v: &str) -> DomainResult<UnixAuth> {
    validate::choice(
        v,
        "record.unix-auth-invalid",
        "unix_auth is password or private_key",
    )
}
fn domain_type(v: &str) -> DomainResult<WindowsDomainType> {
    validate::choice(
        v,
        "record.domain-type-invalid",
        "domain_type is none, netbios or active_directory",
    )
}
fn smb_version(v: &str) -> DomainResult<Dialect> {
    Dialect::from_name(v).ok_or_else(|| {
        DomainError::invalid(
            "record.smb-version-invalid",
            format!("min_smb_version is one of {}", Dialect::names()),
        )
    })
}

fn record_draft(req: CreateRecord) -> DomainResult<RecordDraft> {
    let kind = kind(&req.kind)?;
    let windows = req
        .windows
        .map(|w| {
            Ok::<_, DomainError>(WindowsDraft {
                domain_type: domain_type(&w.domain_type)?,
                domain: w.domain,
                service_selected: w.service_selected,
                ntlmv2: w.ntlmv2,
                ntlmv1: w.ntlmv1,
                require_signing: w.require_signing,
                min_smb_version: smb_version(&w.min_smb_version)?,
            })
        })
        .transpose()?;
    Ok(RecordDraft {
        id: req.id,
        kind,
        title: req.title,
        user: req.user,
        ips: req.ips,
        login_type: login_type(&req.login_type)?,
        vault_id: req.vault_id,
        secret: SecretRef::new(req.secret_name, req.folder, req.secret_id, req.secret_path),
        comments: req.comments,
        unix_auth: req.unix_auth.as_deref().map(unix_auth).transpose()?,
        windows,
        secrets: req.secrets,
    })
}

fn record_patch(req: UpdateRecord) -> DomainResult<RecordPatch> {
    let windows = req
        .windows
        .map(|w| {
            Ok::<_, DomainError>(records::windows::WindowsPatch {
                domain_type: w.domain_type.as_deref().map(domain_type).transpose()?,
                domain: w.domain,
                service_selected: w.service_selected,
                ntlmv2: w.ntlmv2,
                ntlmv1: w.ntlmv1,
                require_signing: w.require_signing,
                min_smb_version: w.min_smb_version.as_deref().map(smb_version).transpose()?,
            })
        })
        .transpose()?;
    Ok(RecordPatch {
        title: req.title,
        user: req.user,
        ips: req.ips,
        login_type: req.login_type.as_deref().map(login_type).transpose()?,
        vault_id: req.vault_id,
        secret: SecretRef::new(req.secret_name, req.folder, req.secret_id, req.secret_path),
        comments: req.comments,
        unix_auth: req.unix_auth.as_deref().map(unix_auth).transpose()?,
        windows,
        secrets: req.secrets,
    })
}

fn vault_draft(req: CreateVault) -> (VaultDraft, SecretValue) {
    let draft = VaultDraft {
        id: req.id,
        title: req.title,
        url: req.url,
        user: req.user,
        domain: req.domain,
        organization: req.organization,
        verify_tls: req.verify_tls,
        ca_pem: req.ca_pem,
        api: req.api,
        comments: req.comments,
    };
    (draft, req.password)
}

fn vault_patch(req: UpdateVault) -> (VaultPatch, Option<SecretValue>) {
    let patch = VaultPatch {
        title: req.title,
        url: req.url,
        user: req.user,
        domain: req.domain,
        organization: req.organization,
        verify_tls: req.verify_tls,
        ca_pem: req.ca_pem,
        api: req.api,
        comments: req.comments,
    };
    (patch, req.password)
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
            Value::Array(secret_names(tx, r.kind.as_str(), &r.id)?),
        );
        obj.insert(
            "pending_migration".into(),
            Value::Bool(r.migration.as_deref() == Some("pending")),
        );
        obj.insert("unit".into(), tx.unit_of(UnitOwner::Record(&r.id))?.into());
        if let Some(shown) = records::secret_shown(r) {
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
        None => Err(ApiError::from(records::no_record(&id))),
    })?;
    Ok(Json(record))
}

fn editor<'a>(p: &UserPrincipal, actor: &'a Actor, ip: &'a str) -> Editor<'a> {
    Editor {
        actor,
        session_created_at: p.session.created_at,
        ip,
    }
}

pub async fn create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let draft = record_draft(body.parse::<CreateRecord>()?)?;
    let shown = edit(
        &p,
        &state,
        |tx, ed| records::edit::create(tx, &state, ed, draft, state.now()),
        record_view,
    )?;
    Ok((StatusCode::CREATED, shown))
}

/// Makes a change to records or vaults as `p` (whom the handler authorized, before it parsed
/// the body) in one transaction, and renders what it answers with `view`.
fn edit<R>(
    p: &UserPrincipal,
    state: &Shared,
    change: impl FnOnce(&Tx<'_>, &Editor<'_>) -> DomainResult<R>,
    view: impl FnOnce(&Tx<'_>, &R) -> ApiResult<Value>,
) -> ApiResult<Json<Value>> {
    let actor = p.actor();
    let ip = p.ip.to_string();
    let ed = editor(p, &actor, &ip);
    let shown = state.store.write(|tx| {
        let changed = change(tx, &ed)?;
        view(tx, &changed)
    })?;
    Ok(Json(shown))
}

type Deletion = fn(&Tx<'_>, &Shared, &Editor<'_>, &str, i64) -> DomainResult<()>;

/// Deletes a record or vault with `delete` and says so.
fn deleted(
    p: &UserPrincipal,
    state: &Shared,
    id: String,
    delete: Deletion,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::EditRecords)?;
    edit(
        p,
        state,
        |tx, ed| delete(tx, state, ed, &id, state.now()),
        |_, ()| Ok(json!({"deleted": id})),
    )
}

pub async fn delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    deleted(&p, &state, id, records::edit::delete)
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
                    .map(|r| json!({"record": r.id, "title": r.title, "secret": records::secret_shown(r)}))
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
        None => Err(ApiError::from(vaults::no_vault(&id))),
    })?;
    Ok(Json(v))
}

pub async fn vault_create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let (draft, password) = vault_draft(body.parse::<CreateVault>()?);
    let shown = edit(
        &p,
        &state,
        |tx, ed| vaults::create(tx, &state, ed, draft, &password, state.now()),
        vault_view,
    )?;
    Ok((StatusCode::CREATED, shown))
}

pub async fn vault_delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    deleted(&p, &state, id, vaults::delete)
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

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: RawJson,
) -> ApiResult<Json<Value>> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let patch = record_patch(body.parse::<UpdateRecord>()?)?;
    let shown = edit(
        &p,
        &state,
        |tx, ed| records::edit::update(tx, &state, ed, &id, patch, state.now()),
        record_view,
    )?;
    Ok(shown)
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
    authz::require(&p.actor(), Action::EditRecords)?;
    let (patch, password) = vault_patch(body.parse::<UpdateVault>()?);
    let shown = edit(
        &p,
        &state,
        |tx, ed| vaults::update(tx, &state, ed, &id, patch, password.as_ref(), state.now()),
        vault_view,
    )?;
    Ok(shown)
}

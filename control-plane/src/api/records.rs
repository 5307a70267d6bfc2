//! Authentication records (Unix, Windows) and Secret Server vault records. Secrets go in and
//! never come out: legacy values are encrypted with the data key, NCSM envelopes are checked
//! against the binding and the approved appliances, and every view names fields only.
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiResult, RawJson};
use crate::authz::{self, Action};
use crate::domain::editor::Editor;
use crate::domain::records::windows::WindowsDraft;
use crate::domain::records::{self, LoginInput, RecordDraft, RecordPatch, SecretRef};
use crate::domain::signing;
use crate::domain::validate;
use crate::domain::vaults;
use crate::domain::{DomainError, DomainResult, Shared};
use crate::store::{RecordRow, Tx, UnitOwner, VAULT_KIND, VaultRow};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sealscan_api::Code;
pub use sealscan_api::records::{
    CreateRecord, CreateVault, Deleted, RecordList, RecordView, SecretInfo, SecretLocator,
    SecretModel as ShownModel, SecretRef as ShownSecretRef, UpdateRecord, UpdateVault, VaultList,
    VaultView, WindowsInput, WindowsPatch,
};
use sealscan_protocols::appliance::{
    LoginType, RecordKind, SecretField, UnixAuth, WindowsAuthProtocol, WindowsDomainType,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::smb2::Dialect;

/// The request's names as the protocol's enums, each refusal naming the field and its
/// choices. Everything else is checked by the domain.
fn kind(v: &str) -> DomainResult<RecordKind> {
    validate::choice(v, Code::RecordKindInvalid, "kind is unix or windows")
}
fn login_type(v: &str) -> DomainResult<LoginType> {
    validate::choice(
        v,
        Code::RecordLoginTypeInvalid,
        "login_type is basic or vault",
    )
}
fn unix_auth(v: &str) -> DomainResult<UnixAuth> {
    validate::choice(
        v,
        Code::RecordUnixAuthInvalid,
        "unix_auth is password or private_key",
    )
}
fn domain_type(v: &str) -> DomainResult<WindowsDomainType> {
    validate::choice(
        v,
        Code::RecordDomainTypeInvalid,
        "domain_type is none, netbios or active_directory",
    )
}
fn auth_protocol(v: &str) -> DomainResult<WindowsAuthProtocol> {
    v.parse()
        .map_err(|e: String| DomainError::invalid(Code::RecordAuthProtocolInvalid, e))
}
fn smb_version(v: &str) -> DomainResult<Dialect> {
    Dialect::from_name(v).ok_or_else(|| {
        DomainError::invalid(
            Code::RecordSmbVersionInvalid,
            format!("min_smb_version is one of {}", Dialect::names()),
        )
    })
}

fn record_draft(req: CreateRecord) -> DomainResult<RecordDraft> {
    Ok(RecordDraft {
        id: req.id,
        kind: kind(&req.kind)?,
        title: req.title,
        user: req.user,
        ips: req.ips,
        login_type: login_type(&req.login_type)?,
        login: login_input(req.vault_id, req.secret, req.unix_auth, req.secrets)?,
        comments: req.comments,
        // A create is a change of every option over the defaults.
        windows: req
            .windows
            .map(|w| Ok::<_, DomainError>(windows_patch(w.into())?.apply(WindowsDraft::default())))
            .transpose()?,
        unix: req.unix,
    })
}

fn record_patch(req: UpdateRecord) -> DomainResult<RecordPatch> {
    Ok(RecordPatch {
        title: req.title,
        user: req.user,
        ips: req.ips,
        login_type: req.login_type.as_deref().map(login_type).transpose()?,
        login: login_input(req.vault_id, req.secret, req.unix_auth, req.secrets)?,
        comments: req.comments,
        windows: req.windows.map(windows_patch).transpose()?,
        unix: req.unix,
    })
}

fn login_input(
    vault_id: Option<String>,
    secret: SecretLocator,
    auth: Option<String>,
    secrets: Vec<SecretField>,
) -> DomainResult<LoginInput> {
    Ok(LoginInput {
        vault_id,
        secret: SecretRef::from(secret),
        unix_auth: auth.as_deref().map(unix_auth).transpose()?,
        secrets,
    })
}

fn windows_patch(w: WindowsPatch) -> DomainResult<records::windows::WindowsPatch> {
    Ok(records::windows::WindowsPatch {
        domain_type: w.domain_type.as_deref().map(domain_type).transpose()?,
        domain: w.domain,
        service_selected: w.service_selected,
        ntlmv2: w.ntlmv2,
        ntlmv1: w.ntlmv1,
        require_signing: w.require_signing,
        min_smb_version: w.min_smb_version.as_deref().map(smb_version).transpose()?,
        auth_protocol: w.auth_protocol.as_deref().map(auth_protocol).transpose()?,
        realm: w.realm,
        kdcs: w.kdcs,
        host_names: w.host_names,
    })
}

fn secret_names(tx: &Tx<'_>, kind: &str, id: &str) -> ApiResult<Vec<SecretInfo>> {
    let mut out: Vec<SecretInfo> = tx
        .envelopes_of(kind, id)?
        .into_iter()
        .map(|(field, env)| {
            let recipients = Envelope::from_text(&env)
                .map(|e| e.recipient_key_ids().map(hex::encode).collect::<Vec<_>>())
                .unwrap_or_default();
            SecretInfo {
                field,
                model: ShownModel::Sealed,
                recipients: Some(recipients),
            }
        })
        .collect();
    out.extend(
        tx.legacy_secrets_of(kind, id)?
            .into_iter()
            .map(|(field, _)| SecretInfo {
                field,
                model: ShownModel::Legacy,
                recipients: None,
            }),
    );
    Ok(out)
}

fn record_view(tx: &Tx<'_>, r: &RecordRow) -> ApiResult<RecordView> {
    Ok(RecordView {
        secrets: secret_names(tx, r.kind.as_str(), &r.id)?,
        pending_migration: r.migration.as_deref() == Some("pending"),
        unit: tx.unit_of(UnitOwner::Record(&r.id))?,
        secret: records::secret_shown(r),
        statement: tx.record_statement(&r.id)?.map(|(_, text)| text),
        record: r.clone(),
    })
}

fn vault_view(tx: &Tx<'_>, vault: &VaultRow) -> ApiResult<VaultView> {
    Ok(VaultView {
        secrets: secret_names(tx, VAULT_KIND, &vault.id)?,
        pending_migration: vault.migration.as_deref() == Some("pending"),
        unit: tx.unit_of(UnitOwner::Vault(&vault.id))?,
        secret_refs: None,
        used_by: None,
        vault: vault.clone(),
    })
}

pub async fn list(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<RecordList>> {
    viewed(&p, &state, |tx| {
        let records = tx.records()?;
        let records = records.iter().map(|r| record_view(tx, r));
        Ok(RecordList {
            records: records.collect::<ApiResult<_>>()?,
        })
    })
}

/// Shows records or vaults to a viewer of them: authorizes, then reads what `read` renders
/// in one transaction.
fn viewed<V>(
    p: &UserPrincipal,
    state: &Shared,
    read: impl FnOnce(&Tx<'_>) -> ApiResult<V>,
) -> ApiResult<Json<V>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    Ok(Json(state.store.read(read)?))
}

pub async fn show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordView>> {
    viewed(&p, &state, |tx| {
        let r = tx.record(&id)?.ok_or_else(|| records::no_record(&id))?;
        record_view(tx, &r)
    })
}

pub async fn create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<RecordView>)> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let req = body.parse::<CreateRecord>()?;
    let statement = req.statement.clone();
    let draft = record_draft(req)?;
    let shown = edit(
        &p,
        &state,
        |tx, ed| {
            let row = records::edit::create(tx, ed, draft)?;
            keep_statement(tx, ed, &row, statement.as_deref())?;
            Ok(row)
        },
        record_view,
    )?;
    Ok((StatusCode::CREATED, shown))
}

/// Stores the signed statement that came with a create or update, once it is checked against
/// the record as changed (in the same transaction: a refused statement refuses the change).
/// A change without one keeps the stored statement: the control plane cannot unsign a record,
/// and an appliance with a pinned root checks the record against what was signed.
fn keep_statement(
    tx: &Tx<'_>,
    ed: &Editor<'_>,
    row: &RecordRow,
    statement: Option<&str>,
) -> DomainResult<()> {
    if let Some(text) = statement {
        let (version, text) = signing::check_record_statement(tx, row, text)?;
        tx.set_record_statement(&row.id, Some((version, &text)), ed.now)?;
    }
    Ok(())
}

/// Makes a change to records or vaults as `p` (whom the handler authorized, before it parsed
/// the body) in one transaction, and renders what it answers with `view`.
fn edit<R, V>(
    p: &UserPrincipal,
    state: &Shared,
    change: impl FnOnce(&Tx<'_>, &Editor<'_>) -> DomainResult<R>,
    view: impl FnOnce(&Tx<'_>, &R) -> ApiResult<V>,
) -> ApiResult<Json<V>> {
    let actor = p.actor();
    let ip = p.ip.to_string();
    let ed = Editor {
        state,
        actor: &actor,
        session_created_at: p.session.created_at,
        ip: &ip,
        now: state.now(),
    };
    let shown = state.store.write(|tx| {
        let changed = change(tx, &ed)?;
        view(tx, &changed)
    })?;
    Ok(Json(shown))
}

type Deletion = fn(&Tx<'_>, &Editor<'_>, &str) -> DomainResult<()>;

/// Deletes a record or vault with `delete` and says so.
fn deleted(
    p: &UserPrincipal,
    state: &Shared,
    id: String,
    delete: Deletion,
) -> ApiResult<Json<Deleted>> {
    authz::require(&p.actor(), Action::EditRecords)?;
    edit(
        p,
        state,
        |tx, ed| delete(tx, ed, &id),
        |_, ()| {
            Ok(Deleted {
                deleted: id.clone(),
            })
        },
    )
}

pub async fn delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    deleted(&p, &state, id, records::edit::delete)
}

pub async fn vault_list(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<VaultList>> {
    viewed(&p, &state, |tx| {
        let records = tx.records()?;
        tx.vaults()?
            .iter()
            .map(|v| {
                let mut view = vault_view(tx, v)?;
                // Which records fetch which secret from this vault.
                view.secret_refs = Some(
                    records
                        .iter()
                        .filter(|r| r.vault_id.as_deref() == Some(v.id.as_str()))
                        .map(|r| ShownSecretRef {
                            record: r.id.clone(),
                            title: r.title.clone(),
                            secret: records::secret_shown(r),
                        })
                        .collect(),
                );
                Ok(view)
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(|vaults| VaultList { vaults })
    })
}

pub async fn vault_show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<VaultView>> {
    viewed(&p, &state, |tx| {
        let v = tx.vault(&id)?.ok_or_else(|| vaults::no_vault(&id))?;
        let mut view = vault_view(tx, &v)?;
        view.used_by = Some(tx.records_using_vault(&id)?);
        Ok(view)
    })
}

pub async fn vault_create(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<(StatusCode, Json<VaultView>)> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let req = body.parse::<CreateVault>()?;
    let shown = edit(&p, &state, |tx, ed| vaults::create(tx, ed, req), vault_view)?;
    Ok((StatusCode::CREATED, shown))
}

pub async fn vault_delete(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    deleted(&p, &state, id, vaults::delete)
}

pub async fn update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: RawJson,
) -> ApiResult<Json<RecordView>> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let req = body.parse::<UpdateRecord>()?;
    let statement = req.statement.clone();
    let patch = record_patch(req)?;
    let shown = edit(
        &p,
        &state,
        |tx, ed| {
            let row = records::edit::update(tx, ed, &id, patch)?;
            keep_statement(tx, ed, &row, statement.as_deref())?;
            Ok(row)
        },
        record_view,
    )?;
    Ok(shown)
}

pub async fn vault_update(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: RawJson,
) -> ApiResult<Json<VaultView>> {
    authz::require(&p.actor(), Action::EditRecords)?;
    let patch = body.parse::<UpdateVault>()?;
    let shown = edit(
        &p,
        &state,
        |tx, ed| vaults::update(tx, ed, &id, patch),
        vault_view,
    )?;
    Ok(shown)
}

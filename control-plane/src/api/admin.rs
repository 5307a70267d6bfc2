//! What Managers read: the email outbox and the audit log.
use super::auth::CurrentUser;
use super::error::ApiResult;
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::store::{AuditEntry, OutboxEmail};
use axum::Json;
use axum::extract::State;

pub async fn outbox(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Vec<OutboxEmail>>> {
    authz::require(&p.actor(), Action::ReadOutbox)?;
    let mut mails = state.store.read(|tx| tx.list_outbox())?;
    // A reset token lets its reader take over the account; only the operator delivers those.
    for m in mails.iter_mut().filter(|m| m.kind == "password_reset") {
        m.body = "[withheld: holds a one-time reset token; the operator delivers it]".into();
    }
    Ok(Json(mails))
}

pub async fn audit(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    authz::require(&p.actor(), Action::ReadAudit)?;
    Ok(Json(state.store.read(|tx| tx.list_audit(1000))?))
}

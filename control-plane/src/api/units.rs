//! Business units of records and vaults: a Unit Manager changes only those of their unit, and
//! what they create joins it; Managers put records and vaults in units. (Users: `users.rs`.)
use super::auth::{CurrentUser, UserPrincipal};
use super::error::{ApiError, ApiResult, Body};
use super::users::UnitRequest;
use crate::authz::{self, Action};
use crate::domain::Shared;
use crate::domain::accounts::management::checked_unit;
use crate::store::UnitOwner;
use axum::Json;
use axum::extract::{Path, State};
use sealscan_api::Code;
use sealscan_api::users::{OwnerUnit, UnitOwnerKind};
use serde_json::json;

async fn set(
    p: UserPrincipal,
    state: Shared,
    owner_kind: &'static str,
    id: String,
    req: UnitRequest,
) -> ApiResult<Json<OwnerUnit>> {
    let actor = p.actor();
    authz::require(&actor, Action::SetUnits)?;
    let unit = checked_unit(req.unit)?;
    let now = state.now();
    state.store.write(|tx| {
        let (owner, exists) = if owner_kind == "vault" {
            (UnitOwner::Vault(&id), tx.vault(&id)?.is_some())
        } else {
            (UnitOwner::Record(&id), tx.record(&id)?.is_some())
        };
        if !exists {
            return Err(ApiError::not_found(
                Code::UnitOwnerUnknown,
                format!("no {owner_kind} has the id {id:?}"),
            ));
        }
        let was = tx.unit_of(owner)?;
        tx.set_unit(owner, unit.as_deref())?;
        tx.audit(
            now,
            &actor.username,
            "unit.changed",
            &format!("{owner_kind}:{id}"),
            &json!({"from": was, "to": unit}),
            Some(&p.ip.to_string()),
        )?;
        Ok(())
    })?;
    Ok(Json(OwnerUnit {
        kind: if owner_kind == "vault" {
            UnitOwnerKind::Vault
        } else {
            UnitOwnerKind::Record
        },
        id,
        unit,
    }))
}

pub async fn set_record_unit(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    Body(req): Body<UnitRequest>,
) -> ApiResult<Json<OwnerUnit>> {
    set(p, state, "record", id, req).await
}

pub async fn set_vault_unit(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
    Body(req): Body<UnitRequest>,
) -> ApiResult<Json<OwnerUnit>> {
    set(p, state, "vault", id, req).await
}

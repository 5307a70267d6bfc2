//! `GET`/`PUT /signing`: the subscription's signing material (docs/signed-records.md), signed
//! statements a Manager uploads as their CLI made them. The server only checks their structure
//! and keeps them for the jobs; the appliances verify them against their pinned root.
use super::auth::CurrentUser;
use super::error::{ApiResult, RawJson};
use crate::authz::{self, Action};
use crate::domain::{Shared, signing};
use axum::Json;
use axum::extract::State;
pub use sealscan_api::records::SigningMaterial;

pub async fn show(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
) -> ApiResult<Json<SigningMaterial>> {
    authz::require(&p.actor(), Action::ViewRecords)?;
    Ok(Json(state.store.read(signing::material)?))
}

pub async fn upload(
    CurrentUser(p): CurrentUser,
    State(state): State<Shared>,
    body: RawJson,
) -> ApiResult<Json<SigningMaterial>> {
    authz::require(&p.actor(), Action::ManageAppliances)?;
    let up = body.parse::<SigningMaterial>()?;
    let now = state.now();
    let stored = state.store.write(|tx| -> crate::domain::DomainResult<_> {
        signing::store_material(tx, &up, now)?;
        Ok(signing::material(tx)?)
    })?;
    Ok(Json(stored))
}

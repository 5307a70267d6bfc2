//! The routes of records, vaults and NCSM, kept apart so the router gains them with one line.
use super::{ncsm, records, signing, units};
use crate::domain::Shared;
use axum::Router;
use axum::routing::{get, post, put};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/records", get(records::list).post(records::create))
        .route(
            "/records/{id}",
            get(records::show)
                .patch(records::update)
                .delete(records::delete),
        )
        .route(
            "/vaults",
            get(records::vault_list).post(records::vault_create),
        )
        .route(
            "/vaults/{id}",
            get(records::vault_show)
                .patch(records::vault_update)
                .delete(records::vault_delete),
        )
        .route("/records/{id}/unit", put(units::set_record_unit))
        .route("/vaults/{id}/unit", put(units::set_vault_unit))
        .route("/signing", get(signing::show).put(signing::upload))
        .route("/ncsm", get(ncsm::status))
        .route("/ncsm/recipients", get(ncsm::recipients))
        .route("/ncsm/start", post(ncsm::start))
        .route("/ncsm/resume", post(ncsm::resume))
}

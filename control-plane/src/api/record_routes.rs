//! The routes of records, vaults and NCSM, kept apart so the router gains them with one line.
use super::{Shared, ncsm, records};
use axum::Router;
use axum::routing::{get, post};

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
        .route("/ncsm", get(ncsm::status))
        .route("/ncsm/recipients", get(ncsm::recipients))
        .route("/ncsm/start", post(ncsm::start))
        .route("/ncsm/resume", post(ncsm::resume))
}

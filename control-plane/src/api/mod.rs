//! The JSON API under /api/v1, one module per resource.
pub mod admin;
pub mod appliances;
pub mod auth;
pub mod drain;
pub mod error;
pub mod gate;
pub mod jobs;
pub mod ncsm;
pub mod openapi;
pub mod password;
pub mod record_routes;
pub mod records;
pub mod rewrap;
pub mod scan_routes;
pub mod scans;
pub mod security;
pub mod session;
pub mod signing;
mod status;
pub mod twofa;
pub mod units;
pub mod users;
pub mod views;

use axum::Router;
use axum::routing::{get, post, put};

pub use crate::domain::services::{AppState, Shared};

pub fn router(state: Shared) -> Router {
    let v1 = Router::new()
        .route("/openapi.json", get(openapi::document))
        .route(
            "/session",
            post(session::login)
                .get(session::whoami)
                .delete(session::logout),
        )
        .route("/password/check", post(password::check))
        .route("/password/change", post(password::change))
        .route("/password/forgot", post(password::forgot))
        .route("/password/reset", post(password::reset))
        .route("/2fa/enroll", post(twofa::enroll))
        .route("/2fa/confirm", post(twofa::confirm))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update))
        .route("/users/{id}/lock", post(users::set_locked::<true>))
        .route("/users/{id}/unlock", post(users::set_locked::<false>))
        .route("/users/{id}/reset-password", post(users::reset_password))
        .route("/users/{id}/role", put(users::set_role))
        .route(
            "/users/{id}/2fa",
            axum::routing::delete(users::reset_two_factor),
        )
        .route(
            "/users/{id}/external-id-permission",
            put(users::set_permission::<users::ExternalIds>),
        )
        .route(
            "/users/{id}/records-permission",
            put(users::set_permission::<users::Records>),
        )
        .route(
            "/users/{id}/unit",
            get(users::show_unit).put(users::set_unit),
        )
        .route("/security", get(security::show).put(security::update))
        .route(
            "/security/allowlist",
            get(security::show_allowlist).put(security::set_allowlist),
        )
        .route("/security/external-ids", put(security::set_external_ids))
        .route(
            "/security/never-expire-agreement",
            post(security::never_expire_agreement),
        )
        .route(
            "/security/new-data-security-model",
            put(security::new_data_security_model),
        )
        .merge(scan_routes::routes())
        .merge(record_routes::routes())
        .route("/outbox", get(admin::outbox))
        .route("/audit", get(admin::audit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::role_gate,
        ));
    Router::new()
        .nest("/api/v1", v1)
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::allowlist_guard,
        ))
        .layer(axum::middleware::from_fn(drain::drain_unread_body))
        .with_state(state)
}

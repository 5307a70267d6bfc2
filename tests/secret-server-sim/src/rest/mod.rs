//! The routes below the application root. Paths here are relative to it; the listener
//! strips the root before routing.

mod auth;
pub(crate) mod errors;
mod folders;
mod health;
mod params;
mod search;
mod secrets;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::soap;
use crate::state::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let fallback_shared = shared.clone();
    let mut router = Router::new()
        .route("/oauth2/token", post(auth::token))
        .route("/api/v1/oauth-expiration", post(auth::expire))
        .route("/api/v1/healthcheck", get(health::healthcheck))
        .route("/healthcheck.aspx", get(health::healthcheck_aspx))
        .route(
            "/api/v1/secret-access-requests/secrets/{id}/view-comment",
            post(secrets::view_comment),
        );
    router = router.route("/api/v1/folders/{id}", get(folders::get));
    for version in ["v1", "v2"] {
        let base = format!("/api/{version}/secrets");
        router = router
            .route(&base, get(search::search))
            .route(&format!("{base}/search-total"), get(search::search_total))
            .route(&format!("{base}/lookup"), get(search::lookup_secrets))
            .route(&format!("{base}/{{id}}"), get(secrets::get))
            .route(&format!("{base}/{{id}}/summary"), get(secrets::summary))
            .route(&format!("{base}/{{id}}/state"), get(secrets::state))
            .route(
                &format!("{base}/{{id}}/fields/{{slug}}"),
                get(secrets::field),
            )
            .route(
                &format!("{base}/{{id}}/restricted"),
                post(secrets::restricted),
            )
            .route(
                &format!("{base}/{{id}}/restricted/fields/{{slug}}"),
                post(secrets::restricted_field),
            )
            .route(
                &format!("{base}/{{id}}/check-out"),
                post(secrets::check_out),
            )
            .route(&format!("{base}/{{id}}/check-in"), post(secrets::check_in));
    }
    router
        .merge(soap::routes())
        .method_not_allowed_fallback(|| async { errors::method_not_allowed() })
        .fallback(move || {
            let shared = fallback_shared.clone();
            async move { errors::unknown_path(&shared) }
        })
        .with_state(shared)
}

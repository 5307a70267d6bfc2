//! The routes of the scanning side: appliances (Manager and appliance halves), rewrap work,
//! scans, jobs and results. Kept apart so the router gains them with one line.
use super::{appliances, jobs, rewrap, scans};
use crate::domain::Shared;
use axum::Router;
use axum::routing::{get, post};
use sealscan_protocols::appliance::API_PREFIX;

pub fn routes() -> Router<Shared> {
    // API_PREFIX is the full path; the router is nested under /api/v1.
    let app = API_PREFIX.trim_start_matches("/api/v1");
    Router::new()
        .route(
            "/appliances/tokens",
            get(appliances::list_tokens).post(appliances::create_token),
        )
        .route("/appliances", get(appliances::list))
        .route("/appliances/{id}/approve", post(appliances::approve))
        .route("/appliances/{id}/reject", post(appliances::reject))
        .route("/appliances/{id}/revoke", post(appliances::revoke))
        .route("/scans", get(scans::list).post(scans::create))
        .route("/scans/{id}", get(scans::show))
        .route("/scans/{id}/results", get(scans::results))
        .route(&format!("{app}/enroll"), post(appliances::enroll))
        .route(&format!("{app}/enroll/poll"), post(appliances::enroll_poll))
        .route(&format!("{app}/jobs/claim"), post(jobs::claim))
        .route(
            &format!("{app}/jobs/{{job_id}}/heartbeat"),
            post(jobs::heartbeat),
        )
        .route(
            &format!("{app}/jobs/{{job_id}}/results"),
            post(jobs::post_result),
        )
        .route(
            &format!("{app}/rewrap"),
            get(rewrap::work).post(rewrap::submit),
        )
}

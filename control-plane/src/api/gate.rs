//! The role check every endpoint gets before its handler runs: the caller is resolved and
//! judged against the endpoint table (the one the OpenAPI document and the role-matrix test
//! read) before any body is read or parsed, so no body shape — absent, empty, malformed — can
//! reach a handler that the caller's role may not call. Handlers keep their own, finer checks
//! (the target user, the grants, the options in force).
use super::auth::{CurrentUser, Resolved};
use super::error::ApiError;
use super::openapi::{ENDPOINTS, Endpoint};
use crate::authz::{self, Action, Actor};
use crate::domain::Shared;
use crate::model::Role;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealscan_api::Code;

/// Decisions the seed gives to a person, never to an API-only account (a program's, whose
/// password may never expire): trusting an appliance's key after comparing its fingerprint out
/// of band, activating NCSM, and accepting an agreement.
pub const INTERACTIVE_ONLY: &[(&str, &str)] = &[
    ("post", "/api/v1/appliances/{id}/approve"),
    ("post", "/api/v1/ncsm/start"),
    ("post", "/api/v1/ncsm/resume"),
    ("post", "/api/v1/security/never-expire-agreement"),
    ("put", "/api/v1/security/new-data-security-model"),
];

/// `GET /users/{id}`: anyone may show themself; the table lists who may show others.
const SHOW_USER: &str = "/api/v1/users/{id}";

fn endpoint(method: &Method, matched: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|e| e.path == matched && method.as_str().eq_ignore_ascii_case(e.method))
}

pub async fn role_gate(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| match m.as_str() {
            full if full.starts_with("/api/v1/") => full.to_owned(),
            nested => format!("/api/v1{nested}"),
        });
    let Some(e) = matched.and_then(|m| endpoint(req.method(), &m)) else {
        return next.run(req).await;
    };
    if matches!(e.access, "public" | "session" | "appliance") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let p = match CurrentUser::from_request_parts(&mut parts, &state).await {
        Ok(CurrentUser(p)) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let actor = p.actor();
    let shows_self = e.path == SHOW_USER
        && e.method == "get"
        && parts
            .uri
            .path()
            .rsplit('/')
            .next()
            .is_some_and(|key| key == actor.user_id.to_string() || key == actor.username);
    if !shows_self && let Err(refusal) = admits(e, &actor) {
        return refusal.into_response();
    }
    if p.user.api_only && INTERACTIVE_ONLY.contains(&(e.method, e.path)) {
        return ApiError::forbidden(
            Code::ApiOnlyInteractiveOnly,
            format!(
                "{} is a person's decision; {} is an API-only account: a Manager signed in as themself does it",
                e.summary, actor.username
            ),
        )
        .into_response();
    }
    parts.extensions.insert(Resolved(p));
    next.run(Request::from_parts(parts, body)).await
}

/// Whether the table's access entry admits this caller.
fn admits(e: &Endpoint, actor: &Actor) -> Result<(), ApiError> {
    if e.access == "primary contact" {
        return Ok(authz::require(actor, Action::PrimaryContactOption)?);
    }
    let mut needs_records_grant = false;
    for entry in e.access.split(", ") {
        let (role, grant) = match entry.strip_suffix(" with records permission") {
            Some(role) => (role, true),
            None => (entry, false),
        };
        if role == actor.role.as_str() {
            if !grant || actor.can_edit_records {
                return Ok(());
            }
            needs_records_grant = true;
        }
    }
    if needs_records_grant && actor.role == Role::UnitManager {
        return Ok(authz::require(actor, Action::EditRecords)?);
    }
    let roles: Vec<&str> = e.access.split(", ").collect();
    Err(ApiError::forbidden(
        Code::RoleForbidden,
        format!(
            "{} ({} {}) needs the role {}; you are {}",
            e.summary,
            e.method.to_ascii_uppercase(),
            e.path,
            roles.join(" or "),
            actor.role
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_only_endpoints_exist() {
        for (m, path) in INTERACTIVE_ONLY {
            assert!(
                ENDPOINTS.iter().any(|e| e.method == *m && e.path == *path),
                "{m} {path}"
            );
        }
    }

    /// Every access entry of the table names roles the gate knows, so none is silently open.
    #[test]
    fn every_access_entry_is_understood() {
        let known = [
            "manager",
            "unit_manager",
            "unit_manager with records permission",
            "scanner",
            "reader",
            "user_administrator",
        ];
        for e in ENDPOINTS {
            if matches!(
                e.access,
                "public" | "session" | "appliance" | "primary contact"
            ) {
                continue;
            }
            for entry in e.access.split(", ") {
                assert!(known.contains(&entry), "{} {}: {entry:?}", e.method, e.path);
            }
        }
    }
}

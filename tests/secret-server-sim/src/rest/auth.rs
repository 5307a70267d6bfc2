//! `POST /oauth2/token` (password and refresh grants), bearer-token checks, and
//! `POST /api/v1/oauth-expiration`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{json_response, token_error, token_refused};
use super::params::Params;
use crate::state::{Caller, Shared, TokenRefusal};

/// Reads the token request: form-encoded as real clients send it, JSON as some scripts do.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<Params> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Some(Params::parse(std::str::from_utf8(body).ok()?));
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in object {
        if let Some(s) = v.as_str() {
            form.append_pair(k, s);
        }
    }
    Some(Params::parse(&form.finish()))
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = token_params(&headers, &body) else {
        return token_error("invalid_request");
    };
    let user = match params.get("grant_type") {
        Some("password") => {
            let (Some(username), Some(password)) = (params.get("username"), params.get("password"))
            else {
                return token_error("invalid_request");
            };
            let Some(index) = shared.find_login(username, password, params.get("domain")) else {
                return token_error("Login failed.");
            };
            let otp_ok = match shared.user(index).and_then(|u| u.otp.as_deref()) {
                None => true,
                Some(expected) => headers
                    .get("otp")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim() == expected),
            };
            if !otp_ok {
                return token_error("Login failed.");
            }
            index
        }
        Some("refresh_token") if shared.settings.refresh_tokens => {
            let Some(index) = params
                .get("refresh_token")
                .and_then(|r| shared.redeem_refresh(r))
            else {
                return token_error("invalid_grant");
            };
            index
        }
        _ => return token_error("unsupported_grant_type"),
    };
    let (access, refresh) = shared.issue(user);
    let mut body = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": shared.settings.token_ttl.as_secs(),
    });
    if let (Some(r), Some(obj)) = (refresh, body.as_object_mut()) {
        obj.insert("refresh_token".into(), Value::String(r));
    }
    json_response(StatusCode::OK, body)
}

/// The caller behind the request's bearer token: 401 when there is none or it was never
/// issued, 403 when it expired or was revoked.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| token_refused(TokenRefusal::Unknown))?;
    shared.use_token(token).map_err(token_refused)
}

pub(crate) async fn expire(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match authenticate(&shared, &headers) {
        Ok(caller) => {
            shared.revoke(&caller.token);
            json_response(StatusCode::OK, json!(true))
        }
        Err(r) => r,
    }
}

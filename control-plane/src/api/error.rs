//! Every refusal is a 4xx JSON body naming the rule that refused it.
use crate::store::StoreError;
use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub rule: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, rule: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            rule,
            message: message.into(),
            details: None,
        }
    }
    pub fn bad_request(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, rule, message)
    }
    pub fn unauthorized(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, rule, message)
    }
    pub fn forbidden(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, rule, message)
    }
    pub fn not_found(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, rule, message)
    }
    pub fn conflict(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, rule, message)
    }
    pub fn unprocessable(rule: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, rule, message)
    }
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => ApiError::conflict("store.conflict", msg),
            other => {
                log::error!("store failure: {other}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the control plane's store failed; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "rule": self.rule, "message": self.message });
        if let (Some(details), Some(obj)) = (self.details, error.as_object_mut()) {
            obj.insert("details".into(), details);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// A JSON request body whose rejections are rule-named JSON errors too.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON request body kept as its bytes, for handlers that decide who may call them before
/// parsing, and that parse secrets straight into zeroizing types (never via
/// `serde_json::Value`, whose plain Strings are dropped unwiped). `parse` then wipes the
/// buffer when this request holds its only reference.
pub struct RawJson(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.malformed",
                "the request body is not valid: expected a request with `Content-Type: application/json`",
            ));
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawJson)
            .map_err(|r| {
                ApiError::new(
                    r.status().max(StatusCode::BAD_REQUEST),
                    "request.malformed",
                    format!("the request body could not be read: {}", r.body_text()),
                )
            })
    }
}

impl RawJson {
    /// Parses the body, then wipes it if no one else holds it. serde's message may quote a
    /// value, and its position is noise: only the description, with quoted parts elided.
    pub fn parse<T: DeserializeOwned>(self) -> ApiResult<T> {
        let parsed = serde_json::from_slice(&self.0).map_err(|e| {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or_default();
            let safe = text.split('`').step_by(2).collect::<Vec<_>>().join("…");
            ApiError::bad_request(
                "request.malformed",
                format!("the request body is not valid: {safe}"),
            )
        });
        if let Ok(mut buf) = self.0.try_into_mut() {
            zeroize::Zeroize::zeroize(&mut buf[..]);
        }
        parsed
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    ApiError::new(
        r.status().max(StatusCode::BAD_REQUEST),
        "request.malformed",
        format!("the request body is not valid: {}", redact_quoted(&text)),
    )
}

/// serde quotes offending values; a misplaced password must not be echoed back.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '"' {
            inside = !inside;
            out.push(c);
            if inside {
                out.push('…');
            }
        } else if !inside {
            out.push(c);
        }
    }
    out
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "request.method-not-allowed",
        "this endpoint does not take that method; see GET /api/v1/openapi.json",
    )
}

pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(
        "request.unknown-endpoint",
        "no such endpoint; see GET /api/v1/openapi.json",
    )
}

impl From<crate::secrets::HashError> for ApiError {
    fn from(_: crate::secrets::HashError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "password hashing failed",
        )
    }
}

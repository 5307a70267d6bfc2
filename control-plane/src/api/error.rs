//! Every refusal is a 4xx JSON body naming the rule that refused it.
use crate::store::StoreError;
use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sealscan_api::Code;
use sealscan_api::ErrorDetails;
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub rule: Code,
    pub message: String,
    /// Boxed: most refusals have none, and every `Result` carrying an `ApiError` stays small.
    pub details: Option<Box<ErrorDetails>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, rule: Code, message: impl Into<String>) -> Self {
        ApiError {
            status,
            rule,
            message: message.into(),
            details: None,
        }
    }
    pub fn bad_request(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, rule, message)
    }
    pub fn unauthorized(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, rule, message)
    }
    pub fn forbidden(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, rule, message)
    }
    pub fn not_found(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, rule, message)
    }
    pub fn conflict(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, rule, message)
    }
    pub fn unprocessable(rule: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, rule, message)
    }
    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => ApiError::conflict(Code::StoreConflict, msg),
            other => {
                log::error!("store failure: {other}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Code::Internal,
                    "the control plane's store failed; see the server log",
                )
            }
        }
    }
}

impl From<crate::hashing::PoolError> for ApiError {
    fn from(e: crate::hashing::PoolError) -> Self {
        match e {
            crate::hashing::PoolError::Busy => {
                log::warn!("password hashing queue full: a request was turned away");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::ServerBusy,
                    e.to_string(),
                )
            }
            crate::hashing::PoolError::Failed => {
                log::error!("{e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Code::Internal,
                    "password hashing failed; see the server log",
                )
            }
        }
    }
}

/// [`sealscan_api::ErrorBody`] as the server writes it, borrowing the message and details
/// instead of moving them into the owned body type.
#[derive(serde::Serialize)]
struct Refusal<'a> {
    error: RefusalInfo<'a>,
}

#[derive(serde::Serialize)]
struct RefusalInfo<'a> {
    rule: Code,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a ErrorDetails>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Refusal {
            error: RefusalInfo {
                rule: self.rule,
                message: &self.message,
                details: self.details.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
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
                Code::RequestMalformed,
                "the request body is not valid: expected a request with `Content-Type: application/json`",
            ));
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawJson)
            .map_err(|r| {
                ApiError::new(
                    r.status().max(StatusCode::BAD_REQUEST),
                    Code::RequestMalformed,
                    format!("the request body could not be read: {}", r.body_text()),
                )
            })
    }
}

impl RawJson {
    /// Parses the body, then wipes it if no one else holds it. The refusal names the field
    /// (its path in the body) and what was expected, never the value sent.
    pub fn parse<T: DeserializeOwned>(self) -> ApiResult<T> {
        let parsed = parse_naming_the_field(&self.0);
        if let Ok(mut buf) = self.0.try_into_mut() {
            zeroize::Zeroize::zeroize(&mut buf[..]);
        }
        parsed
    }
}

fn parse_naming_the_field<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let refused = |text: String| {
        ApiError::bad_request(
            Code::RequestMalformed,
            format!("the request body is not valid: {text}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let text = safe_serde_message(&e.into_inner().to_string());
        refused(if path == "." {
            text
        } else {
            format!("{path}: {text}")
        })
    })?;
    de.end()
        .map_err(|e| refused(safe_serde_message(&e.to_string())))?;
    Ok(value)
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    // axum words it "Failed to deserialize the JSON body into the target type: PATH: ERROR".
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(&text);
    ApiError::new(
        r.status().max(StatusCode::BAD_REQUEST),
        Code::RequestMalformed,
        format!(
            "the request body is not valid: {}",
            safe_serde_message(text)
        ),
    )
}

/// serde's message with every value the client sent elided, keeping what names the
/// problem: the field path, a field name (`unknown field`, `missing field`), and the
/// expected type or list. serde quotes a string value in double quotes and any other value
/// (a number, a variant) in backticks; the backticked names after "expected" are the
/// schema's, not the client's. The position ("at line 1 column 9") is noise.
pub fn safe_serde_message(text: &str) -> String {
    let text = text.split(" at line ").next().unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['"', '`']) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let quote = if from.starts_with('`') { '`' } else { '"' };
        let body = &from[1..];
        let Some(end) = body.find(quote) else {
            out.push('…');
            return out;
        };
        let keep = quote == '`' && (out.ends_with("field ") || out.contains("expected"));
        out.push(quote);
        out.push_str(if keep { &body[..end] } else { "…" });
        out.push(quote);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::RequestMethodNotAllowed,
        "this endpoint does not take that method; see GET /api/v1/openapi.json",
    )
}

pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found(
        Code::RequestUnknownEndpoint,
        "no such endpoint; see GET /api/v1/openapi.json",
    )
}

impl From<crate::secrets::HashError> for ApiError {
    fn from(_: crate::secrets::HashError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "password hashing failed",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::safe_serde_message;

    #[test]
    fn names_the_field_never_the_value() {
        let cases = [
            (
                "totp_code: invalid type: integer `123456`, expected a string at line 1 column 9",
                "totp_code: invalid type: integer `…`, expected a string",
            ),
            (
                "unknown field `passwrd`, expected one of `username`, `password`",
                "unknown field `passwrd`, expected one of `username`, `password`",
            ),
            (
                "kind: unknown variant `Hunter2!`, expected `unix` or `windows`",
                "kind: unknown variant `…`, expected `unix` or `windows`",
            ),
            (
                "port: invalid value: string \"Hunter2!\", expected u16",
                "port: invalid value: string \"…\", expected u16",
            ),
            ("missing field `username`", "missing field `username`"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_serde_message(input), want);
        }
    }
}

//! Error responses with the status codes and bodies Secret Server (and IIS in front of it)
//! produce. Every 4xx body carries `message` or `error`: python-tss-sdk needs one of them.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::Blocked;
use crate::state::{Shared, TokenRefusal};

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub(crate) fn bad_request(error_code: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"errorCode": error_code, "message": message}),
    )
}

/// 400 "The request is invalid." with the model-state entry naming the bad parameter.
pub(crate) fn invalid_request(parameter: &str, problem: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({
            "message": "The request is invalid.",
            "messageDetail": problem,
            "errorCode": "API_InvalidRequest",
            "modelState": {parameter: [problem]},
        }),
    )
}

pub(crate) fn denied(reason: Blocked) -> Response {
    match reason {
        Blocked::AccessDenied => bad_request("API_AccessDenied", "Access Denied"),
        Blocked::ApprovalRequired => bad_request(
            "API_AccessRequestRequired",
            "The requested Secret requires approval before it can be viewed.",
        ),
        Blocked::CommentRequired => bad_request(
            "API_ValidateSecretAccessCommentRequired",
            "The requested Secret requires a comment when viewed.",
        ),
        Blocked::CheckoutRequired => bad_request(
            "API_CheckOutRequired",
            "The requested Secret requires check out before it can be viewed.",
        ),
        Blocked::CheckedOutByOther => bad_request(
            "API_SecretCheckedOutByAnotherUser",
            "The requested Secret is checked out by another user.",
        ),
    }
}

pub(crate) fn token_refused(refusal: TokenRefusal) -> Response {
    match refusal {
        TokenRefusal::Unknown => json_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Authorization has been denied for this request."}),
        ),
        TokenRefusal::Expired => json_response(
            StatusCode::FORBIDDEN,
            json!({"message": "Authentication failed or expired token."}),
        ),
    }
}

/// `{"error": …}` from the token endpoint (OWIN style).
pub(crate) fn token_error(error: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": error}))
}

pub(crate) fn internal_error() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({
            "message": "An error has occurred.",
            "exceptionMessage": "Simulated server fault (secret-server-sim fail_next_with_500).",
            "exceptionType": "System.InvalidOperationException",
            "stackTrace": null,
        }),
    )
}

/// A throttled request (429 or 503), with `Retry-After` when the fault gives one.
pub(crate) fn throttled(status: u16, retry_after: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = json_response(
        status,
        json!({"message": "The server is busy; too many requests. Try again later."}),
    );
    if let Some(value) = retry_after.and_then(|v| header::HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub(crate) fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": "The requested resource does not support this http method."}),
    )
}

const IIS_404: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \
\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\
<head><title>404 - File or directory not found.</title></head><body><div id=\"header\"><h1>Server Error</h1></div>\
<div id=\"content\"><h2>404 - File or directory not found.</h2><h3>The resource you are looking for might have \
been removed, had its name changed, or is temporarily unavailable.</h3></div></body></html>\n";

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Secret Server - Login</title></head>\
<body><form method=\"post\" action=\"./login.aspx\" id=\"LoginForm\"><h1>Secret Server</h1>\
<label for=\"username\">Username</label><input name=\"username\" id=\"username\" type=\"text\"/>\
<label for=\"password\">Password</label><input name=\"password\" id=\"password\" type=\"password\"/>\
<input type=\"submit\" value=\"Login\"/></form></body></html>\n";

/// Unknown paths: IIS's 404 page, or with the fault switch on, a 200 HTML login page.
pub(crate) fn unknown_path(shared: &Shared) -> Response {
    let (status, page) = if shared.faults.html_on_unknown() {
        (StatusCode::OK, LOGIN_PAGE)
    } else {
        (StatusCode::NOT_FOUND, IIS_404)
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Body::from(page))
        .unwrap_or_else(|_| status.into_response())
}

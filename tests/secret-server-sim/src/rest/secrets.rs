//! One secret: get (by id or path), summary, state, field values and files, the restricted
//! variants with a comment, check-out / check-in and the pre-view comment.

use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::authenticate;
use super::errors::{bad_request, denied, invalid_request, json_response};
use super::params::{Params, path_id};
use crate::access::{self, Blocked, ViewOptions};
use crate::model;
use crate::seed::{ItemValue, Secret};
use crate::server::Source;
use crate::state::{Caller, Shared};

type Reply = Result<Response, Response>;

fn finish(reply: Reply) -> Response {
    reply.unwrap_or_else(|e| e)
}

fn query_options(params: &Params) -> Result<ViewOptions, Response> {
    let auto_checkout = params.bool("autoCheckout")?.unwrap_or(false);
    let no_auto = params.bool("noAutoCheckout")?.unwrap_or(false);
    Ok(ViewOptions {
        comment: params.get("autoComment").map(str::to_string),
        auto_checkout: auto_checkout && !no_auto,
        include_inactive: params.bool("includeInactive")?.unwrap_or(false),
    })
}

/// The JSON object of a `SecretRestrictedArgs` body; an empty body counts as `{}`.
fn restricted_args(body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid_request(
            "args",
            "The request body must be a JSON object (SecretRestrictedArgs).",
        )),
    }
}

fn arg_str(args: &Map<String, Value>, name: &str) -> Option<String> {
    args.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_string)
}

fn arg_bool(args: &Map<String, Value>, name: &str) -> bool {
    args.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_bool())
        .unwrap_or(false)
}

/// Resolves `secretPath` (`\Folder\Sub\Name`, any run of `/` or `\` as separator) among the
/// secrets the caller may see.
fn by_path(shared: &Shared, caller: &Caller, source: Source, path: &str) -> Option<i64> {
    let parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
    let (name, folders) = parts.split_last()?;
    let mut folder_path = String::new();
    for f in folders {
        folder_path.push('\\');
        folder_path.push_str(f);
    }
    shared
        .seed
        .secrets
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case(name))
        .filter(|s| {
            let path = s
                .folder_id
                .map(|f| shared.seed.folder_path(f))
                .unwrap_or_default();
            path.eq_ignore_ascii_case(&folder_path)
        })
        .find(|s| access::visible(shared, caller, source.0, s.id, true).is_some())
        .map(|s| s.id)
}

/// Authenticates, then parses the id; `0` with `secretPath` means "look up by path".
fn caller_and_id(
    shared: &Shared,
    headers: &HeaderMap,
    source: Source,
    id: &str,
    params: &Params,
) -> Result<(Caller, i64), Response> {
    let caller = authenticate(shared, headers)?;
    let mut id = path_id(id)?;
    if id == 0
        && let Some(path) = params.get("secretPath")
    {
        id = by_path(shared, &caller, source, path).ok_or_else(|| denied(Blocked::AccessDenied))?;
    }
    Ok((caller, id))
}

fn view<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: Source,
    id: i64,
    options: &ViewOptions,
) -> Result<&'a Secret, Response> {
    access::view(shared, caller, source.0, id, options).map_err(denied)
}

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    finish((|| {
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let (caller, id) = caller_and_id(&shared, &headers, source, &id, &params)?;
        let mut options = query_options(&params)?;
        if shared.faults.auto_comment_ignored() {
            options.comment = None;
        }
        let secret = view(&shared, &caller, source, id, &options)?;
        Ok(json_response(
            StatusCode::OK,
            model::secret_model(&shared, secret),
        ))
    })())
}

pub(crate) async fn restricted(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish((|| {
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let (caller, id) = caller_and_id(&shared, &headers, source, &id, &params)?;
        let args = restricted_args(&body)?;
        let mut options = query_options(&params)?;
        options.comment = arg_str(&args, "comment").or(options.comment);
        options.include_inactive |= arg_bool(&args, "includeInactive");
        let secret = view(&shared, &caller, source, id, &options)?;
        Ok(json_response(
            StatusCode::OK,
            model::secret_model(&shared, secret),
        ))
    })())
}

fn field_response(secret: &Secret, slug: &str) -> Reply {
    let item = secret.item(slug).ok_or_else(|| {
        bad_request(
            "API_SecretFieldNotFound",
            "The requested field was not found on this Secret.",
        )
    })?;
    match &item.value {
        ItemValue::Text(text) => Ok(json_response(StatusCode::OK, json!(text))),
        ItemValue::NoFile => Err(bad_request(
            "API_FileAttachmentNotFound",
            "The requested field has no file attached.",
        )),
        ItemValue::File {
            file_name, content, ..
        } => {
            let safe_name: String = file_name
                .chars()
                .filter(|c| *c != '"' && !c.is_control())
                .collect();
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{safe_name}\""),
                )
                .body(Body::from(content.clone()))
                .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

pub(crate) async fn field(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path((id, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    finish((|| {
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let (caller, id) = caller_and_id(&shared, &headers, source, &id, &params)?;
        let mut options = query_options(&params)?;
        if shared.faults.auto_comment_ignored() {
            options.comment = None;
        }
        let secret = view(&shared, &caller, source, id, &options)?;
        field_response(secret, &slug)
    })())
}

pub(crate) async fn restricted_field(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path((id, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish((|| {
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let (caller, id) = caller_and_id(&shared, &headers, source, &id, &params)?;
        let args = restricted_args(&body)?;
        let mut options = query_options(&params)?;
        options.comment = arg_str(&args, "comment").or(options.comment);
        options.include_inactive |= arg_bool(&args, "includeInactive");
        let secret = view(&shared, &caller, source, id, &options)?;
        field_response(secret, &slug)
    })())
}

fn visible_secret<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    source: Source,
    id: &str,
) -> Result<(Caller, &'a Secret), Response> {
    let caller = authenticate(shared, headers)?;
    let id = path_id(id)?;
    let secret = access::visible(shared, &caller, source.0, id, true)
        .ok_or_else(|| denied(Blocked::AccessDenied))?;
    Ok((caller, secret))
}

pub(crate) async fn summary(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish((|| {
        let (_, secret) = visible_secret(&shared, &headers, source, &id)?;
        Ok(json_response(
            StatusCode::OK,
            model::summary(&shared, secret),
        ))
    })())
}

pub(crate) async fn state(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish((|| {
        let (caller, secret) = visible_secret(&shared, &headers, source, &id)?;
        Ok(json_response(
            StatusCode::OK,
            model::state(&shared, &caller, secret),
        ))
    })())
}

pub(crate) async fn check_out(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish((|| {
        let caller = authenticate(&shared, &headers)?;
        let id = path_id(&id)?;
        access::check_out(&shared, &caller, source.0, id).map_err(denied)?;
        Ok(json_response(StatusCode::OK, json!({"responseCodes": []})))
    })())
}

pub(crate) async fn check_in(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish((|| {
        let caller = authenticate(&shared, &headers)?;
        let id = path_id(&id)?;
        let args = restricted_args(&body)?;
        let force = arg_bool(&args, "forceCheckIn");
        let secret = access::check_in(&shared, &caller, source.0, id, force).map_err(denied)?;
        Ok(json_response(
            StatusCode::OK,
            model::summary(&shared, secret),
        ))
    })())
}

pub(crate) async fn view_comment(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    finish((|| {
        let (caller, secret) = visible_secret(&shared, &headers, source, &id)?;
        let args = restricted_args(&body)?;
        let comment = arg_str(&args, "comment").unwrap_or_default();
        if comment.trim().is_empty() {
            return Err(invalid_request("comment", "A comment is required."));
        }
        shared
            .store()
            .comments
            .insert((caller.token.clone(), secret.id));
        Ok(json_response(StatusCode::OK, json!(true)))
    })())
}

//! `GET /api/v1/folders/{id}`, and `folders/0?folderPath=\A\B` (a folder by its path, as
//! python-tss-sdk's `get_folder_by_path` asks). The simulator has no folder permissions: any
//! authenticated caller sees every folder, as a folder's existence is no secret to a reader.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::auth::authenticate;
use super::errors::{denied, json_response, unknown_path};
use super::params::{Params, path_id};
use crate::access::Blocked;
use crate::seed::Folder;
use crate::state::Shared;

/// `\A\B` with any run of `/` or `\` as the separator, compared without case.
fn by_path<'a>(shared: &'a Shared, path: &str) -> Option<&'a Folder> {
    let wanted: String = path
        .split(['\\', '/'])
        .filter(|p| !p.is_empty())
        .flat_map(|p| ["\\", p])
        .collect();
    shared
        .seed
        .folders
        .iter()
        .find(|f| shared.seed.folder_path(f.id).eq_ignore_ascii_case(&wanted))
}

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // The folder lookup is not simulated; it stays an unknown path, as before.
    if id.eq_ignore_ascii_case("lookup") {
        return unknown_path(&shared);
    }
    (|| {
        authenticate(&shared, &headers)?;
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let id = path_id(&id)?;
        let folder = match (id, params.get("folderPath")) {
            (0, Some(path)) => by_path(&shared, path),
            (id, _) => shared.seed.folder(id),
        }
        .ok_or_else(|| denied(Blocked::AccessDenied))?;
        Ok(json_response(
            StatusCode::OK,
            json!({
                "id": folder.id,
                "folderName": folder.name,
                "folderPath": shared.seed.folder_path(folder.id),
                "parentFolderId": folder.parent_id.unwrap_or(-1),
                "folderTypeId": 1,
                "secretPolicyId": -1,
                "inheritSecretPolicy": true,
                "inheritPermissions": true,
            }),
        ))
    })()
    .unwrap_or_else(|e: Response| e)
}

//! The SOAP operations. Business errors are HTTP 200 with `<Errors><string>…</string>`,
//! as ASMX does; only unreadable requests become faults.

use base64::Engine;

use super::Call;
use super::xml::{Element, leaf, nil};
use crate::access::{self, Blocked, ViewOptions};
use crate::seed::{ItemValue, Secret};
use crate::server::Source;
use crate::state::{Caller, Shared, TokenRefusal};

pub(crate) enum CallError {
    UnknownMethod,
    BadParameter(&'static str),
}

/// The inside of the result element, and the element's type name for the HTTP GET form.
pub(crate) struct Output {
    pub(crate) inner: String,
    pub(crate) type_name: &'static str,
}

pub(crate) const LOGIN_FAILED: &str = "Login failed.";
pub(crate) const TOKEN_INVALID: &str = "Invalid token.";
pub(crate) const TOKEN_EXPIRED: &str = "Authentication failed or expired token.";
pub(crate) const ACCESS_DENIED: &str = "Access Denied";

fn errors(messages: &[&str]) -> String {
    if messages.is_empty() {
        return "<Errors />".to_string();
    }
    let mut out = String::from("<Errors>");
    for m in messages {
        leaf(&mut out, "string", m);
    }
    out.push_str("</Errors>");
    out
}

fn text<'a>(params: &'a Element, name: &'static str) -> Result<&'a str, CallError> {
    params.child_text(name).ok_or(CallError::BadParameter(name))
}

fn int(params: &Element, name: &'static str) -> Result<i64, CallError> {
    text(params, name)?
        .trim()
        .parse()
        .map_err(|_| CallError::BadParameter(name))
}

fn flag(params: &Element, name: &'static str) -> Result<bool, CallError> {
    match params.child_text(name).map(str::trim) {
        None | Some("") => Ok(false),
        Some("true") | Some("True") | Some("1") => Ok(true),
        Some("false") | Some("False") | Some("0") => Ok(false),
        Some(_) => Err(CallError::BadParameter(name)),
    }
}

fn caller(shared: &Shared, params: &Element) -> Result<Result<Caller, &'static str>, CallError> {
    let token = text(params, "token")?.trim();
    Ok(shared.use_token(token).map_err(|r| match r {
        TokenRefusal::Unknown => TOKEN_INVALID,
        TokenRefusal::Expired => TOKEN_EXPIRED,
    }))
}

pub(crate) fn run(shared: &Shared, source: Source, call: &Call) -> Result<Output, CallError> {
    let p = &call.params;
    match call.method.as_str() {
        "Authenticate" => authenticate(shared, p),
        "GetTokenIsValid" => {
            let inner = match caller(shared, p)? {
                Ok(_) => errors(&[]),
                Err(e) => errors(&[e]),
            };
            Ok(Output {
                inner,
                type_name: "TokenIsValidResult",
            })
        }
        "VersionGet" => {
            let mut inner = errors(&[]);
            leaf(&mut inner, "Version", "11.2.000002");
            Ok(Output {
                inner,
                type_name: "VersionGetResult",
            })
        }
        "GetSecret" | "GetSecretLegacy" => get_secret(shared, source, p),
        "SearchSecrets" => search(shared, source, p, None),
        "SearchSecretsByFolder" => {
            let folder = int(p, "folderId")?;
            let sub = flag(p, "includeSubFolders")?;
            search(shared, source, p, Some((folder, sub)))
        }
        "SearchFolders" => search_folders(shared, p),
        "DownloadFileAttachmentByItemId" => download(shared, source, p),
        "CheckIn" => check_in(shared, source, p),
        _ => Err(CallError::UnknownMethod),
    }
}

fn authenticate(shared: &Shared, p: &Element) -> Result<Output, CallError> {
    let username = text(p, "username")?;
    let password = text(p, "password")?;
    let domain = p.child_text("domain");
    let inner = match shared.find_login(username, password, domain) {
        // A user with a second factor must use AuthenticateRADIUS, which is not simulated.
        Some(user) if shared.user(user).is_some_and(|u| u.otp.is_none()) => {
            let (token, _) = shared.issue(user);
            let mut out = errors(&[]);
            leaf(&mut out, "Token", &token);
            out
        }
        _ => errors(&[LOGIN_FAILED]),
    };
    Ok(Output {
        inner,
        type_name: "AuthenticateResult",
    })
}

/// The comment a `codeResponses/CodeResponse` carries, if any.
fn code_response_comment(p: &Element) -> Option<String> {
    p.child("codeResponses")?
        .children
        .iter()
        .filter(|c| c.name == "CodeResponse")
        .find_map(|c| c.child_text("Comment").map(str::to_string))
}

fn secret_xml(shared: &Shared, secret: &Secret) -> String {
    let mut out = String::from("<Secret>");
    leaf(&mut out, "Name", &secret.name);
    out.push_str("<Items>");
    for item in &secret.items {
        out.push_str("<SecretItem>");
        let value = match &item.value {
            ItemValue::Text(t) => t.as_str(),
            ItemValue::NoFile => "",
            ItemValue::File { file_name, .. } => file_name.as_str(),
        };
        leaf(&mut out, "Value", value);
        leaf(&mut out, "Id", &item.item_id.to_string());
        leaf(&mut out, "FieldId", &item.field_id.to_string());
        leaf(&mut out, "FieldName", item.field_name);
        leaf(&mut out, "IsFile", &item.is_file().to_string());
        leaf(&mut out, "IsNotes", &item.is_notes.to_string());
        leaf(&mut out, "IsPassword", &item.is_password.to_string());
        leaf(&mut out, "FieldDisplayName", item.field_name);
        out.push_str("</SecretItem>");
    }
    out.push_str("</Items>");
    leaf(&mut out, "Id", &secret.id.to_string());
    leaf(&mut out, "SecretTypeId", &secret.template.id.to_string());
    leaf(
        &mut out,
        "FolderId",
        &secret.folder_id.unwrap_or(-1).to_string(),
    );
    leaf(&mut out, "IsWebLauncher", "false");
    leaf(&mut out, "Active", &secret.active.to_string());
    leaf(
        &mut out,
        "CheckOutEnabled",
        &secret.check_out_enabled.to_string(),
    );
    let holder = access::holder(shared, secret.id);
    if secret.check_out_enabled && holder.is_some() {
        leaf(&mut out, "CheckOutMinutesRemaining", "30");
        leaf(&mut out, "IsCheckedOut", "true");
    } else {
        nil(&mut out, "CheckOutMinutesRemaining");
        nil(&mut out, "IsCheckedOut");
    }
    let holder_user = holder.and_then(|h| shared.user(h).map(|u| (h, u)));
    match holder_user {
        Some((index, user)) => {
            leaf(&mut out, "CheckOutUserDisplayName", &user.display_name());
            leaf(&mut out, "CheckOutUserId", &(index + 1).to_string());
        }
        None => {
            leaf(&mut out, "CheckOutUserDisplayName", "");
            nil(&mut out, "CheckOutUserId");
        }
    }
    leaf(&mut out, "IsOutOfSync", "false");
    leaf(
        &mut out,
        "IsRestricted",
        &secret.is_restricted().to_string(),
    );
    leaf(&mut out, "OutOfSyncReason", "");
    out.push_str("</Secret>");
    out
}

fn secret_error(code: &str, message: &str, allows_response: bool) -> String {
    let mut out = String::from("<SecretError>");
    leaf(&mut out, "ErrorCode", code);
    leaf(&mut out, "ErrorMessage", message);
    leaf(&mut out, "AllowsResponse", &allows_response.to_string());
    leaf(
        &mut out,
        "CommentTitle",
        if allows_response { "Comment" } else { "" },
    );
    leaf(&mut out, "AdditionalCommentTitle", "");
    out.push_str("</SecretError>");
    out
}

fn get_secret(shared: &Shared, source: Source, p: &Element) -> Result<Output, CallError> {
    let id = int(p, "secretId")?;
    let caller = match caller(shared, p)? {
        Ok(c) => c,
        Err(e) => {
            return Ok(Output {
                inner: errors(&[e]),
                type_name: "GetSecretResult",
            });
        }
    };
    let options = ViewOptions {
        comment: code_response_comment(p),
        // The web service checks a check-out secret out on GetSecret.
        auto_checkout: true,
        include_inactive: false,
    };
    const COMMENT: &str = "The requested Secret requires a comment when viewed.";
    const APPROVAL: &str = "The requested Secret requires approval before it can be viewed.";
    const HELD: &str = "The requested Secret is checked out by another user.";
    let inner = match access::view(shared, &caller, source.0, id, &options) {
        Ok(secret) => errors(&[]) + &secret_xml(shared, secret),
        Err(Blocked::AccessDenied) => errors(&[ACCESS_DENIED]),
        Err(Blocked::CommentRequired) => {
            errors(&[COMMENT]) + &secret_error("COMMENT", COMMENT, true)
        }
        Err(Blocked::ApprovalRequired) => {
            errors(&[APPROVAL]) + &secret_error("APPROVAL", APPROVAL, false)
        }
        Err(Blocked::CheckedOutByOther) | Err(Blocked::CheckoutRequired) => errors(&[HELD]),
    };
    Ok(Output {
        inner,
        type_name: "GetSecretResult",
    })
}

fn search(
    shared: &Shared,
    source: Source,
    p: &Element,
    folder: Option<(i64, bool)>,
) -> Result<Output, CallError> {
    let term = p.child_text("searchTerm").unwrap_or("").to_lowercase();
    let include_deleted = flag(p, "includeDeleted")?;
    let include_restricted = flag(p, "includeRestricted")?;
    let caller = match caller(shared, p)? {
        Ok(c) => c,
        Err(e) => {
            return Ok(Output {
                inner: errors(&[e]),
                type_name: "SearchSecretsResult",
            });
        }
    };
    let Some(user) = shared.user(caller.user) else {
        return Ok(Output {
            inner: errors(&[TOKEN_INVALID]),
            type_name: "SearchSecretsResult",
        });
    };
    let mut found: Vec<&Secret> = shared
        .seed
        .secrets
        .iter()
        .filter(|s| s.readable_by(user) && s.source_allowed(source.0))
        .filter(|s| s.active || include_deleted)
        .filter(|s| include_restricted || !s.is_restricted())
        .filter(|s| match folder {
            None => true,
            Some((f, sub)) => match s.folder_id {
                Some(sf) if sub => shared.seed.folder_within(sf, f),
                Some(sf) => sf == f,
                None => false,
            },
        })
        .filter(|s| term.is_empty() || s.name.to_lowercase().contains(&term))
        .collect();
    found.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    let mut inner = errors(&[]);
    inner.push_str("<SecretSummaries>");
    for s in found {
        inner.push_str("<SecretSummary>");
        leaf(&mut inner, "SecretId", &s.id.to_string());
        leaf(&mut inner, "SecretName", &s.name);
        leaf(&mut inner, "SecretTypeName", s.template.name);
        leaf(&mut inner, "SecretTypeId", &s.template.id.to_string());
        leaf(
            &mut inner,
            "FolderId",
            &s.folder_id.unwrap_or(-1).to_string(),
        );
        leaf(&mut inner, "IsRestricted", &s.is_restricted().to_string());
        inner.push_str("</SecretSummary>");
    }
    inner.push_str("</SecretSummaries>");
    Ok(Output {
        inner,
        type_name: "SearchSecretsResult",
    })
}

/// `SearchFolders(token, folderName)`: folders whose name contains the term (no case), as
/// `Folders/Folder{Id, Name, TypeId, ParentFolderId}`. Every folder is visible, as over REST.
fn search_folders(shared: &Shared, p: &Element) -> Result<Output, CallError> {
    let term = p.child_text("folderName").unwrap_or("").to_lowercase();
    let inner = match caller(shared, p)? {
        Err(e) => errors(&[e]),
        Ok(_) => {
            let mut inner = errors(&[]);
            inner.push_str("<Folders>");
            for f in shared
                .seed
                .folders
                .iter()
                .filter(|f| f.name.to_lowercase().contains(&term))
            {
                inner.push_str("<Folder>");
                leaf(&mut inner, "Id", &f.id.to_string());
                leaf(&mut inner, "Name", &f.name);
                leaf(&mut inner, "TypeId", "1");
                leaf(
                    &mut inner,
                    "ParentFolderId",
                    &f.parent_id.unwrap_or(-1).to_string(),
                );
                inner.push_str("</Folder>");
            }
            inner.push_str("</Folders>");
            inner
        }
    };
    Ok(Output {
        inner,
        type_name: "SearchFoldersResult",
    })
}

fn download(shared: &Shared, source: Source, p: &Element) -> Result<Output, CallError> {
    let id = int(p, "secretId")?;
    let item_id = int(p, "secretItemId")?;
    let inner = match caller(shared, p)? {
        Err(e) => errors(&[e]),
        Ok(caller) => {
            let options = ViewOptions {
                comment: None,
                auto_checkout: true,
                include_inactive: false,
            };
            match access::view(shared, &caller, source.0, id, &options) {
                Err(Blocked::AccessDenied) => errors(&[ACCESS_DENIED]),
                Err(_) => errors(&[
                    "The requested Secret cannot be viewed until its restrictions are met (comment, approval or check-out).",
                ]),
                Ok(secret) => match secret
                    .items
                    .iter()
                    .find(|i| i.item_id == item_id)
                    .map(|i| &i.value)
                {
                    Some(ItemValue::File {
                        file_name, content, ..
                    }) => {
                        let mut out = errors(&[]);
                        leaf(
                            &mut out,
                            "FileAttachment",
                            &base64::engine::general_purpose::STANDARD.encode(content),
                        );
                        leaf(&mut out, "FileName", file_name);
                        out
                    }
                    _ => errors(&["No file attachment exists for that Secret item."]),
                },
            }
        }
    };
    Ok(Output {
        inner,
        type_name: "FileDownloadResult",
    })
}

fn check_in(shared: &Shared, source: Source, p: &Element) -> Result<Output, CallError> {
    let id = int(p, "secretId")?;
    let inner = match caller(shared, p)? {
        Err(e) => errors(&[e]),
        Ok(caller) => match access::check_in(shared, &caller, source.0, id, false) {
            Ok(_) => errors(&[]),
            Err(Blocked::AccessDenied) => errors(&[ACCESS_DENIED]),
            Err(_) => errors(&["The requested Secret is checked out by another user."]),
        },
    };
    Ok(Output {
        inner,
        type_name: "WebServiceResult",
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_errors_are_self_closing() {
        assert_eq!(super::errors(&[]), "<Errors />");
        assert_eq!(
            super::errors(&["a<b"]),
            "<Errors><string>a&lt;b</string></Errors>"
        );
    }
}

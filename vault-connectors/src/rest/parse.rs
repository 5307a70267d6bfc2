//! Parsers for Secret Server REST answers. Bodies are attacker-shaped: every parser takes raw
//! bytes, accepts unknown and missing keys, and returns an error naming what was wrong instead
//! of panicking. Secret values go straight into wiping [`SecretBytes`]s.

use serde::Deserialize;

use sealscan_protocols::secret::SecretBytes;

/// What made an answer unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, ParseError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's message quotes no input, only positions and expected types.
        ParseError(format!("{what} is not the expected JSON ({e})"))
    })
}

/// `POST /oauth2/token` success.
#[derive(Debug, Deserialize)]
pub struct TokenGrant {
    pub access_token: SecretBytes,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<SecretBytes>,
}

pub fn token(body: &[u8]) -> Result<TokenGrant, ParseError> {
    let grant: TokenGrant = json(body, "token answer")?;
    if grant.access_token.is_empty() {
        return Err(ParseError("token answer has an empty access_token".into()));
    }
    if grant
        .access_token
        .expose()
        .iter()
        .any(|b| !b.is_ascii_graphic())
    {
        return Err(ParseError(
            "token answer has an access_token that cannot go in a header".into(),
        ));
    }
    Ok(grant)
}

/// The error shapes Secret Server uses: `{"error"}` at the token endpoint, `{"message",
/// "errorCode"}` elsewhere, `{"message","exceptionMessage"}` on 500.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub exception_message: Option<String>,
}

/// Never fails: a body that is not an error object yields an empty `ErrorBody`.
pub fn error_body(body: &[u8]) -> ErrorBody {
    serde_json::from_slice(body).unwrap_or_default()
}

impl ErrorBody {
    /// The most specific human text the body carried.
    pub fn text(&self) -> Option<&str> {
        self.message
            .as_deref()
            .or(self.error.as_deref())
            .or(self.exception_message.as_deref())
    }
}

/// One record of `GET /api/v1/secrets` (`SecretSummary`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub folder_id: Option<i64>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub requires_comment: bool,
    #[serde(default)]
    pub check_out_enabled: bool,
    #[serde(default)]
    pub checked_out: bool,
    #[serde(default)]
    pub requires_approval: bool,
}

fn yes() -> bool {
    true
}

/// A page of search results (`PagingOfSecretSummary`; also the folder lookup paging).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
    #[serde(default)]
    pub has_next: bool,
    #[serde(default)]
    pub next_skip: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
}

pub fn search_page(body: &[u8]) -> Result<Page<Summary>, ParseError> {
    json(body, "secret search answer")
}

/// `GET /api/v1/secrets/{id}/summary`: one `SecretSummary`.
pub fn summary(body: &[u8]) -> Result<Summary, ParseError> {
    json(body, "secret summary answer")
}

/// `GET /api/v1/folders/{id}` (`FolderModel`): only its id is read.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Folder {
    pub id: i64,
}

pub fn folder(body: &[u8]) -> Result<Folder, ParseError> {
    json(body, "folder answer")
}

/// One record of `GET /api/v1/folders/lookup`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FolderEntry {
    pub id: i64,
    #[serde(default)]
    pub value: String,
}

pub fn folder_page(body: &[u8]) -> Result<Page<FolderEntry>, ParseError> {
    json(body, "folder lookup answer")
}

/// One item of a secret.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(default)]
    pub item_id: Option<i64>,
    #[serde(default)]
    pub field_name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub item_value: Option<SecretBytes>,
    #[serde(default)]
    pub is_file: bool,
    #[serde(default)]
    pub file_attachment_id: Option<i64>,
}

impl Item {
    /// Clients decide "file" by a non-zero attachment id; `isFile` alone marks an empty field.
    pub fn has_attachment(&self) -> bool {
        self.file_attachment_id.is_some_and(|id| id != 0)
    }

    pub fn matches(&self, slug: &str) -> bool {
        self.slug
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(slug))
    }
}

/// `GET /api/v1/secrets/{id}` (`SecretModel`), the parts a connector needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretModel {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub items: Vec<Item>,
}

pub fn secret(body: &[u8]) -> Result<SecretModel, ParseError> {
    json(body, "secret answer")
}

/// `GET /secrets/{id}/fields/{slug}` for a text field: a JSON string.
pub fn field_text(body: &[u8]) -> Result<SecretBytes, ParseError> {
    json(body, "field answer")
}

/// `GET /secrets/{id}/state` (`SecretDetailStateViewModel`), used to explain a refusal.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(default)]
    pub secret_state: Option<String>,
    #[serde(default)]
    pub is_checked_out: Option<bool>,
    #[serde(default)]
    pub is_checked_out_by_current_user: Option<bool>,
}

pub fn state(body: &[u8]) -> Result<State, ParseError> {
    json(body, "secret state answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_grant_and_its_errors() {
        let t =
            token(br#"{"access_token":"AgJx","token_type":"bearer","expires_in":1199}"#).unwrap();
        assert_eq!(t.access_token.expose(), b"AgJx");
        assert_eq!(t.expires_in, Some(1199));
        assert!(token(b"<html>login</html>").is_err());
        assert!(token(br#"{"access_token":""}"#).is_err());
        assert!(token(br#"{"access_token":"a\nb"}"#).is_err());
    }

    #[test]
    fn error_bodies_of_every_shape() {
        let e = error_body(br#"{"error":"Login failed."}"#);
        assert_eq!(e.text(), Some("Login failed."));
        let e = error_body(br#"{"errorCode":"API_AccessDenied","message":"Access Denied"}"#);
        assert_eq!(e.error_code.as_deref(), Some("API_AccessDenied"));
        assert_eq!(error_body(b"\xff\x00garbage"), ErrorBody::default());
        assert_eq!(error_body(b"[1,2]"), ErrorBody::default());
    }

    #[test]
    fn search_page_with_paging_fields() {
        let p = search_page(
            br#"{"success":true,"total":3,"skip":0,"take":2,"hasNext":true,"nextSkip":2,
            "records":[{"id":42,"name":"db-prod","folderId":7,"active":true,"checkOutEnabled":true},
                       {"id":43,"name":"db-prod","folderId":null}]}"#,
        )
        .unwrap();
        assert_eq!(p.records.len(), 2);
        assert!(p.records[0].check_out_enabled);
        assert_eq!(p.records[1].folder_id, None);
        assert!(p.has_next);
        assert_eq!(p.next_skip, Some(2));
        assert!(search_page(br#"{"records":[{"name":"no id"}]}"#).is_err());
        assert!(search_page(b"").is_err());
    }

    #[test]
    fn secret_items_keep_values_secret() {
        let s = secret(
            br#"{"id":10,"name":"unix-root","items":[
              {"itemId":1,"slug":"username","itemValue":"scanuser","isFile":false},
              {"itemId":2,"slug":"password","itemValue":"p\u0077\"d"},
              {"itemId":3,"slug":"private-key","itemValue":"*** Not Valid For Display ***",
               "isFile":true,"fileAttachmentId":555,"filename":"id_ed25519"},
              {"itemId":4,"slug":"notes","itemValue":null}]}"#,
        )
        .unwrap();
        assert_eq!(s.items[1].item_value.as_ref().unwrap().expose(), b"pw\"d");
        assert!(s.items[2].has_attachment());
        assert!(!s.items[0].has_attachment());
        assert!(s.items[3].item_value.as_ref().is_none_or(|v| v.is_empty()));
        assert!(format!("{s:?}").contains("[REDACTED]"));
        assert!(!format!("{s:?}").contains("scanuser"));
    }

    #[test]
    fn field_text_is_a_json_string() {
        assert_eq!(field_text(br#""S3cr3t!""#).unwrap().expose(), b"S3cr3t!");
        assert!(field_text(b"S3cr3t!").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(secret(deep.as_bytes()).is_err());
        assert!(search_page(deep.as_bytes()).is_err());
    }
}

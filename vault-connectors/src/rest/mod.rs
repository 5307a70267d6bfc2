//! Secret Server's REST API: password grant, exact-name lookup, fetch, check-out/in, revoke.

pub mod parse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Client, Method, RequestBuilder};
use sealscan_protocols::results::Step;
use tokio::sync::Mutex;

use crate::body::{ExactWriter, wiping_body};
use crate::credential::{Credential, Fields, slug};
use crate::error::{FailureKind, VaultError, sanitize};
use crate::http::{Answer, Transport};
use crate::lookup::{FolderRef, exactly_one, exactly_one_named, refusal_kind};
use crate::record::same_name;
use crate::record::{SecretRef, VaultRecord};
use sealscan_protocols::secret::SecretBytes;

const PAGE: u64 = 100;
/// Renew a token this long before the server says it expires, or a quarter of its lifetime
/// before when that is shorter (a 20 s token is renewed after 15 s, not never).
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

pub(crate) struct RestClient {
    transport: Transport,
    username: String,
    domain: Option<String>,
    password: SecretBytes,
    comment: String,
    token: Mutex<TokenSlot>,
}

#[derive(Default)]
struct TokenSlot {
    current: Option<Token>,
    generation: u64,
}

#[derive(Clone)]
struct Token {
    header: Arc<HeaderValue>,
    generation: u64,
    renew_at: Option<Instant>,
}

/// A secret found by the lookup, with the flags that decide how it is fetched.
pub(crate) struct Found {
    pub summary: parse::Summary,
}

impl RestClient {
    pub(crate) fn new(transport: Transport, record: &VaultRecord, comment: String) -> Self {
        Self {
            transport,
            username: record.username.clone(),
            domain: record.domain.clone().filter(|d| !d.is_empty()),
            password: record.password.clone(),
            comment,
            token: Mutex::new(TokenSlot::default()),
        }
    }

    /// Logs in unless a live token is held. Concurrent callers wait for one login.
    pub async fn ensure_token(&self) -> Result<(), VaultError> {
        self.token().await.map(|_| ())
    }

    async fn token(&self) -> Result<Token, VaultError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = &slot.current
            && t.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(t.clone());
        }
        slot.current = None;
        let (header, lifetime) = self.login().await?;
        slot.generation += 1;
        let token = Token {
            header: Arc::new(header),
            generation: slot.generation,
            // `expires_in: 0` says nothing usable: the token is kept until it is refused.
            renew_at: lifetime
                .filter(|l| !l.is_zero())
                .and_then(|l| Instant::now().checked_add(renew_after(l))),
        };
        slot.current = Some(token.clone());
        Ok(token)
    }

    async fn drop_token(&self, generation: u64) {
        let mut slot = self.token.lock().await;
        if slot
            .current
            .as_ref()
            .is_some_and(|t| t.generation == generation)
        {
            slot.current = None;
        }
    }

    /// `POST /oauth2/token` with the domain as its own form field.
    async fn login(&self) -> Result<(HeaderValue, Option<Duration>), VaultError> {
        let step = Step::VaultLogin;
        let answer = self
            .transport
            .send(step, |c| {
                c.post(self.transport.url("/oauth2/token"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .body(wiping_body(self.login_form()))
            })
            .await?;
        if answer.status == 404 || (answer.is_success() && answer.looks_like_html()) {
            return Err(VaultError::new(
                step,
                FailureKind::ApiAbsent {
                    api: "REST",
                    url: self.transport.base().to_string(),
                    reason: if answer.status == 404 {
                        "the token endpoint answered 404".into()
                    } else {
                        "the token endpoint answered with an HTML page".into()
                    },
                },
            ));
        }
        if answer.status == 400 || answer.status == 401 {
            let body = parse::error_body(answer.body.expose());
            return Err(VaultError::new(
                step,
                FailureKind::LoginFailed {
                    user: self.username.clone(),
                    domain: self.domain.clone(),
                    message: sanitize(body.text().unwrap_or("refused")),
                },
            ));
        }
        if !answer.is_success() {
            return Err(unexpected(step, &answer));
        }
        let grant = parse::token(answer.body.expose()).map_err(|e| {
            VaultError::new(
                step,
                FailureKind::BadResponse {
                    status: answer.status,
                    what: e.0,
                },
            )
        })?;
        let mut value = ExactWriter::with_capacity(7 + grant.access_token.len());
        value.push(b"Bearer ");
        value.push(grant.access_token.expose());
        let value = value.into_inner();
        let mut header = HeaderValue::from_bytes(&value).map_err(|_| {
            VaultError::new(
                step,
                FailureKind::BadResponse {
                    status: answer.status,
                    what: "token cannot go in a header".into(),
                },
            )
        })?;
        header.set_sensitive(true);
        Ok((header, grant.expires_in.map(Duration::from_secs)))
    }

    /// The form, written once at its final size into a wiping buffer.
    fn login_form(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut fields: Vec<(&str, &[u8])> = vec![
            ("grant_type", b"password"),
            ("username", self.username.as_bytes()),
            ("password", self.password.expose()),
        ];
        if let Some(d) = &self.domain {
            fields.push(("domain", d.as_bytes()));
        }
        let len: usize = fields.iter().map(|(k, v)| k.len() + 2 + form_len(v)).sum();
        let mut out = ExactWriter::with_capacity(len);
        for (n, (k, v)) in fields.iter().enumerate() {
            if n > 0 {
                out.push(b"&");
            }
            out.push(k.as_bytes());
            out.push(b"=");
            for piece in form_urlencoded::byte_serialize(v) {
                out.push(piece.as_bytes());
            }
        }
        out.into_inner()
    }

    /// Sends an authenticated request; on a token the server no longer accepts (401, or 403
    /// naming the token) logs in again once and repeats it.
    async fn call(
        &self,
        step: Step,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, VaultError> {
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let answer = self
                .transport
                .send(step, |c| {
                    build(c).header(AUTHORIZATION, token.header.as_ref().clone())
                })
                .await?;
            if token_refused(&answer) {
                if renewed {
                    // A fresh token refused at once: report the server's words, do not loop.
                    let body = parse::error_body(answer.body.expose());
                    return Err(VaultError::new(
                        step,
                        FailureKind::Vault {
                            status: answer.status,
                            error_code: sanitize(body.error_code.as_deref().unwrap_or("")),
                            message: format!(
                                "a new token was refused too: {}",
                                sanitize(body.text().unwrap_or("no message"))
                            ),
                        },
                    ));
                }
                log::info!(target: "sealscan_vault", "vault token refused (HTTP {}), logging in again", answer.status);
                self.drop_token(token.generation).await;
                renewed = true;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Finds the secret: by id through its summary, or the one active secret with exactly
    /// this name (in the folder, when one is given).
    pub async fn lookup(&self, secret: &SecretRef) -> Result<Found, VaultError> {
        let (name, folder) = match secret {
            SecretRef::Id(id) => return self.lookup_id(*id, &secret.to_string()).await,
            SecretRef::Named { name, folder } => (name, folder),
        };
        let step = Step::SecretLookup;
        let shown = secret.to_string();
        let folder_id = match folder {
            Some(f) => Some(self.folder_id(f, &shown).await?),
            None => None,
        };
        let mut matches = Vec::new();
        let mut skip = 0u64;
        for _ in 0..self.transport.limits().max_pages {
            let mut query: Vec<(&str, String)> = vec![
                ("filter.searchText", name.clone()),
                ("filter.isExactMatch", "true".into()),
                ("filter.includeRestricted", "true".into()),
                ("filter.includeInactive", "false".into()),
                ("filter.doNotCalculateTotal", "true".into()),
                ("skip", skip.to_string()),
                ("take", PAGE.to_string()),
            ];
            if let Some(id) = folder_id {
                query.push(("filter.folderId", id.to_string()));
                query.push(("filter.includeSubFolders", "false".into()));
            }
            let answer = self
                .call(step, |c| {
                    c.get(self.transport.url("/api/v1/secrets"))
                        .query(&query)
                        .header("Accept", "application/json")
                })
                .await?;
            if !answer.is_success() {
                return Err(refusal(step, &shown, &answer));
            }
            let page =
                parse::search_page(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
            let count = page.records.len() as u64;
            matches.extend(page.records.into_iter().filter(|r| {
                r.active
                    && same_name(&r.name, name)
                    && folder_id.is_none_or(|f| r.folder_id == Some(f))
            }));
            match next_skip(page.has_next, page.next_skip, skip, count) {
                Some(next) => skip = next,
                None => {
                    return exactly_one(step, &shown, None, matches, |m| m.id)
                        .map(|summary| Found { summary });
                }
            }
        }
        Err(VaultError::new(
            step,
            FailureKind::BadResponse {
                status: 200,
                what: format!(
                    "search for {shown} did not end within {} pages",
                    self.transport.limits().max_pages
                ),
            },
        ))
    }

    /// A secret by its id: `GET /api/v1/secrets/{id}/summary` gives the flags that decide how
    /// it is fetched. Secret Server answers a missing and a forbidden id alike.
    async fn lookup_id(&self, id: i64, shown: &str) -> Result<Found, VaultError> {
        let step = Step::SecretLookup;
        let answer = self
            .call(step, |c| {
                c.get(self.transport.url(&format!("/api/v1/secrets/{id}/summary")))
                    .header("Accept", "application/json")
            })
            .await?;
        if !answer.is_success() {
            return Err(refusal(step, shown, &answer));
        }
        let summary = parse::summary(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
        if summary.id != id || !summary.active {
            return Err(VaultError::new(
                step,
                FailureKind::NotFoundOrDenied {
                    secret: shown.to_string(),
                },
            ));
        }
        Ok(Found { summary })
    }

    /// A folder by exact path: `GET /api/v1/folders/0?folderPath=`. `None` when the server has
    /// no such endpoint (404), for the caller to fall back to the name of the last component.
    async fn folder_by_path(&self, path: &str, shown: &str) -> Result<Option<i64>, VaultError> {
        let step = Step::SecretLookup;
        let answer = self
            .call(step, |c| {
                c.get(self.transport.url("/api/v1/folders/0"))
                    .query(&[("folderPath", path)])
                    .header("Accept", "application/json")
            })
            .await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if !answer.is_success() {
            return Err(refusal(
                step,
                &format!("folder {path:?} of {shown}"),
                &answer,
            ));
        }
        let folder = parse::folder(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
        Ok(Some(folder.id))
    }

    /// A folder given by id, by exact path, or by exact name through the folder lookup.
    async fn folder_id(&self, folder: &str, shown: &str) -> Result<i64, VaultError> {
        let step = Step::SecretLookup;
        let name = match FolderRef::parse(folder) {
            FolderRef::Id(id) => return Ok(id),
            FolderRef::Path(path) => match self.folder_by_path(&path, shown).await? {
                Some(id) => return Ok(id),
                None => FolderRef::last_name(folder),
            },
            FolderRef::Name(name) => name,
        };
        let answer = self
            .call(step, |c| {
                c.get(self.transport.url("/api/v1/folders/lookup"))
                    .query(&[("filter.searchText", name), ("take", "500")])
                    .header("Accept", "application/json")
            })
            .await?;
        if answer.status == 404 {
            return Err(VaultError::new(
                step,
                FailureKind::BadResponse {
                    status: 404,
                    what: format!(
                        "this server has no folder lookup (/api/v1/folders/lookup) to resolve folder {name:?}; name the folder by its id"
                    ),
                },
            ));
        }
        if !answer.is_success() {
            return Err(refusal(step, shown, &answer));
        }
        let page = parse::folder_page(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
        exactly_one_named(
            step,
            shown,
            Some(name),
            name,
            page.records,
            |f| &f.value,
            |f| f.id,
        )
    }

    /// Fetches the secret's fields (and file attachments), checking it out first when it
    /// requires that. Returns the credential and whether a check-in is owed.
    pub async fn fetch(
        &self,
        found: &Found,
        shown: &str,
    ) -> Result<(Credential, bool), VaultError> {
        let step = Step::SecretFetch;
        let s = &found.summary;
        let id = s.id;
        let mut checked_out = false;
        if s.check_out_enabled {
            if s.requires_comment {
                self.view_comment(id, shown).await?;
            }
            let answer = self
                .call(step, |c| {
                    c.post(
                        self.transport
                            .url(&format!("/api/v1/secrets/{id}/check-out")),
                    )
                    .header("Accept", "application/json")
                    .header("Content-Length", "0")
                })
                .await?;
            if !answer.is_success() {
                return Err(refusal(step, shown, &answer));
            }
            checked_out = true;
        }
        let result = self.fetch_fields(id, s.requires_comment, shown).await;
        match result {
            Ok(c) => Ok((c, checked_out)),
            Err(e) => {
                if checked_out {
                    self.check_in(id).await;
                }
                Err(e)
            }
        }
    }

    async fn fetch_fields(
        &self,
        id: i64,
        requires_comment: bool,
        shown: &str,
    ) -> Result<Credential, VaultError> {
        let step = Step::SecretFetch;
        let mut mode = if requires_comment {
            Comment::Query
        } else {
            Comment::None
        };
        let mut answer = self.get_secret(id, mode).await?;
        if mode == Comment::None && answer.status == 400 && mentions(&answer, "comment") {
            // The summary did not say so; the refusal did.
            mode = Comment::Query;
            answer = self.get_secret(id, mode).await?;
        }
        if mode == Comment::Query && answer.status == 400 && mentions(&answer, "comment") {
            // A server that predates `autoComment` ignores it: the restricted POST carries it.
            mode = Comment::Restricted;
            answer = self.get_secret(id, mode).await?;
        }
        if mode == Comment::Restricted && !answer.is_success() {
            // Missing or "denied" here is about the comment: the secret was just seen to exist.
            // Other refusals (approval, check-out) keep their own cause.
            let e = refusal(step, shown, &answer);
            return Err(match e.kind {
                FailureKind::NotFoundOrDenied { .. } => comment_refused(step, id, shown, &answer),
                _ if answer.looks_like_html() => comment_refused(step, id, shown, &answer),
                _ => e,
            });
        }
        if !answer.is_success() {
            return Err(refusal(step, shown, &answer));
        }
        if answer.looks_like_html() {
            return Err(bad(
                step,
                &answer,
                parse::ParseError("an HTML page instead of JSON".into()),
            ));
        }
        let model = parse::secret(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
        let mut fields = Fields::default();
        for item in model.items {
            let Some(item_slug) = item.slug.clone() else {
                continue;
            };
            let wanted = [
                slug::USERNAME,
                slug::DOMAIN,
                slug::PASSWORD,
                slug::PRIVATE_KEY,
                slug::PASSPHRASE,
            ]
            .iter()
            .any(|s| item.matches(s));
            if !wanted {
                continue;
            }
            if item.has_attachment() {
                let bytes = self.field(id, &item_slug, mode, true, shown).await?;
                fields.set(&item_slug, bytes);
            } else if item.is_file {
                // A file field without an attachment holds nothing.
            } else if item.matches(slug::PASSWORD)
                && item.item_value.as_ref().is_none_or(|v| v.is_empty())
            {
                // Servers that mask passwords in the secret model still serve the field.
                let value = self.field(id, &item_slug, mode, false, shown).await?;
                fields.set(&item_slug, value);
            } else if let Some(v) = item.item_value {
                fields.set(&item_slug, v);
            }
        }
        fields.into_credential(model.id, shown)
    }

    /// `GET /api/v1/secrets/{id}` (with `autoComment` when a comment is due), or the
    /// restricted POST carrying the comment in its body.
    async fn get_secret(&self, id: i64, mode: Comment) -> Result<Answer, VaultError> {
        let step = Step::SecretFetch;
        self.call(step, |c| {
            let get = || {
                c.get(self.transport.url(&format!("/api/v1/secrets/{id}")))
                    .query(&[("noAutoCheckout", "true")])
            };
            let r = match mode {
                Comment::None => get(),
                Comment::Query => get().query(&[("autoComment", self.comment.as_str())]),
                Comment::Restricted => c
                    .post(
                        self.transport
                            .url(&format!("/api/v1/secrets/{id}/restricted")),
                    )
                    .json(&serde_json::json!({"comment": self.comment, "noAutoCheckout": true})),
            };
            r.header("Accept", "application/json")
        })
        .await
    }

    /// One field's value: raw bytes for a file, a JSON string for text.
    async fn field(
        &self,
        id: i64,
        field: &str,
        mode: Comment,
        is_file: bool,
        shown: &str,
    ) -> Result<SecretBytes, VaultError> {
        let step = Step::SecretFetch;
        let answer = self
            .call(step, |c| {
                let get = || {
                    c.get(
                        self.transport
                            .url(&format!("/api/v1/secrets/{id}/fields/{field}")),
                    )
                    .query(&[("noAutoCheckout", "true")])
                };
                match mode {
                    Comment::None => get(),
                    Comment::Query => get().query(&[("autoComment", self.comment.as_str())]),
                    Comment::Restricted => {
                        c.post(
                            self.transport
                                .url(&format!("/api/v1/secrets/{id}/restricted/fields/{field}")),
                        )
                        .json(&serde_json::json!({"comment": self.comment, "noAutoCheckout": true}))
                    }
                }
            })
            .await?;
        if !answer.is_success() {
            return Err(refusal(step, shown, &answer));
        }
        if is_file {
            Ok(answer.body)
        } else {
            parse::field_text(answer.body.expose()).map_err(|e| bad(step, &answer, e))
        }
    }

    /// Leaves the audit comment a comment-required secret needs before its check-out.
    async fn view_comment(&self, id: i64, shown: &str) -> Result<(), VaultError> {
        let step = Step::SecretFetch;
        let answer = self
            .call(step, |c| {
                c.post(self.transport.url(&format!(
                    "/api/v1/secret-access-requests/secrets/{id}/view-comment"
                )))
                .json(&serde_json::json!({"comment": self.comment}))
            })
            .await?;
        if answer.is_success() || answer.status == 404 {
            // Servers without this endpoint take the comment with the fetch instead.
            return Ok(());
        }
        Err(refusal(step, shown, &answer))
    }

    /// Checks a secret back in. A failure is logged, not reported: the credential was used.
    pub async fn check_in(&self, id: i64) {
        let result = self
            .call(Step::SecretFetch, |c| {
                c.post(
                    self.transport
                        .url(&format!("/api/v1/secrets/{id}/check-in")),
                )
                .json(&serde_json::json!({"comment": self.comment}))
            })
            .await;
        match result {
            Ok(a) if a.is_success() => {}
            Ok(a) => {
                log::warn!(target: "sealscan_vault", "check-in of secret {id} refused: HTTP {}", a.status)
            }
            Err(e) => log::warn!(target: "sealscan_vault", "check-in of secret {id} failed: {e}"),
        }
    }

    /// Expires the session's token, if one was obtained.
    pub async fn revoke(&self) {
        let token = self.token.lock().await.current.take();
        let Some(token) = token else {
            return;
        };
        let result = self
            .transport
            .send(Step::VaultLogin, |c| {
                c.request(Method::POST, self.transport.url("/api/v1/oauth-expiration"))
                    .header(AUTHORIZATION, token.header.as_ref().clone())
                    .header("Content-Length", "0")
            })
            .await;
        match result {
            Ok(a) if a.is_success() => {}
            Ok(a) => {
                log::warn!(target: "sealscan_vault", "token revocation refused: HTTP {}", a.status)
            }
            Err(e) => log::warn!(target: "sealscan_vault", "token revocation failed: {e}"),
        }
    }
}

/// How long a token of `lifetime` is used before it is renewed.
fn renew_after(lifetime: Duration) -> Duration {
    lifetime - EXPIRY_MARGIN.min(lifetime / 4)
}

/// How a fetch gives the job's audit comment to a comment-required secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comment {
    None,
    /// `?autoComment=` on the GETs (Secret Server 11.1 and later).
    Query,
    /// `POST …/restricted` with `{"comment"}` (servers that ignore `autoComment`).
    Restricted,
}

/// The secret asked for a comment and neither way of giving it worked: a 404 or "access
/// denied" here is about the comment, not the secret (the server has just shown it exists).
fn comment_refused(step: Step, id: i64, shown: &str, answer: &Answer) -> VaultError {
    let body = parse::error_body(answer.body.expose());
    let words = match body.text() {
        Some(t) if !answer.looks_like_html() => format!(": {}", sanitize(t)),
        _ => String::new(),
    };
    VaultError::new(
        step,
        FailureKind::CommentRequired {
            secret: shown.to_string(),
            message: format!(
                "the server ignored autoComment and refused POST /api/v1/secrets/{id}/restricted (HTTP {}){words}",
                answer.status
            ),
        },
    )
}

/// Where the next page starts, or `None` when the search is done. Follows the server's
/// `nextSkip`, but never backwards or in place: a hostile answer must not make the lookup loop.
fn next_skip(has_next: bool, next: Option<u64>, skip: u64, count: u64) -> Option<u64> {
    let next = next.unwrap_or(skip.saturating_add(count));
    (has_next && count > 0 && next > skip).then_some(next)
}

fn form_len(v: &[u8]) -> usize {
    form_urlencoded::byte_serialize(v).map(str::len).sum()
}

/// 401, or 403 that names the token, means "log in again"; other 403s are real refusals.
fn token_refused(answer: &Answer) -> bool {
    answer.status == 401
        || (answer.status == 403
            && (mentions(answer, "token") || mentions(answer, "authentication")))
}

fn mentions(answer: &Answer, word: &str) -> bool {
    let body = parse::error_body(answer.body.expose());
    [body.message, body.error_code, body.error]
        .iter()
        .flatten()
        .any(|t| t.to_ascii_lowercase().contains(word))
}

fn bad(step: Step, answer: &Answer, e: parse::ParseError) -> VaultError {
    VaultError::new(
        step,
        FailureKind::BadResponse {
            status: answer.status,
            what: e.0,
        },
    )
}

fn unexpected(step: Step, answer: &Answer) -> VaultError {
    let body = parse::error_body(answer.body.expose());
    if body.error_code.is_some() || answer.status >= 500 {
        return VaultError::new(
            step,
            FailureKind::Vault {
                status: answer.status,
                error_code: sanitize(body.error_code.as_deref().unwrap_or("")),
                message: sanitize(body.text().unwrap_or("no message")),
            },
        );
    }
    VaultError::new(
        step,
        FailureKind::BadResponse {
            status: answer.status,
            what: match body.text() {
                Some(t) => sanitize(t),
                None if answer.looks_like_html() => "an HTML page".into(),
                None => "no error message".into(),
            },
        },
    )
}

/// Maps a refusal to its cause. Secret Server answers "not found" and "access denied" the same
/// way on purpose, so the cause names both.
pub(crate) fn refusal(step: Step, shown: &str, answer: &Answer) -> VaultError {
    let body = parse::error_body(answer.body.expose());
    let code = body.error_code.clone().unwrap_or_default();
    let text = body.text().unwrap_or("").to_string();
    let both = format!("{code} {text}").to_ascii_lowercase();
    let Some(kind) = refusal_kind(answer.status == 404, &both, shown, sanitize(&text)) else {
        return unexpected(step, answer);
    };
    VaultError::new(step, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_renewed_ahead_too() {
        assert_eq!(
            renew_after(Duration::from_secs(1199)),
            Duration::from_secs(1169)
        );
        assert_eq!(
            renew_after(Duration::from_secs(20)),
            Duration::from_secs(15)
        );
        assert_eq!(renew_after(Duration::from_secs(4)), Duration::from_secs(3));
        assert_eq!(
            renew_after(Duration::from_secs(1)),
            Duration::from_millis(750)
        );
    }

    #[test]
    fn paging_only_moves_forward() {
        assert_eq!(next_skip(true, Some(100), 0, 100), Some(100));
        assert_eq!(next_skip(true, None, 100, 100), Some(200));
        assert_eq!(next_skip(false, Some(100), 0, 100), None);
        assert_eq!(next_skip(true, Some(0), 0, 100), None);
        assert_eq!(next_skip(true, Some(5), 10, 100), None);
        assert_eq!(next_skip(true, Some(300), 200, 0), None);
        assert_eq!(next_skip(true, None, u64::MAX, 100), None);
    }
}

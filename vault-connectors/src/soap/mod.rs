//! The legacy SOAP web service (`webservices/SSWebService.asmx`, SOAP 1.1), for servers
//! without the REST API.

pub mod parse;

use sealscan_protocols::results::Step;
use tokio::sync::Mutex;

use crate::body::{ExactWriter, wiping_body};
use crate::credential::{Credential, Fields, slug};
use crate::error::{FailureKind, VaultError, sanitize};
use crate::http::{Answer, Transport};
use crate::lookup::{FolderRef, exactly_one_named, refusal_kind};
use crate::record::{SecretRef, VaultRecord};
use sealscan_protocols::secret::SecretBytes;

const PATH: &str = "/webservices/SSWebService.asmx";
const HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#;
const TAIL: &str = "</soap:Body></soap:Envelope>";

/// One SOAP parameter: an element name and its text (escaped when written).
enum Param<'a> {
    Text(&'a str, &'a [u8]),
    /// Pre-built XML (for nested parameters without secrets).
    Raw(&'a str),
}

/// A SOAP 1.1 envelope, written once at its final size into a wiping buffer because
/// `Authenticate` and every later call carry a password or a token.
fn envelope(method: &str, params: &[Param<'_>]) -> zeroize::Zeroizing<Vec<u8>> {
    let open = format!(r#"<{method} xmlns="urn:thesecretserver.com">"#);
    let close = format!("</{method}>");
    let mut len = HEAD.len() + open.len() + close.len() + TAIL.len();
    for p in params {
        len += match p {
            Param::Text(name, value) => 2 * name.len() + 5 + escaped_len(value),
            Param::Raw(xml) => xml.len(),
        };
    }
    let mut out = ExactWriter::with_capacity(len);
    out.push(HEAD.as_bytes());
    out.push(open.as_bytes());
    for p in params {
        match p {
            Param::Text(name, value) => {
                out.push(b"<");
                out.push(name.as_bytes());
                out.push(b">");
                escape_into(&mut out, value);
                out.push(b"</");
                out.push(name.as_bytes());
                out.push(b">");
            }
            Param::Raw(xml) => out.push(xml.as_bytes()),
        }
    }
    out.push(close.as_bytes());
    out.push(TAIL.as_bytes());
    out.into_inner()
}

fn escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'"' => Some(b"&quot;"),
        b'\'' => Some(b"&apos;"),
        _ => None,
    }
}

fn escaped_len(v: &[u8]) -> usize {
    v.iter().map(|b| escape(*b).map_or(1, <[u8]>::len)).sum()
}

fn escape_into(out: &mut ExactWriter, v: &[u8]) {
    for b in v {
        match escape(*b) {
            Some(e) => out.push(e),
            None => out.push(std::slice::from_ref(b)),
        }
    }
}

fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) struct SoapClient {
    transport: Transport,
    username: String,
    domain: Option<String>,
    organization: String,
    password: SecretBytes,
    comment: String,
    token: Mutex<(Option<SecretBytes>, u64)>,
}

/// A secret found by the lookup.
pub(crate) struct Found {
    pub id: i64,
}

impl SoapClient {
    pub(crate) fn new(transport: Transport, record: &VaultRecord, comment: String) -> Self {
        Self {
            transport,
            username: record.username.clone(),
            domain: record.domain.clone().filter(|d| !d.is_empty()),
            organization: record.organization.clone().unwrap_or_default(),
            password: record.password.clone(),
            comment,
            token: Mutex::new((None, 0)),
        }
    }

    async fn post(
        &self,
        step: Step,
        method: &str,
        params: &[Param<'_>],
    ) -> Result<Answer, VaultError> {
        let action = format!("\"urn:thesecretserver.com/{method}\"");
        let answer = self
            .transport
            .send(step, |c| {
                c.post(self.transport.url(PATH))
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .header("SOAPAction", action.as_str())
                    .body(wiping_body(envelope(method, params)))
            })
            .await?;
        if answer.status == 404 || (answer.is_success() && answer.looks_like_html()) {
            return Err(VaultError::new(
                step,
                FailureKind::ApiAbsent {
                    api: "SOAP",
                    url: self.transport.base().to_string(),
                    reason: if answer.status == 404 {
                        format!("{PATH} answered 404")
                    } else {
                        format!("{PATH} answered with an HTML page")
                    },
                },
            ));
        }
        if !answer.is_success() {
            let fault =
                parse::fault(answer.body.expose()).unwrap_or_else(|| "no SOAP fault".into());
            return Err(VaultError::new(
                step,
                FailureKind::Vault {
                    status: answer.status,
                    error_code: String::new(),
                    message: fault,
                },
            ));
        }
        Ok(answer)
    }

    pub async fn ensure_token(&self) -> Result<(), VaultError> {
        self.token().await.map(|_| ())
    }

    async fn token(&self) -> Result<(SecretBytes, u64), VaultError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = &slot.0 {
            return Ok((t.clone(), slot.1));
        }
        let step = Step::VaultLogin;
        let domain = self.domain.as_deref().unwrap_or("");
        let answer = self
            .post(
                step,
                "Authenticate",
                &[
                    Param::Text("username", self.username.as_bytes()),
                    Param::Text("password", self.password.expose()),
                    Param::Text("organization", self.organization.as_bytes()),
                    Param::Text("domain", domain.as_bytes()),
                ],
            )
            .await?;
        let auth = parse::authenticate(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
        match auth.token {
            Some(t) if auth.errors.is_empty() => {
                slot.1 += 1;
                slot.0 = Some(t.clone());
                Ok((t, slot.1))
            }
            _ => Err(VaultError::new(
                step,
                FailureKind::LoginFailed {
                    user: self.username.clone(),
                    domain: self.domain.clone(),
                    message: joined(&auth.errors, "no token returned"),
                },
            )),
        }
    }

    /// Calls a token-bearing method; when the server says the token is no longer valid,
    /// authenticates again once and repeats the call.
    async fn call<T>(
        &self,
        step: Step,
        method: &str,
        rest: &[Param<'_>],
        parse_answer: impl Fn(&[u8]) -> Result<(Vec<String>, T), parse::ParseError>,
    ) -> Result<(Vec<String>, T), VaultError> {
        let mut renewed = false;
        loop {
            let (token, generation) = self.token().await?;
            let mut params = vec![Param::Text("token", token.expose())];
            params.extend(rest.iter().map(|p| match p {
                Param::Text(n, v) => Param::Text(n, v),
                Param::Raw(x) => Param::Raw(x),
            }));
            let answer = self.post(step, method, &params).await?;
            let (errors, value) =
                parse_answer(answer.body.expose()).map_err(|e| bad(step, &answer, e))?;
            let token_dead = errors.iter().any(|e| {
                let e = e.to_ascii_lowercase();
                e.contains("token")
                    && (e.contains("expired") || e.contains("invalid") || e.contains("not valid"))
            });
            if token_dead && !renewed {
                let mut slot = self.token.lock().await;
                if slot.1 == generation {
                    slot.0 = None;
                }
                renewed = true;
                continue;
            }
            return Ok((errors, value));
        }
    }

    pub async fn lookup(&self, secret: &SecretRef) -> Result<Found, VaultError> {
        let (secret_name, folder) = match secret {
            // GetSecret answers a missing or forbidden id with its own refusal.
            SecretRef::Id(id) => return Ok(Found { id: *id }),
            SecretRef::Named { name, folder } => (name, folder),
        };
        let step = Step::SecretLookup;
        let shown = secret.to_string();
        let name = secret_name.as_bytes();
        let (errors, found) = match folder {
            Some(folder) => {
                let folder_id = self.folder_id(folder, &shown).await?.to_string();
                self.call(
                    step,
                    "SearchSecretsByFolder",
                    &[
                        Param::Text("searchTerm", name),
                        Param::Text("folderId", folder_id.as_bytes()),
                        Param::Text("includeSubFolders", b"false"),
                        Param::Text("includeDeleted", b"false"),
                        Param::Text("includeRestricted", b"true"),
                    ],
                    |b| parse::search(b).map(|s| (s.errors, s.summaries)),
                )
                .await?
            }
            None => {
                self.call(
                    step,
                    "SearchSecrets",
                    &[
                        Param::Text("searchTerm", name),
                        Param::Text("includeDeleted", b"false"),
                        Param::Text("includeRestricted", b"true"),
                    ],
                    |b| parse::search(b).map(|s| (s.errors, s.summaries)),
                )
                .await?
            }
        };
        if !errors.is_empty() {
            return Err(refusal(step, &shown, &errors));
        }
        exactly_one_named(
            step,
            &shown,
            None,
            secret_name,
            found,
            |s| &s.name,
            |s| s.id,
        )
        .map(|id| Found { id })
    }

    async fn folder_id(&self, folder: &str, shown: &str) -> Result<i64, VaultError> {
        let step = Step::SecretLookup;
        // SOAP searches folders by name only: a path is resolved by its last component, which
        // must then be unique among the folders the account sees.
        let name = match FolderRef::parse(folder) {
            FolderRef::Id(id) => return Ok(id),
            FolderRef::Path(_) => FolderRef::last_name(folder),
            FolderRef::Name(name) => name,
        };
        let (errors, folders) = self
            .call(
                step,
                "SearchFolders",
                &[Param::Text("folderName", name.as_bytes())],
                parse::folders,
            )
            .await?;
        if !errors.is_empty() {
            return Err(refusal(step, shown, &errors));
        }
        exactly_one_named(
            step,
            shown,
            Some(name),
            name,
            folders,
            |f| &f.name,
            |f| f.id,
        )
    }

    /// Fetches the secret; also says whether `GetSecret` checked it out (a check-in is owed).
    pub async fn fetch(
        &self,
        found: &Found,
        shown: &str,
    ) -> Result<(Credential, bool), VaultError> {
        let step = Step::SecretFetch;
        let id = found.id.to_string();
        let mut code_response: Option<String> = None;
        loop {
            let responses = code_response.clone().unwrap_or_default();
            let (errors, answer) = self
                .call(
                    step,
                    "GetSecret",
                    &[
                        Param::Text("secretId", id.as_bytes()),
                        Param::Text("loadSettingsAndPermissions", b"false"),
                        Param::Raw(&responses),
                    ],
                    |b| parse::get_secret(b).map(|mut a| (std::mem::take(&mut a.errors), a)),
                )
                .await?;
            // A comment-required secret answers with both an error and a SecretError that
            // accepts a response; answer it once with the job's comment.
            if let Some(e) = &answer.secret_error {
                let words = format!("{} {}", e.code, e.message).to_ascii_lowercase();
                if words.contains("comment") && e.allows_response && code_response.is_none() {
                    code_response = Some(format!(
                        "<codeResponses><CodeResponse><ErrorCode>{}</ErrorCode><Comment>{}</Comment><AdditionalComment></AdditionalComment></CodeResponse></codeResponses>",
                        xml_text(&e.code),
                        xml_text(&self.comment)
                    ));
                    continue;
                }
                return Err(refusal(
                    step,
                    shown,
                    &[format!("{} ({})", e.message, e.code)],
                ));
            }
            if !errors.is_empty() {
                return Err(refusal(step, shown, &errors));
            }
            if !answer.found {
                return Err(VaultError::new(
                    step,
                    FailureKind::NotFoundOrDenied {
                        secret: shown.to_string(),
                    },
                ));
            }
            let mut fields = Fields::default();
            for item in answer.items {
                let item_slug = item.slug();
                if ![
                    slug::USERNAME,
                    slug::DOMAIN,
                    slug::PASSWORD,
                    slug::PRIVATE_KEY,
                    slug::PASSPHRASE,
                ]
                .contains(&item_slug.as_str())
                {
                    continue;
                }
                if item.is_file {
                    let Some(item_id) = item.id else { continue };
                    if let Some(bytes) = self.download(found.id, item_id, shown).await? {
                        fields.set(&item_slug, bytes);
                    }
                } else {
                    fields.set(&item_slug, item.value);
                }
            }
            let owed = answer.check_out_enabled;
            return match fields.into_credential(answer.id.unwrap_or(found.id), shown) {
                Ok(c) => Ok((c, owed)),
                Err(e) => {
                    if owed {
                        self.check_in(found.id).await;
                    }
                    Err(e)
                }
            };
        }
    }

    async fn download(
        &self,
        secret_id: i64,
        item_id: i64,
        shown: &str,
    ) -> Result<Option<SecretBytes>, VaultError> {
        let step = Step::SecretFetch;
        let (s, i) = (secret_id.to_string(), item_id.to_string());
        let (errors, file) = self
            .call(
                step,
                "DownloadFileAttachmentByItemId",
                &[
                    Param::Text("secretId", s.as_bytes()),
                    Param::Text("secretItemId", i.as_bytes()),
                ],
                parse::download,
            )
            .await?;
        if !errors.is_empty() {
            // An empty file field answers with an error; that is a missing field, not a refusal.
            let words = errors.join(" ").to_ascii_lowercase();
            if words.contains("no file") || words.contains("not found") && !words.contains("access")
            {
                return Ok(None);
            }
            return Err(refusal(step, shown, &errors));
        }
        Ok(file.filter(|f| !f.is_empty()))
    }

    /// Checks a secret back in. A failure is logged, not reported: the credential was used.
    pub async fn check_in(&self, id: i64) {
        let s = id.to_string();
        let result = self
            .call(
                Step::SecretFetch,
                "CheckIn",
                &[Param::Text("secretId", s.as_bytes())],
                |b| {
                    let doc = parse::document(b)?;
                    let errors = doc
                        .find("Errors")
                        .map(|e| {
                            e.children_named("string")
                                .map(|s| sanitize(&s.plain()))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok((errors, ()))
                },
            )
            .await;
        match result {
            Ok((errors, ())) if errors.is_empty() => {}
            Ok((errors, ())) => {
                log::warn!(target: "sealscan_vault", "check-in of secret {id} refused: {}", joined(&errors, ""))
            }
            Err(e) => log::warn!(target: "sealscan_vault", "check-in of secret {id} failed: {e}"),
        }
    }

    /// SOAP tokens expire on the server's session timeout; there is nothing to revoke.
    pub async fn forget_token(&self) {
        self.token.lock().await.0 = None;
    }
}

fn joined(errors: &[String], default: &str) -> String {
    if errors.is_empty() {
        default.to_string()
    } else {
        sanitize(&errors.join("; "))
    }
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

fn refusal(step: Step, shown: &str, errors: &[String]) -> VaultError {
    let message = joined(errors, "refused");
    let words = message.to_ascii_lowercase();
    let kind = refusal_kind(words.contains("not found"), &words, shown, message.clone()).unwrap_or(
        FailureKind::Vault {
            status: 200,
            error_code: String::new(),
            message,
        },
    );
    VaultError::new(step, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_escapes_and_is_exactly_sized() {
        let body = envelope(
            "Authenticate",
            &[
                Param::Text("username", b"a<b"),
                Param::Text("password", b"p&'\"w>"),
            ],
        );
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<username>a&lt;b</username>"));
        assert!(text.contains("<password>p&amp;&apos;&quot;w&gt;</password>"));
        assert_eq!(body.len(), body.capacity());
    }
}

//! The HTTP transport shared by the REST and SOAP clients: TLS from the vault record, bounded
//! retries with backoff, size-limited bodies read into wiping buffers, and the mapping of
//! transport failures to causes.

use std::error::Error as _;

use reqwest::{Client, RequestBuilder};
use sealscan_protocols::results::Step;

use crate::error::{FailureKind, VaultError, sanitize};
use crate::record::{Limits, TlsSettings};
use crate::secret::{BodyBuf, Secret};

/// A complete answer. The body may hold secrets, so it lives in a wiping buffer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Secret,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// IIS answers wrong paths (and some errors) with a 200 HTML login page.
    pub fn looks_like_html(&self) -> bool {
        if self.content_type.to_ascii_lowercase().contains("html") {
            return true;
        }
        let head = &self.body.expose()[..self.body.len().min(256)];
        let text = String::from_utf8_lossy(head).to_ascii_lowercase();
        let t = text.trim_start();
        t.starts_with("<!doctype html") || t.starts_with("<html")
    }
}

#[derive(Clone)]
pub struct Transport {
    client: Client,
    limits: Limits,
    /// The application root without a trailing slash.
    base: String,
}

impl Transport {
    pub fn new(url: &str, tls: &TlsSettings, limits: Limits) -> Result<Self, VaultError> {
        let config = |m: String| VaultError::new(Step::VaultLogin, FailureKind::Config(m));
        let parsed = url::Url::parse(url)
            .map_err(|e| config(format!("vault URL {:?} is not a URL: {e}", sanitize(url))))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config(format!(
                "vault URL {:?} must start with https:// or http://",
                sanitize(url)
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(config(format!(
                "vault URL {:?} must be the application root, without query or fragment",
                sanitize(url)
            )));
        }
        if parsed.scheme() == "http" {
            log::warn!(target: "sealscan_vault", "vault {} is plain HTTP: its web-service password and secrets cross the network unencrypted", parsed);
        }
        let mut builder = Client::builder()
            .use_rustls_tls()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sealscan-vault/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &tls.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| config(format!("the record's CA bundle is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(config(
                    "the record's CA bundle holds no certificate".to_string(),
                ));
            }
            // The record's CA replaces the public roots: an internal vault is pinned to it.
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !tls.verify {
            log::warn!(target: "sealscan_vault", "TLS verification is off for vault {}", parsed);
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            limits,
            base: url.trim_end_matches('/').to_string(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends the request `build` makes, retrying on 5xx answers, resets and timeouts with
    /// doubling backoff. The last 5xx answer is returned as is for the caller to read its
    /// `errorCode`; transport failures become `Unreachable` or `Tls`.
    pub async fn send(
        &self,
        step: Step,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, VaultError> {
        let attempts = self.limits.attempts.max(1);
        let mut delay = self.limits.backoff;
        let mut attempt = 1;
        loop {
            let outcome = self.once(step, build(&self.client)).await;
            let retry = match &outcome {
                Ok(answer) => answer.status >= 500,
                Err(Failure::Retryable(_)) => true,
                Err(Failure::Final(_)) => false,
            };
            if !retry || attempt >= attempts {
                return match outcome {
                    Ok(a) => Ok(a),
                    Err(Failure::Retryable(e) | Failure::Final(e)) => Err(e),
                };
            }
            log::debug!(target: "sealscan_vault", "vault request failed (attempt {attempt}), retrying");
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
            attempt += 1;
        }
    }

    async fn once(&self, step: Step, request: RequestBuilder) -> Result<Answer, Failure> {
        let mut response = request.send().await.map_err(|e| self.classify(step, &e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = BodyBuf::new(response.content_length(), self.limits.max_body);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.push(chunk).is_err() {
                        return Err(Failure::Final(VaultError::new(
                            step,
                            FailureKind::BadResponse {
                                status,
                                what: format!(
                                    "answer larger than the {} byte limit",
                                    self.limits.max_body
                                ),
                            },
                        )));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(self.classify(step, &e)),
            }
        }
        Ok(Answer {
            status,
            content_type,
            body: body.finish(),
        })
    }

    fn classify(&self, step: Step, e: &reqwest::Error) -> Failure {
        let url = self.base.clone();
        if let Some(reason) = tls_reason(e) {
            return Failure::Final(VaultError::new(step, FailureKind::Tls { url, reason }));
        }
        let reason = if e.is_timeout() {
            "timed out".to_string()
        } else if let Some(io) = io_kind(e) {
            match io {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                std::io::ErrorKind::ConnectionAborted => "connection aborted".to_string(),
                std::io::ErrorKind::UnexpectedEof => "connection closed early".to_string(),
                other => sanitize(&other.to_string()),
            }
        } else if e.is_connect() {
            "connection failed".to_string()
        } else {
            // hyper reports a peer that hangs up before answering as an incomplete message.
            sanitize(&chain_text(e))
        };
        Failure::Retryable(VaultError::new(
            step,
            FailureKind::Unreachable { url, reason },
        ))
    }
}

enum Failure {
    Retryable(VaultError),
    Final(VaultError),
}

/// The error and its causes. `io::Error::source` skips the error it wraps, so wrapped errors
/// are visited through `get_ref` instead.
fn chain(e: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = e.source();
    while let Some(s) = next {
        if out.len() > 32 {
            break;
        }
        out.push(s);
        next = match s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => s.source(),
        };
    }
    out
}

fn tls_reason(e: &reqwest::Error) -> Option<String> {
    chain(e)
        .into_iter()
        .find_map(|s| s.downcast_ref::<rustls::Error>())
        .map(|t| sanitize(&t.to_string()))
}

fn io_kind(e: &reqwest::Error) -> Option<std::io::ErrorKind> {
    chain(e)
        .into_iter()
        .filter_map(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .find(|k| *k != std::io::ErrorKind::Other)
}

fn chain_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    for s in chain(e) {
        text.push_str(": ");
        text.push_str(&s.to_string());
    }
    text
}

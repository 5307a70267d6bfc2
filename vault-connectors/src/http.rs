//! The HTTP transport shared by the REST and SOAP clients: TLS from the vault record, bounded
//! retries with backoff, size-limited bodies read into wiping buffers, and the mapping of
//! transport failures to causes.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::{Client, RequestBuilder};
use sealscan_protocols::results::Step;

use crate::body::BodyBuf;
use crate::error::{FailureKind, VaultError, sanitize};
use crate::record::{Limits, TlsSettings};
use sealscan_protocols::secret::SecretBytes;

/// A complete answer. The body may hold secrets, so it lives in a wiping buffer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: SecretBytes,
    /// How long a throttling answer (429, 503) asks the client to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
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
            log::warn!(target: "sealscan_vault", "vault {parsed} is plain HTTP: its web-service password and secrets cross the network unencrypted");
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
            log::warn!(target: "sealscan_vault", "TLS verification is off for vault {parsed}");
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

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends the request `build` makes, retrying on 5xx answers, resets and timeouts with
    /// doubling backoff. The last 5xx answer is returned as is for the caller to read its
    /// `errorCode`; transport failures become `Unreachable` or `Tls`.
    ///
    /// A throttling answer (429, or 503 with `Retry-After`) is retried after the wait the
    /// server asks for, as long as the waits together stay within the vault timeout
    /// (`Limits::request_timeout`, the job's bound on a vault request); these retries do not
    /// use up the attempts. When the server asks for longer, or keeps throttling, the cause
    /// says so.
    pub async fn send(
        &self,
        step: Step,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, VaultError> {
        let attempts = self.limits.attempts.max(1);
        let budget = self.limits.request_timeout;
        let mut delay = self.limits.backoff;
        let mut attempt = 1;
        let mut waited = Duration::ZERO;
        let mut throttled = 0u32;
        loop {
            let outcome = self.once(step, build(&self.client)).await;
            if let Ok(answer) = &outcome
                && let Some(asked) = throttle_wait(answer)
            {
                // A zero or tiny Retry-After still waits the backoff, so the budget ends it.
                let wait = asked.max(self.limits.backoff);
                throttled += 1;
                if waited + wait > budget || throttled > MAX_THROTTLED {
                    return Err(rate_limited(step, answer.status, asked, waited, budget));
                }
                log::info!(target: "sealscan_vault", "vault throttled the request (HTTP {}); waiting {} ms as Retry-After asks", answer.status, wait.as_millis());
                tokio::time::sleep(wait).await;
                waited += wait;
                continue;
            }
            let retry = match &outcome {
                Ok(answer) => answer.status >= 500 || answer.status == 429,
                Err(Failure::Retryable(_)) => true,
                Err(Failure::Final(_)) => false,
            };
            if !retry || attempt >= attempts {
                return match outcome {
                    Ok(a) if a.status == 429 => Err(VaultError::new(
                        step,
                        FailureKind::RateLimited {
                            status: 429,
                            why: format!(
                                "still refused after {attempts} attempts; the server gave no Retry-After"
                            ),
                        },
                    )),
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
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
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
            retry_after,
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

/// Throttled retries of one request, whatever their waits: a bound besides the time budget.
const MAX_THROTTLED: u32 = 32;

/// The wait a throttling answer asks for: 429 or 503 with a `Retry-After` header.
fn throttle_wait(answer: &Answer) -> Option<Duration> {
    matches!(answer.status, 429 | 503)
        .then_some(answer.retry_after)
        .flatten()
}

/// `Retry-After` is delay-seconds or an HTTP date (RFC 9110 section 10.2.3).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn rate_limited(
    step: Step,
    status: u16,
    asked: Duration,
    waited: Duration,
    budget: Duration,
) -> VaultError {
    let why = if waited.is_zero() {
        format!(
            "the server asks to retry after {} s (Retry-After), longer than the {} s vault timeout allows",
            asked.as_secs_f64().ceil(),
            budget.as_secs_f64().ceil()
        )
    } else {
        format!(
            "still throttled after waiting {} s as Retry-After asked; waiting {} s more would pass the {} s vault timeout",
            waited.as_secs_f64().ceil(),
            asked.as_secs_f64().ceil(),
            budget.as_secs_f64().ceil()
        )
    };
    VaultError::new(step, FailureKind::RateLimited { status, why })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        // A date already past means "now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}

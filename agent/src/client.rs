//! The control-plane API as the appliance calls it: HTTPS with rustls, trusting only the CA
//! file the agent is configured with, and the appliance credential as a bearer token.

use crate::secret::SecretText;
use sealscan_protocols::appliance::{
    API_PREFIX, CLAIM_AFTER_START_HEADER, ClaimRequest, EnrollPollRequest, EnrollRequest,
    EnrollResponse, EnrollState, HeartbeatResponse, Job, ResultAck, ResultPost, RewrapSubmit,
    RewrapWork,
};
use sealscan_protocols::signing::{JobSignatures, RewrapSignatures};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the CA file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA file {} holds no usable PEM certificate", path.display())]
    CaEmpty { path: PathBuf },
    #[error("cannot build the HTTPS client: {0}")]
    Build(String),
    /// The control plane could not be reached or the exchange broke off: retry later.
    #[error("control plane unreachable at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The control plane answered with an error status; `body` is its (bounded) explanation.
    #[error("control plane refused {what} with HTTP {status}: {body}")]
    Refused {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("control plane sent an unreadable {what}: {message}")]
    BadBody { what: &'static str, message: String },
}

impl ClientError {
    /// Worth retrying: the network or a server-side (5xx) failure, not a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The control plane no longer knows our credential (revoked appliance).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            ClientError::Refused {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// A client for one control plane.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// The appliance credential (bearer token); absent before approval.
    credential: Option<std::sync::Arc<SecretText>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// The longest the body of an error answer is quoted in a message.
const ERROR_BODY_LIMIT: usize = 300;

impl ApiClient {
    /// A client for `url` trusting only the certificates in `ca_file`.
    pub fn new(url: &str, ca_file: &Path) -> Result<Self, ClientError> {
        let pem = std::fs::read(ca_file).map_err(|source| ClientError::CaFile {
            path: ca_file.to_path_buf(),
            source,
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| ClientError::CaEmpty {
                path: ca_file.to_path_buf(),
            })?;
        if certs.is_empty() {
            return Err(ClientError::CaEmpty {
                path: ca_file.to_path_buf(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            // Long enough for the longest claim wait plus a margin.
            .timeout(Duration::from_secs(
                u64::from(sealscan_protocols::appliance::MAX_CLAIM_WAIT_SECS) + 30,
            ));
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_string(),
            credential: None,
        })
    }

    /// The same client, authenticating with the appliance credential.
    pub fn with_credential(mut self, credential: SecretText) -> Self {
        self.credential = Some(std::sync::Arc::new(credential));
        self
    }

    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, ClientError> {
        self.send_json("enrollment", "/enroll", request)
            .await?
            .ok_or(ClientError::BadBody {
                what: "enrollment answer",
                message: "empty body".into(),
            })
    }

    pub async fn enroll_poll(
        &self,
        request: &EnrollPollRequest,
    ) -> Result<EnrollState, ClientError> {
        self.send_json("enrollment poll", "/enroll/poll", request)
            .await?
            .ok_or(ClientError::BadBody {
                what: "enrollment state",
                message: "empty body".into(),
            })
    }

    /// A job, or `None` when the wait ended without work.
    /// `after_start`: no claim of this process has been answered yet (see
    /// [`CLAIM_AFTER_START_HEADER`]).
    pub async fn claim(
        &self,
        wait_secs: u32,
        after_start: bool,
    ) -> Result<Option<(Job, JobSignatures)>, ClientError> {
        let mut request = self
            .http
            .post(self.url("/jobs/claim"))
            .json(&ClaimRequest { wait_secs });
        if after_start {
            request = request.header(CLAIM_AFTER_START_HEADER, "1");
        }
        // The signed-records part is read from the same body, beside the job
        // (sealscan_protocols::signing::JobSignatures says why).
        self.exchange_with("job claim", self.authorize(request), |body| {
            Ok((serde_json::from_slice(body)?, serde_json::from_slice(body)?))
        })
        .await
    }

    pub async fn heartbeat(&self, job_id: &str) -> Result<HeartbeatResponse, ClientError> {
        let path = format!("/jobs/{}/heartbeat", path_segment(job_id));
        self.send_json("heartbeat", &path, &serde_json::json!({}))
            .await?
            .ok_or(ClientError::BadBody {
                what: "heartbeat answer",
                message: "empty body".into(),
            })
    }

    pub async fn post_result(
        &self,
        job_id: &str,
        post: &ResultPost,
    ) -> Result<ResultAck, ClientError> {
        let path = format!("/jobs/{}/results", path_segment(job_id));
        Ok(self
            .send_json("result", &path, post)
            .await?
            .unwrap_or(ResultAck { duplicate: false }))
    }

    /// Rewrap work addressed to this appliance; `None` when there is none.
    pub async fn rewrap_work(&self) -> Result<Option<(RewrapWork, RewrapSignatures)>, ClientError> {
        let request = self.authorize(self.http.get(self.url("/rewrap")));
        // The signed approval is read from the same body, beside the work (as for jobs).
        let work: Option<(RewrapWork, RewrapSignatures)> = self
            .exchange_with("rewrap work", request, |body| {
                Ok((serde_json::from_slice(body)?, serde_json::from_slice(body)?))
            })
            .await?;
        Ok(work.filter(|(w, _)| !w.items.is_empty()))
    }

    pub async fn rewrap_submit(&self, submit: &RewrapSubmit) -> Result<(), ClientError> {
        let _: Option<serde_json::Value> = self
            .send_json("rewrap submission", "/rewrap", submit)
            .await?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{path}", self.base)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credential {
            Some(c) => request.bearer_auth(c.expose()),
            None => request,
        }
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, ClientError> {
        let request = self.authorize(self.http.post(self.url(path)).json(body));
        self.exchange(what, request).await
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, ClientError> {
        self.exchange_with(what, request, |body| serde_json::from_slice(body))
            .await
    }

    async fn exchange_with<T>(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
        parse: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
    ) -> Result<Option<T>, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            message: error_chain(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let body: String = text.chars().take(ERROR_BODY_LIMIT).collect();
            return Err(ClientError::Refused {
                what,
                status: status.as_u16(),
                body,
            });
        }
        if status == reqwest::StatusCode::NO_CONTENT || bytes.is_empty() {
            return Ok(None);
        }
        let parsed = parse(&bytes).map(Some).map_err(|e| ClientError::BadBody {
            what,
            message: e.to_string(),
        });
        // A job body carries legacy secrets (base64) and envelopes: wipe our copy of it when
        // nobody else holds the buffer.
        if let Ok(mut owned) = bytes.try_into_mut() {
            owned.as_mut().zeroize();
        }
        parsed
    }
}

/// Ids come from the control plane; keep them to one path segment.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// reqwest's Display hides the root cause (a refused connection, a certificate problem).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(path_segment("job-1"), "job-1");
        assert_eq!(path_segment("../x/y"), "%2E%2E%2Fx%2Fy");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = ApiClient::new("https://127.0.0.1:1", Path::new("/nonexistent/ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn transient_errors_are_told_apart_from_refusals() {
        let refused = |status| ClientError::Refused {
            what: "x",
            status,
            body: String::new(),
        };
        assert!(refused(503).is_transient());
        assert!(!refused(400).is_transient());
        assert!(refused(401).is_unauthorized());
    }
}

//! The HTTPS client the `sealscan` CLI uses, and its saved login profile: the control plane's
//! URL and CA file in `profile.toml`, the session token in a 0600 file beside it.
use crate::Code;
use crate::error::{ErrorBody, ErrorInfo};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use reqwest::Method;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the control plane: {0}")]
    Transport(String),
    #[error("refused ({status}, rule {}): {}", .error.rule, .error.message)]
    Api { status: u16, error: Box<ErrorInfo> },
}

impl ClientError {
    /// The rule that refused the request, when the server refused it.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Api { error, .. } => Some(error.rule),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub username: Option<String>,
}

/// `$SEALSCAN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/sealscan`, else `~/.config/sealscan`.
pub fn config_dir() -> Result<PathBuf, ClientError> {
    if let Some(d) = std::env::var_os("SEALSCAN_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(d).join("sealscan"));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config/sealscan"))
        .ok_or_else(|| ClientError::Config("HOME is not set; set SEALSCAN_CONFIG_DIR".into()))
}

fn profile_path(dir: &Path) -> PathBuf {
    dir.join("profile.toml")
}

fn token_path(dir: &Path) -> PathBuf {
    dir.join("session")
}

pub fn load_profile(dir: &Path) -> Result<Option<Profile>, ClientError> {
    let path = profile_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| {
            ClientError::Config(format!("{} is not a valid profile: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClientError::Config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn ensure_dir(dir: &Path) -> Result<(), ClientError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ClientError::Config(format!("cannot create {}: {e}", dir.display())))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), ClientError> {
    let err =
        |e: std::io::Error| ClientError::Config(format!("cannot write {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

pub fn save_profile(dir: &Path, p: &Profile) -> Result<(), ClientError> {
    ensure_dir(dir)?;
    let text = toml::to_string(p).map_err(|e| ClientError::Config(e.to_string()))?;
    write_private(&profile_path(dir), text.as_bytes())
}

pub fn save_token(dir: &Path, token: &str) -> Result<(), ClientError> {
    ensure_dir(dir)?;
    write_private(&token_path(dir), token.as_bytes())
}

pub fn load_token(dir: &Path) -> Result<Option<Zeroizing<String>>, ClientError> {
    match std::fs::read_to_string(token_path(dir)) {
        Ok(t) => Ok(Some(Zeroizing::new(t.trim().to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClientError::Config(format!(
            "cannot read the session file: {e}"
        ))),
    }
}

pub fn delete_token(dir: &Path) -> Result<(), ClientError> {
    match std::fs::remove_file(token_path(dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClientError::Config(format!(
            "cannot remove the session file: {e}"
        ))),
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<Zeroizing<String>>,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// A request without a body.
pub const NO_BODY: Option<&()> = None;

impl Client {
    pub fn new(profile: &Profile) -> Result<Client, ClientError> {
        let url = profile.url.trim_end_matches('/');
        if !url.starts_with("https://") {
            return Err(ClientError::Config(format!(
                "{url:?} is not an https:// URL; the control plane only speaks HTTPS"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(std::time::Duration::from_secs(15));
        if let Some(ca) = &profile.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                ClientError::Config(format!("cannot read the CA file {}: {e}", ca.display()))
            })?;
            // reqwest takes a file without any certificate block as an empty trust list, and
            // every connection then fails as `UnknownIssuer`: name the file instead.
            let blocks = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_default();
            if blocks.is_empty() {
                return Err(ClientError::Config(format!(
                    "the CA file {} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block); give the control plane's certificate, e.g. its tls/cert.pem",
                    ca.display()
                )));
            }
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                ClientError::Config(format!("{} holds no PEM certificate: {e}", ca.display()))
            })?;
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Config(error_chain(&e)))?;
        Ok(Client {
            http,
            base: url.to_string(),
            token: None,
        })
    }

    /// The same client, sending `token` as its bearer credential.
    pub fn with_token(mut self, token: Zeroizing<String>) -> Client {
        self.token = Some(token);
        self
    }

    /// One request: `body` as JSON, the answer parsed as `T` (an empty answer as JSON null,
    /// so `()` takes a 204), a refusal as [`ClientError::Api`] with its [`Code`].
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.as_str());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(error_chain(&e)))?;
        let status = resp.status();
        // The answer may hold a generated password: keep its bytes in a wiped buffer.
        let bytes = Zeroizing::new(
            resp.bytes()
                .await
                .map_err(|e| ClientError::Transport(error_chain(&e)))?
                .to_vec(),
        );
        let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        if status.is_success() {
            return serde_json::from_slice(text).map_err(|e| {
                ClientError::Transport(format!(
                    "the server answered {status} with a body this CLI does not understand: {e}"
                ))
            });
        }
        let body: ErrorBody = serde_json::from_slice(text).map_err(|_| {
            ClientError::Transport(format!(
                "the server answered {status} without a sealscan error body"
            ))
        })?;
        Err(ClientError::Api {
            status: status.as_u16(),
            error: Box::new(body.error),
        })
    }
}

//! TLS to PostgreSQL with rustls, as libpq's `sslmode` and `sslrootcert` say: `disable` (no
//! TLS), `prefer` (the default: TLS when the server offers it, its certificate not checked),
//! `require` (TLS or no connection; the certificate checked against `sslrootcert` when one is
//! named, as libpq does), `verify-ca` (the chain checked against `sslrootcert`) and
//! `verify-full` (the chain and the host name). tokio-postgres parses only the first three, so
//! the two verify modes and `sslrootcert` are taken out of the URL here first.
//!
//! SCRAM runs without channel binding: the binding's hash depends on the server certificate's
//! signature algorithm, and `verify-full` already stops a man in the middle.
use super::error::{Result, StoreError};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// What the URL asked of TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// No certificate check (libpq's `prefer`, and `require` without a root certificate).
    Nothing,
    /// The chain, against `sslrootcert`, but not the name.
    Chain,
    /// The chain and the host name.
    Full,
}

/// The URL without the options tokio-postgres does not parse, and what they asked.
pub struct Split {
    pub rest: String,
    pub mode: Option<String>,
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query or a key=value string.
pub fn split(url: &str) -> Split {
    let mut mode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            mode = Some(value);
            true
        }
        "sslrootcert" => {
            root_cert = Some(PathBuf::from(value));
            true
        }
        _ => false,
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        !take(k, percent_decode(v))
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else if !url.contains("sslmode") && !url.contains("sslrootcert") {
        // Left exactly as given (quoted values with spaces included).
        url.to_string()
    } else {
        url.split_whitespace()
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !take(k.trim(), v.trim_matches('\'').to_string())
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Split {
        rest,
        mode,
        root_cert,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// tokio-postgres's mode and the check for the `sslmode` named (None: libpq's default).
pub fn mode(named: Option<&str>, root_cert: bool) -> Result<(SslMode, Verify)> {
    let on_root = if root_cert {
        Verify::Chain
    } else {
        Verify::Nothing
    };
    Ok(match named {
        None | Some("prefer") => (SslMode::Prefer, on_root),
        Some("disable") => (SslMode::Disable, Verify::Nothing),
        Some("require") => (SslMode::Require, on_root),
        Some("verify-ca") => (SslMode::Require, Verify::Chain),
        Some("verify-full") => (SslMode::Require, Verify::Full),
        Some("allow") => {
            return Err(StoreError::Config(
                "sslmode=allow is not supported: use prefer, require, verify-ca or verify-full"
                    .into(),
            ));
        }
        Some(other) => {
            return Err(StoreError::Config(format!(
                "sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    })
}

/// The rustls client for `verify`, trusting the certificates in `root_cert`.
pub fn client_config(verify: Verify, root_cert: Option<&std::path::Path>) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS to PostgreSQL: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, root_cert) {
        (Verify::Nothing, _) => Arc::new(Lenient {
            chain: None,
            algorithms: provider.signature_verification_algorithms,
        }),
        (Verify::Chain | Verify::Full, None) => {
            return Err(StoreError::Config(
                "sslmode=verify-ca and verify-full need sslrootcert=PATH, the PEM file of the \
                 certificate authority that signed the database server's certificate"
                    .into(),
            ));
        }
        (Verify::Chain | Verify::Full, Some(path)) => {
            let roots = roots(path)?;
            let algorithms = provider.signature_verification_algorithms;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| StoreError::Config(format!("sslrootcert {}: {e}", path.display())))?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(Lenient {
                    chain: Some(webpki),
                    algorithms,
                })
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn roots(path: &std::path::Path) -> Result<RootCertStore> {
    if path.as_os_str() == "system" {
        return Err(StoreError::Config(
            "sslrootcert=system is not supported: name the PEM file of the database's \
             certificate authority"
                .into(),
        ));
    }
    let text = std::fs::read(path).map_err(|e| {
        StoreError::Config(format!("cannot read sslrootcert {}: {e}", path.display()))
    })?;
    let mut store = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut text.as_slice()) {
        let cert = cert.map_err(|e| {
            StoreError::Config(format!("sslrootcert {} is not PEM: {e}", path.display()))
        })?;
        store.add(cert).map_err(|e| {
            StoreError::Config(format!(
                "sslrootcert {} holds a certificate rustls cannot use: {e}",
                path.display()
            ))
        })?;
    }
    if store.is_empty() {
        return Err(StoreError::Config(format!(
            "sslrootcert {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(store)
}

/// The checks libpq makes short of `verify-full`: `prefer` and bare `require` (encrypted, the
/// certificate taken as it comes; `chain` None) and `verify-ca` (the chain must lead to the
/// root, the name may differ). The handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// tokio-postgres's TLS hook, backed by rustls.
#[derive(Clone)]
pub struct Rustls(pub Arc<ClientConfig>);

pub struct Connect {
    config: Arc<ClientConfig>,
    name: std::result::Result<ServerName<'static>, String>,
}

pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> MakeTlsConnect<S> for Rustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        Ok(Connect {
            config: self.0.clone(),
            // A bad name fails the handshake below, naming it.
            name: ServerName::try_from(domain.to_string()).map_err(|_| domain.to_string()),
        })
    }
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = self.name.map_err(|d| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{d:?} is not a host name TLS can check"),
                )
            })?;
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await?;
            Ok(Stream(tls))
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verify_options_are_taken_out_of_urls_and_key_value_strings() {
        let s = split(
            "postgres://u:p@db.example:5432/sealscan?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        );
        assert_eq!(
            s.rest,
            "postgres://u:p@db.example:5432/sealscan?application_name=x"
        );
        assert_eq!(s.mode.as_deref(), Some("verify-full"));
        assert_eq!(s.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let s = split("postgres://u@h/db?sslmode=require");
        assert_eq!(s.rest, "postgres://u@h/db");
        let s = split("host=h user=u sslmode=verify-ca sslrootcert=/ca.pem dbname=d");
        assert_eq!(s.rest, "host=h user=u dbname=d");
        assert_eq!(s.mode.as_deref(), Some("verify-ca"));
    }

    #[test]
    fn modes_follow_libpq_and_bad_ones_are_named() {
        assert_eq!(
            mode(None, false).unwrap(),
            (SslMode::Prefer, Verify::Nothing)
        );
        assert_eq!(
            mode(Some("require"), true).unwrap(),
            (SslMode::Require, Verify::Chain)
        );
        assert_eq!(
            mode(Some("verify-full"), true).unwrap(),
            (SslMode::Require, Verify::Full)
        );
        let e = mode(Some("verify-fool"), false).unwrap_err().to_string();
        assert!(e.contains("verify-fool"), "{e}");
        let e = client_config(Verify::Full, None).unwrap_err().to_string();
        assert!(e.contains("sslrootcert"), "{e}");
        let e = client_config(
            Verify::Full,
            Some(std::path::Path::new("/nonexistent/ca.pem")),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}

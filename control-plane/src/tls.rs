//! The server's TLS identity: operator-supplied PEM files, or a self-signed certificate kept
//! in the data directory and created on first start.
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error(
        "the TLS key {path} is open to others (mode {mode:04o}); chmod 600 it (640 for a trusted group)"
    )]
    KeyTooOpen { path: PathBuf, mode: u32 },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("cannot create the self-signed certificate: {0}")]
    Generate(String),
    #[error("the certificate and key are not usable together: {0}")]
    Config(String),
}

pub struct TlsIdentity {
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate's DER, colon-separated hex.
    pub fingerprint: String,
    pub cert_path: PathBuf,
    /// True when this call created the self-signed certificate.
    pub generated: bool,
}

pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Uses `cert`/`key` when given, else the data directory's self-signed pair, creating it if
/// missing.
pub fn load_or_create(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<TlsIdentity, TlsError> {
    let (cert_path, key_path, generated) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf(), false),
        (None, None) => {
            let (c, k) = self_signed_paths(data_dir);
            let generated = if c.exists() && k.exists() {
                false
            } else {
                generate(&c, &k)?;
                true
            };
            (c, k, generated)
        }
        _ => {
            return Err(TlsError::Config(
                "--cert and --key must be given together".into(),
            ));
        }
    };
    check_key_mode(&key_path)?;
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    let fingerprint = certs
        .first()
        .map(|c| fingerprint(c.as_ref()))
        .ok_or_else(|| TlsError::NoCertificate {
            path: cert_path.clone(),
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        config: Arc::new(config),
        fingerprint,
        cert_path,
        generated,
    })
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| TlsError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    write_file(key_path, ck.key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert_path, ck.cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)
}

/// A private key others can read is a key others have: refused, not served with.
fn check_key_mode(path: &Path) -> Result<(), TlsError> {
    let mode = std::fs::metadata(path)
        .map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o007 != 0 {
        return Err(TlsError::KeyTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .filter_map(|c| c.ok())
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?);
    rustls_pemfile::private_key(&mut pem.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_path_buf(),
        })
}

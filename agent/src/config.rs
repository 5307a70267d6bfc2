//! The agent configuration file (TOML).
//!
//! Every key is known: an unknown one is refused rather than ignored, so a misspelt key never
//! silently falls back to a default. Each error names the key and what it expects.

use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where the agent looks for its configuration unless `--config` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/sealscan/agent.toml";
/// Where the identity key and the result spool live unless `state_dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/sealscan-agent";

pub const DEFAULT_CONCURRENCY: u16 = 8;
pub const MAX_CONCURRENCY: u16 = 256;

/// Bounds of each timeout, in seconds: (default, max). The minimum is always 1.
pub const UNIX_TIMEOUT: (u32, u32) = (30, 600);
pub const WINDOWS_TIMEOUT: (u32, u32) = (30, 600);
pub const VAULT_TIMEOUT: (u32, u32) = (30, 300);

/// Where log records go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    /// The journal when the agent runs under systemd (stderr is the journal stream),
    /// otherwise stderr.
    #[default]
    Auto,
    Journal,
    Stderr,
}

impl fmt::Display for LogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogTarget::Auto => "auto",
            LogTarget::Journal => "journal",
            LogTarget::Stderr => "stderr",
        })
    }
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The control plane's base URL; always https.
    pub control_plane_url: url::Url,
    /// PEM file with the CA certificate(s) that sign the control plane's certificate.
    pub ca_file: PathBuf,
    pub state_dir: PathBuf,
    /// Targets worked on at once.
    pub concurrency: u16,
    pub timeouts: Timeouts,
    pub log: LogTarget,
    /// DNS servers for finding a Kerberos realm's KDCs (SRV records) when a record lists
    /// none; empty: the system's (`/etc/resolv.conf`).
    pub dns_servers: Vec<SocketAddr>,
}

/// Most DNS servers `dns_servers` may list (resolv.conf itself takes three).
pub const MAX_DNS_SERVERS: usize = 8;

/// Bounds on each kind of attempt, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub unix_secs: u32,
    pub windows_secs: u32,
    pub vault_secs: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            unix_secs: UNIX_TIMEOUT.0,
            windows_secs: WINDOWS_TIMEOUT.0,
            vault_secs: VAULT_TIMEOUT.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the configuration {}: {source}. Create it (see packaging/agent.toml) or \
         pass --config PATH",
        path.display()
    )]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the configuration {} is a directory: pass --config with the path of the TOML file",
        path.display()
    )]
    Directory { path: PathBuf },
    #[error(
        "the configuration {} is not UTF-8 text: save it as UTF-8 (TOML files are UTF-8)",
        path.display()
    )]
    NotUtf8 { path: PathBuf },
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: `{key}` {problem}", path.display())]
    Value {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
}

/// The file as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    control_plane_url: Option<String>,
    ca_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    concurrency: Option<toml::Value>,
    /// Taken as values and checked here, so a wrong type is reported in the file's terms
    /// rather than as the deserializer's "expected struct RawTimeouts".
    timeouts: Option<toml::Value>,
    log: Option<toml::Value>,
    dns_servers: Option<toml::Value>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    unix_secs: Option<toml::Value>,
    windows_secs: Option<toml::Value>,
    vault_secs: Option<toml::Value>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let owned = || path.to_path_buf();
        if path.is_dir() {
            return Err(ConfigError::Directory { path: owned() });
        }
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                path: owned(),
                source,
            },
            std::io::ErrorKind::IsADirectory => ConfigError::Directory { path: owned() },
            _ => ConfigError::Read {
                path: owned(),
                source,
            },
        })?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| ConfigError::NotUtf8 { path: owned() })?;
        Self::parse(text, path)
    }

    /// Validates `text`; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let bad = |key: &'static str, problem: String| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            problem,
        };

        let url_text = raw
            .control_plane_url
            .ok_or_else(|| bad("control_plane_url", missing("an https:// URL")))?;
        let control_plane_url =
            parse_https_url(&url_text).map_err(|p| bad("control_plane_url", p))?;

        let ca_file = raw.ca_file.ok_or_else(|| {
            bad(
                "ca_file",
                missing("the path of the PEM file with the control plane's CA certificate"),
            )
        })?;
        check_ca_file(&ca_file).map_err(|p| bad("ca_file", p))?;

        let state_dir = raw
            .state_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        if !state_dir.is_absolute() {
            return Err(bad(
                "state_dir",
                format!(
                    "= {:?} is not an absolute path: expected e.g. {DEFAULT_STATE_DIR:?}",
                    state_dir.display().to_string()
                ),
            ));
        }

        let concurrency = in_range(
            raw.concurrency,
            i64::from(DEFAULT_CONCURRENCY),
            i64::from(MAX_CONCURRENCY),
            "targets at once",
        )
        .map_err(|p| bad("concurrency", p))?;
        let raw_timeouts = match raw.timeouts {
            None => RawTimeouts::default(),
            Some(toml::Value::Table(table)) => {
                RawTimeouts::deserialize(table).map_err(|e| ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: format!("[timeouts]: {}", e.to_string().trim_end()),
                })?
            }
            Some(other) => {
                return Err(bad(
                    "timeouts",
                    format!(
                        "= {other} is not a table (it is of type {}): expected a [timeouts] section with \
                         unix_secs, windows_secs and vault_secs",
                        other.type_str()
                    ),
                ));
            }
        };
        let timeouts = Timeouts {
            unix_secs: timeout(raw_timeouts.unix_secs, UNIX_TIMEOUT)
                .map_err(|p| bad("timeouts.unix_secs", p))?,
            windows_secs: timeout(raw_timeouts.windows_secs, WINDOWS_TIMEOUT)
                .map_err(|p| bad("timeouts.windows_secs", p))?,
            vault_secs: timeout(raw_timeouts.vault_secs, VAULT_TIMEOUT)
                .map_err(|p| bad("timeouts.vault_secs", p))?,
        };
        let log = log_target(raw.log).map_err(|p| bad("log", p))?;
        let dns_servers = dns_servers(raw.dns_servers).map_err(|p| bad("dns_servers", p))?;

        Ok(Self {
            control_plane_url,
            ca_file,
            state_dir,
            concurrency: u16::try_from(concurrency).unwrap_or(DEFAULT_CONCURRENCY),
            timeouts,
            log,
            dns_servers,
        })
    }

    /// One line for `check-config` and the start-up log.
    pub fn summary(&self) -> String {
        format!(
            "control plane {}, CA {}, state {}, concurrency {}, timeouts unix {}s / windows {}s \
             / vault {}s, log {}, DNS for KDC discovery {}",
            self.control_plane_url,
            self.ca_file.display(),
            self.state_dir.display(),
            self.concurrency,
            self.timeouts.unix_secs,
            self.timeouts.windows_secs,
            self.timeouts.vault_secs,
            self.log,
            if self.dns_servers.is_empty() {
                "the system's".to_string()
            } else {
                self.dns_servers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        )
    }
}

fn missing(expected: &str) -> String {
    format!("is missing: expected {expected}")
}

/// Integers are taken as TOML values so a wrong type is reported in the same words as a
/// wrong number, rather than as a deserializer's "expected i64".
fn in_range(value: Option<toml::Value>, default: i64, max: i64, unit: &str) -> Result<i64, String> {
    let expected = format!("expected an integer from 1 to {max} ({unit}; default {default})");
    match value {
        None => Ok(default),
        Some(toml::Value::Integer(v)) if (1..=max).contains(&v) => Ok(v),
        Some(toml::Value::Integer(v)) => Err(format!("= {v} is out of range: {expected}")),
        Some(other) => Err(format!(
            "= {other} is a {}, not a whole number: {expected}",
            other.type_str()
        )),
    }
}

fn log_target(value: Option<toml::Value>) -> Result<LogTarget, String> {
    const EXPECTED: &str = "expected one of `auto`, `journal`, `stderr`";
    match value {
        None => Ok(LogTarget::default()),
        Some(toml::Value::String(s)) => match s.as_str() {
            "auto" => Ok(LogTarget::Auto),
            "journal" => Ok(LogTarget::Journal),
            "stderr" => Ok(LogTarget::Stderr),
            _ => Err(format!("= {s:?} is not a log target: {EXPECTED}")),
        },
        Some(other) => Err(format!(
            "= {other} is not a string (it is of type {}): {EXPECTED}",
            other.type_str()
        )),
    }
}

/// `dns_servers = ["192.0.2.53", "192.0.2.54:5353", "[2001:db8::53]:53"]`: addresses, with
/// port 53 where none is given. Names are refused: they would need DNS to find DNS.
fn dns_servers(value: Option<toml::Value>) -> Result<Vec<SocketAddr>, String> {
    const EXPECTED: &str = "expected a list of DNS server addresses, e.g. [\"192.0.2.53\", \
                            \"192.0.2.54:5353\"] (port 53 unless given), or no key for the \
                            system's /etc/resolv.conf";
    let items = match value {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "= {other} is not a list (it is of type {}): {EXPECTED}",
                other.type_str()
            ));
        }
    };
    if items.len() > MAX_DNS_SERVERS {
        return Err(format!(
            "lists {} servers, more than {MAX_DNS_SERVERS}: {EXPECTED}",
            items.len()
        ));
    }
    items
        .into_iter()
        .map(|item| match item {
            toml::Value::String(s) => s
                .parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    format!("has {s:?}, which is not an IP address or address:port: {EXPECTED}")
                }),
            other => Err(format!(
                "has {other}, which is not a string (it is of type {}): {EXPECTED}",
                other.type_str()
            )),
        })
        .collect()
}

fn timeout(value: Option<toml::Value>, (default, max): (u32, u32)) -> Result<u32, String> {
    let secs = in_range(value, i64::from(default), i64::from(max), "seconds")?;
    Ok(u32::try_from(secs).unwrap_or(default))
}

fn parse_https_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| {
        format!(
            "= {text:?} is not a URL ({e}): expected e.g. \"https://sealscan.example.net:8443\""
        )
    })?;
    if url.scheme() != "https" {
        return Err(format!(
            "= {text:?} uses {}://: only https:// is allowed, so the control plane is always \
             authenticated by its certificate",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("= {text:?} has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Shown without its user name and password, but with everything else the operator
        // wrote (scheme, host, port, path), so the line can be found in the file.
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(format!(
            "= \"{shown}\" (user name and password hidden) carries a user name or password: \
             the agent authenticates with its enrollment credential, so remove them"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "= {text:?} has a query or fragment: expected only scheme, host, port and path"
        ));
    }
    Ok(url)
}

fn check_ca_file(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!(
            "= \"{shown}\" is not an absolute path: expected e.g. \"/etc/sealscan/ca.pem\""
        ));
    }
    let text = std::fs::read(path).map_err(|e| format!("= \"{shown}\" cannot be read: {e}"))?;
    let mut certificates = 0;
    for item in rustls_pemfile::certs(&mut text.as_slice()) {
        item.map_err(|e| format!("= \"{shown}\" is not valid PEM: {e}"))?;
        certificates += 1;
    }
    if certificates == 0 {
        return Err(format!(
            "= \"{shown}\" holds no PEM certificate: expected a file with at least one \
             -----BEGIN CERTIFICATE----- block"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(text: &str) -> Result<Vec<SocketAddr>, String> {
        let table: toml::Table = toml::from_str(text).unwrap();
        dns_servers(table.get("dns_servers").cloned())
    }

    #[test]
    fn dns_servers_take_addresses_with_port_53_by_default() {
        assert_eq!(dns("").unwrap(), Vec::<SocketAddr>::new());
        assert_eq!(
            dns(r#"dns_servers = ["127.0.0.70", "192.0.2.1:5353", "[::1]:53", "::1"]"#).unwrap(),
            [
                "127.0.0.70:53".parse().unwrap(),
                "192.0.2.1:5353".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "[::1]:53".parse::<SocketAddr>().unwrap(),
            ]
        );
    }

    #[test]
    fn bad_dns_servers_are_named() {
        let e = dns(r#"dns_servers = ["dc1.corp.example"]"#).unwrap_err();
        assert!(
            e.contains("\"dc1.corp.example\", which is not an IP address"),
            "{e}"
        );
        let e = dns(r#"dns_servers = "127.0.0.70""#).unwrap_err();
        assert!(e.contains("is not a list"), "{e}");
        let e = dns("dns_servers = [53]").unwrap_err();
        assert!(e.contains("53, which is not a string"), "{e}");
        let e = dns(r#"dns_servers = ["127.0.0.70:99999"]"#).unwrap_err();
        assert!(e.contains("not an IP address or address:port"), "{e}");
        let nine = ["\"192.0.2.1\""; 9].join(",");
        let e = dns(&format!("dns_servers = [{nine}]")).unwrap_err();
        assert!(e.contains("more than 8"), "{e}");
    }
}

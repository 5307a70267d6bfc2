//! What the agent hands the connector: the vault record, the secret reference and the job.

use std::fmt;
use std::time::Duration;

use sealscan_protocols::secret::SecretBytes;

/// Which Secret Server web service to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Rest,
    Soap,
    /// REST, falling back to SOAP when the server has no REST API (404 or an HTML page).
    #[default]
    Auto,
}

impl std::str::FromStr for Api {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rest" => Ok(Api::Rest),
            "soap" => Ok(Api::Soap),
            "auto" => Ok(Api::Auto),
            other => Err(format!(
                "unknown vault api {other:?} (expected rest, soap or auto)"
            )),
        }
    }
}

/// TLS settings of a vault record. Verification is on unless the record turns it off.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub verify: bool,
    /// PEM certificates to trust instead of the public roots (an internal CA).
    pub ca_bundle_pem: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            verify: true,
            ca_bundle_pem: None,
        }
    }
}

/// A vault record as the agent holds it once its sealed password is open.
#[derive(Clone, Debug)]
pub struct VaultRecord {
    /// The application root, e.g. `https://ss.example/SecretServer`.
    pub url: String,
    pub username: String,
    pub password: SecretBytes,
    pub domain: Option<String>,
    /// Only meaningful to the SOAP `Authenticate` call (empty for installed Secret Server).
    pub organization: Option<String>,
    pub tls: TlsSettings,
    pub api: Api,
}

/// Which secret to fetch: by its exact name (optionally in a folder, given by id, by name or
/// by `\`-path, when the name alone is not unique), or by Secret Server's id of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretRef {
    Named {
        name: String,
        folder: Option<String>,
    },
    Id(i64),
}

impl SecretRef {
    pub fn named(name: impl Into<String>) -> Self {
        SecretRef::Named {
            name: name.into(),
            folder: None,
        }
    }

    pub fn in_folder(name: impl Into<String>, folder: impl Into<String>) -> Self {
        SecretRef::Named {
            name: name.into(),
            folder: Some(folder.into()),
        }
    }

    pub fn by_id(id: i64) -> Self {
        SecretRef::Id(id)
    }

    /// A secret path as Secret Server writes it, `\Folder\Sub\Name` (`/` works too): the
    /// name in the folder of that exact path. `None` when the path names no secret.
    pub fn by_path(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
        let (name, folders) = parts.split_last()?;
        Some(SecretRef::Named {
            name: (*name).to_string(),
            folder: (!folders.is_empty()).then(|| folders.iter().flat_map(|f| ["\\", f]).collect()),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Named {
                name,
                folder: Some(folder),
            } => write!(f, "{name:?} in folder {folder:?}"),
            SecretRef::Named { name, folder: None } => write!(f, "{name:?}"),
            SecretRef::Id(id) => write!(f, "id {id}"),
        }
    }
}

/// Secret Server compares secret and folder names without regard to case, so an exact-name
/// match here does too (and two names differing only in case are ambiguous, as they are there).
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Names the job in the audit comment a comment-required secret gets.
#[derive(Clone, Debug)]
pub struct JobLabel {
    pub job_id: String,
    pub scan_title: Option<String>,
}

impl JobLabel {
    pub fn new(job_id: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            scan_title: None,
        }
    }

    /// The comment left in Secret Server's audit log, e.g. `sealscan scan "weekly" job 42`.
    pub fn comment(&self) -> String {
        match &self.scan_title {
            Some(t) => format!("sealscan scan {:?} job {}", t, self.job_id),
            None => format!("sealscan scan job {}", self.job_id),
        }
    }
}

/// How hard the connector tries before it reports a failure.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Attempts per request on 5xx answers, resets and timeouts (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each later one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Largest response body accepted.
    pub max_body: usize,
    /// Most search pages read for one lookup.
    pub max_pages: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
            max_pages: 200,
        }
    }
}

//! The identity data the control plane holds: roles, users, the subscription and its
//! security options.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manager,
    UnitManager,
    Scanner,
    Reader,
    UserAdministrator,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Manager,
        Role::UnitManager,
        Role::Scanner,
        Role::Reader,
        Role::UserAdministrator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::UnitManager => "unit_manager",
            Role::Scanner => "scanner",
            Role::Reader => "reader",
            Role::UserAdministrator => "user_administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of manager, unit_manager, scanner, reader, user_administrator"
                )
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Standard,
    ExpressLite,
}

impl Edition {
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Standard => "standard",
            Edition::ExpressLite => "express_lite",
        }
    }
}

impl FromStr for Edition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "standard" => Ok(Edition::Standard),
            "express_lite" => Ok(Edition::ExpressLite),
            _ => Err(format!(
                "unknown edition {s:?}; expected standard or express-lite"
            )),
        }
    }
}

/// Who accepted something, and when; recorded once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub by_user_id: Option<i64>,
    pub by: String,
    pub at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskStatus {
    #[default]
    NotAnswered,
    Accepted,
    Declined,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RiskAgreement {
    pub status: RiskStatus,
    pub by: Option<String>,
    pub at: Option<i64>,
}

pub const SESSION_TIMEOUT_MIN: u32 = 10;
pub const SESSION_TIMEOUT_MAX: u32 = 240;
pub const PASSWORD_MIN_LENGTH_FLOOR: u32 = 8;
pub const PASSWORD_MAX_LENGTH: u32 = 256;

fn on() -> bool {
    true
}

/// The seed's complexity rules for chosen passwords, each an option a Manager selects. The
/// length bounds are not among them: the minimum is its own option and never below 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordRules {
    pub lowercase: bool,
    pub uppercase: bool,
    pub digit: bool,
    pub special: bool,
    pub no_three_identical: bool,
    pub no_three_sequential: bool,
    /// Neither the user's first nor last name.
    pub no_names: bool,
}

impl PasswordRules {
    pub const ALL: PasswordRules = PasswordRules {
        lowercase: true,
        uppercase: true,
        digit: true,
        special: true,
        no_three_identical: true,
        no_three_sequential: true,
        no_names: true,
    };
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self::ALL
    }
}

/// Every security option of the subscription (Managers only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySettings {
    pub allowlist_enabled: bool,
    pub allowlist: Vec<String>,
    /// 0 means passwords never expire.
    pub password_expiry_months: u32,
    pub expiry_notice_days: u32,
    /// How often the pre-expiry email repeats while the notice window is open; 0 sends it once.
    pub expiry_notice_repeat_days: u32,
    pub change_expired_at_login: bool,
    pub user_defined_passwords: bool,
    pub min_password_length: u32,
    /// Which complexity rules chosen passwords must meet, each its own option (all on until a
    /// Manager turns one off; subscriptions saved before the options existed read as all on).
    #[serde(default)]
    pub password_rules: PasswordRules,
    /// Where the pre-expiry notice goes: the sign-in answer and `whoami` (what the UI shows),
    /// an email, or both.
    #[serde(default = "on")]
    pub expiry_notice_ui: bool,
    #[serde(default = "on")]
    pub expiry_notice_email: bool,
    pub force_change_first_login: bool,
    /// 0 means accounts are never locked for failed logins.
    pub lockout_failed_logins: u32,
    pub two_factor_required: bool,
    pub session_timeout_minutes: u32,
    pub session_timeout_by_role: BTreeMap<Role, u32>,
    pub external_ids_editable: bool,
    pub never_expire_risk: RiskAgreement,
    pub new_data_security_model: Option<Acceptance>,
}

impl SecuritySettings {
    pub fn for_edition(edition: Edition, now: i64) -> Self {
        let lite = edition == Edition::ExpressLite;
        SecuritySettings {
            allowlist_enabled: false,
            allowlist: Vec::new(),
            password_expiry_months: 0,
            expiry_notice_days: 7,
            expiry_notice_repeat_days: 1,
            change_expired_at_login: true,
            user_defined_passwords: lite,
            min_password_length: PASSWORD_MIN_LENGTH_FLOOR,
            password_rules: PasswordRules::default(),
            expiry_notice_ui: true,
            expiry_notice_email: true,
            force_change_first_login: lite,
            lockout_failed_logins: 0,
            two_factor_required: false,
            session_timeout_minutes: 60,
            session_timeout_by_role: BTreeMap::new(),
            external_ids_editable: false,
            never_expire_risk: RiskAgreement::default(),
            new_data_security_model: lite.then(|| Acceptance {
                by_user_id: None,
                by: "express_lite edition default".to_string(),
                at: now,
            }),
        }
    }
}

/// Switches only the control plane's operator can flip (from `sealscan-control`).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OperatorFeatures {
    pub api_never_expire: bool,
    /// The New Credential Security Model may be activated (by the Manager Primary Contact).
    #[serde(default)]
    pub ncsm: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Subscription {
    pub name: String,
    pub edition: Edition,
    pub created_at: i64,
    pub primary_contact_id: Option<i64>,
    pub security: SecuritySettings,
    pub features: OperatorFeatures,
}

/// A user row. The password hash and TOTP secret stay inside the server.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: Role,
    pub api_only: bool,
    pub external_id: Option<String>,
    pub can_edit_external_ids: bool,
    /// A Manager's grant letting a Unit Manager change records and vaults.
    pub can_edit_records: bool,
    pub password_hash: String,
    pub password_changed_at: i64,
    pub must_change_password: bool,
    pub never_expire: bool,
    pub failed_logins: u32,
    pub locked: bool,
    pub session_timeout_minutes: Option<u32>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub last_expiry_notice_at: Option<i64>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password_hash", &"[REDACTED]")
            .field("totp_secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Fields of a new user as the store receives them.
pub struct NewUser {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: Role,
    pub api_only: bool,
    pub external_id: Option<String>,
    pub password_hash: String,
    pub must_change_password: bool,
}

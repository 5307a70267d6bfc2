//! The identity data the control plane holds: roles, users, the subscription and its
//! security options.
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

pub use sealscan_api::users::Person;
pub use sealscan_api::{Edition, Role};

pub const SESSION_TIMEOUT_MIN: u32 = 10;
pub const SESSION_TIMEOUT_MAX: u32 = 240;
pub const PASSWORD_MIN_LENGTH_FLOOR: u32 = 8;
pub const PASSWORD_MAX_LENGTH: u32 = 256;

pub use sealscan_api::security::{
    Acceptance, OperatorFeatures, PasswordRules, RiskAgreement, RiskStatus, SecuritySettings,
};

/// The options a new subscription starts with: Express Lite chooses its own passwords.
pub fn security_for_edition(edition: Edition, now: i64) -> SecuritySettings {
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
    pub person: Person,
    pub role: Role,
    pub api_only: bool,
    pub external_id: Option<String>,
    pub password_hash: String,
    pub must_change_password: bool,
}

//! The subscription's security options (`/security`) and what changes them.
use crate::role::{Edition, Role};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who accepted something, and when; recorded once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Acceptance {
    pub by_user_id: Option<i64>,
    pub by: String,
    pub at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskStatus {
    #[default]
    NotAnswered,
    Accepted,
    Declined,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RiskAgreement {
    pub status: RiskStatus,
    pub by: Option<String>,
    pub at: Option<i64>,
}

fn on() -> bool {
    true
}

/// The seed's complexity rules for chosen passwords, each an option a Manager selects. The
/// length bounds are not among them: the minimum is its own option and never below 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// Switches only the control plane's operator can flip (from `sealscan-control`).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct OperatorFeatures {
    pub api_never_expire: bool,
    /// The New Credential Security Model may be activated (by the Manager Primary Contact).
    #[serde(default)]
    pub ncsm: bool,
}

/// `GET`/`PUT /security`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityView {
    pub edition: Edition,
    pub security: SecuritySettings,
    pub operator_features: OperatorFeatures,
    pub your_ip: String,
}

/// Options changed with PUT /security; absent fields stay as they are. The allowlist, the
/// external-ID option, the risk agreement and the NDSM have their own endpoints.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_expiry_months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_notice_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_notice_repeat_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_expired_at_login: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined_passwords: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_password_length: Option<u32>,
    /// The complexity rules to change; absent rules stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_rules: Option<PasswordRulesPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_notice_ui: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_notice_email: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_change_first_login: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_failed_logins: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_minutes: Option<u32>,
    /// A role's value; null removes it (the global value applies again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_by_role: Option<BTreeMap<Role, Option<u32>>>,
}

impl SecurityPatch {
    /// Whether the patch changes nothing (every field absent).
    pub fn is_empty(&self) -> bool {
        all_absent(self)
    }
}

fn all_absent(p: &SecurityPatch) -> bool {
    p.password_expiry_months.is_none()
        && p.expiry_notice_days.is_none()
        && p.expiry_notice_repeat_days.is_none()
        && p.change_expired_at_login.is_none()
        && p.user_defined_passwords.is_none()
        && p.min_password_length.is_none()
        && p.password_rules.is_none()
        && p.expiry_notice_ui.is_none()
        && p.expiry_notice_email.is_none()
        && p.force_change_first_login.is_none()
        && p.lockout_failed_logins.is_none()
        && p.two_factor_required.is_none()
        && p.session_timeout_minutes.is_none()
        && p.session_timeout_by_role.is_none()
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRulesPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uppercase: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_three_identical: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_three_sequential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_names: Option<bool>,
}

/// `GET`/`PUT /security/allowlist`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistView {
    pub enabled: bool,
    pub entries: Vec<String>,
    pub your_ip: String,
    pub you_are_allowed: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistRequest {
    pub enabled: bool,
    pub entries: Vec<String>,
}

/// `PUT /security/external-ids`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToggleRequest {
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalIdsView {
    pub external_ids_editable: bool,
}

/// `POST /security/never-expire-agreement`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementRequest {
    pub accept: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementView {
    pub agreement: RiskAgreement,
    /// Users whose never-expire flag a refusal cleared.
    pub cleared_users: usize,
}

/// `PUT /security/new-data-security-model`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NdsmRequest {
    pub accepted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NdsmView {
    pub new_data_security_model: Acceptance,
}

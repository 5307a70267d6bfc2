//! Signing in and out (`/session`), and two-factor enrolment (`/2fa`).
use crate::role::Edition;
use crate::users::UserView;
use schemars::JsonSchema;
use sealscan_protocols::secret::Password;
use serde::{Deserialize, Serialize};

/// `POST /session`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schemars(with = "String")]
    pub password: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    /// Sets a new password during the login when one is due (first login, expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub new_password: Option<Password>,
}

/// What a session may do: everything, or only enrol a second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SessionScope {
    #[serde(rename = "full")]
    Full,
    #[serde(rename = "enroll_2fa")]
    EnrollTwoFactor,
}

/// The pre-expiry notice, when the password expires soon.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpiryNotice {
    pub expires_at: String,
    pub days_left: i64,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginResponse {
    pub token: String,
    pub scope: SessionScope,
    pub idle_timeout_minutes: u32,
    pub user: UserView,
    pub password_expiry_notice: Option<ExpiryNotice>,
    /// Present once when the control plane generated the user's new password.
    #[schemars(with = "Option<String>")]
    pub generated_password: Option<Password>,
}

/// `GET /session`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoAmI {
    pub user: UserView,
    pub scope: SessionScope,
    pub idle_timeout_minutes: u32,
    pub client_ip: String,
    pub subscription: String,
    pub edition: Edition,
    pub password_expiry_notice: Option<ExpiryNotice>,
}

/// `POST /2fa/enroll`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub secret_base32: String,
    pub provisioning_uri: String,
    pub message: String,
}

/// `POST /2fa/confirm`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub code: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmed {
    pub two_factor_enabled: bool,
    pub message: String,
}

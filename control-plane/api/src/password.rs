//! A user's own password (`/password/...`): check, change, forgotten-password reset.
use crate::error::Violation;
use schemars::JsonSchema;
use sealscan_protocols::secret::Password;
use serde::{Deserialize, Serialize};

/// `POST /password/check`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    #[schemars(with = "String")]
    pub password: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckResponse {
    pub acceptable: bool,
    pub min_length: u32,
    pub violations: Vec<Violation>,
}

/// `POST /password/change`: without `new_password` the control plane generates one (when
/// user-defined passwords are off).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    #[schemars(with = "String")]
    pub current_password: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub new_password: Option<Password>,
}

/// `POST /password/change` and `/password/reset`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeResponse {
    pub changed: bool,
    #[schemars(with = "Option<String>")]
    pub generated_password: Option<Password>,
}

/// `POST /password/forgot`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    pub username: String,
}

/// An answer that is only a sentence for people (`/password/forgot`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub message: String,
}

/// `POST /password/reset`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schemars(with = "String")]
    pub token: Password,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub new_password: Option<Password>,
}

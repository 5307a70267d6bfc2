//! The body of every refusal: `{"error": {"rule", "message", "details"?}}`.
use crate::code::Code;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorInfo {
    /// The rule that refused the request.
    pub rule: Code,
    /// For people; clients decide on `rule` and `details`, never on this text.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
}

/// What a few refusals add to their message, each field only where it applies.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetails {
    /// A password refused by the complexity rules: every rule it breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<Violation>>,
    /// An allowlist that would shut out the caller: the caller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub your_ip: Option<String>,
    /// An address another record already holds: the address and that record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// An expired password: whether it may be changed in the sign-in (`new_password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_at_login: Option<bool>,
}

/// One complexity rule a password breaks.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    pub rule: Code,
    pub message: String,
}

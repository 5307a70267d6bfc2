//! Scanner appliances as Managers see them (`/appliances`): enrolment tokens, approval.
//! What the appliances themselves send and receive is in `sealscan_protocols::appliance`.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceState {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

impl ApplianceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplianceState::Pending => "pending",
            ApplianceState::Approved => "approved",
            ApplianceState::Rejected => "rejected",
            ApplianceState::Revoked => "revoked",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ApplianceState::Pending,
            "approved" => ApplianceState::Approved,
            "rejected" => ApplianceState::Rejected,
            "revoked" => ApplianceState::Revoked,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplianceView {
    pub id: String,
    pub name: String,
    pub state: ApplianceState,
    pub fingerprint: String,
    /// Standard base64 of the X25519 public key: what clients seal record secrets to.
    pub public_key: String,
    pub key_id: String,
    pub enrolled_at: i64,
    pub enrolled_ip: Option<String>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub credential_collected: bool,
    pub last_seen_at: Option<i64>,
}

/// `POST /appliances/tokens`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreated {
    /// Shown once; only its hash is kept.
    pub token: String,
    pub label: String,
    pub expires_at: i64,
}

/// `GET /appliances/tokens`: every token, used or not (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentToken {
    pub label: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub appliance_id: Option<String>,
}

/// `POST /appliances/{id}/approve|reject|revoke`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decided {
    pub appliance: ApplianceView,
    /// Envelopes an already-approved appliance must still rewrap for this one.
    pub rewrap_pending: usize,
}

/// `POST /appliance/rewrap`: how many rewrapped envelopes were stored.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RewrapStored {
    pub stored: usize,
    /// Envelopes the new appliance still lacks.
    pub remaining: usize,
}

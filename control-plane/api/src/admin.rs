//! What Managers read: the email outbox (`/outbox`) and the audit log (`/audit`).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// What the action changed; its shape depends on the action.
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboxEmail {
    pub id: i64,
    pub at: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub kind: String,
    pub user_id: Option<i64>,
    pub sent_at: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

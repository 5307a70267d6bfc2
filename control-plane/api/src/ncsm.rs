//! The New Credential Security Model (`/ncsm`): its state, what is left to migrate, and the
//! appliances' keys that clients seal new secrets to.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NcsmStateName {
    Off,
    Migrating,
    Pending,
    Complete,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NcsmStatus {
    /// The operator allows NCSM on this control plane.
    pub enabled: bool,
    pub state: NcsmStateName,
    /// Migration complete: every secret is sealed and plaintext is refused.
    pub in_force: bool,
    pub activated_by: Option<String>,
    pub activated_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub to_migrate: ToMigrate,
    pub migrated: i64,
    pub total: i64,
    pub pending: Vec<PendingMigration>,
    pub running: bool,
    pub approved_appliances: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToMigrate {
    pub records: i64,
    pub vaults: usize,
    pub total: i64,
}

/// A record or vault the migration could not seal without its owner's help.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingMigration {
    /// "unix", "windows" or "vault".
    pub kind: String,
    pub id: String,
    pub title: String,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    pub recipients: Vec<Recipient>,
}

/// An approved appliance's key, to seal new secrets to.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub appliance_id: String,
    pub name: String,
    /// Standard base64 of the X25519 public key.
    pub public_key: String,
    pub key_id: String,
    pub fingerprint: String,
}

//! The signed-records part of an appliance job: read from the same JSON body as
//! [`crate::appliance::Job`], beside it, so that the job type keeps the shape control planes
//! that predate signing build (and they keep working: every field here defaults to absent).
//!
//! ```json
//! { "job_id": "...", ...,
//!   "signing": { "root_declaration": "sgn1:...", "trust_list": "sgn1:...",
//!                "revocations": [], "policy": "sgn1:...", "root_changes": [] },
//!   "records": [ { "record_id": "r-...", ..., "statement": "sgn1:..." } ] }
//! ```

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct JobSignatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<JobSigning>,
    /// One entry per job record; only `record_id` and `statement` are read here.
    #[serde(default)]
    pub records: Vec<RecordSignature>,
}

/// What lets the appliance check records: the root's declaration, the current trust list,
/// standalone revocations, the current policy, and root changes since the pinned root (oldest
/// first). Each in the `sgn1:` text form. Unknown JSON keys are ignored here (a claim that
/// failed to parse would stall the appliance); the statements themselves refuse unknown fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct JobSigning {
    pub root_declaration: String,
    pub trust_list: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_changes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RecordSignature {
    pub record_id: String,
    /// The record's signed statement, `sgn1:` text form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

impl JobSignatures {
    pub fn statement_for(&self, record_id: &str) -> Option<&str> {
        self.records
            .iter()
            .find(|r| r.record_id == record_id)
            .and_then(|r| r.statement.as_deref())
    }
}

/// The signed part of a rewrap request (`GET /api/v1/appliance/rewrap`), read beside
/// [`crate::appliance::RewrapWork`]: an appliance with a pinned root adds a recipient only for
/// an appliance a certified Manager approved by signature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RewrapSignatures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<JobSigning>,
    /// The new appliance's signed approval, `sgn1:` text form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

//! Scans (`/scans`): what a Scanner asks for, the jobs it becomes, and their results.
use schemars::JsonSchema;
use sealscan_protocols::results::{LoginKind, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Ports to log in at instead of 22 and 445.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanPorts {
    #[serde(default)]
    pub unix: Option<u16>,
    #[serde(default)]
    pub windows: Option<u16>,
}

impl ScanPorts {
    pub fn for_kind(&self, kind: LoginKind) -> Option<u16> {
        match kind {
            LoginKind::Unix => self.unix,
            LoginKind::Windows => self.windows,
        }
    }
}

/// `POST /scans`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub targets: Vec<String>,
    /// "unix", "windows" or "both".
    pub kinds: String,
    /// An approved appliance's id; any approved appliance when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliance: Option<String>,
    /// Log in at these ports instead of 22 (unix) and 445 (windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<ScanPorts>,
}

/// Why a queued job is held back.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiting {
    pub cause: WaitCause,
    pub reason: String,
    /// The open targets held back, each with the record that holds it back.
    pub targets: Vec<WaitingTarget>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitCause {
    /// A record's secret is not yet sealed to the appliance that would claim the job.
    Rewrap,
    /// No approved appliance can claim the job.
    Appliance,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitingTarget {
    pub target_id: String,
    pub host: String,
    pub kind: LoginKind,
    pub record_id: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobView {
    pub id: String,
    pub state: String,
    pub claimed_by: Option<String>,
    pub claims: i64,
    pub lease_expires_at: Option<i64>,
    pub targets_total: usize,
    pub targets_done: usize,
    pub completed_at: Option<i64>,
    /// Why a queued job is held back (e.g. waiting for rewrap), when something holds it.
    pub waiting: Option<Waiting>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    Queued,
    Running,
    Done,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanView {
    pub id: String,
    pub title: String,
    pub created_by: String,
    pub created_at: i64,
    pub targets: Vec<String>,
    pub kinds: String,
    pub appliance: Option<String>,
    pub ports: ScanPorts,
    pub state: ScanState,
    pub targets_total: usize,
    pub targets_done: usize,
    pub completed_at: Option<i64>,
    /// The first held-back job's reason, so a list shows why a scan does not start.
    pub waiting: Option<String>,
    pub jobs: Vec<JobView>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultView {
    pub host: String,
    pub target_id: String,
    pub kind: LoginKind,
    pub status: Status,
    pub qid: u32,
    pub cause: Option<String>,
    pub step: Option<String>,
    pub login_id: String,
    pub method: String,
    pub facts: BTreeMap<String, String>,
    pub record_id: Option<String>,
    pub appliance_id: String,
    pub job_id: String,
    pub at: i64,
}

//! One job's record-signature check as the scan path uses it: built once per job from the
//! pinned root's [`Gate`] and the job's [`JobSignatures`], then asked for each target.

use super::check::{Gate, JobTrust, Verified};
use sealscan_protocols::appliance::{JobRecord, JobVault, RecordLogin};
use sealscan_protocols::signing::{JobSignatures, Refusal};
use std::net::IpAddr;
use std::path::Path;

/// Unix seconds now (the certificates' validity is checked against the appliance's clock).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A pinned root's check for one job, built once from the root's [`Gate`] and the job's
/// signatures; [`SignatureGate::check`] asks it for each target.
pub struct JobSigningCheck {
    gate: Gate,
    /// The job's trust material, or why it was refused (then every target is refused).
    trust: Result<JobTrust, Refusal>,
    signatures: JobSignatures,
}

/// What a job's targets are checked against.
pub enum SignatureGate {
    /// No root pinned: records are used as before signing existed.
    Unpinned,
    /// A root is pinned: every target's record must pass the check.
    Pinned(Box<JobSigningCheck>),
    /// The state directory's signing files cannot be read: every target is refused (fail
    /// closed, not "no root").
    Unreadable(String),
}

impl SignatureGate {
    pub fn for_job(state_dir: &Path, signatures: JobSignatures) -> Self {
        match Gate::open(state_dir) {
            Ok(None) => SignatureGate::Unpinned,
            Ok(Some(gate)) => {
                let trust = gate.prepare(signatures.signing.as_ref(), now());
                SignatureGate::Pinned(Box::new(JobSigningCheck {
                    gate,
                    trust,
                    signatures,
                }))
            }
            Err(e) => SignatureGate::Unreadable(e.to_string()),
        }
    }

    /// Checks `record` for a login at `ip`:`port`; `vaults` are the job's vaults.
    /// `Ok(None)` when unpinned, `Ok(Some(..))` for a record that passed.
    pub fn check(
        &self,
        record: &JobRecord,
        vaults: &[&JobVault],
        ip: IpAddr,
        port: u16,
    ) -> Result<Option<Verified>, Refusal> {
        let job = match self {
            SignatureGate::Unpinned => return Ok(None),
            SignatureGate::Pinned(job) => job,
            SignatureGate::Unreadable(why) => {
                log::error!("signing state unreadable, refusing the target: {why}");
                return Err(Refusal::Unsigned {
                    what: "the appliance's signing state cannot be read",
                });
            }
        };
        let trust = job.trust.as_ref().map_err(Clone::clone)?;
        let vault = match &record.login {
            RecordLogin::Vault { vault_id, .. } => {
                vaults.iter().find(|v| v.vault_id == *vault_id).copied()
            }
            RecordLogin::Basic { .. } => None,
        };
        job.gate
            .check(trust, &job.signatures, record, vault, ip, port, now())
            .map(Some)
    }
}

/// Whether the rewrap the control plane asks for may go ahead: always on an appliance without
/// a pinned root; otherwise only for an appliance with a signed approval (the reason when not).
pub fn rewrap_allowed(
    state_dir: &Path,
    signatures: &sealscan_protocols::signing::RewrapSignatures,
    appliance_id: &str,
    public_key: &[u8; 32],
) -> Result<(), String> {
    match Gate::open(state_dir) {
        Ok(None) => Ok(()),
        Ok(Some(gate)) => gate
            .approve_rewrap(
                signatures.signing.as_ref(),
                signatures.approval.as_deref(),
                appliance_id,
                public_key,
                now(),
            )
            .map_err(|r| format!("record signature: {r}")),
        Err(e) => Err(format!("the appliance's signing state cannot be read: {e}")),
    }
}

//! Signed records on the appliance (docs/signed-records.md): the pinned root and what the
//! appliance has accepted ([`store`]), and the check of each job record against its signed
//! statement before anything is opened or connected to ([`check`]).

pub mod check;
pub mod job;
pub mod store;

pub use check::{Gate, JobTrust, Verified};
pub use job::{JobSigningCheck, SignatureGate};

use sealscan_protocols::signing::{
    Refusal, RootChange, Signed, fingerprint_text, key_fingerprint, open, parse_fingerprint,
};
use std::path::Path;
use store::{PinnedRoot, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:?} is not a root fingerprint (64 hex digits, groups of four separated by '-')")]
    BadFingerprint(String),
    #[error(
        "this appliance already has the root {pinned} pinned; pinning another needs a root \
         change signed by that root or its recovery key (--change sgn1:...)"
    )]
    AlreadyPinned { pinned: String },
    #[error("the root change is refused: {0}")]
    Change(Refusal),
    #[error("the root change names the root {names}, not {asked}")]
    ChangeNamesAnother { names: String, asked: String },
}

/// Pins `fingerprint`: on an unpinned appliance at once; on a pinned one only with `change`,
/// a root change signed by the pinned root (or its recovery key) naming the new root. Pinning
/// the root that is already pinned changes nothing.
pub fn pin(
    state_dir: &Path,
    fingerprint: &str,
    change: Option<&str>,
) -> Result<PinnedRoot, PinError> {
    let wanted = parse_fingerprint(fingerprint)
        .ok_or_else(|| PinError::BadFingerprint(fingerprint.to_string()))?;
    let current = store::load_root(state_dir)?;
    let next = match (&current, change) {
        (None, _) => PinnedRoot::new(&wanted),
        (Some(root), _) if root.fingerprint_bytes() == Some(wanted) => return Ok(root.clone()),
        (Some(root), None) => {
            return Err(PinError::AlreadyPinned {
                pinned: root.fingerprint.clone(),
            });
        }
        (Some(root), Some(text)) => {
            let signed = Signed::from_text(text).map_err(|error| {
                PinError::Change(Refusal::Invalid {
                    what: "root change",
                    error,
                })
            })?;
            let next = changed_root(root, &signed).map_err(PinError::Change)?;
            if next.fingerprint_bytes() != Some(wanted) {
                return Err(PinError::ChangeNamesAnother {
                    names: next.fingerprint,
                    asked: fingerprint_text(&wanted),
                });
            }
            next
        }
    };
    store::save_root(state_dir, &next)?;
    Ok(next)
}

fn changed_root(root: &PinnedRoot, signed: &Signed) -> Result<PinnedRoot, Refusal> {
    if let Some(anchor) = root.anchor() {
        return anchor.change(signed).map(|a| PinnedRoot::from_anchor(&a));
    }
    // The declaration (and so the recovery key) is not known yet: only the root itself.
    let pinned = root.fingerprint_bytes().unwrap_or_default();
    let change = open::<RootChange>(signed).map_err(|error| Refusal::Invalid {
        what: "root change",
        error,
    })?;
    if change.root != pinned {
        return Err(Refusal::OtherRoot {
            what: "root change",
        });
    }
    if key_fingerprint(&change.signer) != pinned {
        return Err(Refusal::Uncertified {
            what: "a root change is signed by the old root or its recovery key",
        });
    }
    Ok(PinnedRoot::new(&key_fingerprint(
        &change.statement.new_root,
    )))
}

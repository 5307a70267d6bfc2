//! Signed statements (docs/signed-records.md is the specification): records, user
//! certificates, trust lists, revocations, appliance approvals, root changes and policies,
//! each signed with Ed25519 by the people who own them so that a control plane that can write
//! its own database still cannot re-aim, substitute or roll back a credential.
//!
//! Layers, bottom up:
//! - [`fields`]: the canonical tag-length-value body and the value shapes (one form for
//!   names and address ranges);
//! - [`signed`]: the domain-separated header, the signature (`verify_strict`) and text form;
//! - [`statement`]: typed statements read only from verified bytes, canonical form enforced;
//! - [`people`], [`record`], [`approval`]: the statement types;
//! - [`trust`]: what an appliance accepts, in order, with a cause for each refusal;
//! - [`JobSignatures`]: where a job carries the statements.

mod approval;
mod error;
pub mod fields;
mod job;
mod people;
mod record;
mod signed;
mod statement;
mod trust;

pub use approval::{ApplianceApproval, Policy};
pub use error::{Result, SignError};
pub use job::{JobSignatures, JobSigning, RecordSignature, RewrapSignatures};
pub use people::{Revocation, RootChange, RootDeclaration, SignerRole, TrustList, UserCertificate};
pub use record::{
    EnvelopeHash, RecordStatement, SignedUnix, SignedVault, SignedWindows, VaultApi, envelope_hash,
    vault_url,
};
pub use signed::{
    FORMAT_VERSION, LABEL, MAX_SIGNED_LEN, Signed, SigningKey, StatementType, TEXT_PREFIX,
    Verified, fingerprint_text, key_fingerprint, parse_fingerprint,
};
pub use statement::{Opened, Statement, open};
pub use trust::{Anchor, Refusal, SignedRecord, Trust};

//! Signed data the control plane stores and serves but cannot forge (docs/signed-records.md):
//! a record's statement, checked here only for its structure and that it describes the record
//! it arrives with (the appliance checks the chain to its pinned root), and the subscription's
//! signing material that every job carries.
use crate::domain::{DomainError, DomainResult};
use crate::iprange::IpRange;
use crate::store::{REVOCATION, ROOT_DECLARATION, RecordRow, StoreError, TRUST_LIST, Tx};
use sealscan_api::Code;
use sealscan_api::records::SigningMaterial;
use sealscan_protocols::appliance::{Job, JobRecord, JobTarget, JobVault};
use sealscan_protocols::signing::{
    JobSignatures, JobSigning, RecordSignature, RecordStatement, Revocation, RootDeclaration,
    Signed, Statement, TrustList, key_fingerprint, open,
};
use serde::Serialize;

fn invalid(code: Code, what: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(code, format!("{what}: {e}"))
}

/// Reads a signed statement of type `T` whose signature verifies under the key it names.
fn opened<T: Statement>(
    text: &str,
    code: Code,
    what: &str,
) -> DomainResult<sealscan_protocols::signing::Opened<T>> {
    let signed = Signed::from_text(text.trim()).map_err(|e| invalid(code, what, e))?;
    open::<T>(&signed).map_err(|e| invalid(code, what, e))
}

/// The stored root's fingerprint, if a root declaration was uploaded.
fn stored_root(tx: &Tx<'_>) -> DomainResult<Option<[u8; 32]>> {
    let Some((_, text)) = tx.signing_material(ROOT_DECLARATION)?.into_iter().next() else {
        return Ok(None);
    };
    let root =
        opened::<RootDeclaration>(&text, Code::SigningInvalid, "the stored root declaration")?;
    Ok(Some(key_fingerprint(&root.signer)))
}

fn mismatch(record: &RecordRow, what: &str) -> DomainError {
    DomainError::invalid(
        Code::RecordStatementMismatch,
        format!(
            "statement does not match record {}: its {what} differs from the request's",
            record.id
        ),
    )
}

/// Checks `text` as the signed statement of `record` as it will be stored: the same id, kind,
/// login type and user, every address the record matches inside the signed scope, the
/// subscription's root when one is stored, and a version above the stored statement's.
/// Answers the version and the text to store.
pub fn check_record_statement(
    tx: &Tx<'_>,
    record: &RecordRow,
    text: &str,
) -> DomainResult<(u64, String)> {
    let o = opened::<RecordStatement>(text, Code::RecordStatementInvalid, "statement")?;
    let s = &o.statement;
    if s.record_id != record.id {
        return Err(mismatch(record, "record id"));
    }
    if s.kind != record.kind {
        return Err(mismatch(record, "kind"));
    }
    if s.login_type != record.login_type {
        return Err(mismatch(record, "login type"));
    }
    if s.user != record.username {
        return Err(mismatch(record, "user"));
    }
    for entry in &record.ips {
        let range = IpRange::parse(entry)
            .map_err(|e| DomainError::invalid(Code::RecordIpInvalid, e.clone()))?;
        let (first, last) = range.bounds();
        if !s
            .scope
            .iter()
            .any(|r| r.contains(first) && r.contains(last))
        {
            return Err(mismatch(record, &format!("scope (the address {entry})")));
        }
    }
    if let Some(root) = stored_root(tx)?
        && o.root != root
    {
        return Err(mismatch(record, "root"));
    }
    if let Some((stored, _)) = tx.record_statement(&record.id)?
        && s.version <= stored
    {
        return Err(DomainError::conflict(
            Code::RecordStatementOld,
            format!(
                "statement version {} of record {} is not above the stored version {stored}",
                s.version, record.id
            ),
        ));
    }
    Ok((s.version, text.trim().to_string()))
}

/// Stores a Manager's upload: the root declaration replaces the stored one, a trust list
/// replaces a lower-numbered one (an older or equal number is refused), revocations add.
pub fn store_material(tx: &Tx<'_>, up: &SigningMaterial, now: i64) -> DomainResult<()> {
    let mut root = stored_root(tx)?;
    if let Some(text) = &up.root_declaration {
        let o = opened::<RootDeclaration>(text, Code::SigningInvalid, "root_declaration")?;
        let hash = hex::encode(signed_hash(text)?);
        tx.replace_signing_material(ROOT_DECLARATION, 0, &hash, text.trim(), now)?;
        root = Some(key_fingerprint(&o.signer));
    }
    let same_root = |r: [u8; 32], what: &str| match root {
        Some(root) if root != r => Err(DomainError::invalid(
            Code::SigningInvalid,
            format!("{what} names another root than the stored root declaration"),
        )),
        _ => Ok(()),
    };
    if let Some(text) = &up.trust_list {
        let o = opened::<TrustList>(text, Code::SigningInvalid, "trust_list")?;
        same_root(o.root, "trust_list")?;
        let number = o.statement.number;
        if let Some((stored, _)) = tx.signing_material(TRUST_LIST)?.into_iter().next()
            && number <= stored
        {
            return Err(DomainError::conflict(
                Code::SigningTrustListOld,
                format!("trust list number {number} is not above the stored number {stored}"),
            ));
        }
        let hash = hex::encode(signed_hash(text)?);
        tx.replace_signing_material(TRUST_LIST, number, &hash, text.trim(), now)?;
    }
    for text in &up.revocations {
        let o = opened::<Revocation>(text, Code::SigningInvalid, "revocations")?;
        same_root(o.root, "a revocation")?;
        let hash = hex::encode(signed_hash(text)?);
        tx.add_signing_material(REVOCATION, 0, &hash, text.trim(), now)?;
    }
    Ok(())
}

fn signed_hash(text: &str) -> DomainResult<[u8; 32]> {
    Signed::from_text(text.trim())
        .map(|s| s.hash())
        .map_err(|e| invalid(Code::SigningInvalid, "statement", e))
}

/// What the subscription has stored, as a Manager reads it back.
pub fn material(tx: &Tx<'_>) -> Result<SigningMaterial, StoreError> {
    let first = |kind| -> Result<Option<String>, StoreError> {
        Ok(tx
            .signing_material(kind)?
            .into_iter()
            .next()
            .map(|(_, t)| t))
    };
    Ok(SigningMaterial {
        root_declaration: first(ROOT_DECLARATION)?,
        trust_list: first(TRUST_LIST)?,
        revocations: tx
            .signing_material(REVOCATION)?
            .into_iter()
            .map(|(_, t)| t)
            .collect(),
    })
}

/// The signed data a job carries for its records: the signing material when both a root
/// declaration and a trust list are stored, and each record's statement.
pub fn job_signatures(tx: &Tx<'_>, records: &[JobRecord]) -> Result<JobSignatures, StoreError> {
    let m = material(tx)?;
    let signing = match (m.root_declaration, m.trust_list) {
        (Some(root_declaration), Some(trust_list)) => Some(JobSigning {
            root_declaration,
            trust_list,
            revocations: m.revocations,
            policy: None,
            root_changes: Vec::new(),
        }),
        _ => None,
    };
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        out.push(RecordSignature {
            record_id: r.record_id.clone(),
            statement: tx.record_statement(&r.record_id)?.map(|(_, t)| t),
        });
    }
    Ok(JobSignatures {
        signing,
        records: out,
    })
}

/// The claim's body: the job with its signed data beside it, where the agent reads it
/// (`signing` at the top, `statement` in each `records[]` entry; see
/// `sealscan_protocols::signing::JobSignatures`). Serialized straight from the job, with no
/// intermediate JSON tree: a job can hold legacy secrets, which get no extra copies.
#[derive(Serialize)]
pub struct ClaimBody<'a> {
    job_id: &'a str,
    scan_id: &'a str,
    lease_secs: u32,
    targets: &'a [JobTarget],
    records: Vec<SignedJobRecord<'a>>,
    vaults: &'a [JobVault],
    #[serde(skip_serializing_if = "Option::is_none")]
    signing: Option<&'a JobSigning>,
}

#[derive(Serialize)]
struct SignedJobRecord<'a> {
    #[serde(flatten)]
    record: &'a JobRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<&'a str>,
}

pub fn claim_body<'a>(job: &'a Job, sigs: &'a JobSignatures) -> ClaimBody<'a> {
    // Every field named: a field added to `Job` fails to compile here instead of being dropped.
    let Job {
        job_id,
        scan_id,
        lease_secs,
        targets,
        records,
        vaults,
    } = job;
    ClaimBody {
        job_id,
        scan_id,
        lease_secs: *lease_secs,
        targets,
        records: records
            .iter()
            .map(|record| SignedJobRecord {
                record,
                statement: sigs.statement_for(&record.record_id),
            })
            .collect(),
        vaults,
        signing: sigs.signing.as_ref(),
    }
}

//! The appliance's decisions, without I/O: which statements chain to the pinned root, in the
//! order docs/signed-records.md fixes. Each refusal has a stable cause name for the
//! `record signature` step of a result and the journal. Persisting the highest numbers and
//! versions seen is the caller's part (the agent fsyncs them before it opens anything).

use super::approval::{ApplianceApproval, Policy};
use super::error::SignError;
use super::people::{
    Revocation, RootChange, RootDeclaration, SignerRole, TrustList, UserCertificate,
};
use super::record::RecordStatement;
use super::signed::{Signed, key_fingerprint};
use super::statement::{Opened, Statement, open};
use std::collections::BTreeSet;
use std::fmt;

/// Why the appliance refused; [`Refusal::cause`] is the stable name results carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A root is pinned and the record (or the job's trust data) carries no statement.
    Unsigned {
        what: &'static str,
    },
    /// Bytes that do not parse, a bad signature, a wrong type.
    Invalid {
        what: &'static str,
        error: SignError,
    },
    /// Signed for another subscription root.
    OtherRoot {
        what: &'static str,
    },
    /// The signer has no certificate in the current trust list (or the wrong role).
    Uncertified {
        what: &'static str,
    },
    Revoked {
        what: &'static str,
    },
    Expired {
        what: &'static str,
    },
    /// A trust list or policy numbered below the highest accepted.
    TrustListRollback {
        seen: u64,
        offered: u64,
    },
    PolicyRollback {
        seen: u64,
        offered: u64,
    },
    /// A record version below the highest accepted for that record.
    VersionRollback {
        seen: u64,
        offered: u64,
    },
    /// The statement is for another record id than the job's record.
    OtherRecord,
    /// A job value differs from the signed one (user, domain, kind, vault...).
    Mismatch {
        field: &'static str,
    },
    TargetOutsideScope,
    PortOutsideScope,
    /// A sealed envelope whose hash the record does not sign.
    EnvelopeNotSigned {
        field: &'static str,
    },
    /// A loosened check without a root-signed policy allowing it.
    NotAllowedByPolicy {
        what: &'static str,
    },
    /// The pinned root's declaration is missing or wrong.
    RootDeclaration {
        why: &'static str,
    },
}

impl Refusal {
    /// The stable cause name (`record signature: <cause>`).
    pub fn cause(&self) -> &'static str {
        match self {
            Refusal::Unsigned { .. } => "unsigned",
            Refusal::Invalid { .. } => "invalid statement",
            Refusal::OtherRoot { .. } => "other root",
            Refusal::Uncertified { .. } => "uncertified signer",
            Refusal::Revoked { .. } => "revoked signer",
            Refusal::Expired { .. } => "expired certificate",
            Refusal::TrustListRollback { .. } => "trust list rollback",
            Refusal::PolicyRollback { .. } => "policy rollback",
            Refusal::VersionRollback { .. } => "version rollback",
            Refusal::OtherRecord => "other record",
            Refusal::Mismatch { .. } => "unsigned change",
            Refusal::TargetOutsideScope => "target outside signed scope",
            Refusal::PortOutsideScope => "port outside signed scope",
            Refusal::EnvelopeNotSigned { .. } => "envelope not signed",
            Refusal::NotAllowedByPolicy { .. } => "not allowed by policy",
            Refusal::RootDeclaration { .. } => "root declaration",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cause())?;
        match self {
            Refusal::Unsigned { what }
            | Refusal::OtherRoot { what }
            | Refusal::Uncertified { what }
            | Refusal::Revoked { what }
            | Refusal::Expired { what }
            | Refusal::NotAllowedByPolicy { what } => write!(f, " ({what})"),
            Refusal::Invalid { what, error } => write!(f, " ({what}: {error})"),
            Refusal::TrustListRollback { seen, offered }
            | Refusal::PolicyRollback { seen, offered }
            | Refusal::VersionRollback { seen, offered } => {
                write!(f, " (offered {offered}, already accepted {seen})")
            }
            Refusal::Mismatch { field } => {
                write!(f, " (the job's {field} differs from the signed record)")
            }
            Refusal::EnvelopeNotSigned { field } => write!(f, " ({field})"),
            Refusal::RootDeclaration { why } => write!(f, " ({why})"),
            Refusal::OtherRecord | Refusal::TargetOutsideScope | Refusal::PortOutsideScope => {
                Ok(())
            }
        }
    }
}

impl std::error::Error for Refusal {}

fn opened<T: Statement>(what: &'static str, signed: &Signed) -> Result<Opened<T>, Refusal> {
    open::<T>(signed).map_err(|error| Refusal::Invalid { what, error })
}

/// The pinned root: its key, its recovery key, its subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub root_key: [u8; 32],
    pub recovery_key: [u8; 32],
    pub subscription_id: String,
}

impl Anchor {
    pub fn fingerprint(&self) -> [u8; 32] {
        key_fingerprint(&self.root_key)
    }

    /// Completes a pinned fingerprint with the root's self-signed declaration.
    pub fn from_declaration(pinned: &[u8; 32], declaration: &Signed) -> Result<Anchor, Refusal> {
        let d = opened::<RootDeclaration>("root declaration", declaration)?;
        if d.root != *pinned || key_fingerprint(&d.signer) != *pinned {
            return Err(Refusal::RootDeclaration {
                why: "not signed by the pinned root",
            });
        }
        if d.statement.recovery_key == d.signer {
            return Err(Refusal::RootDeclaration {
                why: "the recovery key is the root key itself",
            });
        }
        Ok(Anchor {
            root_key: d.signer,
            recovery_key: d.statement.recovery_key,
            subscription_id: d.statement.subscription_id,
        })
    }

    /// A root change: signed by this root or its recovery key, under this root.
    pub fn change(&self, change: &Signed) -> Result<Anchor, Refusal> {
        let c = opened::<RootChange>("root change", change)?;
        if c.root != self.fingerprint() {
            return Err(Refusal::OtherRoot {
                what: "root change",
            });
        }
        if c.signer != self.root_key && c.signer != self.recovery_key {
            return Err(Refusal::Uncertified {
                what: "a root change is signed by the old root or its recovery key",
            });
        }
        if let Some(sub) = &c.statement.subscription_id
            && !self.subscription_id.is_empty()
            && *sub != self.subscription_id
        {
            return Err(Refusal::OtherRoot {
                what: "root change for another subscription",
            });
        }
        if c.statement.new_root == c.statement.new_recovery_key {
            return Err(Refusal::RootDeclaration {
                why: "the new recovery key is the new root key itself",
            });
        }
        Ok(Anchor {
            root_key: c.statement.new_root,
            recovery_key: c.statement.new_recovery_key,
            subscription_id: self.subscription_id.clone(),
        })
    }

    fn root_signed<T: Statement>(&self, what: &'static str, signed: &Signed) -> Result<T, Refusal> {
        let s = opened::<T>(what, signed)?;
        if s.root != self.fingerprint() {
            return Err(Refusal::OtherRoot { what });
        }
        if s.signer != self.root_key {
            return Err(Refusal::Uncertified { what });
        }
        Ok(s.statement)
    }

    /// A trust list signed by this root and numbered at least `highest_seen`; every
    /// certificate in it root-signed too.
    pub fn trust_list(&self, signed: &Signed, highest_seen: u64) -> Result<Trust, Refusal> {
        let list: TrustList = self.root_signed("trust list", signed)?;
        if list.number < highest_seen {
            return Err(Refusal::TrustListRollback {
                seen: highest_seen,
                offered: list.number,
            });
        }
        let mut certificates = Vec::with_capacity(list.certificates.len());
        for cert in &list.certificates {
            let c: UserCertificate = self.root_signed("user certificate", cert)?;
            certificates.push((cert.hash(), c));
        }
        Ok(Trust {
            anchor: self.clone(),
            number: list.number,
            certificates,
            revoked: list.revoked.into_iter().collect(),
        })
    }

    /// A policy signed by this root, numbered at least `highest_seen`.
    pub fn policy(&self, signed: &Signed, highest_seen: u64) -> Result<Policy, Refusal> {
        let policy: Policy = self.root_signed("policy statement", signed)?;
        if policy.number < highest_seen {
            return Err(Refusal::PolicyRollback {
                seen: highest_seen,
                offered: policy.number,
            });
        }
        Ok(policy)
    }
}

/// A checked trust list: who may sign now.
#[derive(Clone, Debug)]
pub struct Trust {
    pub anchor: Anchor,
    pub number: u64,
    certificates: Vec<([u8; 32], UserCertificate)>,
    revoked: BTreeSet<[u8; 32]>,
}

impl Trust {
    pub fn is_revoked(&self, fingerprint: &[u8; 32]) -> bool {
        self.revoked.contains(fingerprint)
    }

    /// Marks `fingerprint` revoked (a revocation the appliance accepted before and keeps).
    pub fn revoke(&mut self, fingerprint: [u8; 32]) {
        self.revoked.insert(fingerprint);
    }

    /// Adds a standalone revocation signed by a certified Manager (checked at `now`).
    pub fn add_revocation(&mut self, signed: &Signed, now: u64) -> Result<[u8; 32], Refusal> {
        let r = opened::<Revocation>("revocation", signed)?;
        self.signer(
            "revocation",
            r.root,
            &r.signer,
            &r.statement.signer_certificate,
            now,
            SignerRole::Manager,
        )?;
        self.revoked.insert(r.statement.revoked_key);
        Ok(r.statement.revoked_key)
    }

    /// The certificate that lets `signer` sign `what` at `now` in at least `role`.
    fn signer(
        &self,
        what: &'static str,
        root: [u8; 32],
        signer: &[u8; 32],
        cert_hash: &[u8; 32],
        now: u64,
        role: SignerRole,
    ) -> Result<&UserCertificate, Refusal> {
        if root != self.anchor.fingerprint() {
            return Err(Refusal::OtherRoot { what });
        }
        let cert = self
            .certificates
            .iter()
            .find(|(hash, _)| hash == cert_hash)
            .map(|(_, c)| c)
            .filter(|c| c.public_key == *signer)
            .ok_or(Refusal::Uncertified { what })?;
        if self.is_revoked(&key_fingerprint(signer)) {
            return Err(Refusal::Revoked { what });
        }
        if now < cert.not_before || now >= cert.not_after {
            return Err(Refusal::Expired { what });
        }
        if role == SignerRole::Manager && cert.role != SignerRole::Manager {
            return Err(Refusal::Uncertified {
                what: "only a Manager's certificate signs this",
            });
        }
        Ok(cert)
    }

    /// A record statement signed by a certified, unrevoked, unexpired key, at a version not
    /// below `highest_seen` for its record. The caller then checks the job against it.
    pub fn record(
        &self,
        signed: &Signed,
        now: u64,
        highest_seen: Option<u64>,
    ) -> Result<SignedRecord, Refusal> {
        let r = opened::<RecordStatement>("record statement", signed)?;
        let cert = self.signer(
            "record statement",
            r.root,
            &r.signer,
            &r.statement.signer_certificate,
            now,
            SignerRole::UnitManager,
        )?;
        if let Some(seen) = highest_seen
            && r.statement.version < seen
        {
            return Err(Refusal::VersionRollback {
                seen,
                offered: r.statement.version,
            });
        }
        Ok(SignedRecord {
            signer_user_id: cert.user_id.clone(),
            statement: r.statement,
        })
    }

    /// An appliance approval signed by a certified Manager.
    pub fn approval(&self, signed: &Signed, now: u64) -> Result<ApplianceApproval, Refusal> {
        let a = opened::<ApplianceApproval>("appliance approval", signed)?;
        self.signer(
            "appliance approval",
            a.root,
            &a.signer,
            &a.statement.signer_certificate,
            now,
            SignerRole::Manager,
        )?;
        Ok(a.statement)
    }
}

/// A record statement that chains to the root, with who signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRecord {
    pub statement: RecordStatement,
    pub signer_user_id: String,
}

//! Who may sign: the root declaration (root key and its recovery key), user certificates, the
//! numbered trust list, standalone revocations, and a root change signed by the old root or
//! the recovery key.

use super::error::Result;
use super::fields::{
    Arity, FieldSpec, Schema, Writer, bytes32, code, code_of, identifier, u64_value,
};
use super::signed::{Signed, StatementType};
use super::statement::Statement;

const fn field(tag: u8, name: &'static str, arity: Arity) -> FieldSpec {
    FieldSpec { tag, name, arity }
}
use Arity::{Optional, Required, Set};

// ---------------------------------------------------------------------------------------------

/// Signed by the root itself: the subscription it is the root of and its recovery key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootDeclaration {
    pub subscription_id: String,
    pub recovery_key: [u8; 32],
    pub issued_at: u64,
}

static ROOT_DECLARATION: Schema = Schema {
    statement: "root declaration",
    fields: &[
        field(1, "subscription id", Required),
        field(2, "recovery key", Required),
        field(3, "issued at", Required),
    ],
};

impl Statement for RootDeclaration {
    const KIND: StatementType = StatementType::RootDeclaration;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, self.subscription_id.as_bytes());
        w.field(2, &self.recovery_key);
        w.field(3, &self.issued_at.to_be_bytes());
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = ROOT_DECLARATION.parse(body)?;
        Ok(RootDeclaration {
            subscription_id: f.map_required(1, identifier)?.to_string(),
            recovery_key: f.map_required(2, bytes32)?,
            issued_at: f.map_required(3, u64_value)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------

/// The roles a certificate can carry: who may sign records, and who may also sign approvals
/// and revocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignerRole {
    /// Signs records, appliance approvals and revocations.
    Manager,
    /// Signs records only.
    UnitManager,
}

const ROLES: &[(u8, SignerRole)] = &[(1, SignerRole::Manager), (2, SignerRole::UnitManager)];

impl SignerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SignerRole::Manager => "manager",
            SignerRole::UnitManager => "unit_manager",
        }
    }
}

/// Signed by the root: this key belongs to this user, in this role, for this time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCertificate {
    pub user_id: String,
    pub role: SignerRole,
    pub public_key: [u8; 32],
    /// Unix seconds, inclusive.
    pub not_before: u64,
    /// Unix seconds, exclusive.
    pub not_after: u64,
}

static USER_CERTIFICATE: Schema = Schema {
    statement: "user certificate",
    fields: &[
        field(1, "user id", Required),
        field(2, "role", Required),
        field(3, "public key", Required),
        field(4, "not before", Required),
        field(5, "not after", Required),
    ],
};

impl Statement for UserCertificate {
    const KIND: StatementType = StatementType::UserCertificate;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, self.user_id.as_bytes());
        w.field(2, &[code_of(ROLES, self.role)]);
        w.field(3, &self.public_key);
        w.field(4, &self.not_before.to_be_bytes());
        w.field(5, &self.not_after.to_be_bytes());
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = USER_CERTIFICATE.parse(body)?;
        let cert = UserCertificate {
            user_id: f.map_required(1, identifier)?.to_string(),
            role: f.map_required(2, |v| code(ROLES, v))?,
            public_key: f.map_required(3, bytes32)?,
            not_before: f.map_required(4, u64_value)?,
            not_after: f.map_required(5, u64_value)?,
        };
        f.map_required(5, |v| {
            if u64_value(v)? > cert.not_before {
                Ok(())
            } else {
                Err("not after its not-before time")
            }
        })?;
        Ok(cert)
    }
}

// ---------------------------------------------------------------------------------------------

/// Signed by the root: every valid certificate, every revoked key, under a number that only
/// goes up. An appliance refuses a list numbered below the highest it has accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustList {
    pub number: u64,
    pub issued_at: u64,
    /// Signed [`UserCertificate`]s.
    pub certificates: Vec<Signed>,
    /// Fingerprints of revoked signing keys.
    pub revoked: Vec<[u8; 32]>,
}

static TRUST_LIST: Schema = Schema {
    statement: "trust list",
    fields: &[
        field(1, "number", Required),
        field(2, "issued at", Required),
        field(3, "certificate", Set),
        field(4, "revoked key", Set),
    ],
};

impl Statement for TrustList {
    const KIND: StatementType = StatementType::TrustList;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, &self.number.to_be_bytes());
        w.field(2, &self.issued_at.to_be_bytes());
        w.set(3, self.certificates.iter().map(|c| c.as_bytes().to_vec()));
        w.set(4, self.revoked.iter().map(|r| r.to_vec()));
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = TRUST_LIST.parse(body)?;
        Ok(TrustList {
            number: f.map_required(1, u64_value)?,
            issued_at: f.map_required(2, u64_value)?,
            certificates: f.map_set(3, |v| {
                Signed::from_bytes(v.to_vec()).map_err(|_| "not a signed statement")
            })?,
            revoked: f.map_set(4, bytes32)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------

/// Signed by any certified Manager: this key is void from now on. Stands on its own so that
/// losing the root does not stop a revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub revoked_key: [u8; 32],
    pub issued_at: u64,
    /// The signer's certificate (SHA-256 of its signed bytes).
    pub signer_certificate: [u8; 32],
}

static REVOCATION: Schema = Schema {
    statement: "revocation",
    fields: &[
        field(1, "revoked key", Required),
        field(2, "issued at", Required),
        field(3, "signer certificate", Required),
    ],
};

impl Statement for Revocation {
    const KIND: StatementType = StatementType::Revocation;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, &self.revoked_key);
        w.field(2, &self.issued_at.to_be_bytes());
        w.field(3, &self.signer_certificate);
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = REVOCATION.parse(body)?;
        Ok(Revocation {
            revoked_key: f.map_required(1, bytes32)?,
            issued_at: f.map_required(2, u64_value)?,
            signer_certificate: f.map_required(3, bytes32)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------

/// Signed by the old root (or its recovery key) under the old root: the subscription's root is
/// now `new_root`, with `new_recovery_key` beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootChange {
    pub new_root: [u8; 32],
    pub new_recovery_key: [u8; 32],
    pub issued_at: u64,
    /// The subscription, so that a change made for one cannot be replayed on another that
    /// happens to share a root key.
    pub subscription_id: Option<String>,
}

static ROOT_CHANGE: Schema = Schema {
    statement: "root change",
    fields: &[
        field(1, "new root", Required),
        field(2, "new recovery key", Required),
        field(3, "issued at", Required),
        field(4, "subscription id", Optional),
    ],
};

impl Statement for RootChange {
    const KIND: StatementType = StatementType::RootChange;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, &self.new_root);
        w.field(2, &self.new_recovery_key);
        w.field(3, &self.issued_at.to_be_bytes());
        w.opt(4, self.subscription_id.as_deref().map(str::as_bytes));
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = ROOT_CHANGE.parse(body)?;
        Ok(RootChange {
            new_root: f.map_required(1, bytes32)?,
            new_recovery_key: f.map_required(2, bytes32)?,
            issued_at: f.map_required(3, u64_value)?,
            subscription_id: f.map_one(4, identifier)?.map(str::to_string),
        })
    }
}

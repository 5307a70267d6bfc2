//! Signed data the control plane keeps but cannot make (docs/signed-records.md): each
//! record's current signed statement, and the subscription's signing material (the root's
//! declaration, the newest trust list, standalone revocations). All are stored as the
//! `sgn1:` text the editors' CLIs produced; the appliances verify them.
use super::error::Result;
use super::tx::Tx;
use super::value::{Row, params};

/// Record statements and the subscription's signing material.
pub const V400: &str = r#"
CREATE TABLE record_statements (
    record_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    statement TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE signing_material (
    kind TEXT NOT NULL CHECK (kind IN ('root_declaration', 'trust_list', 'revocation')),
    number INTEGER NOT NULL,
    -- The signed bytes' SHA-256 in hex: a statement can be up to 1 MiB, too long for a key.
    hash TEXT NOT NULL,
    statement TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, hash)
);
"#;

/// The kinds of signing material a job carries.
pub const ROOT_DECLARATION: &str = "root_declaration";
pub const TRUST_LIST: &str = "trust_list";
pub const REVOCATION: &str = "revocation";

/// A (version or number, statement) row; the columns are never negative (the domain writes
/// them from u64).
fn numbered(r: &Row) -> Result<(u64, String)> {
    let n: i64 = r.get(0)?;
    Ok((u64::try_from(n).unwrap_or(0), r.get(1)?))
}

impl Tx<'_> {
    /// The record's current signed statement and its version, if it has one.
    pub fn record_statement(&self, record_id: &str) -> Result<Option<(u64, String)>> {
        self.one(
            "SELECT version, statement FROM record_statements WHERE record_id = ?1",
            &params![record_id],
            numbered,
        )
    }

    /// Replaces the record's statement (`None`: the record is now unsigned).
    pub fn set_record_statement(
        &self,
        record_id: &str,
        statement: Option<(u64, &str)>,
        now: i64,
    ) -> Result<()> {
        self.execute(
            "DELETE FROM record_statements WHERE record_id = ?1",
            &params![record_id],
        )?;
        if let Some((version, text)) = statement {
            let version = i64::try_from(version).unwrap_or(i64::MAX);
            self.execute(
                "INSERT INTO record_statements (record_id, version, statement, updated_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                &params![record_id, version, text, now],
            )?;
        }
        Ok(())
    }

    /// The stored material of one kind, highest number first.
    pub fn signing_material(&self, kind: &str) -> Result<Vec<(u64, String)>> {
        self.query(
            "SELECT number, statement FROM signing_material WHERE kind = ?1 \
             ORDER BY number DESC, statement",
            &params![kind],
            numbered,
        )
    }

    /// Keeps `statement` as the only material of `kind` (root declaration, trust list).
    pub fn replace_signing_material(
        &self,
        kind: &str,
        number: u64,
        hash: &str,
        statement: &str,
        now: i64,
    ) -> Result<()> {
        self.execute(
            "DELETE FROM signing_material WHERE kind = ?1",
            &params![kind],
        )?;
        self.add_signing_material(kind, number, hash, statement, now)
    }

    /// Adds one more statement of `kind` (revocations accumulate); a repeat is a no-op.
    pub fn add_signing_material(
        &self,
        kind: &str,
        number: u64,
        hash: &str,
        statement: &str,
        now: i64,
    ) -> Result<()> {
        let number = i64::try_from(number).unwrap_or(i64::MAX);
        self.execute(
            "INSERT INTO signing_material (kind, number, hash, statement, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, hash) DO NOTHING",
            &params![kind, number, hash, statement, now],
        )?;
        Ok(())
    }
}

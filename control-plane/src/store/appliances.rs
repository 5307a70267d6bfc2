//! Enrollment tokens, appliances and the sealed-secret store that rewrap work reads.
use super::error::Result;
use super::error::StoreError;
use super::tx::{Tx, flag};
use super::value::{Row, params};
pub use sealscan_api::appliances::{ApplianceState, EnrollmentToken};

/// How stale `last_seen_at` may get before an appliance request rewrites it.
pub const LAST_SEEN_GRANULARITY_SECS: i64 = 15;

#[derive(Clone, Debug)]
pub struct ApplianceRow {
    pub id: String,
    pub name: String,
    pub public_key: Vec<u8>,
    pub key_id: String,
    pub fingerprint: String,
    pub state: ApplianceState,
    pub poll_secret_hash: String,
    pub credential_hash: Option<String>,
    pub credential_collected: bool,
    pub enrolled_at: i64,
    pub enrolled_ip: Option<String>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub last_seen_at: Option<i64>,
}

pub struct NewAppliance<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub public_key: &'a [u8],
    pub key_id: &'a str,
    pub fingerprint: &'a str,
    pub poll_secret_hash: &'a str,
    pub enrolled_at: i64,
    pub enrolled_ip: Option<&'a str>,
}

/// One stored envelope, as rewrap work sees it.
#[derive(Clone, Debug)]
pub struct SealedSecret {
    pub id: i64,
    pub record_kind: String,
    pub record_id: String,
    pub field: String,
    pub envelope: String,
}

const COLUMNS: &str = "id, name, public_key, key_id, fingerprint, state, poll_secret_hash, \
    credential_hash, credential_collected, enrolled_at, enrolled_ip, decided_at, decided_by, \
    reason, last_seen_at";

fn from_row(r: &Row) -> Result<ApplianceRow> {
    let state: String = r.get(5)?;
    Ok(ApplianceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        public_key: r.get(2)?,
        key_id: r.get(3)?,
        fingerprint: r.get(4)?,
        state: ApplianceState::from_name(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown appliance state {state:?}")))?,
        poll_secret_hash: r.get(6)?,
        credential_hash: r.get(7)?,
        credential_collected: r.get(8)?,
        enrolled_at: r.get(9)?,
        enrolled_ip: r.get(10)?,
        decided_at: r.get(11)?,
        decided_by: r.get(12)?,
        reason: r.get(13)?,
        last_seen_at: r.get(14)?,
    })
}

const SEALED_COLUMNS: &str = "id, record_kind, record_id, field, envelope";

fn sealed_from_row(r: &Row) -> Result<SealedSecret> {
    Ok(SealedSecret {
        id: r.get(0)?,
        record_kind: r.get(1)?,
        record_id: r.get(2)?,
        field: r.get(3)?,
        envelope: r.get(4)?,
    })
}

impl Tx<'_> {
    pub fn insert_enrollment_token(
        &self,
        token_hash: &str,
        label: &str,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO enrollment_tokens (token_hash, label, created_by, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            &params![token_hash, label, created_by, now, expires_at],
        )?;
        Ok(())
    }

    pub fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>> {
        self.all(
            "SELECT label, created_by, created_at, expires_at, used_at, appliance_id \
             FROM enrollment_tokens ORDER BY created_at, rowid",
            |r| {
                Ok(EnrollmentToken {
                    label: r.get(0)?,
                    created_by: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    used_at: r.get(4)?,
                    appliance_id: r.get(5)?,
                })
            },
        )
    }

    /// Marks a live token used by `appliance_id`; false when it is unknown, used or expired.
    pub fn use_enrollment_token(
        &self,
        token_hash: &str,
        appliance_id: &str,
        now: i64,
    ) -> Result<bool> {
        let n = self.execute(
            "UPDATE enrollment_tokens SET used_at = ?2, appliance_id = ?3 \
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            &params![token_hash, now, appliance_id],
        )?;
        Ok(n == 1)
    }

    pub fn insert_appliance(&self, a: &NewAppliance<'_>) -> Result<()> {
        self.execute(
            "INSERT INTO appliances (id, name, public_key, key_id, fingerprint, state, \
             poll_secret_hash, enrolled_at, enrolled_ip) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8)",
            &params![
                a.id,
                a.name,
                a.public_key,
                a.key_id,
                a.fingerprint,
                a.poll_secret_hash,
                a.enrolled_at,
                a.enrolled_ip
            ],
        )?;
        Ok(())
    }

    pub fn appliance(&self, id: &str) -> Result<Option<ApplianceRow>> {
        self.one(
            &format!("SELECT {COLUMNS} FROM appliances WHERE id = ?1"),
            &params![id],
            from_row,
        )
    }

    pub fn appliance_by_public_key(&self, key: &[u8]) -> Result<Option<ApplianceRow>> {
        self.one(
            &format!("SELECT {COLUMNS} FROM appliances WHERE public_key = ?1"),
            &params![key],
            from_row,
        )
    }

    pub fn appliance_by_credential(&self, credential_hash: &str) -> Result<Option<ApplianceRow>> {
        // Every appliance request runs this: the statement is prepared once per connection.
        self.one(
            &format!("SELECT {COLUMNS} FROM appliances WHERE credential_hash = ?1"),
            &params![credential_hash],
            from_row,
        )
    }

    pub fn list_appliances(&self) -> Result<Vec<ApplianceRow>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM appliances ORDER BY enrolled_at, id"),
            &[],
            from_row,
        )
    }

    /// Approved appliances: the recipients every new envelope is sealed to.
    pub fn approved_appliances(&self) -> Result<Vec<ApplianceRow>> {
        Ok(self
            .list_appliances()?
            .into_iter()
            .filter(|a| a.state == ApplianceState::Approved)
            .collect())
    }

    pub fn set_appliance_state(
        &self,
        id: &str,
        state: ApplianceState,
        by: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<()> {
        // A refused or revoked appliance loses its credential with its state.
        self.execute(
            "UPDATE appliances SET state = ?2, decided_by = ?3, reason = ?4, decided_at = ?5, \
             credential_hash = CASE WHEN ?2 = 'approved' THEN credential_hash ELSE NULL END \
             WHERE id = ?1",
            &params![id, state.as_str(), by, reason, now],
        )?;
        Ok(())
    }

    pub fn set_appliance_credential(&self, id: &str, credential_hash: &str) -> Result<()> {
        self.execute(
            "UPDATE appliances SET credential_hash = ?2, credential_collected = ?3 WHERE id = ?1",
            &params![id, credential_hash, flag(true)],
        )?;
        Ok(())
    }

    /// Records that the appliance called in. `last_seen_at` is shown to people, to the
    /// minute; writing it on every long-poll and heartbeat made every appliance request a
    /// write transaction (a WAL append and a commit each), so it moves only when it is
    /// [`LAST_SEEN_GRANULARITY_SECS`] old or older, and the transaction stays read-only.
    pub fn touch_appliance(&self, id: &str, now: i64) -> Result<()> {
        self.execute("UPDATE appliances SET last_seen_at = ?2 WHERE id = ?1 \
                 AND (last_seen_at IS NULL OR last_seen_at > ?2 OR last_seen_at <= ?2 - CAST(?3 AS BIGINT))", &params![id, now, LAST_SEEN_GRANULARITY_SECS])?;
        Ok(())
    }

    pub fn sealed_secrets(&self) -> Result<Vec<SealedSecret>> {
        self.all(
            &format!("SELECT {SEALED_COLUMNS} FROM sealed_secrets ORDER BY id"),
            sealed_from_row,
        )
    }

    pub fn sealed_secret(&self, id: i64) -> Result<Option<SealedSecret>> {
        self.one(
            &format!("SELECT {SEALED_COLUMNS} FROM sealed_secrets WHERE id = ?1"),
            &params![id],
            sealed_from_row,
        )
    }

    /// Stores (or replaces) the envelope of one record field.
    pub fn put_sealed_secret(
        &self,
        record_kind: &str,
        record_id: &str,
        field: &str,
        envelope: &str,
        now: i64,
    ) -> Result<i64> {
        self.execute(
            "INSERT INTO sealed_secrets (record_kind, record_id, field, envelope, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (record_kind, record_id, field) \
             DO UPDATE SET envelope = excluded.envelope, updated_at = excluded.updated_at",
            &params![record_kind, record_id, field, envelope, now],
        )?;
        self.scalar("SELECT id FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2 AND field = ?3", &params![record_kind, record_id, field])
    }

    pub fn replace_sealed_envelope(&self, id: i64, envelope: &str, now: i64) -> Result<()> {
        self.execute(
            "UPDATE sealed_secrets SET envelope = ?2, updated_at = ?3 WHERE id = ?1",
            &params![id, envelope, now],
        )?;
        Ok(())
    }

    pub fn delete_sealed_secrets(&self, record_kind: &str, record_id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2",
            &params![record_kind, record_id],
        )?;
        Ok(())
    }
}

//! Authentication records (Unix, Windows), Secret Server vault records, their legacy
//! ciphertext, and the NCSM activation state. Sealed envelopes live in `sealed_secrets`
//! (shared with rewrap work); legacy secrets live here, encrypted with the data key.
use super::{Result, StoreError, Tx, flag};
use rusqlite::{OptionalExtension, Row, params};
use sealscan_protocols::appliance::UnixOptions;
use serde::{Deserialize, Serialize};

/// Vault logins may name the secret by Secret Server's id instead of its name.
pub(super) const V201: &str = "ALTER TABLE auth_records ADD COLUMN secret_id INTEGER;";

/// Unix records' SSH options (host-key trust), JSON of `UnixOptions` or NULL for the defaults.
pub(super) const V202: &str = "ALTER TABLE auth_records ADD COLUMN unix TEXT;";

/// Records, vaults, legacy ciphertext and the NCSM state (the records side; numbered from 200).
pub(super) const V200: &str = r#"
CREATE TABLE vaults (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    username TEXT NOT NULL,
    domain TEXT,
    organization TEXT,
    verify_tls INTEGER NOT NULL DEFAULT 1,
    ca_pem TEXT,
    api TEXT NOT NULL,
    comments TEXT NOT NULL DEFAULT '',
    migration TEXT CHECK (migration IN ('pending', 'migrated')),
    migration_reason TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE auth_records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('unix', 'windows')),
    title TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    ips TEXT NOT NULL,
    login_type TEXT NOT NULL CHECK (login_type IN ('basic', 'vault')),
    vault_id TEXT REFERENCES vaults(id),
    secret_name TEXT,
    folder TEXT,
    comments TEXT NOT NULL DEFAULT '',
    unix_auth TEXT,
    windows TEXT,
    migration TEXT CHECK (migration IN ('pending', 'migrated')),
    migration_reason TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- Legacy-model secrets: XChaCha20-Poly1305 under the data key, bound to kind/id/field.
CREATE TABLE legacy_secrets (
    record_kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    PRIMARY KEY (record_kind, record_id, field)
);
CREATE TABLE ncsm (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL CHECK (state IN ('migrating', 'pending', 'complete')),
    activated_by TEXT NOT NULL,
    activated_at INTEGER NOT NULL,
    completed_at INTEGER
);
"#;

/// The secrets' owner kind for a vault: the binding's record kind.
pub use sealscan_protocols::envelope::VAULT_KIND;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsSettings {
    /// "none", "netbios" or "active_directory".
    pub domain_type: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub service_selected: bool,
    pub ntlmv2: bool,
    pub ntlmv1: bool,
    pub require_signing: bool,
    pub min_smb_version: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecordRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub username: String,
    pub ips: Vec<String>,
    pub login_type: String,
    pub vault_id: Option<String>,
    pub secret_name: Option<String>,
    pub folder: Option<String>,
    /// Vault logins by Secret Server's id of the secret (then `secret_name` is None).
    pub secret_id: Option<i64>,
    pub comments: String,
    /// Unix basic logins: "password" or "private_key". Unix vault logins: which of the
    /// secret's fields to log in with; None takes the key when the secret holds one.
    pub unix_auth: Option<String>,
    pub windows: Option<WindowsSettings>,
    /// Unix records: host-key trust; rows from before it existed read as the defaults.
    pub unix: Option<UnixOptions>,
    pub migration: Option<String>,
    pub migration_reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct VaultRow {
    pub id: String,
    pub title: String,
    pub url: String,
    pub username: String,
    pub domain: Option<String>,
    pub organization: Option<String>,
    pub verify_tls: bool,
    pub ca_pem: Option<String>,
    pub api: String,
    pub comments: String,
    pub migration: Option<String>,
    pub migration_reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcsmState {
    Migrating,
    Pending,
    Complete,
}

impl NcsmState {
    pub fn as_str(self) -> &'static str {
        match self {
            NcsmState::Migrating => "migrating",
            NcsmState::Pending => "pending",
            NcsmState::Complete => "complete",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct NcsmRow {
    pub state: NcsmState,
    pub activated_by: String,
    pub activated_at: i64,
    pub completed_at: Option<i64>,
}

/// Which secret-holding owner a legacy blob or envelope belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretOwner {
    pub kind: String,
    pub id: String,
}

const RECORD_COLUMNS: &str = "id, kind, title, username, ips, login_type, vault_id, secret_name, \
    folder, comments, unix_auth, windows, migration, migration_reason, created_by, created_at, \
    secret_id, unix";

fn record_from_row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    let ips: String = r.get(4)?;
    let windows: Option<String> = r.get(11)?;
    let kind: String = r.get(1)?;
    let unix: Option<String> = r.get(17)?;
    let corrupt = |i, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    Ok(RecordRow {
        id: r.get(0)?,
        unix: match unix {
            Some(u) => Some(serde_json::from_str(&u).map_err(|e| corrupt(17, e))?),
            None => (kind == "unix").then(UnixOptions::default),
        },
        kind,
        title: r.get(2)?,
        username: r.get(3)?,
        ips: serde_json::from_str(&ips).map_err(|e| corrupt(4, e))?,
        login_type: r.get(5)?,
        vault_id: r.get(6)?,
        secret_name: r.get(7)?,
        folder: r.get(8)?,
        comments: r.get(9)?,
        unix_auth: r.get(10)?,
        windows: windows
            .map(|w| serde_json::from_str(&w))
            .transpose()
            .map_err(|e| corrupt(11, e))?,
        migration: r.get(12)?,
        migration_reason: r.get(13)?,
        created_by: r.get(14)?,
        created_at: r.get(15)?,
        secret_id: r.get(16)?,
    })
}

const VAULT_COLUMNS: &str = "id, title, url, username, domain, organization, verify_tls, ca_pem, \
    api, comments, migration, migration_reason, created_by, created_at";

fn vault_from_row(r: &Row<'_>) -> rusqlite::Result<VaultRow> {
    Ok(VaultRow {
        id: r.get(0)?,
        title: r.get(1)?,
        url: r.get(2)?,
        username: r.get(3)?,
        domain: r.get(4)?,
        organization: r.get(5)?,
        verify_tls: r.get(6)?,
        ca_pem: r.get(7)?,
        api: r.get(8)?,
        comments: r.get(9)?,
        migration: r.get(10)?,
        migration_reason: r.get(11)?,
        created_by: r.get(12)?,
        created_at: r.get(13)?,
    })
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Tx<'_> {
    pub fn insert_record(&self, r: &RecordRow) -> Result<()> {
        let windows = r.windows.as_ref().map(json).transpose()?;
        let unix = r.unix.as_ref().map(json).transpose()?;
        self.tx.execute(
            &format!("INSERT INTO auth_records ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"),
            params![
                r.id,
                r.kind,
                r.title,
                r.username,
                json(&r.ips)?,
                r.login_type,
                r.vault_id,
                r.secret_name,
                r.folder,
                r.comments,
                r.unix_auth,
                windows,
                r.migration,
                r.migration_reason,
                r.created_by,
                r.created_at,
                r.secret_id,
                unix
            ],
        )?;
        Ok(())
    }

    pub fn records(&self) -> Result<Vec<RecordRow>> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM auth_records ORDER BY kind, title"
        ))?;
        let rows = stmt.query_map([], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn record(&self, id: &str) -> Result<Option<RecordRow>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM auth_records WHERE id = ?1"),
                [id],
                record_from_row,
            )
            .optional()?)
    }

    pub fn record_by_title(&self, title: &str) -> Result<Option<RecordRow>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM auth_records WHERE title = ?1"),
                [title],
                record_from_row,
            )
            .optional()?)
    }

    /// Deletes the record with every secret it holds, legacy or sealed.
    pub fn delete_record(&self, id: &str, kind: &str) -> Result<bool> {
        self.delete_owner_secrets(kind, id)?;
        Ok(self
            .tx
            .execute("DELETE FROM auth_records WHERE id = ?1", [id])?
            > 0)
    }

    /// Rewrites every column but the id, kind and creation fields.
    pub fn update_record(&self, r: &RecordRow) -> Result<()> {
        let windows = r.windows.as_ref().map(json).transpose()?;
        let unix = r.unix.as_ref().map(json).transpose()?;
        self.tx.execute(
            "UPDATE auth_records SET title = ?2, username = ?3, ips = ?4, login_type = ?5, \
             vault_id = ?6, secret_name = ?7, folder = ?8, comments = ?9, unix_auth = ?10, \
             windows = ?11, migration = ?12, migration_reason = ?13, secret_id = ?14, \
             unix = ?15 WHERE id = ?1",
            params![
                r.id,
                r.title,
                r.username,
                json(&r.ips)?,
                r.login_type,
                r.vault_id,
                r.secret_name,
                r.folder,
                r.comments,
                r.unix_auth,
                windows,
                r.migration,
                r.migration_reason,
                r.secret_id,
                unix
            ],
        )?;
        Ok(())
    }

    /// Rewrites every column but the id and creation fields.
    pub fn update_vault(&self, v: &VaultRow) -> Result<()> {
        self.tx.execute(
            "UPDATE vaults SET title = ?2, url = ?3, username = ?4, domain = ?5, \
             organization = ?6, verify_tls = ?7, ca_pem = ?8, api = ?9, comments = ?10, \
             migration = ?11, migration_reason = ?12 WHERE id = ?1",
            params![
                v.id,
                v.title,
                v.url,
                v.username,
                v.domain,
                v.organization,
                flag(v.verify_tls),
                v.ca_pem,
                v.api,
                v.comments,
                v.migration,
                v.migration_reason
            ],
        )?;
        Ok(())
    }

    /// Removes one secret field of an owner, whichever model holds it.
    pub fn delete_secret_field(&self, kind: &str, id: &str, field: &str) -> Result<()> {
        for table in ["legacy_secrets", "sealed_secrets"] {
            self.tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE record_kind = ?1 AND record_id = ?2 AND field = ?3"
                ),
                params![kind, id, field],
            )?;
        }
        Ok(())
    }

    pub fn insert_vault(&self, v: &VaultRow) -> Result<()> {
        self.tx.execute(
            &format!("INSERT INTO vaults ({VAULT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                v.id,
                v.title,
                v.url,
                v.username,
                v.domain,
                v.organization,
                flag(v.verify_tls),
                v.ca_pem,
                v.api,
                v.comments,
                v.migration,
                v.migration_reason,
                v.created_by,
                v.created_at
            ],
        )?;
        Ok(())
    }

    pub fn vaults(&self) -> Result<Vec<VaultRow>> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {VAULT_COLUMNS} FROM vaults ORDER BY title"
        ))?;
        let rows = stmt.query_map([], vault_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn vault(&self, id: &str) -> Result<Option<VaultRow>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {VAULT_COLUMNS} FROM vaults WHERE id = ?1"),
                [id],
                vault_from_row,
            )
            .optional()?)
    }

    pub fn vault_by_title(&self, title: &str) -> Result<Option<VaultRow>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {VAULT_COLUMNS} FROM vaults WHERE title = ?1"),
                [title],
                vault_from_row,
            )
            .optional()?)
    }

    pub fn delete_vault(&self, id: &str) -> Result<bool> {
        self.delete_owner_secrets(VAULT_KIND, id)?;
        Ok(self.tx.execute("DELETE FROM vaults WHERE id = ?1", [id])? > 0)
    }

    /// Titles of the records that log in through `vault_id`.
    pub fn records_using_vault(&self, vault_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare("SELECT title FROM auth_records WHERE vault_id = ?1 ORDER BY title")?;
        let rows = stmt.query_map([vault_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn delete_owner_secrets(&self, kind: &str, id: &str) -> Result<()> {
        self.tx.execute(
            "DELETE FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2",
            params![kind, id],
        )?;
        self.tx.execute(
            "DELETE FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2",
            params![kind, id],
        )?;
        Ok(())
    }

    pub fn put_legacy_secret(&self, kind: &str, id: &str, field: &str, blob: &[u8]) -> Result<()> {
        self.tx.execute(
            "INSERT INTO legacy_secrets (record_kind, record_id, field, ciphertext) VALUES (?1, ?2, ?3, ?4)",
            params![kind, id, field, blob],
        )?;
        Ok(())
    }

    /// (field, ciphertext) pairs of one owner.
    pub fn legacy_secrets_of(&self, kind: &str, id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut stmt = self.tx.prepare(
            "SELECT field, ciphertext FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2 ORDER BY field",
        )?;
        let rows = stmt.query_map(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// (field, envelope) pairs of one owner.
    pub fn envelopes_of(&self, kind: &str, id: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.tx.prepare(
            "SELECT field, envelope FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2 ORDER BY field",
        )?;
        let rows = stmt.query_map(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn delete_legacy_secrets(&self, kind: &str, id: &str) -> Result<()> {
        self.tx.execute(
            "DELETE FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2",
            params![kind, id],
        )?;
        Ok(())
    }

    /// Owners (records and vaults) still holding legacy ciphertext, in a stable order.
    pub fn legacy_owners(&self) -> Result<Vec<SecretOwner>> {
        let mut stmt = self.tx.prepare(
            "SELECT DISTINCT record_kind, record_id FROM legacy_secrets ORDER BY record_kind, record_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SecretOwner {
                kind: r.get(0)?,
                id: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Marks a record or vault as migrated, pending (with the reason) or neither.
    pub fn set_migration(
        &self,
        owner: &SecretOwner,
        migration: Option<&str>,
        reason: Option<&str>,
    ) -> Result<()> {
        let table = if owner.kind == VAULT_KIND {
            "vaults"
        } else {
            "auth_records"
        };
        self.tx.execute(
            &format!("UPDATE {table} SET migration = ?2, migration_reason = ?3 WHERE id = ?1"),
            params![owner.id, migration, reason],
        )?;
        Ok(())
    }

    pub fn count_migrated(&self) -> Result<i64> {
        Ok(self.tx.query_row(
            "SELECT (SELECT COUNT(*) FROM auth_records WHERE migration = 'migrated') + \
                    (SELECT COUNT(*) FROM vaults WHERE migration = 'migrated')",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn ncsm(&self) -> Result<Option<NcsmRow>> {
        let row = self
            .tx
            .query_row(
                "SELECT state, activated_by, activated_at, completed_at FROM ncsm WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((state, activated_by, activated_at, completed_at)) = row else {
            return Ok(None);
        };
        let state = match state.as_str() {
            "migrating" => NcsmState::Migrating,
            "pending" => NcsmState::Pending,
            "complete" => NcsmState::Complete,
            other => return Err(StoreError::Corrupt(format!("NCSM state {other:?}"))),
        };
        Ok(Some(NcsmRow {
            state,
            activated_by,
            activated_at,
            completed_at,
        }))
    }

    /// Activation: refused (false) when NCSM is already active.
    pub fn activate_ncsm(&self, by: &str, now: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT OR IGNORE INTO ncsm (id, state, activated_by, activated_at) VALUES (1, 'migrating', ?1, ?2)",
            params![by, now],
        )? > 0)
    }

    pub fn set_ncsm_state(&self, state: NcsmState, now: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE ncsm SET state = ?1, completed_at = CASE WHEN ?1 = 'complete' THEN ?2 ELSE NULL END WHERE id = 1",
            params![state.as_str(), now],
        )?;
        Ok(())
    }
}

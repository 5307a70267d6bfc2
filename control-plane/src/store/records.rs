//! Authentication records (Unix, Windows), Secret Server vault records, their legacy
//! ciphertext, and the NCSM activation state. Sealed envelopes live in `sealed_secrets`
//! (shared with rewrap work); legacy secrets live here, encrypted with the data key.
use super::error::{Result, StoreError};
use super::tx::{Tx, flag};
use super::value::{Row, Value as SqlValue, params};
pub use sealscan_api::records::WindowsSettings;
use sealscan_protocols::appliance::{RecordKind, UnixOptions};
use serde::de::DeserializeOwned;
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

/// Windows records from before the authentication protocol existed keep logging in as they
/// did, with NTLMv2; only new Active Directory records default to Kerberos.
pub const V240: &str = r#"
UPDATE auth_records SET windows = json_set(windows, '$.auth_protocol', 'ntlm')
WHERE windows IS NOT NULL AND json_extract(windows, '$.auth_protocol') IS NULL;
"#;

/// The rows are the API's stored record and vault types, so a field is declared once.
pub use sealscan_api::records::{Record as RecordRow, Vault as VaultRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The record's columns, in the order of [`record_values`] and `record_from_row`: with
/// those two, the one place a new record field is added on the store's side.
const RECORD_COLUMN_NAMES: [&str; 18] = [
    "id",
    "kind",
    "title",
    "username",
    "ips",
    "login_type",
    "vault_id",
    "secret_name",
    "folder",
    "comments",
    "unix_auth",
    "windows",
    "migration",
    "migration_reason",
    "created_by",
    "created_at",
    "secret_id",
    "unix",
];

/// What an update never rewrites.
const FIXED_RECORD_COLUMNS: [&str; 4] = ["id", "kind", "created_by", "created_at"];

/// [`RECORD_COLUMN_NAMES`] as a select list.
fn record_columns() -> String {
    RECORD_COLUMN_NAMES.join(", ")
}

/// An INSERT of every column, its values bound in column order.
fn insert_sql(table: &str, columns: &[&str]) -> String {
    let slots: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        slots.join(", ")
    )
}

/// An UPDATE of every column but `fixed`, by the id (the first column) in `?1`, from the
/// insert's bindings: only the values the statement uses, numbered without gaps (PostgreSQL
/// must infer a type for every parameter, so none may go unused).
fn update_sql(
    table: &str,
    columns: &[&str],
    fixed: &[&str],
    values: Vec<SqlValue>,
) -> (String, Vec<SqlValue>) {
    let mut set = Vec::new();
    let mut bound = Vec::new();
    for (i, (c, v)) in columns.iter().zip(values).enumerate() {
        if i == 0 {
            bound.push(v);
        } else if !fixed.contains(c) {
            bound.push(v);
            set.push(format!("{c} = ?{}", bound.len()));
        }
    }
    (
        format!("UPDATE {table} SET {} WHERE id = ?1", set.join(", ")),
        bound,
    )
}

/// The record's values in [`RECORD_COLUMN_NAMES`] order.
fn record_values(r: &RecordRow) -> Result<Vec<SqlValue>> {
    let text = |s: &str| SqlValue::Text(s.to_string());
    let optional = |s: &Option<String>| s.clone().map_or(SqlValue::Null, SqlValue::Text);
    Ok(vec![
        text(&r.id),
        text(r.kind.as_str()),
        text(&r.title),
        text(&r.username),
        SqlValue::Text(json(&r.ips)?),
        text(r.login_type.as_str()),
        optional(&r.vault_id),
        optional(&r.secret_name),
        optional(&r.folder),
        text(&r.comments),
        optional(&r.unix_auth.as_ref().map(name_of)),
        optional(&r.windows.as_ref().map(json).transpose()?),
        optional(&r.migration),
        optional(&r.migration_reason),
        text(&r.created_by),
        SqlValue::Int(r.created_at),
        r.secret_id.map_or(SqlValue::Null, SqlValue::Int),
        optional(&r.unix.as_ref().map(json).transpose()?),
    ])
}

/// A stored value that this build does not know, named by its column; never a panic.
#[derive(Debug, thiserror::Error)]
#[error("{column} holds a value this control plane does not know: {reason}")]
struct UnknownValue {
    column: &'static str,
    reason: String,
}

/// Column `i`, named `column`: one of the protocol's enums by its snake_case name (NULL
/// reads as None where the field is optional).
fn variant<T: DeserializeOwned>(r: &Row, i: usize, column: &'static str) -> Result<T> {
    let text: Option<String> = r.get(i)?;
    let value = text.map_or(serde_json::Value::Null, serde_json::Value::String);
    parsed(column, serde_json::from_value(value))
}

/// Column `i`, named `column`, as JSON (NULL reads as None where the field is optional).
fn json_column<T: DeserializeOwned>(r: &Row, i: usize, column: &'static str) -> Result<T> {
    let text: Option<String> = r.get(i)?;
    let v = match text {
        Some(t) => serde_json::from_str(&t),
        None => serde_json::from_value(serde_json::Value::Null),
    };
    parsed(column, v)
}

fn parsed<T>(column: &'static str, v: serde_json::Result<T>) -> Result<T> {
    v.map_err(|e| {
        StoreError::Corrupt(
            UnknownValue {
                column,
                reason: e.to_string(),
            }
            .to_string(),
        )
    })
}

/// The snake_case name an enum is stored under.
fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn record_from_row(r: &Row) -> Result<RecordRow> {
    let kind: RecordKind = variant(r, 1, "auth_records.kind")?;
    let unix: Option<UnixOptions> = json_column(r, 17, "auth_records.unix")?;
    Ok(RecordRow {
        id: r.get(0)?,
        // Unix rows from before the column existed read as the defaults.
        unix: unix.or_else(|| (kind == RecordKind::Unix).then(UnixOptions::default)),
        kind,
        title: r.get(2)?,
        username: r.get(3)?,
        ips: json_column(r, 4, "auth_records.ips")?,
        login_type: variant(r, 5, "auth_records.login_type")?,
        vault_id: r.get(6)?,
        secret_name: r.get(7)?,
        folder: r.get(8)?,
        comments: r.get(9)?,
        unix_auth: variant(r, 10, "auth_records.unix_auth")?,
        windows: json_column(r, 11, "auth_records.windows")?,
        migration: r.get(12)?,
        migration_reason: r.get(13)?,
        created_by: r.get(14)?,
        created_at: r.get(15)?,
        secret_id: r.get(16)?,
    })
}

/// The vault's columns, in the order of `vault_values` and `vault_from_row`.
const VAULT_COLUMN_NAMES: [&str; 14] = [
    "id",
    "title",
    "url",
    "username",
    "domain",
    "organization",
    "verify_tls",
    "ca_pem",
    "api",
    "comments",
    "migration",
    "migration_reason",
    "created_by",
    "created_at",
];

/// What an update never rewrites.
const FIXED_VAULT_COLUMNS: [&str; 3] = ["id", "created_by", "created_at"];

/// The vault's values in [`VAULT_COLUMN_NAMES`] order.
fn vault_values(v: &VaultRow) -> Vec<SqlValue> {
    let text = |s: &str| SqlValue::Text(s.to_string());
    let optional = |s: &Option<String>| s.clone().map_or(SqlValue::Null, SqlValue::Text);
    vec![
        text(&v.id),
        text(&v.title),
        text(&v.url),
        text(&v.username),
        optional(&v.domain),
        optional(&v.organization),
        SqlValue::Int(flag(v.verify_tls)),
        optional(&v.ca_pem),
        text(&v.api),
        text(&v.comments),
        optional(&v.migration),
        optional(&v.migration_reason),
        text(&v.created_by),
        SqlValue::Int(v.created_at),
    ]
}

fn vault_from_row(r: &Row) -> Result<VaultRow> {
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
        self.execute(
            &insert_sql("auth_records", &RECORD_COLUMN_NAMES),
            &record_values(r)?,
        )?;
        Ok(())
    }

    pub fn records(&self) -> Result<Vec<RecordRow>> {
        self.all(
            &format!(
                "SELECT {} FROM auth_records ORDER BY kind, title",
                record_columns()
            ),
            record_from_row,
        )
    }

    pub fn record(&self, id: &str) -> Result<Option<RecordRow>> {
        self.one(
            &format!(
                "SELECT {} FROM auth_records WHERE id = ?1",
                record_columns()
            ),
            &params![id],
            record_from_row,
        )
    }

    pub fn record_by_title(&self, title: &str) -> Result<Option<RecordRow>> {
        self.one(
            &format!(
                "SELECT {} FROM auth_records WHERE title = ?1",
                record_columns()
            ),
            &params![title],
            record_from_row,
        )
    }

    /// Deletes the record with every secret it holds, legacy or sealed.
    pub fn delete_record(&self, id: &str, kind: &str) -> Result<bool> {
        self.delete_owner_secrets(kind, id)?;
        self.set_record_statement(id, None, 0)?;
        Ok(self.execute("DELETE FROM auth_records WHERE id = ?1", &params![id])? > 0)
    }

    /// Rewrites every column but the id, kind and creation fields.
    pub fn update_record(&self, r: &RecordRow) -> Result<()> {
        let (sql, values) = update_sql(
            "auth_records",
            &RECORD_COLUMN_NAMES,
            &FIXED_RECORD_COLUMNS,
            record_values(r)?,
        );
        self.execute(&sql, &values)?;
        Ok(())
    }

    /// Rewrites every column but the id and creation fields.
    pub fn update_vault(&self, v: &VaultRow) -> Result<()> {
        let (sql, values) = update_sql(
            "vaults",
            &VAULT_COLUMN_NAMES,
            &FIXED_VAULT_COLUMNS,
            vault_values(v),
        );
        self.execute(&sql, &values)?;
        Ok(())
    }

    /// Removes one secret field of an owner, whichever model holds it.
    pub fn delete_secret_field(&self, kind: &str, id: &str, field: &str) -> Result<()> {
        for table in ["legacy_secrets", "sealed_secrets"] {
            self.execute(
                &format!(
                    "DELETE FROM {table} WHERE record_kind = ?1 AND record_id = ?2 AND field = ?3"
                ),
                &params![kind, id, field],
            )?;
        }
        Ok(())
    }

    pub fn insert_vault(&self, v: &VaultRow) -> Result<()> {
        self.execute(&insert_sql("vaults", &VAULT_COLUMN_NAMES), &vault_values(v))?;
        Ok(())
    }

    pub fn vaults(&self) -> Result<Vec<VaultRow>> {
        self.all(
            &format!(
                "SELECT {} FROM vaults ORDER BY title",
                VAULT_COLUMN_NAMES.join(", ")
            ),
            vault_from_row,
        )
    }

    pub fn vault(&self, id: &str) -> Result<Option<VaultRow>> {
        self.one(
            &format!(
                "SELECT {} FROM vaults WHERE id = ?1",
                VAULT_COLUMN_NAMES.join(", ")
            ),
            &params![id],
            vault_from_row,
        )
    }

    pub fn vault_by_title(&self, title: &str) -> Result<Option<VaultRow>> {
        self.one(
            &format!(
                "SELECT {} FROM vaults WHERE title = ?1",
                VAULT_COLUMN_NAMES.join(", ")
            ),
            &params![title],
            vault_from_row,
        )
    }

    pub fn delete_vault(&self, id: &str) -> Result<bool> {
        self.delete_owner_secrets(VAULT_KIND, id)?;
        Ok(self.execute("DELETE FROM vaults WHERE id = ?1", &params![id])? > 0)
    }

    /// Titles of the records that log in through `vault_id`.
    pub fn records_using_vault(&self, vault_id: &str) -> Result<Vec<String>> {
        self.query(
            "SELECT title FROM auth_records WHERE vault_id = ?1 ORDER BY title",
            &params![vault_id],
            |r| r.get(0),
        )
    }

    fn delete_owner_secrets(&self, kind: &str, id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2",
            &params![kind, id],
        )?;
        self.execute(
            "DELETE FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2",
            &params![kind, id],
        )?;
        Ok(())
    }

    pub fn put_legacy_secret(&self, kind: &str, id: &str, field: &str, blob: &[u8]) -> Result<()> {
        self.execute("INSERT INTO legacy_secrets (record_kind, record_id, field, ciphertext) VALUES (?1, ?2, ?3, ?4)", &params![kind, id, field, blob])?;
        Ok(())
    }

    /// (field, ciphertext) pairs of one owner.
    pub fn legacy_secrets_of(&self, kind: &str, id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.query("SELECT field, ciphertext FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2 ORDER BY field", &params![kind, id], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    /// (field, envelope) pairs of one owner.
    pub fn envelopes_of(&self, kind: &str, id: &str) -> Result<Vec<(String, String)>> {
        self.query("SELECT field, envelope FROM sealed_secrets WHERE record_kind = ?1 AND record_id = ?2 ORDER BY field", &params![kind, id], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    pub fn delete_legacy_secrets(&self, kind: &str, id: &str) -> Result<()> {
        self.execute(
            "DELETE FROM legacy_secrets WHERE record_kind = ?1 AND record_id = ?2",
            &params![kind, id],
        )?;
        Ok(())
    }

    /// Owners (records and vaults) still holding legacy ciphertext, in a stable order.
    pub fn legacy_owners(&self) -> Result<Vec<SecretOwner>> {
        self.query("SELECT DISTINCT record_kind, record_id FROM legacy_secrets ORDER BY record_kind, record_id", &[], |r| {
            Ok(SecretOwner {
                kind: r.get(0)?,
                id: r.get(1)?,
            })
        })
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
        self.execute(
            &format!("UPDATE {table} SET migration = ?2, migration_reason = ?3 WHERE id = ?1"),
            &params![owner.id, migration, reason],
        )?;
        Ok(())
    }

    pub fn count_migrated(&self) -> Result<i64> {
        self.scalar(
            "SELECT (SELECT COUNT(*) FROM auth_records WHERE migration = 'migrated') + \
                    (SELECT COUNT(*) FROM vaults WHERE migration = 'migrated')",
            &[],
        )
    }

    pub fn ncsm(&self) -> Result<Option<NcsmRow>> {
        self.one(
            "SELECT state, activated_by, activated_at, completed_at FROM ncsm WHERE id = 1",
            &[],
            |r| {
                Ok(NcsmRow {
                    state: variant(r, 0, "ncsm.state")?,
                    activated_by: r.get(1)?,
                    activated_at: r.get(2)?,
                    completed_at: r.get(3)?,
                })
            },
        )
    }

    /// Activation: refused (false) when NCSM is already active.
    pub fn activate_ncsm(&self, by: &str, now: i64) -> Result<bool> {
        let sql = self.pick(
            "INSERT OR IGNORE INTO ncsm (id, state, activated_by, activated_at) \
             VALUES (1, 'migrating', ?1, ?2)",
            "INSERT INTO ncsm (id, state, activated_by, activated_at) \
             VALUES (1, 'migrating', ?1, ?2) ON CONFLICT DO NOTHING",
        );
        Ok(self.execute(sql, &params![by, now])? > 0)
    }

    pub fn set_ncsm_state(&self, state: NcsmState, now: i64) -> Result<()> {
        self.execute("UPDATE ncsm SET state = ?1, completed_at = CASE WHEN ?1 = 'complete' THEN CAST(?2 AS BIGINT) ELSE NULL END WHERE id = 1", &params![state.as_str(), now])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreError};

    #[test]
    fn an_unknown_stored_value_is_an_error_naming_its_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("control.db")).expect("open");
        let insert = |kind: &str, login_type: &str, unix_auth: &str, id: &str| {
            store.write(|tx| {
                tx.execute(
                    "INSERT INTO auth_records (id, kind, title, username, ips, login_type, unix_auth, created_by, created_at) \
                     VALUES (?1, ?2, ?1, 'u', '[\"10.0.0.1\"]', ?3, ?4, 'test', 0)",
                    &crate::store::value::params![id, kind, login_type, unix_auth],
                )?;
                Ok::<_, StoreError>(())
            })
        };
        insert("unix", "basic", "password", "good").expect("insert");
        let good = store.read(|tx| tx.record("good")).expect("read");
        assert!(good.is_some());
        // The CHECK constraints keep kind and login_type to known text; unix_auth has none.
        insert("unix", "basic", "kerberos", "bad").expect("insert");
        let err = store
            .read(|tx| tx.record("bad"))
            .expect_err("unknown unix_auth");
        let text = err.to_string();
        assert!(text.contains("auth_records.unix_auth"), "{text}");
    }

    #[test]
    fn records_and_vaults_round_trip_through_insert_and_update() {
        use crate::store::{RecordRow, VaultRow};
        use sealscan_protocols::appliance::{LoginType, RecordKind, UnixAuth};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("control.db")).expect("open");
        let mut vault = VaultRow {
            id: "v-1".into(),
            title: "SS".into(),
            url: "https://ss.example".into(),
            username: "svc".into(),
            domain: None,
            organization: Some("org".into()),
            verify_tls: true,
            ca_pem: None,
            api: "auto".into(),
            comments: String::new(),
            migration: None,
            migration_reason: None,
            created_by: "alice".into(),
            created_at: 7,
        };
        let mut record = RecordRow {
            id: "r-1".into(),
            kind: RecordKind::Unix,
            title: "Linux".into(),
            username: "scan".into(),
            ips: vec!["10.0.0.1".into()],
            login_type: LoginType::Vault,
            vault_id: Some("v-1".into()),
            secret_name: Some("root".into()),
            folder: None,
            secret_id: None,
            unix: None,
            comments: String::new(),
            unix_auth: Some(UnixAuth::PrivateKey),
            windows: None,
            migration: None,
            migration_reason: None,
            created_by: "alice".into(),
            created_at: 7,
        };
        store
            .write(|tx| {
                tx.insert_vault(&vault)?;
                tx.insert_record(&record)?;
                vault.verify_tls = false;
                vault.migration = Some("pending".into());
                vault.created_by = "not rewritten".into();
                tx.update_vault(&vault)?;
                record.title = "Linux 2".into();
                record.secret_id = Some(42);
                record.created_at = 99;
                tx.update_record(&record)
            })
            .expect("write");
        let (v, r) = store
            .read(|tx| Ok::<_, StoreError>((tx.vault("v-1")?, tx.record("r-1")?)))
            .expect("read");
        let (v, r) = (v.expect("vault"), r.expect("record"));
        assert!(!v.verify_tls);
        assert_eq!(v.migration.as_deref(), Some("pending"));
        assert_eq!(v.created_by, "alice");
        assert_eq!(r.title, "Linux 2");
        assert_eq!(r.secret_id, Some(42));
        assert_eq!(r.unix_auth, Some(UnixAuth::PrivateKey));
        assert_eq!(r.created_at, 7);
    }
}

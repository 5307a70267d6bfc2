//! Numbered schema migrations, applied in order at open; each runs once in its own
//! transaction and is recorded in `schema_migrations`. One list for both backends: the SQL is
//! written for SQLite and [`postgres_sql`] restates it for PostgreSQL (wider integers, bytea,
//! identity keys, byte-order text), with a per-dialect text only where the two differ.
use super::error::{Result, StoreError};
use super::postgres::{MIGRATION_LOCK, PgConn};
use super::tx::Tx;
use super::value::params;
use rusqlite::Connection;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, V1),
    (2, V2),
    (3, V3),
    (100, V100),
    (101, V101),
    (200, super::records::V200),
    (201, super::records::V201),
    (202, super::records::V202),
    (240, super::records::V240),
    (300, super::units::V300),
    (400, super::signatures::V400),
];

/// Per-kind port overrides of a scan (tests and non-standard services), JSON or NULL.
const V101: &str = "ALTER TABLE scans ADD COLUMN ports TEXT;";

/// Appliances, their enrollment, the sealed-secret store rewraps work on, scans, jobs and
/// results (the scanning side; numbered from 100 so the two halves never collide).
const V100: &str = r#"
CREATE TABLE enrollment_tokens (
    token_hash TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    appliance_id TEXT
);
CREATE TABLE appliances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key BLOB NOT NULL UNIQUE,
    key_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked')),
    poll_secret_hash TEXT NOT NULL,
    credential_hash TEXT UNIQUE,
    credential_collected INTEGER NOT NULL DEFAULT 0,
    enrolled_at INTEGER NOT NULL,
    enrolled_ip TEXT,
    decided_at INTEGER,
    decided_by TEXT,
    reason TEXT,
    last_seen_at INTEGER
);
-- Every NCSM envelope the control plane holds, one per record (or vault) and field: what
-- rewrap work reads and replaces. The envelope carries its own binding.
CREATE TABLE sealed_secrets (
    id INTEGER PRIMARY KEY,
    record_kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    envelope TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (record_kind, record_id, field)
);
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    targets TEXT NOT NULL,
    kinds TEXT NOT NULL,
    appliance_id TEXT REFERENCES appliances(id),
    completed_at INTEGER
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    appliance_id TEXT REFERENCES appliances(id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'cancelled')),
    claimed_by TEXT REFERENCES appliances(id),
    claims INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX jobs_state ON jobs(state);
CREATE TABLE job_targets (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    target_id TEXT NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, target_id)
);
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL UNIQUE,
    target_id TEXT NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    record_id TEXT,
    appliance_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX results_scan ON results(scan_id);
"#;

/// The per-user grant that lets a Unit Manager change records and vaults. Existing Unit
/// Managers start without it: the rule was not enforced before, so nobody chose to give it.
const V3: &str = "ALTER TABLE users ADD COLUMN can_edit_records INTEGER NOT NULL DEFAULT 0;";

/// SMTP delivery bookkeeping for the outbox.
const V2: &str = r#"
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
"#;

const V1: &str = r#"
CREATE TABLE subscription (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    edition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    primary_contact_id INTEGER,
    security TEXT NOT NULL,
    features TEXT NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    api_only INTEGER NOT NULL DEFAULT 0,
    external_id TEXT,
    can_edit_external_ids INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    never_expire INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0,
    session_timeout_minutes INTEGER,
    totp_secret BLOB,
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    totp_last_step INTEGER,
    last_expiry_notice_at INTEGER,
    created_at INTEGER NOT NULL,
    last_login_at INTEGER
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_timeout_minutes INTEGER NOT NULL,
    scope TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    ip TEXT
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_id INTEGER,
    sent_at INTEGER
);
"#;

/// The highest migration applied.
pub fn current_version(tx: &Tx<'_>) -> Result<i64> {
    tx.scalar(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        &[],
    )
}

fn known() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// What a database at `current` with `applied` still needs, or TooNew.
fn pending(current: i64, applied: &[i64]) -> Result<Vec<(i64, &'static str)>> {
    let known = known();
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    // Each half of the schema numbers its own range (scanning from 100, records from 200), so
    // a database may lack a lower number than its highest: apply whatever was not applied.
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.0))
        .copied()
        .collect())
}

pub fn apply_sqlite(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let applied: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()?
    };
    let current = applied.iter().copied().max().unwrap_or(0);
    for (version, sql) in pending(current, &applied)? {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            [version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Applies the missing migrations under a session advisory lock: replicas starting together
/// wait for the first, then find nothing left to do. A replica killed halfway leaves its
/// migration's transaction rolled back and the lock released; the next one to start applies
/// it.
pub(super) fn apply_postgres(conn: &mut PgConn) -> Result<()> {
    conn.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let out = apply_postgres_locked(conn);
    let unlocked = conn.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    out.and(unlocked)
}

fn apply_postgres_locked(conn: &mut PgConn) -> Result<()> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let applied: Vec<i64> = conn
        .query("SELECT version FROM schema_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    let current = applied.iter().copied().max().unwrap_or(0);
    for (version, sql) in pending(current, &applied)? {
        conn.batch("BEGIN")?;
        let step = conn.batch(&postgres_sql(version, sql)).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) \
                 VALUES (?1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))",
                &params![version],
            )
        });
        match step {
            Ok(_) => conn.batch("COMMIT")?,
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Migration 240 for PostgreSQL: the same change with its JSON functions (the column stays
/// text, as on SQLite).
const V240_POSTGRES: &str = r#"
UPDATE auth_records SET windows = jsonb_set(windows::jsonb, '{auth_protocol}', '"ntlm"')::text
WHERE windows IS NOT NULL AND (windows::jsonb -> 'auth_protocol') IS NULL;
"#;

/// Tables SQLite orders by their implicit `rowid`: PostgreSQL gets a column of that name.
const V100_POSTGRES_EXTRA: &str = "
ALTER TABLE enrollment_tokens ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE job_targets ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
";

/// A SQLite migration restated for PostgreSQL: 64-bit integers (times are epoch seconds),
/// identity keys where SQLite's INTEGER PRIMARY KEY is a rowid alias, bytea for blobs, and
/// text compared byte by byte ("C" collation) so ORDER BY and UNIQUE agree with SQLite's.
pub(super) fn postgres_sql(version: i64, sql: &str) -> String {
    if version == 240 {
        return V240_POSTGRES.to_string();
    }
    let mut out = sql
        .replace("INTEGER PRIMARY KEY CHECK", "BIGINT PRIMARY KEY CHECK")
        .replace(
            "INTEGER PRIMARY KEY",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .replace("INTEGER", "BIGINT")
        .replace("BLOB", "BYTEA");
    out = replace_word(&out, "TEXT", "TEXT COLLATE \"C\"");
    if version == 100 {
        out.push_str(V100_POSTGRES_EXTRA);
    }
    out
}

/// `word` as a whole word (an upper-case SQL type) replaced by `with`.
fn replace_word(sql: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        out.push_str(&rest[..i]);
        out.push_str(if boundary(before) && boundary(after) {
            with
        } else {
            word
        });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_restates_types_and_keeps_words_that_contain_them() {
        let sql = postgres_sql(
            1,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB, context TEXT NOT NULL, n INTEGER);",
        );
        assert_eq!(
            sql,
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, k BYTEA, \
             context TEXT COLLATE \"C\" NOT NULL, n BIGINT);"
        );
    }
}

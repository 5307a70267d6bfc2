//! Numbered schema migrations, applied in order at open; each runs once in its own
//! transaction and is recorded in `schema_migrations`.
use super::error::{Result, StoreError};
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

pub fn current_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

pub fn apply(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let current = current_version(conn)?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    // Each half of the schema numbers its own range (scanning from 100, records from 200), so
    // a database may lack a lower number than its highest: apply whatever was not applied.
    let applied: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT version FROM schema_migrations")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()?
    };
    for (version, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
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

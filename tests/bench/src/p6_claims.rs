//! P6: job claims per second and p99 claim latency with 1,000 appliances long-polling one
//! control plane, beside raw SQLite write throughput (rusqlite, WAL, one INSERT per
//! transaction) on the same machine in the same run.

use std::time::Instant;

use rusqlite::{Connection, params};

use crate::report::{Row, rate};

pub const RAW_WRITES: usize = 5_000;

pub fn run(writes: usize) -> Result<Vec<Row>, String> {
    let raw = raw_sqlite_writes(writes)?;
    let row = Row::not_measured(
        "P6 claims",
        "≥ 0.5x raw SQLite writes, p99 ≤ 50 ms",
        format!(
            "the control plane serves no appliance enrollment/claim endpoints in this tree \
             (control-plane/src/api has none), so 1,000 appliances have nothing to long-poll; \
             raw SQLite baseline measured: {raw:.0} single-INSERT transactions/s"
        ),
    );
    row.print();
    let baseline = Row::new(
        "P6 baseline",
        "-",
        format!("{raw:.0} writes/s (WAL, 1 INSERT/txn)"),
        "(baseline only)",
        crate::report::Verdict::Info,
    );
    baseline.print();
    Ok(vec![row, baseline])
}

/// Single-INSERT transactions per second on a fresh WAL database in the temp directory, with
/// the pragmas the control plane's store sets (WAL, synchronous=NORMAL).
pub fn raw_sqlite_writes(writes: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let conn =
        Connection::open(dir.path().join("raw.sqlite")).map_err(|e| format!("open SQLite: {e}"))?;
    let setup = || -> rusqlite::Result<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE claims (id INTEGER PRIMARY KEY, appliance TEXT NOT NULL, \
             job TEXT NOT NULL, claimed_at INTEGER NOT NULL)",
        )
    };
    setup().map_err(|e| format!("SQLite setup: {e}"))?;
    let mut statement = conn
        .prepare("INSERT INTO claims (appliance, job, claimed_at) VALUES (?1, ?2, ?3)")
        .map_err(|e| format!("prepare: {e}"))?;
    let started = Instant::now();
    for i in 0..writes {
        // Autocommit: every execute is its own transaction.
        statement
            .execute(params![
                format!("appliance-{}", i % 1000),
                format!("job-{i}"),
                i as i64
            ])
            .map_err(|e| format!("insert {i}: {e}"))?;
    }
    Ok(rate(writes, started.elapsed().as_secs_f64()))
}

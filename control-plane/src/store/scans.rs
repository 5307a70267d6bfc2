//! Scans, their jobs and targets, leases, and the results appliances post.
use super::error::{Result, StoreError};
use super::tx::{Tx, flag};
use super::value::{Row, params};
pub use sealscan_api::scans::ScanPorts;
use sealscan_protocols::results::{LoginKind, LoginOutcome};

#[derive(Clone, Debug)]
pub struct ScanRow {
    pub id: i64,
    pub title: String,
    pub created_by: String,
    pub created_at: i64,
    pub targets: Vec<String>,
    pub kinds: String,
    pub appliance_id: Option<String>,
    pub completed_at: Option<i64>,
    pub ports: ScanPorts,
}

#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: i64,
    pub scan_id: i64,
    pub appliance_id: Option<String>,
    pub state: String,
    pub claimed_by: Option<String>,
    pub claims: i64,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct JobTargetRow {
    pub target_id: String,
    pub host: String,
    pub kind: LoginKind,
    pub done: bool,
}

#[derive(Clone, Debug)]
pub struct ResultRow {
    pub job_id: i64,
    pub idempotency_key: String,
    pub target_id: String,
    pub host: String,
    pub record_id: Option<String>,
    pub appliance_id: String,
    pub outcome: LoginOutcome,
    pub at: i64,
}

pub fn kind_str(kind: LoginKind) -> &'static str {
    match kind {
        LoginKind::Unix => "unix",
        LoginKind::Windows => "windows",
    }
}

fn parse_kind(s: &str) -> Option<LoginKind> {
    match s {
        "unix" => Some(LoginKind::Unix),
        "windows" => Some(LoginKind::Windows),
        _ => None,
    }
}

fn corrupt(col: usize, what: String) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {what}"))
}

const SCAN_COLUMNS: &str =
    "id, title, created_by, created_at, targets, kinds, appliance_id, completed_at, ports";

fn scan_row(r: &Row) -> Result<ScanRow> {
    let targets: String = r.get(4)?;
    Ok(ScanRow {
        id: r.get(0)?,
        title: r.get(1)?,
        created_by: r.get(2)?,
        created_at: r.get(3)?,
        targets: serde_json::from_str(&targets)
            .map_err(|e| corrupt(4, format!("scan targets: {e}")))?,
        kinds: r.get(5)?,
        appliance_id: r.get(6)?,
        completed_at: r.get(7)?,
        ports: match r.get::<Option<String>>(8)? {
            Some(p) => {
                serde_json::from_str(&p).map_err(|e| corrupt(8, format!("scan ports: {e}")))?
            }
            None => ScanPorts::default(),
        },
    })
}

const JOB_COLUMNS: &str = "id, scan_id, appliance_id, state, claimed_by, claims, \
    lease_expires_at, created_at, completed_at";

fn job_row(r: &Row) -> Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        scan_id: r.get(1)?,
        appliance_id: r.get(2)?,
        state: r.get(3)?,
        claimed_by: r.get(4)?,
        claims: r.get(5)?,
        lease_expires_at: r.get(6)?,
        created_at: r.get(7)?,
        completed_at: r.get(8)?,
    })
}

fn result_row(r: &Row) -> Result<ResultRow> {
    let outcome: String = r.get(6)?;
    Ok(ResultRow {
        job_id: r.get(0)?,
        idempotency_key: r.get(1)?,
        target_id: r.get(2)?,
        host: r.get(3)?,
        record_id: r.get(4)?,
        appliance_id: r.get(5)?,
        outcome: serde_json::from_str(&outcome)
            .map_err(|e| corrupt(6, format!("result outcome: {e}")))?,
        at: r.get(7)?,
    })
}

const RESULT_COLUMNS: &str =
    "job_id, idempotency_key, target_id, host, record_id, appliance_id, outcome, at";

impl Tx<'_> {
    #[allow(clippy::too_many_arguments)]
    pub fn insert_scan(
        &self,
        title: &str,
        created_by: &str,
        now: i64,
        targets: &[String],
        kinds: &str,
        appliance_id: Option<&str>,
        ports: &ScanPorts,
    ) -> Result<i64> {
        let targets = serde_json::to_string(targets)
            .map_err(|e| StoreError::Corrupt(format!("scan targets: {e}")))?;
        let ports = (*ports != ScanPorts::default())
            .then(|| serde_json::to_string(ports))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("scan ports: {e}")))?;
        self.scalar("INSERT INTO scans (title, created_by, created_at, targets, kinds, appliance_id, ports) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id", &params![title, created_by, now, targets, kinds, appliance_id, ports])
    }

    pub fn scan(&self, id: i64) -> Result<Option<ScanRow>> {
        self.one(
            &format!("SELECT {SCAN_COLUMNS} FROM scans WHERE id = ?1"),
            &params![id],
            scan_row,
        )
    }

    pub fn list_scans(&self) -> Result<Vec<ScanRow>> {
        self.query(
            &format!("SELECT {SCAN_COLUMNS} FROM scans ORDER BY id"),
            &[],
            scan_row,
        )
    }

    pub fn insert_job(&self, scan_id: i64, appliance_id: Option<&str>, now: i64) -> Result<i64> {
        let id = self.scalar(
            "INSERT INTO jobs (scan_id, appliance_id, state, created_at) VALUES (?1, ?2, 'queued', ?3) RETURNING id",
            &params![scan_id, appliance_id, now],
        )?;
        // Other replicas' long polls hear of it when this transaction commits.
        if let Some(replica) = self.replica() {
            let payload = format!("{replica} {}", appliance_id.unwrap_or(""));
            self.execute(
                "SELECT pg_notify(?1, ?2)",
                &params![super::postgres::JOBS_CHANNEL, payload],
            )?;
        }
        Ok(id)
    }

    pub fn insert_job_target(
        &self,
        job_id: i64,
        target_id: &str,
        host: &str,
        kind: LoginKind,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO job_targets (job_id, target_id, host, kind) VALUES (?1, ?2, ?3, ?4)",
            &params![job_id, target_id, host, kind_str(kind)],
        )?;
        Ok(())
    }

    pub fn job(&self, id: i64) -> Result<Option<JobRow>> {
        self.one(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            &params![id],
            job_row,
        )
    }

    pub fn jobs_for_scan(&self, scan_id: i64) -> Result<Vec<JobRow>> {
        self.query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE scan_id = ?1 ORDER BY id"),
            &params![scan_id],
            job_row,
        )
    }

    pub fn job_targets(&self, job_id: i64) -> Result<Vec<JobTargetRow>> {
        self.query(
            "SELECT target_id, host, kind, done FROM job_targets WHERE job_id = ?1 ORDER BY rowid",
            &params![job_id],
            |r| {
                let kind: String = r.get(2)?;
                Ok(JobTargetRow {
                    target_id: r.get(0)?,
                    host: r.get(1)?,
                    kind: parse_kind(&kind).ok_or_else(|| corrupt(2, format!("kind {kind:?}")))?,
                    done: r.get(3)?,
                })
            },
        )
    }

    /// The job's targets without a result yet, as `(target_id, host, kind)`: what a claim
    /// hands out and what a waiting job is held back for.
    pub fn open_targets(&self, job_id: i64) -> Result<Vec<(String, String, LoginKind)>> {
        Ok(self
            .job_targets(job_id)?
            .into_iter()
            .filter(|t| !t.done)
            .map(|t| (t.target_id, t.host, t.kind))
            .collect())
    }

    /// Leases that ran out put their jobs back in the queue; their finished targets stay done.
    pub fn requeue_expired_leases(&self, now: i64) -> Result<Vec<i64>> {
        self.query(
            "UPDATE jobs SET state = 'queued', lease_expires_at = NULL \
             WHERE state = 'leased' AND lease_expires_at <= ?1 RETURNING id",
            &params![now],
            |r| r.get(0),
        )
    }

    /// Queued jobs this appliance may run, oldest first.
    pub fn claimable_jobs(&self, appliance_id: &str, limit: u32) -> Result<Vec<JobRow>> {
        self.query(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' \
             AND (appliance_id IS NULL OR appliance_id = ?1) ORDER BY id LIMIT ?2"
            ),
            &params![appliance_id, limit],
            job_row,
        )
    }

    /// Ids of the queued jobs this appliance may run, oldest first: a claim usually takes
    /// the first, so it reads the rest of a row only for the job it looks at.
    pub fn claimable_job_ids(&self, appliance_id: &str, limit: u32) -> Result<Vec<i64>> {
        self.query(
            "SELECT id FROM jobs WHERE state = 'queued' \
             AND (appliance_id IS NULL OR appliance_id = ?1) ORDER BY id LIMIT ?2",
            &params![appliance_id, limit],
            |r| r.get(0),
        )
    }

    /// Jobs this appliance holds an unexpired lease on, oldest first.
    pub fn held_job_ids(&self, appliance_id: &str, now: i64) -> Result<Vec<i64>> {
        self.query(
            "SELECT id FROM jobs WHERE state = 'leased' AND claimed_by = ?1 \
             AND lease_expires_at > ?2 ORDER BY id",
            &params![appliance_id, now],
            |r| r.get(0),
        )
    }

    pub fn lease_job(&self, job_id: i64, appliance_id: &str, expires_at: i64) -> Result<()> {
        self.execute(
            "UPDATE jobs SET state = 'leased', claimed_by = ?2, claims = claims + 1, \
                 lease_expires_at = ?3 WHERE id = ?1",
            &params![job_id, appliance_id, expires_at],
        )?;
        Ok(())
    }

    pub fn extend_lease(&self, job_id: i64, expires_at: i64) -> Result<()> {
        self.execute(
            "UPDATE jobs SET lease_expires_at = ?2 WHERE id = ?1 AND state = 'leased'",
            &params![job_id, expires_at],
        )?;
        Ok(())
    }

    /// Jobs an appliance held go back to the queue (it was revoked).
    pub fn release_jobs_of(&self, appliance_id: &str) -> Result<usize> {
        self.execute(
            "UPDATE jobs SET state = 'queued', lease_expires_at = NULL \
             WHERE state = 'leased' AND claimed_by = ?1",
            &params![appliance_id],
        )
    }

    pub fn result_by_key(&self, key: &str) -> Result<Option<ResultRow>> {
        self.one(
            &format!("SELECT {RESULT_COLUMNS} FROM results WHERE idempotency_key = ?1"),
            &params![key],
            result_row,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_result(
        &self,
        job: &JobRow,
        key: &str,
        target_id: &str,
        host: &str,
        record_id: Option<&str>,
        appliance_id: &str,
        outcome: &LoginOutcome,
        now: i64,
    ) -> Result<()> {
        let outcome = serde_json::to_string(outcome)
            .map_err(|e| StoreError::Corrupt(format!("result outcome: {e}")))?;
        self.execute("INSERT INTO results (job_id, scan_id, idempotency_key, target_id, host, kind, \
             record_id, appliance_id, outcome, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT kind FROM job_targets WHERE job_id = ?1 AND target_id = ?4), \
             ?6, ?7, ?8, ?9)", &params![job.id, job.scan_id, key, target_id, host, record_id, appliance_id, outcome, now])?;
        self.execute(
            "UPDATE job_targets SET done = ?3 WHERE job_id = ?1 AND target_id = ?2",
            &params![job.id, target_id, flag(true)],
        )?;
        Ok(())
    }

    /// Marks the job done once every target has its result, and the scan once all its jobs
    /// are; true when the job completed with this call.
    pub fn complete_job_if_finished(&self, job_id: i64, now: i64) -> Result<bool> {
        let open: i64 = self.scalar(
            "SELECT COUNT(*) FROM job_targets WHERE job_id = ?1 AND done = 0",
            &params![job_id],
        )?;
        if open > 0 {
            return Ok(false);
        }
        let n = self.execute(
            "UPDATE jobs SET state = 'done', completed_at = ?2, lease_expires_at = NULL \
             WHERE id = ?1 AND state != 'done'",
            &params![job_id, now],
        )?;
        self.execute("UPDATE scans SET completed_at = ?2 WHERE completed_at IS NULL \
             AND id = (SELECT scan_id FROM jobs WHERE id = ?1) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.scan_id = scans.id AND j.state != 'done')", &params![job_id, now])?;
        Ok(n == 1)
    }

    pub fn results_for_scan(&self, scan_id: i64) -> Result<Vec<ResultRow>> {
        self.query(
            &format!("SELECT {RESULT_COLUMNS} FROM results WHERE scan_id = ?1 ORDER BY id"),
            &params![scan_id],
            result_row,
        )
    }
}

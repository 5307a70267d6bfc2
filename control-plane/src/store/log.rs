use super::error::Result;
use super::tx::Tx;
use super::value::{Row, params};
pub use sealscan_api::admin::{AuditEntry, OutboxEmail};

fn outbox_row(r: &Row) -> Result<OutboxEmail> {
    Ok(OutboxEmail {
        id: r.get(0)?,
        at: r.get(1)?,
        to: r.get(2)?,
        subject: r.get(3)?,
        body: r.get(4)?,
        kind: r.get(5)?,
        user_id: r.get(6)?,
        sent_at: r.get(7)?,
        attempts: r.get(8)?,
        last_error: r.get(9)?,
    })
}

const OUTBOX_COLUMNS: &str =
    "id, at, to_addr, subject, body, kind, user_id, sent_at, attempts, last_error";

impl Tx<'_> {
    pub fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
        ip: Option<&str>,
    ) -> Result<()> {
        self.execute("INSERT INTO audit_log (at, actor, action, target, detail, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &params![at, actor, action, target, detail.to_string(), ip])?;
        Ok(())
    }

    pub fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        self.query("SELECT id, at, actor, action, target, detail, ip FROM audit_log ORDER BY id DESC LIMIT ?1", &params![limit], |r| {
            let detail: String = r.get(5)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                ip: r.get(6)?,
            })
        })
    }

    pub fn queue_email(
        &self,
        at: i64,
        to: &str,
        subject: &str,
        body: &str,
        kind: &str,
        user_id: Option<i64>,
    ) -> Result<()> {
        self.execute("INSERT INTO outbox (at, to_addr, subject, body, kind, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &params![at, to, subject, body, kind, user_id])?;
        Ok(())
    }

    pub fn list_outbox(&self) -> Result<Vec<OutboxEmail>> {
        self.query(
            &format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"),
            &[],
            outbox_row,
        )
    }

    /// Emails not yet delivered, oldest first.
    pub fn unsent_outbox(&self, limit: u32) -> Result<Vec<OutboxEmail>> {
        self.query(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?1"
            ),
            &params![limit],
            outbox_row,
        )
    }

    /// Marks an email delivered; a delivered reset token is not kept.
    pub fn mark_outbox_sent(&self, id: i64, now: i64) -> Result<()> {
        self.execute(
            "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL, \
             body = CASE WHEN kind = 'password_reset' \
                    THEN '[delivered; the one-time reset token is not kept]' ELSE body END \
             WHERE id = ?1",
            &params![id, now],
        )?;
        Ok(())
    }

    pub fn mark_outbox_failed(&self, id: i64, error: &str) -> Result<()> {
        self.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            &params![id, error],
        )?;
        Ok(())
    }
}

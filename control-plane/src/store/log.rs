use super::{Result, Tx};
use rusqlite::params;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutboxEmail {
    pub id: i64,
    pub at: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub kind: String,
    pub user_id: Option<i64>,
    pub sent_at: Option<i64>,
}

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
        self.tx.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, actor, action, target, detail.to_string(), ip],
        )?;
        Ok(())
    }

    pub fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.tx.prepare(
            "SELECT id, at, actor, action, target, detail, ip FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
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
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
        self.tx.execute(
            "INSERT INTO outbox (at, to_addr, subject, body, kind, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, to, subject, body, kind, user_id],
        )?;
        Ok(())
    }

    pub fn list_outbox(&self) -> Result<Vec<OutboxEmail>> {
        let mut stmt = self.tx.prepare(
            "SELECT id, at, to_addr, subject, body, kind, user_id, sent_at FROM outbox ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OutboxEmail {
                id: r.get(0)?,
                at: r.get(1)?,
                to: r.get(2)?,
                subject: r.get(3)?,
                body: r.get(4)?,
                kind: r.get(5)?,
                user_id: r.get(6)?,
                sent_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

use super::error::{Result, StoreError};
use super::tx::Tx;
use crate::model::{Edition, OperatorFeatures, SecuritySettings, Subscription};
use rusqlite::OptionalExtension;

impl Tx<'_> {
    pub fn subscription(&self) -> Result<Option<Subscription>> {
        let row = self
            .tx
            .query_row(
                "SELECT name, edition, created_at, primary_contact_id, security, features FROM subscription WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((name, edition, created_at, primary_contact_id, security, features)) = row else {
            return Ok(None);
        };
        Ok(Some(Subscription {
            name,
            edition: edition.parse().map_err(StoreError::Corrupt)?,
            created_at,
            primary_contact_id,
            security: serde_json::from_str(&security)
                .map_err(|e| StoreError::Corrupt(format!("security settings: {e}")))?,
            features: serde_json::from_str(&features)
                .map_err(|e| StoreError::Corrupt(format!("operator features: {e}")))?,
        }))
    }

    /// The subscription must exist for every request after `init`.
    pub fn require_subscription(&self) -> Result<Subscription> {
        self.subscription()?.ok_or_else(|| {
            StoreError::Corrupt("no subscription; run `sealscan-control init` first".into())
        })
    }

    pub fn insert_subscription(
        &self,
        name: &str,
        edition: Edition,
        now: i64,
        security: &SecuritySettings,
    ) -> Result<()> {
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO subscription (id, name, edition, created_at, security, features) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                name,
                edition.as_str(),
                now,
                to_json(security)?,
                to_json(&OperatorFeatures::default())?
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(
                "this data directory already holds a subscription".into(),
            ));
        }
        Ok(())
    }

    pub fn set_primary_contact(&self, user_id: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE subscription SET primary_contact_id = ?1 WHERE id = 1",
            [user_id],
        )?;
        Ok(())
    }

    pub fn save_security(&self, s: &SecuritySettings) -> Result<()> {
        self.tx.execute(
            "UPDATE subscription SET security = ?1 WHERE id = 1",
            [to_json(s)?],
        )?;
        Ok(())
    }

    pub fn save_features(&self, f: &OperatorFeatures) -> Result<()> {
        self.tx.execute(
            "UPDATE subscription SET features = ?1 WHERE id = 1",
            [to_json(f)?],
        )?;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

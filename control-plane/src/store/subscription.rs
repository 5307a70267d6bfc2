use super::error::{Result, StoreError};
use super::tx::Tx;
use super::value::params;
use crate::model::{Edition, OperatorFeatures, SecuritySettings, Subscription};

/// The subscription row as SQLite holds it, before its text columns are parsed.
struct StoredSubscription {
    name: String,
    edition: String,
    created_at: i64,
    primary_contact_id: Option<i64>,
    security: String,
    features: String,
}

impl Tx<'_> {
    pub fn subscription(&self) -> Result<Option<Subscription>> {
        let row = self.one(
            "SELECT name, edition, created_at, primary_contact_id, security, features FROM subscription WHERE id = 1", &[],
            |r| {
                Ok(StoredSubscription {
                    name: r.get(0)?,
                    edition: r.get(1)?,
                    created_at: r.get(2)?,
                    primary_contact_id: r.get(3)?,
                    security: r.get(4)?,
                    features: r.get(5)?,
                })
            })?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Subscription {
            name: row.name,
            edition: row.edition.parse().map_err(StoreError::Corrupt)?,
            created_at: row.created_at,
            primary_contact_id: row.primary_contact_id,
            security: serde_json::from_str(&row.security)
                .map_err(|e| StoreError::Corrupt(format!("security settings: {e}")))?,
            features: serde_json::from_str(&row.features)
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
        let sql = self.pick(
            "INSERT OR IGNORE INTO subscription (id, name, edition, created_at, security, features) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            "INSERT INTO subscription (id, name, edition, created_at, security, features) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        );
        let n = self.execute(
            sql,
            &params![
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
        self.execute(
            "UPDATE subscription SET primary_contact_id = ?1 WHERE id = 1",
            &params![user_id],
        )?;
        Ok(())
    }

    pub fn save_security(&self, s: &SecuritySettings) -> Result<()> {
        self.execute(
            "UPDATE subscription SET security = ?1 WHERE id = 1",
            &params![to_json(s)?],
        )?;
        Ok(())
    }

    pub fn save_features(&self, f: &OperatorFeatures) -> Result<()> {
        self.execute(
            "UPDATE subscription SET features = ?1 WHERE id = 1",
            &params![to_json(f)?],
        )?;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

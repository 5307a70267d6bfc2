//! Changes the control plane's operator makes on the data directory (`sealscan-control`),
//! beside the subscription's own users: each one audited as the operator.
use crate::model::OperatorFeatures;
use crate::store::{Store, StoreError, Tx};
use serde_json::{Value, json};

/// Runs `change` in one transaction and audits it as `event` on the subscription, with the
/// details `change` answers; None when it changed nothing, which is not audited.
pub fn change_subscription<T>(
    store: &Store,
    now: i64,
    event: &str,
    change: impl FnOnce(&Tx<'_>) -> Result<(T, Option<Value>), StoreError>,
) -> Result<T, StoreError> {
    store.write(|tx| {
        let (out, details) = change(tx)?;
        if let Some(details) = details {
            tx.audit(now, "operator", event, "subscription", &details, None)?;
        }
        Ok(out)
    })
}

/// Lets the Manager Primary Contact activate NCSM. Answers whether it was enabled before
/// (then nothing changes and nothing is audited).
pub fn enable_ncsm(store: &Store, now: i64) -> Result<bool, StoreError> {
    change_subscription(store, now, "feature.ncsm", |tx| {
        let mut features: OperatorFeatures = tx.require_subscription()?.features;
        if features.ncsm {
            return Ok((true, None));
        }
        features.ncsm = true;
        tx.save_features(&features)?;
        Ok((false, Some(json!({"enabled": true}))))
    })
}

/// Turns never-expiring passwords for API-only users on or off; turning it off withdraws
/// every never-expiring password. Answers how many users lost theirs.
pub fn set_api_never_expire(store: &Store, now: i64, on: bool) -> Result<usize, StoreError> {
    change_subscription(store, now, "feature.api-never-expire", |tx| {
        let sub = tx.require_subscription()?;
        let cleared = if on { 0 } else { tx.clear_never_expire_all()? };
        let mut features = sub.features;
        features.api_never_expire = on;
        tx.save_features(&features)?;
        Ok((
            cleared,
            Some(json!({"enabled": on, "cleared_users": cleared})),
        ))
    })
}

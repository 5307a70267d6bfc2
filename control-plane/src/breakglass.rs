//! Break-glass: what the operator can do on the data directory when no one can sign in to do
//! it through the API (the Primary Contact locked out, an allowlist that excludes everyone
//! who could fix it). Each action is one immediate transaction (see [`crate::store`]), so it
//! works whether the server is stopped or running: a running server sees the change on its
//! next request. Every action is audited as the operator's.
use crate::domain::operator::change_subscription;
use crate::store::{Store, StoreError};
use serde_json::json;

#[derive(Debug, PartialEq, Eq)]
pub enum Unlocked {
    /// The Primary Contact's user name; the account was locked.
    Unlocked(String),
    /// It was not locked; its failed-login count was reset all the same.
    WasOpen(String),
}

/// Re-activates the Manager Primary Contact and clears their failed-login count.
pub fn unlock_primary_contact(store: &Store, now: i64) -> Result<Unlocked, StoreError> {
    store.write(|tx| {
        let sub = tx.require_subscription()?;
        let pc = match sub.primary_contact_id {
            Some(id) => tx.user_by_id(id)?,
            None => None,
        };
        let Some(mut u) = pc else {
            return Err(StoreError::Corrupt(
                "the subscription has no Manager Primary Contact".into(),
            ));
        };
        let was_locked = u.locked;
        u.locked = false;
        u.failed_logins = 0;
        tx.save_user(&u)?;
        tx.audit(
            now,
            "operator",
            "user.unlocked",
            &u.username,
            &json!({"break_glass": true, "was_locked": was_locked}),
            None,
        )?;
        Ok(if was_locked {
            Unlocked::Unlocked(u.username)
        } else {
            Unlocked::WasOpen(u.username)
        })
    })
}

/// Turns the IP allowlist off, keeping its entries so a Manager can fix and re-enable it.
/// Returns whether it was on.
pub fn disable_allowlist(store: &Store, now: i64) -> Result<bool, StoreError> {
    change_subscription(store, now, "allowlist.disabled", |tx| {
        let mut security = tx.require_subscription()?.security;
        let was_on = security.allowlist_enabled;
        security.allowlist_enabled = false;
        tx.save_security(&security)?;
        let details =
            json!({"break_glass": true, "was_enabled": was_on, "entries": &security.allowlist});
        Ok((was_on, Some(details)))
    })
}

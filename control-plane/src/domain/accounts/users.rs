//! Users as the accounts domain sees them: finding the one a request names, who may manage
//! whom, creating a user and changing their fields.
use super::password::{hash_on_pool, set_password};
use crate::authz::{self, Actor};
use crate::domain::{DomainError, DomainResult, Shared};
use crate::lifecycle;
use crate::model::{
    NewUser, Role, SESSION_TIMEOUT_MAX, SESSION_TIMEOUT_MIN, SecuritySettings, Subscription, User,
};
use crate::secrets::Password;
use crate::store::{Tx, UnitOwner};
use sealscan_api::Code;
use serde_json::json;

pub fn session_timeout(minutes: u32) -> Result<(), DomainError> {
    if (SESSION_TIMEOUT_MIN..=SESSION_TIMEOUT_MAX).contains(&minutes) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            Code::SessionTimeoutRange,
            format!(
                "a session timeout is {SESSION_TIMEOUT_MIN} to {SESSION_TIMEOUT_MAX} minutes; {minutes} is outside"
            ),
        ))
    }
}

/// Loads the target user by id or user name.
pub fn target(tx: &Tx<'_>, key: &str) -> Result<User, DomainError> {
    let found = match key.parse::<i64>() {
        Ok(id) => tx.user_by_id(id)?,
        Err(_) => tx.user_by_username(key)?,
    };
    found.ok_or_else(|| DomainError::not_found(Code::UserNotFound, format!("no user {key:?}")))
}

pub fn is_primary(sub: &Subscription, u: &User) -> bool {
    sub.primary_contact_id == Some(u.id)
}

/// Whether `actor` may manage `u`: the role hierarchy, then the business unit.
pub fn manage(tx: &Tx<'_>, actor: &authz::Actor, sub: &Subscription, u: &User) -> DomainResult<()> {
    authz::may_manage(actor, u, is_primary(sub, u))?;
    if actor.role == Role::UnitManager {
        let mine = tx.unit_of(UnitOwner::User(actor.user_id))?;
        let theirs = tx.unit_of(UnitOwner::User(u.id))?;
        authz::same_unit(actor, mine.as_deref(), theirs.as_deref(), "users")?;
    }
    Ok(())
}

/// Changes the user named by `key` in one transaction: `change` edits it and answers the
/// audit event and its details; then the user is saved and the change audited.
pub fn change(
    state: &Shared,
    actor: &Actor,
    ip: &str,
    key: &str,
    change: impl FnOnce(&Tx<'_>, &mut User) -> DomainResult<(&'static str, serde_json::Value)>,
) -> DomainResult<User> {
    let now = state.now();
    state.store.write(|tx| {
        let mut u = target(tx, key)?;
        let (event, details) = change(tx, &mut u)?;
        tx.save_user(&u)?;
        tx.audit(now, &actor.username, event, &u.username, &details, Some(ip))?;
        Ok(u)
    })
}

/// `actor` sets a new password for the user named by `key`, who must change it at the next
/// login; every session of theirs ends. Answers the generated password when the control
/// plane chose it.
pub async fn reset_password(
    state: &Shared,
    actor: &Actor,
    sub: &Subscription,
    ip: &str,
    key: &str,
    password: Option<Password>,
) -> DomainResult<(User, Option<Password>)> {
    crate::ncsm::check_reset_by(state, actor)?;
    let target_user = state.store.read(|tx| {
        let u = target(tx, key)?;
        manage(tx, actor, sub, &u)?;
        Ok::<_, DomainError>(u)
    })?;
    let chosen = lifecycle::choose_password(
        &sub.security,
        &target_user.first_name,
        &target_user.last_name,
        password,
        Code::PasswordRequired,
    )?;
    let (hash, chosen) = hash_on_pool(state, chosen).await?;
    let now = state.now();
    let user = state.store.write(|tx| {
        let mut u = target(tx, key)?;
        set_password(tx, &mut u, hash, now, true)?;
        tx.delete_user_sessions(u.id)?;
        tx.audit(
            now,
            &actor.username,
            "password.reset",
            &u.username,
            &json!({"self_service": false}),
            Some(ip),
        )?;
        Ok::<_, DomainError>(u)
    })?;
    Ok((user, chosen.into_generated()))
}

/// Creates a user with `new`'s profile; its password fields are set here: the password
/// given, or one generated (answered once), per the subscription's options.
pub async fn create(
    state: &Shared,
    actor: &Actor,
    security: &SecuritySettings,
    ip: &str,
    mut new: NewUser,
    password: Option<Password>,
) -> DomainResult<(User, Option<Password>)> {
    let chosen = lifecycle::choose_password(
        security,
        &new.person.first_name,
        &new.person.last_name,
        password,
        Code::PasswordRequired,
    )?;
    let (hash, chosen) = hash_on_pool(state, chosen).await?;
    let now = state.now();
    new.person.first_name = new.person.first_name.trim().to_string();
    new.person.last_name = new.person.last_name.trim().to_string();
    new.password_hash = hash;
    new.must_change_password = security.force_change_first_login;
    let user = state.store.write(|tx| {
        let id = tx.insert_user(&new, now)?;
        // A Unit Manager's users join their unit.
        if actor.role == Role::UnitManager {
            let unit = tx.unit_of(UnitOwner::User(actor.user_id))?;
            tx.set_unit(UnitOwner::User(id), unit.as_deref())?;
        }
        tx.audit(
            now,
            &actor.username,
            "user.created",
            &new.person.username,
            &json!({"role": new.role, "api_only": new.api_only}),
            Some(ip),
        )?;
        tx.user_by_id(id)?
            .ok_or_else(|| DomainError::not_found(Code::UserNotFound, "the new user vanished"))
    })?;
    Ok((user, chosen.into_generated()))
}

/// A change of some of a user's own fields; None keeps the stored value, `Some(None)`
/// clears an optional one.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub api_only: Option<bool>,
    pub external_id: Option<Option<String>>,
    pub session_timeout_minutes: Option<Option<u32>>,
    pub never_expire: Option<bool>,
}

/// Applies `c` to the user named by `key`, whom `actor` must manage; `changed` names the
/// fields given, for the audit (none at all is refused).
pub fn update(
    state: &Shared,
    actor: &Actor,
    sub: &Subscription,
    ip: &str,
    key: &str,
    c: UserChanges,
    changed: &[&str],
) -> DomainResult<User> {
    change(state, actor, ip, key, |tx, u| {
        // The external-ID grant, too, reaches only users the holder may manage.
        manage(tx, actor, sub, u)?;
        if changed.is_empty() {
            return Err(DomainError::invalid(
                Code::UserNothingToChange,
                "the request changes nothing: give at least one of first_name, last_name, email, api_only, external_id, session_timeout_minutes, never_expire",
            ));
        }
        if let Some(v) = c.first_name {
            u.first_name = v.trim().to_string();
        }
        if let Some(v) = c.last_name {
            u.last_name = v.trim().to_string();
        }
        if let Some(v) = c.email {
            u.email = v;
        }
        if let Some(v) = c.api_only {
            if v && is_primary(sub, u) {
                return Err(DomainError::conflict(
                    Code::UserPrimaryContactApiOnly,
                    "the Manager Primary Contact is a person and cannot be an API-only account",
                ));
            }
            u.api_only = v;
            if !v {
                u.never_expire = false;
            }
        }
        if let Some(v) = c.external_id {
            u.external_id = v;
        }
        if let Some(v) = c.session_timeout_minutes {
            u.session_timeout_minutes = v;
        }
        if let Some(v) = c.never_expire {
            if v {
                if !sub.features.api_never_expire {
                    return Err(DomainError::conflict(
                        Code::NeverExpireFeatureOff,
                        "never-expiring passwords are not enabled for this subscription (the control plane's operator enables them)",
                    ));
                }
                if sub.security.never_expire_risk.status != crate::model::RiskStatus::Accepted {
                    return Err(DomainError::conflict(
                        Code::NeverExpireAgreementRequired,
                        "the Manager Primary Contact must first accept the risk agreement (POST /api/v1/security/never-expire-agreement)",
                    ));
                }
                if !u.api_only {
                    return Err(DomainError::conflict(
                        Code::NeverExpireApiOnly,
                        "only API-only users may have a never-expiring password",
                    ));
                }
            }
            u.never_expire = v;
        }
        Ok(("user.updated", json!({"changed": changed})))
    })
}

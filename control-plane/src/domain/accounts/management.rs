//! What a Manager (or Unit Manager, User Administrator, Primary Contact) changes on another
//! user's account: the lock, the role, the external-ID and records permissions, the 2FA
//! enrolment and the business unit. Each change is one transaction, saved and audited.
use super::users::{self, change, is_primary, manage, target};
use crate::authz::{self, Actor};
use crate::domain::{DomainError, DomainResult, Shared, validate};
use crate::model::{Role, Subscription, User};
use crate::store::UnitOwner;
use sealscan_api::Code;
use serde_json::json;

/// Who changes an account: the signed-in actor, their subscription and address.
pub struct Manager<'a> {
    pub actor: &'a Actor,
    pub sub: &'a Subscription,
    pub ip: &'a str,
}

/// Locks or re-activates the user `key` names. A lock ends their sessions; nobody locks or
/// unlocks themself, and the Primary Contact is re-activated by any Manager.
pub fn set_locked(state: &Shared, by: &Manager<'_>, key: &str, locked: bool) -> DomainResult<User> {
    let actor = by.actor;
    change(state, actor, by.ip, key, |tx, u| {
        // The Primary Contact cannot unlock themself: any Manager re-activates them.
        if !(is_primary(by.sub, u) && !locked && actor.role == Role::Manager) {
            manage(tx, actor, by.sub, u)?;
        }
        if u.id == actor.user_id {
            return Err(DomainError::conflict(
                Code::UserSelfLock,
                "you cannot lock or unlock your own account",
            ));
        }
        u.locked = locked;
        u.failed_logins = 0;
        if locked {
            tx.delete_user_sessions(u.id)?;
        }
        let event = if locked {
            "user.locked"
        } else {
            "user.unlocked"
        };
        Ok((event, json!({"by": actor.role})))
    })
}

/// Gives the user `key` names the role `role`; the Primary Contact stays a Manager, and a
/// records grant does not survive a change of role.
pub fn set_role(state: &Shared, by: &Manager<'_>, key: &str, role: Role) -> DomainResult<User> {
    authz::may_assign_role(by.actor, role)?;
    change(state, by.actor, by.ip, key, |tx, u| {
        manage(tx, by.actor, by.sub, u)?;
        if is_primary(by.sub, u) && role != Role::Manager {
            return Err(DomainError::conflict(
                Code::UserPrimaryContactRole,
                "the Manager Primary Contact stays a Manager",
            ));
        }
        let old = u.role;
        u.role = role;
        // The records grant belongs to the Unit Manager role it was given for: a user who
        // leaves it and comes back must be granted again, never silently regain it.
        let records_permission_withdrawn = old != role && u.can_edit_records;
        if records_permission_withdrawn {
            u.can_edit_records = false;
        }
        Ok((
            "user.role-changed",
            json!({"from": old, "to": role, "records_permission_withdrawn": records_permission_withdrawn}),
        ))
    })
}

/// The Primary Contact grants or withdraws one user's permission to edit external IDs, once
/// the subscription's option is on; only Managers, Unit Managers and User Administrators hold
/// it.
pub fn set_external_id_permission(
    state: &Shared,
    by: &Manager<'_>,
    key: &str,
    granted: bool,
) -> DomainResult<User> {
    if !by.sub.security.external_ids_editable {
        return Err(DomainError::conflict(
            Code::ExternalIdsOptionOff,
            "turn on the external-ID option (PUT /api/v1/security/external-ids) before granting the permission",
        ));
    }
    change(state, by.actor, by.ip, key, |_, u| {
        if granted
            && !matches!(
                u.role,
                Role::Manager | Role::UnitManager | Role::UserAdministrator
            )
        {
            return Err(DomainError::conflict(
                Code::ExternalIdsRole,
                format!(
                    "only Managers, Unit Managers and User Administrators can be granted this; {} is a {}",
                    u.username, u.role
                ),
            ));
        }
        u.can_edit_external_ids = granted;
        Ok(("external-ids.permission", json!({"granted": granted})))
    })
}

/// A Manager grants or withdraws a Unit Manager's permission to create, update and delete
/// records and vaults (Managers always have it; no other role can hold it).
pub fn set_records_permission(
    state: &Shared,
    by: &Manager<'_>,
    key: &str,
    granted: bool,
) -> DomainResult<User> {
    change(state, by.actor, by.ip, key, |_, u| {
        if granted && u.role != Role::UnitManager {
            return Err(DomainError::conflict(
                Code::RecordsPermissionRole,
                format!(
                    "only a Unit Manager can be granted the records permission (Managers always have it); {} is a {}",
                    u.username, u.role
                ),
            ));
        }
        let was = u.can_edit_records;
        u.can_edit_records = granted;
        Ok((
            "records.permission",
            json!({"granted": granted, "was": was}),
        ))
    })
}

/// Clears the TOTP enrolment of the user `key` names (lost device) and ends their sessions;
/// they enrol again at the next login when two-factor login is required.
pub fn reset_two_factor(state: &Shared, by: &Manager<'_>, key: &str) -> DomainResult<User> {
    change(state, by.actor, by.ip, key, |tx, u| {
        manage(tx, by.actor, by.sub, u)?;
        u.totp_secret = None;
        u.totp_enabled = false;
        u.totp_last_step = None;
        tx.delete_user_sessions(u.id)?;
        Ok(("2fa.reset", json!({})))
    })
}

/// A unit name as given (trimmed), or none.
pub fn checked_unit(unit: Option<String>) -> DomainResult<Option<String>> {
    match unit {
        Some(u) => {
            validate::text("unit", &u, 64)?;
            Ok(Some(u.trim().to_string()))
        }
        None => Ok(None),
    }
}

/// Puts the user `key` names in business unit `unit`, or takes them out of every unit.
pub fn set_unit(
    state: &Shared,
    by: &Manager<'_>,
    key: &str,
    unit: Option<String>,
) -> DomainResult<(User, Option<String>)> {
    let unit = checked_unit(unit)?;
    let now = state.now();
    state.store.write(|tx| {
        let u = target(tx, key)?;
        authz::may_manage(by.actor, &u, users::is_primary(by.sub, &u))?;
        let was = tx.unit_of(UnitOwner::User(u.id))?;
        tx.set_unit(UnitOwner::User(u.id), unit.as_deref())?;
        tx.audit(
            now,
            &by.actor.username,
            "unit.changed",
            &u.username,
            &json!({"from": was, "to": unit}),
            Some(by.ip),
        )?;
        Ok((u, unit))
    })
}

//! Authorization by role, in one place. Handlers name the action; this module decides.
use crate::domain::DomainError;
use crate::model::{Role, SecuritySettings, User};
use sealscan_api::Code;

#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub primary_contact: bool,
    /// The per-user grant as stored; it only counts while the subscription option is on.
    pub can_edit_external_ids: bool,
    /// A Manager's grant; it only counts for a Unit Manager (Managers always may).
    pub can_edit_records: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ViewUsers,
    CreateUser,
    EditUser,
    LockUser,
    UnlockUser,
    ResetTwoFactor,
    ResetPassword,
    SetRole,
    ManageSecurity,
    ReadOutbox,
    ReadAudit,
    SetNeverExpire,
    /// Options reserved to the Manager Primary Contact.
    PrimaryContactOption,
    /// Authentication records, vault records and NCSM status.
    ViewRecords,
    /// Creating, updating and deleting records and vaults: Managers, and Unit Managers a
    /// Manager has granted the records permission.
    EditRecords,
    /// Granting or withdrawing a Unit Manager's records permission.
    GrantRecordsPermission,
    /// Enrollment tokens, approving, rejecting and revoking appliances.
    ManageAppliances,
    ViewAppliances,
    CreateScan,
    ViewScans,
    /// Putting users, records and vaults in business units.
    SetUnits,
}

impl Action {
    fn describe(self) -> &'static str {
        match self {
            Action::ViewUsers => "viewing users",
            Action::CreateUser => "creating users",
            Action::EditUser => "editing users",
            Action::LockUser => "locking users",
            Action::UnlockUser => "re-activating locked users",
            Action::ResetTwoFactor => "resetting two-factor login",
            Action::ResetPassword => "resetting passwords",
            Action::SetRole => "changing roles",
            Action::ManageSecurity => "security options",
            Action::ReadOutbox => "reading the outbox",
            Action::ReadAudit => "reading the audit log",
            Action::SetNeverExpire => "setting never-expiring passwords",
            Action::PrimaryContactOption => "this option",
            Action::ViewRecords => "viewing authentication and vault records",
            Action::EditRecords => "changing authentication and vault records",
            Action::GrantRecordsPermission => "granting the records permission",
            Action::ManageAppliances => "managing appliances",
            Action::ViewAppliances => "viewing appliances",
            Action::CreateScan => "creating scans",
            Action::ViewScans => "viewing scans and results",
            Action::SetUnits => "setting business units",
        }
    }

    fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ViewUsers
            | Action::CreateUser
            | Action::EditUser
            | Action::ResetPassword
            | Action::SetRole => &[Manager, UnitManager, UserAdministrator],
            // The seed: a locked account is re-activated by a Manager or Unit Manager only.
            Action::LockUser | Action::UnlockUser | Action::ResetTwoFactor => {
                &[Manager, UnitManager]
            }
            Action::ManageSecurity
            | Action::ReadOutbox
            | Action::ReadAudit
            | Action::SetNeverExpire
            | Action::GrantRecordsPermission
            | Action::SetUnits => &[Manager],
            Action::PrimaryContactOption => &[Manager],
            Action::ViewRecords => &[Manager, UnitManager, Scanner, Reader],
            Action::EditRecords => &[Manager, UnitManager],
            Action::ManageAppliances => &[Manager],
            Action::ViewAppliances | Action::CreateScan => &[Manager, UnitManager, Scanner],
            Action::ViewScans => &[Manager, UnitManager, Scanner, Reader],
        }
    }
}

pub fn role_allows(role: Role, primary_contact: bool, action: Action) -> bool {
    action.roles().contains(&role) && (action != Action::PrimaryContactOption || primary_contact)
}

pub fn require(actor: &Actor, action: Action) -> Result<(), DomainError> {
    if role_allows(actor.role, actor.primary_contact, action) {
        if action == Action::EditRecords
            && actor.role == Role::UnitManager
            && !actor.can_edit_records
        {
            return Err(DomainError::forbidden(
                Code::RoleRecordsPermissionRequired,
                "changing authentication and vault records needs a Manager, or a Unit Manager with the records permission; a Manager has not granted it to you (sealscan users records-permission NAME on)",
            ));
        }
        return Ok(());
    }
    if action == Action::PrimaryContactOption && actor.role == Role::Manager {
        return Err(DomainError::forbidden(
            Code::RolePrimaryContactOnly,
            "only the Manager Primary Contact may change this option",
        ));
    }
    let allowed: Vec<&str> = action.roles().iter().map(|r| r.as_str()).collect();
    Err(DomainError::forbidden(
        Code::RoleForbidden,
        format!(
            "{} needs the role {}; you are {}",
            action.describe(),
            allowed.join(" or "),
            actor.role
        ),
    ))
}

/// Managers manage everyone but the Primary Contact (who manages themself); Unit Managers and
/// User Administrators manage only Scanners, Readers and User Administrators.
pub fn may_manage(
    actor: &Actor,
    target: &User,
    target_is_primary: bool,
) -> Result<(), DomainError> {
    if target_is_primary && !actor.primary_contact {
        return Err(DomainError::forbidden(
            Code::UserPrimaryContactProtected,
            "the Manager Primary Contact can only be changed by themself",
        ));
    }
    if actor.role == Role::Manager {
        return Ok(());
    }
    if matches!(target.role, Role::Manager | Role::UnitManager) {
        return Err(DomainError::forbidden(
            Code::RoleTargetForbidden,
            format!("a {} cannot manage a {}", actor.role, target.role),
        ));
    }
    Ok(())
}

pub fn may_assign_role(actor: &Actor, role: Role) -> Result<(), DomainError> {
    if actor.role != Role::Manager && matches!(role, Role::Manager | Role::UnitManager) {
        return Err(DomainError::forbidden(
            Code::RoleTargetForbidden,
            format!("only a Manager may give the role {role}"),
        ));
    }
    Ok(())
}

/// External IDs: the Primary Contact always; Managers, Unit Managers and User Administrators
/// only while the subscription option is on and they hold the grant.
pub fn may_edit_external_id(actor: &Actor, security: &SecuritySettings) -> Result<(), DomainError> {
    if actor.primary_contact {
        return Ok(());
    }
    if !matches!(
        actor.role,
        Role::Manager | Role::UnitManager | Role::UserAdministrator
    ) {
        return Err(DomainError::forbidden(
            Code::ExternalIdsForbidden,
            format!("a {} cannot edit external IDs", actor.role),
        ));
    }
    if !security.external_ids_editable {
        return Err(DomainError::forbidden(
            Code::ExternalIdsOptionOff,
            "editing external IDs is reserved to the Manager Primary Contact (the option is off)",
        ));
    }
    if !actor.can_edit_external_ids {
        return Err(DomainError::forbidden(
            Code::ExternalIdsNotGranted,
            "the Manager Primary Contact has not granted you permission to edit external IDs",
        ));
    }
    Ok(())
}

/// Business units: a Unit Manager manages only the users, records and vaults of their own
/// unit. Having no unit is a unit of its own: a Unit Manager without one manages only what has
/// none (so subscriptions that never use units behave as before). Other roles are not bound.
pub fn same_unit(
    actor: &Actor,
    actor_unit: Option<&str>,
    target_unit: Option<&str>,
    what: &str,
) -> Result<(), DomainError> {
    if actor.role != Role::UnitManager || actor_unit == target_unit {
        return Ok(());
    }
    let name = |u: Option<&str>| u.map_or("no unit".to_string(), |u| format!("unit {u:?}"));
    Err(DomainError::forbidden(
        Code::UnitOtherUnit,
        format!(
            "a Unit Manager manages only the {what} of their business unit ({}); this one is in {}",
            name(actor_unit),
            name(target_unit)
        ),
    ))
}

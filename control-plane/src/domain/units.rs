//! Business units of records and vaults: a Unit Manager changes only those of their unit, and
//! what they create joins it.
use crate::authz::{self, Actor};
use crate::domain::DomainResult;
use crate::model::Role;
use crate::store::{Tx, UnitOwner};

/// A record or vault change by `actor` stays inside their unit when they are a Unit Manager.
pub fn check(tx: &Tx<'_>, actor: &Actor, owner: UnitOwner<'_>) -> DomainResult<()> {
    if actor.role != Role::UnitManager {
        return Ok(());
    }
    let mine = tx.unit_of(UnitOwner::User(actor.user_id))?;
    let theirs = tx.unit_of(owner)?;
    let what = match owner {
        UnitOwner::Vault(_) => "vaults",
        _ => "records",
    };
    authz::same_unit(actor, mine.as_deref(), theirs.as_deref(), what)
}

/// A new record or vault joins its Unit Manager creator's unit; anyone else's starts in none
/// (an id used before by a deleted one keeps no stale unit).
pub fn adopt(tx: &Tx<'_>, actor: &Actor, owner: UnitOwner<'_>) -> DomainResult<()> {
    let unit = if actor.role == Role::UnitManager {
        tx.unit_of(UnitOwner::User(actor.user_id))?
    } else {
        None
    };
    tx.set_unit(owner, unit.as_deref())?;
    Ok(())
}

//! Who changes a record or a vault, and what every such change checks first and records last.
use crate::authz::Actor;
use crate::domain::records::secrets::{self, Owner, SecretModel, is_pending, model_for_change};
use crate::domain::{DomainResult, Shared, units};
use crate::store::{Tx, UnitOwner};
use sealscan_protocols::appliance::SecretValue;
use sealscan_protocols::envelope::Binding;
use serde_json::Value;

/// Who changes a record or a vault, when, and the services the change uses: what every
/// create, update and delete takes along with its transaction.
pub struct Editor<'a> {
    pub state: &'a Shared,
    pub actor: &'a Actor,
    /// When the editor signed in: NCSM applies to them from their next sign-in.
    pub session_created_at: i64,
    /// For the audit.
    pub ip: &'a str,
    /// The time of the change, for its rows and its audit entry.
    pub now: i64,
}

impl Editor<'_> {
    /// Before any change to an existing record or vault: the editor's business unit may hold
    /// it; answers the secret model the change is made under. `migration` is the owner's.
    pub fn changing(
        &self,
        tx: &Tx<'_>,
        owner: UnitOwner<'_>,
        migration: Option<&str>,
    ) -> DomainResult<SecretModel> {
        units::check(tx, self.actor, owner)?;
        self.model(tx, is_pending(migration))
    }

    /// The secret model a change by this editor is made under.
    pub fn model(&self, tx: &Tx<'_>, pending: bool) -> DomainResult<SecretModel> {
        model_for_change(tx, self.state, self.session_created_at, pending)
    }

    /// Accepts `owner`'s given secrets under `model` (the NCSM acceptance rule), stores them
    /// in place of the old ones, and settles a migration they complete.
    pub fn accept(
        &self,
        tx: &Tx<'_>,
        model: SecretModel,
        owner: &Owner<'_>,
        bound: &[(Binding, &SecretValue)],
    ) -> DomainResult<()> {
        secrets::accept(tx, self.state, model, owner, bound, self.now)
    }

    pub fn audit(
        &self,
        tx: &Tx<'_>,
        event: &str,
        target: &str,
        details: &Value,
    ) -> DomainResult<()> {
        tx.audit(
            self.now,
            &self.actor.username,
            event,
            target,
            details,
            Some(self.ip),
        )?;
        Ok(())
    }
}

//! Business units: which unit a user, an authentication record or a vault belongs to. Kept in
//! their own table so the rows of users, records and vaults stay as they are; no row means
//! "no unit".
use super::error::Result;
use super::tx::Tx;
use super::value::params;

pub const V300: &str = "CREATE TABLE business_units (
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'record', 'vault')),
    owner_id TEXT NOT NULL,
    unit TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);";

/// What a unit is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitOwner<'a> {
    User(i64),
    Record(&'a str),
    Vault(&'a str),
}

impl UnitOwner<'_> {
    fn key(&self) -> (&'static str, String) {
        match self {
            UnitOwner::User(id) => ("user", id.to_string()),
            UnitOwner::Record(id) => ("record", (*id).to_string()),
            UnitOwner::Vault(id) => ("vault", (*id).to_string()),
        }
    }
}

impl Tx<'_> {
    pub fn unit_of(&self, owner: UnitOwner<'_>) -> Result<Option<String>> {
        let (kind, id) = owner.key();
        self.one(
            "SELECT unit FROM business_units WHERE owner_kind = ?1 AND owner_id = ?2",
            &params![kind, id.as_str()],
            |r| r.get(0),
        )
    }

    /// Sets the unit, or clears it with `None` (also what a deleted owner's id gets).
    pub fn set_unit(&self, owner: UnitOwner<'_>, unit: Option<&str>) -> Result<()> {
        let (kind, id) = owner.key();
        match unit {
            Some(u) => self.execute(
                "INSERT INTO business_units (owner_kind, owner_id, unit) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (owner_kind, owner_id) DO UPDATE SET unit = excluded.unit",
                &params![kind, id.as_str(), u],
            )?,
            None => self.execute(
                "DELETE FROM business_units WHERE owner_kind = ?1 AND owner_id = ?2",
                &params![kind, id.as_str()],
            )?,
        };
        Ok(())
    }
}

//! The roles a user holds and the subscription's edition, as the API names them.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manager,
    UnitManager,
    Scanner,
    Reader,
    UserAdministrator,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Manager,
        Role::UnitManager,
        Role::Scanner,
        Role::Reader,
        Role::UserAdministrator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::UnitManager => "unit_manager",
            Role::Scanner => "scanner",
            Role::Reader => "reader",
            Role::UserAdministrator => "user_administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of manager, unit_manager, scanner, reader, user_administrator"
                )
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    Standard,
    ExpressLite,
}

impl Edition {
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Standard => "standard",
            Edition::ExpressLite => "express_lite",
        }
    }
}

impl FromStr for Edition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "standard" => Ok(Edition::Standard),
            "express_lite" => Ok(Edition::ExpressLite),
            _ => Err(format!(
                "unknown edition {s:?}; expected standard or express-lite"
            )),
        }
    }
}

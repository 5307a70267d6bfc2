//! SMB2/3 dialect revisions and the record's "minimum SMB version" setting.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    Smb202,
    Smb210,
    Smb300,
    Smb302,
    Smb311,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Smb202,
        Dialect::Smb210,
        Dialect::Smb300,
        Dialect::Smb302,
        Dialect::Smb311,
    ];

    pub fn code(self) -> u16 {
        match self {
            Dialect::Smb202 => 0x0202,
            Dialect::Smb210 => 0x0210,
            Dialect::Smb300 => 0x0300,
            Dialect::Smb302 => 0x0302,
            Dialect::Smb311 => 0x0311,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }

    /// Dialects from `min` up to 3.1.1, the newest this codec speaks.
    pub fn from_min(min: Dialect) -> Vec<Dialect> {
        Self::ALL.into_iter().filter(|d| *d >= min).collect()
    }

    /// The dialect by its exact name ("2.0.2" ... "3.1.1"), as records store it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Smb202 => "2.0.2",
            Dialect::Smb210 => "2.1",
            Dialect::Smb300 => "3.0",
            Dialect::Smb302 => "3.0.2",
            Dialect::Smb311 => "3.1.1",
        }
    }

    /// Every name, for messages that list the choices.
    pub fn names() -> String {
        Self::ALL.map(Dialect::name).join(", ")
    }

    /// SMB 3.x signs with AES-128-CMAC; 2.x with HMAC-SHA256.
    pub fn is_smb3(self) -> bool {
        self >= Dialect::Smb300
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown SMB version {0:?}: expected one of {names}", names = Dialect::names())]
pub struct DialectError(pub String);

impl FromStr for Dialect {
    type Err = DialectError;

    /// Accepts the record's spellings; an empty value or "2"/"1" mean "no minimum above
    /// what this codec speaks" (SMB1 is never offered).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "1" | "2" | "2.0.2" | "2.02" => Ok(Dialect::Smb202),
            "2.1" => Ok(Dialect::Smb210),
            "3" | "3.0" => Ok(Dialect::Smb300),
            "3.0.2" | "3.02" => Ok(Dialect::Smb302),
            "3.1.1" | "3.11" => Ok(Dialect::Smb311),
            other => Err(DialectError(other.to_string())),
        }
    }
}

/// Records store and show the dialect by its exact name.
impl serde::Serialize for Dialect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Dialect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Dialect::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown SMB version: expected one of {}",
                Dialect::names()
            ))
        })
    }
}

/// In JSON Schema: one of the exact names.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Dialect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SmbDialect".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn records_store_the_exact_name() {
        for d in Dialect::ALL {
            let text = serde_json::to_string(&d).expect("serialize");
            assert_eq!(text, format!("\"{}\"", d.name()));
            assert_eq!(serde_json::from_str::<Dialect>(&text).expect("parse"), d);
        }
        // A stored record holds one of the names; `FromStr` stays lenient for the job's text.
        let err = serde_json::from_str::<Dialect>("\"2\"").expect_err("not a name");
        assert!(
            err.to_string().contains("2.0.2, 2.1, 3.0, 3.0.2, 3.1.1"),
            "{err}"
        );
    }
}

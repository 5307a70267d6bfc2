//! The binding: where a sealed secret belongs, and its canonical encoding.

use super::error::{EnvelopeError, Result};
use crate::appliance::SecretFieldName;
use serde::{Deserialize, Serialize};

/// Longest binding field, in bytes, except `vault_url`.
pub const MAX_FIELD_LEN: usize = 1024;
/// Longest `vault_url`, in bytes.
pub const MAX_VAULT_URL_LEN: usize = 2048;

/// Field names in canonical order, as they appear in errors and in the spec.
pub const FIELD_NAMES: [&str; 7] = [
    "record_kind",
    "record_id",
    "field",
    "user",
    "domain",
    "vault_url",
    "secret_name",
];

/// The place a secret is sealed for. Fields that do not apply are empty strings; all are
/// compared byte for byte. Sealers and openers build it with [`Binding::for_record`] or
/// [`Binding::for_vault`], which hold the one normalisation rule, so the CLI, the control
/// plane and the agent cannot disagree about what a secret is bound to.
///
/// In JSON (the appliance API's rewrap items) a field that does not apply is `null`, and
/// `field` must name a [`SecretFieldName`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Binding {
    /// "unix", "windows" or "vault".
    pub record_kind: String,
    pub record_id: String,
    #[serde(deserialize_with = "wire::field_name")]
    pub field: String,
    pub user: String,
    #[serde(default, with = "wire::empty_is_null")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub domain: String,
    #[serde(default, with = "wire::empty_is_null")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub vault_url: String,
    #[serde(default, with = "wire::empty_is_null")]
    #[cfg_attr(feature = "schemars", schemars(with = "Option<String>"))]
    pub secret_name: String,
}

/// The `record_kind` of a vault's web-service password.
pub const VAULT_KIND: &str = "vault";

impl Binding {
    /// The binding of a record's secret. `local` says the record is for local accounts (a
    /// Windows record of domain type `none`): such a record binds no domain whatever its
    /// `domain` holds. See [`Binding::bound_domain`] for the rest of the rule.
    pub fn for_record(
        kind: &str,
        record_id: &str,
        field: SecretFieldName,
        user: &str,
        domain: Option<&str>,
        local: bool,
    ) -> Binding {
        Binding {
            record_kind: kind.to_string(),
            record_id: record_id.to_string(),
            field: field.as_str().to_string(),
            user: user.to_string(),
            domain: if local {
                String::new()
            } else {
                Self::bound_domain(domain).to_string()
            },
            vault_url: String::new(),
            secret_name: String::new(),
        }
    }

    /// The binding of a vault's web-service password.
    pub fn for_vault(vault_id: &str, user: &str, domain: Option<&str>, url: &str) -> Binding {
        Binding {
            record_kind: VAULT_KIND.to_string(),
            record_id: vault_id.to_string(),
            field: SecretFieldName::VaultPassword.as_str().to_string(),
            user: user.to_string(),
            domain: Self::bound_domain(domain).to_string(),
            vault_url: url.to_string(),
            secret_name: String::new(),
        }
    }

    /// The domain a binding carries: none for an absent, empty or all-whitespace domain;
    /// otherwise the domain exactly as stored. Values are not trimmed or case-folded: the
    /// control plane stores them as given and envelopes already sealed are bound to those
    /// bytes.
    pub fn bound_domain(domain: Option<&str>) -> &str {
        domain.filter(|d| !d.trim().is_empty()).unwrap_or("")
    }

    /// The secret field this binding names, or None for a name that is not one.
    pub fn field_name(&self) -> Option<SecretFieldName> {
        SecretFieldName::from_name(&self.field)
    }

    /// The fields in canonical order, paired with their names.
    pub fn fields(&self) -> [(&'static str, &str); 7] {
        [
            (FIELD_NAMES[0], &self.record_kind),
            (FIELD_NAMES[1], &self.record_id),
            (FIELD_NAMES[2], &self.field),
            (FIELD_NAMES[3], &self.user),
            (FIELD_NAMES[4], &self.domain),
            (FIELD_NAMES[5], &self.vault_url),
            (FIELD_NAMES[6], &self.secret_name),
        ]
    }

    /// Checks the rules of spec section 3.
    pub fn validate(&self) -> Result<()> {
        for (index, (name, value)) in self.fields().into_iter().enumerate() {
            if value.len() > max_len(index) {
                return Err(EnvelopeError::InvalidBinding {
                    field: name,
                    reason: "too long",
                });
            }
            if value.as_bytes().contains(&0) {
                return Err(EnvelopeError::InvalidBinding {
                    field: name,
                    reason: "contains a NUL byte",
                });
            }
            if index < 3 && value.is_empty() {
                return Err(EnvelopeError::InvalidBinding {
                    field: name,
                    reason: "must not be empty",
                });
            }
        }
        Ok(())
    }

    /// The first field (in canonical order) where `self` differs from `expected`.
    pub fn first_difference(&self, expected: &Binding) -> Option<&'static str> {
        self.fields()
            .into_iter()
            .zip(expected.fields())
            .find(|((_, a), (_, b))| a.as_bytes() != b.as_bytes())
            .map(|((name, _), _)| name)
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        for (_, value) in self.fields() {
            // Lengths were validated against limits far below u16::MAX.
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
    }
}

pub(crate) fn max_len(index: usize) -> usize {
    if index == 5 {
        MAX_VAULT_URL_LEN
    } else {
        MAX_FIELD_LEN
    }
}

/// The JSON shape of the appliance API, kept from when the wire had its own binding type:
/// fields that do not apply are `null`, and `field` is checked on arrival.
mod wire {
    use crate::appliance::SecretFieldName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn field_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        SecretFieldName::deserialize(d).map(|f| f.as_str().to_string())
    }

    pub mod empty_is_null {
        use super::{Deserialize, Deserializer, Serializer};

        // Serde hands `with` functions the field by reference.
        #[allow(clippy::ptr_arg)]
        pub fn serialize<S: Serializer>(value: &String, s: S) -> Result<S::Ok, S::Error> {
            if value.is_empty() {
                s.serialize_none()
            } else {
                s.serialize_some(value)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
            Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(domain: Option<&str>, local: bool) -> Binding {
        Binding::for_record(
            "windows",
            "r1",
            SecretFieldName::Password,
            "svc",
            domain,
            local,
        )
    }

    #[test]
    fn a_record_binds_no_domain_when_local_absent_empty_or_blank() {
        assert_eq!(windows(Some("CORP"), true).domain, "");
        assert_eq!(windows(None, false).domain, "");
        assert_eq!(windows(Some(""), false).domain, "");
        assert_eq!(windows(Some(" \t "), false).domain, "");
        // A real domain is bound exactly as stored: no trimming, no case folding.
        assert_eq!(windows(Some("Corp "), false).domain, "Corp ");
        let b = windows(Some("CORP"), false);
        assert_eq!(
            b.fields().map(|(_, v)| v.to_string()),
            ["windows", "r1", "password", "svc", "CORP", "", ""].map(String::from)
        );
        assert!(b.validate().is_ok());
    }

    #[test]
    fn a_vault_binds_its_url_and_a_domain_only_when_one_is_given() {
        let b = Binding::for_vault("v1", "api", Some("  "), "https://ss.example/SecretServer");
        assert_eq!(
            b.fields().map(|(_, v)| v.to_string()),
            [
                "vault",
                "v1",
                "vault_password",
                "api",
                "",
                "https://ss.example/SecretServer",
                ""
            ]
            .map(String::from)
        );
        assert_eq!(
            Binding::for_vault("v1", "api", Some("CORP"), "u").domain,
            "CORP"
        );
        assert_eq!(b.field_name(), Some(SecretFieldName::VaultPassword));
    }

    #[test]
    fn json_keeps_the_wire_shape_nulls_for_what_does_not_apply() {
        let b = windows(None, false);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "record_kind": "windows", "record_id": "r1", "field": "password",
                "user": "svc", "domain": null, "vault_url": null, "secret_name": null
            })
        );
        assert_eq!(serde_json::from_value::<Binding>(json).unwrap(), b);
        let short = serde_json::json!({
            "record_kind": "unix", "record_id": "r", "field": "passphrase", "user": "u"
        });
        assert_eq!(serde_json::from_value::<Binding>(short).unwrap().domain, "");
        let bad = serde_json::json!({
            "record_kind": "unix", "record_id": "r", "field": "pin", "user": "u"
        });
        assert!(serde_json::from_value::<Binding>(bad).is_err());
    }
}

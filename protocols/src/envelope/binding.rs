//! The binding: where a sealed secret belongs, and its canonical encoding.

use super::error::{EnvelopeError, Result};

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
/// compared byte for byte, so callers normalise (case, whitespace) before sealing and opening.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    pub record_kind: String,
    pub record_id: String,
    pub field: String,
    pub user: String,
    pub domain: String,
    pub vault_url: String,
    pub secret_name: String,
}

impl Binding {
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

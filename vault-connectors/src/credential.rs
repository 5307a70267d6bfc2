//! The credential a vault secret yields, and how it is assembled from the secret's fields.

use sealscan_protocols::results::Step;

use crate::error::{FailureKind, VaultError};
use sealscan_protocols::secret::SecretBytes;

/// Field slugs of the Secret Server templates sealscan reads.
pub mod slug {
    pub const USERNAME: &str = "username";
    pub const PASSWORD: &str = "password";
    pub const PRIVATE_KEY: &str = "private-key";
    pub const PASSPHRASE: &str = "private-key-passphrase";
    pub const DOMAIN: &str = "domain";
}

/// A target credential, every part in a wiping buffer. `Debug` shows no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The vault's id of the secret it came from (for the journal).
    pub secret_id: i64,
    pub username: SecretBytes,
    /// The account's domain, for Windows and Active Directory accounts.
    pub domain: Option<SecretBytes>,
    pub password: Option<SecretBytes>,
    /// The private key file's bytes as stored (OpenSSH or PEM).
    pub private_key: Option<SecretBytes>,
    pub passphrase: Option<SecretBytes>,
}

/// Fields gathered from a secret, by slug, before the credential is checked for completeness.
#[derive(Default)]
pub(crate) struct Fields {
    pub username: Option<SecretBytes>,
    pub domain: Option<SecretBytes>,
    pub password: Option<SecretBytes>,
    pub private_key: Option<SecretBytes>,
    pub passphrase: Option<SecretBytes>,
}

impl Fields {
    pub(crate) fn set(&mut self, slug_name: &str, value: SecretBytes) {
        if value.is_empty() {
            return;
        }
        let slot = match slug_name.to_ascii_lowercase().as_str() {
            slug::USERNAME => &mut self.username,
            slug::DOMAIN => &mut self.domain,
            slug::PASSWORD => &mut self.password,
            slug::PRIVATE_KEY => &mut self.private_key,
            slug::PASSPHRASE => &mut self.passphrase,
            _ => return,
        };
        *slot = Some(value);
    }

    /// A credential needs a user name and something to log in with.
    pub(crate) fn into_credential(
        self,
        secret_id: i64,
        secret: &str,
    ) -> Result<Credential, VaultError> {
        let missing = |field: &str| {
            VaultError::new(
                Step::SecretFetch,
                FailureKind::FieldMissing {
                    secret: secret.to_string(),
                    field: field.to_string(),
                },
            )
        };
        let username = self.username.ok_or_else(|| missing(slug::USERNAME))?;
        if self.password.is_none() && self.private_key.is_none() {
            return Err(missing("password or private-key"));
        }
        Ok(Credential {
            secret_id,
            username,
            domain: self.domain,
            password: self.password,
            private_key: self.private_key,
            passphrase: self.passphrase,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_needs_a_user_and_a_secret() {
        let mut f = Fields::default();
        f.set("Username", SecretBytes::copy_from(b"scan"));
        let e = f.into_credential(1, "\"x\"").unwrap_err();
        assert_eq!(
            e.cause().detail,
            "secret \"x\" has no password or private-key field"
        );
        let mut f = Fields::default();
        f.set("password", SecretBytes::copy_from(b"pw"));
        assert!(matches!(
            f.into_credential(1, "\"x\"").unwrap_err().kind,
            FailureKind::FieldMissing { .. }
        ));
        let mut f = Fields::default();
        f.set("username", SecretBytes::copy_from(b"scan"));
        f.set("private-key", SecretBytes::copy_from(b"KEY"));
        let c = f.into_credential(1, "\"x\"").unwrap();
        assert_eq!(c.private_key.unwrap().expose(), b"KEY");
        assert!(!format!("{:?}", c.username).contains("scan"));
    }
}

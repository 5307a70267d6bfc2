//! Opening NCSM envelopes with the identity key (docs/ncsm-envelope.md).
//!
//! The expected binding is always rebuilt by the agent from the job's own record fields, so a
//! control plane that edits a record's user, domain or vault, or moves an envelope to another
//! record or field, gets `BindingMismatch` here and the login never starts.

use sealscan_protocols::envelope::{self, Binding, Envelope, RecipientKey};
use sealscan_protocols::secret::SecretBytes;

/// Opens `envelope_text` as `me` (the identity key, prepared once by
/// [`crate::identity::IdentityKey::recipient`] so no open re-derives the public key),
/// requiring the binding to equal `expected`. The plaintext stays in the final-size buffer the
/// codec allocated. The error is a cause detail, free of any secret.
pub fn open(
    envelope_text: &str,
    expected: &Binding,
    me: &RecipientKey<'_>,
) -> Result<SecretBytes, String> {
    let envelope = Envelope::from_text(envelope_text).map_err(|e| e.to_string())?;
    envelope::open_as(&envelope, expected, me).map_err(|e| e.to_string())
}

/// Adds `new_public_key` as a recipient of an envelope this appliance can open (rewrap),
/// keeping header and payload unchanged. Returns the new envelope's text form. `me` is
/// prepared once for a loop over many items.
pub fn add_recipient_as(
    envelope_text: &str,
    expected: &Binding,
    me: &RecipientKey<'_>,
    new_public_key: &[u8; 32],
) -> Result<String, String> {
    let envelope = Envelope::from_text(envelope_text).map_err(|e| e.to_string())?;
    envelope::add_recipient_as(&envelope, expected, me, new_public_key)
        .map(|e| e.to_text())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealscan_protocols::appliance::SecretFieldName;
    use sealscan_protocols::envelope::{PrivateKey, seal};

    fn fields() -> Binding {
        Binding::for_record("unix", "r1", SecretFieldName::Password, "root", None, false)
    }

    #[test]
    fn opens_what_was_sealed_to_it_and_refuses_a_repointed_binding() {
        let me = PrivateKey::generate().unwrap();
        let sealed = seal(b"s3cret", &fields(), &[me.public_key()])
            .unwrap()
            .to_text();
        let opened = open(&sealed, &fields(), &RecipientKey::new(me.as_bytes())).unwrap();
        assert_eq!(opened.expose(), b"s3cret");

        let mut other = fields();
        other.user = "admin".into();
        let err = open(&sealed, &other, &RecipientKey::new(me.as_bytes())).unwrap_err();
        assert!(err.contains("user"), "{err}");
        assert!(!err.contains("s3cret"));
        assert!(open("ncsm1:AAAA", &fields(), &RecipientKey::new(me.as_bytes())).is_err());
    }

    #[test]
    fn rewrap_lets_the_new_appliance_open_it() {
        let me = PrivateKey::generate().unwrap();
        let new = PrivateKey::generate().unwrap();
        let sealed = seal(b"pw", &fields(), &[me.public_key()])
            .unwrap()
            .to_text();
        assert!(open(&sealed, &fields(), &RecipientKey::new(new.as_bytes())).is_err());
        let rewrapped = add_recipient_as(
            &sealed,
            &fields(),
            &RecipientKey::new(me.as_bytes()),
            &new.public_key(),
        )
        .unwrap();
        assert_eq!(
            open(&rewrapped, &fields(), &RecipientKey::new(new.as_bytes()))
                .unwrap()
                .expose(),
            b"pw"
        );
    }

    /// A control plane that states another binding than the envelope's (a compromised one:
    /// the real control plane takes each item's binding from the envelope itself, so the
    /// end-to-end tests cannot drive this) gets no rewrap for that item.
    #[test]
    fn rewrap_refuses_an_item_whose_stated_binding_is_not_the_envelopes() {
        let me = PrivateKey::generate().unwrap();
        let new = PrivateKey::generate().unwrap();
        let sealed = seal(b"keep-out", &fields(), &[me.public_key()])
            .unwrap()
            .to_text();
        let mut claimed = fields();
        claimed.record_id = "r9".into();
        let err = add_recipient_as(
            &sealed,
            &claimed,
            &RecipientKey::new(me.as_bytes()),
            &new.public_key(),
        )
        .unwrap_err();
        assert!(!err.contains("keep-out"), "{err}");
    }
}

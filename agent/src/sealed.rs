//! Opening NCSM envelopes with the identity key.
//!
//! The envelope codec (`sealscan_protocols::envelope`, docs/ncsm-envelope.md) has not landed
//! in this tree yet. Until it does, a sealed secret is refused at the envelope step with that
//! reason: the agent never guesses at a format, and never logs in without checking the
//! binding.

use crate::secret::SecretBytes;
use sealscan_protocols::appliance::BindingFields;

/// Opens `envelope_text` with `private_key`, requiring the binding to equal `expected`.
/// The error is a cause detail, free of any secret.
pub fn open(
    envelope_text: &str,
    expected: &BindingFields,
    private_key: &[u8; 32],
) -> Result<SecretBytes, String> {
    let _ = (envelope_text, expected, private_key);
    Err(
        "this agent build cannot open NCSM envelopes: the envelope codec \
         (sealscan_protocols::envelope) is not part of it"
            .to_string(),
    )
}

/// Adds `new_public_key` as a recipient of an envelope this appliance can open (rewrap),
/// keeping the payload unchanged. Same limitation as [`open`].
pub fn add_recipient(
    envelope_text: &str,
    expected: &BindingFields,
    private_key: &[u8; 32],
    new_public_key: &[u8; 32],
) -> Result<String, String> {
    let _ = (envelope_text, expected, private_key, new_public_key);
    Err(
        "this agent build cannot rewrap NCSM envelopes: the envelope codec \
         (sealscan_protocols::envelope) is not part of it"
            .to_string(),
    )
}

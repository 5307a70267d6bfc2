//! The NCSM envelope: a secret sealed with HPKE (RFC 9180) to appliance keys and bound to the
//! record, field, user and vault it belongs to. docs/ncsm-envelope.md is the specification;
//! this module follows it section by section.

mod binding;
mod error;
mod hpke_open;
mod keys;
mod random;
mod seal;
mod wire;

pub use binding::{Binding, FIELD_NAMES, MAX_FIELD_LEN, MAX_VAULT_URL_LEN, VAULT_KIND};
pub use error::{EnvelopeError, Result, Stage};
pub use keys::{PRIVATE_KEY_LEN, PrivateKey, public_key};
pub use seal::{
    RecipientKey, SealRandomness, add_recipient, add_recipient_as, add_recipient_with_seed, open,
    open_as, same_payload, seal, seal_with_randomness,
};
pub use wire::{
    Envelope, MAX_ENVELOPE_LEN, MAX_PLAINTEXT_LEN, MAX_RECIPIENTS, MAX_TEXT_LEN, RecipientEntry,
    TEXT_PREFIX,
};

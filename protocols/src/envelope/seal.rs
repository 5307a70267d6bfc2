//! Sealing, opening and rewrapping (spec sections 5 and 6).

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::binding::Binding;
use super::error::{EnvelopeError, Result, Stage, hex_id};
use super::hpke_open;
use super::keys::{PRIVATE_KEY_LEN, public_key};
use super::random::{self, FixedSeed};
use super::wire::{
    CONTENT_KEY_LEN, ENC_LEN, Envelope, MAX_PLAINTEXT_LEN, MAX_RECIPIENTS, NONCE_LEN,
    RecipientEntry, TAG_LEN, WRAPPED_LEN,
};
use crate::identity::{KEY_ID_LEN, PUBLIC_KEY_LEN, key_id};
use crate::secret::SecretBytes;

const WRAP_INFO_LABEL: &[u8] = b"sealscan ncsm v1 wrap\0";

/// All the randomness one seal consumes. Only test vectors should build this by hand.
pub struct SealRandomness {
    pub content_key: Zeroizing<[u8; CONTENT_KEY_LEN]>,
    pub payload_nonce: [u8; NONCE_LEN],
    /// One HPKE `ikmE` per recipient, in the order the recipients are given.
    pub ephemeral_ikm: Vec<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for SealRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealRandomness([REDACTED])")
    }
}

impl SealRandomness {
    fn from_os(recipients: usize) -> Result<Self> {
        let mut content_key = Zeroizing::new([0u8; CONTENT_KEY_LEN]);
        random::fill(content_key.as_mut_slice())?;
        let mut payload_nonce = [0u8; NONCE_LEN];
        random::fill(&mut payload_nonce)?;
        let ephemeral_ikm = (0..recipients)
            .map(|_| fresh_seed())
            .collect::<Result<Vec<_>>>()?;
        Ok(SealRandomness {
            content_key,
            payload_nonce,
            ephemeral_ikm,
        })
    }
}

fn fresh_seed() -> Result<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    random::fill(seed.as_mut_slice())?;
    Ok(seed)
}

/// Seals `plaintext` for `binding` to every public key in `recipients`.
pub fn seal(
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[[u8; PUBLIC_KEY_LEN]],
) -> Result<Envelope> {
    check_seal_inputs(plaintext, binding, recipients)?;
    let randomness = SealRandomness::from_os(recipients.len())?;
    seal_with_randomness(plaintext, binding, recipients, &randomness)
}

/// [`seal`] with every random value supplied by the caller, for reproducible test vectors.
/// Never use fixed randomness for real secrets.
pub fn seal_with_randomness(
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[[u8; PUBLIC_KEY_LEN]],
    randomness: &SealRandomness,
) -> Result<Envelope> {
    check_seal_inputs(plaintext, binding, recipients)?;
    if randomness.ephemeral_ikm.len() != recipients.len() {
        return Err(EnvelopeError::Randomness);
    }
    let mut envelope = Envelope {
        binding: binding.clone(),
        nonce: randomness.payload_nonce,
        ciphertext: Vec::new(),
        recipients: Vec::with_capacity(recipients.len()),
    };
    let header = envelope.header_bytes();
    // Encrypted in place in a buffer sized for ciphertext and tag, so it never reallocates and
    // is wiped if encryption fails while it still holds the plaintext.
    let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buffer.extend_from_slice(plaintext);
    let tag = ChaCha20Poly1305::new(Key::from_slice(randomness.content_key.as_slice()))
        .encrypt_in_place_detached(Nonce::from_slice(&envelope.nonce), &header, &mut buffer)
        .map_err(|_| EnvelopeError::LimitExceeded {
            what: "plaintext too long for the payload AEAD",
        })?;
    buffer.extend_from_slice(&tag);
    envelope.ciphertext = std::mem::take(&mut *buffer);

    let context = WrapContext::of(&envelope, &header);
    for (index, (pk, seed)) in recipients.iter().zip(&randomness.ephemeral_ikm).enumerate() {
        let entry = context.wrap(&randomness.content_key, pk, seed, index)?;
        insert_sorted(&mut envelope.recipients, entry)?;
    }
    Ok(envelope)
}

fn check_seal_inputs(
    plaintext: &[u8],
    binding: &Binding,
    recipients: &[[u8; PUBLIC_KEY_LEN]],
) -> Result<()> {
    binding.validate()?;
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::LimitExceeded {
            what: "plaintext longer than 65536 bytes",
        });
    }
    if recipients.is_empty() {
        return Err(EnvelopeError::Malformed {
            at: "no recipients given",
        });
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(EnvelopeError::LimitExceeded {
            what: "more than 64 recipients",
        });
    }
    Ok(())
}

/// An appliance's private key prepared for opening: its public key and key id derived once,
/// so an open costs one Diffie-Hellman and the AEADs, not a base-point multiplication more to
/// find its recipient entry and another inside HPKE's Decap. Build it once when the key is
/// loaded and reuse it for every open.
pub struct RecipientKey<'k> {
    private_key: &'k [u8; PRIVATE_KEY_LEN],
    public_key: [u8; PUBLIC_KEY_LEN],
    key_id: [u8; KEY_ID_LEN],
}

impl<'k> RecipientKey<'k> {
    /// Derives the public key and key id from `private_key`.
    pub fn new(private_key: &'k [u8; PRIVATE_KEY_LEN]) -> Self {
        Self::with_public_key(private_key, &public_key(private_key))
    }

    /// Takes a public key the caller already derived from `private_key` (the agent's identity
    /// key holds both). A public key that is not the private key's makes every open fail with
    /// an authentication or not-a-recipient error; it never opens anything it should not.
    pub fn with_public_key(
        private_key: &'k [u8; PRIVATE_KEY_LEN],
        public_key: &[u8; PUBLIC_KEY_LEN],
    ) -> Self {
        RecipientKey {
            private_key,
            public_key: *public_key,
            key_id: key_id(public_key),
        }
    }

    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public_key
    }

    pub fn key_id(&self) -> &[u8; KEY_ID_LEN] {
        &self.key_id
    }
}

impl std::fmt::Debug for RecipientKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientKey")
            .field("key_id", &hex_id(&self.key_id))
            .finish_non_exhaustive()
    }
}

/// Opens `envelope` with this appliance's private key, if it is bound to `expected`.
/// The plaintext comes back in a buffer allocated at its final size and wiped on drop.
/// Derives the key id on every call: callers that open more than once use [`open_as`].
pub fn open(
    envelope: &Envelope,
    expected: &Binding,
    my_private_key: &[u8; PRIVATE_KEY_LEN],
) -> Result<SecretBytes> {
    open_as(envelope, expected, &RecipientKey::new(my_private_key))
}

/// [`open`] with a prepared key.
pub fn open_as(
    envelope: &Envelope,
    expected: &Binding,
    me: &RecipientKey<'_>,
) -> Result<SecretBytes> {
    let header = checked_header(envelope, expected)?;
    let context = WrapContext::of(envelope, &header);
    let content_key = unwrap_content_key(envelope, &context, me)?;
    decrypt_payload(envelope, &header, &content_key)
}

/// Adds a recipient entry for `new_public_key` to an envelope this appliance can open.
/// Header and payload bytes stay identical (see [`same_payload`]).
pub fn add_recipient(
    envelope: &Envelope,
    expected: &Binding,
    my_private_key: &[u8; PRIVATE_KEY_LEN],
    new_public_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<Envelope> {
    add_recipient_as(
        envelope,
        expected,
        &RecipientKey::new(my_private_key),
        new_public_key,
    )
}

/// [`add_recipient`] with a prepared key: a rewrap of many records derives it once.
pub fn add_recipient_as(
    envelope: &Envelope,
    expected: &Binding,
    me: &RecipientKey<'_>,
    new_public_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<Envelope> {
    let seed = fresh_seed()?;
    rewrap(envelope, expected, me, new_public_key, &seed)
}

/// [`add_recipient`] with the HPKE ephemeral seed supplied, for reproducible test vectors.
pub fn add_recipient_with_seed(
    envelope: &Envelope,
    expected: &Binding,
    my_private_key: &[u8; PRIVATE_KEY_LEN],
    new_public_key: &[u8; PUBLIC_KEY_LEN],
    ephemeral_ikm: &[u8; 32],
) -> Result<Envelope> {
    let me = RecipientKey::new(my_private_key);
    rewrap(envelope, expected, &me, new_public_key, ephemeral_ikm)
}

fn rewrap(
    envelope: &Envelope,
    expected: &Binding,
    me: &RecipientKey<'_>,
    new_public_key: &[u8; PUBLIC_KEY_LEN],
    ephemeral_ikm: &[u8; 32],
) -> Result<Envelope> {
    if envelope.recipients.len() >= MAX_RECIPIENTS {
        return Err(EnvelopeError::LimitExceeded {
            what: "more than 64 recipients",
        });
    }
    let new_id = key_id(new_public_key);
    if envelope.recipients.iter().any(|r| r.key_id == new_id) {
        return Err(EnvelopeError::AlreadyARecipient {
            key_id: hex_id(&new_id),
        });
    }
    let header = checked_header(envelope, expected)?;
    let context = WrapContext::of(envelope, &header);
    let content_key = unwrap_content_key(envelope, &context, me)?;
    // Authenticate the payload before passing its key on, so a rewrap never vouches for a
    // ciphertext that would not open.
    drop(decrypt_payload(envelope, &header, &content_key)?);
    let entry = context.wrap(&content_key, new_public_key, ephemeral_ikm, 0)?;
    let mut out = envelope.clone();
    insert_sorted(&mut out.recipients, entry)?;
    Ok(out)
}

/// The header bytes, once the binding is the expected one: the payload AEAD and the wrap
/// context both need them, so they are serialised once per open.
fn checked_header(envelope: &Envelope, expected: &Binding) -> Result<Vec<u8>> {
    if let Some(field) = envelope.binding.first_difference(expected) {
        return Err(EnvelopeError::BindingMismatch { field });
    }
    Ok(envelope.header_bytes())
}

/// Whether two envelopes carry the same header and the same payload ciphertext: a rewrap
/// changes only the recipient entries, so this holds between an envelope and its rewrap.
pub fn same_payload(a: &Envelope, b: &Envelope) -> bool {
    a.binding == b.binding && a.nonce == b.nonce && a.ciphertext == b.ciphertext
}

/// The HPKE `info` and `aad` inputs shared by every recipient entry of one envelope.
struct WrapContext {
    info: Vec<u8>,
    payload_hash: [u8; 32],
}

impl WrapContext {
    fn of(envelope: &Envelope, header: &[u8]) -> Self {
        let mut info = Vec::with_capacity(WRAP_INFO_LABEL.len() + 32);
        info.extend_from_slice(WRAP_INFO_LABEL);
        info.extend_from_slice(&Sha256::digest(header));
        WrapContext {
            info,
            payload_hash: envelope.payload_hash(),
        }
    }

    fn aad(&self, key_id: &[u8; KEY_ID_LEN]) -> [u8; 32 + KEY_ID_LEN] {
        let mut aad = [0u8; 32 + KEY_ID_LEN];
        let (hash, id) = aad.split_at_mut(32);
        hash.copy_from_slice(&self.payload_hash);
        id.copy_from_slice(key_id);
        aad
    }

    fn wrap(
        &self,
        content_key: &[u8; CONTENT_KEY_LEN],
        public_key: &[u8; PUBLIC_KEY_LEN],
        ephemeral_ikm: &[u8; 32],
        index: usize,
    ) -> Result<RecipientEntry> {
        let id = key_id(public_key);
        let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(public_key)
            .map_err(|_| EnvelopeError::InvalidPublicKey { index })?;
        let mut rng = FixedSeed::new(ephemeral_ikm);
        let (enc, wrapped) = hpke::single_shot_seal::<HpkeChaCha, HkdfSha256, X25519HkdfSha256, _>(
            &OpModeS::Base,
            &pk,
            &self.info,
            content_key,
            &self.aad(&id),
            &mut rng,
        )
        .map_err(|_| EnvelopeError::InvalidPublicKey { index })?;
        rng.check_fully_used()?;
        let enc_bytes = enc.to_bytes();
        let mut entry = RecipientEntry {
            key_id: id,
            enc: [0u8; ENC_LEN],
            wrapped: [0u8; WRAPPED_LEN],
        };
        if enc_bytes.len() != ENC_LEN || wrapped.len() != WRAPPED_LEN {
            return Err(EnvelopeError::Malformed {
                at: "HPKE produced an unexpected wrap size",
            });
        }
        entry.enc.copy_from_slice(&enc_bytes);
        entry.wrapped.copy_from_slice(&wrapped);
        Ok(entry)
    }
}

fn insert_sorted(recipients: &mut Vec<RecipientEntry>, entry: RecipientEntry) -> Result<()> {
    match recipients.binary_search_by(|r| r.key_id.cmp(&entry.key_id)) {
        Ok(_) => Err(EnvelopeError::AlreadyARecipient {
            key_id: hex_id(&entry.key_id),
        }),
        Err(at) => {
            recipients.insert(at, entry);
            Ok(())
        }
    }
}

fn unwrap_content_key(
    envelope: &Envelope,
    context: &WrapContext,
    me: &RecipientKey<'_>,
) -> Result<Zeroizing<[u8; CONTENT_KEY_LEN]>> {
    let entry = envelope
        .recipients
        .iter()
        .find(|r| r.key_id == me.key_id)
        .ok_or_else(|| EnvelopeError::NotARecipient {
            key_id: hex_id(&me.key_id),
        })?;
    hpke_open::open_content_key(
        me.private_key,
        &me.public_key,
        &entry.enc,
        &context.info,
        &entry.wrapped,
        &context.aad(&me.key_id),
    )
    .map_err(|_| EnvelopeError::Authentication(Stage::Wrap))
}

fn decrypt_payload(
    envelope: &Envelope,
    header: &[u8],
    content_key: &[u8; CONTENT_KEY_LEN],
) -> Result<SecretBytes> {
    let body_len =
        envelope
            .ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(EnvelopeError::Malformed {
                at: "payload ciphertext shorter than its 16-byte tag",
            })?;
    let (body, tag) = envelope.ciphertext.split_at(body_len);
    let mut plaintext = SecretBytes::zeroed(body_len);
    plaintext.expose_mut().copy_from_slice(body);
    ChaCha20Poly1305::new(Key::from_slice(content_key))
        .decrypt_in_place_detached(
            Nonce::from_slice(&envelope.nonce),
            header,
            plaintext.expose_mut(),
            Tag::from_slice(tag),
        )
        .map_err(|_| EnvelopeError::Authentication(Stage::Payload))?;
    Ok(plaintext)
}

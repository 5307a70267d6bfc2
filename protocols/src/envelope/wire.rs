//! The byte layout of spec section 4 and the text form: strict parsing, canonical encoding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::binding::{Binding, max_len};
use super::error::{EnvelopeError, Result};
use crate::identity::KEY_ID_LEN;

pub const MAGIC: &[u8; 4] = b"NCSM";
pub const VERSION: u8 = 1;
pub const KEM_ID: u16 = 0x0020;
pub const KDF_ID: u16 = 0x0001;
pub const AEAD_ID: u16 = 0x0003;
pub const TEXT_PREFIX: &str = "ncsm1:";

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const CONTENT_KEY_LEN: usize = 32;
pub const ENC_LEN: usize = 32;
pub const WRAPPED_LEN: usize = CONTENT_KEY_LEN + TAG_LEN;
pub const ENTRY_LEN: usize = KEY_ID_LEN + ENC_LEN + WRAPPED_LEN;

pub const MAX_PLAINTEXT_LEN: usize = 65536;
pub const MAX_CIPHERTEXT_LEN: usize = MAX_PLAINTEXT_LEN + TAG_LEN;
pub const MAX_RECIPIENTS: usize = 64;
/// Largest possible envelope (spec section 7).
pub const MAX_ENVELOPE_LEN: usize = 4
    + 1
    + 6
    + 7 * 2
    + 6 * 1024
    + 2048
    + NONCE_LEN
    + 4
    + MAX_CIPHERTEXT_LEN
    + 2
    + MAX_RECIPIENTS * ENTRY_LEN;
/// Largest possible text form: the prefix and unpadded base64url of the largest envelope.
pub const MAX_TEXT_LEN: usize = TEXT_PREFIX.len() + (MAX_ENVELOPE_LEN * 4).div_ceil(3);

/// One appliance's wrapped copy of the content key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientEntry {
    pub key_id: [u8; KEY_ID_LEN],
    pub enc: [u8; ENC_LEN],
    pub wrapped: [u8; WRAPPED_LEN],
}

/// A parsed NCSM envelope. Parsing is strict, so `from_bytes(b)?.to_bytes() == b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub(crate) binding: Binding,
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: Vec<u8>,
    /// Sorted strictly ascending by key id.
    pub(crate) recipients: Vec<RecipientEntry>,
}

impl Envelope {
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Key ids of the recipients, ascending.
    pub fn recipient_key_ids(&self) -> impl Iterator<Item = &[u8; KEY_ID_LEN]> {
        self.recipients.iter().map(|r| &r.key_id)
    }

    /// The Header section's bytes (spec section 4).
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&KEM_ID.to_be_bytes());
        out.extend_from_slice(&KDF_ID.to_be_bytes());
        out.extend_from_slice(&AEAD_ID.to_be_bytes());
        self.binding.encode_into(&mut out);
        out
    }

    /// The Payload section's bytes: nonce, length, ciphertext.
    pub fn payload_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NONCE_LEN + 4 + self.ciphertext.len());
        out.extend_from_slice(&self.nonce);
        let len = u32::try_from(self.ciphertext.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    pub(crate) fn payload_hash(&self) -> [u8; 32] {
        Sha256::digest(self.payload_bytes()).into()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header_bytes();
        out.extend_from_slice(&self.payload_bytes());
        let count = u16::try_from(self.recipients.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for entry in &self.recipients {
            out.extend_from_slice(&entry.key_id);
            out.extend_from_slice(&entry.enc);
            out.extend_from_slice(&entry.wrapped);
        }
        out
    }

    pub fn to_text(&self) -> String {
        let mut text = String::from(TEXT_PREFIX);
        URL_SAFE_NO_PAD.encode_string(self.to_bytes(), &mut text);
        text
    }

    pub fn from_text(text: &str) -> Result<Self> {
        if text.len() > MAX_TEXT_LEN {
            return Err(EnvelopeError::LimitExceeded {
                what: "text form longer than the largest envelope",
            });
        }
        let body = text
            .strip_prefix(TEXT_PREFIX)
            .ok_or(EnvelopeError::Malformed {
                at: "text form does not start with \"ncsm1:\"",
            })?;
        // The faults in the order docs/ncsm-envelope.md section 4 fixes, so that every
        // implementation names the same one when a text has several.
        let malformed = |at| EnvelopeError::Malformed { at };
        if body.contains('=') {
            return Err(malformed(PADDING));
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(malformed(ALPHABET));
        }
        if body.len() % 4 == 1 {
            return Err(malformed(LENGTH));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| malformed(text_fault(&e)))?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(EnvelopeError::LimitExceeded {
                what: "envelope longer than the largest allowed",
            });
        }
        let mut r = Reader(bytes);
        if r.take(4, "magic")? != MAGIC {
            return Err(EnvelopeError::Malformed {
                at: "magic is not \"NCSM\"",
            });
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(EnvelopeError::UnknownVersion(version));
        }
        let (kem, kdf, aead) = (r.u16("suite")?, r.u16("suite")?, r.u16("suite")?);
        if (kem, kdf, aead) != (KEM_ID, KDF_ID, AEAD_ID) {
            return Err(EnvelopeError::UnsupportedSuite { kem, kdf, aead });
        }
        // Fields are initialised in source order, which is the wire order of section 4.
        let mut next = |index| read_binding_field(&mut r, index);
        let binding = Binding {
            record_kind: next(0)?,
            record_id: next(1)?,
            field: next(2)?,
            user: next(3)?,
            domain: next(4)?,
            vault_url: next(5)?,
            secret_name: next(6)?,
        };
        let nonce = r.array::<NONCE_LEN>("payload nonce")?;
        let ct_len = usize::try_from(r.u32("payload length")?).unwrap_or(usize::MAX);
        if ct_len > MAX_CIPHERTEXT_LEN {
            return Err(EnvelopeError::LimitExceeded {
                what: "payload ciphertext longer than 65552 bytes",
            });
        }
        if ct_len < TAG_LEN {
            return Err(EnvelopeError::Malformed {
                at: "payload ciphertext shorter than its 16-byte tag",
            });
        }
        let ciphertext = r.take(ct_len, "payload ciphertext")?.to_vec();
        let count = usize::from(r.u16("recipient count")?);
        if count > MAX_RECIPIENTS {
            return Err(EnvelopeError::LimitExceeded {
                what: "more than 64 recipients",
            });
        }
        if count == 0 {
            return Err(EnvelopeError::Malformed {
                at: "recipient count is zero",
            });
        }
        if r.0.len() != count * ENTRY_LEN {
            return Err(EnvelopeError::Malformed {
                at: if r.0.len() < count * ENTRY_LEN {
                    "recipient entries truncated"
                } else {
                    "bytes after the last recipient entry"
                },
            });
        }
        let mut recipients: Vec<RecipientEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let entry = RecipientEntry {
                key_id: r.array("recipient key id")?,
                enc: r.array("recipient encapsulated key")?,
                wrapped: r.array("recipient wrapped key")?,
            };
            if recipients
                .last()
                .is_some_and(|prev| prev.key_id >= entry.key_id)
            {
                return Err(EnvelopeError::Malformed {
                    at: "recipient entries not in strictly ascending key id order (duplicate or reordered)",
                });
            }
            recipients.push(entry);
        }
        Ok(Envelope {
            binding,
            nonce,
            ciphertext,
            recipients,
        })
    }
}

const PADDING: &str = "text form has base64 padding ('='): it must be unpadded";
const ALPHABET: &str = "text form has a character outside the base64url alphabet";
const LENGTH: &str = "text form has a length no base64url encoding has";

/// The decoder's fault once padding, alphabet and length have been checked: in practice only
/// non-zero unused bits remain.
fn text_fault(e: &base64::DecodeError) -> &'static str {
    use base64::DecodeError::*;
    match e {
        InvalidPadding | InvalidByte(_, b'=') => PADDING,
        InvalidByte(..) => ALPHABET,
        InvalidLength(_) => LENGTH,
        InvalidLastSymbol(..) => {
            "text form is not canonical base64url (non-zero unused bits in its last character)"
        }
    }
}

fn read_binding_field(r: &mut Reader<'_>, index: usize) -> Result<String> {
    let len = usize::from(r.u16("binding field length")?);
    if len > max_len(index) {
        return Err(EnvelopeError::LimitExceeded {
            what: "binding field longer than its limit",
        });
    }
    let raw = r.take(len, "binding field")?;
    let value = std::str::from_utf8(raw).map_err(|_| EnvelopeError::Malformed {
        at: "binding field is not UTF-8",
    })?;
    if raw.contains(&0) {
        return Err(EnvelopeError::Malformed {
            at: "binding field contains a NUL byte",
        });
    }
    if index < 3 && raw.is_empty() {
        return Err(EnvelopeError::Malformed {
            at: "binding record_kind, record_id or field is empty",
        });
    }
    Ok(value.to_owned())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(EnvelopeError::Malformed {
                at: truncated(what),
            });
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
}

/// Error text for a section that ends early, naming the section.
fn truncated(what: &'static str) -> &'static str {
    match what {
        "magic" => "truncated in magic",
        "version" => "truncated in version",
        "suite" => "truncated in suite ids",
        "binding field length" | "binding field" => "truncated in binding",
        "payload nonce" => "truncated in payload nonce",
        "payload length" => "truncated in payload length",
        "payload ciphertext" => "truncated in payload ciphertext",
        "recipient count" => "truncated before recipient count",
        _ => "truncated in recipient entries",
    }
}

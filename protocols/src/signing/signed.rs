//! The envelope every statement travels in: a fixed header that separates domains (label,
//! format version, statement type, subscription root, signer), the typed body, and an Ed25519
//! signature over all of it, verified with `verify_strict`.
//!
//! ```text
//! signed    = statement || signature (64)
//! statement = "SEALSCAN-SIGNED" 0x00 (16) || format version (1) = 1 || type (1)
//!             || root key fingerprint (32) || signer public key (32) || body
//! ```

use super::error::{Result, SignError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey as DalekSigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

pub const LABEL: &[u8; 16] = b"SEALSCAN-SIGNED\0";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16 + 1 + 1 + 32 + 32;
pub const SIGNATURE_LEN: usize = 64;
/// Largest signed statement (a trust list with many certificates is the largest).
pub const MAX_SIGNED_LEN: usize = 1 << 20;
/// Prefix of the text form: then the signed bytes in unpadded base64url.
pub const TEXT_PREFIX: &str = "sgn1:";

const KEY_FINGERPRINT_LABEL: &[u8] = b"sealscan signing key v1\0";

/// The statement types; the byte is part of every signature, so a statement of one type can
/// never be read as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatementType {
    RootDeclaration = 1,
    UserCertificate = 2,
    TrustList = 3,
    Revocation = 4,
    Record = 5,
    ApplianceApproval = 6,
    RootChange = 7,
    Policy = 8,
}

impl StatementType {
    pub const ALL: [StatementType; 8] = [
        StatementType::RootDeclaration,
        StatementType::UserCertificate,
        StatementType::TrustList,
        StatementType::Revocation,
        StatementType::Record,
        StatementType::ApplianceApproval,
        StatementType::RootChange,
        StatementType::Policy,
    ];

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u8 == b)
    }

    pub fn name(self) -> &'static str {
        match self {
            StatementType::RootDeclaration => "root declaration",
            StatementType::UserCertificate => "user certificate",
            StatementType::TrustList => "trust list",
            StatementType::Revocation => "revocation",
            StatementType::Record => "record statement",
            StatementType::ApplianceApproval => "appliance approval",
            StatementType::RootChange => "root change",
            StatementType::Policy => "policy statement",
        }
    }
}

/// SHA-256("sealscan signing key v1" || 0x00 || public key): how statements name a key.
pub fn key_fingerprint(public_key: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(KEY_FINGERPRINT_LABEL)
        .chain_update(public_key)
        .finalize()
        .into()
}

/// The fingerprint as people compare and type it: 64 lower-case hex digits in groups of 4.
pub fn fingerprint_text(fingerprint: &[u8; 32]) -> String {
    let hex: Vec<String> = fingerprint
        .chunks(2)
        .map(|p| format!("{:02x}{:02x}", p[0], p[1]))
        .collect();
    hex.join("-")
}

/// Reads [`fingerprint_text`] back (groups and case are forgiven, nothing else).
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An Ed25519 signing key (wiped on drop; `Debug` shows only the public key's fingerprint).
pub struct SigningKey(DalekSigningKey);

impl SigningKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SigningKey(DalekSigningKey::from_bytes(seed))
    }

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rand_core_09::TryRngCore::try_fill_bytes(&mut rand_core_09::OsRng, seed.as_mut()).map_err(
            |_| SignError::Malformed {
                at: "the operating system's random number generator failed",
            },
        )?;
        Ok(Self::from_seed(&seed))
    }

    /// The 32-byte seed, for the caller's encrypted key file only.
    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        key_fingerprint(&self.public_key())
    }

    /// Signs `body` as a statement of `kind` under the subscription root `root`.
    pub fn sign(&self, kind: StatementType, root: &[u8; 32], body: &[u8]) -> Signed {
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + SIGNATURE_LEN);
        bytes.extend_from_slice(LABEL);
        bytes.push(FORMAT_VERSION);
        bytes.push(kind as u8);
        bytes.extend_from_slice(root);
        bytes.extend_from_slice(&self.public_key());
        bytes.extend_from_slice(body);
        let signature = self.0.sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Signed { bytes }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({} [REDACTED])",
            fingerprint_text(&self.fingerprint())
        )
    }
}

/// A signed statement's bytes, not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    bytes: Vec<u8>,
}

/// A statement whose signature verified: its header fields and body, borrowed from the signed
/// bytes. It says nothing yet about whether the signer may sign it (that is [`super::trust`]).
#[derive(Clone, Copy, Debug)]
pub struct Verified<'a> {
    pub kind: StatementType,
    pub root: [u8; 32],
    pub signer: [u8; 32],
    pub body: &'a [u8],
}

impl Verified<'_> {
    pub fn signer_fingerprint(&self) -> [u8; 32] {
        key_fingerprint(&self.signer)
    }

    pub fn expect(&self, kind: StatementType) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(SignError::WrongType {
                expected: kind.name(),
                found: self.kind.name(),
            })
        }
    }
}

impl Signed {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() > MAX_SIGNED_LEN {
            return Err(SignError::TooLarge {
                max: MAX_SIGNED_LEN,
            });
        }
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(SignError::Malformed {
                at: "shorter than header and signature",
            });
        }
        Ok(Signed { bytes })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the signed bytes: how a record names its signer's certificate.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    pub fn to_text(&self) -> String {
        let mut text = String::from(TEXT_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&self.bytes, &mut text);
        text
    }

    pub fn from_text(text: &str) -> Result<Self> {
        if text.len() > TEXT_PREFIX.len() + (MAX_SIGNED_LEN * 4).div_ceil(3) {
            return Err(SignError::TooLarge {
                max: MAX_SIGNED_LEN,
            });
        }
        let body = text.strip_prefix(TEXT_PREFIX).ok_or(SignError::Text {
            at: "does not start with \"sgn1:\"",
        })?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| SignError::Text {
            at: "not unpadded base64url",
        })?;
        Self::from_bytes(bytes)
    }

    /// Checks the header and the signature, in this order: label, format version, type,
    /// signature under the signer key the header names (strict: no small-order keys, no
    /// malleable signatures). Only then is the body handed out.
    pub fn verify(&self) -> Result<Verified<'_>> {
        let (statement, signature) = self.bytes.split_at(self.bytes.len() - SIGNATURE_LEN);
        if &statement[..16] != LABEL {
            return Err(SignError::Label);
        }
        if statement[16] != FORMAT_VERSION {
            return Err(SignError::FormatVersion(statement[16]));
        }
        let kind =
            StatementType::from_byte(statement[17]).ok_or(SignError::UnknownType(statement[17]))?;
        let root: [u8; 32] = statement[18..50]
            .try_into()
            .map_err(|_| SignError::Malformed { at: "root" })?;
        let signer: [u8; 32] = statement[50..82]
            .try_into()
            .map_err(|_| SignError::Malformed { at: "signer" })?;
        let key = VerifyingKey::from_bytes(&signer).map_err(|_| SignError::BadSignerKey)?;
        if key.is_weak() {
            return Err(SignError::BadSignerKey);
        }
        let signature: [u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| SignError::Malformed { at: "signature" })?;
        key.verify_strict(statement, &Signature::from_bytes(&signature))
            .map_err(|_| SignError::BadSignature)?;
        Ok(Verified {
            kind,
            root,
            signer,
            body: &statement[HEADER_LEN..],
        })
    }
}

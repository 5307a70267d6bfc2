//! What every typed statement shares: its type byte, its encoding, and the one way to read it
//! from signed bytes (verify, check the type, parse, and refuse any body that is not the one
//! canonical encoding of what it parsed to).

use super::error::{Result, SignError};
use super::signed::{Signed, SigningKey, StatementType, key_fingerprint};

pub trait Statement: Sized {
    const KIND: StatementType;

    /// The canonical body.
    fn encode(&self) -> Vec<u8>;

    /// Parses a body; values come only from these bytes.
    fn decode(body: &[u8]) -> Result<Self>;

    /// Signs this statement under the subscription root `root` (a key fingerprint).
    fn sign(&self, key: &SigningKey, root: &[u8; 32]) -> Signed {
        key.sign(Self::KIND, root, &self.encode())
    }

    /// [`Statement::sign`] after checking that a verifier will read back exactly this
    /// statement (every value in its canonical form and within its limits): what a signer
    /// uses, so that nobody signs something other than what they were shown.
    fn sign_checked(&self, key: &SigningKey, root: &[u8; 32]) -> Result<Signed>
    where
        Self: PartialEq,
    {
        let body = self.encode();
        if Self::decode(&body)? != *self {
            return Err(SignError::Malformed {
                at: "a value is not in its canonical form",
            });
        }
        Ok(key.sign(Self::KIND, root, &body))
    }
}

/// A statement whose signature verified, with the root it names and the key that signed it.
/// Whether that key may sign it is the trust layer's question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened<T> {
    pub statement: T,
    pub root: [u8; 32],
    pub signer: [u8; 32],
}

impl<T> Opened<T> {
    pub fn signer_fingerprint(&self) -> [u8; 32] {
        key_fingerprint(&self.signer)
    }
}

/// Verifies `signed` and reads it as a `T`.
pub fn open<T: Statement>(signed: &Signed) -> Result<Opened<T>> {
    let verified = signed.verify()?;
    verified.expect(T::KIND)?;
    let statement = T::decode(verified.body)?;
    if statement.encode() != verified.body {
        return Err(SignError::Malformed {
            at: "body is not in canonical form",
        });
    }
    Ok(Opened {
        statement,
        root: verified.root,
        signer: verified.signer,
    })
}

//! Why a signed statement was refused, named precisely enough to act on. Messages name the
//! check and the field, never a value: statements are public, but the errors end up in results
//! that a hostile control plane may try to steer, so they stay fixed strings.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignError {
    #[error("signed statement is malformed: {at}")]
    Malformed { at: &'static str },
    #[error("signed statement is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("signed statement label is not \"SEALSCAN-SIGNED\"")]
    Label,
    #[error("signed statement format version {0} is not supported (only version 1)")]
    FormatVersion(u8),
    #[error("signed statement type {0} is unknown")]
    UnknownType(u8),
    #[error("signed statement is a {found}, not a {expected}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("{statement} carries unknown field tag {tag}")]
    UnknownField { statement: &'static str, tag: u8 },
    #[error("{statement} field tags are not in ascending order at tag {tag}")]
    FieldOrder { statement: &'static str, tag: u8 },
    #[error("{statement} lacks its required field {field}")]
    MissingField {
        statement: &'static str,
        field: &'static str,
    },
    #[error("{statement} field {field} is invalid: {reason}")]
    InvalidField {
        statement: &'static str,
        field: &'static str,
        reason: &'static str,
    },
    #[error("the signature does not verify under the signer's key")]
    BadSignature,
    #[error("the signer's public key is not a valid Ed25519 key")]
    BadSignerKey,
    #[error("the statement is for another subscription root")]
    OtherRoot,
    #[error("the statement is signed by a key that may not sign it: {why}")]
    WrongSigner { why: &'static str },
    #[error("signed text form is malformed: {at}")]
    Text { at: &'static str },
}

pub type Result<T> = std::result::Result<T, SignError>;

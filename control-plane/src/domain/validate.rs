//! The shape of what people type: user names, email addresses, free text, record ids, and
//! the protocol's enums by name.
use super::error::{DomainError, DomainResult};
use rand::RngCore;
use rand::rngs::OsRng;
use sealscan_api::Code;
use serde::de::DeserializeOwned;

/// Lowercase so that a name is never taken for a numeric user id.
pub fn username(name: &str) -> Result<(), DomainError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            Code::UserUsernameInvalid,
            "a user name is 2 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter (so a name is never taken for a user id)",
        ))
    }
}

/// Free text about a user.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    printable(Code::UserFieldInvalid, field, value, max)
}

pub fn email(email: &str) -> Result<(), DomainError> {
    let parts: Vec<&str> = email.split('@').collect();
    let ok = email.len() <= 254
        && parts.len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts.get(1).is_some_and(|d| d.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            Code::UserEmailInvalid,
            format!("{email:?} is not an email address"),
        ))
    }
}

pub(crate) fn bad(rule: Code, message: impl Into<String>) -> DomainError {
    DomainError::invalid(rule, message)
}

/// One of the protocol's enums by its snake_case name; `message` lists the choices.
pub fn choice<T: DeserializeOwned>(
    value: &str,
    rule: Code,
    message: impl Into<String>,
) -> DomainResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .map_err(|_| bad(rule, message))
}

/// Free text of a record or vault.
pub fn record_text(field: &'static str, value: &str, max: usize) -> DomainResult<()> {
    printable(Code::RecordFieldInvalid, field, value, max)
}

fn printable(rule: Code, field: &'static str, value: &str, max: usize) -> DomainResult<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(bad(
            rule,
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

/// The id asked for, checked, or a new random one with `prefix`.
pub fn new_id(given: Option<String>, prefix: &str) -> DomainResult<String> {
    if let Some(id) = given {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(bad(
                Code::RecordIdInvalid,
                "a record id is 1 to 64 lowercase letters, digits or '-'",
            ));
        }
        return Ok(id);
    }
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    Ok(format!("{prefix}-{}", hex::encode(bytes)))
}

/// A scan's or job's id as a path gives it: a positive whole number.
pub fn positive_id(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

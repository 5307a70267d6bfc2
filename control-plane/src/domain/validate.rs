//! The shape of what people type about a user: names, email addresses, free text.
use super::error::DomainError;

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
            "user.username-invalid",
            "a user name is 2 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter (so a name is never taken for a user id)",
        ))
    }
}

pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(DomainError::invalid(
            "user.field-invalid",
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
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
            "user.email-invalid",
            format!("{email:?} is not an email address"),
        ))
    }
}

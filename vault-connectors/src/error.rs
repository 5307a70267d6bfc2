//! Why a credential could not be had, precise enough for the result and the journal.
//!
//! Every message here is built from non-secret facts only: user and domain names, secret names,
//! HTTP statuses and the vault's own `errorCode`/message (sanitized and shortened, because a
//! response body is attacker-shaped).

use sealscan_protocols::results::{Cause, Step};

/// The failure, with the step it happened at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {kind}")]
pub struct VaultError {
    pub step: Step,
    pub kind: FailureKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FailureKind {
    #[error("vault record is unusable: {0}")]
    Config(String),
    #[error("vault unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("TLS failure talking to {url}: {reason}")]
    Tls { url: String, reason: String },
    #[error("web-service login failed for user {user:?}{}: {message}", domain_note(.domain))]
    LoginFailed {
        user: String,
        domain: Option<String>,
        message: String,
    },
    #[error("secret {secret} not found or access denied")]
    NotFoundOrDenied { secret: String },
    /// The cause stays short whatever the count; the ids go in the result's facts
    /// ([`VaultError::facts`]).
    #[error(
        "secret {secret} is ambiguous: {count} secrets have that name; name its folder or its id (the matching ids are in the result's facts)"
    )]
    Ambiguous {
        secret: String,
        count: usize,
        ids: String,
    },
    #[error("secret {secret} requires a comment that was refused: {message}")]
    CommentRequired { secret: String, message: String },
    #[error("secret {secret} requires approval for access: {message}")]
    ApprovalRequired { secret: String, message: String },
    #[error("secret {secret} is checked out by someone else: {message}")]
    CheckedOut { secret: String, message: String },
    #[error("secret {secret} has no {field} field")]
    FieldMissing { secret: String, field: String },
    #[error("vault error{} (HTTP {status}): {message}", code_note(.error_code))]
    Vault {
        status: u16,
        error_code: String,
        message: String,
    },
    #[error("unexpected vault answer (HTTP {status}): {what}")]
    BadResponse { status: u16, what: String },
    #[error("vault rate limit (HTTP {status}): {why}")]
    RateLimited { status: u16, why: String },
    #[error("no {api} web service at {url}: {reason}")]
    ApiAbsent {
        api: &'static str,
        url: String,
        reason: String,
    },
}

fn code_note(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

fn domain_note(domain: &Option<String>) -> String {
    match domain {
        Some(d) => format!(" in domain {d:?}"),
        None => String::new(),
    }
}

impl VaultError {
    pub fn new(step: Step, kind: FailureKind) -> Self {
        Self { step, kind }
    }

    /// The cause the agent puts in the login result and the journal.
    pub fn cause(&self) -> Cause {
        Cause {
            step: self.step,
            detail: self.kind.to_string(),
        }
    }

    /// Facts for the result beside the cause: the matching ids of an ambiguous name
    /// (`vault_matching_ids`, at most [`MAX_LISTED_IDS`] of them).
    pub fn facts(&self) -> Vec<(String, String)> {
        match &self.kind {
            FailureKind::Ambiguous { ids, count, .. } => {
                let listed: Vec<&str> = ids.split(", ").take(MAX_LISTED_IDS).collect();
                let mut text = listed.join(", ");
                if *count > listed.len() {
                    text.push_str(&format!(" and {} more", count - listed.len()));
                }
                vec![("vault_matching_ids".to_string(), text)]
            }
            _ => Vec::new(),
        }
    }

    /// A short stable name for the journal's structured fields.
    pub fn code(&self) -> &'static str {
        match self.kind {
            FailureKind::Config(_) => "config",
            FailureKind::Unreachable { .. } => "unreachable",
            FailureKind::Tls { .. } => "tls",
            FailureKind::LoginFailed { .. } => "login_failed",
            FailureKind::NotFoundOrDenied { .. } => "not_found_or_denied",
            FailureKind::Ambiguous { .. } => "ambiguous",
            FailureKind::CommentRequired { .. } => "comment_required",
            FailureKind::ApprovalRequired { .. } => "approval_required",
            FailureKind::CheckedOut { .. } => "checked_out",
            FailureKind::FieldMissing { .. } => "field_missing",
            FailureKind::Vault { .. } => "vault_error",
            FailureKind::BadResponse { .. } => "bad_response",
            FailureKind::ApiAbsent { .. } => "api_absent",
            FailureKind::RateLimited { .. } => "rate_limited",
        }
    }
}

/// Most ids an ambiguous lookup lists in the result's facts.
pub const MAX_LISTED_IDS: usize = 200;

/// Makes a vault-supplied text safe to carry: printable characters only, at most 200 of them.
pub fn sanitize(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(text.len().min(MAX + 3));
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_name_the_step_and_the_facts() {
        let e = VaultError::new(
            Step::VaultLogin,
            FailureKind::LoginFailed {
                user: "aduser".into(),
                domain: Some("CORP".into()),
                message: "Login failed.".into(),
            },
        );
        assert_eq!(
            e.cause().to_string(),
            "vault login: web-service login failed for user \"aduser\" in domain \"CORP\": Login failed."
        );
        let e = VaultError::new(
            Step::SecretFetch,
            FailureKind::Vault {
                status: 500,
                error_code: "API_InternalError".into(),
                message: "boom".into(),
            },
        );
        assert_eq!(
            e.cause().detail,
            "vault error API_InternalError (HTTP 500): boom"
        );
    }

    #[test]
    fn an_ambiguous_cause_is_short_and_its_ids_are_facts() {
        let ids: Vec<String> = (1000..1101).map(|i| i.to_string()).collect();
        let e = VaultError::new(
            Step::SecretLookup,
            FailureKind::Ambiguous {
                secret: "\"dup\"".into(),
                count: 101,
                ids: ids.join(", "),
            },
        );
        let cause = e.cause().detail;
        assert!(cause.len() < 160, "{cause}");
        assert!(!cause.contains("1000"), "{cause}");
        assert_eq!(
            e.facts(),
            vec![("vault_matching_ids".to_string(), ids.join(", "))]
        );
        let many: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        let e = VaultError::new(
            Step::SecretLookup,
            FailureKind::Ambiguous {
                secret: "\"dup\"".into(),
                count: 250,
                ids: many.join(", "),
            },
        );
        assert!(e.facts()[0].1.ends_with("199 and 50 more"));
    }

    #[test]
    fn sanitize_strips_controls_and_bounds_length() {
        assert_eq!(sanitize("a\nb\u{1b}[31m"), "a b [31m");
        assert_eq!(sanitize(&"x".repeat(500)).len(), 203);
    }
}

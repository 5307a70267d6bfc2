//! The one error type of the domain layer: a refusal that names its rule, or a failure below
//! it. It knows nothing of HTTP; `api` maps each [`Kind`] to a status code.
use crate::store::StoreError;
use sealscan_api::Code;
use sealscan_api::ErrorDetails;

/// What sort of refusal this is; the API answers each with its own status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input is malformed or out of range.
    Invalid,
    /// The caller did not prove who they are.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    NotFound,
    /// The request contradicts the current state.
    Conflict,
    /// Well-formed, but a rule of the subscription refuses it.
    Refused,
    /// A dependency is saturated; trying again later may work.
    Busy,
    /// A failure of the control plane itself, logged where it happened.
    Internal,
}

#[derive(Debug)]
pub struct DomainError {
    pub kind: Kind,
    /// The stable code clients match on, such as `user.username-invalid`.
    pub rule: Code,
    pub message: String,
    /// Boxed like the API's: most refusals carry none.
    pub details: Option<Box<ErrorDetails>>,
}

pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    pub fn new(kind: Kind, rule: Code, message: impl Into<String>) -> Self {
        DomainError {
            kind,
            rule,
            message: message.into(),
            details: None,
        }
    }
    pub fn invalid(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, rule, message)
    }
    pub fn unauthenticated(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, rule, message)
    }
    pub fn forbidden(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, rule, message)
    }
    pub fn not_found(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, rule, message)
    }
    pub fn conflict(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, rule, message)
    }
    pub fn refused(rule: Code, message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, rule, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, Code::Internal, message)
    }
    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

impl std::error::Error for DomainError {}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => DomainError::conflict(Code::StoreConflict, msg),
            other => {
                log::error!("store failure: {other}");
                DomainError::internal("the control plane's store failed; see the server log")
            }
        }
    }
}

impl From<crate::hashing::PoolError> for DomainError {
    fn from(e: crate::hashing::PoolError) -> Self {
        match e {
            crate::hashing::PoolError::Busy => {
                log::warn!("password hashing queue full: a request was turned away");
                DomainError::new(Kind::Busy, Code::ServerBusy, e.to_string())
            }
            crate::hashing::PoolError::Failed => {
                log::error!("{e}");
                DomainError::internal("password hashing failed; see the server log")
            }
        }
    }
}

impl From<crate::secrets::HashError> for DomainError {
    fn from(_: crate::secrets::HashError) -> Self {
        DomainError::internal("password hashing failed")
    }
}

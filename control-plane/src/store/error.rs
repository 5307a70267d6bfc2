//! How a store operation fails.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database schema is version {found}, newer than this build knows ({known})")]
    TooNew { found: i64, known: i64 },
    /// The database cannot be reached or is named wrongly.
    #[error("{0}")]
    Config(String),
}

/// PostgreSQL's own message (its Display says only "db error"); a row's values, which its
/// detail may quote, stay out. Other errors name their cause (a TLS handshake's says which
/// check failed: "invalid peer certificate: UnknownIssuer", "server does not support TLS").
fn postgres_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl StoreError {
    /// A UNIQUE (or other constraint) violation, whichever database reported it.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            StoreError::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

use super::error::{Result, StoreError};
use super::tx::Tx;
use super::value::params;

/// What a session may do: everything its role allows, or only finish 2FA enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionScope {
    Full,
    EnrollTwoFactor,
}

impl SessionScope {
    fn as_str(self) -> &'static str {
        match self {
            SessionScope::Full => "full",
            SessionScope::EnrollTwoFactor => "enroll_2fa",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(SessionScope::Full),
            "enroll_2fa" => Ok(SessionScope::EnrollTwoFactor),
            other => Err(StoreError::Corrupt(format!("session scope {other:?}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_timeout_minutes: u32,
    pub scope: SessionScope,
}

impl Tx<'_> {
    pub fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        idle_timeout_minutes: u32,
        scope: SessionScope,
    ) -> Result<()> {
        self.execute("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, idle_timeout_minutes, scope) \
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)", &params![token_hash, user_id, now, idle_timeout_minutes, scope.as_str()])?;
        Ok(())
    }

    pub fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = self.one(
            "SELECT token_hash, user_id, created_at, last_seen_at, idle_timeout_minutes, scope \
                 FROM sessions WHERE token_hash = ?1",
            &params![token_hash],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<i64>(2)?,
                    r.get::<i64>(3)?,
                    r.get::<u32>(4)?,
                    r.get::<String>(5)?,
                ))
            },
        )?;
        row.map(
            |(token_hash, user_id, created_at, last_seen_at, idle, scope)| {
                Ok(SessionRow {
                    token_hash,
                    user_id,
                    created_at,
                    last_seen_at,
                    idle_timeout_minutes: idle,
                    scope: SessionScope::parse(&scope)?,
                })
            },
        )
        .transpose()
    }

    pub fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        self.execute(
            "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
            &params![token_hash, now],
        )?;
        Ok(())
    }

    pub fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            &params![token_hash],
        )?;
        Ok(())
    }

    pub fn delete_user_sessions(&self, user_id: i64) -> Result<()> {
        self.execute("DELETE FROM sessions WHERE user_id = ?1", &params![user_id])?;
        Ok(())
    }

    /// Ends every session of the user but `keep`; returns how many ended.
    pub fn delete_user_sessions_except(&self, user_id: i64, keep: &str) -> Result<usize> {
        self.execute(
            "DELETE FROM sessions WHERE user_id = ?1 AND token_hash <> ?2",
            &params![user_id, keep],
        )
    }

    pub fn insert_password_reset(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.execute("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)", &params![token_hash, user_id, now, expires_at])?;
        Ok(())
    }

    /// The user a live, unused reset token belongs to; the token is spent by the caller's
    /// transaction committing.
    pub fn take_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<i64>> {
        let user: Option<i64> = self.one("SELECT user_id FROM password_resets WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2", &params![token_hash, now], |r| r.get(0))?;
        if user.is_some() {
            self.execute(
                "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1",
                &params![token_hash, now],
            )?;
        }
        Ok(user)
    }
}

impl Tx<'_> {
    /// The user a live, unused reset token belongs to, without spending it.
    pub fn peek_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<i64>> {
        self.one("SELECT user_id FROM password_resets WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2", &params![token_hash, now], |r| r.get(0))
    }
}

use super::error::{Result, StoreError};
use super::tx::{Tx, flag};
use super::value::{Row, params};
use crate::model::{NewUser, User};

const COLUMNS: &str = "id, username, first_name, last_name, email, role, api_only, external_id, \
    can_edit_external_ids, password_hash, password_changed_at, must_change_password, never_expire, \
    failed_logins, locked, session_timeout_minutes, totp_secret, totp_enabled, totp_last_step, \
    last_expiry_notice_at, created_at, last_login_at, can_edit_records";

fn from_row(r: &Row) -> Result<User> {
    let role: String = r.get(5)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        email: r.get(4)?,
        role: role
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("users.role: {e}")))?,
        api_only: r.get(6)?,
        external_id: r.get(7)?,
        can_edit_external_ids: r.get(8)?,
        password_hash: r.get(9)?,
        password_changed_at: r.get(10)?,
        must_change_password: r.get(11)?,
        never_expire: r.get(12)?,
        failed_logins: r.get(13)?,
        locked: r.get(14)?,
        session_timeout_minutes: r.get(15)?,
        totp_secret: r.get(16)?,
        totp_enabled: r.get(17)?,
        totp_last_step: r.get(18)?,
        last_expiry_notice_at: r.get(19)?,
        created_at: r.get(20)?,
        last_login_at: r.get(21)?,
        can_edit_records: r.get(22)?,
    })
}

impl Tx<'_> {
    pub fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        self.one(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            &params![id],
            from_row,
        )
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.one(
            &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
            &params![username],
            from_row,
        )
    }

    pub fn list_users(&self) -> Result<Vec<User>> {
        self.all(
            &format!("SELECT {COLUMNS} FROM users ORDER BY id"),
            from_row,
        )
    }

    pub fn insert_user(&self, u: &NewUser, now: i64) -> Result<i64> {
        let res = self.scalar(
            "INSERT INTO users (username, first_name, last_name, email, role, api_only, external_id, \
             password_hash, password_changed_at, must_change_password, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9) RETURNING id",
            &params![
                u.person.username,
                u.person.first_name,
                u.person.last_name,
                u.person.email,
                u.role.as_str(),
                flag(u.api_only),
                u.external_id,
                u.password_hash,
                now,
                flag(u.must_change_password)
            ],
        );
        match res {
            Ok(id) => Ok(id),
            Err(e) if e.is_constraint_violation() => Err(StoreError::Conflict(format!(
                "user name {:?} is already taken",
                u.person.username
            ))),
            Err(e) => Err(e),
        }
    }

    /// Writes back every mutable field of the user.
    pub fn save_user(&self, u: &User) -> Result<()> {
        self.execute(
            "UPDATE users SET first_name = ?2, last_name = ?3, email = ?4, role = ?5, api_only = ?6, \
             external_id = ?7, can_edit_external_ids = ?8, password_hash = ?9, password_changed_at = ?10, \
             must_change_password = ?11, never_expire = ?12, failed_logins = ?13, locked = ?14, \
             session_timeout_minutes = ?15, totp_secret = ?16, totp_enabled = ?17, totp_last_step = ?18, \
             last_expiry_notice_at = ?19, last_login_at = ?20, can_edit_records = ?21 WHERE id = ?1",
            &params![
                u.id,
                u.first_name,
                u.last_name,
                u.email,
                u.role.as_str(),
                flag(u.api_only),
                u.external_id,
                flag(u.can_edit_external_ids),
                u.password_hash,
                u.password_changed_at,
                flag(u.must_change_password),
                flag(u.never_expire),
                u.failed_logins,
                flag(u.locked),
                u.session_timeout_minutes,
                u.totp_secret,
                flag(u.totp_enabled),
                u.totp_last_step,
                u.last_expiry_notice_at,
                u.last_login_at,
                flag(u.can_edit_records)
            ],
        )?;
        Ok(())
    }

    /// Clears the never-expire flag on every user; returns how many had it.
    pub fn clear_never_expire_all(&self) -> Result<usize> {
        self.execute(
            "UPDATE users SET never_expire = 0 WHERE never_expire = 1",
            &[],
        )
    }
}

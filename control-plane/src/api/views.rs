//! What the API shows of a user. Hashes and TOTP secrets never leave the server.
use crate::dates::rfc3339;
use crate::lifecycle;
use crate::model::{Role, Subscription, User};
use sealscan_api::users::Person;
pub use sealscan_api::users::UserView;

pub fn user_view(sub: &Subscription, u: &User) -> UserView {
    let primary = sub.primary_contact_id == Some(u.id);
    UserView {
        id: u.id,
        person: Person {
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
        },
        role: u.role,
        primary_contact: primary,
        api_only: u.api_only,
        external_id: u.external_id.clone(),
        external_id_permission: u.can_edit_external_ids,
        external_id_permission_effective: primary
            || (u.can_edit_external_ids && sub.security.external_ids_editable),
        records_permission: u.can_edit_records,
        records_permission_effective: u.role == Role::Manager
            || (u.role == Role::UnitManager && u.can_edit_records),
        never_expire: u.never_expire,
        never_expire_effective: lifecycle::never_expires(sub, u),
        locked: u.locked,
        failed_logins: u.failed_logins,
        must_change_password: u.must_change_password,
        two_factor_enabled: u.totp_enabled,
        session_timeout_minutes: u.session_timeout_minutes,
        effective_session_timeout_minutes: lifecycle::session_timeout_minutes(&sub.security, u),
        password_changed_at: rfc3339(u.password_changed_at),
        password_expires_at: lifecycle::password_expires_at(sub, u).map(rfc3339),
        created_at: rfc3339(u.created_at),
        last_login_at: u.last_login_at.map(rfc3339),
    }
}

//! Password and session lifecycle rules shared by the login, the user endpoints and the
//! background sweep: expiry, pre-expiry notices, new-password choice, inactivity timeouts.
use crate::dates::{add_months, rfc3339};
use crate::domain::DomainError;
use crate::model::{Role, SecuritySettings, Subscription, User};
use crate::password_policy::{self, Names};
use crate::secrets::{Password, generate_password};
use crate::store::{StoreError, Tx};
use sealscan_api::Code;
use sealscan_api::ErrorDetails;
pub use sealscan_api::session::ExpiryNotice;

const DAY: i64 = 86_400;

/// Never-expire counts only while the operator feature is on, the Primary Contact has
/// accepted the risk agreement, and the user is API-only.
pub fn never_expires(sub: &Subscription, user: &User) -> bool {
    user.never_expire
        && user.api_only
        && sub.features.api_never_expire
        && sub.security.never_expire_risk.status == crate::model::RiskStatus::Accepted
}

pub fn password_expires_at(sub: &Subscription, user: &User) -> Option<i64> {
    let months = sub.security.password_expiry_months;
    if months == 0 || never_expires(sub, user) {
        return None;
    }
    Some(add_months(user.password_changed_at, months))
}

pub fn is_expired(sub: &Subscription, user: &User, now: i64) -> bool {
    password_expires_at(sub, user).is_some_and(|at| now >= at)
}

/// The notice shown in the sign-in answer and `whoami`, unless Managers send it by email only.
pub fn expiry_notice(sub: &Subscription, user: &User, now: i64) -> Option<ExpiryNotice> {
    if !sub.security.expiry_notice_ui {
        return None;
    }
    notice_due(sub, user, now)
}

/// The notice when `now` is inside the window of N days before expiry.
fn notice_due(sub: &Subscription, user: &User, now: i64) -> Option<ExpiryNotice> {
    let at = password_expires_at(sub, user)?;
    let window = i64::from(sub.security.expiry_notice_days) * DAY;
    if sub.security.expiry_notice_days == 0 || now < at - window || now >= at {
        return None;
    }
    let days_left = (at - now + DAY - 1) / DAY;
    Some(ExpiryNotice {
        expires_at: rfc3339(at),
        days_left,
        message: format!(
            "your password expires in {days_left} day(s), at {}; change it before then",
            rfc3339(at)
        ),
    })
}

/// Queues the pre-expiry email when the window is open and the last one is older than the
/// repeat interval (or none was sent for the current password).
pub fn queue_expiry_email(
    tx: &Tx<'_>,
    sub: &Subscription,
    user: &mut User,
    now: i64,
) -> Result<bool, StoreError> {
    if !sub.security.expiry_notice_email {
        return Ok(false);
    }
    let Some(notice) = notice_due(sub, user, now) else {
        return Ok(false);
    };
    let repeat = i64::from(sub.security.expiry_notice_repeat_days) * DAY;
    let due = match user.last_expiry_notice_at {
        None => true,
        Some(last) if last < user.password_changed_at => true,
        Some(_) if repeat == 0 => false,
        Some(last) => now - last >= repeat,
    };
    if !due {
        return Ok(false);
    }
    tx.queue_email(
        now,
        &user.email,
        "Your sealscan password expires soon",
        &format!(
            "Hello {} {},\n\nthe password of sealscan user {} expires in {} day(s), at {}.\nSign in and change it before then.\n",
            user.first_name, user.last_name, user.username, notice.days_left, notice.expires_at
        ),
        "password_expiry_notice",
        Some(user.id),
    )?;
    user.last_expiry_notice_at = Some(now);
    tx.save_user(user)?;
    Ok(true)
}

/// Runs the notice rule over every user; the server calls it periodically.
pub fn sweep_expiry_notices(tx: &Tx<'_>, now: i64) -> Result<usize, StoreError> {
    let sub = tx.require_subscription()?;
    let mut queued = 0;
    for mut user in tx.list_users()? {
        if queue_expiry_email(tx, &sub, &mut user, now)? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The password a user ends up with: the one supplied (user-defined passwords on, checked
/// against every rule) or a generated one (option off), returned to show once.
pub enum NewPassword {
    Chosen(Password),
    Generated(Password),
}

impl NewPassword {
    pub fn expose(&self) -> &str {
        match self {
            NewPassword::Chosen(p) | NewPassword::Generated(p) => p.expose(),
        }
    }
    pub fn into_generated(self) -> Option<Password> {
        match self {
            NewPassword::Generated(p) => Some(p),
            NewPassword::Chosen(_) => None,
        }
    }
}

pub fn choose_password(
    security: &SecuritySettings,
    first: &str,
    last: &str,
    supplied: Option<Password>,
    missing_rule: Code,
) -> Result<NewPassword, DomainError> {
    let names = Names { first, last };
    if !security.user_defined_passwords {
        if supplied.is_some() {
            return Err(DomainError::refused(
                Code::PasswordUserDefinedOff,
                "user-defined passwords are off for this subscription: the control plane generates passwords; omit the password",
            ));
        }
        let len = security.min_password_length.max(16) as usize;
        return Ok(NewPassword::Generated(generate_password(len, &names)));
    }
    let Some(pw) = supplied else {
        return Err(DomainError::refused(
            missing_rule,
            "a new password is required (user-defined passwords are on)",
        ));
    };
    check_policy(security, &names, &pw)?;
    Ok(NewPassword::Chosen(pw))
}

pub fn check_policy(
    security: &SecuritySettings,
    names: &Names<'_>,
    pw: &Password,
) -> Result<(), DomainError> {
    let min = security.min_password_length;
    let violations = password_policy::check(pw.expose(), min, &security.password_rules, names);
    let Some(first) = violations.first() else {
        return Ok(());
    };
    let list = violations.iter().map(|v| v.reported(min)).collect();
    let text: Vec<String> = violations.iter().map(|v| v.describe(min)).collect();
    Err(DomainError::refused(
        first.rule(),
        format!("the password is not acceptable: it {}", text.join("; it ")),
    )
    .with_details(ErrorDetails {
        violations: Some(list),
        ..ErrorDetails::default()
    }))
}

/// Per-user value first, then the role's, then the global one.
pub fn session_timeout_minutes(security: &SecuritySettings, user: &User) -> u32 {
    user.session_timeout_minutes
        .or_else(|| security.session_timeout_by_role.get(&user.role).copied())
        .unwrap_or(security.session_timeout_minutes)
}

pub fn role_timeout(security: &SecuritySettings, role: Role) -> Option<u32> {
    security.session_timeout_by_role.get(&role).copied()
}

//! The subscription's security options below the API: the ranges each option may take, the
//! IP allowlist (which may never shut out the Manager saving it), the Primary Contact's
//! options, and the one-way New Data Security Model. Each change is saved and audited in one
//! transaction.
use crate::authz::Actor;
use crate::domain::{DomainError, DomainResult, Shared};
use crate::model::{
    Acceptance, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH_FLOOR, RiskAgreement, RiskStatus,
    SESSION_TIMEOUT_MAX, SESSION_TIMEOUT_MIN, SecuritySettings, Subscription,
};
use crate::store::Tx;
use ipnet::IpNet;
use sealscan_api::Code;
use sealscan_api::security::SecurityPatch;
use serde_json::json;
use std::net::IpAddr;

/// Parses one allowlist entry: an address or a CIDR range.
pub fn parse_allow_entry(entry: &str) -> Result<IpNet, String> {
    let e = entry.trim();
    if let Ok(net) = e.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    e.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range"))
}

pub fn allowlist_permits(entries: &[String], ip: IpAddr) -> bool {
    entries
        .iter()
        .filter_map(|e| parse_allow_entry(e).ok())
        .any(|net| net.contains(&ip))
}

/// Who changes an option, and from where, for the audit.
pub struct Changer<'a> {
    pub actor: &'a Actor,
    pub ip: IpAddr,
}

impl Changer<'_> {
    /// Changes the subscription's security options with `change` and audits `event` with
    /// the details it answers, in one transaction.
    fn save<T>(
        &self,
        state: &Shared,
        event: &str,
        change: impl FnOnce(&Tx<'_>, &mut SecuritySettings) -> DomainResult<(T, serde_json::Value)>,
    ) -> DomainResult<(T, Subscription)> {
        let now = state.now();
        state.store.write(|tx| {
            let mut sub = tx.require_subscription()?;
            let (answer, details) = change(tx, &mut sub.security)?;
            tx.save_security(&sub.security)?;
            tx.audit(
                now,
                &self.actor.username,
                event,
                "subscription",
                &details,
                Some(&self.ip.to_string()),
            )?;
            Ok((answer, sub))
        })
    }
}

fn range(rule: Code, what: &str, v: u32, lo: u32, hi: u32) -> DomainResult<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            rule,
            format!("{what} must be between {lo} and {hi}; got {v}"),
        ))
    }
}

fn apply_patch(s: &mut SecuritySettings, patch: SecurityPatch) -> DomainResult<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(v) = patch.password_expiry_months {
        range(
            Code::PasswordExpiryRange,
            "password_expiry_months",
            v,
            0,
            120,
        )?;
        s.password_expiry_months = v;
        changed.push("password_expiry_months");
    }
    if let Some(v) = patch.expiry_notice_days {
        range(
            Code::PasswordExpiryNoticeRange,
            "expiry_notice_days",
            v,
            0,
            365,
        )?;
        s.expiry_notice_days = v;
        changed.push("expiry_notice_days");
    }
    if let Some(v) = patch.expiry_notice_repeat_days {
        range(
            Code::PasswordExpiryRepeatRange,
            "expiry_notice_repeat_days",
            v,
            0,
            365,
        )?;
        s.expiry_notice_repeat_days = v;
        changed.push("expiry_notice_repeat_days");
    }
    if let Some(v) = patch.change_expired_at_login {
        s.change_expired_at_login = v;
        changed.push("change_expired_at_login");
    }
    if let Some(v) = patch.user_defined_passwords {
        s.user_defined_passwords = v;
        changed.push("user_defined_passwords");
    }
    if let Some(v) = patch.min_password_length {
        range(
            Code::PasswordMinLengthRange,
            "min_password_length",
            v,
            PASSWORD_MIN_LENGTH_FLOOR,
            PASSWORD_MAX_LENGTH,
        )?;
        s.min_password_length = v;
        changed.push("min_password_length");
    }
    if let Some(r) = patch.password_rules {
        let rules = &mut s.password_rules;
        for (given, slot) in [
            (r.lowercase, &mut rules.lowercase),
            (r.uppercase, &mut rules.uppercase),
            (r.digit, &mut rules.digit),
            (r.special, &mut rules.special),
            (r.no_three_identical, &mut rules.no_three_identical),
            (r.no_three_sequential, &mut rules.no_three_sequential),
            (r.no_names, &mut rules.no_names),
        ] {
            if let Some(v) = given {
                *slot = v;
            }
        }
        changed.push("password_rules");
    }
    if let Some(v) = patch.expiry_notice_ui {
        s.expiry_notice_ui = v;
        changed.push("expiry_notice_ui");
    }
    if let Some(v) = patch.expiry_notice_email {
        s.expiry_notice_email = v;
        changed.push("expiry_notice_email");
    }
    if let Some(v) = patch.force_change_first_login {
        s.force_change_first_login = v;
        changed.push("force_change_first_login");
    }
    if let Some(v) = patch.lockout_failed_logins {
        range(Code::LockoutRange, "lockout_failed_logins", v, 0, 100)?;
        s.lockout_failed_logins = v;
        changed.push("lockout_failed_logins");
    }
    if let Some(v) = patch.two_factor_required {
        s.two_factor_required = v;
        changed.push("two_factor_required");
    }
    if let Some(v) = patch.session_timeout_minutes {
        range(
            Code::SessionTimeoutRange,
            "session_timeout_minutes",
            v,
            SESSION_TIMEOUT_MIN,
            SESSION_TIMEOUT_MAX,
        )?;
        s.session_timeout_minutes = v;
        changed.push("session_timeout_minutes");
    }
    if let Some(map) = patch.session_timeout_by_role {
        for (role, v) in map {
            match v {
                Some(m) => {
                    range(
                        Code::SessionTimeoutRange,
                        "a role's session timeout",
                        m,
                        SESSION_TIMEOUT_MIN,
                        SESSION_TIMEOUT_MAX,
                    )?;
                    s.session_timeout_by_role.insert(role, m);
                }
                None => {
                    s.session_timeout_by_role.remove(&role);
                }
            }
        }
        changed.push("session_timeout_by_role");
    }
    Ok(changed)
}

/// Applies `patch` (each option in its range) and answers the subscription as saved.
pub fn update(
    state: &Shared,
    by: &Changer<'_>,
    patch: SecurityPatch,
) -> DomainResult<Subscription> {
    let ((), sub) = by.save(state, "security.changed", |_, s| {
        let changed = apply_patch(s, patch)?;
        Ok(((), json!({"changed": changed, "security": &*s})))
    })?;
    Ok(sub)
}

/// Replaces the allowlist. A list that would shut out the Manager saving it is refused.
pub fn set_allowlist(
    state: &Shared,
    by: &Changer<'_>,
    enabled: bool,
    given: &[String],
) -> DomainResult<SecuritySettings> {
    let mut entries = Vec::with_capacity(given.len());
    for e in given {
        let net = parse_allow_entry(e)
            .map_err(|msg| DomainError::invalid(Code::AllowlistInvalidEntry, msg))?;
        let text = if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        };
        if !entries.contains(&text) {
            entries.push(text);
        }
    }
    if enabled && !allowlist_permits(&entries, by.ip) {
        return Err(DomainError::conflict(
            Code::AllowlistExcludesCaller,
            format!(
                "this list would lock you out: your IP {} is not in it; add it (or a range holding it) first",
                by.ip
            ),
        )
        .with_details(sealscan_api::ErrorDetails {
            your_ip: Some(by.ip.to_string()),
            ..Default::default()
        }));
    }
    let ((), sub) = by.save(state, "security.allowlist-changed", |_, s| {
        s.allowlist_enabled = enabled;
        s.allowlist = entries;
        Ok((
            (),
            json!({"enabled": s.allowlist_enabled, "entries": &s.allowlist}),
        ))
    })?;
    Ok(sub.security)
}

/// The Primary Contact's option letting granted Managers, Unit Managers and User
/// Administrators edit external IDs. Grants are kept while it is off, so turning it back on
/// restores them.
pub fn set_external_ids(state: &Shared, by: &Changer<'_>, enabled: bool) -> DomainResult<()> {
    by.save(state, "security.external-ids", |_, s| {
        s.external_ids_editable = enabled;
        Ok(((), json!({"enabled": enabled})))
    })?;
    Ok(())
}

/// The risk agreement for never-expiring API-only passwords, once the operator enabled the
/// feature. Declining (or opting out later) clears the flag on every user; answers the
/// agreement and how many users it cleared.
pub fn never_expire_agreement(
    state: &Shared,
    by: &Changer<'_>,
    sub: &Subscription,
    accept: bool,
) -> DomainResult<(RiskAgreement, usize)> {
    if !sub.features.api_never_expire {
        return Err(DomainError::conflict(
            Code::NeverExpireFeatureOff,
            "never-expiring passwords are not enabled for this subscription; the control plane's operator enables them with `sealscan-control feature api-never-expire on`",
        ));
    }
    let now = state.now();
    let event = if accept {
        "never-expire.agreement-accepted"
    } else {
        "never-expire.agreement-declined"
    };
    let (cleared, sub) = by.save(state, event, |tx, s| {
        s.never_expire_risk = RiskAgreement {
            status: if accept {
                RiskStatus::Accepted
            } else {
                RiskStatus::Declined
            },
            by: Some(by.actor.username.clone()),
            at: Some(now),
        };
        let cleared = if accept {
            0
        } else {
            tx.clear_never_expire_all()?
        };
        Ok((cleared, json!({"cleared_users": cleared})))
    })?;
    Ok((sub.security.never_expire_risk, cleared))
}

/// The New Data Security Model: accepted once, for good; accepting it again answers the
/// first acceptance and changes nothing.
pub fn accept_ndsm(state: &Shared, by: &Changer<'_>, accepted: bool) -> DomainResult<Acceptance> {
    let now = state.now();
    state.store.write(|tx| {
        let mut sub = tx.require_subscription()?;
        match (&sub.security.new_data_security_model, accepted) {
            (Some(a), true) => Ok(a.clone()),
            (Some(_), false) => Err(DomainError::conflict(
                Code::NdsmOneWay,
                "the New Data Security Model cannot be turned off once accepted",
            )),
            (None, false) => Err(DomainError::invalid(
                Code::NdsmNotAccepted,
                "the New Data Security Model is not on; send accepted: true to accept it",
            )),
            (None, true) => {
                let a = Acceptance {
                    by_user_id: Some(by.actor.user_id),
                    by: by.actor.username.clone(),
                    at: now,
                };
                sub.security.new_data_security_model = Some(a.clone());
                tx.save_security(&sub.security)?;
                tx.audit(
                    now,
                    &by.actor.username,
                    "ndsm.accepted",
                    "subscription",
                    &json!({}),
                    Some(&by.ip.to_string()),
                )?;
                Ok(a)
            }
        }
    })
}

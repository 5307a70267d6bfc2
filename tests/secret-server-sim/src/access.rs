//! Who may see which secret, and what stands between a reader and the values: approval,
//! comment, check-out. Shared by the REST API and the SOAP web service.

use std::net::IpAddr;

use crate::seed::Secret;
use crate::state::{Caller, Shared};

/// Why a view was refused. `AccessDenied` covers "no such secret", "not a reader", "inactive"
/// and "not from an allowed source" alike, so a caller cannot tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    AccessDenied,
    ApprovalRequired,
    CommentRequired,
    CheckoutRequired,
    CheckedOutByOther,
}

/// What a view request carries besides the caller.
#[derive(Debug, Default, Clone)]
pub(crate) struct ViewOptions {
    /// A comment given with this request (`autoComment`, `/restricted {comment}`, SOAP code
    /// response). Once given it holds for the rest of the session.
    pub(crate) comment: Option<String>,
    pub(crate) auto_checkout: bool,
    pub(crate) include_inactive: bool,
}

/// The secret if `caller` may know it exists: a reader, from an allowed source, active.
pub(crate) fn visible<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: IpAddr,
    id: i64,
    include_inactive: bool,
) -> Option<&'a Secret> {
    let user = shared.user(caller.user)?;
    let secret = shared.seed.secret(id)?;
    (secret.readable_by(user)
        && secret.source_allowed(source)
        && (secret.active || include_inactive))
        .then_some(secret)
}

/// Decides a view of the secret's values, checking it out when asked to.
pub(crate) fn view<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: IpAddr,
    id: i64,
    options: &ViewOptions,
) -> Result<&'a Secret, Blocked> {
    let secret = visible(shared, caller, source, id, options.include_inactive)
        .ok_or(Blocked::AccessDenied)?;
    if secret.requires_approval {
        return Err(Blocked::ApprovalRequired);
    }
    let mut store = shared.store();
    let key = (caller.token.clone(), id);
    if secret.requires_comment {
        let given = options
            .comment
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        if given {
            store.comments.insert(key.clone());
        } else if !store.comments.contains(&key) {
            return Err(Blocked::CommentRequired);
        }
    }
    if secret.check_out_enabled {
        match store.checkouts.get(&id) {
            Some(&holder) if holder == caller.user => {}
            Some(_) => return Err(Blocked::CheckedOutByOther),
            None if options.auto_checkout => {
                store.checkouts.insert(id, caller.user);
            }
            None => return Err(Blocked::CheckoutRequired),
        }
    }
    Ok(secret)
}

/// Checks the secret out to the caller. A required comment must have been given first.
pub(crate) fn check_out<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: IpAddr,
    id: i64,
) -> Result<&'a Secret, Blocked> {
    let options = ViewOptions {
        auto_checkout: true,
        ..ViewOptions::default()
    };
    view(shared, caller, source, id, &options)
}

/// Checks the secret in. Only its holder may, unless `force` is set.
pub(crate) fn check_in<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: IpAddr,
    id: i64,
    force: bool,
) -> Result<&'a Secret, Blocked> {
    let secret = visible(shared, caller, source, id, false).ok_or(Blocked::AccessDenied)?;
    let mut store = shared.store();
    match store.checkouts.get(&id) {
        Some(&holder) if holder != caller.user && !force => Err(Blocked::CheckedOutByOther),
        _ => {
            store.checkouts.remove(&id);
            Ok(secret)
        }
    }
}

/// The `secretState` value of `/secrets/{id}/state` for this caller.
pub(crate) fn state_name(shared: &Shared, caller: &Caller, secret: &Secret) -> &'static str {
    if secret.requires_approval {
        return "RequiresApproval";
    }
    let store = shared.store();
    let comment_needed =
        secret.requires_comment && !store.comments.contains(&(caller.token.clone(), secret.id));
    let checkout_needed =
        secret.check_out_enabled && store.checkouts.get(&secret.id).copied() != Some(caller.user);
    match (comment_needed, checkout_needed) {
        (true, true) => "RequiresCheckoutAndComment",
        (false, true) => "RequiresCheckout",
        (true, false) => "RequiresComment",
        (false, false) => "None",
    }
}

/// Who holds the secret's check-out, if anyone.
pub(crate) fn holder(shared: &Shared, id: i64) -> Option<usize> {
    shared.store().checkouts.get(&id).copied()
}

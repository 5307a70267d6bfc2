//! The OpenAPI document, built from one table of every endpoint (the role-matrix test walks
//! the same table, so a route cannot be missing from either).
use axum::Json;
use serde_json::{Map, Value, json};

pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// "public", "session" (any signed-in user), or the roles allowed ("unit_manager with
    /// records permission": only a Unit Manager a Manager has granted it).
    pub access: &'static str,
}

macro_rules! ep {
    ($m:literal, $p:literal, $s:literal, $a:literal) => {
        Endpoint {
            method: $m,
            path: $p,
            summary: $s,
            access: $a,
        }
    };
}

pub const ENDPOINTS: &[Endpoint] = &[
    ep!("get", "/api/v1/openapi.json", "This document", "public"),
    ep!(
        "post",
        "/api/v1/session",
        "Sign in (password, TOTP code, new password when due)",
        "public"
    ),
    ep!("get", "/api/v1/session", "Who am I", "session"),
    ep!("delete", "/api/v1/session", "Sign out", "session"),
    ep!(
        "post",
        "/api/v1/password/check",
        "Check a password against the complexity rules",
        "session"
    ),
    ep!(
        "post",
        "/api/v1/password/change",
        "Change your own password",
        "session"
    ),
    ep!(
        "post",
        "/api/v1/password/forgot",
        "Ask for a password-reset token by email",
        "public"
    ),
    ep!(
        "post",
        "/api/v1/password/reset",
        "Set a new password with a reset token",
        "public"
    ),
    ep!(
        "post",
        "/api/v1/2fa/enroll",
        "Start TOTP enrolment: returns the provisioning URI",
        "session"
    ),
    ep!(
        "post",
        "/api/v1/2fa/confirm",
        "Finish TOTP enrolment with a current code",
        "session"
    ),
    ep!(
        "get",
        "/api/v1/users",
        "List users",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "post",
        "/api/v1/users",
        "Create a user",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "get",
        "/api/v1/users/{id}",
        "Show a user (id or user name); anyone may show themself",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "patch",
        "/api/v1/users/{id}",
        "Edit a user's profile, API-only flag, session timeout, external ID, never-expire",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "post",
        "/api/v1/users/{id}/lock",
        "Lock an account",
        "manager, unit_manager"
    ),
    ep!(
        "post",
        "/api/v1/users/{id}/unlock",
        "Re-activate a locked account",
        "manager, unit_manager"
    ),
    ep!(
        "post",
        "/api/v1/users/{id}/reset-password",
        "Reset another user's password",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "delete",
        "/api/v1/users/{id}/2fa",
        "Reset a user's two-factor enrolment (lost device)",
        "manager, unit_manager"
    ),
    ep!(
        "put",
        "/api/v1/users/{id}/role",
        "Change a user's role",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "put",
        "/api/v1/users/{id}/external-id-permission",
        "Grant or withdraw the external-ID edit permission",
        "primary contact"
    ),
    ep!(
        "put",
        "/api/v1/users/{id}/records-permission",
        "Grant or withdraw a Unit Manager's permission to change records and vaults",
        "manager"
    ),
    ep!(
        "get",
        "/api/v1/users/{id}/unit",
        "A user's business unit",
        "manager, unit_manager, user_administrator"
    ),
    ep!(
        "put",
        "/api/v1/users/{id}/unit",
        "Put a user in a business unit (null: none)",
        "manager"
    ),
    ep!(
        "put",
        "/api/v1/records/{id}/unit",
        "Put an authentication record in a business unit (null: none)",
        "manager"
    ),
    ep!(
        "put",
        "/api/v1/vaults/{id}/unit",
        "Put a vault record in a business unit (null: none)",
        "manager"
    ),
    ep!(
        "get",
        "/api/v1/security",
        "Show every security option",
        "manager"
    ),
    ep!(
        "put",
        "/api/v1/security",
        "Change security options (absent fields unchanged)",
        "manager"
    ),
    ep!(
        "get",
        "/api/v1/security/allowlist",
        "Show the IP allowlist and your IP",
        "manager"
    ),
    ep!(
        "put",
        "/api/v1/security/allowlist",
        "Replace the IP allowlist",
        "manager"
    ),
    ep!(
        "put",
        "/api/v1/security/external-ids",
        "Let granted users edit external IDs",
        "primary contact"
    ),
    ep!(
        "post",
        "/api/v1/security/never-expire-agreement",
        "Accept or decline the never-expiring password risk agreement",
        "primary contact"
    ),
    ep!(
        "put",
        "/api/v1/security/new-data-security-model",
        "Accept the New Data Security Model (one way)",
        "manager"
    ),
    ep!("get", "/api/v1/outbox", "Queued emails", "manager"),
    ep!(
        "get",
        "/api/v1/audit",
        "The audit log, newest first",
        "manager"
    ),
    ep!(
        "post",
        "/api/v1/appliances/tokens",
        "Create a one-time appliance enrollment token",
        "manager"
    ),
    ep!(
        "get",
        "/api/v1/appliances/tokens",
        "Enrollment tokens (hashes only; used or not)",
        "manager"
    ),
    ep!(
        "get",
        "/api/v1/appliances",
        "Appliances with their state and key fingerprint",
        "manager, unit_manager, scanner"
    ),
    ep!(
        "post",
        "/api/v1/appliances/{id}/approve",
        "Approve a pending appliance (audited, announced to Managers)",
        "manager"
    ),
    ep!(
        "post",
        "/api/v1/appliances/{id}/reject",
        "Reject a pending appliance",
        "manager"
    ),
    ep!(
        "post",
        "/api/v1/appliances/{id}/revoke",
        "Revoke an appliance and its credential",
        "manager"
    ),
    ep!(
        "post",
        "/api/v1/scans",
        "Create a scan: targets, login kinds, an appliance or any",
        "manager, unit_manager, scanner"
    ),
    ep!(
        "get",
        "/api/v1/scans",
        "Scans with their progress",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "get",
        "/api/v1/scans/{id}",
        "One scan with its jobs and leases",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "get",
        "/api/v1/scans/{id}/results",
        "Results per target and login kind",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "post",
        "/api/v1/appliance/enroll",
        "Appliance: enroll a public key with a one-time token",
        "public"
    ),
    ep!(
        "post",
        "/api/v1/appliance/enroll/poll",
        "Appliance: enrollment state; the credential once approved",
        "public"
    ),
    ep!(
        "post",
        "/api/v1/appliance/jobs/claim",
        "Appliance: claim a job (long-poll)",
        "appliance"
    ),
    ep!(
        "post",
        "/api/v1/appliance/jobs/{job_id}/heartbeat",
        "Appliance: extend a job's lease",
        "appliance"
    ),
    ep!(
        "post",
        "/api/v1/appliance/jobs/{job_id}/results",
        "Appliance: post one target's result (idempotent)",
        "appliance"
    ),
    ep!(
        "get",
        "/api/v1/appliance/rewrap",
        "Appliance: envelopes to rewrap for a newly approved appliance",
        "appliance"
    ),
    ep!(
        "post",
        "/api/v1/appliance/rewrap",
        "Appliance: return rewrapped envelopes",
        "appliance"
    ),
    // Records, vaults and NCSM (secrets go in, never come out).
    ep!(
        "get",
        "/api/v1/records",
        "List authentication records (secret field names and pending-migration marks only)",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "post",
        "/api/v1/records",
        "Create a Unix or Windows authentication record (legacy secret or NCSM envelopes)",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "get",
        "/api/v1/records/{id}",
        "Show an authentication record",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "patch",
        "/api/v1/records/{id}",
        "Update an authentication record: the fields given, secrets only when given (same rules as create)",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "delete",
        "/api/v1/records/{id}",
        "Delete an authentication record and its secrets",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "get",
        "/api/v1/vaults",
        "List Secret Server vault records",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "post",
        "/api/v1/vaults",
        "Create a Secret Server vault record",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "get",
        "/api/v1/vaults/{id}",
        "Show a vault record and the records using it",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "patch",
        "/api/v1/vaults/{id}",
        "Update a vault record: the fields given, the password only when given",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "delete",
        "/api/v1/vaults/{id}",
        "Delete a vault record no record uses",
        "manager, unit_manager with records permission"
    ),
    ep!(
        "get",
        "/api/v1/ncsm",
        "NCSM state, records to migrate, progress and pending records with reasons",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "get",
        "/api/v1/ncsm/recipients",
        "The approved appliances' public keys and fingerprints, to seal new secrets to",
        "manager, unit_manager, scanner, reader"
    ),
    ep!(
        "post",
        "/api/v1/ncsm/start",
        "Activate NCSM and migrate every legacy secret into envelopes",
        "primary contact"
    ),
    ep!(
        "post",
        "/api/v1/ncsm/resume",
        "Resume an interrupted or pending migration",
        "primary contact"
    ),
];

pub fn build() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let entry = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Access: {}.", e.access),
            "responses": {
                "200": {"description": "Success"},
                "4XX": {"description": "Refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if e.access != "public"
            && let Some(obj) = op.as_object_mut()
        {
            obj.insert("security".into(), json!([{"bearer": []}]));
        }
        if e.path.contains("{id}")
            && let Some(obj) = op.as_object_mut()
        {
            obj.insert(
                "parameters".into(),
                json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": if e.path.starts_with("/api/v1/users") { "user id or user name" } else { "the resource's id" }}]),
            );
        }
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(e.method.to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "sealscan control plane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["rule", "message"], "properties": {
                        "rule": {"type": "string", "description": "the rule that refused the request"},
                        "message": {"type": "string"},
                        "details": {}
                    }}}
                }
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}

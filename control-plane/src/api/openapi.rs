//! The OpenAPI 3.1 document, built from one table of every endpoint (the role-matrix test walks
//! the same table, so a route cannot be missing from either). Each endpoint names its request
//! and response types from `sealscan-api` (and `sealscan_protocols::appliance` for the
//! appliances' own endpoints); their schemas come from the types' `JsonSchema`, so the
//! document describes exactly what the handlers parse and serialize.
use axum::Json;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use sealscan_api::{admin, appliances, ncsm, password, records, scans, security, session, users};
use sealscan_protocols::appliance as wire;
use serde_json::{Map, Value, json};

/// The schema of one body: a `$ref` into `components/schemas` for named types.
pub type SchemaOf = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// This document itself: any JSON object.
type Document = Map<String, Value>;

pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// "public", "session" (any signed-in user), or the roles allowed ("unit_manager with
    /// records permission": only a Unit Manager a Manager has granted it).
    pub access: &'static str,
    /// The JSON body it takes, if any.
    pub request: Option<SchemaOf>,
    /// Each success status with the schema of its body (None: no body).
    pub responses: &'static [(u16, Option<SchemaOf>)],
}

macro_rules! ep {
    (@resp $code:literal => $t:ty) => {
        ($code, Some(schema::<$t> as SchemaOf))
    };
    (@resp $code:literal) => {
        ($code, None)
    };
    ($m:literal, $p:literal, $s:literal, $a:literal; $(body $req:ty;)? $($code:literal $(=> $t:ty)?);+) => {
        Endpoint {
            method: $m,
            path: $p,
            summary: $s,
            access: $a,
            request: ep!(@req $($req)?),
            responses: &[$(ep!(@resp $code $(=> $t)?)),+],
        }
    };
    (@req $req:ty) => {
        Some(schema::<$req> as SchemaOf)
    };
    (@req) => {
        None
    };
}

pub const ENDPOINTS: &[Endpoint] = &[
    ep!("get", "/api/v1/openapi.json", "This document", "public"; 200 => Document),
    ep!("post", "/api/v1/session", "Sign in (password, TOTP code, new password when due)", "public"; body session::LoginRequest; 200 => session::LoginResponse),
    ep!("get", "/api/v1/session", "Who am I", "session"; 200 => session::WhoAmI),
    ep!("delete", "/api/v1/session", "Sign out", "session"; 204),
    ep!("post", "/api/v1/password/check", "Check a password against the complexity rules", "session"; body password::CheckRequest; 200 => password::CheckResponse),
    ep!("post", "/api/v1/password/change", "Change your own password", "session"; body password::ChangeRequest; 200 => password::ChangeResponse),
    ep!("post", "/api/v1/password/forgot", "Ask for a password-reset token by email", "public"; body password::ForgotRequest; 202 => password::Message),
    ep!("post", "/api/v1/password/reset", "Set a new password with a reset token", "public"; body password::ResetRequest; 200 => password::ChangeResponse),
    ep!("post", "/api/v1/2fa/enroll", "Start TOTP enrolment: returns the provisioning URI", "session"; 200 => session::Enrollment),
    ep!("post", "/api/v1/2fa/confirm", "Finish TOTP enrolment with a current code", "session"; body session::ConfirmRequest; 200 => session::Confirmed),
    ep!("get", "/api/v1/users", "List users", "manager, unit_manager, user_administrator"; 200 => Vec<users::UserView>),
    ep!("post", "/api/v1/users", "Create a user", "manager, unit_manager, user_administrator"; body users::CreateUser; 201 => users::UserCreated),
    ep!("get", "/api/v1/users/{id}", "Show a user (id or user name); anyone may show themself", "manager, unit_manager, user_administrator"; 200 => users::UserView),
    ep!("patch", "/api/v1/users/{id}", "Edit a user's profile, API-only flag, session timeout, external ID, never-expire", "manager, unit_manager, user_administrator"; body users::UpdateUser; 200 => users::UserView),
    ep!("post", "/api/v1/users/{id}/lock", "Lock an account", "manager, unit_manager"; 200 => users::UserView),
    ep!("post", "/api/v1/users/{id}/unlock", "Re-activate a locked account", "manager, unit_manager"; 200 => users::UserView),
    ep!("post", "/api/v1/users/{id}/reset-password", "Reset another user's password", "manager, unit_manager, user_administrator"; body users::ResetUserPassword; 200 => users::UserPasswordReset),
    ep!("delete", "/api/v1/users/{id}/2fa", "Reset a user's two-factor enrolment (lost device)", "manager, unit_manager"; 200 => users::UserView),
    ep!("put", "/api/v1/users/{id}/role", "Change a user's role", "manager, unit_manager, user_administrator"; body users::RoleRequest; 200 => users::UserView),
    ep!("put", "/api/v1/users/{id}/external-id-permission", "Grant or withdraw the external-ID edit permission", "primary contact"; body users::PermissionRequest; 200 => users::UserView),
    ep!("put", "/api/v1/users/{id}/records-permission", "Grant or withdraw a Unit Manager's permission to change records and vaults", "manager"; body users::PermissionRequest; 200 => users::UserView),
    ep!("get", "/api/v1/users/{id}/unit", "A user's business unit", "manager, unit_manager, user_administrator"; 200 => users::UserUnit),
    ep!("put", "/api/v1/users/{id}/unit", "Put a user in a business unit (null: none)", "manager"; body users::UnitRequest; 200 => users::UserUnit),
    ep!("put", "/api/v1/records/{id}/unit", "Put an authentication record in a business unit (null: none)", "manager"; body users::UnitRequest; 200 => users::OwnerUnit),
    ep!("put", "/api/v1/vaults/{id}/unit", "Put a vault record in a business unit (null: none)", "manager"; body users::UnitRequest; 200 => users::OwnerUnit),
    ep!("get", "/api/v1/security", "Show every security option", "manager"; 200 => security::SecurityView),
    ep!("put", "/api/v1/security", "Change security options (absent fields unchanged)", "manager"; body security::SecurityPatch; 200 => security::SecurityView),
    ep!("get", "/api/v1/security/allowlist", "Show the IP allowlist and your IP", "manager"; 200 => security::AllowlistView),
    ep!("put", "/api/v1/security/allowlist", "Replace the IP allowlist", "manager"; body security::AllowlistRequest; 200 => security::AllowlistView),
    ep!("put", "/api/v1/security/external-ids", "Let granted users edit external IDs", "primary contact"; body security::ToggleRequest; 200 => security::ExternalIdsView),
    ep!("post", "/api/v1/security/never-expire-agreement", "Accept or decline the never-expiring password risk agreement", "primary contact"; body security::AgreementRequest; 200 => security::AgreementView),
    ep!("put", "/api/v1/security/new-data-security-model", "Accept the New Data Security Model (one way)", "manager"; body security::NdsmRequest; 200 => security::NdsmView),
    ep!("get", "/api/v1/outbox", "Queued emails", "manager"; 200 => Vec<admin::OutboxEmail>),
    ep!("get", "/api/v1/audit", "The audit log, newest first", "manager"; 200 => Vec<admin::AuditEntry>),
    ep!("post", "/api/v1/appliances/tokens", "Create a one-time appliance enrollment token", "manager"; body appliances::TokenRequest; 200 => appliances::TokenCreated),
    ep!("get", "/api/v1/appliances/tokens", "Enrollment tokens (hashes only; used or not)", "manager"; 200 => Vec<appliances::EnrollmentToken>),
    ep!("get", "/api/v1/appliances", "Appliances with their state and key fingerprint", "manager, unit_manager, scanner"; 200 => Vec<appliances::ApplianceView>),
    ep!("post", "/api/v1/appliances/{id}/approve", "Approve a pending appliance (audited, announced to Managers)", "manager"; 200 => appliances::Decided),
    ep!("post", "/api/v1/appliances/{id}/reject", "Reject a pending appliance", "manager"; body appliances::DecisionRequest; 200 => appliances::Decided),
    ep!("post", "/api/v1/appliances/{id}/revoke", "Revoke an appliance and its credential", "manager"; body appliances::DecisionRequest; 200 => appliances::Decided),
    ep!("post", "/api/v1/scans", "Create a scan: targets, login kinds, an appliance or any", "manager, unit_manager, scanner"; body scans::ScanRequest; 200 => scans::ScanView),
    ep!("get", "/api/v1/scans", "Scans with their progress", "manager, unit_manager, scanner, reader"; 200 => Vec<scans::ScanView>),
    ep!("get", "/api/v1/scans/{id}", "One scan with its jobs and leases", "manager, unit_manager, scanner, reader"; 200 => scans::ScanView),
    ep!("get", "/api/v1/scans/{id}/results", "Results per target and login kind", "manager, unit_manager, scanner, reader"; 200 => Vec<scans::ResultView>),
    ep!("post", "/api/v1/appliance/enroll", "Appliance: enroll a public key with a one-time token", "public"; body wire::EnrollRequest; 200 => wire::EnrollResponse),
    ep!("post", "/api/v1/appliance/enroll/poll", "Appliance: enrollment state; the credential once approved", "public"; body wire::EnrollPollRequest; 200 => wire::EnrollState),
    ep!("post", "/api/v1/appliance/jobs/claim", "Appliance: claim a job (long-poll)", "appliance"; body wire::ClaimRequest; 200 => wire::Job; 204),
    ep!("post", "/api/v1/appliance/jobs/{job_id}/heartbeat", "Appliance: extend a job's lease", "appliance"; 200 => wire::HeartbeatResponse),
    ep!("post", "/api/v1/appliance/jobs/{job_id}/results", "Appliance: post one target's result (idempotent)", "appliance"; body wire::ResultPost; 200 => wire::ResultAck),
    ep!("get", "/api/v1/appliance/rewrap", "Appliance: envelopes to rewrap for a newly approved appliance", "appliance"; 200 => wire::RewrapWork; 204),
    ep!("post", "/api/v1/appliance/rewrap", "Appliance: return rewrapped envelopes", "appliance"; body wire::RewrapSubmit; 200 => appliances::RewrapStored),
    ep!("get", "/api/v1/records", "List authentication records (secret field names and pending-migration marks only)", "manager, unit_manager, scanner, reader"; 200 => records::RecordList),
    ep!("post", "/api/v1/records", "Create a Unix or Windows authentication record (legacy secret or NCSM envelopes)", "manager, unit_manager with records permission"; body records::CreateRecord; 201 => records::RecordView),
    ep!("get", "/api/v1/records/{id}", "Show an authentication record", "manager, unit_manager, scanner, reader"; 200 => records::RecordView),
    ep!("patch", "/api/v1/records/{id}", "Update an authentication record: the fields given, secrets only when given (same rules as create)", "manager, unit_manager with records permission"; body records::UpdateRecord; 200 => records::RecordView),
    ep!("delete", "/api/v1/records/{id}", "Delete an authentication record and its secrets", "manager, unit_manager with records permission"; 200 => records::Deleted),
    ep!("get", "/api/v1/vaults", "List Secret Server vault records", "manager, unit_manager, scanner, reader"; 200 => records::VaultList),
    ep!("post", "/api/v1/vaults", "Create a Secret Server vault record", "manager, unit_manager with records permission"; body records::CreateVault; 201 => records::VaultView),
    ep!("get", "/api/v1/vaults/{id}", "Show a vault record and the records using it", "manager, unit_manager, scanner, reader"; 200 => records::VaultView),
    ep!("patch", "/api/v1/vaults/{id}", "Update a vault record: the fields given, the password only when given", "manager, unit_manager with records permission"; body records::UpdateVault; 200 => records::VaultView),
    ep!("delete", "/api/v1/vaults/{id}", "Delete a vault record no record uses", "manager, unit_manager with records permission"; 200 => records::Deleted),
    ep!("get", "/api/v1/ncsm", "NCSM state, records to migrate, progress and pending records with reasons", "manager, unit_manager, scanner, reader"; 200 => ncsm::NcsmStatus),
    ep!("get", "/api/v1/ncsm/recipients", "The approved appliances' public keys and fingerprints, to seal new secrets to", "manager, unit_manager, scanner, reader"; 200 => ncsm::Recipients),
    ep!("get", "/api/v1/signing", "Show the subscription's signing material (root declaration, newest trust list, revocations)", "manager, unit_manager, scanner, reader"; 200 => records::SigningMaterial),
    ep!("put", "/api/v1/signing", "Upload signed statements: a root declaration, a newer trust list, revocations (the server checks their structure; appliances verify them)", "manager"; body records::SigningMaterial; 200 => records::SigningMaterial),
    ep!("post", "/api/v1/ncsm/start", "Activate NCSM and migrate every legacy secret into envelopes", "primary contact"; 202 => ncsm::NcsmStatus),
    ep!("post", "/api/v1/ncsm/resume", "Resume an interrupted or pending migration", "primary contact"; 202 => ncsm::NcsmStatus),
];

/// Where the generators put the named schemas: the document's components.
const COMPONENTS: &str = "/components/schemas";

fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = COMPONENTS.into();
        s.meta_schema = None;
    });
    if serialize {
        settings.for_serialize().into_generator()
    } else {
        settings.for_deserialize().into_generator()
    }
}

/// The path's `{name}` segments as OpenAPI path parameters.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let about = match name {
                "id" if path.starts_with("/api/v1/users") => "user id or user name",
                "job_id" => "the job's id",
                _ => "the resource's id",
            };
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string"}, "description": about})
        })
        .collect()
}

/// `post_users_id_reset_password` for `POST /api/v1/users/{id}/reset-password`: unique, as
/// the table holds each method and path once, and made of identifier characters only.
fn operation_id(e: &Endpoint) -> String {
    let path = e.path.trim_start_matches("/api/v1/");
    let mut id = e.method.to_string();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            id.push('_');
            id.push_str(word);
        }
    }
    id
}

/// Renames `$ref`s to `from` into `to`, everywhere in `v`.
fn rename_refs(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && r == from
            {
                *r = to.to_string();
            }
            map.values_mut().for_each(|x| rename_refs(x, from, to));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| rename_refs(x, from, to)),
        _ => {}
    }
}

fn error_response(what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {
        "schema": {"$ref": format!("#{COMPONENTS}/ErrorBody")}}}})
}

pub fn build() -> Value {
    // Requests are described as the server parses them (defaults make fields optional),
    // answers as it writes them (every field it always writes is required).
    let mut requests = generator(false);
    let mut answers = generator(true);
    // Every refusal's body, referenced by each operation's 4XX and 5XX.
    schema::<sealscan_api::ErrorBody>(&mut answers);
    let mut ops: Vec<(&Endpoint, Value)> = Vec::new();
    for e in ENDPOINTS {
        let mut op = Map::new();
        op.insert("summary".into(), e.summary.into());
        op.insert(
            "description".into(),
            format!("Access: {}.", e.access).into(),
        );
        op.insert("operationId".into(), operation_id(e).into());
        let params = path_parameters(e.path);
        if !params.is_empty() {
            op.insert("parameters".into(), params.into());
        }
        if e.access != "public" {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        if let Some(request) = e.request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {
                    "schema": request(&mut requests)}}}),
            );
        }
        let mut responses = Map::new();
        for (code, body) in e.responses {
            let mut r = json!({"description": "Success"});
            if let (Some(body), Some(obj)) = (body, r.as_object_mut()) {
                obj.insert(
                    "content".into(),
                    json!({"application/json": {"schema": body(&mut answers)}}),
                );
            }
            responses.insert(code.to_string(), r);
        }
        responses.insert("4XX".into(), error_response("Refused"));
        responses.insert("5XX".into(), error_response("Failed or too busy"));
        op.insert("responses".into(), responses.into());
        ops.push((e, Value::Object(op)));
    }
    let mut schemas = answers.take_definitions(true);
    // A type both parsed and written keeps one name when both views agree, else its
    // parsed view is `<Name>Input` (its defaults make fields optional there).
    let mut renamed = Vec::new();
    for (name, def) in requests.take_definitions(true) {
        match schemas.get(&name) {
            Some(same) if *same == def => {}
            Some(_) => renamed.push((name, def)),
            None => {
                schemas.insert(name, def);
            }
        }
    }
    let renames: Vec<(String, String)> = renamed
        .iter()
        .map(|(name, _)| {
            (
                format!("#{COMPONENTS}/{name}"),
                format!("#{COMPONENTS}/{name}Input"),
            )
        })
        .collect();
    for (name, mut def) in renamed {
        for (from, to) in &renames {
            rename_refs(&mut def, from, to);
        }
        schemas.insert(format!("{name}Input"), def);
    }
    let mut paths = Map::new();
    for (e, mut op) in ops {
        if let Some(body) = op.get_mut("requestBody") {
            for (from, to) in &renames {
                rename_refs(body, from, to);
            }
        }
        if let Value::Object(entry) = paths.entry(e.path.to_string()).or_insert_with(|| json!({})) {
            entry.insert(e.method.to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "sealscan control plane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}

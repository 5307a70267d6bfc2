"""Request-body schemas for the operations whose served document has none yet.

The control plane's OpenAPI document is to carry schemas generated from the API types; until an
operation's does, Schemathesis would send it no body at all and test nothing behind the body
extractor. These hand-written ones (read off the handlers' request structs) fill the gap, and
only the gap: an operation the served document describes keeps its own schema. run.py prints
how many it used, so this file can go once that count is zero.
"""

U32 = {"type": "integer", "minimum": 0, "maximum": 4294967295}
U16 = {"type": "integer", "minimum": 0, "maximum": 65535}
I64 = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
ROLE = {"enum": ["manager", "unit_manager", "scanner", "reader", "user_administrator"]}
SECRET_VALUE = {"oneOf": [
    {"type": "object", "required": ["model", "envelope"],
     "properties": {"model": {"const": "sealed"}, "envelope": STR}},
    {"type": "object", "required": ["model", "value"],
     "properties": {"model": {"const": "legacy"}, "value": STR}},
]}
SECRET_FIELDS = {"type": "array", "items": {
    "type": "object", "required": ["field", "value"],
    "properties": {"field": {"enum": ["password", "private_key", "passphrase", "vault_password"]},
                   "value": SECRET_VALUE}}}


def obj(required=(), **props):
    return {"type": "object", "required": list(required), "properties": props,
            "additionalProperties": False}


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


WINDOWS = dict(domain_type=STR, domain=STR, service_selected=BOOL, ntlmv2=BOOL, ntlmv1=BOOL,
               require_signing=BOOL, min_smb_version=STR)
RECORD = dict(title=STR, user=STR, ips={"type": "array", "items": STR}, login_type=STR,
              vault_id=STR, secret_name=STR, folder=STR, secret_id=I64, secret_path=STR,
              comments=STR, unix_auth=STR, windows=obj(**WINDOWS), secrets=SECRET_FIELDS)
VAULT = dict(title=STR, url=STR, user=STR, domain=STR, organization=STR, verify_tls=BOOL,
             ca_pem=STR, api=STR, comments=STR, password=SECRET_VALUE)
UNIT = obj(["unit"], unit=nullable(STR))
GRANT = obj(["granted"], granted=BOOL)

BODIES = {
    ("post", "/api/v1/session"): obj(["username", "password"], username=STR, password=STR,
                                     totp_code=STR, new_password=STR),
    ("post", "/api/v1/password/check"): obj(["password"], password=STR, first_name=STR,
                                            last_name=STR),
    ("post", "/api/v1/password/change"): obj(["current_password"], current_password=STR,
                                             new_password=STR),
    ("post", "/api/v1/password/forgot"): obj(["username"], username=STR),
    ("post", "/api/v1/password/reset"): obj(["token"], token=STR, new_password=STR),
    ("post", "/api/v1/2fa/confirm"): obj(["code"], code=STR),
    ("post", "/api/v1/users"): obj(["username", "first_name", "last_name", "email", "role"],
                                   username=STR, first_name=STR, last_name=STR, email=STR,
                                   role=ROLE, api_only=BOOL, external_id=STR, password=STR),
    ("patch", "/api/v1/users/{id}"): obj(first_name=STR, last_name=STR, email=STR,
                                         api_only=BOOL, external_id=nullable(STR),
                                         session_timeout_minutes=nullable(U32),
                                         never_expire=BOOL),
    ("post", "/api/v1/users/{id}/reset-password"): obj(password=STR),
    ("put", "/api/v1/users/{id}/role"): obj(["role"], role=ROLE),
    ("put", "/api/v1/users/{id}/external-id-permission"): GRANT,
    ("put", "/api/v1/users/{id}/records-permission"): GRANT,
    ("put", "/api/v1/users/{id}/unit"): UNIT,
    ("put", "/api/v1/records/{id}/unit"): UNIT,
    ("put", "/api/v1/vaults/{id}/unit"): UNIT,
    ("put", "/api/v1/security"): obj(
        password_expiry_months=U32, expiry_notice_days=U32, expiry_notice_repeat_days=U32,
        change_expired_at_login=BOOL, user_defined_passwords=BOOL, min_password_length=U32,
        password_rules=obj(lowercase=BOOL, uppercase=BOOL, digit=BOOL, special=BOOL,
                           no_three_identical=BOOL, no_three_sequential=BOOL, no_names=BOOL),
        expiry_notice_ui=BOOL, expiry_notice_email=BOOL, force_change_first_login=BOOL,
        lockout_failed_logins=U32, two_factor_required=BOOL, session_timeout_minutes=U32,
        session_timeout_by_role={"type": "object", "propertyNames": ROLE,
                                 "additionalProperties": nullable(U32)}),
    ("put", "/api/v1/security/allowlist"): obj(["enabled", "entries"], enabled=BOOL,
                                               entries={"type": "array", "items": STR}),
    ("put", "/api/v1/security/external-ids"): obj(["enabled"], enabled=BOOL),
    ("post", "/api/v1/security/never-expire-agreement"): obj(["accept"], accept=BOOL),
    ("put", "/api/v1/security/new-data-security-model"): obj(["accepted"], accepted=BOOL),
    ("post", "/api/v1/appliances/tokens"): obj(label=STR, expires_in_hours=U32),
    ("post", "/api/v1/appliances/{id}/reject"): obj(reason=STR),
    ("post", "/api/v1/appliances/{id}/revoke"): obj(reason=STR),
    ("post", "/api/v1/scans"): obj(["targets", "kinds"], title=STR,
                                   targets={"type": "array", "items": STR}, kinds=STR,
                                   appliance=STR, ports=obj(unix=U16, windows=U16)),
    ("post", "/api/v1/appliance/enroll"): obj(["token", "name", "public_key"], token=STR,
                                              name=STR, public_key=STR),
    ("post", "/api/v1/appliance/enroll/poll"): obj(["appliance_id", "poll_secret"],
                                                   appliance_id=STR, poll_secret=STR),
    # A claim waits up to wait_secs for work: bounded here so a run is seconds, not minutes.
    ("post", "/api/v1/appliance/jobs/claim"): obj(["wait_secs"], wait_secs={
        "type": "integer", "minimum": 0, "maximum": 1}),
    ("post", "/api/v1/appliance/jobs/{job_id}/results"): obj(
        ["idempotency_key", "target_id", "host", "outcome"], idempotency_key=STR,
        target_id=STR, host=STR, record_id=STR,
        outcome={"type": "object", "properties": {
            "kind": {"enum": ["unix", "windows"]}, "status": STR, "qid": U32, "cause": STR,
            "login_id": STR, "method": STR,
            "facts": {"type": "object", "additionalProperties": STR}}}),
    ("post", "/api/v1/appliance/rewrap"): obj(
        ["new_appliance_id", "items"], new_appliance_id=STR,
        items={"type": "array", "items": obj(["item_id", "envelope"], item_id=STR,
                                             envelope=STR)}),
    ("post", "/api/v1/records"): obj(["kind", "title", "user"], id=STR,
                                     kind={"enum": ["unix", "windows"]}, **RECORD),
    ("patch", "/api/v1/records/{id}"): obj(**RECORD),
    ("post", "/api/v1/vaults"): obj(["title", "url", "user", "password"], id=STR, **VAULT),
    ("patch", "/api/v1/vaults/{id}"): obj(**VAULT),
}

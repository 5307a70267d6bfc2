"""Drives the public python-tss-sdk (2.0.1, PyPI) against the simulator with its documented
calls and prints what it got as one JSON object, for tests/python_tss_sdk.rs to check.

usage: tss_sdk_client.py BASE_URL full|detect
  full    password grant with and without domain, get secret with its file attachment,
          the ServerSecret dataclass, search, folder listing, path lookup, a pre-existing
          token, and the errors the SDK raises for a missing secret and a bad login
  detect  only the SDK's server-type detection followed by a get (to show the health quirk)

Over HTTPS, REQUESTS_CA_BUNDLE must point at the simulator's CA (the SDK has no verify option).
"""

import json
import sys

from delinea.secrets.server import (
    AccessTokenAuthorizer,
    DomainPasswordGrantAuthorizer,
    PasswordGrantAuthorizer,
    SecretServer,
    SecretServerClientError,
    SecretServerError,
    ServerSecret,
)


def error_of(call):
    try:
        call()
    except SecretServerClientError as e:
        return {"type": "SecretServerClientError", "message": e.message}
    except SecretServerError as e:
        return {"type": type(e).__name__, "message": str(e.message)}
    return None


def full(base):
    out = {}
    auth = PasswordGrantAuthorizer(base, "svc-scan", "S3rv!ce-pw")
    ss = SecretServer(base, auth)

    raw = ss.get_secret(10)
    items = {item["slug"]: item for item in raw["items"]}
    out["secret"] = {
        "name": raw["name"],
        "username": items["username"]["itemValue"],
        "password": items["password"]["itemValue"],
        "passphrase": items["private-key-passphrase"]["itemValue"],
        # the SDK puts the requests.Response of /fields/{slug} in itemValue
        "private_key": items["private-key"]["itemValue"].content.decode(),
        "private_key_content_type": items["private-key"]["itemValue"].headers["Content-Type"],
    }

    dc = ServerSecret(**ss.get_secret(10, fetch_file_attachments=False))
    out["dataclass"] = {
        "id": dc.id,
        "template": dc.secret_template_name,
        "username": dc.fields["username"].value,
        "file_attachment_id": dc.fields["private-key"].file_attachment_id,
        "last_heart_beat_check": dc.last_heart_beat_check.isoformat(),
        "last_password_change_attempt": dc.last_password_change_attempt.isoformat(),
    }

    found = json.loads(
        ss.search_secrets(
            {"filter.searchText": "dup-name", "filter.isExactMatch": "true", "take": 50}
        )
    )
    out["search"] = {
        "records": [[r["id"], r["folderId"], r["name"]] for r in found["records"]],
        "total": found["total"],
        "hasNext": found["hasNext"],
    }
    out["folder_secret_ids"] = ss.get_secret_ids_by_folderid(3)
    out["windows_folder_secret_ids"] = ss.get_secret_ids_by_folderid(4)
    out["by_path"] = ss.get_secret_by_path("/Unix/Prod/dup-name", fetch_file_attachments=False)["id"]

    domain_auth = DomainPasswordGrantAuthorizer(base, "aduser", "CORP", "AdPa55!")
    out["domain_secret"] = SecretServer(base, domain_auth).get_secret(12)["name"]

    token = auth.get_access_token()
    by_token = SecretServer(base, AccessTokenAuthorizer(token, base))
    out["token_secret"] = json.loads(by_token.get_secret_json(12))["name"]

    out["missing_secret_error"] = error_of(lambda: ss.get_secret(999))
    out["no_access_error"] = error_of(lambda: ss.get_secret(17))
    bad = SecretServer(base, PasswordGrantAuthorizer(base, "svc-scan", "wrong-password"))
    out["bad_login_error"] = error_of(lambda: bad.get_secret(10))
    bad_domain = SecretServer(base, DomainPasswordGrantAuthorizer(base, "aduser", "OTHER", "AdPa55!"))
    out["bad_domain_error"] = error_of(lambda: bad_domain.get_secret(12))
    return out


def detect(base):
    ss = SecretServer(base, PasswordGrantAuthorizer(base, "svc-scan", "S3rv!ce-pw"))
    return {"error": error_of(lambda: ss.get_secret(10))}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("full", "detect"):
        print(__doc__, file=sys.stderr)
        return 2
    base, mode = sys.argv[1], sys.argv[2]
    out = full(base) if mode == "full" else detect(base)
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Property-based test of the operator and appliance API with Schemathesis, a tool nobody here
wrote, driven by the OpenAPI document the control plane serves.

For every caller (each role's user, a Unit Manager with and without the records permission,
an enrolled appliance, and no token at all) this starts a real `sealscan-control serve` on
loopback with a fresh data directory, so what one caller breaks (its own sign-out, a lock, an
allowlist that shuts everyone out) never blinds the next. It then runs `st run` against
`/api/v1/openapi.json` with a bounded example count and fails on any server error (5xx), any
response that does not match the document (status code, content type, body schema), any
Schemathesis error, and any server that panicked or died.

Run it through scripts/test-api-properties, which builds the server and finds Schemathesis
where scripts/install-test-deps pinned it (target/pyenv).
"""

import argparse
import base64
import copy
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PC_USER = "alice"
PC_PASSWORD = "Vq7!mZp4#Lw"
PASSWORD = "Gt5%nRw8!Kd"

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        # An operation the document says needs a token answers 401 without one.
        "ignored_auth",
    ]
)

# Operations that can shut the caller out of everything after them (two-factor login made
# compulsory, an allowlist without loopback, the session ended): each runs after all the
# others, on its own, on a fresh server when the one before it left the caller shut out,
# rather than being left out.
LAST = ["PUT /api/v1/security", "PUT /api/v1/security/allowlist", "DELETE /api/v1/session"]

# A claim waits up to wait_secs (at most 60 s) for work, as it should: it gets schema-valid
# data only, with wait_secs at most 1 (see prepare), in a pass of its own; negative data would
# ask for long-polls past the request timeout.
LONG_POLL = "POST /api/v1/appliance/jobs/claim"

# (name, role, records permission); the appliance and no one have no role.
CALLERS = [
    ("primary-contact", "primary-contact", False),
    ("manager", "manager", False),
    ("unit-manager", "unit_manager", False),
    ("unit-manager-with-records", "unit_manager", True),
    ("scanner", "scanner", False),
    ("reader", "reader", False),
    ("user-administrator", "user_administrator", False),
    ("appliance", None, False),
    ("anonymous", None, False),
]


def failure_kind(schemathesis_type):
    """The total a Schemathesis failure type counts in."""
    if schemathesis_type == "ServerError":
        return "server_errors"
    if "Auth" in schemathesis_type:
        return "auth_ignored"
    return "mismatches"


class Failed(Exception):
    pass


class Server:
    """`sealscan-control init` and `serve` on 127.0.0.1, port chosen by the kernel."""

    def __init__(self, binary, root):
        self.data = os.path.join(root, "data")
        self.log_path = os.path.join(root, "server.log")
        init = subprocess.run(
            [binary, "--data-dir", self.data, "init", "--username", PC_USER,
             "--first-name", "Alice", "--last-name", "Smith",
             "--email", "alice@example.com", "--password-stdin"],
            input=PC_PASSWORD + "\n", capture_output=True, text=True, check=False,
        )
        if init.returncode != 0:
            raise Failed(f"sealscan-control init failed: {init.stderr.strip()}")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", self.data, "serve", "--listen", "127.0.0.1:0"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.base = self._wait_listening()
        self.ca = os.path.join(self.data, "tls", "cert.pem")
        self.tls = ssl.create_default_context(cafile=self.ca)

    def _wait_listening(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"listening on (https://[0-9.:]+)/api/v1", self.log_text())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise Failed(f"sealscan-control serve exited:\n{self.log_text()}")
            time.sleep(0.05)
        raise Failed(f"sealscan-control serve did not start in 30 s:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=30) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        return status, (json.loads(text) if text else None)

    def ok(self, method, path, token=None, body=None):
        status, answer = self.call(method, path, token, body)
        if not 200 <= status < 300:
            raise Failed(f"setup call {method} {path}: {status} {answer}")
        return answer

    def crashed(self):
        """Why the server counts as crashed, or None."""
        if self.proc.poll() is not None:
            return f"the server exited with {self.proc.returncode}"
        if "panicked" in self.log_text():
            return "the server panicked"
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def enroll(server, pc, name):
    """An appliance enrolled with a one-time token: (appliance id, poll secret)."""
    enrollment = server.ok("POST", "/api/v1/appliances/tokens", pc, {})["token"]
    # Any 32 bytes are an X25519 public key; nothing here opens what is sealed to it.
    key = base64.b64encode(os.urandom(32)).decode()
    enrolled = server.ok("POST", "/api/v1/appliance/enroll", body={
        "token": enrollment, "name": name, "public_key": key,
    })
    return enrolled["appliance_id"], enrolled["poll_secret"]


def seed(server):
    """One of each resource, so the operations on `{id}` meet real ones: returns the
    approved appliance's credential and, per path prefix, the id to offer as an example."""
    pc = server.ok("POST", "/api/v1/session", body={"username": PC_USER, "password": PC_PASSWORD})["token"]
    server.ok("PUT", "/api/v1/security", pc, {"user_defined_passwords": True})
    appliance, poll_secret = enroll(server, pc, "approved")
    server.ok("POST", f"/api/v1/appliances/{appliance}/approve", pc)
    state = server.ok("POST", "/api/v1/appliance/enroll/poll", body={
        "appliance_id": appliance, "poll_secret": poll_secret,
    })
    if state.get("state") != "approved":
        raise Failed(f"appliance not approved: {state}")
    credential = state["credential"]
    pending, _ = enroll(server, pc, "pending")
    secret = {"model": "legacy", "value": base64.b64encode(b"seed-secret").decode()}
    server.ok("POST", "/api/v1/users", pc, {
        "username": "target", "first_name": "Target", "last_name": "User",
        "email": "target@example.com", "role": "scanner", "password": PASSWORD,
    })
    record = server.ok("POST", "/api/v1/records", pc, {
        "kind": "unix", "title": "seed", "user": "root", "ips": ["127.0.0.1"],
        "secrets": [{"field": "password", "value": secret}],
    })["id"]
    vault = server.ok("POST", "/api/v1/vaults", pc, {
        "title": "seed", "url": "https://127.0.0.1:1/", "user": "vault", "password": secret,
    })["id"]
    scan = server.ok("POST", "/api/v1/scans", pc, {"targets": ["127.0.0.1"], "kinds": "unix"})["id"]
    job = server.ok("POST", "/api/v1/appliance/jobs/claim", credential, {"wait_secs": 0})
    examples = {
        ("/api/v1/users/", "id"): "target",
        ("/api/v1/records/", "id"): record,
        ("/api/v1/vaults/", "id"): vault,
        ("/api/v1/appliances/", "id"): pending,
        ("/api/v1/scans/", "id"): scan,
        # Not the results': building that body around an example trips a flaky Hypothesis draw
        # inside Schemathesis (no request sent), every run as the anonymous caller.
        ("/api/v1/appliance/jobs/{job_id}/heartbeat", "job_id"): job["job_id"],
    }
    return pc, credential, examples


def caller_token(server, name, role, records, pc, credential):
    """The token `name` calls with: its own user's session, the appliance's credential, none."""
    if name == "anonymous":
        return None
    if name == "appliance":
        return credential
    if role == "primary-contact":
        return pc
    server.ok("POST", "/api/v1/users", pc, {
        "username": "caller", "first_name": "Caller", "last_name": "Test",
        "email": "caller@example.com", "role": role, "password": PASSWORD,
    })
    if records:
        server.ok("PUT", "/api/v1/users/caller/records-permission", pc, {"granted": True})
    return server.ok("POST", "/api/v1/session", body={"username": "caller", "password": PASSWORD})["token"]


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if isinstance(op, dict):
                yield method, path, item, op


def resolve(doc, schema):
    """`schema` with a local `$ref` followed (one level)."""
    ref = schema.get("$ref", "")
    if ref.startswith("#/"):
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        return node
    return schema


def parameters(doc, item, op):
    """The operation's parameters with the path item's, `$ref`s followed, as copies (examples
    set on them stay on this operation)."""
    merged = {}
    for p in item.get("parameters", []) + op.get("parameters", []):
        p = copy.deepcopy(resolve(doc, p))
        merged[(p.get("name"), p.get("in"))] = p
    return list(merged.values())


def prepare(doc, examples):
    """Fits the served document for the run where it is not yet typed; returns what it changed,
    for the log. A fully typed document comes out unchanged except for the claim's wait."""
    notes = {}

    def note(why, what):
        notes.setdefault(why, []).append(what)

    for method, path, item, op in operations(doc):
        name = f"{method.upper()} {path}"
        params = op["parameters"] = parameters(doc, item, op)
        # Schemathesis refuses an operation whose path has an undeclared `{name}`.
        declared = {p.get("name") for p in params if p.get("in") == "path"}
        for param in re.findall(r"\{([^}]+)\}", path):
            if param not in declared:
                params.append({"name": param, "in": "path", "required": True,
                               "schema": {"type": "string"}})
                note("undeclared path parameter, taken as a string", f"{name} {{{param}}}")
        # The seeded resource's id as the example, beside what Schemathesis generates.
        for p in params:
            for (prefix, param), value in examples.items():
                if p.get("in") == "path" and p.get("name") == param and path.startswith(prefix):
                    p["example"] = value
        # "200 Success" with no content says nothing of which 2xx: any is within it.
        responses = op.get("responses", {})
        if ("200" in responses and "content" not in resolve(doc, responses["200"])
                and "2XX" not in responses):
            responses["2XX"] = responses.pop("200")
            note("untyped 200 answer, any 2xx accepted", name)
        # A claim waits up to wait_secs for work; bounded so a run takes seconds, not hours.
        if (method, path) == ("post", "/api/v1/appliance/jobs/claim"):
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "schema" in media:
                schema = copy.deepcopy(resolve(doc, media["schema"]))
                wait = schema.get("properties", {}).get("wait_secs")
                if wait is not None:
                    wait["maximum"] = 1
                    media["schema"] = schema
                    note("long-poll, wait_secs at most 1, valid data only", name)
    return notes


def st_run(args, server, token, schema_path, report_dir, selection):
    """One `st run` over the operations `selection` names (options); returns its JSON report."""
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
    cmd = [args.st, "--config-file", config, "run", schema_path, "--url", server.base,
           "--tls-verify", server.ca, "--checks", CHECKS,
           "--max-examples", str(args.max_examples), "--seed", str(args.seed),
           "--phases", "examples,coverage,fuzzing",
           "--request-timeout", "30", "--no-color", "--workers", str(args.workers),
           "--report", "json,ndjson" if args.keep else "json", "--report-dir", report_dir, *selection]
    if token:
        cmd += ["--header", f"Authorization: Bearer {token}"]
    # In the server's own directory: Schemathesis and Hypothesis keep state in the working one.
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         cwd=os.path.dirname(report_dir))
    reports = sorted(f for f in os.listdir(report_dir) if f.endswith(".json"))
    if not reports:
        raise Failed(f"st run wrote no report (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    path = os.path.join(report_dir, reports[-1])
    with open(path) as f:
        report = json.load(f)
    os.rename(path, path + ".read")
    report["_output"] = out.stdout + out.stderr
    return report


def still_admitted(server, name, token):
    """Whether the caller's token still gets through (no token: nothing to lose)."""
    if name == "anonymous":
        return True
    if name == "appliance":
        probe = "/api/v1/appliance/rewrap"
    else:
        # Showing oneself: any signed-in user may, unless shut out (whoami stays open to a
        # user who must still enrol in two-factor login).
        probe = f"/api/v1/users/{PC_USER if name == 'primary-contact' else 'caller'}"
    return 200 <= server.call("GET", probe, token)[0] < 300


class Caller:
    """One caller's server, token and fitted document; renewed when a pass shut it out."""

    def __init__(self, args, name, role, records, root):
        self.args, self.name, self.role, self.records, self.root = args, name, role, records, root
        self.servers = 0
        self.server = None
        self.crash = None
        self.start()

    def start(self):
        self.stop()
        self.servers += 1
        root = os.path.join(self.root, f"server{self.servers}")
        os.makedirs(root)
        self.server = Server(self.args.server, root)
        pc, credential, examples = seed(self.server)
        self.token = caller_token(self.server, self.name, self.role, self.records, pc,
                                  credential)
        _, doc = self.server.call("GET", "/api/v1/openapi.json")
        self.notes = prepare(doc, examples)
        self.schema_path = os.path.join(root, "openapi.json")
        with open(self.schema_path, "w") as f:
            json.dump(doc, f)
        self.report_dir = os.path.join(root, "reports")

    def stop(self):
        if self.server is not None:
            self.crash = self.crash or self.server.crashed()
            self.server.stop()
            self.server = None


FIGURES = ["operations", "examples", "server_errors", "mismatches", "auth_ignored", "errors"]


def summary(f):
    return (f"{f['operations']} operations, {f['examples']} examples, "
            f"{f['server_errors']} server errors, {f['mismatches']} schema mismatches, "
            f"{f['auth_ignored']} ignored auth, {f['errors']} errors")


def test_caller(args, name, role, records, root):
    """Runs Schemathesis as one caller; returns its figures."""
    os.makedirs(root)
    caller = Caller(args, name, role, records, root)
    try:
        figures = dict.fromkeys(FIGURES, 0)
        figures.update(output=[], notes=caller.notes, retried=[])
        passes = [[opt for op in [LONG_POLL, *LAST] for opt in ("--exclude-name", op)]]
        passes += [["--include-name", LONG_POLL, "--mode", "positive"]]
        passes += [["--include-name", op] for op in LAST]
        for selection in passes:
            if not still_admitted(caller.server, name, caller.token):
                caller.start()
            report = st_run(args, caller.server, caller.token, caller.schema_path,
                            caller.report_dir, selection)
            if report["errors"] and not report["failures"]:
                # An error of Schemathesis' own (seen: a flaky Hypothesis draw while building a
                # body, no request sent) says nothing of the server: the pass runs once more,
                # and an error then fails the run.
                first = report["errors"]
                report = st_run(args, caller.server, caller.token, caller.schema_path,
                                caller.report_dir, selection)
                figures["retried"].append(f"{', '.join(e['title'] for e in first)} in "
                                          f"{' '.join(selection)}")
            figures["operations"] += report["operations"]["tested"]
            figures["examples"] += report["test_cases"]["generated"]
            for failure in report["failures"]:
                figures[failure_kind(failure["type"])] += failure["count"]
            figures["errors"] += len(report["errors"]) + report["test_cases"]["errored"]
            if report["failures"] or report["errors"] or report["exit_code"] != 0:
                figures["output"].append(report["_output"])
        figures["servers"] = caller.servers
        caller.stop()
        figures["crash"] = caller.crash
        return figures
    finally:
        caller.stop()
        if caller.crash:
            for n in range(1, caller.servers + 1):
                with open(os.path.join(root, f"server{n}", "server.log"), errors="replace") as f:
                    print(f.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="path of the sealscan-control binary")
    parser.add_argument("--st", required=True, help="path of Schemathesis' st")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("API_PROPERTIES_EXAMPLES", "20")))
    # A fixed seed keeps CI reproducible; API_PROPERTIES_SEED explores further.
    parser.add_argument("--seed", type=int, default=int(os.environ.get("API_PROPERTIES_SEED", "1100")))
    parser.add_argument("--workers", type=int, default=4, help="concurrent Schemathesis workers")
    parser.add_argument("--keep", action="store_true",
                        help="keep the servers' data, logs and every request (ndjson reports)")
    parser.add_argument("--caller", action="append", help="only these callers (repeatable)")
    args = parser.parse_args()
    args.server, args.st = os.path.abspath(args.server), os.path.abspath(args.st)

    callers = [c for c in CALLERS if not args.caller or c[0] in args.caller]
    root = tempfile.mkdtemp(prefix="sealscan-api-properties-")
    started = time.monotonic()
    print(f"api-properties: Schemathesis as {len(callers)} callers, {args.max_examples} examples "
          f"per operation, seed {args.seed}; {LONG_POLL} with valid data only; "
          f"last, each on its own: {', '.join(LAST)}")
    totals = dict.fromkeys(FIGURES, 0)
    totals["crashes"] = 0
    failed = []
    printed_notes = False
    for name, role, records in callers:
        t0 = time.monotonic()
        try:
            f = test_caller(args, name, role, records, os.path.join(root, name))
        except Failed as e:
            failed.append(name)
            print(f"  {name}: setup failed: {e}")
            continue
        if not printed_notes:
            print("  the served document, fitted for the run:")
            for why, names in sorted(f["notes"].items()):
                listed = ", ".join(names) if len(names) <= 12 else "see the document"
                print(f"    {why}: {len(names)} operations ({listed})")
            printed_notes = True
        for k in FIGURES:
            totals[k] += f[k]
        totals["crashes"] += 1 if f["crash"] else 0
        servers = f"{f['servers']} server{'s' if f['servers'] > 1 else ''}"
        print(f"  {name}: {summary(f)}{', ' + f['crash'] if f['crash'] else ''}, {servers} "
              f"({time.monotonic() - t0:.1f} s)")
        for retried in f["retried"]:
            print(f"    Schemathesis error, pass run again: {retried}")
        if f["crash"] or f["output"]:
            failed.append(name)
            for text in f["output"]:
                print(text)
    print(f"api-properties: {len(callers)} callers, {summary(totals)}, {totals['crashes']} crashes "
          f"in {time.monotonic() - started:.0f} s")
    if failed:
        print(f"api-properties: FAILED for {', '.join(failed)}; servers' data and logs kept in {root}")
        return 1
    if args.keep:
        print(f"api-properties: servers' data, logs and reports kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

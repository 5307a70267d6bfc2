#!/usr/bin/env python3
"""An independent NCSM v1 envelope implementation, written from docs/ncsm-envelope.md with
pyhpke (RFC 9180) and the `cryptography` package. The Rust interop tests drive it:

  ncsm.py seal REQUEST_JSON    -> prints the envelope text form
  ncsm.py open REQUEST_JSON    -> prints the plaintext as hex, or exits 2 with "ERROR <kind>"
  ncsm.py vectors VECTORS_JSON -> reproduces every vector byte for byte and opens it, and
                                 refuses every `refused` vector with the error it names

REQUEST_JSON is a file: {"binding": {...}, "plaintext_hex", "recipients_pk_hex": [...],
optional "randomness": {"content_key", "payload_nonce", "ephemeral_ikm": [...]}} for seal;
{"binding": {...}, "sk_hex", "envelope_text"} for open.
"""

import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

MAGIC = b"NCSM"
VERSION = 1
KEM, KDF, AEAD = 0x0020, 0x0001, 0x0003
FIELDS = ["record_kind", "record_id", "field", "user", "domain", "vault_url", "secret_name"]
PREFIX = "ncsm1:"
ENTRY_LEN = 16 + 32 + 48
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)


MAX_RECIPIENTS = 64
MAX_PLAINTEXT = 65536
MAX_ENVELOPE = 4 + 1 + 6 + 7 * 2 + 6 * 1024 + 2048 + 12 + 4 + 65552 + 2 + 64 * 96
MAX_TEXT = len(PREFIX) + (MAX_ENVELOPE * 4 + 2) // 3
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class NcsmError(Exception):
    def __init__(self, kind, field=None):
        super().__init__(kind)
        self.kind = kind
        self.field = field


def field_limit(name):
    return 2048 if name == "vault_url" else 1024


def check_binding(binding):
    """Section 3's rules, checked at seal time."""
    for i, name in enumerate(FIELDS):
        raw = binding.get(name, "").encode("utf-8")
        if (i < 3 and not raw) or len(raw) > field_limit(name) or b"\0" in raw:
            raise NcsmError("InvalidBinding")


def key_id(pk):
    return hashlib.sha256(b"sealscan ncsm v1 key id\0" + pk).digest()[:16]


def header(binding):
    out = MAGIC + bytes([VERSION]) + struct.pack(">HHH", KEM, KDF, AEAD)
    for name in FIELDS:
        value = binding.get(name, "").encode("utf-8")
        out += struct.pack(">H", len(value)) + value
    return out


WRAP_LABEL = b"sealscan ncsm v1 wrap\0"


def wrap_info(h, label=WRAP_LABEL):
    return label + hashlib.sha256(h).digest()


def seal(plaintext, binding, pks, randomness=None, label=WRAP_LABEL):
    # Section 5 step 1, in its order, then the key ids distinct.
    check_binding(binding)
    if len(plaintext) > MAX_PLAINTEXT:
        raise NcsmError("LimitExceeded")
    if not pks:
        raise NcsmError("Malformed")
    if len(pks) > MAX_RECIPIENTS:
        raise NcsmError("LimitExceeded")
    if len({key_id(pk) for pk in pks}) != len(pks):
        raise NcsmError("AlreadyARecipient")
    ck = bytes.fromhex(randomness["content_key"]) if randomness else os.urandom(32)
    nonce = bytes.fromhex(randomness["payload_nonce"]) if randomness else os.urandom(12)
    h = header(binding)
    ct = ChaCha20Poly1305(ck).encrypt(nonce, plaintext, h)
    payload = nonce + struct.pack(">I", len(ct)) + ct
    ph = hashlib.sha256(payload).digest()
    entries = []
    for i, pk in enumerate(pks):
        kid = key_id(pk)
        eks = None
        if randomness:
            eks = SUITE.kem.derive_key_pair(bytes.fromhex(randomness["ephemeral_ikm"][i]))
        pkr = SUITE.kem.deserialize_public_key(pk)
        enc, ctx = SUITE.create_sender_context(pkr, wrap_info(h, label), eks=eks)
        entries.append(kid + enc + ctx.seal(ck, ph + kid))
    entries.sort(key=lambda e: e[:16])
    return h + payload + struct.pack(">H", len(entries)) + b"".join(entries)


def parse(data):
    """Section 6 step 1: every check in the order the spec lists them."""
    if len(data) > MAX_ENVELOPE:
        raise NcsmError("LimitExceeded")
    pos = 0

    def take(n):
        nonlocal pos
        if len(data) - pos < n:
            raise NcsmError("Malformed")
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    if take(4) != MAGIC:
        raise NcsmError("Malformed")
    if take(1)[0] != VERSION:
        raise NcsmError("UnknownVersion")
    if struct.unpack(">HHH", take(6)) != (KEM, KDF, AEAD):
        raise NcsmError("UnsupportedSuite")
    binding = {}
    for i, name in enumerate(FIELDS):
        (n,) = struct.unpack(">H", take(2))
        if n > field_limit(name):
            raise NcsmError("LimitExceeded")
        raw = take(n)
        try:
            binding[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NcsmError("Malformed")
        if b"\0" in raw or (i < 3 and not raw):
            raise NcsmError("Malformed")
    h = data[:pos]
    nonce = take(12)
    (ct_len,) = struct.unpack(">I", take(4))
    if ct_len > 65552:
        raise NcsmError("LimitExceeded")
    if ct_len < 16:
        raise NcsmError("Malformed")
    ct = take(ct_len)
    payload = data[len(h) : pos]
    (count,) = struct.unpack(">H", take(2))
    if count > MAX_RECIPIENTS:
        raise NcsmError("LimitExceeded")
    if count == 0 or len(data) - pos != count * ENTRY_LEN:
        raise NcsmError("Malformed")
    entries = [take(ENTRY_LEN) for _ in range(count)]
    if any(a[:16] >= b[:16] for a, b in zip(entries, entries[1:])):
        raise NcsmError("Malformed")
    return binding, h, nonce, ct, payload, entries


def open_envelope(data, expected, sk):
    binding, h, nonce, ct, payload, entries = parse(data)
    for name in FIELDS:
        if binding[name] != expected.get(name, ""):
            raise NcsmError("BindingMismatch", name)
    skr = SUITE.kem.deserialize_private_key(sk)
    kid = key_id(public_from_private(sk))
    entry = next((e for e in entries if e[:16] == kid), None)
    if entry is None:
        raise NcsmError("NotARecipient")
    try:
        ctx = SUITE.create_recipient_context(entry[16:48], skr, wrap_info(h))
        ck = ctx.open(entry[48:], hashlib.sha256(payload).digest() + kid)
    except Exception:
        raise NcsmError("Authentication(wrap)")
    if len(ck) != 32:
        raise NcsmError("Authentication(wrap)")
    try:
        return ChaCha20Poly1305(ck).decrypt(nonce, ct, h)
    except Exception:
        raise NcsmError("Authentication(payload)")


def add_recipient(data, expected, sk, new_pk, ikm=None):
    """Spec section 6, "Adding a recipient": the count and the new key id first, then open,
    then wrap the content key for new_pk."""
    binding, h, nonce, ct, payload, entries = parse(data)
    if len(entries) >= MAX_RECIPIENTS:
        raise NcsmError("LimitExceeded")
    new_kid = key_id(new_pk)
    if any(e[:16] == new_kid for e in entries):
        raise NcsmError("AlreadyARecipient")
    open_envelope(data, expected, sk)
    skr = SUITE.kem.deserialize_private_key(sk)
    kid = key_id(public_from_private(sk))
    entry = next(e for e in entries if e[:16] == kid)
    ph = hashlib.sha256(payload).digest()
    ck = SUITE.create_recipient_context(entry[16:48], skr, wrap_info(h)).open(entry[48:], ph + kid)
    eks = SUITE.kem.derive_key_pair(ikm) if ikm else None
    enc, ctx = SUITE.create_sender_context(SUITE.kem.deserialize_public_key(new_pk), wrap_info(h), eks=eks)
    entries = sorted(entries + [new_kid + enc + ctx.seal(ck, ph + new_kid)], key=lambda e: e[:16])
    return h + payload + struct.pack(">H", len(entries)) + b"".join(entries)


def to_text(data):
    return PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_text(text):
    """Section 4, text form: the checks in the spec's order."""
    if len(text) > MAX_TEXT:
        raise NcsmError("LimitExceeded")
    if not text.startswith(PREFIX):
        raise NcsmError("Malformed")
    body = text[len(PREFIX) :]
    if "=" in body:
        raise NcsmError("Malformed")  # padding
    if any(c not in B64URL for c in body):
        raise NcsmError("Malformed")  # alphabet
    if len(body) % 4 == 1:
        raise NcsmError("Malformed")  # length
    data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if to_text(data) != text:
        raise NcsmError("Malformed")  # non-zero unused bits
    return data


def public_from_private(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


def refusal_of(v, cases):
    """Runs one refused vector; returns the error kind and, for a mismatch, the field."""
    try:
        if v["operation"] == "open":
            if "envelope_text" in v:
                data = from_text(v["envelope_text"])
            else:
                data = bytes.fromhex(v["envelope_hex"])
            open_envelope(data, v["binding"], bytes.fromhex(v["sk"]))
        elif v["operation"] == "seal":
            pks = [bytes.fromhex(pk) for pk in v["recipients_pk"]]
            seal(bytes.fromhex(v["plaintext_hex"]), v["binding"], pks)
        elif v["operation"] == "rewrap":
            case = cases[v["case"]]
            opener = bytes.fromhex(case["recipients"][v["opener_index"]]["sk"])
            add_recipient(bytes.fromhex(case["envelope_hex"]), v["binding"], opener, bytes.fromhex(v["new_pk"]))
        else:
            raise AssertionError("unknown operation " + v["operation"])
    except NcsmError as e:
        return e.kind, e.field
    raise AssertionError("refused vector accepted: " + v["name"])


def main(argv):
    command, path = argv[1], argv[2]
    with open(path, encoding="utf-8") as f:
        request = json.load(f)
    if command == "seal":
        pks = [bytes.fromhex(pk) for pk in request["recipients_pk_hex"]]
        # "wrap_info_label_hex" exists only so negative tests can seal with a wrong HPKE info.
        label = bytes.fromhex(request.get("wrap_info_label_hex", WRAP_LABEL.hex()))
        data = seal(bytes.fromhex(request["plaintext_hex"]), request["binding"], pks, request.get("randomness"), label)
        print(to_text(data))
    elif command == "open":
        try:
            pt = open_envelope(from_text(request["envelope_text"]), request["binding"], bytes.fromhex(request["sk_hex"]))
        except NcsmError as e:
            print("ERROR " + e.kind)
            return 2
        print(pt.hex())
    elif command == "vectors":
        for case in request["cases"]:
            pks = [bytes.fromhex(r["pk"]) for r in case["recipients"]]
            for r in case["recipients"]:
                assert public_from_private(bytes.fromhex(r["sk"])).hex() == r["pk"], case["name"]
                assert key_id(bytes.fromhex(r["pk"])).hex() == r["key_id"], case["name"]
            data = seal(bytes.fromhex(case["plaintext_hex"]), case["binding"], pks, case["randomness"])
            assert data.hex() == case["envelope_hex"], "seal differs: " + case["name"]
            assert to_text(data) == case["envelope_text"], "text differs: " + case["name"]
            for r in case["recipients"]:
                pt = open_envelope(data, case["binding"], bytes.fromhex(r["sk"]))
                assert pt.hex() == case["plaintext_hex"], "open differs: " + case["name"]
            print("ok " + case["name"])
        for rw in request.get("rewraps", []):
            case = request["cases"][rw["case"]]
            data = bytes.fromhex(case["envelope_hex"])
            opener = bytes.fromhex(case["recipients"][rw["opener_index"]]["sk"])
            new_pk = bytes.fromhex(rw["new_recipient"]["pk"])
            out = add_recipient(data, case["binding"], opener, new_pk, bytes.fromhex(rw["ephemeral_ikm"]))
            assert out.hex() == rw["envelope_hex"], "rewrap differs: " + rw["name"]
            pt = open_envelope(out, case["binding"], bytes.fromhex(rw["new_recipient"]["sk"]))
            assert pt.hex() == case["plaintext_hex"], "rewrap open differs: " + rw["name"]
            print("ok " + rw["name"])
        for v in request.get("refused", []):
            kind, field = refusal_of(v, request["cases"])
            assert kind == v["error"], "refused %r: %s, not %s" % (v["name"], kind, v["error"])
            assert field == v.get("field"), "refused %r: field %s" % (v["name"], field)
            print("refused " + v["name"] + ": " + kind)
    else:
        print("unknown command " + command, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

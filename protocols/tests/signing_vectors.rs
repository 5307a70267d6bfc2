//! Published vectors for signed statements (docs/signed-records.md): every case in
//! docs/signed-records-vectors.json is checked here as the file states it (accepted, or refused
//! with the named cause), and the file reproduces byte for byte from the fixed inputs below
//! (Ed25519 signatures are deterministic).
//!
//! `SEALSCAN_WRITE_VECTORS=1 cargo test -p sealscan-protocols --test signing_vectors` rewrites
//! the file (only needed when the inputs change).

use ed25519_dalek::Signer as _;
use sealscan_protocols::appliance::{
    AddressRange, Delegation, DelegationPassword, HostKeyPolicy, LoginType, RecordKind,
    SecretFieldName, WindowsAuthProtocol, WindowsDomainType,
};
use sealscan_protocols::envelope::{Binding, SealRandomness, public_key, seal_with_randomness};
use sealscan_protocols::signing::{
    Anchor, ApplianceApproval, EnvelopeHash, Policy, RecordStatement, Refusal, Revocation,
    RootChange, RootDeclaration, Signed, SignedUnix, SignedVault, SignedWindows, SignerRole,
    SigningKey, Statement, TrustList, UserCertificate, VaultApi, envelope_hash, key_fingerprint,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/signed-records-vectors.json"
);

/// The vectors' clock: 2026-06-01T00:00:00Z.
const NOW: u64 = 1_780_272_000;
const YEAR: u64 = 365 * 86_400;

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

fn key(label: &str) -> SigningKey {
    SigningKey::from_seed(&seed(label))
}

struct World {
    root: SigningKey,
    recovery: SigningKey,
    alice: SigningKey,
    bob: SigningKey,
    carol: SigningKey,
    erin: SigningKey,
    root_fp: [u8; 32],
    declaration: Signed,
    certs: Vec<(&'static str, Signed)>,
    list: Signed,
    old_list: Signed,
}

fn cert(
    world_root: &SigningKey,
    user: &str,
    role: SignerRole,
    k: &SigningKey,
    from: u64,
    to: u64,
) -> Signed {
    UserCertificate {
        user_id: user.into(),
        role,
        public_key: k.public_key(),
        not_before: from,
        not_after: to,
    }
    .sign(world_root, &world_root.fingerprint())
}

fn world() -> World {
    let root = key("vector root");
    let recovery = key("vector recovery");
    let alice = key("vector alice (manager)");
    let bob = key("vector bob (unit manager)");
    let carol = key("vector carol (revoked)");
    let erin = key("vector erin (expired)");
    let root_fp = root.fingerprint();
    let declaration = RootDeclaration {
        subscription_id: "sub-0001".into(),
        recovery_key: recovery.public_key(),
        issued_at: NOW - YEAR,
    }
    .sign(&root, &root_fp);
    let certs = vec![
        (
            "alice",
            cert(
                &root,
                "u-alice",
                SignerRole::Manager,
                &alice,
                NOW - YEAR,
                NOW + YEAR,
            ),
        ),
        (
            "bob",
            cert(
                &root,
                "u-bob",
                SignerRole::UnitManager,
                &bob,
                NOW - YEAR,
                NOW + YEAR,
            ),
        ),
        (
            "carol",
            cert(
                &root,
                "u-carol",
                SignerRole::Manager,
                &carol,
                NOW - YEAR,
                NOW + YEAR,
            ),
        ),
        (
            "erin",
            cert(
                &root,
                "u-erin",
                SignerRole::UnitManager,
                &erin,
                NOW - YEAR,
                NOW - 86_400,
            ),
        ),
    ];
    let list = TrustList {
        number: 2,
        issued_at: NOW - 3600,
        certificates: certs.iter().map(|(_, c)| c.clone()).collect(),
        revoked: vec![carol.fingerprint()],
    }
    .sign(&root, &root_fp);
    let old_list = TrustList {
        number: 1,
        issued_at: NOW - 7200,
        certificates: certs.iter().map(|(_, c)| c.clone()).collect(),
        revoked: vec![],
    }
    .sign(&root, &root_fp);
    World {
        root,
        recovery,
        alice,
        bob,
        carol,
        erin,
        root_fp,
        declaration,
        certs,
        list,
        old_list,
    }
}

impl World {
    fn cert_hash(&self, who: &str) -> [u8; 32] {
        self.certs
            .iter()
            .find(|(n, _)| *n == who)
            .map(|(_, c)| c.hash())
            .unwrap()
    }
}

fn sample_envelope() -> sealscan_protocols::envelope::Envelope {
    let binding = Binding::for_record(
        "unix",
        "r-5e0c2f7a9b13d846",
        SecretFieldName::Password,
        "scanner",
        None,
        false,
    );
    let appliance = public_key(&seed("vector appliance"));
    let randomness = SealRandomness {
        content_key: Zeroizing::new(seed("vector content key")),
        payload_nonce: [7u8; 12],
        ephemeral_ikm: vec![Zeroizing::new(seed("vector ikm"))],
    };
    seal_with_randomness(
        b"correct horse battery staple",
        &binding,
        &[appliance],
        &randomness,
    )
    .unwrap()
}

fn unix_record(w: &World, version: u64) -> RecordStatement {
    RecordStatement {
        record_id: "r-5e0c2f7a9b13d846".into(),
        version,
        kind: RecordKind::Unix,
        login_type: LoginType::Basic,
        user: "scanner".into(),
        domain: None,
        scope: vec![
            AddressRange {
                first: "10.0.0.0".parse().unwrap(),
                last: "10.0.0.255".parse().unwrap(),
            },
            AddressRange {
                first: "192.0.2.7".parse().unwrap(),
                last: "192.0.2.7".parse().unwrap(),
            },
        ],
        ports: vec![22],
        unix: Some(SignedUnix {
            host_key_policy: HostKeyPolicy::Pin,
            known_host_keys: vec![],
            delegation: Delegation::Sudo,
            delegation_password: DelegationPassword::Login,
            certificate: None,
            auth: None,
        }),
        windows: None,
        vault: None,
        envelopes: vec![EnvelopeHash {
            field: SecretFieldName::Password,
            hash: envelope_hash(&sample_envelope()),
        }],
        signer_certificate: w.cert_hash("alice"),
        signed_at: NOW - 60,
    }
}

fn windows_vault_record(w: &World) -> RecordStatement {
    RecordStatement {
        record_id: "r-0a1b2c3d4e5f6789".into(),
        version: 1,
        kind: RecordKind::Windows,
        login_type: LoginType::Vault,
        user: "svc-scan".into(),
        domain: Some("corp.example.test".into()),
        scope: vec![AddressRange {
            first: "2001:db8::".parse().unwrap(),
            last: "2001:db8::ffff".parse().unwrap(),
        }],
        ports: vec![],
        unix: None,
        windows: Some(SignedWindows {
            domain_type: WindowsDomainType::ActiveDirectory,
            service_selected: false,
            ntlmv2: true,
            require_signing: true,
            min_smb_version: "3.0".into(),
            auth_protocol: WindowsAuthProtocol::Kerberos,
            realm: Some("CORP.EXAMPLE.TEST".into()),
            kdcs: vec!["dc1.corp.example.test:88".into()],
            host_names: vec!["fs1.corp.example.test".into()],
        }),
        vault: Some(SignedVault {
            vault_id: "v-c41e8f2a6d095b37".into(),
            url: "https://secretserver.example.test/SecretServer".into(),
            verify_tls: true,
            ca_sha256: Some(seed("vector vault ca pem")),
            api: VaultApi::Rest,
            user: "svc-vault".into(),
            domain: None,
            organization: None,
            secret_name: Some("fs1 scan account".into()),
            folder: Some("\\Scanning".into()),
            secret_id: None,
        }),
        envelopes: vec![],
        signer_certificate: w.cert_hash("bob"),
        signed_at: NOW - 60,
    }
}

/// Re-signs arbitrary statement bytes with `k` (for refused cases the encoder cannot make).
fn raw_signed(k: &SigningKey, statement: &[u8]) -> Signed {
    let dalek = ed25519_dalek::SigningKey::from_bytes(&k.seed());
    let mut bytes = statement.to_vec();
    bytes.extend_from_slice(&dalek.sign(statement).to_bytes());
    Signed::from_bytes(bytes).unwrap()
}

fn statement_part(s: &Signed) -> Vec<u8> {
    let b = s.as_bytes();
    b[..b.len() - 64].to_vec()
}

/// (name, check, signed bytes, highest seen, expected: "accepted" or a cause).
fn cases(w: &World) -> Vec<(String, &'static str, Signed, u64, &'static str)> {
    let mut out: Vec<(String, &'static str, Signed, u64, &'static str)> = Vec::new();
    let mut add = |name: &str, check: &'static str, s: Signed, seen: u64, expect: &'static str| {
        out.push((name.to_string(), check, s, seen, expect));
    };
    let rec = unix_record(w, 3);
    let good = rec.sign(&w.alice, &w.root_fp);

    add(
        "root declaration",
        "root_declaration",
        w.declaration.clone(),
        0,
        "accepted",
    );
    for (n, c) in &w.certs {
        add(
            &format!("user certificate {n}"),
            "certificate",
            c.clone(),
            0,
            "accepted",
        );
    }
    add("trust list 2", "trust_list", w.list.clone(), 2, "accepted");
    add(
        "unix record v3 signed by a Manager",
        "record",
        good.clone(),
        3,
        "accepted",
    );
    add(
        "windows vault record signed by a Unit Manager",
        "record",
        windows_vault_record(w).sign(&w.bob, &w.root_fp),
        0,
        "accepted",
    );
    add(
        "appliance approval by a Manager",
        "approval",
        ApplianceApproval {
            appliance_id: "a-3f2a9c0177be10d4".into(),
            public_key: public_key(&seed("vector appliance")),
            approved_at: NOW - 30,
            signer_certificate: w.cert_hash("alice"),
        }
        .sign(&w.alice, &w.root_fp),
        0,
        "accepted",
    );
    add(
        "revocation by a Manager",
        "revocation",
        Revocation {
            revoked_key: w.bob.fingerprint(),
            issued_at: NOW - 10,
            signer_certificate: w.cert_hash("alice"),
        }
        .sign(&w.alice, &w.root_fp),
        0,
        "accepted",
    );
    add(
        "policy 1 allowing NTLM",
        "policy",
        Policy {
            number: 1,
            issued_at: NOW - 100,
            allow_ntlm: true,
            ..Policy::default()
        }
        .sign(&w.root, &w.root_fp),
        1,
        "accepted",
    );
    let change = RootChange {
        new_root: key("vector new root").public_key(),
        new_recovery_key: key("vector new recovery").public_key(),
        issued_at: NOW,
        subscription_id: Some("sub-0001".into()),
    };
    add(
        "root change by the old root",
        "root_change",
        change.sign(&w.root, &w.root_fp),
        0,
        "accepted",
    );
    add(
        "root change by the recovery key",
        "root_change",
        change.sign(&w.recovery, &w.root_fp),
        0,
        "accepted",
    );

    // Refused.
    let mut bytes = good.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    add(
        "signature bit flipped",
        "record",
        Signed::from_bytes(bytes).unwrap(),
        0,
        "invalid statement",
    );
    let mut bytes = good.as_bytes().to_vec();
    bytes[90] ^= 1;
    add(
        "statement byte flipped",
        "record",
        Signed::from_bytes(bytes).unwrap(),
        0,
        "invalid statement",
    );
    // Non-canonical S (S + L): accepted by lax verifiers, refused by strict verification.
    let mut bytes = good.as_bytes().to_vec();
    let n = bytes.len();
    add_l(&mut bytes[n - 32..]);
    add(
        "signature with S + L",
        "record",
        Signed::from_bytes(bytes).unwrap(),
        0,
        "invalid statement",
    );
    let mut st = statement_part(&good);
    st[0] = b'X';
    add(
        "wrong label",
        "record",
        raw_signed(&w.alice, &st),
        0,
        "invalid statement",
    );
    let mut st = statement_part(&good);
    st[16] = 2;
    add(
        "format version 2",
        "record",
        raw_signed(&w.alice, &st),
        0,
        "invalid statement",
    );
    let mut st = statement_part(&good);
    st[17] = 6;
    add(
        "record bytes re-signed as an appliance approval",
        "approval",
        raw_signed(&w.alice, &st),
        0,
        "invalid statement",
    );
    add(
        "record offered as an approval",
        "approval",
        good.clone(),
        0,
        "invalid statement",
    );
    let mut st = statement_part(&good);
    st.extend_from_slice(&[99, 0, 1, 0]);
    add(
        "unknown field tag 99",
        "record",
        raw_signed(&w.alice, &st),
        0,
        "invalid statement",
    );
    let mut with_domain = unix_record(w, 3);
    with_domain.domain = Some("Corp.Example".into());
    add(
        "domain not in canonical lower case",
        "record",
        with_domain.sign(&w.alice, &w.root_fp),
        0,
        "invalid statement",
    );
    let mut st = statement_part(&good);
    let body = st.split_off(82);
    let mut fields = split_fields(&body);
    fields.swap(0, 1);
    st.extend(fields.concat());
    add(
        "fields out of order",
        "record",
        raw_signed(&w.alice, &st),
        0,
        "invalid statement",
    );
    add(
        "record for another root",
        "record",
        rec.sign(&w.alice, &key("vector other root").fingerprint()),
        0,
        "other root",
    );
    let mut dave = unix_record(w, 3);
    dave.signer_certificate = w.cert_hash("alice");
    add(
        "record signed by an uncertified key naming a Manager's certificate",
        "record",
        dave.sign(&key("vector dave (uncertified)"), &w.root_fp),
        0,
        "uncertified signer",
    );
    let mut by_carol = unix_record(w, 3);
    by_carol.signer_certificate = w.cert_hash("carol");
    add(
        "record signed by a revoked key",
        "record",
        by_carol.sign(&w.carol, &w.root_fp),
        0,
        "revoked signer",
    );
    let mut by_erin = unix_record(w, 3);
    by_erin.signer_certificate = w.cert_hash("erin");
    add(
        "record signed under an expired certificate",
        "record",
        by_erin.sign(&w.erin, &w.root_fp),
        0,
        "expired certificate",
    );
    add(
        "older record version",
        "record",
        unix_record(w, 2).sign(&w.alice, &w.root_fp),
        3,
        "version rollback",
    );
    add(
        "older trust list",
        "trust_list",
        w.old_list.clone(),
        2,
        "trust list rollback",
    );
    add(
        "trust list signed by a Manager",
        "trust_list",
        TrustList {
            number: 3,
            issued_at: NOW,
            certificates: vec![],
            revoked: vec![],
        }
        .sign(&w.alice, &w.root_fp),
        2,
        "uncertified signer",
    );
    let by_bob = ApplianceApproval {
        appliance_id: "a-3f2a9c0177be10d4".into(),
        public_key: public_key(&seed("vector rogue appliance")),
        approved_at: NOW,
        signer_certificate: w.cert_hash("bob"),
    };
    add(
        "appliance approval by a Unit Manager",
        "approval",
        by_bob.sign(&w.bob, &w.root_fp),
        0,
        "uncertified signer",
    );
    add(
        "policy signed by a Manager",
        "policy",
        Policy {
            number: 5,
            issued_at: NOW,
            allow_vault_without_tls_verification: true,
            ..Policy::default()
        }
        .sign(&w.alice, &w.root_fp),
        1,
        "uncertified signer",
    );
    add(
        "older policy",
        "policy",
        Policy {
            number: 1,
            issued_at: NOW,
            ..Policy::default()
        }
        .sign(&w.root, &w.root_fp),
        2,
        "policy rollback",
    );
    add(
        "root change by a Manager",
        "root_change",
        change.sign(&w.alice, &w.root_fp),
        0,
        "uncertified signer",
    );
    out
}

/// Adds the Ed25519 group order L to a 32-byte little-endian scalar.
fn add_l(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
}

fn split_fields(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let len = 3 + usize::from(u16::from_be_bytes([body[1], body[2]]));
        out.push(body[..len].to_vec());
        body = &body[len..];
    }
    out
}

/// Checks one vector the way an appliance does, against the published context.
fn check(
    anchor: &Anchor,
    list: &Signed,
    check: &str,
    signed: &Signed,
    seen: u64,
) -> Result<(), Refusal> {
    let trust = anchor.trust_list(list, 2)?;
    match check {
        "root_declaration" => Anchor::from_declaration(&anchor.fingerprint(), signed).map(drop),
        "certificate" => {
            // A certificate is checked as part of a list; alone, only its root signature.
            let opened =
                sealscan_protocols::signing::open::<UserCertificate>(signed).map_err(|error| {
                    Refusal::Invalid {
                        what: "user certificate",
                        error,
                    }
                })?;
            if opened.signer == anchor.root_key && opened.root == anchor.fingerprint() {
                Ok(())
            } else {
                Err(Refusal::Uncertified {
                    what: "user certificate",
                })
            }
        }
        "trust_list" => anchor.trust_list(signed, seen).map(drop),
        "record" => trust.record(signed, NOW, Some(seen)).map(drop),
        "approval" => trust.approval(signed, NOW).map(drop),
        "revocation" => trust.clone().add_revocation(signed, NOW).map(drop),
        "policy" => anchor.policy(signed, seen).map(drop),
        "root_change" => anchor.change(signed).map(drop),
        other => panic!("unknown check {other}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn document(w: &World) -> Value {
    let anchor = Anchor::from_declaration(&w.root_fp, &w.declaration).unwrap();
    let vectors: Vec<Value> = cases(w)
        .into_iter()
        .map(|(name, kind, signed, seen, expect)| {
            let detail = check(&anchor, &w.list, kind, &signed, seen)
                .err()
                .map(|r| r.to_string());
            json!({
                "name": name,
                "check": kind,
                "highest_seen": seen,
                "expect": expect,
                "detail": detail,
                "signed_hex": hex(signed.as_bytes()),
            })
        })
        .collect();
    json!({
        "description": "sealscan signed statements, format version 1 (docs/signed-records.md). Each vector is checked against the context: pinned root fingerprint, root declaration, trust list (accepted with highest seen 2), clock. `highest_seen` is the trust-list number, policy number or record version the appliance already accepted. `expect` is `accepted` or the refusal cause.",
        "context": {
            "now": NOW,
            "root_fingerprint_hex": hex(&w.root_fp),
            "root_public_key_hex": hex(&w.root.public_key()),
            "root_declaration_hex": hex(w.declaration.as_bytes()),
            "trust_list_hex": hex(w.list.as_bytes()),
            "envelope_hash_example": {
                "envelope_text": sample_envelope().to_text(),
                "hash_hex": hex(&envelope_hash(&sample_envelope())),
            },
        },
        "vectors": vectors,
    })
}

#[test]
fn published_vectors_check_as_stated_and_reproduce() {
    let w = world();
    let generated = serde_json::to_string_pretty(&document(&w)).unwrap() + "\n";
    if std::env::var_os("SEALSCAN_WRITE_VECTORS").is_some() {
        std::fs::write(VECTORS, &generated).unwrap();
    }
    let text = std::fs::read_to_string(VECTORS)
        .expect("docs/signed-records-vectors.json (SEALSCAN_WRITE_VECTORS=1 writes it)");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let ctx = &doc["context"];
    let pinned: [u8; 32] = unhex(ctx["root_fingerprint_hex"].as_str().unwrap())
        .try_into()
        .unwrap();
    let declaration =
        Signed::from_bytes(unhex(ctx["root_declaration_hex"].as_str().unwrap())).unwrap();
    let anchor = Anchor::from_declaration(&pinned, &declaration).unwrap();
    let list = Signed::from_bytes(unhex(ctx["trust_list_hex"].as_str().unwrap())).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 30, "{}", vectors.len());
    for v in vectors {
        let signed = Signed::from_bytes(unhex(v["signed_hex"].as_str().unwrap())).unwrap();
        let got = check(
            &anchor,
            &list,
            v["check"].as_str().unwrap(),
            &signed,
            v["highest_seen"].as_u64().unwrap(),
        );
        let (cause, detail) = match got {
            Ok(()) => ("accepted".to_string(), Value::Null),
            Err(r) => (r.cause().to_string(), Value::String(r.to_string())),
        };
        assert_eq!(cause, v["expect"].as_str().unwrap(), "{}", v["name"]);
        assert_eq!(detail, v["detail"], "{}", v["name"]);
    }
    assert_eq!(
        text, generated,
        "the committed vectors differ from the generator"
    );
}

#[test]
fn every_statement_round_trips_through_text_and_canonical_bytes() {
    let w = world();
    let rec = unix_record(&w, 3);
    let signed = rec.sign(&w.alice, &w.root_fp);
    let again = Signed::from_text(&signed.to_text()).unwrap();
    assert_eq!(again, signed);
    let opened = sealscan_protocols::signing::open::<RecordStatement>(&again).unwrap();
    assert_eq!(opened.statement, rec);
    assert_eq!(opened.signer, w.alice.public_key());
    assert_eq!(
        key_fingerprint(&w.alice.public_key()),
        w.alice.fingerprint()
    );
    let win = windows_vault_record(&w);
    assert_eq!(RecordStatement::decode(&win.encode()).unwrap(), win);
    assert!(format!("{:?}", w.alice).contains("[REDACTED]"));
}

#[test]
fn a_revocation_voids_the_revoked_keys_records() {
    let w = world();
    let anchor = Anchor::from_declaration(&w.root_fp, &w.declaration).unwrap();
    let mut trust = anchor.trust_list(&w.list, 0).unwrap();
    let rec = unix_record(&w, 3).sign(&w.alice, &w.root_fp);
    assert!(trust.record(&rec, NOW, None).is_ok());
    let mut by_bob = unix_record(&w, 4);
    by_bob.signer_certificate = w.cert_hash("bob");
    let by_bob = by_bob.sign(&w.bob, &w.root_fp);
    let revoke_alice = Revocation {
        revoked_key: w.alice.fingerprint(),
        issued_at: NOW,
        signer_certificate: w.cert_hash("alice"),
    }
    .sign(&w.alice, &w.root_fp);
    trust.add_revocation(&revoke_alice, NOW).unwrap();
    assert_eq!(
        trust.record(&rec, NOW, None).unwrap_err().cause(),
        "revoked signer"
    );
    // A Unit Manager cannot revoke.
    let revoke_by_bob = Revocation {
        revoked_key: w.root.fingerprint(),
        issued_at: NOW,
        signer_certificate: w.cert_hash("bob"),
    }
    .sign(&w.bob, &w.root_fp);
    assert_eq!(
        trust
            .add_revocation(&revoke_by_bob, NOW)
            .unwrap_err()
            .cause(),
        "uncertified signer"
    );
    assert!(trust.record(&by_bob, NOW, Some(3)).is_ok());
}

#[test]
fn garbage_never_panics() {
    let w = world();
    let good = unix_record(&w, 3).sign(&w.alice, &w.root_fp);
    let bytes = good.as_bytes();
    for cut in 0..bytes.len() {
        if let Ok(s) = Signed::from_bytes(bytes[..cut].to_vec()) {
            assert!(sealscan_protocols::signing::open::<RecordStatement>(&s).is_err());
        }
    }
    for text in ["", "sgn1:", "sgn1:====", "sgn2:AAAA", "sgn1:\u{e9}"] {
        assert!(Signed::from_text(text).is_err(), "{text:?}");
    }
}

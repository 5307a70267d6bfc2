//! The appliance's record-signature check on jobs built directly (docs/signed-records.md):
//! each change a hostile control plane can make to a job is refused with its own cause, the
//! honest job passes, and what the appliance accepted survives a restart (it is on disk before
//! the check returns).

use sealscan_agent::trust::{self, Gate, store};
use sealscan_protocols::appliance::{
    AddressRange, Delegation, DelegationPassword, HostKeyPolicy, JobRecord, LoginType, RecordKind,
    RecordLogin, SecretField, SecretFieldName, SecretValue, UnixOptions, WindowsAuthProtocol,
    WindowsDomainType, WindowsOptions, WireSecret,
};
use sealscan_protocols::envelope::{Binding, public_key, seal};
use sealscan_protocols::signing::{
    EnvelopeHash, JobSignatures, JobSigning, Policy, RecordSignature, RecordStatement, RootChange,
    RootDeclaration, SignedUnix, SignedWindows, SignerRole, SigningKey, Statement, TrustList,
    UserCertificate, envelope_hash, fingerprint_text,
};
use std::net::IpAddr;

const NOW: u64 = 1_780_272_000;

/// Certificates outlive both the fixed clock of the direct checks and the real clock the scan
/// path uses.
fn until() -> u64 {
    sealscan_agent::trust::job::now().max(NOW) + 365 * 86_400
}
const RECORD: &str = "r-5e0c2f7a9b13d846";

struct World {
    root: SigningKey,
    alice: SigningKey,
    alice_cert: [u8; 32],
    signing: JobSigning,
    appliance_pk: [u8; 32],
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn world() -> World {
    let root = key(1);
    let recovery = key(2);
    let alice = key(3);
    let fp = root.fingerprint();
    let cert = UserCertificate {
        user_id: "u-alice".into(),
        role: SignerRole::Manager,
        public_key: alice.public_key(),
        not_before: NOW - 1000,
        not_after: until(),
    }
    .sign(&root, &fp);
    let list = TrustList {
        number: 5,
        issued_at: NOW,
        certificates: vec![cert.clone()],
        revoked: vec![],
    }
    .sign(&root, &fp);
    let declaration = RootDeclaration {
        subscription_id: "sub-1".into(),
        recovery_key: recovery.public_key(),
        issued_at: NOW,
    }
    .sign(&root, &fp);
    World {
        alice_cert: cert.hash(),
        signing: JobSigning {
            root_declaration: declaration.to_text(),
            trust_list: list.to_text(),
            ..JobSigning::default()
        },
        root,
        alice,
        appliance_pk: public_key(&[9u8; 32]),
    }
}

fn sealed(w: &World, record_id: &str, user: &str, secret: &[u8]) -> String {
    let binding = Binding::for_record(
        "unix",
        record_id,
        SecretFieldName::Password,
        user,
        None,
        false,
    );
    seal(secret, &binding, &[w.appliance_pk]).unwrap().to_text()
}

fn job_record(envelope: &str) -> JobRecord {
    JobRecord {
        record_id: RECORD.into(),
        title: "web servers".into(),
        kind: RecordKind::Unix,
        user: "scanner".into(),
        domain: None,
        windows: None,
        unix: Some(UnixOptions {
            delegation: Delegation::Sudo,
            ..UnixOptions::default()
        }),
        login: RecordLogin::Basic {
            secrets: vec![SecretField {
                field: SecretFieldName::Password,
                value: SecretValue::Sealed {
                    envelope: envelope.into(),
                },
            }],
        },
        address_ranges: vec![],
    }
}

fn statement(w: &World, version: u64, envelope: &str) -> RecordStatement {
    let env = sealscan_protocols::envelope::Envelope::from_text(envelope).unwrap();
    RecordStatement {
        record_id: RECORD.into(),
        version,
        kind: RecordKind::Unix,
        login_type: LoginType::Basic,
        user: "scanner".into(),
        domain: None,
        scope: vec![AddressRange {
            first: "127.0.0.1".parse().unwrap(),
            last: "127.0.0.9".parse().unwrap(),
        }],
        ports: vec![2222],
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
            hash: envelope_hash(&env),
        }],
        signer_certificate: w.alice_cert,
        signed_at: NOW,
    }
}

fn signatures(w: &World, s: &RecordStatement) -> JobSignatures {
    JobSignatures {
        signing: Some(w.signing.clone()),
        records: vec![RecordSignature {
            record_id: s.record_id.clone(),
            statement: Some(s.sign(&w.alice, &w.root.fingerprint()).to_text()),
        }],
    }
}

fn pinned_gate(w: &World) -> (tempfile::TempDir, Gate) {
    let dir = tempfile::tempdir().unwrap();
    trust::pin(dir.path(), &fingerprint_text(&w.root.fingerprint()), None).unwrap();
    let gate = Gate::open(dir.path()).unwrap().expect("a root is pinned");
    (dir, gate)
}

const IN_SCOPE: &str = "127.0.0.2";

fn run(
    gate: &Gate,
    sigs: &JobSignatures,
    record: &JobRecord,
    ip: &str,
    port: u16,
) -> Result<trust::Verified, String> {
    let job = gate
        .prepare(sigs.signing.as_ref(), NOW)
        .map_err(|r| r.cause().to_string())?;
    gate.check(
        &job,
        sigs,
        record,
        None,
        ip.parse::<IpAddr>().unwrap(),
        port,
        NOW,
    )
    .map_err(|r| r.cause().to_string())
}

#[test]
fn the_honest_job_passes_and_its_version_is_on_disk_before_use() {
    let w = world();
    let (dir, gate) = pinned_gate(&w);
    let env = sealed(&w, RECORD, "scanner", b"pw");
    let s = statement(&w, 3, &env);
    let ok = run(
        &gate,
        &signatures(&w, &s),
        &job_record(&env),
        IN_SCOPE,
        2222,
    )
    .unwrap();
    assert_eq!((ok.version, ok.signer_user_id.as_str()), (3, "u-alice"));
    // What a kill -9 right after the check would leave: the version and list number on disk.
    let seen = store::load_seen(dir.path()).unwrap();
    assert_eq!(seen.records.get(RECORD), Some(&3));
    assert_eq!(seen.trust_list, 5);
    // A restarted appliance refuses the older version.
    drop(gate);
    let gate = Gate::open(dir.path()).unwrap().unwrap();
    let old = statement(&w, 2, &env);
    assert_eq!(
        run(
            &gate,
            &signatures(&w, &old),
            &job_record(&env),
            IN_SCOPE,
            2222
        )
        .unwrap_err(),
        "version rollback"
    );
}

#[test]
fn each_hostile_change_is_refused_with_its_own_cause() {
    let w = world();
    let (_dir, gate) = pinned_gate(&w);
    let env = sealed(&w, RECORD, "scanner", b"pw");
    let s = statement(&w, 3, &env);
    let sigs = signatures(&w, &s);
    let record = job_record(&env);
    let cause = |sigs: &JobSignatures, record: &JobRecord, ip: &str, port: u16| {
        run(&gate, sigs, record, ip, port).unwrap_err()
    };

    // Re-aiming: an address outside the signed scope, another port of an in-scope host.
    assert_eq!(
        cause(&sigs, &record, "127.0.0.66", 2222),
        "target outside signed scope"
    );
    assert_eq!(
        cause(&sigs, &record, IN_SCOPE, 22),
        "port outside signed scope"
    );
    // Login user or domain changed in the database.
    let mut changed = record.clone();
    changed.user = "root".into();
    assert_eq!(cause(&sigs, &changed, IN_SCOPE, 2222), "unsigned change");
    let mut changed = record.clone();
    changed.domain = Some("evil.example".into());
    assert_eq!(cause(&sigs, &changed, IN_SCOPE, 2222), "unsigned change");
    let mut changed = record.clone();
    changed.unix.as_mut().unwrap().host_key_policy = HostKeyPolicy::Off;
    assert_eq!(cause(&sigs, &changed, IN_SCOPE, 2222), "unsigned change");
    // Substitution: an envelope the attacker sealed to the appliance's public key.
    let forged = sealed(&w, RECORD, "scanner", b"attacker's choice");
    assert_eq!(
        cause(&sigs, &job_record(&forged), IN_SCOPE, 2222),
        "envelope not signed"
    );
    // Plaintext (legacy) secrets under a pinned root.
    let mut legacy = record.clone();
    legacy.login = RecordLogin::Basic {
        secrets: vec![SecretField {
            field: SecretFieldName::Password,
            value: SecretValue::Legacy {
                value: WireSecret::new(b"pw"),
            },
        }],
    };
    assert_eq!(cause(&sigs, &legacy, IN_SCOPE, 2222), "envelope not signed");
    // Unsigned record; a statement for another record id moved onto this one.
    let unsigned = JobSignatures {
        signing: Some(w.signing.clone()),
        records: vec![],
    };
    assert_eq!(cause(&unsigned, &record, IN_SCOPE, 2222), "unsigned");
    let mut other = statement(&w, 1, &env);
    other.record_id = "r-0000000000000000".into();
    let mut moved = signatures(&w, &other);
    moved.records[0].record_id = RECORD.into();
    assert_eq!(cause(&moved, &record, IN_SCOPE, 2222), "other record");
    // An uncertified key signing with Alice's certificate named.
    let mut by_mallory = signatures(&w, &s);
    by_mallory.records[0].statement = Some(s.sign(&key(66), &w.root.fingerprint()).to_text());
    assert_eq!(
        cause(&by_mallory, &record, IN_SCOPE, 2222),
        "uncertified signer"
    );
    // No trust material at all.
    let bare = JobSignatures {
        signing: None,
        records: sigs.records.clone(),
    };
    assert_eq!(cause(&bare, &record, IN_SCOPE, 2222), "unsigned");
    // The honest job still passes after all that.
    run(&gate, &sigs, &record, IN_SCOPE, 2222).unwrap();
}

#[test]
fn an_older_trust_list_and_another_root_are_refused() {
    let w = world();
    let (_dir, gate) = pinned_gate(&w);
    let env = sealed(&w, RECORD, "scanner", b"pw");
    let s = statement(&w, 1, &env);
    run(
        &gate,
        &signatures(&w, &s),
        &job_record(&env),
        IN_SCOPE,
        2222,
    )
    .unwrap();
    let fp = w.root.fingerprint();
    let mut older = signatures(&w, &s);
    older.signing.as_mut().unwrap().trust_list = TrustList {
        number: 4,
        issued_at: NOW,
        certificates: vec![],
        revoked: vec![],
    }
    .sign(&w.root, &fp)
    .to_text();
    assert_eq!(
        run(&gate, &older, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "trust list rollback"
    );
    // Same number, other contents (a list with Alice's certificate dropped and Mallory's in).
    let mut same_number = signatures(&w, &s);
    same_number.signing.as_mut().unwrap().trust_list = TrustList {
        number: 5,
        issued_at: NOW,
        certificates: vec![],
        revoked: vec![],
    }
    .sign(&w.root, &fp)
    .to_text();
    assert_eq!(
        run(&gate, &same_number, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "trust list rollback"
    );

    // A fresh appliance pinned to this root refuses another root's whole world.
    let other = World {
        root: key(50),
        ..world()
    };
    let other_fp = other.root.fingerprint();
    let mut foreign = signatures(&w, &s);
    foreign.signing.as_mut().unwrap().root_declaration = RootDeclaration {
        subscription_id: "sub-1".into(),
        recovery_key: key(51).public_key(),
        issued_at: NOW,
    }
    .sign(&other.root, &other_fp)
    .to_text();
    let (_dir2, fresh) = pinned_gate(&w);
    assert_eq!(
        run(&fresh, &foreign, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "root declaration"
    );
}

#[test]
fn loosening_needs_a_root_signed_policy_and_windows_settings_are_signed() {
    let w = world();
    let (_dir, gate) = pinned_gate(&w);
    let fp = w.root.fingerprint();
    let windows = WindowsOptions {
        domain_type: WindowsDomainType::Netbios,
        service_selected: true,
        ntlmv2: true,
        require_signing: true,
        min_smb_version: "3.0".into(),
        auth_protocol: WindowsAuthProtocol::Ntlm,
        ..WindowsOptions::default()
    };
    let binding = Binding::for_record(
        "windows",
        RECORD,
        SecretFieldName::Password,
        "scanner",
        Some("CORP"),
        false,
    );
    let env = seal(b"pw", &binding, &[w.appliance_pk]).unwrap().to_text();
    let mut record = job_record(&env);
    record.kind = RecordKind::Windows;
    record.unix = None;
    record.domain = Some("CORP".into());
    record.windows = Some(windows);
    let mut s = statement(&w, 1, &env);
    s.kind = RecordKind::Windows;
    s.unix = None;
    s.domain = Some("corp".into());
    s.ports = vec![];
    s.windows = Some(SignedWindows {
        domain_type: WindowsDomainType::Netbios,
        service_selected: true,
        ntlmv2: true,
        require_signing: true,
        min_smb_version: "3.0".into(),
        auth_protocol: WindowsAuthProtocol::Ntlm,
        realm: None,
        kdcs: vec![],
        host_names: vec![],
    });
    let sigs = signatures(&w, &s);
    // A service-selected record is used wherever the signed domain answers; NTLM needs policy.
    assert_eq!(
        run(&gate, &sigs, &record, "10.9.9.9", 445).unwrap_err(),
        "not allowed by policy"
    );
    let mut with_policy = sigs.clone();
    with_policy.signing.as_mut().unwrap().policy = Some(
        Policy {
            number: 1,
            issued_at: NOW,
            allow_ntlm: true,
            ..Policy::default()
        }
        .sign(&w.root, &fp)
        .to_text(),
    );
    run(&gate, &with_policy, &record, "10.9.9.9", 445).unwrap();
    // The policy cannot be dropped again (a control-plane row flipped back is not a policy).
    assert_eq!(
        run(&gate, &sigs, &record, "10.9.9.9", 445).unwrap_err(),
        "policy rollback"
    );
    // The service-selected domain changed in the database.
    let mut moved = record.clone();
    moved.domain = Some("OTHER".into());
    assert_eq!(
        run(&gate, &with_policy, &moved, "10.9.9.9", 445).unwrap_err(),
        "unsigned change"
    );
    let mut signing_off = record.clone();
    signing_off.windows.as_mut().unwrap().require_signing = false;
    assert_eq!(
        run(&gate, &with_policy, &signing_off, "10.9.9.9", 445).unwrap_err(),
        "unsigned change"
    );
}

#[test]
fn a_root_is_pinned_once_and_moved_only_by_a_change_the_old_root_signed() {
    let w = world();
    let (dir, _gate) = pinned_gate(&w);
    let fp = w.root.fingerprint();
    let new_root = key(20);
    let new_fp = fingerprint_text(&new_root.fingerprint());
    let err = trust::pin(dir.path(), &new_fp, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already has the root"), "{err}");
    let change = RootChange {
        new_root: new_root.public_key(),
        new_recovery_key: key(21).public_key(),
        issued_at: NOW,
        subscription_id: None,
    };
    let forged = change.sign(&key(30), &fp).to_text();
    let err = trust::pin(dir.path(), &new_fp, Some(&forged))
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused"), "{err}");
    let genuine = change.sign(&w.root, &fp).to_text();
    let pinned = trust::pin(dir.path(), &new_fp, Some(&genuine)).unwrap();
    assert_eq!(pinned.fingerprint, new_fp);
    assert!(trust::pin(dir.path(), "not a fingerprint", None).is_err());
    // Unpinned appliances have no gate (today's behaviour until a root is pinned).
    let empty = tempfile::tempdir().unwrap();
    assert!(Gate::open(empty.path()).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// Through the scan path: the daemon's `run_target` with the gate, an attacker's listener on
// another loopback address, and not a single connection to it.

mod scan_path {
    use super::*;
    use sealscan_agent::arena::Arena;
    use sealscan_agent::config::Timeouts;
    use sealscan_agent::identity::IdentityKey;
    use sealscan_agent::resolve::JobCredentials;
    use sealscan_agent::scan::run_target;
    use sealscan_agent::trust::SignatureGate;
    use sealscan_protocols::appliance::{Job, JobTarget};
    use sealscan_protocols::results::{LoginKind, Status, Step};
    use std::net::TcpListener;
    use std::sync::Arc;

    /// An attacker's listener: counts every connection that reaches it.
    fn attacker() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.66:0").expect("bind 127.0.0.66");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    fn connections(listener: &TcpListener) -> usize {
        std::iter::from_fn(|| listener.accept().ok()).count()
    }

    #[tokio::test]
    async fn refused_targets_are_never_connected_to() {
        let w = world();
        let (dir, _gate) = pinned_gate(&w);
        let arena = Arena::with_capacity(4096).expect("arena");
        let identity = Arc::new(IdentityKey::generate(&arena).expect("identity"));
        let binding = Binding::for_record(
            "unix",
            RECORD,
            SecretFieldName::Password,
            "scanner",
            None,
            false,
        );
        let env = seal(b"pw", &binding, &[*identity.public_key()])
            .unwrap()
            .to_text();
        let s = statement(&w, 1, &env);
        let sigs = signatures(&w, &s);
        let (listener, port) = attacker();
        let target = |id: &str, kind: LoginKind, record: Option<&str>| JobTarget {
            target_id: id.into(),
            host: "127.0.0.66".into(),
            kind,
            port: Some(port),
            record_id: record.map(str::to_string),
        };
        let targets = vec![
            // The attacker's address added to the record's targets.
            target("t1", LoginKind::Unix, Some(RECORD)),
            // A Windows target without a record: the domain probe would connect.
            target("t2", LoginKind::Windows, None),
            // A Unix target without a record given by address.
            target("t3", LoginKind::Unix, None),
        ];
        let job = Job {
            job_id: "j1".into(),
            scan_id: "s1".into(),
            lease_secs: 60,
            targets: targets.clone(),
            records: vec![job_record(&env)],
            vaults: vec![],
        };
        let creds = Arc::new(
            JobCredentials::new(&job, identity.clone())
                .with_signature_gate(SignatureGate::for_job(dir.path(), sigs.clone())),
        );
        let expected = [
            "target outside signed scope",
            "no signed windows record",
            "target outside signed scope",
        ];
        for (t, expected) in targets.iter().zip(expected) {
            let post = run_target("j1", creds.clone(), t, &Timeouts::default()).await;
            let cause = post.outcome.cause.clone().expect("a cause");
            assert_eq!(post.outcome.status, Status::NotAttempted, "{post:?}");
            assert_eq!(cause.step, Step::RecordSignature, "{post:?}");
            assert!(
                cause.detail.contains(expected),
                "{}: {cause:?}",
                t.target_id
            );
        }
        assert_eq!(
            connections(&listener),
            0,
            "the attacker's listener was reached"
        );

        // The same job with the statement missing: fail closed, still no connection.
        let unsigned = JobSignatures {
            signing: Some(w.signing.clone()),
            records: vec![],
        };
        let creds = Arc::new(
            JobCredentials::new(&job, identity)
                .with_signature_gate(SignatureGate::for_job(dir.path(), unsigned)),
        );
        let post = run_target("j1", creds, &targets[0], &Timeouts::default()).await;
        let cause = post.outcome.cause.expect("a cause");
        assert_eq!(cause.step, Step::RecordSignature);
        assert!(cause.detail.contains("unsigned"), "{}", cause.detail);
        assert_eq!(connections(&listener), 0);
    }

    /// The normal flow with signing on: a signed record logs in to a real sshd; the same
    /// record at another port of the same host is refused without a connection.
    #[tokio::test]
    async fn a_signed_record_logs_in_and_nowhere_else() {
        use sealscan_test_peers::sshd::{Sshd, SshdOptions};
        use sealscan_test_peers::system::ensure_user;
        const USER: &str = "ssu_signed";
        const PASSWORD: &str = "ssu-Signed-Horse-9";
        ensure_user(USER, PASSWORD);
        let sshd = Sshd::start(&SshdOptions::default());
        let w = world();
        let (dir, _gate) = pinned_gate(&w);
        let arena = Arena::with_capacity(4096).expect("arena");
        let identity = Arc::new(IdentityKey::generate(&arena).expect("identity"));
        let binding =
            Binding::for_record("unix", RECORD, SecretFieldName::Password, USER, None, false);
        let env = seal(PASSWORD.as_bytes(), &binding, &[*identity.public_key()])
            .unwrap()
            .to_text();
        let mut s = statement(&w, 1, &env);
        s.user = USER.into();
        s.ports = vec![sshd.port()];
        s.unix.as_mut().unwrap().delegation = Delegation::None;
        let mut record = job_record(&env);
        record.user = USER.into();
        record.unix.as_mut().unwrap().delegation = Delegation::None;
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        other.set_nonblocking(true).unwrap();
        let other_port = other.local_addr().unwrap().port();
        let at = |id: &str, port: u16| JobTarget {
            target_id: id.into(),
            host: "127.0.0.1".into(),
            kind: LoginKind::Unix,
            port: Some(port),
            record_id: Some(RECORD.into()),
        };
        let job = Job {
            job_id: "j2".into(),
            scan_id: "s2".into(),
            lease_secs: 60,
            targets: vec![at("t1", sshd.port()), at("t2", other_port)],
            records: vec![record],
            vaults: vec![],
        };
        let creds = Arc::new(
            JobCredentials::new(&job, identity)
                .with_signature_gate(SignatureGate::for_job(dir.path(), signatures(&w, &s))),
        );
        let ok = run_target("j2", creds.clone(), &job.targets[0], &Timeouts::default()).await;
        assert_eq!(ok.outcome.status, Status::Passed, "{:?}", ok.outcome);
        let refused = run_target("j2", creds, &job.targets[1], &Timeouts::default()).await;
        let cause = refused.outcome.cause.expect("a cause");
        assert_eq!(cause.step, Step::RecordSignature);
        assert!(
            cause.detail.contains("port outside signed scope"),
            "{}",
            cause.detail
        );
        assert_eq!(connections(&other), 0);
    }
}

#[test]
fn a_revocation_stays_even_when_the_control_plane_stops_sending_it() {
    let w = world();
    let (_dir, gate) = pinned_gate(&w);
    let env = sealed(&w, RECORD, "scanner", b"pw");
    let s = statement(&w, 1, &env);
    let sigs = signatures(&w, &s);
    run(&gate, &sigs, &job_record(&env), IN_SCOPE, 2222).unwrap();
    let mut revoking = sigs.clone();
    revoking.signing.as_mut().unwrap().revocations = vec![
        sealscan_protocols::signing::Revocation {
            revoked_key: w.alice.fingerprint(),
            issued_at: NOW,
            signer_certificate: w.alice_cert,
        }
        .sign(&w.alice, &w.root.fingerprint())
        .to_text(),
    ];
    assert_eq!(
        run(&gate, &revoking, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "revoked signer"
    );
    // The next job leaves the revocation out: the key stays revoked.
    assert_eq!(
        run(&gate, &sigs, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "revoked signer"
    );
}

#[test]
fn a_root_change_in_the_job_moves_the_root_once() {
    let w = world();
    let (dir, gate) = pinned_gate(&w);
    let old_fp = w.root.fingerprint();
    let new_root = key(40);
    let new_fp = new_root.fingerprint();
    let change = RootChange {
        new_root: new_root.public_key(),
        new_recovery_key: key(41).public_key(),
        issued_at: NOW,
        subscription_id: Some("sub-1".into()),
    }
    .sign(&w.root, &old_fp)
    .to_text();
    let cert = UserCertificate {
        user_id: "u-alice".into(),
        role: SignerRole::Manager,
        public_key: w.alice.public_key(),
        not_before: NOW - 1000,
        not_after: until(),
    }
    .sign(&new_root, &new_fp);
    let signing = JobSigning {
        root_declaration: RootDeclaration {
            subscription_id: "sub-1".into(),
            recovery_key: key(41).public_key(),
            issued_at: NOW,
        }
        .sign(&new_root, &new_fp)
        .to_text(),
        trust_list: TrustList {
            number: 1,
            issued_at: NOW,
            certificates: vec![cert.clone()],
            revoked: vec![],
        }
        .sign(&new_root, &new_fp)
        .to_text(),
        root_changes: vec![change],
        ..JobSigning::default()
    };
    let env = sealed(&w, RECORD, "scanner", b"pw");
    let mut s = statement(&w, 1, &env);
    s.signer_certificate = cert.hash();
    let sigs = JobSignatures {
        signing: Some(signing),
        records: vec![RecordSignature {
            record_id: RECORD.into(),
            statement: Some(s.sign(&w.alice, &new_fp).to_text()),
        }],
    };
    // The first job applies the change; the appliance had never seen the old declaration.
    run(&gate, &sigs, &job_record(&env), IN_SCOPE, 2222).unwrap();
    assert_eq!(gate.fingerprint(), fingerprint_text(&new_fp));
    // The control plane keeps sending the change: it no longer applies and is skipped.
    run(&gate, &sigs, &job_record(&env), IN_SCOPE, 2222).unwrap();
    let reopened = Gate::open(dir.path()).unwrap().unwrap();
    run(&reopened, &sigs, &job_record(&env), IN_SCOPE, 2222).unwrap();
    // Statements under the old root are now refused.
    let old = signatures(&w, &statement(&w, 2, &env));
    let mut old_world = sigs.clone();
    old_world.records = old.records;
    assert_eq!(
        run(&reopened, &old_world, &job_record(&env), IN_SCOPE, 2222).unwrap_err(),
        "other root"
    );
}

/// `kill -9` right after the appliance accepted a version: the version is already on disk, so
/// the restarted appliance refuses an older one. (Before the check returns nothing is used, so
/// a kill before the write loses nothing either.)
#[test]
fn kill_9_after_accepting_a_version_keeps_it() {
    const CHILD: &str = "SEALSCAN_TEST_SIGN_CHILD_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = std::path::PathBuf::from(dir);
        let w = world();
        let gate = Gate::open(&dir).unwrap().unwrap();
        let env = sealed(&w, RECORD, "scanner", b"pw");
        run(
            &gate,
            &signatures(&w, &statement(&w, 7, &env)),
            &job_record(&env),
            IN_SCOPE,
            2222,
        )
        .unwrap();
        nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL).unwrap();
        unreachable!("SIGKILL");
    }
    let w = world();
    let (dir, _gate) = pinned_gate(&w);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_9_after_accepting_a_version_keeps_it",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert_eq!(
        store::load_seen(dir.path()).unwrap().records.get(RECORD),
        Some(&7)
    );
    let gate = Gate::open(dir.path()).unwrap().unwrap();
    let env = sealed(&w, RECORD, "scanner", b"pw");
    assert_eq!(
        run(
            &gate,
            &signatures(&w, &statement(&w, 6, &env)),
            &job_record(&env),
            IN_SCOPE,
            2222
        )
        .unwrap_err(),
        "version rollback"
    );
}

#[test]
fn vault_settings_and_the_secret_reference_are_signed() {
    use sealscan_protocols::appliance::JobVault;
    use sealscan_protocols::signing::{SignedVault, VaultApi};
    use sha2::{Digest, Sha256};
    let w = world();
    let (_dir, gate) = pinned_gate(&w);
    let url = "https://vault.example.test/SecretServer";
    let vault_env = seal(
        b"vault-pw",
        &Binding::for_vault("v-1", "svc", None, url),
        &[w.appliance_pk],
    )
    .unwrap()
    .to_text();
    let vault = JobVault {
        vault_id: "v-1".into(),
        title: "vault".into(),
        url: url.into(),
        user: "svc".into(),
        domain: None,
        organization: None,
        verify_tls: true,
        ca_pem: Some("-----BEGIN CERTIFICATE-----\nCA1\n".into()),
        api: "rest".into(),
        password: SecretValue::Sealed {
            envelope: vault_env.clone(),
        },
    };
    let mut record = job_record(&vault_env);
    record.login = RecordLogin::Vault {
        vault_id: "v-1".into(),
        secret_name: "web admins".into(),
        folder: None,
        secret_id: None,
        unix_auth: None,
    };
    let mut s = statement(&w, 1, &vault_env);
    s.login_type = LoginType::Vault;
    s.envelopes = vec![EnvelopeHash {
        field: SecretFieldName::VaultPassword,
        hash: envelope_hash(
            &sealscan_protocols::envelope::Envelope::from_text(&vault_env).unwrap(),
        ),
    }];
    s.vault = Some(SignedVault {
        vault_id: "v-1".into(),
        url: url.into(),
        verify_tls: true,
        ca_sha256: Some(Sha256::digest(vault.ca_pem.as_deref().unwrap().as_bytes()).into()),
        api: VaultApi::Rest,
        user: "svc".into(),
        domain: None,
        organization: None,
        secret_name: Some("web admins".into()),
        folder: None,
        secret_id: None,
    });
    let sigs = signatures(&w, &s);
    let check = |record: &JobRecord, vault: &JobVault, sigs: &JobSignatures| {
        let job = gate
            .prepare(sigs.signing.as_ref(), NOW)
            .map_err(|r| r.cause())?;
        gate.check(
            &job,
            sigs,
            record,
            Some(vault),
            IN_SCOPE.parse().unwrap(),
            2222,
            NOW,
        )
        .map(drop)
        .map_err(|r| r.cause())
    };
    check(&record, &vault, &sigs).unwrap();
    let mut off = vault.clone();
    off.verify_tls = false;
    assert_eq!(check(&record, &off, &sigs), Err("unsigned change"));
    let mut swapped = vault.clone();
    swapped.ca_pem = Some("-----BEGIN CERTIFICATE-----\nATTACKER\n".into());
    assert_eq!(check(&record, &swapped, &sigs), Err("unsigned change"));
    let mut elsewhere = vault.clone();
    elsewhere.url = "https://attacker.example.test/SecretServer".into();
    assert_eq!(check(&record, &elsewhere, &sigs), Err("unsigned change"));
    let mut other_secret = record.clone();
    if let RecordLogin::Vault { secret_name, .. } = &mut other_secret.login {
        *secret_name = "domain admins".into();
    }
    assert_eq!(check(&other_secret, &vault, &sigs), Err("unsigned change"));
    let mut forged = vault.clone();
    forged.password = SecretValue::Sealed {
        envelope: seal(
            b"attacker",
            &Binding::for_vault("v-1", "svc", None, url),
            &[w.appliance_pk],
        )
        .unwrap()
        .to_text(),
    };
    assert_eq!(check(&record, &forged, &sigs), Err("envelope not signed"));
    // A signer who turns verification off still needs the root's policy.
    let mut loose = s.clone();
    loose.version = 2;
    loose.vault.as_mut().unwrap().verify_tls = false;
    assert_eq!(
        check(&record, &off, &signatures(&w, &loose)),
        Err("not allowed by policy")
    );
}

#[test]
fn a_rewrap_is_done_only_for_an_appliance_with_a_signed_approval() {
    use sealscan_agent::trust::job::rewrap_allowed;
    use sealscan_protocols::signing::{ApplianceApproval, RewrapSignatures};
    let w = world();
    let new_key = public_key(&[77u8; 32]);
    let approval = |id: &str, key: [u8; 32], by: &SigningKey, cert: [u8; 32]| {
        ApplianceApproval {
            appliance_id: id.into(),
            public_key: key,
            approved_at: NOW,
            signer_certificate: cert,
        }
        .sign(by, &w.root.fingerprint())
        .to_text()
    };
    let with = |a: Option<String>| RewrapSignatures {
        signing: Some(w.signing.clone()),
        approval: a,
    };
    // Unpinned: as before signing.
    let empty = tempfile::tempdir().unwrap();
    rewrap_allowed(
        empty.path(),
        &RewrapSignatures::default(),
        "a-new",
        &new_key,
    )
    .unwrap();
    let (dir, _gate) = pinned_gate(&w);
    let refused =
        |s: &RewrapSignatures| rewrap_allowed(dir.path(), s, "a-new", &new_key).unwrap_err();
    assert!(refused(&with(None)).contains("no signed approval"));
    assert!(refused(&RewrapSignatures::default()).contains("unsigned"));
    // Approved for another key (the rogue one swapped in by the control plane).
    let other = approval("a-new", public_key(&[78u8; 32]), &w.alice, w.alice_cert);
    assert!(refused(&with(Some(other))).contains("appliance public key"));
    // Signed by a key without a certificate.
    let forged = approval("a-new", new_key, &key(99), w.alice_cert);
    assert!(refused(&with(Some(forged))).contains("uncertified"));
    let good = approval("a-new", new_key, &w.alice, w.alice_cert);
    rewrap_allowed(dir.path(), &with(Some(good)), "a-new", &new_key).unwrap();
}

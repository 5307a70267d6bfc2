//! Round trips, rewrap, and the tamper matrix: every edit of an envelope is refused with the
//! error that names it, never a panic and never a plaintext.

use sealscan_protocols::envelope::{
    Binding, Envelope, EnvelopeError, FIELD_NAMES, MAX_PLAINTEXT_LEN, MAX_RECIPIENTS, PrivateKey,
    Stage, add_recipient, open, same_payload, seal,
};
use sealscan_protocols::identity::key_id;

fn keys(n: usize) -> Vec<PrivateKey> {
    (0..n)
        .map(|_| PrivateKey::generate().expect("OS randomness"))
        .collect()
}

fn pks(keys: &[PrivateKey]) -> Vec<[u8; 32]> {
    keys.iter().map(PrivateKey::public_key).collect()
}

fn binding() -> Binding {
    Binding {
        record_kind: "windows-login".into(),
        record_id: "7".into(),
        field: "password".into(),
        user: "Administrator".into(),
        domain: "CORP".into(),
        vault_url: "https://ss.example.test/SecretServer".into(),
        secret_name: "win admin".into(),
    }
}

const SECRET: &[u8] = b"s3cret p@ssw0rd";

fn set_field(b: &mut Binding, index: usize, value: &str) {
    let slot = match index {
        0 => &mut b.record_kind,
        1 => &mut b.record_id,
        2 => &mut b.field,
        3 => &mut b.user,
        4 => &mut b.domain,
        5 => &mut b.vault_url,
        _ => &mut b.secret_name,
    };
    *slot = value.into();
}

#[test]
fn round_trip_one_and_many_recipients() {
    for n in [1, 2, 5, MAX_RECIPIENTS] {
        let ks = keys(n);
        let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
        let bytes = env.to_bytes();
        let parsed = Envelope::from_bytes(&bytes).expect("parse");
        assert_eq!(parsed.to_bytes(), bytes);
        let from_text = Envelope::from_text(&env.to_text()).expect("text");
        assert_eq!(from_text, env);
        for k in &ks {
            let pt = open(&parsed, &binding(), k.as_bytes()).expect("open");
            assert_eq!(pt.expose(), SECRET);
        }
        let ids: Vec<_> = parsed.recipient_key_ids().copied().collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "entries sorted");
    }
}

#[test]
fn largest_plaintext_round_trips_and_one_more_byte_is_refused() {
    let ks = keys(1);
    let big = vec![0xa5u8; MAX_PLAINTEXT_LEN];
    let env = seal(&big, &binding(), &pks(&ks)).expect("seal max");
    let env = Envelope::from_text(&env.to_text()).expect("parse max");
    assert_eq!(
        open(&env, &binding(), ks[0].as_bytes())
            .expect("open")
            .expose(),
        &big[..]
    );
    let too_big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert!(matches!(
        seal(&too_big, &binding(), &pks(&ks)),
        Err(EnvelopeError::LimitExceeded { .. })
    ));
    let too_many = keys(MAX_RECIPIENTS + 1);
    assert!(matches!(
        seal(SECRET, &binding(), &pks(&too_many)),
        Err(EnvelopeError::LimitExceeded { .. })
    ));
    assert!(matches!(
        seal(SECRET, &binding(), &[]),
        Err(EnvelopeError::Malformed { .. })
    ));
}

#[test]
fn seal_refuses_invalid_bindings() {
    let ks = pks(&keys(1));
    for (index, name) in FIELD_NAMES.iter().enumerate() {
        let mut b = binding();
        set_field(&mut b, index, &"x".repeat(3000));
        assert_eq!(
            seal(SECRET, &b, &ks).unwrap_err(),
            EnvelopeError::InvalidBinding {
                field: name,
                reason: "too long"
            }
        );
        set_field(&mut b, index, "a\0b");
        assert_eq!(
            seal(SECRET, &b, &ks).unwrap_err(),
            EnvelopeError::InvalidBinding {
                field: name,
                reason: "contains a NUL byte"
            }
        );
    }
    let mut b = binding();
    b.record_id.clear();
    assert!(matches!(
        seal(SECRET, &b, &ks),
        Err(EnvelopeError::InvalidBinding {
            field: "record_id",
            ..
        })
    ));
}

#[test]
fn rewrap_adds_a_recipient_and_keeps_the_payload() {
    let ks = keys(2);
    let newcomer = PrivateKey::generate().expect("key");
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    assert!(matches!(
        open(&env, &binding(), newcomer.as_bytes()),
        Err(EnvelopeError::NotARecipient { .. })
    ));
    let rewrapped =
        add_recipient(&env, &binding(), ks[1].as_bytes(), &newcomer.public_key()).expect("rewrap");
    assert!(same_payload(&env, &rewrapped));
    let (old, new) = (env.to_bytes(), rewrapped.to_bytes());
    assert_eq!(old.len() + 96, new.len());
    let fixed = env.header_bytes().len() + env.payload_bytes().len();
    assert_eq!(
        old[..fixed],
        new[..fixed],
        "header and payload bytes unchanged"
    );
    for k in ks.iter().chain([&newcomer]) {
        assert_eq!(
            open(&rewrapped, &binding(), k.as_bytes())
                .expect("open")
                .expose(),
            SECRET
        );
    }
    assert!(matches!(
        add_recipient(
            &rewrapped,
            &binding(),
            ks[0].as_bytes(),
            &newcomer.public_key()
        ),
        Err(EnvelopeError::AlreadyARecipient { .. })
    ));
    assert!(matches!(
        add_recipient(
            &env,
            &binding(),
            newcomer.as_bytes(),
            &newcomer.public_key()
        ),
        Err(EnvelopeError::AlreadyARecipient { .. }) | Err(EnvelopeError::NotARecipient { .. })
    ));
    let mut other = binding();
    other.user = "root".into();
    assert_eq!(
        add_recipient(&env, &other, ks[0].as_bytes(), &newcomer.public_key()).unwrap_err(),
        EnvelopeError::BindingMismatch { field: "user" }
    );
    let different = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    assert!(!same_payload(&env, &different));
}

#[test]
fn every_binding_field_is_checked() {
    let ks = keys(1);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    for (index, name) in FIELD_NAMES.iter().enumerate() {
        let mut expected = binding();
        set_field(&mut expected, index, "someone else");
        assert_eq!(
            open(&env, &expected, ks[0].as_bytes()).unwrap_err(),
            EnvelopeError::BindingMismatch { field: name },
            "expected binding differs in {name}"
        );
        // A control plane re-pointing the envelope: rewrite the field inside the envelope
        // and ask for the new binding.
        let mut forged = env.clone();
        let bytes = forged.to_bytes();
        let mut b = binding();
        set_field(&mut b, index, "someone else");
        forged = reencode_with_binding(&bytes, &binding(), &b);
        assert_eq!(
            open(&forged, &b, ks[0].as_bytes()).unwrap_err(),
            EnvelopeError::Authentication(Stage::Wrap),
            "forged {name}"
        );
    }
}

/// The envelope bytes with the binding section swapped, everything else kept.
fn reencode_with_binding(bytes: &[u8], old: &Binding, new: &Binding) -> Envelope {
    let encode = |b: &Binding| {
        let mut out = Vec::new();
        for (_, v) in b.fields() {
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    };
    let (old_b, new_b) = (encode(old), encode(new));
    assert_eq!(&bytes[11..11 + old_b.len()], &old_b[..]);
    let mut out = bytes[..11].to_vec();
    out.extend_from_slice(&new_b);
    out.extend_from_slice(&bytes[11 + old_b.len()..]);
    Envelope::from_bytes(&out).expect("still well-formed")
}

#[test]
fn every_byte_flip_is_refused_with_the_right_error() {
    let ks = keys(3);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    let bytes = env.to_bytes();
    let header_len = env.header_bytes().len();
    let payload_end = header_len + env.payload_bytes().len();
    let me = &ks[0];
    let my_id = key_id(&me.public_key());
    for at in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            // Someone else's enc/wrapped is not mine to check: each_recipient_sees_flips_of_its_own_entry.
            let other_entry_body = at >= payload_end + 2
                && env.recipient_key_ids().nth((at - payload_end - 2) / 96) != Some(&my_id);
            if other_entry_body {
                continue;
            }
            let mut bad = bytes.clone();
            bad[at] ^= mask;
            let result = Envelope::from_bytes(&bad)
                .and_then(|e| open(&e, &binding(), me.as_bytes()).map(|_| ()));
            let err = result.expect_err(&format!("byte {at} ^ {mask:#04x} must not open"));
            let ok = match at {
                0..=3 => matches!(err, EnvelopeError::Malformed { .. }),
                4 => err == EnvelopeError::UnknownVersion(bytes[4] ^ mask),
                5..=10 => matches!(err, EnvelopeError::UnsupportedSuite { .. }),
                _ if at < header_len => matches!(
                    err,
                    EnvelopeError::BindingMismatch { .. }
                        | EnvelopeError::Malformed { .. }
                        | EnvelopeError::LimitExceeded { .. }
                ),
                _ if at < header_len + 12 => err == EnvelopeError::Authentication(Stage::Wrap),
                _ if at < header_len + 16 => matches!(
                    err,
                    EnvelopeError::Malformed { .. } | EnvelopeError::LimitExceeded { .. }
                ),
                _ if at < payload_end => err == EnvelopeError::Authentication(Stage::Wrap),
                _ if at < payload_end + 2 => matches!(
                    err,
                    EnvelopeError::Malformed { .. } | EnvelopeError::LimitExceeded { .. }
                ),
                _ => {
                    let entry = (at - payload_end - 2) / 96;
                    let offset = (at - payload_end - 2) % 96;
                    let mine = env.recipient_key_ids().nth(entry) == Some(&my_id);
                    if offset < 16 {
                        // A changed key id breaks the order or hides my entry.
                        mine && matches!(
                            err,
                            EnvelopeError::Malformed { .. } | EnvelopeError::NotARecipient { .. }
                        )
                    } else {
                        mine && err == EnvelopeError::Authentication(Stage::Wrap)
                    }
                }
            };
            assert!(ok, "byte {at} ^ {mask:#04x}: unexpected {err:?}");
        }
    }
}

#[test]
fn each_recipient_sees_flips_of_its_own_entry() {
    let ks = keys(3);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    let bytes = env.to_bytes();
    let entries_at = bytes.len() - 3 * 96;
    for at in entries_at..bytes.len() {
        let entry = (at - entries_at) / 96;
        let owner_id = *env.recipient_key_ids().nth(entry).expect("entry");
        let owner = ks
            .iter()
            .find(|k| key_id(&k.public_key()) == owner_id)
            .expect("owner");
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let err = Envelope::from_bytes(&bad)
            .and_then(|e| open(&e, &binding(), owner.as_bytes()).map(|_| ()))
            .expect_err("the owner must notice");
        let ok = if (at - entries_at) % 96 < 16 {
            matches!(
                err,
                EnvelopeError::Malformed { .. } | EnvelopeError::NotARecipient { .. }
            )
        } else {
            err == EnvelopeError::Authentication(Stage::Wrap)
        };
        assert!(ok, "byte {at}: {err:?}");
    }
}

#[test]
fn truncation_at_every_offset_and_appended_bytes_are_malformed() {
    let ks = keys(2);
    let bytes = seal(SECRET, &binding(), &pks(&ks))
        .expect("seal")
        .to_bytes();
    for len in 0..bytes.len() {
        assert!(
            matches!(
                Envelope::from_bytes(&bytes[..len]),
                Err(EnvelopeError::Malformed { .. })
            ),
            "truncated to {len}"
        );
    }
    for extra in [&[0u8][..], &[0xff; 7], &[0u8; 96]] {
        let mut long = bytes.clone();
        long.extend_from_slice(extra);
        assert!(matches!(
            Envelope::from_bytes(&long),
            Err(EnvelopeError::Malformed { .. })
        ));
    }
}

/// Splits an envelope into (header+payload, entries).
fn split(env: &Envelope) -> (Vec<u8>, Vec<Vec<u8>>) {
    let bytes = env.to_bytes();
    let fixed = env.header_bytes().len() + env.payload_bytes().len();
    let entries = bytes[fixed + 2..].chunks(96).map(<[u8]>::to_vec).collect();
    (bytes[..fixed].to_vec(), entries)
}

fn join(fixed: &[u8], entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = fixed.to_vec();
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for e in entries {
        out.extend_from_slice(e);
    }
    out
}

#[test]
fn stripped_swapped_and_duplicated_recipients_are_refused() {
    let ks = keys(3);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    let (fixed, entries) = split(&env);
    let owner = |entry: &[u8]| {
        ks.iter()
            .find(|k| key_id(&k.public_key())[..] == entry[..16])
            .expect("owner")
    };

    // Stripped: the removed appliance is told it is not a recipient.
    let stripped = Envelope::from_bytes(&join(&fixed, &entries[1..])).expect("parse");
    assert!(matches!(
        open(&stripped, &binding(), owner(&entries[0]).as_bytes()),
        Err(EnvelopeError::NotARecipient { .. })
    ));
    assert!(matches!(
        Envelope::from_bytes(&join(&fixed, &[])),
        Err(EnvelopeError::Malformed { .. })
    ));

    // Duplicated or reordered entries break the strict order.
    let dup = join(
        &fixed,
        &[entries[0].clone(), entries[0].clone(), entries[1].clone()],
    );
    assert!(matches!(
        Envelope::from_bytes(&dup),
        Err(EnvelopeError::Malformed { .. })
    ));
    let swapped_order = join(
        &fixed,
        &[entries[1].clone(), entries[0].clone(), entries[2].clone()],
    );
    assert!(matches!(
        Envelope::from_bytes(&swapped_order),
        Err(EnvelopeError::Malformed { .. })
    ));

    // Swapped wraps between entries: key ids stay sorted, bodies trade places.
    let mut traded = entries.clone();
    let body0 = traded[0][16..].to_vec();
    let body1 = traded[1][16..].to_vec();
    traded[0][16..].copy_from_slice(&body1);
    traded[1][16..].copy_from_slice(&body0);
    let traded = Envelope::from_bytes(&join(&fixed, &traded)).expect("parse");
    for e in &entries[..2] {
        assert_eq!(
            open(&traded, &binding(), owner(e).as_bytes()).unwrap_err(),
            EnvelopeError::Authentication(Stage::Wrap)
        );
    }

    // An entry lifted from another envelope for the same key (same binding, other secret).
    let other = seal(b"another secret", &binding(), &pks(&ks)).expect("seal");
    let (other_fixed, other_entries) = split(&other);
    let grafted = Envelope::from_bytes(&join(&fixed, &other_entries)).expect("parse");
    assert_eq!(
        open(&grafted, &binding(), ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::Authentication(Stage::Wrap)
    );
    // Another envelope's payload under this envelope's entries.
    let spliced = Envelope::from_bytes(&join(&other_fixed, &entries)).expect("parse");
    assert_eq!(
        open(&spliced, &binding(), ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::Authentication(Stage::Wrap)
    );
}

#[test]
fn envelope_moved_to_another_record_is_refused() {
    let ks = keys(1);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    let mut elsewhere = binding();
    elsewhere.record_id = "8".into();
    assert_eq!(
        open(&env, &elsewhere, ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::BindingMismatch { field: "record_id" }
    );
}

#[test]
fn text_form_is_strict() {
    let ks = keys(1);
    let env = seal(SECRET, &binding(), &pks(&ks)).expect("seal");
    let text = env.to_text();
    assert!(text.starts_with("ncsm1:"));
    for bad in [
        text.replacen("ncsm1:", "ncsm2:", 1),
        text.replacen("ncsm1:", "", 1),
        format!("{text}="),
        format!("{text}\n"),
        format!(" {text}"),
        text.replace('-', "+"),
        format!("ncsm1:{}", "A".repeat(200_000)),
    ] {
        if bad == text {
            continue;
        }
        assert!(
            matches!(
                Envelope::from_text(&bad),
                Err(EnvelopeError::Malformed { .. } | EnvelopeError::LimitExceeded { .. })
            ),
            "accepted {bad:.40}"
        );
    }
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let k = PrivateKey::from_bytes(&[0x41; 32]);
    assert_eq!(format!("{k:?}"), "PrivateKey([REDACTED])");
    let env = seal(SECRET, &binding(), &[k.public_key()]).expect("seal");
    let mut wrong = binding();
    wrong.field = "passphrase".into();
    let err = open(&env, &wrong, k.as_bytes()).unwrap_err().to_string();
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn limits_match_the_spec_and_are_enforced_when_parsing() {
    use sealscan_protocols::envelope::{MAX_ENVELOPE_LEN, MAX_TEXT_LEN};
    assert_eq!(MAX_ENVELOPE_LEN, 79_931, "docs/ncsm-envelope.md section 7");
    assert_eq!(MAX_TEXT_LEN, 6 + 106_575, "docs/ncsm-envelope.md section 7");

    // The largest envelope the spec allows parses, in bytes and in text.
    let ks = keys(MAX_RECIPIENTS);
    let long = |n: usize| "x".repeat(n);
    let b = Binding {
        record_kind: long(1024),
        record_id: long(1024),
        field: long(1024),
        user: long(1024),
        domain: long(1024),
        vault_url: long(2048),
        secret_name: long(1024),
    };
    let env = seal(&vec![1u8; MAX_PLAINTEXT_LEN], &b, &pks(&ks)).expect("largest seals");
    assert_eq!(env.to_bytes().len(), MAX_ENVELOPE_LEN);
    assert_eq!(env.to_text().len(), MAX_TEXT_LEN);
    assert_eq!(
        Envelope::from_text(&env.to_text()).expect("largest parses"),
        env
    );

    let small = seal(SECRET, &binding(), &pks(&keys(1))).expect("seal");
    let bytes = small.to_bytes();
    let header_len = small.header_bytes().len();
    let limit = |bad: Vec<u8>| {
        matches!(
            Envelope::from_bytes(&bad),
            Err(EnvelopeError::LimitExceeded { .. })
        )
    };
    // A binding field length over its limit, before the parser reads further.
    let mut field = bytes.clone();
    field[11..13].copy_from_slice(&1025u16.to_be_bytes());
    assert!(limit(field));
    // A payload length over the limit.
    let mut ct = bytes.clone();
    ct[header_len + 12..header_len + 16].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(limit(ct));
    // More recipients than allowed.
    let mut count = bytes.clone();
    let at = header_len + small.payload_bytes().len();
    count[at..at + 2].copy_from_slice(&65u16.to_be_bytes());
    assert!(limit(count));
    // Longer than the largest envelope.
    assert!(limit(vec![0u8; MAX_ENVELOPE_LEN + 1]));
    assert!(matches!(
        Envelope::from_text(&"A".repeat(MAX_TEXT_LEN + 1)),
        Err(EnvelopeError::LimitExceeded { .. })
    ));
}

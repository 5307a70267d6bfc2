//! Cross-implementation tests: interop/ncsm.py implements the envelope from
//! docs/ncsm-envelope.md with pyhpke and `cryptography`; Rust and Python seal for each other.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use sealscan_protocols::envelope::{
    Binding, Envelope, EnvelopeError, PrivateKey, Stage, add_recipient, open, seal,
};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/ncsm.py");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ncsm-v1.json");

fn python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let python = target.join("pyenv/bin/python");
    let usable = Command::new(&python)
        .args(["-c", "import pyhpke, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        usable,
        "{} with pyhpke is missing: run scripts/install-test-deps (it creates target/pyenv with pyhpke==0.6.5)",
        python.display()
    );
    python
}

/// Runs `ncsm.py COMMAND REQUEST` and returns (exit code, stdout).
fn run(command: &str, request: &Value) -> (i32, String) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ncsm-interop-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, request.to_string()).expect("write request");
    let out = Command::new(python())
        .arg(SCRIPT)
        .arg(command)
        .arg(&path)
        .output()
        .expect("run ncsm.py");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 2),
        "ncsm.py {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

fn binding() -> Binding {
    Binding {
        record_kind: "vault".into(),
        record_id: "31".into(),
        field: "password".into(),
        user: "svc_scan".into(),
        domain: "EXAMPLE".into(),
        vault_url: "https://ss.example.test/SecretServer".into(),
        secret_name: "Domain admin – Genève".into(),
    }
}

fn binding_json(b: &Binding) -> Value {
    b.fields()
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn python_open(env: &Envelope, b: &Binding, key: &PrivateKey) -> String {
    let (_, out) = run(
        "open",
        &json!({"binding": binding_json(b), "sk_hex": hex::encode(key.as_bytes()), "envelope_text": env.to_text()}),
    );
    out
}

fn python_seal(plaintext: &[u8], b: &Binding, keys: &[&PrivateKey], extra: Value) -> Envelope {
    let mut request = json!({
        "binding": binding_json(b),
        "plaintext_hex": hex::encode(plaintext),
        "recipients_pk_hex": keys.iter().map(|k| hex::encode(k.public_key())).collect::<Vec<_>>(),
    });
    if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    let (code, text) = run("seal", &request);
    assert_eq!(code, 0);
    Envelope::from_text(&text).expect("Python's envelope parses in Rust")
}

fn keys(n: usize) -> Vec<PrivateKey> {
    (0..n)
        .map(|_| PrivateKey::generate().expect("key"))
        .collect()
}

const SECRET: &[u8] = "pässword\u{0}with NUL and ünïcode".as_bytes();

#[test]
fn python_reproduces_the_published_vectors() {
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(VECTORS).expect("vectors")).expect("json");
    let (code, out) = run("vectors", &vectors);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "{out}"
    );
    // Every refused vector is refused by the independent implementation with the error the
    // file names (ncsm.py asserts the name and the mismatched field for each).
    let refused = vectors["refused"].as_array().expect("refused vectors");
    assert!(refused.len() >= 30, "{} refused vectors", refused.len());
    for v in refused {
        let line = format!(
            "refused {}: {}",
            v["name"].as_str().expect("name"),
            v["error"].as_str().expect("error")
        );
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
}

#[test]
fn rust_seals_python_opens() {
    let ks = keys(3);
    let pks: Vec<_> = ks.iter().map(PrivateKey::public_key).collect();
    let env = seal(SECRET, &binding(), &pks).expect("seal");
    for k in &ks {
        assert_eq!(python_open(&env, &binding(), k), hex::encode(SECRET));
    }
    // A rewrapped envelope opens in Python too, for the new appliance.
    let newcomer = PrivateKey::generate().expect("key");
    let rewrapped =
        add_recipient(&env, &binding(), ks[2].as_bytes(), &newcomer.public_key()).expect("rewrap");
    assert_eq!(
        python_open(&rewrapped, &binding(), &newcomer),
        hex::encode(SECRET)
    );
}

#[test]
fn python_seals_rust_opens() {
    let ks = keys(2);
    let refs: Vec<&PrivateKey> = ks.iter().collect();
    let env = python_seal(SECRET, &binding(), &refs, json!({}));
    for k in &ks {
        assert_eq!(
            open(&env, &binding(), k.as_bytes()).expect("open").expose(),
            SECRET
        );
    }
    let empty = python_seal(b"", &binding(), &refs, json!({}));
    assert!(
        open(&empty, &binding(), ks[0].as_bytes())
            .expect("open")
            .is_empty()
    );
}

#[test]
fn python_refuses_what_rust_must_refuse() {
    let ks = keys(1);
    let stranger = PrivateKey::generate().expect("key");
    let env = seal(SECRET, &binding(), &[ks[0].public_key()]).expect("seal");
    let mut other = binding();
    other.domain = "OTHER".into();
    assert_eq!(python_open(&env, &other, &ks[0]), "ERROR BindingMismatch");
    assert_eq!(
        python_open(&env, &binding(), &stranger),
        "ERROR NotARecipient"
    );

    // Wrong key id: the entry now names someone else.
    let mut bytes = env.to_bytes();
    let entry = bytes.len() - 96;
    bytes[entry] ^= 0x01;
    let renamed = Envelope::from_bytes(&bytes).expect("parse");
    assert_eq!(
        python_open(&renamed, &binding(), &ks[0]),
        "ERROR NotARecipient"
    );

    // A flipped byte of the payload nonce: the wrap no longer matches the payload hash.
    let mut bytes = env.to_bytes();
    bytes[env.header_bytes().len()] ^= 0x01;
    let flipped = Envelope::from_bytes(&bytes).expect("parse");
    assert_eq!(
        python_open(&flipped, &binding(), &ks[0]),
        "ERROR Authentication(wrap)"
    );
}

#[test]
fn rust_refuses_bad_python_envelopes() {
    let ks = keys(1);
    // Sealed with a different HPKE info: the wrap cannot open.
    let wrong_info = python_seal(
        SECRET,
        &binding(),
        &[&ks[0]],
        json!({"wrap_info_label_hex": hex::encode(b"sealscan ncsm v2 wrap\0")}),
    );
    assert_eq!(
        open(&wrong_info, &binding(), ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::Authentication(Stage::Wrap)
    );

    // A header byte flipped in transit: version, suite and binding are all checked.
    let env = python_seal(SECRET, &binding(), &[&ks[0]], json!({}));
    let bytes = env.to_bytes();
    let mut v = bytes.clone();
    v[4] = 2;
    assert_eq!(
        Envelope::from_bytes(&v).unwrap_err(),
        EnvelopeError::UnknownVersion(2)
    );
    let mut s = bytes.clone();
    s[10] = 0x01;
    assert!(matches!(
        Envelope::from_bytes(&s).unwrap_err(),
        EnvelopeError::UnsupportedSuite { aead: 1, .. }
    ));
    let record_id_at = 11 + 2 + binding().record_kind.len() + 2;
    let mut r = bytes.clone();
    r[record_id_at] ^= 0x01;
    let moved = Envelope::from_bytes(&r).expect("parse");
    let moved_binding = moved.binding().clone();
    assert_eq!(
        open(&moved, &binding(), ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::BindingMismatch { field: "record_id" }
    );
    assert_eq!(
        open(&moved, &moved_binding, ks[0].as_bytes()).unwrap_err(),
        EnvelopeError::Authentication(Stage::Wrap)
    );
}

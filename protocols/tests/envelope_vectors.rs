//! Published test vectors: our NCSM v1 vectors reproduce byte for byte, and RFC 9180's
//! official vectors for our suite pass through the hpke crate we build on.
//!
//! `NCSM_WRITE_VECTORS=1 cargo test -p sealscan-protocols --test envelope_vectors` rewrites
//! vectors/ncsm-v1.json from the fixed inputs below (only needed if the inputs change).

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use sealscan_protocols::envelope::{
    Binding, Envelope, PrivateKey, SealRandomness, add_recipient_with_seed, open, public_key,
    same_payload, seal_with_randomness,
};
use sealscan_protocols::identity::key_id;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const NCSM_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ncsm-v1.json");
const RFC_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/rfc9180-x25519-sha256-chacha20poly1305-base.json"
);

fn derived(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

fn binding(kind: &str, id: &str, field: &str, user: &str, domain: &str) -> Binding {
    Binding {
        record_kind: kind.into(),
        record_id: id.into(),
        field: field.into(),
        user: user.into(),
        domain: domain.into(),
        ..Binding::default()
    }
}

/// The fixed inputs of every published case.
fn cases() -> Vec<(&'static str, Binding, Vec<u8>, usize)> {
    let mut vault = binding("vault", "42", "password", "svc-scan", "");
    vault.vault_url = "https://secretserver.example.test/SecretServer".into();
    vault.secret_name = "Linux root – Zürich".into();
    vec![
        (
            "one recipient, unix password",
            binding("unix-login", "17", "password", "scanner", ""),
            b"correct horse battery staple".to_vec(),
            1,
        ),
        (
            "three recipients, windows password with domain",
            binding("windows-login", "9", "password", "Administrator", "CORP"),
            "pässwörd with spaces & symbols!".as_bytes().to_vec(),
            3,
        ),
        (
            "two recipients, vault web-service password, unicode secret name",
            vault,
            b"vault-api-password".to_vec(),
            2,
        ),
        (
            "one recipient, empty plaintext",
            binding("unix-login", "18", "passphrase", "scanner", ""),
            Vec::new(),
            1,
        ),
    ]
}

fn hex32(v: &Value) -> [u8; 32] {
    let bytes = hex::decode(v.as_str().expect("hex string")).expect("valid hex");
    bytes.try_into().expect("32 bytes")
}

fn build_case(
    index: usize,
    name: &str,
    binding: &Binding,
    plaintext: &[u8],
    count: usize,
) -> Value {
    let sks: Vec<[u8; 32]> = (0..count)
        .map(|r| derived(&format!("ncsm v1 vector {index} recipient {r} private key")))
        .collect();
    let pks: Vec<[u8; 32]> = sks.iter().map(public_key).collect();
    let randomness = SealRandomness {
        content_key: Zeroizing::new(derived(&format!("ncsm v1 vector {index} content key"))),
        payload_nonce: derived(&format!("ncsm v1 vector {index} nonce"))[..12]
            .try_into()
            .expect("12 bytes"),
        ephemeral_ikm: (0..count)
            .map(|r| Zeroizing::new(derived(&format!("ncsm v1 vector {index} ikmE {r}"))))
            .collect(),
    };
    let envelope =
        seal_with_randomness(plaintext, binding, &pks, &randomness).expect("vector seals");
    let fields: serde_json::Map<String, Value> = binding
        .fields()
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    json!({
        "name": name,
        "recipients": sks.iter().zip(&pks).map(|(sk, pk)| json!({
            "sk": hex::encode(sk), "pk": hex::encode(pk), "key_id": hex::encode(key_id(pk)),
        })).collect::<Vec<_>>(),
        "binding": fields,
        "plaintext_hex": hex::encode(plaintext),
        "randomness": {
            "content_key": hex::encode(randomness.content_key.as_slice()),
            "payload_nonce": hex::encode(randomness.payload_nonce),
            "ephemeral_ikm": randomness.ephemeral_ikm.iter().map(|s| hex::encode(s.as_slice())).collect::<Vec<_>>(),
        },
        "envelope_hex": hex::encode(envelope.to_bytes()),
        "envelope_text": envelope.to_text(),
    })
}

/// Case 1 (three recipients) rewrapped by its second recipient for a new appliance.
fn build_rewrap(case: &Value) -> Value {
    let envelope =
        Envelope::from_text(case["envelope_text"].as_str().expect("text")).expect("case parses");
    let opener = hex32(&case["recipients"][1]["sk"]);
    let new_sk = derived("ncsm v1 rewrap new recipient private key");
    let new_pk = public_key(&new_sk);
    let ikm = derived("ncsm v1 rewrap ikmE");
    let rewrapped = add_recipient_with_seed(&envelope, envelope.binding(), &opener, &new_pk, &ikm)
        .expect("rewrap");
    assert!(same_payload(&envelope, &rewrapped));
    json!({
        "name": "case 1 rewrapped by its recipient 1 for a new appliance",
        "case": 1,
        "opener_index": 1,
        "new_recipient": {"sk": hex::encode(new_sk), "pk": hex::encode(new_pk), "key_id": hex::encode(key_id(&new_pk))},
        "ephemeral_ikm": hex::encode(ikm),
        "envelope_hex": hex::encode(rewrapped.to_bytes()),
    })
}

fn expected_vectors() -> Value {
    let cases: Vec<Value> = cases()
        .iter()
        .enumerate()
        .map(|(i, (name, b, pt, n))| build_case(i, name, b, pt, *n))
        .collect();
    let rewraps = vec![build_rewrap(&cases[1])];
    json!({
        "description": "NCSM envelope v1 test vectors (docs/ncsm-envelope.md section 8). Secret keys are public test keys: never use them.",
        "cases": cases,
        "rewraps": rewraps,
    })
}

#[test]
fn ncsm_vectors_reproduce_byte_for_byte() {
    let expected = expected_vectors();
    if std::env::var_os("NCSM_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&expected).expect("json") + "\n";
        std::fs::write(NCSM_VECTORS, text).expect("write vectors");
    }
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(NCSM_VECTORS).expect("vectors/ncsm-v1.json is readable"),
    )
    .expect("vectors are JSON");
    assert_eq!(
        published, expected,
        "published vectors differ from what the code seals"
    );

    for case in published["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let bytes = hex::decode(case["envelope_hex"].as_str().expect("hex")).expect("hex");
        let envelope = Envelope::from_bytes(&bytes).expect(name);
        assert_eq!(envelope.to_bytes(), bytes, "{name}: re-encoding differs");
        let text = case["envelope_text"].as_str().expect("text");
        assert_eq!(Envelope::from_text(text).expect(name), envelope);
        let plaintext = hex::decode(case["plaintext_hex"].as_str().expect("hex")).expect("hex");
        for recipient in case["recipients"].as_array().expect("recipients") {
            let sk = PrivateKey::from_bytes(&hex32(&recipient["sk"]));
            assert_eq!(sk.public_key(), hex32(&recipient["pk"]), "{name}: pk");
            let opened = open(&envelope, envelope.binding(), sk.as_bytes()).expect(name);
            assert_eq!(&opened[..], &plaintext[..], "{name}: plaintext");
        }
    }

    for rewrap in published["rewraps"].as_array().expect("rewraps") {
        let case = &published["cases"][rewrap["case"].as_u64().expect("case") as usize];
        let bytes = hex::decode(rewrap["envelope_hex"].as_str().expect("hex")).expect("hex");
        let envelope = Envelope::from_bytes(&bytes).expect("rewrap parses");
        let original = Envelope::from_text(case["envelope_text"].as_str().expect("text"))
            .expect("case parses");
        assert!(same_payload(&original, &envelope));
        let sk = hex32(&rewrap["new_recipient"]["sk"]);
        let plaintext = hex::decode(case["plaintext_hex"].as_str().expect("hex")).expect("hex");
        let opened = open(&envelope, envelope.binding(), &sk).expect("new recipient opens");
        assert_eq!(&opened[..], &plaintext[..]);
    }
}

/// Feeds HPKE exactly RFC 9180's `ikmE`, the way the envelope's injected randomness does.
struct Ikm(Vec<u8>);

impl RngCore for Ikm {
    fn next_u32(&mut self) -> u32 {
        unreachable!("X25519 encapsulation draws bytes, not integers")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("X25519 encapsulation draws bytes, not integers")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "HPKE drew more than ikmE");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
}

impl CryptoRng for Ikm {}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

#[test]
fn rfc9180_official_vectors_for_our_suite() {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(RFC_VECTORS).expect("RFC 9180 vector subset is readable"),
    )
    .expect("JSON");
    let vectors = vectors.as_array().expect("array");
    assert!(!vectors.is_empty(), "no RFC 9180 vectors for our suite");
    for v in vectors {
        assert_eq!(
            (&v["mode"], &v["kem_id"], &v["kdf_id"], &v["aead_id"]),
            (&json!(0), &json!(0x20), &json!(1), &json!(3))
        );
        let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&unhex(&v["ikmR"]));
        assert_eq!(sk_r.to_bytes().to_vec(), unhex(&v["skRm"]));
        assert_eq!(pk_r.to_bytes().to_vec(), unhex(&v["pkRm"]));
        let info = unhex(&v["info"]);

        let mut rng = Ikm(unhex(&v["ikmE"]));
        let (enc, mut sender) = hpke::setup_sender::<
            ChaCha20Poly1305,
            HkdfSha256,
            X25519HkdfSha256,
            _,
        >(&OpModeS::Base, &pk_r, &info, &mut rng)
        .expect("setup sender");
        assert_eq!(enc.to_bytes().to_vec(), unhex(&v["enc"]));
        let enc =
            <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&unhex(&v["enc"])).expect("enc");
        let mut receiver = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk_r,
            &enc,
            &info,
        )
        .expect("setup receiver");
        for e in v["encryptions"].as_array().expect("encryptions") {
            let (aad, pt, ct) = (unhex(&e["aad"]), unhex(&e["pt"]), unhex(&e["ct"]));
            assert_eq!(sender.seal(&pt, &aad).expect("seal"), ct);
            assert_eq!(receiver.open(&ct, &aad).expect("open"), pt);
        }
        for x in v["exports"].as_array().expect("exports") {
            let value = unhex(&x["exported_value"]);
            let mut out = vec![0u8; value.len()];
            receiver
                .export(&unhex(&x["exporter_context"]), &mut out)
                .expect("export");
            assert_eq!(out, value);
        }
    }
}

//! P3: envelope opens per second beside a raw single-shot HPKE open of the same suite
//! (X25519-HKDF-SHA256, HKDF-SHA256, ChaCha20-Poly1305) with the same plaintext size. One
//! thread each: the figure is the cost of one open, not the machine's width. Ours opens as the
//! agent does, with its identity key prepared once (`open_as`).

use std::hint::black_box;
use std::time::Instant;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Kem, OpModeR, OpModeS};
use rand_core_09::{OsRng, UnwrapErr};
use sealscan_protocols::envelope::{self, Binding, PrivateKey, RecipientKey};

use crate::report::{Row, median, rate};

/// A typical password's length.
pub const PLAINTEXT_LEN: usize = 24;

pub fn run(iterations: usize) -> Result<Vec<Row>, String> {
    let plaintext = [0x5au8; PLAINTEXT_LEN];

    let me = PrivateKey::generate().map_err(|e| format!("key: {e}"))?;
    let other = PrivateKey::generate().map_err(|e| format!("key: {e}"))?;
    let binding = bench_binding();
    // Two recipients, as a record sealed to a pair of appliances carries.
    let sealed = envelope::seal(&plaintext, &binding, &[me.public_key(), other.public_key()])
        .map_err(|e| format!("seal: {e}"))?;

    let mut rng = UnwrapErr(OsRng);
    let (sk, pk) = X25519HkdfSha256::gen_keypair(&mut rng);
    let (enc, ciphertext) = hpke::single_shot_seal::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
        _,
    >(&OpModeS::Base, &pk, b"bench", &plaintext, b"", &mut rng)
    .map_err(|e| format!("raw HPKE seal: {e}"))?;

    let prepared = RecipientKey::new(me.as_bytes());
    let open_envelope = || -> Result<(), String> {
        let opened = envelope::open_as(black_box(&sealed), &binding, &prepared)
            .map_err(|e| format!("envelope open: {e}"))?;
        black_box(&opened);
        Ok(())
    };
    let open_raw = || -> Result<(), String> {
        let opened = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            black_box(&enc),
            b"bench",
            black_box(&ciphertext),
            b"",
        )
        .map_err(|e| format!("raw HPKE open: {e}"))?;
        black_box(&opened);
        Ok(())
    };

    // `open` with the bare private key derives the public key and key id on every call, one
    // X25519 base-point multiplication more: timed for callers that open only once.
    let open_unprepared = || -> Result<(), String> {
        let opened = envelope::open(black_box(&sealed), &binding, me.as_bytes())
            .map_err(|e| format!("envelope open: {e}"))?;
        black_box(&opened);
        Ok(())
    };

    // Warm-up, then alternating rounds; the median of each side is reported.
    timed(iterations / 10 + 1, &open_envelope)?;
    timed(iterations / 10 + 1, &open_raw)?;
    let mut ours = Vec::new();
    let mut base = Vec::new();
    let mut unprepared = Vec::new();
    for _ in 0..3 {
        ours.push(timed(iterations, &open_envelope)?);
        base.push(timed(iterations, &open_raw)?);
        unprepared.push(timed(iterations, &open_unprepared)?);
    }
    let (ours, base, unprepared) = (median(ours), median(base), median(unprepared));
    let ratio = ours / base;
    let row = Row::new(
        format!("P3 {PLAINTEXT_LEN} B"),
        format!("{ours:.0} opens/s ({ratio:.2}x)"),
        format!("{base:.0} raw HPKE opens/s"),
        "≥ 0.8x raw HPKE open",
        Row::verdict_for(ratio >= 0.8),
    );
    row.print();
    let detail = crate::report::Row::new(
        "P3 unprepared",
        format!(
            "`open` with the bare private key: {unprepared:.0}/s ({:.2}x)",
            unprepared / base
        ),
        format!("{base:.0} raw HPKE opens/s"),
        "(one-off opens)",
        crate::report::Verdict::Info,
    );
    detail.print();
    Ok(vec![row, detail])
}

fn timed(iterations: usize, one: &impl Fn() -> Result<(), String>) -> Result<f64, String> {
    let started = Instant::now();
    for _ in 0..iterations {
        one()?;
    }
    Ok(rate(iterations, started.elapsed().as_secs_f64()))
}

pub fn bench_binding() -> Binding {
    Binding {
        record_kind: "unix".into(),
        record_id: "bench-record".into(),
        field: "password".into(),
        user: "scanuser".into(),
        domain: String::new(),
        vault_url: String::new(),
        secret_name: String::new(),
    }
}

//! P4: rewrapping sealed records for a newly approved appliance: `add_recipient_as` on every
//! envelope, spread over all cores. The baseline is the bare HPKE work a rewrap cannot avoid
//! (one single-shot open and one single-shot seal of a content key per record) on the same
//! threads, so the gap is what the envelope format itself costs.

use std::thread;
use std::time::Instant;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Kem, OpModeR, OpModeS};
use rand_core_09::{OsRng, UnwrapErr};
use sealscan_protocols::envelope::{self, Envelope, PrivateKey, RecipientKey};

use crate::p3_open::bench_binding;
use crate::report::Row;

pub const RECORDS: usize = 100_000;
const TARGET_SECS: f64 = 10.0;

pub fn run(records: usize) -> Result<Vec<Row>, String> {
    let threads = thread::available_parallelism().map_or(2, |n| n.get());
    let old = PrivateKey::generate().map_err(|e| format!("key: {e}"))?;
    let new = PrivateKey::generate().map_err(|e| format!("key: {e}"))?;
    let binding = bench_binding();

    // The records as the control plane holds them: one envelope each, sealed to `old`.
    let setup = Instant::now();
    let old_public = old.public_key();
    let sealed: Vec<Envelope> = chunked(records, threads, |range| {
        range
            .map(|i| {
                // Synthetic 24-byte secrets, distinct per record.
                let mut secret = [b'x'; 24];
                secret[..8].copy_from_slice(&(i as u64).to_le_bytes());
                envelope::seal(&secret, &binding, &[old_public])
                    .map_err(|e| format!("seal record {i}: {e}"))
            })
            .collect()
    })?;
    let setup_secs = setup.elapsed().as_secs_f64();

    let new_public = new.public_key();
    // Prepared once, as a rewrap of many records does: no per-record key-id derivation.
    let me = RecipientKey::new(old.as_bytes());
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let rewrapped: Vec<Envelope> = chunked(records, threads, |range| {
        range
            .map(|i| {
                let source = sealed.get(i).ok_or("record index out of range")?;
                envelope::add_recipient_as(source, &binding, &me, &new_public)
                    .map_err(|e| format!("rewrap record {i}: {e}"))
            })
            .collect()
    })?;
    let ours = started.elapsed().as_secs_f64();
    let ours_cpu = process_cpu_secs() - cpu_before;

    // Every rewrapped record must open for the new appliance with the payload unchanged.
    for (i, (before, after)) in sealed.iter().zip(&rewrapped).enumerate().step_by(997) {
        envelope::open(after, &binding, new.as_bytes())
            .map_err(|e| format!("record {i} does not open for the new appliance: {e}"))?;
        if !envelope::same_payload(before, after) {
            return Err(format!("record {i}: rewrap changed the payload"));
        }
    }
    drop(rewrapped);

    let (base, base_cpu) = raw_hpke_rewrap(records, threads)?;
    let row = Row::new(
        format!("P4 {}k", records / 1000),
        format!("{ours:.2} s on {threads} threads ({ours_cpu:.1} s CPU)"),
        format!("{base:.2} s raw HPKE open+seal ({base_cpu:.1} s CPU)"),
        "≤ 10 s for 100k on 2 cores",
        Row::verdict_for(ours * (RECORDS as f64 / records.max(1) as f64) <= TARGET_SECS),
    );
    row.print();
    let (floor, floor_cpu) = x25519_floor(records, threads);
    let floor_row = Row::new(
        format!("P4 floor {}k", records / 1000),
        format!("{floor:.2} s: 3 X25519 operations a record ({floor_cpu:.1} s CPU)"),
        format!("{base:.2} s raw HPKE open+seal (4 operations a record)"),
        "(what no rewrap avoids)",
        crate::report::Verdict::Info,
    );
    floor_row.print();
    println!(
        "{:<14} (setup: sealed {records} records in {setup_secs:.2} s, not counted)",
        ""
    );
    Ok(vec![row, floor_row])
}

/// CPU time this process has used, all threads: unlike wall time, it does not grow when other
/// work on a shared machine takes the cores, so ours and the baseline compare fairly.
#[allow(unsafe_code)]
fn process_cpu_secs() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } != 0 {
        return f64::NAN;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Wall and CPU seconds for `records` open-then-seal rounds of a 32-byte content key with
/// bare HPKE.
fn raw_hpke_rewrap(records: usize, threads: usize) -> Result<(f64, f64), String> {
    let mut rng = UnwrapErr(OsRng);
    let (old_sk, old_pk) = X25519HkdfSha256::gen_keypair(&mut rng);
    let (_, new_pk) = X25519HkdfSha256::gen_keypair(&mut rng);
    let content_key = [7u8; 32];
    let wrapped: Vec<_> = chunked(records, threads, |range| {
        let mut rng = UnwrapErr(OsRng);
        range
            .map(|_| {
                hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
                    &OpModeS::Base,
                    &old_pk,
                    b"bench",
                    &content_key,
                    b"",
                    &mut rng,
                )
                .map_err(|e| format!("raw seal: {e}"))
            })
            .collect()
    })?;
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let rewrapped: Vec<_> =
        chunked(records, threads, |range| {
            let mut rng = UnwrapErr(OsRng);
            range
                .map(|i| {
                    let (enc, ct) = wrapped.get(i).ok_or("record index out of range")?;
                    let key = hpke::single_shot_open::<
                        ChaCha20Poly1305,
                        HkdfSha256,
                        X25519HkdfSha256,
                    >(&OpModeR::Base, &old_sk, enc, b"bench", ct, b"")
                    .map_err(|e| format!("raw open: {e}"))?;
                    hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
                        &OpModeS::Base,
                        &new_pk,
                        b"bench",
                        &key,
                        b"",
                        &mut rng,
                    )
                    .map_err(|e| format!("raw seal: {e}"))
                })
                .collect()
        })?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu_before;
    std::hint::black_box(rewrapped);
    Ok((secs, cpu))
}

/// Wall and CPU seconds for the scalar multiplications a rewrap cannot avoid, per record: the
/// Diffie-Hellman that opens the old wrap, and the new wrap's ephemeral public key and its
/// Diffie-Hellman. The hpke crate's single-shot open adds a fourth (it recomputes the
/// recipient's public key), so its open+seal is not the floor; this is.
fn x25519_floor(records: usize, threads: usize) -> (f64, f64) {
    use x25519_dalek::{PublicKey, StaticSecret};
    let old = StaticSecret::from([3u8; 32]);
    let new_public = PublicKey::from(&StaticSecret::from([5u8; 32]));
    let cpu_before = process_cpu_secs();
    let started = Instant::now();
    let out = chunked(records, threads, |range| {
        Ok(range
            .map(|i| {
                let mut seed = [9u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let peer = PublicKey::from(seed);
                let opened = old.diffie_hellman(&peer);
                let ephemeral = StaticSecret::from(*opened.as_bytes());
                let enc = PublicKey::from(&ephemeral);
                let wrapped = ephemeral.diffie_hellman(&new_public);
                enc.as_bytes()[0] ^ wrapped.as_bytes()[0]
            })
            .collect())
    });
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_secs() - cpu_before;
    std::hint::black_box(out.ok());
    (secs, cpu)
}

/// Runs `work` over `0..n` on `threads` threads and concatenates the results in order. The
/// threads take batches of [`BATCH`] indices from a shared counter as they go, rather than one
/// fixed half each: on a shared machine one thread is often slowed by other work, and with
/// fixed halves the other would finish early and leave its core idle while the wall clock runs.
fn chunked<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(std::ops::Range<usize>) -> Result<Vec<T>, String> + Sync,
) -> Result<Vec<T>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let parts: Vec<Result<Batches<T>, String>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (work, next) = (&work, &next);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let start = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                        if start >= n {
                            return Ok(done);
                        }
                        let range = start..(start + BATCH).min(n);
                        done.push((start, work(range)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a worker thread panicked".into()))
            })
            .collect()
    });
    let mut batches = Vec::new();
    for part in parts {
        batches.extend(part?);
    }
    batches.sort_unstable_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(n);
    for (_, batch) in batches {
        out.extend(batch);
    }
    Ok(out)
}

/// One thread's results: each batch with the index it starts at.
type Batches<T> = Vec<(usize, Vec<T>)>;

/// Records a thread takes at a time: large enough that the shared counter costs nothing.
const BATCH: usize = 256;

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_cover_every_index_once_in_order() {
        for (n, threads) in [(0, 2), (1, 2), (7, 2), (10, 3), (5, 8), (1000, 2), (777, 3)] {
            let out = super::chunked(n, threads, |r| Ok(r.collect())).unwrap();
            assert_eq!(out, (0..n).collect::<Vec<_>>(), "n={n} threads={threads}");
        }
    }
}

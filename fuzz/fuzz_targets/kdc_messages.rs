//! The agent's own Kerberos code around picky-krb, on arbitrary bytes: the KDC's TCP length
//! framing, reading a KDC's reply or KRB-ERROR (code, NTSTATUS, pre-authentication etype and
//! salt) and the cause it names, and the RFC 2782 order of SRV targets. The modules are the
//! agent's files compiled as they are (they are sans-I/O and hold no crate paths), so this
//! target does not build the whole agent.
#![no_main]

#[path = "../../agent/src/login/windows/kdc_wire.rs"]
#[allow(dead_code)]
mod kdc_wire;
#[path = "../../agent/src/login/windows/srv_order.rs"]
#[allow(dead_code)]
mod srv_order;

use kdc_wire::{MAX_REPLY, Reply};
use libfuzzer_sys::fuzz_target;
use picky_krb::messages::{ApRep, AsRep, TgsRep};
use srv_order::SrvRecord;

fn read_reply<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    if let Ok(Reply::Error(e)) = kdc_wire::decode::<T>(bytes) {
        let cause = e.cause("fuzz@SEAL.TEST", "cifs/host.seal.test");
        assert!(cause.contains(&format!("Kerberos error {}", e.code)));
    }
}

/// 7 bytes a record: priority, weight, port (big-endian), then the target (0: `.`). At most
/// 64 records (more than any realm has KDCs): the order is quadratic in their number, and
/// longer lists would only slow the fuzzer down.
fn srv_records(data: &[u8]) -> Vec<SrvRecord> {
    data.chunks_exact(7)
        .take(64)
        .map(|c| SrvRecord {
            priority: u16::from_be_bytes([c[0], c[1]]),
            weight: u16::from_be_bytes([c[2], c[3]]),
            port: u16::from_be_bytes([c[4], c[5]]),
            target: if c[6] == 0 {
                ".".into()
            } else {
                format!("kdc{}", c[6])
            },
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // Framing: what a head announces is bounded; what we frame reads back as its length.
    if let Some(head) = data.first_chunk::<4>()
        && let Ok(len) = kdc_wire::reply_len(*head)
    {
        assert!(len <= MAX_REPLY);
    }
    let framed = kdc_wire::frame(data).expect("fuzz inputs are small");
    let head = framed.first_chunk::<4>().expect("a head");
    if data.len() <= MAX_REPLY {
        assert_eq!(kdc_wire::reply_len(*head), Ok(data.len()));
    }
    assert_eq!(&framed[4..], data);

    // A KDC's or server's answer: never a panic, and every KRB-ERROR gets a cause.
    read_reply::<AsRep>(data);
    read_reply::<TgsRep>(data);
    read_reply::<ApRep>(data);
    let mut as_error = data.to_vec();
    as_error.insert(0, kdc_wire::KRB_ERROR_TAG);
    read_reply::<AsRep>(&as_error);

    // SRV order: a permutation of the usable records, lowest priority first, whatever the
    // random source says (here: the input's bytes again, then anything).
    let records = srv_records(data);
    let mut draws = data.iter().copied().cycle().take(4096);
    let ordered = srv_order::order(records.clone(), |n| {
        u64::from(draws.next().unwrap_or(0)).wrapping_mul(0x9e37_79b9) % n
    });
    let mut usable: Vec<SrvRecord> = records.into_iter().filter(|r| r.target != ".").collect();
    assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority));
    let mut got = ordered.clone();
    let key = |r: &SrvRecord| (r.priority, r.weight, r.port, r.target.clone());
    usable.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, usable);
});

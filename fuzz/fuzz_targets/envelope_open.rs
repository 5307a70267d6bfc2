//! Opening NCSM envelopes on arbitrary bytes with a fixed appliance key: never a panic, and
//! only an envelope whose every check passes yields a plaintext. The seed corpus holds
//! envelopes sealed to this key so the fuzzer starts past the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::envelope::{Binding, Envelope, add_recipient, open, public_key};

/// The fuzzing appliance's private key (fuzz/corpus/envelope_open seeds are sealed to it).
const FUZZ_KEY: [u8; 32] = [0x42; 32];

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::from_bytes(data) else {
        return;
    };
    let bound: Binding = envelope.binding().clone();
    if let Ok(plaintext) = open(&envelope, &bound, &FUZZ_KEY) {
        assert!(plaintext.len() + 16 <= data.len());
        // What opens can be rewrapped, and the rewrap opens to the same plaintext.
        let newcomer = public_key(&[0x17; 32]);
        if let Ok(rewrapped) = add_recipient(&envelope, &bound, &FUZZ_KEY, &newcomer) {
            let again = open(&rewrapped, &bound, &[0x17; 32]);
            assert!(again.is_ok_and(|again| again == plaintext));
        }
    }
    let mut other = bound;
    other.record_id.push('x');
    assert!(open(&envelope, &other, &FUZZ_KEY).is_err());
});

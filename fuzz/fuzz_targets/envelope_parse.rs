//! NCSM envelope parsing on arbitrary bytes and text: never a panic, and whatever parses
//! encodes back to exactly the same bytes (one encoding per envelope).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::envelope::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::from_bytes(data) {
        assert_eq!(
            envelope.to_bytes(),
            data,
            "parse then encode changed the bytes"
        );
        let text = envelope.to_text();
        assert_eq!(Envelope::from_text(&text).ok().as_ref(), Some(&envelope));
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(envelope) = Envelope::from_text(text)
    {
        assert_eq!(envelope.to_text(), text, "text form is not canonical");
    }
});

//! The NTLM CHALLENGE parser on arbitrary bytes; for what parses, the AV pairs round trip
//! and an AUTHENTICATE message can be built from it without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::ntlm::{self, AvPairs};

fuzz_target!(|data: &[u8]| {
    let _ = AvPairs::parse(data);
    let Ok(challenge) = ntlm::parse_challenge(data) else {
        return;
    };
    if let Ok(bytes) = challenge.target_info.encode() {
        assert_eq!(AvPairs::parse(&bytes).as_ref(), Ok(&challenge.target_info));
    }
    let negotiate = ntlm::negotiate_message();
    let _ = ntlm::authenticate(&ntlm::AuthenticateInput {
        user: "fuzz",
        domain: "DOMAIN",
        password: b"password",
        workstation: "WS",
        negotiate: &negotiate,
        challenge_bytes: data,
        challenge: &challenge,
        client_challenge: [0xaa; 8],
        now: 0,
        target_spn: None,
    });
});

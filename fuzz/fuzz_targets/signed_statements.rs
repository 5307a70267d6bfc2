//! Signed-statement parsing on arbitrary bytes (docs/signed-records.md): the envelope and its
//! text form never panic, and every typed body either is refused or, when it is the canonical
//! encoding of what it parsed to, parses back to the same statement. The first input byte picks
//! the statement type (signatures gate the body in production; here the body is reached
//! directly, since a fuzzer cannot forge Ed25519).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::signing::{
    ApplianceApproval, Policy, RecordStatement, Revocation, RootChange, RootDeclaration, Signed,
    Statement, TrustList, UserCertificate,
};

fn round_trip<T: Statement + PartialEq + std::fmt::Debug>(body: &[u8]) {
    if let Ok(statement) = T::decode(body) {
        let encoded = statement.encode();
        if encoded == body {
            let again = T::decode(&encoded).expect("a canonical body parses again");
            assert_eq!(again, statement, "parse of the canonical body changed it");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = Signed::from_bytes(data.to_vec()) {
        let _ = signed.verify();
        assert_eq!(Signed::from_text(&signed.to_text()).ok(), Some(signed));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Signed::from_text(text);
    }
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    match kind % 8 {
        0 => round_trip::<RootDeclaration>(body),
        1 => round_trip::<UserCertificate>(body),
        2 => round_trip::<TrustList>(body),
        3 => round_trip::<Revocation>(body),
        4 => round_trip::<RecordStatement>(body),
        5 => round_trip::<ApplianceApproval>(body),
        6 => round_trip::<RootChange>(body),
        _ => round_trip::<Policy>(body),
    }
});

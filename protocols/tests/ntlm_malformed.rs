//! CHALLENGE messages that are wrong in each way a server (or an attacker) could make them.

use sealscan_protocols::ntlm::{AvPairs, NtlmError, parse_challenge};

fn challenge(target_info: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"NTLMSSP\0");
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 0, 56, 0, 0, 0]); // empty TargetName
    m.extend_from_slice(&0xe28a_8235u32.to_le_bytes());
    m.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    m.extend_from_slice(&[0; 8]);
    let len = target_info.len() as u16;
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&56u32.to_le_bytes());
    m.extend_from_slice(&[6, 1, 0xb1, 0x1d, 0, 0, 0, 15]);
    m.extend_from_slice(target_info);
    m
}

#[test]
fn a_well_formed_challenge_parses() {
    let info = [2, 0, 2, 0, b'D', 0, 0, 0, 0, 0];
    let c = parse_challenge(&challenge(&info)).unwrap();
    assert_eq!(c.target_info.nb_domain_name().as_deref(), Some("D"));
    assert_eq!(c.version.unwrap().to_string(), "6.1 build 7601");
}

#[test]
fn wrong_signature_and_type_are_named() {
    let mut m = challenge(&[0, 0, 0, 0]);
    m[0] = b'X';
    assert_eq!(parse_challenge(&m), Err(NtlmError::BadSignature));
    let mut m = challenge(&[0, 0, 0, 0]);
    m[8] = 3;
    assert_eq!(
        parse_challenge(&m),
        Err(NtlmError::WrongType {
            expected: 2,
            found: 3
        })
    );
}

#[test]
fn av_pair_overrun_and_missing_terminator_are_errors() {
    let overrun = [2, 0, 0x40, 0, b'D', 0];
    assert_eq!(
        parse_challenge(&challenge(&overrun)),
        Err(NtlmError::AvPairOverrun { id: 2, len: 0x40 })
    );
    let unterminated = [2, 0, 2, 0, b'D', 0];
    assert_eq!(
        parse_challenge(&challenge(&unterminated)),
        Err(NtlmError::AvPairsUnterminated)
    );
}

#[test]
fn target_info_outside_the_message_is_an_error() {
    let mut m = challenge(&[0, 0, 0, 0]);
    m[44] = 0xf0; // TargetInfo offset
    let err = parse_challenge(&m).unwrap_err();
    assert!(err.to_string().contains("TargetInfoFields"), "{err}");
}

#[test]
fn every_truncation_is_an_error() {
    let m = challenge(&[1, 0, 2, 0, b'S', 0, 0, 0, 0, 0]);
    for n in 0..m.len() {
        assert!(parse_challenge(&m[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn av_pairs_round_trip() {
    let pairs = AvPairs(vec![(1, vec![b'S', 0]), (7, 5u64.to_le_bytes().to_vec())]);
    let bytes = pairs.encode().unwrap();
    assert_eq!(AvPairs::parse(&bytes).unwrap(), pairs);
    assert_eq!(pairs.timestamp(), Some(5));
}

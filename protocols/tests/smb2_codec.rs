//! The SMB2 codec on its own: request layout, response parsing, signing round trips, and
//! malformed input (every truncation, random bytes) giving errors, never panics.

use sealscan_protocols::smb2::{
    self, Command, Dialect, Header, NegotiateRequest, NtStatus, PreauthHash, Smb2Error,
    header_flags, parse_negotiate, parse_session_setup, parse_tree_connect,
};
use sha2::{Digest, Sha512};

fn response_header(command: Command, status: u32, session_id: u64) -> Vec<u8> {
    let mut h = Header::request(command, 1, session_id, 0);
    h.status = NtStatus(status);
    h.flags = header_flags::SERVER_TO_REDIR;
    let mut out = Vec::new();
    h.encode(&mut out);
    out
}

fn negotiate_response(dialect: u16, security_mode: u16, token: &[u8]) -> Vec<u8> {
    let mut m = response_header(Command::Negotiate, 0, 0);
    m.extend_from_slice(&65u16.to_le_bytes());
    m.extend_from_slice(&security_mode.to_le_bytes());
    m.extend_from_slice(&dialect.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&[7u8; 16]);
    m.extend_from_slice(&0x2fu32.to_le_bytes());
    m.extend_from_slice(&[0u8; 12]); // max transact/read/write
    m.extend_from_slice(&[0u8; 16]); // system time, start time
    m.extend_from_slice(&128u16.to_le_bytes());
    m.extend_from_slice(&(token.len() as u16).to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(token);
    m
}

fn session_setup_response(status: u32, flags: u16, token: &[u8]) -> Vec<u8> {
    let mut m = response_header(Command::SessionSetup, status, 0x1122);
    m.extend_from_slice(&9u16.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&72u16.to_le_bytes());
    m.extend_from_slice(&(token.len() as u16).to_le_bytes());
    m.extend_from_slice(token);
    m
}

fn tree_connect_response() -> Vec<u8> {
    let mut m = response_header(Command::TreeConnect, 0, 0x1122);
    m.extend_from_slice(&16u16.to_le_bytes());
    m.push(2); // pipe
    m.push(0);
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&0x001f_01ffu32.to_le_bytes());
    m
}

fn request(dialects: Vec<Dialect>) -> Vec<u8> {
    smb2::negotiate_request(&NegotiateRequest {
        dialects,
        signing_required: true,
        client_guid: [1; 16],
        salt: [2; 32],
    })
}

#[test]
fn negotiate_request_lists_dialects_and_311_context() {
    let m = request(Dialect::from_min(Dialect::Smb300));
    assert_eq!(&m[..4], b"\xfeSMB");
    assert_eq!(u16::from_le_bytes([m[64], m[65]]), 36);
    assert_eq!(u16::from_le_bytes([m[66], m[67]]), 3); // DialectCount
    assert_eq!(u16::from_le_bytes([m[68], m[69]]), 3); // signing enabled + required
    assert_eq!(&m[100..106], &[0x00, 0x03, 0x02, 0x03, 0x11, 0x03]);
    let ctx_off = u32::from_le_bytes([m[92], m[93], m[94], m[95]]) as usize;
    assert_eq!(ctx_off % 8, 0);
    assert_eq!(u16::from_le_bytes([m[96], m[97]]), 2);
    assert_eq!(&m[ctx_off..ctx_off + 2], &[1, 0]); // PREAUTH_INTEGRITY_CAPABILITIES
    assert_eq!(&m[ctx_off + 12..ctx_off + 14], &[1, 0]); // SHA-512
    assert_eq!(&m[ctx_off + 14..ctx_off + 46], &[2u8; 32]);
    // ENCRYPTION_CAPABILITIES, 8-aligned after it: one cipher, AES-128-GCM.
    let enc = ctx_off + 48;
    assert_eq!(&m[enc..enc + 4], &[2, 0, 4, 0]);
    assert_eq!(&m[enc + 8..], &[1, 0, 2, 0]);
}

#[test]
fn negotiate_request_without_311_has_no_contexts() {
    let m = request(vec![Dialect::Smb202, Dialect::Smb210]);
    assert_eq!(m.len(), 64 + 36 + 4);
    assert_eq!(&m[92..100], &[0u8; 8]); // ClientStartTime
}

#[test]
fn negotiate_response_parses() {
    let offered = Dialect::from_min(Dialect::Smb202);
    let r = parse_negotiate(&negotiate_response(0x0311, 3, b"hint"), &offered).unwrap();
    assert_eq!(r.dialect, Some(Dialect::Smb311));
    assert!(r.signing_required());
    assert_eq!(r.security_buffer, b"hint");
    assert_eq!(r.server_guid, [7; 16]);
}

#[test]
fn negotiate_response_with_an_unoffered_dialect_is_refused() {
    let err = parse_negotiate(&negotiate_response(0x0202, 1, b""), &[Dialect::Smb311]);
    assert_eq!(err, Err(Smb2Error::UnofferedDialect(0x0202)));
}

#[test]
fn negotiate_error_status_is_reported_without_a_dialect() {
    let mut m = response_header(Command::Negotiate, 0xC000_00BB, 0);
    m.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let r = parse_negotiate(&m, &[Dialect::Smb311]).unwrap();
    assert_eq!(r.dialect, None);
    assert_eq!(r.header.status, NtStatus::NOT_SUPPORTED);
    assert_eq!(
        r.header.status.to_string(),
        "STATUS_NOT_SUPPORTED (0xc00000bb)"
    );
}

#[test]
fn a_request_or_another_command_is_not_a_response() {
    let req = request(vec![Dialect::Smb202]);
    assert!(matches!(
        parse_negotiate(&req, &[Dialect::Smb202]),
        Err(Smb2Error::Direction(_))
    ));
    let ss = session_setup_response(0, 0, b"");
    assert!(matches!(
        parse_negotiate(&ss, &[Dialect::Smb202]),
        Err(Smb2Error::WrongCommand { found: 1, .. })
    ));
    assert!(matches!(
        parse_negotiate(b"\xffSMBrest-of-an-smb1-reply", &[Dialect::Smb202]),
        Err(Smb2Error::NotSmb2(_))
    ));
}

#[test]
fn session_setup_response_parses() {
    let r = parse_session_setup(&session_setup_response(0xC000_0016, 0, b"NTLMSSP\0x")).unwrap();
    assert_eq!(r.header.status, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(r.header.session_id, 0x1122);
    assert_eq!(r.token, b"NTLMSSP\0x");
    let fail = session_setup_response(0xC000_006D, 0, b"");
    let r = parse_session_setup(&fail).unwrap();
    assert_eq!(
        r.header.status.to_string(),
        "STATUS_LOGON_FAILURE (0xc000006d)"
    );
}

#[test]
fn tree_connect_response_parses() {
    let r = parse_tree_connect(&tree_connect_response()).unwrap();
    assert_eq!(r.share_type, 2);
    assert_eq!(r.maximal_access, 0x001f_01ff);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let offered = Dialect::from_min(Dialect::Smb202);
    let neg = negotiate_response(0x0302, 1, b"some-token");
    for n in 0..neg.len() {
        assert!(parse_negotiate(&neg[..n], &offered).is_err(), "prefix {n}");
    }
    let ss = session_setup_response(0, 0, b"token");
    for n in 0..ss.len() {
        assert!(parse_session_setup(&ss[..n]).is_err(), "prefix {n}");
    }
    let tc = tree_connect_response();
    for n in 0..tc.len() {
        assert!(parse_tree_connect(&tc[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn a_security_buffer_pointing_outside_the_message_is_an_error() {
    let mut m = session_setup_response(0, 0, b"abc");
    m[68] = 0xff; // SecurityBufferOffset low byte
    let err = parse_session_setup(&m).unwrap_err();
    assert!(err.to_string().contains("SecurityBuffer"), "{err}");
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let offered = Dialect::from_min(Dialect::Smb202);
    for round in 0..20_000 {
        let len = (round % 200) as usize;
        let mut buf = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.push(x as u8);
        }
        // Make some inputs look like SMB2 so the parsers get past the first checks.
        if round % 2 == 0 && buf.len() >= 20 {
            buf[..4].copy_from_slice(b"\xfeSMB");
            buf[4] = 64;
            buf[5] = 0;
            buf[16] |= 1;
        }
        let _ = parse_negotiate(&buf, &offered);
        let _ = parse_session_setup(&buf);
        let _ = parse_tree_connect(&buf);
        let _ = sealscan_protocols::ntlm::parse_challenge(&buf);
    }
}

#[test]
fn signing_round_trips_and_detects_tampering_for_every_dialect() {
    let session_key = [0x42u8; 16];
    let mut preauth = PreauthHash::default();
    preauth.update(b"negotiate");
    for d in Dialect::ALL {
        let key = smb2::signing_key(d, &session_key, Some(&preauth));
        let mut m = tree_connect_response();
        smb2::sign(&mut m, &key);
        assert_ne!(&m[48..64], &[0u8; 16]);
        assert_ne!(
            u32::from_le_bytes([m[16], m[17], m[18], m[19]]) & header_flags::SIGNED,
            0
        );
        assert!(smb2::verify(&m, &key), "{d}");
        let mut tampered = m.clone();
        tampered[70] ^= 1;
        assert!(!smb2::verify(&tampered, &key), "{d}");
        let other = smb2::signing_key(d, &[0x43; 16], Some(&preauth));
        assert!(!smb2::verify(&m, &other), "{d}");
    }
    assert!(!smb2::verify(
        b"short",
        &smb2::signing_key(Dialect::Smb202, &session_key, None)
    ));
}

#[test]
fn the_311_key_depends_on_the_preauth_hash() {
    let mut m1 = tree_connect_response();
    let mut m2 = m1.clone();
    let mut a = PreauthHash::default();
    a.update(b"one");
    let mut b = PreauthHash::default();
    b.update(b"two");
    smb2::sign(
        &mut m1,
        &smb2::signing_key(Dialect::Smb311, &[1; 16], Some(&a)),
    );
    smb2::sign(
        &mut m2,
        &smb2::signing_key(Dialect::Smb311, &[1; 16], Some(&b)),
    );
    assert_ne!(m1[48..64], m2[48..64]);
}

#[test]
fn preauth_hash_chains_sha512() {
    let mut p = PreauthHash::default();
    p.update(b"abc");
    let mut h = Sha512::new();
    h.update([0u8; 64]);
    h.update(b"abc");
    assert_eq!(p.0.to_vec(), h.finalize().to_vec());
}

#[test]
fn netbios_framing() {
    assert_eq!(smb2::frame(b"abc").unwrap(), b"\0\0\0\x03abc");
    assert_eq!(smb2::frame_len([0, 1, 2, 3]), Ok(0x010203));
    assert!(smb2::frame_len([0x85, 0, 0, 0]).is_err());
}

#[test]
fn record_versions_parse() {
    assert_eq!("3.1.1".parse::<Dialect>(), Ok(Dialect::Smb311));
    assert_eq!("".parse::<Dialect>(), Ok(Dialect::Smb202));
    assert_eq!("2.1".parse::<Dialect>(), Ok(Dialect::Smb210));
    let err = "4.0".parse::<Dialect>().unwrap_err();
    assert!(err.to_string().contains("4.0"));
    assert_eq!(
        Dialect::from_min(Dialect::Smb302),
        vec![Dialect::Smb302, Dialect::Smb311]
    );
}

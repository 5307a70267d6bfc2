//! Known answers from MS-NLMP 4.2.4 (NTLMv2 authentication example values) and parsing of
//! the CHALLENGE message given there.

use sealscan_protocols::ntlm::{
    AuthenticateInput, authenticate, flags, lmv2_response, negotiate_message, nt_hash, ntlmv2_blob,
    ntlmv2_proof, ntowf_v2, parse_challenge, session_base_key,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

/// MS-NLMP 4.2.4.3, the CHALLENGE message.
const CHALLENGE: &str = "4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 \
    0123456789abcdef 0000000000000000 24002400 44000000 06007017 0000000f \
    530065007200760065007200 \
    02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000";

/// The example's target info: NetBIOS domain "Domain", NetBIOS computer "Server", EOL.
fn target_info() -> Vec<u8> {
    h("02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000")
}

#[test]
fn nt_hash_of_password() {
    assert_eq!(
        &nt_hash(b"Password").unwrap()[..],
        &h("a4f49c406510bdcab6824ee7c30fd852")[..]
    );
}

#[test]
fn ntowfv2_matches_4_2_4_1_1() {
    let nt = nt_hash(b"Password").unwrap();
    let key = ntowf_v2(&nt, "User", "Domain");
    assert_eq!(&key[..], &h("0c868a403bfd7a93a3001ef22ef02e3f")[..]);
}

#[test]
fn lmv2_response_matches_4_2_4_2_1() {
    let key = ntowf_v2(&nt_hash(b"Password").unwrap(), "User", "Domain");
    let lm = lmv2_response(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE);
    assert_eq!(
        lm.to_vec(),
        h("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
    );
}

#[test]
fn ntproofstr_and_session_base_key_match_4_2_4() {
    let key = ntowf_v2(&nt_hash(b"Password").unwrap(), "User", "Domain");
    let blob = ntlmv2_blob(0, &CLIENT_CHALLENGE, &target_info());
    let proof = ntlmv2_proof(&key, &SERVER_CHALLENGE, &blob);
    assert_eq!(proof.to_vec(), h("68cd0ab851e51c96aabc927bebef6a1c"));
    let sbk = session_base_key(&key, &proof);
    assert_eq!(&sbk[..], &h("8de40ccadbc14a82f15cb0ad0de95ca3")[..]);
}

#[test]
fn challenge_message_of_4_2_4_3_parses() {
    let ch = parse_challenge(&h(CHALLENGE)).unwrap();
    assert_eq!(ch.server_challenge, SERVER_CHALLENGE);
    assert_eq!(ch.target_name, "Server");
    assert_eq!(ch.target_info.nb_domain_name().as_deref(), Some("Domain"));
    assert_eq!(ch.target_info.nb_computer_name().as_deref(), Some("Server"));
    assert_eq!(ch.target_info.timestamp(), None);
    let v = ch.version.unwrap();
    assert_eq!(v.to_string(), "6.0 build 6000");
    assert_eq!(v.ntlm_revision, 15);
    assert_ne!(ch.flags & flags::TARGET_INFO, 0);
}

#[test]
fn authenticate_carries_the_example_ntlmv2_response() {
    let bytes = h(CHALLENGE);
    let ch = parse_challenge(&bytes).unwrap();
    let neg = negotiate_message();
    let auth = authenticate(&AuthenticateInput {
        user: "User",
        domain: "Domain",
        password: b"Password",
        workstation: "COMPUTER",
        negotiate: &neg,
        challenge_bytes: &bytes,
        challenge: &ch,
        client_challenge: CLIENT_CHALLENGE,
        now: 0,
        target_spn: None,
    })
    .unwrap();
    let m = &auth.message;
    assert_eq!(&m[..8], b"NTLMSSP\0");
    let nt_len = u16::from_le_bytes([m[20], m[21]]) as usize;
    let nt_off = u32::from_le_bytes([m[24], m[25], m[26], m[27]]) as usize;
    let nt = &m[nt_off..nt_off + nt_len];
    assert_eq!(&nt[..16], &h("68cd0ab851e51c96aabc927bebef6a1c")[..]);
    assert_eq!(
        &nt[16..],
        &ntlmv2_blob(0, &CLIENT_CHALLENGE, &target_info())[..]
    );
    // No server timestamp: LMv2 response is sent and no MIC.
    let lm_off = u32::from_le_bytes([m[16], m[17], m[18], m[19]]) as usize;
    assert_eq!(
        &m[lm_off..lm_off + 24],
        &h("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")[..]
    );
    assert_eq!(&m[72..88], &[0u8; 16]);
    assert_eq!(
        &auth.session_key[..],
        &h("8de40ccadbc14a82f15cb0ad0de95ca3")[..]
    );
}

#[test]
fn authenticate_adds_a_mic_when_the_server_sends_a_timestamp() {
    // The example's CHALLENGE with an MsvAvTimestamp pair added to its target info.
    let mut bytes = h(CHALLENGE);
    bytes.truncate(bytes.len() - 4);
    bytes.extend_from_slice(&h("07000800 0011223344556677 00000000"));
    bytes[40] += 12;
    bytes[42] += 12;
    let ch = parse_challenge(&bytes).unwrap();
    assert_eq!(ch.target_info.timestamp(), Some(0x7766554433221100));
    let neg = negotiate_message();
    let input = AuthenticateInput {
        user: "User",
        domain: "Domain",
        password: b"Password",
        workstation: "",
        negotiate: &neg,
        challenge_bytes: &bytes,
        challenge: &ch,
        client_challenge: CLIENT_CHALLENGE,
        now: 1,
        target_spn: None,
    };
    let auth = authenticate(&input).unwrap();
    let m = &auth.message;
    assert_ne!(&m[72..88], &[0u8; 16]);
    let lm_off = u32::from_le_bytes([m[16], m[17], m[18], m[19]]) as usize;
    assert_eq!(&m[lm_off..lm_off + 24], &[0u8; 24]);
    // The blob's timestamp is the server's, and MsvAvFlags announces the MIC.
    let nt_off = u32::from_le_bytes([m[24], m[25], m[26], m[27]]) as usize;
    assert_eq!(&m[nt_off + 24..nt_off + 32], &h("0011223344556677")[..]);
    let flag_pair = h("06000400 02000000");
    assert!(m.windows(8).any(|w| w == flag_pair.as_slice()));
}

#[test]
fn the_target_spn_is_bound_into_the_ntlmv2_response() {
    let bytes = h(CHALLENGE);
    let ch = parse_challenge(&bytes).unwrap();
    let neg = negotiate_message();
    let auth = authenticate(&AuthenticateInput {
        user: "User",
        domain: "Domain",
        password: b"Password",
        workstation: "",
        negotiate: &neg,
        challenge_bytes: &bytes,
        challenge: &ch,
        client_challenge: CLIENT_CHALLENGE,
        now: 0,
        target_spn: Some("cifs/srv"),
    })
    .unwrap();
    // MsvAvTargetName (9), 16 bytes of UTF-16LE "cifs/srv".
    let pair = h("09001000 63006900660073002f0073007200760000");
    let pair = &pair[..20];
    assert!(auth.message.windows(20).any(|w| w == pair));
}

#[test]
fn password_that_is_not_utf8_is_refused() {
    assert!(nt_hash(&[0xff, 0xfe]).is_err());
}

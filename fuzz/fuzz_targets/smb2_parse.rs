//! Every SMB2 response parser on arbitrary bytes, and the NetBIOS framing round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::smb2::{self, Dialect};
use sealscan_protocols::spnego;

fuzz_target!(|data: &[u8]| {
    let offered = Dialect::from_min(Dialect::Smb202);
    let _ = smb2::parse_negotiate(data, &offered);
    let _ = smb2::parse_session_setup(data);
    let _ = smb2::parse_tree_connect(data);

    if let Ok(framed) = smb2::frame(data) {
        let mut head = [0u8; 4];
        head.copy_from_slice(&framed[..4]);
        assert_eq!(smb2::frame_len(head), Ok(data.len()));
        assert_eq!(&framed[4..], data);
    }
    if let Some(head) = data.first_chunk::<4>() {
        let _ = smb2::frame_len(*head);
    }

    // The security tokens SMB2 carries: SPNEGO hint and NegTokenResp.
    let _ = spnego::hinted_mechs(data);
    if let Ok(resp) = spnego::parse_neg_token_resp(data)
        && let Some(token) = resp.response_token
    {
        let again = spnego::neg_token_resp(&token, resp.mech_list_mic.as_deref());
        let back = spnego::parse_neg_token_resp(&again).ok();
        assert_eq!(back.and_then(|r| r.response_token), Some(token));
    }

    // Verifying a signature over arbitrary bytes must not panic either.
    let key = smb2::signing_key(Dialect::Smb311, &[7; 16], None);
    let _ = smb2::verify(data, &key);
});

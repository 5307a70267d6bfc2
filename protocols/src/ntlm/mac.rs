//! NTLM message signatures with extended session security (MS-NLMP 3.4.4.2), as SPNEGO's
//! mechListMIC uses them. Without NEGOTIATE_KEY_EXCH (this client never asks for it) the
//! checksum is not RC4-sealed.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// Which side signs: each direction has its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

fn signing_key(session_key: &[u8; 16], direction: Direction) -> Zeroizing<[u8; 16]> {
    let magic: &[u8] = match direction {
        Direction::ClientToServer => {
            b"session key to client-to-server signing key magic constant\0"
        }
        Direction::ServerToClient => {
            b"session key to server-to-client signing key magic constant\0"
        }
    };
    let mut h = Md5::new();
    h.update(session_key);
    h.update(magic);
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&h.finalize());
    out
}

/// The 16-byte NTLMSSP_MESSAGE_SIGNATURE of `message` with sequence number `seq`.
pub fn message_signature(
    session_key: &[u8; 16],
    direction: Direction,
    seq: u32,
    message: &[u8],
) -> [u8; 16] {
    let key = signing_key(session_key, direction);
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(&key[..]).unwrap_or_else(|_| unreachable!());
    mac.update(&seq.to_le_bytes());
    mac.update(message);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&1u32.to_le_bytes());
    out[4..12].copy_from_slice(full.get(..8).unwrap_or(&[0; 8]));
    out[12..].copy_from_slice(&seq.to_le_bytes());
    out
}

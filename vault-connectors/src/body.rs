//! The HTTP bodies that carry secrets: the growable buffer response bodies are read into, and
//! request bodies handed to the HTTP stack without a copy.
//!
//! These stay outside the `sealscan_protocols::secret` family on purpose: a vault answer
//! arrives in chunks of unknown total size, so its buffer must grow, which a final-size
//! `SecretBytes` cannot. It never lets `Vec` reallocate behind its back (which would leave the
//! old copy unwiped), wipes each network chunk it can reclaim, and hands the finished body over
//! as a `SecretBytes` of its exact size.

use bytes::Bytes;
use sealscan_protocols::secret::SecretBytes;
use zeroize::{Zeroize, Zeroizing};

/// A response body being read: grows by explicit copy into a fresh buffer so every old buffer
/// is wiped, and refuses to pass `limit`.
pub(crate) struct BodyBuf {
    buf: Zeroizing<Vec<u8>>,
    limit: usize,
}

pub(crate) struct TooLarge;

impl BodyBuf {
    pub(crate) fn new(size_hint: Option<u64>, limit: usize) -> Self {
        let cap = size_hint
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(4096)
            .min(limit);
        Self {
            buf: Zeroizing::new(Vec::with_capacity(cap)),
            limit,
        }
    }

    pub(crate) fn push(&mut self, chunk: Bytes) -> Result<(), TooLarge> {
        let needed = self.buf.len().checked_add(chunk.len()).ok_or(TooLarge)?;
        let result = if needed > self.limit {
            Err(TooLarge)
        } else {
            if needed > self.buf.capacity() {
                let cap = needed
                    .max(self.buf.capacity().saturating_mul(2))
                    .min(self.limit);
                let mut bigger = Zeroizing::new(Vec::with_capacity(cap));
                bigger.extend_from_slice(&self.buf);
                self.buf = bigger;
            }
            self.buf.extend_from_slice(&chunk);
            Ok(())
        };
        wipe_chunk(chunk);
        result
    }

    /// The body at its exact size.
    pub(crate) fn finish(self) -> SecretBytes {
        SecretBytes::copy_from(&self.buf)
    }
}

/// Wipes a network chunk when we hold its only reference (the usual case for hyper bodies).
fn wipe_chunk(chunk: Bytes) {
    if let Ok(mut owned) = chunk.try_into_mut() {
        owned.zeroize();
    }
}

/// A request body that holds a secret (a password form, a SOAP envelope): handed to the HTTP
/// stack without a copy and wiped when the stack lets go of it.
pub(crate) fn wiping_body(secret: Zeroizing<Vec<u8>>) -> reqwest::Body {
    struct Owner(Zeroizing<Vec<u8>>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    reqwest::Body::from(Bytes::from_owner(Owner(secret)))
}

/// Writes into a buffer allocated at the size the caller computed beforehand (a request body),
/// so it is normally never reallocated; when outgrown (a sizing bug, or XML text that arrives
/// in pieces) it grows only by a copy into a fresh buffer, and the old one is wiped.
pub(crate) struct ExactWriter {
    buf: Zeroizing<Vec<u8>>,
}

impl ExactWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::with_capacity(n)),
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > self.buf.capacity() {
            // A sizing bug must not turn into a silent reallocation of secret bytes.
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (self.buf.len() + bytes.len()).saturating_mul(2),
            ));
            bigger.extend_from_slice(&self.buf);
            self.buf = bigger;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_buffer_enforces_its_limit() {
        let mut b = BodyBuf::new(None, 8);
        assert!(b.push(Bytes::from_static(b"12345")).is_ok());
        assert!(b.push(Bytes::from_static(b"6789")).is_err());
        let mut b = BodyBuf::new(Some(2), 100);
        for _ in 0..10 {
            assert!(b.push(Bytes::from(vec![7u8; 9])).is_ok());
        }
        assert_eq!(b.finish().len(), 90);
    }

    #[test]
    fn exact_writer_keeps_all_bytes() {
        let mut w = ExactWriter::with_capacity(3);
        w.push(b"ab");
        w.push(b"cdef");
        assert_eq!(&w.into_inner()[..], b"abcdef");
    }
}

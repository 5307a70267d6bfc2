//! Plaintext secrets at scan time.
//!
//! A `SecretBytes` is allocated once at its final size and wiped when dropped, so no
//! reallocation can leave a stray copy behind. It offers no `Display`, and its `Debug` prints
//! `[REDACTED]`, so it cannot reach a log line or an error message by accident.

use std::fmt;
use zeroize::Zeroizing;

pub struct SecretBytes(Zeroizing<Box<[u8]>>);

impl SecretBytes {
    /// Takes ownership of `bytes` without copying; they are wiped on drop.
    pub fn new(bytes: Box<[u8]>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a fresh buffer of exactly that size. The caller stays responsible
    /// for wiping its own copy.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self::new(Box::from(bytes))
    }

    /// A zero-filled buffer of `len` bytes, to be written in place.
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0u8; len].into_boxed_slice())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::copy_from(b"hunter2");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
    }
}

//! Randomness for sealing: the operating system's generator, or bytes injected for test
//! vectors through the same code path.

use hpke::rand_core::{CryptoRng, RngCore};
use rand_core_09::{OsRng, TryRngCore};

use super::error::{EnvelopeError, Result};

pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|_| EnvelopeError::Randomness)
}

/// Hands HPKE exactly the ephemeral-key seed (`ikmE`) we chose. HPKE's X25519 KEM draws one
/// 32-byte seed per encapsulation; any further draw means the library changed how it uses
/// randomness, which must fail loudly instead of silently producing different bytes.
pub(crate) struct FixedSeed {
    seed: zeroize::Zeroizing<[u8; 32]>,
    used: usize,
    overdrawn: bool,
}

impl FixedSeed {
    pub(crate) fn new(seed: &[u8; 32]) -> Self {
        FixedSeed {
            seed: zeroize::Zeroizing::new(*seed),
            used: 0,
            overdrawn: false,
        }
    }

    pub(crate) fn check_fully_used(&self) -> Result<()> {
        if self.overdrawn || self.used != self.seed.len() {
            return Err(EnvelopeError::Randomness);
        }
        Ok(())
    }
}

impl RngCore for FixedSeed {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let rest = self.seed.get(self.used..).unwrap_or(&[]);
        if dest.len() > rest.len() {
            self.overdrawn = true;
            dest.fill(0);
            return;
        }
        let (head, _) = rest.split_at(dest.len());
        dest.copy_from_slice(head);
        self.used += dest.len();
    }
}

impl CryptoRng for FixedSeed {}

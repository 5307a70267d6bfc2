//! Passwords, password hashes and bearer tokens.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use sealscan_protocols::secret::Password;

/// Argon2id cost. Production uses OWASP's m=19 MiB, t=2; tests may lower it to keep debug
/// builds fast.
#[derive(Clone, Copy, Debug)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl HashCost {
    pub const TEST: HashCost = HashCost {
        memory_kib: 1024,
        iterations: 1,
    };

    fn argon2(self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .unwrap_or_else(|_| Params::default());
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

pub fn hash_password(cost: HashCost, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    cost.argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Verification uses the parameters stored in the hash itself.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random 32-byte token, URL-safe, with a prefix naming the principal kind.
pub fn new_token(prefix: &str) -> Zeroizing<String> {
    use base64::Engine;
    let mut raw = Zeroizing::new([0u8; 32]);
    OsRng.fill(&mut raw[..]);
    let mut out = Zeroizing::new(String::with_capacity(prefix.len() + 43));
    out.push_str(prefix);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&raw[..], &mut out);
    out
}

/// Tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A system-generated password that satisfies every complexity rule.
pub fn generate_password(len: usize, names: &crate::password_policy::Names<'_>) -> Password {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SPECIAL: &[u8] = b"!#%+-=?@^_";
    let len = len.max(16);
    loop {
        let mut s = String::with_capacity(len);
        let sets = [LOWER, UPPER, DIGIT, SPECIAL];
        for i in 0..len {
            let set = sets[i % sets.len()];
            let idx = OsRng.gen_range(0..set.len());
            s.push(char::from(set[idx]));
        }
        let pw = Password::new(s);
        // Generated passwords meet every rule, whichever the subscription selects.
        let all = crate::password_policy::PasswordRules::ALL;
        if crate::password_policy::check(pw.expose(), len as u32, &all, names).is_empty() {
            return pw;
        }
    }
}

//! Passwords, password hashes and bearer tokens.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::rngs::OsRng;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A password received from a client or a prompt: wiped on drop, never printed.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(s: String) -> Self {
        Password(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `any`, not `string`: serde_json words a non-string itself, quoting a number's value.
        d.deserialize_any(PasswordVisitor)
    }
}

/// Lands the text straight in the zeroizing buffer: `String::deserialize` would first build
/// a plain String (and on some paths grow it, leaving unwiped copies behind).
struct PasswordVisitor;

impl serde::de::Visitor<'_> for PasswordVisitor {
    type Value = Password;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a password string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Password, E> {
        // Sized once from the input, so the buffer never reallocates and leaves no copy.
        let mut buf = Zeroizing::new(String::with_capacity(v.len()));
        buf.push_str(v);
        Ok(Password(buf))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Password, E> {
        // An owned String the deserializer built: wipe it once copied. Taking it over would
        // keep any spare capacity, and copying sizes the kept buffer exactly.
        let v = Zeroizing::new(v);
        self.visit_str(&v)
    }

    // A password sent as a number is refused without serde's default echo of its value.
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Password, E> {
        Err(E::invalid_type(
            serde::de::Unexpected::Other("a number"),
            &self,
        ))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Password, E> {
        Err(E::invalid_type(
            serde::de::Unexpected::Other("a number"),
            &self,
        ))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Password, E> {
        Err(E::invalid_type(
            serde::de::Unexpected::Other("a number"),
            &self,
        ))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Password, E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            // The error names the type only, never the bytes.
            Err(_) => Err(E::invalid_type(
                serde::de::Unexpected::Other("bytes that are not UTF-8"),
                &self,
            )),
        }
    }
}

impl serde::Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn password_deserializes_from_borrowed_escaped_and_owned_text() {
        let borrowed: Password = serde_json::from_str(r#""Zq8!pLm3#Tv""#).unwrap();
        assert_eq!(borrowed.expose(), "Zq8!pLm3#Tv");
        let escaped: Password = serde_json::from_str(r#""a\"b\u00e9""#).unwrap();
        assert_eq!(escaped.expose(), "a\"bé");
        let owned: Password = serde_json::from_value(serde_json::json!("from-a-value")).unwrap();
        assert_eq!(owned.expose(), "from-a-value");
    }

    #[test]
    fn a_wrong_type_is_refused_without_echoing_it() {
        let err = serde_json::from_str::<Password>("12345678").err().unwrap();
        assert!(err.to_string().contains("a password string"), "{err}");
        assert!(!err.to_string().contains("12345678"), "{err}");
    }
}

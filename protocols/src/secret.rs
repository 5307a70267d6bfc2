//! The one family of secret holders every sealscan crate uses, built on `secrecy::SecretBox`:
//! [`SecretBytes`] for any plaintext (passwords, private keys, opened envelopes) and
//! [`SecretText`] (alias [`Password`]) for text that must stay text (operator passwords, tokens).
//!
//! What each holder guarantees:
//! - allocated once at its final size: constructors copy into a box of exactly the input's
//!   length and never take over a `String`/`Vec` whose spare capacity or later growth could
//!   leave an unwiped copy (`secrecy`'s own `From<String>` may reallocate while shrinking);
//! - wiped on drop (`SecretBox` zeroizes its box);
//! - `Debug` prints `[REDACTED]`, there is no `Display`;
//! - deserialized by a visitor that copies the text straight into the final buffer and never
//!   quotes a refused value in its error.
//!
//! Fixed-size keys (`Zeroizing<[u8; N]>` in `envelope`, `ntlm`, `smb2`) stay as they are: they
//! live inline, never reallocate, and the crypto crates take them as arrays. Two holders are
//! deliberately separate: the vault connector's response-body buffer, which must grow while
//! chunks arrive, and the agent's `mlock`ed arena (see docs/agent.md, "Secrets in memory").

use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox};
use serde::de::{Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use zeroize::Zeroize;

/// Secret bytes at their final size, wiped on drop.
pub struct SecretBytes(SecretBox<[u8]>);

impl SecretBytes {
    /// Takes ownership of `bytes` without copying; they are wiped on drop.
    pub fn new(bytes: Box<[u8]>) -> Self {
        Self(SecretBox::new(bytes))
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
        self.0.expose_secret()
    }

    pub fn expose_mut(&mut self) -> &mut [u8] {
        self.0.expose_secret_mut()
    }

    /// The value as text, when it is UTF-8 (user names, passwords typed into a vault).
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(self.expose()).ok()
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Clone for SecretBytes {
    fn clone(&self) -> Self {
        Self::copy_from(self.expose())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretBytes {}

/// Secret text at its final size, wiped on drop.
pub struct SecretText(SecretBox<str>);

/// A password received from a client or a prompt.
pub type Password = SecretText;

impl SecretText {
    /// Copies `text` into a box of exactly its length.
    pub fn copy_from(text: &str) -> Self {
        Self(SecretBox::new(Box::from(text)))
    }

    /// Copies a `String` someone else built (a prompt line, a generated token) to its final
    /// size and wipes the original, spare capacity included.
    pub fn new(mut text: String) -> Self {
        let kept = Self::copy_from(&text);
        text.zeroize();
        kept
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for SecretText {
    fn clone(&self) -> Self {
        Self::copy_from(self.expose())
    }
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }
    )*};
}
redacted_debug!(SecretBytes, SecretText);

impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

/// What the shared visitor builds from text.
trait FromText: Sized {
    const EXPECTING: &'static str;
    /// A JSON `null` means an empty value (Secret Server sends it for blank fields).
    const NULL_IS_EMPTY: bool;
    fn copy_text(text: &str) -> Self;
}

impl FromText for SecretBytes {
    const EXPECTING: &'static str = "a secret string";
    const NULL_IS_EMPTY: bool = true;
    fn copy_text(text: &str) -> Self {
        Self::copy_from(text.as_bytes())
    }
}

impl FromText for SecretText {
    const EXPECTING: &'static str = "a password string";
    const NULL_IS_EMPTY: bool = false;
    fn copy_text(text: &str) -> Self {
        Self::copy_from(text)
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `any`, not `string`: serde_json words a non-string itself, quoting a number's value.
        d.deserialize_any(TextVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData))
    }
}

/// Lands the text straight in the final buffer: `String::deserialize` would first build a
/// plain String (and on some paths grow it, leaving unwiped copies behind).
struct TextVisitor<T>(PhantomData<T>);

impl<T: FromText> TextVisitor<T> {
    /// Refuses a value by its type only: serde's default errors quote the value.
    fn refuse<E: serde::de::Error>(&self, what: &'static str) -> E {
        E::invalid_type(Unexpected::Other(what), self)
    }
}

impl<T: FromText> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::copy_text(v))
    }

    fn visit_string<E: serde::de::Error>(self, mut v: String) -> Result<T, E> {
        // An owned String the deserializer built: copied to its exact size, then wiped.
        let kept = T::copy_text(&v);
        v.zeroize();
        Ok(kept)
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(T::copy_text(s)),
            Err(_) => Err(self.refuse("bytes that are not UTF-8")),
        }
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
        if T::NULL_IS_EMPTY {
            Ok(T::copy_text(""))
        } else {
            Err(self.refuse("null"))
        }
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<T, E> {
        Err(self.refuse("a boolean"))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<T, E> {
        Err(self.refuse("a number"))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<T, E> {
        Err(self.refuse("a number"))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<T, E> {
        Err(self.refuse("a number"))
    }
}

#[cfg(test)]
mod tests {
    use super::{Password, SecretBytes, SecretText};

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
        let err = serde_json::from_str::<SecretBytes>("987654321")
            .err()
            .unwrap();
        assert!(err.to_string().contains("a secret string"), "{err}");
        assert!(!err.to_string().contains("987654321"), "{err}");
        assert!(serde_json::from_str::<Password>("null").is_err());
    }

    #[test]
    fn bytes_take_text_and_null_as_empty() {
        let s: SecretBytes = serde_json::from_str(r#""pw\u00e9""#).unwrap();
        assert_eq!(s.expose(), "pwé".as_bytes());
        let empty: SecretBytes = serde_json::from_str("null").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn holders_are_exactly_sized_and_redacted() {
        let mut source = String::with_capacity(64);
        source.push_str("hunter2");
        let text = SecretText::new(source);
        assert_eq!(text.expose(), "hunter2");
        assert_eq!(format!("{text:?}"), "[REDACTED]");
        let bytes = SecretBytes::copy_from(b"hunter2");
        assert_eq!(bytes.len(), 7);
        assert_eq!(format!("{bytes:?}"), "[REDACTED]");
        assert_eq!(bytes.clone(), bytes);
    }
}

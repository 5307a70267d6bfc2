//! One family of secret types shared by every sealscan crate: wiped on drop, sized once,
//! never printed (`Debug` writes `[REDACTED]`).
use serde::{Deserialize, Deserializer};
use std::fmt;
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

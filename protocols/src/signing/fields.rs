//! The field layer of a statement body: `tag (u8) || length (u16 BE) || value`, tags
//! ascending; a set field repeats its tag with values strictly ascending bytewise, so every
//! statement has exactly one encoding. Each statement type declares a [`Schema`]; parsing
//! refuses an unknown tag, a missing required field, a repeated single field and a value of the
//! wrong shape, and the typed statement is then built only from the parsed values.

use super::error::{Result, SignError};
use crate::appliance::AddressRange;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Largest value of one field (a u16 length).
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;

/// How often a field may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Required,
    Optional,
    /// Zero or more values, strictly ascending.
    Set,
}

/// One field of a statement type.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub tag: u8,
    pub name: &'static str,
    pub arity: Arity,
}

/// A statement type's fields, in tag order.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    pub statement: &'static str,
    pub fields: &'static [FieldSpec],
}

/// The parsed body: for each schema field (same index), its raw values.
pub struct Fields<'a> {
    schema: &'static Schema,
    values: Vec<Vec<&'a [u8]>>,
}

impl Schema {
    /// Splits `body` into fields and checks tags, order and arity against the schema.
    pub fn parse<'a>(&'static self, body: &'a [u8]) -> Result<Fields<'a>> {
        let mut values: Vec<Vec<&'a [u8]>> = vec![Vec::new(); self.fields.len()];
        let mut rest = body;
        let mut last: Option<(u8, &'a [u8])> = None;
        while !rest.is_empty() {
            if rest.len() < 3 {
                return Err(SignError::Malformed {
                    at: "field header cut short",
                });
            }
            let tag = rest[0];
            let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
            let value = rest.get(3..3 + len).ok_or(SignError::Malformed {
                at: "field value cut short",
            })?;
            rest = &rest[3 + len..];
            let index =
                self.fields
                    .iter()
                    .position(|f| f.tag == tag)
                    .ok_or(SignError::UnknownField {
                        statement: self.statement,
                        tag,
                    })?;
            let spec = self.fields[index];
            if let Some((last_tag, last_value)) = last {
                let in_order = tag > last_tag
                    || (tag == last_tag && spec.arity == Arity::Set && value > last_value);
                if !in_order {
                    return Err(SignError::FieldOrder {
                        statement: self.statement,
                        tag,
                    });
                }
            }
            values[index].push(value);
            last = Some((tag, value));
        }
        for (spec, found) in self.fields.iter().zip(&values) {
            if spec.arity == Arity::Required && found.is_empty() {
                return Err(SignError::MissingField {
                    statement: self.statement,
                    field: spec.name,
                });
            }
        }
        Ok(Fields {
            schema: self,
            values,
        })
    }

    fn spec(&self, tag: u8) -> (usize, FieldSpec) {
        let index = self
            .fields
            .iter()
            .position(|f| f.tag == tag)
            .unwrap_or_else(|| unreachable!("tag {tag} is not in the {} schema", self.statement));
        (index, self.fields[index])
    }
}

impl<'a> Fields<'a> {
    fn invalid(&self, name: &'static str, reason: &'static str) -> SignError {
        SignError::InvalidField {
            statement: self.schema.statement,
            field: name,
            reason,
        }
    }

    /// The values of `tag` with the field's name, for the typed readers below.
    fn raw(&self, tag: u8) -> (&'static str, &[&'a [u8]]) {
        let (index, spec) = self.schema.spec(tag);
        (spec.name, &self.values[index])
    }

    /// The single value of an optional or required field.
    pub fn one(&self, tag: u8) -> Option<&'a [u8]> {
        self.raw(tag).1.first().copied()
    }

    pub fn present(&self, tag: u8) -> bool {
        !self.raw(tag).1.is_empty()
    }

    pub fn map_one<T>(
        &self,
        tag: u8,
        parse: impl Fn(&'a [u8]) -> std::result::Result<T, &'static str>,
    ) -> Result<Option<T>> {
        let (name, values) = self.raw(tag);
        values
            .first()
            .map(|v| parse(v).map_err(|reason| self.invalid(name, reason)))
            .transpose()
    }

    pub fn map_required<T>(
        &self,
        tag: u8,
        parse: impl Fn(&'a [u8]) -> std::result::Result<T, &'static str>,
    ) -> Result<T> {
        let (name, _) = self.raw(tag);
        self.map_one(tag, parse)?.ok_or(SignError::MissingField {
            statement: self.schema.statement,
            field: name,
        })
    }

    pub fn map_set<T>(
        &self,
        tag: u8,
        parse: impl Fn(&'a [u8]) -> std::result::Result<T, &'static str>,
    ) -> Result<Vec<T>> {
        let (name, values) = self.raw(tag);
        values
            .iter()
            .map(|v| parse(v).map_err(|reason| self.invalid(name, reason)))
            .collect()
    }

    /// A field that only some variants of a statement may carry.
    pub fn forbid(&self, tag: u8, reason: &'static str) -> Result<()> {
        let (name, values) = self.raw(tag);
        if values.is_empty() {
            Ok(())
        } else {
            Err(self.invalid(name, reason))
        }
    }

    pub fn require(&self, tag: u8, reason: &'static str) -> Result<()> {
        let (name, values) = self.raw(tag);
        if values.is_empty() {
            Err(self.invalid(name, reason))
        } else {
            Ok(())
        }
    }
}

/// Builds a body in canonical form: fields must be added in tag order; set values are sorted
/// and de-duplicated here, so callers need not.
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub fn new(out: Vec<u8>) -> Self {
        Writer { out }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Appends one field. A value over [`MAX_VALUE_LEN`] is an encoder bug refused at
    /// construction time by the typed statements' own limits.
    pub fn field(&mut self, tag: u8, value: &[u8]) {
        let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
        self.out.push(tag);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out
            .extend_from_slice(&value[..usize::from(len).min(value.len())]);
    }

    pub fn opt(&mut self, tag: u8, value: Option<&[u8]>) {
        if let Some(v) = value {
            self.field(tag, v);
        }
    }

    pub fn set(&mut self, tag: u8, values: impl IntoIterator<Item = Vec<u8>>) {
        let mut values: Vec<Vec<u8>> = values.into_iter().collect();
        values.sort();
        values.dedup();
        for v in &values {
            self.field(tag, v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value shapes

pub fn u64_value(v: &[u8]) -> std::result::Result<u64, &'static str> {
    let bytes: [u8; 8] = v.try_into().map_err(|_| "not an 8-byte integer")?;
    Ok(u64::from_be_bytes(bytes))
}

pub fn u16_value(v: &[u8]) -> std::result::Result<u16, &'static str> {
    let bytes: [u8; 2] = v.try_into().map_err(|_| "not a 2-byte integer")?;
    Ok(u16::from_be_bytes(bytes))
}

pub fn bool_value(v: &[u8]) -> std::result::Result<bool, &'static str> {
    match v {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err("not a boolean (one byte 0 or 1)"),
    }
}

pub fn bytes32(v: &[u8]) -> std::result::Result<[u8; 32], &'static str> {
    v.try_into().map_err(|_| "not 32 bytes")
}

/// A code from a closed list (the byte, its meaning).
pub fn code<T: Copy>(table: &[(u8, T)], v: &[u8]) -> std::result::Result<T, &'static str> {
    match v {
        [b] => table
            .iter()
            .find(|(c, _)| c == b)
            .map(|(_, t)| *t)
            .ok_or("unknown code"),
        _ => Err("not a one-byte code"),
    }
}

pub fn code_of<T: Copy + PartialEq>(table: &[(u8, T)], value: T) -> u8 {
    table
        .iter()
        .find(|(_, t)| *t == value)
        .map_or(0, |(c, _)| *c)
}

/// Text: UTF-8 of 1..=`max` bytes without control characters or surrounding spaces.
pub fn text(v: &[u8], max: usize) -> std::result::Result<&str, &'static str> {
    if v.is_empty() {
        return Err("empty");
    }
    if v.len() > max {
        return Err("too long");
    }
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8")?;
    if s.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if s.trim() != s {
        return Err("has leading or trailing spaces");
    }
    Ok(s)
}

/// An identifier: 1..=64 ASCII letters, digits, `_` and `-`.
pub fn identifier(v: &[u8]) -> std::result::Result<&str, &'static str> {
    if v.is_empty() || v.len() > 64 {
        return Err("not 1 to 64 characters");
    }
    if !v
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
    {
        return Err("not only letters, digits, '_' and '-'");
    }
    std::str::from_utf8(v).map_err(|_| "not UTF-8")
}

/// The one canonical form of a DNS name (host, domain, realm in its own case rule aside):
/// lower-case ASCII labels of letters, digits, `-` and `_`, joined by single dots, no trailing
/// dot, at most 253 bytes. A NetBIOS domain name is a single such label.
pub fn dns_name(v: &[u8]) -> std::result::Result<&str, &'static str> {
    if v.is_empty() || v.len() > 253 {
        return Err("not a name of 1 to 253 characters");
    }
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8")?;
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("has an empty or over-long label (or a trailing dot)");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err("not lower-case letters, digits, '-', '_' and dots");
        }
    }
    Ok(s)
}

/// The canonical form [`dns_name`] accepts, from what a person typed; None when it cannot be.
pub fn canonical_dns_name(name: &str) -> Option<String> {
    let lowered = name.trim().trim_end_matches('.').to_ascii_lowercase();
    dns_name(lowered.as_bytes()).ok().map(str::to_string)
}

/// An address range: family (4 or 6), first, last; first <= last; IPv4-mapped IPv6 addresses
/// are refused so that one address has one encoding.
pub fn address_range(v: &[u8]) -> std::result::Result<AddressRange, &'static str> {
    let (first, last): (IpAddr, IpAddr) = match v {
        [4, rest @ ..] if rest.len() == 8 => {
            let a: [u8; 4] = rest[..4].try_into().map_err(|_| "bad IPv4 range")?;
            let b: [u8; 4] = rest[4..].try_into().map_err(|_| "bad IPv4 range")?;
            (Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into())
        }
        [6, rest @ ..] if rest.len() == 32 => {
            let a: [u8; 16] = rest[..16].try_into().map_err(|_| "bad IPv6 range")?;
            let b: [u8; 16] = rest[16..].try_into().map_err(|_| "bad IPv6 range")?;
            let (a, b) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            if a.to_ipv4_mapped().is_some() || b.to_ipv4_mapped().is_some() {
                return Err("an IPv4-mapped IPv6 address (write the IPv4 address)");
            }
            (a.into(), b.into())
        }
        _ => return Err("not family 4 with two IPv4 addresses or 6 with two IPv6 addresses"),
    };
    if first > last {
        return Err("first address above last");
    }
    Ok(AddressRange { first, last })
}

pub fn encode_range(range: &AddressRange) -> Vec<u8> {
    let mut out = Vec::with_capacity(33);
    match (range.first, range.last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
            out.extend_from_slice(&b.octets());
        }
        (a, b) => {
            out.push(6);
            out.extend_from_slice(&to_v6(a).octets());
            out.extend_from_slice(&to_v6(b).octets());
        }
    }
    out
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SCHEMA: Schema = Schema {
        statement: "test",
        fields: &[
            FieldSpec {
                tag: 1,
                name: "a",
                arity: Arity::Required,
            },
            FieldSpec {
                tag: 2,
                name: "b",
                arity: Arity::Set,
            },
        ],
    };

    fn body(fields: &[(u8, &[u8])]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for (t, v) in fields {
            w.field(*t, v);
        }
        w.finish()
    }

    #[test]
    fn order_arity_and_unknown_tags_are_enforced() {
        assert!(
            SCHEMA
                .parse(&body(&[(1, b"x"), (2, b"a"), (2, b"b")]))
                .is_ok()
        );
        let e = |f: &[(u8, &[u8])]| SCHEMA.parse(&body(f)).err().unwrap();
        assert!(matches!(
            e(&[(1, b"x"), (2, b"b"), (2, b"a")]),
            SignError::FieldOrder { tag: 2, .. }
        ));
        assert!(matches!(
            e(&[(1, b"x"), (2, b"a"), (2, b"a")]),
            SignError::FieldOrder { .. }
        ));
        assert!(matches!(
            e(&[(1, b"x"), (1, b"y")]),
            SignError::FieldOrder { .. }
        ));
        assert!(matches!(
            e(&[(2, b"a")]),
            SignError::MissingField { field: "a", .. }
        ));
        assert!(matches!(
            e(&[(1, b"x"), (9, b"")]),
            SignError::UnknownField { tag: 9, .. }
        ));
        assert!(SCHEMA.parse(&[1, 0]).is_err());
        assert!(SCHEMA.parse(&[1, 0, 5, b'a']).is_err());
    }

    #[test]
    fn names_and_ranges_have_one_form() {
        assert_eq!(
            canonical_dns_name(" Corp.Example.COM. ").unwrap(),
            "corp.example.com"
        );
        assert!(dns_name(b"Corp").is_err());
        assert!(dns_name(b"a..b").is_err());
        let r = AddressRange {
            first: "10.0.0.1".parse().unwrap(),
            last: "10.0.0.9".parse().unwrap(),
        };
        assert_eq!(address_range(&encode_range(&r)).unwrap(), r);
        let mut mapped = vec![6u8];
        mapped.extend_from_slice(&"::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap().octets());
        mapped.extend_from_slice(&"::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap().octets());
        assert!(address_range(&mapped).is_err());
        let mut reversed = vec![4u8, 10, 0, 0, 9, 10, 0, 0, 1];
        assert!(address_range(&reversed).is_err());
        reversed.truncate(5);
        assert!(address_range(&reversed).is_err());
    }
}

//! Bounds-checked little-endian reads shared by the SMB2 and NTLM codecs: every read names
//! the field it wanted, so a short or malformed message yields an error that says where.

use thiserror::Error;

/// A field lay (partly) outside the message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{field}: needs bytes {start}..{end} but the message has {len}")]
pub struct OutOfBounds {
    pub field: &'static str,
    pub start: usize,
    pub end: usize,
    pub len: usize,
}

pub(crate) fn slice<'a>(
    buf: &'a [u8],
    start: usize,
    len: usize,
    field: &'static str,
) -> Result<&'a [u8], OutOfBounds> {
    let end = start.saturating_add(len);
    buf.get(start..end).ok_or(OutOfBounds {
        field,
        start,
        end,
        len: buf.len(),
    })
}

pub(crate) fn array<const N: usize>(
    buf: &[u8],
    start: usize,
    field: &'static str,
) -> Result<[u8; N], OutOfBounds> {
    let s = slice(buf, start, N, field)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Ok(out)
}

pub(crate) fn u8_at(buf: &[u8], start: usize, field: &'static str) -> Result<u8, OutOfBounds> {
    Ok(array::<1>(buf, start, field)?[0])
}

pub(crate) fn u16_at(buf: &[u8], start: usize, field: &'static str) -> Result<u16, OutOfBounds> {
    Ok(u16::from_le_bytes(array(buf, start, field)?))
}

pub(crate) fn u32_at(buf: &[u8], start: usize, field: &'static str) -> Result<u32, OutOfBounds> {
    Ok(u32::from_le_bytes(array(buf, start, field)?))
}

pub(crate) fn u64_at(buf: &[u8], start: usize, field: &'static str) -> Result<u64, OutOfBounds> {
    Ok(u64::from_le_bytes(array(buf, start, field)?))
}

/// UTF-16LE encoding of `s`, as both protocols carry names.
pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Decodes UTF-16LE text from a peer, replacing what is not valid rather than failing: names
/// are reported as facts, never trusted.
pub(crate) fn from_utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

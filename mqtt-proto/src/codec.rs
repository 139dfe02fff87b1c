//! Byte cursors: a zero-copy [`Reader`] over the input and a [`Writer`] into a caller buffer.
//!
//! Every read is bounds-checked and returns [`DecodeError::Truncated`] rather than
//! panicking; every string read validates UTF-8 and rejects U+0000. The writer is
//! only handed a buffer whose size was checked against the exact encoded length,
//! so its writes cannot fail; it still never indexes out of bounds.

use crate::error::{DecodeError, EncodeError};
use crate::varint;

/// A cursor over the bytes of one packet; values borrow from the input.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Everything left, consuming it.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, tail) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = tail;
        Ok(b)
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        match *self.buf {
            [a, b, ref tail @ ..] => {
                self.buf = tail;
                Ok(u16::from_be_bytes([a, b]))
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        match *self.buf {
            [a, b, c, d, ref tail @ ..] => {
                self.buf = tail;
                Ok(u32::from_be_bytes([a, b, c, d]))
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    pub fn varint(&mut self) -> Result<u32, DecodeError> {
        match varint::decode(self.buf)? {
            Some((value, len)) => {
                self.buf = self.buf.get(len..).unwrap_or_default();
                Ok(value)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// Binary data: a two-byte length, then that many bytes.
    pub fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 string [MQTT-1.5.3-1] [MQTT-1.5.3-2]; U+FEFF is kept as a character [MQTT-1.5.3-3].
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        str_from_wire(self.binary()?)
    }

    /// A UTF-8 string and what [`scan`] found in it.
    #[inline]
    pub fn string_scan(&mut self) -> Result<(&'a str, Scan), DecodeError> {
        str_scan_from_wire(self.binary()?)
    }

    /// Fails with `TrailingBytes` unless the packet was read to its end.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// What one pass over a string's bytes found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    /// A U+0000 byte.
    pub nul: bool,
    /// A `+` or `#`.
    pub wildcard: bool,
}

/// One branch-free pass (LLVM vectorises it) finding NUL and wildcard bytes, so each
/// string is scanned once whatever the checks it needs.
#[inline]
pub fn scan(bytes: &[u8]) -> Scan {
    let (mut nul, mut wildcard) = (false, false);
    for &b in bytes {
        nul |= b == 0;
        wildcard |= (b == b'+') | (b == b'#');
    }
    Scan { nul, wildcard }
}

/// Validates an MQTT UTF-8 string: well-formed (which excludes surrogates) and free of
/// U+0000. Returns the string and its scan for callers with further checks.
#[inline]
pub fn str_scan_from_wire(bytes: &[u8]) -> Result<(&str, Scan), DecodeError> {
    let s = core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
    let found = scan(bytes);
    if found.nul {
        return Err(DecodeError::NullCharacter);
    }
    Ok((s, found))
}

/// Validates an MQTT UTF-8 string: well-formed (which excludes surrogates) and free of U+0000.
#[inline]
pub fn str_from_wire(bytes: &[u8]) -> Result<&str, DecodeError> {
    str_scan_from_wire(bytes).map(|(s, _)| s)
}

/// Checks a string the caller wants to send: at most 65,535 bytes and no U+0000.
#[inline]
pub fn check_str(s: &str) -> Result<(), EncodeError> {
    check_binary(s.as_bytes())?;
    if scan(s.as_bytes()).nul {
        return Err(EncodeError::NullCharacter);
    }
    Ok(())
}

/// Checks binary data the caller wants to send: at most 65,535 bytes.
pub const fn check_binary(b: &[u8]) -> Result<(), EncodeError> {
    if b.len() > u16::MAX as usize {
        Err(EncodeError::FieldTooLong)
    } else {
        Ok(())
    }
}

/// Where encoded bytes go: a caller slice, or (with the `bytes` feature) a `BufMut`.
///
/// Callers check the capacity against the exact encoded length first, so a
/// sink may treat a write past its end as a bug it silently refuses.
pub trait Sink {
    fn put_slice(&mut self, bytes: &[u8]);

    fn put_u8(&mut self, b: u8) {
        self.put_slice(&[b]);
    }
    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    fn put_varint(&mut self, v: u32) {
        let mut tmp = [0u8; 4];
        let n = varint::encode(v, &mut tmp);
        self.put_slice(tmp.get(..n).unwrap_or_default());
    }
    /// A string or binary field: two-byte length then the bytes (length checked beforehand).
    fn put_binary(&mut self, b: &[u8]) {
        self.put_u16(b.len() as u16);
        self.put_slice(b);
    }
}

/// A cursor writing into a caller-supplied slice.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub const fn position(&self) -> usize {
        self.pos
    }
}

impl Sink for Writer<'_> {
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
            self.pos = end;
        }
    }

    #[inline]
    fn put_u8(&mut self, b: u8) {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = b;
            self.pos += 1;
        }
    }
}

#[cfg(feature = "bytes")]
impl<B: bytes::BufMut> Sink for B {
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        if self.remaining_mut() >= bytes.len() {
            bytes::BufMut::put_slice(self, bytes);
        }
    }
}

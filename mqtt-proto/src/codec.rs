//! Byte cursors: a zero-copy [`Reader`] over the input and a [`Writer`] into a caller buffer.
//!
//! Every read is bounds-checked and returns [`DecodeError::Truncated`] rather than
//! panicking; every string read validates UTF-8 and rejects U+0000. The writer is
//! only handed a buffer whose size was checked against the exact encoded length,
//! so its writes cannot fail; it still never indexes out of bounds.

use crate::error::{DecodeError, EncodeError};
use crate::varint;

/// A cursor over the bytes of one packet; values borrow from the input.
///
/// A reader may carry `text`: a suffix of its bytes (ending where they end) already
/// known to be UTF-8. A string lying inside it is taken from it with `str::get`, so one
/// `from_utf8` over a packet's text-bearing region replaces one call per string.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    text: &'a str,
}

impl<'a> Reader<'a> {
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf, text: "" }
    }

    /// A reader over `buf` that first checks, in one call, whether all of `buf` is UTF-8;
    /// if so, every string read from it skips its own UTF-8 check. Worth it when `buf`
    /// holds several strings; a `buf` that is not UTF-8 (binary fields) only costs the
    /// one failed check (usually cut short at the first non-ASCII byte).
    #[inline]
    pub fn new_text(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            text: core::str::from_utf8(buf).unwrap_or_default(),
        }
    }

    /// Starts a UTF-8 region at the current position (see [`Reader::new_text`]).
    #[inline]
    pub fn check_text(&mut self) {
        self.text = core::str::from_utf8(self.buf).unwrap_or_default();
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

    /// The next `n` bytes as a reader of their own, with a UTF-8 region (see
    /// [`Reader::new_text`]): cut from this reader's region when that covers them (no
    /// second `from_utf8` over bytes checked already), else checked now.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn take_text(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        let buf = self.take(n)?;
        Ok(Reader {
            buf,
            text: self.as_str(buf).unwrap_or_default(),
        })
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, tail) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = tail;
        Ok(b)
    }

    #[inline]
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        match *self.buf {
            [a, b, ref tail @ ..] => {
                self.buf = tail;
                Ok(u16::from_be_bytes([a, b]))
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    #[inline]
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        match *self.buf {
            [a, b, c, d, ref tail @ ..] => {
                self.buf = tail;
                Ok(u32::from_be_bytes([a, b, c, d]))
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn varint(&mut self) -> Result<u32, DecodeError> {
        // The common one-byte case first.
        if let [b, ref tail @ ..] = *self.buf
            && b < 0x80
        {
            self.buf = tail;
            return Ok(u32::from(b));
        }
        match varint::decode(self.buf)? {
            Some((value, len)) => {
                self.buf = self.buf.get(len..).unwrap_or_default();
                Ok(value)
            }
            None => Err(DecodeError::Truncated),
        }
    }

    /// Binary data: a two-byte length, then that many bytes.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        match *self.buf {
            [a, b, ref tail @ ..] => {
                match tail.split_at_checked(usize::from(u16::from_be_bytes([a, b]))) {
                    Some((head, tail)) => {
                        self.buf = tail;
                        Ok(head)
                    }
                    None => Err(DecodeError::Truncated),
                }
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Whether the `n` bytes just read lie inside the UTF-8 region (character boundaries
    /// not checked: the caller knows them from the bytes around).
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn text_covers(&self, n: usize) -> bool {
        self.text.len() >= self.buf.len() + n
    }

    /// The bytes just read as a `&str`, from the UTF-8 region when they lie inside it
    /// (they end at the current position), else through `from_utf8`.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn as_str(&self, bytes: &'a [u8]) -> Result<&'a str, DecodeError> {
        let in_text = self
            .text
            .len()
            .checked_sub(self.buf.len())
            .and_then(|end| self.text.get(end.checked_sub(bytes.len())?..end));
        match in_text {
            Some(s) => Ok(s),
            None => core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8),
        }
    }

    /// A UTF-8 string [MQTT-1.5.3-1] [MQTT-1.5.3-2]; U+FEFF is kept as a character [MQTT-1.5.3-3].
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        let s = self.as_str(bytes)?;
        if has_nul(bytes) {
            return Err(DecodeError::NullCharacter);
        }
        Ok(s)
    }

    /// A UTF-8 string and what [`scan`] found in it.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn string_scan(&mut self) -> Result<(&'a str, Scan), DecodeError> {
        let bytes = self.binary()?;
        let s = self.as_str(bytes)?;
        let found = scan(bytes);
        if found.nul {
            return Err(DecodeError::NullCharacter);
        }
        Ok((s, found))
    }

    /// The bytes read since `start`, an earlier copy of this reader.
    pub fn since(&self, start: &Reader<'a>) -> &'a [u8] {
        let n = start.buf.len().saturating_sub(self.buf.len());
        start.buf.get(..n).unwrap_or_default()
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

/// Whether the scans below go a byte at a time ([`bytewise`]): on bare metal, where flash
/// counts more than speed and a Cortex-M has no 64-bit registers for the word tricks.
pub(crate) const BYTEWISE: bool = cfg!(target_os = "none");

/// The string scans one byte at a time: what [`BYTEWISE`] targets run, a fraction of the
/// code of the word and vector versions, which the tests hold them equal to.
pub(crate) mod bytewise {
    use super::Scan;

    /// Whether some byte meets `pred`.
    #[inline]
    pub(crate) fn any(bytes: &[u8], pred: impl Fn(u8) -> bool) -> bool {
        bytes.iter().any(|&b| pred(b))
    }

    /// [`super::scan`].
    pub(crate) fn scan(bytes: &[u8]) -> Scan {
        let mut found = Scan {
            nul: false,
            wildcard: false,
        };
        for &b in bytes {
            found.nul |= b == 0;
            found.wildcard |= (b | 0x08) == b'+';
        }
        found
    }
}

pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;
pub(crate) const PLUS: u64 = LO * b'+' as u64;
pub(crate) const SLASH: u64 = LO * b'/' as u64;
/// A byte that is none of those [`scan`] looks for, to pad short strings with.
const FILLER: u8 = b'a';

/// Non-zero iff some byte of `w` is 0 (the classic bit trick: a false positive can
/// only sit above a true zero byte, so presence is exact).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) const fn has_zero_byte(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Non-zero iff some byte of `w` is `+` (0x2b) or `#` (0x23): setting bit 3 maps both,
/// and only them, to 0x2b.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) const fn has_wildcard(w: u64) -> u64 {
    has_zero_byte((w | (LO * 0x08)) ^ PLUS)
}

/// The high bit of each byte of `w` that is 0, and only of those (no carries across bytes).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) const fn zero_byte_mask(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((w & LOW7).wrapping_add(LOW7)) | w | LOW7)
}

/// The high bit of each byte of `w` that is `+` or `#` (see [`has_wildcard`]).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) const fn wildcard_mask(w: u64) -> u64 {
    zero_byte_mask((w | (LO * 0x08)) ^ PLUS)
}

/// Calls `f` with the string's bytes as little-endian words: whole words, then (for
/// 8 bytes or more, not a multiple of 8) the last 8 bytes, overlapping; a shorter string is one word
/// padded with [`FILLER`]. Gives each word's byte offset in the string.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn for_each_word(bytes: &[u8], mut f: impl FnMut(usize, u64)) {
    if let Some(last) = bytes.last_chunk::<8>() {
        let (words, rest) = bytes.as_chunks::<8>();
        for (i, w) in words.iter().enumerate() {
            f(8 * i, u64::from_le_bytes(*w));
        }
        if !rest.is_empty() {
            f(bytes.len() - 8, u64::from_le_bytes(*last));
        }
    } else {
        f(0, short_word(bytes));
    }
}

/// A string of fewer than 8 bytes as one word padded with [`FILLER`], built in registers
/// from two overlapping loads (the bytes they share are equal, so OR keeps them): copying
/// it into a stack buffer and loading that back stalled on store forwarding.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    let w = match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4))
        }
        _ => match (b.first_chunk::<2>(), b.last_chunk::<2>()) {
            (Some(lo), Some(hi)) => {
                u64::from(u16::from_le_bytes(*lo))
                    | u64::from(u16::from_le_bytes(*hi)) << (8 * (n - 2))
            }
            _ => b.first().map_or(0, |&c| u64::from(c)),
        },
    };
    // Bytes 0..n are the string's, the rest filler (n < 8 here).
    let keep = (1u64 << (8 * (n & 7))).wrapping_sub(1);
    (w & keep) | ((LO * FILLER as u64) & !keep)
}

/// Whether `bytes` holds a NUL, `+` or `#` (what a topic name may not hold), in one
/// accumulator: per word, the two zero-byte tests share their final mask.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub fn has_nul_or_wildcard(bytes: &[u8]) -> bool {
    if BYTEWISE {
        return bytewise::any(bytes, |b| (b == 0) | ((b | 0x08) == b'+'));
    }
    if let Some(found) = ends16(bytes, |b| (b == 0) | ((b | 0x08) == b'+')) {
        return found;
    }
    let mut acc = 0u64;
    for_each_word(bytes, |_, w| {
        let t = (w | (LO * 0x08)) ^ PLUS;
        acc |= (w.wrapping_sub(LO) & !w) | (t.wrapping_sub(LO) & !t);
    });
    acc & HI != 0
}

/// Whether some byte of `bytes` (16 or more of them) meets `pred`: lane-wise masks over
/// the first and the last 16 bytes (overlapping), and the blocks between them only past 32
/// bytes, so the usual string takes two SIMD steps and no loop. `None` for shorter strings
/// and on targets without such vectors. ([`blocks16`] keeps its own loop past 32 bytes:
/// this loop's shape made PUBLISH decode slower there.)
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn ends16(bytes: &[u8], pred: impl Fn(u8) -> bool + Copy) -> Option<bool> {
    /// One block into the lane masks; a function, not a closure over `acc`, so that it is
    /// always inlined (the closure was outlined: 7 % of CONNECT encode).
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn fold(acc: &mut [u8; 16], block: &[u8; 16], pred: impl Fn(u8) -> bool) {
        for (a, &b) in acc.iter_mut().zip(block) {
            *a |= u8::from(pred(b));
        }
    }
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return None;
    }
    let (first, last) = (bytes.first_chunk::<16>()?, bytes.last_chunk::<16>()?);
    let mut acc = [0u8; 16];
    fold(&mut acc, first, pred);
    if bytes.len() > 32 {
        for block in bytes.as_chunks::<16>().0.iter().skip(1) {
            fold(&mut acc, block, pred);
        }
    }
    fold(&mut acc, last, pred);
    Some(acc.iter().fold(0, |x, &y| x | y) != 0)
}

/// Whether some byte of `bytes` (16 or more of them) meets `pred`, 16 bytes at a time:
/// a branch-free fold over a fixed 16-byte block, which LLVM turns into SIMD compares
/// and one mask test (9 instructions a block with SSE2). `None` for shorter strings, and
/// on targets without such vectors, where the word-at-a-time code is the faster.
///
/// Up to 32 bytes (the usual topic) it is [`ends16`]: two overlapping blocks and no loop.
/// The loop over `chunks + last` cost 44 instructions more per PUBLISH decode with a
/// 30-byte topic (callgrind: 298 -> 254 for the 64 B PUBLISH).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn blocks16(bytes: &[u8], pred: impl Fn(u8) -> bool + Copy) -> Option<bool> {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return None;
    }
    if bytes.len() <= 32 {
        return ends16(bytes, pred);
    }
    let last = bytes.last_chunk::<16>()?;
    let (blocks, _) = bytes.as_chunks::<16>();
    let mut found = false;
    for block in blocks.iter().chain(core::iter::once(last)) {
        for &b in block {
            found |= pred(b);
        }
    }
    Some(found)
}

/// One pass, eight bytes at a time, finding NUL and wildcard bytes, so each string is
/// scanned once whatever the checks it needs.
#[inline]
pub fn scan(bytes: &[u8]) -> Scan {
    if BYTEWISE {
        return bytewise::scan(bytes);
    }
    if let (Some(nul), Some(wildcard)) = (
        blocks16(bytes, |b| b == 0),
        blocks16(bytes, |b| (b | 0x08) == b'+'),
    ) {
        return Scan { nul, wildcard };
    }
    let (mut nul, mut wild) = (0u64, 0u64);
    for_each_word(bytes, |_, w| {
        nul |= has_zero_byte(w);
        wild |= has_wildcard(w);
    });
    Scan {
        nul: nul != 0,
        wildcard: wild != 0,
    }
}

/// Whether `bytes` holds a NUL or a wildcard: [`scan`] with one answer, one predicate a
/// byte, inlined (the PUBLISH topic, which takes neither); a caller that finds one asks
/// [`has_nul`] which.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn nul_or_wildcard(bytes: &[u8]) -> bool {
    if BYTEWISE {
        return bytewise::any(bytes, |b| (b == 0) | ((b | 0x08) == b'+'));
    }
    if let Some(found) = blocks16(bytes, |b| (b == 0) | ((b | 0x08) == b'+')) {
        return found;
    }
    let mut bad = 0u64;
    for_each_word(bytes, |_, w| bad |= has_zero_byte(w) | has_wildcard(w));
    bad != 0
}

/// Whether `bytes` holds a NUL, eight (or sixteen) bytes at a time.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub fn has_nul(bytes: &[u8]) -> bool {
    any_byte(bytes, |b| b == 0, has_zero_byte)
}

/// Whether `bytes` holds a NUL or a byte above 0x7f: `false` means a valid UTF-8 string
/// without U+0000 (ASCII), decided without `from_utf8`.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn nul_or_non_ascii(bytes: &[u8]) -> bool {
    any_byte(
        bytes,
        |b| b.wrapping_sub(1) > 0x7e,
        |w| has_zero_byte(w) | (w & HI),
    )
}

/// Whether some byte of a string meets `byte`; `word` is the same test over a word's
/// eight lanes (non-zero iff some lane meets it). 16 bytes or more with vectors: see
/// [`ends16`]; 8 to 16 bytes: two overlapping words. The usual strings (ids, user names,
/// property values) take no loop.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn any_byte(bytes: &[u8], byte: impl Fn(u8) -> bool + Copy, word: impl Fn(u64) -> u64) -> bool {
    if BYTEWISE {
        return bytewise::any(bytes, byte);
    }
    if let Some(found) = ends16(bytes, byte) {
        return found;
    }
    if bytes.len() <= 16
        && let (Some(a), Some(b)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>())
    {
        return word(u64::from_le_bytes(*a)) | word(u64::from_le_bytes(*b)) != 0;
    }
    let mut found = 0u64;
    for_each_word(bytes, |_, w| found |= word(w));
    found != 0
}

/// Checks a string the caller wants to send: at most 65,535 bytes and no U+0000.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub fn check_str(s: &str) -> Result<(), EncodeError> {
    check_binary(s.as_bytes())?;
    if has_nul(s.as_bytes()) {
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
    #[inline]
    fn put_varint(&mut self, v: u32) {
        if v < 0x80 {
            return self.put_u8(v as u8);
        }
        let (word, n) = varint::encode_word(v);
        self.put_slice(word.to_le_bytes().get(..n).unwrap_or_default());
    }
    /// A string or binary field: two-byte length then the bytes (length checked beforehand).
    #[inline]
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

/// `dst.copy_from_slice(src)` (equal lengths). Off bare metal the short copies (strings,
/// payloads up to 64 bytes) go in registers by two overlapping loads and stores instead of
/// a `memcpy` call; on bare metal ([`BYTEWISE`]) code size counts more than the call.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    macro_rules! overlapping {
        ($n:literal) => {
            if let (Some(a), Some(b), Some(da)) = (
                src.first_chunk::<$n>(),
                src.last_chunk::<$n>(),
                dst.first_chunk_mut::<$n>(),
            ) {
                let (a, b) = (*a, *b);
                *da = a;
                if let Some(db) = dst.last_chunk_mut::<$n>() {
                    *db = b;
                }
            }
        };
    }
    // Longest first, halving: a topic or a small payload is sorted in two or three
    // comparisons, not a walk up from the shortest class.
    let n = src.len();
    if BYTEWISE {
        if let Some(dst) = dst.get_mut(..n) {
            dst.copy_from_slice(src);
        }
    } else if n >= 16 {
        if n <= 32 {
            overlapping!(16);
        } else if n <= 64 {
            overlapping!(32);
        } else {
            dst.copy_from_slice(src);
        }
    } else if n >= 4 {
        if n >= 8 {
            overlapping!(8);
        } else {
            overlapping!(4);
        }
    } else if n >= 2 {
        overlapping!(2);
    } else if let (Some(d), Some(s)) = (dst.first_mut(), src.first()) {
        *d = *s;
    }
}

impl Sink for Writer<'_> {
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            copy(dst, bytes);
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

    #[inline]
    fn put_u16(&mut self, v: u16) {
        if let Some(dst) = self
            .buf
            .get_mut(self.pos..)
            .and_then(|d| d.first_chunk_mut::<2>())
        {
            *dst = v.to_be_bytes();
            self.pos += 2;
        }
    }

    /// The integer built in a register and stored with fixed-size stores, never through a
    /// byte array read back wider than it was written (a store-forwarding stall).
    #[inline]
    fn put_varint(&mut self, v: u32) {
        // Most lengths (property blocks, small packets) take one byte.
        if v < 0x80 {
            return self.put_u8(v as u8);
        }
        let (word, n) = varint::encode_word(v);
        let [a, b, c, d] = word.to_le_bytes();
        let Some(dst) = self.buf.get_mut(self.pos..self.pos + n) else {
            return;
        };
        match dst {
            [x] => *x = a,
            [x, y] => (*x, *y) = (a, b),
            [x, y, z] => (*x, *y, *z) = (a, b, c),
            [x, y, z, w] => (*x, *y, *z, *w) = (a, b, c, d),
            _ => return,
        }
        self.pos += n;
    }

    /// One bounds check for the length and the bytes.
    #[inline]
    fn put_binary(&mut self, b: &[u8]) {
        let end = self.pos + 2 + b.len();
        if let Some((len, dst)) = self
            .buf
            .get_mut(self.pos..end)
            .and_then(|d| d.split_first_chunk_mut::<2>())
        {
            *len = (b.len() as u16).to_be_bytes();
            copy(dst, b);
            self.pos = end;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length the overlapping copies handle, and past them: the bytes land exactly.
    #[test]
    fn copy_matches_copy_from_slice() {
        let src: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=100 {
            let mut dst = [0u8; 100];
            copy(&mut dst[..n], &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "{n}");
            assert!(dst[n..].iter().all(|&b| b == 0), "{n}");
        }
    }
}

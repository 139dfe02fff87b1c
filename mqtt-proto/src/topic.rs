//! Topic names and filters: validation, matching and `$share` parsing, all `no_std`.
//!
//! A topic *name* is what a PUBLISH carries; it never holds a wildcard. A topic
//! *filter* is what SUBSCRIBE carries: `+` matches one level, `#` (last, alone in
//! its level) matches any number of levels including none.

use crate::codec::{
    BYTEWISE, HI, LO, PLUS, Reader, SLASH, Scan, for_each_word, has_nul, has_nul_or_wildcard,
    has_wildcard, scan, short_word, wildcard_mask, zero_byte_mask,
};
use crate::error::DecodeError;

/// Why a topic name or filter is not valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TopicError {
    /// Empty [MQTT-4.7.3-1].
    Empty,
    /// Longer than 65,535 bytes [MQTT-4.7.3-3].
    TooLong,
    /// Holds U+0000 [MQTT-4.7.3-2].
    NullCharacter,
    /// A topic name holding `+` or `#` [MQTT-4.7.0-1] [MQTT-3.3.2-2].
    WildcardInName,
    /// `#` not last or not alone in its level [MQTT-4.7.1-2], or `+` sharing a level [MQTT-4.7.1-3].
    MisplacedWildcard,
    /// A `$share/` filter with an empty or invalid share name, or no filter after it [MQTT-4.8.2-1] [MQTT-4.8.2-2].
    InvalidSharedSubscription,
}

impl core::fmt::Display for TopicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "topic is empty",
            TopicError::TooLong => "topic exceeds 65,535 bytes",
            TopicError::NullCharacter => "topic contains U+0000",
            TopicError::WildcardInName => "topic name contains a wildcard",
            TopicError::MisplacedWildcard => "wildcard not alone in its level, or '#' not last",
            TopicError::InvalidSharedSubscription => "invalid $share/<group>/<filter>",
        })
    }
}

impl core::error::Error for TopicError {}

/// Length and NUL checks shared by names and filters; returns the scan for the rest.
#[inline]
fn check_common(s: &str) -> Result<Scan, TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    let found = scan(s.as_bytes());
    if found.nul {
        return Err(TopicError::NullCharacter);
    }
    Ok(found)
}

/// True when `s` holds no `+` or `#`.
#[inline]
pub(crate) fn has_no_wildcard(s: &str) -> bool {
    !scan(s.as_bytes()).wildcard
}

/// Whether `name` is a valid topic name ([`validate_topic_name`] is `Ok`), in one pass.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b.len() <= usize::from(u16::MAX) && !has_nul_or_wildcard(b)
}

/// Validates a topic name for PUBLISH: non-empty, short enough, no U+0000, no wildcard.
#[inline]
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if check_common(name)?.wildcard {
        Err(TopicError::WildcardInName)
    } else {
        Ok(())
    }
}

/// The misplaced wildcards among the bytes of `w`, the word at byte `off` of filter `b`
/// (as [`for_each_word`] gives it): the high bit of each byte lane holding a `+` or `#`
/// that does not fill its level alone, or a `#` that is not last. Branch-free over the
/// lanes: each wildcard needs a `/` (or the start) before it and the end, or for `+`
/// a `/`, after it; only the bytes either side of the word are read.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn misplaced_wildcards(b: &[u8], off: usize, w: u64) -> u64 {
    // Most words hold no wildcard: a cheap test first, the exact lanes only when needed.
    if has_wildcard(w) == 0 {
        return 0;
    }
    let wild = wildcard_mask(w);
    let slash = zero_byte_mask(w ^ SLASH);
    let plus = zero_byte_mask(w ^ PLUS);
    let slash_before = off == 0 || off.checked_sub(1).and_then(|i| b.get(i)) == Some(&b'/');
    let slash_after = b.get(off + 8) == Some(&b'/');
    // The lane of the last byte, when it lies in this word.
    let end = match b.len().checked_sub(off) {
        Some(n @ 1..=8) => 1u64 << (8 * n - 1),
        _ => 0,
    };
    let prev_slash = (slash << 8) | u64::from(slash_before) << 7;
    let next_slash = (slash >> 8) | u64::from(slash_after) << 63;
    wild & !(prev_slash & (end | (plus & next_slash)))
}

/// Wildcard placement of a plain (non-shared) filter: each `+` or `#` fills a whole
/// level, and `#` is the last character. Finds the wildcards eight bytes at a time and
/// looks only at their neighbours.
fn check_wildcards(filter: &str) -> Result<(), TopicError> {
    let b = filter.as_bytes();
    if BYTEWISE {
        // The callers checked for NUL already: only the wildcard rules can fail.
        return match pairs_bad_bytewise(b) {
            true => Err(TopicError::MisplacedWildcard),
            false => Ok(()),
        };
    }
    let mut bad = 0;
    for_each_word(b, |off, w| bad |= misplaced_wildcards(b, off, w));
    if bad != 0 {
        Err(TopicError::MisplacedWildcard)
    } else {
        Ok(())
    }
}

/// Whether the adjacent bytes `x`, `y` of a filter break a rule: `x` is a `#` (it is
/// not last, since a byte follows), a `+` not followed by `/`, or not a `/` and followed
/// by a wildcard; or either is NUL. Every rule on wildcard placement and NUL is a rule on
/// adjacent pairs, the start and end of the filter counting as `/`.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
const fn pair_bad(x: u8, y: u8) -> bool {
    (x == b'#')
        | ((x == b'+') & (y != b'/'))
        | ((x != b'/') & ((y | 0x08) == b'+'))
        | (x == 0)
        | (y == 0)
}

/// [`pair_bad`] on eight pairs at once: the high bit of each lane where it holds.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
const fn pairs_bad_word(x: u64, y: u64) -> u64 {
    const HASH: u64 = LO * b'#' as u64;
    let slash_x = zero_byte_mask(x ^ SLASH);
    let slash_y = zero_byte_mask(y ^ SLASH);
    (zero_byte_mask(x ^ HASH)
        | (zero_byte_mask(x ^ PLUS) & !slash_y)
        | (!slash_x & wildcard_mask(y))
        | zero_byte_mask(x)
        | zero_byte_mask(y))
        & HI
}

/// Whether a filter's bytes hold a NUL or a misplaced wildcard ([`pair_bad`] on every
/// adjacent pair), branch-free: sixteen pairs a step where the target has vectors, eight
/// (a word each side) elsewhere and for shorter filters, one padded word for the
/// shortest. Padding pairs are `aa`, which break no rule.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn filter_bytes_bad(b: &[u8]) -> bool {
    if BYTEWISE {
        return pairs_bad_bytewise(b);
    }
    filter_bytes_bad_with(
        b,
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64")),
    )
}

/// [`filter_bytes_bad`], with or without the sixteen-pair steps (the tests run both).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn filter_bytes_bad_with(b: &[u8], vectors: bool) -> bool {
    // x runs over bytes 0..n-1, y over 1..n: (x[i], y[i]) are the adjacent pairs.
    let (Some((_, xs)), Some((_, ys))) = (b.split_last(), b.split_first()) else {
        return false; // empty
    };
    if xs.is_empty() {
        return b.first() == Some(&0); // one byte: `+` and `#` alone are valid
    }
    if vectors
        && let (Some(xf), Some(yf), Some(xl), Some(yl)) = (
            xs.first_chunk::<16>(),
            ys.first_chunk::<16>(),
            xs.last_chunk::<16>(),
            ys.last_chunk::<16>(),
        )
    {
        // Lane-wise byte masks, values (not a buffer updated in place, which the
        // compiler kept on the stack), reduced once at the end: SIMD compares.
        let block = |x: &[u8; 16], y: &[u8; 16]| -> [u8; 16] {
            let (mut x, y) = (*x, *y);
            for (x, y) in x.iter_mut().zip(y) {
                *x = u8::from(pair_bad(*x, y));
            }
            x
        };
        let or = |mut a: [u8; 16], b: [u8; 16]| -> [u8; 16] {
            for (a, b) in a.iter_mut().zip(b) {
                *a |= b;
            }
            a
        };
        // Up to 32 pairs (most filters): the first and last sixteen, overlapping.
        let mut acc = or(block(xf, yf), block(xl, yl));
        if xs.len() > 32 {
            let middle = xs.as_chunks::<16>().0.iter().zip(ys.as_chunks::<16>().0);
            for (x, y) in middle.skip(1) {
                acc = or(acc, block(x, y));
            }
        }
        return acc.into_iter().fold(0, |a, b| a | b) != 0;
    }
    if let (Some(xf), Some(yf), Some(xl), Some(yl)) = (
        xs.first_chunk::<8>(),
        ys.first_chunk::<8>(),
        xs.last_chunk::<8>(),
        ys.last_chunk::<8>(),
    ) {
        let word = |x: &[u8; 8], y: &[u8; 8]| {
            pairs_bad_word(u64::from_le_bytes(*x), u64::from_le_bytes(*y))
        };
        let mut bad = word(xf, yf) | word(xl, yl);
        if xs.len() > 16 {
            let middle = xs.as_chunks::<8>().0.iter().zip(ys.as_chunks::<8>().0);
            for (x, y) in middle.skip(1) {
                bad |= word(x, y);
            }
        }
        return bad != 0;
    }
    pairs_bad_word(short_word(xs), short_word(ys)) != 0
}

/// [`filter_bytes_bad`] a pair at a time ([`BYTEWISE`] targets).
fn pairs_bad_bytewise(b: &[u8]) -> bool {
    match b {
        [] => false,
        [one] => *one == 0,
        _ => b.windows(2).any(|p| matches!(*p, [x, y] if pair_bad(x, y))),
    }
}

/// Whether `b` is certainly a valid filter: not empty, at most 65,535 bytes, not
/// `$share/` (those take the general path), no NUL, wildcards in place. One branch-free
/// pass ([`filter_bytes_bad`]); `false` says only "look closer" ([`validate_topic_filter`]).
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn plain_filter_ok(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= usize::from(u16::MAX)
        && !b.starts_with(b"$share/")
        && !filter_bytes_bad(b)
}

/// Reads a topic filter (SUBSCRIBE, UNSUBSCRIBE): UTF-8, no U+0000, not empty, wildcards
/// in place, a valid `$share/` form. A non-empty plain filter takes one pass over its
/// bytes; a shared one, or one that fails, takes the general path for its exact error.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn read_filter<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let bytes = r.binary()?;
    let s = r.as_str(bytes)?;
    if bytes.is_empty() || bytes.starts_with(b"$share/") || filter_bytes_bad(bytes) {
        read_filter_slow(s)?;
    }
    Ok(s)
}

/// [`read_filter`]'s general path (shared filters, and every error), out of line so
/// that the loop over a list's filters stays small.
#[cold]
#[inline(never)]
fn read_filter_slow(s: &str) -> Result<(), DecodeError> {
    let bytes = s.as_bytes();
    if has_nul(bytes) {
        return Err(DecodeError::NullCharacter);
    }
    check_filter_shape(s, scan(bytes)).map_err(|_| DecodeError::InvalidTopicFilter)
}

/// The filter rules beyond UTF-8, length and NUL, given the string's scan: a filter with
/// no wildcard that is not shared needs no further look.
#[inline]
pub(crate) fn check_filter_shape(filter: &str, found: Scan) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    if filter.starts_with("$share/") {
        match SharedFilter::parse(filter)? {
            Some(shared) => check_wildcards(shared.filter),
            None => check_wildcards(filter),
        }
    } else if found.wildcard {
        check_wildcards(filter)
    } else {
        Ok(())
    }
}

/// Validates a topic filter for SUBSCRIBE/UNSUBSCRIBE, including `$share/<group>/<filter>`.
#[inline]
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    let found = check_common(filter)?;
    check_filter_shape(filter, found)
}

/// A shared subscription filter split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SharedFilter<'a> {
    /// The ShareName: at least one character, no `/`, `+` or `#`.
    pub group: &'a str,
    /// The topic filter after the ShareName.
    pub filter: &'a str,
}

impl<'a> SharedFilter<'a> {
    /// Splits `$share/<group>/<filter>`: `Ok(None)` for a filter that is not shared, an error for
    /// one that starts with `$share/` but breaks [MQTT-4.8.2-1] or [MQTT-4.8.2-2].
    pub fn parse(filter: &'a str) -> Result<Option<Self>, TopicError> {
        let Some(rest) = filter.strip_prefix("$share/") else {
            return Ok(None);
        };
        // A byte search, not `split_once('/')`: the char pattern links a string searcher
        // that costs a bare-metal build about 200 bytes of flash.
        let (group, filter) = rest
            .bytes()
            .position(|b| b == b'/')
            .and_then(|at| rest.split_at_checked(at))
            .and_then(|(group, slash_filter)| Some((group, slash_filter.get(1..)?)))
            .ok_or(TopicError::InvalidSharedSubscription)?;
        if group.is_empty() || !has_no_wildcard(group) || filter.is_empty() {
            return Err(TopicError::InvalidSharedSubscription);
        }
        Ok(Some(SharedFilter { group, filter }))
    }
}

/// A topic name checked once, where it is made: not empty, at most 65,535 bytes, no
/// U+0000, no wildcard. A PUBLISH or will holding one is encoded without looking at its
/// topic again, and a decoded one holds a name the decoder checked.
///
/// ```
/// use mqtt_proto::topic::{TopicError, TopicName};
/// let name = TopicName::new("sensors/7/temp")?;
/// assert_eq!(name, "sensors/7/temp");
/// assert_eq!(TopicName::new("sensors/+/temp"), Err(TopicError::WildcardInName));
/// const STATUS: TopicName<'static> = TopicName::from_static("clients/7/status");
/// # Ok::<(), TopicError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName<'a>(&'a str);

impl<'a> TopicName<'a> {
    /// The empty name of a 5.0 PUBLISH that names its topic by a Topic Alias property
    /// alone (5.0 §3.3.2.1); encoding it without that property fails.
    pub const ALIAS_ONLY: TopicName<'static> = TopicName("");

    /// Checks `name` ([`validate_topic_name`]).
    #[inline]
    pub fn new(name: &'a str) -> Result<Self, TopicError> {
        if name_ok(name) {
            Ok(TopicName(name))
        } else {
            validate_topic_name(name).map(|()| TopicName(name))
        }
    }

    /// A name from a literal, checked when the program is compiled (in a `const`) or
    /// else when this runs.
    ///
    /// # Panics
    /// If `name` is not a valid topic name: meant for literals, never for input.
    pub const fn from_static(name: &'static str) -> TopicName<'static> {
        assert!(name_valid_const(name.as_bytes()), "invalid MQTT topic name");
        TopicName(name)
    }

    /// A name the caller (the decoder) has checked already.
    #[inline]
    pub(crate) const fn new_unchecked(name: &'a str) -> Self {
        TopicName(name)
    }

    /// The name as a string.
    #[inline]
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A topic filter checked once, where it is made: not empty, at most 65,535 bytes, no
/// U+0000, `+` and `#` alone in their levels and `#` last, a valid `$share/<group>/`
/// prefix if any. A SUBSCRIBE or UNSUBSCRIBE holding them is encoded without looking at
/// them again, and a decoded one holds filters the decoder checked.
///
/// ```
/// use mqtt_proto::topic::{TopicError, TopicFilter};
/// let filter = TopicFilter::new("sensors/+/temp")?;
/// assert!(mqtt_proto::topic::matches(&filter, "sensors/7/temp"));
/// assert_eq!(TopicFilter::new("sensors/#/temp"), Err(TopicError::MisplacedWildcard));
/// const ALL: TopicFilter<'static> = TopicFilter::from_static("#");
/// # Ok::<(), TopicError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter<'a>(&'a str);

impl<'a> TopicFilter<'a> {
    /// Checks `filter` ([`validate_topic_filter`]).
    #[inline]
    pub fn new(filter: &'a str) -> Result<Self, TopicError> {
        if plain_filter_ok(filter.as_bytes()) {
            Ok(TopicFilter(filter))
        } else {
            validate_topic_filter(filter).map(|()| TopicFilter(filter))
        }
    }

    /// A filter from a literal, checked when the program is compiled (in a `const`) or
    /// else when this runs.
    ///
    /// # Panics
    /// If `filter` is not a valid topic filter: meant for literals, never for input.
    pub const fn from_static(filter: &'static str) -> TopicFilter<'static> {
        assert!(
            filter_valid_const(filter.as_bytes()),
            "invalid MQTT topic filter"
        );
        TopicFilter(filter)
    }

    /// A filter the caller (the decoder) has checked already.
    #[inline]
    pub(crate) const fn new_unchecked(filter: &'a str) -> Self {
        TopicFilter(filter)
    }

    /// The filter as a string.
    #[inline]
    pub const fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether this is a shared subscription (`$share/<group>/<filter>`).
    #[inline]
    pub fn is_shared(&self) -> bool {
        self.0.starts_with("$share/")
    }
}

/// The string forms, the conversions and the comparisons with strings both types share.
macro_rules! topic_str_impls {
    ($t:ident) => {
        impl core::ops::Deref for $t<'_> {
            type Target = str;
            #[inline]
            fn deref(&self) -> &str {
                self.0
            }
        }
        impl AsRef<str> for $t<'_> {
            #[inline]
            fn as_ref(&self) -> &str {
                self.0
            }
        }
        impl core::borrow::Borrow<str> for $t<'_> {
            #[inline]
            fn borrow(&self) -> &str {
                self.0
            }
        }
        impl<'a> TryFrom<&'a str> for $t<'a> {
            type Error = TopicError;
            #[inline]
            fn try_from(s: &'a str) -> Result<Self, TopicError> {
                $t::new(s)
            }
        }
        impl<'a> From<$t<'a>> for &'a str {
            #[inline]
            fn from(t: $t<'a>) -> &'a str {
                t.0
            }
        }
        impl core::fmt::Debug for $t<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(self.0, f)
            }
        }
        impl core::fmt::Display for $t<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.0)
            }
        }
        #[cfg(feature = "defmt")]
        impl defmt::Format for $t<'_> {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::write!(f, "{=str}", self.0)
            }
        }
        impl PartialEq<str> for $t<'_> {
            #[inline]
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t<'_> {
            #[inline]
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<$t<'_>> for str {
            #[inline]
            fn eq(&self, other: &$t<'_>) -> bool {
                self == other.0
            }
        }
        impl PartialEq<$t<'_>> for &str {
            #[inline]
            fn eq(&self, other: &$t<'_>) -> bool {
                *self == other.0
            }
        }
    };
}
topic_str_impls!(TopicName);
topic_str_impls!(TopicFilter);

/// [`validate_topic_name`] as a `const fn`, byte by byte, for [`TopicName::from_static`].
const fn name_valid_const(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > u16::MAX as usize {
        return false;
    }
    let mut rest = b;
    while let [c, tail @ ..] = rest {
        if matches!(*c, 0 | b'+' | b'#') {
            return false;
        }
        rest = tail;
    }
    true
}

/// [`validate_topic_filter`] as a `const fn`, byte by byte, for [`TopicFilter::from_static`].
const fn filter_valid_const(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > u16::MAX as usize {
        return false;
    }
    let mut rest = b;
    if let [b'$', b's', b'h', b'a', b'r', b'e', b'/', tail @ ..] = b {
        // The share name: at least one byte, no wildcard or NUL, then `/` and a filter.
        let mut t = tail;
        let mut group = 0;
        loop {
            match t {
                [b'/', after @ ..] => {
                    if group == 0 || after.is_empty() {
                        return false;
                    }
                    rest = after;
                    break;
                }
                [c, after @ ..] => {
                    if matches!(*c, 0 | b'+' | b'#') {
                        return false;
                    }
                    group += 1;
                    t = after;
                }
                [] => return false,
            }
        }
    }
    let mut prev = b'/';
    while let [c, tail @ ..] = rest {
        let next = match tail {
            [n, ..] => *n,
            [] => b'/',
        };
        match *c {
            0 => return false,
            b'#' if !tail.is_empty() || prev != b'/' => return false,
            b'+' if prev != b'/' || next != b'/' => return false,
            _ => {}
        }
        prev = *c;
        rest = tail;
    }
    true
}

/// Whether topic name `topic` matches topic filter `filter` (MQTT 5.0 §4.7).
///
/// Topics starting with `$` are not matched by a filter starting with a wildcard
/// [MQTT-4.7.2-1]. A `$share/<group>/` prefix is stripped from the filter first.
/// The filter is assumed valid; an invalid one matches nothing it should not.
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = match SharedFilter::parse(filter) {
        Ok(Some(shared)) => shared.filter,
        Ok(None) => filter,
        Err(_) => return false,
    };
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::scan;

    /// The byte-at-a-time rule that `check_wildcards` implements word-wise.
    fn wildcards_reference(b: &[u8]) -> bool {
        let mut prev = b'/';
        for (i, &c) in b.iter().enumerate() {
            if c == b'+' || c == b'#' {
                let next = b.get(i + 1).copied();
                let alone = prev == b'/' && matches!(next, None | Some(b'/'));
                if !alone || (c == b'#' && next.is_some()) {
                    return false;
                }
            }
            prev = c;
        }
        true
    }

    /// Longer strings (up to 80 bytes, past the 16-byte blocks) from a fixed pseudo-random
    /// sequence: the same agreement as below.
    #[test]
    fn long_strings_match_byte_wise_reference() {
        let alphabet = [b'a', b'/', b'+', b'#', 0, b'$'];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 81) as usize;
            let mut s = [b'a'; 80];
            let mut y = x;
            for c in s.iter_mut().take(len) {
                // Mostly plain bytes, so valid filters come up often.
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (y >> 33) % 40;
                *c = if r < 6 {
                    alphabet[r as usize]
                } else {
                    b'a' + (r % 7) as u8
                };
            }
            let b = &s[..len];
            let found = scan(b);
            assert_eq!(found.nul, b.contains(&0), "{b:?}");
            assert_eq!(has_nul(b), b.contains(&0), "{b:?}");
            let nul_or_wild = b.iter().any(|&c| c == 0 || c == b'+' || c == b'#');
            assert_eq!(has_nul_or_wildcard(b), nul_or_wild, "{b:?}");
            assert_eq!(
                found.wildcard,
                b.iter().any(|&c| c == b'+' || c == b'#'),
                "{b:?}"
            );
            let f = core::str::from_utf8(b).unwrap();
            assert_eq!(check_wildcards(f).is_ok(), wildcards_reference(b), "{f:?}");
            assert_eq!(
                plain_filter_ok(b),
                validate_topic_filter(f).is_ok() && !f.starts_with("$share/"),
                "{f:?}"
            );
            assert_eq!(name_ok(f), validate_topic_name(f).is_ok(), "{f:?}");
            let wild_or_nul = b.contains(&0) || !wildcards_reference(b);
            assert_eq!(filter_bytes_bad_with(b, true), wild_or_nul, "{f:?}");
            assert_eq!(filter_bytes_bad_with(b, false), wild_or_nul, "{f:?}");
            assert_bytewise_agrees(b, wild_or_nul);
        }
    }

    /// The byte-at-a-time scans of bare-metal builds ([`BYTEWISE`]) give what the word
    /// and vector versions give on this host.
    fn assert_bytewise_agrees(b: &[u8], wild_or_nul: bool) {
        use crate::codec::bytewise;
        assert_eq!(bytewise::scan(b), scan(b), "{b:?}");
        let nul_or_wild = |c: u8| (c == 0) | ((c | 0x08) == b'+');
        assert_eq!(
            bytewise::any(b, nul_or_wild),
            has_nul_or_wildcard(b),
            "{b:?}"
        );
        assert_eq!(pairs_bad_bytewise(b), wild_or_nul, "{b:?}");
        if !b.contains(&0)
            && let Ok(f) = core::str::from_utf8(b)
        {
            // check_wildcards' bare-metal path: the pair rules on a filter without NUL.
            assert_eq!(!pairs_bad_bytewise(b), check_wildcards(f).is_ok(), "{f:?}");
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes (non-ASCII, NUL and long strings too): the bare-metal scans
        /// agree with the host's word and vector versions.
        #[test]
        fn bytewise_scans_agree_on_any_bytes(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(&[0u8, b'/', b'+', b'#', b'$', 0x7f, 0x80, 0xff][..]),
                    proptest::prelude::any::<u8>(),
                ],
                0..200,
            )
        ) {
            use crate::codec::{bytewise, nul_or_non_ascii};
            proptest::prop_assert_eq!(bytewise::scan(&b), scan(&b));
            let non_ascii = |c: u8| c.wrapping_sub(1) > 0x7e;
            proptest::prop_assert_eq!(bytewise::any(&b, non_ascii), nul_or_non_ascii(&b));
            proptest::prop_assert_eq!(pairs_bad_bytewise(&b), filter_bytes_bad_with(&b, true));
            proptest::prop_assert_eq!(pairs_bad_bytewise(&b), filter_bytes_bad_with(&b, false));
        }
    }

    /// Every string of up to 9 bytes over `a / + #` (and NUL, 0xff at a few lengths):
    /// the word-wise scan and wildcard check agree with the byte-wise reference, across
    /// the one-word, padded and overlapping-last-word cases.
    #[test]
    fn word_wise_scan_matches_byte_wise_reference() {
        let alphabet = [b'a', b'/', b'+', b'#', 0, 0xff];
        for len in 0..=17usize {
            let letters = if len <= 8 { 6 } else { 4 };
            let total = (letters as u64).pow(len.min(9) as u32);
            for mut n in 0..total {
                let mut s = [b'x'; 17];
                for c in s.iter_mut().take(len.min(9)) {
                    *c = alphabet[(n % letters as u64) as usize];
                    n /= letters as u64;
                }
                let b = &s[..len];
                let found = scan(b);
                assert_eq!(found.nul, b.contains(&0), "{b:?}");
                assert_eq!(has_nul(b), b.contains(&0), "{b:?}");
                let nul_or_wild = b.iter().any(|&c| c == 0 || c == b'+' || c == b'#');
                assert_eq!(has_nul_or_wildcard(b), nul_or_wild, "{b:?}");
                assert_eq!(
                    found.wildcard,
                    b.iter().any(|&c| c == b'+' || c == b'#'),
                    "{b:?}"
                );
                let wild_or_nul = b.contains(&0) || !wildcards_reference(b);
                assert_eq!(filter_bytes_bad_with(b, true), wild_or_nul, "{b:?}");
                assert_eq!(filter_bytes_bad_with(b, false), wild_or_nul, "{b:?}");
                assert_bytewise_agrees(b, wild_or_nul);
                if let Ok(f) = core::str::from_utf8(b) {
                    assert_eq!(check_wildcards(f).is_ok(), wildcards_reference(b), "{f:?}");
                    // The fast filter check says yes exactly for the valid plain filters.
                    assert_eq!(
                        plain_filter_ok(b),
                        validate_topic_filter(f).is_ok(),
                        "{f:?}"
                    );
                }
            }
        }
    }

    /// The `const` checks behind `from_static` and the constructors `new` accept exactly
    /// what `validate_topic_name` / `validate_topic_filter` accept: every string of up
    /// to 6 bytes over `a / + # NUL`, alone and after the `$share/` prefixes.
    #[test]
    fn constructors_and_const_checks_match_validation() {
        let alphabet = [b'a', b'/', b'+', b'#', 0];
        let prefixes: [&[u8]; 6] = [
            b"",
            b"$share/",
            b"$share/g/",
            b"$share/g",
            b"$share//",
            b"$share/+/",
        ];
        for prefix in prefixes {
            for len in 0..=6u32 {
                for mut n in 0..5u64.pow(len) {
                    let mut s = prefix.to_vec();
                    for _ in 0..len {
                        s.push(alphabet[(n % 5) as usize]);
                        n /= 5;
                    }
                    let f = core::str::from_utf8(&s).expect("ASCII");
                    let name = validate_topic_name(f).is_ok();
                    let filter = validate_topic_filter(f).is_ok();
                    assert_eq!(name_valid_const(&s), name, "{f:?}");
                    assert_eq!(TopicName::new(f).is_ok(), name, "{f:?}");
                    assert_eq!(filter_valid_const(&s), filter, "{f:?}");
                    assert_eq!(TopicFilter::new(f).is_ok(), filter, "{f:?}");
                    assert_eq!(
                        TopicFilter::new(f).map(|t| t.is_shared()).unwrap_or(false),
                        filter && f.starts_with("$share/"),
                        "{f:?}"
                    );
                }
            }
        }
        assert_eq!(TopicName::new(""), Err(TopicError::Empty));
        assert_eq!(TopicFilter::new("a\0"), Err(TopicError::NullCharacter));
        assert!(TopicName::ALIAS_ONLY.is_empty());
    }
}

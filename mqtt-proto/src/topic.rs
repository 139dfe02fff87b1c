//! Topic names and filters: validation, matching and `$share` parsing, all `no_std`.
//!
//! A topic *name* is what a PUBLISH carries; it never holds a wildcard. A topic
//! *filter* is what SUBSCRIBE carries: `+` matches one level, `#` (last, alone in
//! its level) matches any number of levels including none.

use crate::codec::{Reader, Scan, for_each_word, has_zero_byte, scan, wildcard_mask};
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

/// Validates a topic name for PUBLISH: non-empty, short enough, no U+0000, no wildcard.
#[inline]
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    if check_common(name)?.wildcard {
        Err(TopicError::WildcardInName)
    } else {
        Ok(())
    }
}

/// Whether the wildcard at byte `i` of `b` (a `+` or `#`) is misplaced: each fills a
/// whole level, and `#` is the last character.
#[inline(always)]
fn misplaced(b: &[u8], i: usize) -> bool {
    let prev_ok = i == 0 || b.get(i - 1) == Some(&b'/');
    let next_ok = match b.get(i + 1) {
        None => true,
        Some(b'/') => b.get(i) == Some(&b'+'),
        Some(_) => false,
    };
    !(prev_ok && next_ok)
}

/// Wildcard placement of a plain (non-shared) filter: each `+` or `#` fills a whole
/// level, and `#` is the last character. Finds the wildcards eight bytes at a time and
/// looks only at their neighbours.
fn check_wildcards(filter: &str) -> Result<(), TopicError> {
    let b = filter.as_bytes();
    let mut bad = false;
    for_each_word(b, |off, w| {
        let mut m = wildcard_mask(w);
        while m != 0 {
            bad |= misplaced(b, off + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
    });
    if bad {
        Err(TopicError::MisplacedWildcard)
    } else {
        Ok(())
    }
}

/// Reads a topic filter (SUBSCRIBE, UNSUBSCRIBE): UTF-8, no U+0000, not empty, wildcards
/// in place, a valid `$share/` form. A non-empty plain filter takes one pass over its
/// bytes; a shared one, or one that fails, takes the general path for its exact error.
#[inline]
pub(crate) fn read_filter<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let bytes = r.binary()?;
    let s = r.as_str(bytes)?;
    let (mut nul, mut bad) = (0u64, false);
    for_each_word(bytes, |off, w| {
        nul |= has_zero_byte(w);
        let mut m = wildcard_mask(w);
        while m != 0 {
            bad |= misplaced(bytes, off + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
    });
    if nul != 0 {
        return Err(DecodeError::NullCharacter);
    }
    if bad || bytes.is_empty() || bytes.starts_with(b"$share/") {
        check_filter_shape(s, scan(bytes)).map_err(|_| DecodeError::InvalidTopicFilter)?;
    }
    Ok(s)
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

/// The encode error for a filter the caller wants to send.
pub(crate) fn filter_encode_error(e: TopicError) -> crate::EncodeError {
    match e {
        TopicError::NullCharacter => crate::EncodeError::NullCharacter,
        TopicError::TooLong => crate::EncodeError::FieldTooLong,
        _ => crate::EncodeError::InvalidTopicFilter,
    }
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
        let (group, filter) = rest
            .split_once('/')
            .ok_or(TopicError::InvalidSharedSubscription)?;
        if group.is_empty() || !has_no_wildcard(group) || filter.is_empty() {
            return Err(TopicError::InvalidSharedSubscription);
        }
        Ok(Some(SharedFilter { group, filter }))
    }
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
                assert_eq!(
                    found.wildcard,
                    b.iter().any(|&c| c == b'+' || c == b'#'),
                    "{b:?}"
                );
                if let Ok(f) = core::str::from_utf8(b) {
                    assert_eq!(check_wildcards(f).is_ok(), wildcards_reference(b), "{f:?}");
                }
            }
        }
    }
}

//! Variable byte integers (MQTT 5.0 §1.5.5): remaining length, property length, subscription id.

use crate::error::DecodeError;

/// The largest value a variable byte integer can hold (four bytes): 268,435,455.
pub const MAX: u32 = 268_435_455;

/// Decodes a variable byte integer from the start of `buf`.
///
/// `Ok(None)`: `buf` ends before the integer does (need more bytes).
/// `Ok(Some((value, len)))`: the value and the bytes it took.
/// Errors: more than four bytes, or not the shortest encoding [MQTT-1.5.5-1].
#[inline]
pub fn decode(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&byte) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A last byte of 0 after a continuation byte is a non-minimal encoding.
            if i > 0 && byte == 0 {
                return Err(DecodeError::VarIntNotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::VarIntTooLong)
}

/// How many bytes `value` takes as a variable byte integer (1 to 4; values above [`MAX`] say 4).
#[inline]
pub const fn len(value: u32) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// `value` (at most [`MAX`]) encoded in a register: the encoding's bytes in the low-to-high
/// bytes of the result (write it with `to_le_bytes`), and how many of them count.
///
/// Built without a loop or a byte array, so a writer can store it as one word: bytes
/// stored one at a time and then copied out as a wider load stall store forwarding.
#[inline]
pub const fn encode_word(value: u32) -> (u32, usize) {
    let n = len(value);
    let groups = (value & 0x7f)
        | ((value >> 7) & 0x7f) << 8
        | ((value >> 14) & 0x7f) << 16
        | ((value >> 21) & 0x7f) << 24;
    // A continuation bit on every byte but the last.
    let more = 0x0080_8080u32 & ((1u32 << (8 * (n - 1))) - 1);
    (groups | more, n)
}

/// Encodes `value` (at most [`MAX`]) into `out`, returning the bytes written.
#[inline]
pub fn encode(mut value: u32, out: &mut [u8; 4]) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        *slot = byte;
        n += 1;
        if value == 0 {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The register-built encoding equals the byte loop's, at every length boundary and on a
    /// sweep across the whole range.
    #[test]
    fn encode_word_matches_encode() {
        let edges = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX];
        let sweep = (0..=MAX).step_by(9_973);
        for v in edges.into_iter().chain(sweep) {
            let mut out = [0u8; 4];
            let n = encode(v, &mut out);
            let (word, m) = encode_word(v);
            assert_eq!(m, n, "{v}");
            assert_eq!(&word.to_le_bytes()[..n], &out[..n], "{v}");
            assert_eq!(decode(&word.to_le_bytes()[..n]), Ok(Some((v, n))), "{v}");
        }
    }
}

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

//! Framing: from the fixed header alone, say whether a whole packet is buffered,
//! how long it is, or that it is too large, before any of the body is examined.

use crate::error::DecodeError;
use crate::packet::PacketType;
use crate::varint;
use crate::version::ProtocolVersion;

/// What the buffered bytes are still missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Needed {
    /// The fixed header itself is incomplete: the packet length is not known yet.
    Header,
    /// The packet is `total` bytes long, fixed header included.
    Total(usize),
}

/// A complete fixed header and where its packet ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low four bits of the first byte.
    pub flags: u8,
    /// Bytes of the fixed header (2 to 5).
    pub header_len: usize,
    /// The remaining length: bytes after the fixed header.
    pub remaining_length: u32,
}

impl FixedHeader {
    /// Total bytes of the packet, fixed header included.
    pub const fn total_len(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

/// The result of [`frame`]: a header whose packet is fully buffered, or what is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame {
    /// `buf` holds at least one whole packet.
    Complete(FixedHeader),
    /// `buf` holds less than one packet.
    Incomplete(Needed),
}

/// Reads the fixed header at the start of `buf` and checks the packet type, its fixed
/// flag bits [MQTT-2.2.2-1] and its total size against `max_packet_size` (MQTT 5.0
/// counts the fixed header in the size). Nothing past the fixed header is read, so an
/// oversize packet is refused before its body is buffered.
#[inline]
pub fn frame(
    buf: &[u8],
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Frame, DecodeError> {
    let Some((&first, rest)) = buf.split_first() else {
        return Ok(Frame::Incomplete(Needed::Header));
    };
    let (packet_type, flags) = PacketType::from_first_byte(first, version)?;
    let Some((remaining_length, len_len)) = varint::decode(rest)? else {
        return Ok(Frame::Incomplete(Needed::Header));
    };
    let header = FixedHeader {
        packet_type,
        flags,
        header_len: 1 + len_len,
        remaining_length,
    };
    let total = header.total_len();
    if total as u64 > u64::from(max_packet_size) {
        return Err(DecodeError::PacketTooLarge {
            size: total as u32,
            max: max_packet_size,
        });
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete(Needed::Total(total)));
    }
    Ok(Frame::Complete(header))
}

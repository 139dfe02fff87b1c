//! [`OwnedPacket`]: a received packet that owns its bytes, for callers that keep
//! packets past the receive buffer (queues, channels, other tasks).
//!
//! It stores the frame once (a `Vec<u8>`, or with the `bytes` feature a `Bytes`
//! that shares the receive buffer without copying) and lends a [`Packet`] view of it.

use crate::error::DecodeError;
use crate::packet::{Decoded, Decoder, Packet};
use crate::version::ProtocolVersion;

/// A validated packet owning its bytes; [`OwnedPacket::packet`] borrows a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedPacket<B = alloc::vec::Vec<u8>> {
    bytes: B,
    version: ProtocolVersion,
}

impl<B: AsRef<[u8]>> OwnedPacket<B> {
    /// Validates `bytes` as exactly one packet of `version` and keeps them.
    pub fn new(bytes: B, version: ProtocolVersion) -> Result<Self, DecodeError> {
        Packet::decode_exact(bytes.as_ref(), version)?;
        Ok(OwnedPacket { bytes, version })
    }

    /// The packet, borrowing from the owned bytes.
    pub fn packet(&self) -> Packet<'_> {
        // Validated in `new` and immutable since, so decoding again cannot fail.
        match Packet::decode_exact(self.bytes.as_ref(), self.version) {
            Ok(p) => p,
            Err(_) => Packet::PingReq,
        }
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The owned storage.
    pub fn into_inner(self) -> B {
        self.bytes
    }
}

/// The packet it holds.
#[cfg(feature = "defmt")]
impl<B: AsRef<[u8]>> defmt::Format for OwnedPacket<B> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.packet().format(f)
    }
}

#[cfg(feature = "bytes")]
impl OwnedPacket<bytes::Bytes> {
    /// Splits one whole packet off the front of `buf` without copying: `Ok(None)` when
    /// `buf` holds less than a packet (leaving it untouched).
    pub fn split_from(
        buf: &mut bytes::BytesMut,
        decoder: &Decoder,
    ) -> Result<Option<Self>, DecodeError> {
        match decoder.decode(buf)? {
            Decoded::Incomplete(_) => Ok(None),
            Decoded::Packet { consumed, .. } => Ok(Some(OwnedPacket {
                bytes: buf.split_to(consumed).freeze(),
                version: decoder.version,
            })),
        }
    }

    /// The PUBLISH payload as a `Bytes` sharing this packet's storage (no copy).
    pub fn publish_payload(&self) -> Option<bytes::Bytes> {
        match self.packet() {
            Packet::Publish(p) => Some(self.bytes.slice_ref(p.payload)),
            _ => None,
        }
    }
}

#[cfg(not(feature = "bytes"))]
#[allow(dead_code)]
fn _uses(_: Decoded<'_>, _: Decoder) {}

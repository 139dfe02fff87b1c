//! Control packets: one file per packet, the [`Packet`] enum that holds any of them,
//! and the decode/encode entry points.
//!
//! Decoding borrows every string, payload and property from the input; encoding
//! writes into a caller buffer whose exact size [`Packet::encoded_len`] gives first.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::Ack;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, ReceivedWill, Will, WillRef};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::codec::{Reader, Sink, Writer};
use crate::error::{DecodeError, EncodeError};
use crate::framing::{self, Frame, Needed};
use crate::varint;
use crate::version::{PacketId, ProtocolVersion};

/// The control packet type, the high nibble of the first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    /// MQTT 5.0 only.
    Auth = 15,
}

impl PacketType {
    /// The packet name in capitals, as the specs write it.
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::ConnAck => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::PubAck => "PUBACK",
            PacketType::PubRec => "PUBREC",
            PacketType::PubRel => "PUBREL",
            PacketType::PubComp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::SubAck => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::UnsubAck => "UNSUBACK",
            PacketType::PingReq => "PINGREQ",
            PacketType::PingResp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }

    /// The flag bits every packet but PUBLISH must carry [MQTT-2.2.2-1].
    const fn fixed_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }

    /// Splits and checks a first byte: known type for `version`, fixed flags as required.
    #[inline]
    pub(crate) fn from_first_byte(
        b: u8,
        version: ProtocolVersion,
    ) -> Result<(Self, u8), DecodeError> {
        let flags = b & 0x0f;
        let t = match b >> 4 {
            1 => PacketType::Connect,
            2 => PacketType::ConnAck,
            3 => return Ok((PacketType::Publish, flags)),
            4 => PacketType::PubAck,
            5 => PacketType::PubRec,
            6 => PacketType::PubRel,
            7 => PacketType::PubComp,
            8 => PacketType::Subscribe,
            9 => PacketType::SubAck,
            10 => PacketType::Unsubscribe,
            11 => PacketType::UnsubAck,
            12 => PacketType::PingReq,
            13 => PacketType::PingResp,
            14 => PacketType::Disconnect,
            15 if version.is_v5() => PacketType::Auth,
            other => return Err(DecodeError::InvalidPacketType(other)),
        };
        if flags != t.fixed_flags() {
            return Err(DecodeError::InvalidFixedHeaderFlags(b));
        }
        Ok((t, flags))
    }
}

/// Any MQTT control packet, borrowing from the bytes it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(missing_docs)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    ConnAck(ConnAck<'a>),
    Publish(Publish<'a>),
    PubAck(Ack<'a>),
    PubRec(Ack<'a>),
    PubRel(Ack<'a>),
    PubComp(Ack<'a>),
    Subscribe(Subscribe<'a>),
    SubAck(SubAck<'a>),
    Unsubscribe(Unsubscribe<'a>),
    UnsubAck(UnsubAck<'a>),
    PingReq,
    PingResp,
    Disconnect(Disconnect<'a>),
    /// MQTT 5.0 only.
    Auth(Auth<'a>),
}

/// The outcome of decoding from a buffer that may hold part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Decoded<'a> {
    /// One packet, and the bytes of `buf` it took; the rest of `buf` is the next packet.
    Packet {
        /// The packet.
        packet: Packet<'a>,
        /// Bytes taken from the start of the buffer.
        consumed: usize,
    },
    /// Not one whole packet yet: read more and call again with the longer buffer.
    Incomplete(Needed),
}

/// Decoding settings: the protocol version and the largest packet accepted.
///
/// ```
/// use mqtt_proto::{Decoder, Decoded, Packet, ProtocolVersion};
/// let dec = Decoder::new(ProtocolVersion::V3_1_1).max_packet_size(1024);
/// assert!(matches!(dec.decode(&[0xd0, 0x00]), Ok(Decoded::Packet { packet: Packet::PingResp, consumed: 2 })));
/// assert!(matches!(dec.decode(&[0x30]), Ok(Decoded::Incomplete(_))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Decoder {
    /// The protocol version of the connection (CONNECT carries and uses its own).
    pub version: ProtocolVersion,
    /// Largest total packet size accepted; larger ones fail from their fixed header alone.
    pub max_packet_size: u32,
}

impl Decoder {
    /// A decoder for `version` with no size limit beyond the protocol's own.
    pub const fn new(version: ProtocolVersion) -> Self {
        Decoder {
            version,
            max_packet_size: u32::MAX,
        }
    }

    /// The same decoder with a maximum total packet size.
    pub const fn max_packet_size(self, max: u32) -> Self {
        Decoder {
            max_packet_size: max,
            ..self
        }
    }

    /// Decodes the packet at the start of `buf`, or says that more bytes are needed.
    ///
    /// One out-of-line copy off bare metal, whatever calls it: copies inlined into
    /// different callers ran the same decode at different speeds (the 64 B PUBLISH at 17
    /// ns in one benchmark loop, 24 ns in another, by where the copy landed).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    #[cfg_attr(target_os = "none", inline)]
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Decoded<'a>, DecodeError> {
        // PUBLISH, most of the traffic, on a straight path of its own: the value is
        // built once and written whole, with no merge with the other packet types.
        if let [first, ..] = *buf
            && first >> 4 == PacketType::Publish as u8
        {
            return self.decode_publish(buf);
        }
        let header = match framing::frame(buf, self.version, self.max_packet_size)? {
            Frame::Complete(h) => h,
            Frame::Incomplete(n) => return Ok(Decoded::Incomplete(n)),
        };
        let total = header.total_len();
        let body = buf
            .get(header.header_len..total)
            .ok_or(DecodeError::Truncated)?;
        Packet::decode_body(header.packet_type, header.flags, body, self.version, total)
    }
}

impl Decoder {
    /// [`Decoder::decode`] of a buffer starting with a PUBLISH; same results.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn decode_publish<'a>(&self, buf: &'a [u8]) -> Result<Decoded<'a>, DecodeError> {
        let header = match framing::frame(buf, self.version, self.max_packet_size)? {
            Frame::Complete(h) => h,
            Frame::Incomplete(n) => return Ok(Decoded::Incomplete(n)),
        };
        let total = header.total_len();
        let Some(packet) = buf.get(..total) else {
            return Err(DecodeError::Truncated);
        };
        Publish::decode_body(header.flags, packet, header.header_len, self.version, total)
    }
}

impl<'a> Packet<'a> {
    /// Decodes one whole packet that fills `buf` exactly.
    pub fn decode_exact(buf: &'a [u8], version: ProtocolVersion) -> Result<Self, DecodeError> {
        match Decoder::new(version).decode(buf)? {
            Decoded::Packet { packet, consumed } if consumed == buf.len() => Ok(packet),
            Decoded::Packet { .. } => Err(DecodeError::TrailingBytes),
            Decoded::Incomplete(_) => Err(DecodeError::Truncated),
        }
    }

    /// Decodes the body of a packet other than PUBLISH straight into the [`Decoded`] that
    /// says `consumed`: each packet's reader is inlined into its arm, so the value is
    /// built once, in place, not returned level by level through memory (each level a
    /// copy of up to 150 bytes, loaded back in other pieces than it was stored: a
    /// store-forwarding stall, a quarter of a SUBSCRIBE's decode).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    fn decode_body(
        t: PacketType,
        flags: u8,
        body: &'a [u8],
        v: ProtocolVersion,
        consumed: usize,
    ) -> Result<Decoded<'a>, DecodeError> {
        let mut r = Reader::new(body);
        let packet = match t {
            #[cfg(feature = "decode-connect")]
            PacketType::Connect => Packet::Connect(Connect::read(&mut r)?),
            // Left out: refused by its type, so the build carries no CONNECT decoder.
            #[cfg(not(feature = "decode-connect"))]
            PacketType::Connect => return Err(DecodeError::InvalidPacketType(1)),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::read(&mut r, v)?),
            // Not reached from `Decoder::decode`, which takes PUBLISH on its own path.
            PacketType::Publish => return Publish::decode_body(flags, body, 0, v, consumed),
            PacketType::PubAck => Packet::PubAck(Ack::read(&mut r, v, t)?),
            PacketType::PubRec => Packet::PubRec(Ack::read(&mut r, v, t)?),
            PacketType::PubRel => Packet::PubRel(Ack::read(&mut r, v, t)?),
            PacketType::PubComp => Packet::PubComp(Ack::read(&mut r, v, t)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::read(&mut r, v)?),
            PacketType::SubAck => Packet::SubAck(SubAck::read(&mut r, v)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(&mut r, v)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(&mut r, v)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::read(&mut r, v)?),
            PacketType::Auth if v.is_v5() => Packet::Auth(Auth::read(&mut r)?),
            // `from_first_byte` already refused it; said again so that a build without
            // 5.0 carries no AUTH decoder.
            PacketType::Auth => return Err(DecodeError::InvalidPacketType(15)),
        };
        r.finish()?;
        Ok(Decoded::Packet { packet, consumed })
    }

    /// The type of this packet.
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Checks the packet for sending under `v` and returns its remaining length.
    #[inline]
    fn checked_body_len(&self, v: ProtocolVersion, sz: &mut Sizes) -> Result<usize, EncodeError> {
        let len = match self {
            Packet::Connect(p) => p.check_len(v, sz)?,
            #[cfg(feature = "encode-server")]
            Packet::ConnAck(p) => p.check_len(v, sz)?,
            // Left out: a client never sends them, so its build carries no encoder for them
            // (and `write` below is never reached for them).
            #[cfg(not(feature = "encode-server"))]
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) => {
                return Err(EncodeError::ServerOnly);
            }
            Packet::Publish(p) => p.check_len(v, sz)?,
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.check_len(v, self.packet_type(), sz)?
            }
            Packet::Subscribe(p) => p.check_len(v, sz)?,
            #[cfg(feature = "encode-server")]
            Packet::SubAck(p) => p.check_len(v, sz)?,
            Packet::Unsubscribe(p) => p.check_len(v, sz)?,
            #[cfg(feature = "encode-server")]
            Packet::UnsubAck(p) => p.check_len(v, sz)?,
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.check_len(v, sz)?,
            Packet::Auth(p) => p.check_len(v, sz)?,
        };
        if len > varint::MAX as usize {
            Err(EncodeError::PacketTooLarge)
        } else {
            Ok(len)
        }
    }

    #[inline]
    fn first_byte(&self) -> u8 {
        let t = self.packet_type();
        let flags = match self {
            Packet::Publish(p) => p.flags(),
            _ => t.fixed_flags(),
        };
        (t as u8) << 4 | flags
    }

    /// The exact number of bytes [`Packet::encode`] writes, after checking that the packet
    /// may be sent under `version` (strings, topics, properties, reason codes).
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut sz = Sizes::default();
        let body = self.checked_body_len(version, &mut sz)?;
        Ok(1 + varint::len(body as u32) + body)
    }

    /// Encodes into `buf` and returns the bytes written. An undersized buffer is
    /// [`EncodeError::BufferTooSmall`] naming the size required; nothing is written then.
    #[inline]
    pub fn encode(&self, version: ProtocolVersion, buf: &mut [u8]) -> Result<usize, EncodeError> {
        // PUBLISH on a path of its own, with no dispatch on the packet type.
        if let Packet::Publish(p) = self {
            return p.encode_slice(version, buf);
        }
        self.encode_other(version, buf)
    }

    /// [`Packet::encode`] of every packet but PUBLISH: out of line, so that the PUBLISH
    /// path's frame holds only what it uses.
    #[cfg_attr(not(target_os = "none"), inline(never))]
    fn encode_other(&self, version: ProtocolVersion, buf: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Packet::Connect(c) => return c.encode_slice(version, buf),
            Packet::Subscribe(p) => return p.encode_slice(version, buf),
            _ => {}
        }
        let mut sz = Sizes::default();
        let body = self.checked_body_len(version, &mut sz)?;
        let required = 1 + varint::len(body as u32) + body;
        if buf.len() < required {
            return Err(EncodeError::BufferTooSmall { required });
        }
        let mut w = Writer::new(buf);
        self.write(&mut w, version, body, &sz);
        debug_assert_eq!(w.position(), required);
        Ok(required)
    }

    /// Encodes onto the end of a `BufMut` (which grows if it can) and returns the bytes written.
    #[cfg(feature = "bytes")]
    pub fn encode_to<B: bytes::BufMut>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        let mut sz = Sizes::default();
        let body = self.checked_body_len(version, &mut sz)?;
        let required = 1 + varint::len(body as u32) + body;
        if buf.remaining_mut() < required {
            return Err(EncodeError::BufferTooSmall { required });
        }
        self.write(buf, version, body, &sz);
        Ok(required)
    }

    #[inline]
    fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, body_len: usize, sz: &Sizes) {
        s.put_u8(self.first_byte());
        s.put_varint(body_len as u32);
        match self {
            Packet::Connect(p) => p.write(s, sz),
            #[cfg(feature = "encode-server")]
            Packet::ConnAck(p) => p.write(s, v, sz),
            Packet::Publish(p) => p.write(s, v, sz),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.write(s, v, self.packet_type(), sz)
            }
            Packet::Subscribe(p) => p.write(s, v, sz),
            #[cfg(feature = "encode-server")]
            Packet::SubAck(p) => p.write(s, v, sz),
            Packet::Unsubscribe(p) => p.write(s, v, sz),
            #[cfg(feature = "encode-server")]
            Packet::UnsubAck(p) => p.write(s, v, sz),
            // Refused by `checked_body_len` before any write.
            #[cfg(not(feature = "encode-server"))]
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) => {}
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(p) => p.write(s, v, sz),
            Packet::Auth(p) => p.write(s, sz),
        }
    }
}

/// The frame every `encode_slice` shares: `check` validates the packet and gives its body
/// length, an undersized `buf` is refused naming the size required, then the fixed header
/// and `write`'s body go through a writer local to the caller, so it stays in registers.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
pub(crate) fn encode_framed(
    buf: &mut [u8],
    first_byte: u8,
    check: impl FnOnce(&mut Sizes) -> Result<usize, EncodeError>,
    write: impl FnOnce(&mut Writer<'_>, &Sizes),
) -> Result<usize, EncodeError> {
    let mut sz = Sizes::default();
    let body = check(&mut sz)?;
    if body > varint::MAX as usize {
        return Err(EncodeError::PacketTooLarge);
    }
    let required = 1 + varint::len(body as u32) + body;
    if buf.len() < required {
        return Err(EncodeError::BufferTooSmall { required });
    }
    let mut w = Writer::new(buf);
    w.put_u8(first_byte);
    w.put_varint(body as u32);
    write(&mut w, &sz);
    debug_assert_eq!(w.position(), required);
    Ok(required)
}

/// Lengths measured while checking a packet, reused when writing it so that no
/// property list is walked twice.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sizes {
    /// Body bytes of the packet's property block.
    pub props: usize,
    /// Body bytes of the will's property block (CONNECT).
    pub will_props: usize,
}

/// Bytes of a property block whose body has `body` bytes: the length prefix and the body.
#[inline]
pub(crate) const fn block(body: usize) -> usize {
    varint::len(body as u32) + body
}

/// Reads a packet identifier, rejecting 0 [MQTT-2.3.1-1].
pub(crate) fn read_packet_id(r: &mut Reader<'_>) -> Result<PacketId, DecodeError> {
    PacketId::new(r.u16()?).ok_or(DecodeError::ZeroPacketId)
}

/// Fails with `NotInVersion` when MQTT 5.0-only properties are given for an earlier version.
pub(crate) fn no_props_before_v5(
    props: &crate::Properties<'_>,
    v: ProtocolVersion,
) -> Result<(), EncodeError> {
    if !v.is_v5() && !props.is_empty() {
        Err(EncodeError::NotInVersion)
    } else {
        Ok(())
    }
}

#[cfg(all(test, not(feature = "decode-connect")))]
mod without_decode_connect {
    use super::*;

    /// Without `decode-connect` a CONNECT is refused by its type, the same whatever its
    /// body, and the other packets a client receives still decode.
    #[test]
    fn connect_is_refused_by_type_without_decode_connect() {
        // CONNECT 3.1.1, clean session, keep alive 60, client id "a".
        let connect = [
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01,
            b'a',
        ];
        let v = ProtocolVersion::V3_1_1;
        assert_eq!(
            Decoder::new(v).decode(&connect).err(),
            Some(DecodeError::InvalidPacketType(1))
        );
        assert_eq!(
            Packet::decode_exact(&connect, v).err(),
            Some(DecodeError::InvalidPacketType(1))
        );
        let connack = [0x20, 0x02, 0x00, 0x00];
        assert!(matches!(
            Packet::decode_exact(&connack, v),
            Ok(Packet::ConnAck(_))
        ));
    }
}

#[cfg(all(test, not(feature = "encode-server")))]
mod without_encode_server {
    use super::*;
    use crate::list::List;
    use crate::property::Properties;
    use crate::reason_code::ReasonCode;

    /// Without `encode-server` the packets only a server sends are refused by their type,
    /// before a byte is written, and the packets a client sends still encode.
    #[test]
    fn server_packets_are_refused_by_type_without_encode_server() {
        let v = ProtocolVersion::V3_1_1;
        let id = PacketId::new(7).unwrap();
        let codes = [ReasonCode::GrantedQoS1];
        let server = [
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::Success,
                properties: Properties::empty(),
            }),
            Packet::SubAck(SubAck {
                packet_id: id,
                properties: Properties::empty(),
                reason_codes: List::new(&codes),
            }),
            Packet::UnsubAck(UnsubAck {
                packet_id: id,
                properties: Properties::empty(),
                reason_codes: List::empty(),
            }),
        ];
        for p in server {
            let mut buf = [0xAA_u8; 16];
            assert_eq!(p.encode(v, &mut buf), Err(EncodeError::ServerOnly), "{p:?}");
            assert_eq!(buf, [0xAA; 16], "{p:?} wrote bytes");
            assert_eq!(p.encoded_len(v), Err(EncodeError::ServerOnly), "{p:?}");
        }
        let mut buf = [0_u8; 16];
        let puback = Packet::PubAck(Ack::new(id));
        assert_eq!(puback.encode(v, &mut buf), Ok(4));
        assert_eq!(buf[..4], [0x40, 0x02, 0x00, 0x07]);
        assert_eq!(Packet::PingReq.encode(v, &mut buf), Ok(2));
        assert_eq!(buf[..2], [0xc0, 0x00]);
    }
}

//! PUBLISH (MQTT 5.0 §3.3, 3.1.1 §3.3): an application message, in either direction.

use super::{Decoded, Packet, PacketType};
use crate::codec::{Reader, Sink, has_nul, nul_or_wildcard};
use crate::error::{DecodeError, EncodeError};
use crate::property::{Properties, PropertyContext};
use crate::topic::TopicName;
use crate::varint;
use crate::version::{PacketId, ProtocolVersion, QoS, QosPid};

/// PUBLISH. The topic, properties and payload borrow from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
// A fixed layout (flags first, slices on 8-byte boundaries) lets the decoder move the
// value into `Packet` with aligned copies; the default layout cost store-forwarding stalls.
#[repr(C)]
pub struct Publish<'a> {
    /// Re-delivery of an earlier attempt; always false at QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS and, above 0, the packet identifier.
    pub qos: QosPid,
    /// Retain flag.
    pub retain: bool,
    /// Topic name, checked where it was made; [`TopicName::ALIAS_ONLY`] (empty) only in
    /// 5.0 with a Topic Alias property.
    pub topic: TopicName<'a>,
    /// PUBLISH properties (5.0).
    pub properties: Properties<'a>,
    /// The application payload.
    pub payload: &'a [u8],
}

/// `name` (which starts at `packet[at..]`) as `&str`, or `None` if it is not UTF-8.
///
/// `core::str::from_utf8` checks a machine word at a time only from an aligned address,
/// and byte by byte before it; a topic starts 4 or 5 bytes into its packet, rarely on
/// one. When the bytes from the aligned address before the topic are in the packet and
/// ASCII (the fixed header and topic length of a short packet), the check runs over them
/// and the topic together and the topic is cut out after: an ASCII prefix ends on a char
/// boundary, so the two are valid together exactly when the topic is. A 30-byte topic at
/// offset 4 of an aligned packet: 8.3 -> 6.3 ns. Not on bare metal, where the code size
/// counts more.
#[inline(always)]
fn topic_str<'a>(packet: &'a [u8], at: usize, name: &'a [u8]) -> Option<&'a str> {
    if !crate::codec::BYTEWISE {
        // How far back the aligned address is (a pointer's address, read, not used).
        let back = (name.as_ptr() as usize) % core::mem::size_of::<usize>();
        if back > 0
            && let Some(start) = at.checked_sub(back)
            && let Some(prefix) = packet.get(start..at)
            && prefix.is_ascii()
            && let Some(window) = packet.get(start..at + name.len())
        {
            return core::str::from_utf8(window).ok()?.get(back..);
        }
    }
    core::str::from_utf8(name).ok()
}

impl<'a> Publish<'a> {
    /// Decodes the body of a PUBLISH straight into a [`Decoded`] that says `consumed`.
    ///
    /// Written flat, every failure returning at once: the value is assembled in one
    /// place from values in registers (the 3.1.1 and 5.0 ends each build their own),
    /// never as an intermediate `Result<Publish>` stored in pieces and loaded back whole,
    /// which cost store-forwarding stalls worth a third of the decode.
    ///
    /// `packet` is the whole packet and the body starts at `body_at` (0 when only the
    /// body is at hand): the header bytes before it let the topic's UTF-8 check start
    /// from an aligned address ([`topic_str`]).
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn decode_body(
        flags: u8,
        packet: &'a [u8],
        body_at: usize,
        v: ProtocolVersion,
        consumed: usize,
    ) -> Result<Decoded<'a>, DecodeError> {
        let Some(body) = packet.get(body_at..) else {
            return Err(DecodeError::Truncated);
        };
        let dup = flags & 0b1000 != 0;
        let retain = flags & 0b0001 != 0;
        let qos = match (flags >> 1) & 0b11 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            _ => return Err(DecodeError::InvalidQoS), // [MQTT-3.3.1-4]
        };
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0); // [MQTT-3.3.1-2]
        }
        let [a, b, ref rest @ ..] = *body else {
            return Err(DecodeError::Truncated);
        };
        let Some((name, rest)) = rest.split_at_checked(usize::from(u16::from_be_bytes([a, b])))
        else {
            return Err(DecodeError::Truncated);
        };
        let Some(topic) = topic_str(packet, body_at + 2, name) else {
            return Err(DecodeError::InvalidUtf8);
        };
        // One pass for NUL and wildcards together; which of them, only on failure.
        if nul_or_wildcard(name) {
            if has_nul(name) {
                return Err(DecodeError::NullCharacter);
            }
            return Err(DecodeError::InvalidTopicName); // [MQTT-3.3.2-2]
        }
        let (qos, rest) = match qos {
            QoS::AtMostOnce => (QosPid::AtMostOnce, rest),
            q => {
                let [a, b, ref rest @ ..] = *rest else {
                    return Err(DecodeError::Truncated);
                };
                let Some(id) = PacketId::new(u16::from_be_bytes([a, b])) else {
                    return Err(DecodeError::ZeroPacketId); // [MQTT-2.3.1-1]
                };
                let qos = if q == QoS::AtLeastOnce {
                    QosPid::AtLeastOnce(id)
                } else {
                    QosPid::ExactlyOnce(id)
                };
                (qos, rest)
            }
        };
        if v.is_v5() {
            return Self::decode_v5_tail(dup, qos, retain, topic, rest, consumed);
        }
        // 3.1.1 has no Topic Alias, so the topic name may not be empty.
        if topic.is_empty() {
            return Err(DecodeError::InvalidTopicName);
        }
        // The payload is the rest of the body, so no trailing bytes can remain.
        Ok(Decoded::Packet {
            packet: Packet::Publish(Publish {
                dup,
                qos,
                retain,
                topic: TopicName::new_unchecked(topic),
                properties: Properties::empty(),
                payload: rest,
            }),
            consumed,
        })
    }

    /// The 5.0 end of [`Publish::decode_body`]: the property block, then the value. Out of
    /// line off bare metal, so that the 3.1.1 path keeps its registers (the property
    /// reader inlined here made the whole decode's frame and spills).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    #[cfg_attr(target_os = "none", inline)]
    fn decode_v5_tail(
        dup: bool,
        qos: QosPid,
        retain: bool,
        topic: &'a str,
        rest: &'a [u8],
        consumed: usize,
    ) -> Result<Decoded<'a>, DecodeError> {
        let mut r = Reader::new(rest);
        let properties = Properties::read_inline(&mut r, PropertyContext::Publish)?;
        // An empty topic name needs a Topic Alias (5.0 §3.3.2.1).
        if topic.is_empty() && properties.topic_alias().is_none() {
            return Err(DecodeError::InvalidTopicName);
        }
        Ok(Decoded::Packet {
            packet: Packet::Publish(Publish {
                dup,
                qos,
                retain,
                topic: TopicName::new_unchecked(topic),
                properties,
                payload: r.rest(),
            }),
            consumed,
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos.qos() as u8) << 1) | u8::from(self.retain)
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        if self.dup && self.qos == QosPid::AtMostOnce {
            return Err(EncodeError::DupWithQoS0); // [MQTT-3.3.1-2]
        }
        // A non-empty name was checked where it was made.
        if self.topic.is_empty() && !(v.is_v5() && self.properties.topic_alias().is_some()) {
            return Err(EncodeError::InvalidTopicName);
        }
        super::no_props_before_v5(&self.properties, v)?;
        let mut len = 2 + self.topic.len() + self.payload.len();
        if self.qos != QosPid::AtMostOnce {
            len += 2;
        }
        if v.is_v5() {
            sz.props = self.properties.checked_len(PropertyContext::Publish)?;
            len += super::block(sz.props);
        }
        Ok(len)
    }

    /// `Packet::encode` of this PUBLISH: the same checks in the same order, the same bytes.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn encode_slice(
        &self,
        v: ProtocolVersion,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        // On bare metal the one general path, where flash counts more than nanoseconds.
        if v.is_v5() || !self.properties.is_empty() || cfg!(target_os = "none") {
            return self.encode_slice_general(v, buf);
        }
        // The same checks and length as every other path.
        let body = self.check_len(v, &mut super::Sizes::default())?;
        if body > varint::MAX as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        let topic = self.topic.as_bytes();
        let id = self.qos.packet_id();
        let (word, n) = if body < 128 {
            (body as u32, 1)
        } else {
            varint::encode_word(body as u32)
        };
        let required = 1 + n + body;
        let Some(out) = buf.get_mut(..required) else {
            return Err(EncodeError::BufferTooSmall { required });
        };
        // Every split below fits by the arithmetic above; should one not, the result is
        // an error, never bytes left unwritten.
        let short = Err(EncodeError::BufferTooSmall { required });
        // The fixed header as one 5-byte store (the packet is at least 5 bytes: a
        // non-empty topic); the bytes past the remaining length are overwritten below.
        let [a, b, c, d] = word.to_le_bytes();
        let Some(h) = out.first_chunk_mut::<5>() else {
            return short;
        };
        *h = [(PacketType::Publish as u8) << 4 | self.flags(), a, b, c, d];
        let Some((len, rest)) = out
            .get_mut(1 + n..)
            .and_then(|r| r.split_first_chunk_mut::<2>())
        else {
            return short;
        };
        *len = (topic.len() as u16).to_be_bytes();
        let Some((name, mut rest)) = rest.split_at_mut_checked(topic.len()) else {
            return short;
        };
        crate::codec::copy(name, topic);
        if let Some(id) = id {
            let Some((pid, r)) = rest.split_first_chunk_mut::<2>() else {
                return short;
            };
            *pid = id.get().to_be_bytes();
            rest = r;
        }
        if rest.len() != self.payload.len() {
            return short;
        }
        crate::codec::copy(rest, self.payload);
        Ok(required)
    }

    /// [`Publish::encode_slice`] with properties, or for 5.0: through the writer
    /// (`encode_framed`).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    #[cfg_attr(target_os = "none", inline)]
    fn encode_slice_general(
        &self,
        v: ProtocolVersion,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        super::encode_framed(
            buf,
            (PacketType::Publish as u8) << 4 | self.flags(),
            |sz| self.check_len(v, sz),
            |w, sz| self.write(w, v, sz),
        )
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_binary(self.topic.as_bytes());
        if let Some(id) = self.qos.packet_id() {
            s.put_u16(id.get());
        }
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
        s.put_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    //! The topic's UTF-8 check from an aligned address ([`topic_str`]) gives what
    //! `core::str::from_utf8` of the topic alone gives, wherever the packet sits.

    extern crate std;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use crate::packet::Decoder;

    /// A 3.1.1 QoS 0 PUBLISH whose topic is `name` (any bytes) and payload `payload`.
    fn packet(name: &[u8], payload: &[u8]) -> Vec<u8> {
        let body = 2 + name.len() + payload.len();
        let mut len = [0u8; 4];
        let n = varint::encode(body as u32, &mut len);
        let mut p = Vec::from([0x30]);
        p.extend_from_slice(&len[..n]);
        p.extend_from_slice(&(name.len() as u16).to_be_bytes());
        p.extend_from_slice(name);
        p.extend_from_slice(payload);
        p
    }

    /// Topics valid and not: ASCII, multi-byte, a continuation byte first, a sequence cut
    /// at the end, a surrogate, an overlong form.
    fn names() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "a",
            "sensors/building-7/floor-3/tem",
            "t/\u{e9}t\u{e9}/\u{1f600}",
            "",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        v.push(b"\x80abc".to_vec());
        v.push(b"abc\xc3".to_vec());
        v.push(b"ab\xed\xa0\x80cd".to_vec());
        v.push(b"ab\xc0\xafcd".to_vec());
        v.push([b'x'; 200].to_vec());
        v
    }

    #[test]
    fn topic_check_from_an_aligned_address_matches_from_utf8_at_every_offset() {
        for name in names() {
            for payload in [&b""[..], &[0x80; 3][..], &[b'p'; 300][..]] {
                let p = packet(&name, payload);
                let want = core::str::from_utf8(&name).ok();
                for offset in 0..16 {
                    let mut buf = Vec::from_iter(core::iter::repeat_n(0xff, offset));
                    buf.extend_from_slice(&p);
                    let packet = &buf[offset..];
                    let at = packet.len() - payload.len() - name.len();
                    assert_eq!(
                        topic_str(packet, at, &packet[at..at + name.len()]),
                        want,
                        "{name:02x?} at offset {offset}"
                    );
                    let got = Decoder::new(ProtocolVersion::V3_1_1).decode(packet);
                    match want {
                        None => assert_eq!(got, Err(DecodeError::InvalidUtf8), "{name:02x?}"),
                        Some("") => assert_eq!(got, Err(DecodeError::InvalidTopicName)),
                        Some(t) => match got {
                            Ok(Decoded::Packet {
                                packet: Packet::Publish(p),
                                ..
                            }) => assert_eq!(p.topic.as_str(), t),
                            other => panic!("{name:02x?} at offset {offset}: {other:?}"),
                        },
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn topic_check_matches_from_utf8_for_any_bytes_and_offset(
            name in proptest::collection::vec(any::<u8>(), 0..40),
            offset in 0usize..16,
            header in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut buf = Vec::from_iter(core::iter::repeat_n(0u8, offset));
            buf.extend_from_slice(&header);
            buf.extend_from_slice(&name);
            let packet = &buf[offset..];
            let at = header.len();
            prop_assert_eq!(
                topic_str(packet, at, &packet[at..]),
                core::str::from_utf8(&name).ok()
            );
        }
    }
}

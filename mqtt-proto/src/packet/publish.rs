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

impl<'a> Publish<'a> {
    /// Decodes the body of a PUBLISH straight into a [`Decoded`] that says `consumed`.
    ///
    /// Written flat, every failure returning at once: the value is assembled in one
    /// place from values in registers (the 3.1.1 and 5.0 ends each build their own),
    /// never as an intermediate `Result<Publish>` stored in pieces and loaded back whole,
    /// which cost store-forwarding stalls worth a third of the decode.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn decode_body(
        flags: u8,
        body: &'a [u8],
        v: ProtocolVersion,
        consumed: usize,
    ) -> Result<Decoded<'a>, DecodeError> {
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
        let Ok(topic) = core::str::from_utf8(name) else {
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
            let mut r = Reader::new(rest);
            let properties = Properties::read_inline(&mut r, PropertyContext::Publish)?;
            // An empty topic name needs a Topic Alias (5.0 §3.3.2.1).
            if topic.is_empty() && properties.topic_alias().is_none() {
                return Err(DecodeError::InvalidTopicName);
            }
            return Ok(Decoded::Packet {
                packet: Packet::Publish(Publish {
                    dup,
                    qos,
                    retain,
                    topic: TopicName::new_unchecked(topic),
                    properties,
                    payload: r.rest(),
                }),
                consumed,
            });
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

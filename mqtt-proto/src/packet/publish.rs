//! PUBLISH (MQTT 5.0 §3.3, 3.1.1 §3.3): an application message, in either direction.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::property::{Properties, PropertyContext};
use crate::topic;
use crate::version::{ProtocolVersion, QoS, QosPid};

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
    /// Topic name; empty only in 5.0 with a Topic Alias property.
    pub topic: &'a str,
    /// PUBLISH properties (5.0).
    pub properties: Properties<'a>,
    /// The application payload.
    pub payload: &'a [u8],
}

impl<'a> Publish<'a> {
    #[inline]
    pub(crate) fn read(
        flags: u8,
        r: &mut Reader<'a>,
        v: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let retain = flags & 0b0001 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11)?; // [MQTT-3.3.1-4]
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0); // [MQTT-3.3.1-2]
        }
        // One pass for UTF-8, one for NUL and wildcards together.
        let (topic, found) = r.string_scan()?;
        if found.wildcard {
            return Err(DecodeError::InvalidTopicName); // [MQTT-3.3.2-2]
        }
        let qos = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(super::read_packet_id(r)?),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(super::read_packet_id(r)?),
        };
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Publish)?
        } else {
            Properties::empty()
        };
        // An empty topic name needs a Topic Alias (5.0 §3.3.2.1).
        if topic.is_empty() && properties.topic_alias().is_none() {
            return Err(DecodeError::InvalidTopicName);
        }
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            properties,
            payload: r.rest(),
        })
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos.qos() as u8) << 1) | u8::from(self.retain)
    }

    #[inline]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        if self.dup && self.qos == QosPid::AtMostOnce {
            return Err(EncodeError::DupWithQoS0); // [MQTT-3.3.1-2]
        }
        if self.topic.is_empty() {
            if !(v.is_v5() && self.properties.topic_alias().is_some()) {
                return Err(EncodeError::InvalidTopicName);
            }
        } else {
            topic::validate_topic_name(self.topic).map_err(|_| EncodeError::InvalidTopicName)?;
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

    #[inline]
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

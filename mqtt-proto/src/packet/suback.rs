//! SUBACK (MQTT 5.0 §3.9): one reason code per requested filter, in order.

use crate::codec::Reader;
use crate::error::DecodeError;
use crate::list::List;
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason_code::{self, ReasonCode};
use crate::version::{PacketId, ProtocolVersion};
// Only a server sends this packet: its encoder is there with `encode-server`.
#[cfg(feature = "encode-server")]
use crate::{codec::Sink, error::EncodeError};

/// SUBACK. 3.1.1 return codes 0x00-0x02 and 0x80 read as Granted QoS 0-2 and Unspecified error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubAck<'a> {
    /// Identifier of the SUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// Properties (5.0): reason string, user properties.
    pub properties: Properties<'a>,
    /// One code per filter of the SUBSCRIBE, in order [MQTT-3.9.3-1].
    pub reason_codes: List<'a, ReasonCode>,
}

impl<'a> SubAck<'a> {
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = super::read_packet_id(r)?;
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::SubAck)?
        } else {
            Properties::empty()
        };
        let reason_codes = reason_code::read_codes(r.rest(), PacketType::SubAck, v)?;
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    #[cfg(feature = "encode-server")]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        reason_code::check_codes(&self.reason_codes, PacketType::SubAck, v)?;
        super::no_props_before_v5(&self.properties, v)?;
        sz.props = self.properties.checked_len(PropertyContext::SubAck)?;
        Ok(2 + self.reason_codes.len() + if v.is_v5() { super::block(sz.props) } else { 0 })
    }

    #[cfg(feature = "encode-server")]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
        self.reason_codes.write(s, v);
    }
}

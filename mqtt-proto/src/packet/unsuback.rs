//! UNSUBACK (MQTT 5.0 §3.11): in 5.0 one reason code per filter; in 3.1.1 just the id.

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

/// UNSUBACK. Before 5.0 `reason_codes` is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnsubAck<'a> {
    /// Identifier of the UNSUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// Properties (5.0): reason string, user properties.
    pub properties: Properties<'a>,
    /// One code per filter (5.0), in order [MQTT-3.11.3-1].
    pub reason_codes: List<'a, ReasonCode>,
}

impl<'a> UnsubAck<'a> {
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = super::read_packet_id(r)?;
        if !v.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                properties: Properties::empty(),
                reason_codes: List::empty(),
            });
        }
        let properties = Properties::read(r, PropertyContext::UnsubAck)?;
        let reason_codes = reason_code::read_codes(r.rest(), PacketType::UnsubAck, v)?;
        Ok(UnsubAck {
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
        if !v.is_v5() {
            super::no_props_before_v5(&self.properties, v)?;
            return if self.reason_codes.is_empty() {
                Ok(2)
            } else {
                Err(EncodeError::NotInVersion)
            };
        }
        reason_code::check_codes(&self.reason_codes, PacketType::UnsubAck, v)?;
        sz.props = self.properties.checked_len(PropertyContext::UnsubAck)?;
        Ok(2 + super::block(sz.props) + self.reason_codes.len())
    }

    #[cfg(feature = "encode-server")]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
            self.reason_codes.write(s, v);
        }
    }
}

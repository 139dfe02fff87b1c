//! PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5.0 §3.4-3.7): one shape, four packet types.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason_code::ReasonCode;
use crate::version::{PacketId, ProtocolVersion};

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP; the [`super::Packet`] variant says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ack<'a> {
    /// The identifier of the PUBLISH this acknowledges.
    pub packet_id: PacketId,
    /// `Success` in 3.1.1; in 5.0 a code from the packet's table.
    pub reason_code: ReasonCode,
    /// Properties (5.0): reason string and user properties.
    pub properties: Properties<'a>,
}

impl<'a> Ack<'a> {
    /// A successful acknowledgement of `packet_id` with no properties.
    pub const fn new(packet_id: PacketId) -> Self {
        Ack {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: Properties::empty(),
        }
    }

    #[inline]
    pub(crate) fn read(
        r: &mut Reader<'a>,
        v: ProtocolVersion,
        t: PacketType,
    ) -> Result<Self, DecodeError> {
        let packet_id = super::read_packet_id(r)?;
        // 5.0: the reason code and properties may be left out (§3.4.2.1).
        if !v.is_v5() || r.is_empty() {
            return Ok(Ack::new(packet_id));
        }
        let reason_code = ReasonCode::decode_v5(r.u8()?, t)?;
        let properties = if r.is_empty() {
            Properties::empty()
        } else {
            Properties::read(r, PropertyContext::PubResponse)?
        };
        Ok(Ack {
            packet_id,
            reason_code,
            properties,
        })
    }

    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        t: PacketType,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        self.reason_code.wire_byte(t, v).ok_or(if v.is_v5() {
            EncodeError::InvalidReasonCode(self.reason_code as u8)
        } else {
            EncodeError::NotInVersion
        })?;
        super::no_props_before_v5(&self.properties, v)?;
        sz.props = self.properties.checked_len(PropertyContext::PubResponse)?;
        Ok(
            match (v.is_v5(), self.reason_code, self.properties.is_empty()) {
                (false, ..) | (true, ReasonCode::Success, true) => 2,
                (true, _, true) => 3,
                (true, _, false) => 3 + super::block(sz.props),
            },
        )
    }

    pub(crate) fn write<S: Sink>(
        &self,
        s: &mut S,
        v: ProtocolVersion,
        _t: PacketType,
        sz: &super::Sizes,
    ) {
        s.put_u16(self.packet_id.get());
        if !v.is_v5() || (self.reason_code == ReasonCode::Success && self.properties.is_empty()) {
            return;
        }
        s.put_u8(self.reason_code as u8);
        if !self.properties.is_empty() {
            self.properties.write_sized(s, sz.props);
        }
    }
}

//! CONNACK (MQTT 5.0 §3.2, 3.1.1 §3.2): the server's answer to CONNECT.

use crate::codec::Reader;
use crate::error::DecodeError;
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;
// Only a server sends this packet: its encoder is there with `encode-server`.
#[cfg(feature = "encode-server")]
use crate::{codec::Sink, error::EncodeError};

/// CONNACK. A 3.1.1 return code is mapped to the 5.0 reason code of the same meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnAck<'a> {
    /// The server holds a session for this client.
    pub session_present: bool,
    /// `Success`, or why the connection is refused.
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0): limits and assignments of the server.
    pub properties: Properties<'a>,
}

impl<'a> ConnAck<'a> {
    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        if flags & 0xfe != 0 {
            return Err(DecodeError::InvalidConnAckFlags); // [MQTT-3.2.2-1]
        }
        let code = r.u8()?;
        let reason_code = if v.is_v5() {
            ReasonCode::decode_v5(code, PacketType::ConnAck)?
        } else {
            ReasonCode::from_connack_v3(code)?
        };
        let session_present = flags & 1 != 0;
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::InvalidConnAckFlags); // session present only on success
        }
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::ConnAck)?
        } else {
            Properties::empty()
        };
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }

    #[cfg(feature = "encode-server")]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        self.reason_code
            .wire_byte(PacketType::ConnAck, v)
            .ok_or(EncodeError::InvalidReasonCode(self.reason_code as u8))?;
        // Session Present is 0 with a failure code [MQTT-3.2.2-6]; the decoder refuses it too.
        if self.session_present && self.reason_code != ReasonCode::Success {
            return Err(EncodeError::SessionPresentOnFailure);
        }
        super::no_props_before_v5(&self.properties, v)?;
        sz.props = self.properties.checked_len(PropertyContext::ConnAck)?;
        Ok(2 + if v.is_v5() { super::block(sz.props) } else { 0 })
    }

    #[cfg(feature = "encode-server")]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_u8(u8::from(self.session_present));
        s.put_u8(
            self.reason_code
                .wire_byte(PacketType::ConnAck, v)
                .unwrap_or(0x80),
        );
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
    }
}

//! DISCONNECT (MQTT 5.0 §3.14): the last packet on a connection, from either side in 5.0.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// DISCONNECT. Before 5.0 it has no body: `Success` and no properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Disconnect<'a> {
    /// Why the connection ends; `Success` is a normal disconnection.
    pub reason_code: ReasonCode,
    /// Properties (5.0): session expiry, reason string, server reference, user properties.
    pub properties: Properties<'a>,
}

impl<'a> Disconnect<'a> {
    /// A normal disconnection.
    pub const fn normal() -> Self {
        Disconnect {
            reason_code: ReasonCode::Success,
            properties: Properties::empty(),
        }
    }

    /// A disconnection with `reason_code` and no properties.
    pub const fn with_reason(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Properties::empty(),
        }
    }

    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        if !v.is_v5() || r.is_empty() {
            return Ok(Disconnect::normal());
        }
        let reason_code = ReasonCode::decode_v5(r.u8()?, PacketType::Disconnect)?;
        let properties = if r.is_empty() {
            Properties::empty()
        } else {
            Properties::read(r, PropertyContext::Disconnect)?
        };
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        if !v.is_v5() {
            super::no_props_before_v5(&self.properties, v)?;
            return if self.reason_code == ReasonCode::Success {
                Ok(0)
            } else {
                Err(EncodeError::NotInVersion)
            };
        }
        if !self.reason_code.allowed_in(PacketType::Disconnect) {
            return Err(EncodeError::InvalidReasonCode(self.reason_code as u8));
        }
        sz.props = self.properties.checked_len(PropertyContext::Disconnect)?;
        Ok(match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => 0,
            (_, true) => 1,
            (_, false) => 1 + super::block(sz.props),
        })
    }

    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        if !v.is_v5() || (self.reason_code == ReasonCode::Success && self.properties.is_empty()) {
            return;
        }
        s.put_u8(self.reason_code as u8);
        if !self.properties.is_empty() {
            self.properties.write_sized(s, sz.props);
        }
    }
}

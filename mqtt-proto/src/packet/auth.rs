//! AUTH (MQTT 5.0 §3.15): a step of enhanced authentication or re-authentication.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext, PropertyId};
use crate::reason_code::ReasonCode;
use crate::version::ProtocolVersion;

/// AUTH (5.0 only). Authentication data in the properties is never printed by `Debug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Auth<'a> {
    /// `Success`, `ContinueAuthentication` or `ReAuthenticate` [MQTT-3.15.2-1].
    pub reason_code: ReasonCode,
    /// Authentication method and data, reason string, user properties.
    pub properties: Properties<'a>,
}

impl<'a> Auth<'a> {
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        if r.is_empty() {
            return Ok(Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::empty(),
            });
        }
        let reason_code = ReasonCode::decode_v5(r.u8()?, PacketType::Auth)?;
        let properties = if r.is_empty() {
            Properties::empty()
        } else {
            Properties::read(r, PropertyContext::Auth)?
        };
        // An AUTH that carries properties names its method (MQTT 5.0 §3.15.2.2.2).
        if !properties.is_empty() && properties.authentication_method().is_none() {
            return Err(DecodeError::MissingProperty(
                PropertyId::AuthenticationMethod as u8,
            ));
        }
        Ok(Auth {
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
            return Err(EncodeError::NotInVersion);
        }
        if !self.reason_code.allowed_in(PacketType::Auth) {
            return Err(EncodeError::InvalidReasonCode(self.reason_code as u8));
        }
        sz.props = self.properties.checked_len(PropertyContext::Auth)?;
        if !self.properties.is_empty() && self.properties.authentication_method().is_none() {
            return Err(EncodeError::MissingProperty(
                PropertyId::AuthenticationMethod as u8,
            ));
        }
        Ok(match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => 0,
            (_, true) => 1,
            (_, false) => 1 + super::block(sz.props),
        })
    }

    pub(crate) fn write<S: Sink>(&self, s: &mut S, sz: &super::Sizes) {
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            return;
        }
        s.put_u8(self.reason_code as u8);
        if !self.properties.is_empty() {
            self.properties.write_sized(s, sz.props);
        }
    }
}

//! Protocol versions and QoS: the small values that the whole codec consults.

use crate::error::DecodeError;

/// The MQTT protocol level. One codec serves all three; the level is a value it consults
/// where the wire differs (properties, reason codes, flags), never a second module tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol level 3, protocol name "MQIsdp".
    V3_1,
    /// MQTT 3.1.1, protocol level 4.
    V3_1_1,
    /// MQTT 5.0, protocol level 5 (with the `v5` feature, on by default).
    #[cfg(feature = "v5")]
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte sent in CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            #[cfg(feature = "v5")]
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a protocol level byte.
    pub const fn from_level(level: u8) -> Result<Self, DecodeError> {
        match level {
            3 => Ok(ProtocolVersion::V3_1),
            4 => Ok(ProtocolVersion::V3_1_1),
            #[cfg(feature = "v5")]
            5 => Ok(ProtocolVersion::V5),
            other => Err(DecodeError::UnsupportedProtocolLevel(other)),
        }
    }

    /// The protocol name CONNECT carries for this level.
    pub const fn protocol_name(self) -> &'static str {
        match self {
            ProtocolVersion::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    /// True for MQTT 5.0, where packets carry properties and reason codes. Without the
    /// `v5` feature it is `false`, and every 5.0 path compiles away.
    #[inline]
    pub const fn is_v5(self) -> bool {
        #[cfg(feature = "v5")]
        return matches!(self, ProtocolVersion::V5);
        #[cfg(not(feature = "v5"))]
        {
            let _ = self;
            false
        }
    }
}

/// Quality of service of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum QoS {
    /// At most once: no acknowledgement.
    AtMostOnce = 0,
    /// At least once: PUBLISH, PUBACK.
    AtLeastOnce = 1,
    /// Exactly once: PUBLISH, PUBREC, PUBREL, PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its two-bit value; 3 is [`DecodeError::InvalidQoS`] [MQTT-3.3.1-4].
    #[inline]
    pub const fn from_u8(v: u8) -> Result<Self, DecodeError> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            _ => Err(DecodeError::InvalidQoS),
        }
    }
}

/// A packet identifier: never 0 [MQTT-2.3.1-1], so a zero id cannot be represented.
pub type PacketId = core::num::NonZeroU16;

/// The QoS of a PUBLISH together with its packet identifier, which exists exactly when QoS > 0
/// [MQTT-2.3.1-5]: a QoS 1 PUBLISH without an id cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QosPid {
    /// QoS 0, no packet identifier.
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// The QoS level.
    #[inline]
    pub const fn qos(self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, if QoS > 0.
    #[inline]
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(id) | QosPid::ExactlyOnce(id) => Some(id),
        }
    }
}

#[cfg(all(test, not(feature = "v5")))]
mod without_v5 {
    use super::*;
    use crate::Decoder;

    /// Without the `v5` feature level 5 is unknown: a 5.0 CONNECT is refused with
    /// `UnsupportedProtocolLevel(5)`, never read as 3.1.1 (with `decode-connect`; without
    /// it every CONNECT is refused by its type, see `packet::without_decode_connect`).
    #[test]
    fn level_5_is_unsupported_without_the_v5_feature() {
        assert_eq!(
            ProtocolVersion::from_level(5),
            Err(DecodeError::UnsupportedProtocolLevel(5))
        );
        // CONNECT, protocol "MQTT" level 5, clean start, keep alive 60, no properties,
        // empty client id.
        let connect = [
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00,
            0x00,
        ];
        let r = Decoder::new(ProtocolVersion::V3_1_1).decode(&connect);
        let refused = if cfg!(feature = "decode-connect") {
            DecodeError::UnsupportedProtocolLevel(5)
        } else {
            DecodeError::InvalidPacketType(1)
        };
        assert_eq!(r.err(), Some(refused));
        assert!(!ProtocolVersion::V3_1_1.is_v5());
    }
}

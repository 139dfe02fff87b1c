//! Reason codes (MQTT 5.0 §2.4) and the MQTT 3.1.1 return codes mapped onto them.
//!
//! One enum holds every code; which codes a packet may carry is checked by
//! [`ReasonCode::allowed_in`]. A 3.1.1 CONNACK return code or SUBACK return code
//! decodes to the 5.0 code of the same meaning, so callers handle one set.

use crate::error::DecodeError;
use crate::packet::PacketType;
use crate::version::ProtocolVersion;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $val:literal, )*) => {
        /// An MQTT 5.0 reason code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $val, )*
        }

        impl ReasonCode {
            /// The code for a byte, or `None` if MQTT 5.0 defines no such code.
            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $( $val => Some(ReasonCode::$name), )*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    /// Success; also Normal disconnection and Granted QoS 0.
    Success = 0x00,
    /// Granted QoS 1 (SUBACK).
    GrantedQoS1 = 0x01,
    /// Granted QoS 2 (SUBACK).
    GrantedQoS2 = 0x02,
    /// Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04,
    /// No matching subscribers (PUBACK/PUBREC).
    NoMatchingSubscribers = 0x10,
    /// No subscription existed (UNSUBACK).
    NoSubscriptionExisted = 0x11,
    /// Continue authentication (AUTH).
    ContinueAuthentication = 0x18,
    /// Re-authenticate (AUTH).
    ReAuthenticate = 0x19,
    /// Unspecified error; also the 3.1.1 SUBACK failure 0x80.
    UnspecifiedError = 0x80,
    /// Malformed Packet.
    MalformedPacket = 0x81,
    /// Protocol Error.
    ProtocolError = 0x82,
    /// Implementation specific error.
    ImplementationSpecificError = 0x83,
    /// Unsupported Protocol Version (3.1.1 CONNACK 1).
    UnsupportedProtocolVersion = 0x84,
    /// Client Identifier not valid (3.1.1 CONNACK 2).
    ClientIdentifierNotValid = 0x85,
    /// Bad User Name or Password (3.1.1 CONNACK 4).
    BadUserNameOrPassword = 0x86,
    /// Not authorized (3.1.1 CONNACK 5).
    NotAuthorized = 0x87,
    /// Server unavailable (3.1.1 CONNACK 3).
    ServerUnavailable = 0x88,
    /// Server busy.
    ServerBusy = 0x89,
    /// Banned.
    Banned = 0x8A,
    /// Server shutting down.
    ServerShuttingDown = 0x8B,
    /// Bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// Keep Alive timeout.
    KeepAliveTimeout = 0x8D,
    /// Session taken over.
    SessionTakenOver = 0x8E,
    /// Topic Filter invalid.
    TopicFilterInvalid = 0x8F,
    /// Topic Name invalid.
    TopicNameInvalid = 0x90,
    /// Packet Identifier in use.
    PacketIdentifierInUse = 0x91,
    /// Packet Identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// Topic Alias invalid.
    TopicAliasInvalid = 0x94,
    /// Packet too large.
    PacketTooLarge = 0x95,
    /// Message rate too high.
    MessageRateTooHigh = 0x96,
    /// Quota exceeded.
    QuotaExceeded = 0x97,
    /// Administrative action.
    AdministrativeAction = 0x98,
    /// Payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// Retain not supported.
    RetainNotSupported = 0x9A,
    /// QoS not supported.
    QoSNotSupported = 0x9B,
    /// Use another server.
    UseAnotherServer = 0x9C,
    /// Server moved.
    ServerMoved = 0x9D,
    /// Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// Connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// Maximum connect time.
    MaximumConnectTime = 0xA0,
    /// Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

const CONNACK: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL: &[u8] = &[0x00, 0x92];
const SUBACK: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

impl ReasonCode {
    /// True for codes 0x80 and above, which report a failure.
    #[inline]
    pub const fn is_error(self) -> bool {
        self as u8 >= 0x80
    }

    /// Whether MQTT 5.0 lets packet type `packet` carry this code
    /// ([MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1], [MQTT-3.9.3-2],
    /// [MQTT-3.11.3-2], [MQTT-3.14.2-1], [MQTT-3.15.2-1]).
    pub fn allowed_in(self, packet: PacketType) -> bool {
        let table: &[u8] = match packet {
            PacketType::ConnAck => CONNACK,
            PacketType::PubAck | PacketType::PubRec => PUBACK,
            PacketType::PubRel | PacketType::PubComp => PUBREL,
            PacketType::SubAck => SUBACK,
            PacketType::UnsubAck => UNSUBACK,
            PacketType::Disconnect => DISCONNECT,
            PacketType::Auth => AUTH,
            _ => &[],
        };
        table.contains(&(self as u8))
    }

    /// Reads a reason code for `packet` under MQTT 5.0 rules.
    pub(crate) fn decode_v5(b: u8, packet: PacketType) -> Result<Self, DecodeError> {
        match ReasonCode::from_u8(b) {
            Some(rc) if rc.allowed_in(packet) => Ok(rc),
            _ => Err(DecodeError::InvalidReasonCode(b)),
        }
    }

    /// Maps a 3.1.1 CONNACK return code (0..=5) to its 5.0 equivalent.
    pub const fn from_connack_v3(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            other => return Err(DecodeError::InvalidReasonCode(other)),
        })
    }

    /// The 3.1.1 CONNACK return code for this code, if 3.1.1 has one.
    pub const fn to_connack_v3(self) -> Option<u8> {
        Some(match self {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::ServerUnavailable => 3,
            ReasonCode::BadUserNameOrPassword => 4,
            ReasonCode::NotAuthorized => 5,
            _ => return None,
        })
    }

    /// Reads a 3.1.1 SUBACK return code: 0x00, 0x01, 0x02 or 0x80 [MQTT-3.9.3-2].
    pub(crate) const fn from_suback_v3(b: u8) -> Result<Self, DecodeError> {
        match b {
            0x00 => Ok(ReasonCode::Success),
            0x01 => Ok(ReasonCode::GrantedQoS1),
            0x02 => Ok(ReasonCode::GrantedQoS2),
            0x80 => Ok(ReasonCode::UnspecifiedError),
            other => Err(DecodeError::InvalidReasonCode(other)),
        }
    }

    /// The reason code for a packet of `version`: byte for the wire, or `None` when that version
    /// cannot express it.
    pub(crate) fn wire_byte(self, packet: PacketType, version: ProtocolVersion) -> Option<u8> {
        if version.is_v5() {
            return self.allowed_in(packet).then_some(self as u8);
        }
        match packet {
            PacketType::ConnAck => self.to_connack_v3(),
            PacketType::SubAck => matches!(
                self,
                ReasonCode::Success
                    | ReasonCode::GrantedQoS1
                    | ReasonCode::GrantedQoS2
                    | ReasonCode::UnspecifiedError
            )
            .then_some(self as u8),
            _ => (self == ReasonCode::Success).then_some(0),
        }
    }
}

impl core::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?} ({:#04x})", self, *self as u8)
    }
}

/// Reason codes in SUBACK/UNSUBACK payloads: one byte each. The packet checks which
/// codes its table allows; the item only knows the byte is a code at all.
impl<'a> crate::list::sealed::ItemImpl<'a> for ReasonCode {
    fn read(r: &mut crate::codec::Reader<'a>, _: ProtocolVersion) -> Result<Self, DecodeError> {
        let b = r.u8()?;
        ReasonCode::from_u8(b).ok_or(DecodeError::InvalidReasonCode(b))
    }
    fn wire_len(&self, _: ProtocolVersion) -> usize {
        1
    }
    fn check(&self, _: ProtocolVersion) -> Result<(), crate::error::EncodeError> {
        Ok(())
    }
    fn write<S: crate::codec::Sink>(&self, s: &mut S, _: ProtocolVersion) {
        s.put_u8(*self as u8);
    }
}

/// Reads a SUBACK/UNSUBACK payload: at least one code, each allowed in `packet` under `v`.
pub(crate) fn read_codes<'a>(
    bytes: &'a [u8],
    packet: PacketType,
    v: ProtocolVersion,
) -> Result<crate::list::List<'a, ReasonCode>, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::EmptySubscription);
    }
    for &b in bytes {
        if v.is_v5() {
            ReasonCode::decode_v5(b, packet)?;
        } else {
            ReasonCode::from_suback_v3(b)?;
        }
    }
    // In both versions the wire byte equals the enum value, so the bytes are the list.
    Ok(crate::list::List::wire_unchecked(bytes, v))
}

/// Checks SUBACK/UNSUBACK codes for sending: at least one, each expressible in `packet` under `v`.
#[cfg(feature = "encode-server")]
pub(crate) fn check_codes(
    codes: &crate::list::List<'_, ReasonCode>,
    packet: PacketType,
    v: ProtocolVersion,
) -> Result<(), crate::error::EncodeError> {
    if codes.is_empty() {
        return Err(crate::error::EncodeError::EmptySubscription);
    }
    codes.iter().try_for_each(|c| match c.wire_byte(packet, v) {
        Some(_) => Ok(()),
        None => Err(crate::error::EncodeError::InvalidReasonCode(c as u8)),
    })
}

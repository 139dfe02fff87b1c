//! Typed errors: one variant per class of malformed input or misuse.
//!
//! [`DecodeError`] is a fault of the peer that sent the bytes: the receiver
//! closes the connection, and [`DecodeError::reason_code`] names the MQTT 5.0
//! DISCONNECT reason to send first. [`EncodeError`] is a fault of the caller
//! that built the packet: nothing was written.

use core::fmt;

use crate::reason_code::ReasonCode;

/// Why a byte sequence is not a valid MQTT packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// A variable byte integer has a fifth byte, or the 4th byte has its continuation bit set.
    VarIntTooLong,
    /// A variable byte integer uses more bytes than its value needs [MQTT-1.5.5-1].
    VarIntNotMinimal,
    /// The packet, fixed header included, is larger than the receiver's maximum packet size.
    PacketTooLarge {
        /// Total size announced by the fixed header.
        size: u32,
        /// The limit in force.
        max: u32,
    },
    /// Packet type 0, or AUTH (15) before MQTT 5.0.
    InvalidPacketType(u8),
    /// Fixed-header flag bits differ from the values the spec fixes [MQTT-2.2.2-1].
    InvalidFixedHeaderFlags(u8),
    /// Both QoS bits set [MQTT-3.3.1-4].
    InvalidQoS,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    DupWithQoS0,
    /// A string is not well-formed UTF-8 or holds a surrogate [MQTT-1.5.3-1].
    InvalidUtf8,
    /// A string holds U+0000 [MQTT-1.5.3-2].
    NullCharacter,
    /// A field runs past the end of the packet.
    Truncated,
    /// Bytes remain after the last field of the packet.
    TrailingBytes,
    /// The protocol name is neither "MQTT" nor "MQIsdp" (or does not fit the level).
    InvalidProtocolName,
    /// A protocol level other than 3, 4 or 5.
    UnsupportedProtocolLevel(u8),
    /// CONNECT flags: reserved bit set, will QoS/retain without will, password without user name (3.1.1).
    InvalidConnectFlags,
    /// CONNACK acknowledge flags other than bit 0 set [MQTT-3.2.2-1].
    InvalidConnAckFlags,
    /// A packet identifier of 0 where a non-zero one is required [MQTT-2.3.1-1].
    ZeroPacketId,
    /// A PUBLISH topic name that is empty (without a topic alias), or holds `+` or `#` [MQTT-3.3.2-2].
    InvalidTopicName,
    /// A topic filter that breaks the wildcard rules [MQTT-4.7.1-2] [MQTT-4.7.1-3].
    InvalidTopicFilter,
    /// SUBSCRIBE or UNSUBSCRIBE without a single topic filter [MQTT-3.8.3-3] [MQTT-3.10.3-2].
    EmptySubscription,
    /// Reserved bits of the subscription options set, or QoS 3 [MQTT-3-8.3-4] [MQTT-3.8.3-5].
    InvalidSubscriptionOptions,
    /// A reason (return) code that the packet's table does not list.
    InvalidReasonCode(u8),
    /// A property identifier that MQTT 5.0 does not define.
    UnknownProperty(u8),
    /// A single-valued property that appears twice.
    DuplicateProperty(u8),
    /// A property that this packet may not carry.
    PropertyNotAllowed(u8),
    /// A property whose value is out of its range (a 0 that must be non-zero, a flag not 0/1, ...).
    InvalidPropertyValue(u8),
    /// A property that must accompany another one is absent (an AUTH, or authentication
    /// data, without the Authentication Method).
    MissingProperty(u8),
}

impl DecodeError {
    /// The MQTT 5.0 DISCONNECT reason code a receiver sends before closing.
    ///
    /// Malformed packets map to 0x81, protocol errors to 0x82, oversize to 0x95.
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            // Topic Alias 0 (5.0 §3.3.2.3.4).
            DecodeError::InvalidPropertyValue(0x23) => ReasonCode::TopicAliasInvalid,
            DecodeError::DuplicateProperty(_)
            | DecodeError::PropertyNotAllowed(_)
            | DecodeError::InvalidPropertyValue(_)
            | DecodeError::MissingProperty(_)
            | DecodeError::InvalidPacketType(_)
            | DecodeError::UnsupportedProtocolLevel(_) => ReasonCode::ProtocolError,
            DecodeError::InvalidTopicName => ReasonCode::TopicNameInvalid,
            DecodeError::InvalidTopicFilter => ReasonCode::TopicFilterInvalid,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::VarIntTooLong => f.write_str("variable byte integer longer than 4 bytes"),
            DecodeError::VarIntNotMinimal => {
                f.write_str("variable byte integer not minimally encoded")
            }
            DecodeError::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::InvalidPacketType(t) => write!(f, "invalid packet type {t}"),
            DecodeError::InvalidFixedHeaderFlags(b) => {
                write!(f, "invalid fixed header flags in byte {b:#04x}")
            }
            DecodeError::InvalidQoS => f.write_str("QoS 3 is not a valid QoS"),
            DecodeError::DupWithQoS0 => f.write_str("DUP flag set on a QoS 0 PUBLISH"),
            DecodeError::InvalidUtf8 => f.write_str("string is not well-formed UTF-8"),
            DecodeError::NullCharacter => f.write_str("string contains U+0000"),
            DecodeError::Truncated => f.write_str("field runs past the end of the packet"),
            DecodeError::TrailingBytes => f.write_str("trailing bytes after the last field"),
            DecodeError::InvalidProtocolName => f.write_str("invalid protocol name"),
            DecodeError::UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            DecodeError::InvalidConnectFlags => f.write_str("invalid CONNECT flags"),
            DecodeError::InvalidConnAckFlags => f.write_str("invalid CONNACK flags"),
            DecodeError::ZeroPacketId => f.write_str("packet identifier 0"),
            DecodeError::InvalidTopicName => f.write_str("invalid topic name"),
            DecodeError::InvalidTopicFilter => f.write_str("invalid topic filter"),
            DecodeError::EmptySubscription => {
                f.write_str("no topic filter in SUBSCRIBE/UNSUBSCRIBE")
            }
            DecodeError::InvalidSubscriptionOptions => f.write_str("invalid subscription options"),
            DecodeError::InvalidReasonCode(c) => write!(f, "reason code {c:#04x} not allowed here"),
            DecodeError::UnknownProperty(p) => write!(f, "unknown property {p:#04x}"),
            DecodeError::DuplicateProperty(p) => write!(f, "duplicate property {p:#04x}"),
            DecodeError::PropertyNotAllowed(p) => {
                write!(f, "property {p:#04x} not allowed in this packet")
            }
            DecodeError::InvalidPropertyValue(p) => {
                write!(f, "invalid value for property {p:#04x}")
            }
            DecodeError::MissingProperty(p) => write!(f, "required property {p:#04x} missing"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a packet could not be encoded. Nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is smaller than the encoded packet.
    BufferTooSmall {
        /// Bytes the packet needs.
        required: usize,
    },
    /// The remaining length would exceed 268,435,455 bytes, the most a fixed header can announce.
    PacketTooLarge,
    /// A string or binary field longer than 65,535 bytes.
    FieldTooLong,
    /// A string holds U+0000 [MQTT-1.5.3-2].
    NullCharacter,
    /// A topic name that is empty (an alias-only PUBLISH without a topic alias, or a will)
    /// [MQTT-4.7.3-1]; also what the session and adapters report for a name given as a
    /// string that [`crate::TopicName::new`] refuses [MQTT-3.3.2-2].
    InvalidTopicName,
    /// A filter given as a string that [`crate::TopicFilter::new`] refuses (the session and
    /// adapters report it; a [`crate::TopicFilter`] in a packet is valid by construction)
    /// [MQTT-4.7.1-2] [MQTT-4.8.2-2].
    InvalidTopicFilter,
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter [MQTT-3.8.3-3].
    EmptySubscription,
    /// A feature of MQTT 5.0 (properties, a non-success reason code, AUTH, subscription options)
    /// used with an earlier protocol version.
    NotInVersion,
    /// A CONNECT whose own protocol version differs from the one asked for.
    VersionMismatch,
    /// A reason code that this packet type may not carry.
    InvalidReasonCode(u8),
    /// A property that this packet may not carry, or a second copy of a single-valued one.
    PropertyNotAllowed(u8),
    /// A property value out of its range.
    InvalidPropertyValue(u8),
    /// A password without a user name, which MQTT 3.1.1 forbids [MQTT-3.1.2-22].
    PasswordWithoutUserName,
    /// A zero-length client identifier with clean session off (MQTT 3.1.1) [MQTT-3.1.3-7].
    EmptyClientIdWithSession,
    /// No Local on a shared subscription [MQTT-3.8.3-4].
    NoLocalOnSharedSubscription,
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    DupWithQoS0,
    /// A CONNACK with Session Present set and a failure code [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]).
    SessionPresentOnFailure,
    /// Authentication data (or an AUTH with properties) without the Authentication Method.
    MissingProperty(u8),
    /// A CONNACK, SUBACK or UNSUBACK, which only a server sends, given to a codec built
    /// without the `encode-server` feature (a client's build leaves their encoders out).
    ServerOnly,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            EncodeError::PacketTooLarge => f.write_str("packet exceeds 268,435,455 bytes"),
            EncodeError::FieldTooLong => f.write_str("string or binary field exceeds 65,535 bytes"),
            EncodeError::NullCharacter => f.write_str("string contains U+0000"),
            EncodeError::InvalidTopicName => f.write_str("invalid topic name"),
            EncodeError::InvalidTopicFilter => f.write_str("invalid topic filter"),
            EncodeError::EmptySubscription => f.write_str("no topic filter"),
            EncodeError::NotInVersion => {
                f.write_str("MQTT 5.0 feature used with an earlier version")
            }
            EncodeError::VersionMismatch => {
                f.write_str("CONNECT protocol version differs from the one requested")
            }
            EncodeError::InvalidReasonCode(c) => {
                write!(f, "reason code {c:#04x} not allowed in this packet")
            }
            EncodeError::PropertyNotAllowed(p) => {
                write!(
                    f,
                    "property {p:#04x} not allowed (or repeated) in this packet"
                )
            }
            EncodeError::InvalidPropertyValue(p) => {
                write!(f, "invalid value for property {p:#04x}")
            }
            EncodeError::PasswordWithoutUserName => {
                f.write_str("MQTT 3.1.1 forbids a password without a user name")
            }
            EncodeError::EmptyClientIdWithSession => {
                f.write_str("MQTT 3.1.1 forbids an empty client id with clean session off")
            }
            EncodeError::NoLocalOnSharedSubscription => {
                f.write_str("No Local set on a shared subscription")
            }
            EncodeError::DupWithQoS0 => f.write_str("DUP flag set on a QoS 0 PUBLISH"),
            EncodeError::MissingProperty(p) => write!(f, "required property {p:#04x} missing"),
            EncodeError::SessionPresentOnFailure => {
                f.write_str("Session Present set on a CONNACK that refuses the connection")
            }
            EncodeError::ServerOnly => {
                f.write_str("a server's packet, and the codec was built without encode-server")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

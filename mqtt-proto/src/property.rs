//! MQTT 5.0 properties (§2.2.2): every identifier with its type, a lazily read view
//! for received packets, and the placement rules of which packet may carry which.
//!
//! Decoding checks every property once: identifier known, allowed in this packet,
//! value in range, single-valued ones not repeated. [`Properties`] then keeps the
//! bytes and reads values on demand. Authentication data and user-supplied
//! correlation data are binary and borrowed; `Debug` never prints authentication data.

use core::fmt;

/// The version properties are read and written in: 5.0. Without the `v5` feature no
/// property is ever read or written (only 5.0 packets carry them); 3.1.1 stands in.
#[cfg(feature = "v5")]
const PROPERTY_VERSION: ProtocolVersion = ProtocolVersion::V5;
#[cfg(not(feature = "v5"))]
const PROPERTY_VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;

use crate::codec::{Reader, Sink, check_binary, check_str, nul_or_non_ascii};
use crate::error::{DecodeError, EncodeError};
use crate::list::{List, sealed::ItemImpl};
use crate::varint;
use crate::version::{ProtocolVersion, QoS};

/// Where a property block stands; each property lists the places it may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u16)]
pub enum PropertyContext {
    /// CONNECT.
    Connect = 1 << 0,
    /// The will properties inside CONNECT.
    Will = 1 << 1,
    /// CONNACK.
    ConnAck = 1 << 2,
    /// PUBLISH.
    Publish = 1 << 3,
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    PubResponse = 1 << 4,
    /// SUBSCRIBE.
    Subscribe = 1 << 5,
    /// SUBACK.
    SubAck = 1 << 6,
    /// UNSUBSCRIBE.
    Unsubscribe = 1 << 7,
    /// UNSUBACK.
    UnsubAck = 1 << 8,
    /// DISCONNECT.
    Disconnect = 1 << 9,
    /// AUTH.
    Auth = 1 << 10,
}

const CONNECT: u16 = PropertyContext::Connect as u16;
const WILL: u16 = PropertyContext::Will as u16;
const CONNACK: u16 = PropertyContext::ConnAck as u16;
const PUBLISH: u16 = PropertyContext::Publish as u16;
const PUBRESP: u16 = PropertyContext::PubResponse as u16;
const SUBSCRIBE: u16 = PropertyContext::Subscribe as u16;
const SUBACK: u16 = PropertyContext::SubAck as u16;
const UNSUBACK: u16 = PropertyContext::UnsubAck as u16;
const DISCONNECT: u16 = PropertyContext::Disconnect as u16;
const AUTH: u16 = PropertyContext::Auth as u16;
const ALL: u16 = 0x07ff;

/// A property identifier (MQTT 5.0 §2.2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

impl PropertyId {
    /// The identifier for a byte, or `None` if 5.0 defines none.
    pub const fn from_u8(b: u8) -> Option<Self> {
        use PropertyId::*;
        Some(match b {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQoS,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            _ => return None,
        })
    }

    /// The packets (as [`PropertyContext`] bits) that may carry this property.
    const fn contexts(self) -> u16 {
        use PropertyId::*;
        match self {
            PayloadFormatIndicator
            | MessageExpiryInterval
            | ContentType
            | ResponseTopic
            | CorrelationData => PUBLISH | WILL,
            SubscriptionIdentifier => PUBLISH | SUBSCRIBE,
            SessionExpiryInterval => CONNECT | CONNACK | DISCONNECT,
            AssignedClientIdentifier
            | ServerKeepAlive
            | ResponseInformation
            | MaximumQoS
            | RetainAvailable => CONNACK,
            WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => CONNACK,
            AuthenticationMethod | AuthenticationData => CONNECT | CONNACK | AUTH,
            RequestProblemInformation | RequestResponseInformation => CONNECT,
            WillDelayInterval => WILL,
            ServerReference => CONNACK | DISCONNECT,
            ReasonString => CONNACK | PUBRESP | SUBACK | UNSUBACK | DISCONNECT | AUTH,
            ReceiveMaximum | TopicAliasMaximum | MaximumPacketSize => CONNECT | CONNACK,
            TopicAlias => PUBLISH,
            UserProperty => ALL,
        }
    }

    /// Whether `ctx` may carry this property.
    pub const fn allowed_in(self, ctx: PropertyContext) -> bool {
        self.contexts() & ctx as u16 != 0
    }

    /// Whether the property may appear more than once in `ctx` (user properties anywhere,
    /// subscription identifiers in a PUBLISH from the server).
    pub const fn repeatable_in(self, ctx: PropertyContext) -> bool {
        match self {
            PropertyId::UserProperty => true,
            PropertyId::SubscriptionIdentifier => matches!(ctx, PropertyContext::Publish),
            _ => false,
        }
    }
}

/// One property with its value, borrowed from the packet.
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Property<'a> {
    /// `true`: the payload is UTF-8 text.
    PayloadFormatIndicator(bool),
    MessageExpiryInterval(u32),
    ContentType(&'a str),
    ResponseTopic(&'a str),
    CorrelationData(&'a [u8]),
    /// 1 to 268,435,455.
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(&'a str),
    ServerKeepAlive(u16),
    AuthenticationMethod(&'a str),
    AuthenticationData(&'a [u8]),
    RequestProblemInformation(bool),
    WillDelayInterval(u32),
    RequestResponseInformation(bool),
    ResponseInformation(&'a str),
    ServerReference(&'a str),
    ReasonString(&'a str),
    /// Non-zero.
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    /// Non-zero.
    TopicAlias(u16),
    /// QoS 0 or 1 (a server supporting 2 omits the property).
    MaximumQoS(QoS),
    RetainAvailable(bool),
    UserProperty(&'a str, &'a str),
    /// Non-zero.
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(bool),
    SubscriptionIdentifierAvailable(bool),
    SharedSubscriptionAvailable(bool),
}

impl fmt::Debug for Property<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Property::*;
        match self {
            // Secrets never reach logs.
            AuthenticationData(d) => write!(f, "AuthenticationData(<{} bytes redacted>)", d.len()),
            PayloadFormatIndicator(v) => f.debug_tuple("PayloadFormatIndicator").field(v).finish(),
            MessageExpiryInterval(v) => f.debug_tuple("MessageExpiryInterval").field(v).finish(),
            ContentType(v) => f.debug_tuple("ContentType").field(v).finish(),
            ResponseTopic(v) => f.debug_tuple("ResponseTopic").field(v).finish(),
            CorrelationData(v) => f.debug_tuple("CorrelationData").field(v).finish(),
            SubscriptionIdentifier(v) => f.debug_tuple("SubscriptionIdentifier").field(v).finish(),
            SessionExpiryInterval(v) => f.debug_tuple("SessionExpiryInterval").field(v).finish(),
            AssignedClientIdentifier(v) => {
                f.debug_tuple("AssignedClientIdentifier").field(v).finish()
            }
            ServerKeepAlive(v) => f.debug_tuple("ServerKeepAlive").field(v).finish(),
            AuthenticationMethod(v) => f.debug_tuple("AuthenticationMethod").field(v).finish(),
            RequestProblemInformation(v) => {
                f.debug_tuple("RequestProblemInformation").field(v).finish()
            }
            WillDelayInterval(v) => f.debug_tuple("WillDelayInterval").field(v).finish(),
            RequestResponseInformation(v) => f
                .debug_tuple("RequestResponseInformation")
                .field(v)
                .finish(),
            ResponseInformation(v) => f.debug_tuple("ResponseInformation").field(v).finish(),
            ServerReference(v) => f.debug_tuple("ServerReference").field(v).finish(),
            ReasonString(v) => f.debug_tuple("ReasonString").field(v).finish(),
            ReceiveMaximum(v) => f.debug_tuple("ReceiveMaximum").field(v).finish(),
            TopicAliasMaximum(v) => f.debug_tuple("TopicAliasMaximum").field(v).finish(),
            TopicAlias(v) => f.debug_tuple("TopicAlias").field(v).finish(),
            MaximumQoS(v) => f.debug_tuple("MaximumQoS").field(v).finish(),
            RetainAvailable(v) => f.debug_tuple("RetainAvailable").field(v).finish(),
            UserProperty(k, v) => f.debug_tuple("UserProperty").field(k).field(v).finish(),
            MaximumPacketSize(v) => f.debug_tuple("MaximumPacketSize").field(v).finish(),
            WildcardSubscriptionAvailable(v) => f
                .debug_tuple("WildcardSubscriptionAvailable")
                .field(v)
                .finish(),
            SubscriptionIdentifierAvailable(v) => f
                .debug_tuple("SubscriptionIdentifierAvailable")
                .field(v)
                .finish(),
            SharedSubscriptionAvailable(v) => f
                .debug_tuple("SharedSubscriptionAvailable")
                .field(v)
                .finish(),
        }
    }
}

/// Like `Debug`: authentication data never reaches a log.
#[cfg(feature = "defmt")]
impl defmt::Format for Property<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        use Property::*;
        match *self {
            AuthenticationData(d) => {
                defmt::write!(f, "AuthenticationData(<{=usize} bytes redacted>)", d.len())
            }
            CorrelationData(d) => defmt::write!(f, "CorrelationData({=[u8]})", d),
            PayloadFormatIndicator(v)
            | RequestProblemInformation(v)
            | RequestResponseInformation(v)
            | RetainAvailable(v)
            | WildcardSubscriptionAvailable(v)
            | SubscriptionIdentifierAvailable(v)
            | SharedSubscriptionAvailable(v) => defmt::write!(f, "{}({=bool})", self.id(), v),
            MessageExpiryInterval(v)
            | SubscriptionIdentifier(v)
            | SessionExpiryInterval(v)
            | WillDelayInterval(v)
            | MaximumPacketSize(v) => defmt::write!(f, "{}({=u32})", self.id(), v),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => {
                defmt::write!(f, "{}({=u16})", self.id(), v)
            }
            ContentType(v)
            | ResponseTopic(v)
            | AssignedClientIdentifier(v)
            | AuthenticationMethod(v)
            | ResponseInformation(v)
            | ServerReference(v)
            | ReasonString(v) => {
                defmt::write!(f, "{}({=str})", self.id(), v)
            }
            MaximumQoS(q) => defmt::write!(f, "MaximumQoS({})", q),
            UserProperty(k, v) => defmt::write!(f, "UserProperty({=str}, {=str})", k, v),
        }
    }
}

fn read_flag(r: &mut Reader<'_>, id: PropertyId) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue(id as u8)),
    }
}

fn non_zero_u16(r: &mut Reader<'_>, id: PropertyId) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::InvalidPropertyValue(id as u8)),
        v => Ok(v),
    }
}

impl<'a> Property<'a> {
    /// The identifier of this property.
    #[inline]
    pub const fn id(&self) -> PropertyId {
        use Property::*;
        match self {
            PayloadFormatIndicator(_) => PropertyId::PayloadFormatIndicator,
            MessageExpiryInterval(_) => PropertyId::MessageExpiryInterval,
            ContentType(_) => PropertyId::ContentType,
            ResponseTopic(_) => PropertyId::ResponseTopic,
            CorrelationData(_) => PropertyId::CorrelationData,
            SubscriptionIdentifier(_) => PropertyId::SubscriptionIdentifier,
            SessionExpiryInterval(_) => PropertyId::SessionExpiryInterval,
            AssignedClientIdentifier(_) => PropertyId::AssignedClientIdentifier,
            ServerKeepAlive(_) => PropertyId::ServerKeepAlive,
            AuthenticationMethod(_) => PropertyId::AuthenticationMethod,
            AuthenticationData(_) => PropertyId::AuthenticationData,
            RequestProblemInformation(_) => PropertyId::RequestProblemInformation,
            WillDelayInterval(_) => PropertyId::WillDelayInterval,
            RequestResponseInformation(_) => PropertyId::RequestResponseInformation,
            ResponseInformation(_) => PropertyId::ResponseInformation,
            ServerReference(_) => PropertyId::ServerReference,
            ReasonString(_) => PropertyId::ReasonString,
            ReceiveMaximum(_) => PropertyId::ReceiveMaximum,
            TopicAliasMaximum(_) => PropertyId::TopicAliasMaximum,
            TopicAlias(_) => PropertyId::TopicAlias,
            MaximumQoS(_) => PropertyId::MaximumQoS,
            RetainAvailable(_) => PropertyId::RetainAvailable,
            UserProperty(..) => PropertyId::UserProperty,
            MaximumPacketSize(_) => PropertyId::MaximumPacketSize,
            WildcardSubscriptionAvailable(_) => PropertyId::WildcardSubscriptionAvailable,
            SubscriptionIdentifierAvailable(_) => PropertyId::SubscriptionIdentifierAvailable,
            SharedSubscriptionAvailable(_) => PropertyId::SharedSubscriptionAvailable,
        }
    }

    /// Bytes of the value alone.
    fn value_len(&self) -> usize {
        use Property::*;
        match self {
            PayloadFormatIndicator(_)
            | RequestProblemInformation(_)
            | RequestResponseInformation(_)
            | MaximumQoS(_)
            | RetainAvailable(_)
            | WildcardSubscriptionAvailable(_)
            | SubscriptionIdentifierAvailable(_)
            | SharedSubscriptionAvailable(_) => 1,
            ServerKeepAlive(_) | ReceiveMaximum(_) | TopicAliasMaximum(_) | TopicAlias(_) => 2,
            MessageExpiryInterval(_)
            | SessionExpiryInterval(_)
            | WillDelayInterval(_)
            | MaximumPacketSize(_) => 4,
            SubscriptionIdentifier(v) => varint::len(*v),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => 2 + s.len(),
            CorrelationData(b) | AuthenticationData(b) => 2 + b.len(),
            UserProperty(k, v) => 4 + k.len() + v.len(),
        }
    }

    /// Range checks for a value the caller wants to send, and the bytes of the property
    /// (identifier and value), in one match: the one place those rules live.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn checked_len(&self) -> Result<usize, EncodeError> {
        use Property::*;
        // Every variant here, with its range check, so that a property costs one dispatch
        // (a catch-all arm through a separate range check and `value_len` cost three).
        let bad = || Err(EncodeError::InvalidPropertyValue(self.id() as u8));
        match *self {
            ContentType(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => check_str(s).map(|()| 3 + s.len()),
            UserProperty(k, v) => check_str(k)
                .and_then(|()| check_str(v))
                .map(|()| 5 + k.len() + v.len()),
            MessageExpiryInterval(_) | SessionExpiryInterval(_) | WillDelayInterval(_) => Ok(5),
            MaximumPacketSize(0) => bad(),
            MaximumPacketSize(_) => Ok(5),
            ReceiveMaximum(0) | TopicAlias(0) => bad(),
            ServerKeepAlive(_) | ReceiveMaximum(_) | TopicAliasMaximum(_) | TopicAlias(_) => Ok(3),
            MaximumQoS(QoS::ExactlyOnce) => bad(),
            PayloadFormatIndicator(_)
            | RequestProblemInformation(_)
            | RequestResponseInformation(_)
            | MaximumQoS(_)
            | RetainAvailable(_)
            | WildcardSubscriptionAvailable(_)
            | SubscriptionIdentifierAvailable(_)
            | SharedSubscriptionAvailable(_) => Ok(2),
            SubscriptionIdentifier(v) if v == 0 || v > varint::MAX => bad(),
            SubscriptionIdentifier(v) => Ok(1 + varint::len(v)),
            ResponseTopic(t) => crate::topic::validate_topic_name(t)
                .map(|()| 3 + t.len())
                .map_err(|_| EncodeError::InvalidTopicName),
            CorrelationData(b) | AuthenticationData(b) => check_binary(b).map(|()| 3 + b.len()),
        }
    }
}

impl<'a> ItemImpl<'a> for Property<'a> {
    // Only 5.0 packets carry properties.
    const RECEIVED: bool = cfg!(feature = "v5");
    // Inlined into the block's loop: a 40-byte `Result<Property>` returned through memory
    // and read back in other pieces stalled on store forwarding.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn read(r: &mut Reader<'a>, _: ProtocolVersion) -> Result<Self, DecodeError> {
        use Property as P;
        let raw = r.varint()?;
        let id = u8::try_from(raw)
            .ok()
            .and_then(PropertyId::from_u8)
            .ok_or(DecodeError::UnknownProperty(raw.min(255) as u8))?;
        Ok(match id {
            PropertyId::PayloadFormatIndicator => P::PayloadFormatIndicator(read_flag(r, id)?),
            PropertyId::MessageExpiryInterval => P::MessageExpiryInterval(r.u32()?),
            PropertyId::ContentType => P::ContentType(r.string()?),
            PropertyId::ResponseTopic => {
                let t = r.string()?;
                if !crate::topic::name_ok(t) {
                    return Err(DecodeError::InvalidPropertyValue(id as u8));
                }
                P::ResponseTopic(t)
            }
            PropertyId::CorrelationData => P::CorrelationData(r.binary()?),
            PropertyId::SubscriptionIdentifier => match r.varint()? {
                0 => return Err(DecodeError::InvalidPropertyValue(id as u8)),
                v => P::SubscriptionIdentifier(v),
            },
            PropertyId::SessionExpiryInterval => P::SessionExpiryInterval(r.u32()?),
            PropertyId::AssignedClientIdentifier => P::AssignedClientIdentifier(r.string()?),
            PropertyId::ServerKeepAlive => P::ServerKeepAlive(r.u16()?),
            PropertyId::AuthenticationMethod => P::AuthenticationMethod(r.string()?),
            PropertyId::AuthenticationData => P::AuthenticationData(r.binary()?),
            PropertyId::RequestProblemInformation => {
                P::RequestProblemInformation(read_flag(r, id)?)
            }
            PropertyId::WillDelayInterval => P::WillDelayInterval(r.u32()?),
            PropertyId::RequestResponseInformation => {
                P::RequestResponseInformation(read_flag(r, id)?)
            }
            PropertyId::ResponseInformation => P::ResponseInformation(r.string()?),
            PropertyId::ServerReference => P::ServerReference(r.string()?),
            PropertyId::ReasonString => P::ReasonString(r.string()?),
            PropertyId::ReceiveMaximum => P::ReceiveMaximum(non_zero_u16(r, id)?),
            PropertyId::TopicAliasMaximum => P::TopicAliasMaximum(r.u16()?),
            PropertyId::TopicAlias => P::TopicAlias(non_zero_u16(r, id)?),
            PropertyId::MaximumQoS => match r.u8()? {
                0 => P::MaximumQoS(QoS::AtMostOnce),
                1 => P::MaximumQoS(QoS::AtLeastOnce),
                _ => return Err(DecodeError::InvalidPropertyValue(id as u8)),
            },
            PropertyId::RetainAvailable => P::RetainAvailable(read_flag(r, id)?),
            PropertyId::UserProperty => P::UserProperty(r.string()?, r.string()?),
            PropertyId::MaximumPacketSize => match r.u32()? {
                0 => return Err(DecodeError::InvalidPropertyValue(id as u8)),
                v => P::MaximumPacketSize(v),
            },
            PropertyId::WildcardSubscriptionAvailable => {
                P::WildcardSubscriptionAvailable(read_flag(r, id)?)
            }
            PropertyId::SubscriptionIdentifierAvailable => {
                P::SubscriptionIdentifierAvailable(read_flag(r, id)?)
            }
            PropertyId::SharedSubscriptionAvailable => {
                P::SharedSubscriptionAvailable(read_flag(r, id)?)
            }
        })
    }

    fn wire_len(&self, _: ProtocolVersion) -> usize {
        1 + self.value_len()
    }

    fn check(&self, _: ProtocolVersion) -> Result<(), EncodeError> {
        self.checked_len().map(drop)
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn write<S: Sink>(&self, s: &mut S, _: ProtocolVersion) {
        use Property::*;
        s.put_u8(self.id() as u8);
        match *self {
            PayloadFormatIndicator(b)
            | RequestProblemInformation(b)
            | RequestResponseInformation(b)
            | RetainAvailable(b)
            | WildcardSubscriptionAvailable(b)
            | SubscriptionIdentifierAvailable(b)
            | SharedSubscriptionAvailable(b) => s.put_u8(u8::from(b)),
            MaximumQoS(q) => s.put_u8(q as u8),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => {
                s.put_u16(v)
            }
            MessageExpiryInterval(v)
            | SessionExpiryInterval(v)
            | WillDelayInterval(v)
            | MaximumPacketSize(v) => s.put_u32(v),
            SubscriptionIdentifier(v) => s.put_varint(v),
            ContentType(v)
            | ResponseTopic(v)
            | AssignedClientIdentifier(v)
            | AuthenticationMethod(v)
            | ResponseInformation(v)
            | ServerReference(v)
            | ReasonString(v) => s.put_binary(v.as_bytes()),
            CorrelationData(b) | AuthenticationData(b) => s.put_binary(b),
            UserProperty(k, v) => {
                s.put_binary(k.as_bytes());
                s.put_binary(v.as_bytes());
            }
        }
    }
}

/// The properties of one packet: received bytes read lazily, or the caller's slice.
///
/// Typed getters return the first value of a property; [`Properties::user_properties`]
/// and [`Properties::subscription_identifiers`] iterate the repeatable ones.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Properties<'a>(List<'a, Property<'a>>);

impl fmt::Debug for Properties<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Rejects a property not allowed in `ctx`, or a second copy of a single-valued one.
/// Identifiers are below 64, so one `u64` remembers which were seen.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn check_placement(
    seen: &mut u64,
    id: PropertyId,
    ctx: PropertyContext,
) -> Result<(), DecodeError> {
    if !id.allowed_in(ctx) {
        return Err(DecodeError::PropertyNotAllowed(id as u8));
    }
    let bit = 1u64 << (id as u8);
    if *seen & bit != 0 && !id.repeatable_in(ctx) {
        return Err(DecodeError::DuplicateProperty(id as u8));
    }
    *seen |= bit;
    Ok(())
}

/// Reads every property of a block for its verdict: the first error, or a block valid
/// for `ctx` (placement, duplicates, the authentication pair).
fn check_each(mut inner: Reader<'_>, ctx: PropertyContext) -> Result<(), DecodeError> {
    let mut seen = 0u64;
    while !inner.is_empty() {
        let p = Property::read(&mut inner, PROPERTY_VERSION)?;
        check_placement(&mut seen, p.id(), ctx)?;
    }
    check_auth_pair(seen).map_err(|id| DecodeError::MissingProperty(id as u8))
}

/// Whether a property block whose strings are ASCII is valid for `ctx`, decided in one
/// walk that builds no [`Property`] and calls no `from_utf8`: an ASCII string is UTF-8,
/// so it needs only its NUL check, in the same pass. `false` says nothing but "read it
/// again" ([`Properties::read_inline`] does, for the exact error); the same rules as
/// [`Property::read`] with [`check_placement`] and [`check_auth_pair`], so a block
/// accepted here is one the full read accepts.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn quick_accept(bytes: &[u8], ctx: PropertyContext) -> bool {
    use PropertyId::*;
    /// An ASCII string without NUL: valid, with no `from_utf8`.
    fn plain(r: &mut Reader<'_>) -> bool {
        r.binary().is_ok_and(|b| !nul_or_non_ascii(b))
    }
    let mut r = Reader::new(bytes);
    let mut seen = 0u64;
    // Every identifier is below 0x80: a one-byte variable byte integer.
    while let Ok(raw) = r.u8() {
        let Some(id) = PropertyId::from_u8(raw) else {
            return false;
        };
        let ok = match id {
            PayloadFormatIndicator
            | RequestProblemInformation
            | RequestResponseInformation
            | MaximumQoS
            | RetainAvailable
            | WildcardSubscriptionAvailable
            | SubscriptionIdentifierAvailable
            | SharedSubscriptionAvailable => r.u8().is_ok_and(|b| b <= 1),
            MessageExpiryInterval | SessionExpiryInterval | WillDelayInterval => r.u32().is_ok(),
            MaximumPacketSize => r.u32().is_ok_and(|v| v != 0),
            ServerKeepAlive | TopicAliasMaximum => r.u16().is_ok(),
            ReceiveMaximum | TopicAlias => r.u16().is_ok_and(|v| v != 0),
            SubscriptionIdentifier => r.varint().is_ok_and(|v| v != 0),
            CorrelationData | AuthenticationData => r.binary().is_ok(),
            ContentType
            | AssignedClientIdentifier
            | AuthenticationMethod
            | ResponseInformation
            | ServerReference
            | ReasonString => plain(&mut r),
            UserProperty => plain(&mut r) && plain(&mut r),
            // Rare, and its topic rules live in one place: the full read.
            ResponseTopic => false,
        };
        if !ok || check_placement(&mut seen, id, ctx).is_err() {
            return false;
        }
    }
    check_auth_pair(seen).is_ok()
}

/// Authentication Data without an Authentication Method is a Protocol Error
/// (MQTT 5.0 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3).
fn check_auth_pair(seen: u64) -> Result<(), PropertyId> {
    let has = |id: PropertyId| seen & (1u64 << (id as u8)) != 0;
    if has(PropertyId::AuthenticationData) && !has(PropertyId::AuthenticationMethod) {
        Err(PropertyId::AuthenticationMethod)
    } else {
        Ok(())
    }
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const fn empty() -> Self {
        Properties(List::empty())
    }

    /// Properties to send, borrowing the caller's slice.
    pub const fn new(props: &'a [Property<'a>]) -> Self {
        Properties(List::new(props))
    }

    /// Reads a property block (length prefix included) for `ctx`, validating every property.
    pub(crate) fn read(r: &mut Reader<'a>, ctx: PropertyContext) -> Result<Self, DecodeError> {
        Self::read_inline(r, ctx)
    }

    /// [`Properties::read`] inlined into its caller (PUBLISH): a `Result<Properties>`
    /// returned through memory and loaded back in other pieces cost store-forwarding stalls.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn read_inline(
        r: &mut Reader<'a>,
        ctx: PropertyContext,
    ) -> Result<Self, DecodeError> {
        let len = r.varint()? as usize;
        // Most blocks are valid with ASCII strings: accepted in one walk that builds nothing.
        // Not on bare metal, where flash counts more than these nanoseconds.
        let start = r.clone();
        if cfg!(not(target_os = "none"))
            && let Ok(bytes) = r.take(len)
            && quick_accept(bytes, ctx)
        {
            return Ok(Properties(List::wire_unchecked(bytes, PROPERTY_VERSION)));
        }
        // Anything else is read again, property by property, for its exact verdict.
        *r = start;
        let inner = r.take_text(len)?;
        let bytes = inner.clone().rest();
        check_each(inner, ctx)?;
        Ok(Properties(List::wire_unchecked(bytes, PROPERTY_VERSION)))
    }

    /// Reads a property block that was validated before (a received will read again).
    pub(crate) fn read_unchecked(r: &mut Reader<'a>) -> Self {
        let bytes = r
            .varint()
            .and_then(|len| r.take(len as usize))
            .unwrap_or_default();
        Properties(List::wire_unchecked(bytes, PROPERTY_VERSION))
    }

    /// Checks the caller's properties for `ctx` and measures them in the same walk:
    /// returns the bytes of the properties without the length prefix.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn checked_len(&self, ctx: PropertyContext) -> Result<usize, EncodeError> {
        // Without 5.0 every caller has refused a non-empty list already (`NotInVersion`),
        // so a 3.1.1-only build carries no property checks.
        if self.is_empty() || !cfg!(feature = "v5") {
            return Ok(0);
        }
        let mut seen = 0u64;
        let mut len = 0;
        match self.0.as_slice() {
            // By reference: copying each 40-byte value out for an out-of-line check
            // stalled on store forwarding.
            Some(props) => {
                for p in props {
                    len += Self::check_one(&mut seen, p, ctx)?;
                }
            }
            None => {
                for p in self.iter() {
                    len += Self::check_one(&mut seen, &p, ctx)?;
                }
            }
        }
        check_auth_pair(seen).map_err(|id| EncodeError::MissingProperty(id as u8))?;
        Ok(len)
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn check_one(
        seen: &mut u64,
        p: &Property<'_>,
        ctx: PropertyContext,
    ) -> Result<usize, EncodeError> {
        check_placement(seen, p.id(), ctx)
            .map_err(|_| EncodeError::PropertyNotAllowed(p.id() as u8))?;
        p.checked_len()
    }

    /// Writes the block (length prefix and properties) whose body length is known.
    #[inline]
    pub(crate) fn write_sized<S: Sink>(&self, s: &mut S, body_len: usize) {
        s.put_varint(body_len as u32);
        self.0.write(s, PROPERTY_VERSION);
    }

    /// Every property in order.
    pub fn iter(&self) -> crate::list::Iter<'a, Property<'a>> {
        self.0.iter()
    }

    /// True when there is no property.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first property with identifier `id`.
    pub fn get(&self, id: PropertyId) -> Option<Property<'a>> {
        self.iter().find(|p| p.id() == id)
    }

    /// All user properties, in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// All subscription identifiers, in order (a server may send several in one PUBLISH).
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(v),
            _ => None,
        })
    }
}

macro_rules! getters {
    ($( $(#[$doc:meta])* $fn:ident -> $ty:ty = $variant:ident; )*) => {
        impl<'a> Properties<'a> {
            $(
                $(#[$doc])*
                pub fn $fn(&self) -> Option<$ty> {
                    self.iter().find_map(|p| match p {
                        Property::$variant(v) => Some(v),
                        _ => None,
                    })
                }
            )*
        }
    };
}

getters! {
    /// Payload Format Indicator (`true`: UTF-8 text).
    payload_format_indicator -> bool = PayloadFormatIndicator;
    /// Message Expiry Interval in seconds.
    message_expiry_interval -> u32 = MessageExpiryInterval;
    /// Content Type.
    content_type -> &'a str = ContentType;
    /// Response Topic.
    response_topic -> &'a str = ResponseTopic;
    /// Correlation Data.
    correlation_data -> &'a [u8] = CorrelationData;
    /// Session Expiry Interval in seconds.
    session_expiry_interval -> u32 = SessionExpiryInterval;
    /// Assigned Client Identifier.
    assigned_client_identifier -> &'a str = AssignedClientIdentifier;
    /// Server Keep Alive in seconds.
    server_keep_alive -> u16 = ServerKeepAlive;
    /// Authentication Method.
    authentication_method -> &'a str = AuthenticationMethod;
    /// Authentication Data.
    authentication_data -> &'a [u8] = AuthenticationData;
    /// Request Problem Information.
    request_problem_information -> bool = RequestProblemInformation;
    /// Will Delay Interval in seconds.
    will_delay_interval -> u32 = WillDelayInterval;
    /// Request Response Information.
    request_response_information -> bool = RequestResponseInformation;
    /// Response Information.
    response_information -> &'a str = ResponseInformation;
    /// Server Reference.
    server_reference -> &'a str = ServerReference;
    /// Reason String.
    reason_string -> &'a str = ReasonString;
    /// Receive Maximum.
    receive_maximum -> u16 = ReceiveMaximum;
    /// Topic Alias Maximum.
    topic_alias_maximum -> u16 = TopicAliasMaximum;
    /// Topic Alias.
    topic_alias -> u16 = TopicAlias;
    /// Maximum QoS.
    maximum_qos -> QoS = MaximumQoS;
    /// Retain Available.
    retain_available -> bool = RetainAvailable;
    /// Maximum Packet Size.
    maximum_packet_size -> u32 = MaximumPacketSize;
    /// Wildcard Subscription Available.
    wildcard_subscription_available -> bool = WildcardSubscriptionAvailable;
    /// Subscription Identifiers Available.
    subscription_identifier_available -> bool = SubscriptionIdentifierAvailable;
    /// Shared Subscription Available.
    shared_subscription_available -> bool = SharedSubscriptionAvailable;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::{vec, vec::Vec};

    const CONTEXTS: [PropertyContext; 11] = [
        PropertyContext::Connect,
        PropertyContext::Will,
        PropertyContext::ConnAck,
        PropertyContext::Publish,
        PropertyContext::PubResponse,
        PropertyContext::Subscribe,
        PropertyContext::SubAck,
        PropertyContext::Unsubscribe,
        PropertyContext::UnsubAck,
        PropertyContext::Disconnect,
        PropertyContext::Auth,
    ];

    /// The verdict of the full read, property by property.
    fn full_ok(bytes: &[u8], ctx: PropertyContext) -> bool {
        check_each(Reader::new_text(bytes), ctx).is_ok()
    }

    /// Strings that are ASCII, empty, hold NUL or wildcards, are valid non-ASCII UTF-8
    /// or not UTF-8 at all (a cut character, a lone continuation byte, a surrogate).
    fn text() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"application/json".to_vec()),
            Just(Vec::new()),
            Just(b"a\0b".to_vec()),
            Just("caf\u{e9}".as_bytes().to_vec()),
            Just(vec![0xc3]),
            Just(vec![0x80, b'a']),
            Just(vec![0xed, 0xa0, 0x80]),
            Just(vec![0xff; 9]),
            Just(b"a/b/+".to_vec()),
            Just(b"a/#".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..24),
        ]
    }

    fn prefixed(t: Vec<u8>) -> Vec<u8> {
        let mut v = (t.len() as u16).to_be_bytes().to_vec();
        v.extend(t);
        v
    }

    /// A value of the type property `id` takes, at its edges (0, 1, 2, the maximum;
    /// variable byte integers too long or cut short).
    fn typed_value(id: u8) -> BoxedStrategy<Vec<u8>> {
        let byte = prop_oneof![Just(0u8), Just(1), Just(2), Just(0xff)].prop_map(|b| vec![b]);
        let two =
            prop_oneof![Just(0u16), Just(1), Just(u16::MAX)].prop_map(|v| v.to_be_bytes().to_vec());
        let four =
            prop_oneof![Just(0u32), Just(1), Just(u32::MAX)].prop_map(|v| v.to_be_bytes().to_vec());
        match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => byte.boxed(),
            0x13 | 0x21 | 0x22 | 0x23 => two.boxed(),
            0x02 | 0x11 | 0x18 | 0x27 => four.boxed(),
            0x0b => prop_oneof![
                Just(vec![0x00]),
                Just(vec![0x01]),
                Just(vec![0x80, 0x01]),
                Just(vec![0x80]),
                Just(vec![0xff, 0xff, 0xff, 0xff, 0x01]),
            ]
            .boxed(),
            0x09 | 0x16 => proptest::collection::vec(any::<u8>(), 0..12)
                .prop_map(prefixed)
                .boxed(),
            0x26 => (text(), text())
                .prop_map(|(k, v)| [prefixed(k), prefixed(v)].concat())
                .boxed(),
            _ => text().prop_map(prefixed).boxed(),
        }
    }

    /// One property: mostly a known identifier with a value of its type, sometimes an
    /// unknown or multi-byte identifier, or a value of another type.
    fn property() -> impl Strategy<Value = Vec<u8>> {
        let id = prop_oneof![
            8 => proptest::sample::select(
                (1u8..=0x2a).filter(|&b| PropertyId::from_u8(b).is_some()).collect::<Vec<_>>()
            ),
            1 => any::<u8>(),
        ];
        (id, any::<bool>(), any::<u8>()).prop_flat_map(|(id, typed, other)| {
            let value = if typed || id > 0x2a {
                typed_value(id)
            } else {
                typed_value(other % 0x2b)
            };
            prop_oneof![
                12 => value.prop_map(move |v| [vec![id], v].concat()),
                1 => Just(vec![0x83, 0x00]),
            ]
        })
    }

    /// [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-1.5.7-1], and the placement and duplicate
    /// rules of 5.0 §2.2.2.2: the quick acceptance never takes a block the full read
    /// refuses, in any packet's context, blocks cut short included; and it takes a good
    /// share of the valid ones (else it could be dead code).
    #[test]
    fn mqtt_1_5_7_1_quick_acceptance_takes_no_block_the_full_read_refuses() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{Config, TestRunner};
        let block = (
            proptest::collection::vec(property(), 0..5),
            proptest::sample::select(CONTEXTS.to_vec()),
            0usize..4,
        );
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let (mut quick, mut valid) = (0, 0);
        for _ in 0..40_000 {
            let (props, ctx, cut) = block.new_tree(&mut runner).unwrap().current();
            let mut bytes = props.concat();
            if cut == 0 {
                bytes.pop();
            }
            let ok = full_ok(&bytes, ctx);
            valid += usize::from(ok);
            if quick_accept(&bytes, ctx) {
                quick += 1;
                assert!(ok, "{bytes:02x?} in {ctx:?}");
            }
        }
        assert!(
            valid > 4_000 && quick > valid / 3,
            "{valid} valid, {quick} quick"
        );
    }

    /// The usual blocks take the quick path (else it would be dead code that no
    /// verdict test notices), including binary values with bytes above 0x7f.
    #[test]
    fn usual_property_blocks_take_the_quick_path() {
        #[rustfmt::skip]
        let publish: &[u8] = &[
            0x02, 0, 0, 0x0e, 0x10, // message expiry 3600
            0x26, 0, 6, b's', b'o', b'u', b'r', b'c', b'e', 0, 3, b'g', b'w', b'7',
            0x03, 0, 4, b't', b'e', b'x', b't', // content type
            0x09, 0, 3, 0xff, 0x00, 0x80, // correlation data
            0x0b, 0x81, 0x01, // subscription identifier 129
            0x01, 1, 0x23, 0, 7, // payload format, topic alias 7
        ];
        let connect: &[u8] = &[
            0x11, 0xff, 0xff, 0xff, 0xff, 0x21, 0, 10, 0x27, 0, 1, 0, 0, 0x17, 0, 0x19, 1, 0x15, 0,
            2, b'k', b'5', 0x16, 0, 2, 0xde, 0xad, 0x22, 0, 0,
        ];
        let connack: &[u8] = &[
            0x24, 1, 0x25, 0, 0x28, 1, 0x29, 0, 0x2a, 1, 0x13, 0, 60, 0x12, 0, 2, b'i', b'd', 0x1a,
            0, 1, b'r', 0x1c, 0, 1, b's', 0x1f, 0, 2, b'o', b'k',
        ];
        for (bytes, ctx) in [
            (publish, PropertyContext::Publish),
            (connect, PropertyContext::Connect),
            (connack, PropertyContext::ConnAck),
        ] {
            assert!(full_ok(bytes, ctx), "{ctx:?}");
            assert!(quick_accept(bytes, ctx), "{ctx:?}");
        }
        // Refused quickly means read again, not refused: a non-ASCII string.
        let accented = [0x03, 0, 2, 0xc3, 0xa9];
        assert!(!quick_accept(&accented, PropertyContext::Publish));
        assert!(full_ok(&accented, PropertyContext::Publish));
    }
}

//! CONNECT (MQTT 5.0 §3.1, 3.1.1 §3.1): the first packet a client sends.

use core::fmt;

use crate::codec::{Reader, Sink, check_binary, check_str};
use crate::error::{DecodeError, EncodeError};
use crate::property::{Properties, PropertyContext};
use crate::topic::{TopicName, name_ok};
use crate::version::{ProtocolVersion, QoS};

/// A will message: published by the server if the connection ends without DISCONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Will<'a> {
    /// Topic name of the will, checked where it was made.
    pub topic: TopicName<'a>,
    /// Payload of the will.
    pub payload: &'a [u8],
    /// QoS of the will.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
    /// Will properties (5.0): delay interval, expiry, content type, ...
    pub properties: Properties<'a>,
}

/// The will of a [`Connect`]: the caller's [`Will`] to send, or a received one kept as
/// its validated bytes and read on demand with [`WillRef::get`].
///
/// It takes 24 bytes where a [`Will`] takes 64, which keeps [`Connect`], and with it
/// every [`crate::Packet`] and [`crate::Decoded`], small and cheap to move (to 104 and
/// 112 bytes from 144 and 152). Equality, `Debug` and `defmt` go through [`WillRef::get`].
///
/// ```
/// use mqtt_proto::{Properties, QoS, TopicName, Will, WillRef};
/// let will = Will {
///     topic: TopicName::from_static("clients/7/status"),
///     payload: b"offline",
///     qos: QoS::AtLeastOnce,
///     retain: true,
///     properties: Properties::empty(),
/// };
/// let w = WillRef::Given(&will);
/// assert_eq!(w.get(), will);
/// ```
#[derive(Clone, Copy)]
pub enum WillRef<'a> {
    /// A will to send.
    Given(&'a Will<'a>),
    /// A will received in a CONNECT.
    Received(ReceivedWill<'a>),
}

/// A will received in a CONNECT: its bytes (properties, topic, payload), validated when
/// the CONNECT was decoded. Read it with [`WillRef::get`].
#[derive(Clone, Copy)]
pub struct ReceivedWill<'a> {
    bytes: &'a [u8],
    qos: QoS,
    retain: bool,
    v5: bool,
}

impl<'a> WillRef<'a> {
    /// The will: a copy of the given one, or the received one read from its bytes.
    #[inline]
    pub fn get(&self) -> Will<'a> {
        match *self {
            WillRef::Given(w) => *w,
            WillRef::Received(w) => w.read(),
        }
    }

    /// The will by reference: the caller's as it is, a received one read back into
    /// `slot`. Encoding goes through here, not [`WillRef::get`]: copying a caller's will
    /// out by value and back cost a fifth of a CONNECT's write.
    #[inline]
    fn resolve<'r>(&'r self, slot: &'r mut Option<Will<'a>>) -> &'r Will<'a> {
        match *self {
            WillRef::Given(w) => w,
            WillRef::Received(w) => slot.insert(w.read()),
        }
    }
}

impl<'a> ReceivedWill<'a> {
    /// Reads the will back from bytes that [`Connect::read`] validated, so no step fails;
    /// should one, its field is left empty rather than panicking.
    fn read(&self) -> Will<'a> {
        let mut r = Reader::new(self.bytes);
        let properties = if self.v5 {
            Properties::read_unchecked(&mut r)
        } else {
            Properties::empty()
        };
        Will {
            topic: TopicName::new_unchecked(r.string().unwrap_or_default()),
            payload: r.binary().unwrap_or_default(),
            qos: self.qos,
            retain: self.retain,
            properties,
        }
    }
}

impl<'a> From<&'a Will<'a>> for WillRef<'a> {
    fn from(w: &'a Will<'a>) -> Self {
        WillRef::Given(w)
    }
}

impl PartialEq for WillRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for WillRef<'_> {}

impl fmt::Debug for WillRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for WillRef<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.get().format(f)
    }
}

/// The will it holds, read back from its bytes.
#[cfg(feature = "defmt")]
impl defmt::Format for ReceivedWill<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.read().format(f)
    }
}

/// CONNECT. It carries its own protocol version, which decides its encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol level (3, 4 or 5).
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// CONNECT properties (5.0).
    pub properties: Properties<'a>,
    /// The client identifier (may be empty: the server assigns one).
    pub client_id: &'a str,
    /// The will, if any: `Some(WillRef::Given(&will))` to send one; read a received
    /// one with [`WillRef::get`].
    pub will: Option<WillRef<'a>>,
    /// User name.
    pub username: Option<&'a str>,
    /// Password; never printed by `Debug`.
    pub password: Option<&'a [u8]>,
}

impl fmt::Debug for Connect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("properties", &self.properties)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.map(|_| "<redacted>"))
            .finish()
    }
}

/// Like `Debug`: the password never reaches a log.
#[cfg(feature = "defmt")]
impl defmt::Format for Connect<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Connect {{ protocol: {}, clean_start: {}, keep_alive: {}, properties: {}, client_id: {}, will: {}, username: {}, password: {} }}",
            self.protocol,
            self.clean_start,
            self.keep_alive,
            self.properties,
            self.client_id,
            self.will,
            self.username,
            if self.password.is_some() {
                "<redacted>"
            } else {
                "None"
            }
        )
    }
}

const USERNAME: u8 = 0x80;
const PASSWORD: u8 = 0x40;
const WILL_RETAIN: u8 = 0x20;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_FLAG: u8 = 0x04;
const CLEAN_START: u8 = 0x02;
const RESERVED: u8 = 0x01;

impl<'a> Connect<'a> {
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    #[cfg_attr(not(feature = "decode-connect"), allow(dead_code))]
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        // The usual names are valid strings as they stand; any other goes through the
        // string checks first, so its error is the same.
        let name = match r.clone().binary()? {
            n @ (b"MQTT" | b"MQIsdp") => {
                r.binary()?;
                n
            }
            _ => r.string()?.as_bytes(),
        };
        let protocol = ProtocolVersion::from_level(r.u8()?)?;
        // Compared as patterns, not through `protocol_name()`: a `memcmp` call.
        let name_matches = match name {
            b"MQTT" => protocol != ProtocolVersion::V3_1,
            b"MQIsdp" => protocol == ProtocolVersion::V3_1,
            _ => false,
        };
        if !name_matches {
            return Err(DecodeError::InvalidProtocolName);
        }
        let flags = r.u8()?;
        // The rest holds up to six strings: check it for UTF-8 once.
        r.check_text();
        let will_flag = flags & WILL_FLAG != 0;
        let will_qos = match (flags >> WILL_QOS_SHIFT) & 0b11 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            _ => return Err(DecodeError::InvalidQoS), // [MQTT-3.1.2-14]
        };
        let will_retain = flags & WILL_RETAIN != 0;
        // Reserved bit 0; will QoS/retain only with a will [MQTT-3.1.2-11] [MQTT-3.1.2-15].
        if flags & RESERVED != 0 || (!will_flag && (will_qos != QoS::AtMostOnce || will_retain)) {
            return Err(DecodeError::InvalidConnectFlags);
        }
        // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22].
        if !protocol.is_v5() && flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(DecodeError::InvalidConnectFlags);
        }
        let keep_alive = r.u16()?;
        let properties = if protocol.is_v5() {
            Properties::read_inline(r, PropertyContext::Connect)?
        } else {
            Properties::empty()
        };
        let client_id = r.string()?;
        let will = if will_flag {
            let start = r.clone();
            if protocol.is_v5() {
                Properties::read_inline(r, PropertyContext::Will)?;
            }
            let topic = r.string()?;
            // Every way a topic name can be invalid is the same error here.
            if !name_ok(topic) {
                return Err(DecodeError::InvalidTopicName);
            }
            r.binary()?; // the payload
            // Kept as bytes, read again on demand: see `WillRef`.
            Some(WillRef::Received(ReceivedWill {
                bytes: r.since(&start),
                qos: will_qos,
                retain: will_retain,
                v5: protocol.is_v5(),
            }))
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string()?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary()?)
        } else {
            None
        };
        Ok(Connect {
            protocol,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    /// `Packet::encode` of this CONNECT: the same checks, the same bytes, with the writer
    /// in registers (through `Packet::write` it lived in memory, a load and a store per
    /// field).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    pub(crate) fn encode_slice(
        &self,
        v: ProtocolVersion,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        super::encode_framed(
            buf,
            (super::PacketType::Connect as u8) << 4,
            |sz| self.check_len(v, sz),
            |w, sz| self.write(w, sz),
        )
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        let p = self.protocol;
        if p != v {
            return Err(EncodeError::VersionMismatch);
        }
        super::no_props_before_v5(&self.properties, p)?;
        sz.props = self.properties.checked_len(PropertyContext::Connect)?;
        check_str(self.client_id)?;
        if !p.is_v5() {
            if self.password.is_some() && self.username.is_none() {
                return Err(EncodeError::PasswordWithoutUserName);
            }
            if self.client_id.is_empty() && !self.clean_start {
                return Err(EncodeError::EmptyClientIdWithSession);
            }
        }
        let mut len = 2 + p.protocol_name().len() + 1 + 1 + 2 + 2 + self.client_id.len();
        if p.is_v5() {
            len += super::block(sz.props);
        }
        let mut slot = None;
        if let Some(w) = self.will.as_ref().map(|w| w.resolve(&mut slot)) {
            // Checked where it was made; only `ALIAS_ONLY` is empty, and a will has no alias.
            if w.topic.is_empty() {
                return Err(EncodeError::InvalidTopicName);
            }
            check_binary(w.payload)?;
            super::no_props_before_v5(&w.properties, p)?;
            sz.will_props = w.properties.checked_len(PropertyContext::Will)?;
            len += 2 + w.topic.len() + 2 + w.payload.len();
            if p.is_v5() {
                len += super::block(sz.will_props);
            }
        }
        if let Some(u) = self.username {
            check_str(u)?;
            len += 2 + u.len();
        }
        if let Some(pw) = self.password {
            check_binary(pw)?;
            len += 2 + pw.len();
        }
        Ok(len)
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, sz: &super::Sizes) {
        let p = self.protocol;
        s.put_binary(p.protocol_name().as_bytes());
        s.put_u8(p.level());
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        let mut slot = None;
        let will = self.will.as_ref().map(|w| w.resolve(&mut slot));
        if let Some(w) = will {
            flags |=
                WILL_FLAG | (w.qos as u8) << WILL_QOS_SHIFT | (u8::from(w.retain) * WILL_RETAIN);
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        s.put_u8(flags);
        s.put_u16(self.keep_alive);
        if p.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
        s.put_binary(self.client_id.as_bytes());
        if let Some(w) = will {
            if p.is_v5() {
                w.properties.write_sized(s, sz.will_props);
            }
            s.put_binary(w.topic.as_bytes());
            s.put_binary(w.payload);
        }
        if let Some(u) = self.username {
            s.put_binary(u.as_bytes());
        }
        if let Some(pw) = self.password {
            s.put_binary(pw);
        }
    }
}

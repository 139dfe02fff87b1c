//! SUBSCRIBE (MQTT 5.0 §3.8): topic filters with their subscription options.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::list::{List, sealed::ItemImpl};
use crate::property::{Properties, PropertyContext};
use crate::topic::{TopicFilter, filter_bytes_bad, read_filter};
use crate::version::{PacketId, ProtocolVersion, QoS};

/// When the server sends retained messages for a new subscription (5.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// Send them only if the subscription did not exist yet.
    SendAtNewSubscribe = 1,
    /// Do not send retained messages.
    DoNotSend = 2,
}

/// The options byte after each filter; in 3.1.1 only `qos` exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with.
    pub qos: QoS,
    /// Do not receive own publications (5.0; never on a shared subscription).
    pub no_local: bool,
    /// Keep the RETAIN flag as published (5.0).
    pub retain_as_published: bool,
    /// Retained message handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with `qos` and every 5.0 option at its default.
    pub const fn new(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    #[inline]
    fn from_byte(b: u8, v: ProtocolVersion) -> Result<Self, DecodeError> {
        // Reserved bits: 7..6 in 5.0 [MQTT-3.8.3-5], 7..2 in 3.1.1 [MQTT-3-8.3-4].
        let reserved = if v.is_v5() { 0xc0 } else { 0xfc };
        if b & reserved != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions);
        }
        let qos = QoS::from_u8(b & 0b11).map_err(|_| DecodeError::InvalidSubscriptionOptions)?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtNewSubscribe,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidSubscriptionOptions),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }

    fn to_byte(self) -> u8 {
        self.qos as u8
            | u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling as u8) << 4
    }
}

/// Whether options byte `b` is valid in `v` with No Local clear: 3.1.1 has only the QoS
/// bits; 5.0 has reserved bits 7..6, and QoS and Retain Handling may not be 3.
#[cfg_attr(not(target_os = "none"), inline(always))]
#[cfg_attr(target_os = "none", inline)]
fn options_plain_ok(b: u8, v: ProtocolVersion) -> bool {
    // Every byte accepted here is below 0x40: ASCII, so a character boundary.
    if v.is_v5() {
        b & 0xc4 == 0 && b & 0b11 != 0b11 && b & 0x30 != 0x30
    } else {
        b <= 2
    }
}

/// One topic filter and its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscription<'a> {
    /// The topic filter, possibly `$share/<group>/<filter>`, checked where it was made.
    pub filter: TopicFilter<'a>,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl<'a> ItemImpl<'a> for Subscription<'a> {
    const TEXT: bool = true;

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let filter = TopicFilter::new_unchecked(read_filter(r)?);
        let options = SubscriptionOptions::from_byte(r.u8()?, v)?;
        if options.no_local && filter.is_shared() {
            return Err(DecodeError::InvalidSubscriptionOptions); // [MQTT-3.8.3-4]
        }
        Ok(Subscription { filter, options })
    }

    /// The usual subscription in a few tests: a filter inside the list's UTF-8 region that
    /// starts on a character boundary (its first byte is no continuation byte) and ends on
    /// one (a valid options byte is ASCII), does not start with `$` (shared and `$SYS`
    /// filters take the general path), and passes the branch-free NUL and wildcard pass;
    /// and an options byte valid for `v` without No Local (so the filter does not matter
    /// to it). Anything else, `read` again from the start, for its exact error.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn skip(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<(), DecodeError> {
        let start = r.clone();
        if let Ok(filter) = r.binary()
            && let [first, ..] = *filter
            && (first as i8) >= -0x40
            && first != b'$'
            && r.text_covers(filter.len())
            && !filter_bytes_bad(filter)
            && let Ok(b) = r.u8()
            && options_plain_ok(b, v)
        {
            return Ok(());
        }
        *r = start;
        Self::read(r, v).map(drop)
    }

    fn wire_len(&self, _: ProtocolVersion) -> usize {
        2 + self.filter.len() + 1
    }

    /// The options against the version and the filter; the filter itself was checked
    /// where it was made.
    fn check(&self, v: ProtocolVersion) -> Result<(), EncodeError> {
        let o = self.options;
        if !v.is_v5()
            && (o.no_local
                || o.retain_as_published
                || o.retain_handling != RetainHandling::SendAtSubscribe)
        {
            return Err(EncodeError::NotInVersion);
        }
        if o.no_local && self.filter.is_shared() {
            return Err(EncodeError::NoLocalOnSharedSubscription);
        }
        Ok(())
    }

    /// The common case (options valid for `v` whatever the filter) in one test of the
    /// options byte; anything else through [`ItemImpl::check`] for its exact error.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    fn checked_wire_len(&self, v: ProtocolVersion) -> Result<usize, EncodeError> {
        // 3.1.1 has only the QoS bits; in 5.0 only No Local depends on the filter.
        let options_ok = if v.is_v5() {
            !self.options.no_local
        } else {
            self.options.to_byte() & !0b11 == 0
        };
        if !options_ok {
            self.check(v)?;
        }
        Ok(3 + self.filter.len())
    }

    #[inline]
    fn write<S: Sink>(&self, s: &mut S, _: ProtocolVersion) {
        s.put_binary(self.filter.as_bytes());
        s.put_u8(self.options.to_byte());
    }
}

/// SUBSCRIBE: at least one filter [MQTT-3.8.3-3].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Subscribe<'a> {
    /// Packet identifier, echoed by the SUBACK.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (5.0): subscription identifier, user properties.
    pub properties: Properties<'a>,
    /// The filters and options, in order.
    pub filters: List<'a, Subscription<'a>>,
}

impl<'a> Subscribe<'a> {
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = super::read_packet_id(r)?;
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Subscribe)?
        } else {
            Properties::empty()
        };
        if r.is_empty() {
            return Err(DecodeError::EmptySubscription);
        }
        let filters = List::from_wire(r.rest(), v)?;
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    /// `Packet::encode` of this SUBSCRIBE: the same checks, the same bytes, with the
    /// writer in registers (through `Packet::write` it lived in memory).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    pub(crate) fn encode_slice(
        &self,
        v: ProtocolVersion,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let t = super::PacketType::Subscribe;
        super::encode_framed(
            buf,
            (t as u8) << 4 | t.fixed_flags(),
            |sz| self.check_len(v, sz),
            |w, sz| self.write(w, v, sz),
        )
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::EmptySubscription);
        }
        super::no_props_before_v5(&self.properties, v)?;
        sz.props = self.properties.checked_len(PropertyContext::Subscribe)?;
        let filters = self.filters.checked_len(v)?;
        Ok(2 + filters + if v.is_v5() { super::block(sz.props) } else { 0 })
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
        self.filters.write(s, v);
    }
}

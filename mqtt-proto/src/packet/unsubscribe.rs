//! UNSUBSCRIBE (MQTT 5.0 §3.10): topic filters to remove.

use crate::codec::{Reader, Sink};
use crate::error::{DecodeError, EncodeError};
use crate::list::List;
use crate::property::{Properties, PropertyContext};
use crate::topic::TopicFilter;
use crate::version::{PacketId, ProtocolVersion};

/// UNSUBSCRIBE: at least one filter [MQTT-3.10.3-2].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unsubscribe<'a> {
    /// Packet identifier, echoed by the UNSUBACK.
    pub packet_id: PacketId,
    /// Properties (5.0): user properties.
    pub properties: Properties<'a>,
    /// The filters, in order.
    pub filters: List<'a, TopicFilter<'a>>,
}

impl<'a> Unsubscribe<'a> {
    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline)]
    pub(crate) fn read(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = super::read_packet_id(r)?;
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::empty()
        };
        if r.is_empty() {
            return Err(DecodeError::EmptySubscription);
        }
        let filters = List::from_wire(r.rest(), v)?;
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn check_len(
        &self,
        v: ProtocolVersion,
        sz: &mut super::Sizes,
    ) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::EmptySubscription);
        }
        super::no_props_before_v5(&self.properties, v)?;
        sz.props = self.properties.checked_len(PropertyContext::Unsubscribe)?;
        let filters = self.filters.checked_len(v)?;
        Ok(2 + filters + if v.is_v5() { super::block(sz.props) } else { 0 })
    }

    pub(crate) fn write<S: Sink>(&self, s: &mut S, v: ProtocolVersion, sz: &super::Sizes) {
        s.put_u16(self.packet_id.get());
        if v.is_v5() {
            self.properties.write_sized(s, sz.props);
        }
        self.filters.write(s, v);
    }
}

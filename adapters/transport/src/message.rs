//! Received messages as owned values, for applications that keep them past the next call
//! on the session: one allocation holds topic, payload and properties.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Packet, Properties, ProtocolVersion, Publish, QoS, QosPid, TopicName};
use mqtt_session::Token;

/// An application message from the server, owned. Cloning is cheap (reference counted).
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    topic: Bytes,
    payload: Bytes,
    /// A PUBLISH with empty topic and payload that carries the 5.0 properties, or empty.
    props: Bytes,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// The server flagged it as a possible duplicate (a QoS 1 redelivery).
    pub dup: bool,
    /// In manual-ack mode, the token to acknowledge it with.
    pub ack: Option<Token>,
}

impl Message {
    /// Copies a message the session lent out.
    pub fn from_session(m: &mqtt_session::Message<'_>) -> Self {
        let props_len = if m.properties.is_empty() {
            0
        } else {
            props_packet(m.properties)
                .encoded_len(ProtocolVersion::V5)
                .unwrap_or(0)
        };
        let mut buf = BytesMut::with_capacity(m.topic.len() + m.payload.len() + props_len);
        buf.extend_from_slice(m.topic.as_bytes());
        buf.extend_from_slice(m.payload);
        let mut all = if props_len > 0 {
            let start = buf.len();
            buf.resize(start + props_len, 0);
            let ok = props_packet(m.properties)
                .encode(ProtocolVersion::V5, &mut buf[start..])
                .is_ok();
            if !ok {
                buf.truncate(start);
            }
            buf.freeze()
        } else {
            buf.freeze()
        };
        let topic = all.split_to(m.topic.len());
        let payload = all.split_to(m.payload.len());
        Message {
            topic,
            payload,
            props: all,
            qos: m.qos,
            retain: m.retain,
            dup: m.dup,
            ack: m.ack,
        }
    }

    /// The topic name (resolved if the server used a topic alias).
    pub fn topic(&self) -> &str {
        std::str::from_utf8(&self.topic).unwrap_or_default()
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The 5.0 properties (response topic, correlation data, user properties, ...).
    pub fn properties(&self) -> Properties<'_> {
        match Packet::decode_exact(&self.props, ProtocolVersion::V5) {
            Ok(Packet::Publish(p)) => p.properties,
            _ => Properties::empty(),
        }
    }
}

fn props_packet(properties: Properties<'_>) -> Packet<'_> {
    Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("p"),
        properties,
        payload: &[],
    })
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("payload_len", &self.payload.len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("dup", &self.dup)
            .field("properties", &self.properties())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::Property;

    #[test]
    fn owned_copy_keeps_topic_payload_and_properties() {
        let props = [
            Property::ResponseTopic("r/t"),
            Property::UserProperty("k", "v"),
        ];
        let m = mqtt_session::Message {
            topic: "a/b",
            payload: b"hello",
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: false,
            properties: Properties::new(&props),
            ack: None,
        };
        let o = Message::from_session(&m);
        assert_eq!(o.topic(), "a/b");
        assert_eq!(&o.payload()[..], b"hello");
        assert_eq!(o.properties().response_topic(), Some("r/t"));
        assert_eq!(
            o.properties().user_properties().collect::<Vec<_>>(),
            [("k", "v")]
        );
        assert!(o.retain);
    }
}

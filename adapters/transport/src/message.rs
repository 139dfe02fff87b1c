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

    /// [`Message::from_session`] for a stream of messages: when the topic is the one in
    /// `last_topic` (a subscriber sees few topics) it is shared, not copied, and the copy
    /// takes one allocation, the payload's, instead of a buffer for all three parts plus
    /// the header that lets them share it. A new topic replaces `last_topic`.
    pub fn from_session_cached(m: &mqtt_session::Message<'_>, last_topic: &mut Bytes) -> Self {
        if !m.properties.is_empty() {
            return Message::from_session(m);
        }
        if last_topic.as_ref() != m.topic.as_bytes() {
            *last_topic = Bytes::copy_from_slice(m.topic.as_bytes());
        }
        Message {
            topic: last_topic.clone(),
            payload: Bytes::copy_from_slice(m.payload),
            props: Bytes::new(),
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

    /// The cached copy equals the plain one; a repeated topic shares the cached bytes, a
    /// new one replaces them; properties take the plain path.
    #[test]
    fn cached_copy_shares_a_repeated_topic_and_equals_the_plain_copy() {
        let msg = |topic, payload, props| mqtt_session::Message {
            topic,
            payload,
            qos: QoS::AtMostOnce,
            retain: false,
            dup: true,
            properties: props,
            ack: Some(mqtt_session::Token(7)),
        };
        let same = |a: &Message, b: &Message| {
            assert_eq!(
                (a.topic(), &a.payload()[..], a.qos, a.retain, a.dup, a.ack),
                (b.topic(), &b.payload()[..], b.qos, b.retain, b.dup, b.ack)
            );
            assert_eq!(a.properties(), b.properties());
        };
        let mut last = Bytes::new();
        let a = msg("s/1", &b"one"[..], Properties::empty());
        let first = Message::from_session_cached(&a, &mut last);
        same(&first, &Message::from_session(&a));
        assert_eq!(&last[..], b"s/1");
        let b = msg("s/1", &b"two"[..], Properties::empty());
        let second = Message::from_session_cached(&b, &mut last);
        same(&second, &Message::from_session(&b));
        assert_eq!(
            second.topic.as_ptr(),
            first.topic.as_ptr(),
            "shared, not copied"
        );
        let c = msg("s/2", &b""[..], Properties::empty());
        let third = Message::from_session_cached(&c, &mut last);
        same(&third, &Message::from_session(&c));
        assert_eq!(&last[..], b"s/2");
        assert_eq!(first.topic(), "s/1", "earlier messages keep their topic");
        let props = [Property::ContentType("t")];
        let d = msg("s/2", &b"p"[..], Properties::new(&props));
        same(
            &Message::from_session_cached(&d, &mut last),
            &Message::from_session(&d),
        );
    }
}

//! Promises the crate makes beyond the wire format: decoded packets borrow from the input
//! (zero-copy), the `bytes` feature's owned packets share the receive buffer, and every
//! public type has `defmt::Format` with the `defmt` feature.

use mqtt_proto::{
    Decoded, Decoder, Packet, Properties, ProtocolVersion, Publish, QosPid, TopicName,
};

/// Whether `field` lies inside `buf` (same memory, not an equal copy).
fn inside(buf: &[u8], field: &[u8]) -> bool {
    let range = buf.as_ptr_range();
    let f = field.as_ptr_range();
    range.start <= f.start && f.end <= range.end
}

fn encode(p: &Packet<'_>, v: ProtocolVersion) -> Vec<u8> {
    let mut buf = vec![0u8; p.encoded_len(v).expect("length")];
    let n = p.encode(v, &mut buf).expect("encode");
    assert_eq!(n, buf.len());
    buf
}

fn decode(buf: &[u8], v: ProtocolVersion) -> Packet<'_> {
    match Decoder::new(v).decode(buf) {
        Ok(Decoded::Packet { packet, consumed }) => {
            assert_eq!(consumed, buf.len());
            packet
        }
        other => panic!("decode: {other:?}"),
    }
}

/// The topic and payload of a decoded PUBLISH and the filters of a decoded SUBSCRIBE
/// point into the input buffer: nothing was copied (every build).
#[test]
fn decoded_fields_borrow_from_the_input_buffer() {
    use mqtt_proto::TopicFilter;
    use mqtt_proto::{List, PacketId, QoS, Subscribe, Subscription, SubscriptionOptions};

    let v = ProtocolVersion::V3_1_1;
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtLeastOnce(PacketId::new(7).expect("non-zero")),
        retain: false,
        topic: TopicName::from_static("sensors/room-1/temperature"),
        properties: Properties::empty(),
        payload: b"21.5 degrees",
    });
    let buf = encode(&publish, v);
    let Packet::Publish(p) = decode(&buf, v) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(Packet::Publish(p), publish);
    assert!(inside(&buf, p.topic.as_bytes()));
    assert!(inside(&buf, p.payload));

    let subs = [
        Subscription {
            filter: TopicFilter::new("a/+/c").expect("filter"),
            options: SubscriptionOptions::new(QoS::AtMostOnce),
        },
        Subscription {
            filter: TopicFilter::new("$share/g/d/#").expect("filter"),
            options: SubscriptionOptions::new(QoS::ExactlyOnce),
        },
    ];
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(9).expect("non-zero"),
        properties: Properties::empty(),
        filters: List::new(&subs),
    });
    let buf = encode(&subscribe, v);
    let Packet::Subscribe(s) = decode(&buf, v) else {
        panic!("not a SUBSCRIBE")
    };
    let filters: Vec<Subscription<'_>> = s.filters.iter().collect();
    assert_eq!(filters, subs);
    for f in &filters {
        assert!(inside(&buf, f.filter.as_bytes()));
    }
}

/// 5.0: every string and binary property of a decoded PUBLISH, and every field of a
/// decoded CONNECT (client id, will topic, payload and properties, credentials,
/// properties), points into the input buffer.
#[cfg(all(feature = "v5", feature = "decode-connect"))]
#[test]
fn v5_properties_and_connect_fields_borrow_from_the_input_buffer() {
    use mqtt_proto::{Connect, PacketId, Property, QoS, Will, WillRef};

    let v5 = ProtocolVersion::V5;
    let props = [
        Property::ContentType("text/plain"),
        Property::CorrelationData(b"corr"),
        Property::UserProperty("key", "value"),
    ];
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtLeastOnce(PacketId::new(7).expect("non-zero")),
        retain: false,
        topic: TopicName::from_static("sensors/room-1/temperature"),
        properties: Properties::new(&props),
        payload: b"21.5 degrees",
    });
    let buf = encode(&publish, v5);
    let Packet::Publish(p) = decode(&buf, v5) else {
        panic!("not a PUBLISH")
    };
    assert!(inside(&buf, p.topic.as_bytes()));
    assert!(inside(&buf, p.payload));
    let mut seen = 0;
    for prop in p.properties.iter() {
        let parts: Vec<&[u8]> = match prop {
            Property::ContentType(s) => vec![s.as_bytes()],
            Property::CorrelationData(b) => vec![b],
            Property::UserProperty(k, v) => vec![k.as_bytes(), v.as_bytes()],
            other => panic!("unexpected {other:?}"),
        };
        for part in parts {
            assert!(inside(&buf, part), "{prop:?}");
        }
        seen += 1;
    }
    assert_eq!(seen, 3);

    let will_props = [Property::UserProperty("w", "x")];
    let will = Will {
        topic: TopicName::from_static("clients/c1/status"),
        payload: b"offline",
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::new(&will_props),
    };
    let connect = Packet::Connect(Connect {
        protocol: v5,
        clean_start: false,
        keep_alive: 30,
        properties: Properties::new(&props[2..]),
        client_id: "c1",
        will: Some(WillRef::Given(&will)),
        username: Some("user"),
        password: Some(b"secret"),
    });
    let buf = encode(&connect, v5);
    let Packet::Connect(c) = decode(&buf, v5) else {
        panic!("not a CONNECT")
    };
    assert!(inside(&buf, c.client_id.as_bytes()));
    assert!(inside(&buf, c.username.expect("user name").as_bytes()));
    assert!(inside(&buf, c.password.expect("password")));
    let w = c.will.expect("will").get();
    assert!(inside(&buf, w.topic.as_bytes()));
    assert!(inside(&buf, w.payload));
    assert_eq!(w.properties.iter().count(), 1);
    assert_eq!(c.properties.iter().count(), 1);
    for prop in w.properties.iter().chain(c.properties.iter()) {
        let Property::UserProperty(k, v) = prop else {
            panic!("unexpected {prop:?}")
        };
        assert!(inside(&buf, k.as_bytes()) && inside(&buf, v.as_bytes()));
    }
}

/// With `bytes`: `OwnedPacket::split_from` takes whole packets off the front of a
/// `BytesMut` without copying (and leaves a partial one in place), `publish_payload`
/// shares the packet's storage, and `Packet::encode_to` writes the bytes `encode` writes.
#[cfg(feature = "bytes")]
#[test]
fn bytes_owned_packets_share_the_receive_buffer() {
    use bytes::BytesMut;
    use mqtt_proto::OwnedPacket;

    let v = ProtocolVersion::V3_1_1;
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: true,
        topic: TopicName::from_static("a/b"),
        properties: Properties::empty(),
        payload: b"hello",
    });
    let one = encode(&publish, v);

    // encode_to onto a BytesMut: the same bytes, appended.
    let mut rx = BytesMut::with_capacity(64);
    assert_eq!(publish.encode_to(v, &mut rx), Ok(one.len()));
    assert_eq!(publish.encode_to(v, &mut rx), Ok(one.len()));
    assert_eq!(&rx[..one.len()], &one[..]);
    assert_eq!(&rx[one.len()..], &one[..]);
    rx.extend_from_slice(&one[..3]); // a third packet, partial

    let dec = Decoder::new(v);
    let storage = rx.as_ptr_range();
    let first = OwnedPacket::split_from(&mut rx, &dec)
        .expect("valid")
        .expect("whole");
    let second = OwnedPacket::split_from(&mut rx, &dec)
        .expect("valid")
        .expect("whole");
    assert_eq!(OwnedPacket::split_from(&mut rx, &dec), Ok(None));
    assert_eq!(&rx[..], &one[..3], "the partial packet stays in the buffer");

    for owned in [&first, &second] {
        assert_eq!(owned.as_bytes(), &one[..]);
        assert_eq!(owned.packet(), publish);
        let payload = owned.publish_payload().expect("a PUBLISH");
        assert_eq!(&payload[..], b"hello");
        // The payload is a view of the packet's bytes, which are the receive buffer's.
        assert!(inside(owned.as_bytes(), &payload));
        let p = owned.as_bytes().as_ptr_range();
        assert!(storage.start <= p.start && p.end <= storage.end);
    }

    // Anything but a PUBLISH has no payload.
    let mut ping = BytesMut::from(&[0xc0u8, 0x00][..]);
    let owned = OwnedPacket::split_from(&mut ping, &dec)
        .expect("valid")
        .expect("whole");
    assert_eq!(owned.packet(), Packet::PingReq);
    assert_eq!(owned.publish_payload(), None);

    // A malformed packet is an error, and the buffer is left as it was.
    let mut bad = BytesMut::from(&[0x36u8, 0x00][..]); // QoS 3
    assert!(OwnedPacket::split_from(&mut bad, &dec).is_err());
    assert_eq!(bad.len(), 2);

    // Too little room in a fixed BufMut names the size needed.
    let mut small = [0u8; 4];
    let mut window = &mut small[..];
    assert_eq!(
        publish.encode_to(v, &mut window),
        Err(mqtt_proto::EncodeError::BufferTooSmall {
            required: one.len()
        })
    );
}

/// With `defmt`: every public type implements `defmt::Format` (checked at compile time:
/// this test does not build if one loses it).
#[cfg(all(feature = "defmt", feature = "alloc"))]
#[test]
fn defmt_format_is_implemented_on_every_public_type() {
    use mqtt_proto::topic::{SharedFilter, TopicError};
    use mqtt_proto::*;
    fn format<T: defmt::Format + ?Sized>() {}
    format::<DecodeError>();
    format::<EncodeError>();
    format::<Needed>();
    format::<FixedHeader>();
    format::<Frame>();
    format::<List<'static, Property<'static>>>();
    format::<Iter<'static, Property<'static>>>();
    format::<OwnedPacket>();
    format::<PropertyContext>();
    format::<PropertyId>();
    format::<Property<'static>>();
    format::<Properties<'static>>();
    format::<ReasonCode>();
    format::<TopicError>();
    format::<SharedFilter<'static>>();
    format::<TopicName<'static>>();
    format::<TopicFilter<'static>>();
    format::<ProtocolVersion>();
    format::<QoS>();
    format::<QosPid>();
    format::<PacketId>();
    format::<Ack<'static>>();
    format::<Auth<'static>>();
    format::<ConnAck<'static>>();
    format::<Will<'static>>();
    format::<WillRef<'static>>();
    format::<ReceivedWill<'static>>();
    format::<Connect<'static>>();
    format::<Disconnect<'static>>();
    format::<PacketType>();
    format::<Packet<'static>>();
    format::<Decoded<'static>>();
    format::<Decoder>();
    format::<Publish<'static>>();
    format::<SubAck<'static>>();
    format::<RetainHandling>();
    format::<SubscriptionOptions>();
    format::<Subscription<'static>>();
    format::<Subscribe<'static>>();
    format::<UnsubAck<'static>>();
    format::<Unsubscribe<'static>>();
}

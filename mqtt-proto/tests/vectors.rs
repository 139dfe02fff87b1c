//! Byte-exact vectors: packets written out by hand from the spec text, checked in both
//! directions (encode gives exactly these bytes, decode gives back exactly this packet).

mod common;

use common::*;
#[cfg(feature = "v5")]
use mqtt_proto::Property;
use mqtt_proto::{
    Ack, ConnAck, Connect, DecodeError, Decoded, Decoder, Disconnect, List, Packet, PacketId,
    PacketType, Properties, Publish, QoS, QosPid, ReasonCode, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will, WillRef, varint,
};
use mqtt_proto::{TopicFilter, TopicName};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}

/// [MQTT-3.1.2-1] [MQTT-3.1.3-1] [MQTT-3.1.3-3] [MQTT-3.1.2-9] [MQTT-3.1.2-17] [MQTT-3.1.2-19]
/// [MQTT-3.1.2-21]
/// The MQTT 3.1.1 CONNECT variable header example (§3.1.2.10, figure 3.6): protocol name
/// "MQTT", level 4, flags 0xCE (user name, password, will QoS 1, will flag, clean session),
/// keep alive 10; then the payload in the order client id, will topic, will message, user
/// name, password.
#[test]
fn mqtt_3_1_3_1_connect_example_from_spec_3_1_1() {
    let connect = Packet::Connect(Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 10,
        properties: Properties::empty(),
        client_id: "client",
        will: Some(WillRef::Given(&Will {
            topic: TopicName::from_static("wt"),
            payload: b"bye",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::empty(),
        })),
        username: Some("user"),
        password: Some(b"pw"),
    });
    #[rustfmt::skip]
    let bytes = [
        0x10, 37,                                   // CONNECT, remaining length 37
        0x00, 0x04, b'M', b'Q', b'T', b'T',         // protocol name
        0x04,                                       // protocol level 4
        0xCE,                                       // 1100 1110: user, password, will QoS 1, will, clean
        0x00, 0x0A,                                 // keep alive 10
        0x00, 0x06, b'c', b'l', b'i', b'e', b'n', b't', // client identifier
        0x00, 0x02, b'w', b't',                     // will topic
        0x00, 0x03, b'b', b'y', b'e',               // will message
        0x00, 0x04, b'u', b's', b'e', b'r',         // user name
        0x00, 0x02, b'p', b'w',                     // password
    ];
    both_ways(&connect, V4, &bytes);
}

/// [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15] [MQTT-3.1.2-16] [MQTT-3.1.2-18]
/// [MQTT-3.1.2-20] [MQTT-3.1.3-3] Without a will, user name or password the flags carry
/// neither the will QoS/retain bits nor the user name/password bits, and the payload is the
/// client identifier alone (present even when zero-length).
#[test]
fn mqtt_3_1_2_11_no_will_means_will_qos_and_retain_zero() {
    for (v, name, level) in [(V31, &b"MQIsdp"[..], 3u8), (V4, &b"MQTT"[..], 4)] {
        let connect = Packet::Connect(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::empty(),
            client_id: "",
            will: None,
            username: None,
            password: None,
        });
        let mut body = lp(name);
        body.extend_from_slice(&[level, 0x02, 0x00, 0x00, 0x00, 0x00]);
        both_ways(&connect, v, &frame(0x10, &body));
    }
}

/// [MQTT-3.1.2-1] [MQTT-2.2.2-1] [MQTT-3.1.2-19] MQTT 5.0 CONNECT: an empty property set is
/// written as Property Length 0 (both CONNECT and will properties), and 5.0 lets a password
/// go without a user name.
#[test]
#[cfg(feature = "v5")]
fn mqtt_2_2_2_1_v5_connect_empty_properties_are_length_zero() {
    let connect = Packet::Connect(Connect {
        protocol: V5,
        clean_start: false,
        keep_alive: 60,
        properties: Properties::empty(),
        client_id: "c",
        will: Some(WillRef::Given(&Will {
            topic: TopicName::from_static("w"),
            payload: b"",
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties::empty(),
        })),
        username: None,
        password: Some(b"k"),
    });
    #[rustfmt::skip]
    let bytes = [
        0x10, 23,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
        0x74,                    // 0111 0100: password, will retain, will QoS 2, will
        0x00, 0x3C,
        0x00,                    // property length 0
        0x00, 0x01, b'c',
        0x00,                    // will property length 0
        0x00, 0x01, b'w',
        0x00, 0x00,
        0x00, 0x01, b'k',
    ];
    both_ways(&connect, V5, &bytes);
}

/// [MQTT-3.1.2-9] [MQTT-3.1.3-1] [MQTT-3.1.2-17] MQTT 5.0 CONNECT with properties and will
/// properties, byte for byte: client id, will properties, will topic, will payload, user name.
#[test]
#[cfg(feature = "v5")]
fn v5_connect_with_properties() {
    let props = [
        Property::SessionExpiryInterval(0x0000_0E10),
        Property::ReceiveMaximum(100),
        Property::UserProperty("k", "v"),
    ];
    let will_props = [Property::WillDelayInterval(5)];
    let connect = Packet::Connect(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::new(&props),
        client_id: "id",
        will: Some(WillRef::Given(&Will {
            topic: TopicName::from_static("t"),
            payload: b"x",
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::new(&will_props),
        })),
        username: Some("u"),
        password: None,
    });
    #[rustfmt::skip]
    let bytes = [
        0x10, 45,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
        0x86,                                  // user name, will QoS 0, will, clean start
        0x00, 0x00,
        15,                                    // property length
        0x11, 0x00, 0x00, 0x0E, 0x10,          // session expiry 3600
        0x21, 0x00, 0x64,                      // receive maximum 100
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
        0x00, 0x02, b'i', b'd',
        5, 0x18, 0x00, 0x00, 0x00, 0x05,       // will delay 5
        0x00, 0x01, b't',
        0x00, 0x01, b'x',
        0x00, 0x01, b'u',
    ];
    both_ways(&connect, V5, &bytes);
    #[cfg(feature = "decode-connect")]
    {
        let Packet::Connect(c) = decode_ok(V5, &bytes) else {
            panic!()
        };
        assert_eq!(c.properties.session_expiry_interval(), Some(3600));
        assert_eq!(c.properties.receive_maximum(), Some(100));
        assert_eq!(
            c.properties.user_properties().collect::<Vec<_>>(),
            [("k", "v")]
        );
        assert_eq!(
            c.will.unwrap().get().properties.will_delay_interval(),
            Some(5)
        );
    }
}

/// [MQTT-1.5.5-1] Variable byte integers at every length boundary encode to the fewest
/// bytes and decode back (§1.5.5, table 1-1).
#[test]
fn mqtt_1_5_5_1_variable_byte_integer_boundaries() {
    let cases: [(u32, &[u8]); 8] = [
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for (value, wire) in cases {
        let mut out = [0u8; 4];
        let n = varint::encode(value, &mut out);
        assert_eq!(&out[..n], wire, "encode {value}");
        assert_eq!(varint::len(value), wire.len(), "len {value}");
        assert_eq!(
            varint::decode(wire),
            Ok(Some((value, wire.len()))),
            "decode {value}"
        );
        // Followed by more bytes: only the integer is taken.
        let mut longer = wire.to_vec();
        longer.extend_from_slice(&[0xAB, 0xCD]);
        assert_eq!(varint::decode(&longer), Ok(Some((value, wire.len()))));
        // Every strict prefix is incomplete.
        for k in 0..wire.len() {
            assert_eq!(
                varint::decode(&wire[..k]),
                Ok(None),
                "prefix {k} of {value}"
            );
        }
    }
    assert_eq!(varint::MAX, 268_435_455);
}

/// A variable byte integer of five bytes is malformed (§1.5.5: at most four bytes).
#[test]
fn mqtt_1_5_5_variable_byte_integer_of_five_bytes_is_malformed() {
    assert_eq!(
        varint::decode(&[0x80, 0x80, 0x80, 0x80, 0x01]),
        Err(DecodeError::VarIntTooLong)
    );
    // Known from the fourth byte alone.
    assert_eq!(
        varint::decode(&[0xFF, 0xFF, 0xFF, 0xFF]),
        Err(DecodeError::VarIntTooLong)
    );
}

/// [MQTT-1.5.5-1] A non-minimal variable byte integer is malformed.
#[test]
fn mqtt_1_5_5_1_non_minimal_variable_byte_integer_is_malformed() {
    for wire in [
        &[0x80, 0x00][..],
        &[0xFF, 0x00],
        &[0x80, 0x80, 0x00],
        &[0x81, 0x80, 0x80, 0x00],
    ] {
        assert_eq!(
            varint::decode(wire),
            Err(DecodeError::VarIntNotMinimal),
            "{wire:02x?}"
        );
    }
}

proptest::proptest! {
    /// [MQTT-1.5.5-1] Every value round-trips through the shortest encoding; the same value
    /// padded with a zero continuation is refused.
    #[test]
    fn mqtt_1_5_5_1_variable_byte_integer_roundtrip(value in 0u32..=268_435_455) {
        let mut out = [0u8; 4];
        let n = varint::encode(value, &mut out);
        proptest::prop_assert_eq!(n, varint::len(value));
        proptest::prop_assert_eq!(varint::decode(&out[..n]), Ok(Some((value, n))));
        if n < 4 {
            let mut padded = out[..n].to_vec();
            *padded.last_mut().unwrap() |= 0x80;
            padded.push(0x00);
            proptest::prop_assert_eq!(varint::decode(&padded), Err(DecodeError::VarIntNotMinimal));
        }
    }
}

/// PINGREQ is `c0 00`, PINGRESP `d0 00`, a 3.1.1 DISCONNECT `e0 00`.
#[test]
fn ping_and_v4_disconnect_bytes() {
    for v in ALL_VERSIONS {
        both_ways(&Packet::PingReq, v, &[0xC0, 0x00]);
        both_ways(&Packet::PingResp, v, &[0xD0, 0x00]);
    }
    both_ways(&Packet::Disconnect(Disconnect::normal()), V4, &[0xE0, 0x00]);
    both_ways(
        &Packet::Disconnect(Disconnect::normal()),
        V31,
        &[0xE0, 0x00],
    );
    // 5.0: a normal disconnection without properties may omit the reason code (§3.14.2.1).
    #[cfg(feature = "v5")]
    {
        both_ways(&Packet::Disconnect(Disconnect::normal()), V5, &[0xE0, 0x00]);
        both_ways(
            &Packet::Disconnect(Disconnect::with_reason(
                ReasonCode::DisconnectWithWillMessage,
            )),
            V5,
            &[0xE0, 0x01, 0x04],
        );
        assert_eq!(
            decode_ok(V5, &[0xE0, 0x02, 0x00, 0x00]),
            Packet::Disconnect(Disconnect::normal())
        );
    }
}

/// [MQTT-2.2.2-1] [MQTT-2.1.3-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]
/// [MQTT-3.14.1-1] [MQTT-3.15.1-1] The encoder writes the fixed flag bits: 0010 for PUBREL,
/// SUBSCRIBE and UNSUBSCRIBE, 0000 for every other packet but PUBLISH.
#[test]
fn mqtt_2_2_2_1_encoder_writes_fixed_header_flags() {
    let id = pid(1);
    let subs = [Subscription {
        filter: TopicFilter::from_static("a"),
        options: SubscriptionOptions::new(QoS::AtMostOnce),
    }];
    let filters = [TopicFilter::from_static("a")];
    let codes = [ReasonCode::Success];
    // The CONNECT in the highest version this build speaks.
    #[cfg(feature = "v5")]
    let connect_version = V5;
    #[cfg(not(feature = "v5"))]
    let connect_version = V4;
    let connect = Connect {
        protocol: connect_version,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "",
        will: None,
        username: None,
        password: None,
    };
    let packets = [
        (Packet::Connect(connect), 0x10),
        (
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::Success,
                properties: Properties::empty(),
            }),
            0x20,
        ),
        (Packet::PubAck(Ack::new(id)), 0x40),
        (Packet::PubRec(Ack::new(id)), 0x50),
        (Packet::PubRel(Ack::new(id)), 0x62),
        (Packet::PubComp(Ack::new(id)), 0x70),
        (
            Packet::Subscribe(Subscribe {
                packet_id: id,
                properties: Properties::empty(),
                filters: List::new(&subs),
            }),
            0x82,
        ),
        (
            Packet::SubAck(SubAck {
                packet_id: id,
                properties: Properties::empty(),
                reason_codes: List::new(&codes),
            }),
            0x90,
        ),
        (
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id,
                properties: Properties::empty(),
                filters: List::new(&filters),
            }),
            0xA2,
        ),
        (
            Packet::UnsubAck(UnsubAck {
                packet_id: id,
                properties: Properties::empty(),
                reason_codes: List::new(&codes),
            }),
            0xB0,
        ),
        (Packet::PingReq, 0xC0),
        (Packet::PingResp, 0xD0),
        (Packet::Disconnect(Disconnect::normal()), 0xE0),
        (
            Packet::Auth(mqtt_proto::Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::empty(),
            }),
            0xF0,
        ),
    ];
    for (p, first) in packets {
        if !encodes(p.packet_type()) {
            // A build without `encode-server` has no encoder for it.
            assert_eq!(encode_err(&p, V4), mqtt_proto::EncodeError::ServerOnly);
            continue;
        }
        #[cfg(feature = "v5")]
        assert_eq!(encode(&p, V5)[0], first, "{:?}", p.packet_type());
        let other_version = matches!(p, Packet::Connect(c) if c.protocol != V4);
        if !matches!(p, Packet::Auth(_)) && !other_version {
            let v4 = match p {
                Packet::UnsubAck(u) => Packet::UnsubAck(UnsubAck {
                    reason_codes: List::empty(),
                    ..u
                }),
                other => other,
            };
            assert_eq!(encode(&v4, V4)[0], first, "{:?} v4", p.packet_type());
        }
    }
}

/// [MQTT-4.3.1-1] [MQTT-2.3.1-5] [MQTT-2.2.1-2] [MQTT-3.3.2-1] A QoS 0 PUBLISH: flags 0000
/// (QoS 0, DUP 0), the topic name first, no packet identifier, then the payload.
#[test]
fn mqtt_2_3_1_5_qos0_publish_has_no_packet_id() {
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("a/b"),
        properties: Properties::empty(),
        payload: b"hi",
    });
    both_ways(
        &p,
        V4,
        &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'],
    );
    // 5.0 adds the property length, still no packet identifier.
    #[cfg(feature = "v5")]
    both_ways(
        &p,
        V5,
        &[0x30, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, b'h', b'i'],
    );
    // Two bytes after a QoS 0 topic are payload, not an identifier.
    let Packet::Publish(d) = decode_ok(V4, &[0x30, 0x05, 0x00, 0x01, b'a', 0x00, 0x07]) else {
        panic!()
    };
    assert_eq!(d.qos, QosPid::AtMostOnce);
    assert_eq!(d.payload, &[0x00, 0x07]);
}

/// [MQTT-2.3.1-1] QoS 1 and 2 PUBLISH carry their packet identifier after the topic;
/// DUP and RETAIN land in bits 3 and 0.
#[test]
fn mqtt_2_3_1_1_qos1_and_qos2_publish_bytes() {
    let p = Packet::Publish(Publish {
        dup: true,
        qos: QosPid::ExactlyOnce(pid(0x1234)),
        retain: true,
        topic: TopicName::from_static("t"),
        properties: Properties::empty(),
        payload: b"",
    });
    both_ways(&p, V4, &[0x3D, 0x05, 0x00, 0x01, b't', 0x12, 0x34]);
    #[cfg(feature = "v5")]
    {
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtLeastOnce(pid(10)),
            retain: false,
            topic: TopicName::from_static("t"),
            properties: Properties::empty(),
            payload: b"x",
        });
        both_ways(
            &p,
            V5,
            &[0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x0A, 0x00, b'x'],
        );
    }
}

/// 5.0 PUBLISH with an empty topic name and a Topic Alias (§3.3.2.1), and several
/// Subscription Identifiers (allowed from a server, §3.3.2.3.8).
#[test]
#[cfg(feature = "v5")]
fn v5_publish_topic_alias_and_subscription_identifiers() {
    let props = [
        Property::TopicAlias(3),
        Property::SubscriptionIdentifier(1),
        Property::SubscriptionIdentifier(268_435_455),
    ];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::ALIAS_ONLY,
        properties: Properties::new(&props),
        payload: b"",
    });
    #[rustfmt::skip]
    let bytes = [
        0x30, 13, 0x00, 0x00,
        10, 0x23, 0x00, 0x03, 0x0B, 0x01, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F,
    ];
    both_ways(&p, V5, &bytes);
    let Packet::Publish(d) = decode_ok(V5, &bytes) else {
        panic!()
    };
    assert_eq!(d.properties.topic_alias(), Some(3));
    assert_eq!(
        d.properties.subscription_identifiers().collect::<Vec<_>>(),
        [1, 268_435_455]
    );
}

/// A 5.0 PUBACK with only the packet identifier (Remaining Length 2) means Success with no
/// properties (§3.4.2.1); the encoder uses that short form for it.
#[test]
#[cfg(feature = "v5")]
fn v5_puback_short_form_is_success() {
    let ack = Packet::PubAck(Ack::new(pid(1)));
    both_ways(&ack, V5, &[0x40, 0x02, 0x00, 0x01]);
    // The reason code alone, and with property length 0.
    assert_eq!(
        decode_ok(V5, &[0x40, 0x03, 0x00, 0x01, 0x00]),
        Packet::PubAck(Ack::new(pid(1)))
    );
    assert_eq!(
        decode_ok(V5, &[0x40, 0x04, 0x00, 0x01, 0x00, 0x00]),
        Packet::PubAck(Ack::new(pid(1)))
    );
    let nms = Packet::PubRec(Ack {
        packet_id: pid(7),
        reason_code: ReasonCode::NoMatchingSubscribers,
        properties: Properties::empty(),
    });
    both_ways(&nms, V5, &[0x50, 0x03, 0x00, 0x07, 0x10]);
    let rs = [Property::ReasonString("no")];
    let with_props = Packet::PubComp(Ack {
        packet_id: pid(7),
        reason_code: ReasonCode::PacketIdentifierNotFound,
        properties: Properties::new(&rs),
    });
    both_ways(
        &with_props,
        V5,
        &[
            0x70, 0x09, 0x00, 0x07, 0x92, 0x05, 0x1F, 0x00, 0x02, b'n', b'o',
        ],
    );
    // Success with properties keeps the reason code byte.
    let ok_props = Packet::PubAck(Ack {
        packet_id: pid(7),
        reason_code: ReasonCode::Success,
        properties: Properties::new(&rs),
    });
    both_ways(
        &ok_props,
        V5,
        &[
            0x40, 0x09, 0x00, 0x07, 0x00, 0x05, 0x1F, 0x00, 0x02, b'n', b'o',
        ],
    );
}

/// A 5.0 CONNACK with properties, byte for byte, and the typed getters.
#[test]
#[cfg(feature = "v5")]
fn v5_connack_with_properties() {
    let props = [
        Property::ReceiveMaximum(20),
        Property::MaximumQoS(QoS::AtLeastOnce),
        Property::TopicAliasMaximum(10),
        Property::AssignedClientIdentifier("id"),
    ];
    let p = Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ReasonCode::Success,
        properties: Properties::new(&props),
    });
    #[rustfmt::skip]
    let bytes = [
        0x20, 0x10, 0x01, 0x00,
        0x0D,
        0x21, 0x00, 0x14,
        0x24, 0x01,
        0x22, 0x00, 0x0A,
        0x12, 0x00, 0x02, b'i', b'd',
    ];
    both_ways(&p, V5, &bytes);
    let Packet::ConnAck(c) = decode_ok(V5, &bytes) else {
        panic!()
    };
    assert!(c.session_present);
    assert_eq!(c.properties.receive_maximum(), Some(20));
    assert_eq!(c.properties.maximum_qos(), Some(QoS::AtLeastOnce));
    assert_eq!(c.properties.topic_alias_maximum(), Some(10));
    assert_eq!(c.properties.assigned_client_identifier(), Some("id"));
    assert_eq!(c.properties.retain_available(), None);
    // A refusal with a 5.0-only code.
    both_ways(
        &Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Banned,
            properties: Properties::empty(),
        }),
        V5,
        &[0x20, 0x03, 0x00, 0x8A, 0x00],
    );
}

/// 3.1.1 CONNACK return codes 1..5 map to the 5.0 reason codes of the same meaning, and
/// encode back to the 3.1.1 byte.
#[test]
fn v311_connack_return_codes_map_to_v5_reason_codes() {
    let map = [
        (0u8, ReasonCode::Success),
        (1, ReasonCode::UnsupportedProtocolVersion),
        (2, ReasonCode::ClientIdentifierNotValid),
        (3, ReasonCode::ServerUnavailable),
        (4, ReasonCode::BadUserNameOrPassword),
        (5, ReasonCode::NotAuthorized),
    ];
    for (byte, rc) in map {
        let p = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: rc,
            properties: Properties::empty(),
        });
        both_ways(&p, V4, &[0x20, 0x02, 0x00, byte]);
        assert_eq!(ReasonCode::from_connack_v3(byte), Ok(rc));
        assert_eq!(rc.to_connack_v3(), Some(byte));
    }
    both_ways(
        &Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: Properties::empty(),
        }),
        V4,
        &[0x20, 0x02, 0x01, 0x00],
    );
    // Return code 6 is reserved.
    assert_eq!(
        decode_err(V4, &[0x20, 0x02, 0x00, 0x06]),
        DecodeError::InvalidReasonCode(6)
    );
    // A 5.0-only code cannot be sent as 3.1.1 (nor can a CONNACK at all without
    // `encode-server`).
    let banned = Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Banned,
        properties: Properties::empty(),
    });
    let want = if encodes(PacketType::ConnAck) {
        mqtt_proto::EncodeError::InvalidReasonCode(0x8A)
    } else {
        mqtt_proto::EncodeError::ServerOnly
    };
    assert_eq!(encode_err(&banned, V4), want);
}

/// [MQTT-3.9.3-2] 3.1.1 SUBACK: 0x00, 0x01, 0x02 grant a QoS and 0x80 is Failure, read as
/// Unspecified error.
#[test]
fn mqtt_3_9_3_2_v311_suback_return_codes() {
    let codes = [
        ReasonCode::Success,
        ReasonCode::GrantedQoS1,
        ReasonCode::GrantedQoS2,
        ReasonCode::UnspecifiedError,
    ];
    let p = Packet::SubAck(SubAck {
        packet_id: pid(10),
        properties: Properties::empty(),
        reason_codes: List::new(&codes),
    });
    both_ways(&p, V4, &[0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80]);
    let Packet::SubAck(s) = decode_ok(V4, &[0x90, 0x03, 0x00, 0x01, 0x80]) else {
        panic!()
    };
    assert_eq!(
        s.reason_codes.iter().collect::<Vec<_>>(),
        [ReasonCode::UnspecifiedError]
    );
    // A 5.0-only SUBACK code has no 3.1.1 byte (nor is a SUBACK sent at all without
    // `encode-server`).
    let quota = [ReasonCode::QuotaExceeded];
    let p = Packet::SubAck(SubAck {
        packet_id: pid(10),
        properties: Properties::empty(),
        reason_codes: List::new(&quota),
    });
    let want = if encodes(PacketType::SubAck) {
        mqtt_proto::EncodeError::InvalidReasonCode(0x97)
    } else {
        mqtt_proto::EncodeError::ServerOnly
    };
    assert_eq!(encode_err(&p, V4), want);
}

/// 5.0 SUBSCRIBE with every subscription option and a shared filter, byte for byte, and the
/// 3.1.1 form with only the requested QoS.
#[test]
fn subscribe_bytes_v311_and_v5() {
    #[cfg(feature = "v5")]
    {
        let subs = [
            Subscription {
                filter: TopicFilter::from_static("a/+"),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: mqtt_proto::RetainHandling::DoNotSend,
                },
            },
            Subscription {
                filter: TopicFilter::from_static("$share/g/#"),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: false,
                    retain_as_published: false,
                    retain_handling: mqtt_proto::RetainHandling::SendAtNewSubscribe,
                },
            },
        ];
        let sid = [Property::SubscriptionIdentifier(300)];
        let p = Packet::Subscribe(Subscribe {
            packet_id: pid(2),
            properties: Properties::new(&sid),
            filters: List::new(&subs),
        });
        #[rustfmt::skip]
        let bytes = [
            0x82, 25, 0x00, 0x02,
            3, 0x0B, 0xAC, 0x02,
            0x00, 0x03, b'a', b'/', b'+', 0x2E,
            0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'#', 0x11,
        ];
        both_ways(&p, V5, &bytes);
    }

    let subs = [Subscription {
        filter: TopicFilter::from_static("a/#"),
        options: SubscriptionOptions::new(QoS::AtLeastOnce),
    }];
    let p = Packet::Subscribe(Subscribe {
        packet_id: pid(2),
        properties: Properties::empty(),
        filters: List::new(&subs),
    });
    both_ways(
        &p,
        V4,
        &[0x82, 0x08, 0x00, 0x02, 0x00, 0x03, b'a', b'/', b'#', 0x01],
    );
}

/// UNSUBSCRIBE and UNSUBACK bytes in both versions.
#[test]
fn unsubscribe_and_unsuback_bytes() {
    let filters = [
        TopicFilter::from_static("a/b"),
        TopicFilter::from_static("#"),
    ];
    let p = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(3),
        properties: Properties::empty(),
        filters: List::new(&filters),
    });
    #[rustfmt::skip]
    let v4 = [0xA2, 10, 0x00, 0x03, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'#'];
    both_ways(&p, V4, &v4);
    #[cfg(feature = "v5")]
    {
        #[rustfmt::skip]
        let v5 = [0xA2, 11, 0x00, 0x03, 0x00, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'#'];
        both_ways(&p, V5, &v5);
    }

    let ack = Packet::UnsubAck(UnsubAck {
        packet_id: pid(3),
        properties: Properties::empty(),
        reason_codes: List::empty(),
    });
    both_ways(&ack, V4, &[0xB0, 0x02, 0x00, 0x03]);
    #[cfg(feature = "v5")]
    {
        let codes = [ReasonCode::Success, ReasonCode::NoSubscriptionExisted];
        let ack = Packet::UnsubAck(UnsubAck {
            packet_id: pid(3),
            properties: Properties::empty(),
            reason_codes: List::new(&codes),
        });
        both_ways(&ack, V5, &[0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11]);
    }
}

/// 5.0 AUTH: the empty Success form (`f0 00`), and continue-authentication with method and
/// data.
#[test]
#[cfg(feature = "v5")]
fn v5_auth_bytes() {
    both_ways(
        &Packet::Auth(mqtt_proto::Auth {
            reason_code: ReasonCode::Success,
            properties: Properties::empty(),
        }),
        V5,
        &[0xF0, 0x00],
    );
    let props = [
        Property::AuthenticationMethod("SCRAM"),
        Property::AuthenticationData(&[1, 2]),
    ];
    let p = Packet::Auth(mqtt_proto::Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties::new(&props),
    });
    #[rustfmt::skip]
    let bytes = [
        0xF0, 15, 0x18, 13,
        0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M',
        0x16, 0x00, 0x02, 0x01, 0x02,
    ];
    both_ways(&p, V5, &bytes);
}

/// [MQTT-1.5.3-3] [MQTT-1.5.4-3] U+FEFF (EF BB BF) in a string is kept as a character,
/// never skipped or stripped, wherever it stands.
#[test]
fn mqtt_1_5_4_3_zero_width_no_break_space_is_kept() {
    for v in V4_V5 {
        let topic = "\u{FEFF}a\u{FEFF}b\u{FEFF}";
        let mut body = lp(topic.as_bytes());
        assert_eq!(&body[2..5], &[0xEF, 0xBB, 0xBF]);
        if v.is_v5() {
            body.push(0x00);
        }
        let bytes = frame(0x30, &body);
        let Packet::Publish(p) = decode_ok(v, &bytes) else {
            panic!()
        };
        assert_eq!(p.topic, topic);
        assert_eq!(p.topic.len(), 11);
        assert_eq!(encode(&Packet::Publish(p), v), bytes);
    }
    // Also a client id that is nothing but U+FEFF (decoded with `decode-connect`).
    #[cfg(feature = "decode-connect")]
    {
        let mut body = lp(b"MQTT");
        body.extend_from_slice(&[0x04, 0x02, 0x00, 0x00]);
        body.extend_from_slice(&lp("\u{FEFF}".as_bytes()));
        let bytes = frame(0x10, &body);
        let Packet::Connect(c) = decode_ok(V4, &bytes) else {
            panic!()
        };
        assert_eq!(c.client_id, "\u{FEFF}");
    }
}

/// The fixed header alone tells the packet length: `Needed::Header` before, then
/// `Needed::Total` with the full size.
#[test]
fn incomplete_reports_needed_header_then_total() {
    let dec = Decoder::new(V4);
    assert_eq!(
        dec.decode(&[]),
        Ok(Decoded::Incomplete(mqtt_proto::Needed::Header))
    );
    assert_eq!(
        dec.decode(&[0x30]),
        Ok(Decoded::Incomplete(mqtt_proto::Needed::Header))
    );
    assert_eq!(
        dec.decode(&[0x30, 0x80]),
        Ok(Decoded::Incomplete(mqtt_proto::Needed::Header))
    );
    assert_eq!(
        dec.decode(&[0x30, 0x80, 0x01]),
        Ok(Decoded::Incomplete(mqtt_proto::Needed::Total(131)))
    );
    assert_eq!(
        dec.decode(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
        Ok(Decoded::Incomplete(mqtt_proto::Needed::Total(268_435_460)))
    );
    // framing::frame agrees and reports the header.
    match mqtt_proto::frame(&[0x62, 0x02, 0x00, 0x01], V4, u32::MAX) {
        Ok(mqtt_proto::Frame::Complete(h)) => {
            assert_eq!(h.packet_type, PacketType::PubRel);
            assert_eq!(h.flags, 0b0010);
            assert_eq!(h.header_len, 2);
            assert_eq!(h.remaining_length, 2);
            assert_eq!(h.total_len(), 4);
        }
        other => panic!("{other:?}"),
    }
}

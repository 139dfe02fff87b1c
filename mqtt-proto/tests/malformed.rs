//! One malformed vector (at least) per error class, asserting the exact `DecodeError`, and
//! the encoder's refusals (`EncodeError`) of packets the spec forbids sending.

mod common;

use common::*;
#[cfg(feature = "v5")]
use mqtt_proto::PacketType;
use mqtt_proto::{
    Ack, Auth, ConnAck, Connect, DecodeError, Decoded, Decoder, Disconnect, EncodeError, List,
    Packet, PacketId, Properties, Property, ProtocolVersion, Publish, QoS, QosPid, ReasonCode,
    RetainHandling, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
    WillRef, topic::TopicError,
};
use mqtt_proto::{TopicFilter, TopicName};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}

/// A QoS 0 PUBLISH to topic "t" (5.0) with the given property bytes.
#[cfg(feature = "v5")]
fn publish_v5_with_props(props: &[u8]) -> Vec<u8> {
    let mut body = lp(b"t");
    body.extend(prop_block(props));
    frame(0x30, &body)
}

/// A CONNECT: protocol name, level, flags, keep alive 0, then `rest` (properties and payload).
#[cfg(feature = "decode-connect")]
fn connect_raw(name: &[u8], level: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut body = lp(name);
    body.extend_from_slice(&[level, flags, 0x00, 0x00]);
    body.extend_from_slice(rest);
    frame(0x10, &body)
}

/// A 3.1.1 CONNECT with `flags` and payload `payload` (client id first).
#[cfg(feature = "decode-connect")]
fn connect_v4(flags: u8, payload: &[u8]) -> Vec<u8> {
    connect_raw(b"MQTT", 4, flags, payload)
}

/// A 5.0 CONNECT with CONNECT property bytes `props` and client id "c".
#[cfg(all(feature = "v5", feature = "decode-connect"))]
fn connect_v5_with_props(props: &[u8]) -> Vec<u8> {
    let mut rest = prop_block(props);
    rest.extend(lp(b"c"));
    connect_raw(b"MQTT", 5, 0x02, &rest)
}

/// The same error from the 3.1.1 bytes and, with the `v5` feature, the 5.0 bytes.
fn both(bytes_v4: &[u8], bytes_v5: &[u8], want: DecodeError) {
    assert_eq!(decode_err(V4, bytes_v4), want, "v4");
    #[cfg(feature = "v5")]
    assert_eq!(decode_err(V5, bytes_v5), want, "v5");
    #[cfg(not(feature = "v5"))]
    let _ = bytes_v5;
}

// ---------------------------------------------------------------------------------------
// Fixed header.
// ---------------------------------------------------------------------------------------

/// A remaining length of more than four bytes is malformed (§2.1.4, §1.5.5).
#[test]
fn remaining_length_over_four_bytes_is_malformed() {
    for v in ALL_VERSIONS {
        assert_eq!(
            decode_err(v, &[0x30, 0x80, 0x80, 0x80, 0x80, 0x01]),
            DecodeError::VarIntTooLong
        );
        // Known as soon as the fourth length byte has its continuation bit.
        assert_eq!(
            decode_err(v, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF]),
            DecodeError::VarIntTooLong
        );
    }
}

/// [MQTT-1.5.5-1] A non-minimal remaining length (or property length) is malformed.
#[test]
fn mqtt_1_5_5_1_non_minimal_remaining_length_is_malformed() {
    assert_eq!(
        decode_err(V4, &[0xC0, 0x80, 0x00]),
        DecodeError::VarIntNotMinimal
    );
    assert_eq!(
        decode_err(V4, &[0x40, 0x82, 0x00, 0x00, 0x01]),
        DecodeError::VarIntNotMinimal
    );
    #[cfg(feature = "v5")]
    {
        // A property length of 0 written in two bytes.
        let mut body = lp(b"t");
        body.extend_from_slice(&[0x80, 0x00]);
        assert_eq!(
            decode_err(V5, &frame(0x30, &body)),
            DecodeError::VarIntNotMinimal
        );
    }
}

/// A packet larger than the caller's maximum fails from its fixed header alone, before its
/// body is buffered; the size counts the fixed header (§3.1.2.11.4).
#[test]
fn packet_over_maximum_size_fails_from_fixed_header_alone() {
    for v in ALL_VERSIONS {
        let dec = Decoder::new(v).max_packet_size(100);
        // Remaining length 128: 131 bytes in all; only the 3 header bytes are buffered.
        assert_eq!(
            dec.decode(&[0x30, 0x80, 0x01]),
            Err(DecodeError::PacketTooLarge {
                size: 131,
                max: 100
            })
        );
        // The largest remaining length, with 5 header bytes buffered.
        assert_eq!(
            dec.decode(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(DecodeError::PacketTooLarge {
                size: 268_435_460,
                max: 100
            })
        );
        // 2 header bytes: remaining length 99 makes 101 bytes.
        assert_eq!(
            dec.decode(&[0x30, 99]),
            Err(DecodeError::PacketTooLarge {
                size: 101,
                max: 100
            })
        );
        // 98 makes exactly 100: fine, waits for the body.
        assert_eq!(
            dec.decode(&[0x30, 98]),
            Ok(Decoded::Incomplete(mqtt_proto::Needed::Total(100)))
        );
        // Before the remaining length is complete nothing is known yet.
        assert_eq!(
            dec.decode(&[0x30, 0x80]),
            Ok(Decoded::Incomplete(mqtt_proto::Needed::Header))
        );
    }
    assert_eq!(
        DecodeError::PacketTooLarge { size: 1, max: 0 }.reason_code(),
        ReasonCode::PacketTooLarge
    );
}

/// [MQTT-2.2.2-2] [MQTT-2.2.2-1] [MQTT-2.1.3-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1]
/// [MQTT-3.10.1-1] [MQTT-3.14.1-1] [MQTT-3.15.1-1] Every flag value other than the fixed
/// one (0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE; 0000 otherwise) is malformed, from the first
/// byte alone.
#[test]
fn mqtt_2_2_2_2_invalid_fixed_header_flags_are_malformed() {
    for v in ALL_VERSIONS {
        let last = if v.is_v5() { 15 } else { 14 };
        for t in 1u8..=last {
            if t == 3 {
                continue; // PUBLISH flags carry DUP, QoS, RETAIN
            }
            let fixed = if matches!(t, 6 | 8 | 10) { 0b0010 } else { 0 };
            for flags in 0u8..16 {
                let first = t << 4 | flags;
                let input = [first, 0x00];
                let got = Decoder::new(v).decode(&input);
                if flags == fixed {
                    assert!(
                        !matches!(got, Err(DecodeError::InvalidFixedHeaderFlags(_))),
                        "{first:#04x} under {v:?}: {got:?}"
                    );
                } else {
                    assert_eq!(
                        got,
                        Err(DecodeError::InvalidFixedHeaderFlags(first)),
                        "{first:#04x} under {v:?}"
                    );
                    // The first byte alone is enough.
                    assert_eq!(
                        Decoder::new(v).decode(&[first]),
                        Err(DecodeError::InvalidFixedHeaderFlags(first))
                    );
                }
            }
        }
    }
}

/// [MQTT-3.6.1-1] PUBREL with flags 0000 is malformed.
#[test]
fn mqtt_3_6_1_1_pubrel_with_flags_0000_is_malformed() {
    both(
        &[0x60, 0x02, 0x00, 0x01],
        &[0x60, 0x02, 0x00, 0x01],
        DecodeError::InvalidFixedHeaderFlags(0x60),
    );
}

/// [MQTT-3.8.1-1] SUBSCRIBE with flags 0000 is malformed.
#[test]
fn mqtt_3_8_1_1_subscribe_with_flags_0000_is_malformed() {
    both(
        &[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        &[0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00],
        DecodeError::InvalidFixedHeaderFlags(0x80),
    );
}

/// [MQTT-3.10.1-1] UNSUBSCRIBE with flags 0000 is malformed.
#[test]
fn mqtt_3_10_1_1_unsubscribe_with_flags_0000_is_malformed() {
    both(
        &[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        &[0xA0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, b'a'],
        DecodeError::InvalidFixedHeaderFlags(0xA0),
    );
}

/// [MQTT-2.2.2-2] PINGREQ with a flag bit set is malformed.
#[test]
fn mqtt_2_2_2_2_pingreq_with_flags_is_malformed() {
    both(
        &[0xC1, 0x00],
        &[0xC1, 0x00],
        DecodeError::InvalidFixedHeaderFlags(0xC1),
    );
    both(
        &[0xC8, 0x00],
        &[0xC8, 0x00],
        DecodeError::InvalidFixedHeaderFlags(0xC8),
    );
}

/// [MQTT-3.14.1-1] DISCONNECT with reserved flag bits set is malformed (Malformed Packet).
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_14_1_1_disconnect_with_flags_is_malformed() {
    let e = decode_err(V5, &[0xE2, 0x00]);
    assert_eq!(e, DecodeError::InvalidFixedHeaderFlags(0xE2));
    assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
}

/// [MQTT-3.15.1-1] AUTH with reserved flag bits set is malformed.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_15_1_1_auth_with_flags_is_malformed() {
    assert_eq!(
        decode_err(V5, &[0xF1, 0x00]),
        DecodeError::InvalidFixedHeaderFlags(0xF1)
    );
}

/// AUTH (type 15) does not exist before 5.0; type 0 is reserved in every version.
#[test]
fn auth_in_v311_and_type_0_are_invalid_packet_types() {
    assert_eq!(
        decode_err(V4, &[0xF0, 0x00]),
        DecodeError::InvalidPacketType(15)
    );
    assert_eq!(
        decode_err(V31, &[0xF0, 0x00]),
        DecodeError::InvalidPacketType(15)
    );
    for v in ALL_VERSIONS {
        assert_eq!(
            decode_err(v, &[0x00, 0x00]),
            DecodeError::InvalidPacketType(0)
        );
    }
}

// ---------------------------------------------------------------------------------------
// PUBLISH.
// ---------------------------------------------------------------------------------------

/// [MQTT-3.3.1-4] A PUBLISH with both QoS bits set is malformed.
#[test]
fn mqtt_3_3_1_4_qos3_publish_is_malformed() {
    let v4 = [0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
    let v5 = [0x36, 0x06, 0x00, 0x01, b't', 0x00, 0x01, 0x00];
    both(&v4, &v5, DecodeError::InvalidQoS);
    both(&[0x3F, 0x00], &[0x3F, 0x00], DecodeError::InvalidQoS);
}

/// [MQTT-3.3.1-2] A QoS 0 PUBLISH with DUP set is malformed; the encoder refuses it too.
#[test]
fn mqtt_3_3_1_2_dup_on_qos0_is_malformed() {
    both(
        &[0x38, 0x03, 0x00, 0x01, b't'],
        &[0x38, 0x04, 0x00, 0x01, b't', 0x00],
        DecodeError::DupWithQoS0,
    );
    let p = Packet::Publish(Publish {
        dup: true,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("t"),
        properties: Properties::empty(),
        payload: b"",
    });
    for v in ALL_VERSIONS {
        assert_eq!(encode_err(&p, v), EncodeError::DupWithQoS0);
    }
}

/// [MQTT-3.3.2-2] [MQTT-4.7.0-1] A PUBLISH topic name with a wildcard is refused on both
/// sides.
#[test]
fn mqtt_3_3_2_2_wildcard_in_publish_topic_is_refused() {
    for topic in ["a/+", "#", "a/#", "+", "a+b", "sport/tennis#"] {
        let mut v4 = lp(topic.as_bytes());
        let mut v5 = v4.clone();
        v5.push(0x00);
        v4.extend_from_slice(b"payload");
        both(
            &frame(0x30, &v4),
            &frame(0x30, &v5),
            DecodeError::InvalidTopicName,
        );
        // The sending side cannot even make a PUBLISH with it: its topic is a `TopicName`.
        assert_eq!(
            TopicName::new(topic),
            Err(TopicError::WildcardInName),
            "{topic}"
        );
    }
    assert_eq!(
        DecodeError::InvalidTopicName.reason_code(),
        ReasonCode::TopicNameInvalid
    );
}

/// [MQTT-3.3.2-2] [MQTT-1.5.4-2] A wildcard or a U+0000 at any position of a PUBLISH topic
/// name of any length (1 to 40 bytes: the word-at-a-time path, the 16-byte blocks and
/// their overlapping last block) is refused with its own error; the same name without it
/// decodes.
#[test]
fn mqtt_3_3_2_2_wildcard_or_nul_anywhere_in_publish_topic_is_refused() {
    for len in 1..=40 {
        for at in 0..len {
            for (bad, want) in [
                (b'+', DecodeError::InvalidTopicName),
                (b'#', DecodeError::InvalidTopicName),
                (0, DecodeError::NullCharacter),
            ] {
                let mut topic = vec![b'a'; len];
                topic[at] = bad;
                let mut v4 = lp(&topic);
                v4.extend_from_slice(b"x");
                let mut v5 = lp(&topic);
                v5.push(0x00);
                both(&frame(0x30, &v4), &frame(0x30, &v5), want);
            }
        }
        let good = frame(0x30, &lp(&vec![b'a'; len]));
        assert!(
            matches!(
                Decoder::new(V4).decode(&good),
                Ok(Decoded::Packet {
                    packet: Packet::Publish(_),
                    ..
                })
            ),
            "{len}"
        );
    }
}

/// [MQTT-4.7.3-1] An empty PUBLISH topic name is refused (5.0: unless a Topic Alias stands
/// in for it).
#[test]
fn mqtt_4_7_3_1_empty_publish_topic_without_alias_is_refused() {
    both(
        &[0x30, 0x02, 0x00, 0x00],
        &[0x30, 0x03, 0x00, 0x00, 0x00],
        DecodeError::InvalidTopicName,
    );
    let alias = [Property::TopicAlias(1)];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::ALIAS_ONLY,
        properties: Properties::new(&alias),
        payload: b"",
    });
    #[cfg(feature = "v5")]
    encode(&p, V5);
    // 3.1.1 has no topic alias: empty topic and properties are both refused.
    let bare = Packet::Publish(Publish {
        properties: Properties::empty(),
        ..match p {
            Packet::Publish(x) => x,
            _ => unreachable!(),
        }
    });
    assert_eq!(encode_err(&bare, V4), EncodeError::InvalidTopicName);
    #[cfg(feature = "v5")]
    assert_eq!(encode_err(&bare, V5), EncodeError::InvalidTopicName);
}

/// [MQTT-2.3.1-1] A PUBLISH at QoS 1 or 2 with packet identifier 0 is malformed.
#[test]
fn mqtt_2_3_1_1_publish_qos1_with_packet_id_0_is_malformed() {
    both(
        &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        &[0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x00, 0x00],
        DecodeError::ZeroPacketId,
    );
    both(
        &[0x34, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        &[0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x00, 0x00],
        DecodeError::ZeroPacketId,
    );
    // The type makes a zero identifier unrepresentable on the encode side.
    assert!(PacketId::new(0).is_none());
}

/// [MQTT-2.3.1-1] PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE and
/// UNSUBACK with packet identifier 0 are malformed.
#[test]
fn mqtt_2_3_1_1_packet_id_0_is_malformed_in_every_packet_that_has_one() {
    for first in [0x40u8, 0x50, 0x62, 0x70, 0xB0] {
        both(
            &[first, 0x02, 0x00, 0x00],
            &[first, 0x02, 0x00, 0x00],
            DecodeError::ZeroPacketId,
        );
    }
    both(
        &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
        &[0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, b'a', 0x00],
        DecodeError::ZeroPacketId,
    );
    both(
        &[0x90, 0x03, 0x00, 0x00, 0x00],
        &[0x90, 0x04, 0x00, 0x00, 0x00, 0x00],
        DecodeError::ZeroPacketId,
    );
    both(
        &[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b'a'],
        &[0xA2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, b'a'],
        DecodeError::ZeroPacketId,
    );
}

// ---------------------------------------------------------------------------------------
// Strings.
// ---------------------------------------------------------------------------------------

/// [MQTT-1.5.3-1] [MQTT-1.5.4-1] [MQTT-3.3.2-1] Ill-formed UTF-8 in a string is malformed:
/// a stray continuation byte, 0xFF, an overlong encoding, a truncated sequence.
#[test]
fn mqtt_1_5_4_1_invalid_utf8_is_malformed() {
    for bad in [
        &[0xFF][..],
        &[0x80],
        &[b'a', 0xC0, 0x80],
        &[0xE2, 0x82],
        &[0xF5, 0x80, 0x80, 0x80],
    ] {
        let mut v4 = lp(bad);
        let mut v5 = v4.clone();
        v5.push(0x00);
        v4.push(b'x');
        both(
            &frame(0x30, &v4),
            &frame(0x30, &v5),
            DecodeError::InvalidUtf8,
        );
    }
}

/// [MQTT-1.5.3-1] [MQTT-1.5.4-1] A UTF-16 surrogate (U+D800, encoded ED A0 80) is malformed.
#[test]
fn mqtt_1_5_4_1_surrogate_in_string_is_malformed() {
    for bad in [&[0xED, 0xA0, 0x80][..], &[b'a', 0xED, 0xBF, 0xBF]] {
        let v4 = frame(0x30, &lp(bad));
        let mut v5 = lp(bad);
        v5.push(0x00);
        both(&v4, &frame(0x30, &v5), DecodeError::InvalidUtf8);
    }
}

/// [MQTT-1.5.3-2] [MQTT-1.5.4-2] [MQTT-4.7.3-2] U+0000 in a string is malformed; the encoder
/// refuses it in every string it writes.
#[test]
fn mqtt_1_5_4_2_null_character_is_malformed() {
    let v4 = frame(0x30, &lp(b"a\0b"));
    let mut v5 = lp(b"a\0b");
    v5.push(0x00);
    both(&v4, &frame(0x30, &v5), DecodeError::NullCharacter);
    #[cfg(feature = "decode-connect")]
    {
        // In a client id.
        assert_eq!(
            decode_err(V4, &connect_v4(0x02, &lp(b"\0"))),
            DecodeError::NullCharacter
        );
    }

    let connect = Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "a\0",
        will: None,
        username: None,
        password: None,
    };
    assert_eq!(
        encode_err(&Packet::Connect(connect), V4),
        EncodeError::NullCharacter
    );
    let user = Connect {
        client_id: "a",
        username: Some("\0"),
        ..connect
    };
    assert_eq!(
        encode_err(&Packet::Connect(user), V4),
        EncodeError::NullCharacter
    );
    #[cfg(feature = "v5")]
    {
        let rs = [Property::ReasonString("\0")];
        let ack = Packet::PubAck(Ack {
            packet_id: pid(1),
            reason_code: ReasonCode::Success,
            properties: Properties::new(&rs),
        });
        assert_eq!(encode_err(&ack, V5), EncodeError::NullCharacter);
    }
}

/// [MQTT-3.1.3-4] [MQTT-3.1.3-10] [MQTT-3.1.3-11] [MQTT-3.1.3-12] The client identifier,
/// will topic and user name are UTF-8 strings: ill-formed ones are malformed.
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_3_4_connect_strings_must_be_utf8() {
    // Client id.
    assert_eq!(
        decode_err(V4, &connect_v4(0x02, &lp(&[0xFF]))),
        DecodeError::InvalidUtf8
    );
    // Will topic (will flag, QoS 0).
    let mut p = lp(b"c");
    p.extend(lp(&[0xED, 0xA0, 0x80]));
    p.extend(lp(b"m"));
    assert_eq!(
        decode_err(V4, &connect_v4(0x06, &p)),
        DecodeError::InvalidUtf8
    );
    // User name.
    let mut p = lp(b"c");
    p.extend(lp(&[0xC3]));
    assert_eq!(
        decode_err(V4, &connect_v4(0x82, &p)),
        DecodeError::InvalidUtf8
    );
    // The password is binary data: any bytes are fine.
    let mut p = lp(b"c");
    p.extend(lp(b"u"));
    p.extend(lp(&[0xFF, 0x00, 0xED, 0xA0, 0x80]));
    let bytes = connect_v4(0xC2, &p);
    let Packet::Connect(c) = decode_ok(V4, &bytes) else {
        panic!()
    };
    assert_eq!(c.password, Some(&[0xFF, 0x00, 0xED, 0xA0, 0x80][..]));
}

/// [MQTT-1.5.7-1] Both halves of a User Property obey the UTF-8 string rules.
#[test]
#[cfg(feature = "v5")]
fn mqtt_1_5_7_1_user_property_halves_are_checked_strings() {
    let mut key_bad = vec![0x26];
    key_bad.extend(lp(&[0xFF]));
    key_bad.extend(lp(b"v"));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&key_bad)),
        DecodeError::InvalidUtf8
    );
    let mut value_null = vec![0x26];
    value_null.extend(lp(b"k"));
    value_null.extend(lp(b"\0"));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&value_null)),
        DecodeError::NullCharacter
    );
    let mut value_surrogate = vec![0x26];
    value_surrogate.extend(lp(b"k"));
    value_surrogate.extend(lp(&[0xED, 0xB0, 0x80]));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&value_surrogate)),
        DecodeError::InvalidUtf8
    );
    for up in [
        Property::UserProperty("\0", "v"),
        Property::UserProperty("k", "\0"),
    ] {
        let props = [up];
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: false,
            topic: TopicName::from_static("t"),
            properties: Properties::new(&props),
            payload: b"",
        });
        assert_eq!(encode_err(&p, V5), EncodeError::NullCharacter);
    }
}

/// [MQTT-3.3.2-13] [MQTT-3.3.2-19] Response Topic and Content Type are UTF-8 strings.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_3_2_13_response_topic_and_content_type_are_utf8() {
    let mut rt = vec![0x08];
    rt.extend(lp(&[0xFF]));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&rt)),
        DecodeError::InvalidUtf8
    );
    let mut ct = vec![0x03];
    ct.extend(lp(&[0xED, 0xA0, 0x80]));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&ct)),
        DecodeError::InvalidUtf8
    );
    let mut ct = vec![0x03];
    ct.extend(lp(b"text\0"));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&ct)),
        DecodeError::NullCharacter
    );
}

/// [MQTT-3.3.2-14] A Response Topic with a wildcard is refused on both sides.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_3_2_14_response_topic_with_wildcard_is_refused() {
    let mut rt = vec![0x08];
    rt.extend(lp(b"reply/+"));
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&rt)),
        DecodeError::InvalidPropertyValue(0x08)
    );
    let props = [Property::ResponseTopic("reply/#")];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("t"),
        properties: Properties::new(&props),
        payload: b"",
    });
    assert_eq!(encode_err(&p, V5), EncodeError::InvalidTopicName);
}

/// A field that runs past the end of the packet is malformed: a string length longer than
/// what is left, a missing packet id, a property length past the end, a cut property value.
#[test]
fn truncated_fields_are_malformed() {
    // Topic length 5 with one byte left.
    both(
        &[0x30, 0x03, 0x00, 0x05, b'a'],
        &[0x30, 0x03, 0x00, 0x05, b'a'],
        DecodeError::Truncated,
    );
    // QoS 1 without its packet identifier.
    both(
        &[0x32, 0x04, 0x00, 0x01, b't', 0x00],
        &[0x32, 0x04, 0x00, 0x01, b't', 0x00],
        DecodeError::Truncated,
    );
    // One length byte of a string.
    both(
        &[0x30, 0x01, 0x00],
        &[0x30, 0x01, 0x00],
        DecodeError::Truncated,
    );
    #[cfg(feature = "v5")]
    {
        // Property length 5, two bytes there.
        assert_eq!(
            decode_err(V5, &[0x30, 0x06, 0x00, 0x01, b't', 0x05, 0x23, 0x00]),
            DecodeError::Truncated
        );
        // A four-byte property value cut to two.
        assert_eq!(
            decode_err(V5, &publish_v5_with_props(&[0x02, 0x00, 0x01])),
            DecodeError::Truncated
        );
    }
    #[cfg(feature = "decode-connect")]
    {
        // CONNECT cut after the protocol level; CONNECT with a client id length past the end.
        let mut body = lp(b"MQTT");
        body.push(0x04);
        assert_eq!(decode_err(V4, &frame(0x10, &body)), DecodeError::Truncated);
        assert_eq!(
            decode_err(V4, &connect_v4(0x02, &[0x00, 0x09, b'a'])),
            DecodeError::Truncated
        );
        // Will flag set but no will topic.
        assert_eq!(
            decode_err(V4, &connect_v4(0x06, &lp(b"c"))),
            DecodeError::Truncated
        );
        // User name flag set but no user name.
        assert_eq!(
            decode_err(V4, &connect_v4(0x82, &lp(b"c"))),
            DecodeError::Truncated
        );
    }
    // Ack with a one-byte packet id; CONNACK with one byte.
    both(
        &[0x40, 0x01, 0x00],
        &[0x40, 0x01, 0x00],
        DecodeError::Truncated,
    );
    both(
        &[0x20, 0x01, 0x00],
        &[0x20, 0x01, 0x00],
        DecodeError::Truncated,
    );
    #[cfg(feature = "v5")]
    {
        // 5.0 CONNACK without its property length.
        assert_eq!(
            decode_err(V5, &[0x20, 0x02, 0x00, 0x00]),
            DecodeError::Truncated
        );
    }
    // SUBSCRIBE filter without its options byte.
    both(
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, b'a'],
        DecodeError::Truncated,
    );
}

/// Bytes left after the last field are malformed: PINGREQ with remaining length 1, a 3.1.1
/// PUBACK of 3 bytes, a 3.1.1 DISCONNECT / CONNACK / UNSUBACK with extra bytes, a 5.0 PUBACK
/// with a byte after its properties.
#[test]
fn trailing_bytes_inside_a_packet_are_malformed() {
    for v in ALL_VERSIONS {
        assert_eq!(
            decode_err(v, &[0xC0, 0x01, 0x00]),
            DecodeError::TrailingBytes
        );
        assert_eq!(
            decode_err(v, &[0xD0, 0x01, 0x00]),
            DecodeError::TrailingBytes
        );
    }
    assert_eq!(
        decode_err(V4, &[0x40, 0x03, 0x00, 0x01, 0x00]),
        DecodeError::TrailingBytes
    );
    assert_eq!(
        decode_err(V4, &[0xE0, 0x01, 0x00]),
        DecodeError::TrailingBytes
    );
    assert_eq!(
        decode_err(V4, &[0x20, 0x03, 0x00, 0x00, 0x00]),
        DecodeError::TrailingBytes
    );
    assert_eq!(
        decode_err(V4, &[0xB0, 0x03, 0x00, 0x01, 0x00]),
        DecodeError::TrailingBytes
    );
    #[cfg(feature = "v5")]
    {
        assert_eq!(
            decode_err(V5, &[0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0xAA]),
            DecodeError::TrailingBytes
        );
        assert_eq!(
            decode_err(V5, &[0xE0, 0x03, 0x00, 0x00, 0xAA]),
            DecodeError::TrailingBytes
        );
        assert_eq!(
            decode_err(V5, &[0xF0, 0x03, 0x00, 0x00, 0xAA]),
            DecodeError::TrailingBytes
        );
    }
    #[cfg(feature = "decode-connect")]
    {
        // A CONNECT with a byte after the last payload field.
        let mut p = lp(b"c");
        p.push(0x00);
        assert_eq!(
            decode_err(V4, &connect_v4(0x02, &p)),
            DecodeError::TrailingBytes
        );
    }
    // `decode_exact` refuses a buffer holding more than the packet.
    assert_eq!(
        Packet::decode_exact(&[0xC0, 0x00, 0xC0], V4),
        Err(DecodeError::TrailingBytes)
    );
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

/// A property identifier that 5.0 does not define is malformed.
#[test]
#[cfg(feature = "v5")]
fn unknown_property_id_is_malformed() {
    for id in [
        0x00u8, 0x04, 0x05, 0x0A, 0x10, 0x14, 0x1B, 0x1D, 0x20, 0x2B, 0x7F,
    ] {
        assert_eq!(
            decode_err(V5, &publish_v5_with_props(&[id, 0x00])),
            DecodeError::UnknownProperty(id),
            "{id:#04x}"
        );
    }
}

/// A single-valued property given twice is a Protocol Error (§2.2.2.2); User Property may
/// repeat, and Subscription Identifier may repeat in PUBLISH but not in SUBSCRIBE.
#[test]
#[cfg(feature = "v5")]
fn duplicate_single_valued_property_is_refused() {
    let two_expiry = [0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
    let e = decode_err(V5, &publish_v5_with_props(&two_expiry));
    assert_eq!(e, DecodeError::DuplicateProperty(0x02));
    assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    // Not adjacent.
    let mut split = vec![0x23, 0x00, 0x01];
    split.extend([0x26, 0x00, 0x01, b'k', 0x00, 0x00]);
    split.extend([0x23, 0x00, 0x02]);
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&split)),
        DecodeError::DuplicateProperty(0x23)
    );
    #[cfg(feature = "decode-connect")]
    {
        // CONNECT with two Receive Maximum.
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x21, 0, 1, 0x21, 0, 2])),
            DecodeError::DuplicateProperty(0x21)
        );
    }
    // User properties repeat freely; PUBLISH takes several Subscription Identifiers.
    let mut ok = Vec::new();
    for _ in 0..3 {
        ok.extend([0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v']);
    }
    ok.extend([0x0B, 0x01, 0x0B, 0x02]);
    decode_ok(V5, &publish_v5_with_props(&ok));
    // SUBSCRIBE does not.
    let mut body = vec![0x00, 0x01];
    body.extend(prop_block(&[0x0B, 0x01, 0x0B, 0x02]));
    body.extend(lp(b"a"));
    body.push(0x00);
    assert_eq!(
        decode_err(V5, &frame(0x82, &body)),
        DecodeError::DuplicateProperty(0x0B)
    );
    // The encoder refuses duplicates too.
    let props = [
        Property::MessageExpiryInterval(1),
        Property::MessageExpiryInterval(2),
    ];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("t"),
        properties: Properties::new(&props),
        payload: b"",
    });
    assert_eq!(encode_err(&p, V5), EncodeError::PropertyNotAllowed(0x02));
}

/// A property the packet may not carry is a Protocol Error: Topic Alias in CONNECT, Will
/// Delay Interval outside the will, Session Expiry Interval in PUBLISH.
#[test]
#[cfg(feature = "v5")]
fn property_not_allowed_in_packet_is_refused() {
    #[cfg(feature = "decode-connect")]
    {
        let e = decode_err(V5, &connect_v5_with_props(&[0x23, 0x00, 0x01]));
        assert_eq!(e, DecodeError::PropertyNotAllowed(0x23));
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x18, 0, 0, 0, 1])),
            DecodeError::PropertyNotAllowed(0x18)
        );
    }
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&[0x11, 0, 0, 0, 1])),
        DecodeError::PropertyNotAllowed(0x11)
    );
    #[cfg(feature = "decode-connect")]
    {
        // Receive Maximum in the will properties.
        let mut rest = prop_block(&[]);
        rest.extend(lp(b"c"));
        rest.extend(prop_block(&[0x21, 0x00, 0x01]));
        rest.extend(lp(b"w"));
        rest.extend(lp(b""));
        assert_eq!(
            decode_err(V5, &connect_raw(b"MQTT", 5, 0x06, &rest)),
            DecodeError::PropertyNotAllowed(0x21)
        );
    }
    // Encoder: Topic Alias in CONNECT.
    let props = [Property::TopicAlias(1)];
    let c = Packet::Connect(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::new(&props),
        client_id: "c",
        will: None,
        username: None,
        password: None,
    });
    assert_eq!(encode_err(&c, V5), EncodeError::PropertyNotAllowed(0x23));
}

/// Property values out of range are refused: Receive Maximum 0, Topic Alias 0, Subscription
/// Identifier 0, Maximum Packet Size 0, Payload Format Indicator 2, Maximum QoS 2, and the
/// other 0/1 flags at 2.
#[test]
#[cfg(feature = "v5")]
fn property_value_out_of_range_is_refused() {
    #[cfg(feature = "decode-connect")]
    {
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x21, 0x00, 0x00])),
            DecodeError::InvalidPropertyValue(0x21)
        );
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x27, 0, 0, 0, 0])),
            DecodeError::InvalidPropertyValue(0x27)
        );
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x17, 0x02])),
            DecodeError::InvalidPropertyValue(0x17)
        );
        assert_eq!(
            decode_err(V5, &connect_v5_with_props(&[0x19, 0x02])),
            DecodeError::InvalidPropertyValue(0x19)
        );
    }
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&[0x23, 0x00, 0x00])),
        DecodeError::InvalidPropertyValue(0x23)
    );
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&[0x01, 0x02])),
        DecodeError::InvalidPropertyValue(0x01)
    );
    let mut body = vec![0x00, 0x01];
    body.extend(prop_block(&[0x0B, 0x00]));
    body.extend(lp(b"a"));
    body.push(0x00);
    assert_eq!(
        decode_err(V5, &frame(0x82, &body)),
        DecodeError::InvalidPropertyValue(0x0B)
    );
    for (id, value) in [
        (0x24u8, 0x02u8),
        (0x25, 0x02),
        (0x28, 0x02),
        (0x29, 0x02),
        (0x2A, 0x02),
    ] {
        let mut body = vec![0x00, 0x00];
        body.extend(prop_block(&[id, value]));
        assert_eq!(
            decode_err(V5, &frame(0x20, &body)),
            DecodeError::InvalidPropertyValue(id),
            "{id:#04x}"
        );
    }

    // Encoder side.
    let cases: [(Property<'_>, PacketType, u8); 6] = [
        (Property::ReceiveMaximum(0), PacketType::Connect, 0x21),
        (Property::MaximumPacketSize(0), PacketType::Connect, 0x27),
        (Property::TopicAlias(0), PacketType::Publish, 0x23),
        (
            Property::SubscriptionIdentifier(0),
            PacketType::Subscribe,
            0x0B,
        ),
        (
            Property::SubscriptionIdentifier(268_435_456),
            PacketType::Publish,
            0x0B,
        ),
        (
            Property::MaximumQoS(QoS::ExactlyOnce),
            PacketType::ConnAck,
            0x24,
        ),
    ];
    let subs = [Subscription {
        filter: TopicFilter::from_static("a"),
        options: SubscriptionOptions::new(QoS::AtMostOnce),
    }];
    for (prop, t, id) in cases {
        let props = [prop];
        let properties = Properties::new(&props);
        let p = match t {
            PacketType::Connect => Packet::Connect(Connect {
                protocol: V5,
                clean_start: true,
                keep_alive: 0,
                properties,
                client_id: "c",
                will: None,
                username: None,
                password: None,
            }),
            PacketType::Publish => Packet::Publish(Publish {
                dup: false,
                qos: QosPid::AtMostOnce,
                retain: false,
                topic: TopicName::from_static("t"),
                properties,
                payload: b"",
            }),
            PacketType::Subscribe => Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                properties,
                filters: List::new(&subs),
            }),
            _ => Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: ReasonCode::Success,
                properties,
            }),
        };
        // A CONNACK is encoded only with `encode-server`.
        let want = if encodes(t) {
            EncodeError::InvalidPropertyValue(id)
        } else {
            EncodeError::ServerOnly
        };
        assert_eq!(encode_err(&p, V5), want, "{prop:?}");
    }
}

/// [MQTT-3.3.2-8] Topic Alias 0 is never sent, and refused when received.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_3_2_8_topic_alias_0_is_refused() {
    assert_eq!(
        decode_err(V5, &publish_v5_with_props(&[0x23, 0x00, 0x00])),
        DecodeError::InvalidPropertyValue(0x23)
    );
    let props = [Property::TopicAlias(0)];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtMostOnce,
        retain: false,
        topic: TopicName::from_static("t"),
        properties: Properties::new(&props),
        payload: b"",
    });
    assert_eq!(encode_err(&p, V5), EncodeError::InvalidPropertyValue(0x23));
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE.
// ---------------------------------------------------------------------------------------

/// [MQTT-3.8.3-3] [MQTT-3.8.3-2] A SUBSCRIBE without a topic filter is malformed; the encoder
/// refuses an empty list.
#[test]
fn mqtt_3_8_3_3_empty_subscribe_is_refused() {
    both(
        &[0x82, 0x02, 0x00, 0x01],
        &[0x82, 0x03, 0x00, 0x01, 0x00],
        DecodeError::EmptySubscription,
    );
    let p = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: Properties::empty(),
        filters: List::empty(),
    });
    for v in ALL_VERSIONS {
        assert_eq!(encode_err(&p, v), EncodeError::EmptySubscription);
    }
}

/// [MQTT-3.10.3-2] An UNSUBSCRIBE without a topic filter is malformed; the encoder refuses
/// an empty list.
#[test]
fn mqtt_3_10_3_2_empty_unsubscribe_is_refused() {
    both(
        &[0xA2, 0x02, 0x00, 0x01],
        &[0xA2, 0x03, 0x00, 0x01, 0x00],
        DecodeError::EmptySubscription,
    );
    let p = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(1),
        properties: Properties::empty(),
        filters: List::empty(),
    });
    for v in ALL_VERSIONS {
        assert_eq!(encode_err(&p, v), EncodeError::EmptySubscription);
    }
}

/// [MQTT-3.8.3-1] [MQTT-3.10.3-1] SUBSCRIBE and UNSUBSCRIBE topic filters are UTF-8 strings.
#[test]
fn mqtt_3_8_3_1_subscribe_filters_are_utf8() {
    let mut sub = vec![0x00, 0x01];
    sub.extend(lp(&[0xFF]));
    sub.push(0x00);
    assert_eq!(decode_err(V4, &frame(0x82, &sub)), DecodeError::InvalidUtf8);
    #[cfg(feature = "v5")]
    {
        let mut unsub = vec![0x00, 0x01, 0x00];
        unsub.extend(lp(&[0xED, 0xA0, 0x80]));
        assert_eq!(
            decode_err(V5, &frame(0xA2, &unsub)),
            DecodeError::InvalidUtf8
        );
    }
}

/// [MQTT-3.10.3-1] UNSUBSCRIBE topic filters are UTF-8 strings.
#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    let mut unsub = vec![0x00, 0x01];
    unsub.extend(lp(&[0xC0, 0x80]));
    assert_eq!(
        decode_err(V4, &frame(0xA2, &unsub)),
        DecodeError::InvalidUtf8
    );
}

/// [MQTT-4.7.1-2] [MQTT-4.7.1-3] A SUBSCRIBE or UNSUBSCRIBE filter with a misplaced wildcard
/// is refused on both sides.
#[test]
fn mqtt_4_7_1_2_invalid_filters_are_refused_in_subscribe_and_unsubscribe() {
    for filter in ["a/#/b", "a#", "a+/b", "", "$share//a", "$share/g"] {
        let mut sub = vec![0x00, 0x01];
        sub.extend(lp(filter.as_bytes()));
        sub.push(0x00);
        assert_eq!(
            decode_err(V4, &frame(0x82, &sub)),
            DecodeError::InvalidTopicFilter,
            "{filter:?}"
        );
        #[cfg(feature = "v5")]
        {
            let mut unsub = vec![0x00, 0x01, 0x00];
            unsub.extend(lp(filter.as_bytes()));
            assert_eq!(
                decode_err(V5, &frame(0xA2, &unsub)),
                DecodeError::InvalidTopicFilter,
                "{filter:?}"
            );
        }
        // The sending side cannot make a SUBSCRIBE or UNSUBSCRIBE with it: their
        // filters are `TopicFilter`s.
        let expected = match filter {
            "" => TopicError::Empty,
            f if f.starts_with("$share/") => TopicError::InvalidSharedSubscription,
            _ => TopicError::MisplacedWildcard,
        };
        assert_eq!(TopicFilter::new(filter), Err(expected), "{filter:?}");
    }
    assert_eq!(
        DecodeError::InvalidTopicFilter.reason_code(),
        ReasonCode::TopicFilterInvalid
    );
}

fn subscribe_with_options(v: ProtocolVersion, filter: &str, options: u8) -> Vec<u8> {
    let mut body = vec![0x00, 0x01];
    if v.is_v5() {
        body.push(0x00);
    }
    body.extend(lp(filter.as_bytes()));
    body.push(options);
    frame(0x82, &body)
}

/// [MQTT-3-8.3-4] 3.1.1: the requested-QoS byte has reserved bits 7..2 at 0 and QoS 0..2.
#[test]
fn mqtt_3_8_3_4_v311_requested_qos_reserved_bits_are_malformed() {
    for options in [0x03u8, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFC] {
        assert_eq!(
            decode_err(V4, &subscribe_with_options(V4, "a", options)),
            DecodeError::InvalidSubscriptionOptions,
            "{options:#04x}"
        );
    }
    for qos in 0..3u8 {
        decode_ok(V4, &subscribe_with_options(V4, "a", qos));
    }
}

/// [MQTT-3.8.3-5] 5.0: bits 7..6 of the Subscription Options are reserved; QoS 3 and Retain
/// Handling 3 are malformed.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_8_3_5_v5_subscription_options_reserved_bits_are_malformed() {
    for options in [0x40u8, 0x80, 0xC0, 0x03, 0x30, 0x3F] {
        assert_eq!(
            decode_err(V5, &subscribe_with_options(V5, "a", options)),
            DecodeError::InvalidSubscriptionOptions,
            "{options:#04x}"
        );
    }
    // Every other combination is valid.
    for options in 0u8..0x30 {
        if options & 0x03 != 0x03 {
            decode_ok(V5, &subscribe_with_options(V5, "a", options));
        }
    }
}

/// [MQTT-3-8.3-4] [MQTT-3.8.3-5] [MQTT-3.8.3-4] Every options byte, in both versions, in
/// the middle of a list whose filters are plain, shared, non-ASCII, wildcarded or longer
/// than 32 bytes: the decoder's verdict is the one the rules give (an independent
/// statement of them here), and a decoded list reads back the same filters and options.
#[test]
fn mqtt_3_8_3_5_every_options_byte_in_a_list_gets_the_rule_verdict() {
    let filters = [
        "a/b",
        "$share/g/a/+",
        "caf\u{e9}/+/\u{1F600}/#",
        "sensors/+/+/humidity/and/a/long/tail",
        "+",
    ];
    for v in V4_V5 {
        for at in 0..filters.len() {
            for b in 0..=255u8 {
                let shared = filters[at].starts_with("$share/");
                let valid = if v.is_v5() {
                    b & 0xc0 == 0
                        && b & 0x03 != 0x03
                        && b & 0x30 != 0x30
                        && !(b & 0x04 != 0 && shared)
                } else {
                    b <= 2
                };
                let mut body = vec![0x00, 0x07];
                if v.is_v5() {
                    body.push(0x00);
                }
                for (i, f) in filters.iter().enumerate() {
                    body.extend(lp(f.as_bytes()));
                    body.push(if i == at { b } else { 0x01 });
                }
                let bytes = frame(0x82, &body);
                if !valid {
                    assert_eq!(
                        decode_err(v, &bytes),
                        DecodeError::InvalidSubscriptionOptions,
                        "{v:?} {at} {b:#04x}"
                    );
                    continue;
                }
                let Packet::Subscribe(sub) = decode_ok(v, &bytes) else {
                    panic!("not a SUBSCRIBE");
                };
                let got: Vec<_> = sub.filters.iter().collect();
                assert_eq!(got.len(), filters.len());
                for (i, s) in got.iter().enumerate() {
                    assert_eq!(s.filter.as_str(), filters[i]);
                    let o = s.options;
                    let byte = o.qos as u8
                        | u8::from(o.no_local) << 2
                        | u8::from(o.retain_as_published) << 3
                        | (o.retain_handling as u8) << 4;
                    assert_eq!(byte, if i == at { b } else { 0x01 }, "{v:?} {at} {b:#04x}");
                }
            }
        }
    }
}

/// [MQTT-1.5.3-1] A filter that is not UTF-8 anywhere in a SUBSCRIBE list is refused, whether
/// the list's other filters are ASCII or not.
#[test]
fn mqtt_1_5_3_1_invalid_utf8_filter_anywhere_in_a_list_is_refused() {
    let good: [&[u8]; 3] = [b"a/b", "caf\u{e9}/+".as_bytes(), b"x/#"];
    for at in 0..=good.len() {
        let mut body = vec![0x00, 0x07];
        for (i, f) in good.iter().enumerate() {
            if i == at {
                body.extend(lp(&[b'a', 0xC3]));
                body.push(0x00);
            }
            body.extend(lp(f));
            body.push(0x00);
        }
        if at == good.len() {
            body.extend(lp(&[0xE9, b'/', b'a']));
            body.push(0x00);
        }
        assert_eq!(
            decode_err(V4, &frame(0x82, &body)),
            DecodeError::InvalidUtf8,
            "{at}"
        );
    }
    // A filter that starts inside a character of a list that is UTF-8 as a whole: its
    // length 0x00C3 and its first byte 0xA9 read together as "\u{e9}".
    let mut filter = vec![0xA9];
    filter.extend(std::iter::repeat_n(b'a', 0xC3 - 1));
    let mut body = vec![0x00, 0x07];
    body.extend(lp(&filter));
    body.push(0x00);
    assert!(std::str::from_utf8(&body[2..]).is_ok());
    assert_eq!(
        decode_err(V4, &frame(0x82, &body)),
        DecodeError::InvalidUtf8
    );
}

/// [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: refused when
/// received and never sent.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_8_3_4_no_local_on_shared_subscription_is_refused() {
    assert_eq!(
        decode_err(V5, &subscribe_with_options(V5, "$share/g/a", 0x04)),
        DecodeError::InvalidSubscriptionOptions
    );
    decode_ok(V5, &subscribe_with_options(V5, "$share/g/a", 0x00));
    decode_ok(V5, &subscribe_with_options(V5, "a", 0x04));
    let subs = [Subscription {
        filter: TopicFilter::from_static("$share/g/a/#"),
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        },
    }];
    let p = Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: Properties::empty(),
        filters: List::new(&subs),
    });
    assert_eq!(encode_err(&p, V5), EncodeError::NoLocalOnSharedSubscription);
}

/// 5.0 subscription options cannot be sent under 3.1.1.
#[test]
fn v5_subscription_options_under_v311_are_refused() {
    for options in [
        SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        },
        SubscriptionOptions {
            retain_as_published: true,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        },
        SubscriptionOptions {
            retain_handling: RetainHandling::DoNotSend,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        },
    ] {
        let subs = [Subscription {
            filter: TopicFilter::from_static("a"),
            options,
        }];
        let p = Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: Properties::empty(),
            filters: List::new(&subs),
        });
        assert_eq!(encode_err(&p, V4), EncodeError::NotInVersion);
        #[cfg(feature = "v5")]
        encode(&p, V5);
    }
}

// ---------------------------------------------------------------------------------------
// CONNECT / CONNACK.
// ---------------------------------------------------------------------------------------

/// [MQTT-3.1.2-1] An unknown protocol name, or a name that does not go with the level, is
/// refused; so is an unknown protocol level.
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_2_1_unknown_protocol_name_and_level_are_refused() {
    let payload = lp(b"c");
    for (name, level) in [
        (&b"MQTX"[..], 4u8),
        (b"mqtt", 4),
        (b"MQIsdp", 4),
        (b"MQTT", 3),
        (b"MQIsdp", 5),
        (b"", 4),
    ] {
        // Without the `v5` feature level 5 is unknown, whatever the name.
        let want = if level == 5 && !cfg!(feature = "v5") {
            DecodeError::UnsupportedProtocolLevel(5)
        } else {
            DecodeError::InvalidProtocolName
        };
        assert_eq!(
            decode_err(V4, &connect_raw(name, level, 0x02, &payload)),
            want,
            "{name:?} {level}"
        );
    }
    for level in [0u8, 1, 2, 6, 0x84, 0xFF] {
        let e = decode_err(V4, &connect_raw(b"MQTT", level, 0x02, &payload));
        assert_eq!(e, DecodeError::UnsupportedProtocolLevel(level));
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    }
    // The three known pairs decode whatever the decoder's own version.
    for v in ALL_VERSIONS {
        decode_ok(v, &connect_raw(b"MQIsdp", 3, 0x02, &payload));
        decode_ok(v, &connect_raw(b"MQTT", 4, 0x02, &payload));
        #[cfg(feature = "v5")]
        {
            let mut v5 = vec![0x00];
            v5.extend(&payload);
            decode_ok(v, &connect_raw(b"MQTT", 5, 0x02, &v5));
        }
        // Without it the 5.0 pair is an unknown level (see `version::without_v5`).
        #[cfg(not(feature = "v5"))]
        {
            let mut v5 = vec![0x00];
            v5.extend(&payload);
            assert_eq!(
                decode_err(v, &connect_raw(b"MQTT", 5, 0x02, &v5)),
                DecodeError::UnsupportedProtocolLevel(5)
            );
        }
    }
}

/// The reserved CONNECT flag bit 0 must be 0 (3.1.1 server duty [MQTT-3.1.2-3]; 5.0 §3.1.2.3).
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_2_3_connect_reserved_flag_bit_is_malformed() {
    assert_eq!(
        decode_err(V4, &connect_v4(0x03, &lp(b"c"))),
        DecodeError::InvalidConnectFlags
    );
    #[cfg(feature = "v5")]
    {
        let mut v5 = vec![0x00];
        v5.extend(lp(b"c"));
        assert_eq!(
            decode_err(V5, &connect_raw(b"MQTT", 5, 0x01, &v5)),
            DecodeError::InvalidConnectFlags
        );
    }
}

/// [MQTT-3.1.2-11] [MQTT-3.1.2-13] Will QoS without the will flag is malformed.
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_2_13_will_qos_without_will_flag_is_malformed() {
    for flags in [0x0Au8, 0x12] {
        assert_eq!(
            decode_err(V4, &connect_v4(flags, &lp(b"c"))),
            DecodeError::InvalidConnectFlags,
            "{flags:#04x}"
        );
    }
    #[cfg(feature = "v5")]
    {
        let mut v5 = vec![0x00];
        v5.extend(lp(b"c"));
        assert_eq!(
            decode_err(V5, &connect_raw(b"MQTT", 5, 0x0A, &v5)),
            DecodeError::InvalidConnectFlags
        );
    }
}

/// [MQTT-3.1.2-15] Will Retain without the will flag is malformed (5.0: [MQTT-3.1.2-13]).
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_2_15_will_retain_without_will_flag_is_malformed() {
    assert_eq!(
        decode_err(V4, &connect_v4(0x22, &lp(b"c"))),
        DecodeError::InvalidConnectFlags
    );
    #[cfg(feature = "v5")]
    {
        let mut v5 = vec![0x00];
        v5.extend(lp(b"c"));
        assert_eq!(
            decode_err(V5, &connect_raw(b"MQTT", 5, 0x22, &v5)),
            DecodeError::InvalidConnectFlags
        );
    }
}

/// [MQTT-3.1.2-14] [MQTT-3.1.2-12] Will QoS 3 is malformed.
#[test]
#[cfg(feature = "decode-connect")]
fn mqtt_3_1_2_14_will_qos_3_is_malformed() {
    let mut p = lp(b"c");
    p.extend(lp(b"w"));
    p.extend(lp(b"m"));
    assert_eq!(
        decode_err(V4, &connect_v4(0x1E, &p)),
        DecodeError::InvalidQoS
    );
}

/// [MQTT-3.1.2-9] A will flag with its fields decodes to the will; the will topic is a topic
/// name (no wildcard).
#[test]
fn mqtt_3_1_2_9_will_fields_follow_the_will_flag() {
    #[cfg(feature = "decode-connect")]
    {
        let mut p = lp(b"c");
        p.extend(lp(b"w/t"));
        p.extend(lp(b"msg"));
        let bytes = connect_v4(0x36, &p);
        let Packet::Connect(c) = decode_ok(V4, &bytes) else {
            panic!()
        };
        let w = c.will.expect("will").get();
        assert_eq!(
            (w.topic.as_str(), w.payload, w.qos, w.retain),
            ("w/t", &b"msg"[..], QoS::ExactlyOnce, true)
        );
        let mut p = lp(b"c");
        p.extend(lp(b"w/#"));
        p.extend(lp(b"msg"));
        assert_eq!(
            decode_err(V4, &connect_v4(0x06, &p)),
            DecodeError::InvalidTopicName
        );
    }
    // A will's topic is a `TopicName`: one with a wildcard cannot be made, and the only
    // empty one (a PUBLISH's alias-only name) is refused in a will.
    assert_eq!(TopicName::new("w/+"), Err(TopicError::WildcardInName));
    let c = Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "c",
        will: Some(WillRef::Given(&Will {
            topic: TopicName::ALIAS_ONLY,
            payload: b"",
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::empty(),
        })),
        username: None,
        password: None,
    };
    assert_eq!(
        encode_err(&Packet::Connect(c), V4),
        EncodeError::InvalidTopicName
    );
}

/// [MQTT-3.1.2-22] 3.1.1 (and 3.1): a password without a user name is malformed and is never
/// sent; 5.0 allows it ([MQTT-3.1.2-19]).
#[test]
fn mqtt_3_1_2_22_password_without_user_name_is_refused_before_v5() {
    #[cfg(feature = "decode-connect")]
    {
        let mut p = lp(b"c");
        p.extend(lp(b"secret"));
        assert_eq!(
            decode_err(V4, &connect_v4(0x42, &p)),
            DecodeError::InvalidConnectFlags
        );
        assert_eq!(
            decode_err(V31, &connect_raw(b"MQIsdp", 3, 0x42, &p)),
            DecodeError::InvalidConnectFlags
        );
        #[cfg(feature = "v5")]
        {
            let mut v5 = vec![0x00];
            v5.extend(&p);
            decode_ok(V5, &connect_raw(b"MQTT", 5, 0x42, &v5));
        }
    }

    for v in ALL_VERSIONS {
        let c = Packet::Connect(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::empty(),
            client_id: "c",
            will: None,
            username: None,
            password: Some(b"secret"),
        });
        if v.is_v5() {
            encode(&c, v);
        } else {
            assert_eq!(encode_err(&c, v), EncodeError::PasswordWithoutUserName);
        }
    }
}

/// [MQTT-3.1.3-7] 3.1.1: a zero-length client id is only sent with CleanSession=1.
#[test]
fn mqtt_3_1_3_7_empty_client_id_needs_clean_session() {
    let c = Connect {
        protocol: V4,
        clean_start: false,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "",
        will: None,
        username: None,
        password: None,
    };
    assert_eq!(
        encode_err(&Packet::Connect(c), V4),
        EncodeError::EmptyClientIdWithSession
    );
    encode(
        &Packet::Connect(Connect {
            clean_start: true,
            ..c
        }),
        V4,
    );
    // 5.0 lets the server assign an identifier either way.
    #[cfg(feature = "v5")]
    encode(&Packet::Connect(Connect { protocol: V5, ..c }), V5);
}

/// A CONNECT is encoded with its own protocol version only.
#[test]
fn connect_encoded_under_another_version_is_refused() {
    let c = Packet::Connect(Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "c",
        will: None,
        username: None,
        password: None,
    });
    #[cfg(feature = "v5")]
    assert_eq!(encode_err(&c, V5), EncodeError::VersionMismatch);
    assert_eq!(encode_err(&c, V31), EncodeError::VersionMismatch);
}

/// [MQTT-3.2.2-1] CONNACK acknowledge flags 7..1 are reserved; Session Present with a refusal
/// is refused as well ([MQTT-3.2.2-6], 3.1.1 [MQTT-3.2.2-4]).
#[test]
fn mqtt_3_2_2_1_connack_flag_bits_are_malformed() {
    for flags in [0x02u8, 0x80, 0xFE, 0x03] {
        both(
            &[0x20, 0x02, flags, 0x00],
            &[0x20, 0x03, flags, 0x00, 0x00],
            DecodeError::InvalidConnAckFlags,
        );
    }
    both(
        &[0x20, 0x02, 0x01, 0x05],
        &[0x20, 0x03, 0x01, 0x87, 0x00],
        DecodeError::InvalidConnAckFlags,
    );
}

/// [MQTT-3.2.2-6] (3.1.1 [MQTT-3.2.2-4]) The encoder never sets Session Present on a CONNACK
/// that refuses the connection (regression: it used to, producing bytes its own decoder
/// refuses).
#[test]
#[cfg(feature = "encode-server")]
fn mqtt_3_2_2_6_session_present_with_failure_is_never_sent() {
    #[cfg(feature = "v5")]
    let cases = [
        (V4, ReasonCode::NotAuthorized),
        (V5, ReasonCode::UnspecifiedError),
        (V5, ReasonCode::Banned),
    ];
    #[cfg(not(feature = "v5"))]
    let cases = [(V4, ReasonCode::NotAuthorized)];
    for (v, rc) in cases {
        let p = Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: rc,
            properties: Properties::empty(),
        });
        assert_eq!(encode_err(&p, v), EncodeError::SessionPresentOnFailure);
    }
}

// ---------------------------------------------------------------------------------------
// Reason codes and 5.0 features under 3.1.1.
// ---------------------------------------------------------------------------------------

/// [MQTT-3.4.2-1] A PUBACK reason code outside the PUBACK table (e.g. 0x04) is refused.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_4_2_1_invalid_puback_reason_code_is_refused() {
    let e = decode_err(V5, &[0x40, 0x03, 0x00, 0x01, 0x04]);
    assert_eq!(e, DecodeError::InvalidReasonCode(0x04));
    assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    let p = Packet::PubAck(Ack {
        packet_id: pid(1),
        reason_code: ReasonCode::DisconnectWithWillMessage,
        properties: Properties::empty(),
    });
    assert_eq!(encode_err(&p, V5), EncodeError::InvalidReasonCode(0x04));
}

/// [MQTT-3.9.3-2] A 3.1.1 SUBACK return code other than 0x00, 0x01, 0x02, 0x80 (e.g. 0x03) is
/// refused.
#[test]
fn mqtt_3_9_3_2_invalid_v311_suback_code_is_refused() {
    for code in [0x03u8, 0x04, 0x7F, 0x81, 0x87, 0xFF] {
        assert_eq!(
            decode_err(V4, &[0x90, 0x03, 0x00, 0x01, code]),
            DecodeError::InvalidReasonCode(code),
            "{code:#04x}"
        );
    }
    // One bad code among good ones.
    assert_eq!(
        decode_err(V4, &[0x90, 0x05, 0x00, 0x01, 0x00, 0x03, 0x01]),
        DecodeError::InvalidReasonCode(0x03)
    );
    // A SUBACK / 5.0 UNSUBACK with no code at all.
    assert_eq!(
        decode_err(V4, &[0x90, 0x02, 0x00, 0x01]),
        DecodeError::EmptySubscription
    );
    #[cfg(feature = "v5")]
    {
        assert_eq!(
            decode_err(V5, &[0xB0, 0x03, 0x00, 0x01, 0x00]),
            DecodeError::EmptySubscription
        );
    }
}

/// 5.0 properties cannot be sent under 3.1.1 (CONNECT, will, CONNACK, PUBLISH, acks,
/// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT); neither can 5.0 reason codes, a 5.0
/// UNSUBACK's codes, or AUTH at all.
#[test]
fn v5_only_features_under_v311_are_refused() {
    let up = [Property::UserProperty("k", "v")];
    let props = Properties::new(&up);
    let subs = [Subscription {
        filter: TopicFilter::from_static("a"),
        options: SubscriptionOptions::new(QoS::AtMostOnce),
    }];
    let filters = [TopicFilter::from_static("a")];
    let codes = [ReasonCode::Success];
    let connect = Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 0,
        properties: props,
        client_id: "c",
        will: None,
        username: None,
        password: None,
    };
    let will_props = Connect {
        properties: Properties::empty(),
        will: Some(WillRef::Given(&Will {
            topic: TopicName::from_static("w"),
            payload: b"",
            qos: QoS::AtMostOnce,
            retain: false,
            properties: props,
        })),
        ..connect
    };
    let packets = [
        Packet::Connect(connect),
        Packet::Connect(will_props),
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: false,
            topic: TopicName::from_static("t"),
            properties: props,
            payload: b"",
        }),
        Packet::PubAck(Ack {
            packet_id: pid(1),
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        Packet::PubAck(Ack {
            packet_id: pid(1),
            reason_code: ReasonCode::NoMatchingSubscribers,
            properties: Properties::empty(),
        }),
        Packet::PubRel(Ack {
            packet_id: pid(1),
            reason_code: ReasonCode::PacketIdentifierNotFound,
            properties: Properties::empty(),
        }),
        Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: props,
            filters: List::new(&subs),
        }),
        Packet::SubAck(mqtt_proto::SubAck {
            packet_id: pid(1),
            properties: props,
            reason_codes: List::new(&codes),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(1),
            properties: props,
            filters: List::new(&filters),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(1),
            properties: props,
            reason_codes: List::empty(),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(1),
            properties: Properties::empty(),
            reason_codes: List::new(&codes),
        }),
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        Packet::Disconnect(Disconnect::with_reason(ReasonCode::ServerShuttingDown)),
        Packet::Auth(Auth {
            reason_code: ReasonCode::Success,
            properties: Properties::empty(),
        }),
    ];
    for p in packets {
        // Without `encode-server` a CONNACK, SUBACK or UNSUBACK is refused by its type.
        let want = if encodes(p.packet_type()) {
            EncodeError::NotInVersion
        } else {
            EncodeError::ServerOnly
        };
        assert_eq!(encode_err(&p, V4), want, "{p:?}");
        if !matches!(p, Packet::Connect(_)) {
            assert_eq!(encode_err(&p, V31), want, "{p:?}");
        }
    }
}

/// Strings and binary fields over 65,535 bytes cannot be encoded [MQTT-4.7.3-3].
#[test]
fn mqtt_4_7_3_3_fields_over_65535_bytes_are_refused() {
    let long = "a".repeat(65_536);
    let just = "a".repeat(65_535);
    let c = Connect {
        protocol: V4,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: &long,
        will: None,
        username: None,
        password: None,
    };
    assert_eq!(
        encode_err(&Packet::Connect(c), V4),
        EncodeError::FieldTooLong
    );
    let pw = vec![0u8; 65_536];
    let c2 = Connect {
        client_id: "c",
        username: Some("u"),
        password: Some(&pw),
        ..c
    };
    assert_eq!(
        encode_err(&Packet::Connect(c2), V4),
        EncodeError::FieldTooLong
    );
    let p = |topic| {
        Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: false,
            topic,
            properties: Properties::empty(),
            payload: b"",
        })
    };
    assert_eq!(TopicName::new(&long), Err(TopicError::TooLong));
    assert_eq!(TopicFilter::new(&long), Err(TopicError::TooLong));
    let bytes = encode(&p(TopicName::new(&just).expect("65,535 bytes fit")), V4);
    assert_eq!(bytes.len(), 1 + 3 + 2 + 65_535);
    let Packet::Publish(d) = decode_ok(V4, &bytes) else {
        panic!()
    };
    assert_eq!(d.topic.len(), 65_535);
}

/// An undersized output buffer is `BufferTooSmall` with the exact size, and nothing is
/// written.
#[test]
fn encode_into_too_small_buffer_reports_required_size() {
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QosPid::AtLeastOnce(pid(1)),
        retain: false,
        topic: TopicName::from_static("a/b"),
        properties: Properties::empty(),
        payload: &[7u8; 200],
    });
    // In the highest version this build speaks (5.0 adds the property length byte).
    #[cfg(feature = "v5")]
    let v = V5;
    #[cfg(not(feature = "v5"))]
    let v = V4;
    let len = p.encoded_len(v).unwrap();
    assert_eq!(len, 1 + 2 + 2 + 3 + 2 + usize::from(v.is_v5()) + 200);
    for size in [0, 1, 2, len - 1] {
        let mut buf = vec![0xEEu8; size];
        assert_eq!(
            p.encode(v, &mut buf),
            Err(EncodeError::BufferTooSmall { required: len })
        );
        assert!(buf.iter().all(|&b| b == 0xEE));
    }
    let mut buf = vec![0u8; len];
    assert_eq!(p.encode(v, &mut buf), Ok(len));
}

//! Exhaustive checks of the codec's tables against the spec tables in `common` (written from
//! the MQTT 5.0 text): every reason code byte in every packet that has one, and every
//! property identifier in every packet that has properties, in both directions.

mod common;

use common::*;
use mqtt_proto::{PacketType, ReasonCode};
// The reason code and property tables are MQTT 5.0: all but `reason_code_helpers` need `v5`.
#[cfg(feature = "v5")]
use mqtt_proto::{
    Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, EncodeError, List, Packet, PacketId,
    Properties, Property, PropertyContext, PropertyId, Publish, QoS, QosPid, SubAck, Subscribe,
    Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will, WillRef,
};
#[cfg(feature = "v5")]
use mqtt_proto::{TopicFilter, TopicName};

#[cfg(feature = "v5")]
fn pid() -> PacketId {
    PacketId::new(1).expect("non-zero")
}

/// A 5.0 packet of type `t` carrying reason code byte `b` and no properties.
#[cfg(feature = "v5")]
fn with_code(t: PacketType, b: u8) -> Vec<u8> {
    match t {
        PacketType::ConnAck => vec![0x20, 0x03, 0x00, b, 0x00],
        PacketType::PubAck => vec![0x40, 0x03, 0x00, 0x01, b],
        PacketType::PubRec => vec![0x50, 0x03, 0x00, 0x01, b],
        PacketType::PubRel => vec![0x62, 0x03, 0x00, 0x01, b],
        PacketType::PubComp => vec![0x70, 0x03, 0x00, 0x01, b],
        PacketType::SubAck => vec![0x90, 0x04, 0x00, 0x01, 0x00, b],
        PacketType::UnsubAck => vec![0xB0, 0x04, 0x00, 0x01, 0x00, b],
        PacketType::Disconnect => vec![0xE0, 0x01, b],
        PacketType::Auth => vec![0xF0, 0x01, b],
        other => panic!("{other:?} has no reason code"),
    }
}

/// The packet of type `t` carrying reason code `rc` and no properties.
#[cfg(feature = "v5")]
fn packet_with_code<'a>(t: PacketType, rc: ReasonCode, codes: &'a [ReasonCode]) -> Packet<'a> {
    let ack = Ack {
        packet_id: pid(),
        reason_code: rc,
        properties: Properties::empty(),
    };
    match t {
        PacketType::ConnAck => Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: rc,
            properties: Properties::empty(),
        }),
        PacketType::PubAck => Packet::PubAck(ack),
        PacketType::PubRec => Packet::PubRec(ack),
        PacketType::PubRel => Packet::PubRel(ack),
        PacketType::PubComp => Packet::PubComp(ack),
        PacketType::SubAck => Packet::SubAck(SubAck {
            packet_id: pid(),
            properties: Properties::empty(),
            reason_codes: List::new(codes),
        }),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck {
            packet_id: pid(),
            properties: Properties::empty(),
            reason_codes: List::new(codes),
        }),
        PacketType::Disconnect => Packet::Disconnect(Disconnect::with_reason(rc)),
        PacketType::Auth => Packet::Auth(Auth {
            reason_code: rc,
            properties: Properties::empty(),
        }),
        other => panic!("{other:?} has no reason code"),
    }
}

/// For packet type `t`: `ReasonCode::allowed_in` matches the spec table for all 256 bytes,
/// the decoder accepts exactly the table's codes (others: `InvalidReasonCode(b)`), and the
/// encoder accepts exactly the table's codes (others: `InvalidReasonCode`).
#[cfg(feature = "v5")]
fn check_reason_table(t: PacketType) {
    let table = spec_reason_codes(t);
    assert!(!table.is_empty());
    for b in 0..=255u8 {
        let in_table = table.contains(&b);
        let rc = ReasonCode::from_u8(b);
        if in_table {
            assert!(rc.is_some(), "{b:#04x} is a 5.0 reason code");
        }
        assert_eq!(
            rc.is_some_and(|rc| rc.allowed_in(t)),
            in_table,
            "allowed_in({t:?}) for {b:#04x}"
        );
        let bytes = with_code(t, b);
        if in_table {
            let p = decode_ok(V5, &bytes);
            assert_eq!(p.packet_type(), t);
        } else {
            assert_eq!(
                decode_err(V5, &bytes),
                DecodeError::InvalidReasonCode(b),
                "{t:?} with {b:#04x}"
            );
        }
        if let Some(rc) = rc {
            let codes = [rc];
            let p = packet_with_code(t, rc, &codes);
            if !encodes(t) {
                // CONNACK, SUBACK, UNSUBACK without `encode-server`.
                assert_eq!(encode_err(&p, V5), EncodeError::ServerOnly, "{t:?}");
            } else if in_table {
                let bytes = encode(&p, V5);
                assert_eq!(decode_ok(V5, &bytes), p);
            } else {
                assert_eq!(
                    encode_err(&p, V5),
                    EncodeError::InvalidReasonCode(b),
                    "{t:?} with {rc:?}"
                );
            }
        }
    }
}

/// CONNACK reason codes come from the CONNACK table (§3.2.2.2).
#[test]
#[cfg(feature = "v5")]
fn connack_reason_codes_match_spec_table() {
    check_reason_table(PacketType::ConnAck);
}

/// [MQTT-3.4.2-1] PUBACK reason codes come from the PUBACK table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_4_2_1_puback_reason_codes_match_spec_table() {
    check_reason_table(PacketType::PubAck);
}

/// [MQTT-3.5.2-1] PUBREC reason codes come from the PUBREC table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_5_2_1_pubrec_reason_codes_match_spec_table() {
    check_reason_table(PacketType::PubRec);
}

/// [MQTT-3.6.2-1] PUBREL reason codes come from the PUBREL table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_6_2_1_pubrel_reason_codes_match_spec_table() {
    check_reason_table(PacketType::PubRel);
}

/// [MQTT-3.7.2-1] PUBCOMP reason codes come from the PUBCOMP table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_7_2_1_pubcomp_reason_codes_match_spec_table() {
    check_reason_table(PacketType::PubComp);
}

/// [MQTT-3.9.3-2] SUBACK reason codes come from the SUBACK table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_9_3_2_suback_reason_codes_match_spec_table() {
    check_reason_table(PacketType::SubAck);
}

/// [MQTT-3.11.3-2] UNSUBACK reason codes come from the UNSUBACK table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_11_3_2_unsuback_reason_codes_match_spec_table() {
    check_reason_table(PacketType::UnsubAck);
}

/// [MQTT-3.14.2-1] DISCONNECT reason codes come from the DISCONNECT table.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_14_2_1_disconnect_reason_codes_match_spec_table() {
    check_reason_table(PacketType::Disconnect);
}

/// [MQTT-3.15.2-1] AUTH reason codes are 0x00, 0x18 and 0x19 only.
#[test]
#[cfg(feature = "v5")]
fn mqtt_3_15_2_1_auth_reason_codes_match_spec_table() {
    check_reason_table(PacketType::Auth);
}

/// Packets without a reason code allow none; `is_error` is exactly "0x80 or above".
#[test]
fn reason_code_helpers() {
    for rc in all_reason_codes() {
        for t in [
            PacketType::Connect,
            PacketType::Publish,
            PacketType::Subscribe,
            PacketType::Unsubscribe,
            PacketType::PingReq,
            PacketType::PingResp,
        ] {
            assert!(!rc.allowed_in(t), "{rc:?} in {t:?}");
        }
        assert_eq!(rc.is_error(), rc as u8 >= 0x80);
        assert_eq!(ReasonCode::from_u8(rc as u8), Some(rc));
    }
    // 43 codes in the 5.0 table of reason codes (§2.4) with 0x00 counted once.
    assert_eq!(all_reason_codes().len(), 43);
}

// ---------------------------------------------------------------------------------------
// Property placement.
// ---------------------------------------------------------------------------------------

/// A valid value encoding for property `id`.
#[cfg(feature = "v5")]
fn value_bytes(id: u8) -> Vec<u8> {
    match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => vec![0x01],
        0x13 | 0x21 | 0x22 | 0x23 => vec![0x00, 0x05],
        0x02 | 0x11 | 0x18 | 0x27 => vec![0x00, 0x00, 0x00, 0x05],
        0x0B => vec![0x05],
        0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => lp(b"a"),
        0x09 | 0x16 => lp(&[0xAB]),
        0x26 => [lp(b"k"), lp(b"v")].concat(),
        other => panic!("{other:#04x}"),
    }
}

/// A 5.0 packet whose property block for `ctx` is `block` (length prefix included).
#[cfg(feature = "v5")]
fn packet_with_block(ctx: PropertyContext, block: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let first = match ctx {
        PropertyContext::Connect | PropertyContext::Will => {
            body.extend(lp(b"MQTT"));
            body.push(5);
            body.push(if ctx == PropertyContext::Will {
                0x06
            } else {
                0x02
            });
            body.extend([0x00, 0x00]);
            if ctx == PropertyContext::Will {
                body.push(0x00);
                body.extend(lp(b"c"));
                body.extend(block);
                body.extend(lp(b"w"));
                body.extend(lp(b""));
            } else {
                body.extend(block);
                body.extend(lp(b"c"));
            }
            0x10
        }
        PropertyContext::ConnAck => {
            body.extend([0x00, 0x00]);
            body.extend(block);
            0x20
        }
        PropertyContext::Publish => {
            body.extend(lp(b"t"));
            body.extend(block);
            0x30
        }
        PropertyContext::PubResponse => {
            body.extend([0x00, 0x01, 0x00]);
            body.extend(block);
            0x40
        }
        PropertyContext::Subscribe => {
            body.extend([0x00, 0x01]);
            body.extend(block);
            body.extend(lp(b"a"));
            body.push(0x00);
            0x82
        }
        PropertyContext::SubAck => {
            body.extend([0x00, 0x01]);
            body.extend(block);
            body.push(0x00);
            0x90
        }
        PropertyContext::Unsubscribe => {
            body.extend([0x00, 0x01]);
            body.extend(block);
            body.extend(lp(b"a"));
            0xA2
        }
        PropertyContext::UnsubAck => {
            body.extend([0x00, 0x01]);
            body.extend(block);
            body.push(0x00);
            0xB0
        }
        PropertyContext::Disconnect => {
            body.push(0x00);
            body.extend(block);
            0xE0
        }
        PropertyContext::Auth => {
            body.push(0x18);
            body.extend(block);
            0xF0
        }
    };
    frame(first, &body)
}

/// The packet whose property block `ctx` is.
#[cfg(feature = "v5")]
fn context_packet(ctx: PropertyContext) -> PacketType {
    match ctx {
        PropertyContext::Connect | PropertyContext::Will => PacketType::Connect,
        PropertyContext::ConnAck => PacketType::ConnAck,
        PropertyContext::Publish => PacketType::Publish,
        PropertyContext::PubResponse => PacketType::PubAck,
        PropertyContext::Subscribe => PacketType::Subscribe,
        PropertyContext::SubAck => PacketType::SubAck,
        PropertyContext::Unsubscribe => PacketType::Unsubscribe,
        PropertyContext::UnsubAck => PacketType::UnsubAck,
        PropertyContext::Disconnect => PacketType::Disconnect,
        PropertyContext::Auth => PacketType::Auth,
    }
}

/// Whether `id` in `ctx` only stands with an Authentication Method beside it.
#[cfg(feature = "v5")]
fn needs_method(id: u8, ctx: PropertyContext) -> bool {
    id != 0x15 && spec_allowed(0x15, ctx) && (id == 0x16 || ctx == PropertyContext::Auth)
}

/// Every defined property in every packet with properties: accepted where §2.2.2.2 allows
/// it, `PropertyNotAllowed(id)` elsewhere; every undefined identifier is
/// `UnknownProperty(id)`; a repeated property is accepted only where it may repeat.
#[test]
#[cfg(feature = "v5")]
fn property_placement_matches_spec_table_when_decoding() {
    for ctx in ALL_CONTEXTS {
        // CONNECT (and its will) is decoded only with `decode-connect`, and re-encoding
        // CONNACK, SUBACK, UNSUBACK needs `encode-server`: the codec's predicates are
        // checked for every context all the same.
        let t = context_packet(ctx);
        for id in 0u8..=0x7F {
            let mut props = Vec::new();
            // Authentication Data, and any property of an AUTH, need the Authentication
            // Method too (MQTT 5.0 §3.1.2.11.10, §3.15.2.2.2).
            if needs_method(id, ctx) {
                props.push(0x15);
                props.extend(value_bytes(0x15));
            }
            if !PROPERTY_IDS.contains(&id) {
                if !decodes(t) {
                    continue;
                }
                props.extend([id, 0x00]);
                let bytes = packet_with_block(ctx, &prop_block(&props));
                assert_eq!(
                    decode_err(V5, &bytes),
                    DecodeError::UnknownProperty(id),
                    "{id:#04x} in {ctx:?}"
                );
                continue;
            }
            props.push(id);
            props.extend(value_bytes(id));
            let bytes = packet_with_block(ctx, &prop_block(&props));
            if !decodes(t) {
                // Only the predicates below.
            } else if spec_allowed(id, ctx) {
                let p = decode_ok(V5, &bytes);
                if encodes(t) {
                    assert_eq!(encode(&p, V5), bytes, "{id:#04x} in {ctx:?} re-encodes");
                }

                // Twice.
                let mut twice = props.clone();
                twice.push(id);
                twice.extend(value_bytes(id));
                let bytes = packet_with_block(ctx, &prop_block(&twice));
                if spec_repeatable(id, ctx) {
                    decode_ok(V5, &bytes);
                } else {
                    assert_eq!(
                        decode_err(V5, &bytes),
                        DecodeError::DuplicateProperty(id),
                        "{id:#04x} twice in {ctx:?}"
                    );
                }
            } else {
                assert_eq!(
                    decode_err(V5, &bytes),
                    DecodeError::PropertyNotAllowed(id),
                    "{id:#04x} in {ctx:?}"
                );
            }
            // The codec's own predicates agree with the spec table.
            let pid = PropertyId::from_u8(id).expect("defined");
            assert_eq!(
                pid.allowed_in(ctx),
                spec_allowed(id, ctx),
                "{id:#04x} {ctx:?}"
            );
            assert_eq!(
                pid.repeatable_in(ctx),
                spec_repeatable(id, ctx),
                "{id:#04x} {ctx:?}"
            );
        }
    }
}

/// A valid `Property` value for `id`.
#[cfg(feature = "v5")]
fn property(id: u8) -> Property<'static> {
    use Property as P;
    match id {
        0x01 => P::PayloadFormatIndicator(true),
        0x02 => P::MessageExpiryInterval(5),
        0x03 => P::ContentType("a"),
        0x08 => P::ResponseTopic("a"),
        0x09 => P::CorrelationData(&[0xAB]),
        0x0B => P::SubscriptionIdentifier(5),
        0x11 => P::SessionExpiryInterval(5),
        0x12 => P::AssignedClientIdentifier("a"),
        0x13 => P::ServerKeepAlive(5),
        0x15 => P::AuthenticationMethod("a"),
        0x16 => P::AuthenticationData(&[0xAB]),
        0x17 => P::RequestProblemInformation(true),
        0x18 => P::WillDelayInterval(5),
        0x19 => P::RequestResponseInformation(true),
        0x1A => P::ResponseInformation("a"),
        0x1C => P::ServerReference("a"),
        0x1F => P::ReasonString("a"),
        0x21 => P::ReceiveMaximum(5),
        0x22 => P::TopicAliasMaximum(5),
        0x23 => P::TopicAlias(5),
        0x24 => P::MaximumQoS(QoS::AtLeastOnce),
        0x25 => P::RetainAvailable(true),
        0x26 => P::UserProperty("k", "v"),
        0x27 => P::MaximumPacketSize(5),
        0x28 => P::WildcardSubscriptionAvailable(true),
        0x29 => P::SubscriptionIdentifierAvailable(true),
        0x2A => P::SharedSubscriptionAvailable(true),
        other => panic!("{other:#04x}"),
    }
}

/// A 5.0 packet for `ctx` carrying `props`.
#[cfg(feature = "v5")]
fn packet_with_props<'a>(
    ctx: PropertyContext,
    props: Properties<'a>,
    subs: &'a [Subscription<'a>],
    codes: &'a [ReasonCode],
) -> Packet<'a> {
    let connect = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::empty(),
        client_id: "c",
        will: None,
        username: None,
        password: None,
    };
    match ctx {
        PropertyContext::Connect => Packet::Connect(Connect {
            properties: props,
            ..connect
        }),
        PropertyContext::Will => Packet::Connect(Connect {
            // The packet borrows its will; a test may leak it.
            will: Some(WillRef::Given(Box::leak(Box::new(Will {
                topic: TopicName::from_static("w"),
                payload: b"",
                qos: QoS::AtMostOnce,
                retain: false,
                properties: props,
            })))),
            ..connect
        }),
        PropertyContext::ConnAck => Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        PropertyContext::Publish => Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: false,
            topic: TopicName::from_static("t"),
            properties: props,
            payload: b"",
        }),
        PropertyContext::PubResponse => Packet::PubAck(Ack {
            packet_id: pid(),
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        PropertyContext::Subscribe => Packet::Subscribe(Subscribe {
            packet_id: pid(),
            properties: props,
            filters: List::new(subs),
        }),
        PropertyContext::SubAck => Packet::SubAck(SubAck {
            packet_id: pid(),
            properties: props,
            reason_codes: List::new(codes),
        }),
        PropertyContext::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(),
            properties: props,
            filters: List::new(const { &[TopicFilter::from_static("a")] }),
        }),
        PropertyContext::UnsubAck => Packet::UnsubAck(UnsubAck {
            packet_id: pid(),
            properties: props,
            reason_codes: List::new(codes),
        }),
        PropertyContext::Disconnect => Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::Success,
            properties: props,
        }),
        PropertyContext::Auth => Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: props,
        }),
    }
}

/// The encoder applies the same placement table: a property outside its packets, or a
/// single-valued one given twice, is `PropertyNotAllowed(id)`.
#[test]
#[cfg(feature = "v5")]
fn property_placement_matches_spec_table_when_encoding() {
    let subs = [Subscription {
        filter: TopicFilter::from_static("a"),
        options: SubscriptionOptions::new(QoS::AtMostOnce),
    }];
    let codes = [ReasonCode::Success];
    for ctx in ALL_CONTEXTS {
        // Encoding CONNACK, SUBACK, UNSUBACK needs `encode-server` (otherwise `ServerOnly`
        // whatever the properties), decoding CONNECT `decode-connect`.
        let t = context_packet(ctx);
        for id in PROPERTY_IDS {
            let with_method = needs_method(id, ctx);
            let one: Vec<_> = with_method
                .then(|| property(0x15))
                .into_iter()
                .chain([property(id)])
                .collect();
            let p = packet_with_props(ctx, Properties::new(&one), &subs, &codes);
            if !encodes(t) {
                assert_eq!(encode_err(&p, V5), EncodeError::ServerOnly, "{ctx:?}");
            } else if spec_allowed(id, ctx) {
                let bytes = encode(&p, V5);
                if decodes(t) {
                    assert_eq!(decode_ok(V5, &bytes), p, "{id:#04x} in {ctx:?}");
                }
                let two: Vec<_> = with_method
                    .then(|| property(0x15))
                    .into_iter()
                    .chain([property(id), property(id)])
                    .collect();
                let p = packet_with_props(ctx, Properties::new(&two), &subs, &codes);
                if spec_repeatable(id, ctx) {
                    let bytes = encode(&p, V5);
                    if decodes(t) {
                        assert_eq!(decode_ok(V5, &bytes), p);
                    }
                } else {
                    assert_eq!(
                        encode_err(&p, V5),
                        EncodeError::PropertyNotAllowed(id),
                        "{id:#04x} twice in {ctx:?}"
                    );
                }
            } else {
                assert_eq!(
                    encode_err(&p, V5),
                    EncodeError::PropertyNotAllowed(id),
                    "{id:#04x} in {ctx:?}"
                );
            }
        }
    }
}

/// [MQTT-2.2.2-1] An empty property set is written as a Property Length of 0 in every packet
/// whose Property Length is always present (CONNECT, will, CONNACK, PUBLISH, SUBSCRIBE,
/// SUBACK, UNSUBSCRIBE, UNSUBACK).
#[test]
#[cfg(feature = "v5")]
fn mqtt_2_2_2_1_empty_properties_written_as_length_zero() {
    let subs = [Subscription {
        filter: TopicFilter::from_static("a"),
        options: SubscriptionOptions::new(QoS::AtMostOnce),
    }];
    let codes = [ReasonCode::Success];
    for ctx in [
        PropertyContext::Connect,
        PropertyContext::Will,
        PropertyContext::ConnAck,
        PropertyContext::Publish,
        PropertyContext::Subscribe,
        PropertyContext::SubAck,
        PropertyContext::Unsubscribe,
        PropertyContext::UnsubAck,
    ] {
        let p = packet_with_props(ctx, Properties::empty(), &subs, &codes);
        if !encodes(context_packet(ctx)) {
            // CONNACK, SUBACK, UNSUBACK without `encode-server`.
            assert_eq!(encode_err(&p, V5), EncodeError::ServerOnly, "{ctx:?}");
            continue;
        }
        let expected = packet_with_block(ctx, &[0x00]);
        assert_eq!(encode(&p, V5), expected, "{ctx:?}");
    }
}

//! Property tests: every spec-valid packet of every type and version round-trips exactly;
//! prefixes are `Incomplete`; streams decode the same whatever the chunking; arbitrary
//! and mutated bytes never panic; encoder and decoder accept the same packets.

mod common;

use common::*;
use mqtt_proto::{DecodeError, Decoded, Decoder, Needed, PacketType, ProtocolVersion};
use proptest::prelude::*;

/// One proptest per (packet type, version): encode, `encoded_len`, decode back equal,
/// consumed == len, strict prefixes `Incomplete`, one-byte-short buffer `BufferTooSmall`.
/// A round trip needs both directions: CONNECT's under `decode-connect`, CONNACK's, SUBACK's
/// and UNSUBACK's under `encode-server`.
macro_rules! roundtrip {
    ($($(#[$attr:meta])* $name:ident: $strategy:expr, $v:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            $(
                $(#[$attr])*
                #[test]
                fn $name(m in $strategy) {
                    let v: ProtocolVersion = $v;
                    m.with(|p| check_valid(p, v))?;
                }
            )*
        }
    };
}

roundtrip! {
    #[cfg(feature = "decode-connect")]
    roundtrip_connect_v3_1: connect(V31), V31;
    #[cfg(feature = "decode-connect")]
    roundtrip_connect_v3_1_1: connect(V4), V4;
    #[cfg(all(feature = "v5", feature = "decode-connect"))]
    roundtrip_connect_v5: connect(V5), V5;
    #[cfg(feature = "encode-server")]
    roundtrip_connack_v3_1_1: connack(V4), V4;
    #[cfg(all(feature = "v5", feature = "encode-server"))]
    roundtrip_connack_v5: connack(V5), V5;
    roundtrip_publish_v3_1_1: publish(V4), V4;
    #[cfg(feature = "v5")]
    roundtrip_publish_v5: publish(V5), V5;
    roundtrip_puback_v3_1_1: ack(V4, PacketType::PubAck), V4;
    #[cfg(feature = "v5")]
    roundtrip_puback_v5: ack(V5, PacketType::PubAck), V5;
    roundtrip_pubrec_v3_1_1: ack(V4, PacketType::PubRec), V4;
    #[cfg(feature = "v5")]
    roundtrip_pubrec_v5: ack(V5, PacketType::PubRec), V5;
    roundtrip_pubrel_v3_1_1: ack(V4, PacketType::PubRel), V4;
    #[cfg(feature = "v5")]
    roundtrip_pubrel_v5: ack(V5, PacketType::PubRel), V5;
    roundtrip_pubcomp_v3_1_1: ack(V4, PacketType::PubComp), V4;
    #[cfg(feature = "v5")]
    roundtrip_pubcomp_v5: ack(V5, PacketType::PubComp), V5;
    roundtrip_subscribe_v3_1_1: subscribe(V4), V4;
    #[cfg(feature = "v5")]
    roundtrip_subscribe_v5: subscribe(V5), V5;
    #[cfg(feature = "encode-server")]
    roundtrip_suback_v3_1_1: suback(V4), V4;
    #[cfg(all(feature = "v5", feature = "encode-server"))]
    roundtrip_suback_v5: suback(V5), V5;
    roundtrip_unsubscribe_v3_1_1: unsubscribe(V4), V4;
    #[cfg(feature = "v5")]
    roundtrip_unsubscribe_v5: unsubscribe(V5), V5;
    #[cfg(feature = "encode-server")]
    roundtrip_unsuback_v3_1_1: unsuback(V4), V4;
    #[cfg(all(feature = "v5", feature = "encode-server"))]
    roundtrip_unsuback_v5: unsuback(V5), V5;
    roundtrip_disconnect_v3_1_1: disconnect(V4), V4;
    #[cfg(feature = "v5")]
    roundtrip_disconnect_v5: disconnect(V5), V5;
    #[cfg(feature = "v5")]
    roundtrip_auth_v5: auth(), V5;
    // Of the packet types this build round-trips (`any_packet`).
    roundtrip_any_packet_v3_1: any_packet(V31), V31;
}

#[test]
fn roundtrip_pingreq_pingresp_all_versions() {
    for v in ALL_VERSIONS {
        for m in [Model::PingReq, Model::PingResp] {
            m.with(|p| check_valid(p, v)).expect("valid");
        }
    }
}

/// PUBLISH has an encoder of its own for 3.1.1 (one 5-byte header store, no writer): at
/// each size where the remaining length grows a byte (127/128, 16,383/16,384,
/// 2,097,151/2,097,152), at every QoS, and in 5.0 (the general writer) alike, the bytes
/// decode back equal, `encoded_len` agrees, and a buffer one byte short is refused.
#[test]
fn mqtt_1_5_5_publish_encodes_at_every_remaining_length_boundary() {
    use mqtt_proto::{EncodeError, Packet, PacketId, Properties, Publish, QosPid, TopicName};
    let payload = vec![0x5Au8; 2_097_152];
    let id = PacketId::new(7).expect("non-zero");
    for v in V4_V5 {
        for qos in [
            QosPid::AtMostOnce,
            QosPid::AtLeastOnce(id),
            QosPid::ExactlyOnce(id),
        ] {
            // topic "a/b": 2 + 3 bytes, the packet id 2 more, the 5.0 property length 1.
            let fixed = 5 + usize::from(qos != QosPid::AtMostOnce) * 2 + usize::from(v.is_v5());
            for body in [127usize, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
                let p = Packet::Publish(Publish {
                    dup: qos != QosPid::AtMostOnce,
                    qos,
                    retain: true,
                    topic: TopicName::new("a/b").expect("valid"),
                    properties: Properties::empty(),
                    payload: &payload[..body - fixed],
                });
                let len = p.encoded_len(v).expect("valid");
                let header = 1 + match body {
                    0..=127 => 1,
                    128..=16_383 => 2,
                    16_384..=2_097_151 => 3,
                    _ => 4,
                };
                assert_eq!(len, header + body, "{v:?} {qos:?} {body}");
                let mut buf = vec![0u8; len];
                assert_eq!(
                    p.encode(v, &mut buf[..len - 1]),
                    Err(EncodeError::BufferTooSmall { required: len })
                );
                assert_eq!(p.encode(v, &mut buf), Ok(len));
                match Decoder::new(v).decode(&buf) {
                    Ok(Decoded::Packet { packet, consumed }) => {
                        assert_eq!(packet, p, "{v:?} {qos:?} {body}");
                        assert_eq!(consumed, len);
                    }
                    other => panic!("{v:?} {qos:?} {body}: {other:?}"),
                }
            }
        }
    }
}

fn versioned_stream() -> impl Strategy<Value = (ProtocolVersion, Vec<Model>)> {
    #[cfg(feature = "v5")]
    let versions = prop_oneof![Just(V4), Just(V5)];
    #[cfg(not(feature = "v5"))]
    let versions = Just(V4);
    versions.prop_flat_map(|v| (Just(v), prop::collection::vec(any_packet(v), 1..6)))
}

/// Decodes `stream` fed in the chunks given by `cuts`, draining consumed bytes, and returns
/// the re-encoded bytes of each packet (checked against the whole-stream decode).
fn decode_chunked(
    v: ProtocolVersion,
    stream: &[u8],
    mut next_chunk: impl FnMut(usize) -> usize,
) -> Result<Vec<Vec<u8>>, TestCaseError> {
    let dec = Decoder::new(v);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    while fed < stream.len() {
        let n = next_chunk(stream.len() - fed).clamp(1, stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            match dec.decode(&buf) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    prop_assert!(consumed <= buf.len());
                    out.push(encode(&packet, v));
                    buf.drain(..consumed);
                }
                Ok(Decoded::Incomplete(need)) => {
                    if let Needed::Total(t) = need {
                        prop_assert!(t > buf.len());
                    }
                    break;
                }
                Err(e) => return Err(TestCaseError::fail(format!("stream error {e:?}"))),
            }
        }
    }
    prop_assert!(buf.is_empty(), "bytes left over");
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// [MQTT-6.0.0-2]: packets need not align with the frames they arrive in. Several valid
    /// packets fed byte by byte (growing buffer, consumed bytes drained) decode to the same
    /// packets as the whole stream at once.
    #[test]
    fn mqtt_6_0_0_2_stream_fed_byte_by_byte_decodes_same_packets((v, models) in versioned_stream()) {
        let parts: Vec<Vec<u8>> = models.iter().map(|m| m.encode(v)).collect();
        let stream = parts.concat();

        // The whole stream at once.
        let dec = Decoder::new(v);
        let mut whole = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            match dec.decode(rest) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    whole.push(packet);
                    rest = &rest[consumed..];
                }
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
        }
        prop_assert_eq!(whole.len(), models.len());
        for (m, p) in models.iter().zip(&whole) {
            m.with(|orig| assert_eq!(orig, p));
        }

        let byte_by_byte = decode_chunked(v, &stream, |_| 1)?;
        prop_assert_eq!(&byte_by_byte, &parts);
    }

    /// [MQTT-6.0.0-2]: the same with arbitrary chunk boundaries.
    #[test]
    fn mqtt_6_0_0_2_stream_in_random_chunks_decodes_same_packets(
        (v, models) in versioned_stream(),
        chunks in prop::collection::vec(1usize..40, 1..64),
    ) {
        let parts: Vec<Vec<u8>> = models.iter().map(|m| m.encode(v)).collect();
        let stream = parts.concat();
        let mut i = 0;
        let got = decode_chunked(v, &stream, |_| {
            i += 1;
            chunks[i % chunks.len()]
        })?;
        prop_assert_eq!(&got, &parts);
    }
}

fn any_version() -> impl Strategy<Value = ProtocolVersion> {
    prop::sample::select(ALL_VERSIONS.to_vec())
}

/// Checks the decoder's contract on untrusted input: no panic, `consumed <= len`,
/// `Needed::Total` larger than the input, and a decoded packet that re-encodes.
fn check_untrusted(v: ProtocolVersion, bytes: &[u8]) -> Result<(), TestCaseError> {
    match Decoder::new(v).decode(bytes) {
        Ok(Decoded::Packet { packet, consumed }) => {
            prop_assert!(consumed <= bytes.len());
            prop_assert!(consumed >= 2);
            check_reencodes(&packet, v)?;
        }
        Ok(Decoded::Incomplete(Needed::Total(t))) => prop_assert!(t > bytes.len()),
        Ok(Decoded::Incomplete(Needed::Header)) => prop_assert!(bytes.len() < 5),
        Err(e) => {
            // Every error names a DISCONNECT reason code of 0x80 or above.
            prop_assert!(e.reason_code().is_error());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Arbitrary bytes never panic, in any version.
    #[test]
    fn arbitrary_bytes_never_panic(v in any_version(), bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        check_untrusted(v, &bytes)?;
    }

    /// Arbitrary bodies behind a well-formed fixed header (so the body parsers are reached).
    #[test]
    fn arbitrary_body_never_panics(
        v in any_version(),
        first in any::<u8>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        check_untrusted(v, &frame(first, &body))?;
    }

    /// Valid encodings with one byte replaced, or the body cut short (length fixed up),
    /// never panic and what decodes re-encodes.
    #[test]
    fn mutated_valid_packets_never_panic(
        (v, m) in any_version().prop_flat_map(|v| (Just(v), any_packet(v))),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let v = match &m { Model::Connect { protocol, .. } => *protocol, _ => v };
        let good = m.encode(v);
        let mut flipped = good.clone();
        let i = at.index(flipped.len());
        flipped[i] = byte;
        check_untrusted(v, &flipped)?;

        let hl = header_len(&good);
        let body = &good[hl..];
        let short = frame(good[0], &body[..cut.index(body.len() + 1)]);
        check_untrusted(v, &short)?;
    }

    /// Whatever the encoder accepts, the decoder accepts and gives back unchanged: the encoder
    /// never produces bytes the decoder calls malformed. `encoded_len` and `encode` agree.
    #[test]
    fn encoder_output_is_always_decodable(m in loose_packet(), v in any_version()) {
        m.with(|p| -> Result<(), TestCaseError> {
            let len = p.encoded_len(v);
            let mut buf = vec![0u8; 512];
            let written = p.encode(v, &mut buf);
            prop_assert_eq!(len, written);
            if let Ok(n) = written {
                if !decodes(p.packet_type()) {
                    // A build without `decode-connect` refuses a CONNECT by its type.
                    prop_assert_eq!(
                        Decoder::new(v).decode(&buf[..n]),
                        Err(mqtt_proto::DecodeError::InvalidPacketType(1))
                    );
                    return Ok(());
                }
                match Decoder::new(v).decode(&buf[..n]) {
                    Ok(Decoded::Packet { packet, consumed }) => {
                        prop_assert_eq!(&packet, p);
                        prop_assert_eq!(consumed, n);
                    }
                    other => {
                        return Err(TestCaseError::fail(format!(
                            "encoded {p:?} under {v:?} to {:02x?} which decodes as {other:?}",
                            &buf[..n]
                        )));
                    }
                }
            }
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// [MQTT-3.3.1-4] [MQTT-3.3.1-2] The PUBLISH flag rules on any valid PUBLISH, not only
    /// the hand-written vectors: with both QoS bits set it is `InvalidQoS`, and a QoS 0
    /// one with DUP set is `DupWithQoS0`, whatever its topic, payload and properties
    /// (arbitrary bytes rarely form such a packet, so the fuzzing tests above seldom try).
    #[test]
    fn mqtt_3_3_1_4_and_3_3_1_2_publish_flag_rules_hold_for_any_publish(
        (v, m) in any_version().prop_flat_map(|v| (Just(v), publish(v))),
    ) {
        let good = m.encode(v);
        let decoded = matches!(Decoder::new(v).decode(&good), Ok(Decoded::Packet { .. }));
        prop_assert!(decoded, "a valid PUBLISH did not decode: {:02x?}", good);
        let mut qos3 = good.clone();
        qos3[0] |= 0b0110;
        prop_assert_eq!(decode_err(v, &qos3), DecodeError::InvalidQoS);
        if good[0] & 0b0110 == 0 {
            let mut dup0 = good.clone();
            dup0[0] |= 0b1000;
            prop_assert_eq!(decode_err(v, &dup0), DecodeError::DupWithQoS0);
        }
    }

    /// [MQTT-2.2.2-1] [MQTT-2.2.2-2] Every packet but PUBLISH has fixed flags: any valid
    /// one of them with any other flag nibble is `InvalidFixedHeaderFlags`, before its body
    /// is looked at.
    #[test]
    fn mqtt_2_2_2_2_other_flags_are_refused_for_any_packet(
        (v, m) in any_version().prop_flat_map(|v| (Just(v), any_packet(v))),
        flags in 0u8..16,
    ) {
        let v = match &m { Model::Connect { protocol, .. } => *protocol, _ => v };
        let good = m.encode(v);
        prop_assume!(good[0] >> 4 != 3 && good[0] & 0x0f != flags);
        let mut bad = good.clone();
        bad[0] = (good[0] & 0xf0) | flags;
        prop_assert_eq!(decode_err(v, &bad), DecodeError::InvalidFixedHeaderFlags(bad[0]));
    }
}

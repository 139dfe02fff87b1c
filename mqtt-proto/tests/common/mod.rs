//! Shared helpers for the codec tests: owned packet models (the codec's packets borrow
//! slices, so strategies generate owned data and the test body builds the borrowed
//! packet), proptest strategies for spec-valid packets per protocol version, "loose"
//! strategies that may break the rules, and encode/decode helpers.
//!
//! The spec tables here (property placement, reason codes) are written from the MQTT 5.0
//! text independently of the codec, so that the tests check the codec's own tables.
#![allow(dead_code)]

use mqtt_proto::{
    Ack, Auth, ConnAck, Connect, Decoded, Decoder, Disconnect, EncodeError, List, Needed, Packet,
    PacketId, PacketType, Properties, Property, PropertyContext, ProtocolVersion, Publish, QoS,
    QosPid, ReasonCode, RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions,
    UnsubAck, Unsubscribe, Will, WillRef,
};
use mqtt_proto::{TopicFilter, TopicName};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

pub const V31: ProtocolVersion = ProtocolVersion::V3_1;
pub const V4: ProtocolVersion = ProtocolVersion::V3_1_1;
#[cfg(feature = "v5")]
pub const V5: ProtocolVersion = ProtocolVersion::V5;
/// Every version this build speaks: 5.0 only with the `v5` feature.
#[cfg(feature = "v5")]
pub const ALL_VERSIONS: [ProtocolVersion; 3] = [V31, V4, V5];
#[cfg(not(feature = "v5"))]
pub const ALL_VERSIONS: [ProtocolVersion; 2] = [V31, V4];
/// 3.1.1, and 5.0 with the `v5` feature: for the tests that loop over the two.
#[cfg(feature = "v5")]
pub const V4_V5: [ProtocolVersion; 2] = [V4, V5];
#[cfg(not(feature = "v5"))]
pub const V4_V5: [ProtocolVersion; 1] = [V4];

/// Whether this build encodes packets of type `t`: CONNACK, SUBACK and UNSUBACK, which
/// only a server sends, need the `encode-server` feature (without it they are
/// `EncodeError::ServerOnly`).
pub const fn encodes(t: PacketType) -> bool {
    cfg!(feature = "encode-server")
        || !matches!(
            t,
            PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck
        )
}

/// Whether this build decodes packets of type `t`: CONNECT, which only a server receives,
/// needs the `decode-connect` feature (without it it is `DecodeError::InvalidPacketType(1)`).
pub const fn decodes(t: PacketType) -> bool {
    cfg!(feature = "decode-connect") || !matches!(t, PacketType::Connect)
}

/// Whether this build both encodes and decodes packets of type `t` (what a round trip needs).
pub const fn round_trips(t: PacketType) -> bool {
    encodes(t) && decodes(t)
}

/// Encode gives exactly `bytes`, and `bytes` decode to exactly `p`: each direction this
/// build has (see [`encodes`], [`decodes`]); a direction it lacks must be refused as
/// documented, `ServerOnly` or `InvalidPacketType(1)`.
pub fn both_ways(p: &Packet<'_>, v: ProtocolVersion, bytes: &[u8]) {
    let t = p.packet_type();
    if encodes(t) {
        assert_eq!(encode(p, v), bytes, "encoding of {p:?}");
    } else {
        assert_eq!(encode_err(p, v), EncodeError::ServerOnly, "{p:?}");
    }
    if decodes(t) {
        assert_eq!(&decode_ok(v, bytes), p, "decoding of {bytes:02x?}");
    } else {
        assert_eq!(
            decode_err(v, bytes),
            mqtt_proto::DecodeError::InvalidPacketType(1),
            "{bytes:02x?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Spec tables (MQTT 5.0), written independently of the codec.
// ---------------------------------------------------------------------------------------

/// Every property identifier MQTT 5.0 defines (§2.2.2.2).
pub const PROPERTY_IDS: [u8; 27] = [
    0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C,
    0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
];

pub const ALL_CONTEXTS: [PropertyContext; 11] = [
    PropertyContext::Connect,
    PropertyContext::Will,
    PropertyContext::ConnAck,
    PropertyContext::Publish,
    PropertyContext::PubResponse,
    PropertyContext::Subscribe,
    PropertyContext::SubAck,
    PropertyContext::Unsubscribe,
    PropertyContext::UnsubAck,
    PropertyContext::Disconnect,
    PropertyContext::Auth,
];

/// MQTT 5.0 §2.2.2.2, table 2-4: the packets that may carry property `id`.
pub fn spec_allowed(id: u8, ctx: PropertyContext) -> bool {
    use PropertyContext::*;
    let places: &[PropertyContext] = match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => &[Publish, Will],
        0x0B => &[Publish, Subscribe],
        0x11 => &[Connect, ConnAck, Disconnect],
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => &[ConnAck],
        0x15 | 0x16 => &[Connect, ConnAck, Auth],
        0x17 | 0x19 => &[Connect],
        0x18 => &[Will],
        0x1C => &[ConnAck, Disconnect],
        0x1F => &[ConnAck, PubResponse, SubAck, UnsubAck, Disconnect, Auth],
        0x21 | 0x22 | 0x27 => &[Connect, ConnAck],
        0x23 => &[Publish],
        0x26 => &ALL_CONTEXTS,
        _ => &[],
    };
    places.contains(&ctx)
}

/// User Property anywhere; Subscription Identifier several times only in PUBLISH (§3.3.2.3.8).
pub fn spec_repeatable(id: u8, ctx: PropertyContext) -> bool {
    id == 0x26 || (id == 0x0B && ctx == PropertyContext::Publish)
}

/// MQTT 5.0 reason code tables, per packet (§3.2.2.2, §3.4.2.1, ..., §3.15.2.1).
pub fn spec_reason_codes(t: PacketType) -> &'static [u8] {
    match t {
        PacketType::ConnAck => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
            0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
        ],
        PacketType::PubAck | PacketType::PubRec => {
            &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        }
        PacketType::PubRel | PacketType::PubComp => &[0x00, 0x92],
        PacketType::SubAck => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        PacketType::UnsubAck => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        PacketType::Disconnect => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
            0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
            0xA2,
        ],
        PacketType::Auth => &[0x00, 0x18, 0x19],
        _ => &[],
    }
}

/// Every reason code MQTT 5.0 defines.
pub fn all_reason_codes() -> Vec<ReasonCode> {
    (0..=255u8).filter_map(ReasonCode::from_u8).collect()
}

fn reason_codes_for(t: PacketType, v: ProtocolVersion) -> Vec<ReasonCode> {
    if v.is_v5() {
        return spec_reason_codes(t)
            .iter()
            .map(|&b| ReasonCode::from_u8(b).expect("spec code is defined"))
            .collect();
    }
    match t {
        // 3.1.1 CONNACK return codes 0..5, mapped to their 5.0 equivalents.
        PacketType::ConnAck => vec![
            ReasonCode::Success,
            ReasonCode::UnsupportedProtocolVersion,
            ReasonCode::ClientIdentifierNotValid,
            ReasonCode::ServerUnavailable,
            ReasonCode::BadUserNameOrPassword,
            ReasonCode::NotAuthorized,
        ],
        // 3.1.1 SUBACK return codes 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2].
        PacketType::SubAck => vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
        _ => vec![ReasonCode::Success],
    }
}

pub const ACK_TYPES: [PacketType; 4] = [
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
];

// ---------------------------------------------------------------------------------------
// Owned models.
// ---------------------------------------------------------------------------------------

/// An owned [`Property`].
#[derive(Clone, Debug, PartialEq)]
pub enum OProp {
    PayloadFormatIndicator(bool),
    MessageExpiryInterval(u32),
    ContentType(String),
    ResponseTopic(String),
    CorrelationData(Vec<u8>),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(String),
    ServerKeepAlive(u16),
    AuthenticationMethod(String),
    AuthenticationData(Vec<u8>),
    RequestProblemInformation(bool),
    WillDelayInterval(u32),
    RequestResponseInformation(bool),
    ResponseInformation(String),
    ServerReference(String),
    ReasonString(String),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQoS(QoS),
    RetainAvailable(bool),
    UserProperty(String, String),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(bool),
    SubscriptionIdentifierAvailable(bool),
    SharedSubscriptionAvailable(bool),
}

impl OProp {
    pub fn borrow(&self) -> Property<'_> {
        use OProp as O;
        use Property as P;
        match self {
            O::PayloadFormatIndicator(v) => P::PayloadFormatIndicator(*v),
            O::MessageExpiryInterval(v) => P::MessageExpiryInterval(*v),
            O::ContentType(v) => P::ContentType(v),
            O::ResponseTopic(v) => P::ResponseTopic(v),
            O::CorrelationData(v) => P::CorrelationData(v),
            O::SubscriptionIdentifier(v) => P::SubscriptionIdentifier(*v),
            O::SessionExpiryInterval(v) => P::SessionExpiryInterval(*v),
            O::AssignedClientIdentifier(v) => P::AssignedClientIdentifier(v),
            O::ServerKeepAlive(v) => P::ServerKeepAlive(*v),
            O::AuthenticationMethod(v) => P::AuthenticationMethod(v),
            O::AuthenticationData(v) => P::AuthenticationData(v),
            O::RequestProblemInformation(v) => P::RequestProblemInformation(*v),
            O::WillDelayInterval(v) => P::WillDelayInterval(*v),
            O::RequestResponseInformation(v) => P::RequestResponseInformation(*v),
            O::ResponseInformation(v) => P::ResponseInformation(v),
            O::ServerReference(v) => P::ServerReference(v),
            O::ReasonString(v) => P::ReasonString(v),
            O::ReceiveMaximum(v) => P::ReceiveMaximum(*v),
            O::TopicAliasMaximum(v) => P::TopicAliasMaximum(*v),
            O::TopicAlias(v) => P::TopicAlias(*v),
            O::MaximumQoS(v) => P::MaximumQoS(*v),
            O::RetainAvailable(v) => P::RetainAvailable(*v),
            O::UserProperty(k, v) => P::UserProperty(k, v),
            O::MaximumPacketSize(v) => P::MaximumPacketSize(*v),
            O::WildcardSubscriptionAvailable(v) => P::WildcardSubscriptionAvailable(*v),
            O::SubscriptionIdentifierAvailable(v) => P::SubscriptionIdentifierAvailable(*v),
            O::SharedSubscriptionAvailable(v) => P::SharedSubscriptionAvailable(*v),
        }
    }

    pub fn id(&self) -> u8 {
        self.borrow().id() as u8
    }
}

pub fn borrow_props(props: &[OProp]) -> Vec<Property<'_>> {
    props.iter().map(OProp::borrow).collect()
}

#[derive(Clone, Debug)]
pub struct OWill {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub props: Vec<OProp>,
}

/// An owned packet; [`Model::with`] lends the borrowed [`Packet`] built from it.
#[derive(Clone, Debug)]
pub enum Model {
    Connect {
        protocol: ProtocolVersion,
        clean_start: bool,
        keep_alive: u16,
        props: Vec<OProp>,
        client_id: String,
        will: Option<OWill>,
        username: Option<String>,
        password: Option<Vec<u8>>,
    },
    ConnAck {
        session_present: bool,
        reason: ReasonCode,
        props: Vec<OProp>,
    },
    Publish {
        dup: bool,
        qos: QosPid,
        retain: bool,
        topic: String,
        props: Vec<OProp>,
        payload: Vec<u8>,
    },
    Ack {
        kind: PacketType,
        packet_id: PacketId,
        reason: ReasonCode,
        props: Vec<OProp>,
    },
    Subscribe {
        packet_id: PacketId,
        props: Vec<OProp>,
        subs: Vec<(String, SubscriptionOptions)>,
    },
    SubAck {
        packet_id: PacketId,
        props: Vec<OProp>,
        codes: Vec<ReasonCode>,
    },
    Unsubscribe {
        packet_id: PacketId,
        props: Vec<OProp>,
        filters: Vec<String>,
    },
    UnsubAck {
        packet_id: PacketId,
        props: Vec<OProp>,
        codes: Vec<ReasonCode>,
    },
    PingReq,
    PingResp,
    Disconnect {
        reason: ReasonCode,
        props: Vec<OProp>,
    },
    Auth {
        reason: ReasonCode,
        props: Vec<OProp>,
    },
}

impl Model {
    /// Builds the borrowed packet and hands it to `f`.
    pub fn with<R>(&self, f: impl FnOnce(&Packet<'_>) -> R) -> R {
        match self {
            Model::Connect {
                protocol,
                clean_start,
                keep_alive,
                props,
                client_id,
                will,
                username,
                password,
            } => {
                let pv = borrow_props(props);
                let wpv = will.as_ref().map(|w| borrow_props(&w.props));
                let will = will.as_ref().map(|w| Will {
                    topic: name(&w.topic),
                    payload: &w.payload,
                    qos: w.qos,
                    retain: w.retain,
                    properties: Properties::new(wpv.as_deref().unwrap_or(&[])),
                });
                f(&Packet::Connect(Connect {
                    protocol: *protocol,
                    clean_start: *clean_start,
                    keep_alive: *keep_alive,
                    properties: Properties::new(&pv),
                    client_id,
                    will: will.as_ref().map(WillRef::Given),
                    username: username.as_deref(),
                    password: password.as_deref(),
                }))
            }
            Model::ConnAck {
                session_present,
                reason,
                props,
            } => {
                let pv = borrow_props(props);
                f(&Packet::ConnAck(ConnAck {
                    session_present: *session_present,
                    reason_code: *reason,
                    properties: Properties::new(&pv),
                }))
            }
            Model::Publish {
                dup,
                qos,
                retain,
                topic,
                props,
                payload,
            } => {
                let pv = borrow_props(props);
                f(&Packet::Publish(Publish {
                    dup: *dup,
                    qos: *qos,
                    retain: *retain,
                    topic: name(topic),
                    properties: Properties::new(&pv),
                    payload,
                }))
            }
            Model::Ack {
                kind,
                packet_id,
                reason,
                props,
            } => {
                let pv = borrow_props(props);
                let ack = Ack {
                    packet_id: *packet_id,
                    reason_code: *reason,
                    properties: Properties::new(&pv),
                };
                f(&match kind {
                    PacketType::PubAck => Packet::PubAck(ack),
                    PacketType::PubRec => Packet::PubRec(ack),
                    PacketType::PubRel => Packet::PubRel(ack),
                    PacketType::PubComp => Packet::PubComp(ack),
                    other => panic!("not an ack type: {other:?}"),
                })
            }
            Model::Subscribe {
                packet_id,
                props,
                subs,
            } => {
                let pv = borrow_props(props);
                let sv: Vec<Subscription<'_>> = subs
                    .iter()
                    .map(|(f, options)| Subscription {
                        filter: filter(f),
                        options: *options,
                    })
                    .collect();
                f(&Packet::Subscribe(Subscribe {
                    packet_id: *packet_id,
                    properties: Properties::new(&pv),
                    filters: List::new(&sv),
                }))
            }
            Model::SubAck {
                packet_id,
                props,
                codes,
            } => {
                let pv = borrow_props(props);
                f(&Packet::SubAck(SubAck {
                    packet_id: *packet_id,
                    properties: Properties::new(&pv),
                    reason_codes: List::new(codes),
                }))
            }
            Model::Unsubscribe {
                packet_id,
                props,
                filters,
            } => {
                let pv = borrow_props(props);
                let fv: Vec<TopicFilter<'_>> = filters.iter().map(|f| filter(f)).collect();
                f(&Packet::Unsubscribe(Unsubscribe {
                    packet_id: *packet_id,
                    properties: Properties::new(&pv),
                    filters: List::new(&fv),
                }))
            }
            Model::UnsubAck {
                packet_id,
                props,
                codes,
            } => {
                let pv = borrow_props(props);
                f(&Packet::UnsubAck(UnsubAck {
                    packet_id: *packet_id,
                    properties: Properties::new(&pv),
                    reason_codes: List::new(codes),
                }))
            }
            Model::PingReq => f(&Packet::PingReq),
            Model::PingResp => f(&Packet::PingResp),
            Model::Disconnect { reason, props } => {
                let pv = borrow_props(props);
                f(&Packet::Disconnect(Disconnect {
                    reason_code: *reason,
                    properties: Properties::new(&pv),
                }))
            }
            Model::Auth { reason, props } => {
                let pv = borrow_props(props);
                f(&Packet::Auth(Auth {
                    reason_code: *reason,
                    properties: Properties::new(&pv),
                }))
            }
        }
    }

    /// Encodes under `v`, panicking on an encode error.
    pub fn encode(&self, v: ProtocolVersion) -> Vec<u8> {
        self.with(|p| encode(p, v))
    }
}

// ---------------------------------------------------------------------------------------
// Encode / decode helpers.
// ---------------------------------------------------------------------------------------

/// Encodes a packet that must be valid under `v`; checks `encoded_len` against the bytes written.
pub fn encode(p: &Packet<'_>, v: ProtocolVersion) -> Vec<u8> {
    let len = p
        .encoded_len(v)
        .unwrap_or_else(|e| panic!("encoded_len({v:?}) of {p:?}: {e:?}"));
    let mut buf = vec![0u8; len];
    let n = p
        .encode(v, &mut buf)
        .unwrap_or_else(|e| panic!("encode({v:?}) of {p:?}: {e:?}"));
    assert_eq!(n, len, "encode wrote a different length than encoded_len");
    buf
}

/// The encode error of a packet that must be rejected; `encoded_len` must agree with `encode`.
pub fn encode_err(p: &Packet<'_>, v: ProtocolVersion) -> EncodeError {
    let mut buf = vec![0u8; 1024];
    let e = match p.encode(v, &mut buf) {
        Ok(n) => panic!("encode({v:?}) of {p:?} succeeded with {n} bytes"),
        Err(e) => e,
    };
    assert_eq!(p.encoded_len(v), Err(e), "encoded_len and encode disagree");
    assert!(buf.iter().all(|&b| b == 0), "bytes written on error");
    e
}

/// Decodes one whole packet that must fill `bytes` exactly.
pub fn decode_ok(v: ProtocolVersion, bytes: &[u8]) -> Packet<'_> {
    match Decoder::new(v).decode(bytes) {
        Ok(Decoded::Packet { packet, consumed }) => {
            assert_eq!(consumed, bytes.len(), "consumed != input length");
            packet
        }
        other => panic!("decode({v:?}, {bytes:02x?}) gave {other:?}"),
    }
}

/// The decode error for `bytes`, which must be rejected.
pub fn decode_err(v: ProtocolVersion, bytes: &[u8]) -> mqtt_proto::DecodeError {
    match Decoder::new(v).decode(bytes) {
        Err(e) => e,
        Ok(other) => panic!("decode({v:?}, {bytes:02x?}) should fail but gave {other:?}"),
    }
}

/// Bytes of the fixed header of an encoded packet (type byte plus remaining length).
pub fn header_len(encoded: &[u8]) -> usize {
    1 + encoded[1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("complete remaining length")
        + 1
}

/// Builds a packet from its first byte and body, prefixing the remaining length.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut tmp = [0u8; 4];
    let n = mqtt_proto::varint::encode(body.len() as u32, &mut tmp);
    out.extend_from_slice(&tmp[..n]);
    out.extend_from_slice(body);
    out
}

/// A two-byte-length-prefixed field.
pub fn lp(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A property block: variable byte integer length, then the bytes.
pub fn prop_block(props: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut tmp = [0u8; 4];
    let n = mqtt_proto::varint::encode(props.len() as u32, &mut tmp);
    out.extend_from_slice(&tmp[..n]);
    out.extend_from_slice(props);
    out
}

/// Everything a valid packet must satisfy under `v`: encodes with `encoded_len` equal to the
/// bytes written, decodes back to an equal packet consuming every byte, re-encodes to the same
/// bytes, every strict prefix is `Incomplete` (with `Needed::Total` once the fixed header is
/// complete), and a buffer one byte short is `BufferTooSmall` with the exact size.
pub fn check_valid(p: &Packet<'_>, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let len = match p.encoded_len(v) {
        Ok(n) => n,
        Err(e) => return Err(TestCaseError::fail(format!("encoded_len: {e:?} for {p:?}"))),
    };
    // A larger buffer: encode writes exactly `len` bytes and leaves the rest untouched.
    let mut buf = vec![0xA5u8; len + 7];
    let n = p
        .encode(v, &mut buf)
        .map_err(|e| TestCaseError::fail(format!("encode: {e:?} for {p:?}")))?;
    prop_assert_eq!(n, len);
    prop_assert!(
        buf[len..].iter().all(|&b| b == 0xA5),
        "wrote past encoded_len"
    );
    buf.truncate(len);
    prop_assert_eq!(header_len(&buf) + remaining_length(&buf), len);

    // Decode, with and without bytes of a following packet behind it.
    let dec = Decoder::new(v);
    let mut with_tail = buf.clone();
    with_tail.extend_from_slice(&[0xC0, 0x00, 0xFF]);
    for input in [&buf[..], &with_tail[..]] {
        match dec.decode(input) {
            Ok(Decoded::Packet { packet, consumed }) => {
                prop_assert_eq!(&packet, p);
                prop_assert_eq!(consumed, len);
                // The decoded (borrowed-from-wire) packet re-encodes to the same bytes.
                let again = encode(&packet, v);
                prop_assert_eq!(&again, &buf);
            }
            other => return Err(TestCaseError::fail(format!("decode gave {other:?}"))),
        }
    }

    // Every strict prefix is Incomplete, never an error or a packet.
    let hl = header_len(&buf);
    for k in 0..len {
        let got = dec.decode(&buf[..k]);
        let want = if k < hl {
            Needed::Header
        } else {
            Needed::Total(len)
        };
        prop_assert_eq!(got, Ok(Decoded::Incomplete(want)), "prefix of {} bytes", k);
    }

    // A buffer one byte short (and an empty one) names the exact size and is left untouched.
    let mut small = vec![0x5Au8; len - 1];
    prop_assert_eq!(
        p.encode(v, &mut small),
        Err(EncodeError::BufferTooSmall { required: len })
    );
    prop_assert!(
        small.iter().all(|&b| b == 0x5A),
        "wrote into a too-small buffer"
    );
    prop_assert_eq!(
        p.encode(v, &mut []),
        Err(EncodeError::BufferTooSmall { required: len })
    );

    // The size limit is inclusive of the fixed header.
    prop_assert!(
        matches!(
            Decoder::new(v).max_packet_size(len as u32).decode(&buf),
            Ok(Decoded::Packet { .. })
        ),
        "rejected at a limit equal to its size"
    );
    prop_assert_eq!(
        Decoder::new(v).max_packet_size(len as u32 - 1).decode(&buf),
        Err(mqtt_proto::DecodeError::PacketTooLarge {
            size: len as u32,
            max: len as u32 - 1
        })
    );
    Ok(())
}

fn remaining_length(encoded: &[u8]) -> usize {
    mqtt_proto::varint::decode(&encoded[1..])
        .expect("valid varint")
        .expect("complete varint")
        .0 as usize
}

/// A packet decoded from untrusted bytes must be re-encodable and decode to itself again.
/// (The one accepted exception: a 3.x CONNECT with an empty client id and clean session off,
/// which a server must accept and refuse with CONNACK 0x02, but a client never sends.)
pub fn check_reencodes(p: &Packet<'_>, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let v = match p {
        Packet::Connect(c) => c.protocol,
        _ => v,
    };
    match p.encoded_len(v) {
        Ok(_) => {}
        Err(EncodeError::EmptyClientIdWithSession) => return Ok(()),
        // A build without `encode-server` decodes CONNACK, SUBACK and UNSUBACK but cannot
        // encode them.
        Err(EncodeError::ServerOnly) if !encodes(p.packet_type()) => return Ok(()),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "decoded packet does not re-encode: {e:?}: {p:?}"
            )));
        }
    }
    let bytes = encode(p, v);
    match Decoder::new(v).decode(&bytes) {
        Ok(Decoded::Packet { packet, consumed }) => {
            prop_assert_eq!(&packet, p);
            prop_assert_eq!(consumed, bytes.len());
        }
        other => {
            return Err(TestCaseError::fail(format!(
                "re-encoded packet does not decode: {other:?}"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies: building blocks.
// ---------------------------------------------------------------------------------------

fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            'a', 'b', 'z', 'Q', '0', '9', '-', '_', ' ', '/', '$', '+', '#', 'é', 'ß',
            '\u{FEFF}', '\u{7FF}', '\u{800}', '\u{FFFF}', '😀', '\u{10FFFF}',
        ]),
        1 => any::<char>(),
    ]
    .prop_filter("no U+0000", |c| *c != '\0')
}

/// A valid MQTT UTF-8 string: any characters except U+0000 [MQTT-1.5.4-2].
pub fn mqtt_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

fn level_char() -> impl Strategy<Value = char> {
    text_char().prop_filter("no separator or wildcard", |c| {
        !matches!(c, '/' | '+' | '#')
    })
}

fn level(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(level_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// A valid topic name: at least one character, no wildcard, no U+0000 (levels may be empty).
pub fn topic_name() -> impl Strategy<Value = String> {
    prop::collection::vec(level(4), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("non-empty", |s| !s.is_empty())
}

/// A valid non-shared topic filter: `+` whole levels, `#` only last.
pub fn plain_filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![3 => level(4), 1 => Just("+".to_string())], 0..5),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".to_string());
            }
            levels.join("/")
        })
        .prop_filter("non-empty, not $share", |s| {
            !s.is_empty() && !s.starts_with("$share/")
        })
}

/// A valid `$share/<group>/<filter>`.
pub fn shared_filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(level_char(), 1..5).prop_map(|v| v.into_iter().collect::<String>()),
        plain_filter(),
    )
        .prop_map(|(group, f)| format!("$share/{group}/{f}"))
}

/// A valid topic filter, plain or shared (`$share/` filters are checked in every build; only
/// 5.0 sends them).
pub fn any_filter() -> BoxedStrategy<String> {
    prop_oneof![4 => plain_filter(), 1 => shared_filter()].boxed()
}

pub fn topic_filter(v: ProtocolVersion) -> BoxedStrategy<String> {
    if v.is_v5() {
        any_filter()
    } else {
        plain_filter().boxed()
    }
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|n| PacketId::new(n).expect("non-zero"))
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop::sample::select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

pub fn qos_pid() -> impl Strategy<Value = QosPid> {
    prop_oneof![
        Just(QosPid::AtMostOnce),
        packet_id().prop_map(QosPid::AtLeastOnce),
        packet_id().prop_map(QosPid::ExactlyOnce),
    ]
}

/// A spec-valid value for property `id`.
pub fn valid_prop(id: u8) -> BoxedStrategy<OProp> {
    use OProp as O;
    match id {
        0x01 => any::<bool>().prop_map(O::PayloadFormatIndicator).boxed(),
        0x02 => any::<u32>().prop_map(O::MessageExpiryInterval).boxed(),
        0x03 => mqtt_string(8).prop_map(O::ContentType).boxed(),
        0x08 => topic_name().prop_map(O::ResponseTopic).boxed(),
        0x09 => bytes(8).prop_map(O::CorrelationData).boxed(),
        0x0B => prop_oneof![1u32..=300, 1u32..=268_435_455]
            .prop_map(O::SubscriptionIdentifier)
            .boxed(),
        0x11 => any::<u32>().prop_map(O::SessionExpiryInterval).boxed(),
        0x12 => mqtt_string(8).prop_map(O::AssignedClientIdentifier).boxed(),
        0x13 => any::<u16>().prop_map(O::ServerKeepAlive).boxed(),
        0x15 => mqtt_string(8).prop_map(O::AuthenticationMethod).boxed(),
        0x16 => bytes(8).prop_map(O::AuthenticationData).boxed(),
        0x17 => any::<bool>().prop_map(O::RequestProblemInformation).boxed(),
        0x18 => any::<u32>().prop_map(O::WillDelayInterval).boxed(),
        0x19 => any::<bool>()
            .prop_map(O::RequestResponseInformation)
            .boxed(),
        0x1A => mqtt_string(8).prop_map(O::ResponseInformation).boxed(),
        0x1C => mqtt_string(8).prop_map(O::ServerReference).boxed(),
        0x1F => mqtt_string(8).prop_map(O::ReasonString).boxed(),
        0x21 => (1..=u16::MAX).prop_map(O::ReceiveMaximum).boxed(),
        0x22 => any::<u16>().prop_map(O::TopicAliasMaximum).boxed(),
        0x23 => (1..=u16::MAX).prop_map(O::TopicAlias).boxed(),
        0x24 => prop::sample::select(vec![QoS::AtMostOnce, QoS::AtLeastOnce])
            .prop_map(O::MaximumQoS)
            .boxed(),
        0x25 => any::<bool>().prop_map(O::RetainAvailable).boxed(),
        0x26 => (mqtt_string(6), mqtt_string(6))
            .prop_map(|(k, v)| O::UserProperty(k, v))
            .boxed(),
        0x27 => (1..=u32::MAX).prop_map(O::MaximumPacketSize).boxed(),
        0x28 => any::<bool>()
            .prop_map(O::WildcardSubscriptionAvailable)
            .boxed(),
        0x29 => any::<bool>()
            .prop_map(O::SubscriptionIdentifierAvailable)
            .boxed(),
        0x2A => any::<bool>()
            .prop_map(O::SharedSubscriptionAvailable)
            .boxed(),
        other => panic!("no such property {other:#04x}"),
    }
}

/// Drops second copies of single-valued properties, and Authentication Data without an
/// Authentication Method (a Protocol Error, §3.1.2.11.10 / §3.2.2.3.18).
fn spec_fixup(props: Vec<OProp>, ctx: PropertyContext) -> Vec<OProp> {
    let mut seen = Vec::new();
    let mut out: Vec<OProp> = Vec::new();
    for p in props {
        let id = p.id();
        if seen.contains(&id) && !spec_repeatable(id, ctx) {
            continue;
        }
        seen.push(id);
        out.push(p);
    }
    if !seen.contains(&0x15) {
        out.retain(|p| p.id() != 0x16);
    }
    out
}

/// A spec-valid property set for `ctx`: only allowed properties, single-valued ones once.
pub fn props(ctx: PropertyContext) -> BoxedStrategy<Vec<OProp>> {
    let ids: Vec<u8> = PROPERTY_IDS
        .iter()
        .copied()
        .filter(|&id| spec_allowed(id, ctx))
        .collect();
    assert!(!ids.is_empty());
    let one = prop::sample::select(ids).prop_flat_map(valid_prop);
    prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(one, 1..6),
    ]
    .prop_map(move |v| spec_fixup(v, ctx))
    .boxed()
}

fn props_if_v5(v: ProtocolVersion, ctx: PropertyContext) -> BoxedStrategy<Vec<OProp>> {
    if v.is_v5() {
        props(ctx)
    } else {
        Just(Vec::new()).boxed()
    }
}

fn reason(t: PacketType, v: ProtocolVersion) -> impl Strategy<Value = ReasonCode> {
    prop::sample::select(reason_codes_for(t, v))
}

fn has_pfi_text(props: &[OProp]) -> bool {
    props.contains(&OProp::PayloadFormatIndicator(true))
}

// ---------------------------------------------------------------------------------------
// Strategies: one per packet type, spec-valid for the version.
// ---------------------------------------------------------------------------------------

pub fn connect(v: ProtocolVersion) -> BoxedStrategy<Model> {
    let will = (
        topic_name(),
        bytes(16),
        mqtt_string(8),
        qos(),
        any::<bool>(),
        props_if_v5(v, PropertyContext::Will),
    )
        .prop_map(|(topic, bin, text, qos, retain, props)| {
            // Payload Format Indicator 1: the will payload is UTF-8 text.
            let payload = if has_pfi_text(&props) {
                text.into_bytes()
            } else {
                bin
            };
            OWill {
                topic,
                payload,
                qos,
                retain,
                props,
            }
        });
    (
        any::<bool>(),
        any::<u16>(),
        props_if_v5(v, PropertyContext::Connect),
        mqtt_string(12),
        prop::option::of(will),
        prop::option::of(mqtt_string(8)),
        prop::option::of(bytes(12)),
    )
        .prop_map(
            move |(clean_start, keep_alive, props, client_id, will, username, password)| {
                let mut clean_start = clean_start;
                let mut username = username;
                if !v.is_v5() {
                    // 3.1.1: an empty client id needs CleanSession=1 [MQTT-3.1.3-7], and a
                    // password needs a user name [MQTT-3.1.2-22].
                    if client_id.is_empty() {
                        clean_start = true;
                    }
                    if password.is_some() && username.is_none() {
                        username = Some("user".to_string());
                    }
                }
                Model::Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    props,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
        .boxed()
}

pub fn connack(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        any::<bool>(),
        reason(PacketType::ConnAck, v),
        props_if_v5(v, PropertyContext::ConnAck),
    )
        .prop_map(|(sp, reason, props)| Model::ConnAck {
            // Session Present is 0 with a non-zero code [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]).
            session_present: sp && reason == ReasonCode::Success,
            reason,
            props,
        })
        .boxed()
}

pub fn publish(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        any::<bool>(),
        qos_pid(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        props_if_v5(v, PropertyContext::Publish),
        // Mostly small; sometimes past 127 bytes so the remaining length takes two bytes.
        prop_oneof![4 => bytes(48), 1 => bytes(400)],
        mqtt_string(12),
        1..=u16::MAX,
    )
        .prop_map(
            move |(dup, qos, retain, topic, alias_only, mut props, bin, text, alias)| {
                // DUP is 0 at QoS 0 [MQTT-3.3.1-2].
                let dup = dup && qos != QosPid::AtMostOnce;
                // 5.0: an empty topic name is allowed with a Topic Alias (§3.3.2.1).
                let topic = if v.is_v5() && alias_only {
                    if !props.iter().any(|p| p.id() == 0x23) {
                        props.push(OProp::TopicAlias(alias));
                    }
                    String::new()
                } else {
                    topic
                };
                let payload = if has_pfi_text(&props) {
                    text.into_bytes()
                } else {
                    bin
                };
                Model::Publish {
                    dup,
                    qos,
                    retain,
                    topic,
                    props,
                    payload,
                }
            },
        )
        .boxed()
}

pub fn ack(v: ProtocolVersion, kind: PacketType) -> BoxedStrategy<Model> {
    (
        packet_id(),
        reason(kind, v),
        props_if_v5(v, PropertyContext::PubResponse),
    )
        .prop_map(move |(packet_id, reason, props)| Model::Ack {
            kind,
            packet_id,
            reason,
            props,
        })
        .boxed()
}

fn subscription(v: ProtocolVersion) -> BoxedStrategy<(String, SubscriptionOptions)> {
    if v.is_v5() {
        (
            topic_filter(v),
            qos(),
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec![
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtNewSubscribe,
                RetainHandling::DoNotSend,
            ]),
        )
            .prop_map(|(filter, qos, no_local, rap, rh)| {
                // No Local is a Protocol Error on a shared subscription [MQTT-3.8.3-4].
                let no_local = no_local && !filter.starts_with("$share/");
                let options = SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published: rap,
                    retain_handling: rh,
                };
                (filter, options)
            })
            .boxed()
    } else {
        (topic_filter(v), qos())
            .prop_map(|(f, q)| (f, SubscriptionOptions::new(q)))
            .boxed()
    }
}

pub fn subscribe(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        packet_id(),
        props_if_v5(v, PropertyContext::Subscribe),
        prop::collection::vec(subscription(v), 1..5),
    )
        .prop_map(|(packet_id, props, subs)| Model::Subscribe {
            packet_id,
            props,
            subs,
        })
        .boxed()
}

pub fn suback(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        packet_id(),
        props_if_v5(v, PropertyContext::SubAck),
        prop::collection::vec(reason(PacketType::SubAck, v), 1..6),
    )
        .prop_map(|(packet_id, props, codes)| Model::SubAck {
            packet_id,
            props,
            codes,
        })
        .boxed()
}

pub fn unsubscribe(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        packet_id(),
        props_if_v5(v, PropertyContext::Unsubscribe),
        prop::collection::vec(topic_filter(v), 1..5),
    )
        .prop_map(|(packet_id, props, filters)| Model::Unsubscribe {
            packet_id,
            props,
            filters,
        })
        .boxed()
}

pub fn unsuback(v: ProtocolVersion) -> BoxedStrategy<Model> {
    if v.is_v5() {
        (
            packet_id(),
            props(PropertyContext::UnsubAck),
            prop::collection::vec(reason(PacketType::UnsubAck, v), 1..6),
        )
            .prop_map(|(packet_id, props, codes)| Model::UnsubAck {
                packet_id,
                props,
                codes,
            })
            .boxed()
    } else {
        // 3.1.1 UNSUBACK carries only the packet identifier.
        packet_id()
            .prop_map(|packet_id| Model::UnsubAck {
                packet_id,
                props: Vec::new(),
                codes: Vec::new(),
            })
            .boxed()
    }
}

pub fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Model> {
    (
        reason(PacketType::Disconnect, v),
        props_if_v5(v, PropertyContext::Disconnect),
    )
        .prop_map(|(reason, props)| Model::Disconnect { reason, props })
        .boxed()
}

/// AUTH (5.0 only). Apart from the empty Success form, it names its Authentication Method
/// (§3.15.2.2.2: omitting it is a Protocol Error).
#[cfg(feature = "v5")]
pub fn auth() -> BoxedStrategy<Model> {
    prop_oneof![
        1 => Just(Model::Auth {
            reason: ReasonCode::Success,
            props: Vec::new(),
        }),
        4 => (
            reason(PacketType::Auth, V5),
            mqtt_string(8),
            props(PropertyContext::Auth),
        )
            .prop_map(|(reason, method, props)| {
                let mut all = vec![OProp::AuthenticationMethod(method)];
                all.extend(props.into_iter().filter(|p| p.id() != 0x15));
                Model::Auth {
                    reason,
                    props: spec_fixup(all, PropertyContext::Auth),
                }
            }),
    ]
    .boxed()
}

/// Any spec-valid packet for `v` (AUTH only in 5.0) of a type this build both encodes
/// and decodes ([`round_trips`]): CONNECT needs `decode-connect`; CONNACK, SUBACK and
/// UNSUBACK need `encode-server`.
pub fn any_packet(v: ProtocolVersion) -> BoxedStrategy<Model> {
    let options: Vec<(PacketType, u32, BoxedStrategy<Model>)> = vec![
        (PacketType::Connect, 2, connect(v)),
        (PacketType::ConnAck, 1, connack(v)),
        (PacketType::Publish, 4, publish(v)),
        (PacketType::PubAck, 1, ack(v, PacketType::PubAck)),
        (PacketType::PubRec, 1, ack(v, PacketType::PubRec)),
        (PacketType::PubRel, 1, ack(v, PacketType::PubRel)),
        (PacketType::PubComp, 1, ack(v, PacketType::PubComp)),
        (PacketType::Subscribe, 2, subscribe(v)),
        (PacketType::SubAck, 1, suback(v)),
        (PacketType::Unsubscribe, 1, unsubscribe(v)),
        (PacketType::UnsubAck, 1, unsuback(v)),
        (PacketType::PingReq, 1, Just(Model::PingReq).boxed()),
        (PacketType::PingResp, 1, Just(Model::PingResp).boxed()),
        (PacketType::Disconnect, 1, disconnect(v)),
    ];
    #[cfg_attr(not(feature = "v5"), allow(unused_mut))]
    let mut options: Vec<(u32, BoxedStrategy<Model>)> = options
        .into_iter()
        .filter(|(t, _, _)| round_trips(*t))
        .map(|(_, w, s)| (w, s))
        .collect();
    #[cfg(feature = "v5")]
    if v.is_v5() {
        options.push((1, auth()));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

// ---------------------------------------------------------------------------------------
// Loose strategies: anything the types can hold, valid or not.
// ---------------------------------------------------------------------------------------

fn loose_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mqtt_string(6),
        1 => prop::collection::vec(
            prop::sample::select(vec!['a', '/', '+', '#', '\0', '$']),
            0..6
        )
        .prop_map(|v| v.into_iter().collect()),
        1 => prop::sample::select(vec![
            "$share/g/a".to_string(),
            "$share//a".to_string(),
            "$share/g".to_string(),
            "a/#".to_string(),
            "+".to_string(),
            String::new(),
        ]),
    ]
}

/// Any property with any value, including out-of-range ones.
pub fn loose_prop() -> BoxedStrategy<OProp> {
    use OProp as O;
    let small_u16 = prop_oneof![Just(0u16), any::<u16>()];
    let small_u32 = prop_oneof![Just(0u32), any::<u32>()];
    prop_oneof![
        prop::sample::select(PROPERTY_IDS.to_vec()).prop_flat_map(valid_prop),
        small_u16.clone().prop_map(O::ReceiveMaximum),
        small_u16.clone().prop_map(O::TopicAlias),
        small_u32.clone().prop_map(O::SubscriptionIdentifier),
        Just(O::SubscriptionIdentifier(268_435_456)),
        small_u32.prop_map(O::MaximumPacketSize),
        qos().prop_map(O::MaximumQoS),
        loose_string().prop_map(O::ResponseTopic),
        loose_string().prop_map(O::ReasonString),
        (loose_string(), loose_string()).prop_map(|(k, v)| O::UserProperty(k, v)),
    ]
    .boxed()
}

fn loose_props() -> impl Strategy<Value = Vec<OProp>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::collection::vec(loose_prop(), 1..4),
    ]
}

fn loose_reason() -> impl Strategy<Value = ReasonCode> {
    prop::sample::select(all_reason_codes())
}

fn loose_options() -> impl Strategy<Value = SubscriptionOptions> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![
            RetainHandling::SendAtSubscribe,
            RetainHandling::SendAtNewSubscribe,
            RetainHandling::DoNotSend,
        ]),
    )
        .prop_map(|(qos, no_local, rap, rh)| SubscriptionOptions {
            qos,
            no_local,
            retain_as_published: rap,
            retain_handling: rh,
        })
}

/// Any packet the types can express, with no regard to the rules.
pub fn loose_packet() -> BoxedStrategy<Model> {
    let will = (
        loose_string(),
        bytes(4),
        qos(),
        any::<bool>(),
        loose_props(),
    )
        .prop_map(|(topic, payload, qos, retain, props)| OWill {
            topic,
            payload,
            qos,
            retain,
            props,
        });
    prop_oneof![
        (
            prop::sample::select(ALL_VERSIONS.to_vec()),
            any::<bool>(),
            any::<u16>(),
            loose_props(),
            loose_string(),
            prop::option::of(will),
            prop::option::of(loose_string()),
            prop::option::of(bytes(4)),
        )
            .prop_map(
                |(
                    protocol,
                    clean_start,
                    keep_alive,
                    props,
                    client_id,
                    will,
                    username,
                    password,
                )| {
                    Model::Connect {
                        protocol,
                        clean_start,
                        keep_alive,
                        props,
                        client_id,
                        will,
                        username,
                        password,
                    }
                }
            ),
        (any::<bool>(), loose_reason(), loose_props()).prop_map(|(s, r, p)| Model::ConnAck {
            session_present: s,
            reason: r,
            props: p
        }),
        (
            any::<bool>(),
            qos_pid(),
            any::<bool>(),
            loose_string(),
            loose_props(),
            bytes(8)
        )
            .prop_map(|(dup, qos, retain, topic, props, payload)| Model::Publish {
                dup,
                qos,
                retain,
                topic,
                props,
                payload
            }),
        (
            prop::sample::select(ACK_TYPES.to_vec()),
            packet_id(),
            loose_reason(),
            loose_props()
        )
            .prop_map(|(kind, packet_id, reason, props)| Model::Ack {
                kind,
                packet_id,
                reason,
                props
            }),
        (
            packet_id(),
            loose_props(),
            prop::collection::vec((loose_string(), loose_options()), 0..3)
        )
            .prop_map(|(packet_id, props, subs)| Model::Subscribe {
                packet_id,
                props,
                subs
            }),
        (
            packet_id(),
            loose_props(),
            prop::collection::vec(loose_reason(), 0..3)
        )
            .prop_map(|(packet_id, props, codes)| Model::SubAck {
                packet_id,
                props,
                codes
            }),
        (
            packet_id(),
            loose_props(),
            prop::collection::vec(loose_string(), 0..3)
        )
            .prop_map(|(packet_id, props, filters)| Model::Unsubscribe {
                packet_id,
                props,
                filters
            }),
        (
            packet_id(),
            loose_props(),
            prop::collection::vec(loose_reason(), 0..3)
        )
            .prop_map(|(packet_id, props, codes)| Model::UnsubAck {
                packet_id,
                props,
                codes
            }),
        Just(Model::PingReq),
        Just(Model::PingResp),
        (loose_reason(), loose_props())
            .prop_map(|(reason, props)| Model::Disconnect { reason, props }),
        (loose_reason(), loose_props()).prop_map(|(reason, props)| Model::Auth { reason, props }),
    ]
    .boxed()
}

/// A model's topic name. Empty is the 5.0 alias-only name. A loose model's invalid
/// name cannot be made into a `TopicName` at all (tests/malformed.rs checks the refusal),
/// so it stands as a fixed valid one and the rest of its packet is still exercised.
pub fn name(s: &str) -> TopicName<'_> {
    if s.is_empty() {
        TopicName::ALIAS_ONLY
    } else {
        TopicName::new(s).unwrap_or(TopicName::from_static("loose/invalid-name"))
    }
}

/// A model's topic filter; a loose model's invalid one stands as a fixed valid one
/// (see [`name`]).
pub fn filter(s: &str) -> TopicFilter<'_> {
    TopicFilter::new(s).unwrap_or(TopicFilter::from_static("loose/invalid-filter/#"))
}

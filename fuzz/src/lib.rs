//! Invariants of the `mqtt-proto` codec and of the `mqtt-session` state machine
//! ([`session`]), checked by the libFuzzer targets in `fuzz_targets/` and, over the
//! committed seeds and regression inputs, by
//! `cargo test --manifest-path fuzz/Cargo.toml --lib` (stable, no libFuzzer needed).
//!
//! Every check panics when an invariant breaks; libFuzzer reports the panic as a crash
//! and saves the input under `fuzz/artifacts/<target>/`.
//!
//! The invariants, one function each:
//! - [`check_decode`]: decoding arbitrary bytes never panics, agrees with the fixed-header
//!   parser [`mqtt_proto::frame`], settles byte at a time exactly where it should
//!   (see its doc), honours `max_packet_size` from the fixed header alone, and hands
//!   the first packet to [`check_packet`].
//! - [`check_packet`]: a decoded packet re-encodes (its encoded length is exact and never
//!   longer than the input it came from), the bytes decode to an equal packet, encoding
//!   that packet gives the same bytes again (a fixed point), every entry point
//!   (`encode`, `encode_to`, `OwnedPacket`) agrees, a packet rebuilt from its iterated
//!   items is equal and encodes identically, and encoding it for another protocol version
//!   either round-trips in that version or fails with a version error.

pub mod seeds;
pub mod session;

use mqtt_proto::{
    Decoded, Decoder, EncodeError, Frame, List, Needed, OwnedPacket, Packet, Properties, Property,
    ProtocolVersion, ReasonCode, Subscription, TopicFilter, Will, frame,
};

/// The longest fixed header: the type byte and a four-byte remaining length.
pub const MAX_HEADER: usize = 5;

/// Every protocol version the codec speaks.
pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// The version a `roundtrip` input's first byte selects: `b % 3` indexes [`VERSIONS`]
/// (0: 3.1, 1: 3.1.1, 2: 5.0).
pub fn version_from_byte(b: u8) -> ProtocolVersion {
    VERSIONS[usize::from(b % 3)]
}

/// The byte that selects `v` in a `roundtrip` input.
pub fn version_byte(v: ProtocolVersion) -> u8 {
    match v {
        ProtocolVersion::V3_1 => 0,
        ProtocolVersion::V3_1_1 => 1,
        ProtocolVersion::V5 => 2,
    }
}

/// The `decode_v4` target: [`check_decode`] with an MQTT 3.1.1 decoder.
pub fn decode_v4(data: &[u8]) {
    check_decode(ProtocolVersion::V3_1_1, data);
}

/// The `decode_v5` target: [`check_decode`] with an MQTT 5.0 decoder.
pub fn decode_v5(data: &[u8]) {
    check_decode(ProtocolVersion::V5, data);
}

/// The `roundtrip` target: the first byte selects the version ([`version_from_byte`]), the
/// rest is a stream of packets; every packet decoded from it goes through [`check_packet`].
pub fn roundtrip(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    check_stream(version_from_byte(selector), stream);
}

/// Runs the named target on `data` (for replaying seeds and regressions in tests).
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "decode_v4" => decode_v4(data),
        "decode_v5" => decode_v5(data),
        "roundtrip" => roundtrip(data),
        "session" => session::run(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// Names of every fuzz target.
pub const TARGETS: [&str; 4] = ["decode_v4", "decode_v5", "roundtrip", "session"];

/// Decodes packet after packet from `stream` and checks each with [`check_packet`],
/// stopping at the first incomplete or malformed one.
pub fn check_stream(v: ProtocolVersion, mut stream: &[u8]) {
    let dec = Decoder::new(v);
    while let Ok(Decoded::Packet { packet, consumed }) = dec.decode(stream) {
        assert!(
            (2..=stream.len()).contains(&consumed),
            "consumed {consumed} of {} bytes",
            stream.len()
        );
        check_packet(&packet, v, consumed);
        stream = &stream[consumed..];
    }
}

/// Decoding invariants for arbitrary bytes under version `v`.
///
/// 1. No panic. `decode` agrees with `frame` (the fixed-header parser): the same header
///    error, the same `Incomplete`, and a packet whose `consumed` is the total the fixed
///    header announces, with `2 <= consumed <= data.len()`.
/// 2. Byte at a time (every prefix `data[..n]`): the result is `Incomplete(Header)` while
///    the fixed header is short (never at 5 bytes or more), then `Incomplete(Total(t))`
///    with the one `t` the whole input announces (`t > n`), and then, from one prefix
///    length `k` on, exactly the result of the whole input. Errors cannot appear early
///    because the decoder reads the body only once the whole packet is buffered:
///    - a packet settles at `k == consumed`;
///    - an error in the body settles at `k == total` (the packet's announced length);
///    - an error in the fixed header (type, flags, remaining length) settles at the
///      byte that shows it (`k <= 5`), before any `Total` was announced, and every
///      longer prefix gives that same error;
///    - an incomplete input never settles: every prefix is incomplete too.
/// 3. `decode_exact` agrees: the packet for `data[..consumed]`, `TrailingBytes` when more
///    follows, `Truncated` for an incomplete input, the same error otherwise.
/// 4. `max_packet_size`: a limit of exactly the announced total changes nothing; one
///    byte less is `PacketTooLarge { size: total, max: total - 1 }` whether or not the
///    body is buffered or valid (refused from the fixed header alone); a header error
///    or a short header is the same under a limit of 0.
/// 5. The first packet satisfies [`check_packet`].
pub fn check_decode(v: ProtocolVersion, data: &[u8]) {
    let dec = Decoder::new(v);
    let full = dec.decode(data);
    let framed = frame(data, v, u32::MAX);

    // 1. decode() and frame() agree. `total`: the announced length, if the header is whole.
    let total = match (framed, &full) {
        (Err(fe), Err(e)) => {
            assert_eq!(
                fe, *e,
                "frame() and decode() report different header errors"
            );
            None
        }
        (Err(fe), Ok(r)) => panic!("frame() failed with {fe:?} but decode() gave {r:?}"),
        (Ok(Frame::Incomplete(need)), r) => {
            assert_eq!(*r, Ok(Decoded::Incomplete(need)), "frame() says incomplete");
            if let Needed::Total(t) = need {
                assert!(
                    t > data.len(),
                    "Incomplete(Total({t})) with {} bytes",
                    data.len()
                );
            }
            None
        }
        (Ok(Frame::Complete(h)), r) => {
            let t = h.total_len();
            assert!(
                (2..=MAX_HEADER).contains(&h.header_len),
                "header_len {}",
                h.header_len
            );
            assert!(
                (2..=data.len()).contains(&t),
                "total {t} of {} bytes",
                data.len()
            );
            match r {
                Ok(Decoded::Packet { consumed, .. }) => assert_eq!(*consumed, t),
                Ok(Decoded::Incomplete(need)) => {
                    panic!("whole packet of {t} bytes buffered but decode() says {need:?}")
                }
                // An error in the body: the packet is whole and was examined.
                Err(e) => assert!(
                    !matches!(e, mqtt_proto::DecodeError::PacketTooLarge { .. }),
                    "PacketTooLarge without a limit"
                ),
            }
            Some(t)
        }
    };

    // 2. Byte at a time. Prefixes shorter than the settle point stop at the fixed header,
    //    so walking them is cheap.
    let end = total.unwrap_or(data.len());
    let mut announced: Option<usize> = None;
    let mut settled: Option<usize> = None;
    for n in 0..=end {
        match dec.decode(&data[..n]) {
            Ok(Decoded::Incomplete(Needed::Header)) => {
                assert!(
                    announced.is_none(),
                    "Incomplete(Header) at {n} bytes after Total"
                );
                assert!(n < MAX_HEADER, "Incomplete(Header) with {n} header bytes");
            }
            Ok(Decoded::Incomplete(Needed::Total(t))) => {
                assert!(t > n, "Incomplete(Total({t})) with {n} bytes");
                if let Some(a) = announced {
                    assert_eq!(a, t, "announced total changed at {n} bytes");
                }
                if let Some(whole) = total {
                    assert_eq!(t, whole, "prefix announces {t}, whole input {whole}");
                }
                announced = Some(t);
            }
            r => {
                assert_eq!(r, full, "prefix of {n} bytes differs from the whole input");
                settled = Some(n);
                break;
            }
        }
    }
    match (total, &full) {
        (Some(t), _) => assert_eq!(settled, Some(t), "did not settle at the total {t}"),
        (None, Err(e)) => {
            let k = settled.expect("a header error must show on a prefix");
            assert!(k <= MAX_HEADER, "header error {e:?} settled at {k} bytes");
            assert!(announced.is_none(), "header error {e:?} after a Total");
            for n in k..=data.len() {
                assert_eq!(
                    dec.decode(&data[..n]),
                    full,
                    "header error lost at {n} bytes"
                );
            }
        }
        (None, Ok(Decoded::Incomplete(need))) => {
            assert_eq!(settled, None, "an incomplete input settled on a prefix");
            if let Needed::Total(t) = need {
                assert_eq!(announced, Some(*t));
            }
        }
        (None, Ok(Decoded::Packet { .. })) => unreachable!("checked in step 1"),
    }

    // 3. decode_exact.
    let exact = Packet::decode_exact(data, v);
    match (&full, total) {
        (Ok(Decoded::Packet { packet, consumed }), _) => {
            assert_eq!(Packet::decode_exact(&data[..*consumed], v), Ok(*packet));
            if *consumed < data.len() {
                assert_eq!(exact, Err(mqtt_proto::DecodeError::TrailingBytes));
            } else {
                assert_eq!(exact, Ok(*packet));
            }
        }
        (Ok(Decoded::Incomplete(_)), _) => {
            assert_eq!(exact, Err(mqtt_proto::DecodeError::Truncated));
        }
        (Err(e), Some(t)) => assert_eq!(Packet::decode_exact(&data[..t], v), Err(*e)),
        (Err(e), None) => assert_eq!(exact, Err(*e)),
    }

    // 4. max_packet_size, from the fixed header alone.
    let limited = |max: usize| Decoder::new(v).max_packet_size(max as u32).decode(data);
    let too_large = |t: usize| {
        Err(mqtt_proto::DecodeError::PacketTooLarge {
            size: t as u32,
            max: t as u32 - 1,
        })
    };
    let announced_total = total.or(match full {
        Ok(Decoded::Incomplete(Needed::Total(t))) => Some(t),
        _ => None,
    });
    match announced_total {
        Some(t) => {
            assert_eq!(
                limited(t),
                full,
                "limit of exactly {t} bytes changed the result"
            );
            assert_eq!(limited(t - 1), too_large(t), "limit of {} bytes", t - 1);
        }
        None => assert_eq!(
            limited(0),
            full,
            "limit applied without a whole fixed header"
        ),
    }

    // 5. The first packet re-encodes.
    if let Ok(Decoded::Packet { packet, consumed }) = full {
        check_packet(&packet, v, consumed);
    }
}

/// Encoding invariants for a packet that a decoder for `v` produced from `consumed` bytes.
/// See the crate doc. A CONNECT carries (and is encoded with) its own protocol version.
pub fn check_packet(p: &Packet<'_>, v: ProtocolVersion, consumed: usize) {
    // Debug never panics and never shows a password.
    let debug = format!("{p:?}");
    if let Packet::Connect(c) = p
        && c.password.is_some()
    {
        assert!(
            debug.contains("<redacted>"),
            "password not redacted: {debug}"
        );
    }

    let ev = match p {
        Packet::Connect(c) => c.protocol,
        _ => v,
    };
    let len = match p.encoded_len(ev) {
        Ok(len) => len,
        Err(e) => {
            assert!(
                refusal_allowed(p, e),
                "a decoded packet is refused by the encoder with {e:?}: {p:?}"
            );
            return;
        }
    };
    assert!(
        len <= consumed,
        "re-encoding grew the packet from {consumed} to {len} bytes: {p:?}"
    );

    // encode: exact length; an undersized buffer is refused and left untouched.
    let mut bytes = vec![0u8; len];
    assert_eq!(p.encode(ev, &mut bytes), Ok(len));
    let mut small = vec![0xa5u8; len - 1];
    assert_eq!(
        p.encode(ev, &mut small),
        Err(EncodeError::BufferTooSmall { required: len })
    );
    assert!(
        small.iter().all(|&b| b == 0xa5),
        "undersized buffer written to"
    );

    // encode_to a BufMut writes the same bytes.
    let mut grown = Vec::new();
    assert_eq!(p.encode_to(ev, &mut grown), Ok(len));
    assert_eq!(grown, bytes, "encode_to differs from encode");

    // The bytes decode to an equal packet, which encodes to the same bytes again.
    let again = expect_packet(Decoder::new(v).decode(&bytes), len, &bytes);
    assert_eq!(again, *p, "decode(encode(p)) != p; bytes {bytes:02x?}");
    let mut bytes2 = vec![0u8; len];
    assert_eq!(again.encode(ev, &mut bytes2), Ok(len));
    assert_eq!(bytes2, bytes, "encoding is not a fixed point");

    // OwnedPacket keeps and re-lends the same packet.
    let owned = OwnedPacket::new(bytes.clone(), v)
        .unwrap_or_else(|e| panic!("OwnedPacket::new refused {bytes:02x?}: {e:?}"));
    assert_eq!(owned.packet(), *p);
    assert_eq!(owned.as_bytes(), &bytes[..]);

    // Rebuilt from the items its lists yield, the packet is equal and encodes identically.
    let items = Items::of(p);
    let mut will = None;
    let rebuilt = items.rebuild(*p, &mut will);
    assert_eq!(rebuilt, *p, "packet rebuilt from its items differs");
    let mut bytes3 = vec![0u8; len];
    assert_eq!(
        rebuilt.encode(ev, &mut bytes3),
        Ok(len),
        "rebuilt: {rebuilt:?}"
    );
    assert_eq!(
        bytes3, bytes,
        "packet rebuilt from its items encodes differently"
    );

    // Another protocol version: round-trips there, or fails with a version error. A
    // CONNECT is encoded only with its own version.
    for w in VERSIONS {
        match p {
            Packet::Connect(_) if w != ev => {
                assert_eq!(p.encoded_len(w), Err(EncodeError::VersionMismatch));
            }
            Packet::Connect(_) => {}
            _ if w != v => check_cross_version(p, v, w),
            _ => {}
        }
    }
}

/// The one encoder refusal of a decoded packet that the specs ask for: MQTT 3.1.1 lets a
/// server receive a CONNECT with an empty client id and clean session 0 (it answers with
/// CONNACK 0x02, [MQTT-3.1.3-8]) but forbids a client to send one [MQTT-3.1.3-7].
fn refusal_allowed(p: &Packet<'_>, e: EncodeError) -> bool {
    match (p, e) {
        (Packet::Connect(c), EncodeError::EmptyClientIdWithSession) => {
            !c.protocol.is_v5() && c.client_id.is_empty() && !c.clean_start
        }
        _ => false,
    }
}

/// Encodes `p` (decoded under `from`) for version `to`: either the bytes decode under `to`
/// to an equal packet, or the encoder refuses with an error that the version explains.
fn check_cross_version(p: &Packet<'_>, from: ProtocolVersion, to: ProtocolVersion) {
    match p.encoded_len(to) {
        Ok(len) => {
            let mut bytes = vec![0u8; len];
            assert_eq!(p.encode(to, &mut bytes), Ok(len));
            let q = expect_packet(Decoder::new(to).decode(&bytes), len, &bytes);
            assert_eq!(
                q, *p,
                "{from:?} packet re-encoded as {to:?} decodes differently"
            );
        }
        Err(e) => assert!(
            cross_refusal_allowed(p, from, to, e),
            "{from:?} packet refused as {to:?} with {e:?}: {p:?}"
        ),
    }
}

/// Why a packet of one version may not be expressible in another:
/// - 3.1 and 3.1.1 differ only in CONNECT (checked apart), so nothing fails between them;
/// - 5.0 to 3.x: properties, reason codes, subscription options and AUTH are `NotInVersion`;
///   a CONNACK or SUBACK code without a 3.1.1 equivalent is `InvalidReasonCode`; an empty
///   topic name (a topic alias) is `InvalidTopicName`;
/// - 3.x to 5.0: a 3.1.1 UNSUBACK has no reason codes, which 5.0 requires.
fn cross_refusal_allowed(
    p: &Packet<'_>,
    from: ProtocolVersion,
    to: ProtocolVersion,
    e: EncodeError,
) -> bool {
    match (from.is_v5(), to.is_v5()) {
        (false, false) => false,
        (true, false) => match (p, e) {
            (_, EncodeError::NotInVersion) => true,
            (Packet::ConnAck(_) | Packet::SubAck(_), EncodeError::InvalidReasonCode(_)) => true,
            (Packet::Publish(x), EncodeError::InvalidTopicName) => x.topic.is_empty(),
            _ => false,
        },
        (false, true) => matches!(
            (p, e),
            (Packet::UnsubAck(_), EncodeError::EmptySubscription)
        ),
        (true, true) => unreachable!("same version"),
    }
}

/// Unwraps a decode result that must be one whole packet of `len` bytes.
fn expect_packet<'a>(
    r: Result<Decoded<'a>, mqtt_proto::DecodeError>,
    len: usize,
    bytes: &[u8],
) -> Packet<'a> {
    match r {
        Ok(Decoded::Packet { packet, consumed }) => {
            assert_eq!(consumed, len, "encoded {len} bytes, decoded {consumed}");
            packet
        }
        other => panic!("encoded bytes {bytes:02x?} do not decode: {other:?}"),
    }
}

/// The items of every list in a packet, collected by iterating it.
struct Items<'a> {
    properties: Vec<Property<'a>>,
    will_properties: Vec<Property<'a>>,
    subscriptions: Vec<Subscription<'a>>,
    filters: Vec<TopicFilter<'a>>,
    reason_codes: Vec<ReasonCode>,
}

impl<'a> Items<'a> {
    fn of(p: &Packet<'a>) -> Self {
        let mut items = Items {
            properties: Vec::new(),
            will_properties: Vec::new(),
            subscriptions: Vec::new(),
            filters: Vec::new(),
            reason_codes: Vec::new(),
        };
        let props = match p {
            Packet::Connect(c) => {
                if let Some(w) = &c.will {
                    items.will_properties = w.get().properties.iter().collect();
                }
                c.properties
            }
            Packet::ConnAck(c) => c.properties,
            Packet::Publish(x) => x.properties,
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                a.properties
            }
            Packet::Subscribe(s) => {
                items.subscriptions = s.filters.iter().collect();
                assert_eq!(items.subscriptions.len(), s.filters.len());
                s.properties
            }
            Packet::SubAck(s) => {
                items.reason_codes = s.reason_codes.iter().collect();
                assert_eq!(items.reason_codes.len(), s.reason_codes.len());
                s.properties
            }
            Packet::Unsubscribe(u) => {
                items.filters = u.filters.iter().collect();
                assert_eq!(items.filters.len(), u.filters.len());
                u.properties
            }
            Packet::UnsubAck(u) => {
                items.reason_codes = u.reason_codes.iter().collect();
                u.properties
            }
            Packet::Disconnect(d) => d.properties,
            Packet::Auth(a) => a.properties,
            Packet::PingReq | Packet::PingResp => Properties::empty(),
        };
        items.properties = props.iter().collect();
        items
    }

    /// `p` with every list replaced by a caller-built slice of the collected items.
    /// `will` holds the rebuilt will, which the packet borrows.
    fn rebuild<'s>(&'s self, p: Packet<'s>, will: &'s mut Option<Will<'s>>) -> Packet<'s> {
        let props = Properties::new(&self.properties);
        match p {
            Packet::Connect(c) => {
                *will = c.will.map(|w| Will {
                    properties: Properties::new(&self.will_properties),
                    ..w.get()
                });
                let will: &'s Option<Will<'s>> = will;
                Packet::Connect(mqtt_proto::Connect {
                    properties: props,
                    will: will.as_ref().map(mqtt_proto::WillRef::Given),
                    ..c
                })
            }
            Packet::ConnAck(c) => Packet::ConnAck(mqtt_proto::ConnAck {
                properties: props,
                ..c
            }),
            Packet::Publish(x) => Packet::Publish(mqtt_proto::Publish {
                properties: props,
                ..x
            }),
            Packet::PubAck(a) => Packet::PubAck(mqtt_proto::Ack {
                properties: props,
                ..a
            }),
            Packet::PubRec(a) => Packet::PubRec(mqtt_proto::Ack {
                properties: props,
                ..a
            }),
            Packet::PubRel(a) => Packet::PubRel(mqtt_proto::Ack {
                properties: props,
                ..a
            }),
            Packet::PubComp(a) => Packet::PubComp(mqtt_proto::Ack {
                properties: props,
                ..a
            }),
            Packet::Subscribe(s) => Packet::Subscribe(mqtt_proto::Subscribe {
                properties: props,
                filters: List::new(&self.subscriptions),
                ..s
            }),
            Packet::SubAck(s) => Packet::SubAck(mqtt_proto::SubAck {
                properties: props,
                reason_codes: List::new(&self.reason_codes),
                ..s
            }),
            Packet::Unsubscribe(u) => Packet::Unsubscribe(mqtt_proto::Unsubscribe {
                properties: props,
                filters: List::new(&self.filters),
                ..u
            }),
            Packet::UnsubAck(u) => Packet::UnsubAck(mqtt_proto::UnsubAck {
                properties: props,
                reason_codes: List::new(&self.reason_codes),
                ..u
            }),
            Packet::Disconnect(d) => Packet::Disconnect(mqtt_proto::Disconnect {
                properties: props,
                ..d
            }),
            Packet::Auth(a) => Packet::Auth(mqtt_proto::Auth {
                properties: props,
                ..a
            }),
            Packet::PingReq => Packet::PingReq,
            Packet::PingResp => Packet::PingResp,
        }
    }
}

#[cfg(test)]
mod tests;

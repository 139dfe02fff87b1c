//! Decode and encode of five representative packets, through `mqtt-proto`, through
//! rumqttc 0.25.1's `mqttbytes` codec, and through a plain `memcpy` of the same bytes.
//!
//! Run: `cargo bench -p mqtt-benches --bench codec`, then `python3 benches/report.py`.
//! Paired mode: `cargo bench -p mqtt-benches --bench codec -- --paired` times both
//! libraries back to back on each packet, 1,000 pairs per row, and prints the median of
//! the per-pair ratios with its quartiles (one `PAIRED` line per row; see [`paired`]):
//! the ratio a noisy machine moves least. `benches/rounds.sh` runs it every round.
//!
//! Packets (all PUBLISH are **QoS 1**, packet id 10, for both libraries):
//! - `publish_64`: 3.1.1 PUBLISH, 30-byte topic, 64 B payload.
//! - `publish_4k`: the same with a 4 KiB payload.
//! - `publish_v5_props`: 5.0 PUBLISH, same topic, 64 B payload, three properties
//!   (message expiry interval, one user property, content type).
//! - `subscribe_10`: 3.1.1 SUBSCRIBE with 10 topic filters (mixed wildcards and QoS).
//! - `connect_v5`: 5.0 CONNECT with session expiry, receive maximum and a user property;
//!   a will (QoS 1, retained) with will delay and content type; user name and password.
//!
//! # Fairness rules
//! 1. **Same bytes.** Before any timing, both libraries encode each packet and the two
//!    encodings must be byte-for-byte identical (property order follows rumqttc's fixed
//!    write order). Both decoders are fed exactly those bytes.
//! 2. **Both decoders really parse.** Before timing, each decoder's output is compared
//!    with the packet it was encoded from (`assert_eq!` on the whole packet: topic,
//!    packet id, payload, properties, filters, will, credentials). Neither side is a no-op.
//! 3. **Same harness for every decode row.** All three decode rows (mqtt-proto, rumqttc,
//!    memcpy) run through one `batched` helper: criterion's `iter_batched_ref` pattern
//!    (untimed per-iteration setup, `BatchSize::SmallInput`-sized batches of 64..256
//!    inputs, chosen so inputs and outputs stay in L2 like a packet just read from a
//!    socket), built on `iter_custom` so the input and output Vecs are allocated once and
//!    reused. Criterion's own `iter_batched_ref` allocates a fresh output Vec per batch
//!    and its first-touch page faults (kernel time, larger for larger outputs) land
//!    inside the measurement. The memcpy row returns `()`, so it is the floor of harness
//!    plus copy; the codec rows also pay for moving their output (152 B for mqtt-proto,
//!    144 B / 392 B for rumqttc v4 / v5) into the output Vec, as any caller receiving
//!    the value would.
//!    - rumqttc's `Packet::read(&mut BytesMut, max)` consumes its input (`split_to` +
//!      `freeze`), so each iteration gets a fresh `BytesMut` from the untimed setup
//!      closure. The setup also pre-promotes that buffer to the shared (`KIND_ARC`)
//!      representation, as a buffer is in a steady-state read loop, so the timed
//!      `split_to` costs a refcount increment and not a one-off `Box<Shared>`
//!      allocation. (This favours rumqttc.)
//!    - mqtt-proto's `Decoder::decode(&[u8])` borrows; its setup just hands out the slice.
//!    - memcpy copies the encoded packet into a preallocated buffer of the same size.
//! 4. **Output drop is not timed.** The decoded value is kept until the batch ends and
//!    dropped outside the timed region, so rumqttc's frees of its `String`/`Vec`s are
//!    not counted (its allocations are). This favours rumqttc.
//! 5. **Encode reuses its buffer.** rumqttc writes into one `BytesMut` that is
//!    `clear()`ed each iteration (capacity kept, no reallocation); mqtt-proto writes into
//!    one reused `Vec<u8>` (as a `&mut [u8]`); memcpy copies the reference encoding into
//!    one reused `Vec<u8>`. The packet value is built once, outside timing, for both
//!    libraries. rumqttc uses the per-type `write` (`Publish::write`, `Subscribe::write`,
//!    `Connect::write`), its cheapest entry point (it skips `Packet::size`); mqtt-proto
//!    uses its only entry point, `Packet::encode`, which also *validates* the packet
//!    (topic/filter syntax, property placement) and computes the exact length first.
//! 6. **`black_box`** (`std::hint`) wraps every input (packet value or byte slice) and
//!    every output (decoded packet, written buffer).
//! 7. **Same limits.** Both decoders get a 1 MiB maximum packet size.
//! 8. **Validation is not equalised.** mqtt-proto checks more than rumqttc while decoding
//!    (UTF-8 *and* no U+0000 and no wildcard in topic names, wildcard placement in every
//!    filter, property placement/duplicates, reserved flag bits, non-zero packet ids);
//!    rumqttc v4 checks topic UTF-8, v5 leaves the PUBLISH topic as raw `Bytes`. Extra
//!    checks count against mqtt-proto.
//! 9. **Same memory for encode.** Both encoders read the payload from the same bytes
//!    (rumqttc's `Bytes` is `from_static` over the slice ours borrows) and write into the
//!    same allocation (the `Vec` ours writes into becomes rumqttc's `BytesMut`). A 4 KiB
//!    copy's speed depends on where source and destination sit (4 KiB aliasing between
//!    a load and an earlier store runs it at two thirds of its speed); with separate
//!    allocations that placement, not the codec, decided the 4 KiB row (36-49 ns either
//!    way between runs, for either library).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{Bencher, BenchmarkId, Criterion, criterion_group};
use mqtt_proto::{
    Connect, Decoded, Decoder, Packet, PacketId, Properties, Property, ProtocolVersion, Publish,
    QoS, QosPid, Subscribe, Subscription, SubscriptionOptions, TopicFilter, TopicName, Will,
    WillRef,
};
use rumqttc::mqttbytes::{QoS as Qos4, v4};
use rumqttc::v5::mqttbytes::{QoS as Qos5, v5};

const MAX_PACKET: usize = 1 << 20;
/// 30 bytes.
const TOPIC: &str = "factory/line-04/press-12/temp1";
const PKID: u16 = 10;
const SUB_PKID: u16 = 11;

const FILTERS: [(&str, u8); 10] = [
    ("factory/+/press-12/temp", 1),
    ("factory/line-04/#", 0),
    ("alerts/#", 2),
    ("sensors/+/+/humidity", 1),
    ("home/kitchen/light", 0),
    ("home/+/thermostat/setpoint", 1),
    ("$SYS/broker/clients/connected", 0),
    ("devices/dev-000123/cmd/+", 2),
    ("fleet/truck-77/gps", 1),
    ("+/status", 0),
];

const CLIENT_ID: &str = "bench-client-0001";
const WILL_TOPIC: &str = "clients/bench-client-0001/status";
const WILL_PAYLOAD: &[u8] = b"offline";
const USERNAME: &str = "bench-user";
const PASSWORD: &str = "s3cret-passw0rd";

fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero packet id")
}

fn qos_proto(q: u8) -> QoS {
    QoS::from_u8(q).expect("valid QoS")
}

fn qos4(q: u8) -> Qos4 {
    rumqttc::mqttbytes::qos(q).expect("valid QoS")
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// One packet prepared for both libraries.
struct Case<'a> {
    name: &'static str,
    version: ProtocolVersion,
    ours: Packet<'a>,
    theirs: Theirs,
}

enum Theirs {
    V4Publish(v4::Publish),
    V4Subscribe(v4::Subscribe),
    V5Publish(v5::Publish),
    V5Connect(v5::Connect, Option<v5::LastWill>, Option<v5::Login>),
}

impl Theirs {
    /// rumqttc's per-type `write`; errors are erased so both versions share one signature.
    #[inline]
    fn write(&self, buf: &mut BytesMut) -> Result<usize, ()> {
        match self {
            Theirs::V4Publish(p) => p.write(buf).map_err(drop),
            Theirs::V4Subscribe(p) => p.write(buf).map_err(drop),
            Theirs::V5Publish(p) => p.write(buf).map_err(drop),
            Theirs::V5Connect(c, w, l) => c.write(w, l, buf).map_err(drop),
        }
    }
}

/// Decodes `wire` with rumqttc once and compares with the packet it was built from.
fn check_theirs_decode(case: &Case<'_>, wire: &[u8]) {
    let mut buf = BytesMut::from(wire);
    match &case.theirs {
        Theirs::V4Publish(p) => assert_eq!(
            v4::Packet::read(&mut buf, MAX_PACKET).expect("rumqttc decodes"),
            v4::Packet::Publish(p.clone())
        ),
        Theirs::V4Subscribe(p) => assert_eq!(
            v4::Packet::read(&mut buf, MAX_PACKET).expect("rumqttc decodes"),
            v4::Packet::Subscribe(p.clone())
        ),
        Theirs::V5Publish(p) => assert_eq!(
            v5::Packet::read(&mut buf, Some(MAX_PACKET as u32)).expect("rumqttc decodes"),
            v5::Packet::Publish(p.clone())
        ),
        Theirs::V5Connect(c, w, l) => assert_eq!(
            v5::Packet::read(&mut buf, Some(MAX_PACKET as u32)).expect("rumqttc decodes"),
            v5::Packet::Connect(c.clone(), w.clone(), l.clone())
        ),
    }
    assert!(
        buf.is_empty(),
        "{}: rumqttc consumed the whole packet",
        case.name
    );
}

fn decoder(v: ProtocolVersion) -> Decoder {
    Decoder::new(v).max_packet_size(MAX_PACKET as u32)
}

/// Encodes with both libraries, checks the bytes match and that both decoders give back
/// the packet; returns the wire bytes.
fn prepare(case: &Case<'_>) -> Vec<u8> {
    let len = case.ours.encoded_len(case.version).expect("valid packet");
    let mut ours = vec![0u8; len];
    assert_eq!(case.ours.encode(case.version, &mut ours), Ok(len));

    let mut theirs = BytesMut::with_capacity(len);
    assert_eq!(
        case.theirs.write(&mut theirs),
        Ok(len),
        "{}: rumqttc length",
        case.name
    );
    assert_eq!(
        &theirs[..],
        &ours[..],
        "{}: both libraries encode the same bytes",
        case.name
    );

    match decoder(case.version).decode(&ours) {
        Ok(Decoded::Packet { packet, consumed }) => {
            assert_eq!(consumed, len, "{}: mqtt-proto consumed", case.name);
            assert_eq!(
                packet, case.ours,
                "{}: mqtt-proto decodes the packet",
                case.name
            );
        }
        other => panic!("{}: mqtt-proto decode: {other:?}", case.name),
    }
    check_theirs_decode(case, &ours);
    ours
}

/// A `BytesMut` holding `wire`, already in the shared (`KIND_ARC`) representation so that
/// the `split_to` inside rumqttc's `read` is a refcount increment, as in a read loop.
fn shared_bytes_mut(wire: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(wire.len() + 64);
    b.extend_from_slice(wire);
    drop(b.split_off(wire.len())); // promotes to KIND_ARC; refcount back to 1
    b
}

/// Inputs fed to one timed stretch: enough to make the two clock reads negligible
/// (<= 0.6 ns a packet), few enough that inputs and outputs stay in L2 as a packet just
/// read from a socket would be.
fn chunk_len(wire_len: usize) -> usize {
    (256 * 1024 / (wire_len + 64)).clamp(64, 256)
}

/// `iter_batched_ref` with reused buffers: inputs for `chunk` iterations are built by
/// `setup` (untimed), the routine runs over them (timed) storing its outputs into a Vec
/// whose capacity was reserved once, and inputs and outputs are dropped (untimed) before
/// the next chunk. Criterion's own `iter_batched_ref` allocates a fresh output Vec per
/// batch, so its first-touch page faults (kernel time) land in the measurement and grow
/// with the output size; this does not.
fn batched<I, O>(
    b: &mut Bencher<'_>,
    chunk: usize,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(&mut I) -> O,
) {
    let mut inputs: Vec<I> = Vec::with_capacity(chunk);
    let mut outputs: Vec<O> = Vec::with_capacity(chunk);
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(chunk as u64) as usize;
            total += time_chunk(&mut inputs, &mut outputs, n, &mut setup, &mut routine);
            left -= n as u64;
        }
        black_box(&outputs);
        total
    });
}

/// One timed stretch of [`batched`]: `n` inputs built by `setup` (untimed), the routine
/// over them (timed) into `outputs`, both emptied first (untimed; the drop of the last
/// stretch's outputs is not counted).
fn time_chunk<I, O>(
    inputs: &mut Vec<I>,
    outputs: &mut Vec<O>,
    n: usize,
    setup: &mut impl FnMut() -> I,
    routine: &mut impl FnMut(&mut I) -> O,
) -> Duration {
    inputs.clear();
    outputs.clear();
    inputs.extend((0..n).map(|_| setup()));
    let start = Instant::now();
    outputs.extend(inputs.iter_mut().map(&mut *routine));
    let t = start.elapsed();
    black_box(&*outputs);
    t
}

fn bench_decode(c: &mut Criterion, cases: &[Case<'_>], wires: &[Vec<u8>]) {
    let mut g = c.benchmark_group("decode");
    for (case, wire) in cases.iter().zip(wires) {
        let wire: &[u8] = wire;
        let chunk = chunk_len(wire.len());
        let dec = decoder(case.version);
        g.bench_function(BenchmarkId::new(case.name, "mqtt-proto"), |b| {
            batched(
                b,
                chunk,
                || wire,
                |input| black_box(dec.decode(black_box(*input))),
            )
        });
        match &case.theirs {
            Theirs::V4Publish(_) | Theirs::V4Subscribe(_) => {
                g.bench_function(BenchmarkId::new(case.name, "rumqttc"), |b| {
                    batched(
                        b,
                        chunk,
                        || shared_bytes_mut(wire),
                        |input| black_box(v4::Packet::read(black_box(input), MAX_PACKET)),
                    )
                });
            }
            Theirs::V5Publish(_) | Theirs::V5Connect(..) => {
                g.bench_function(BenchmarkId::new(case.name, "rumqttc"), |b| {
                    batched(
                        b,
                        chunk,
                        || shared_bytes_mut(wire),
                        |input| {
                            black_box(v5::Packet::read(black_box(input), Some(MAX_PACKET as u32)))
                        },
                    )
                });
            }
        }
        let mut dst = vec![0u8; wire.len()];
        g.bench_function(BenchmarkId::new(case.name, "memcpy"), |b| {
            batched(
                b,
                chunk,
                || wire,
                |input| {
                    dst.copy_from_slice(black_box(*input));
                    black_box(&mut dst);
                },
            )
        });
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion, cases: &[Case<'_>], wires: &[Vec<u8>]) {
    let mut g = c.benchmark_group("encode");
    for (case, wire) in cases.iter().zip(wires) {
        let v = case.version;
        let mut out = vec![0u8; wire.len() + 64];
        let dst = out.as_ptr();
        g.bench_function(BenchmarkId::new(case.name, "mqtt-proto"), |b| {
            b.iter(|| {
                let n = black_box(&case.ours).encode(v, &mut out);
                black_box(&mut out);
                n
            })
        });
        // rumqttc writes into the very allocation ours wrote into (rule 9).
        let mut bm = BytesMut::from(bytes::Bytes::from(out));
        assert_eq!(bm.as_ptr(), dst, "rumqttc writes where mqtt-proto wrote");
        g.bench_function(BenchmarkId::new(case.name, "rumqttc"), |b| {
            b.iter(|| {
                bm.clear();
                let n = black_box(&case.theirs).write(&mut bm);
                black_box(&mut bm);
                n
            })
        });
        assert_eq!(bm.capacity(), wire.len() + 64, "rumqttc never reallocated");
        let mut dst = vec![0u8; wire.len()];
        g.bench_function(BenchmarkId::new(case.name, "memcpy"), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(wire.as_slice()));
                black_box(&mut dst);
            })
        });
    }
    g.finish();
}

/// The five packets, each encoded by both libraries and checked ([`prepare`]), with
/// their wire bytes.
fn cases() -> (Vec<Case<'static>>, Vec<Vec<u8>>) {
    assert_eq!(TOPIC.len(), 30);
    let p64 = payload(64);
    let p4k = payload(4096);

    let publish = |payload: &'static [u8]| Case {
        name: if payload.len() == 64 {
            "publish_64"
        } else {
            "publish_4k"
        },
        version: ProtocolVersion::V3_1_1,
        ours: Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtLeastOnce(pid(PKID)),
            retain: false,
            topic: TopicName::from_static(TOPIC),
            properties: Properties::empty(),
            payload,
        }),
        theirs: Theirs::V4Publish(v4::Publish {
            dup: false,
            qos: Qos4::AtLeastOnce,
            retain: false,
            topic: TOPIC.to_owned(),
            pkid: PKID,
            // The same memory as ours: both encoders copy from one source.
            payload: bytes::Bytes::from_static(payload),
        }),
    };
    // Leaked so the borrowed packets can live in one `Vec` next to their owners.
    let p64: &'static [u8] = p64.leak();
    let p4k: &'static [u8] = p4k.leak();

    // rumqttc writes PUBLISH properties in a fixed order: expiry, user properties, content type.
    let publish_props: &'static [Property<'static>] = Box::leak(Box::new([
        Property::MessageExpiryInterval(3600),
        Property::UserProperty("source", "gateway-7"),
        Property::ContentType("application/octet-stream"),
    ]));
    let publish_v5 = Case {
        name: "publish_v5_props",
        version: ProtocolVersion::V5,
        ours: Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtLeastOnce(pid(PKID)),
            retain: false,
            topic: TopicName::from_static(TOPIC),
            properties: Properties::new(publish_props),
            payload: p64,
        }),
        theirs: Theirs::V5Publish(v5::Publish {
            dup: false,
            qos: Qos5::AtLeastOnce,
            retain: false,
            topic: bytes::Bytes::from_static(TOPIC.as_bytes()),
            pkid: PKID,
            payload: bytes::Bytes::from_static(p64),
            properties: Some(v5::PublishProperties {
                payload_format_indicator: None,
                message_expiry_interval: Some(3600),
                topic_alias: None,
                response_topic: None,
                correlation_data: None,
                user_properties: vec![("source".into(), "gateway-7".into())],
                subscription_identifiers: vec![],
                content_type: Some("application/octet-stream".into()),
            }),
        }),
    };

    let subs: &'static [Subscription<'static>] = FILTERS
        .iter()
        .map(|&(filter, q)| Subscription {
            filter: TopicFilter::from_static(filter),
            options: SubscriptionOptions::new(qos_proto(q)),
        })
        .collect::<Vec<_>>()
        .leak();
    let subscribe = Case {
        name: "subscribe_10",
        version: ProtocolVersion::V3_1_1,
        ours: Packet::Subscribe(Subscribe {
            packet_id: pid(SUB_PKID),
            properties: Properties::empty(),
            filters: mqtt_proto::List::new(subs),
        }),
        theirs: Theirs::V4Subscribe(v4::Subscribe {
            pkid: SUB_PKID,
            filters: FILTERS
                .iter()
                .map(|&(f, q)| v4::SubscribeFilter::new(f.to_owned(), qos4(q)))
                .collect(),
        }),
    };

    // rumqttc's order: session expiry, receive maximum, ..., user properties.
    let connect_props: &'static [Property<'static>] = Box::leak(Box::new([
        Property::SessionExpiryInterval(3600),
        Property::ReceiveMaximum(100),
        Property::UserProperty("app", "bench"),
    ]));
    // Will: delay, ..., content type.
    let will_props: &'static [Property<'static>] = Box::leak(Box::new([
        Property::WillDelayInterval(30),
        Property::ContentType("text/plain"),
    ]));
    let connect = Case {
        name: "connect_v5",
        version: ProtocolVersion::V5,
        ours: Packet::Connect(Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(connect_props),
            client_id: CLIENT_ID,
            will: Some(WillRef::Given(Box::leak(Box::new(Will {
                topic: TopicName::from_static(WILL_TOPIC),
                payload: WILL_PAYLOAD,
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::new(will_props),
            })))),
            username: Some(USERNAME),
            password: Some(PASSWORD.as_bytes()),
        }),
        theirs: Theirs::V5Connect(
            v5::Connect {
                keep_alive: 60,
                client_id: CLIENT_ID.into(),
                clean_start: true,
                properties: Some(v5::ConnectProperties {
                    session_expiry_interval: Some(3600),
                    receive_maximum: Some(100),
                    max_packet_size: None,
                    topic_alias_max: None,
                    request_response_info: None,
                    request_problem_info: None,
                    user_properties: vec![("app".into(), "bench".into())],
                    authentication_method: None,
                    authentication_data: None,
                }),
            },
            Some(v5::LastWill {
                topic: bytes::Bytes::from_static(WILL_TOPIC.as_bytes()),
                message: bytes::Bytes::from_static(WILL_PAYLOAD),
                qos: Qos5::AtLeastOnce,
                retain: true,
                properties: Some(v5::LastWillProperties {
                    delay_interval: Some(30),
                    payload_format_indicator: None,
                    message_expiry_interval: None,
                    content_type: Some("text/plain".into()),
                    response_topic: None,
                    correlation_data: None,
                    user_properties: vec![],
                }),
            }),
            Some(v5::Login::new(USERNAME, PASSWORD)),
        ),
    };

    let cases = vec![publish(p64), publish(p4k), publish_v5, subscribe, connect];
    let wires: Vec<Vec<u8>> = cases.iter().map(prepare).collect();
    (cases, wires)
}

fn codec(c: &mut Criterion) {
    let (cases, wires) = cases();
    bench_decode(c, &cases, &wires);
    bench_encode(c, &cases, &wires);
}

criterion_group!(benches, codec);

/// `cargo bench -p mqtt-benches --bench codec -- --paired`: the paired measurement
/// ([`paired`]); anything else: criterion, as `criterion_main!` would run it.
fn main() {
    if std::env::args().any(|a| a == "--paired") {
        let (cases, wires) = cases();
        paired::run(&cases, &wires);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The paired measurement: the ratio of the two libraries measured side by side.
///
/// On a shared machine a row's criterion median moves with the neighbours by up to 1.5x
/// between runs minutes apart, and the two libraries' rows of one packet are timed
/// seconds apart, so the ratio of two medians carries both rows' noise. Here each pair
/// is one timed stretch of each library on the same packet, back to back (tens of
/// microseconds apart; which one goes first alternates), and the figure is the median
/// of the per-pair ratios: a burst that slows both halves of a pair leaves its ratio
/// alone. Same inputs, harness (`time_chunk`), memory and rules as the criterion rows.
///
/// Caveat: code a closure here inlines is its own copy, and two copies of one source can
/// run at different speeds by where they land: our 64 B PUBLISH decode, inlined, took
/// 23.9 ns here against 17.0 ns in the criterion row (`67a15c8`). `Decoder::decode` is out
/// of line since `5a5153b`, so both modes call one copy; the 64 B row still differs
/// (15.3 ns here, 17.4 there at `20d9f47`; the 4 KiB row agrees), unexplained. Compare a
/// paired row with the criterion row of the same build before reading much into either.
mod paired {
    use super::*;

    /// Pairs per packet and operation, after [`WARMUP`] discarded ones.
    const PAIRS: usize = 1000;
    const WARMUP: usize = 50;

    /// Timed length of each side of a pair: long enough that the clock reads and the
    /// switch between the libraries are small next to it, short enough that a pair's two
    /// sides see the same neighbours.
    const STRETCH: Duration = Duration::from_micros(40);

    /// Per-pair nanoseconds per operation of sides A and B. Each `side_*` call times one
    /// chunk of `ops` operations (its setup untimed) and returns that time. Each side of
    /// a pair runs one chunk untimed (to bring its code and branch history back after the
    /// other side ran), then timed chunks for about [`STRETCH`]; which side goes first
    /// alternates from pair to pair.
    fn series<S>(
        state: &mut S,
        ops: usize,
        mut side_a: impl FnMut(&mut S) -> Duration,
        mut side_b: impl FnMut(&mut S) -> Duration,
    ) -> (Vec<f64>, Vec<f64>) {
        fn stretch<S>(
            state: &mut S,
            side: &mut impl FnMut(&mut S) -> Duration,
            reps: u32,
        ) -> Duration {
            side(state);
            (0..reps).map(|_| side(state)).sum()
        }
        let reps_for =
            |t: Duration| (STRETCH.as_nanos() / t.as_nanos().max(1)).clamp(1, 1000) as u32;
        let reps_a = reps_for(stretch(state, &mut side_a, 1));
        let reps_b = reps_for(stretch(state, &mut side_b, 1));
        let per_op = |t: Duration, reps: u32| t.as_nanos() as f64 / (ops as f64 * f64::from(reps));
        let (mut a, mut b) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
        for i in 0..WARMUP + PAIRS {
            let (ta, tb) = if i % 2 == 0 {
                let ta = stretch(state, &mut side_a, reps_a);
                (ta, stretch(state, &mut side_b, reps_b))
            } else {
                let tb = stretch(state, &mut side_b, reps_b);
                (stretch(state, &mut side_a, reps_a), tb)
            };
            if i >= WARMUP {
                a.push(per_op(ta, reps_a));
                b.push(per_op(tb, reps_b));
            }
        }
        (a, b)
    }

    /// One chunk of `batched`'s decode harness (the criterion decode rows' own).
    fn decode_side<I, O>(
        chunk: usize,
        mut setup: impl FnMut() -> I,
        mut routine: impl FnMut(&mut I) -> O,
    ) -> impl FnMut(&mut ()) -> Duration {
        let (mut inputs, mut outputs) = (Vec::with_capacity(chunk), Vec::with_capacity(chunk));
        move |_| time_chunk(&mut inputs, &mut outputs, chunk, &mut setup, &mut routine)
    }

    /// One chunk of `ops` encodes in a plain loop (the criterion encode rows' `iter`).
    fn encode_side<R>(
        ops: usize,
        mut before: impl FnMut(&mut BytesMut),
        mut encode: impl FnMut(&mut BytesMut) -> R,
    ) -> impl FnMut(&mut BytesMut) -> Duration {
        move |bm| {
            before(bm);
            let start = Instant::now();
            for _ in 0..ops {
                black_box(encode(bm));
            }
            start.elapsed()
        }
    }

    /// The `q` quantile (0..=1) of `v`, by the nearest rank.
    fn quantile(v: &[f64], q: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[((s.len() - 1) as f64 * q).round() as usize]
    }

    /// Prints one row: medians of each side and the quartiles of the per-pair ratio B/A.
    fn report(packet: &str, op: &str, (ours, theirs): (Vec<f64>, Vec<f64>)) {
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(o, t)| t / o).collect();
        println!(
            "PAIRED packet={packet} op={op} ours_ns={:.2} theirs_ns={:.2} ratio={:.3} \
             ratio_q1={:.3} ratio_q3={:.3} pairs={}",
            quantile(&ours, 0.5),
            quantile(&theirs, 0.5),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
            ratios.len()
        );
    }

    pub(super) fn run(cases: &[Case<'_>], wires: &[Vec<u8>]) {
        for (case, wire) in cases.iter().zip(wires) {
            let wire: &[u8] = wire;
            let chunk = chunk_len(wire.len());
            let dec = decoder(case.version);
            let ours = decode_side(
                chunk,
                || wire,
                |input: &mut &[u8]| black_box(dec.decode(black_box(*input))),
            );
            let theirs = || shared_bytes_mut(wire);
            let decode = match &case.theirs {
                Theirs::V4Publish(_) | Theirs::V4Subscribe(_) => series(
                    &mut (),
                    chunk,
                    ours,
                    decode_side(chunk, theirs, |input: &mut BytesMut| {
                        black_box(v4::Packet::read(black_box(input), MAX_PACKET))
                    }),
                ),
                Theirs::V5Publish(_) | Theirs::V5Connect(..) => series(
                    &mut (),
                    chunk,
                    ours,
                    decode_side(chunk, theirs, |input: &mut BytesMut| {
                        black_box(v5::Packet::read(black_box(input), Some(MAX_PACKET as u32)))
                    }),
                ),
            };
            report(case.name, "decode", decode);

            // Both write into one allocation (rule 9): ours over all of its bytes,
            // rumqttc onto its cleared end.
            let cap = wire.len() + 64;
            let mut bm = BytesMut::with_capacity(cap);
            let at = bm.as_ptr();
            let v = case.version;
            let encode = series(
                &mut bm,
                chunk,
                encode_side(
                    chunk,
                    |bm| bm.resize(cap, 0),
                    |bm| {
                        let n = black_box(&case.ours).encode(v, &mut bm[..]);
                        black_box(&mut *bm);
                        n
                    },
                ),
                encode_side(
                    chunk,
                    |_| {},
                    |bm| {
                        bm.clear();
                        let n = black_box(&case.theirs).write(bm);
                        black_box(&mut *bm);
                        n
                    },
                ),
            );
            assert_eq!(
                (bm.as_ptr(), bm.capacity()),
                (at, cap),
                "one allocation, never grown"
            );
            report(case.name, "encode", encode);
        }
    }
}

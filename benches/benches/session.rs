//! The client session in steady state, no IO: `mqtt-session`'s `Session` (with the fixed
//! `ArenaStore` and the growable `VecStore`) against rumqttc 0.25.1's `MqttState` driven
//! the way its event loop drives it (`rumqttc::MqttState` for 3.1.1,
//! `rumqttc::v5::MqttState` for 5.0).
//!
//! Run: `cargo bench -p mqtt-benches --bench session`, then `python3 benches/report.py`.
//!
//! Setup: a connected session (CONNECT taken from `poll_transmit`, CONNACK bytes fed with
//! `handle_input`, `Connected` event drained), `Session<ArenaStore<64, 16384>, [u8; 4096],
//! 32, 32>`, `Session<VecStore, [u8; 4096], 32, 32>` (`VecStore::new(16384)`; column
//! `mqtt-session-vec`) and the same with `Heap` tables (column `mqtt-session-host`, the
//! host adapters' shape),
//! `Config::new` defaults otherwise (keepalive 30 s, automatic acks, 5.0: the server's
//! CONNACK grants no topic aliases). rumqttc: `MqttState::new(100, false)` (its default
//! `inflight` of 100, automatic acks). Every message: 30-byte topic, 64 B payload, no
//! properties, not retained. Groups `session_v311` (3.1.1) and `session_v5` (5.0).
//!
//! One iteration is:
//! - `publish_qos0`: publish + transmit.
//! - `publish_qos1`: publish + transmit, PUBACK in, `Published` event.
//! - `publish_qos2`: publish + transmit, PUBREC in + PUBREL out, PUBCOMP in, `Published`.
//! - `receive_qos0` / `receive_qos1` / `receive_qos2`: a PUBLISH in, the `Message` event,
//!   the PUBACK / PUBREC out; for QoS 2 also PUBREL in and PUBCOMP out. Incoming packet
//!   ids cycle through 1..=64 as a broker's would.
//!
//! The acks fed in carry the packet id read from the bytes just transmitted (as a broker
//! would), two byte loads, the same for both libraries.
//!
//! # Fairness rules
//! 1. **Each side does what its own event loop does per packet, nothing more.**
//!    - mqtt-session: the call (`publish` or `handle_input`) followed by the full draining
//!      contract of the `Session` doc: `poll_event` until `None`, then `poll_transmit`
//!      (into one reused 4 KiB buffer) until 0, repeated while either produced something
//!      (so every input costs at least two `poll_event` and two `poll_transmit` calls).
//!    - rumqttc: what `EventLoop::poll` and `Network::readb` do: outgoing,
//!      `handle_outgoing_packet(Request::Publish(..))` and `Packet::write` of the result
//!      into one reused `BytesMut`; incoming, the bytes appended to one reused read
//!      `BytesMut` (as `Framed` reads into its buffer), `Packet::read` from it,
//!      `handle_incoming_packet`, `Packet::write` of any ack; then every `Event` popped
//!      from `state.events` (what `EventLoop::poll` hands the application). The written
//!      bytes are "sent" by `clear()` (capacity kept, no reallocation: checked).
//! 2. **Same bytes both ways.** Before timing, one iteration of every case is recorded
//!    on both libraries: the transmitted packets must equal the same reference encoding
//!    (mqtt-proto's, already checked byte-identical to rumqttc's codec in `codec.rs`),
//!    and the application must see the same events (`Published` / `Message` with the
//!    right topic, payload and QoS; rumqttc's `Incoming(PubAck | PubComp | Publish)`).
//!    Both libraries are fed exactly the same input bytes.
//! 3. **Both really do the work.** Also before timing, each step is checked against the
//!    inflight counts (`inflight_publishes` / `MqttState::inflight`): the QoS 1/2
//!    publish is held until its final ack, then released. After timing, both sides must
//!    be idle again (nothing outstanding, nothing inflight, still connected), so every
//!    timed cycle completed.
//! 4. **Input construction is untimed, for rumqttc only.** `Session::publish` takes the
//!    topic `&str` and payload `&[u8]` and copies them into its store inside the timed
//!    region. rumqttc's state machine takes an owned `Publish`; it is built with
//!    `Publish::new(TOPIC, qos, PAYLOAD.to_vec())` (as `AsyncClient::publish` does: two
//!    allocations and copies) in the untimed setup of the same `batched` harness as
//!    `codec.rs` (chunks of 256). Its channel hop from `AsyncClient` to the event loop is
//!    not counted either. This favours rumqttc.
//! 5. **Drops are timed** for everything the state machines consume or hand out (the
//!    `Publish` after it is written, the `Event`s after they are popped, our events
//!    before the next call): the application is done with a message when the next one
//!    comes, and with rumqttc the payload `Bytes` pins the read buffer until dropped.
//! 6. **Clock.** `Session` takes `now` as an argument (a constant here); rumqttc reads
//!    `std::time::Instant::now()` in every `handle_outgoing_packet` and
//!    `handle_incoming_packet` (vDSO `clock_gettime`, TSC clocksource here: ~15 ns each,
//!    10-13 % of its profile). That is part of its state machine's work and counted; an
//!    adapter of ours would read the clock once per loop turn, outside these numbers.
//! 7. **Same limits.** Both get a 4 KiB maximum packet size (our receive buffer).
//! 8. **`black_box`** (`std::hint`) on topic and payload going in, on every event and
//!    on the transmitted bytes coming out.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Bencher, BenchmarkId, Criterion, criterion_group, criterion_main};
use mqtt_proto::{Packet, PacketId, Properties, ProtocolVersion, Publish, QoS, QosPid, TopicName};
use mqtt_session::{
    ArenaStore, Config, ConnState, Event, Heap, Inline, Instant, Session, Store, Tables, VecStore,
};
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::{QoS as Qos5, v5};

/// 30 bytes.
const TOPIC: &str = "factory/line-04/press-12/temp1";
const CLIENT_ID: &str = "bench-client-0001";
const RX: usize = 4096;
const MAX_PACKET: usize = RX;
/// Offset of the packet id in our QoS 1/2 PUBLISH: fixed header (2) + topic length (2) + topic.
const PID_AT: usize = 2 + 2 + TOPIC.len();
/// Incoming packet ids cycle through 1..=INCOMING_PIDS.
const INCOMING_PIDS: u16 = 64;
const NOW: Instant = Instant::from_millis(1_000);
/// Iterations per timed stretch of `batched`.
const CHUNK: usize = 256;

const PUBACK: u8 = 0x40;
const PUBREC: u8 = 0x50;
const PUBREL: u8 = 0x62;
const PUBCOMP: u8 = 0x70;

type Sess<S, T> = Session<S, [u8; RX], 32, 32, T>;
type Arena = ArenaStore<64, 16384>;

fn payload() -> &'static [u8] {
    (0..64u8)
        .map(|i| i.wrapping_mul(37))
        .collect::<Vec<_>>()
        .leak()
}

fn ack(kind: u8, pid: u16) -> [u8; 4] {
    let [hi, lo] = pid.to_be_bytes();
    [kind, 0x02, hi, lo]
}

/// The packet id of a transmitted QoS 1/2 PUBLISH (both libraries put it at `PID_AT`).
#[inline]
fn pid_of(publish: &[u8]) -> u16 {
    u16::from_be_bytes([publish[PID_AT], publish[PID_AT + 1]])
}

// ----- what the application sees, for the checks -------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Published,
    Message {
        topic: Vec<u8>,
        payload: Vec<u8>,
        qos: u8,
    },
    /// rumqttc's `Event::Outgoing(..)` notices: not compared.
    Notice,
    Other(String),
}

/// Where a client reports events and transmitted bytes. The timed runs use `Sink`
/// (`black_box` only; the `Seen` summary is built lazily, so never); the checks record.
trait Tap {
    fn event<E>(&mut self, raw: &E, seen: impl FnOnce() -> Seen);
    fn tx(&mut self, bytes: &[u8]);
}

struct Sink;

impl Tap for Sink {
    #[inline(always)]
    fn event<E>(&mut self, raw: &E, _: impl FnOnce() -> Seen) {
        black_box(raw);
    }
    #[inline(always)]
    fn tx(&mut self, bytes: &[u8]) {
        black_box(bytes);
    }
}

#[derive(Default)]
struct Record {
    events: Vec<Seen>,
    tx: Vec<Vec<u8>>,
}

impl Tap for Record {
    fn event<E>(&mut self, _: &E, seen: impl FnOnce() -> Seen) {
        let s = seen();
        if s != Seen::Notice {
            self.events.push(s);
        }
    }
    fn tx(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.tx.push(bytes.to_vec());
        }
    }
}

// ----- the three drivers -------------------------------------------------------------

/// One client library driven as its event loop would drive it.
trait Client {
    /// What `publish` consumes (built untimed).
    type Pub;
    fn prepare(qos: QoS, payload: &'static [u8]) -> Self::Pub;
    /// Publishes and transmits; returns the packet id on the wire (0 for QoS 0).
    fn publish(&mut self, p: Self::Pub, payload: &'static [u8], tap: &mut impl Tap) -> u16;
    /// Feeds received bytes, hands out events, transmits the reply.
    fn input(&mut self, bytes: &[u8], tap: &mut impl Tap);
    fn inflight(&self) -> u16;
    /// Nothing outstanding and still connected.
    fn idle(&self) -> bool;
}

struct Ours<S, T: Tables = Inline> {
    s: Box<Sess<S, T>>,
    out: Box<[u8; RX]>,
}

fn seen_ours(ev: &Event<'_>) -> Seen {
    match ev {
        Event::Published { .. } => Seen::Published,
        Event::Message(m) => Seen::Message {
            topic: m.topic.as_bytes().to_vec(),
            payload: m.payload.to_vec(),
            qos: m.qos as u8,
        },
        other => Seen::Other(format!("{other:?}")),
    }
}

impl<S: Store, T: Tables> Ours<S, T> {
    fn connected(version: ProtocolVersion, store: S) -> Self {
        let mut cfg = Config::new(CLIENT_ID);
        cfg.version = version;
        let mut s = Box::new(Session::new(&cfg, store, [0; RX]).expect("valid config"));
        let mut out = Box::new([0u8; RX]);
        s.connect(NOW);
        assert_eq!(s.poll_event(), Some(Event::OpenTransport));
        s.handle_transport_up(NOW);
        let n = s.poll_transmit(NOW, &mut out[..]).expect("CONNECT fits");
        assert!(n > 0 && out[0] == 0x10, "CONNECT sent");
        let connack: &[u8] = if version.is_v5() {
            &[0x20, 0x03, 0x00, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x00, 0x00]
        };
        assert_eq!(s.handle_input(NOW, connack), connack.len());
        assert_eq!(
            s.poll_event(),
            Some(Event::Connected {
                session_present: false
            })
        );
        let mut ours = Ours { s, out };
        let mut rec = Record::default();
        ours.drain(&mut rec);
        assert!(
            rec.events.is_empty() && rec.tx.is_empty(),
            "quiet once connected"
        );
        assert_eq!(ours.s.state(), ConnState::Connected);
        ours
    }

    /// The draining contract: events until `None`, then transmit until 0, repeated while
    /// either produced something. Returns the bytes written to `out`.
    #[inline]
    fn drain(&mut self, tap: &mut impl Tap) -> usize {
        let mut pos = 0;
        loop {
            let mut progress = false;
            while let Some(ev) = self.s.poll_event() {
                tap.event(&ev, || seen_ours(&ev));
                progress = true;
            }
            loop {
                match self.s.poll_transmit(NOW, &mut self.out[pos..]) {
                    Ok(0) => break,
                    Ok(n) => {
                        pos += n;
                        progress = true;
                    }
                    Err(need) => panic!("transmit needs {need} bytes"),
                }
            }
            if !progress {
                return pos;
            }
        }
    }
}

impl<S: Store, T: Tables> Client for Ours<S, T> {
    type Pub = QoS;

    fn prepare(qos: QoS, _: &'static [u8]) -> QoS {
        qos
    }

    #[inline]
    fn publish(&mut self, qos: QoS, payload: &'static [u8], tap: &mut impl Tap) -> u16 {
        let token = self
            .s
            .publish(NOW, black_box(TOPIC), black_box(payload), qos, false, &[])
            .expect("publish accepted");
        black_box(token);
        let n = self.drain(tap);
        let sent = &self.out[..n];
        tap.tx(sent);
        if qos == QoS::AtMostOnce {
            0
        } else {
            pid_of(sent)
        }
    }

    #[inline]
    fn input(&mut self, bytes: &[u8], tap: &mut impl Tap) {
        let taken = self.s.handle_input(NOW, bytes);
        assert_eq!(taken, bytes.len(), "input taken whole");
        let n = self.drain(tap);
        tap.tx(&self.out[..n]);
    }

    fn inflight(&self) -> u16 {
        self.s.inflight_publishes()
    }

    fn idle(&self) -> bool {
        self.s.state() == ConnState::Connected
            && self.s.outstanding() == 0
            && self.s.inflight_publishes() == 0
            && self.s.incoming_pending() == 0
    }
}

/// rumqttc 3.1.1: `rumqttc::MqttState`.
struct TheirsV4 {
    st: rumqttc::MqttState,
    write: BytesMut,
    read: BytesMut,
}

impl TheirsV4 {
    fn new() -> Self {
        TheirsV4 {
            st: rumqttc::MqttState::new(100, false),
            write: BytesMut::with_capacity(RX),
            read: BytesMut::with_capacity(RX),
        }
    }

    #[inline]
    fn pop_events(events: &mut VecDeque<rumqttc::Event>, tap: &mut impl Tap) {
        while let Some(ev) = events.pop_front() {
            tap.event(&ev, || match &ev {
                rumqttc::Event::Incoming(v4::Packet::PubAck(_) | v4::Packet::PubComp(_)) => {
                    Seen::Published
                }
                rumqttc::Event::Incoming(v4::Packet::Publish(p)) => Seen::Message {
                    topic: p.topic.as_bytes().to_vec(),
                    payload: p.payload.to_vec(),
                    qos: p.qos as u8,
                },
                rumqttc::Event::Incoming(v4::Packet::PubRec(_) | v4::Packet::PubRel(_))
                | rumqttc::Event::Outgoing(_) => Seen::Notice,
                other => Seen::Other(format!("{other:?}")),
            });
        }
    }
}

fn qos4(q: QoS) -> rumqttc::QoS {
    rumqttc::mqttbytes::qos(q as u8).expect("valid QoS")
}

fn qos5(q: QoS) -> Qos5 {
    rumqttc::v5::mqttbytes::qos(q as u8).expect("valid QoS")
}

impl Client for TheirsV4 {
    type Pub = v4::Publish;

    fn prepare(qos: QoS, payload: &'static [u8]) -> v4::Publish {
        v4::Publish::new(TOPIC, qos4(qos), payload.to_vec())
    }

    #[inline]
    fn publish(&mut self, p: v4::Publish, _: &'static [u8], tap: &mut impl Tap) -> u16 {
        let qos0 = p.qos == rumqttc::QoS::AtMostOnce;
        let packet = self
            .st
            .handle_outgoing_packet(rumqttc::Request::Publish(p))
            .expect("publish accepted")
            .expect("a packet to send");
        packet
            .write(&mut self.write, MAX_PACKET)
            .expect("packet written");
        drop(packet);
        Self::pop_events(&mut self.st.events, tap);
        tap.tx(&self.write);
        let pid = if qos0 { 0 } else { pid_of(&self.write) };
        self.write.clear();
        pid
    }

    #[inline]
    fn input(&mut self, bytes: &[u8], tap: &mut impl Tap) {
        self.read.extend_from_slice(bytes);
        let packet = v4::Packet::read(&mut self.read, MAX_PACKET).expect("packet decoded");
        if let Some(reply) = self
            .st
            .handle_incoming_packet(packet)
            .expect("packet accepted")
        {
            reply
                .write(&mut self.write, MAX_PACKET)
                .expect("reply written");
        }
        Self::pop_events(&mut self.st.events, tap);
        tap.tx(&self.write);
        self.write.clear();
    }

    fn inflight(&self) -> u16 {
        self.st.inflight()
    }

    fn idle(&self) -> bool {
        // The write buffer never grew: `clear()` kept its one allocation.
        self.st.inflight() == 0
            && self.st.events.is_empty()
            && self.read.is_empty()
            && self.write.capacity() == RX
    }
}

/// rumqttc 5.0: `rumqttc::v5::MqttState`.
struct TheirsV5 {
    st: rumqttc::v5::MqttState,
    write: BytesMut,
    read: BytesMut,
}

impl TheirsV5 {
    fn new() -> Self {
        TheirsV5 {
            st: rumqttc::v5::MqttState::new(100, false),
            write: BytesMut::with_capacity(RX),
            read: BytesMut::with_capacity(RX),
        }
    }

    #[inline]
    fn pop_events(events: &mut VecDeque<rumqttc::v5::Event>, tap: &mut impl Tap) {
        use rumqttc::v5::Event as E;
        while let Some(ev) = events.pop_front() {
            tap.event(&ev, || match &ev {
                E::Incoming(v5::Packet::PubAck(_) | v5::Packet::PubComp(_)) => Seen::Published,
                E::Incoming(v5::Packet::Publish(p)) => Seen::Message {
                    topic: p.topic.to_vec(),
                    payload: p.payload.to_vec(),
                    qos: p.qos as u8,
                },
                E::Incoming(v5::Packet::PubRec(_) | v5::Packet::PubRel(_)) | E::Outgoing(_) => {
                    Seen::Notice
                }
                other => Seen::Other(format!("{other:?}")),
            });
        }
    }
}

impl Client for TheirsV5 {
    type Pub = v5::Publish;

    fn prepare(qos: QoS, payload: &'static [u8]) -> v5::Publish {
        v5::Publish::new(TOPIC, qos5(qos), payload.to_vec(), None)
    }

    #[inline]
    fn publish(&mut self, p: v5::Publish, _: &'static [u8], tap: &mut impl Tap) -> u16 {
        let qos0 = p.qos == Qos5::AtMostOnce;
        let packet = self
            .st
            .handle_outgoing_packet(rumqttc::v5::Request::Publish(p))
            .expect("publish accepted")
            .expect("a packet to send");
        packet
            .write(&mut self.write, Some(MAX_PACKET as u32))
            .expect("packet written");
        drop(packet);
        Self::pop_events(&mut self.st.events, tap);
        tap.tx(&self.write);
        let pid = if qos0 { 0 } else { pid_of(&self.write) };
        self.write.clear();
        pid
    }

    #[inline]
    fn input(&mut self, bytes: &[u8], tap: &mut impl Tap) {
        self.read.extend_from_slice(bytes);
        let packet =
            v5::Packet::read(&mut self.read, Some(MAX_PACKET as u32)).expect("packet decoded");
        if let Some(reply) = self
            .st
            .handle_incoming_packet(packet)
            .expect("packet accepted")
        {
            reply
                .write(&mut self.write, Some(MAX_PACKET as u32))
                .expect("reply written");
        }
        Self::pop_events(&mut self.st.events, tap);
        tap.tx(&self.write);
        self.write.clear();
    }

    fn inflight(&self) -> u16 {
        self.st.inflight()
    }

    fn idle(&self) -> bool {
        // The write buffer never grew: `clear()` kept its one allocation.
        self.st.inflight() == 0
            && self.st.events.is_empty()
            && self.read.is_empty()
            && self.write.capacity() == RX
    }
}

// ----- the cases ---------------------------------------------------------------------

/// One outgoing publish through to its final ack. Never inlined, for every client alike
/// (one call per iteration), so `session_ir.py` can find it in a callgrind profile.
#[inline(never)]
fn publish_cycle<C: Client>(
    c: &mut C,
    p: C::Pub,
    qos: QoS,
    payload: &'static [u8],
    tap: &mut impl Tap,
) {
    let pid = c.publish(p, payload, tap);
    match qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => c.input(&ack(PUBACK, pid), tap),
        QoS::ExactlyOnce => {
            c.input(&ack(PUBREC, pid), tap);
            c.input(&ack(PUBCOMP, pid), tap);
        }
    }
}

/// A PUBLISH from the server, as bytes, with its QoS and packet id.
struct Incoming {
    wire: Vec<u8>,
    qos: QoS,
    pid: u16,
}

/// One incoming message through to its final ack. Never inlined, as `publish_cycle`.
#[inline(never)]
fn receive<C: Client>(c: &mut C, m: &Incoming, tap: &mut impl Tap) {
    c.input(&m.wire, tap);
    if m.qos == QoS::ExactlyOnce {
        c.input(&ack(PUBREL, m.pid), tap);
    }
}

/// The reference encoding of a PUBLISH (mqtt-proto), checked against rumqttc's codec.
fn publish_wire(v: ProtocolVersion, qos: QoS, pid: u16, payload: &'static [u8]) -> Vec<u8> {
    let qos_pid = match (qos, PacketId::new(pid)) {
        (QoS::AtMostOnce, _) => QosPid::AtMostOnce,
        (QoS::AtLeastOnce, Some(id)) => QosPid::AtLeastOnce(id),
        (QoS::ExactlyOnce, Some(id)) => QosPid::ExactlyOnce(id),
        _ => panic!("QoS 1/2 needs a packet id"),
    };
    let packet = Packet::Publish(Publish {
        dup: false,
        qos: qos_pid,
        retain: false,
        topic: TopicName::from_static(TOPIC),
        properties: Properties::empty(),
        payload,
    });
    let mut wire = vec![0u8; packet.encoded_len(v).expect("valid PUBLISH")];
    packet.encode(v, &mut wire).expect("encoded");
    let mut theirs = BytesMut::new();
    if v.is_v5() {
        let mut p = v5::Publish::new(TOPIC, qos5(qos), payload.to_vec(), None);
        p.pkid = pid;
        p.write(&mut theirs).expect("rumqttc encodes");
    } else {
        let mut p = v4::Publish::new(TOPIC, qos4(qos), payload.to_vec());
        p.pkid = pid;
        p.write(&mut theirs).expect("rumqttc encodes");
    }
    assert_eq!(
        &theirs[..],
        &wire[..],
        "both codecs encode the same PUBLISH"
    );
    if qos != QoS::AtMostOnce {
        assert_eq!(pid_of(&wire), pid);
    }
    wire
}

fn incoming(v: ProtocolVersion, qos: QoS, payload: &'static [u8]) -> Vec<Incoming> {
    let pids = if qos == QoS::AtMostOnce {
        0..=0
    } else {
        1..=INCOMING_PIDS
    };
    pids.map(|pid| Incoming {
        wire: publish_wire(v, qos, pid, payload),
        qos,
        pid,
    })
    .collect()
}

fn message(qos: QoS, payload: &[u8]) -> Seen {
    Seen::Message {
        topic: TOPIC.as_bytes().to_vec(),
        payload: payload.to_vec(),
        qos: qos as u8,
    }
}

/// Rules 2 and 3: one recorded publish cycle, step by step, against the reference.
fn check_publish<C: Client>(
    name: &str,
    c: &mut C,
    v: ProtocolVersion,
    qos: QoS,
    payload: &'static [u8],
) {
    // Step by step: the publish is held until its final ack.
    let mut rec = Record::default();
    let p = C::prepare(qos, payload);
    let pid = c.publish(p, payload, &mut rec);
    let want_inflight = u16::from(qos != QoS::AtMostOnce);
    assert_eq!(
        c.inflight(),
        want_inflight,
        "{name}: inflight after publish"
    );
    assert_eq!(
        rec.tx,
        [publish_wire(v, qos, pid, payload)],
        "{name}: PUBLISH"
    );
    if qos == QoS::ExactlyOnce {
        c.input(&ack(PUBREC, pid), &mut rec);
        assert_eq!(c.inflight(), 1, "{name}: inflight after PUBREC");
        c.input(&ack(PUBCOMP, pid), &mut rec);
        assert_eq!(
            rec.tx.get(1),
            Some(&ack(PUBREL, pid).to_vec()),
            "{name}: PUBREL"
        );
    } else if qos == QoS::AtLeastOnce {
        c.input(&ack(PUBACK, pid), &mut rec);
    }
    assert_eq!(c.inflight(), 0, "{name}: released");
    let want: Vec<Seen> = match qos {
        QoS::AtMostOnce => vec![],
        _ => vec![Seen::Published],
    };
    assert_eq!(rec.events, want, "{name}: events");
    assert!(c.idle(), "{name}: idle after the cycle");

    // The exact function timed.
    let mut rec = Record::default();
    let p = C::prepare(qos, payload);
    publish_cycle(c, p, qos, payload, &mut rec);
    let pid = rec
        .tx
        .first()
        .map_or(0, |w| if qos == QoS::AtMostOnce { 0 } else { pid_of(w) });
    let mut want_tx = vec![publish_wire(v, qos, pid, payload)];
    if qos == QoS::ExactlyOnce {
        want_tx.push(ack(PUBREL, pid).to_vec());
    }
    assert_eq!(rec.tx, want_tx, "{name}: transmitted");
    assert_eq!(rec.events, want, "{name}: events");
    assert!(c.idle(), "{name}: idle after the cycle");
}

/// Rules 2 and 3 for incoming messages.
fn check_receive<C: Client>(name: &str, c: &mut C, msgs: &[Incoming], payload: &[u8]) {
    for m in msgs.iter().take(2) {
        let mut rec = Record::default();
        receive(c, m, &mut rec);
        let want_tx = match m.qos {
            QoS::AtMostOnce => vec![],
            QoS::AtLeastOnce => vec![ack(PUBACK, m.pid).to_vec()],
            QoS::ExactlyOnce => vec![ack(PUBREC, m.pid).to_vec(), ack(0x70, m.pid).to_vec()],
        };
        assert_eq!(rec.tx, want_tx, "{name}: acks");
        assert_eq!(rec.events, [message(m.qos, payload)], "{name}: events");
        assert!(c.idle(), "{name}: idle after the message");
    }
}

// ----- harness -----------------------------------------------------------------------

/// `iter_batched_ref` with reused buffers, as in `codec.rs`: inputs for `chunk`
/// iterations are built by `setup` (untimed), the routine runs over them (timed), and
/// inputs and outputs are dropped (untimed) before the next chunk.
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
            inputs.clear();
            outputs.clear();
            inputs.extend((0..n).map(|_| setup()));
            let start = std::time::Instant::now();
            outputs.extend(inputs.iter_mut().map(&mut routine));
            total += start.elapsed();
            left -= n as u64;
        }
        black_box(&outputs);
        total
    });
}

const QOS: [(QoS, &str, &str); 3] = [
    (QoS::AtMostOnce, "publish_qos0", "receive_qos0"),
    (QoS::AtLeastOnce, "publish_qos1", "receive_qos1"),
    (QoS::ExactlyOnce, "publish_qos2", "receive_qos2"),
];

/// Every case for one client, checked first, idle checked after.
fn bench_client<C: Client>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    v: ProtocolVersion,
    mut c: C,
    payload: &'static [u8],
) {
    for (qos, pub_name, _) in QOS {
        check_publish(&format!("{label} {pub_name}"), &mut c, v, qos, payload);
        g.bench_function(BenchmarkId::new(pub_name, label), |b| {
            batched(
                b,
                CHUNK,
                || Some(C::prepare(qos, payload)),
                |p| {
                    let p = p.take().expect("one input per iteration");
                    publish_cycle(&mut c, p, qos, payload, &mut Sink)
                },
            )
        });
        assert!(c.idle(), "{label} {pub_name}: idle after timing");
    }
    for (qos, _, recv_name) in QOS {
        let msgs = incoming(v, qos, payload);
        check_receive(&format!("{label} {recv_name}"), &mut c, &msgs, payload);
        let mut next = 0usize;
        g.bench_function(BenchmarkId::new(recv_name, label), |b| {
            batched(
                b,
                CHUNK,
                || {
                    let m = &msgs[next];
                    next = (next + 1) % msgs.len();
                    m
                },
                |m| receive(&mut c, m, &mut Sink),
            )
        });
        assert!(c.idle(), "{label} {recv_name}: idle after timing");
    }
}

fn session(c: &mut Criterion) {
    assert_eq!(TOPIC.len(), 30);
    let payload = payload();
    for (group, v) in [
        ("session_v311", ProtocolVersion::V3_1_1),
        ("session_v5", ProtocolVersion::V5),
    ] {
        let mut g = c.benchmark_group(group);
        bench_client(
            &mut g,
            "mqtt-session",
            v,
            Ours::<_, Inline>::connected(v, Arena::new()),
            payload,
        );
        bench_client(
            &mut g,
            "mqtt-session-vec",
            v,
            Ours::<_, Inline>::connected(v, VecStore::new(16384)),
            payload,
        );
        // The host adapters' shape: VecStore and heap tables.
        bench_client(
            &mut g,
            "mqtt-session-host",
            v,
            Ours::<_, Heap>::connected(v, VecStore::new(16384)),
            payload,
        );
        if v.is_v5() {
            bench_client(&mut g, "rumqttc", v, TheirsV5::new(), payload);
        } else {
            bench_client(&mut g, "rumqttc", v, TheirsV4::new(), payload);
        }
        g.finish();
    }
}

criterion_group!(benches, session);
criterion_main!(benches);

//! Script-test harness: one [`Session`] on virtual time against a scripted server.
//!
//! A test reads like a transcript:
//!
//! ```text
//! let mut t = Script::new(&cfg(V5));
//! t.establish();                                  // connect, CONNECT out, CONNACK in
//! let tok = t.publish("a/b", b"hi", QoS::AtLeastOnce);
//! t.expect_sent(&[publish_pkt(false, 1, 1, false, "a/b", &[], b"hi")]);
//! t.server(puback(1));
//! t.expect_events(&[Ev::published(tok)]);
//! t.expect_quiet_until(ms(30_000));               // next deadline: the keepalive
//! ```
//!
//! - Every input or command is followed by [`Script::drain`], which follows the
//!   session's draining contract (events until `None`, then transmit until 0, repeat).
//! - What the client sent accumulates in a byte buffer until an `expect_sent*` call
//!   takes it; events accumulate until an `expect_events`/`take_events` call.
//! - Server packets are encoded with mqtt-proto (`server`), or given raw (`server_hex`).
//! - Time only moves when the test says so (`advance`, `advance_to`, `fire`).
#![allow(dead_code)]

use std::collections::VecDeque;

#[allow(unused_imports)]
pub use mqtt_proto::{
    Ack, ConnAck, Connect, DecodeError, Decoded, Decoder, Disconnect, Packet, PacketId, PacketType,
    Properties, Property, ProtocolVersion, Publish, QoS, QosPid, ReasonCode, SubAck, Subscribe,
    Subscription, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe,
};
#[allow(unused_imports)]
pub use mqtt_session::{
    ArenaStore, Config, ConnState, ConnectionError, Duration, Error, Event, Instant, LossReason,
    PeerFault, ReconnectPolicy, Session, StopReason, Token, Will,
};

/// Outgoing operations the test session can hold.
pub const OUT_CAP: usize = 16;
/// Incoming QoS 1/2 messages the test session can hold (its Receive Maximum).
pub const IN_CAP: usize = 16;
/// The receive buffer: also the largest packet the session accepts.
pub const RX_CAP: usize = 4096;

/// The store of the script tests.
pub type TestStore = ArenaStore<64, 16384>;

/// The session type every script test uses.
pub type Sess = Session<TestStore, [u8; RX_CAP], OUT_CAP, IN_CAP>;

pub const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
#[cfg(feature = "v5")]
pub const V5: ProtocolVersion = ProtocolVersion::V5;
/// Every version this build speaks: a test that loops over it runs its 3.1.1 half in the
/// 3.1.1-only build (`--no-default-features`) too.
#[cfg(feature = "v5")]
pub const VERSIONS: [ProtocolVersion; 2] = [V311, V5];
#[cfg(not(feature = "v5"))]
pub const VERSIONS: [ProtocolVersion; 1] = [V311];
/// The newest version this build speaks (5.0, or 3.1.1 without `v5`), for the tests whose
/// subject does not depend on the version.
#[cfg(feature = "v5")]
pub const NEWEST: ProtocolVersion = V5;
#[cfg(not(feature = "v5"))]
pub const NEWEST: ProtocolVersion = V311;

/// `ms` milliseconds after the epoch.
pub fn ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// The default configuration of the tests: client id `client-1`, the given version,
/// everything else as [`Config::new`] has it (keepalive 30 s, ping timeout 10 s,
/// connect timeout 10 s, reconnect 1 s doubling to 30 s with 50 % jitter).
pub fn cfg(v: ProtocolVersion) -> Config<'static> {
    let mut c = Config::new("client-1");
    c.version = v;
    c
}

/// A configuration whose session survives reconnects: 5.0 Session Expiry 1 h, 3.1.1
/// Clean Session 0.
pub fn persistent_cfg(v: ProtocolVersion) -> Config<'static> {
    let mut c = cfg(v);
    if v.is_v5() {
        c.session_expiry_interval = 3600;
    } else {
        c.clean_start = false;
    }
    c
}

// ----- owned events ------------------------------------------------------------------

/// An application message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub ack: Option<Token>,
    pub topic_alias: Option<u16>,
    pub subscription_ids: Vec<u32>,
}

impl Msg {
    /// A message as the tests usually expect it: no retain, no dup, no manual-ack token.
    pub fn new(topic: &str, payload: &[u8], qos: QoS) -> Self {
        Msg {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos,
            retain: false,
            dup: false,
            ack: None,
            topic_alias: None,
            subscription_ids: Vec::new(),
        }
    }
}

/// [`Event`] without the borrow, so it can be queued and compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Redirect {
        server_reference: String,
        permanent: bool,
    },
    OpenTransport,
    CloseTransport,
    Connected {
        session_present: bool,
    },
    ConnectionLost(ConnectionError),
    ReconnectScheduled {
        at: Instant,
        attempt: u32,
    },
    Stopped(StopReason),
    Message(Msg),
    Published {
        token: Token,
        reason_code: ReasonCode,
    },
    Subscribed {
        token: Token,
        reason_codes: Vec<ReasonCode>,
    },
    Unsubscribed {
        token: Token,
        reason_codes: Vec<ReasonCode>,
    },
    Lost {
        token: Token,
        reason: LossReason,
    },
    Auth {
        reason_code: ReasonCode,
        data: Vec<u8>,
    },
}

impl Ev {
    pub fn published(token: Token) -> Ev {
        Ev::Published {
            token,
            reason_code: ReasonCode::Success,
        }
    }

    pub fn msg(topic: &str, payload: &[u8], qos: QoS) -> Ev {
        Ev::Message(Msg::new(topic, payload, qos))
    }

    /// The operation token this event reports the end of, if any.
    pub fn completion_token(&self) -> Option<Token> {
        match self {
            Ev::Published { token, .. }
            | Ev::Subscribed { token, .. }
            | Ev::Unsubscribed { token, .. }
            | Ev::Lost { token, .. } => Some(*token),
            _ => None,
        }
    }
}

/// Copies an event out of the session's buffers.
pub fn own(e: Event<'_>) -> Ev {
    match e {
        Event::OpenTransport => Ev::OpenTransport,
        Event::CloseTransport => Ev::CloseTransport,
        Event::Connected { session_present } => Ev::Connected { session_present },
        Event::ConnectionLost { reason } => Ev::ConnectionLost(reason),
        Event::ReconnectScheduled { at, attempt } => Ev::ReconnectScheduled { at, attempt },
        Event::Stopped { reason } => Ev::Stopped(reason),
        Event::Message(m) => Ev::Message(Msg {
            topic: m.topic.to_string(),
            payload: m.payload.to_vec(),
            qos: m.qos,
            retain: m.retain,
            dup: m.dup,
            ack: m.ack,
            topic_alias: m.properties.topic_alias(),
            subscription_ids: m.properties.subscription_identifiers().collect(),
        }),
        Event::Published { token, reason_code } => Ev::Published { token, reason_code },
        Event::Subscribed {
            token,
            reason_codes,
        } => Ev::Subscribed {
            token,
            reason_codes: reason_codes.iter().collect(),
        },
        Event::Unsubscribed {
            token,
            reason_codes,
        } => Ev::Unsubscribed {
            token,
            reason_codes: reason_codes.iter().collect(),
        },
        Event::Lost { token, reason } => Ev::Lost { token, reason },
        Event::Auth { reason_code, data } => Ev::Auth {
            reason_code,
            data: data.0.to_vec(),
        },
        Event::Redirect {
            server_reference,
            permanent,
        } => Ev::Redirect {
            server_reference: server_reference.to_owned(),
            permanent,
        },
    }
}

// ----- packet builders (what the server sends, what the client must send) ------------

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("packet id 0 in a test")
}

fn qos_pid(qos: u8, id: u16) -> QosPid {
    match qos {
        0 => QosPid::AtMostOnce,
        1 => QosPid::AtLeastOnce(pid(id)),
        2 => QosPid::ExactlyOnce(pid(id)),
        _ => panic!("QoS {qos}"),
    }
}

/// A PUBLISH: `qos` 0..=2, `id` ignored for QoS 0.
pub fn publish_pkt<'a>(
    dup: bool,
    qos: u8,
    id: u16,
    retain: bool,
    topic: &'a str,
    properties: &'a [Property<'a>],
    payload: &'a [u8],
) -> Packet<'a> {
    Packet::Publish(Publish {
        dup,
        qos: qos_pid(qos, id),
        retain,
        topic: if topic.is_empty() {
            TopicName::ALIAS_ONLY
        } else {
            TopicName::new(topic).expect("test topic names are valid")
        },
        properties: Properties::new(properties),
        payload,
    })
}

/// A plain PUBLISH (no dup, no retain, no properties).
pub fn publish<'a>(topic: &'a str, payload: &'a [u8], qos: u8, id: u16) -> Packet<'a> {
    publish_pkt(false, qos, id, false, topic, &[], payload)
}

fn ack(id: u16, reason_code: ReasonCode) -> Ack<'static> {
    Ack {
        packet_id: pid(id),
        reason_code,
        properties: Properties::empty(),
    }
}

pub fn puback(id: u16) -> Packet<'static> {
    Packet::PubAck(ack(id, ReasonCode::Success))
}
pub fn puback_rc(id: u16, rc: ReasonCode) -> Packet<'static> {
    Packet::PubAck(ack(id, rc))
}
pub fn pubrec(id: u16) -> Packet<'static> {
    Packet::PubRec(ack(id, ReasonCode::Success))
}
pub fn pubrec_rc(id: u16, rc: ReasonCode) -> Packet<'static> {
    Packet::PubRec(ack(id, rc))
}
pub fn pubrel(id: u16) -> Packet<'static> {
    Packet::PubRel(ack(id, ReasonCode::Success))
}
pub fn pubcomp(id: u16) -> Packet<'static> {
    Packet::PubComp(ack(id, ReasonCode::Success))
}
pub fn pubcomp_rc(id: u16, rc: ReasonCode) -> Packet<'static> {
    Packet::PubComp(ack(id, rc))
}

pub fn connack<'a>(session_present: bool, rc: ReasonCode, props: &'a [Property<'a>]) -> Packet<'a> {
    Packet::ConnAck(ConnAck {
        session_present,
        reason_code: rc,
        properties: Properties::new(props),
    })
}

pub fn suback<'a>(id: u16, codes: &'a [ReasonCode]) -> Packet<'a> {
    Packet::SubAck(SubAck {
        packet_id: pid(id),
        properties: Properties::empty(),
        reason_codes: mqtt_proto::List::new(codes),
    })
}

pub fn unsuback<'a>(id: u16, codes: &'a [ReasonCode]) -> Packet<'a> {
    Packet::UnsubAck(UnsubAck {
        packet_id: pid(id),
        properties: Properties::empty(),
        reason_codes: mqtt_proto::List::new(codes),
    })
}

pub fn disconnect_pkt(rc: ReasonCode) -> Packet<'static> {
    Packet::Disconnect(Disconnect::with_reason(rc))
}

pub fn sub(filter: &str, qos: QoS) -> Subscription<'_> {
    Subscription {
        filter: TopicFilter::new(filter).expect("test topic filters are valid"),
        options: SubscriptionOptions::new(qos),
    }
}

pub fn subscribe_pkt<'a>(
    id: u16,
    filters: &'a [Subscription<'a>],
    props: &'a [Property<'a>],
) -> Packet<'a> {
    Packet::Subscribe(Subscribe {
        packet_id: pid(id),
        properties: Properties::new(props),
        filters: mqtt_proto::List::new(filters),
    })
}

pub fn unsubscribe_pkt<'a>(id: u16, filters: &'a [&'a str]) -> Packet<'a> {
    // Leaked: a test builds a handful, and the packet borrows them.
    let filters: &'a [TopicFilter<'a>] = Vec::leak(filters_of(filters));
    Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(id),
        properties: Properties::empty(),
        filters: mqtt_proto::List::new(filters),
    })
}

/// The CONNECT the default configuration [`cfg`] produces.
pub fn default_connect(v: ProtocolVersion, clean_start: bool) -> Connect<'static> {
    const V5_PROPS: &[Property<'static>] = &[
        Property::ReceiveMaximum(IN_CAP as u16),
        Property::MaximumPacketSize(RX_CAP as u32),
        Property::TopicAliasMaximum(16),
    ];
    Connect {
        protocol: v,
        clean_start,
        keep_alive: 30,
        properties: Properties::new(if v.is_v5() { V5_PROPS } else { &[] }),
        client_id: "client-1",
        will: None,
        username: None,
        password: None,
    }
}

/// Encodes packets back to back.
pub fn encode_all(v: ProtocolVersion, packets: &[Packet<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        let n = p
            .encoded_len(v)
            .unwrap_or_else(|e| panic!("cannot encode {p:?}: {e}"));
        let start = out.len();
        out.resize(start + n, 0);
        p.encode(v, &mut out[start..]).expect("encode");
    }
    out
}

/// Parses hex with optional whitespace: `"e0 01 81"`.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex string {s:?}");
    digits
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).expect("hex"))
        .collect()
}

/// Splits a byte stream into packets; panics if any fails to decode or bytes are left over.
pub fn decode_stream(v: ProtocolVersion, bytes: &[u8]) -> Vec<Packet<'_>> {
    let mut packets = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match Decoder::new(v).decode(rest) {
            Ok(Decoded::Packet { packet, consumed }) => {
                packets.push(packet);
                rest = &rest[consumed..];
            }
            Ok(Decoded::Incomplete(n)) => {
                panic!("client sent a truncated packet ({n:?}): {rest:02x?}")
            }
            Err(e) => panic!("client sent a packet that does not decode ({e}): {rest:02x?}"),
        }
    }
    packets
}

// ----- the script ----------------------------------------------------------------------

/// One session on virtual time, with the bytes it sent and the events it gave.
pub struct Script<S = TestStore> {
    pub s: Box<Session<S, [u8; RX_CAP], OUT_CAP, IN_CAP>>,
    pub now: Instant,
    pub v: ProtocolVersion,
    out: Vec<u8>,
    events: VecDeque<Ev>,
    tx_buf: Vec<u8>,
}

impl Script {
    pub fn new(config: &Config<'_>) -> Self {
        Script::with_store(config, ArenaStore::new())
    }
}

impl<S: mqtt_session::Store> Script<S> {
    /// A script whose session keeps its records in `store`.
    pub fn with_store(config: &Config<'_>, store: S) -> Self {
        let s = Session::new(config, store, [0u8; RX_CAP]).expect("valid config");
        Script::wrap(config, s)
    }

    /// A script whose session is rebuilt from `store` (`Session::restore`); also returns
    /// how many operations were restored.
    pub fn restored(config: &Config<'_>, store: S) -> (Self, usize) {
        let (s, n) = Session::restore(config, store, [0u8; RX_CAP]).expect("valid config");
        (Script::wrap(config, s), n)
    }

    fn wrap(config: &Config<'_>, s: Session<S, [u8; RX_CAP], OUT_CAP, IN_CAP>) -> Self {
        Script {
            s: Box::new(s),
            now: Instant::ZERO,
            v: config.version,
            out: Vec::new(),
            events: VecDeque::new(),
            tx_buf: vec![0u8; 1 << 16],
        }
    }

    /// Follows the draining contract: events until `None`, then transmit until 0, and
    /// again while either produced something.
    pub fn drain(&mut self) {
        for _ in 0..1000 {
            let mut progressed = false;
            let mut n_events = 0;
            while let Some(e) = self.s.poll_event() {
                let e = own(e);
                self.events.push_back(e);
                progressed = true;
                n_events += 1;
                assert!(n_events < 100_000, "poll_event never returns None");
            }
            loop {
                match self.s.poll_transmit(self.now, &mut self.tx_buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        self.out.extend_from_slice(&self.tx_buf[..n]);
                        progressed = true;
                    }
                    Err(required) => panic!("poll_transmit wants a {required}-byte buffer"),
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("draining never settles (livelock)");
    }

    // ----- inputs ----------------------------------------------------------------------

    /// `connect()` and drain.
    pub fn connect(&mut self) {
        self.s.connect(self.now);
        self.drain();
    }

    pub fn transport_up(&mut self) {
        self.s.handle_transport_up(self.now);
        self.drain();
    }

    pub fn transport_down(&mut self) {
        self.s.handle_transport_down(self.now);
        self.drain();
    }

    /// Bytes from the server, offered as the adapter would (again after draining when
    /// the session takes only part). Stops when the connection ends: a real transport
    /// delivers nothing after that.
    pub fn server_bytes(&mut self, data: &[u8]) {
        let mut rest = data;
        let mut stalls = 0;
        while !rest.is_empty() {
            let n = self.s.handle_input(self.now, rest);
            rest = &rest[n..];
            self.drain();
            if !matches!(
                self.s.state(),
                ConnState::AwaitConnAck | ConnState::Connected
            ) {
                return;
            }
            if n == 0 {
                stalls += 1;
                assert!(
                    stalls < 4,
                    "the session takes no more input ({} bytes left)",
                    rest.len()
                );
            }
        }
    }

    /// Like [`Script::server_bytes`], one byte per `handle_input` call.
    pub fn server_bytes_bytewise(&mut self, data: &[u8]) {
        for b in data {
            if !matches!(
                self.s.state(),
                ConnState::AwaitConnAck | ConnState::Connected
            ) {
                return;
            }
            let n = self.s.handle_input(self.now, std::slice::from_ref(b));
            assert_eq!(n, 1, "one byte refused");
            self.drain();
        }
    }

    pub fn server_hex(&mut self, h: &str) {
        self.server_bytes(&hex(h));
    }

    /// One packet from the server, encoded for the session's version.
    pub fn server(&mut self, p: Packet<'_>) {
        let bytes = encode_all(self.v, &[p]);
        self.server_bytes(&bytes);
    }

    /// Several packets from the server in one read.
    pub fn server_all(&mut self, packets: &[Packet<'_>]) {
        let bytes = encode_all(self.v, packets);
        self.server_bytes(&bytes);
    }

    /// Moves the clock to `t`, delivers the timeout, drains.
    pub fn advance_to(&mut self, t: Instant) {
        assert!(t >= self.now, "time goes backwards");
        self.now = t;
        self.s.handle_timeout(t);
        self.drain();
    }

    pub fn advance(&mut self, by_ms: u64) {
        self.advance_to(self.now + Duration::from_millis(by_ms));
    }

    /// Moves the clock to the session's next deadline and fires it; returns it.
    pub fn fire(&mut self) -> Instant {
        let t = self.s.poll_timeout().expect("no deadline to fire");
        self.advance_to(t.max(self.now));
        t
    }

    // ----- commands --------------------------------------------------------------------

    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS) -> Option<Token> {
        let r = self
            .s
            .publish(self.now, topic, payload, qos, false, &[])
            .unwrap_or_else(|e| panic!("publish {topic}: {e:?}"));
        self.drain();
        assert_eq!(r.is_some(), qos != QoS::AtMostOnce, "token iff QoS > 0");
        r
    }

    /// `Session::publish_into` with a transmit buffer of `room` bytes: what it wrote
    /// counts as sent at once (as an adapter appends it to its write buffer); no drain.
    pub fn publish_into(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        props: &[Property<'_>],
        room: usize,
    ) -> Result<(Option<Token>, usize), Error> {
        let mut buf = vec![0u8; room];
        let r = self
            .s
            .publish_into(self.now, topic, payload, qos, false, props, &mut buf);
        if let Ok((_, n)) = r {
            self.out.extend_from_slice(&buf[..n]);
        }
        r
    }

    pub fn try_publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        props: &[Property<'_>],
    ) -> Result<Option<Token>, Error> {
        let r = self.s.publish(self.now, topic, payload, qos, retain, props);
        self.drain();
        r
    }

    pub fn subscribe(&mut self, filters: &[Subscription<'_>]) -> Token {
        let t = self
            .s
            .subscribe(self.now, filters, &[])
            .unwrap_or_else(|e| panic!("subscribe: {e:?}"));
        self.drain();
        t
    }

    pub fn unsubscribe(&mut self, filters: &[&str]) -> Token {
        let t = self
            .s
            .unsubscribe(self.now, &filters_of(filters), &[])
            .unwrap_or_else(|e| panic!("unsubscribe: {e:?}"));
        self.drain();
        t
    }

    pub fn disconnect(&mut self) {
        self.s.disconnect(self.now);
        self.drain();
    }

    pub fn ack(&mut self, token: Token) {
        self.s
            .ack(token)
            .unwrap_or_else(|e| panic!("ack {token:?}: {e:?}"));
        self.drain();
    }

    // ----- what came out ---------------------------------------------------------------

    /// The bytes sent since the last check, taken.
    pub fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Replaces what counts as sent since the last check (e.g. to let `auto_respond`
    /// answer only part of it, as if the rest were lost).
    pub fn out_set(&mut self, bytes: Vec<u8>) {
        self.out = bytes;
    }

    /// Runs `f` on the packets sent since the last check (taken), decoded with
    /// mqtt-proto; panics if any does not decode.
    pub fn with_sent<R>(&mut self, f: impl FnOnce(&[Packet<'_>]) -> R) -> R {
        let bytes = self.take_sent();
        let packets = decode_stream(self.v, &bytes);
        f(&packets)
    }

    /// Exactly these packets were sent since the last check, in this order.
    #[track_caller]
    pub fn expect_sent(&mut self, expected: &[Packet<'_>]) {
        let v = self.v;
        self.with_sent(|got| {
            assert!(
                got == expected,
                "client sent (version {v:?})\n  {got:#?}\nexpected\n  {expected:#?}"
            );
        });
    }

    /// Exactly these bytes were sent since the last check.
    #[track_caller]
    pub fn expect_sent_bytes(&mut self, expected: &[u8]) {
        let got = self.take_sent();
        assert_eq!(
            got, expected,
            "client bytes {got:02x?}, expected {expected:02x?}"
        );
    }

    #[track_caller]
    pub fn expect_nothing_sent(&mut self) {
        let got = self.take_sent();
        if !got.is_empty() {
            let v = self.v;
            panic!("client sent {:#?}", decode_stream(v, &got));
        }
    }

    /// The types of the packets sent since the last check (taken).
    pub fn sent_types(&mut self) -> Vec<PacketType> {
        self.with_sent(|p| p.iter().map(|p| p.packet_type()).collect())
    }

    /// The packet ids of the PUBLISH packets sent since the last check (taken).
    pub fn sent_publish_ids(&mut self) -> Vec<u16> {
        self.with_sent(|p| {
            p.iter()
                .filter_map(|p| match p {
                    Packet::Publish(p) => p.qos.packet_id().map(|i| i.get()),
                    _ => None,
                })
                .collect()
        })
    }

    /// The CONNECT sent since the last check, as `(clean_start, client_id)`; it must be
    /// the only packet.
    #[track_caller]
    pub fn expect_connect(&mut self) -> (bool, String) {
        self.with_sent(|p| match p {
            [Packet::Connect(c)] => (c.clean_start, c.client_id.to_owned()),
            other => panic!("expected one CONNECT, client sent {other:#?}"),
        })
    }

    pub fn take_events(&mut self) -> Vec<Ev> {
        self.events.drain(..).collect()
    }

    /// Exactly these events came since the last check, in this order.
    #[track_caller]
    pub fn expect_events(&mut self, expected: &[Ev]) {
        let got = self.take_events();
        assert_eq!(got, expected, "events");
    }

    #[track_caller]
    pub fn expect_no_events(&mut self) {
        let got = self.take_events();
        assert!(got.is_empty(), "unexpected events {got:#?}");
    }

    /// Nothing sent and no event since the last check.
    #[track_caller]
    pub fn expect_idle(&mut self) {
        self.expect_nothing_sent();
        self.expect_no_events();
    }

    /// The next deadline is `t`, and nothing happens before it: probes a few instants
    /// before `t` (spurious timeouts must do nothing) and leaves the clock just before `t`.
    #[track_caller]
    pub fn expect_quiet_until(&mut self, t: Instant) {
        self.expect_idle();
        assert_eq!(
            self.s.poll_timeout(),
            Some(t),
            "next deadline (now {:?})",
            self.now
        );
        let from = self.now.as_millis();
        let to = t.as_millis();
        if to <= from {
            return;
        }
        for probe in [from, from + (to - from) / 2, to - 1] {
            let probe = ms(probe.max(self.now.as_millis()));
            self.advance_to(probe);
            let out = self.take_sent();
            let events = self.take_events();
            assert!(
                out.is_empty() && events.is_empty(),
                "at {probe:?} (before the deadline {t:?}) the client sent {out:02x?} and gave {events:?}"
            );
            assert_eq!(
                self.s.poll_timeout(),
                Some(t),
                "deadline moved at {probe:?}"
            );
        }
    }

    /// No deadline at all, and nothing happens for an hour.
    #[track_caller]
    pub fn expect_no_deadline(&mut self) {
        self.expect_idle();
        assert_eq!(self.s.poll_timeout(), None, "deadline");
        self.advance(3_600_000);
        self.expect_idle();
    }

    // ----- whole steps -----------------------------------------------------------------

    /// `connect()`, OpenTransport, transport up: the CONNECT is sent and returned as
    /// `(clean_start, client_id)`.
    #[track_caller]
    pub fn open(&mut self) -> (bool, String) {
        self.connect();
        self.expect_events(&[Ev::OpenTransport]);
        self.transport_up();
        self.expect_no_events();
        self.expect_connect()
    }

    /// Answers the CONNECT with a successful CONNACK and checks the `Connected` event.
    #[track_caller]
    pub fn accept(&mut self, session_present: bool, props: &[Property<'_>]) {
        self.server(connack(session_present, ReasonCode::Success, props));
        let events = self.take_events();
        assert_eq!(
            events.first(),
            Some(&Ev::Connected { session_present }),
            "events after CONNACK: {events:?}"
        );
        // Anything else (e.g. `Lost` after a session loss) goes back for the test.
        for e in events.into_iter().skip(1).rev() {
            self.events.push_front(e);
        }
    }

    /// Connects with default CONNACK (no session present, no properties); nothing else
    /// is sent.
    #[track_caller]
    pub fn establish(&mut self) {
        self.open();
        self.accept(false, &[]);
        self.expect_idle();
    }

    /// The session asked for a reconnect at some time: moves the clock there, answers
    /// OpenTransport with transport up, returns the CONNECT's `(clean_start, client_id)`.
    #[track_caller]
    pub fn reconnect(&mut self) -> (bool, String) {
        assert_eq!(self.s.state(), ConnState::Waiting, "no reconnect scheduled");
        self.fire();
        self.expect_events(&[Ev::OpenTransport]);
        self.transport_up();
        self.expect_no_events();
        self.expect_connect()
    }

    /// The transport drops; the session reports it and schedules a reconnect.
    #[track_caller]
    pub fn drop_transport(&mut self) {
        self.transport_down();
        let events = self.take_events();
        assert!(
            matches!(
                events.as_slice(),
                [
                    Ev::ConnectionLost(ConnectionError::TransportClosed),
                    Ev::ReconnectScheduled { .. }
                ]
            ),
            "events after transport down: {events:?}"
        );
    }

    /// Answers every packet the client sent since the last check as a well-behaved
    /// server would (PUBACK, PUBREC, PUBCOMP, SUBACK granting the requested QoS,
    /// UNSUBACK, PINGRESP), until the client sends nothing more. Returns the events.
    pub fn auto_respond(&mut self) -> Vec<Ev> {
        for _ in 0..100 {
            let bytes = self.take_sent();
            if bytes.is_empty() {
                return self.take_events();
            }
            let v = self.v;
            let mut replies = Vec::new();
            for p in decode_stream(v, &bytes) {
                match p {
                    Packet::Publish(p) => match p.qos {
                        QosPid::AtMostOnce => {}
                        QosPid::AtLeastOnce(id) => replies.push(encode_all(v, &[puback(id.get())])),
                        QosPid::ExactlyOnce(id) => replies.push(encode_all(v, &[pubrec(id.get())])),
                    },
                    Packet::PubRel(a) => replies.push(encode_all(v, &[pubcomp(a.packet_id.get())])),
                    Packet::Subscribe(s) => {
                        let codes: Vec<ReasonCode> = s
                            .filters
                            .iter()
                            .map(|f| match f.options.qos {
                                QoS::AtMostOnce => ReasonCode::Success,
                                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                            })
                            .collect();
                        replies.push(encode_all(v, &[suback(s.packet_id.get(), &codes)]));
                    }
                    Packet::Unsubscribe(u) => {
                        let codes: Vec<ReasonCode> = if v.is_v5() {
                            u.filters.iter().map(|_| ReasonCode::Success).collect()
                        } else {
                            Vec::new()
                        };
                        replies.push(encode_all(v, &[unsuback(u.packet_id.get(), &codes)]));
                    }
                    Packet::PingReq => replies.push(encode_all(v, &[Packet::PingResp])),
                    _ => {}
                }
            }
            for r in replies {
                self.server_bytes(&r);
            }
        }
        panic!("auto_respond never settles");
    }

    /// Everything observable from outside, for comparing two sessions.
    pub fn snapshot(&self) -> String {
        format!(
            "state {:?} outstanding {} inflight {} incoming {} timeout {:?}",
            self.s.state(),
            self.s.outstanding(),
            self.s.inflight_publishes(),
            self.s.incoming_pending(),
            self.s.poll_timeout()
        )
    }
}

/// Checks events that end a connection: exactly one `ConnectionLost(reason)`, one
/// `CloseTransport` iff `close_requested`, and a last `ReconnectScheduled` whose time
/// falls within the policy's bounds for `attempt`. Returns the reconnect time.
#[track_caller]
pub fn expect_lost_then_reconnect(
    events: &[Ev],
    reason: ConnectionError,
    close_requested: bool,
    now: Instant,
    attempt: u32,
) -> Instant {
    let policy = ReconnectPolicy::default();
    let lost = events
        .iter()
        .filter(|e| **e == Ev::ConnectionLost(reason))
        .count();
    let closes = events.iter().filter(|e| **e == Ev::CloseTransport).count();
    assert_eq!(lost, 1, "one ConnectionLost({reason:?}) in {events:?}");
    assert_eq!(
        closes,
        usize::from(close_requested),
        "CloseTransport in {events:?}"
    );
    assert_eq!(
        events.len(),
        2 + usize::from(close_requested),
        "unexpected events in {events:?}"
    );
    match events.last() {
        Some(Ev::ReconnectScheduled { at, attempt: a }) => {
            assert_eq!(*a, attempt, "attempt in {events:?}");
            let (lo, hi) = policy.delay_bounds(attempt - 1);
            let delay = *at - now;
            assert!(
                lo <= delay && delay <= hi,
                "reconnect delay {delay:?} outside {lo:?}..={hi:?}"
            );
            *at
        }
        _ => panic!("no ReconnectScheduled last in {events:?}"),
    }
}

/// Runs `setup` on two fresh sessions, the failing command on one of them (it must
/// return `Err`), then the same continuation on both, and checks that everything
/// observable stayed identical: a failed command changes nothing.
#[track_caller]
pub fn assert_failed_command_changes_nothing(
    config: &Config<'_>,
    setup: impl Fn(&mut Script),
    failing: impl FnOnce(&mut Script) -> Result<(), Error>,
) -> Error {
    let mut a = Script::new(config);
    let mut b = Script::new(config);
    setup(&mut a);
    setup(&mut b);
    let before_a = (a.take_sent(), a.take_events(), a.snapshot());
    let before_b = (b.take_sent(), b.take_events(), b.snapshot());
    assert_eq!(before_a, before_b, "setup is not deterministic");
    let err = failing(&mut b).expect_err("the command must fail");
    assert_eq!(
        b.take_sent(),
        Vec::<u8>::new(),
        "a failed command sent something"
    );
    assert_eq!(
        b.take_events(),
        Vec::<Ev>::new(),
        "a failed command gave events"
    );
    assert_eq!(
        a.snapshot(),
        b.snapshot(),
        "a failed command changed the session"
    );
    let ta = continuation(&mut a);
    let tb = continuation(&mut b);
    assert_eq!(
        ta, tb,
        "the session behaves differently after a failed command"
    );
    err
}

/// A fixed continuation whose transcript shows the session's hidden state: the next
/// packet ids, what is queued, the tokens, the deadlines.
pub fn continuation(t: &mut Script) -> Vec<String> {
    fn record(t: &mut Script, what: &str) -> String {
        let bytes = t.take_sent();
        format!(
            "{what}: sent {bytes:02x?} events {:?} {}",
            t.take_events(),
            t.snapshot()
        )
    }
    let mut log = Vec::new();
    let r =
        t.s.publish(t.now, "twin/1", b"x", QoS::AtLeastOnce, false, &[]);
    t.drain();
    log.push(format!("publish -> {r:?}"));
    log.push(record(t, "after publish"));
    let r =
        t.s.subscribe(t.now, &[sub("twin/#", QoS::AtLeastOnce)], &[]);
    t.drain();
    log.push(format!("subscribe -> {r:?}"));
    log.push(record(t, "after subscribe"));
    if t.s.state() != ConnState::Connected {
        t.s.connect(t.now);
        t.drain();
        t.s.handle_transport_up(t.now);
        t.drain();
        log.push(record(t, "opened"));
        t.server(connack(false, ReasonCode::Success, &[]));
        log.push(record(t, "connected"));
    }
    let r =
        t.s.publish(t.now, "twin/2", b"y", QoS::ExactlyOnce, false, &[]);
    t.drain();
    log.push(format!("publish -> {r:?}"));
    let bytes = t.take_sent();
    log.push(format!("sent {bytes:02x?}"));
    t.out = bytes;
    let events = t.auto_respond();
    log.push(format!("responded: {events:?} {}", t.snapshot()));
    if t.s.poll_timeout().is_some() {
        let at = t.fire();
        log.push(record(t, &format!("fired {at:?}")));
    }
    log
}

/// The server broke the protocol: in 5.0 the client sends exactly one DISCONNECT with
/// `reason_code` and nothing after it; in 3.1.1 it sends nothing. Either way it asks for
/// the transport to close, reports the fault and schedules reconnect number `attempt`.
#[track_caller]
pub fn expect_peer_fault<S: mqtt_session::Store>(
    t: &mut Script<S>,
    reason_code: ReasonCode,
    fault: PeerFault,
    attempt: u32,
) {
    if t.v.is_v5() {
        t.expect_sent(&[disconnect_pkt(reason_code)]);
    } else {
        t.expect_nothing_sent();
    }
    let events = t.take_events();
    expect_lost_then_reconnect(
        &events,
        ConnectionError::ProtocolViolation { reason_code, fault },
        true,
        t.now,
        attempt,
    );
    assert_eq!(t.s.state(), ConnState::Waiting);
}

/// Before CONNACK the client may close silently or (5.0) send DISCONNECT `reason_code`
/// first; either way nothing else.
#[track_caller]
pub fn expect_nothing_or_disconnect(t: &mut Script, reason_code: ReasonCode) {
    let v5 = t.v.is_v5();
    t.with_sent(|p| match p {
        [] => {}
        [Packet::Disconnect(d)] if v5 && d.reason_code == reason_code => {}
        other => panic!("expected nothing or DISCONNECT {reason_code:?}, client sent {other:#?}"),
    });
}

/// The CONNECT of the default configuration, byte for byte.
pub fn default_connect_bytes(v: ProtocolVersion) -> Vec<u8> {
    let mut b = if v.is_v5() {
        // Receive Maximum 16, Maximum Packet Size 4096, Topic Alias Maximum 16.
        hex("10 20 00 04 4d 51 54 54 05 02 00 1e 0b 21 00 10 27 00 00 10 00 22 00 10 00 08")
    } else {
        hex("10 14 00 04 4d 51 54 54 04 02 00 1e 00 08")
    };
    b.extend_from_slice(b"client-1");
    b
}

/// Test filters, which are valid, as `TopicFilter`s.
pub fn filters_of<'a>(filters: &[&'a str]) -> Vec<TopicFilter<'a>> {
    filters
        .iter()
        .map(|f| TopicFilter::new(f).expect("test topic filters are valid"))
        .collect()
}

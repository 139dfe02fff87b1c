//! Model-based property test of the session: random sequences of commands, server
//! packets, time steps and transport changes, checked against a reference model of the
//! server's view and of the caller's operations.
//!
//! Invariants, checked after every step:
//! - nothing panics, and every byte the client sends decodes with mqtt-proto;
//! - the first packet on a connection is CONNECT [MQTT-3.1.0-1], nothing but CONNECT
//!   before CONNACK, nothing after DISCONNECT [MQTT-3.14.4-2];
//! - a new PUBLISH, SUBSCRIBE or UNSUBSCRIBE never carries an id still in flight
//!   [MQTT-2.3.1-2]; a DUP PUBLISH is a resend of one in flight [MQTT-3.3.1-1]; a PUBLISH
//!   the server has PUBRECed is never sent again [MQTT-4.3.3-6]; PUBREL only after PUBREC;
//! - in flight <= the outbox capacity, and QoS 1/2 PUBLISHes sent on a connection and not
//!   finished <= the server's Receive Maximum [MQTT-3.3.4-7]; no PUBLISH above the
//!   server's Maximum QoS [MQTT-3.2.2-11]; no Topic Alias unless the server allows one;
//! - acks of the server's messages in arrival order [MQTT-4.6.0-2] [MQTT-4.6.0-3], and a
//!   QoS 2 message is delivered once [MQTT-4.3.3-10]; one message over our Receive
//!   Maximum, and only then, ends the connection;
//! - every QoS>0 operation is reported (`Published`, `Subscribed`, `Unsubscribed` or
//!   `Lost`) at most once, and, once a well-behaved server has answered everything,
//!   exactly once; a failed command changes nothing visible.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Publish {
        qos: u8,
        topic: u8,
        len: u8,
        retain: bool,
    },
    Subscribe {
        filter: u8,
        qos: u8,
    },
    Unsubscribe {
        filter: u8,
    },
    AppAck {
        pick: u8,
    },
    ServerAck {
        pick: u8,
        error: bool,
    },
    ServerBogusAck {
        kind: u8,
        id: u16,
    },
    ServerPublish {
        qos: u8,
        id: u16,
        topic: u8,
    },
    ServerPubRel {
        pick: u8,
        bogus: bool,
    },
    PingResp,
    Time {
        ms: u32,
    },
    FireTimeout,
    TransportUp,
    TransportDown,
    /// `limits`: bits 0-1 Topic Alias Maximum, bit 2 Maximum Packet Size 40, bit 3 no
    /// retained messages (5.0).
    ConnAck {
        limits: u8,
        keep_session: bool,
        rogue: bool,
        receive_max: u8,
        max_qos: u8,
        rc: u8,
    },
    RandomBytes(Vec<u8>),
    Disconnect,
    Connect,
    /// Whatever moves the session towards a working connection: connect, open the
    /// transport, accept the CONNECT, or let the reconnect timer fire.
    Heal,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, 0u8..3, 0u8..40, prop::bool::weighted(0.1))
            .prop_map(|(qos, topic, len, retain)| Op::Publish { qos, topic, len, retain }),
        2 => (0u8..3, 0u8..3).prop_map(|(filter, qos)| Op::Subscribe { filter, qos }),
        1 => (0u8..3).prop_map(|filter| Op::Unsubscribe { filter }),
        2 => any::<u8>().prop_map(|pick| Op::AppAck { pick }),
        10 => (any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, error)| Op::ServerAck { pick, error }),
        1 => (0u8..5, 1u16..40).prop_map(|(kind, id)| Op::ServerBogusAck { kind, id }),
        10 => Just(Op::Heal),
        5 => (0u8..3, 1u16..12, 0u8..3)
            .prop_map(|(qos, id, topic)| Op::ServerPublish { qos, id, topic }),
        3 => (any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, bogus)| Op::ServerPubRel { pick, bogus }),
        2 => Just(Op::PingResp),
        4 => (0u32..5_000).prop_map(|ms| Op::Time { ms }),
        1 => (0u32..40_000).prop_map(|ms| Op::Time { ms }),
        1 => Just(Op::FireTimeout),
        1 => Just(Op::TransportUp),
        1 => Just(Op::TransportDown),
        3 => (
            (any::<bool>(), prop::bool::weighted(0.05), 0u8..4, 0u8..4, 0u8..40),
            prop_oneof![8 => 0u8..4, 1 => 0u8..16],
        )
            .prop_map(
                |((keep_session, rogue, receive_max, max_qos, rc), limits)| Op::ConnAck {
                    limits,
                    keep_session,
                    rogue,
                    receive_max,
                    max_qos,
                    rc,
                }
            ),
        1 => prop::collection::vec(any::<u8>(), 1..12).prop_map(Op::RandomBytes),
        1 => Just(Op::Disconnect),
        1 => Just(Op::Connect),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Setup {
    v: ProtocolVersion,
    persistent: bool,
    manual_ack: bool,
    queue_qos0_offline: bool,
    resend_on_session_loss: bool,
    keep_alive: u16,
    receive_maximum: u16,
    resubscribe: bool,
    seed: u64,
}

/// The protocol version of a run: either, or 3.1.1 alone in the 3.1.1-only build.
#[cfg(feature = "v5")]
fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(V311), Just(V5)]
}

#[cfg(not(feature = "v5"))]
fn version() -> impl Strategy<Value = ProtocolVersion> {
    Just(V311)
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        version(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop_oneof![Just(0u16), 5u16..60],
        prop_oneof![Just(IN_CAP as u16), 1u16..4],
        (prop::bool::weighted(0.7), any::<u64>()),
    )
        .prop_map(
            |(
                v,
                persistent,
                manual_ack,
                queue_qos0_offline,
                resend,
                keep_alive,
                rm,
                (resubscribe, seed),
            )| {
                Setup {
                    v,
                    persistent,
                    manual_ack,
                    queue_qos0_offline,
                    resend_on_session_loss: resend,
                    keep_alive,
                    receive_maximum: rm,
                    resubscribe,
                    seed,
                }
            },
        )
}

const TOPICS: [&str; 3] = ["a", "b/c", "d/e/f"];
const FILTERS: [&str; 3] = ["a", "b/+", "#"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Publish,
    Subscribe,
    Unsubscribe,
}

/// A QoS 1/2 PUBLISH of the client as the server sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CliPub {
    /// Waiting for PUBACK / PUBREC.
    AwaitAck { qos: u8 },
    /// The server sent PUBREC.
    Recd,
    /// The client sent PUBREL.
    Released,
}

/// A QoS 1/2 message of the server's as the server sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SrvOut {
    Sent {
        qos: u8,
    },
    /// The client sent PUBREC.
    Recd,
    /// The server sent PUBREL.
    Released,
}

/// The server's view: its session with the client and the current connection.
#[derive(Debug, Default)]
struct Server {
    // Connection.
    seen_connect: bool,
    clean_start: bool,
    connacked: bool,
    client_disconnected: bool,
    receive_max: u16,
    max_qos: u8,
    max_packet_size: u32,
    retain_available: bool,
    alias_max: u16,
    /// Topic aliases the client bound on this connection.
    aliases: Vec<Option<String>>,
    /// QoS 1/2 PUBLISHes sent on this connection and not finished.
    inflight_conn: BTreeSet<u16>,
    expect_pubcomp: BTreeSet<u16>,
    // Session.
    has_session: bool,
    tainted: bool,
    /// Client PUBLISHes in flight, with the connection number they were last sent on.
    pubs: BTreeMap<u16, (CliPub, u64)>,
    /// Client SUBSCRIBE (true) / UNSUBSCRIBE (false) in flight: filter count, connection.
    reqs: BTreeMap<u16, (bool, usize, u64)>,
    srv_out: BTreeMap<u16, SrvOut>,
    /// QoS 2 messages of an earlier connection not resent as PUBLISH on this one: the
    /// client holds them (if at all) past PUBREC, outside this connection's quota [4.9].
    carried: BTreeSet<u16>,
    /// Messages of an earlier connection in manual-ack mode not resent yet: the client
    /// counts them only if it still holds them waiting for the application.
    carried_maybe: BTreeSet<u16>,
    /// Server messages not yet PUBACKed/PUBRECed, in arrival order.
    arrival: VecDeque<u16>,
    conn: u64,
}

impl Server {
    fn clear_session(&mut self) {
        self.pubs.clear();
        self.reqs.clear();
        self.srv_out.clear();
        self.carried.clear();
        self.carried_maybe.clear();
        self.arrival.clear();
        self.has_session = false;
        self.tainted = false;
    }
}

struct Model {
    t: Script,
    s: Setup,
    opening: bool,
    transport_open: bool,
    srv: Server,
    /// User tokens not yet reported, with what they name.
    issued: BTreeMap<Token, Kind>,
    /// Every token reported so far.
    reported: BTreeSet<Token>,
    app_acks: Vec<Token>,
    /// Events of the current step.
    step_events: Vec<Ev>,
    log: Vec<String>,
}

fn rc_for(i: u8, v: ProtocolVersion) -> ReasonCode {
    let v5 = [
        ReasonCode::NotAuthorized,
        ReasonCode::ServerBusy,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::ServerUnavailable,
        ReasonCode::QuotaExceeded,
    ];
    let v3 = [
        ReasonCode::NotAuthorized,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::ServerUnavailable,
        ReasonCode::ServerUnavailable,
    ];
    if i < 35 {
        ReasonCode::Success
    } else if v.is_v5() {
        v5[usize::from(i - 35) % v5.len()]
    } else {
        v3[usize::from(i - 35) % v3.len()]
    }
}

impl Model {
    fn new(s: Setup) -> Self {
        let mut c = if s.persistent {
            persistent_cfg(s.v)
        } else {
            cfg(s.v)
        };
        c.manual_ack = s.manual_ack;
        c.queue_qos0_offline = s.queue_qos0_offline;
        c.resend_on_session_loss = s.resend_on_session_loss;
        c.keep_alive = s.keep_alive;
        c.receive_maximum = s.receive_maximum;
        c.resubscribe = s.resubscribe;
        c.rng_seed = s.seed;
        Model {
            t: Script::new(&c),
            s,
            opening: false,
            transport_open: false,
            srv: Server::default(),
            issued: BTreeMap::new(),
            reported: BTreeSet::new(),
            app_acks: Vec::new(),
            step_events: Vec::new(),
            log: Vec::new(),
        }
    }

    fn connected(&self) -> bool {
        self.transport_open && self.srv.connacked && !self.srv.client_disconnected
    }

    fn send(&mut self, p: Packet<'_>) {
        let bytes = encode_all(self.s.v, &[p]);
        self.t.server_bytes(&bytes);
    }

    /// The server's side of the connection ended.
    fn connection_end(&mut self) {
        self.transport_open = false;
        let srv = &mut self.srv;
        let was_accepted = srv.connacked;
        srv.seen_connect = false;
        srv.connacked = false;
        srv.client_disconnected = false;
        srv.inflight_conn.clear();
        srv.expect_pubcomp.clear();
        if was_accepted && !self.s.persistent {
            srv.clear_session();
        }
    }

    // ----- what the client did ----------------------------------------------------------

    fn observe(&mut self) {
        self.t.drain();
        let bytes = self.t.take_sent();
        let events = self.t.take_events();
        if !bytes.is_empty() {
            assert!(self.transport_open, "sent {bytes:02x?} without a transport");
            let v = self.s.v;
            for p in decode_stream(v, &bytes) {
                self.client_packet(&p);
            }
        }
        for e in events {
            self.event(&e);
            self.step_events.push(e);
        }
        self.invariants();
    }

    fn client_packet(&mut self, p: &Packet<'_>) {
        let srv = &mut self.srv;
        self.log.push(format!("  client: {p:?}"));
        assert!(
            !srv.client_disconnected,
            "[MQTT-3.14.4-2] {p:?} after DISCONNECT"
        );
        if !srv.seen_connect {
            assert!(
                matches!(p, Packet::Connect(_)),
                "[MQTT-3.1.0-1] first packet {p:?}"
            );
        } else if !srv.connacked {
            assert!(matches!(p, Packet::Disconnect(_)), "{p:?} before CONNACK");
        }
        let conn = srv.conn;
        let size = p.encoded_len(self.s.v).expect("a decoded packet encodes");
        assert!(
            size <= srv.max_packet_size as usize,
            "[MQTT-3.2.2-15] {size} bytes > {}",
            srv.max_packet_size
        );
        match p {
            Packet::Connect(c) => {
                srv.seen_connect = true;
                srv.clean_start = c.clean_start;
                if c.clean_start {
                    srv.clear_session();
                }
            }
            Packet::Publish(p) => {
                let qos = p.qos.qos() as u8;
                assert!(
                    qos <= srv.max_qos,
                    "[MQTT-3.2.2-11] QoS {qos} > {}",
                    srv.max_qos
                );
                assert!(p.retain <= srv.retain_available, "[MQTT-3.2.2-14] RETAIN");
                match p.properties.topic_alias() {
                    None => assert!(!p.topic.is_empty()),
                    Some(a) => {
                        assert!(
                            a >= 1 && a <= srv.alias_max,
                            "[MQTT-3.2.2-17] [MQTT-3.2.2-18] alias {a}, server maximum {}",
                            srv.alias_max
                        );
                        let slot = &mut srv.aliases[usize::from(a)];
                        if p.topic.is_empty() {
                            assert!(slot.is_some(), "alias {a} used before it was bound");
                        } else {
                            *slot = Some(p.topic.to_string());
                        }
                    }
                }
                if let Some(id) = p.qos.packet_id() {
                    let id = id.get();
                    if p.dup {
                        match srv.pubs.get(&id) {
                            Some((CliPub::AwaitAck { qos: q }, _)) if *q == qos => {}
                            None if srv.tainted => {}
                            other => panic!("DUP PUBLISH {id} but the server has {other:?}"),
                        }
                    } else {
                        assert!(
                            !srv.pubs.contains_key(&id) && !srv.reqs.contains_key(&id),
                            "[MQTT-2.3.1-2] new PUBLISH with id {id} in flight: {:?} {:?}",
                            srv.pubs.get(&id),
                            srv.reqs.get(&id)
                        );
                    }
                    srv.pubs.insert(id, (CliPub::AwaitAck { qos }, conn));
                    srv.inflight_conn.insert(id);
                    assert!(
                        srv.inflight_conn.len() <= usize::from(srv.receive_max),
                        "[MQTT-3.3.4-7] {:?} unfinished with Receive Maximum {}",
                        srv.inflight_conn,
                        srv.receive_max
                    );
                }
            }
            Packet::PubRel(a) => {
                let id = a.packet_id.get();
                match srv.pubs.get_mut(&id) {
                    Some((st @ (CliPub::Recd | CliPub::Released), c)) => {
                        *st = CliPub::Released;
                        *c = conn;
                    }
                    None if srv.tainted => {}
                    other => panic!("PUBREL {id} but the server has {other:?}"),
                }
            }
            Packet::Subscribe(_) | Packet::Unsubscribe(_) => {
                let (sub, id, n) = match p {
                    Packet::Subscribe(s) => (true, s.packet_id.get(), s.filters.len()),
                    Packet::Unsubscribe(u) => (false, u.packet_id.get(), u.filters.len()),
                    _ => unreachable!(),
                };
                match srv.reqs.get(&id) {
                    // A resend on a resumed session.
                    Some((k, m, c)) if *k == sub && *m == n && *c < conn => {}
                    None if !srv.pubs.contains_key(&id) => {}
                    other => panic!(
                        "[MQTT-2.3.1-2] request with id {id} in flight: {other:?} {:?}",
                        srv.pubs.get(&id)
                    ),
                }
                srv.reqs.insert(id, (sub, n, conn));
            }
            Packet::PubAck(a) | Packet::PubRec(a) => {
                let id = a.packet_id.get();
                let is_ack = matches!(p, Packet::PubAck(_));
                if let Some(pos) = srv.arrival.iter().position(|x| *x == id) {
                    assert_eq!(
                        pos, 0,
                        "[MQTT-4.6.0-2] ack for {id} before {:?}",
                        srv.arrival
                    );
                    srv.arrival.pop_front();
                }
                match srv.srv_out.get(&id).copied() {
                    Some(SrvOut::Sent { qos: 1 }) if is_ack => {
                        srv.srv_out.remove(&id);
                    }
                    Some(SrvOut::Sent { qos: 2 } | SrvOut::Recd) if !is_ack => {
                        srv.srv_out.insert(id, SrvOut::Recd);
                    }
                    None if srv.tainted => {}
                    other => panic!("{p:?} but the server has {other:?}"),
                }
            }
            Packet::PubComp(a) => {
                let id = a.packet_id.get();
                if !srv.expect_pubcomp.remove(&id) {
                    match srv.srv_out.get(&id) {
                        Some(SrvOut::Released) => {
                            srv.srv_out.remove(&id);
                        }
                        None if srv.tainted => {}
                        other => panic!("PUBCOMP {id} but the server has {other:?}"),
                    }
                }
            }
            Packet::PingReq => {}
            Packet::Disconnect(_) => srv.client_disconnected = true,
            other => panic!("the client sent {other:?}"),
        }
    }

    fn report(&mut self, token: Token, kinds: &[Kind]) {
        assert!(self.reported.insert(token), "{token:?} reported twice");
        if let Some(kind) = self.issued.remove(&token) {
            assert!(
                kinds.contains(&kind),
                "{token:?} ({kind:?}) reported as {kinds:?}"
            );
        }
    }

    fn event(&mut self, e: &Ev) {
        self.log.push(format!("  event: {e:?}"));
        match e {
            Ev::OpenTransport => {
                assert!(!self.transport_open && !self.opening, "OpenTransport twice");
                self.opening = true;
            }
            Ev::CloseTransport => {
                self.opening = false;
                if self.transport_open {
                    self.connection_end();
                }
            }
            Ev::Redirect { .. } => panic!("the model's server never redirects"),
            Ev::Connected { .. }
            | Ev::ConnectionLost(_)
            | Ev::ReconnectScheduled { .. }
            | Ev::Stopped(_) => {}
            Ev::Message(m) => {
                if m.qos != QoS::AtMostOnce {
                    assert_eq!(m.ack.is_some(), self.s.manual_ack, "ack token: {m:?}");
                }
                if let Some(t) = m.ack {
                    self.app_acks.push(t);
                }
            }
            Ev::Published { token, .. } => self.report(*token, &[Kind::Publish]),
            Ev::Subscribed { token, .. } => self.report(*token, &[Kind::Subscribe]),
            Ev::Unsubscribed { token, .. } => self.report(*token, &[Kind::Unsubscribe]),
            Ev::Lost { token, .. } => {
                self.report(*token, &[Kind::Publish, Kind::Subscribe, Kind::Unsubscribe])
            }
            Ev::Auth { .. } => panic!("AUTH event without an authentication method"),
        }
    }

    fn invariants(&self) {
        let s = &self.t.s;
        assert!(s.outstanding() <= OUT_CAP);
        assert!(usize::from(s.inflight_publishes()) <= OUT_CAP);
        assert!(s.incoming_pending() <= IN_CAP);
        // The Receive Maximum is checked on the wire (PUBLISHes sent on this connection,
        // in `client_packet`): QoS 2 messages resumed at the PUBREL stage may hold more
        // quota than a smaller new Receive Maximum, which only delays new publishes.
    }

    fn lost_connection(&self) -> bool {
        self.step_events
            .iter()
            .any(|e| matches!(e, Ev::ConnectionLost(_)))
    }

    // ----- steps ----------------------------------------------------------------------------

    fn command_result<T: std::fmt::Debug>(&mut self, r: &Result<T, Error>, before: usize) {
        if r.is_err() {
            // A failed command changes nothing visible.
            assert_eq!(
                self.t.s.outstanding(),
                before,
                "failed command changed the outbox"
            );
            self.t.drain();
            assert!(
                self.t.take_sent().is_empty(),
                "failed command sent something"
            );
            assert!(
                self.t.take_events().is_empty(),
                "failed command gave events"
            );
        }
    }

    fn step(&mut self, op: &Op) {
        self.step_events.clear();
        self.log.push(format!("{:?} {op:?}", self.t.now));
        let now = self.t.now;
        match *op {
            Op::Publish {
                qos,
                topic,
                len,
                retain,
            } => {
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(qos)];
                let payload = vec![b'p'; usize::from(len)];
                let before = self.t.s.outstanding();
                let r =
                    self.t
                        .s
                        .publish(now, TOPICS[usize::from(topic)], &payload, qos, retain, &[]);
                self.log.push(format!("  -> {r:?}"));
                self.command_result(&r, before);
                match r {
                    Ok(Some(t)) => {
                        assert!(self.issued.insert(t, Kind::Publish).is_none());
                        assert!(!self.reported.contains(&t), "token reused");
                    }
                    Ok(None) => assert_eq!(qos, QoS::AtMostOnce),
                    Err(Error::NotConnected) => {
                        assert!(qos == QoS::AtMostOnce && !self.s.queue_qos0_offline)
                    }
                    Err(Error::Full) => {}
                    Err(Error::QoSNotSupported) => assert!(qos as u8 > self.srv.max_qos),
                    Err(Error::RetainNotSupported) => {
                        assert!(retain && !self.srv.retain_available)
                    }
                    Err(Error::PacketTooLarge { max, .. }) => {
                        assert_eq!(max, self.srv.max_packet_size)
                    }
                    Err(e) => panic!("publish: {e:?}"),
                }
            }
            Op::Subscribe { filter, qos } => {
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(qos)];
                let before = self.t.s.outstanding();
                let r = self
                    .t
                    .s
                    .subscribe(now, &[sub(FILTERS[usize::from(filter)], qos)], &[]);
                self.log.push(format!("  -> {r:?}"));
                self.command_result(&r, before);
                match r {
                    Ok(t) => {
                        assert!(self.issued.insert(t, Kind::Subscribe).is_none());
                    }
                    Err(Error::Full | Error::PacketTooLarge { .. }) => {}
                    Err(e) => panic!("subscribe: {e:?}"),
                }
            }
            Op::Unsubscribe { filter } => {
                let before = self.t.s.outstanding();
                let r = self.t.s.unsubscribe(
                    now,
                    &[TopicFilter::new(FILTERS[usize::from(filter)]).expect("valid")],
                    &[],
                );
                self.log.push(format!("  -> {r:?}"));
                self.command_result(&r, before);
                match r {
                    Ok(t) => {
                        assert!(self.issued.insert(t, Kind::Unsubscribe).is_none());
                    }
                    Err(Error::Full) => {}
                    Err(e) => panic!("unsubscribe: {e:?}"),
                }
            }
            Op::AppAck { pick } => {
                if self.app_acks.is_empty() {
                    return;
                }
                let tok = self
                    .app_acks
                    .remove(usize::from(pick) % self.app_acks.len());
                let r = self.t.s.ack(tok);
                self.log.push(format!("  ack {tok:?} -> {r:?}"));
                assert!(matches!(r, Ok(()) | Err(Error::UnknownToken)), "{r:?}");
            }
            Op::ServerAck { pick, error } => {
                if !self.connected() {
                    return;
                }
                self.server_ack(pick, error && self.s.v.is_v5());
            }
            Op::ServerBogusAck { kind, id } => {
                if !self.connected() || self.t.s.state() != ConnState::Connected {
                    return;
                }
                let mut id = id;
                while self.srv.pubs.contains_key(&id) || self.srv.reqs.contains_key(&id) {
                    id += 1;
                }
                let unsub_codes: &[ReasonCode] = if self.s.v.is_v5() {
                    &[ReasonCode::Success]
                } else {
                    &[]
                };
                let codes = [ReasonCode::Success];
                let p = match kind {
                    0 => puback(id),
                    1 => pubrec(id),
                    2 => pubcomp(id),
                    3 => suback(id, &codes),
                    _ => unsuback(id, unsub_codes),
                };
                let ty = p.packet_type();
                self.send(p);
                self.observe();
                let expected = ConnectionError::ProtocolViolation {
                    reason_code: ReasonCode::ProtocolError,
                    fault: PeerFault::UnknownPacketId(ty, id),
                };
                assert!(
                    self.step_events.contains(&Ev::ConnectionLost(expected)),
                    "bogus {ty:?} {id}: {:?}",
                    self.step_events
                );
                if self.transport_open {
                    // 5.0: the DISCONNECT went out and the close was asked for.
                    panic!("the connection is still open after a protocol error");
                }
            }
            Op::ServerPublish { qos, id, topic } => {
                if !self.connected() {
                    return;
                }
                self.server_publish(qos, id, topic);
            }
            Op::ServerPubRel { pick, bogus } => {
                if !self.connected() {
                    return;
                }
                if bogus {
                    let mut id = u16::from(pick).max(1);
                    while self.srv.srv_out.contains_key(&id) {
                        id += 1;
                    }
                    self.srv.expect_pubcomp.insert(id);
                    self.send(pubrel(id));
                } else {
                    let recd: Vec<u16> = self
                        .srv
                        .srv_out
                        .iter()
                        .filter(|(_, s)| **s == SrvOut::Recd)
                        .map(|(id, _)| *id)
                        .collect();
                    if recd.is_empty() {
                        return;
                    }
                    let id = recd[usize::from(pick) % recd.len()];
                    self.srv.srv_out.insert(id, SrvOut::Released);
                    self.send(pubrel(id));
                }
            }
            Op::PingResp => {
                if self.connected() {
                    self.send(Packet::PingResp);
                }
            }
            Op::Time { ms: d } => {
                let target = now + Duration::from_millis(u64::from(d));
                while let Some(at) = self.t.s.poll_timeout().filter(|at| *at <= target) {
                    self.t.advance_to(at.max(self.t.now));
                    self.observe();
                }
                self.t.advance_to(target);
            }
            Op::FireTimeout => {
                if let Some(at) = self.t.s.poll_timeout() {
                    self.t.advance_to(at.max(now));
                }
            }
            Op::TransportUp => {
                let before = self.t.s.state();
                self.t.transport_up();
                if self.opening {
                    self.opening = false;
                    self.transport_open = true;
                    self.srv.conn += 1;
                    self.srv.receive_max = u16::MAX;
                    self.srv.max_qos = 2;
                    self.srv.max_packet_size = u32::MAX;
                    self.srv.retain_available = true;
                    self.srv.alias_max = 0;
                    self.srv.aliases.clear();
                } else {
                    assert_eq!(self.t.s.state(), before, "transport up nobody asked for");
                }
            }
            Op::TransportDown => {
                if self.transport_open {
                    self.connection_end();
                }
                self.opening = false;
                self.t.transport_down();
            }
            Op::ConnAck {
                limits,
                keep_session,
                rogue,
                receive_max,
                max_qos,
                rc,
            } => {
                if !(self.transport_open && self.srv.seen_connect && !self.srv.connacked) {
                    return;
                }
                let rc = rc_for(rc, self.s.v);
                self.connack(limits, keep_session, rogue, receive_max, max_qos, rc);
            }
            Op::RandomBytes(ref bytes) => {
                if !self.transport_open {
                    return;
                }
                self.t.server_bytes(bytes);
                self.observe();
                // The server's view may no longer match: end this connection and let
                // the next CONNACK start a new session.
                self.srv.tainted = true;
                if self.transport_open {
                    self.connection_end();
                    self.opening = false;
                    self.t.transport_down();
                }
            }
            Op::Disconnect => self.t.disconnect(),
            Op::Connect => self.t.connect(),
            Op::Heal => match self.t.s.state() {
                ConnState::Idle => self.t.connect(),
                ConnState::Opening if self.opening => return self.step(&Op::TransportUp),
                ConnState::AwaitConnAck if self.srv.seen_connect && !self.srv.connacked => {
                    self.connack(0, true, false, 0, 2, ReasonCode::Success)
                }
                ConnState::Waiting => return self.step(&Op::FireTimeout),
                _ => {}
            },
        }
        self.observe();
    }

    fn connack(
        &mut self,
        limits: u8,
        keep_session: bool,
        rogue: bool,
        receive_max: u8,
        max_qos: u8,
        rc: ReasonCode,
    ) {
        let v5 = self.s.v.is_v5();
        let legit_sp =
            self.srv.has_session && !self.srv.clean_start && !self.srv.tainted && keep_session;
        let success = rc == ReasonCode::Success;
        let sp = success && (legit_sp != rogue);
        let mut props = Vec::new();
        if v5 && success {
            if receive_max > 0 {
                props.push(Property::ReceiveMaximum(u16::from(receive_max)));
            }
            if max_qos < 2 {
                props.push(Property::MaximumQoS(if max_qos == 0 {
                    QoS::AtMostOnce
                } else {
                    QoS::AtLeastOnce
                }));
            }
            if limits & 3 > 0 {
                props.push(Property::TopicAliasMaximum(u16::from(limits & 3)));
            }
            if limits & 4 != 0 {
                props.push(Property::MaximumPacketSize(40));
            }
            if limits & 8 != 0 {
                props.push(Property::RetainAvailable(false));
            }
        }
        let client_expects_session = !self.srv.clean_start;
        if sp && !legit_sp {
            // A server claiming a session it does not have: its view is unreliable.
            self.srv.tainted = true;
        }
        if success && (!sp || client_expects_session) {
            // Accepted.
            self.srv.connacked = true;
            self.srv.receive_max = if v5 && receive_max > 0 {
                u16::from(receive_max)
            } else {
                u16::MAX
            };
            self.srv.max_qos = if v5 && max_qos < 2 { max_qos } else { 2 };
            if v5 {
                self.srv.alias_max = u16::from(limits & 3);
                self.srv.aliases = vec![None; usize::from(limits & 3) + 1];
                if limits & 4 != 0 {
                    self.srv.max_packet_size = 40;
                }
                self.srv.retain_available = limits & 8 == 0;
            }
            if !sp {
                self.srv.clear_session();
            } else {
                let manual = self.s.manual_ack;
                self.srv.carried = self
                    .srv
                    .srv_out
                    .iter()
                    .filter(|(_, s)| {
                        matches!(s, SrvOut::Recd)
                            || (!manual && matches!(s, SrvOut::Sent { qos: 2 }))
                    })
                    .map(|(id, _)| *id)
                    .collect();
                self.srv.carried_maybe = self
                    .srv
                    .srv_out
                    .iter()
                    .filter(|(_, s)| manual && matches!(s, SrvOut::Sent { .. }))
                    .map(|(id, _)| *id)
                    .collect();
            }
            if self.s.persistent {
                self.srv.has_session = true;
            }
        }
        self.send(connack(sp, rc, &props));
        self.observe();
        let connected = self.step_events.contains(&Ev::Connected {
            session_present: sp,
        });
        if self.srv.connacked {
            assert!(connected, "CONNACK accepted but {:?}", self.step_events);
        } else {
            assert!(!connected);
            assert!(
                self.lost_connection(),
                "refused CONNACK: {:?}",
                self.step_events
            );
        }
    }

    /// Answers one of the client's packets still waiting for the server, if any.
    fn server_ack(&mut self, pick: u8, error: bool) -> bool {
        let conn = self.srv.conn;
        let mut cands: Vec<(bool, u16)> = self
            .srv
            .pubs
            .iter()
            .filter(|(_, (st, c))| *c == conn && *st != CliPub::Recd)
            .map(|(id, _)| (true, *id))
            .collect();
        cands.extend(
            self.srv
                .reqs
                .iter()
                .filter(|(_, (_, _, c))| *c == conn)
                .map(|(id, _)| (false, *id)),
        );
        if cands.is_empty() {
            return false;
        }
        let (is_pub, id) = cands[usize::from(pick) % cands.len()];
        let srv = &mut self.srv;
        if is_pub {
            let (st, _) = srv.pubs[&id];
            match st {
                CliPub::AwaitAck { qos: 1 } => {
                    srv.pubs.remove(&id);
                    srv.inflight_conn.remove(&id);
                    let rc = if error {
                        ReasonCode::UnspecifiedError
                    } else {
                        ReasonCode::Success
                    };
                    self.send(puback_rc(id, rc));
                }
                CliPub::AwaitAck { .. } => {
                    if error {
                        srv.pubs.remove(&id);
                        srv.inflight_conn.remove(&id);
                        self.send(pubrec_rc(id, ReasonCode::QuotaExceeded));
                    } else {
                        srv.pubs.insert(id, (CliPub::Recd, conn));
                        self.send(pubrec(id));
                    }
                }
                CliPub::Released => {
                    srv.pubs.remove(&id);
                    srv.inflight_conn.remove(&id);
                    self.send(pubcomp(id));
                }
                CliPub::Recd => unreachable!(),
            }
        } else {
            let (sub, n, _) = srv.reqs.remove(&id).unwrap();
            let v5 = self.s.v.is_v5();
            if sub {
                let code = if error {
                    ReasonCode::UnspecifiedError
                } else {
                    ReasonCode::GrantedQoS1
                };
                let codes = vec![code; n];
                self.send(suback(id, &codes));
            } else {
                let codes = if v5 {
                    vec![ReasonCode::Success; n]
                } else {
                    Vec::new()
                };
                self.send(unsuback(id, &codes));
            }
        }
        true
    }

    fn server_publish(&mut self, qos: u8, id: u16, topic: u8) {
        let topic = TOPICS[usize::from(topic)];
        if qos == 0 {
            self.send(publish(topic, b"m", 0, 0));
            self.observe();
            assert!(
                self.step_events.iter().any(|e| matches!(e, Ev::Message(_))),
                "QoS 0 not delivered: {:?}",
                self.step_events
            );
            return;
        }
        if let Some(st) = self.srv.srv_out.get(&id).copied() {
            // A resend (DUP) of a message in progress.
            let q = match st {
                SrvOut::Sent { qos } => qos,
                _ => 2,
            };
            if st == SrvOut::Released {
                return;
            }
            self.srv.carried.remove(&id);
            self.srv.carried_maybe.remove(&id);
            self.send(publish_pkt(true, q, id, false, topic, &[], b"m"));
            self.observe();
            let delivered = self.step_events.iter().any(|e| matches!(e, Ev::Message(_)));
            if q == 2 {
                assert!(!delivered, "[MQTT-4.3.3-10] QoS 2 delivered twice");
            }
            return;
        }
        let srv = &self.srv;
        let pending = srv
            .srv_out
            .iter()
            .filter(|(id, s)| **s != SrvOut::Released && !srv.carried.contains(id))
            .count();
        let maybe = srv
            .carried_maybe
            .iter()
            .filter(|id| matches!(srv.srv_out.get(id), Some(SrvOut::Sent { .. })))
            .count();
        let lenient = pending - maybe;
        let needs_entry = qos == 2 || self.s.manual_ack;
        // 3.1.1 cannot announce a Receive Maximum: the limit is the table's capacity.
        let rm = if self.s.v.is_v5() {
            usize::from(self.s.receive_maximum)
        } else {
            IN_CAP
        };
        // Whether the client counts a carried manual-ack QoS 1 message depends on whether
        // it still holds it; beyond that, the count is exact.
        let over_strict = needs_entry && pending >= rm;
        let over_lenient = needs_entry && lenient >= rm;
        self.srv.srv_out.insert(id, SrvOut::Sent { qos });
        self.srv.arrival.push_back(id);
        self.send(publish(topic, b"m", qos, id));
        self.observe();
        let delivered = self.step_events.iter().any(|e| matches!(e, Ev::Message(_)));
        let exceeded = self.step_events.iter().any(|e| {
            matches!(
                e,
                Ev::ConnectionLost(ConnectionError::ProtocolViolation {
                    fault: PeerFault::ReceiveMaximumExceeded,
                    ..
                })
            )
        });
        assert!(
            (!exceeded || over_strict) && (exceeded || !over_lenient),
            "Receive Maximum {} with {pending} pending ({maybe} maybe): exceeded = {exceeded}",
            self.s.receive_maximum
        );
        let over = exceeded;
        assert_eq!(
            delivered, !over,
            "delivery of a new message: {:?}",
            self.step_events
        );
        if over {
            // Never acknowledged: forget it.
            self.srv.srv_out.remove(&id);
            self.srv.arrival.retain(|x| *x != id);
        }
    }

    /// A well-behaved server answers everything until every operation is reported.
    fn settle(&mut self) {
        for _ in 0..2_000 {
            if self.issued.is_empty() && self.t.s.outstanding() == 0 {
                return;
            }
            self.step_events.clear();
            let now = self.t.now;
            match self.t.s.state() {
                ConnState::Idle => self.t.connect(),
                ConnState::Opening if self.opening => self.step(&Op::TransportUp),
                ConnState::AwaitConnAck if self.srv.seen_connect && !self.srv.connacked => {
                    self.connack(0, true, false, 0, 2, ReasonCode::Success)
                }
                ConnState::Connected if self.connected() => {
                    for tok in std::mem::take(&mut self.app_acks) {
                        let _ = self.t.s.ack(tok);
                        self.t.drain();
                        self.observe();
                    }
                    if self.server_ack(0, false) {
                        self.observe();
                        continue;
                    }
                    let rel: Vec<u16> = self
                        .srv
                        .srv_out
                        .iter()
                        .filter(|(_, s)| **s == SrvOut::Recd)
                        .map(|(i, _)| *i)
                        .collect();
                    for id in rel {
                        self.srv.srv_out.insert(id, SrvOut::Released);
                        self.send(pubrel(id));
                        self.observe();
                    }
                    self.send(Packet::PingResp);
                    self.t.advance_to(now + Duration::from_millis(1_000));
                }
                _ => match self.t.s.poll_timeout() {
                    Some(at) => self.t.advance_to(at.max(now)),
                    None => self.t.advance_to(now + Duration::from_millis(1_000)),
                },
            }
            self.observe();
        }
        panic!(
            "never settled: unreported {:?}, outstanding {}, state {:?}",
            self.issued,
            self.t.s.outstanding(),
            self.t.s.state()
        );
    }
}

fn run(s: Setup, ops: &[Op]) {
    let mut m = Model::new(s);
    m.t.connect();
    m.observe();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for op in ops {
            m.step(op);
        }
        m.settle();
        assert!(
            m.issued.is_empty(),
            "operations never reported: {:?}",
            m.issued
        );
    }));
    if let Err(e) = result {
        let tail: Vec<&String> = m.log.iter().rev().take(60).collect();
        eprintln!("--- last steps (newest first) ---");
        for l in tail {
            eprintln!("{l}");
        }
        std::panic::resume_unwind(e);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 4_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The session against the reference model, both protocol versions, every policy.
    #[test]
    fn session_matches_model(s in setup(), ops in prop::collection::vec(op(), 1..150)) {
        run(s, &ops);
    }
}

/// A case the model test found and shrank (3.1.1, persistent session; fixed in 4c16466): a
/// QoS 2 publish and a subscription queued before connecting; the first CONNACK makes
/// the session subscribe the filter a second time (the duplicate-SUBSCRIBE bug); the
/// caller unsubscribes; after a protocol error the session resumes, the pending
/// resubscription has no record any more and becomes `Lost(Discarded)`, and `set_state`
/// removed `Key::Out(0)`: the QoS 2 publish's PUBREL. On the next resume that PUBREL was
/// "sent" as nothing, and the publish was never completed nor reported lost.
#[test]
fn model_regression_lost_resubscribe_drops_pubrel() {
    let s = Setup {
        v: V311,
        persistent: true,
        manual_ack: false,
        queue_qos0_offline: false,
        resend_on_session_loss: false,
        keep_alive: 0,
        receive_maximum: 16,
        resubscribe: true,
        seed: 11_392_055_670_742_200_905,
    };
    let q0 = Op::Publish {
        qos: 0,
        topic: 0,
        len: 0,
        retain: false,
    };
    let mut ops = vec![
        Op::Publish {
            qos: 2,
            topic: 0,
            len: 0,
            retain: false,
        },
        Op::Heal,
        Op::Subscribe { filter: 0, qos: 0 },
        Op::Heal,
        Op::ServerAck {
            pick: 15,
            error: false,
        },
        q0.clone(),
        Op::ServerBogusAck { kind: 0, id: 1 },
    ];
    ops.extend(std::iter::repeat_n(q0.clone(), 14));
    ops.push(Op::Unsubscribe { filter: 0 });
    ops.extend(std::iter::repeat_n(q0, 6));
    ops.extend([
        Op::Heal,
        Op::Heal,
        Op::Heal,
        Op::ServerBogusAck { kind: 0, id: 1 },
    ]);
    run(s, &ops);
}

//! An in-process, sans-IO MQTT broker model: the server side of what a client needs,
//! for MQTT 3.1.1 and 5.0, driven by bytes in and bytes out.
//!
//! # What it does
//! - CONNECT/CONNACK with sessions keyed by client id: Session Present when it holds a
//!   session and Clean Start is 0; session expiry (5.0 Session Expiry Interval, 3.1.1
//!   Clean Session); session takeover (5.0: DISCONNECT 0x8E to the old connection);
//!   assigned client ids (5.0, empty client id). 5.0 CONNACK carries the configured
//!   Receive Maximum, Maximum Packet Size, Topic Alias Maximum and Server Keep Alive.
//! - PUBLISH from the client at QoS 0/1/2 with PUBACK / PUBREC / PUBCOMP; QoS 2 is
//!   exactly-once on the broker side (the id is remembered from PUBLISH until PUBCOMP is
//!   handed to the transport, so a DUP resend is never routed twice). 5.0: a publish to
//!   `deny_prefix` is refused with 0x87, one nobody subscribed to gets 0x10.
//! - Routing to every matching session (the client's own included), at
//!   `min(publish QoS, subscription QoS)`; QoS 1/2 towards the client respect the
//!   client's Receive Maximum (3.1.1: `v3_max_inflight`) and Maximum Packet Size
//!   (a message too large is discarded, as [MQTT-3.1.2-25] says), and may use topic
//!   aliases (including re-binding an alias to another topic).
//! - SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK, PINGREQ/PINGRESP, DISCONNECT, keepalive
//!   enforcement (1.5 x keep alive, then 5.0 DISCONNECT 0x8D and close).
//! - Persistent sessions: subscriptions, queued and unacknowledged outgoing messages
//!   (resent with DUP, PUBREL resent, in order, on resumption) and incoming QoS 2 ids.
//! - Acks (and everything queued behind them, in order) are held back a random time up
//!   to `max_ack_delay` before they reach the transport, as a busy broker would; PINGRESP
//!   up to `slow_pingresp`.
//! - [`Broker::restart`] drops every connection and keeps or loses every session.
//!
//! # What it checks (client obligations), recorded as [`Violation`]s
//! Only what the broker can know for sure, so a violation is always the client's fault:
//! - every packet decodes (this covers packet id 0, bad flags, DUP on QoS 0, a packet
//!   over the announced Maximum Packet Size, ...);
//! - CONNECT first and only once; nothing after DISCONNECT; no server-only packets;
//! - a packet id is not reused while the broker knows it is still in flight for the
//!   client: a QoS 1 PUBLISH, SUBSCRIBE or UNSUBSCRIBE whose ack has not been handed to
//!   the transport, or a QoS 2 PUBLISH whose PUBCOMP has not been handed to the transport;
//! - a resend of such a PUBLISH carries DUP, is identical, comes on a later connection
//!   (5.0), and a QoS 2 PUBLISH is not resent after its PUBREL;
//! - 5.0: no more QoS 1/2 PUBLISH in flight than the announced Receive Maximum (counted
//!   as above, which never exceeds what the client must count);
//! - acknowledgements in the order the messages were first sent on the connection
//!   [MQTT-4.6.0-2] [MQTT-4.6.0-3] (a resend's ack may answer the earlier delivery);
//! - topic aliases within the announced Topic Alias Maximum.

use std::collections::{BTreeMap, VecDeque};

use mqtt_proto::{Decoded, Decoder, ProtocolVersion, QoS, ReasonCode, topic};
use mqtt_session::{Duration, Instant, Rng};

use crate::wire::Pkt;

/// Names one transport connection to the broker.
pub type ConnId = u64;

/// What the broker announces and how it behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// 5.0 Receive Maximum announced in CONNACK and enforced.
    pub receive_maximum: Option<u16>,
    /// 5.0 Maximum Packet Size announced in CONNACK and enforced.
    pub maximum_packet_size: Option<u32>,
    /// 5.0 Topic Alias Maximum announced in CONNACK: aliases the client may use.
    pub topic_alias_maximum: Option<u16>,
    /// 5.0 Server Keep Alive announced in CONNACK (and used instead of the client's).
    pub server_keep_alive: Option<u16>,
    /// Most QoS 1/2 messages in flight to a 3.1.1 client (3.1.1 cannot announce it).
    pub v3_max_inflight: u16,
    /// Acks are held back a random time in `0..=max_ack_delay`.
    pub max_ack_delay: Duration,
    /// PINGRESP is held back a random time in `0..=slow_pingresp` (a busy or slow server).
    pub slow_pingresp: Duration,
    /// How many topic aliases the broker uses towards a 5.0 client that allows them.
    pub aliases_to_client: u16,
    /// 5.0: PUBLISH to topics starting with this prefix is refused (Not Authorized).
    pub deny_prefix: Option<String>,
    /// Seed of the broker's own randomness (ack delays, alias choices).
    pub seed: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            receive_maximum: None,
            maximum_packet_size: None,
            topic_alias_maximum: None,
            server_keep_alive: None,
            v3_max_inflight: 20,
            max_ack_delay: Duration::ZERO,
            slow_pingresp: Duration::ZERO,
            aliases_to_client: 0,
            deny_prefix: None,
            seed: 0,
        }
    }
}

/// A client obligation the broker saw broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The connection.
    pub conn: ConnId,
    /// The client, once known.
    pub client_id: Option<String>,
    /// When.
    pub at: Instant,
    /// Short rule name (`pid-in-use`, `receive-maximum-exceeded`, ...).
    pub rule: &'static str,
    /// What exactly.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "broker saw client violation [{}] on conn {} ({:?}) at {} ms: {}",
            self.rule,
            self.conn,
            self.client_id,
            self.at.as_millis(),
            self.detail
        )
    }
}

/// Things the broker did that a test may want to follow, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A new (empty) session; `epoch` is unique across all sessions and restarts.
    SessionCreated {
        /// Client id.
        client_id: String,
        /// Session epoch.
        epoch: u64,
        /// Connection.
        conn: ConnId,
    },
    /// An existing session was resumed (CONNACK Session Present = 1).
    SessionResumed {
        /// Client id.
        client_id: String,
        /// Session epoch.
        epoch: u64,
        /// Connection.
        conn: ConnId,
    },
    /// A session ended (expiry 0 at disconnect, expired, clean start, restart without state).
    SessionEnded {
        /// Client id.
        client_id: String,
        /// Session epoch.
        epoch: u64,
        /// Why.
        why: &'static str,
    },
    /// A PUBLISH from a client. `fresh`: accepted as a new message (QoS 2 resends are not).
    Received {
        /// Connection.
        conn: ConnId,
        /// Publisher.
        client_id: String,
        /// Packet id (0 for QoS 0).
        pid: u16,
        /// QoS.
        qos: QoS,
        /// DUP flag.
        dup: bool,
        /// Topic (resolved alias).
        topic: String,
        /// Payload.
        payload: Vec<u8>,
        /// A new message (routed unless refused).
        fresh: bool,
        /// Refused (deny prefix).
        refused: bool,
    },
    /// A message was queued for a session.
    Routed {
        /// Unique routing id.
        route: u64,
        /// Subscriber.
        to: String,
        /// The subscriber's session epoch.
        epoch: u64,
        /// Topic.
        topic: String,
        /// Payload.
        payload: Vec<u8>,
        /// QoS it is delivered with.
        qos: QoS,
    },
    /// A routed message will never be sent (too large for the client).
    Discarded {
        /// Routing id.
        route: u64,
        /// Why.
        why: &'static str,
    },
    /// A routed message was handed to the transport (QoS 0) or acknowledged (QoS 1/2).
    Completed {
        /// Routing id.
        route: u64,
    },
    /// A connection went quiet for 1.5 x keep alive and was closed.
    KeepAliveExpired {
        /// Connection.
        conn: ConnId,
    },
    /// The client sent DISCONNECT.
    ClientDisconnect {
        /// Connection.
        conn: ConnId,
        /// Its reason code.
        reason_code: ReasonCode,
    },
    /// A connection ended.
    Closed {
        /// Connection.
        conn: ConnId,
        /// Why.
        why: &'static str,
    },
    /// The broker restarted.
    Restarted {
        /// Sessions kept.
        keep_state: bool,
    },
    /// A client obligation was broken.
    Violation(Violation),
}

/// What [`Broker::poll_transmit`] hands the transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes to send.
    pub bytes: Vec<u8>,
    /// The broker closed the connection: send `bytes`, then close. The id is forgotten.
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PidKind {
    Qos1 {
        topic: String,
        payload: Vec<u8>,
    },
    Qos2 {
        topic: String,
        payload: Vec<u8>,
        rel_received: bool,
    },
    Subscribe,
    Unsubscribe,
}

/// A packet id the client holds, as far as the broker can know.
#[derive(Clone, Debug)]
struct ClientPid {
    kind: PidKind,
    conn: ConnId,
    stamp: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutState {
    Queued,
    Sent,
    /// PUBREC received, PUBREL sent; waiting for PUBCOMP.
    Released,
}

#[derive(Clone, Debug)]
struct OutMsg {
    route: u64,
    pid: u16,
    qos: QoS,
    topic: String,
    payload: Vec<u8>,
    state: OutState,
}

#[derive(Debug)]
struct BSession {
    epoch: u64,
    conn: Option<ConnId>,
    /// Seconds; `u32::MAX`: never expires.
    expiry_secs: u32,
    expires_at: Option<Instant>,
    subs: BTreeMap<String, QoS>,
    client_pids: BTreeMap<u16, ClientPid>,
    outq: VecDeque<OutMsg>,
    next_pid: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitConnect,
    Connected,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Meta {
    None,
    /// Once handed to the transport, the client pid `(pid, stamp)` is free.
    Release(u16, u64),
}

#[derive(Debug)]
struct Queued {
    release: Instant,
    bytes: Vec<u8>,
    meta: Meta,
}

#[derive(Debug)]
struct Conn {
    phase: Phase,
    version: ProtocolVersion,
    rx: Vec<u8>,
    out: VecDeque<Queued>,
    last_release: Instant,
    client_id: Option<String>,
    keep_alive_ms: u64,
    last_recv: Instant,
    client_rm: u16,
    client_max_packet: u32,
    client_tam: u16,
    aliases_out: BTreeMap<u16, String>,
    aliases_in: BTreeMap<u16, String>,
    expect_puback: VecDeque<u16>,
    expect_pubrec: VecDeque<u16>,
    got_disconnect: bool,
}

/// The broker model. See the module documentation.
#[derive(Debug)]
pub struct Broker {
    cfg: BrokerConfig,
    rng: Rng,
    now: Instant,
    conns: BTreeMap<ConnId, Conn>,
    sessions: BTreeMap<String, BSession>,
    next_conn: ConnId,
    next_epoch: u64,
    next_route: u64,
    next_gen: u64,
    next_auto_id: u64,
    notices: Vec<Notice>,
    violations: Vec<Violation>,
}

fn granted(q: QoS) -> ReasonCode {
    match q {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

impl Broker {
    /// A broker with no connections and no sessions.
    pub fn new(cfg: BrokerConfig) -> Self {
        Broker {
            rng: Rng::new(cfg.seed ^ 0xB20C_E200_0000_0001),
            cfg,
            now: Instant::ZERO,
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_conn: 1,
            next_epoch: 1,
            next_route: 1,
            next_gen: 1,
            next_auto_id: 1,
            notices: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.cfg
    }

    /// Every violation seen so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Takes the notices since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The epoch of the session held for `client_id`.
    pub fn session_epoch(&self, client_id: &str) -> Option<u64> {
        self.sessions.get(client_id).map(|s| s.epoch)
    }

    /// Whether a session for `client_id` is held.
    pub fn has_session(&self, client_id: &str) -> bool {
        self.sessions.contains_key(client_id)
    }

    /// The subscriptions of `client_id`'s session.
    pub fn subscriptions(&self, client_id: &str) -> Vec<(String, QoS)> {
        self.sessions
            .get(client_id)
            .map(|s| s.subs.iter().map(|(f, q)| (f.clone(), *q)).collect())
            .unwrap_or_default()
    }

    /// True when nothing is pending for `client_id` in either direction: no message queued
    /// or unacknowledged towards it, no packet id of its in flight, no output held back.
    pub fn session_idle(&self, client_id: &str) -> bool {
        let Some(s) = self.sessions.get(client_id) else {
            return true;
        };
        let held = s
            .conn
            .and_then(|c| self.conns.get(&c))
            .is_some_and(|c| !c.out.is_empty());
        s.outq.is_empty() && s.client_pids.is_empty() && !held
    }

    /// A one-line description of `client_id`'s session, for traces.
    pub fn describe_session(&self, client_id: &str) -> String {
        match self.sessions.get(client_id) {
            None => "no session".into(),
            Some(s) => format!(
                "epoch={} conn={:?} subs={:?} outq={:?} client_pids={:?}",
                s.epoch,
                s.conn,
                s.subs,
                s.outq
                    .iter()
                    .map(|m| (m.route, m.pid, m.qos as u8, m.state))
                    .collect::<Vec<_>>(),
                s.client_pids
                    .iter()
                    .map(|(p, e)| (*p, e.conn))
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Open connections.
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// Whether the connection is known and not closed.
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.phase != Phase::Closed)
    }

    fn set_now(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    /// A transport connection was accepted.
    pub fn accept(&mut self, now: Instant) -> ConnId {
        self.set_now(now);
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                phase: Phase::AwaitConnect,
                version: ProtocolVersion::V5,
                rx: Vec::new(),
                out: VecDeque::new(),
                last_release: self.now,
                client_id: None,
                keep_alive_ms: 0,
                last_recv: self.now,
                client_rm: u16::MAX,
                client_max_packet: u32::MAX,
                client_tam: 0,
                aliases_out: BTreeMap::new(),
                aliases_in: BTreeMap::new(),
                expect_puback: VecDeque::new(),
                expect_pubrec: VecDeque::new(),
                got_disconnect: false,
            },
        );
        id
    }

    /// The transport under `conn` closed (the client closed it or the network failed).
    pub fn handle_close(&mut self, now: Instant, conn: ConnId) {
        self.set_now(now);
        if let Some(c) = self.conns.get(&conn) {
            if c.phase != Phase::Closed {
                self.detach(conn);
                self.notices.push(Notice::Closed {
                    conn,
                    why: "transport closed",
                });
            }
            self.conns.remove(&conn);
        }
    }

    /// Drops every connection; keeps every session or loses them all. Returns the
    /// connections that were open.
    pub fn restart(&mut self, now: Instant, keep_state: bool) -> Vec<ConnId> {
        self.set_now(now);
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for &id in &ids {
            if self
                .conns
                .get(&id)
                .is_some_and(|c| c.phase != Phase::Closed)
            {
                self.detach(id);
            }
        }
        self.conns.clear();
        if !keep_state {
            for (client_id, s) in std::mem::take(&mut self.sessions) {
                self.notices.push(Notice::SessionEnded {
                    client_id,
                    epoch: s.epoch,
                    why: "broker restarted without state",
                });
            }
        }
        self.notices.push(Notice::Restarted { keep_state });
        ids
    }

    /// When `handle_timeout` or `poll_transmit` has something to do next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for c in self.conns.values() {
            if let Some(q) = c.out.front() {
                consider(q.release);
            }
            if c.phase == Phase::Connected && c.keep_alive_ms > 0 {
                consider(c.last_recv + Duration::from_millis(c.keep_alive_ms * 3 / 2));
            }
        }
        for s in self.sessions.values() {
            if let (None, Some(t)) = (s.conn, s.expires_at) {
                consider(t);
            }
        }
        next
    }

    /// Keepalive enforcement and session expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.set_now(now);
        let expired: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.phase == Phase::Connected
                    && c.keep_alive_ms > 0
                    && self.now >= c.last_recv + Duration::from_millis(c.keep_alive_ms * 3 / 2)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in expired {
            self.notices.push(Notice::KeepAliveExpired { conn });
            self.close(
                conn,
                Some(ReasonCode::KeepAliveTimeout),
                "keep alive expired",
            );
        }
        let gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.conn.is_none() && s.expires_at.is_some_and(|t| t <= self.now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(s) = self.sessions.remove(&id) {
                self.notices.push(Notice::SessionEnded {
                    client_id: id,
                    epoch: s.epoch,
                    why: "expired",
                });
            }
        }
    }

    /// Bytes for `conn` whose time has come.
    pub fn poll_transmit(&mut self, now: Instant, conn: ConnId) -> Transmit {
        self.set_now(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return Transmit {
                bytes: Vec::new(),
                closed: true,
            };
        };
        let mut t = Transmit::default();
        let closed = c.phase == Phase::Closed;
        let mut released = Vec::new();
        while let Some(q) = c.out.front() {
            if !closed && q.release > self.now {
                break;
            }
            let Some(q) = c.out.pop_front() else { break };
            t.bytes.extend_from_slice(&q.bytes);
            if let Meta::Release(pid, stamp) = q.meta {
                released.push((pid, stamp));
            }
        }
        let client_id = c.client_id.clone();
        if closed {
            t.closed = true;
            self.conns.remove(&conn);
        }
        if let Some(s) = client_id.and_then(|id| self.sessions.get_mut(&id)) {
            for (pid, stamp) in released {
                if s.client_pids.get(&pid).is_some_and(|e| e.stamp == stamp) {
                    s.client_pids.remove(&pid);
                }
            }
        }
        t
    }

    /// Bytes from the client on `conn`.
    pub fn handle_input(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        self.set_now(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.got_disconnect {
            if !data.is_empty() {
                let client_id = c.client_id.clone();
                self.violate(
                    conn,
                    client_id,
                    "after-disconnect",
                    format!("{} bytes after DISCONNECT [MQTT-3.14.4-2]", data.len()),
                );
            }
            return;
        }
        if c.phase == Phase::Closed {
            return;
        }
        c.rx.extend_from_slice(data);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.phase == Phase::Closed {
                if c.got_disconnect && !c.rx.is_empty() {
                    let (n, client_id) = (c.rx.len(), c.client_id.clone());
                    c.rx.clear();
                    self.violate(
                        conn,
                        client_id,
                        "after-disconnect",
                        format!("{n} bytes after DISCONNECT [MQTT-3.14.4-2]"),
                    );
                }
                return;
            }
            let mut dec = Decoder::new(c.version);
            if c.phase == Phase::Connected
                && c.version.is_v5()
                && let Some(max) = self.cfg.maximum_packet_size
            {
                dec = dec.max_packet_size(max);
            }
            let pkt = match dec.decode(&c.rx) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    let p = Pkt::from_packet(&packet);
                    c.rx.drain(..consumed);
                    p
                }
                Ok(Decoded::Incomplete(_)) => return,
                Err(e) => {
                    let client_id = c.client_id.clone();
                    self.violate(conn, client_id, "malformed", format!("{e:?}"));
                    self.close(conn, Some(e.reason_code()), "malformed packet");
                    return;
                }
            };
            c.last_recv = self.now;
            self.on_packet(conn, pkt);
        }
    }

    // ----- internals -------------------------------------------------------------------

    fn violate(
        &mut self,
        conn: ConnId,
        client_id: Option<String>,
        rule: &'static str,
        detail: String,
    ) {
        let v = Violation {
            conn,
            client_id,
            at: self.now,
            rule,
            detail,
        };
        self.violations.push(v.clone());
        self.notices.push(Notice::Violation(v));
    }

    /// A violation that ends the connection.
    fn violate_close(&mut self, conn: ConnId, rule: &'static str, rc: ReasonCode, detail: String) {
        let client_id = self.conns.get(&conn).and_then(|c| c.client_id.clone());
        self.violate(conn, client_id, rule, detail);
        self.close(conn, Some(rc), rule);
    }

    /// The broker closes `conn`: held output is dropped, 5.0 gets a DISCONNECT.
    fn close(&mut self, conn: ConnId, rc: Option<ReasonCode>, why: &'static str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase == Phase::Closed {
            return;
        }
        let was_connected = c.phase == Phase::Connected;
        c.phase = Phase::Closed;
        c.rx.clear();
        c.out.clear();
        if let (Some(rc), true, true) = (rc, c.version.is_v5(), was_connected) {
            let d = Pkt::Disconnect {
                reason_code: rc,
                session_expiry: None,
            };
            if let Ok(bytes) = d.encode(c.version) {
                c.out.push_back(Queued {
                    release: self.now,
                    bytes,
                    meta: Meta::None,
                });
            }
        }
        self.detach(conn);
        self.notices.push(Notice::Closed { conn, why });
    }

    /// The session attached to `conn` loses its connection (and ends if it does not persist).
    fn detach(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.phase = Phase::Closed;
        let Some(id) = c.client_id.clone() else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        // Only PUBLISH and PUBREL are resent on resumption [MQTT-4.4.0-1]: an unanswered
        // SUBSCRIBE or UNSUBSCRIBE id dies with the connection that carried its ack.
        s.client_pids
            .retain(|_, e| !matches!(e.kind, PidKind::Subscribe | PidKind::Unsubscribe));
        match s.expiry_secs {
            0 => {
                let epoch = s.epoch;
                self.sessions.remove(&id);
                self.notices.push(Notice::SessionEnded {
                    client_id: id,
                    epoch,
                    why: "session expiry 0 at disconnect",
                });
            }
            u32::MAX => s.expires_at = None,
            secs => s.expires_at = Some(self.now + Duration::from_secs(u64::from(secs))),
        }
    }

    /// Queues `pkt` on `conn`; acks are held back a random time. Output stays in order.
    fn send(&mut self, conn: ConnId, pkt: &Pkt, meta: Meta) {
        let is_ack = matches!(
            pkt,
            Pkt::PubAck(..)
                | Pkt::PubRec(..)
                | Pkt::PubRel(..)
                | Pkt::PubComp(..)
                | Pkt::SubAck { .. }
                | Pkt::UnsubAck { .. }
        );
        let max = match pkt {
            Pkt::PingResp => self.cfg.slow_pingresp,
            _ if is_ack => self.cfg.max_ack_delay,
            _ => Duration::ZERO,
        };
        let delay = if max > Duration::ZERO {
            Duration::from_millis(self.rng.below(max.as_millis() + 1))
        } else {
            Duration::ZERO
        };
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase == Phase::Closed {
            return;
        }
        let Ok(bytes) = pkt.encode(c.version) else {
            // The model only builds valid packets; an encoding failure is a model bug.
            panic!("broker model built an unencodable packet: {pkt:?}");
        };
        let release = (now + delay).max(c.last_release);
        c.last_release = release;
        c.out.push_back(Queued {
            release,
            bytes,
            meta,
        });
    }

    fn stamp(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn on_packet(&mut self, conn: ConnId, pkt: Pkt) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.phase == Phase::AwaitConnect {
            if matches!(pkt, Pkt::Connect { .. }) {
                self.on_connect(conn, pkt);
            } else {
                self.violate_close(
                    conn,
                    "first-packet-not-connect",
                    ReasonCode::ProtocolError,
                    format!("{pkt} before CONNECT [MQTT-3.1.0-1]"),
                );
            }
            return;
        }
        match pkt {
            Pkt::Connect { .. } => self.violate_close(
                conn,
                "second-connect",
                ReasonCode::ProtocolError,
                "a second CONNECT [MQTT-3.1.0-2]".into(),
            ),
            Pkt::Publish {
                dup,
                qos,
                pid,
                retain: _,
                topic,
                topic_alias,
                payload,
            } => self.on_publish(conn, dup, qos, pid, topic, topic_alias, payload),
            Pkt::PubAck(pid, _) => self.on_puback(conn, pid),
            Pkt::PubRec(pid, rc) => self.on_pubrec(conn, pid, rc),
            Pkt::PubRel(pid, _) => self.on_pubrel(conn, pid),
            Pkt::PubComp(pid, _) => self.on_pubcomp(conn, pid),
            Pkt::Subscribe { pid, filters } => self.on_subscribe(conn, pid, filters),
            Pkt::Unsubscribe { pid, filters } => self.on_unsubscribe(conn, pid, filters),
            Pkt::PingReq => self.send(conn, &Pkt::PingResp, Meta::None),
            Pkt::Disconnect { reason_code, .. } => {
                self.notices
                    .push(Notice::ClientDisconnect { conn, reason_code });
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.got_disconnect = true;
                }
                // The server closes the network connection [MQTT-3.14.4-1 for the client side].
                self.close(conn, None, "client DISCONNECT");
            }
            Pkt::Auth { .. } => self.violate_close(
                conn,
                "unexpected-auth",
                ReasonCode::ProtocolError,
                "AUTH without an authentication method [MQTT-4.12.0-6]".into(),
            ),
            p @ (Pkt::ConnAck { .. }
            | Pkt::SubAck { .. }
            | Pkt::UnsubAck { .. }
            | Pkt::PingResp) => self.violate_close(
                conn,
                "server-packet-from-client",
                ReasonCode::ProtocolError,
                format!("{p} sent by a client"),
            ),
        }
    }

    fn on_connect(&mut self, conn: ConnId, pkt: Pkt) {
        let Pkt::Connect {
            version,
            clean_start,
            keep_alive,
            client_id,
            session_expiry,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
        } = pkt
        else {
            return;
        };
        let v5 = version.is_v5();
        let mut assigned = None;
        let id = if client_id.is_empty() {
            if !v5 && !clean_start {
                // 3.1.1: an empty id needs Clean Session [MQTT-3.1.3-8].
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.version = version;
                }
                let ack = Pkt::ConnAck {
                    session_present: false,
                    reason_code: ReasonCode::ClientIdentifierNotValid,
                    receive_maximum: None,
                    maximum_packet_size: None,
                    topic_alias_maximum: None,
                    server_keep_alive: None,
                    assigned_client_id: None,
                };
                self.send(conn, &ack, Meta::None);
                self.close(conn, None, "empty client id without clean session");
                return;
            }
            let a = format!("auto-{}", self.next_auto_id);
            self.next_auto_id += 1;
            if v5 {
                assigned = Some(a.clone());
            }
            a
        } else {
            client_id
        };
        let expiry_secs = if v5 {
            session_expiry.unwrap_or(0)
        } else if clean_start {
            0
        } else {
            u32::MAX
        };
        // Takeover: the old connection of this client id is closed first.
        if let Some(old) = self.sessions.get(&id).and_then(|s| s.conn) {
            self.close(
                old,
                Some(ReasonCode::SessionTakenOver),
                "session taken over",
            );
        }
        let now = self.now;
        if self
            .sessions
            .get(&id)
            .is_some_and(|s| s.expires_at.is_some_and(|t| t <= now))
            && let Some(s) = self.sessions.remove(&id)
        {
            self.notices.push(Notice::SessionEnded {
                client_id: id.clone(),
                epoch: s.epoch,
                why: "expired",
            });
        }
        if clean_start && let Some(s) = self.sessions.remove(&id) {
            self.notices.push(Notice::SessionEnded {
                client_id: id.clone(),
                epoch: s.epoch,
                why: "clean start",
            });
        }
        let present = self.sessions.contains_key(&id);
        if !present {
            let epoch = self.next_epoch;
            self.next_epoch += 1;
            self.sessions.insert(
                id.clone(),
                BSession {
                    epoch,
                    conn: None,
                    expiry_secs,
                    expires_at: None,
                    subs: BTreeMap::new(),
                    client_pids: BTreeMap::new(),
                    outq: VecDeque::new(),
                    next_pid: 1,
                },
            );
            self.notices.push(Notice::SessionCreated {
                client_id: id.clone(),
                epoch,
                conn,
            });
        }
        let cfg = self.cfg.clone();
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.conn = Some(conn);
        s.expiry_secs = expiry_secs;
        s.expires_at = None;
        if present {
            self.notices.push(Notice::SessionResumed {
                client_id: id.clone(),
                epoch: s.epoch,
                conn,
            });
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.version = version;
        c.phase = Phase::Connected;
        c.client_id = Some(id.clone());
        let ka = if v5 {
            cfg.server_keep_alive.unwrap_or(keep_alive)
        } else {
            keep_alive
        };
        c.keep_alive_ms = u64::from(ka) * 1000;
        c.client_rm = if v5 {
            receive_maximum.unwrap_or(u16::MAX)
        } else {
            cfg.v3_max_inflight
        };
        c.client_max_packet = if v5 {
            maximum_packet_size.unwrap_or(u32::MAX)
        } else {
            u32::MAX
        };
        c.client_tam = if v5 {
            topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        let ack = Pkt::ConnAck {
            session_present: present,
            reason_code: ReasonCode::Success,
            receive_maximum: cfg.receive_maximum,
            maximum_packet_size: cfg.maximum_packet_size,
            topic_alias_maximum: cfg.topic_alias_maximum,
            server_keep_alive: cfg.server_keep_alive,
            assigned_client_id: assigned,
        };
        self.send(conn, &ack, Meta::None);
        if present {
            self.resend(conn, &id);
        }
        self.pump(&id);
    }

    /// Session resumed: unacknowledged PUBLISH again with DUP, PUBREL again, in order.
    fn resend(&mut self, conn: ConnId, id: &str) {
        let Some(s) = self.sessions.get(id) else {
            return;
        };
        let msgs: Vec<OutMsg> = s
            .outq
            .iter()
            .filter(|m| m.state != OutState::Queued)
            .cloned()
            .collect();
        for m in msgs {
            match m.state {
                OutState::Sent => self.send_publish(conn, &m, true),
                OutState::Released => {
                    self.send(conn, &Pkt::PubRel(m.pid, ReasonCode::Success), Meta::None)
                }
                OutState::Queued => {}
            }
        }
    }

    /// Sends what the session's queue and the client's Receive Maximum allow.
    fn pump(&mut self, id: &str) {
        let Some(conn) = self.sessions.get(id).and_then(|s| s.conn) else {
            return;
        };
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.phase != Phase::Connected {
            return;
        }
        let (limit, max_packet, version) =
            (usize::from(c.client_rm), c.client_max_packet, c.version);
        let aliases = c.client_tam.min(self.cfg.aliases_to_client) > 0;
        loop {
            let Some(s) = self.sessions.get_mut(id) else {
                return;
            };
            let inflight = s
                .outq
                .iter()
                .filter(|m| m.state != OutState::Queued)
                .count();
            let Some(i) = s.outq.iter().position(|m| m.state == OutState::Queued) else {
                return;
            };
            let m = s.outq[i].clone();
            if m.qos != QoS::AtMostOnce && inflight >= limit {
                return;
            }
            // The largest form this message can take on the wire.
            let biggest = Pkt::Publish {
                dup: false,
                qos: m.qos,
                pid: 1,
                retain: false,
                topic: m.topic.clone(),
                topic_alias: aliases.then_some(1),
                payload: m.payload.clone(),
            };
            let size = biggest.encode(version).map_or(usize::MAX, |b| b.len());
            if size as u64 > u64::from(max_packet) {
                s.outq.remove(i);
                self.notices.push(Notice::Discarded {
                    route: m.route,
                    why: "larger than the client's Maximum Packet Size",
                });
                continue;
            }
            if m.qos == QoS::AtMostOnce {
                s.outq.remove(i);
                self.send_publish(conn, &m, false);
                self.notices.push(Notice::Completed { route: m.route });
                continue;
            }
            let mut pid = s.next_pid;
            while s
                .outq
                .iter()
                .any(|o| o.state != OutState::Queued && o.pid == pid)
            {
                pid = pid.checked_add(1).unwrap_or(1);
            }
            s.next_pid = pid.checked_add(1).unwrap_or(1);
            let m = {
                let e = &mut s.outq[i];
                e.pid = pid;
                e.state = OutState::Sent;
                e.clone()
            };
            self.send_publish(conn, &m, false);
        }
    }

    fn send_publish(&mut self, conn: ConnId, m: &OutMsg, dup: bool) {
        let max_aliases = self
            .conns
            .get(&conn)
            .map_or(0, |c| c.client_tam)
            .min(self.cfg.aliases_to_client);
        let (topic, alias) = if max_aliases == 0 {
            (m.topic.clone(), None)
        } else {
            let pick = self.rng.below(4);
            let fresh = 1 + self.rng.below(u64::from(max_aliases)) as u16;
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let known = c
                .aliases_out
                .iter()
                .find(|(_, t)| **t == m.topic)
                .map(|(a, _)| *a);
            match known {
                Some(a) if pick != 0 => (String::new(), Some(a)),
                Some(a) => (m.topic.clone(), Some(a)),
                None => {
                    let a = if c.aliases_out.len() < usize::from(max_aliases) {
                        (1..=max_aliases)
                            .find(|a| !c.aliases_out.contains_key(a))
                            .unwrap_or(fresh)
                    } else {
                        fresh // re-bind an alias to another topic
                    };
                    c.aliases_out.insert(a, m.topic.clone());
                    (m.topic.clone(), Some(a))
                }
            }
        };
        // Order of acks is checked for first deliveries only: an ack after a resend may
        // answer the delivery made on the previous connection.
        if let Some(c) = self.conns.get_mut(&conn).filter(|_| !dup) {
            match m.qos {
                QoS::AtLeastOnce => c.expect_puback.push_back(m.pid),
                QoS::ExactlyOnce => c.expect_pubrec.push_back(m.pid),
                QoS::AtMostOnce => {}
            }
        }
        let p = Pkt::Publish {
            dup,
            qos: m.qos,
            pid: if m.qos == QoS::AtMostOnce { 0 } else { m.pid },
            retain: false,
            topic,
            topic_alias: alias,
            payload: m.payload.clone(),
        };
        self.send(conn, &p, Meta::None);
    }

    /// Queues a message for every matching session; returns how many matched.
    fn route(&mut self, topic_name: &str, payload: &[u8], qos: QoS) -> usize {
        let targets: Vec<(String, QoS, u64)> = self
            .sessions
            .iter()
            .filter_map(|(id, s)| {
                s.subs
                    .iter()
                    .filter(|(f, _)| topic::matches(f, topic_name))
                    .map(|(_, q)| *q)
                    .max()
                    .map(|q| (id.clone(), q.min(qos), s.epoch))
            })
            .collect();
        for (id, q, epoch) in &targets {
            let route = self.next_route;
            self.next_route += 1;
            self.notices.push(Notice::Routed {
                route,
                to: id.clone(),
                epoch: *epoch,
                topic: topic_name.to_owned(),
                payload: payload.to_vec(),
                qos: *q,
            });
            if let Some(s) = self.sessions.get_mut(id) {
                s.outq.push_back(OutMsg {
                    route,
                    pid: 0,
                    qos: *q,
                    topic: topic_name.to_owned(),
                    payload: payload.to_vec(),
                    state: OutState::Queued,
                });
            }
        }
        for (id, _, _) in &targets {
            self.pump(id);
        }
        targets.len()
    }

    fn client_id_of(&self, conn: ConnId) -> Option<String> {
        self.conns.get(&conn).and_then(|c| c.client_id.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_publish(
        &mut self,
        conn: ConnId,
        dup: bool,
        qos: QoS,
        pid: u16,
        topic_field: String,
        alias: Option<u16>,
        payload: Vec<u8>,
    ) {
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let v5 = c.version.is_v5();
        // Topic aliases from the client.
        let topic_name = match alias {
            None => topic_field,
            Some(a) => {
                let max = self.cfg.topic_alias_maximum.unwrap_or(0);
                if a == 0 || a > max {
                    return self.violate_close(
                        conn,
                        "topic-alias-invalid",
                        ReasonCode::TopicAliasInvalid,
                        format!("topic alias {a} above our Topic Alias Maximum {max}"),
                    );
                }
                if topic_field.is_empty() {
                    match c.aliases_in.get(&a) {
                        Some(t) => t.clone(),
                        None => {
                            return self.violate_close(
                                conn,
                                "topic-alias-invalid",
                                ReasonCode::ProtocolError,
                                format!("topic alias {a} used before it was set"),
                            );
                        }
                    }
                } else {
                    c.aliases_in.insert(a, topic_field.clone());
                    topic_field
                }
            }
        };
        let refused = v5
            && self
                .cfg
                .deny_prefix
                .as_deref()
                .is_some_and(|p| topic_name.starts_with(p));
        let notice = |fresh: bool| Notice::Received {
            conn,
            client_id: id.clone(),
            pid,
            qos,
            dup,
            topic: topic_name.clone(),
            payload: payload.clone(),
            fresh,
            refused,
        };
        if qos == QoS::AtMostOnce {
            self.notices.push(notice(true));
            if !refused {
                self.route(&topic_name, &payload, qos);
            }
            return;
        }
        let stamp = self.stamp();
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let same = |t: &String, p: &Vec<u8>| *t == topic_name && *p == payload;
        if let Some(e) = s.client_pids.get(&pid).cloned() {
            let resend = match (&e.kind, qos) {
                (
                    PidKind::Qos1 {
                        topic: t,
                        payload: p,
                    },
                    QoS::AtLeastOnce,
                ) => same(t, p),
                (
                    PidKind::Qos2 {
                        topic: t,
                        payload: p,
                        ..
                    },
                    QoS::ExactlyOnce,
                ) => same(t, p),
                _ => false,
            };
            if !resend {
                return self.violate_close(
                    conn,
                    "pid-in-use",
                    ReasonCode::PacketIdentifierInUse,
                    format!(
                        "PUBLISH q{} pid {pid} ({}) while pid {pid} is still in flight as {:?} [MQTT-2.2.1-3]",
                        qos as u8,
                        crate::wire::payload_label(&payload),
                        e.kind_label()
                    ),
                );
            }
            if let PidKind::Qos2 {
                rel_received: true, ..
            } = e.kind
            {
                return self.violate_close(
                    conn,
                    "publish-after-pubrel",
                    ReasonCode::ProtocolError,
                    format!("PUBLISH pid {pid} again after its PUBREL [MQTT-4.3.3-6]"),
                );
            }
            if !dup {
                return self.violate_close(
                    conn,
                    "resend-without-dup",
                    ReasonCode::ProtocolError,
                    format!("PUBLISH pid {pid} resent without DUP [MQTT-3.3.1-1]"),
                );
            }
            if e.conn == conn && v5 {
                return self.violate_close(
                    conn,
                    "resend-same-connection",
                    ReasonCode::ProtocolError,
                    format!("PUBLISH pid {pid} resent on the same connection [MQTT-4.4.0-1]"),
                );
            }
            if let Some(e) = s.client_pids.get_mut(&pid) {
                e.conn = conn;
                e.stamp = stamp;
            }
            if qos == QoS::ExactlyOnce {
                self.notices.push(notice(false));
                self.send(conn, &Pkt::PubRec(pid, ReasonCode::Success), Meta::None);
                return;
            }
        } else {
            let inflight = s
                .client_pids
                .values()
                .filter(|e| matches!(e.kind, PidKind::Qos1 { .. } | PidKind::Qos2 { .. }))
                .count();
            if v5
                && let Some(rm) = self.cfg.receive_maximum
                && inflight + 1 > usize::from(rm)
            {
                let held: Vec<u16> = s.client_pids.keys().copied().collect();
                return self.violate_close(
                    conn,
                    "receive-maximum-exceeded",
                    ReasonCode::ReceiveMaximumExceeded,
                    format!(
                        "PUBLISH q{} pid {pid} makes {} in flight, Receive Maximum is {rm}; in flight: {held:?} [MQTT-3.3.4-9]",
                        qos as u8,
                        inflight + 1
                    ),
                );
            }
            if refused && qos == QoS::ExactlyOnce {
                // Refused at PUBREC: finished for both sides.
                self.notices.push(notice(true));
                self.send(
                    conn,
                    &Pkt::PubRec(pid, ReasonCode::NotAuthorized),
                    Meta::None,
                );
                return;
            }
            let kind = if qos == QoS::AtLeastOnce {
                PidKind::Qos1 {
                    topic: topic_name.clone(),
                    payload: payload.clone(),
                }
            } else {
                PidKind::Qos2 {
                    topic: topic_name.clone(),
                    payload: payload.clone(),
                    rel_received: false,
                }
            };
            s.client_pids.insert(pid, ClientPid { kind, conn, stamp });
        }
        // A new message, or a QoS 1 resend (routed again: at least once).
        self.notices.push(notice(true));
        let rc = if refused {
            ReasonCode::NotAuthorized
        } else {
            let n = self.route(&topic_name, &payload, qos);
            if n == 0 && v5 {
                ReasonCode::NoMatchingSubscribers
            } else {
                ReasonCode::Success
            }
        };
        if qos == QoS::AtLeastOnce {
            self.send(conn, &Pkt::PubAck(pid, rc), Meta::Release(pid, stamp));
        } else {
            self.send(conn, &Pkt::PubRec(pid, rc), Meta::None);
        }
    }

    /// Acks must come in the order the messages were sent on this connection.
    fn check_ack_order(&mut self, conn: ConnId, pid: u16, pubrec: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let q = if pubrec {
            &mut c.expect_pubrec
        } else {
            &mut c.expect_puback
        };
        let Some(pos) = q.iter().position(|p| *p == pid) else {
            return;
        };
        let first = q.front().copied();
        q.remove(pos);
        if pos != 0 {
            let what = if pubrec { "PUBREC" } else { "PUBACK" };
            let rule = if pubrec {
                "[MQTT-4.6.0-3]"
            } else {
                "[MQTT-4.6.0-2]"
            };
            let client_id = c.client_id.clone();
            self.violate(
                conn,
                client_id,
                "ack-order",
                format!("{what} {pid} before {what} {first:?}, sent earlier {rule}"),
            );
        }
    }

    fn on_puback(&mut self, conn: ConnId, pid: u16) {
        self.check_ack_order(conn, pid, false);
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if let Some(i) = s
            .outq
            .iter()
            .position(|m| m.pid == pid && m.qos == QoS::AtLeastOnce && m.state == OutState::Sent)
        {
            let route = s.outq[i].route;
            s.outq.remove(i);
            self.notices.push(Notice::Completed { route });
            self.pump(&id);
        }
    }

    fn on_pubrec(&mut self, conn: ConnId, pid: u16, rc: ReasonCode) {
        self.check_ack_order(conn, pid, true);
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let Some(i) = s
            .outq
            .iter()
            .position(|m| m.pid == pid && m.qos == QoS::ExactlyOnce && m.state != OutState::Queued)
        else {
            return;
        };
        if rc.is_error() {
            let route = s.outq[i].route;
            s.outq.remove(i);
            self.notices.push(Notice::Completed { route });
            self.pump(&id);
            return;
        }
        s.outq[i].state = OutState::Released;
        self.send(conn, &Pkt::PubRel(pid, ReasonCode::Success), Meta::None);
    }

    fn on_pubcomp(&mut self, conn: ConnId, pid: u16) {
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if let Some(i) = s
            .outq
            .iter()
            .position(|m| m.pid == pid && m.state == OutState::Released)
        {
            let route = s.outq[i].route;
            s.outq.remove(i);
            self.notices.push(Notice::Completed { route });
            self.pump(&id);
        }
    }

    fn on_pubrel(&mut self, conn: ConnId, pid: u16) {
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let v5 = self.conns.get(&conn).is_some_and(|c| c.version.is_v5());
        let stamp = self.stamp();
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        match s.client_pids.get_mut(&pid) {
            Some(ClientPid {
                kind: PidKind::Qos2 { rel_received, .. },
                stamp: g,
                conn: c,
            }) => {
                *rel_received = true;
                *g = stamp;
                *c = conn;
                self.send(
                    conn,
                    &Pkt::PubComp(pid, ReasonCode::Success),
                    Meta::Release(pid, stamp),
                );
            }
            Some(e) => {
                let kind = e.kind_label();
                self.violate_close(
                    conn,
                    "pid-in-use",
                    ReasonCode::ProtocolError,
                    format!("PUBREL {pid} while pid {pid} is in flight as {kind}"),
                );
            }
            None => {
                let rc = if v5 {
                    ReasonCode::PacketIdentifierNotFound
                } else {
                    ReasonCode::Success
                };
                self.send(conn, &Pkt::PubComp(pid, rc), Meta::None);
            }
        }
    }

    /// A SUBSCRIBE or UNSUBSCRIBE id: new, or a resend of the same operation.
    fn take_op_pid(&mut self, conn: ConnId, id: &str, pid: u16, kind: PidKind) -> Option<u64> {
        let stamp = self.stamp();
        let s = self.sessions.get_mut(id)?;
        if let Some(e) = s.client_pids.get(&pid)
            && e.kind != kind
        {
            let label = e.kind_label();
            self.violate_close(
                conn,
                "pid-in-use",
                ReasonCode::PacketIdentifierInUse,
                format!(
                    "{kind:?} with pid {pid} while pid {pid} is in flight as {label} [MQTT-2.2.1-3]"
                ),
            );
            return None;
        }
        s.client_pids.insert(pid, ClientPid { kind, conn, stamp });
        Some(stamp)
    }

    fn on_subscribe(&mut self, conn: ConnId, pid: u16, filters: Vec<(String, QoS)>) {
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(stamp) = self.take_op_pid(conn, &id, pid, PidKind::Subscribe) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let mut codes = Vec::new();
        for (f, q) in filters {
            s.subs.insert(f, q);
            codes.push(granted(q));
        }
        self.send(conn, &Pkt::SubAck { pid, codes }, Meta::Release(pid, stamp));
    }

    fn on_unsubscribe(&mut self, conn: ConnId, pid: u16, filters: Vec<String>) {
        let Some(id) = self.client_id_of(conn) else {
            return;
        };
        let Some(stamp) = self.take_op_pid(conn, &id, pid, PidKind::Unsubscribe) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let codes = filters
            .iter()
            .map(|f| {
                if s.subs.remove(f).is_some() {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect();
        self.send(
            conn,
            &Pkt::UnsubAck { pid, codes },
            Meta::Release(pid, stamp),
        );
    }
}

impl ClientPid {
    fn kind_label(&self) -> String {
        match &self.kind {
            PidKind::Qos1 { payload, .. } => {
                format!("QoS 1 PUBLISH {}", crate::wire::payload_label(payload))
            }
            PidKind::Qos2 {
                payload,
                rel_received,
                ..
            } => format!(
                "QoS 2 PUBLISH {} (PUBREL received: {rel_received})",
                crate::wire::payload_label(payload)
            ),
            PidKind::Subscribe => "SUBSCRIBE".into(),
            PidKind::Unsubscribe => "UNSUBSCRIBE".into(),
        }
    }
}

//! A seeded link between one client [`Session`] and the [`Broker`] model.
//!
//! - Bytes travel in random-size chunks (down to one byte) with a random delay, in order
//!   per direction (a TCP-like byte stream).
//! - The link can drop the connection (both sides see it: the session through
//!   `handle_transport_down`, the broker through [`Broker::handle_close`]), restart the
//!   broker with or without its session state (and keep it down for a while), fail or
//!   delay transport opens, and turn a connection into a *blackhole* that swallows every
//!   byte without closing (a half-open connection), checking the session notices within
//!   keep alive + ping timeout (or the connect timeout before CONNACK).
//! - Time is virtual: [`Link::step`] jumps to the earliest deadline among the session's
//!   `poll_timeout`, the broker's, chunk deliveries, transport opens, fault times and a
//!   deadline the caller passes; many steps at one instant are reported as a livelock.
//! - Every packet the client sends and every packet it accepts is decoded and reported
//!   as an [`Obs`], in causal order with the session's events and the broker's notices.
//!
//! All randomness comes from one seed.

use std::collections::{BTreeSet, VecDeque};

use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{
    ConnState, ConnectionError, Duration, Event, Inline, Instant, LossReason, Rng, Session,
    StopReason, Store, Tables, Token,
};

use crate::broker::{Broker, ConnId, Notice};
use crate::wire::{Pkt, Tap};

/// An owned copy of a session [`Event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum SimEvent {
    OpenTransport,
    CloseTransport,
    Connected {
        session_present: bool,
    },
    ConnectionLost {
        reason: ConnectionError,
    },
    ReconnectScheduled {
        at: Instant,
        attempt: u32,
    },
    Stopped {
        reason: StopReason,
    },
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        ack: Option<Token>,
    },
    Published {
        token: Token,
        reason_code: ReasonCode,
    },
    Subscribed {
        token: Token,
        codes: Vec<ReasonCode>,
    },
    Unsubscribed {
        token: Token,
        codes: Vec<ReasonCode>,
    },
    Lost {
        token: Token,
        reason: LossReason,
    },
    Auth {
        reason_code: ReasonCode,
    },
    Redirect {
        server_reference: String,
        permanent: bool,
    },
}

impl SimEvent {
    /// The owned copy of `ev`.
    pub fn from_event(ev: &Event<'_>) -> SimEvent {
        match *ev {
            Event::OpenTransport => SimEvent::OpenTransport,
            Event::CloseTransport => SimEvent::CloseTransport,
            Event::Connected { session_present } => SimEvent::Connected { session_present },
            Event::ConnectionLost { reason } => SimEvent::ConnectionLost { reason },
            Event::ReconnectScheduled { at, attempt } => {
                SimEvent::ReconnectScheduled { at, attempt }
            }
            Event::Stopped { reason } => SimEvent::Stopped { reason },
            Event::Message(m) => SimEvent::Message {
                topic: m.topic.to_string(),
                payload: m.payload.to_vec(),
                qos: m.qos,
                retain: m.retain,
                dup: m.dup,
                ack: m.ack,
            },
            Event::Published { token, reason_code } => SimEvent::Published { token, reason_code },
            Event::Subscribed {
                token,
                reason_codes,
            } => SimEvent::Subscribed {
                token,
                codes: reason_codes.iter().collect(),
            },
            Event::Unsubscribed {
                token,
                reason_codes,
            } => SimEvent::Unsubscribed {
                token,
                codes: reason_codes.iter().collect(),
            },
            Event::Lost { token, reason } => SimEvent::Lost { token, reason },
            Event::Auth { reason_code, .. } => SimEvent::Auth { reason_code },
            Event::Redirect {
                server_reference,
                permanent,
            } => SimEvent::Redirect {
                server_reference: server_reference.to_owned(),
                permanent,
            },
        }
    }
}

/// What the link itself did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum LinkEvent {
    /// The session asked for a transport; it opens (or fails) at `at`.
    OpenScheduled { at: Instant },
    /// The transport opened.
    Up { conn: ConnId },
    /// The transport failed to open.
    OpenFailed { why: &'static str },
    /// The session closed its transport.
    ClientClosed { conn: ConnId },
    /// The broker's close reached the client.
    BrokerClosed { conn: ConnId },
    /// Fault: the connection dropped under both sides.
    Dropped { conn: ConnId },
    /// Fault: the broker restarted.
    BrokerRestarted {
        keep_state: bool,
        down_until: Instant,
    },
    /// Fault: the connection became a blackhole; the session must notice by `deadline`.
    Blackholed { conn: ConnId, deadline: Instant },
}

/// One observation, in causal order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Obs {
    /// A session event.
    Event(SimEvent),
    /// A whole packet the client handed to the transport.
    Sent {
        /// Connection.
        conn: ConnId,
        /// The packet.
        pkt: Pkt,
    },
    /// A whole packet the client accepted from the transport.
    Received {
        /// Connection.
        conn: ConnId,
        /// The packet.
        pkt: Pkt,
    },
    /// Something the broker did.
    Broker(Notice),
    /// Something the link did.
    Link(LinkEvent),
    /// An invariant the link checks was broken.
    Violation(String),
}

impl std::fmt::Display for Obs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Obs::Event(SimEvent::Message {
                topic,
                payload,
                qos,
                dup,
                ack,
                ..
            }) => write!(
                f,
                "event   Message(topic={topic:?} q{} dup={dup} ack={ack:?} {} len={})",
                *qos as u8,
                crate::wire::payload_label(payload),
                payload.len()
            ),
            Obs::Event(e) => write!(f, "event   {e:?}"),
            Obs::Sent { conn, pkt } => write!(f, "c->b #{conn} {pkt}"),
            Obs::Received { conn, pkt } => write!(f, "b->c #{conn} {pkt}"),
            Obs::Broker(Notice::Received {
                pid,
                qos,
                dup,
                payload,
                fresh,
                refused,
                ..
            }) => write!(
                f,
                "broker  Received(q{} pid={pid} dup={dup} {} fresh={fresh} refused={refused})",
                *qos as u8,
                crate::wire::payload_label(payload)
            ),
            Obs::Broker(Notice::Routed {
                route,
                epoch,
                payload,
                qos,
                ..
            }) => write!(
                f,
                "broker  Routed(route={route} epoch={epoch} q{} {})",
                *qos as u8,
                crate::wire::payload_label(payload)
            ),
            Obs::Broker(n) => write!(f, "broker  {n:?}"),
            Obs::Link(l) => write!(f, "link    {l:?}"),
            Obs::Violation(v) => write!(f, "VIOLATION {v}"),
        }
    }
}

/// Deliberate corruptions, to show the checks catch them (harness self-tests only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sabotage {
    /// Every new QoS 2 PUBLISH towards the client is followed by a copy with another id.
    DuplicateQos2ToClient,
    /// The first PUBACK towards the client is swallowed; the connection stays up.
    SwallowFirstPubAck,
}

/// How the link behaves.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Seed of every random choice of the link.
    pub seed: u64,
    /// The protocol version spoken (to decode the taps).
    pub version: ProtocolVersion,
    /// The keep alive in force (5.0: the server's if it sets one), in seconds.
    pub keep_alive: u16,
    /// The session's ping timeout.
    pub ping_timeout: Duration,
    /// The session's connect timeout.
    pub connect_timeout: Duration,
    /// Largest one-way delay of a chunk.
    pub max_delay: Duration,
    /// Largest time a transport takes to open (usually).
    pub max_open_latency: Duration,
    /// Percent of opens that take up to twice the connect timeout instead.
    pub slow_open_percent: u8,
    /// Percent of opens that fail.
    pub open_fail_percent: u8,
    /// Mean time between connection drops (`None`: none).
    pub drop_every: Option<Duration>,
    /// Mean time between broker restarts (`None`: none).
    pub restart_every: Option<Duration>,
    /// Percent of restarts that keep the broker's sessions.
    pub restart_keep_percent: u8,
    /// Longest time the broker stays down after a restart.
    pub max_down: Duration,
    /// Mean time between blackholes (`None`: none; needs keep alive > 0).
    pub blackhole_every: Option<Duration>,
    /// Smallest and largest output buffer handed to `poll_transmit`.
    pub tx_buf: (usize, usize),
    /// A deliberate corruption (harness self-tests).
    pub sabotage: Option<Sabotage>,
}

impl LinkConfig {
    /// A quiet link: no faults, small delays.
    pub fn quiet(seed: u64, version: ProtocolVersion) -> Self {
        LinkConfig {
            seed,
            version,
            keep_alive: 30,
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            max_delay: Duration::from_millis(50),
            max_open_latency: Duration::from_millis(50),
            slow_open_percent: 0,
            open_fail_percent: 0,
            drop_every: None,
            restart_every: None,
            restart_keep_percent: 100,
            max_down: Duration::ZERO,
            blackhole_every: None,
            tx_buf: (16, 2048),
            sabotage: None,
        }
    }
}

#[derive(Debug)]
struct Item {
    at: Instant,
    conn: ConnId,
    /// `None`: the sender closed the connection.
    data: Option<Vec<u8>>,
}

/// Steps at one instant before it is called a livelock.
const SAME_INSTANT_LIMIT: u32 = 5_000;

/// The link. `session` and `broker` are public so a test can issue commands and look.
pub struct Link<S, B, const OUT: usize, const IN: usize, T: Tables = Inline> {
    /// The client session.
    pub session: Session<S, B, OUT, IN, T>,
    /// The broker model.
    pub broker: Broker,
    cfg: LinkConfig,
    rng: Rng,
    now: Instant,
    client_conn: Option<ConnId>,
    up_at: Instant,
    pending_open: Option<Instant>,
    to_broker: VecDeque<Item>,
    to_client: VecDeque<Item>,
    tap_out: Option<(ConnId, Tap)>,
    tap_in: Option<(ConnId, Tap)>,
    blackholed: BTreeSet<ConnId>,
    blackhole_deadline: Option<(ConnId, Instant)>,
    broker_down_until: Instant,
    faults: bool,
    next_drop: Option<Instant>,
    next_restart: Option<Instant>,
    next_blackhole: Option<Instant>,
    obs: Vec<Obs>,
    same_instant: u32,
    steps: u64,
    tx_buf: Vec<u8>,
    sabotaged: u32,
}

impl<S: Store, B: AsRef<[u8]> + AsMut<[u8]>, const OUT: usize, const IN: usize, T: Tables>
    Link<S, B, OUT, IN, T>
{
    /// A link between `session` (not connected yet) and `broker`; faults start on.
    pub fn new(session: Session<S, B, OUT, IN, T>, broker: Broker, cfg: LinkConfig) -> Self {
        let mut rng = Rng::new(cfg.seed ^ 0x11AC_0000_0000_0007);
        let now = Instant::ZERO;
        let next_drop = cfg.drop_every.map(|d| now + spread(&mut rng, d));
        let next_restart = cfg.restart_every.map(|d| now + spread(&mut rng, d));
        let next_blackhole = cfg.blackhole_every.map(|d| now + spread(&mut rng, d));
        Link {
            session,
            broker,
            rng,
            now,
            client_conn: None,
            up_at: now,
            pending_open: None,
            to_broker: VecDeque::new(),
            to_client: VecDeque::new(),
            tap_out: None,
            tap_in: None,
            blackholed: BTreeSet::new(),
            blackhole_deadline: None,
            broker_down_until: now,
            faults: true,
            next_drop,
            next_restart,
            next_blackhole,
            obs: Vec::new(),
            same_instant: 0,
            steps: 0,
            tx_buf: vec![0; cfg.tx_buf.1.max(1)],
            cfg,
            sabotaged: 0,
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The connection the client uses now.
    pub fn client_conn(&self) -> Option<ConnId> {
        self.client_conn
    }

    /// Whether the client's connection is a blackhole.
    pub fn client_blackholed(&self) -> bool {
        self.client_conn
            .is_some_and(|c| self.blackholed.contains(&c))
    }

    /// Stops injecting faults (blackholes already made stay until the session notices).
    pub fn stop_faults(&mut self) {
        self.faults = false;
    }

    /// Nothing in flight, no transport opening.
    pub fn idle(&self) -> bool {
        self.to_broker.is_empty() && self.to_client.is_empty() && self.pending_open.is_none()
    }

    /// Observations made outside `step` (after commands), taken by the caller.
    pub fn take_obs(&mut self) -> Vec<Obs> {
        std::mem::take(&mut self.obs)
    }

    /// Drains the session per its contract: events until none, transmits until nothing,
    /// repeated while either produced something. Call after every command.
    pub fn drain(&mut self) {
        let mut rounds = 0u32;
        loop {
            rounds += 1;
            if rounds > 10_000 {
                self.violation("the session never stops producing events or bytes".into());
                return;
            }
            let mut progress = false;
            while let Some(ev) = self.session.poll_event().map(|e| SimEvent::from_event(&e)) {
                progress = true;
                self.on_adapter_event(&ev);
                self.obs.push(Obs::Event(ev));
            }
            loop {
                let (lo, hi) = self.cfg.tx_buf;
                let size = lo + self.rng.below((hi.saturating_sub(lo) + 1) as u64) as usize;
                let size = size.max(1);
                if self.tx_buf.len() < size {
                    self.tx_buf.resize(size, 0);
                }
                let mut buf = std::mem::take(&mut self.tx_buf);
                let r = self.session.poll_transmit(self.now, &mut buf[..size]);
                let n = match r {
                    Ok(n) => n,
                    Err(required) => {
                        if required <= size {
                            self.violation(format!(
                                "poll_transmit asked for {required} bytes with {size} given"
                            ));
                            self.tx_buf = buf;
                            return;
                        }
                        buf.resize(required, 0);
                        match self.session.poll_transmit(self.now, &mut buf[..required]) {
                            Ok(n) => n,
                            Err(again) => {
                                self.violation(format!(
                                    "poll_transmit asked for {required} bytes, then {again} with {required} given"
                                ));
                                self.tx_buf = buf;
                                return;
                            }
                        }
                    }
                };
                if n == 0 {
                    self.tx_buf = buf;
                    break;
                }
                progress = true;
                let bytes = buf[..n].to_vec();
                self.tx_buf = buf;
                self.client_sent(bytes);
            }
            if !progress {
                break;
            }
        }
        if self.client_conn.is_some()
            && matches!(
                self.session.state(),
                ConnState::Idle | ConnState::Waiting | ConnState::Opening
            )
        {
            self.violation(format!(
                "the session is {:?} but never asked to close its transport",
                self.session.state()
            ));
            self.client_conn = None;
        }
    }

    /// Advances virtual time to the next thing due (or to `until`) and does it.
    pub fn step(&mut self, until: Option<Instant>) -> Vec<Obs> {
        let faults = self.faults;
        let candidates = [
            self.session.poll_timeout(),
            self.broker.poll_timeout(),
            self.to_broker.front().map(|i| i.at),
            self.to_client.front().map(|i| i.at),
            self.pending_open,
            self.next_drop.filter(|_| faults),
            self.next_restart.filter(|_| faults),
            self.next_blackhole.filter(|_| faults),
            self.blackhole_deadline.map(|(_, t)| t),
            until,
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            return self.take_obs();
        };
        self.steps += 1;
        if next > self.now {
            self.now = next;
            self.same_instant = 0;
        } else {
            self.same_instant += 1;
            if self.same_instant == SAME_INSTANT_LIMIT {
                self.violation(format!(
                    "livelock: {SAME_INSTANT_LIMIT} steps at {} ms (session poll_timeout {:?}, broker {:?})",
                    self.now.as_millis(),
                    self.session.poll_timeout(),
                    self.broker.poll_timeout()
                ));
            }
        }
        let now = self.now;
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
            self.drain();
        }
        if self.broker.poll_timeout().is_some_and(|t| t <= now) {
            self.broker.handle_timeout(now);
            self.pump_broker();
        }
        if self.faults {
            self.run_faults();
        }
        if self.pending_open.is_some_and(|t| t <= now) {
            self.open();
        }
        self.deliver_due();
        self.check_blackhole();
        self.take_obs()
    }

    // ----- faults ----------------------------------------------------------------------

    fn run_faults(&mut self) {
        let now = self.now;
        if self.next_drop.is_some_and(|t| t <= now) {
            self.next_drop = self.cfg.drop_every.map(|d| now + spread(&mut self.rng, d));
            if let Some(c) = self.client_conn {
                self.drop_connection(c);
            }
        }
        if self.next_restart.is_some_and(|t| t <= now) {
            self.next_restart = self
                .cfg
                .restart_every
                .map(|d| now + spread(&mut self.rng, d));
            let keep = self.rng.below(100) < u64::from(self.cfg.restart_keep_percent);
            self.restart_broker(keep);
        }
        if self.next_blackhole.is_some_and(|t| t <= now) {
            self.next_blackhole = self
                .cfg
                .blackhole_every
                .map(|d| now + spread(&mut self.rng, d));
            self.blackhole();
        }
    }

    /// Drops the client's connection under both sides.
    pub fn drop_connection(&mut self, conn: ConnId) {
        self.to_broker.retain(|i| i.conn != conn);
        self.to_client.retain(|i| i.conn != conn);
        self.obs.push(Obs::Link(LinkEvent::Dropped { conn }));
        if self.broker.is_open(conn) {
            self.broker.handle_close(self.now, conn);
        }
        self.pump_broker();
        if self.client_conn == Some(conn) {
            self.client_conn = None;
            self.session.handle_transport_down(self.now);
            self.drain();
        }
    }

    /// Restarts the broker, keeping or losing its sessions; it stays down a random while.
    pub fn restart_broker(&mut self, keep_state: bool) {
        let max = self.cfg.max_down.as_millis();
        let down_until = self.now + Duration::from_millis(self.rng.below(max + 1));
        self.broker_down_until = down_until;
        let closed = self.broker.restart(self.now, keep_state);
        self.obs.push(Obs::Link(LinkEvent::BrokerRestarted {
            keep_state,
            down_until,
        }));
        self.pump_broker();
        self.to_broker.retain(|i| !closed.contains(&i.conn));
        self.to_client.retain(|i| !closed.contains(&i.conn));
        if let Some(c) = self.client_conn
            && closed.contains(&c)
            && !self.blackholed.contains(&c)
        {
            self.client_conn = None;
            self.session.handle_transport_down(self.now);
            self.drain();
        }
    }

    /// Turns the client's connection into a blackhole.
    pub fn blackhole(&mut self) {
        let Some(c) = self.client_conn else { return };
        if self.blackholed.contains(&c) {
            return;
        }
        let deadline = match self.session.state() {
            ConnState::AwaitConnAck => self.up_at + self.cfg.connect_timeout,
            ConnState::Connected if self.cfg.keep_alive > 0 => {
                self.now
                    + Duration::from_secs(u64::from(self.cfg.keep_alive))
                    + self.cfg.ping_timeout
            }
            _ => return,
        };
        self.blackholed.insert(c);
        self.to_broker.retain(|i| i.conn != c);
        self.to_client.retain(|i| i.conn != c);
        self.blackhole_deadline = Some((c, deadline));
        self.obs
            .push(Obs::Link(LinkEvent::Blackholed { conn: c, deadline }));
    }

    fn check_blackhole(&mut self) {
        let Some((c, deadline)) = self.blackhole_deadline else {
            return;
        };
        if self.client_conn != Some(c) {
            self.blackhole_deadline = None;
            return;
        }
        if self.now >= deadline {
            self.blackhole_deadline = None;
            self.violation(format!(
                "dead connection #{c} not detected by {} ms (keep alive {} s + ping timeout {} ms, or connect timeout {} ms); session is {:?}",
                deadline.as_millis(),
                self.cfg.keep_alive,
                self.cfg.ping_timeout.as_millis(),
                self.cfg.connect_timeout.as_millis(),
                self.session.state()
            ));
        }
    }

    // ----- transport -------------------------------------------------------------------

    fn on_adapter_event(&mut self, ev: &SimEvent) {
        match ev {
            SimEvent::OpenTransport => {
                if self.pending_open.is_some() || self.client_conn.is_some() {
                    self.violation("OpenTransport while a transport is open or opening".into());
                }
                let slow = self.rng.below(100) < u64::from(self.cfg.slow_open_percent);
                let max = if slow {
                    self.cfg.connect_timeout.as_millis() * 2
                } else {
                    self.cfg.max_open_latency.as_millis()
                };
                let at = self.now + Duration::from_millis(self.rng.below(max + 1));
                self.pending_open = Some(at);
                self.obs.push(Obs::Link(LinkEvent::OpenScheduled { at }));
            }
            SimEvent::CloseTransport => {
                self.pending_open = None;
                if let Some(c) = self.client_conn.take() {
                    self.obs
                        .push(Obs::Link(LinkEvent::ClientClosed { conn: c }));
                    if !self.blackholed.contains(&c) {
                        let at = self.delivery_time(true);
                        self.to_broker.push_back(Item {
                            at,
                            conn: c,
                            data: None,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn open(&mut self) {
        self.pending_open = None;
        let fail = self.rng.below(100) < u64::from(self.cfg.open_fail_percent);
        if self.now < self.broker_down_until || fail {
            let why = if fail { "refused" } else { "broker down" };
            self.obs.push(Obs::Link(LinkEvent::OpenFailed { why }));
            self.session.handle_transport_down(self.now);
            self.drain();
            return;
        }
        let conn = self.broker.accept(self.now);
        self.client_conn = Some(conn);
        self.up_at = self.now;
        self.tap_out = Some((conn, Tap::new(self.cfg.version)));
        self.tap_in = Some((conn, Tap::new(self.cfg.version)));
        self.obs.push(Obs::Link(LinkEvent::Up { conn }));
        self.session.handle_transport_up(self.now);
        self.drain();
    }

    /// When a chunk sent now arrives: a random delay, never before an earlier chunk.
    fn delivery_time(&mut self, to_broker: bool) -> Instant {
        let max = self.cfg.max_delay.as_millis();
        let delay = if self.rng.below(3) == 0 {
            0
        } else {
            self.rng.below(max + 1)
        };
        let last = if to_broker {
            self.to_broker.back().map(|i| i.at)
        } else {
            self.to_client.back().map(|i| i.at)
        };
        let at = self.now + Duration::from_millis(delay);
        last.map_or(at, |l| at.max(l))
    }

    fn enqueue(&mut self, to_broker: bool, conn: ConnId, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = rest.len() as u64;
            let n = match self.rng.below(10) {
                0..=2 => 1 + self.rng.below(len.min(4)),
                3..=6 => 1 + self.rng.below(len),
                _ => len,
            } as usize;
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let at = self.delivery_time(to_broker);
            let item = Item {
                at,
                conn,
                data: Some(chunk.to_vec()),
            };
            if to_broker {
                self.to_broker.push_back(item);
            } else {
                self.to_client.push_back(item);
            }
        }
    }

    fn client_sent(&mut self, bytes: Vec<u8>) {
        let Some(conn) = self.client_conn else {
            self.violation(format!(
                "the session transmitted {} bytes without a transport",
                bytes.len()
            ));
            return;
        };
        if let Some((c, tap)) = self.tap_out.as_mut()
            && *c == conn
        {
            for p in tap.feed(&bytes) {
                match p {
                    Ok(pkt) => self.obs.push(Obs::Sent { conn, pkt }),
                    Err(e) => self.obs.push(Obs::Violation(format!(
                        "the client sent malformed bytes: {e:?}"
                    ))),
                }
            }
        }
        if self.blackholed.contains(&conn) {
            return;
        }
        self.enqueue(true, conn, &bytes);
    }

    /// Hands everything the broker has to send to the link.
    fn pump_broker(&mut self) {
        for n in self.broker.take_notices() {
            self.obs.push(Obs::Broker(n));
        }
        for conn in self.broker.conn_ids() {
            let t = self.broker.poll_transmit(self.now, conn);
            let swallow = self.blackholed.contains(&conn);
            if !t.bytes.is_empty() && !swallow {
                let bytes = match self.cfg.sabotage {
                    Some(s) => self.sabotage(s, t.bytes),
                    None => t.bytes,
                };
                self.enqueue(false, conn, &bytes);
            }
            if t.closed && !swallow {
                let at = self.delivery_time(false);
                self.to_client.push_back(Item {
                    at,
                    conn,
                    data: None,
                });
            }
        }
        for n in self.broker.take_notices() {
            self.obs.push(Obs::Broker(n));
        }
    }

    fn sabotage(&mut self, s: Sabotage, bytes: Vec<u8>) -> Vec<u8> {
        let mut tap = Tap::new(self.cfg.version);
        let mut out = Vec::new();
        for p in tap.feed(&bytes) {
            let Ok(pkt) = p else { return bytes };
            match (&pkt, s) {
                (
                    Pkt::Publish {
                        qos: QoS::ExactlyOnce,
                        dup: false,
                        pid,
                        ..
                    },
                    Sabotage::DuplicateQos2ToClient,
                ) => {
                    let mut copy = pkt.clone();
                    if let Pkt::Publish { pid: p, .. } = &mut copy {
                        *p = pid ^ 0x4000;
                    }
                    out.extend(pkt.encode(self.cfg.version).unwrap_or_default());
                    out.extend(copy.encode(self.cfg.version).unwrap_or_default());
                }
                (Pkt::PubAck(..), Sabotage::SwallowFirstPubAck) if self.sabotaged == 0 => {
                    self.sabotaged += 1;
                }
                _ => out.extend(pkt.encode(self.cfg.version).unwrap_or_default()),
            }
        }
        out
    }

    fn deliver_due(&mut self) {
        let mut guard = 0u32;
        loop {
            guard += 1;
            if guard > 100_000 {
                self.violation("deliveries never settle at one instant".into());
                return;
            }
            let now = self.now;
            let b = self.to_broker.front().map(|i| i.at).filter(|t| *t <= now);
            let c = self.to_client.front().map(|i| i.at).filter(|t| *t <= now);
            let to_broker = match (b, c) {
                (None, None) => return,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(b), Some(c)) => b <= c,
            };
            if to_broker {
                let Some(item) = self.to_broker.pop_front() else {
                    return;
                };
                match item.data {
                    Some(data) => self.broker.handle_input(now, item.conn, &data),
                    None => self.broker.handle_close(now, item.conn),
                }
                self.pump_broker();
            } else {
                let Some(item) = self.to_client.pop_front() else {
                    return;
                };
                if self.client_conn != Some(item.conn) {
                    continue;
                }
                match item.data {
                    Some(data) => self.feed_client(item.conn, &data),
                    None => {
                        self.client_conn = None;
                        self.obs
                            .push(Obs::Link(LinkEvent::BrokerClosed { conn: item.conn }));
                        self.session.handle_transport_down(now);
                        self.drain();
                    }
                }
            }
        }
    }

    /// Offers bytes to the session, honouring its back-pressure.
    fn feed_client(&mut self, conn: ConnId, data: &[u8]) {
        let mut rest = data;
        let mut refused = 0;
        while !rest.is_empty() && self.client_conn == Some(conn) {
            let n = self.session.handle_input(self.now, rest);
            if n > 0
                && let Some((c, tap)) = self.tap_in.as_mut()
                && *c == conn
            {
                for p in tap.feed(&rest[..n]) {
                    match p {
                        Ok(pkt) => self.obs.push(Obs::Received { conn, pkt }),
                        Err(e) => self.obs.push(Obs::Violation(format!(
                            "the broker model sent malformed bytes: {e:?}"
                        ))),
                    }
                }
            }
            rest = &rest[n..];
            self.drain();
            if n == 0 {
                refused += 1;
                if refused > 2 {
                    self.violation(format!(
                        "the session takes no more input ({} bytes left) although it was drained",
                        rest.len()
                    ));
                    return;
                }
            }
        }
    }

    fn violation(&mut self, what: String) {
        self.obs.push(Obs::Violation(what));
    }
}

/// A random time in `1..=2*mean` ms.
fn spread(rng: &mut Rng, mean: Duration) -> Duration {
    Duration::from_millis(1 + rng.below(mean.as_millis().max(1) * 2))
}

//! Every transition of the session lives in this file.
//!
//! Connection states and what moves between them:
//!
//! ```text
//!  Idle --connect()--> Opening --transport up--> AwaitConnAck --CONNACK ok--> Connected
//!   ^                    |                          |   CONNACK refused (fatal)  |
//!   |                    | connect timeout          |   -> Idle + Stopped        | DISCONNECT from server,
//!   |                    v                          v                            | keepalive timeout,
//!   |     Waiting <---- (lose: schedule backoff) <--+----------------------------+ transport down, peer fault (3.1.1)
//!   |        | reconnect timer -> Opening                                        |
//!   |                                                                            | disconnect(), peer fault (5.0)
//!   +-- Stopped (fatal refusal, attempts exhausted, disconnect) <-- Closing <-----+ (DISCONNECT sent, then close)
//! ```
//!
//! Rules:
//! 1. Before CONNACK only CONNECT is sent [MQTT-3.1.0-1]; anything but CONNACK first is a
//!    protocol violation [MQTT-3.2.0-1].
//! 2. A peer fault ends the connection with the fault's reason code (DISCONNECT in 5.0;
//!    3.1.1 just closes, so the will still fires) and schedules a reconnect.
//! 3. Fatal refusals stop reconnecting unless the policy says otherwise.
//! 4. The outbox keeps every QoS 1/2 operation until its final ack; on a new connection
//!    with session present everything unacknowledged is resent in order with DUP
//!    [MQTT-4.4.0-1] [MQTT-4.6.0-1]; without, it is resent as new or reported lost.
//! 5. Acks to the server go out in the order its messages arrived [MQTT-4.6.0-2].
//! 6. After DISCONNECT nothing more is sent [MQTT-3.14.4-2].

use mqtt_proto::{
    Ack, Connect, Decoder, Disconnect, Packet, PacketId, PacketType, Properties, Property,
    ProtocolVersion, Publish, QoS, QosPid, ReasonCode, SubAck, Subscribe, Subscription,
    TopicFilter, TopicName, UnsubAck,
};

use crate::config::Config;
use crate::error::Error;
use crate::event::{ConnectionError, Event, LossReason, PeerFault, StopReason, Token};
use crate::inflight::{InEntry, InStage, OutEntry, OutKind, OutState};
use crate::reconnect::ReconnectPolicy;
use crate::rng::Rng;
use crate::store::{Key, Store};
use crate::table::{Ring, Tables};
use crate::time::{Duration, Instant};
use crate::timer::Timers;

/// Bytes staged for control packets (acks, PINGREQ, DISCONNECT). When nearly full, received
/// packets wait until `poll_transmit` drains it: back-pressure, never a dropped ack.
pub(crate) const TX_STAGING: usize = 128;
/// Room kept free in the staging buffer before another received packet is processed.
const TX_RESERVE: usize = 16;

/// What [`Core::write_direct_aliased`] did.
enum DirectAlias {
    /// No alias applies: the message goes un-aliased.
    None,
    /// Written with its alias: this many bytes.
    Written(usize),
    /// An alias applies but the packet does not fit the caller's buffer: queue it.
    NoRoom,
}

/// Whether MQTT 5.0 is compiled in. Without it no topic alias or AUTH can ever be in play:
/// the paths that handle them test this first, so a 3.1.1-only firmware leaves them out
/// (the session's settings are runtime values the compiler cannot see are always zero).
const V5: bool = cfg!(feature = "v5");

/// Bytes reserved per incoming topic alias; a longer topic bound to an alias may not be kept.
const ALIAS_RESERVE: usize = 64;
/// Lifecycle events waiting for `poll_event`; each input adds at most four.
const EVENT_QUEUE: usize = 8;

/// An ack with the Success code and no property, the same four bytes in both versions
/// (5.0 leaves such a code out [MQTT-3.4.2-1]): written as they are, not through the
/// codec's general encoder (~250 instructions per received message).
fn success_ack(t: PacketType, id: PacketId) -> [u8; 4] {
    let first = match t {
        PacketType::PubAck => 0x40,
        PacketType::PubRec => 0x50,
        PacketType::PubRel => 0x62, // reserved flags 0010 [MQTT-3.6.1-1]
        _ => 0x70,
    };
    let [hi, lo] = id.get().to_be_bytes();
    [first, 2, hi, lo]
}

/// PINGREQ, the same two bytes in both versions.
const PINGREQ: [u8; 2] = [0xc0, 0x00];

/// DISCONNECT with the Normal code and no property: two bytes in both versions (5.0 leaves
/// the code out [MQTT-3.14.2-1]).
const DISCONNECT_NORMAL: [u8; 2] = [0xe0, 0x00];

/// The properties of a decoded packet (received, or a stored record) as the session reads
/// them: none without `v5`, where a 3.1.1 packet has none, stated so that the compiler
/// drops their readers.
#[inline(always)]
pub(crate) fn decoded(properties: Properties<'_>) -> Properties<'_> {
    if V5 { properties } else { Properties::empty() }
}

/// The encoded length of a PUBLISH without properties, by arithmetic (no checks: its
/// encode makes them); `None` for any other packet (measured by `encoded_len`).
#[inline]
fn quick_len(packet: &Packet<'_>, v: ProtocolVersion) -> Option<usize> {
    let Packet::Publish(p) = packet else {
        return None;
    };
    if !p.properties.is_empty() {
        return None;
    }
    let pid = if p.qos == QosPid::AtMostOnce { 0 } else { 2 };
    // 5.0: the empty property block is its one length byte.
    let body = 2 + p.topic.len() + pid + usize::from(v.is_v5()) + p.payload.len();
    if body > mqtt_proto::varint::MAX as usize {
        return None;
    }
    Some(1 + mqtt_proto::varint::len(body as u32) + body)
}

/// What handling one received packet produced for the application; the session turns it
/// into an [`Event`] that borrows from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Connected {
        session_present: bool,
    },
    /// An AUTH from the server to show the application.
    Auth,
    /// Deliver the PUBLISH; `alias`: its topic comes from this alias mapping.
    Message {
        ack: Option<Token>,
        alias: Option<u16>,
    },
    Published {
        token: Token,
        reason_code: ReasonCode,
    },
    Subscribed {
        token: Token,
    },
    Unsubscribed {
        token: Token,
    },
    /// A 5.0 CONNACK or DISCONNECT 0x9C / 0x9D with a Server Reference: report it.
    Redirect {
        permanent: bool,
    },
}

/// A queued lifecycle event, kept small (the full [`Event`] is several times larger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Open,
    Close,
    Lost(ConnectionError),
    Scheduled(Instant, u32),
    Stopped(StopReason),
}

impl Lifecycle {
    fn from_event(ev: Event<'static>) -> Option<Self> {
        Some(match ev {
            Event::OpenTransport => Lifecycle::Open,
            Event::CloseTransport => Lifecycle::Close,
            Event::ConnectionLost { reason } => Lifecycle::Lost(reason),
            Event::ReconnectScheduled { at, attempt } => Lifecycle::Scheduled(at, attempt),
            Event::Stopped { reason } => Lifecycle::Stopped(reason),
            _ => return None,
        })
    }

    fn event(self) -> Event<'static> {
        match self {
            Lifecycle::Open => Event::OpenTransport,
            Lifecycle::Close => Event::CloseTransport,
            Lifecycle::Lost(reason) => Event::ConnectionLost { reason },
            Lifecycle::Scheduled(at, attempt) => Event::ReconnectScheduled { at, attempt },
            Lifecycle::Stopped(reason) => Event::Stopped { reason },
        }
    }
}

/// The connection's state; see the diagram at the top of this file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnState {
    /// No transport and no reconnect scheduled (before `connect`, or stopped).
    Idle,
    /// A reconnect is scheduled.
    Waiting,
    /// Waiting for the adapter to open the transport.
    Opening,
    /// Transport up, CONNECT sent or due, waiting for CONNACK.
    AwaitConnAck,
    /// Connected.
    Connected,
    /// DISCONNECT staged; the transport closes once it is sent.
    Closing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterClose {
    Stop(StopReason),
    Reconnect,
}

/// Settings copied out of [`Config`].
#[derive(Clone, Copy, Debug)]
struct Settings {
    version: ProtocolVersion,
    keep_alive: u16,
    ping_timeout: Duration,
    connect_timeout: Duration,
    persistent: bool,
    receive_maximum: u16,
    max_packet_size: u32,
    topic_alias_maximum: u16,
    topic_alias_send_maximum: u16,
    max_inflight: u16,
    receive_maximum_tolerance: u16,
    auth: bool,
    reconnect: ReconnectPolicy,
    manual_ack: bool,
    resubscribe: bool,
    resend_on_session_loss: bool,
    queue_qos0_offline: bool,
}

/// What the server granted on this connection.
#[derive(Clone, Copy, Debug)]
struct Link {
    since: Instant,
    /// Aliases we may assign on this connection: min(ours, the server's) [MQTT-3.2.2-17].
    alias_max: u16,
    keep_alive: Duration,
    send_quota: u16,
    max_packet_size: u32,
    max_qos: QoS,
    retain_available: bool,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            since: Instant::ZERO,
            alias_max: 0,
            keep_alive: Duration::ZERO,
            send_quota: u16::MAX,
            max_packet_size: u32::MAX,
            max_qos: QoS::ExactlyOnce,
            retain_available: true,
        }
    }
}

/// The session minus its receive buffer.
pub(crate) struct Core<S, const OUT: usize, const IN: usize, T: Tables> {
    settings: Settings,
    pub(crate) store: S,
    state: ConnState,
    after_close: AfterClose,
    connect_due: bool,
    /// We sent Clean Start = 0 on this connection, so Session Present = 1 is allowed.
    expects_session: bool,
    link: Link,
    timers: Timers,
    rng: Rng,
    attempts: u32,
    now: Instant,
    last_sent: Instant,
    last_recv: Instant,
    out: T::Ring<OutEntry, OUT>,
    /// No entry before this index is `Pending`.
    first_pending: usize,
    /// Entries in `Lost` not yet reported.
    lost_pending: usize,
    /// QoS 1/2 publishes sent and not completed (send quota in use).
    inflight_pub: u16,
    inbox: T::Ring<InEntry, IN>,
    tx: heapless::Vec<u8, TX_STAGING>,
    events: heapless::Deque<Lifecycle, EVENT_QUEUE>,
    next_token: u32,
    next_seq: u32,
    next_sub_seq: u32,
    next_pid: u16,
    /// Every packet id from `next_pid` up to, not including, this one is held by no
    /// operation: `alloc_pid` takes them without looking through the outbox (a scan of up
    /// to Receive Maximum entries per publish). 0: not known. Only `alloc_pid` hands out
    /// ids, and freeing one keeps it true; a restore and the wrap to 1 reset it.
    pids_free_below: u32,
    /// Next subscription record to send again after a session loss.
    resubscribe_from: Option<u32>,
    /// Incoming topic aliases announced on this connection (room reserved for them).
    alias_in: u16,
    /// How many of them the server has bound so far.
    alias_bound: u16,
    /// An AUTH record waits to be sent.
    auth_due: bool,
    /// Outgoing alias bindings were evicted on this connection: bind no new ones (the cache
    /// would only fill the store again).
    out_alias_evicted: bool,
    /// QoS 1 ids carried over from the last connection (manual ack): the server's DUP of
    /// such a message may cross our PUBACK and is then acknowledged, not delivered again.
    crossing: T::Ring<u16, IN>,
    /// A connection was accepted before (in this process, or in the one `restore` follows),
    /// so remembered subscriptions are the server's to lose.
    connected_before: bool,
    /// The receive buffer must be emptied (a fault or a new connection).
    pub(crate) discard_rx: bool,
}

/// Visits a remembered subscription: record key, filter, options, subscription id.
pub(crate) type SubscriptionVisitor<'f> =
    dyn FnMut(Key, &str, mqtt_proto::SubscriptionOptions, Option<u32>) + 'f;

/// Refusals that retrying will not fix.
fn is_fatal_refusal(rc: ReasonCode) -> bool {
    matches!(
        rc,
        ReasonCode::BadUserNameOrPassword
            | ReasonCode::NotAuthorized
            | ReasonCode::Banned
            | ReasonCode::UnsupportedProtocolVersion
            | ReasonCode::ClientIdentifierNotValid
            | ReasonCode::BadAuthenticationMethod
    )
}

impl<S: Store, const OUT: usize, const IN: usize, T: Tables> Core<S, OUT, IN, T> {
    #[cfg_attr(target_os = "none", inline(always))]
    pub(crate) fn new(
        config: &Config<'_>,
        mut store: S,
        rx_capacity: usize,
    ) -> Result<Self, Error> {
        let v = config.version;
        let persistent = if v.is_v5() {
            config.session_expiry_interval > 0
        } else {
            !config.clean_start
        };
        let max_packet_size = config
            .maximum_packet_size
            .unwrap_or(u32::MAX)
            .min(rx_capacity as u32);
        let capacity = IN.clamp(1, u16::MAX as usize) as u16;
        // 3.1.1 cannot announce a Receive Maximum: the only limit is what the table holds.
        let receive_maximum = if v.is_v5() {
            config.receive_maximum.clamp(1, capacity)
        } else {
            capacity
        };
        let settings = Settings {
            version: v,
            keep_alive: config.keep_alive,
            ping_timeout: config.ping_timeout,
            connect_timeout: config.connect_timeout,
            persistent,
            receive_maximum,
            max_packet_size,
            topic_alias_send_maximum: if v.is_v5() {
                config.topic_alias_send_maximum
            } else {
                0
            },
            max_inflight: config.max_inflight.max(1),
            receive_maximum_tolerance: config.receive_maximum_tolerance,
            auth: v.is_v5() && config.authentication_method.is_some(),
            topic_alias_maximum: if v.is_v5() {
                config.topic_alias_maximum
            } else {
                0
            },
            reconnect: config.reconnect,
            manual_ack: config.manual_ack,
            resubscribe: config.resubscribe,
            resend_on_session_loss: config.resend_on_session_loss,
            queue_qos0_offline: config.queue_qos0_offline,
        };
        encode_connect(config, &settings, &mut store)?;
        Ok(Core {
            settings,
            store,
            state: ConnState::Idle,
            after_close: AfterClose::Reconnect,
            connect_due: false,
            expects_session: !config.clean_start,
            link: Link::default(),
            timers: Timers::default(),
            rng: Rng::new(config.rng_seed),
            attempts: 0,
            now: Instant::ZERO,
            last_sent: Instant::ZERO,
            last_recv: Instant::ZERO,
            out: Ring::new(),
            first_pending: 0,
            lost_pending: 0,
            inflight_pub: 0,
            inbox: Ring::new(),
            tx: heapless::Vec::new(),
            events: heapless::Deque::new(),
            next_token: 1,
            next_seq: 0,
            next_sub_seq: 0,
            next_pid: 1,
            pids_free_below: 0,
            resubscribe_from: None,
            connected_before: false,
            crossing: Ring::new(),
            alias_in: 0,
            alias_bound: 0,
            auth_due: false,
            out_alias_evicted: false,
            discard_rx: false,
        })
    }

    // ----- getters -------------------------------------------------------------------

    pub(crate) fn state(&self) -> ConnState {
        self.state
    }

    pub(crate) fn version(&self) -> ProtocolVersion {
        self.settings.version
    }

    pub(crate) fn decoder(&self) -> Decoder {
        Decoder::new(self.settings.version).max_packet_size(self.settings.max_packet_size)
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.out
            .iter()
            .filter(|e| !matches!(e.state, OutState::Done))
            .count()
    }

    pub(crate) fn inflight_publishes(&self) -> u16 {
        self.inflight_pub
    }

    pub(crate) fn incoming_pending(&self) -> usize {
        self.inbox.len()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    pub(crate) fn wants_rx(&self) -> bool {
        matches!(self.state, ConnState::AwaitConnAck | ConnState::Connected)
            && self.tx.capacity() - self.tx.len() >= TX_RESERVE
    }

    // ----- small helpers ---------------------------------------------------------------

    fn token(&mut self) -> Token {
        let t = Token(self.next_token);
        self.next_token = self.next_token.wrapping_add(1).max(1);
        t
    }

    fn push_event(&mut self, ev: Event<'static>) {
        let Some(ev) = Lifecycle::from_event(ev) else {
            return;
        };
        // Bounded: each input queues at most four and the caller drains events after
        // every input (the documented contract); past that the oldest gives way.
        if let Err(ev) = self.events.push_back(ev) {
            let _ = self.events.pop_front();
            let _ = self.events.push_back(ev);
        }
    }

    /// A packet id not held by any outgoing operation [MQTT-2.3.1-2].
    fn alloc_pid(&mut self) -> Option<u16> {
        let pid = self.next_pid;
        if u32::from(pid) < self.pids_free_below {
            self.next_pid = if pid == u16::MAX {
                self.pids_free_below = 0;
                1
            } else {
                pid + 1
            };
            return Some(pid);
        }
        for _ in 0..u16::MAX {
            let pid = self.next_pid;
            self.next_pid = if pid == u16::MAX { 1 } else { pid + 1 };
            if !self.out.iter().any(|e| e.pid == pid && e.holds_pid()) {
                // The next held id at or after `next_pid` bounds the free run.
                let next = self.next_pid;
                self.pids_free_below = self
                    .out
                    .iter()
                    .filter(|e| e.holds_pid() && e.pid >= next)
                    .map(|e| u32::from(e.pid))
                    .min()
                    .unwrap_or(1 << 16);
                return Some(pid);
            }
        }
        None
    }

    fn stage(&mut self, packet: Packet<'_>) {
        let v = self.settings.version;
        let mut buf = [0u8; 32];
        if let Ok(n) = packet.encode(v, &mut buf) {
            let _ = self.tx.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }

    fn stage_ack(&mut self, t: PacketType, pid: u16, reason_code: ReasonCode) {
        let Some(id) = PacketId::new(pid) else { return };
        // A 3.1.1 ack carries no reason code: without `v5` every ack takes this path.
        if !V5 || reason_code == ReasonCode::Success {
            let _ = self.tx.extend_from_slice(&success_ack(t, id));
            return;
        }
        let ack = Ack {
            packet_id: id,
            reason_code,
            properties: Properties::empty(),
        };
        self.stage(match t {
            PacketType::PubAck => Packet::PubAck(ack),
            PacketType::PubRec => Packet::PubRec(ack),
            PacketType::PubRel => Packet::PubRel(ack),
            _ => Packet::PubComp(ack),
        });
    }

    fn refresh_keepalive(&mut self) {
        self.timers.keepalive =
            if self.state == ConnState::Connected && self.granted().keep_alive > Duration::ZERO {
                // Ping when nothing was sent, or nothing received, for the keepalive interval:
                // the second catches a half-open connection while we only send.
                let base = self.last_sent.min(self.last_recv);
                Some(base + self.granted().keep_alive).filter(|_| self.timers.ping.is_none())
            } else {
                None
            };
    }

    /// Frees the slots of finished operations wherever they stand, so capacity counts
    /// only unfinished ones; false if the outbox is still full.
    fn make_room(&mut self) -> bool {
        if !self.out.is_full() {
            return true;
        }
        let before = self.out.len();
        self.out.retain(|e| e.state != OutState::Done);
        if self.out.len() != before {
            // Indexes moved; the scan for pending entries starts over (it is only a hint).
            self.first_pending = 0;
        }
        !self.out.is_full()
    }

    fn pop_done(&mut self) {
        while self.out.front().is_some_and(|e| e.state == OutState::Done) {
            let _ = self.out.pop_front();
            self.first_pending = self.first_pending.saturating_sub(1);
        }
    }

    // ----- inputs ----------------------------------------------------------------------

    pub(crate) fn set_now(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    pub(crate) fn on_received(&mut self, now: Instant) {
        self.set_now(now);
        self.last_recv = self.now;
        self.refresh_keepalive();
    }

    /// The adapter opened the transport.
    pub(crate) fn handle_transport_up(&mut self, now: Instant) {
        self.set_now(now);
        if self.state != ConnState::Opening {
            return;
        }
        self.state = ConnState::AwaitConnAck;
        self.connect_due = true;
        self.tx.clear();
        self.discard_rx = true;
        self.last_recv = self.now;
        self.last_sent = self.now;
        self.timers.connect = Some(self.now + self.settings.connect_timeout);
        // Topic aliases never carry over to a new connection [MQTT-3.3.2-7].
        self.clear_keys(|k| matches!(k, Key::TopicAlias(_) | Key::OutAlias(_)));
        self.reserve_aliases();
        self.out_alias_evicted = false;
    }

    /// The adapter saw the transport close or fail.
    pub(crate) fn handle_transport_down(&mut self, now: Instant) {
        self.set_now(now);
        match self.state {
            ConnState::Opening | ConnState::AwaitConnAck | ConnState::Connected => {
                self.lose(ConnectionError::TransportClosed, false)
            }
            ConnState::Closing => self.finish_close(),
            ConnState::Idle | ConnState::Waiting => {}
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.set_now(now);
        let now = self.now;
        if Timers::expired(self.timers.reconnect, now) {
            self.timers.reconnect = None;
            if self.state == ConnState::Waiting {
                self.open();
            }
        }
        if Timers::expired(self.timers.connect, now) {
            self.timers.connect = None;
            if matches!(self.state, ConnState::Opening | ConnState::AwaitConnAck) {
                self.lose(ConnectionError::ConnectTimeout, true);
            }
        }
        if Timers::expired(self.timers.ping, now) {
            self.timers.ping = None;
            if self.state == ConnState::Connected {
                self.lose(ConnectionError::KeepAliveTimeout, true);
            }
        }
        if Timers::expired(self.timers.keepalive, now) && self.state == ConnState::Connected {
            let _ = self.tx.extend_from_slice(&PINGREQ);
            // Capped at the keepalive interval, so the gap between packets we send never
            // exceeds Keep Alive while we wait [MQTT-3.1.2-23].
            self.timers.ping =
                Some(now + self.settings.ping_timeout.min(self.granted().keep_alive));
            self.refresh_keepalive();
            // Nothing was sent for a keepalive interval: the connection idles.
            self.release_tables();
        }
    }

    /// Bytes the in-flight tables hold on the heap.
    pub(crate) fn table_heap_bytes(&self) -> usize {
        self.out.heap_bytes() + self.inbox.heap_bytes() + self.crossing.heap_bytes()
    }

    /// Heap tables give their memory back when empty (inline tables have nothing to give),
    /// and so may the store (`VecStore` shrinks its arena to its records).
    /// Called when the connection idles or ends, not at every empty moment, so a steady
    /// stream does not allocate per message.
    fn release_tables(&mut self) {
        self.out.release();
        self.inbox.release();
        self.crossing.release();
        self.store.release();
    }

    fn open(&mut self) {
        self.state = ConnState::Opening;
        self.timers.connect = Some(self.now + self.settings.connect_timeout);
        self.push_event(Event::OpenTransport);
    }

    /// The connection ended: report, then schedule a reconnect or stop.
    fn lose(&mut self, reason: ConnectionError, close_transport: bool) {
        self.reset_backoff_if_stable();
        self.release_tables();
        self.timers.clear_connection();
        self.tx.clear();
        self.discard_rx = true;
        self.state = ConnState::Idle;
        if close_transport {
            self.push_event(Event::CloseTransport);
        }
        self.push_event(Event::ConnectionLost { reason });
        let stop = match reason {
            ConnectionError::Refused(rc)
                if is_fatal_refusal(rc) && !self.settings.reconnect.retry_fatal_refusals =>
            {
                Some(StopReason::Refused(rc))
            }
            ConnectionError::ServerDisconnect(ReasonCode::SessionTakenOver) => {
                Some(StopReason::SessionTakenOver)
            }
            _ => None,
        };
        match stop {
            Some(reason) => self.stop(reason),
            None => self.schedule_reconnect(),
        }
    }

    fn stop(&mut self, reason: StopReason) {
        self.state = ConnState::Idle;
        self.timers = Timers::default();
        self.push_event(Event::Stopped { reason });
    }

    fn schedule_reconnect(&mut self) {
        let policy = self.settings.reconnect;
        if !policy.enabled {
            return self.stop(StopReason::ReconnectDisabled);
        }
        if policy.max_attempts.is_some_and(|max| self.attempts >= max) {
            return self.stop(StopReason::AttemptsExhausted);
        }
        let at = self.now + policy.delay(self.attempts, &mut self.rng);
        self.attempts += 1;
        self.state = ConnState::Waiting;
        self.timers.reconnect = Some(at);
        self.push_event(Event::ReconnectScheduled {
            at,
            attempt: self.attempts,
        });
    }

    /// Reserves room (one record of `ALIAS_RESERVE` bytes) per incoming topic alias, at most
    /// half of the store's free room, and announces only that many: operations must leave
    /// the reserved room free, so a correct server is never refused for want of room, and
    /// aliases never starve publishes. Nothing is written to the store until a bind.
    fn reserve_aliases(&mut self) {
        self.alias_bound = 0;
        if !V5 {
            return;
        }
        let want = usize::from(self.settings.topic_alias_maximum);
        let (records, bytes) = self.store.room();
        self.alias_in = (records / 2).min(bytes / 2 / ALIAS_RESERVE).min(want) as u16;
    }

    /// Whether a new operation record of `len` bytes leaves the room reserved for the
    /// aliases the server may still bind on this connection.
    fn leaves_alias_room(&self, len: usize) -> bool {
        let unbound = usize::from(self.alias_in.saturating_sub(self.alias_bound));
        if !V5 || unbound == 0 {
            return true;
        }
        let (records, bytes) = self.store.room();
        records > unbound && bytes >= len.saturating_add(unbound * ALIAS_RESERVE)
    }

    /// Records an incoming QoS 2 id for a persistent store, when that leaves the room
    /// reserved for topic aliases (the inbox tracks it either way).
    fn persist_incoming_qos2(&mut self, pid: u16) {
        if self.leaves_alias_room(0) {
            let _ = self.store.put(Key::IncomingQos2(pid), &[]);
        }
    }

    /// Drops the outgoing topic alias bindings, a cache: operations come first. Without its
    /// record an alias is simply not used again on this connection. True if any went.
    fn evict_out_aliases(&mut self) -> bool {
        if !V5 {
            return false;
        }
        let mut any = false;
        self.store
            .for_each_key(&mut |k| any |= matches!(k, Key::OutAlias(_)));
        if any {
            self.clear_keys(|k| matches!(k, Key::OutAlias(_)));
            self.out_alias_evicted = true;
        }
        any
    }

    /// A connection that stayed up `stable_after` resets the backoff; called as it ends.
    fn reset_backoff_if_stable(&mut self) {
        let policy = &self.settings.reconnect;
        if self.state == ConnState::Connected
            && self.now.saturating_since(self.granted().since) >= policy.stable_after
        {
            self.attempts = 0;
        }
    }

    fn finish_close(&mut self) {
        self.timers.clear_connection();
        self.state = ConnState::Idle;
        self.tx.clear();
        self.discard_rx = true;
        match self.after_close {
            AfterClose::Stop(reason) => self.stop(reason),
            AfterClose::Reconnect => self.schedule_reconnect(),
        }
    }

    /// A protocol violation by the server [MQTT-4.8.0-1].
    pub(crate) fn fault(&mut self, fault: PeerFault) {
        let reason_code = fault.reason_code();
        let reason = ConnectionError::ProtocolViolation { reason_code, fault };
        if self.settings.version.is_v5() && self.state == ConnState::Connected {
            self.reset_backoff_if_stable();
            // 5.0: tell the server why, then close. Nothing else goes out [MQTT-3.14.4-2].
            self.tx.clear();
            self.stage(Packet::Disconnect(Disconnect::with_reason(reason_code)));
            self.discard_rx = true;
            self.timers.clear_connection();
            self.state = ConnState::Closing;
            self.after_close = AfterClose::Reconnect;
            self.push_event(Event::ConnectionLost { reason });
        } else {
            // 3.1.1 (or before CONNACK): just close, so the server still publishes the will.
            self.lose(reason, true);
        }
    }

    // ----- commands --------------------------------------------------------------------

    pub(crate) fn connect(&mut self, now: Instant) {
        self.set_now(now);
        if matches!(self.state, ConnState::Idle | ConnState::Waiting) {
            self.attempts = 0;
            self.timers.reconnect = None;
            self.open();
        }
    }

    pub(crate) fn disconnect(&mut self, now: Instant) {
        self.set_now(now);
        match self.state {
            ConnState::Connected => {
                let _ = self.tx.extend_from_slice(&DISCONNECT_NORMAL);
                self.state = ConnState::Closing;
                self.after_close = AfterClose::Stop(StopReason::ClientDisconnect);
                self.timers.clear_connection();
                self.push_event(Event::ConnectionLost {
                    reason: ConnectionError::ClientDisconnect,
                });
            }
            ConnState::Opening | ConnState::AwaitConnAck => {
                self.timers.clear_connection();
                self.push_event(Event::CloseTransport);
                self.stop(StopReason::ClientDisconnect);
            }
            ConnState::Waiting => self.stop(StopReason::ClientDisconnect),
            ConnState::Idle | ConnState::Closing => {}
        }
    }

    pub(crate) fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
    ) -> Result<Option<Token>, Error> {
        self.set_now(now);
        let topic = self.check_publish(topic, qos, retain, properties)?;
        self.publish_queued(topic, payload, qos, retain, properties)
    }

    /// [`Core::publish`], writing a QoS 0 message straight into `out` when it can go at
    /// once: connected, nothing queued to go before it, and room in `out`; with an
    /// outgoing topic alias (5.0) chosen and bound as a transmit of the queued message
    /// would. Returns the token and the bytes written (0: queued as usual).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn publish_into(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
        out: &mut [u8],
    ) -> Result<(Option<Token>, usize), Error> {
        self.set_now(now);
        let topic = self.check_publish(topic, qos, retain, properties)?;
        if qos == QoS::AtMostOnce
            && self.state == ConnState::Connected
            && !self.auth_due
            && self.first_pending >= self.out.len()
            && self.resubscribe_from.is_none()
        {
            let v = self.settings.version;
            let packet = Packet::Publish(Publish {
                dup: false,
                qos: QosPid::AtMostOnce,
                retain,
                topic,
                properties: Properties::new(properties),
                payload,
            });
            let quick = quick_len(&packet, v);
            let len = match quick {
                Some(len) => len,
                None => packet.encoded_len(v)?,
            };
            if len as u64 > u64::from(self.granted().max_packet_size) {
                // As in store_out: an invalid packet is refused as invalid first.
                if quick.is_some() {
                    packet.encoded_len(v)?;
                }
                return Err(Error::PacketTooLarge {
                    size: len,
                    max: self.granted().max_packet_size,
                });
            }
            // The checks above are the queued record's; an alias is chosen as its
            // transmit would choose one.
            let direct = match self.granted().alias_max {
                0 => DirectAlias::None,
                _ => self.write_direct_aliased(topic, payload, retain, properties, out),
            };
            match direct {
                DirectAlias::Written(n) => return Ok((None, self.sent_direct(n))),
                DirectAlias::NoRoom => {}
                DirectAlias::None => {
                    if let Some(dst) = out.get_mut(..len) {
                        let n = packet.encode(v, dst)?;
                        return Ok((None, self.sent_direct(n)));
                    }
                }
            }
        }
        self.publish_queued(topic, payload, qos, retain, properties)
            .map(|token| (token, 0))
    }

    /// Bookkeeping of a QoS 0 message written at once (`n` bytes, returned).
    fn sent_direct(&mut self, n: usize) -> usize {
        // Numbered like a queued one, so the tokens that follow do not depend on the path
        // a QoS 0 message took.
        self.token();
        self.last_sent = self.now;
        self.refresh_keepalive();
        n
    }

    /// The checks every publish passes before it is written or queued; returns the
    /// checked topic name.
    fn check_publish<'t>(
        &self,
        topic: &'t str,
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
    ) -> Result<TopicName<'t>, Error> {
        let connected = self.state == ConnState::Connected;
        if qos == QoS::AtMostOnce && !connected && !self.settings.queue_qos0_offline {
            return Err(Error::NotConnected);
        }
        if connected && qos > self.granted().max_qos {
            return Err(Error::QoSNotSupported);
        }
        if connected && retain && !self.granted().retain_available {
            return Err(Error::RetainNotSupported);
        }
        self.v5_only(properties)?;
        if properties.iter().any(|p| {
            matches!(
                p,
                Property::SubscriptionIdentifier(_) | Property::TopicAlias(_)
            )
        }) {
            // A client never sends a subscription id [MQTT-3.3.4-6]; aliases are the session's.
            return Err(Error::Encode(mqtt_proto::EncodeError::PropertyNotAllowed(
                mqtt_proto::PropertyId::SubscriptionIdentifier as u8,
            )));
        }
        // Checked once here; the PUBLISH then carries a name its encoder trusts.
        crate::error::topic_name(topic)
    }

    /// Stores a checked publish and queues it for [`Core::poll_transmit`].
    fn publish_queued(
        &mut self,
        topic: TopicName<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
    ) -> Result<Option<Token>, Error> {
        let kind = OutKind::Publish(qos);
        let (token, _) = self.enqueue(kind, qos != QoS::AtMostOnce, |id| {
            let qos = match (qos, id) {
                (QoS::AtLeastOnce, Some(id)) => QosPid::AtLeastOnce(id),
                (QoS::ExactlyOnce, Some(id)) => QosPid::ExactlyOnce(id),
                _ => QosPid::AtMostOnce,
            };
            let properties = Properties::new(properties);
            Packet::Publish(Publish {
                dup: false,
                qos,
                retain,
                topic,
                properties,
                payload,
            })
        })?;
        Ok((qos != QoS::AtMostOnce).then_some(token))
    }

    /// Fails for 5.0 properties on an earlier version.
    fn v5_only(&self, properties: &[Property<'_>]) -> Result<(), Error> {
        if self.settings.version.is_v5() || properties.is_empty() {
            Ok(())
        } else {
            Err(Error::NotInVersion)
        }
    }

    /// The shared body of publish, subscribe and unsubscribe: makes room, allocates a packet
    /// id (if `needs_id`), stores the packet `build` makes with it, and queues the operation.
    /// On any failure the id is given back and nothing changed. Returns the operation's
    /// token and its packet id.
    fn enqueue<'p>(
        &mut self,
        kind: OutKind,
        needs_id: bool,
        build: impl FnOnce(Option<PacketId>) -> Packet<'p>,
    ) -> Result<(Token, Option<PacketId>), Error> {
        if !self.make_room() {
            return Err(Error::Full);
        }
        let saved = self.next_pid;
        let id = if needs_id {
            Some(
                self.alloc_pid()
                    .and_then(PacketId::new)
                    .ok_or(Error::Full)?,
            )
        } else {
            None
        };
        let connected = self.state == ConnState::Connected;
        let seq = match self.store_out(build(id), connected) {
            Ok(seq) => seq,
            Err(e) => {
                // The id goes back; the free run `alloc_pid` found may start after `saved`
                // (it looked past held ids), so it is not known any more.
                self.next_pid = saved;
                self.pids_free_below = 0;
                return Err(e);
            }
        };
        let token = self.token();
        let pid = id.map_or(0, PacketId::get);
        let state = OutState::Pending { dup: false };
        // make_room() above guarantees the slot.
        let _ = self.out.push_back(OutEntry {
            seq,
            token,
            pid,
            kind,
            state,
        });
        Ok((token, id))
    }

    /// Encodes `packet` into the store under a new `Key::Out`, checking the server's limit.
    ///
    /// A PUBLISH without properties is measured by arithmetic and checked once, by the
    /// encode into the store (the codec's encode makes the same checks as `encoded_len`, in
    /// the same order). Before any other refusal `encoded_len` runs, so an invalid packet
    /// is still refused as invalid first, and a record that failed to encode is removed
    /// again (zeroed first, so a persistent store never replays it).
    fn store_out(&mut self, packet: Packet<'_>, connected: bool) -> Result<u32, Error> {
        let v = self.settings.version;
        let quick = quick_len(&packet, v);
        let len = match quick {
            Some(len) => len,
            None => packet.encoded_len(v)?,
        };
        if connected && len as u64 > u64::from(self.granted().max_packet_size) {
            if quick.is_some() {
                packet.encoded_len(v)?;
            }
            return Err(Error::PacketTooLarge {
                size: len,
                max: self.granted().max_packet_size,
            });
        }
        let seq = self.next_seq;
        // What the encode wrote, or why it failed; kept apart rather than as one
        // `Result`, whose 16-byte copy stalls on the encoder's narrower stores.
        let mut written = 0;
        let mut failed = None;
        let mut put = |core: &mut Self| {
            if !core.leaves_alias_room(len) {
                return Err(Error::Full);
            }
            core.store
                .put_with(Key::Out(seq), len, &mut |dst| match packet.encode(v, dst) {
                    Ok(n) => written = n,
                    Err(e) => {
                        failed = Some(e);
                        dst.fill(0);
                    }
                })
                .map_err(|_| Error::Full)
        };
        if put(self).is_err() {
            if quick.is_some() {
                packet.encoded_len(v)?;
            }
            // The outgoing alias cache gives way to operations.
            if !self.evict_out_aliases() || put(self).is_err() {
                return Err(Error::Full);
            }
        }
        if written != len {
            self.store.remove(Key::Out(seq));
            let e = failed.unwrap_or(mqtt_proto::EncodeError::PacketTooLarge);
            return Err(e.into());
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(seq)
    }

    pub(crate) fn subscribe(
        &mut self,
        now: Instant,
        filters: &[Subscription<'_>],
        properties: &[Property<'_>],
    ) -> Result<Token, Error> {
        self.set_now(now);
        let v = self.settings.version;
        self.v5_only(properties)?;
        let sub_base = self.next_sub_seq;
        let kind = OutKind::Subscribe {
            count: filters.len() as u16,
            sub_base,
        };
        let (token, id) = self.enqueue(kind, true, |id| {
            let packet_id = id.unwrap_or(PacketId::MIN); // always Some: needs_id
            let properties = Properties::new(properties);
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters: mqtt_proto::List::new(filters),
            })
        })?;
        let id = id.unwrap_or(PacketId::MIN);
        // Remember each filter now (replacing an earlier one); SUBACK failures remove it.
        let sub_id = properties.iter().find_map(|p| match p {
            Property::SubscriptionIdentifier(i) => Some(*i),
            _ => None,
        });
        for (i, f) in filters.iter().enumerate() {
            self.forget_subscription(&f.filter);
            let sid = [Property::SubscriptionIdentifier(sub_id.unwrap_or(0))];
            let record = Packet::Subscribe(Subscribe {
                packet_id: id,
                properties: Properties::new(if sub_id.is_some() { &sid } else { &[] }),
                filters: mqtt_proto::List::new(core::slice::from_ref(f)),
            });
            let key = Key::Subscription(sub_base.wrapping_add(i as u32));
            // Records are in the session's version: a resubscribe sends them as they are.
            if let Ok(len) = record.encoded_len(v) {
                // A subscription that does not fit (beside the room kept for topic aliases)
                // is still made, just not remembered.
                if self.leaves_alias_room(len) {
                    let _ = self.store.put_with(key, len, &mut |dst| {
                        let _ = record.encode(v, dst);
                    });
                }
            }
        }
        self.next_sub_seq = sub_base.wrapping_add(filters.len() as u32);
        Ok(token)
    }

    pub(crate) fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[TopicFilter<'_>],
        properties: &[Property<'_>],
    ) -> Result<Token, Error> {
        self.set_now(now);
        self.v5_only(properties)?;
        let kind = OutKind::Unsubscribe {
            count: filters.len() as u16,
        };
        let (token, _) = self.enqueue(kind, true, |id| {
            let packet_id = id.unwrap_or(PacketId::MIN); // always Some: needs_id
            let properties = Properties::new(properties);
            Packet::Unsubscribe(mqtt_proto::Unsubscribe {
                packet_id,
                properties,
                filters: mqtt_proto::List::new(filters),
            })
        })?;
        for f in filters {
            self.forget_subscription(f);
        }
        Ok(token)
    }

    /// Queues an AUTH with the configured method: `ContinueAuthentication` answers a
    /// server challenge [MQTT-4.12.0-3]; `ReAuthenticate` starts re-authentication once
    /// connected [MQTT-4.12.1-1].
    pub(crate) fn auth(
        &mut self,
        now: Instant,
        reason_code: ReasonCode,
        data: &[u8],
    ) -> Result<(), Error> {
        self.set_now(now);
        if !self.settings.auth {
            return Err(Error::NoAuthMethod); // never AUTH without a method [MQTT-4.12.0-7]
        }
        let allowed = match reason_code {
            ReasonCode::ContinueAuthentication => {
                matches!(self.state, ConnState::AwaitConnAck | ConnState::Connected)
            }
            ReasonCode::ReAuthenticate => self.state == ConnState::Connected,
            _ => false,
        };
        if !allowed {
            return Err(Error::NotConnected);
        }
        // The method comes from the stored CONNECT [MQTT-4.12.0-5]; copied out first,
        // since the AUTH goes into the same store.
        let mut method: heapless::String<128> = heapless::String::new();
        let record = self.store.get(Key::Connect).ok_or(Error::NoAuthMethod)?;
        if let Ok(Packet::Connect(c)) = Packet::decode_exact(record, self.settings.version) {
            let m = c
                .properties
                .authentication_method()
                .ok_or(Error::NoAuthMethod)?;
            method.push_str(m).map_err(|_| Error::Full)?;
        }
        let props = [
            Property::AuthenticationMethod(&method),
            Property::AuthenticationData(data),
        ];
        let packet = Packet::Auth(mqtt_proto::Auth {
            reason_code,
            properties: Properties::new(&props),
        });
        let v = self.settings.version;
        let len = packet.encoded_len(v)?;
        // Never over the server's limit [MQTT-3.2.2-15] (known once connected).
        if self.state == ConnState::Connected
            && len as u64 > u64::from(self.granted().max_packet_size)
        {
            return Err(Error::PacketTooLarge {
                size: len,
                max: self.granted().max_packet_size,
            });
        }
        self.store
            .put_with(Key::Auth, len, &mut |dst| {
                let _ = packet.encode(v, dst);
            })
            .map_err(|_| Error::Full)?;
        self.auth_due = true;
        Ok(())
    }

    /// Rebuilds the outbox and inbox from records a persistent store kept across a
    /// restart; returns how many operations were restored. Restored publishes count as
    /// sent before, so they go again with DUP=1 if the server resumes the session.
    pub(crate) fn restore(&mut self) -> usize {
        let mut seqs: heapless::Vec<u32, OUT> = heapless::Vec::new();
        let mut incoming: heapless::Vec<u16, IN> = heapless::Vec::new();
        let mut max_sub = None;
        self.store.for_each_key(&mut |k| match k {
            Key::Out(seq) => {
                let _ = seqs.push(seq);
            }
            Key::IncomingQos2(pid) => {
                let _ = incoming.push(pid);
            }
            Key::Subscription(s) => max_sub = max_sub.max(Some(s)),
            _ => {}
        });
        let v = self.settings.version;
        let mut restored = 0;
        for seq in seqs {
            let Some(record) = self.store.get(Key::Out(seq)) else {
                continue;
            };
            let (kind, pid, state) = match Packet::decode_exact(record, v) {
                Ok(Packet::Publish(p)) => {
                    let qos = p.qos.qos();
                    let pid = p.qos.packet_id().map_or(0, |id| id.get());
                    (
                        OutKind::Publish(qos),
                        pid,
                        OutState::Pending {
                            dup: qos != QoS::AtMostOnce,
                        },
                    )
                }
                Ok(Packet::PubRel(a)) => (
                    OutKind::Publish(QoS::ExactlyOnce),
                    a.packet_id.get(),
                    OutState::RelPending,
                ),
                Ok(Packet::Subscribe(s)) => {
                    let pid = s.packet_id.get();
                    let first = s.filters.iter().next().map(|f| f.filter);
                    // Its remembered records carry its packet id; the first filter's is the base.
                    let mut sub_base = u32::MAX;
                    self.store.for_each_key(&mut |k| {
                        if let Key::Subscription(seq) = k
                            && sub_base == u32::MAX
                            && let Some(Ok(Packet::Subscribe(rec))) =
                                self.store.get(k).map(|r| Packet::decode_exact(r, v))
                            && rec.packet_id.get() == pid
                            && rec.filters.iter().next().map(|f| f.filter) == first
                        {
                            sub_base = seq;
                        }
                    });
                    let kind = OutKind::Subscribe {
                        count: s.filters.len() as u16,
                        sub_base,
                    };
                    (kind, pid, OutState::Pending { dup: false })
                }
                Ok(Packet::Unsubscribe(u)) => (
                    OutKind::Unsubscribe {
                        count: u.filters.len() as u16,
                    },
                    u.packet_id.get(),
                    OutState::Pending { dup: false },
                ),
                _ => continue,
            };
            let token = self.token();
            if self
                .out
                .push_back(OutEntry {
                    seq,
                    token,
                    pid,
                    kind,
                    state,
                })
                .is_err()
            {
                break;
            }
            self.next_seq = self.next_seq.max(seq.wrapping_add(1));
            if pid >= self.next_pid {
                self.next_pid = pid.checked_add(1).unwrap_or(1);
            }
            self.pids_free_below = 0;
            restored += 1;
        }
        for pid in incoming {
            let token = self.token();
            let _ = self.inbox.push_back(InEntry {
                pid,
                qos: QoS::ExactlyOnce,
                token,
                stage: InStage::AwaitPubRel,
                carried: false,
            });
        }
        if let Some(s) = max_sub {
            self.next_sub_seq = s.wrapping_add(1);
            self.connected_before = true;
        }
        if restored > 0 || !self.inbox.is_empty() {
            self.expects_session = true;
        }
        restored
    }

    /// Calls `f` with the token of every operation not yet finished.
    pub(crate) fn for_each_outstanding(&self, f: &mut dyn FnMut(Token)) {
        self.out
            .iter()
            .filter(|e| !matches!(e.state, OutState::Done))
            .for_each(|e| f(e.token));
    }

    /// Manual acknowledgement of an incoming message; acks leave in arrival order [MQTT-4.6.0-2].
    pub(crate) fn ack(&mut self, token: Token) -> Result<(), Error> {
        let entry = self
            .inbox
            .iter_mut()
            .find(|e| e.token == token && matches!(e.stage, InStage::AwaitApp { acked: false }))
            .ok_or(Error::UnknownToken)?;
        entry.stage = InStage::AwaitApp { acked: true };
        self.flush_inbox_acks();
        Ok(())
    }

    /// Sends the acks of every acknowledged message that no earlier unacknowledged one holds back.
    fn flush_inbox_acks(&mut self) {
        if self.state != ConnState::Connected {
            return;
        }
        let mut i = 0;
        while let Some(e) = self.inbox.get(i).copied() {
            match e.stage {
                InStage::AwaitPubRel => i += 1,
                InStage::AwaitApp { acked: false } => break,
                InStage::AwaitApp { acked: true } => {
                    if self.tx.capacity() - self.tx.len() < TX_RESERVE {
                        break;
                    }
                    if e.qos == QoS::ExactlyOnce {
                        self.stage_ack(PacketType::PubRec, e.pid, ReasonCode::Success);
                        if let Some(m) = self.inbox.get_mut(i) {
                            m.stage = InStage::AwaitPubRel;
                        }
                        self.persist_incoming_qos2(e.pid);
                        i += 1;
                    } else {
                        self.stage_ack(PacketType::PubAck, e.pid, ReasonCode::Success);
                        self.remove_inbox(i);
                    }
                }
            }
        }
    }

    fn remove_inbox(&mut self, i: usize) {
        let _ = self.inbox.remove(i);
    }

    // ----- outputs ---------------------------------------------------------------------

    /// Writes what is due into `out`. Control bytes may be split across calls (the
    /// transport is a byte stream); stored packets are written whole.
    pub(crate) fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, usize> {
        self.set_now(now);
        let mut pos = 0;
        match self.state {
            ConnState::AwaitConnAck => {
                if self.connect_due {
                    pos = self.write_connect(out)?;
                    self.connect_due = false;
                }
                pos = self.write_auth(out, pos)?;
            }
            ConnState::Connected => {
                if self.nothing_due() {
                    // The common empty call of a drain loop: what follows would write
                    // nothing and only pop finished entries.
                    self.pop_done();
                    return Ok(0);
                }
                pos = self.write_auth(out, 0)?;
                pos += self.drain_tx(out.get_mut(pos..).unwrap_or_default());
                // Acks held back by a full staging buffer go now that it has room.
                if self.settings.manual_ack && !self.inbox.is_empty() {
                    self.flush_inbox_acks();
                    pos += self.drain_tx(out.get_mut(pos..).unwrap_or_default());
                }
                self.queue_resubscribes();
                pos = self.write_outbox(out, pos)?;
            }
            ConnState::Closing => {
                pos = self.drain_tx(out);
                if self.tx.is_empty() {
                    self.push_event(Event::CloseTransport);
                    self.finish_close();
                }
            }
            _ => {}
        }
        if pos == 0 && out.is_empty() && !self.tx.is_empty() {
            // Staged control packets stream into any buffer, but not into an empty one:
            // that is `Err`, never `Ok(0)` ("nothing due") while bytes wait.
            return Err(self.tx.len());
        }
        if pos > 0 {
            self.last_sent = self.now;
            self.refresh_keepalive();
        }
        Ok(pos)
    }

    /// Connected with nothing to write: no AUTH, no staged bytes, no held manual acks,
    /// no resubscribes to queue, and no outbox entry at or after `first_pending` (before
    /// it none is `Pending` or `RelPending`, the only states `write_outbox` sends).
    #[inline]
    fn nothing_due(&self) -> bool {
        !self.auth_due
            && self.tx.is_empty()
            && self.first_pending >= self.out.len()
            && self.resubscribe_from.is_none()
            && (!self.settings.manual_ack || self.inbox.is_empty())
    }

    fn drain_tx(&mut self, out: &mut [u8]) -> usize {
        if self.tx.is_empty() {
            return 0;
        }
        let n = self.tx.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), self.tx.get(..n)) {
            dst.copy_from_slice(src);
        }
        let rest = self.tx.len() - n;
        if rest > 0 {
            crate::shift::move_front(&mut self.tx, n, rest, 0);
        }
        self.tx.truncate(rest);
        n
    }

    /// The CONNECT record, with the current Clean Start and any assigned client id.
    fn write_connect(&mut self, out: &mut [u8]) -> Result<usize, usize> {
        let Some(record) = self.store.get(Key::Connect) else {
            return Ok(0);
        };
        let v = self.settings.version;
        if !v.is_v5() {
            // 3.1 / 3.1.1: no id can have been assigned and no property is announced, so
            // the record goes as it was encoded with the current Clean Session flag: no
            // decode (a 3.1.1-only build carries no CONNECT decoder, mqtt-proto's
            // `decode-connect`).
            if out.len() < record.len() {
                return Err(record.len());
            }
            return Ok(copy_connect(record, !self.expects_session, out).unwrap_or(0));
        }
        let Ok(Packet::Connect(mut c)) = Packet::decode_exact(record, v) else {
            return Ok(0);
        };
        if let Some(id) = self
            .store
            .get(Key::AssignedClientId)
            .and_then(|b| core::str::from_utf8(b).ok())
        {
            c.client_id = id;
        }
        c.clean_start = !self.expects_session;
        // Announce the topic aliases actually reserved for this connection.
        let mut props: heapless::Vec<Property<'_>, 24> = heapless::Vec::new();
        for p in c
            .properties
            .iter()
            .filter(|p| !matches!(p, Property::TopicAliasMaximum(_)))
        {
            let _ = props.push(p);
        }
        if self.alias_in > 0 {
            let _ = props.push(Property::TopicAliasMaximum(self.alias_in));
        }
        let packet = Packet::Connect(Connect {
            properties: Properties::new(&props),
            ..c
        });
        match packet.encode(v, out) {
            Ok(n) => Ok(n),
            Err(mqtt_proto::EncodeError::BufferTooSmall { required }) => Err(required),
            Err(_) => Ok(0),
        }
    }

    /// Queues remembered subscriptions for resending while the outbox has room.
    fn queue_resubscribes(&mut self) {
        while let Some(from) = self.resubscribe_from {
            if !self.make_room() {
                return;
            }
            let mut next: Option<u32> = None;
            self.store.for_each_key(&mut |k| {
                if let Key::Subscription(s) = k
                    && s >= from
                    && next.is_none_or(|n| s < n)
                {
                    next = Some(s);
                }
            });
            let Some(sub_seq) = next else {
                self.resubscribe_from = None;
                return;
            };
            self.resubscribe_from = sub_seq.checked_add(1);
            // A filter whose own SUBSCRIBE is still queued goes out with it.
            let pending = self.out.iter().any(|e| {
                matches!(e.kind, OutKind::Subscribe { count, sub_base }
                    if sub_seq.wrapping_sub(sub_base) < u32::from(count))
                    && e.state != OutState::Done
            });
            if pending {
                continue;
            }
            let Some(pid) = self.alloc_pid() else { return };
            let token = self.token();
            let kind = OutKind::Resubscribe { sub_seq };
            let entry = OutEntry {
                seq: 0,
                token,
                pid,
                kind,
                state: OutState::Pending { dup: false },
            };
            let _ = self.out.push_back(entry);
        }
    }

    fn write_outbox(&mut self, out: &mut [u8], mut pos: usize) -> Result<usize, usize> {
        let mut i = self.first_pending;
        let mut first_unsent: Option<usize> = None;
        let mut publish_blocked = false;
        while let Some(e) = self.out.get(i).copied() {
            let OutState::Pending { dup } = e.state else {
                if e.state == OutState::RelPending {
                    // Resend PUBREL after reconnect [MQTT-4.4.0-1].
                    // Built from the packet id alone (4 bytes), so it never depends on
                    // the stored record being there.
                    let rel = PacketId::new(e.pid).map(|id| success_ack(PacketType::PubRel, id));
                    let dst = out.get_mut(pos..).unwrap_or_default();
                    match rel.map(|rel| dst.get_mut(..4).map(|d| d.copy_from_slice(&rel))) {
                        Some(Some(())) => pos += 4,
                        Some(None) => {
                            first_unsent.get_or_insert(i);
                            if pos == 0 {
                                self.first_pending = first_unsent.unwrap_or(i);
                                return Err(4);
                            }
                            break;
                        }
                        None => {}
                    }
                    self.set_state(i, OutState::AwaitComp);
                }
                i += 1;
                continue;
            };
            let is_publish = matches!(e.kind, OutKind::Publish(_));
            if is_publish
                && (publish_blocked
                    || (e.is_acked_publish() && self.inflight_pub >= self.granted().send_quota))
            {
                // Flow control [MQTT-4.9.0-2]; later publishes wait too, to keep order.
                publish_blocked = true;
                first_unsent.get_or_insert(i);
                i += 1;
                continue;
            }
            let (key, patch_pid) = match e.kind {
                OutKind::Resubscribe { sub_seq } => (Key::Subscription(sub_seq), Some(e.pid)),
                _ => (Key::Out(e.seq), None),
            };
            // One lookup: the record is checked and, unless an outgoing alias rebuilds it,
            // copied out through the same borrow.
            let Some(record) = self.store.get(key).filter(|r| !r.is_empty()) else {
                // A resubscribe whose filter the caller unsubscribed meanwhile: nothing to
                // send and nobody to tell. Any other operation lost its packet: report it.
                let state = match e.kind {
                    OutKind::Resubscribe { .. } => OutState::Done,
                    _ => OutState::Lost(LossReason::Discarded),
                };
                self.set_state(i, state);
                i += 1;
                continue;
            };
            let len = record.len();
            let refusal = if len as u64 > u64::from(self.granted().max_packet_size) {
                // Never send over the server's limit [MQTT-3.2.2-15].
                Some(LossReason::PacketTooLarge)
            } else {
                // Queued before this server's limits were known [MQTT-3.2.2-11] [MQTT-3.2.2-14].
                // The first byte carries the retain flag.
                self.refused_by_server(record.first().copied().unwrap_or(0), e.kind)
            };
            if let Some(reason) = refusal {
                self.set_state(i, OutState::Lost(reason));
                i += 1;
                continue;
            }
            if pos + len > out.len() {
                first_unsent.get_or_insert(i);
                if pos == 0 {
                    self.first_pending = first_unsent.unwrap_or(i);
                    return Err(len);
                }
                break;
            }
            let dup = dup && e.is_acked_publish();
            pos += if is_publish && self.granted().alias_max != 0 {
                // 5.0 with outgoing aliases granted: the PUBLISH may be rebuilt with one.
                match self.write_aliased(key, out, pos, dup) {
                    Some(n) => n,
                    None => self
                        .write_record(key, out, pos, dup, patch_pid)
                        .unwrap_or(0),
                }
            } else {
                copy_record(record, out, pos, dup, patch_pid).unwrap_or(0)
            };
            match e.kind {
                OutKind::Publish(QoS::AtMostOnce) => {
                    self.store.remove(key);
                    self.set_state(i, OutState::Done);
                }
                OutKind::Publish(_) => {
                    self.inflight_pub += 1;
                    self.set_state(i, OutState::AwaitAck);
                }
                _ => self.set_state(i, OutState::AwaitAck),
            }
            i += 1;
        }
        self.first_pending = first_unsent.unwrap_or(i);
        self.pop_done();
        Ok(pos)
    }

    fn set_state(&mut self, i: usize, state: OutState) {
        if let Some(e) = self.out.get_mut(i) {
            // A QoS 0 message has no token: one the server cannot take is dropped, as
            // "at most once" allows, and nothing is reported.
            let state = match (state, e.kind) {
                (OutState::Lost(_), OutKind::Publish(QoS::AtMostOnce)) => {
                    if let Some(key) = e.own_record() {
                        self.store.remove(key);
                    }
                    OutState::Done
                }
                (s, _) => s,
            };
            if matches!(state, OutState::Lost(_)) {
                self.lost_pending += 1;
                if let Some(key) = e.own_record() {
                    self.store.remove(key);
                }
            }
            e.state = state;
        }
    }

    /// Why the connected server cannot take this queued publish (QoS or retain), if so.
    /// `first_byte`: the stored record's fixed header byte.
    fn refused_by_server(&self, first_byte: u8, kind: OutKind) -> Option<LossReason> {
        let OutKind::Publish(qos) = kind else {
            return None;
        };
        if qos > self.granted().max_qos {
            return Some(LossReason::QoSNotSupported);
        }
        let retain = first_byte & 0x01 != 0;
        (retain && !self.granted().retain_available).then_some(LossReason::RetainNotSupported)
    }

    /// Writes the pending AUTH record, if any, at `out[pos..]`.
    fn write_auth(&mut self, out: &mut [u8], pos: usize) -> Result<usize, usize> {
        if !V5 || !self.auth_due {
            return Ok(pos);
        }
        let Some(len) = self.store.get(Key::Auth).map(|r| r.len()) else {
            self.auth_due = false;
            return Ok(pos);
        };
        if pos + len > out.len() {
            return if pos == 0 { Err(len) } else { Ok(pos) };
        }
        let n = self
            .write_record(Key::Auth, out, pos, false, None)
            .unwrap_or(0);
        self.store.remove(Key::Auth);
        self.auth_due = false;
        Ok(pos + n)
    }

    /// Writes a stored PUBLISH with an outgoing topic alias (5.0): the first time a topic
    /// goes out it binds a free alias, later it travels as the alias alone. `None` when no
    /// alias applies or the result would not fit; the caller then copies the record.
    fn write_aliased(&mut self, key: Key, out: &mut [u8], pos: usize, dup: bool) -> Option<usize> {
        if self.granted().alias_max == 0 {
            return None;
        }
        let v = self.settings.version;
        let record = self.store.get(key)?;
        let Ok(Packet::Publish(p)) = Packet::decode_exact(record, v) else {
            return None;
        };
        let (alias, known) = self.out_alias(p.topic.as_str())?;
        let known = known.then_some(alias);
        let topic_len = p.topic.len();
        let n = {
            // A scope, so the properties (which borrow the store) are dropped before `put`.
            let mut props: heapless::Vec<Property<'_>, 16> = heapless::Vec::new();
            for prop in p.properties.iter() {
                props.push(prop).ok()?;
            }
            props.push(Property::TopicAlias(alias)).ok()?;
            let packet = Packet::Publish(Publish {
                dup: p.dup || dup,
                topic: if known.is_some() {
                    TopicName::ALIAS_ONLY
                } else {
                    p.topic
                },
                properties: Properties::new(&props),
                ..p
            });
            let len = packet.encoded_len(v).ok()?;
            if len as u64 > u64::from(self.granted().max_packet_size) {
                return None;
            }
            packet.encode(v, out.get_mut(pos..)?).ok()?
        };
        let dst = out.get_mut(pos..)?;
        if known.is_none() {
            // Remember the binding; the topic bytes sit right after the fixed header.
            let header = 1 + mqtt_proto::varint::decode(dst.get(1..)?).ok()??.1;
            let topic = dst.get(header + 2..header + 2 + topic_len)?;
            if self.store.put(Key::OutAlias(alias), topic).is_err() {
                return None; // cannot remember: this copy simply goes out un-aliased below
            }
        }
        Some(n)
    }

    /// The outgoing topic alias for `topic` (5.0, when the server granted some): the one
    /// it is bound to (`true`: send the alias alone), else the first free one if a new
    /// binding leaves the store's reserved room intact (`false`: send topic and alias,
    /// and bind). `None`: no alias applies.
    fn out_alias(&self, topic: &str) -> Option<(u16, bool)> {
        if self.granted().alias_max == 0 || topic.is_empty() {
            return None;
        }
        let mut free = None;
        for a in 1..=self.granted().alias_max {
            match self.store.get(Key::OutAlias(a)) {
                Some(t) if t == topic.as_bytes() => return Some((a, true)),
                None if free.is_none() => free = Some(a),
                _ => {}
            }
        }
        let may_bind = !self.out_alias_evicted && self.leaves_alias_room(topic.len());
        free.filter(|_| may_bind).map(|a| (a, false))
    }

    /// [`Core::publish_into`]'s aliased write: the QoS 0 PUBLISH with the topic's
    /// outgoing alias (binding a new one), encoded into `out` exactly as
    /// [`Core::write_aliased`] would rebuild it from a queued record, in the same cases.
    fn write_direct_aliased(
        &mut self,
        topic: TopicName<'_>,
        payload: &[u8],
        retain: bool,
        properties: &[Property<'_>],
        out: &mut [u8],
    ) -> DirectAlias {
        let Some((alias, known)) = self.out_alias(topic.as_str()) else {
            return DirectAlias::None;
        };
        let v = self.settings.version;
        let mut props: heapless::Vec<Property<'_>, 16> = heapless::Vec::new();
        for prop in properties {
            if props.push(*prop).is_err() {
                return DirectAlias::None;
            }
        }
        if props.push(Property::TopicAlias(alias)).is_err() {
            return DirectAlias::None;
        }
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain,
            topic: if known { TopicName::ALIAS_ONLY } else { topic },
            properties: Properties::new(&props),
            payload,
        });
        let Ok(len) = packet.encoded_len(v) else {
            return DirectAlias::None;
        };
        if len as u64 > u64::from(self.granted().max_packet_size) {
            return DirectAlias::None;
        }
        // Too little room: queued, to be aliased when it is transmitted.
        let Some(Ok(n)) = out.get_mut(..len).map(|dst| packet.encode(v, dst)) else {
            return DirectAlias::NoRoom;
        };
        if !known
            && self
                .store
                .put(Key::OutAlias(alias), topic.as_bytes())
                .is_err()
        {
            // Cannot remember the binding: sent un-aliased, as a transmit would.
            return DirectAlias::None;
        }
        DirectAlias::Written(n)
    }

    /// What the server granted on this connection, as every check reads it. Without `v5`
    /// the 5.0-only grants (aliases, packet size, maximum QoS, retain) are their 3.1.1
    /// constants here, so the compiler drops the paths they guard; to it the stored
    /// fields are runtime values.
    #[inline(always)]
    fn granted(&self) -> Link {
        if V5 {
            self.link
        } else {
            Link {
                since: self.link.since,
                keep_alive: self.link.keep_alive,
                send_quota: self.link.send_quota,
                ..Link::default()
            }
        }
    }

    /// Copies a stored packet into `out[pos..]`, setting DUP or a new packet id.
    fn write_record(
        &self,
        key: Key,
        out: &mut [u8],
        pos: usize,
        dup: bool,
        pid: Option<u16>,
    ) -> Option<usize> {
        copy_record(self.store.get(key)?, out, pos, dup, pid)
    }

    pub(crate) fn has_owned_event(&self) -> bool {
        !self.events.is_empty() || self.lost_pending > 0
    }

    /// Next owned event: lifecycle first, then operations reported lost.
    pub(crate) fn poll_owned_event(&mut self) -> Option<Event<'static>> {
        if let Some(ev) = self.events.pop_front() {
            return Some(ev.event());
        }
        if self.lost_pending > 0 {
            let lost = self
                .out
                .iter()
                .position(|e| matches!(e.state, OutState::Lost(_)));
            if let Some(e) = lost.and_then(|i| self.out.get_mut(i))
                && let OutState::Lost(reason) = e.state
            {
                e.state = OutState::Done;
                self.lost_pending -= 1;
                let token = e.token;
                self.pop_done();
                return Some(Event::Lost { token, reason });
            }
            self.lost_pending = 0;
        }
        None
    }

    // ----- received packets ------------------------------------------------------------

    /// The topic a received alias stands for.
    pub(crate) fn alias_topic(&self, alias: u16) -> &str {
        self.store
            .get(Key::TopicAlias(alias))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Handles one packet from the server; says what to tell the application.
    ///
    /// A redirect (5.0 §4.11) is only reported: whether to follow it is the caller's choice.
    pub(crate) fn handle_packet(&mut self, packet: &Packet<'_>) -> Option<Outcome> {
        let t = packet.packet_type();
        if self.state == ConnState::AwaitConnAck {
            return match *packet {
                Packet::ConnAck(ack) => self.on_connack(
                    ack.session_present,
                    ack.reason_code,
                    decoded(ack.properties),
                ),
                // Enhanced authentication exchanges AUTH before CONNACK [MQTT-3.2.0-1].
                Packet::Auth(_) if self.settings.auth => Some(Outcome::Auth),
                _ => {
                    self.fault(PeerFault::PacketBeforeConnAck(t));
                    None
                }
            };
        }
        if self.state != ConnState::Connected {
            return None;
        }
        match *packet {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(a) => self.on_puback(a),
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => {
                self.on_pubrel(a);
                None
            }
            Packet::PubComp(a) => self.on_pubcomp(a),
            Packet::SubAck(a) => self.on_suback(a),
            Packet::UnsubAck(a) => self.on_unsuback(a),
            Packet::PingResp => {
                self.timers.ping = None;
                self.refresh_keepalive();
                None
            }
            Packet::Disconnect(d) => {
                let properties = decoded(d.properties);
                if properties.session_expiry_interval().is_some() {
                    self.fault(PeerFault::SessionExpiryInServerDisconnect); // [MQTT-3.14.2-2]
                    None
                } else {
                    self.lose(ConnectionError::ServerDisconnect(d.reason_code), true);
                    redirect(d.reason_code, properties)
                }
            }
            Packet::ConnAck(_) => {
                self.fault(PeerFault::SecondConnAck); // [MQTT-3.2.0-2]
                None
            }
            Packet::Auth(_) if self.settings.auth => Some(Outcome::Auth),
            Packet::Auth(_) => {
                self.fault(PeerFault::UnexpectedAuth); // [MQTT-4.12.0-6]
                None
            }
            Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq => {
                self.fault(PeerFault::UnexpectedPacket(t));
                None
            }
        }
    }

    fn on_connack(
        &mut self,
        session_present: bool,
        rc: ReasonCode,
        props: Properties<'_>,
    ) -> Option<Outcome> {
        if rc.is_error() {
            // [MQTT-4.13.2-1]: the connection is over.
            self.lose(ConnectionError::Refused(rc), true);
            return redirect(rc, props);
        }
        if session_present && !self.expects_session {
            self.fault(PeerFault::UnexpectedSessionPresent); // [MQTT-3.2.2-4]
            return None;
        }
        let s = self.settings;
        let keep_alive = props.server_keep_alive().unwrap_or(s.keep_alive); // [MQTT-3.1.2-21]
        self.link = Link {
            since: self.now,
            alias_max: props
                .topic_alias_maximum()
                .unwrap_or(0) // none from the server: send none [MQTT-3.2.2-18]
                .min(s.topic_alias_send_maximum),
            keep_alive: Duration::from_secs(u64::from(keep_alive)),
            // [MQTT-4.9.0-1]; a 3.1.1 server cannot announce its limit: ours applies.
            send_quota: props
                .receive_maximum()
                .unwrap_or(u16::MAX)
                .min(s.max_inflight),
            max_packet_size: props.maximum_packet_size().unwrap_or(u32::MAX),
            max_qos: props.maximum_qos().unwrap_or(QoS::ExactlyOnce),
            retain_available: props.retain_available().unwrap_or(true),
        };
        if let Some(id) = props.assigned_client_identifier() {
            let _ = self.store.put(Key::AssignedClientId, id.as_bytes());
        }
        self.state = ConnState::Connected;
        self.timers.connect = None;
        self.timers.ping = None;
        self.resume(session_present);
        self.connected_before = true;
        // From now on the session persists if configured to: reconnect with Clean Start 0.
        self.expects_session = s.persistent;
        self.refresh_keepalive();
        Some(Outcome::Connected { session_present })
    }

    /// Sets the outbox and inbox up for a new connection [MQTT-4.4.0-1] [MQTT-3.2.2-5].
    fn resume(&mut self, session_present: bool) {
        let resend_new = self.settings.resend_on_session_loss;
        let mut lost = 0;
        if !session_present {
            // Resubscribes of an earlier loss are queued afresh below, once each.
            for e in self.out.iter_mut() {
                if matches!(e.kind, OutKind::Resubscribe { .. })
                    && !matches!(e.state, OutState::Lost(_))
                {
                    e.state = OutState::Done;
                }
            }
        }
        for e in self.out.iter_mut() {
            let publish = e.is_acked_publish();
            e.state = match (e.state, session_present) {
                (OutState::Done, _) => OutState::Done,
                (OutState::Lost(r), _) => OutState::Lost(r),
                (OutState::Pending { dup }, true) => OutState::Pending { dup },
                (OutState::AwaitAck, true) => OutState::Pending { dup: true },
                (OutState::RelPending | OutState::AwaitComp, true) => OutState::RelPending,
                // Session lost: never-acknowledged operations go again as new ones...
                (OutState::Pending { dup }, false) if !publish || !dup || resend_new => {
                    OutState::Pending { dup: false }
                }
                (OutState::AwaitAck, false) if !publish || resend_new => {
                    OutState::Pending { dup: false }
                }
                // ...the others are reported: the server lost them.
                (OutState::Pending { .. } | OutState::AwaitAck, false) => {
                    OutState::Lost(LossReason::NotResent)
                }
                (OutState::RelPending | OutState::AwaitComp, false) => {
                    OutState::Lost(LossReason::SessionLost)
                }
            };
            if matches!(e.state, OutState::Lost(_)) {
                lost += 1;
            }
        }
        self.lost_pending += lost;
        // Lost entries give up their stored packets.
        let mut i = 0;
        while let Some(e) = self.out.get(i).copied() {
            if let (OutState::Lost(_), Some(key)) = (e.state, e.own_record()) {
                self.store.remove(key);
            }
            i += 1;
        }
        // Resent PUBRELs keep holding quota on the new connection [MQTT-4.9.0-2].
        self.inflight_pub = self.out.iter().filter(|e| e.holds_quota()).count() as u16;
        self.crossing.clear();
        self.first_pending = 0;
        if !session_present {
            // The server has none of our incoming QoS 2 state either.
            self.inbox.clear();
            self.clear_keys(|k| matches!(k, Key::IncomingQos2(_)));
            // Only what a previous connection had subscribed to; a first connection's
            // queued SUBSCRIBEs go out as themselves.
            if self.settings.resubscribe && self.connected_before {
                self.resubscribe_from = Some(0);
            }
        } else {
            // QoS 2 exchanges past PUBREC: the server resends only PUBREL for them.
            for e in self.inbox.iter_mut() {
                e.carried = e.stage == InStage::AwaitPubRel;
            }
            // QoS 1 messages carried over from the last connection: the server resends them
            // (DUP) and may do so after our PUBACK for one has already left (acked offline,
            // or just after this reconnect). Such a DUP is acknowledged, not delivered again.
            for e in self.inbox.iter() {
                if e.qos == QoS::AtLeastOnce && matches!(e.stage, InStage::AwaitApp { .. }) {
                    // Never full: it holds a subset of the inbox, whose bound it shares.
                    let _ = self.crossing.push_back(e.pid);
                }
            }
            self.flush_inbox_acks();
        }
    }

    fn on_publish(&mut self, p: Publish<'_>) -> Option<Outcome> {
        // Incoming topic alias (5.0 §3.3.2.3.4).
        let topic = p.topic;
        let mut alias_topic = false;
        if let Some(alias) = decoded(p.properties).topic_alias() {
            if alias == 0 || alias > self.alias_in {
                self.fault(PeerFault::TopicAliasInvalid(alias));
                return None;
            }
            if topic.is_empty() {
                if self.store.get(Key::TopicAlias(alias)).is_none() {
                    self.fault(PeerFault::TopicAliasUnknown(alias));
                    return None;
                }
                alias_topic = true;
            } else {
                let first_bind = self.store.get(Key::TopicAlias(alias)).is_none();
                let mut bound = self
                    .store
                    .put(Key::TopicAlias(alias), topic.as_bytes())
                    .is_ok();
                if !bound && self.evict_out_aliases() {
                    bound = self
                        .store
                        .put(Key::TopicAlias(alias), topic.as_bytes())
                        .is_ok();
                }
                if !bound {
                    // A topic longer than the room reserved for it, and none to spare: our
                    // limit, not the server's fault (0x83), rather than misroute later ones.
                    self.fault(PeerFault::TopicAliasNotKept(alias));
                    return None;
                }
                if first_bind {
                    self.alias_bound += 1;
                }
            }
        }
        let manual = self.settings.manual_ack;
        let mut ack_token = None;
        match p.qos {
            QosPid::AtMostOnce => {}
            QosPid::AtLeastOnce(id) | QosPid::ExactlyOnce(id) => {
                let pid = id.get();
                let qos = p.qos.qos();
                let crossed = self.crossing.iter().position(|&c| c == pid);
                if let Some(k) = crossed {
                    let _ = self.crossing.remove(k);
                    if p.dup && qos == QoS::AtLeastOnce {
                        // The DUP crossed our PUBACK for the same message: that PUBACK
                        // answers it, and the application already has it. A second PUBACK
                        // could acknowledge a new message the server has since given this
                        // id; a new message never arrives first with DUP [MQTT-3.3.1-1].
                        return None;
                    }
                }
                // The same id at another QoS is a new message (a stale entry of a replaced
                // session): a QoS 1 PUBLISH is always answered with PUBACK [MQTT-4.3.2-4].
                let known = self.inbox.iter().position(|e| e.pid == pid && e.qos == qos);
                if let Some(k) = known {
                    let stage = self.inbox.get(k).map(|e| e.stage);
                    // Resent as a PUBLISH, it uses the server's quota on this connection.
                    if let Some(e) = self.inbox.get_mut(k) {
                        e.carried = false;
                    }
                    if qos == QoS::AtLeastOnce && !p.dup {
                        // A QoS 1 resend always carries DUP [MQTT-3.3.1-1]: this is a new
                        // message reusing the id of a stale entry (a session the server
                        // replaced); the stale one is dropped and this one delivered.
                        self.remove_inbox(k);
                    } else {
                        // A duplicate of a message still in progress: never delivered twice
                        // [MQTT-4.3.3-10]; QoS 2 gets its PUBREC again once it is due.
                        if stage == Some(InStage::AwaitPubRel) {
                            self.stage_ack(PacketType::PubRec, pid, ReasonCode::Success);
                        }
                        return None;
                    }
                }
                if qos == QoS::ExactlyOnce && self.store.get(Key::IncomingQos2(pid)).is_some() {
                    // A QoS 2 id awaiting PUBREL kept in the store alone (spilled past the
                    // table, or restored past it): a duplicate, never delivered twice
                    // [MQTT-4.3.3-10]; it gets its PUBREC again.
                    self.stage_ack(PacketType::PubRec, pid, ReasonCode::Success);
                    return None;
                }
                let needs_entry = manual || qos == QoS::ExactlyOnce;
                // The server's quota counts the PUBLISHes it sent on this connection,
                // not the exchanges carried over, of which it resends only PUBREL.
                let counted = || self.inbox.iter().filter(|e| !e.carried).count();
                let limit = usize::from(self.settings.receive_maximum)
                    + usize::from(self.settings.receive_maximum_tolerance);
                // 3.1.1 announces no limit; in 5.0 the quota is our Receive Maximum plus
                // the tolerance the caller chose. (Auto-ack QoS 1 needs no entry: nothing
                // is counted for it.)
                if needs_entry
                    && !manual
                    && self.inbox.is_full()
                    && !(self.settings.version.is_v5() && counted() >= limit)
                {
                    // More QoS 2 messages in flight than the table holds, within the quota
                    // (3.1.1: mosquitto's max_inflight_messages can be anything; 5.0: a
                    // tolerance above the table): the id is kept in the store alone until
                    // its PUBREL. Only a full store ends the connection.
                    if self.store.put(Key::IncomingQos2(pid), &[]).is_err() {
                        self.fault(PeerFault::ReceiveMaximumExceeded);
                        return None;
                    }
                    self.stage_ack(PacketType::PubRec, pid, ReasonCode::Success); // [MQTT-4.3.3-8]
                } else if needs_entry {
                    if counted() >= limit {
                        self.fault(PeerFault::ReceiveMaximumExceeded);
                        return None;
                    }
                    let token = self.token();
                    let stage = if manual {
                        InStage::AwaitApp { acked: false }
                    } else {
                        InStage::AwaitPubRel
                    };
                    if self
                        .inbox
                        .push_back(InEntry {
                            pid,
                            qos,
                            token,
                            stage,
                            carried: false,
                        })
                        .is_err()
                    {
                        self.fault(PeerFault::ReceiveMaximumExceeded);
                        return None;
                    }
                    if manual {
                        ack_token = Some(token);
                    } else {
                        self.persist_incoming_qos2(pid);
                        self.stage_ack(PacketType::PubRec, pid, ReasonCode::Success); // [MQTT-4.3.3-8]
                    }
                } else {
                    self.stage_ack(PacketType::PubAck, pid, ReasonCode::Success); // [MQTT-4.3.2-4]
                }
            }
        }
        let alias = if alias_topic {
            decoded(p.properties).topic_alias()
        } else {
            None
        };
        Some(Outcome::Message {
            ack: ack_token,
            alias,
        })
    }

    fn find_out(&self, pid: u16, pred: impl Fn(&OutEntry) -> bool) -> Option<usize> {
        self.out.iter().position(|e| e.pid == pid && pred(e))
    }

    fn complete(&mut self, i: usize) -> Option<Token> {
        let e = self.out.get(i).copied()?;
        if e.holds_quota() {
            self.inflight_pub = self.inflight_pub.saturating_sub(1);
        }
        if let Some(key) = e.own_record() {
            self.store.remove(key);
        }
        if let Some(m) = self.out.get_mut(i) {
            m.state = OutState::Done;
        }
        Some(e.token)
    }

    fn on_puback(&mut self, a: Ack<'_>) -> Option<Outcome> {
        let pid = a.packet_id.get();
        let Some(i) = self.find_out(pid, |e| {
            e.kind == OutKind::Publish(QoS::AtLeastOnce) && e.state == OutState::AwaitAck
        }) else {
            self.fault(PeerFault::UnknownPacketId(PacketType::PubAck, pid));
            return None;
        };
        let token = self.complete(i)?;
        self.pop_done();
        Some(Outcome::Published {
            token,
            reason_code: a.reason_code,
        })
    }

    fn on_pubrec(&mut self, a: Ack<'_>) -> Option<Outcome> {
        let pid = a.packet_id.get();
        let qos2 = |e: &OutEntry| e.kind == OutKind::Publish(QoS::ExactlyOnce);
        if let Some(i) = self.find_out(pid, |e| qos2(e) && e.state == OutState::AwaitAck) {
            if a.reason_code.is_error() {
                // Refused: acknowledged and finished, never retransmitted [MQTT-4.4.0-2].
                let token = self.complete(i)?;
                self.pop_done();
                return Some(Outcome::Published {
                    token,
                    reason_code: a.reason_code,
                });
            }
            let seq = self.out.get(i)?.seq;
            // Keep the PUBREL instead of the PUBLISH: no PUBLISH resend after this [MQTT-4.3.3-6].
            let mut rel = [0u8; 4];
            if Packet::PubRel(Ack::new(a.packet_id))
                .encode(ProtocolVersion::V3_1_1, &mut rel)
                .is_ok()
            {
                let _ = self.store.put(Key::Out(seq), &rel);
            }
            if let Some(m) = self.out.get_mut(i) {
                m.state = OutState::AwaitComp;
            }
            self.stage_ack(PacketType::PubRel, pid, ReasonCode::Success); // [MQTT-4.3.3-4]
            return None;
        }
        if self
            .find_out(pid, |e| qos2(e) && e.state == OutState::AwaitComp)
            .is_some()
        {
            // A repeated PUBREC: answer with PUBREL again.
            self.stage_ack(PacketType::PubRel, pid, ReasonCode::Success);
            return None;
        }
        self.fault(PeerFault::UnknownPacketId(PacketType::PubRec, pid));
        None
    }

    fn on_pubcomp(&mut self, a: Ack<'_>) -> Option<Outcome> {
        let pid = a.packet_id.get();
        let Some(i) = self.find_out(pid, |e| {
            e.kind == OutKind::Publish(QoS::ExactlyOnce) && e.state == OutState::AwaitComp
        }) else {
            self.fault(PeerFault::UnknownPacketId(PacketType::PubComp, pid));
            return None;
        };
        let token = self.complete(i)?;
        self.pop_done();
        // 0x92 answers a PUBREL the server already completed (its PUBCOMP was lost with a
        // connection): "not an error during recovery" (5.0 §3.7.2.1). The PUBREC we had
        // means it was delivered.
        let reason_code = match a.reason_code {
            ReasonCode::PacketIdentifierNotFound => ReasonCode::Success,
            rc => rc,
        };
        Some(Outcome::Published { token, reason_code })
    }

    fn on_pubrel(&mut self, a: Ack<'_>) {
        let pid = a.packet_id.get();
        let awaiting = self
            .inbox
            .iter()
            .position(|e| e.pid == pid && e.stage == InStage::AwaitPubRel);
        match awaiting {
            Some(i) => {
                self.remove_inbox(i);
                self.store.remove(Key::IncomingQos2(pid));
                self.stage_ack(PacketType::PubComp, pid, ReasonCode::Success); // [MQTT-4.3.3-11]
            }
            // Kept in the store alone (see `on_publish`).
            None if self.store.get(Key::IncomingQos2(pid)).is_some() => {
                self.store.remove(Key::IncomingQos2(pid));
                self.stage_ack(PacketType::PubComp, pid, ReasonCode::Success);
            }
            None => {
                let rc = if self.settings.version.is_v5() {
                    ReasonCode::PacketIdentifierNotFound
                } else {
                    ReasonCode::Success
                };
                self.stage_ack(PacketType::PubComp, pid, rc);
            }
        }
        // A released id may let manual acks behind it go out.
        if self.settings.manual_ack {
            self.flush_inbox_acks();
        }
    }

    fn on_suback(&mut self, a: SubAck<'_>) -> Option<Outcome> {
        let pid = a.packet_id.get();
        let Some(i) = self.find_out(pid, |e| {
            matches!(
                e.kind,
                OutKind::Subscribe { .. } | OutKind::Resubscribe { .. }
            ) && e.state == OutState::AwaitAck
        }) else {
            self.fault(PeerFault::UnknownPacketId(PacketType::SubAck, pid));
            return None;
        };
        let e = self.out.get(i).copied()?;
        let (count, first_record) = match e.kind {
            OutKind::Subscribe { count, sub_base } => (count, sub_base),
            OutKind::Resubscribe { sub_seq } => (1, sub_seq),
            _ => (0, 0),
        };
        if a.reason_codes.len() != usize::from(count) {
            self.fault(PeerFault::AckCountMismatch); // [MQTT-3.9.3-1]
            return None;
        }
        for (j, rc) in a.reason_codes.iter().enumerate() {
            // u32::MAX: the records are unknown (a restored SUBSCRIBE without them).
            if rc.is_error() && first_record != u32::MAX {
                self.store
                    .remove(Key::Subscription(first_record.wrapping_add(j as u32)));
            }
        }
        let token = self.complete(i)?;
        self.pop_done();
        Some(Outcome::Subscribed { token })
    }

    fn on_unsuback(&mut self, a: UnsubAck<'_>) -> Option<Outcome> {
        let pid = a.packet_id.get();
        let Some(i) = self.find_out(pid, |e| {
            matches!(e.kind, OutKind::Unsubscribe { .. }) && e.state == OutState::AwaitAck
        }) else {
            self.fault(PeerFault::UnknownPacketId(PacketType::UnsubAck, pid));
            return None;
        };
        if let Some(OutKind::Unsubscribe { count }) = self.out.get(i).map(|e| e.kind)
            && self.settings.version.is_v5()
            && a.reason_codes.len() != usize::from(count)
        {
            self.fault(PeerFault::AckCountMismatch); // [MQTT-3.11.3-1]
            return None;
        }
        let token = self.complete(i)?;
        self.pop_done();
        Some(Outcome::Unsubscribed { token })
    }

    // ----- subscriptions ---------------------------------------------------------------

    fn clear_keys(&mut self, pred: impl Fn(Key) -> bool) {
        loop {
            let mut found = None;
            self.store.for_each_key(&mut |k| {
                if found.is_none() && pred(k) {
                    found = Some(k);
                }
            });
            match found {
                Some(k) => self.store.remove(k),
                None => return,
            }
        }
    }

    /// Calls `f` with every remembered subscription: its record key, filter, options and id.
    pub(crate) fn for_each_subscription(&self, f: &mut SubscriptionVisitor<'_>) {
        self.store.for_each_key(&mut |k| {
            if !matches!(k, Key::Subscription(_)) {
                return;
            }
            let Some(record) = self.store.get(k) else {
                return;
            };
            if let Ok(Packet::Subscribe(s)) = Packet::decode_exact(record, self.settings.version) {
                let id = decoded(s.properties).subscription_identifiers().next();
                for sub in s.filters.iter() {
                    f(k, sub.filter.as_str(), sub.options, id);
                }
            }
        });
    }

    fn forget_subscription(&mut self, filter: &str) {
        loop {
            let mut found = None;
            self.for_each_subscription(&mut |k, f, _, _| {
                if f == filter {
                    found = Some(k);
                }
            });
            match found {
                Some(k) => self.store.remove(k),
                None => return,
            }
        }
    }
}

/// Copies a stored packet into `out[pos..]`, setting DUP or a new packet id; `None` if it
/// does not fit.
#[inline]
fn copy_record(
    record: &[u8],
    out: &mut [u8],
    pos: usize,
    dup: bool,
    pid: Option<u16>,
) -> Option<usize> {
    let dst = out.get_mut(pos..pos + record.len())?;
    dst.copy_from_slice(record);
    if dup {
        *dst.first_mut()? |= 0x08; // [MQTT-3.3.1-1]
    }
    if let Some(pid) = pid {
        // The id follows the fixed header in SUBSCRIBE.
        let header = 1 + mqtt_proto::varint::decode(dst.get(1..)?).ok()??.1;
        dst.get_mut(header..header + 2)?
            .copy_from_slice(&pid.to_be_bytes());
    }
    Some(record.len())
}

/// Copies a stored 3.1 / 3.1.1 CONNECT into `out` with its Clean Session flag set to
/// `clean`: the connect flags follow the fixed header, the protocol name and the level.
fn copy_connect(record: &[u8], clean: bool, out: &mut [u8]) -> Option<usize> {
    let header = 1 + mqtt_proto::varint::decode(record.get(1..)?).ok()??.1;
    let name_len = u16::from_be_bytes(*record.get(header..)?.first_chunk::<2>()?);
    let flags_at = header + 2 + usize::from(name_len) + 1;
    let dst = out.get_mut(..record.len())?;
    dst.copy_from_slice(record);
    let flags = dst.get_mut(flags_at)?;
    // Bit 1: Clean Session [MQTT-3.1.2-4].
    *flags = (*flags & !0x02) | (u8::from(clean) << 1);
    Some(record.len())
}

/// Encodes the CONNECT from the configuration into the store, once.
fn encode_connect<S: Store>(config: &Config<'_>, s: &Settings, store: &mut S) -> Result<(), Error> {
    let v = config.version;
    let mut props: heapless::Vec<Property<'_>, 24> = heapless::Vec::new();
    if v.is_v5() {
        let mut add = |p| props.push(p).map_err(|_| Error::Full);
        if let Some(m) = config.authentication_method {
            add(Property::AuthenticationMethod(m))?;
            if let Some(d) = config.authentication_data {
                add(Property::AuthenticationData(d))?;
            }
        }
        if config.session_expiry_interval > 0 {
            add(Property::SessionExpiryInterval(
                config.session_expiry_interval,
            ))?;
        }
        if s.receive_maximum < u16::MAX {
            add(Property::ReceiveMaximum(s.receive_maximum))?;
        }
        if s.max_packet_size < u32::MAX {
            add(Property::MaximumPacketSize(s.max_packet_size))?;
        }
        if s.topic_alias_maximum > 0 {
            add(Property::TopicAliasMaximum(s.topic_alias_maximum))?;
        }
        for p in config.properties {
            add(*p)?;
        }
    } else if !config.properties.is_empty() {
        return Err(Error::NotInVersion);
    }
    let mut will_props: heapless::Vec<Property<'_>, 16> = heapless::Vec::new();
    let will = match config.will {
        Some(w) => {
            if v.is_v5() {
                if w.delay_interval > 0 {
                    will_props
                        .push(Property::WillDelayInterval(w.delay_interval))
                        .map_err(|_| Error::Full)?;
                }
                for p in w.properties {
                    will_props.push(*p).map_err(|_| Error::Full)?;
                }
            } else if w.delay_interval > 0 || !w.properties.is_empty() {
                return Err(Error::NotInVersion);
            }
            Some(mqtt_proto::Will {
                topic: crate::error::topic_name(w.topic)?,
                payload: w.payload,
                qos: w.qos,
                retain: w.retain,
                properties: Properties::new(&will_props),
            })
        }
        None => None,
    };
    let packet = Packet::Connect(Connect {
        protocol: v,
        clean_start: config.clean_start,
        keep_alive: config.keep_alive,
        properties: Properties::new(&props),
        client_id: config.client_id,
        will: will.as_ref().map(mqtt_proto::WillRef::Given),
        username: config.username,
        password: config.password,
    });
    let len = packet.encoded_len(v)?;
    store
        .put_with(Key::Connect, len, &mut |dst| {
            let _ = packet.encode(v, dst);
        })
        .map_err(|_| Error::Full)
}

/// The redirect a CONNACK or DISCONNECT carries: reason 0x9C (Use another server) or 0x9D
/// (Server moved) with a Server Reference (5.0 §4.11).
fn redirect(rc: ReasonCode, props: Properties<'_>) -> Option<Outcome> {
    let permanent = match rc {
        ReasonCode::UseAnotherServer => false,
        ReasonCode::ServerMoved => true,
        _ => return None,
    };
    props.server_reference()?;
    Some(Outcome::Redirect { permanent })
}

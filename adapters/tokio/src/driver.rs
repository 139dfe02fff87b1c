//! The driver task: one per connection. It owns the socket and the session, feeds the
//! session bytes, time and commands, and carries out what the session asks for. It never
//! runs application code and makes no protocol decision.
//!
//! One turn of its loop:
//! 1. drain the session (the contract in `Session`'s doc): events until none (each one
//!    handed to the application, or to the future that waits for it), then bytes to send
//!    into one reusable buffer;
//! 2. write that buffer in one call; close or open the transport if the session asked;
//! 3. wait for the first of: transport opened, bytes read, commands queued, an ack, the
//!    session's deadline, room in the application's event queue.
//!
//! Commands arrive through [`crate::queue`]: the driver takes everything queued at once
//! and hands it to the session in order, until the session has no room (then it takes no
//! more, and publishers wait on the full queue). The answers of a turn are handed back
//! under one lock.
//!
//! Slow application: when the event queue is full, the driver holds the one event it
//! could not deliver and stops reading the socket until there is room, so TCP (and, for
//! QoS 1/2, the session's Receive Maximum) pushes back on the broker. Nothing queues
//! without bound and no task is spawned per message. A consumer stalled for longer than
//! keep alive + ping timeout loses the connection (the PINGRESP waits behind the unread
//! messages); unacknowledged QoS 1/2 messages are then redelivered on the next connection.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use mqtt_proto::{Property, QoS, ReasonCode};
use mqtt_session::{ConnState, Event as SessionEvent, Token};
use mqtt_transport::{BrokerUrl, Clock, HostSession, Message, Options, Secret};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant as TokioInstant, Sleep};
use tracing::{debug, info, trace, warn};

use crate::client::{AckHandle, Command, Error, PublishAck, PublishProperties, Shared, State};
use crate::event::Event;
use crate::event_queue::{EventQueue, Push};
use crate::queue::{Batch, Completions, Item, Payload, PublishItem};
use crate::transport::Conn;

/// Write buffer bounds: allocated when there is something to send (`WBUF_FIRST`, or the
/// packet's size), `WBUF_MIN` as soon as a second packet is ready, doubled up to
/// `WBUF_MAX` when a burst fills it, so one write carries many packets, and
/// released after a small write, so an idle connection holds none.
const WBUF_MIN: usize = 4 * 1024;
/// A lone packet (CONNECT, PINGREQ, one publish) takes no more: 4 KiB allocated and freed
/// for each of them on 10,000 connections opened at once left holes in the heap (about
/// 25 bytes resident per idle connection).
const WBUF_FIRST: usize = 256;
/// A write this small means no burst is in progress: the buffer is released after it.
const WBUF_RELEASE_BELOW: usize = 1024;
const WBUF_MAX: usize = 256 * 1024;

/// Acks taken from their channel in one turn of the loop: their packets go out in one
/// write. Bounded so reads and timers are not starved. (Commands are bounded by the
/// queue's capacity: the driver takes one queue's worth per turn.)
const BATCH: usize = 256;

type Connecting = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

/// Who waits for the completion of a token.
enum Reply {
    /// The slot of the publish's future in the command queue.
    Publish(u32),
    Codes(oneshot::Sender<Result<Vec<ReasonCode>, Error>>),
}

/// Tokens are sequential numbers: a multiplication spreads them (SipHash cost more than
/// the rest of the lookup).
#[derive(Default)]
struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What most connections never need, allocated the first time one does (and given back
/// at an idle keepalive once unused again): a disconnect under way, events held for a
/// slow application, the ack channel of manual-ack mode, a followed redirect. Inline it
/// cost every connection 112 bytes.
#[derive(Default)]
struct Seldom {
    closing: Option<Closing>,
    /// Events the application's queue had no room for. The session is not polled while
    /// any wait, so this holds one event plus at most a transport failure.
    held: VecDeque<Event>,
    /// The channel of [`AckHandle`]s, opened with the first one (manual-ack mode only):
    /// a connection that never hands one out saves its 672 bytes.
    acks: Option<(mpsc::UnboundedSender<Token>, mpsc::UnboundedReceiver<Token>)>,
    /// Where a followed redirect points; tried before the list.
    redirect: Vec<BrokerUrl>,
}

impl Seldom {
    fn unused(&self) -> bool {
        self.closing.is_none()
            && self.held.is_empty()
            && self.acks.is_none()
            && self.redirect.is_empty()
    }
}

struct Closing {
    deadline: mqtt_session::Instant,
    replies: Vec<oneshot::Sender<()>>,
    sent: bool,
}

/// What woke the driver up.
enum Wake {
    Opened(io::Result<Conn>),
    Read(io::Result<usize>),
    Commands,
    Ack(Option<Token>),
    Timer,
    Delivered,
    EventsClosed,
}

/// The application made room (`open`: its [`crate::Events`] is still there): as many
/// held events as fit go to its queue, in order.
fn release_held(held: &mut VecDeque<Event>, events: &EventQueue, open: bool) -> Wake {
    if open {
        while let Some(ev) = held.pop_front() {
            match events.push(ev) {
                Push::Queued => {}
                Push::Full(ev) => {
                    held.push_front(ev);
                    return Wake::Delivered;
                }
                Push::Closed => {
                    held.clear();
                    return Wake::EventsClosed;
                }
            }
        }
        return Wake::Delivered;
    }
    held.clear();
    Wake::EventsClosed
}

/// The driver's reference to the [`Shared`] state: the handles see `Closed` however the
/// driver ends (returned, or dropped with its runtime).
struct ClosedOnDrop(Arc<Shared>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.set_state(State::Closed);
        self.0.queue.close();
        self.0.events.driver_gone();
    }
}

pub(crate) struct Driver {
    session: HostSession,
    clock: Clock,
    /// What the driver keeps of the [`Options`] (the rest went into the session, and the
    /// client id into the span the task runs in; keeping them all cost 560 bytes inline
    /// plus their strings on every connection). Brokers, tried in turn (replaced by a
    /// permanent redirect that is followed).
    brokers: Vec<BrokerUrl>,
    max_incoming_packet: usize,
    tcp_nodelay: bool,
    follow_redirects: bool,
    /// The broker completed one of our operations (PUBACK, PUBCOMP, SUBACK, UNSUBACK,
    /// CONNACK) and nothing was written since: what it sends next may wait for our ACK
    /// (see [`Conn::ack_now`]).
    ack_owed: bool,
    /// The TLS settings and the rustls configuration built from them, when a broker
    /// uses TLS (shared with each connection attempt).
    tls: Option<(Arc<mqtt_transport::TlsOptions>, Arc<rustls::ClientConfig>)>,
    /// Commands taken from the queue; `cursor` is the first not yet handed to the session.
    batch: Batch,
    cursor: usize,
    /// Answers of this turn, for the futures waiting in the queue.
    completions: Completions,
    /// State, I/O counters, commands and events shared with the handles; `Closed` when
    /// the driver is dropped.
    shared: ClosedOnDrop,
    conn: Option<Conn>,
    /// Index of the broker tried last in `brokers`.
    broker: usize,
    current: Option<BrokerUrl>,
    wbuf: Vec<u8>,
    wlen: usize,
    /// The topic of the last message received, shared by the next ones on it.
    last_topic: Bytes,
    replies: HashMap<Token, Reply, BuildHasherDefault<TokenHasher>>,
    seldom: Option<Box<Seldom>>,
    commands_open: bool,
    events_open: bool,
    want_open: bool,
    want_close: bool,
    finished: bool,
}

impl Driver {
    pub(crate) fn new(
        session: HostSession,
        options: Options,
        tls_config: Option<Arc<rustls::ClientConfig>>,
        shared: Arc<Shared>,
    ) -> Self {
        Driver {
            session,
            clock: Clock::with_epoch(TokioInstant::now().into_std()),
            brokers: {
                // `Options::new` leaves room for more (224 bytes for one broker).
                let mut brokers = options.brokers;
                brokers.shrink_to_fit();
                brokers
            },
            max_incoming_packet: options.max_incoming_packet,
            tcp_nodelay: options.tcp_nodelay,
            ack_owed: false,
            follow_redirects: options.follow_redirects,
            tls: tls_config.map(|c| (Arc::new(options.tls), c)),
            batch: Batch::default(),
            cursor: 0,
            completions: Completions::default(),
            shared: ClosedOnDrop(shared),
            conn: None,
            broker: 0,
            current: None,
            wbuf: Vec::new(),
            wlen: 0,
            last_topic: Bytes::new(),
            replies: HashMap::default(),
            seldom: None,
            commands_open: true,
            events_open: true,
            want_open: false,
            want_close: false,
            finished: false,
        }
    }

    fn seldom(&mut self) -> &mut Seldom {
        self.seldom.get_or_insert_with(Box::default)
    }

    fn closing(&self) -> Option<&Closing> {
        self.seldom.as_ref()?.closing.as_ref()
    }

    /// Events wait for room in the application's queue (the session is not polled).
    fn holding(&self) -> bool {
        self.seldom.as_ref().is_some_and(|s| !s.held.is_empty())
    }

    fn now(&self) -> mqtt_session::Instant {
        self.clock.at(TokioInstant::now().into_std())
    }

    /// Runs the connection until `disconnect` completes or every handle is dropped. Boxed:
    /// an `async fn` taking `self` by value keeps the argument and its moved copy both in
    /// the future (8.7 KiB per connection instead of the driver's 4 KiB once).
    pub(crate) async fn run(mut self: Box<Self>) {
        let now = self.now();
        self.session.connect(now);
        let mut connecting: Option<Connecting> = None;
        let mut sleep: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep_until(TokioInstant::now()));
        let mut armed: Option<mqtt_session::Instant> = None;
        loop {
            let now = self.now();
            self.drain(now);
            if self.wlen > 0 {
                if let Some(conn) = self.conn.as_mut() {
                    // The ACK of what was read rides on this data.
                    self.ack_owed = false;
                    let r = conn.write_all(&self.wbuf[..self.wlen]).await;
                    trace!(bytes = self.wlen, "wrote");
                    self.shared.0.wrote(self.wlen);
                    if self.wlen < WBUF_RELEASE_BELOW {
                        self.wbuf = Vec::new();
                    }
                    if let Err(e) = r {
                        debug!(error = %e, "write failed");
                        self.transport_down();
                    }
                }
                self.shrink_wbuf();
                self.wlen = 0;
                continue;
            }
            if self.want_close {
                self.want_close = false;
                connecting = None;
                if let Some(mut conn) = self.conn.take() {
                    conn.close().await;
                }
            }
            if self.want_open {
                self.want_open = false;
                connecting = Some(self.open_next());
            }
            if self.finished {
                break;
            }
            if !self.commands_open && !self.events_open && self.closing().is_none() {
                // Every handle is gone: leave cleanly (DISCONNECT, so no will).
                debug!("every handle dropped: disconnecting");
                self.seldom().closing = Some(Closing {
                    deadline: now,
                    replies: Vec::new(),
                    sent: false,
                });
                continue;
            }
            if let Some(c) = self.seldom.as_mut().and_then(|s| s.closing.as_mut())
                && !c.sent
                && (self.session.outstanding() == 0 || now >= c.deadline)
            {
                c.sent = true;
                self.session.disconnect(now);
                continue;
            }
            // Arm the timer only when the deadline changed.
            let deadline = match (self.session.poll_timeout(), self.closing()) {
                (d, Some(c)) if !c.sent => Some(d.map_or(c.deadline, |d| d.min(c.deadline))),
                (d, _) => d,
            };
            if deadline != armed {
                armed = deadline;
                if let Some(d) = deadline {
                    sleep
                        .as_mut()
                        .reset(TokioInstant::from_std(self.clock.to_std(d)));
                }
            }
            if self.conn.is_some() && !self.holding() {
                // A packet larger than the buffer so far: make room (up to the maximum).
                mqtt_transport::grow_rx(&mut self.session, self.max_incoming_packet);
            }
            // The broker completed an operation of ours and we answered nothing: ACK
            // now rather than after the kernel's delayed-ACK timer. A broker whose sockets
            // keep Nagle's algorithm (mosquitto by default) holds the packet it sends right
            // behind (a PUBACK then the PUBLISH to our own subscription, a SUBACK then the
            // retained messages) until that ACK: 40 ms, every time on a current-thread
            // runtime. Only then: after other reads the ACK rides on our next write or the
            // kernel's own timing, and an immediate one cost round trips ~8 us.
            if std::mem::take(&mut self.ack_owed)
                && let Some(conn) = &self.conn
            {
                conn.ack_now();
            }
            let wake = self
                .wait(&mut connecting, &mut sleep, armed.is_some())
                .await;
            let now = self.now();
            match wake {
                Wake::Opened(Ok(conn)) => {
                    connecting = None;
                    info!(broker = %self.current.as_ref().map(|u| u.to_string()).unwrap_or_default(), "transport open");
                    self.conn = Some(conn);
                    self.session.handle_transport_up(now);
                }
                Wake::Opened(Err(e)) => {
                    connecting = None;
                    let broker = self
                        .current
                        .clone()
                        .unwrap_or_else(|| self.brokers[0].clone());
                    warn!(%broker, error = %e, "cannot connect");
                    self.deliver(Event::TransportFailed {
                        broker,
                        error: Arc::new(e),
                    });
                    self.session.handle_transport_down(now);
                }
                Wake::Read(Ok(0)) => {
                    debug!("connection closed by the broker");
                    self.transport_down();
                }
                Wake::Read(Ok(n)) => {
                    self.shared.0.read(n);
                    self.session.handle_read(now, n);
                    // A full read: more is waiting, read more at a time.
                    mqtt_transport::rx_after_read(&mut self.session);
                }
                Wake::Read(Err(e)) => {
                    debug!(error = %e, "read failed");
                    self.transport_down();
                }
                Wake::Commands => self.take_queue(),
                Wake::Ack(Some(token)) => {
                    self.ack(token);
                    // The rest already queued, so their PUBACKs share one write.
                    for _ in 1..BATCH {
                        let Some((_, rx)) = self.seldom.as_mut().and_then(|s| s.acks.as_mut())
                        else {
                            break;
                        };
                        match rx.try_recv() {
                            Ok(token) => self.ack(token),
                            Err(_) => break,
                        }
                    }
                }
                Wake::Ack(None) => {}
                Wake::Timer => {
                    armed = None;
                    debug!(
                        waiting = self.replies.len(),
                        outstanding = self.session.outstanding(),
                        inflight = self.session.inflight_publishes(),
                        queued = self.batch.items.len() - self.cursor,
                        state = ?self.session.state(),
                        "timer"
                    );
                    self.session.handle_timeout(now);
                    if self.batch.items.is_empty() {
                        // Idle (keepalive) or between bursts: give back the queue's memory
                        // and a receive buffer a burst grew.
                        self.batch = Batch::default();
                        self.last_topic = Bytes::new();
                        self.completions.shrink();
                        self.shared.0.queue.shrink();
                        self.shared.0.events.shrink();
                        if self.seldom.as_ref().is_some_and(|s| s.unused()) {
                            self.seldom = None;
                        }
                        mqtt_transport::shrink_rx(&mut self.session);
                    }
                }
                Wake::Delivered => {}
                Wake::EventsClosed => self.events_open = false,
            }
        }
        self.shared.0.set_state(State::Closed);
        // Before the replies: a publish queued once `disconnect` returned fails at once.
        self.shared.0.queue.close();
        if let Some(c) = self.seldom.as_mut().and_then(|s| s.closing.take()) {
            for r in c.replies {
                let _ = r.send(());
            }
        }
        debug!("driver ended");
    }

    /// Waits for the first thing that needs the driver. One poll function over every
    /// source, in priority order (as a biased `select!`), instead of a future per source:
    /// the driver's task holds only the references below while it waits (tokio's
    /// `select!` over futures took 192 bytes of every connection's task; this takes 72).
    fn wait<'a>(
        &'a mut self,
        connecting: &'a mut Option<Connecting>,
        sleep: &'a mut Pin<Box<Sleep>>,
        timer_armed: bool,
    ) -> impl Future<Output = Wake> + 'a {
        let Driver {
            session,
            conn,
            batch,
            seldom,
            commands_open,
            events_open,
            shared,
            ..
        } = self;
        let closing = seldom.as_ref().is_some_and(|s| s.closing.is_some());
        let (mut acks, mut held) = match seldom.as_deref_mut() {
            Some(s) => (s.acks.as_mut(), Some(&mut s.held)),
            None => (None, None),
        };
        let blocked = held.as_ref().is_some_and(|h| !h.is_empty());
        let can_read = conn.is_some() && !blocked;
        let take_commands = *commands_open && batch.items.is_empty() && !closing;
        let queue = &shared.0.queue;
        let events = &shared.0.events;
        // Something queued already, or the next push wakes us.
        let queued = take_commands && queue.arm();
        let watch_events_closed = *events_open && !blocked && !*commands_open;
        // With every source off (e.g. stopped after a refusal, before the ack channel
        // exists) this stays pending: the driver waits.
        std::future::poll_fn(move |cx| {
            if let Some(c) = connecting.as_mut()
                && let Poll::Ready(r) = c.as_mut().poll(cx)
            {
                return Poll::Ready(Wake::Opened(r));
            }
            if let Some((_, rx)) = acks.as_mut()
                && let Poll::Ready(t) = rx.poll_recv(cx)
            {
                return Poll::Ready(Wake::Ack(t));
            }
            if blocked
                && let Some(held) = held.as_deref_mut()
                && let Poll::Ready(open) = events.poll_room(cx)
            {
                return Poll::Ready(release_held(held, events, open));
            }
            if timer_armed && sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            if can_read && let Some(conn) = conn.as_mut() {
                let buf = session.read_buffer();
                // An empty buffer is full of packets not yet processed: they are processed
                // when the application makes room.
                if !buf.is_empty()
                    && let Poll::Ready(r) = conn.poll_read(cx, buf)
                {
                    return Poll::Ready(Wake::Read(r));
                }
            }
            if take_commands && (queued || queue.poll_driver_wakeup(cx).is_ready()) {
                return Poll::Ready(Wake::Commands);
            }
            if watch_events_closed && events.poll_receiver_gone(cx).is_ready() {
                return Poll::Ready(Wake::EventsClosed);
            }
            Poll::Pending
        })
    }

    fn ack(&mut self, token: Token) {
        if let Err(e) = self.session.ack(token) {
            debug!(?token, error = %e, "ack refused");
        }
    }

    /// The transport failed or closed under us.
    fn transport_down(&mut self) {
        self.conn = None;
        let now = self.now();
        self.session.handle_transport_down(now);
    }

    /// Starts opening the next broker: a followed redirect first, then the list in turn.
    fn open_next(&mut self) -> Connecting {
        let redirect = self
            .seldom
            .as_mut()
            .and_then(|s| (!s.redirect.is_empty()).then(|| s.redirect.remove(0)));
        let url = match redirect {
            Some(url) => url,
            None => {
                let url = self.brokers[self.broker % self.brokers.len()].clone();
                self.broker = (self.broker + 1) % self.brokers.len();
                url
            }
        };
        info!(broker = %url, "connecting");
        self.current = Some(url.clone());
        let nodelay = self.tcp_nodelay;
        let tls = self.tls.clone();
        Box::pin(async move {
            let tls = tls.as_ref().map(|(o, c)| (&**o, c));
            Conn::open(&url, nodelay, tls).await
        })
    }

    /// Follows the draining contract: events until none, then transmit, while either
    /// produced something; the queued commands go to the session in between, as it has
    /// room (a full outbox of QoS 0 publishes empties into the write buffer, so one write
    /// carries a whole queue's worth). Then the answers go to the waiting futures.
    fn drain(&mut self, now: mqtt_session::Instant) {
        loop {
            let mut progressed = false;
            while !self.holding() {
                let Some(ev) = self.session.poll_event() else {
                    break;
                };
                progressed = true;
                let ev = match ev {
                    SessionEvent::Message(m) => {
                        Owned::Message(Message::from_session_cached(&m, &mut self.last_topic))
                    }
                    ev => Owned::from(ev),
                };
                self.handle(ev);
            }
            progressed |= self.run_batch(now);
            progressed |= self.fill_tx(now);
            if !progressed {
                break;
            }
        }
        if !self.completions.is_empty() {
            self.shared.0.queue.complete(&mut self.completions);
        }
    }

    /// Hands the session the commands taken from the queue, in order, until they are all
    /// done or it has no room. True if any was handed over.
    ///
    /// The queue is taken only when the driver waits (`Wake::Commands`), never here: a
    /// publish queued while a turn is under way goes in the next write, not in the one
    /// carrying the acknowledgements of this turn. (Taking it here too saved a write per
    /// in-flight window at QoS 1, but against mosquitto, which does not set TCP_NODELAY,
    /// it shifted a request/response pattern so that mosquitto's PUBLISH waited for our
    /// delayed ACK: 43 ms round trips at the 90th percentile.)
    fn run_batch(&mut self, now: mqtt_session::Instant) -> bool {
        if self.cursor >= self.batch.items.len() {
            return false;
        }
        self.run_items(now)
    }

    fn take_queue(&mut self) {
        debug_assert!(self.batch.items.is_empty());
        if self.shared.0.queue.take(&mut self.batch).no_handles {
            self.commands_open = false;
        }
        self.cursor = 0;
    }

    /// Works through the batch taken; true if any command was handed over.
    fn run_items(&mut self, now: mqtt_session::Instant) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        let Batch { items, text, data } = &mut batch;
        let mut progressed = false;
        while let Some(item) = items.get_mut(self.cursor) {
            let finished = match item {
                Item::Publish(p) => {
                    let topic = text
                        .get(p.topic.0 as usize..p.topic.1 as usize)
                        .unwrap_or_default();
                    let payload: &[u8] = match &p.payload {
                        Payload::Inline(a, b) => {
                            data.get(*a as usize..*b as usize).unwrap_or_default()
                        }
                        Payload::Shared(b) => b,
                    };
                    self.publish(now, p, topic, payload)
                }
                Item::Command(c) => match c.take() {
                    Some(cmd) => match self.command(now, *cmd) {
                        None => true,
                        Some(back) => {
                            *c = Some(Box::new(back));
                            false
                        }
                    },
                    None => true,
                },
            };
            if !finished {
                break;
            }
            self.cursor += 1;
            self.completions.done += 1;
            progressed = true;
        }
        if self.cursor >= items.len() {
            batch.clear();
            self.cursor = 0;
        }
        self.batch = batch;
        progressed
    }

    /// Hands one publish to the session. False if it has no room (try again later).
    fn publish(
        &mut self,
        now: mqtt_session::Instant,
        p: &PublishItem,
        topic: &str,
        payload: &[u8],
    ) -> bool {
        if self.closing().is_some() {
            // Disconnecting: answer what arrives meanwhile.
            self.fail(p, Error::Closed);
            return true;
        }
        let mut props: Vec<Property<'_>> = Vec::new();
        if let Some(pp) = p.properties.as_deref() {
            publish_properties(pp, &mut props);
        }
        // A QoS 0 message that can go at once is encoded straight into the write buffer.
        // Room: topic and payload, the fixed header (5), topic length (2), a 5.0 property
        // length and Topic Alias (4), and slack; a packet with more properties than that
        // room holds is queued instead.
        let direct = p.qos == QoS::AtMostOnce && self.wbuf_room(topic.len() + payload.len() + 16);
        let out = match direct {
            true => self.wbuf.get_mut(self.wlen..).unwrap_or_default(),
            false => &mut [],
        };
        match self
            .session
            .publish_into(now, topic, payload, p.qos, p.retain, &props, out)
            .map(|(token, n)| {
                self.wlen += n;
                token
            }) {
            Ok(Some(token)) => {
                if let Some(slot) = p.slot() {
                    self.replies.insert(token, Reply::Publish(slot));
                }
                true
            }
            Ok(None) => {
                if let Some(slot) = p.slot() {
                    let ok = Ok(PublishAck {
                        reason_code: ReasonCode::Success,
                    });
                    self.completions.slots.push((slot, ok));
                }
                true
            }
            Err(e) if e.is_capacity() => false,
            Err(e) => {
                self.fail(p, Error::Rejected(e));
                true
            }
        }
    }

    /// Answers a publish of the batch (the one at the cursor) with an error.
    fn fail(&mut self, p: &PublishItem, e: Error) {
        match p.slot() {
            Some(slot) => self.completions.slots.push((slot, Err(e))),
            None => self.completions.failed.push((self.completions.done, e)),
        }
    }

    /// Grows the write buffer as `fill_tx` does so that `want` more bytes fit; false if
    /// it is at its largest and full (the packet then waits for the next write).
    fn wbuf_room(&mut self, want: usize) -> bool {
        let len = self.wbuf.len();
        if len - self.wlen >= want {
            return true;
        }
        let grown = if self.wlen == 0 {
            want.max(WBUF_FIRST)
        } else if len < WBUF_MIN {
            (self.wlen + want).max(WBUF_MIN)
        } else {
            (len * 2).min(WBUF_MAX)
        };
        if grown - self.wlen < want {
            return false;
        }
        self.wbuf.resize(grown, 0);
        true
    }

    /// Copies what the session has to send into the write buffer; true if anything.
    fn fill_tx(&mut self, now: mqtt_session::Instant) -> bool {
        let mut any = false;
        loop {
            match self.session.poll_transmit(now, &mut self.wbuf[self.wlen..]) {
                Ok(0) => return any,
                Ok(n) => {
                    self.wlen += n;
                    any = true;
                    if self.wbuf.len() >= WBUF_MIN && self.wbuf.len() - self.wlen < 256 {
                        if self.wbuf.len() >= WBUF_MAX {
                            return true;
                        }
                        let len = (self.wbuf.len() * 2).min(WBUF_MAX);
                        self.wbuf.resize(len, 0);
                    }
                }
                Err(required) => {
                    if self.wlen == 0 {
                        self.wbuf.resize(required.max(WBUF_FIRST), 0);
                    } else if self.wbuf.len() < WBUF_MIN {
                        // A second packet: a burst may be starting.
                        self.wbuf.resize((self.wlen + required).max(WBUF_MIN), 0);
                    } else {
                        // Written first; the next packet goes into the emptied buffer.
                        return any;
                    }
                }
            }
        }
    }

    /// After a burst, give the memory back: a large buffer whose last write filled less
    /// than a quarter of it. (Released after every write, it was zeroed again for the
    /// next one of a steady stream: 6,500 instructions a write.)
    fn shrink_wbuf(&mut self) {
        if self.wbuf.len() > WBUF_MIN * 4 && self.wlen * 4 < self.wbuf.len() {
            self.wbuf = Vec::new();
        }
    }

    fn deliver(&mut self, ev: Event) {
        if !self.events_open {
            trace!(?ev, "no application listening: dropped");
            return;
        }
        if self.holding() {
            self.seldom().held.push_back(ev);
            return;
        }
        match self.shared.0.events.push(ev) {
            Push::Queued => {}
            Push::Full(ev) => {
                trace!("application is slow: holding an event, not reading");
                self.seldom().held.push_back(ev);
            }
            Push::Closed => self.events_open = false,
        }
    }

    fn set_state(&self, s: State) {
        self.shared.0.set_state(s);
    }

    fn handle(&mut self, ev: Owned) {
        match ev {
            Owned::OpenTransport => self.want_open = true,
            Owned::CloseTransport => {
                self.want_close = true;
                self.want_open = false;
            }
            Owned::Connected { session_present } => {
                self.ack_owed = true;
                let broker = self
                    .current
                    .clone()
                    .unwrap_or_else(|| self.brokers[0].clone());
                info!(%broker, session_present, "connected");
                // The broker that answered is the one to try first next time.
                if let Some(i) = self.brokers.iter().position(|b| *b == broker) {
                    self.broker = i;
                }
                self.set_state(State::Connected { session_present });
                self.deliver(Event::Connected {
                    broker,
                    session_present,
                });
            }
            Owned::ConnectionLost(reason) => {
                info!(?reason, "connection lost");
                self.set_state(State::Disconnected);
                self.deliver(Event::ConnectionLost { reason });
            }
            Owned::ReconnectScheduled { at, attempt } => {
                let at = self.clock.to_std(at);
                debug!(attempt, "reconnect scheduled");
                self.deliver(Event::ReconnectScheduled { at, attempt });
            }
            Owned::Stopped(reason) => {
                info!(?reason, "stopped");
                self.set_state(State::Stopped);
                if self.closing().is_some_and(|c| c.sent) {
                    self.finished = true;
                }
                self.deliver(Event::Stopped { reason });
            }
            Owned::Message(message) => {
                let ack = message.ack.map(|token| AckHandle {
                    token,
                    acks: self
                        .seldom()
                        .acks
                        .get_or_insert_with(mpsc::unbounded_channel)
                        .0
                        .clone(),
                });
                self.deliver(Event::Message { message, ack });
            }
            Owned::Published { token, reason_code } => {
                self.ack_owed = true;
                if let Some(Reply::Publish(slot)) = self.replies.remove(&token) {
                    let res = if reason_code.is_error() {
                        Err(Error::Refused(reason_code))
                    } else {
                        Ok(PublishAck { reason_code })
                    };
                    self.completions.slots.push((slot, res));
                }
            }
            Owned::Codes { token, codes } => {
                self.ack_owed = true;
                if let Some(Reply::Codes(r)) = self.replies.remove(&token) {
                    let _ = r.send(Ok(codes));
                } else {
                    debug!(?token, ?codes, "acknowledged (session's own resubscribe)");
                }
            }
            Owned::Lost { token, reason } => match self.replies.remove(&token) {
                Some(Reply::Publish(slot)) => {
                    self.completions
                        .slots
                        .push((slot, Err(Error::Lost(reason))));
                }
                Some(Reply::Codes(r)) => {
                    let _ = r.send(Err(Error::Lost(reason)));
                }
                None => {}
            },
            Owned::Auth { reason_code, data } => self.deliver(Event::Auth { reason_code, data }),
            Owned::Redirect {
                reference,
                permanent,
            } => {
                let current = self
                    .current
                    .clone()
                    .unwrap_or_else(|| self.brokers[0].clone());
                match BrokerUrl::parse_server_reference(&reference, &current) {
                    Ok(to) => {
                        info!(%reference, permanent, follow = self.follow_redirects, "server redirect");
                        if self.follow_redirects {
                            self.seldom().redirect = to.clone();
                            if permanent {
                                self.brokers = to.clone();
                                self.broker = 0;
                            }
                        }
                        self.deliver(Event::Redirected { to, permanent });
                    }
                    Err(e) => warn!(%reference, error = %e, "unusable server reference"),
                }
            }
        }
    }

    /// Hands one command to the session; gives it back if the session has no room.
    fn command(&mut self, now: mqtt_session::Instant, cmd: Command) -> Option<Command> {
        if let Some(c) = self.seldom.as_mut().and_then(|s| s.closing.as_mut()) {
            // Disconnecting: answer what arrives meanwhile.
            match cmd {
                Command::Disconnect { reply, .. } => c.replies.push(reply),
                Command::Subscribe { reply, .. } | Command::Unsubscribe { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed));
                }
                Command::Auth { .. } | Command::Reconnect => {}
            }
            return None;
        }
        match cmd {
            Command::Subscribe {
                filters,
                subscription_id,
                reply,
            } => {
                let subs = match mqtt_transport::subscriptions(&filters) {
                    Ok(subs) => subs,
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                        return None;
                    }
                };
                let props: Vec<Property<'_>> = subscription_id
                    .map(Property::SubscriptionIdentifier)
                    .into_iter()
                    .collect();
                match self.session.subscribe(now, &subs, &props) {
                    Ok(token) => {
                        self.replies.insert(token, Reply::Codes(reply));
                    }
                    Err(e) if e.is_capacity() => {
                        drop(subs);
                        return Some(Command::Subscribe {
                            filters,
                            subscription_id,
                            reply,
                        });
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                    }
                }
            }
            Command::Unsubscribe { filters, reply } => {
                let refs = match mqtt_transport::topic_filters(filters.iter().map(String::as_str)) {
                    Ok(refs) => refs,
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                        return None;
                    }
                };
                match self.session.unsubscribe(now, &refs, &[]) {
                    Ok(token) => {
                        self.replies.insert(token, Reply::Codes(reply));
                    }
                    Err(e) if e.is_capacity() => {
                        drop(refs);
                        return Some(Command::Unsubscribe { filters, reply });
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                    }
                }
            }
            Command::Auth {
                data,
                reauthenticate,
            } => {
                let r = if reauthenticate {
                    self.session.reauthenticate(now, &data)
                } else {
                    self.session.auth(now, &data)
                };
                if let Err(e) = r {
                    warn!(error = %e, "AUTH refused by the session");
                }
            }
            Command::Reconnect => {
                if self.session.state() == ConnState::Idle {
                    self.session.connect(now);
                }
            }
            Command::Disconnect { timeout, reply } => {
                let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                self.seldom().closing = Some(Closing {
                    deadline: now + mqtt_session::Duration::from_millis(ms),
                    replies: vec![reply],
                    sent: false,
                });
            }
        }
        None
    }
}

fn publish_properties<'a>(p: &'a PublishProperties, out: &mut Vec<Property<'a>>) {
    if p.payload_is_utf8 {
        out.push(Property::PayloadFormatIndicator(true));
    }
    if let Some(e) = p.message_expiry_interval {
        out.push(Property::MessageExpiryInterval(e));
    }
    if let Some(c) = &p.content_type {
        out.push(Property::ContentType(c));
    }
    if let Some(t) = &p.response_topic {
        out.push(Property::ResponseTopic(t));
    }
    if let Some(d) = &p.correlation_data {
        out.push(Property::CorrelationData(d));
    }
    out.extend(
        p.user_properties
            .iter()
            .map(|(k, v)| Property::UserProperty(k, v)),
    );
}

/// A session event copied out of the session's buffers.
enum Owned {
    OpenTransport,
    CloseTransport,
    Connected {
        session_present: bool,
    },
    ConnectionLost(mqtt_session::ConnectionError),
    ReconnectScheduled {
        at: mqtt_session::Instant,
        attempt: u32,
    },
    Stopped(mqtt_session::StopReason),
    Message(Message),
    Published {
        token: Token,
        reason_code: ReasonCode,
    },
    Codes {
        token: Token,
        codes: Vec<ReasonCode>,
    },
    Lost {
        token: Token,
        reason: mqtt_session::LossReason,
    },
    Auth {
        reason_code: ReasonCode,
        data: Secret,
    },
    Redirect {
        reference: String,
        permanent: bool,
    },
}

impl From<SessionEvent<'_>> for Owned {
    fn from(ev: SessionEvent<'_>) -> Self {
        match ev {
            SessionEvent::OpenTransport => Owned::OpenTransport,
            SessionEvent::CloseTransport => Owned::CloseTransport,
            SessionEvent::Connected { session_present } => Owned::Connected { session_present },
            SessionEvent::ConnectionLost { reason } => Owned::ConnectionLost(reason),
            SessionEvent::ReconnectScheduled { at, attempt } => {
                Owned::ReconnectScheduled { at, attempt }
            }
            SessionEvent::Stopped { reason } => Owned::Stopped(reason),
            SessionEvent::Message(m) => Owned::Message(Message::from_session(&m)),
            SessionEvent::Published { token, reason_code } => {
                Owned::Published { token, reason_code }
            }
            SessionEvent::Subscribed {
                token,
                reason_codes,
            }
            | SessionEvent::Unsubscribed {
                token,
                reason_codes,
            } => Owned::Codes {
                token,
                codes: reason_codes.iter().collect(),
            },
            SessionEvent::Lost { token, reason } => Owned::Lost { token, reason },
            SessionEvent::Auth { reason_code, data } => Owned::Auth {
                reason_code,
                data: Secret::new(data.0),
            },
            SessionEvent::Redirect {
                server_reference,
                permanent,
            } => Owned::Redirect {
                reference: server_reference.to_owned(),
                permanent,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver's task stays at 384 bytes per connection: tokio allocates a task (its
    /// header, the future, its trailer) in steps of 128 bytes, and a future above about
    /// 280 bytes makes it 512. A `select!` over a future per source (a `Notified` for the
    /// command queue, a read future, tokio's event channel futures), held while the
    /// driver waited, made it 688 bytes (a task of 896).
    #[test]
    fn driver_future_is_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let options = Options::new("mqtt://127.0.0.1:1883", "size").expect("options");
            let (session, _) = mqtt_transport::open_session(&options).expect("session");
            let shared = Arc::new(Shared::new(1, 1));
            let driver = Driver::new(session, options, None, shared);
            // As `connect` spawns it.
            let span = tracing::debug_span!("mqtt", client_id = "size");
            let run = tracing::Instrument::instrument(Box::new(driver).run(), span);
            let size = std::mem::size_of_val(&run);
            println!("driver future: {size} bytes");
            assert!(size <= 280, "the driver's future is {size} bytes");
        });
    }
}

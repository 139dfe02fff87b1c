//! The driver task: one per connection. It owns the socket and the session, feeds the
//! session bytes, time and commands, and carries out what the session asks for. It never
//! runs application code and makes no protocol decision.
//!
//! One turn of its loop:
//! 1. drain the session (the contract in `Session`'s doc): events until none (each one
//!    handed to the application, or to the future that waits for it), then bytes to send
//!    into one reusable buffer;
//! 2. write that buffer in one call; close or open the transport if the session asked;
//! 3. wait for the first of: transport opened, bytes read, a command, an ack, the
//!    session's deadline, room in the application's channel.
//!
//! Slow application: when the event channel is full, the driver holds the one event it
//! could not deliver and stops reading the socket until there is room, so TCP (and, for
//! QoS 1/2, the session's Receive Maximum) pushes back on the broker. Nothing queues
//! without bound and no task is spawned per message. A consumer stalled for longer than
//! keep alive + ping timeout loses the connection (the PINGRESP waits behind the unread
//! messages); unacknowledged QoS 1/2 messages are then redelivered on the next connection.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use mqtt_proto::{Property, ReasonCode, Subscription};
use mqtt_session::{ConnState, Event as SessionEvent, Token};
use mqtt_transport::{BrokerUrl, Clock, HostSession, Message, Options, Secret};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant as TokioInstant, Sleep};
use tracing::{debug, info, trace, warn};

use crate::client::{AckHandle, Command, Error, PublishAck, PublishProperties, Shared, State};
use crate::event::Event;
use crate::transport::Conn;

/// Write buffer bounds: allocated when there is something to send (at least `WBUF_MIN`),
/// doubled up to `WBUF_MAX` when a burst fills it, so one write carries many packets, and
/// released after a small write, so an idle connection holds none.
const WBUF_MIN: usize = 4 * 1024;
/// A write this small means no burst is in progress: the buffer is released after it.
const WBUF_RELEASE_BELOW: usize = 1024;
const WBUF_MAX: usize = 256 * 1024;

/// Commands (or acks) taken from their channel in one turn of the loop: their packets go
/// out in one write. Bounded so reads and timers are not starved by a busy publisher.
const BATCH: usize = 256;

type Connecting = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

/// Who waits for the completion of a token.
enum Reply {
    Publish(oneshot::Sender<Result<PublishAck, Error>>),
    Codes(oneshot::Sender<Result<Vec<ReasonCode>, Error>>),
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
    Command(Option<Box<Command>>),
    Ack(Option<Token>),
    Timer,
    Delivered,
    EventsClosed,
}

/// The driver's ends of the channels to the handles.
pub(crate) struct Channels {
    pub(crate) cmd_rx: mpsc::Receiver<Box<Command>>,
    pub(crate) ev_tx: mpsc::Sender<Box<Event>>,
    pub(crate) shared: Arc<Shared>,
}

/// The driver's reference to the [`Shared`] state: the handles see `Closed` however the
/// driver ends (returned, or dropped with its runtime).
struct ClosedOnDrop(Arc<Shared>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.set_state(State::Closed);
    }
}

pub(crate) struct Driver {
    session: HostSession,
    clock: Clock,
    /// What the driver keeps of the [`Options`] (the rest went into the session; keeping
    /// them all cost 560 bytes inline plus their strings on every connection).
    client_id: String,
    /// Brokers, tried in turn (replaced by a permanent redirect that is followed).
    brokers: Vec<BrokerUrl>,
    max_incoming_packet: usize,
    tcp_nodelay: bool,
    follow_redirects: bool,
    /// The TLS settings and the rustls configuration built from them, when a broker
    /// uses TLS (shared with each connection attempt).
    tls: Option<(Arc<mqtt_transport::TlsOptions>, Arc<rustls::ClientConfig>)>,
    cmd_rx: mpsc::Receiver<Box<Command>>,
    /// The channel of [`AckHandle`]s, opened with the first one (manual-ack mode only):
    /// a connection that never hands one out saves its 672 bytes.
    acks: Option<(mpsc::UnboundedSender<Token>, mpsc::UnboundedReceiver<Token>)>,
    ev_tx: mpsc::Sender<Box<Event>>,
    /// State and I/O counters for the handles; `Closed` when the driver is dropped.
    shared: ClosedOnDrop,
    conn: Option<Conn>,
    /// Index of the broker tried last in `brokers`.
    broker: usize,
    /// Where a followed redirect points; tried before the list.
    redirect: Vec<BrokerUrl>,
    current: Option<BrokerUrl>,
    wbuf: Vec<u8>,
    wlen: usize,
    replies: HashMap<Token, Reply>,
    stalled: Option<Command>,
    closing: Option<Closing>,
    /// Events the application's channel had no room for. The session is not polled while
    /// any wait, so this holds one event plus at most a transport failure.
    held: VecDeque<Box<Event>>,
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
        ch: Channels,
    ) -> Self {
        Driver {
            session,
            clock: Clock::with_epoch(TokioInstant::now().into_std()),
            client_id: options.client_id,
            brokers: {
                // `Options::new` leaves room for more (224 bytes for one broker).
                let mut brokers = options.brokers;
                brokers.shrink_to_fit();
                brokers
            },
            max_incoming_packet: options.max_incoming_packet,
            tcp_nodelay: options.tcp_nodelay,
            follow_redirects: options.follow_redirects,
            tls: tls_config.map(|c| (Arc::new(options.tls), c)),
            cmd_rx: ch.cmd_rx,
            acks: None,
            ev_tx: ch.ev_tx,
            shared: ClosedOnDrop(ch.shared),
            conn: None,
            broker: 0,
            redirect: Vec::new(),
            current: None,
            wbuf: Vec::new(),
            wlen: 0,
            replies: HashMap::new(),
            stalled: None,
            closing: None,
            held: VecDeque::new(),
            commands_open: true,
            events_open: true,
            want_open: false,
            want_close: false,
            finished: false,
        }
    }

    fn now(&self) -> mqtt_session::Instant {
        self.clock.at(TokioInstant::now().into_std())
    }

    /// Runs the connection until `disconnect` completes or every handle is dropped. Boxed:
    /// an `async fn` taking `self` by value keeps the argument and its moved copy both in
    /// the future (8.7 KiB per connection instead of the driver's 4 KiB once).
    pub(crate) async fn run(mut self: Box<Self>) {
        let span = tracing::debug_span!("mqtt", client_id = %self.client_id);
        let _enter = span.enter();
        drop(_enter);
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
                    let r = conn.write_all(&self.wbuf[..self.wlen]).await;
                    trace!(bytes = self.wlen, "wrote");
                    self.shared.0.wrote(self.wlen);
                    if self.wlen < WBUF_RELEASE_BELOW {
                        self.wbuf = Vec::new();
                    }
                    self.wlen = 0;
                    if let Err(e) = r {
                        debug!(error = %e, "write failed");
                        self.transport_down();
                    }
                } else {
                    self.wlen = 0;
                }
                self.shrink_wbuf();
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
            if !self.commands_open && !self.events_open && self.closing.is_none() {
                // Every handle is gone: leave cleanly (DISCONNECT, so no will).
                debug!("every handle dropped: disconnecting");
                self.closing = Some(Closing {
                    deadline: now,
                    replies: Vec::new(),
                    sent: false,
                });
                continue;
            }
            if let Some(c) = self.closing.as_mut()
                && !c.sent
                && (self.session.outstanding() == 0 || now >= c.deadline)
            {
                c.sent = true;
                self.session.disconnect(now);
                continue;
            }
            // Arm the timer only when the deadline changed.
            let deadline = match (self.session.poll_timeout(), &self.closing) {
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
            if self.conn.is_some() && self.held.is_empty() {
                // A packet larger than the buffer so far: make room (up to the maximum).
                mqtt_transport::grow_rx(&mut self.session, self.max_incoming_packet);
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
                }
                Wake::Read(Err(e)) => {
                    debug!(error = %e, "read failed");
                    self.transport_down();
                }
                Wake::Command(Some(cmd)) => {
                    self.command(now, *cmd);
                    self.take_queued_commands(now);
                }
                Wake::Command(None) => self.commands_open = false,
                Wake::Ack(Some(token)) => {
                    self.ack(token);
                    // The rest already queued, so their PUBACKs share one write.
                    for _ in 1..BATCH {
                        let Some((_, rx)) = self.acks.as_mut() else {
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
                        stalled = self.stalled.is_some(),
                        state = ?self.session.state(),
                        "timer"
                    );
                    self.session.handle_timeout(now);
                }
                Wake::Delivered => {}
                Wake::EventsClosed => self.events_open = false,
            }
        }
        self.shared.0.set_state(State::Closed);
        if let Some(c) = self.closing.take() {
            for r in c.replies {
                let _ = r.send(());
            }
        }
        debug!("driver ended");
    }

    /// Waits for the first thing that needs the driver.
    async fn wait(
        &mut self,
        connecting: &mut Option<Connecting>,
        sleep: &mut Pin<Box<Sleep>>,
        timer_armed: bool,
    ) -> Wake {
        let Driver {
            session,
            conn,
            cmd_rx,
            acks,
            ev_tx,
            held,
            stalled,
            closing,
            commands_open,
            events_open,
            ..
        } = self;
        let blocked = !held.is_empty();
        let can_read = conn.is_some() && !blocked;
        let take_commands = *commands_open && stalled.is_none() && closing.is_none();
        let watch_events_closed = *events_open && !blocked && !*commands_open;
        tokio::select! {
            biased;
            r = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => Wake::Opened(r),
            t = async { acks.as_mut().expect("guarded").1.recv().await }, if acks.is_some() => Wake::Ack(t),
            r = ev_tx.reserve(), if blocked => match r {
                Ok(permit) => {
                    if let Some(ev) = held.pop_front() {
                        permit.send(ev);
                    }
                    Wake::Delivered
                }
                Err(_) => {
                    held.clear();
                    Wake::EventsClosed
                }
            },
            () = sleep.as_mut(), if timer_armed => Wake::Timer,
            r = async {
                let buf = session.read_buffer();
                if buf.is_empty() {
                    // The receive buffer is full of packets not yet processed: they are
                    // processed when the application makes room.
                    return std::future::pending().await;
                }
                conn.as_mut().expect("guarded").read(buf).await
            }, if can_read => Wake::Read(r),
            c = cmd_rx.recv(), if take_commands => Wake::Command(c),
            () = ev_tx.closed(), if watch_events_closed => Wake::EventsClosed,
            // Always enabled, never ready: with every other branch off (e.g. stopped after a
            // refusal, before the ack channel exists) the driver waits instead of panicking.
            () = std::future::pending::<()>() => Wake::Ack(None),
        }
    }

    /// Hands the session the commands already queued behind the one just taken (up to
    /// `BATCH`, while it has room), so that their packets leave in one write instead of
    /// one system call each.
    fn take_queued_commands(&mut self, now: mqtt_session::Instant) {
        for _ in 1..BATCH {
            if self.stalled.is_some() || self.closing.is_some() {
                return;
            }
            match self.cmd_rx.try_recv() {
                Ok(cmd) => self.command(now, *cmd),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.commands_open = false;
                    return;
                }
            }
        }
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
        let url = if self.redirect.is_empty() {
            let url = self.brokers[self.broker % self.brokers.len()].clone();
            self.broker = (self.broker + 1) % self.brokers.len();
            url
        } else {
            self.redirect.remove(0)
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
    /// produced something.
    fn drain(&mut self, now: mqtt_session::Instant) {
        loop {
            let mut progressed = false;
            while self.held.is_empty() {
                let Some(ev) = self.session.poll_event() else {
                    break;
                };
                progressed = true;
                let ev = Owned::from(ev);
                self.handle(ev);
            }
            if self.stalled.is_some() {
                let cmd = self.stalled.take().expect("checked");
                self.command(now, cmd);
                progressed |= self.stalled.is_none();
            }
            progressed |= self.fill_tx(now);
            if !progressed || self.wlen > 0 {
                return;
            }
        }
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
                    if self.wbuf.len() - self.wlen < 256 {
                        if self.wbuf.len() >= WBUF_MAX {
                            return true;
                        }
                        let len = (self.wbuf.len() * 2).min(WBUF_MAX);
                        self.wbuf.resize(len, 0);
                    }
                }
                Err(required) => {
                    if self.wlen > 0 {
                        return true;
                    }
                    self.wbuf.resize(required.max(WBUF_MIN), 0);
                }
            }
        }
    }

    /// After a burst, give the memory back.
    fn shrink_wbuf(&mut self) {
        if self.wbuf.len() > WBUF_MIN * 4 {
            self.wbuf = Vec::new();
        }
    }

    fn deliver(&mut self, ev: Event) {
        if !self.events_open {
            trace!(?ev, "no application listening: dropped");
            return;
        }
        if !self.held.is_empty() {
            self.held.push_back(Box::new(ev));
            return;
        }
        match self.ev_tx.try_send(Box::new(ev)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => {
                trace!("application is slow: holding an event, not reading");
                self.held.push_back(ev);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.events_open = false,
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
                if self.closing.as_ref().is_some_and(|c| c.sent) {
                    self.finished = true;
                }
                self.deliver(Event::Stopped { reason });
            }
            Owned::Message(message) => {
                let ack = message.ack.map(|token| AckHandle {
                    token,
                    acks: self
                        .acks
                        .get_or_insert_with(mpsc::unbounded_channel)
                        .0
                        .clone(),
                });
                self.deliver(Event::Message { message, ack });
            }
            Owned::Published { token, reason_code } => {
                if let Some(Reply::Publish(r)) = self.replies.remove(&token) {
                    let res = if reason_code.is_error() {
                        Err(Error::Refused(reason_code))
                    } else {
                        Ok(PublishAck { reason_code })
                    };
                    let _ = r.send(res);
                }
            }
            Owned::Codes { token, codes } => {
                if let Some(Reply::Codes(r)) = self.replies.remove(&token) {
                    let _ = r.send(Ok(codes));
                } else {
                    debug!(?token, ?codes, "acknowledged (session's own resubscribe)");
                }
            }
            Owned::Lost { token, reason } => match self.replies.remove(&token) {
                Some(Reply::Publish(r)) => {
                    let _ = r.send(Err(Error::Lost(reason)));
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
                            self.redirect = to.clone();
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

    fn command(&mut self, now: mqtt_session::Instant, cmd: Command) {
        if let Some(c) = self.closing.as_mut() {
            // Disconnecting: answer what arrives meanwhile.
            match cmd {
                Command::Disconnect { reply, .. } => c.replies.push(reply),
                Command::Publish { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed));
                }
                Command::Subscribe { reply, .. } | Command::Unsubscribe { reply, .. } => {
                    let _ = reply.send(Err(Error::Closed));
                }
                Command::Auth { .. } | Command::Reconnect => {}
            }
            return;
        }
        match cmd {
            Command::Publish {
                topic,
                payload,
                qos,
                retain,
                properties,
                reply,
            } => {
                let mut props: Vec<Property<'_>> = Vec::new();
                if let Some(p) = properties.as_deref() {
                    publish_properties(p, &mut props);
                }
                match self
                    .session
                    .publish(now, &topic, &payload, qos, retain, &props)
                {
                    Ok(Some(token)) => {
                        self.replies.insert(token, Reply::Publish(reply));
                    }
                    Ok(None) => {
                        let _ = reply.send(Ok(PublishAck {
                            reason_code: ReasonCode::Success,
                        }));
                    }
                    Err(e) if e.is_capacity() => {
                        drop(props);
                        self.stalled = Some(Command::Publish {
                            topic,
                            payload,
                            qos,
                            retain,
                            properties,
                            reply,
                        });
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                    }
                }
            }
            Command::Subscribe {
                filters,
                subscription_id,
                reply,
            } => {
                let subs: Vec<Subscription<'_>> = filters
                    .iter()
                    .map(|(f, o)| Subscription {
                        filter: f,
                        options: *o,
                    })
                    .collect();
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
                        self.stalled = Some(Command::Subscribe {
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
                let refs: Vec<&str> = filters.iter().map(String::as_str).collect();
                match self.session.unsubscribe(now, &refs, &[]) {
                    Ok(token) => {
                        self.replies.insert(token, Reply::Codes(reply));
                    }
                    Err(e) if e.is_capacity() => {
                        drop(refs);
                        self.stalled = Some(Command::Unsubscribe { filters, reply });
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
                self.closing = Some(Closing {
                    deadline: now + mqtt_session::Duration::from_millis(ms),
                    replies: vec![reply],
                    sent: false,
                });
            }
        }
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

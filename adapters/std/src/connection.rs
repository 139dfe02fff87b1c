//! [`Connection`]: owns the socket and the session and runs the blocking loop.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant as StdInstant};

use mqtt_proto::{Property, QoS, Subscription, SubscriptionOptions};
use mqtt_session::{ConnState, ConnectionError, Event as SessionEvent, Token};
use mqtt_transport::{
    BrokerUrl, Clock, HostSession, Message, OpenError, Options, Secret, TlsError, open_session,
};
use tracing::{debug, trace, warn};

use crate::client::{Client, Command, Completion, Reply};
use crate::event::Event;
use crate::stream::Stream;
use crate::wake::{self, Ready, Waiter};

/// Commands a [`Client`] may queue before its calls block (or `try_` calls fail).
pub const COMMAND_QUEUE: usize = 64;

/// The transmit buffer starts this large and grows when the session asks for more.
const TX_INITIAL: usize = 4096;
/// A batch is written out before the buffer grows past this.
const TX_BATCH_MAX: usize = 256 * 1024;

/// The connection: owns the socket and the session, and runs the protocol loop whenever
/// the application asks for the next event ([`Connection::next_event`],
/// [`Connection::wait_event`], or iterating). Nothing runs in the background: between
/// calls keepalive timers simply wait, so call it again well within the keep alive
/// interval (an event loop thread that does nothing else is the usual shape).
///
/// Commands can be given here directly (staged at once, written by the next loop call
/// or [`Connection::flush`], all together) or from other threads through a [`Client`].
///
/// **The loop.** Each turn runs the queued [`Client`] commands, fires the session's due
/// timers, then drains the session as its contract says (events until none, then
/// transmit until nothing, repeat); everything ready to send goes out in one `write_all`
/// from a reusable buffer. With nothing to report it waits, without busy polling, until
/// the socket is readable, a [`Client`] queues a command, or the session's next deadline
/// ([`mqtt_session::Session::poll_timeout`]) comes; received bytes are read straight into
/// the session's receive buffer. On Unix the wait is `poll(2)` on the socket and a
/// self-pipe the clients write to; elsewhere the socket read timeout (the session's
/// deadline) is capped at 20 ms while clients exist.
///
/// Opening a transport (TCP, then TLS) blocks the loop up to the connect timeout.
///
/// Dropping the connection closes the socket without DISCONNECT (the broker then
/// publishes the will): call [`Connection::disconnect`] first for a clean end.
pub struct Connection {
    session: HostSession,
    clock: Clock,
    options: Options,
    /// Index into `options.brokers` of the broker to try next.
    broker: usize,
    stream: Option<Stream>,
    tx: Vec<u8>,
    /// Bytes at the start of `tx` that QoS 0 publishes encoded there directly
    /// ([`mqtt_session::Session::publish_into`]) and no write has sent yet; the next
    /// transmit appends after them and writes them first.
    staged: usize,
    commands: Receiver<Command>,
    clients_gone: bool,
    waiter: Waiter,
    replies: HashMap<Token, SyncSender<Reply>>,
    events: VecDeque<Event>,
    /// `Stopped` was handed out and no connect followed: iteration ends.
    finished: bool,
    restored: usize,
    /// Where a temporary 5.0 redirect sends the next attempt.
    redirect: Option<Vec<BrokerUrl>>,
    /// Built once when a broker of the list uses TLS (shares rustls's resumption cache).
    tls_config: Option<Arc<rustls::ClientConfig>>,
    /// The broker completed one of our operations (CONNACK, PUBACK, PUBCOMP, SUBACK,
    /// UNSUBACK) and nothing was written since: what it sends next may wait for our ACK
    /// (see [`Stream::ack_now`]).
    ack_owed: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.session.state())
            .field("client_id", &self.options.client_id)
            .field("connected_socket", &self.stream.is_some())
            .field("queued_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// Why [`Client::new`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum NewError {
    /// The options make no valid session (bad client id, will, ...) or the store failed.
    Open(OpenError),
    /// The TLS configuration could not be built (a CA or key file, ...).
    Tls(TlsError),
    /// The wake-up pipe could not be created.
    Io(io::Error),
}

impl std::fmt::Display for NewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NewError::Open(e) => e.fmt(f),
            NewError::Tls(e) => write!(f, "TLS: {e}"),
            NewError::Io(e) => write!(f, "cannot create the wake-up pipe: {e}"),
        }
    }
}

impl std::error::Error for NewError {}

impl Client {
    /// Builds the session for `options` and starts connecting: the first call on the
    /// returned [`Connection`] opens the transport. Returns a [`Client`] handle (clone it
    /// for other threads, or drop it if one thread does everything) and the connection.
    pub fn new(options: Options) -> Result<(Client, Connection), NewError> {
        let tls_config = if options.brokers.iter().any(|b| b.scheme.is_tls()) {
            Some(options.tls.client_config().map_err(NewError::Tls)?)
        } else {
            None
        };
        let (session, restored) = open_session(&options).map_err(NewError::Open)?;
        let (tx, commands) = sync_channel(COMMAND_QUEUE);
        let (waker, waiter) = wake::pair().map_err(NewError::Io)?;
        let clock = Clock::with_epoch(StdInstant::now());
        let mut conn = Connection {
            session,
            clock,
            options,
            broker: 0,
            stream: None,
            tx: vec![0; TX_INITIAL],
            staged: 0,
            commands,
            clients_gone: false,
            waiter,
            replies: HashMap::new(),
            events: VecDeque::new(),
            finished: false,
            restored,
            redirect: None,
            tls_config,
            ack_owed: false,
        };
        let now = conn.now();
        conn.session.connect(now);
        Ok((
            Client {
                tx: Some(tx),
                waker,
            },
            conn,
        ))
    }
}

impl Connection {
    fn now(&self) -> mqtt_session::Instant {
        self.clock.at(StdInstant::now())
    }

    // ----- getters ---------------------------------------------------------------------

    /// The connection state.
    pub fn state(&self) -> ConnState {
        self.session.state()
    }

    /// The session, read-only (outstanding operations, subscriptions, store).
    pub fn session(&self) -> &HostSession {
        &self.session
    }

    /// How many unfinished operations the store gave back at start (file store).
    pub fn restored(&self) -> usize {
        self.restored
    }

    /// The options the connection was built with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    // ----- the loop --------------------------------------------------------------------

    /// Runs the loop until an event is ready or `timeout` passes (`None`).
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        self.step(Some(StdInstant::now() + timeout))
    }

    /// Runs the loop until an event is ready. `None` only when nothing can happen any
    /// more: the session is stopped and idle and every [`Client`] was dropped.
    pub fn wait_event(&mut self) -> Option<Event> {
        self.step(None)
    }

    fn step(&mut self, until: Option<StdInstant>) -> Option<Event> {
        loop {
            if let Some(ev) = self.take_event() {
                return Some(ev);
            }
            self.run_commands();
            let now = self.now();
            self.session.handle_timeout(now);
            self.drain();
            if let Some(ev) = self.take_event() {
                return Some(ev);
            }
            let deadline = self.session.poll_timeout().map(|t| self.clock.to_std(t));
            let deadline = match (deadline, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if deadline.is_none()
                && self.stream.is_none()
                && self.clients_gone
                && self.session.state() == ConnState::Idle
            {
                return None;
            }
            if until.is_some_and(|u| StdInstant::now() >= u) {
                return None;
            }
            if self.stream.is_some() {
                // A packet larger than the buffer so far: make room (up to the maximum).
                mqtt_transport::grow_rx(&mut self.session, self.options.max_incoming_packet);
            }
            if let Some(stream) = self.stream.as_mut() {
                let buf = self.session.read_buffer();
                if let Some(r) = stream.read_buffered(buf) {
                    self.after_read(r);
                    continue;
                }
            }
            // The broker completed an operation of ours and we answered nothing: ACK now
            // rather than after the kernel's delayed-ACK timer. A broker whose sockets keep
            // Nagle's algorithm (mosquitto by default) holds the packet right behind (a
            // PUBACK then the PUBLISH to our own subscription) until that ACK: up to 40 ms.
            if std::mem::take(&mut self.ack_owed)
                && let Some(stream) = &self.stream
            {
                stream.ack_now();
            }
            let socket = self.stream.as_ref().map(Stream::socket);
            match self.waiter.wait(socket, deadline, !self.clients_gone) {
                Ok(Ready::Readable) => self.read(),
                Ok(Ready::Woken) => {}
                // A deadline (keepalive, ...) with nothing read: give back a receive
                // buffer a burst grew.
                Ok(Ready::Timeout) => {
                    mqtt_transport::shrink_rx(&mut self.session);
                }
                Err(e) => {
                    warn!(error = %e, "waiting for the socket failed");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    fn take_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front()?;
        if matches!(ev, Event::Stopped { .. }) && self.session.state() == ConnState::Idle {
            self.finished = true;
        }
        Some(ev)
    }

    /// Reads what the socket has into the session's receive buffer.
    fn read(&mut self) {
        if self.stream.is_none() {
            return;
        }
        mqtt_transport::grow_rx(&mut self.session, self.options.max_incoming_packet);
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let buf = self.session.read_buffer();
        if buf.is_empty() {
            return;
        }
        let r = stream.read(buf);
        self.after_read(r);
    }

    fn after_read(&mut self, r: io::Result<usize>) {
        match r {
            Ok(0) => {
                debug!("the broker closed the connection");
                self.transport_down();
            }
            Ok(n) => {
                trace!(bytes = n, "read");
                let now = self.now();
                self.session.handle_read(now, n);
                // A full read: more is waiting, read more at a time.
                mqtt_transport::rx_after_read(&mut self.session);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                debug!(error = %e, "read failed");
                self.transport_down();
            }
        }
    }

    fn transport_down(&mut self) {
        self.stream = None;
        // QoS 0 bytes not yet written go with the connection ("at most once").
        self.staged = 0;
        let now = self.now();
        self.session.handle_transport_down(now);
    }

    /// Drains the session: events (acting on adapter requests at once, in order), then
    /// transmit, repeated while either produced something.
    fn drain(&mut self) {
        loop {
            let mut progress = false;
            loop {
                enum Action {
                    Open,
                    Close,
                    Deliver(Event),
                    Redirect(Vec<BrokerUrl>, bool),
                }
                let action = match self.session.poll_event() {
                    None => break,
                    Some(SessionEvent::OpenTransport) => Action::Open,
                    Some(SessionEvent::CloseTransport) => Action::Close,
                    Some(SessionEvent::Redirect {
                        server_reference,
                        permanent,
                    }) => {
                        let brokers = &self.options.brokers;
                        let current = brokers.get(self.broker % brokers.len().max(1));
                        match current
                            .map(|c| BrokerUrl::parse_server_reference(server_reference, c))
                        {
                            Some(Ok(to)) => Action::Redirect(to, permanent),
                            _ => {
                                debug!("unusable Server Reference in a redirect");
                                continue;
                            }
                        }
                    }
                    Some(ev) => match convert(ev, &self.clock) {
                        Some(ev) => Action::Deliver(ev),
                        None => continue,
                    },
                };
                progress = true;
                match action {
                    Action::Open => self.open_transport(),
                    Action::Close => {
                        self.transmit();
                        if let Some(s) = self.stream.take() {
                            debug!("closing the transport");
                            s.close();
                        }
                    }
                    Action::Deliver(ev) => self.deliver(ev),
                    Action::Redirect(to, permanent) => {
                        if self.options.follow_redirects {
                            debug!(permanent, "following the broker's redirect");
                            if permanent {
                                self.options.brokers = to.clone();
                                self.broker = 0;
                            } else {
                                self.redirect = Some(to.clone());
                            }
                        }
                        self.deliver(Event::Redirected { to, permanent });
                    }
                }
            }
            progress |= self.transmit();
            if !progress {
                break;
            }
        }
    }

    /// The staged QoS 0 publishes and everything `poll_transmit` has ready after them, in
    /// one `write_all` (more only past [`TX_BATCH_MAX`]). Returns whether the session
    /// produced anything.
    fn transmit(&mut self) -> bool {
        let now = self.now();
        let mut len = std::mem::take(&mut self.staged);
        let mut any = false;
        loop {
            let room = self.tx.get_mut(len..).unwrap_or_default();
            let room_len = room.len();
            match self.session.poll_transmit(now, room) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    any = true;
                }
                Err(required) if required <= room_len => {
                    warn!(required, "poll_transmit asked for room it has");
                    break;
                }
                Err(required) => {
                    if len > 0 && len + required > TX_BATCH_MAX {
                        self.write(len);
                        len = 0;
                    }
                    if self.tx.len() < len + required {
                        trace!(size = len + required, "transmit buffer grows");
                        self.tx.resize(len + required, 0);
                    }
                }
            }
        }
        if len > 0 {
            self.write(len);
        }
        any
    }

    fn write(&mut self, len: usize) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let bytes = self.tx.get(..len).unwrap_or_default();
        // Our ACK rides on this write.
        self.ack_owed = false;
        match stream.write_all(bytes) {
            Ok(()) => trace!(bytes = len, "wrote"),
            Err(e) => {
                debug!(error = %e, "write failed");
                self.transport_down();
            }
        }
    }

    fn open_transport(&mut self) {
        if let Some(s) = self.stream.take() {
            s.close();
        }
        // A temporary redirect (0x9C) applies to the next attempt only.
        let redirect = self.redirect.take();
        let url = match &redirect {
            Some(list) => list.first(),
            None => self.current_broker(),
        };
        let Some(url) = url.cloned() else {
            warn!("no broker to connect to");
            let now = self.now();
            self.session.handle_transport_down(now);
            return;
        };
        let span = tracing::debug_span!("open", broker = %url);
        let _g = span.enter();
        match Stream::open(
            &url,
            self.options.tcp_nodelay,
            &self.options.tls,
            self.tls_config.as_ref(),
            self.options.connect_timeout,
            self.options.connect_timeout + self.options.ping_timeout,
        ) {
            Ok(s) => {
                debug!("transport open");
                self.stream = Some(s);
                let now = self.now();
                self.session.handle_transport_up(now);
            }
            Err(e) => {
                debug!(error = %e, "transport failed to open");
                self.next_broker();
                let now = self.now();
                self.session.handle_transport_down(now);
            }
        }
    }

    fn current_broker(&self) -> Option<&BrokerUrl> {
        self.options
            .brokers
            .get(self.broker % self.options.brokers.len().max(1))
    }

    fn next_broker(&mut self) {
        self.broker = (self.broker + 1) % self.options.brokers.len().max(1);
    }

    /// Completes the matching [`crate::Request`], then queues the event.
    fn deliver(&mut self, ev: Event) {
        if matches!(
            ev,
            Event::Connected { .. }
                | Event::Published { .. }
                | Event::Subscribed { .. }
                | Event::Unsubscribed { .. }
        ) {
            self.ack_owed = true;
        }
        let done = match &ev {
            Event::Published { token, reason_code } => Some((
                *token,
                Ok(Completion::Published {
                    token: *token,
                    reason_code: *reason_code,
                }),
            )),
            Event::Subscribed {
                token,
                reason_codes,
            } => Some((
                *token,
                Ok(Completion::Subscribed {
                    token: *token,
                    reason_codes: reason_codes.clone(),
                }),
            )),
            Event::Unsubscribed {
                token,
                reason_codes,
            } => Some((
                *token,
                Ok(Completion::Unsubscribed {
                    token: *token,
                    reason_codes: reason_codes.clone(),
                }),
            )),
            Event::Lost { token, reason } => Some((*token, Err(*reason))),
            Event::Connected { .. } => {
                self.finished = false;
                None
            }
            Event::ConnectionLost {
                reason: ConnectionError::ConnectTimeout | ConnectionError::Refused(_),
            } => {
                // Try the next broker of the list.
                self.next_broker();
                None
            }
            _ => None,
        };
        if let Some((token, result)) = done
            && let Some(reply) = self.replies.remove(&token)
        {
            let _ = reply.try_send(Reply::Done(result));
        }
        match &ev {
            Event::Message(m) => {
                trace!(topic = m.topic(), len = m.payload().len(), qos = ?m.qos, "message")
            }
            other => debug!(event = ?other, "event"),
        }
        self.events.push_back(ev);
    }

    // ----- commands from clients -------------------------------------------------------

    fn run_commands(&mut self) {
        for _ in 0..COMMAND_QUEUE {
            match self.commands.try_recv() {
                Ok(cmd) => self.run(cmd),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.clients_gone = true;
                    break;
                }
            }
        }
    }

    fn run(&mut self, cmd: Command) {
        let (result, reply) = match cmd {
            Command::Publish {
                topic,
                payload,
                qos,
                retain,
                reply,
            } => (self.publish(&topic, &payload, qos, retain), reply),
            Command::Subscribe { filters, reply } => {
                let result = mqtt_transport::subscriptions(&filters)
                    .and_then(|subs| self.subscribe_with(&subs, &[]));
                (result.map(Some), reply)
            }
            Command::Unsubscribe { filters, reply } => {
                let list: Vec<&str> = filters.iter().map(String::as_str).collect();
                (self.unsubscribe_with(&list, &[]).map(Some), reply)
            }
            Command::Ack { token, reply } => (self.ack(token).map(|()| None), reply),
            Command::Disconnect => return self.disconnect(),
            Command::Reconnect => return self.reconnect(),
        };
        if let Ok(Some(token)) = result {
            self.replies.insert(token, reply.clone());
        }
        let _ = reply.try_send(Reply::Accepted(result));
    }

    // ----- commands --------------------------------------------------------------------
    //
    // Commands stage their packets and return at once, without a system call: the next
    // call that runs the loop (or `flush`) writes everything staged in one `write_all`,
    // so a burst of publishes costs one write, not one per message. (A QoS 0 burst past
    // 256 KiB staged is written by the publish that would pass it.)

    /// Writes what the commands staged (and handles what it leads to) now, without
    /// waiting for an event. The loop calls do this by themselves.
    pub fn flush(&mut self) {
        self.drain();
    }

    /// Publishes `payload` to `topic`. QoS 1/2 return the token that
    /// [`Event::Published`] or [`Event::Lost`] will carry; they queue while disconnected.
    /// QoS 0 returns `None` and fails with `NotConnected` while disconnected (unless
    /// `queue_qos0_offline`). The packet goes out at the next loop call or
    /// [`Connection::flush`]. While connected, a QoS 0 message is encoded straight into
    /// the transmit buffer (no copy kept in the session), so a QoS 0 burst is never
    /// `Full`: past 256 KiB staged, the publish writes what is staged first (blocking).
    /// QoS 1/2 take a place among the [`OUTBOX`](crate::OUTBOX) operations staged or in
    /// flight; `Err(Full)` clears as the loop runs.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<Token>, mqtt_session::Error> {
        self.publish_with(topic, payload, qos, retain, &[])
    }

    /// [`Connection::publish`] with 5.0 properties (response topic, user properties, ...).
    pub fn publish_with(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
    ) -> Result<Option<Token>, mqtt_session::Error> {
        let now = self.now();
        if qos != QoS::AtMostOnce || self.stream.is_none() {
            return self
                .session
                .publish(now, topic, payload, qos, retain, properties);
        }
        // Room for the packet: topic and payload, the fixed header (5), topic length (2),
        // a 5.0 property length and Topic Alias (4), and slack. One with more properties
        // may not fit; the session then queues it as `publish` does, sent in order.
        let want = topic.len() + payload.len() + 16;
        if self.staged > 0 && self.staged + want > TX_BATCH_MAX {
            self.transmit();
        }
        if self.tx.len() < self.staged + want {
            self.tx.resize(self.staged + want, 0);
        }
        let out = self.tx.get_mut(self.staged..).unwrap_or_default();
        let (token, n) = self
            .session
            .publish_into(now, topic, payload, qos, retain, properties, out)?;
        self.staged += n;
        Ok(token)
    }

    /// Subscribes to one filter at `qos`; [`Event::Subscribed`] carries the result.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<Token, mqtt_session::Error> {
        self.subscribe_with(
            &[Subscription {
                filter: mqtt_session::topic_filter(filter)?,
                options: SubscriptionOptions::new(qos),
            }],
            &[],
        )
    }

    /// Subscribes to several filters with their options, and 5.0 properties.
    pub fn subscribe_with(
        &mut self,
        filters: &[Subscription<'_>],
        properties: &[Property<'_>],
    ) -> Result<Token, mqtt_session::Error> {
        let now = self.now();
        self.session.subscribe(now, filters, properties)
    }

    /// Unsubscribes from `filters`; [`Event::Unsubscribed`] carries the result.
    pub fn unsubscribe(&mut self, filters: &[&str]) -> Result<Token, mqtt_session::Error> {
        self.unsubscribe_with(filters, &[])
    }

    /// [`Connection::unsubscribe`] with 5.0 properties.
    pub fn unsubscribe_with(
        &mut self,
        filters: &[&str],
        properties: &[Property<'_>],
    ) -> Result<Token, mqtt_session::Error> {
        let filters = mqtt_transport::topic_filters(filters.iter().copied())?;
        let now = self.now();
        self.session.unsubscribe(now, &filters, properties)
    }

    /// Manual-ack mode: acknowledges the message delivered with `token`.
    pub fn ack(&mut self, token: Token) -> Result<(), mqtt_session::Error> {
        self.session.ack(token)
    }

    /// 5.0 enhanced authentication: answers the broker's [`Event::Auth`] challenge.
    pub fn auth(&mut self, data: &Secret) -> Result<(), mqtt_session::Error> {
        let now = self.now();
        self.session.auth(now, data.expose())
    }

    /// Disconnects cleanly: DISCONNECT is written and the socket closed before this
    /// returns (when connected), so the broker drops the will. No more reconnects;
    /// `ConnectionLost { ClientDisconnect }` and `Stopped` follow as events. Unfinished
    /// QoS 1/2 work stays in the session and resumes after [`Connection::reconnect`] if
    /// the broker keeps the session.
    pub fn disconnect(&mut self) {
        let now = self.now();
        self.session.disconnect(now);
        self.drain();
    }

    /// Connects again after `Stopped` (or at once if a reconnect is scheduled).
    pub fn reconnect(&mut self) {
        self.finished = false;
        let now = self.now();
        self.session.connect(now);
        self.drain();
    }

    /// **Fault injection, for tests**: closes the socket at once without DISCONNECT, as
    /// if the network had failed, so the broker publishes the will. The session sees the
    /// transport go down and reconnects per its policy.
    pub fn abort(&mut self) {
        if let Some(s) = self.stream.take() {
            debug!("aborting the transport (fault injection)");
            s.abort();
        }
        let now = self.now();
        self.session.handle_transport_down(now);
        self.drain();
    }
}

/// Iterating yields events as [`Connection::wait_event`] does, and ends once `Stopped`
/// was yielded with the session still idle (after [`Connection::disconnect`] or a fatal
/// refusal); [`Connection::reconnect`] makes it go on.
impl Iterator for Connection {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.finished && self.session.state() == ConnState::Idle && self.events.is_empty() {
            return None;
        }
        self.wait_event()
    }
}

/// The owned event for a session event; `None` for the adapter's requests.
fn convert(ev: SessionEvent<'_>, clock: &Clock) -> Option<Event> {
    Some(match ev {
        SessionEvent::OpenTransport
        | SessionEvent::CloseTransport
        | SessionEvent::Redirect { .. } => return None,
        SessionEvent::Connected { session_present } => Event::Connected { session_present },
        SessionEvent::ConnectionLost { reason } => Event::ConnectionLost { reason },
        SessionEvent::ReconnectScheduled { at, attempt } => Event::ReconnectScheduled {
            at: clock.to_std(at),
            attempt,
        },
        SessionEvent::Stopped { reason } => Event::Stopped { reason },
        SessionEvent::Message(m) => Event::Message(Message::from_session(&m)),
        SessionEvent::Published { token, reason_code } => Event::Published { token, reason_code },
        SessionEvent::Subscribed {
            token,
            reason_codes,
        } => Event::Subscribed {
            token,
            reason_codes: reason_codes.iter().collect(),
        },
        SessionEvent::Unsubscribed {
            token,
            reason_codes,
        } => Event::Unsubscribed {
            token,
            reason_codes: reason_codes.iter().collect(),
        },
        SessionEvent::Auth { reason_code, data } => Event::Auth {
            reason_code,
            data: Secret::new(data.0),
        },
        SessionEvent::Lost { token, reason } => Event::Lost { token, reason },
    })
}

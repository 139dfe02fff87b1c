//! The async client: the session driven over an `embedded-io-async` transport.

use embedded_io_async::{Read, Write};
use mqtt_proto::{QoS, Subscription};
use mqtt_session::{ConnState, Event, Instant, Session, Store, Token};

use crate::connector::Connector;
use crate::drive::{Action, Either, next_action, select};
use crate::error::Error;
use crate::time::{Clock, Timer};

/// An MQTT client over an async transport `T`, opened by the connector `C`, timed by
/// the clock `K` (which is also the [`Timer`]).
///
/// The client is a thin loop around the sans-IO [`Session`]: [`Client::poll`] writes
/// what the session wants sent, reads what arrives, fires its deadlines, opens and
/// closes the transport when the session asks, and hands every application event to a
/// callback. Keepalive, reconnect backoff, resends and acknowledgements are the
/// session's, unchanged. Everything lives in memory the caller gave: the session (with
/// its store and receive buffer `B`) and a transmit buffer of `'t`.
///
/// `T::read` must be cancel-safe: the client races it against the timer and drops it
/// when a deadline comes first, so a dropped read must not lose bytes (true of
/// `embassy-net`'s `TcpSocket` and of the usual buffered UARTs).
///
/// ```
/// # fn main() {}
/// use mqtt_embedded::{AlwaysOpen, Client, Clock, Timer};
/// use mqtt_proto::{ProtocolVersion, QoS};
/// use mqtt_session::{ArenaStore, Config, Event, Instant, Session};
///
/// // A clock with its timer; in firmware, `EmbassyClock` or a SysTick counter.
/// struct Ticks;
/// impl Clock for Ticks {
///     fn now(&self) -> Instant { Instant::from_millis(0) }
/// }
/// impl Timer for Ticks {
///     async fn wait_until(&mut self, _deadline: Instant) {}
/// }
///
/// async fn run<T: embedded_io_async::Read + embedded_io_async::Write>(uart: T) {
///     let mut config = Config::new("sensor-1");
///     config.version = ProtocolVersion::V3_1_1;
///     let session: Session<ArenaStore<16, 1024>, [u8; 512], 4, 4> =
///         Session::new(&config, ArenaStore::new(), [0; 512]).unwrap();
///     let mut tx = [0u8; 512];
///     let mut client = Client::new(session, uart, AlwaysOpen, Ticks, &mut tx);
///     client.connect();
///     client.subscribe("sensor-1/cmd", QoS::AtLeastOnce).unwrap();
///     loop {
///         let mut got = false;
///         client
///             .poll(|ev| {
///                 if let Event::Message(m) = ev {
///                     got = m.payload == b"stop";
///                 }
///             })
///             .await
///             .unwrap();
///         if got {
///             client.disconnect();
///         }
///     }
/// }
/// ```
pub struct Client<'t, S, B, T, C, K, const OUT: usize, const IN: usize> {
    session: Session<S, B, OUT, IN>,
    transport: T,
    connector: C,
    clock: K,
    tx: &'t mut [u8],
    /// Bytes at the start of `tx` that `publish` wrote (QoS 0 while connected), to send
    /// before anything `poll_transmit` hands out; dropped with the connection.
    staged: usize,
    up: bool,
}

impl<'t, S, B, T, C, K, const OUT: usize, const IN: usize> Client<'t, S, B, T, C, K, OUT, IN>
where
    S: Store,
    B: AsRef<[u8]> + AsMut<[u8]>,
    T: Read + Write,
    C: Connector<T>,
    K: Clock + Timer,
{
    /// A client around `session`, not connected yet: [`Client::connect`] starts it.
    /// `tx` must hold the largest packet the session will send (CONNECT included);
    /// otherwise [`Client::poll`] reports [`Error::TxBufferTooSmall`].
    pub fn new(
        session: Session<S, B, OUT, IN>,
        transport: T,
        connector: C,
        clock: K,
        tx: &'t mut [u8],
    ) -> Self {
        Client {
            session,
            transport,
            connector,
            clock,
            tx,
            staged: 0,
            up: false,
        }
    }

    /// The session, for getters such as [`Session::state`].
    pub fn session(&self) -> &Session<S, B, OUT, IN> {
        &self.session
    }

    /// The session, for commands the helpers below do not cover (5.0 properties,
    /// `ack`, `auth`...); take `now` from [`Client::now`]. [`Client::poll`] sends what
    /// they queue.
    pub fn session_mut(&mut self) -> &mut Session<S, B, OUT, IN> {
        &mut self.session
    }

    /// The transport (e.g. to read its statistics).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Whether the transport is open.
    pub fn is_transport_up(&self) -> bool {
        self.up
    }

    /// Starts connecting (and reconnecting per the session's policy).
    pub fn connect(&mut self) {
        let now = self.clock.now();
        self.session.connect(now);
    }

    /// Disconnects cleanly once [`Client::poll`] has sent the DISCONNECT, then closes
    /// the transport; the session stops reconnecting.
    pub fn disconnect(&mut self) {
        let now = self.clock.now();
        self.session.disconnect(now);
    }

    /// Publishes without properties; see [`Session::publish`]. While connected, a QoS 0
    /// message that can go at once is written straight into the transmit buffer
    /// ([`Session::publish_into`]) and sent by the next [`Client::poll`], before anything
    /// queued after it: a burst of QoS 0 takes no outbox slot and no store room, and fails
    /// with `Full` only when neither the buffer nor the outbox has room left.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<Token>, mqtt_session::Error> {
        let now = self.clock.now();
        if !self.up {
            return self.session.publish(now, topic, payload, qos, retain, &[]);
        }
        let room = self.tx.get_mut(self.staged..).unwrap_or_default();
        let (token, n) = self
            .session
            .publish_into(now, topic, payload, qos, retain, &[], room)?;
        self.staged += n;
        Ok(token)
    }

    /// Subscribes to one filter at `qos` with default options; see [`Session::subscribe`].
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<Token, mqtt_session::Error> {
        let now = self.clock.now();
        let sub = Subscription {
            filter: mqtt_session::topic_filter(filter)?,
            options: mqtt_proto::SubscriptionOptions::new(qos),
        };
        self.session.subscribe(now, &[sub], &[])
    }

    /// Unsubscribes from filters; see [`Session::unsubscribe`].
    /// The filters are checked where they are made ([`mqtt_proto::TopicFilter::new`]).
    pub fn unsubscribe(
        &mut self,
        filters: &[mqtt_proto::TopicFilter<'_>],
    ) -> Result<Token, mqtt_session::Error> {
        let now = self.clock.now();
        self.session.unsubscribe(now, filters, &[])
    }

    /// One turn of the loop: sends what is queued, then waits for bytes from the
    /// transport or the session's next deadline, whichever comes first, feeds it to the
    /// session and sends what that produced. Every application event (everything but
    /// the transport requests, which the client carries out) goes to `on_event`, which
    /// may not call back into the client: note what to do and do it after `poll`.
    ///
    /// Returns at once when the session is idle (stopped, or never connected) and has
    /// no transport and no deadline: there is nothing to wait for.
    ///
    /// Cancelling `poll` while it waits is safe if `T::read` is; cancelling it while it
    /// writes may cut a packet in half.
    pub async fn poll<F: FnMut(Event<'_>)>(&mut self, mut on_event: F) -> Result<(), Error> {
        self.drive(&mut on_event).await?;
        let deadline = self.session.poll_timeout();
        if let Some(at) = deadline {
            let now = self.clock.now();
            if at <= now {
                self.session.handle_timeout(now);
                return self.drive(&mut on_event).await;
            }
        }
        let clock = &mut self.clock;
        let timer = async {
            match deadline {
                Some(at) => clock.wait_until(at).await,
                None => core::future::pending().await,
            }
        };
        let buf = self.session.read_buffer();
        let woke = if self.up && !buf.is_empty() {
            select(self.transport.read(buf), timer).await
        } else if deadline.is_some() {
            timer.await;
            Either::Second(())
        } else {
            return Ok(());
        };
        let now = self.clock.now();
        match woke {
            Either::First(Ok(0)) => {
                debug!("mqtt: transport closed by the peer");
                self.transport_down(now).await;
            }
            Either::First(Ok(n)) => self.session.handle_read(now, n),
            Either::First(Err(e)) => {
                warn!("mqtt: read failed: {}", embedded_io::Error::kind(&e));
                let _ = e;
                self.transport_down(now).await;
            }
            Either::Second(()) => self.session.handle_timeout(now),
        }
        self.drive(&mut on_event).await
    }

    /// Drains the session until it has nothing more: events to `on_event`, transport
    /// requests carried out, bytes written and flushed.
    async fn drive<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) -> Result<(), Error> {
        loop {
            let mut progress = false;
            loop {
                match next_action(&mut self.session, on_event) {
                    Action::Idle => break,
                    Action::Open => {
                        progress = true;
                        self.open().await;
                    }
                    Action::Close => {
                        progress = true;
                        self.close().await;
                    }
                }
            }
            let mut wrote = false;
            loop {
                // QoS 0 messages `publish` wrote into `tx` go first: they were published
                // before anything the session queued since.
                let n = if self.staged > 0 {
                    core::mem::take(&mut self.staged)
                } else {
                    let now = self.clock.now();
                    match self.session.poll_transmit(now, self.tx) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(required) => return Err(Error::TxBufferTooSmall { required }),
                    }
                };
                progress = true;
                if !self.up {
                    continue;
                }
                let bytes = self.tx.get(..n).unwrap_or_default();
                if let Err(e) = self.transport.write_all(bytes).await {
                    warn!("mqtt: write failed: {}", embedded_io::Error::kind(&e));
                    self.transport_down(self.clock.now()).await;
                } else {
                    wrote = true;
                }
            }
            if wrote
                && self.up
                && let Err(e) = self.transport.flush().await
            {
                warn!("mqtt: flush failed: {}", embedded_io::Error::kind(&e));
                self.transport_down(self.clock.now()).await;
            }
            if !progress {
                return Ok(());
            }
        }
    }

    /// Opens the transport, racing the connector against the session's connect timeout.
    async fn open(&mut self) {
        if self.up {
            self.connector.close(&mut self.transport).await;
            self.up = false;
            self.staged = 0;
        }
        debug!("mqtt: opening the transport");
        // Race the connector against the session's deadline (its connect timeout); if
        // some other deadline fired and the session still waits for a transport, retry.
        while self.session.state() == ConnState::Opening {
            let deadline = self.session.poll_timeout();
            let clock = &mut self.clock;
            let timer = async {
                match deadline {
                    Some(at) => clock.wait_until(at).await,
                    None => core::future::pending().await,
                }
            };
            let result = select(self.connector.connect(&mut self.transport), timer).await;
            let now = self.clock.now();
            match result {
                Either::First(Ok(())) => {
                    self.up = true;
                    self.session.handle_transport_up(now);
                }
                Either::First(Err(e)) => {
                    #[cfg(feature = "defmt")]
                    defmt::warn!("mqtt: connecting failed: {}", defmt::Debug2Format(&e));
                    let _ = e;
                    self.session.handle_transport_down(now);
                }
                Either::Second(()) => {
                    debug!("mqtt: deadline while connecting");
                    self.session.handle_timeout(now);
                }
            }
        }
    }

    /// Closes the transport the session no longer wants.
    async fn close(&mut self) {
        if self.up {
            debug!("mqtt: closing the transport");
            self.up = false;
            self.staged = 0;
            self.connector.close(&mut self.transport).await;
        }
    }

    /// The transport failed: close it and tell the session.
    async fn transport_down(&mut self, now: Instant) {
        if self.up {
            self.up = false;
            self.staged = 0;
            self.connector.close(&mut self.transport).await;
        }
        self.session.handle_transport_down(now);
    }

    /// Takes the parts back.
    pub fn into_parts(self) -> (Session<S, B, OUT, IN>, T, C, K) {
        (self.session, self.transport, self.connector, self.clock)
    }
}

impl<S, B, T, C, K, const OUT: usize, const IN: usize> core::fmt::Debug
    for Client<'_, S, B, T, C, K, OUT, IN>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.session)
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

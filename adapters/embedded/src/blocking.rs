//! The blocking client: the session driven over an `embedded-io` transport, for
//! firmware without an executor (a super-loop, or an RTOS thread).
//!
//! # What the transport must offer
//! A blocking `read` would stall keepalive and every other deadline, so the client never
//! calls `read` unless the transport says bytes are there: the transport implements
//! [`embedded_io::ReadReady`] (`read_ready()` true means the next `read` returns at
//! least one byte without blocking), as well as [`embedded_io::Read`] and
//! [`embedded_io::Write`]. `write` may block until the bytes are accepted (a UART's
//! FIFO, a socket's send buffer). A UART implements `read_ready` by reading its RX-full
//! flag; a socket by checking its receive queue.
//!
//! [`BlockingClient::poll`] then never waits for input: it does what is ready and
//! returns the next deadline, so the caller may sleep (WFI) until that deadline or the
//! next receive interrupt, and call `poll` again.

use embedded_io::{Read, ReadReady, Write};
use mqtt_proto::{QoS, Subscription};
use mqtt_session::{ConnState, Event, Instant, Session, Store, Token};

use crate::connector::BlockingConnector;
use crate::drive::{Action, next_action};
use crate::error::Error;
use crate::time::Clock;

/// An MQTT client over a blocking transport `T` (see the [module doc](self) for what `T`
/// must offer), opened by the connector `C`, timed by the clock `K`.
///
/// ```
/// use mqtt_embedded::{AlwaysOpen, BlockingClient, Clock};
/// use mqtt_proto::{ProtocolVersion, QoS};
/// use mqtt_session::{ArenaStore, Config, Instant, Session};
///
/// struct Ticks;
/// impl Clock for Ticks {
///     fn now(&self) -> Instant { Instant::from_millis(0) }
/// }
///
/// fn run<T>(uart: T)
/// where
///     T: embedded_io::Read + embedded_io::Write + embedded_io::ReadReady,
/// {
///     let mut config = Config::new("sensor-1");
///     config.version = ProtocolVersion::V3_1_1;
///     let session: Session<ArenaStore<16, 1024>, [u8; 512], 4, 4> =
///         Session::new(&config, ArenaStore::new(), [0; 512]).unwrap();
///     let mut tx = [0u8; 512];
///     let mut client = BlockingClient::new(session, uart, AlwaysOpen, Ticks, &mut tx);
///     client.connect();
///     client.publish("sensor-1/boot", b"up", QoS::AtLeastOnce, false).unwrap();
///     loop {
///         let _next_deadline = client.poll(|_event| {}).unwrap();
///         // sleep until the deadline or the next receive interrupt
///     }
/// }
/// # fn main() {}
/// ```
pub struct BlockingClient<'t, S, B, T, C, K, const OUT: usize, const IN: usize> {
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

impl<'t, S, B, T, C, K, const OUT: usize, const IN: usize>
    BlockingClient<'t, S, B, T, C, K, OUT, IN>
where
    S: Store,
    B: AsRef<[u8]> + AsMut<[u8]>,
    T: Read + Write + ReadReady,
    C: BlockingConnector<T>,
    K: Clock,
{
    /// A client around `session`, not connected yet: [`BlockingClient::connect`] starts
    /// it. `tx` must hold the largest packet the session will send.
    pub fn new(
        session: Session<S, B, OUT, IN>,
        transport: T,
        connector: C,
        clock: K,
        tx: &'t mut [u8],
    ) -> Self {
        BlockingClient {
            session,
            transport,
            connector,
            clock,
            tx,
            staged: 0,
            up: false,
        }
    }

    /// The session, for getters.
    pub fn session(&self) -> &Session<S, B, OUT, IN> {
        &self.session
    }

    /// The session, for commands the helpers do not cover; take `now` from
    /// [`BlockingClient::now`].
    pub fn session_mut(&mut self) -> &mut Session<S, B, OUT, IN> {
        &mut self.session
    }

    /// The transport.
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

    /// Disconnects cleanly once [`BlockingClient::poll`] has sent the DISCONNECT.
    pub fn disconnect(&mut self) {
        let now = self.clock.now();
        self.session.disconnect(now);
    }

    /// Publishes without properties; see [`Session::publish`]. While connected, a QoS 0
    /// message that can go at once is written straight into the transmit buffer
    /// ([`Session::publish_into`]) and sent by the next [`BlockingClient::poll`], before anything
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

    /// Subscribes to one filter at `qos` with default options.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<Token, mqtt_session::Error> {
        let now = self.clock.now();
        let sub = Subscription {
            filter: mqtt_session::topic_filter(filter)?,
            options: mqtt_proto::SubscriptionOptions::new(qos),
        };
        self.session.subscribe(now, &[sub], &[])
    }

    /// Unsubscribes from filters.
    /// The filters are checked where they are made ([`mqtt_proto::TopicFilter::new`]).
    pub fn unsubscribe(
        &mut self,
        filters: &[mqtt_proto::TopicFilter<'_>],
    ) -> Result<Token, mqtt_session::Error> {
        let now = self.clock.now();
        self.session.unsubscribe(now, filters, &[])
    }

    /// One turn of the loop, never waiting for input: sends what is queued, fires the
    /// deadlines that have come, reads what the transport has ready, sends what that
    /// produced, and hands every application event to `on_event` (which may not call
    /// back into the client). Returns the session's next deadline: call `poll` again by
    /// then, or as soon as bytes arrive.
    pub fn poll<F: FnMut(Event<'_>)>(&mut self, mut on_event: F) -> Result<Option<Instant>, Error> {
        self.drive(&mut on_event)?;
        if let Some(at) = self.session.poll_timeout() {
            let now = self.clock.now();
            if at <= now {
                self.session.handle_timeout(now);
                self.drive(&mut on_event)?;
            }
        }
        while self.up {
            match self.transport.read_ready() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    warn!("mqtt: read_ready failed: {}", embedded_io::Error::kind(&e));
                    self.transport_down();
                    break;
                }
            }
            let buf = self.session.read_buffer();
            if buf.is_empty() {
                break;
            }
            match self.transport.read(buf) {
                Ok(0) => {
                    debug!("mqtt: transport closed by the peer");
                    self.transport_down();
                }
                Ok(n) => {
                    let now = self.clock.now();
                    self.session.handle_read(now, n);
                    self.drive(&mut on_event)?;
                }
                Err(e) => {
                    warn!("mqtt: read failed: {}", embedded_io::Error::kind(&e));
                    self.transport_down();
                }
            }
        }
        Ok(self.session.poll_timeout())
    }

    fn drive<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) -> Result<(), Error> {
        loop {
            let mut progress = false;
            loop {
                match next_action(&mut self.session, on_event) {
                    Action::Idle => break,
                    Action::Open => {
                        progress = true;
                        self.open();
                    }
                    Action::Close => {
                        progress = true;
                        if self.up {
                            debug!("mqtt: closing the transport");
                            self.up = false;
                            self.staged = 0;
                            self.connector.close(&mut self.transport);
                        }
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
                if let Err(e) = self.transport.write_all(bytes) {
                    warn!("mqtt: write failed: {}", embedded_io::Error::kind(&e));
                    self.transport_down();
                } else {
                    wrote = true;
                }
            }
            if wrote
                && self.up
                && let Err(e) = self.transport.flush()
            {
                warn!("mqtt: flush failed: {}", embedded_io::Error::kind(&e));
                self.transport_down();
            }
            if !progress {
                return Ok(());
            }
        }
    }

    fn open(&mut self) {
        if self.up {
            self.connector.close(&mut self.transport);
            self.up = false;
            self.staged = 0;
        }
        debug!("mqtt: opening the transport");
        if self.session.state() != ConnState::Opening {
            return;
        }
        let result = self.connector.connect(&mut self.transport);
        let now = self.clock.now();
        match result {
            Ok(()) => {
                self.up = true;
                self.session.handle_transport_up(now);
            }
            Err(e) => {
                #[cfg(feature = "defmt")]
                defmt::warn!("mqtt: connecting failed: {}", defmt::Debug2Format(&e));
                let _ = e;
                self.session.handle_transport_down(now);
            }
        }
    }

    fn transport_down(&mut self) {
        if self.up {
            self.up = false;
            self.staged = 0;
            self.connector.close(&mut self.transport);
        }
        let now = self.clock.now();
        self.session.handle_transport_down(now);
    }

    /// Takes the parts back.
    pub fn into_parts(self) -> (Session<S, B, OUT, IN>, T, C, K) {
        (self.session, self.transport, self.connector, self.clock)
    }
}

impl<S, B, T, C, K, const OUT: usize, const IN: usize> core::fmt::Debug
    for BlockingClient<'_, S, B, T, C, K, OUT, IN>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockingClient")
            .field("session", &self.session)
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

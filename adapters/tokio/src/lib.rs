//! An async MQTT 3.1.1 / 5.0 client for tokio: the sans-IO session driven by one task per
//! connection.
//!
//! - [`connect`] spawns the driver task and returns a [`Client`] (cloneable, `Send`) and
//!   the [`Events`] stream (connection changes and messages, through a bounded queue).
//! - The driver owns the socket (TCP, TLS with rustls, WebSocket), the session and the
//!   timer; it never runs application code. Reconnecting, keepalive, resending and flow
//!   control are the session's; the driver opens the transport when the session asks.
//! - [`Client::publish`] resolves when the broker acknowledged (PUBACK / PUBCOMP);
//!   [`Client::subscribe`] with the SUBACK's codes. Every future is cancel-safe (see each).
//!   [`Client::try_publish`] queues without waiting, for synchronous code: a full command
//!   queue is [`Error::Full`], with nothing queued.
//! - A slow application is pushed back on, never buffered without bound: when the event
//!   queue ([`Capacity`]`::events`) is full the driver stops reading the socket.
//! - No channel hop per message: a publish copies its topic (and a payload up to 512 bytes)
//!   into a bounded command queue under a short lock, and its future is answered through
//!   the same shared state (a QoS 0 one by a counter, a QoS 1/2 one by a reused slot), so
//!   the steady state allocates nothing per message. The driver is woken only when it
//!   waits for commands, takes the whole queue at once, and writes everything the session
//!   has ready in one call ([`Client::io_stats`] counts them).
//!
//! Memory per idle connection, measured with `mqttc bench --idle 10000` against mosquitto:
//! about 3.8 KB resident (rumqttc 0.25: 30.6 KB; 5.4 KB with a tokio `mpsc` channel for
//! the events and a `select!` over futures in the driver's task; 11.1 KB while each
//! connection attempt's future held the TLS and WebSocket handshakes inline, 9.6 KB freed
//! after the connect but left as holes in the heap); the live heap, counted by
//! `examples/idle_heap.rs`, is 3.3 KB. Of that: the driver with the session's protocol
//! state 1.35 KB (the state few connections use, boxed apart when they do), the task
//! 384 B (tokio allocates tasks in steps of 128 bytes: the driver's future, 232 bytes,
//! must stay under about 280 to keep it there), the state shared with the handles
//! (command queue, event queue, counters) 456 B, the receive buffer 256 B (doubled while
//! reads fill it, up to 16 KiB, and for a larger packet up to
//! `Options::max_incoming_packet`; back to 256 B at an idle keepalive), the socket's
//! registration 256 B, each event not yet read 128 B (the queue holds no memory while
//! empty: a tokio channel took 800 B before any event). The write buffer and the
//! queues' buffers exist only while a burst is under way (given back at the next idle
//! keepalive), the channel of [`AckHandle`]s only in manual-ack mode.
//!
//! ```no_run
//! use mqtt_tokio::{Event, Options, QoS};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = Options::new("mqtt://127.0.0.1:1883", "sensor-7")?;
//! let (client, mut events) = mqtt_tokio::connect(options, Default::default())?;
//! client.subscribe("sensors/#", QoS::AtLeastOnce).await?;
//! client.publish("sensors/7/temp", "21.5", QoS::AtLeastOnce, false).await?;
//! while let Some(event) = events.recv().await {
//!     if let Event::Message { message, .. } = event {
//!         println!("{} {:?}", message.topic(), message.payload());
//!     }
//! }
//! # Ok(()) }
//! ```

mod client;
mod driver;
mod event;
mod event_queue;
mod queue;
mod transport;

use tracing::Instrument;

pub use client::{
    AckHandle, Client, Error, IntoPayload, IoStats, PayloadData, Pending, PublishAck,
    PublishProperties, State,
};
pub use event::Event;
pub use mqtt_proto::{QoS, ReasonCode, RetainHandling, SubscriptionOptions};
pub use mqtt_session::{ConnectionError, LossReason, ReconnectPolicy, StopReason};
pub use mqtt_transport::{
    BrokerUrl, Message, OUTBOX, Options, Roots, Secret, StoreOptions, TlsOptions, WillOptions,
};

/// Sizes of the queues between the application and the driver task.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    /// Events waiting for the application before the driver stops reading (default 256).
    pub events: usize,
    /// Commands waiting for the driver before `publish` waits (default 256; a bound, not
    /// an allocation: the queue grows as commands arrive, and gives the memory back when
    /// the connection is idle). The driver holds at most as many more: taken from the
    /// queue, not yet accepted by the session (whose in-flight table is full).
    pub commands: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            events: 256,
            commands: 256,
        }
    }
}

/// Why [`connect`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The options are invalid or the store cannot be opened.
    Open(mqtt_transport::OpenError),
    /// The TLS configuration is unusable (unreadable CA file, bad client key, ...).
    Tls(mqtt_transport::tls::TlsError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Open(e) => e.fmt(f),
            ConnectError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// The application's end of the event queue. Dropping it tells the driver, which then
/// stops delivering (and, once every [`Client`] is gone too, disconnects).
#[derive(Debug)]
pub struct Events {
    /// The events wait in the state shared with the driver and the [`Client`]s: a tokio
    /// channel cost 800 bytes per connection before any event (see `event_queue`).
    shared: std::sync::Arc<client::Shared>,
}

impl Events {
    /// The next event; `None` once the driver task has ended and every event queued
    /// before has been taken. Cancel-safe: an event is taken only when this completes.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.shared.events.poll_recv(cx)).await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.shared.events.try_recv()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.shared.events.receiver_gone();
    }
}

/// Starts a connection: builds the session (restoring unfinished work from a file store),
/// spawns its driver task on the current tokio runtime, and returns the handles. The task
/// ends after [`Client::disconnect`], or when every [`Client`] and the [`Events`] are
/// dropped (it then disconnects cleanly).
///
/// # Panics
/// Outside a tokio runtime (as `tokio::spawn` does).
pub fn connect(options: Options, capacity: Capacity) -> Result<(Client, Events), ConnectError> {
    let tls_config = if options.brokers.iter().any(|b| b.scheme.is_tls()) {
        Some(options.tls.client_config().map_err(ConnectError::Tls)?)
    } else {
        None
    };
    let (session, restored) = mqtt_transport::open_session(&options).map_err(ConnectError::Open)?;
    if restored > 0 {
        tracing::info!(restored, "unfinished operations restored from the store");
    }
    let shared = std::sync::Arc::new(client::Shared::new(capacity.commands, capacity.events));
    // Everything the driver logs carries the client id (the driver keeps no copy of it).
    let span = tracing::debug_span!("mqtt", client_id = %options.client_id);
    let driver = driver::Driver::new(session, options, tls_config, shared.clone());
    tokio::spawn(Box::new(driver).run().instrument(span));
    let events = Events {
        shared: shared.clone(),
    };
    Ok((Client { shared }, events))
}

//! A blocking MQTT 3.1.1 / 5.0 client: the sans-IO [`mqtt_session`] driven over
//! `std::net::TcpStream` (and rustls for `mqtts://`), for programs without an async
//! runtime.
//!
//! [`Client::new`] gives two halves:
//! - [`Connection`] owns the socket and the session. It does nothing in the background:
//!   the loop runs when the application asks for the next [`Event`]
//!   ([`Connection::next_event`] with a timeout, [`Connection::wait_event`], or a `for`
//!   loop over it). Its own methods ([`Connection::publish`], `subscribe`, ...) act at
//!   once and return the session's answer (the [`Token`] that the
//!   outcome event will carry): enough for a single-threaded program.
//! - [`Client`] is `Clone + Send + Sync`: other threads queue commands through a bounded
//!   channel ([`COMMAND_QUEUE`]) that wakes the connection's thread, and get a
//!   [`Request`] to block on ([`Request::wait`]) until the QoS handshake or the SUBACK
//!   completes, or to drop. Outcomes are also reported as events.
//!
//! The adapter holds no protocol logic: reconnecting (with backoff), keepalive and ping
//! timeouts, resending and session resumption are the session's. The adapter opens the
//! transport when the session asks (the next broker of the list after a failure), reads
//! into the session's receive buffer, writes everything the session has ready in one
//! `write_all`, and sleeps until the socket is readable, a command arrives, or the
//! session's next deadline. TCP_NODELAY is on by default ([`Options::tcp_nodelay`]).
//!
//! **Batching, measured** (`examples/burst.rs` under `strace -c`, loopback mosquitto):
//! 10,000 QoS 0 then 10,000 QoS 1 publishes, staged until the session's table (64) is
//! full and written by the loop, took 1,172 `sendto` calls in all, not 20,000.
//!
//! **Memory per connection**: the `Connection` value is about 3.5 KiB (the session's
//! state and tables included), plus heap buffers sized by configuration: the receive
//! buffer ([`Options::max_incoming_packet`], 64 KiB by default, the largest packet
//! accepted), a transmit buffer of 4 KiB that grows to the largest batch the session
//! produces, the in-memory store (bounded by [`mqtt_transport::StoreOptions`]) and, with
//! TLS, rustls's connection buffers.
//!
//! **Transports**: `mqtt://` (TCP) and `mqtts://` (TLS 1.2/1.3 with rustls, verified
//! by default, see [`TlsOptions`]). WebSocket URLs are refused at connect time: use the
//! tokio adapter for `ws://` / `wss://`. With TLS, plaintext is copied once out of
//! rustls's buffer into the session's; plain TCP reads straight into it.
//!
//! Logging goes to `tracing` at debug and trace level; payloads and credentials are
//! never logged (message events log topic and length only).
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use mqtt_blocking::{Client, Event, Options, QoS};
//!
//! let mut options = Options::new("mqtt://127.0.0.1:1883", "sensor-7").unwrap();
//! options.keep_alive = 30;
//! let (client, mut connection) = Client::new(options).unwrap();
//!
//! // Another thread publishes through the handle and waits for each PUBACK.
//! let publisher = std::thread::spawn(move || {
//!     for i in 0..3 {
//!         let mut request = client
//!             .publish("sensors/7/temp", format!("{}", 20 + i), QoS::AtLeastOnce, false)
//!             .unwrap();
//!         println!("{:?}", request.wait(Duration::from_secs(10)));
//!     }
//!     client.disconnect().unwrap();
//! });
//!
//! // This thread drives the connection until the disconnect has stopped it. (A plain
//! // `for event in &mut connection` works too, when the body needs no `connection`.)
//! while let Some(event) = connection.wait_event() {
//!     match event {
//!         Event::Connected { .. } => {
//!             connection.subscribe("sensors/+/temp", QoS::AtLeastOnce).unwrap();
//!         }
//!         Event::Message(m) => println!("{} = {:?}", m.topic(), m.payload()),
//!         Event::Stopped { .. } => break,
//!         other => println!("{other:?}"),
//!     }
//! }
//! publisher.join().unwrap();
//! ```

mod client;
mod connection;
mod event;
mod stream;
mod wake;

pub use client::{Client, ClientError, Completion, Request};
pub use connection::{COMMAND_QUEUE, Connection, NewError};
pub use event::Event;
pub use mqtt_proto::{QoS, ReasonCode, SubscriptionOptions};
pub use mqtt_session::{ConnState, ConnectionError, LossReason, StopReason, Token};
pub use mqtt_transport::{BrokerUrl, Message, OUTBOX, Options, Roots, TlsOptions, WillOptions};

//! The MQTT session on a microcontroller: `#![no_std]`, no allocation, no unsafe.
//!
//! [`Client`] drives the sans-IO [`mqtt_session::Session`] over any
//! [`embedded_io_async`] transport (a TCP socket of an embedded network stack, a UART to
//! a modem or straight to a broker bridge); [`BlockingClient`] does the same over a
//! blocking [`embedded_io`] transport for firmware without an executor. The caller gives
//! all the memory: the session (its const-generic tables, its [`mqtt_session::ArenaStore`]
//! and its receive buffer are sized at compile time) and a transmit buffer.
//!
//! The adapter adds only IO: it opens the transport through a caller's [`Connector`]
//! when the session asks ([`mqtt_session::Event::OpenTransport`]), writes what
//! `poll_transmit` gives, feeds what it reads, and fires the session's deadlines with a
//! [`Clock`] (and, async, a [`Timer`]). Keepalive, reconnect backoff with jitter,
//! resends and acknowledgements are the session's, unchanged.
//!
//! # Features
//! - `defmt`: logs through `defmt` (connection lifecycle, transport errors; never
//!   credentials or payloads) and `defmt::Format` on the session's types. Without it the
//!   logging macros compile to nothing.
//! - `embassy-time`: `EmbassyClock`, the clock and timer of `embassy-time`.
//!
//! # Protocol versions
//! Both 3.1.1 and 5.0 are always compiled in: the codec and the session consult the
//! version as a value (`Config::version`), so there is no cargo feature that leaves 5.0
//! out (see the README of this crate for the measured cost and what would enable one).
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[macro_use]
mod fmt;

mod asynch;
pub mod blocking;
mod connector;
mod drive;
mod error;
mod time;

pub use asynch::Client;
pub use blocking::BlockingClient;
pub use connector::{AlwaysOpen, BlockingConnector, Connector};
pub use error::Error;
#[cfg(feature = "embassy-time")]
pub use time::EmbassyClock;
pub use time::{Clock, Timer};

pub use mqtt_proto;
pub use mqtt_session;

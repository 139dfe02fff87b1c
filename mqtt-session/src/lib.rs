//! The MQTT client session as a pure, deterministic state machine.
//!
//! # The contract (sans-IO)
//! The session does no IO, reads no clock, draws no OS randomness, spawns nothing,
//! never calls user code, and allocates nothing unless the caller gives it heap storage
//! (feature `alloc`: a `VecStore`, `Heap` tables), which stays bounded by the same
//! limits as the fixed kind. **In**: bytes received (any chunking,
//! down to one byte), the current time as this crate's [`Instant`], transport up/down,
//! and commands. **Out**: bytes to transmit, [`Event`]s (including requests for the
//! adapter to open or close the transport), and the next deadline. The same inputs
//! give the same outputs: the reconnect jitter comes from a PRNG seeded in [`Config`].
//!
//! See [`Session`] for the four method families and the draining contract, and
//! `state.rs` for every transition with the rules at its head.
//!
//! # Where things live
//! - [`state`]: all transitions (connect, CONNACK, publish flows, faults, reconnect).
//! - `inflight`: the outbox (our operations) and inbox (server's QoS 1/2 messages).
//! - [`store`]: keyed packet records; the persistence hook.
//! - [`table`]: where the in-flight tables live (inline arrays, or heap rings).
//! - `timer`, [`reconnect`], [`time`], [`rng`]: deadlines, backoff, clock values, PRNG.
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

#[cfg(feature = "alloc")]
extern crate alloc;

mod config;
mod error;
mod event;
mod inflight;
pub mod reconnect;
pub mod rng;
mod session;
mod shift;
pub mod state;
pub mod store;
pub mod table;
pub mod time;
mod timer;

pub use config::{Config, Will};
pub use error::{Error, topic_filter, topic_name};
pub use event::{
    AuthData, ConnectionError, Event, LossReason, Message, PeerFault, StopReason, Token,
};
pub use reconnect::ReconnectPolicy;
pub use rng::{Rng, generate_client_id};
pub use session::Session;
pub use state::ConnState;
#[cfg(feature = "alloc")]
pub use store::VecStore;
pub use store::{ArenaStore, Key, Store, StoreFull};
#[cfg(feature = "alloc")]
pub use table::Heap;
pub use table::{Inline, Tables};
pub use time::{Duration, Instant};

//! Test support shared by the cross-crate tests: the broker model, the seeded link and
//! the deterministic simulation.
//!
//! - [`broker`]: an in-process sans-IO MQTT broker model (3.1.1 and 5.0) that also checks
//!   the client's protocol obligations.
//! - [`link`]: a seeded, faulty link between one client `Session` and the broker, on
//!   virtual time.
//! - [`sim`]: the per-seed simulation and its invariants (`tests/simulation.rs` runs it).
//! - [`mosquitto`]: a real mosquitto on a free loopback port, for the adapter tests.
//! - [`proxy`]: a TCP proxy a test can cut, for connection-loss tests.
//! - [`hostile`]: a scripted misbehaving broker for the hostile-peer suite.
//! - [`brokers`]: launchers for the interop matrix (mosquitto, rumqttd, aedes, amqtt).
//! - [`wire`]: owned packet summaries and a stream decoder used by all three.

pub mod broker;
pub mod brokers;
pub mod certs;
pub mod hostile;
pub mod link;
pub mod mosquitto;
pub mod proxy;
pub mod sim;
pub mod wire;

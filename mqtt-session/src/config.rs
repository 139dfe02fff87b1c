//! What the caller decides once: identity, will, credentials, timers, limits, policies.

use mqtt_proto::{Property, ProtocolVersion, QoS};

use crate::reconnect::ReconnectPolicy;
use crate::time::Duration;

/// A will message, published by the server when the connection ends abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Will<'a> {
    /// Topic name (no wildcards).
    pub topic: &'a str,
    /// Payload.
    pub payload: &'a [u8],
    /// QoS of the will.
    pub qos: QoS,
    /// Retain the will.
    pub retain: bool,
    /// 5.0 Will Delay Interval in seconds: the server waits this long (and for the
    /// session to end) before publishing, so a quick reconnect suppresses the will.
    pub delay_interval: u32,
    /// Further 5.0 will properties (message expiry, content type, user properties, ...).
    pub properties: &'a [Property<'a>],
}

/// Everything the session needs to connect and behave, with defaults from field practice.
///
/// The strings are copied into the session's store when the session is built, so
/// `Config` need not outlive it.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// Protocol version (default 5.0).
    pub version: ProtocolVersion,
    /// The client identifier. Persist it: a new one per start loses the broker's session
    /// (see [`crate::generate_client_id`]). Empty asks the server to assign one (5.0).
    pub client_id: &'a str,
    /// Keep alive in seconds (default 30; 0 turns keepalive and half-open detection off).
    pub keep_alive: u16,
    /// How long to wait for PINGRESP before declaring the connection dead (default 10 s;
    /// never longer than the keepalive interval, so no gap exceeds Keep Alive).
    pub ping_timeout: Duration,
    /// How long to wait for the transport and then CONNACK (default 10 s).
    pub connect_timeout: Duration,
    /// Clean Start on the first connection (default true). Reconnects resume the session
    /// when the server keeps one (`session_expiry_interval` > 0 in 5.0, `clean_start`
    /// false in 3.1.1).
    pub clean_start: bool,
    /// 5.0 Session Expiry Interval in seconds (default 0: the session ends with the
    /// connection). In 3.1.1, `clean_start = false` keeps the session instead.
    pub session_expiry_interval: u32,
    /// The most QoS 1/2 messages the server may have in flight to us (default and
    /// maximum: the session's `IN` capacity).
    pub receive_maximum: u16,
    /// The largest packet we accept (default: the receive buffer's size).
    pub maximum_packet_size: Option<u32>,
    /// Topic aliases the server may use towards us (5.0; default 16). At each connection the
    /// session reserves a 64-byte store record per alias, using at most half of the store's
    /// free room, and announces only as many as it reserved.
    pub topic_alias_maximum: u16,
    /// Topic aliases we assign to our own publishes, at most (5.0; default 16, and never
    /// above the server's Topic Alias Maximum [MQTT-3.2.2-17]). Repeated topics then
    /// travel as two bytes.
    pub topic_alias_send_maximum: u16,
    /// The most QoS 1/2 publishes in flight to the server at once (default 65,535: as many
    /// as the outbox holds and the server's Receive Maximum allows). A 3.1.1 server cannot
    /// announce its limit: mosquitto's is 20, and it answers one more with a refusal 3.1.1
    /// cannot express (a PUBACK, then it drops the message and closes the connection), so
    /// 3.1.1 clients of such a broker must stay within it.
    pub max_inflight: u16,
    /// How many QoS 1/2 messages beyond our Receive Maximum the server may have in flight
    /// before the session ends the connection with 0x93 (default 0: as 5.0 §3.3.4 says).
    /// mosquitto 2.0.11 overshoots a client's Receive Maximum by one or two in normal
    /// flow, and by hundreds after a restart; a tolerance absorbs that. Manual-ack
    /// messages stay bounded by the table (`IN`); auto-ack QoS 2 ids beyond it are kept in
    /// the store until their PUBREL (a full store ends the connection); auto-ack QoS 1
    /// needs no room at all.
    pub receive_maximum_tolerance: u16,
    /// 5.0 enhanced authentication: the method, sent in CONNECT. The server's AUTH
    /// challenges arrive as [`crate::Event::Auth`]; answer with `Session::auth`.
    pub authentication_method: Option<&'a str>,
    /// Initial authentication data for the method.
    pub authentication_data: Option<&'a [u8]>,
    /// The will, if any.
    pub will: Option<Will<'a>>,
    /// User name.
    pub username: Option<&'a str>,
    /// Password; never logged.
    pub password: Option<&'a [u8]>,
    /// Further CONNECT properties (5.0), e.g. user properties.
    pub properties: &'a [Property<'a>],
    /// Reconnect policy.
    pub reconnect: ReconnectPolicy,
    /// Acknowledge incoming QoS 1/2 messages only when the caller calls `ack`
    /// (default false: acknowledged on receipt).
    pub manual_ack: bool,
    /// When the server lost our session, subscribe again to every remembered filter
    /// (default true).
    pub resubscribe: bool,
    /// When the server lost our session, send again every QoS 1/2 message it had not
    /// acknowledged (as a new message); the ones it had (a QoS 2 PUBREC) are reported
    /// lost either way (default true).
    pub resend_on_session_loss: bool,
    /// Queue QoS 0 messages published while disconnected (default false: `NotConnected`).
    pub queue_qos0_offline: bool,
    /// Seed of the PRNG used for reconnect jitter: the same seed gives the same run.
    pub rng_seed: u64,
}

impl<'a> Config<'a> {
    /// Defaults for `client_id`: 5.0 (3.1.1 without the `v5` feature), keepalive 30 s,
    /// ping timeout 10 s, reconnect on.
    pub fn new(client_id: &'a str) -> Self {
        Config {
            #[cfg(feature = "v5")]
            version: ProtocolVersion::V5,
            #[cfg(not(feature = "v5"))]
            version: ProtocolVersion::V3_1_1,
            client_id,
            keep_alive: 30,
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            clean_start: true,
            session_expiry_interval: 0,
            receive_maximum: u16::MAX,
            maximum_packet_size: None,
            topic_alias_maximum: 16,
            topic_alias_send_maximum: 16,
            max_inflight: u16::MAX,
            receive_maximum_tolerance: 0,
            authentication_method: None,
            authentication_data: None,
            will: None,
            username: None,
            password: None,
            properties: &[],
            reconnect: ReconnectPolicy::default(),
            manual_ack: false,
            resubscribe: true,
            resend_on_session_loss: true,
            queue_qos0_offline: false,
            rng_seed: 0,
        }
    }
}

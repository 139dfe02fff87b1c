//! Connection options owned by the adapters (the session's [`Config`] borrows them), with
//! defaults from field practice: MQTT 5.0, keep alive 30 s with a 10 s ping timeout,
//! reconnect with jittered exponential backoff, TCP_NODELAY, TLS verification on.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_proto::{Property, ProtocolVersion, QoS};
use mqtt_session::{Config, ReconnectPolicy, Will};

use crate::tls::TlsOptions;
use crate::url::{BrokerUrl, UrlError};

/// Bytes that must never be printed: a password or authentication data. `Debug` shows
/// only the length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }
    /// The bytes, for the one place that sends them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.as_bytes().to_vec())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s.into_bytes())
    }
}

/// The will message, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WillOptions {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS.
    pub qos: QoS,
    /// Retain.
    pub retain: bool,
    /// 5.0 Will Delay Interval in seconds.
    pub delay_interval: u32,
    /// 5.0 Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// 5.0 Content Type.
    pub content_type: Option<String>,
    /// 5.0 user properties of the will.
    pub user_properties: Vec<(String, String)>,
}

impl WillOptions {
    /// A will with QoS 0, no retain, no delay, no properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        WillOptions {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            delay_interval: 0,
            message_expiry_interval: None,
            content_type: None,
            user_properties: Vec::new(),
        }
    }
}

/// Where the session keeps the packets it may have to send again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOptions {
    /// In memory, at most this many bytes: survives reconnects, not a process restart.
    Memory {
        /// Bound on the stored bytes (default 16 MiB).
        max_bytes: usize,
    },
    /// In files under this directory, written before a packet is first sent, so unfinished
    /// QoS 1/2 work survives a crash or restart of the process. One directory per client id.
    File {
        /// The session's directory (created if missing).
        dir: PathBuf,
        /// Bound on the stored bytes.
        max_bytes: usize,
    },
}

/// Everything an adapter needs to connect. Build with [`Options::new`], then set fields.
///
/// ```
/// use mqtt_transport::Options;
/// let mut o = Options::new("mqtt://127.0.0.1:1883", "sensor-7").unwrap();
/// o.username = Some("alice".into());
/// o.password = Some("s3cret".into());
/// assert!(!format!("{o:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// Brokers, tried in turn on each connection attempt (after a failure, the next one).
    pub brokers: Vec<BrokerUrl>,
    /// The client identifier. Keep it stable across restarts: the broker keys the
    /// persistent session by it. Empty asks a 5.0 server to assign one.
    pub client_id: String,
    /// Protocol version (default 5.0).
    pub version: ProtocolVersion,
    /// Keep alive in seconds (default 30; 0 turns keepalive off).
    pub keep_alive: u16,
    /// Time allowed for PINGRESP (default 10 s).
    pub ping_timeout: Duration,
    /// Time allowed for TCP + TLS + CONNACK (default 10 s).
    pub connect_timeout: Duration,
    /// Clean start on the first connection (default true).
    pub clean_start: bool,
    /// 5.0 Session Expiry Interval in seconds (default 0).
    pub session_expiry_interval: u32,
    /// User name.
    pub username: Option<String>,
    /// Password; redacted in `Debug` and logs.
    pub password: Option<Secret>,
    /// 5.0 enhanced authentication method.
    pub authentication_method: Option<String>,
    /// Its initial data; redacted.
    pub authentication_data: Option<Secret>,
    /// The will.
    pub will: Option<WillOptions>,
    /// 5.0 CONNECT user properties.
    pub user_properties: Vec<(String, String)>,
    /// 5.0 Request Response Information in CONNECT (default false).
    pub request_response_information: bool,
    /// Reconnect policy (default: 1 s doubling to 30 s, 50 % jitter, forever, but never
    /// after a refusal that retrying cannot fix).
    pub reconnect: ReconnectPolicy,
    /// Acknowledge QoS 1/2 messages only when the application says so (default false).
    pub manual_ack: bool,
    /// Queue QoS 0 publishes while disconnected (default false: they fail fast).
    pub queue_qos0_offline: bool,
    /// Largest packet accepted from the server; the receive buffer has this size and 5.0
    /// announces it as Maximum Packet Size (default 64 KiB).
    pub max_incoming_packet: usize,
    /// The most QoS 1/2 messages the server may have in flight to us (5.0 Receive Maximum).
    /// Default: half the adapter's table ([`crate::INBOX`]); the other half holds QoS 2
    /// exchanges carried over a reconnect, which the server does not count on the new
    /// connection (5.0 §4.9).
    pub receive_maximum: u16,
    /// The most QoS 1/2 publishes in flight to the broker. `None` (default): 20 in 3.1.1,
    /// whose brokers cannot announce a limit (mosquitto's default is 20 and it drops what
    /// exceeds it behind a PUBACK), and the broker's Receive Maximum in 5.0. Either way at
    /// most [`crate::OUTBOX`] (256), the operations the session holds at once.
    pub max_inflight: Option<u16>,
    /// QoS 1/2 messages accepted beyond our Receive Maximum before disconnecting with 0x93
    /// (default: no limit but the session's storage, so a broker that overshoots is
    /// absorbed instead of disconnected at every reconnect; see
    /// `mqtt_session::Config::receive_maximum_tolerance`). mosquitto 2.0.11 overshoots a
    /// client's Receive Maximum, after a restart by hundreds; 0 enforces it to the letter.
    pub receive_maximum_tolerance: u16,
    /// Topic aliases the server may use towards us, and we towards it (5.0; default 16).
    pub topic_alias_maximum: u16,
    /// Persistence of the session state.
    pub store: StoreOptions,
    /// TLS settings, used for `mqtts://` and `wss://`.
    pub tls: TlsOptions,
    /// Follow a 5.0 server redirect (Server Reference with reason 0x9C / 0x9D) to the
    /// servers it names (default false).
    pub follow_redirects: bool,
    /// Disable Nagle's algorithm (default true: without it a request/response waits ~40 ms).
    pub tcp_nodelay: bool,
    /// Seed for the session's PRNG (reconnect jitter); `None` draws one from the OS.
    pub rng_seed: Option<u64>,
}

impl Options {
    /// Options for `brokers` (one URL or a comma-separated list) and `client_id`.
    pub fn new(brokers: &str, client_id: impl Into<String>) -> Result<Self, UrlError> {
        Ok(Options {
            brokers: BrokerUrl::parse_list(brokers)?,
            client_id: client_id.into(),
            version: ProtocolVersion::V5,
            keep_alive: 30,
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            clean_start: true,
            session_expiry_interval: 0,
            username: None,
            password: None,
            authentication_method: None,
            authentication_data: None,
            will: None,
            user_properties: Vec::new(),
            request_response_information: false,
            reconnect: ReconnectPolicy::default(),
            manual_ack: false,
            queue_qos0_offline: false,
            max_incoming_packet: 64 * 1024,
            receive_maximum: (crate::session::INBOX / 2) as u16,
            topic_alias_maximum: 16,
            max_inflight: None,
            receive_maximum_tolerance: u16::MAX,
            store: StoreOptions::Memory {
                max_bytes: 16 << 20,
            },
            tls: TlsOptions::default(),
            follow_redirects: false,
            tcp_nodelay: true,
            rng_seed: None,
        })
    }

    /// Calls `f` with the session's [`Config`] borrowed from these options.
    pub fn with_config<R>(&self, f: impl FnOnce(&Config<'_>) -> R) -> R {
        let mut props: Vec<Property<'_>> = self
            .user_properties
            .iter()
            .map(|(k, v)| Property::UserProperty(k, v))
            .collect();
        if self.request_response_information {
            props.push(Property::RequestResponseInformation(true));
        }
        let mut will_props: Vec<Property<'_>> = Vec::new();
        if let Some(w) = &self.will {
            if let Some(e) = w.message_expiry_interval {
                will_props.push(Property::MessageExpiryInterval(e));
            }
            if let Some(c) = &w.content_type {
                will_props.push(Property::ContentType(c));
            }
            will_props.extend(
                w.user_properties
                    .iter()
                    .map(|(k, v)| Property::UserProperty(k, v)),
            );
        }
        let will = self.will.as_ref().map(|w| Will {
            topic: &w.topic,
            payload: &w.payload,
            qos: w.qos,
            retain: w.retain,
            delay_interval: w.delay_interval,
            properties: &will_props,
        });
        let mut c = Config::new(&self.client_id);
        c.version = self.version;
        c.keep_alive = self.keep_alive;
        c.ping_timeout = ms(self.ping_timeout);
        c.connect_timeout = ms(self.connect_timeout);
        c.clean_start = self.clean_start;
        c.session_expiry_interval = self.session_expiry_interval;
        c.username = self.username.as_deref();
        c.password = self.password.as_ref().map(Secret::expose);
        c.authentication_method = self.authentication_method.as_deref();
        c.authentication_data = self.authentication_data.as_ref().map(Secret::expose);
        c.will = will;
        c.properties = &props;
        c.reconnect = self.reconnect;
        c.manual_ack = self.manual_ack;
        c.queue_qos0_offline = self.queue_qos0_offline;
        c.receive_maximum = self.receive_maximum;
        c.maximum_packet_size = u32::try_from(self.max_incoming_packet).ok();
        c.topic_alias_maximum = self.topic_alias_maximum;
        c.receive_maximum_tolerance = self.receive_maximum_tolerance;
        c.max_inflight = self.max_inflight.unwrap_or(match self.version {
            ProtocolVersion::V5 => u16::MAX,
            _ => 20,
        });
        c.topic_alias_send_maximum = self.topic_alias_maximum;
        c.rng_seed = self.rng_seed.unwrap_or_else(crate::clock::random_seed);
        f(&c)
    }
}

fn ms(d: Duration) -> mqtt_session::Duration {
    mqtt_session::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

//! What the driver task hands the application through [`crate::Events`].

use std::time::Instant;

use mqtt_proto::ReasonCode;
use mqtt_session::{ConnectionError, StopReason};
use mqtt_transport::{BrokerUrl, Message};

use crate::client::AckHandle;

/// Connection changes and messages, in the order they happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Connected to `broker`; `session_present`: the broker resumed our session.
    Connected {
        /// The broker now connected.
        broker: BrokerUrl,
        /// The broker had our session (unacknowledged work resumes).
        session_present: bool,
    },
    /// Opening the transport to `broker` failed (refused, unreachable, TLS handshake or
    /// certificate error, WebSocket upgrade refused). A `ConnectionLost` follows.
    TransportFailed {
        /// The broker tried.
        broker: BrokerUrl,
        /// What failed. For TLS, `error.get_ref()` downcasts to `rustls::Error`.
        error: std::sync::Arc<std::io::Error>,
    },
    /// The connection ended (or an attempt failed); the session will reconnect per policy.
    ConnectionLost {
        /// Why.
        reason: ConnectionError,
    },
    /// The next connection attempt is at `at`.
    ReconnectScheduled {
        /// When.
        at: Instant,
        /// 1-based count of consecutive attempts.
        attempt: u32,
    },
    /// No more automatic reconnects (fatal refusal, attempts used up, or disconnect).
    /// [`crate::Client::reconnect`] starts again.
    Stopped {
        /// Why.
        reason: StopReason,
    },
    /// A 5.0 server redirected us (Server Reference with 0x9C Use another server or
    /// 0x9D Server moved); followed on the next attempt if `follow_redirects` is set.
    Redirected {
        /// The servers named.
        to: Vec<BrokerUrl>,
        /// 0x9D: the move is permanent.
        permanent: bool,
    },
    /// An application message. In manual-ack mode QoS 1/2 messages carry an [`AckHandle`].
    Message {
        /// The message (owned; cheap to clone).
        message: Message,
        /// Acknowledge with this once processed (manual-ack mode, QoS 1/2).
        ack: Option<AckHandle>,
    },
    /// The server's 5.0 AUTH challenge; answer with [`crate::Client::auth`].
    Auth {
        /// The server's reason code.
        reason_code: ReasonCode,
        /// Authentication data (`Debug` redacts it).
        data: mqtt_transport::Secret,
    },
}

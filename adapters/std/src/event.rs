//! What [`crate::Connection`] hands the application: owned copies of the session's
//! events, minus the requests meant for the adapter (open / close the transport).

use std::time::Instant;

use mqtt_proto::ReasonCode;
use mqtt_session::{ConnectionError, LossReason, StopReason, Token};
use mqtt_transport::{BrokerUrl, Message, Secret};

/// Connection changes, messages and operation outcomes, in the order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The broker accepted the connection.
    Connected {
        /// The broker resumed our session (unacknowledged work resumes).
        session_present: bool,
    },
    /// The connection ended, or an attempt failed.
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
    /// No more automatic reconnects (fatal refusal, attempts used up, reconnect disabled,
    /// or [`crate::Connection::disconnect`]). [`crate::Connection::reconnect`] starts again.
    Stopped {
        /// Why.
        reason: StopReason,
    },
    /// An application message (owned; cheap to clone). In manual-ack mode a QoS 1/2
    /// message carries `ack`, to pass to [`crate::Connection::ack`].
    Message(Message),
    /// A QoS 1/2 publish finished its handshake (PUBACK or PUBCOMP, or an error PUBREC);
    /// `reason_code` at or above 0x80 means the broker refused it.
    Published {
        /// The token [`crate::Connection::publish`] (or the request) gave.
        token: Token,
        /// The broker's reason code (always `Success` in 3.1.1).
        reason_code: ReasonCode,
    },
    /// A SUBACK: one code per filter, in order (granted QoS, or a failure).
    Subscribed {
        /// The subscribe. After the broker lost our session the session subscribes again
        /// by itself, with tokens no caller holds.
        token: Token,
        /// Per filter.
        reason_codes: Vec<ReasonCode>,
    },
    /// An UNSUBACK (5.0: one code per filter; 3.1.1: empty).
    Unsubscribed {
        /// The unsubscribe.
        token: Token,
        /// Per filter.
        reason_codes: Vec<ReasonCode>,
    },
    /// An operation that will never complete.
    Lost {
        /// The operation.
        token: Token,
        /// Why.
        reason: LossReason,
    },
    /// A 5.0 broker redirected us (Server Reference with 0x9C Use another server or 0x9D
    /// Server moved); comes before the `ConnectionLost` it causes. Followed on the next
    /// attempt when [`mqtt_transport::Options::follow_redirects`] is set.
    Redirected {
        /// The servers named (relative to the broker we were connected to).
        to: Vec<BrokerUrl>,
        /// 0x9D: the move is permanent.
        permanent: bool,
    },
    /// The broker's 5.0 AUTH: answer a challenge with [`crate::Connection::auth`].
    Auth {
        /// The broker's reason code.
        reason_code: ReasonCode,
        /// Authentication data (`Debug` redacts it).
        data: Secret,
    },
}

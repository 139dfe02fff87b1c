//! What the session hands the caller: requests for the adapter and events for the application.

use mqtt_proto::{DecodeError, List, PacketType, Properties, QoS, ReasonCode};

use crate::time::Instant;

/// Names one publish, subscribe or unsubscribe (or an incoming message in manual-ack
/// mode); its completion or loss is reported with the same token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Token(pub u32);

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectionError {
    /// The adapter reported the transport closed or failed.
    TransportClosed,
    /// The transport or CONNACK did not come within the connect timeout.
    ConnectTimeout,
    /// No PINGRESP within the ping timeout: the connection is half-open or dead.
    KeepAliveTimeout,
    /// The server refused the connection with this CONNACK reason code.
    Refused(ReasonCode),
    /// The server sent DISCONNECT with this reason code.
    ServerDisconnect(ReasonCode),
    /// The server broke the protocol; the client sent DISCONNECT with `reason_code` (5.0).
    ProtocolViolation {
        /// The DISCONNECT reason code sent.
        reason_code: ReasonCode,
        /// What the server did.
        fault: PeerFault,
    },
    /// The caller asked to disconnect.
    ClientDisconnect,
}

/// A protocol violation by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PeerFault {
    /// Bytes that are not a valid packet.
    Malformed(DecodeError),
    /// A packet a server never sends, or one that does not fit the state.
    UnexpectedPacket(PacketType),
    /// A packet other than CONNACK (or AUTH) before CONNACK [MQTT-3.2.0-1].
    PacketBeforeConnAck(PacketType),
    /// A second CONNACK [MQTT-3.2.0-2].
    SecondConnAck,
    /// Session Present without a session to resume [MQTT-3.2.2-4].
    UnexpectedSessionPresent,
    /// An acknowledgement for a packet id that is not in flight.
    UnknownPacketId(PacketType, u16),
    /// More QoS 1/2 messages in flight than our Receive Maximum.
    ReceiveMaximumExceeded,
    /// A topic alias of 0 or above our Topic Alias Maximum.
    TopicAliasInvalid(u16),
    /// An empty topic with an alias we have no mapping for.
    TopicAliasUnknown(u16),
    /// A topic bound to an alias is longer than the record reserved for it and the store
    /// has no room to keep it: a limit of ours, reported with 0x83.
    TopicAliasNotKept(u16),
    /// A SUBACK/UNSUBACK whose code count differs from the request's filter count.
    AckCountMismatch,
    /// A server DISCONNECT with a Session Expiry Interval [MQTT-3.14.2-2].
    SessionExpiryInServerDisconnect,
    /// An AUTH packet although we sent no authentication method [MQTT-4.12.0-6].
    UnexpectedAuth,
}

impl PeerFault {
    /// The DISCONNECT reason code this fault calls for.
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            PeerFault::Malformed(e) => e.reason_code(),
            PeerFault::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            PeerFault::TopicAliasInvalid(_) => ReasonCode::TopicAliasInvalid,
            PeerFault::TopicAliasNotKept(_) => ReasonCode::ImplementationSpecificError,
            _ => ReasonCode::ProtocolError,
        }
    }
}

/// Why the session stopped reconnecting on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StopReason {
    /// A refusal that retrying will not fix (bad credentials, not authorized, banned,
    /// unsupported version, client id rejected, bad auth method).
    Refused(ReasonCode),
    /// The server said another connection took over our client id.
    SessionTakenOver,
    /// The reconnect policy's maximum attempts were used up.
    AttemptsExhausted,
    /// The caller disconnected.
    ClientDisconnect,
    /// Reconnecting is turned off in the policy.
    ReconnectDisabled,
}

/// Why an operation will never complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LossReason {
    /// The server no longer has our session, and it had already acknowledged part of
    /// the exchange (QoS 2 after PUBREC): whether it was delivered is unknown.
    SessionLost,
    /// The server no longer has our session and resending is turned off.
    NotResent,
    /// The packet exceeds the Maximum Packet Size of the server now connected.
    PacketTooLarge,
    /// The session was stopped or discarded (clean start) before completion.
    Discarded,
    /// Queued at a QoS above the Maximum QoS of the server now connected.
    QoSNotSupported,
    /// Queued with RETAIN, and the server now connected has no retained messages.
    RetainNotSupported,
}

/// Authentication data from the server; its `Debug` never shows the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AuthData<'a>(pub &'a [u8]);

impl core::fmt::Debug for AuthData<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AuthData(<{} bytes redacted>)", self.0.len())
    }
}

/// A message from the server, borrowing topic, payload and properties from the session's
/// receive buffer until the next call on the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a> {
    /// Topic name (resolved if the server used a topic alias).
    pub topic: &'a str,
    /// Payload.
    pub payload: &'a [u8],
    /// QoS it was delivered with.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// The server flagged it as a possible duplicate (QoS 1 redelivery).
    pub dup: bool,
    /// 5.0 properties: subscription ids, response topic, correlation data, user properties...
    pub properties: Properties<'a>,
    /// In manual-ack mode, the token to pass to `ack` (QoS 1/2).
    pub ack: Option<Token>,
}

/// Output of [`crate::Session::poll_event`]: requests for the adapter first, then application events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// Adapter: open a transport to the broker, then call `handle_transport_up`
    /// (or `handle_transport_down` if it fails).
    OpenTransport,
    /// Adapter: close the transport (everything `poll_transmit` gave has been handed out).
    CloseTransport,
    /// CONNACK accepted; `session_present` says whether the server resumed our session.
    Connected {
        /// The server had our session.
        session_present: bool,
    },
    /// The connection ended.
    ConnectionLost {
        /// Why.
        reason: ConnectionError,
    },
    /// The next connection attempt is scheduled at `at`.
    ReconnectScheduled {
        /// When `OpenTransport` will be asked for.
        at: Instant,
        /// 1-based count of consecutive attempts.
        attempt: u32,
    },
    /// No further automatic reconnects; `connect` starts again.
    Stopped {
        /// Why.
        reason: StopReason,
    },
    /// An application message arrived.
    Message(Message<'a>),
    /// A QoS 1/2 publish finished its handshake (PUBACK, PUBCOMP, or an error PUBREC);
    /// `reason_code` at or above 0x80 means the server refused it.
    Published {
        /// The publish.
        token: Token,
        /// The server's reason code (always `Success` in 3.1.1). A PUBCOMP 0x92 answering a
        /// PUBREL resent on resumption reads as `Success`: the PUBREC came first (5.0 §3.7.2.1).
        reason_code: ReasonCode,
    },
    /// A SUBACK: one code per filter, in order. After the server lost our session the
    /// session subscribes again to every remembered filter by itself; those SUBACKs
    /// (and any `Lost` for them) carry tokens the session made, which no caller holds.
    Subscribed {
        /// The subscribe.
        token: Token,
        /// Granted QoS or failure per filter.
        reason_codes: List<'a, ReasonCode>,
    },
    /// An UNSUBACK (5.0: one code per filter; 3.1.1: empty).
    Unsubscribed {
        /// The unsubscribe.
        token: Token,
        /// Result per filter.
        reason_codes: List<'a, ReasonCode>,
    },
    /// The server's AUTH (5.0 enhanced authentication): compute the answer for `data`
    /// and call `Session::auth` (reason `ContinueAuthentication`), or see it succeed
    /// (`Success`, after a re-authentication).
    Auth {
        /// The server's reason code.
        reason_code: ReasonCode,
        /// The server's authentication data; never printed by `Debug`.
        data: AuthData<'a>,
    },
    /// The 5.0 server refused the connection (CONNACK) or ended it (DISCONNECT) with
    /// 0x9C Use another server or 0x9D Server moved and named `server_reference` (a
    /// space-separated list of `host[:port]`). Comes before the `ConnectionLost` it
    /// causes; following it is the adapter's choice (5.0 §4.11).
    Redirect {
        /// The Server Reference property.
        server_reference: &'a str,
        /// 0x9D: the server moved for good; 0x9C: use another server this time.
        permanent: bool,
    },
    /// An operation that will never complete.
    Lost {
        /// The operation.
        token: Token,
        /// Why.
        reason: LossReason,
    },
}

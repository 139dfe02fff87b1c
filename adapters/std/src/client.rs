//! [`Client`]: the cloneable, `Send` handle that hands commands to the thread driving the
//! [`crate::Connection`], and [`Request`], the blocking wait for one command's outcome.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use mqtt_proto::{QoS, ReasonCode, SubscriptionOptions};
use mqtt_session::{LossReason, Token};

use crate::wake::Waker;

/// Commands a [`Client`] queues; the connection's thread runs them.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        reply: SyncSender<Reply>,
    },
    Subscribe {
        filters: Vec<(String, SubscriptionOptions)>,
        reply: SyncSender<Reply>,
    },
    Unsubscribe {
        filters: Vec<String>,
        reply: SyncSender<Reply>,
    },
    Ack {
        token: Token,
        reply: SyncSender<Reply>,
    },
    Disconnect,
    Reconnect,
}

/// What the connection's thread tells a [`Request`]: first whether the session took the
/// command, then (for QoS 1/2, subscribe, unsubscribe) how it ended.
#[derive(Debug)]
pub(crate) enum Reply {
    Accepted(Result<Option<Token>, mqtt_session::Error>),
    Done(Result<Completion, LossReason>),
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// The session took the command and it needs no acknowledgement: a QoS 0 publish
    /// (written to the socket if connected, or queued if `queue_qos0_offline`), or an
    /// `ack` of a received message.
    Accepted,
    /// A QoS 1/2 publish finished its handshake (PUBACK / PUBCOMP); a `reason_code` at or
    /// above 0x80 means the broker refused the message.
    Published {
        /// The publish.
        token: Token,
        /// The broker's reason code (always `Success` in 3.1.1).
        reason_code: ReasonCode,
    },
    /// The broker's SUBACK, one code per filter.
    Subscribed {
        /// The subscribe.
        token: Token,
        /// Granted QoS or failure, per filter.
        reason_codes: Vec<ReasonCode>,
    },
    /// The broker's UNSUBACK (5.0: one code per filter; 3.1.1: empty).
    Unsubscribed {
        /// The unsubscribe.
        token: Token,
        /// Per filter.
        reason_codes: Vec<ReasonCode>,
    },
}

/// Why [`Request::wait`] (or a [`Client`] command) gave no [`Completion`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The session refused the command (invalid topic, not connected for QoS 0, table
    /// full, ...): nothing was sent.
    Rejected(mqtt_session::Error),
    /// The operation will never complete.
    Lost(LossReason),
    /// The time given to `wait` passed first; the request is still pending.
    Timeout,
    /// The command queue is full (`try_*` only); retry later.
    QueueFull,
    /// The [`crate::Connection`] was dropped (or nobody drives it any more and it went away).
    Closed,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Rejected(e) => write!(f, "rejected: {e}"),
            ClientError::Lost(r) => write!(f, "lost: {r:?}"),
            ClientError::Timeout => f.write_str("timed out waiting for the outcome"),
            ClientError::QueueFull => f.write_str("the command queue is full"),
            ClientError::Closed => f.write_str("the connection is gone"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One command's outcome, to wait for. Dropping it is fine: the command goes on, and its
/// outcome is still reported as an [`crate::Event`] by the connection.
///
/// Waiting needs another thread to drive the [`crate::Connection`]: waiting on the
/// thread that drives it would wait for ever (until the timeout).
#[derive(Debug)]
#[must_use = "a Request does nothing unless waited on; drop it to ignore the outcome"]
pub struct Request {
    rx: Receiver<Reply>,
    accepted: Option<Option<Token>>,
}

impl Request {
    /// Waits up to `timeout` for the session to take the command, and returns its token
    /// (`None` for QoS 0 and acks): the same token that the connection's
    /// [`crate::Event::Published`] / `Subscribed` / `Unsubscribed` / `Lost` will carry.
    pub fn token(&mut self, timeout: Duration) -> Result<Option<Token>, ClientError> {
        if let Some(t) = self.accepted {
            return Ok(t);
        }
        match self.rx.recv_timeout(timeout) {
            Ok(Reply::Accepted(Ok(t))) => {
                self.accepted = Some(t);
                Ok(t)
            }
            Ok(Reply::Accepted(Err(e))) => Err(ClientError::Rejected(e)),
            // A Done always follows an Accepted; be lenient anyway.
            Ok(Reply::Done(_)) => Err(ClientError::Closed),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Closed),
        }
    }

    /// Waits up to `timeout` for the outcome: for QoS 1/2 the end of the handshake, for
    /// subscribe / unsubscribe the broker's answer, for QoS 0 and acks the session taking it.
    /// On [`ClientError::Timeout`] the request is still pending and can be waited on again.
    pub fn wait(&mut self, timeout: Duration) -> Result<Completion, ClientError> {
        let end = Instant::now() + timeout;
        let token = self.token(timeout)?;
        if token.is_none() {
            return Ok(Completion::Accepted);
        }
        match self
            .rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            Ok(Reply::Done(Ok(c))) => Ok(c),
            Ok(Reply::Done(Err(r))) => Err(ClientError::Lost(r)),
            Ok(Reply::Accepted(_)) => Err(ClientError::Closed),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::Closed),
        }
    }
}

/// A handle that queues commands for the thread driving the [`crate::Connection`]:
/// `Clone + Send + Sync`, so any number of threads may publish.
///
/// Commands travel through a bounded queue ([`crate::COMMAND_QUEUE`] entries) and wake
/// the connection's thread if it is blocked reading. The plain methods block while the
/// queue is full (back-pressure); the `try_` forms return [`ClientError::QueueFull`]
/// instead. Each returns a [`Request`] to wait on, or to drop.
///
/// Do not call the blocking methods from the thread that drives the connection when the
/// queue may be full (it would wait on itself): that thread has the same commands on
/// [`crate::Connection`] directly.
#[derive(Clone, Debug)]
pub struct Client {
    /// `None` only while dropping.
    pub(crate) tx: Option<SyncSender<Command>>,
    pub(crate) waker: Arc<Waker>,
}

impl Client {
    fn send(&self, cmd: Command, block: bool) -> Result<(), ClientError> {
        let tx = self.tx.as_ref().ok_or(ClientError::Closed)?;
        if block {
            tx.send(cmd).map_err(|_| ClientError::Closed)?;
        } else {
            tx.try_send(cmd).map_err(|e| match e {
                TrySendError::Full(_) => ClientError::QueueFull,
                TrySendError::Disconnected(_) => ClientError::Closed,
            })?;
        }
        self.waker.wake();
        Ok(())
    }

    fn request(
        &self,
        block: bool,
        make: impl FnOnce(SyncSender<Reply>) -> Command,
    ) -> Result<Request, ClientError> {
        // Two replies at most (Accepted, Done): sending never blocks the connection.
        let (reply, rx) = sync_channel(2);
        self.send(make(reply), block)?;
        Ok(Request { rx, accepted: None })
    }

    /// Publishes `payload` to `topic`; blocks while the command queue is full.
    pub fn publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        qos: QoS,
        retain: bool,
    ) -> Result<Request, ClientError> {
        let (topic, payload) = (topic.into(), payload.into());
        self.request(true, |reply| Command::Publish {
            topic,
            payload,
            qos,
            retain,
            reply,
        })
    }

    /// [`Client::publish`], but [`ClientError::QueueFull`] instead of blocking.
    pub fn try_publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        qos: QoS,
        retain: bool,
    ) -> Result<Request, ClientError> {
        let (topic, payload) = (topic.into(), payload.into());
        self.request(false, |reply| Command::Publish {
            topic,
            payload,
            qos,
            retain,
            reply,
        })
    }

    /// Subscribes to one filter with `qos` (other options at their defaults).
    pub fn subscribe(&self, filter: impl Into<String>, qos: QoS) -> Result<Request, ClientError> {
        self.subscribe_many(vec![(filter.into(), SubscriptionOptions::new(qos))])
    }

    /// Subscribes to several filters in one SUBSCRIBE.
    pub fn subscribe_many(
        &self,
        filters: Vec<(String, SubscriptionOptions)>,
    ) -> Result<Request, ClientError> {
        self.request(true, |reply| Command::Subscribe { filters, reply })
    }

    /// Unsubscribes from the filters in one UNSUBSCRIBE.
    pub fn unsubscribe(&self, filters: Vec<String>) -> Result<Request, ClientError> {
        self.request(true, |reply| Command::Unsubscribe { filters, reply })
    }

    /// Manual-ack mode: acknowledges the message delivered with `token`.
    pub fn ack(&self, token: Token) -> Result<Request, ClientError> {
        self.request(true, |reply| Command::Ack { token, reply })
    }

    /// Disconnects cleanly (DISCONNECT, so no will) and stops reconnecting; the
    /// connection then reports `ConnectionLost` and `Stopped`.
    pub fn disconnect(&self) -> Result<(), ClientError> {
        self.send(Command::Disconnect, true)
    }

    /// Connects again after `Stopped` (or now, if a reconnect is scheduled).
    pub fn reconnect(&self) -> Result<(), ClientError> {
        self.send(Command::Reconnect, true)
    }
}

/// Wakes the connection's thread, so that it notices when the last handle is gone (and
/// [`crate::Connection::wait_event`] can return `None` instead of waiting for ever).
impl Drop for Client {
    fn drop(&mut self) {
        // The sender goes first, so that the woken loop sees the queue closed.
        drop(self.tx.take());
        self.waker.wake();
    }
}

//! The application's side: a cloneable [`Client`] that sends commands to the driver task,
//! the futures that resolve when the broker has answered, and [`AckHandle`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use mqtt_proto::{QoS, ReasonCode, SubscriptionOptions};
use mqtt_session::{LossReason, Token};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::event_queue::EventQueue;
use crate::queue::{Queue, Ticket};

/// Why an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The session refused the command: invalid topic or filter, payload above the
    /// server's maximum packet size, QoS 0 while disconnected, ... (the caller's fault).
    Rejected(mqtt_session::Error),
    /// The broker answered with a failure reason code (5.0: PUBACK/PUBREC >= 0x80).
    Refused(ReasonCode),
    /// The operation will never complete (session lost, discarded, ...).
    Lost(LossReason),
    /// The driver task has ended (every handle dropped, or after `disconnect`).
    Closed,
    /// [`Client::try_publish`] only: the command queue is full, nothing was queued; the
    /// driver is behind (or the session has no room) and the caller decides what to drop.
    Full,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(e) => write!(f, "rejected: {e}"),
            Error::Refused(rc) => write!(f, "refused by the broker: {rc:?}"),
            Error::Lost(r) => write!(f, "lost: {r:?}"),
            Error::Closed => f.write_str("the client is closed"),
            Error::Full => f.write_str("the command queue is full"),
        }
    }
}

impl std::error::Error for Error {}

/// The broker's answer to a publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishAck {
    /// QoS 1/2: the reason code of PUBACK / PUBCOMP (`Success` in 3.1.1). QoS 0:
    /// `Success` once the session has taken the message for sending.
    pub reason_code: ReasonCode,
}

/// Owned 5.0 publish properties (the common ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// Payload Format Indicator: the payload is UTF-8.
    pub payload_is_utf8: bool,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content Type.
    pub content_type: Option<String>,
    /// Response Topic (request/response).
    pub response_topic: Option<String>,
    /// Correlation Data (request/response).
    pub correlation_data: Option<Vec<u8>>,
    /// User properties.
    pub user_properties: Vec<(String, String)>,
}

/// A command for the driver task other than a publish (those travel unboxed, see
/// [`crate::queue`]).
pub(crate) enum Command {
    Subscribe {
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
        reply: oneshot::Sender<Result<Vec<ReasonCode>, Error>>,
    },
    Unsubscribe {
        filters: Vec<String>,
        reply: oneshot::Sender<Result<Vec<ReasonCode>, Error>>,
    },
    Auth {
        data: Vec<u8>,
        reauthenticate: bool,
    },
    Reconnect,
    Disconnect {
        timeout: std::time::Duration,
        reply: oneshot::Sender<()>,
    },
}

/// The connection state, as last reported by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not connected (connecting, waiting to reconnect, or before the first attempt).
    Disconnected,
    /// Connected; `session_present` as the CONNACK said.
    Connected {
        /// The broker resumed our session.
        session_present: bool,
    },
    /// Stopped: no automatic reconnect (see the `Stopped` event for why).
    Stopped,
    /// The driver task ended.
    Closed,
}

/// A handle to one connection. Cheap to clone; `Send` and `Sync`. Every method is a
/// command to the connection's driver task, which owns the socket and the session.
///
/// Back-pressure: commands travel through a bounded queue ([`crate::Capacity`]`::commands`),
/// and the driver takes more only when the session has room for them, so a publisher
/// faster than the broker waits in `publish` instead of growing a queue.
pub struct Client {
    /// The command queue, the connection state and the I/O counters, shared with the
    /// driver.
    pub(crate) shared: Arc<Shared>,
}

impl Clone for Client {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Client {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.queue.handles_gone();
        }
    }
}

/// The driver's transport calls so far, over every connection: how well writes are
/// batched (`packets per write` is the figure that matters for throughput and CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Writes the driver handed the transport, each carrying everything the session had
    /// ready (one system call on TCP; TLS and WebSocket framing may split it further).
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Read calls that returned data.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
}

/// Shared between the driver (which takes commands, queues events, counts and reports
/// the state) and the handles (which queue commands, take events and read). One
/// allocation of about 450 bytes; a `tokio::sync::watch` channel for the state alone
/// took 344, tokio's command channel 800, its event channel 800.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Commands for the driver and the answers to publishes.
    pub(crate) queue: Queue,
    /// Events for [`crate::Events`].
    pub(crate) events: EventQueue,
    /// [`Client`] handles alive.
    handles: AtomicUsize,
    writes: AtomicU64,
    bytes_written: AtomicU64,
    reads: AtomicU64,
    bytes_read: AtomicU64,
    /// The [`State`], encoded by `State::to_u8`.
    state: AtomicU8,
    /// Woken at every change of `state`.
    state_changed: Notify,
}

impl State {
    fn to_u8(self) -> u8 {
        match self {
            State::Disconnected => 0,
            State::Connected {
                session_present: false,
            } => 1,
            State::Connected {
                session_present: true,
            } => 2,
            State::Stopped => 3,
            State::Closed => 4,
        }
    }

    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Disconnected,
            1 => State::Connected {
                session_present: false,
            },
            2 => State::Connected {
                session_present: true,
            },
            3 => State::Stopped,
            _ => State::Closed,
        }
    }
}

impl Shared {
    /// For one [`Client`], a command queue of `commands` and an event queue of `events`.
    pub(crate) fn new(commands: usize, events: usize) -> Self {
        Shared {
            queue: Queue::new(commands.max(1)),
            events: EventQueue::new(events),
            handles: AtomicUsize::new(1),
            writes: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            state: AtomicU8::new(0),
            state_changed: Notify::new(),
        }
    }

    /// The driver reports a new state; every `connected()` waiting looks at it.
    pub(crate) fn set_state(&self, s: State) {
        self.state.store(s.to_u8(), Ordering::Release);
        self.state_changed.notify_waiters();
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Waits until the state is not `Disconnected`. Cancel-safe.
    async fn settled(&self) -> State {
        loop {
            let changed = self.state_changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before the state is read, so no change between is missed.
            changed.as_mut().enable();
            let s = self.state();
            if s != State::Disconnected {
                return s;
            }
            changed.await;
        }
    }

    pub(crate) fn wrote(&self, n: usize) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, n: usize) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> IoStats {
        IoStats {
            writes: self.writes.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.shared.state())
            .finish_non_exhaustive()
    }
}

/// A publish's payload, as [`IntoPayload`] gives it.
#[derive(Debug)]
pub enum PayloadData<'a> {
    /// Copied into the command queue (no allocation when at most 512 bytes).
    Borrowed(&'a [u8]),
    /// Taken as it is; at most 512 bytes are copied into the queue and released at once.
    Owned(Bytes),
}

/// What a publish's payload can be given as. Borrowed bytes (`&[u8]`, `&[u8; N]`, `&str`,
/// `&Vec<u8>`, `&String`, `&Bytes`) are copied, without an allocation when small, so a
/// caller publishing from its own buffer pays no `Bytes` per message; owned ones
/// (`Bytes`, `BytesMut`, `Vec<u8>`, `String`, `Box<[u8]>`) are moved in, large ones
/// without a copy (use `Bytes::from_static` for a large static payload).
///
/// ```no_run
/// # async fn f(client: &mqtt_tokio::Client) -> Result<(), mqtt_tokio::Error> {
/// let mut reading = [0u8; 32];
/// reading[..5].copy_from_slice(b"21.5C");
/// // Borrowed from the caller's buffer: no allocation for the payload.
/// client
///     .publish("sensors/t1", &reading[..5], mqtt_tokio::QoS::AtMostOnce, false)
///     .await?;
/// # Ok(())
/// # }
/// ```
pub trait IntoPayload<'a> {
    /// The payload, borrowed or owned.
    fn into_payload(self) -> PayloadData<'a>;
}

macro_rules! borrowed_payload {
    ($($t:ty),*) => {$(
        impl<'a> IntoPayload<'a> for &'a $t {
            fn into_payload(self) -> PayloadData<'a> {
                PayloadData::Borrowed(self.as_ref())
            }
        }
    )*};
}
borrowed_payload!([u8], str, Vec<u8>, String, Bytes);

impl<'a, const N: usize> IntoPayload<'a> for &'a [u8; N] {
    fn into_payload(self) -> PayloadData<'a> {
        PayloadData::Borrowed(self)
    }
}

macro_rules! owned_payload {
    ($($t:ty),*) => {$(
        impl IntoPayload<'static> for $t {
            fn into_payload(self) -> PayloadData<'static> {
                PayloadData::Owned(Bytes::from(self))
            }
        }
    )*};
}
owned_payload!(Bytes, bytes::BytesMut, Vec<u8>, String, Box<[u8]>);

impl<'a> IntoPayload<'a> for PayloadData<'a> {
    fn into_payload(self) -> PayloadData<'a> {
        self
    }
}

impl Client {
    /// Publishes and waits for the broker's answer: PUBACK (QoS 1) or PUBCOMP (QoS 2);
    /// QoS 0 resolves once the session has taken the message.
    ///
    /// Cancel-safe in this sense: dropping the future while it waits for room in the
    /// command queue publishes nothing; dropping it afterwards does not withdraw the
    /// message (QoS 1/2 stay in the session until acknowledged), only the answer is not
    /// seen. To pipeline many publishes, use [`Client::publish_start`].
    pub async fn publish(
        &self,
        topic: impl AsRef<str>,
        payload: impl IntoPayload<'_>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishAck, Error> {
        self.publish_start(topic, payload, qos, retain, None)
            .await?
            .await
    }

    /// Hands a publish to the driver (waiting while the command queue is full) and
    /// returns a future of the broker's answer, so many can be in flight at once.
    /// Publishes (and other commands) reach the session in the order they were queued.
    ///
    /// Cancel-safe: if this future is dropped before it completes, nothing was sent.
    pub async fn publish_start(
        &self,
        topic: impl AsRef<str>,
        payload: impl IntoPayload<'_>,
        qos: QoS,
        retain: bool,
        properties: Option<PublishProperties>,
    ) -> Result<Pending<PublishAck>, Error> {
        // Borrowed, and copied into the queue: taking `Into<String>` allocated and freed
        // a `String` per publish when the caller had a `&str`.
        let ticket = self
            .shared
            .queue
            .push_publish(
                topic.as_ref(),
                payload.into_payload(),
                qos,
                retain,
                properties.map(Box::new),
            )
            .await?;
        Ok(self.answer(ticket))
    }

    /// [`Client::publish_start`] without waiting: queues the publish if the command queue
    /// has room now, and returns [`Error::Full`] (nothing queued) if it has not. For code
    /// that cannot `.await` (a synchronous callback, another thread or runtime), and for
    /// callers that would rather drop or count a message than wait when the driver is
    /// behind. The returned future is the broker's answer, as from `publish_start`;
    /// dropping it does not withdraw the message.
    ///
    /// ```no_run
    /// # fn f(client: &mqtt_tokio::Client) {
    /// use mqtt_tokio::{Error, QoS};
    /// match client.try_publish("sensors/7/temp", b"21.5", QoS::AtMostOnce, false, None) {
    ///     Ok(_answer) => {}                 // queued; the answer may be awaited or dropped
    ///     Err(Error::Full) => { /* the driver is behind: drop or retry later */ }
    ///     Err(e) => eprintln!("publish: {e}"),
    /// }
    /// # }
    /// ```
    pub fn try_publish<'p>(
        &self,
        topic: impl AsRef<str>,
        payload: impl IntoPayload<'p>,
        qos: QoS,
        retain: bool,
        properties: Option<PublishProperties>,
    ) -> Result<Pending<PublishAck>, Error> {
        let ticket = self.shared.queue.try_push_publish(
            topic.as_ref(),
            payload.into_payload(),
            qos,
            retain,
            properties.map(Box::new),
        )?;
        Ok(self.answer(ticket))
    }

    /// The future of a queued publish's answer.
    fn answer(&self, ticket: Ticket) -> Pending<PublishAck> {
        Pending(PendingInner::Publish {
            wait: PublishWait {
                shared: self.shared.clone(),
                ticket,
                answered: false,
            },
            map: |r| r,
        })
    }

    /// Subscribes to `filter` at `qos` and waits for the SUBACK: the granted QoS, or a
    /// failure code. Cancel-safe like [`Client::publish`].
    pub async fn subscribe(
        &self,
        filter: impl Into<String>,
        qos: QoS,
    ) -> Result<ReasonCode, Error> {
        let codes = self
            .subscribe_many(vec![(filter.into(), SubscriptionOptions::new(qos))], None)
            .await?;
        Ok(codes
            .first()
            .copied()
            .unwrap_or(ReasonCode::UnspecifiedError))
    }

    /// Subscribes to several filters with full options (and a 5.0 subscription
    /// identifier) in one SUBSCRIBE; resolves with one code per filter.
    pub async fn subscribe_many(
        &self,
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
    ) -> Result<Vec<ReasonCode>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Subscribe {
            filters,
            subscription_id,
            reply,
        })
        .await?;
        Pending(PendingInner::Channel(rx)).await
    }

    /// Unsubscribes and waits for the UNSUBACK (5.0: one code per filter; 3.1.1: empty).
    pub async fn unsubscribe(&self, filters: Vec<String>) -> Result<Vec<ReasonCode>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Unsubscribe { filters, reply }).await?;
        Pending(PendingInner::Channel(rx)).await
    }

    /// 5.0 enhanced authentication: answers the server's `Auth` event with `data`.
    pub async fn auth(&self, data: Vec<u8>) -> Result<(), Error> {
        self.send(Command::Auth {
            data,
            reauthenticate: false,
        })
        .await
    }

    /// 5.0: starts re-authentication on the live connection.
    pub async fn reauthenticate(&self, data: Vec<u8>) -> Result<(), Error> {
        self.send(Command::Auth {
            data,
            reauthenticate: true,
        })
        .await
    }

    /// Starts connecting again after the session stopped (a fatal refusal, attempts used up).
    pub async fn reconnect(&self) -> Result<(), Error> {
        self.send(Command::Reconnect).await
    }

    /// Disconnects gracefully: waits up to `timeout` for unfinished QoS 1/2 work to be
    /// acknowledged, then sends DISCONNECT (so no will is published), closes the
    /// connection and ends the driver task. Resolves when that is done.
    pub async fn disconnect(&self, timeout: std::time::Duration) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Disconnect { timeout, reply }).await?;
        let _ = rx.await;
        Ok(())
    }

    /// Transport calls and bytes so far (see [`IoStats`]).
    pub fn io_stats(&self) -> IoStats {
        self.shared.snapshot()
    }

    /// The connection state as last reported.
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// Waits until connected (returns `Ok(session_present)`) or stopped / closed
    /// (`Err(state)`). Cancel-safe.
    pub async fn connected(&self) -> Result<bool, State> {
        match self.shared.settled().await {
            State::Connected { session_present } => Ok(session_present),
            other => Err(other),
        }
    }

    async fn send(&self, cmd: Command) -> Result<(), Error> {
        self.shared.queue.push_command(cmd).await
    }
}

/// The broker's answer to an operation already handed to the driver. Cancel-safe:
/// dropping it does not cancel the operation.
pub struct Pending<T>(PendingInner<T>);

enum PendingInner<T> {
    /// Subscribe / unsubscribe: a one-off channel.
    Channel(oneshot::Receiver<Result<T, Error>>),
    /// A publish: answered through the command queue, without a channel of its own.
    Publish {
        wait: PublishWait,
        map: fn(Result<PublishAck, Error>) -> Result<T, Error>,
    },
}

/// A publish's claim on its answer; dropping it unanswered tells the queue.
struct PublishWait {
    shared: Arc<Shared>,
    ticket: Ticket,
    answered: bool,
}

impl Drop for PublishWait {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.queue.forget(self.ticket);
        }
    }
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            PendingInner::Channel(_) => f.write_str("Pending"),
            PendingInner::Publish { wait, .. } => f
                .debug_struct("Pending")
                .field("publish", &wait.ticket)
                .field("answered", &wait.answered)
                .finish(),
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            PendingInner::Channel(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            PendingInner::Publish { wait, map } => {
                if wait.answered {
                    // Polled after it completed: the answer was taken.
                    return Poll::Ready(Err(Error::Closed));
                }
                match wait.shared.queue.poll(wait.ticket, cx) {
                    Poll::Ready(r) => {
                        wait.answered = true;
                        Poll::Ready(map(r))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

/// Manual-ack mode: acknowledges one received QoS 1/2 message. Acknowledgements leave
/// in the order the messages arrived, as the protocol requires, so one message not
/// acknowledged holds back the acknowledgements after it. Dropping the handle without
/// [`AckHandle::ack`] leaves the message unacknowledged: the broker redelivers it on the
/// next connection that resumes the session.
pub struct AckHandle {
    pub(crate) token: Token,
    pub(crate) acks: mpsc::UnboundedSender<Token>,
}

impl AckHandle {
    /// Acknowledges the message (PUBACK, or PUBREC for QoS 2). Never blocks: the channel
    /// it uses holds at most one entry per message the server may have in flight.
    pub fn ack(self) {
        let _ = self.acks.send(self.token);
    }
}

impl fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AckHandle").field(&self.token).finish()
    }
}

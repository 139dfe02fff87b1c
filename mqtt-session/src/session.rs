//! [`Session`]: the public face of the state machine, in the four method families.

use mqtt_proto::{Decoded, Packet, Property, QoS, Subscription, SubscriptionOptions, TopicFilter};

use crate::config::Config;
use crate::error::Error;
use crate::event::{AuthData, ConnectionError, Event, Message, PeerFault, Token};
use crate::state::{ConnState, Core, Outcome, decoded};
use crate::store::{Key, Store};
use crate::table::{Inline, Tables};
use crate::time::Instant;

/// An MQTT client session: a pure, deterministic state machine with no IO, no clock,
/// no randomness of its own and no allocation.
///
/// - `S`: where the session keeps packets it may need again ([`Store`]).
/// - `B`: the receive buffer; its length is the largest packet accepted.
/// - `OUT`: how many operations (publishes, subscribes, unsubscribes) may be queued or
///   in flight at once. `IN`: the most QoS 1/2 messages the server may have in flight to
///   us (our Receive Maximum).
/// - `T`: where those two tables live: [`Inline`] arrays (the default, no allocation) or
///   `Heap` rings that take memory only while operations are in flight (feature
///   `alloc`; for hosts with many mostly idle connections).
///
/// The methods fall into four families:
/// - **getters** (`&self`): [`Session::state`], [`Session::outstanding`], ...
/// - **inputs** `handle_*(now, ..)`: transport up/down, bytes received, timeouts. They
///   never fail: a fault of the server becomes an event and a DISCONNECT.
/// - **commands**: [`Session::connect`], [`Session::publish`], [`Session::subscribe`],
///   [`Session::unsubscribe`], [`Session::ack`], [`Session::disconnect`]. `Err` is the
///   caller's fault or a full table, and the session is unchanged.
/// - **outputs**: [`Session::poll_event`], [`Session::poll_transmit`],
///   [`Session::poll_timeout`].
///
/// **Draining contract.** After every input or command, call `poll_event` until it
/// returns `None` (it also processes received packets, one per call), then
/// `poll_transmit` until it returns 0, and repeat both while either produced something;
/// then sleep until `poll_timeout` or the next input. Events borrow the receive buffer
/// until the next call on the session.
///
/// ```
/// use mqtt_session::{ArenaStore, Config, Event, Instant, Session};
/// use mqtt_proto::{ProtocolVersion, QoS};
///
/// let mut config = Config::new("sensor-1");
/// config.version = ProtocolVersion::V3_1_1; // the default is 5.0 (with the `v5` feature)
/// let mut s: Session<ArenaStore<16, 2048>, [u8; 512], 8, 8> =
///     Session::new(&config, ArenaStore::new(), [0; 512]).unwrap();
/// let now = Instant::from_millis(0);
/// s.connect(now);
/// assert_eq!(s.poll_event(), Some(Event::OpenTransport));
/// s.handle_transport_up(now);
/// let mut out = [0u8; 256];
/// let n = s.poll_transmit(now, &mut out).unwrap(); // the CONNECT
/// assert_eq!(out[0], 0x10);
/// s.handle_input(now, &[0x20, 0x02, 0x00, 0x00]); // CONNACK, accepted
/// assert_eq!(s.poll_event(), Some(Event::Connected { session_present: false }));
/// let token = s.publish(now, "a/b", b"hi", QoS::AtLeastOnce, false, &[]).unwrap();
/// assert!(token.is_some());
/// let n = s.poll_transmit(now, &mut out).unwrap();
/// // PUBLISH QoS 1, topic "a/b", id 1, payload "hi".
/// assert_eq!(&out[..n], &[0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i'][..]);
/// ```
pub struct Session<S, B, const OUT: usize, const IN: usize, T: Tables = Inline> {
    rx: B,
    rx_start: usize,
    rx_end: usize,
    core: Core<S, OUT, IN, T>,
}

impl<S: Store, B: AsRef<[u8]> + AsMut<[u8]>, const OUT: usize, const IN: usize, T: Tables>
    Session<S, B, OUT, IN, T>
{
    /// A session that is not connected yet; `connect` starts it. Fails if the CONNECT
    /// built from `config` is invalid or does not fit the store.
    // Inlined on bare metal, with `with_rx_capacity` and `Core::new`: the session is then
    // built where the caller keeps it, not in a session-sized temporary copied there
    // (peak stack of the embedded `full` firmware 16.5 -> 12.7 KB).
    #[cfg_attr(target_os = "none", inline(always))]
    pub fn new(config: &Config<'_>, store: S, rx: B) -> Result<Self, Error> {
        let cap = rx.as_ref().len();
        Self::with_rx_capacity(config, store, rx, cap)
    }

    /// Like [`Session::new`] with a receive buffer that may start smaller than the largest
    /// packet accepted, `capacity`: the caller grows it through [`Session::rx_buffer_mut`]
    /// when [`Session::read_buffer`] comes back empty (hosts keep idle connections small).
    #[cfg_attr(target_os = "none", inline(always))]
    pub fn with_rx_capacity(
        config: &Config<'_>,
        store: S,
        rx: B,
        capacity: usize,
    ) -> Result<Self, Error> {
        Ok(Session {
            rx,
            rx_start: 0,
            rx_end: 0,
            core: Core::new(config, store, capacity)?,
        })
    }

    /// A session rebuilt from a store that kept its records across a process restart
    /// (the persistence hook): unfinished publishes, pending PUBRELs, subscribes and
    /// incoming QoS 2 ids resume on the next connection. Returns the session and how
    /// many operations were restored; their new tokens come from
    /// [`Session::for_each_outstanding`].
    pub fn restore(config: &Config<'_>, store: S, rx: B) -> Result<(Self, usize), Error> {
        let cap = rx.as_ref().len();
        Self::restore_with_rx_capacity(config, store, rx, cap)
    }

    /// [`Session::restore`] with a growable receive buffer, as [`Session::with_rx_capacity`].
    pub fn restore_with_rx_capacity(
        config: &Config<'_>,
        store: S,
        rx: B,
        capacity: usize,
    ) -> Result<(Self, usize), Error> {
        let mut session = Self::with_rx_capacity(config, store, rx, capacity)?;
        let n = session.core.restore();
        Ok((session, n))
    }

    /// The receive buffer itself, for a caller that grows it (see
    /// [`Session::with_rx_capacity`]). Growing keeps the buffered bytes; shrinking below
    /// what is buffered would drop them.
    pub fn rx_buffer_mut(&mut self) -> &mut B {
        &mut self.rx
    }

    // ----- getters ---------------------------------------------------------------------

    /// Calls `f` with the token of every operation not finished yet.
    pub fn for_each_outstanding(&self, f: &mut dyn FnMut(Token)) {
        self.core.for_each_outstanding(f);
    }

    /// The connection state.
    pub fn state(&self) -> ConnState {
        self.core.state()
    }

    /// Operations queued or in flight (publishes, subscribes, unsubscribes).
    pub fn outstanding(&self) -> usize {
        self.core.outstanding()
    }

    /// QoS 1/2 publishes sent and not yet completed.
    pub fn inflight_publishes(&self) -> u16 {
        self.core.inflight_publishes()
    }

    /// Incoming QoS 1/2 messages not yet fully acknowledged that the incoming table holds
    /// (QoS 2 ids beyond it, kept in the store until their PUBREL, are not counted).
    pub fn incoming_pending(&self) -> usize {
        self.core.incoming_pending()
    }

    /// Bytes the in-flight tables hold on the heap: 0 with [`Inline`] tables; with
    /// `Heap` tables what the last burst grew them to, given back (when empty) at
    /// the next keepalive ping or when the connection ends.
    pub fn table_heap_bytes(&self) -> usize {
        self.core.table_heap_bytes()
    }

    /// The store (e.g. to persist it).
    pub fn store(&self) -> &S {
        &self.core.store
    }

    /// Calls `f` for every remembered subscription whose filter matches `topic`, with the
    /// filter, its options and its subscription identifier: the routing helper. A message
    /// whose topic matches none visits nothing: the session delivers it all the same (a
    /// server may deliver from a subscription the session does not remember, such as one
    /// an earlier process made in a persistent session), and this is where the application
    /// can notice it [MQTT-3.3.2-3].
    pub fn for_each_match(
        &self,
        topic: &str,
        f: &mut dyn FnMut(&str, SubscriptionOptions, Option<u32>),
    ) {
        self.core.for_each_subscription(&mut |_, filter, opts, id| {
            if mqtt_proto::topic::matches(filter, topic) {
                f(filter, opts, id);
            }
        });
    }

    /// Calls `f` for every remembered subscription.
    pub fn for_each_subscription(&self, f: &mut dyn FnMut(&str, SubscriptionOptions, Option<u32>)) {
        self.core
            .for_each_subscription(&mut |_, filter, opts, id| f(filter, opts, id));
    }

    // ----- inputs ----------------------------------------------------------------------

    /// The transport asked for by [`Event::OpenTransport`] is open.
    pub fn handle_transport_up(&mut self, now: Instant) {
        self.core.handle_transport_up(now);
        self.sync_rx();
    }

    /// The transport closed or failed to open.
    pub fn handle_transport_down(&mut self, now: Instant) {
        self.core.handle_transport_down(now);
        self.sync_rx();
    }

    /// Time passed; fire every deadline that has come. Spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.sync_rx();
    }

    /// Bytes received, copied into the receive buffer. Returns how many were taken; the
    /// rest must be offered again after draining events (back-pressure).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        let space = self.read_buffer();
        let n = data.len().min(space.len());
        if let (Some(dst), Some(src)) = (space.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.handle_read(now, n);
        n
    }

    /// Free space at the end of the receive buffer, to read into directly (no copy).
    /// Call [`Session::handle_read`] with the byte count afterwards.
    pub fn read_buffer(&mut self) -> &mut [u8] {
        self.sync_rx();
        if self.rx_start > 0 {
            if self.rx_start < self.rx_end {
                let len = self.rx_end - self.rx_start;
                crate::shift::move_front(self.rx.as_mut(), self.rx_start, len, 0);
            }
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
        }
        self.rx.as_mut().get_mut(self.rx_end..).unwrap_or_default()
    }

    /// `n` bytes were read into [`Session::read_buffer`].
    pub fn handle_read(&mut self, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        self.rx_end = (self.rx_end + n).min(self.rx.as_ref().len());
        self.core.on_received(now);
    }

    // ----- commands --------------------------------------------------------------------

    /// Starts connecting (and reconnecting per policy); also restarts a stopped session.
    pub fn connect(&mut self, now: Instant) {
        self.core.connect(now);
    }

    /// Disconnects cleanly (DISCONNECT, so the will is not published) and stops reconnecting.
    /// Unfinished operations stay and resume on the next `connect` if the session persists.
    pub fn disconnect(&mut self, now: Instant) {
        self.core.disconnect(now);
        self.sync_rx();
    }

    /// Publishes a message. QoS 1/2 return a token reported by [`Event::Published`] or
    /// [`Event::Lost`]; they queue while disconnected or while the server's Receive
    /// Maximum is used up, and go out in order. QoS 0 has no token: one queued offline
    /// (`queue_qos0_offline`) that the next server cannot take (too large, QoS or retain
    /// unsupported) is dropped without an event, as "at most once" allows.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
    ) -> Result<Option<Token>, Error> {
        self.core
            .publish(now, topic, payload, qos, retain, properties)
    }

    /// [`Session::publish`] for a caller that holds its transmit buffer: a QoS 0 message
    /// that can go at once (connected, nothing queued ahead of it, room in `out`) is
    /// encoded straight into `out`, with the outgoing topic alias (5.0) a transmit of the
    /// queued message would choose, skipping the store's copy and bookkeeping. Returns
    /// the token and the bytes written to `out`; 0 means it was queued as `publish` does
    /// and [`Session::poll_transmit`] hands it out later. Send bytes written here before
    /// anything a later `poll_transmit` returns.
    #[allow(clippy::too_many_arguments)]
    pub fn publish_into(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &[Property<'_>],
        out: &mut [u8],
    ) -> Result<(Option<Token>, usize), Error> {
        self.core
            .publish_into(now, topic, payload, qos, retain, properties, out)
    }

    /// Subscribes; the session remembers the filters (to resubscribe and to route).
    pub fn subscribe(
        &mut self,
        now: Instant,
        filters: &[Subscription<'_>],
        properties: &[Property<'_>],
    ) -> Result<Token, Error> {
        self.core.subscribe(now, filters, properties)
    }

    /// Unsubscribes and forgets the filters.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: &[TopicFilter<'_>],
        properties: &[Property<'_>],
    ) -> Result<Token, Error> {
        self.core.unsubscribe(now, filters, properties)
    }

    /// 5.0 enhanced authentication: answers the server's [`Event::Auth`] challenge with
    /// `data` (AUTH, Continue authentication) using the configured method.
    pub fn auth(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.core
            .auth(now, mqtt_proto::ReasonCode::ContinueAuthentication, data)
    }

    /// 5.0: starts re-authentication on the live connection with `data` (AUTH 0x19).
    pub fn reauthenticate(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.core
            .auth(now, mqtt_proto::ReasonCode::ReAuthenticate, data)
    }

    /// Manual-ack mode: acknowledges the message delivered with `token`. Acks still leave
    /// in the order the messages arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3].
    pub fn ack(&mut self, token: Token) -> Result<(), Error> {
        self.core.ack(token)
    }

    // ----- outputs ---------------------------------------------------------------------

    /// The next event, processing received packets until one produces an event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        self.sync_rx();
        if let Some(ev) = self.core.poll_owned_event() {
            return Some(ev);
        }
        let (start, len, outcome) = match self.process_rx() {
            Processed::Nothing => return None,
            Processed::Owned => return self.core.poll_owned_event(),
            Processed::Packet {
                start,
                len,
                outcome,
            } => (start, len, outcome),
        };
        // Outcomes that borrow nothing from the packet need no second decode.
        match outcome {
            Outcome::Published { token, reason_code } => {
                return Some(Event::Published { token, reason_code });
            }
            Outcome::Connected { session_present } => {
                return Some(Event::Connected { session_present });
            }
            _ => {}
        }
        // The packet's bytes stay in place until the next call on the session.
        let bytes = self.rx.as_ref().get(start..start + len).unwrap_or_default();
        let packet = Packet::decode_exact(bytes, self.core.version()).ok()?;
        self.event_for(outcome, packet)
    }

    /// Decodes and handles buffered packets until one has something for the application.
    fn process_rx(&mut self) -> Processed {
        loop {
            if !self.core.wants_rx() || self.rx_start >= self.rx_end {
                return Processed::Nothing;
            }
            let buf = self
                .rx
                .as_ref()
                .get(self.rx_start..self.rx_end)
                .unwrap_or_default();
            let (packet, consumed) = match self.core.decoder().decode(buf) {
                Ok(Decoded::Incomplete(_)) => return Processed::Nothing,
                Ok(Decoded::Packet { packet, consumed }) => (packet, consumed),
                Err(e) => {
                    self.core.fault(PeerFault::Malformed(e));
                    self.sync_rx();
                    return Processed::Owned;
                }
            };
            let start = self.rx_start;
            let outcome = self.core.handle_packet(&packet);
            self.rx_start += consumed;
            if let Some(outcome) = outcome {
                return Processed::Packet {
                    start,
                    len: consumed,
                    outcome,
                };
            }
            self.sync_rx();
            if self.core.has_owned_event() {
                return Processed::Owned;
            }
        }
    }

    /// Writes the bytes to send into `out` and returns how many; 0 when nothing is due.
    /// `Err(required)`: the next packet needs a buffer of `required` bytes.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, usize> {
        let r = self.core.poll_transmit(now, out);
        self.sync_rx();
        r
    }

    /// When `handle_timeout` must be called next, if at all.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Builds the application event for a handled packet, borrowing from it.
    fn event_for<'a>(&'a self, outcome: Outcome, packet: Packet<'a>) -> Option<Event<'a>> {
        Some(match (outcome, packet) {
            (Outcome::Message { ack, alias }, Packet::Publish(p)) => Event::Message(Message {
                topic: match alias {
                    Some(a) => self.core.alias_topic(a),
                    None => p.topic.as_str(),
                },
                payload: p.payload,
                qos: p.qos.qos(),
                retain: p.retain,
                dup: p.dup,
                properties: decoded(p.properties),
                ack,
            }),
            (Outcome::Subscribed { token }, Packet::SubAck(a)) => Event::Subscribed {
                token,
                reason_codes: a.reason_codes,
            },
            (Outcome::Unsubscribed { token }, Packet::UnsubAck(a)) => Event::Unsubscribed {
                token,
                reason_codes: a.reason_codes,
            },
            (Outcome::Published { token, reason_code }, _) => {
                Event::Published { token, reason_code }
            }
            (Outcome::Connected { session_present }, _) => Event::Connected { session_present },
            (Outcome::Redirect { permanent }, Packet::ConnAck(a)) => Event::Redirect {
                server_reference: decoded(a.properties).server_reference().unwrap_or_default(),
                permanent,
            },
            (Outcome::Redirect { permanent }, Packet::Disconnect(d)) => Event::Redirect {
                server_reference: decoded(d.properties).server_reference().unwrap_or_default(),
                permanent,
            },
            (Outcome::Auth, Packet::Auth(a)) => Event::Auth {
                reason_code: a.reason_code,
                data: AuthData(
                    decoded(a.properties)
                        .authentication_data()
                        .unwrap_or_default(),
                ),
            },
            // Outcomes only come from their own packet types: nothing to report otherwise.
            (
                Outcome::Message { .. }
                | Outcome::Subscribed { .. }
                | Outcome::Unsubscribed { .. }
                | Outcome::Redirect { .. }
                | Outcome::Auth,
                _,
            ) => return None,
        })
    }

    fn sync_rx(&mut self) {
        if self.core.discard_rx {
            self.rx_start = 0;
            self.rx_end = 0;
            self.core.discard_rx = false;
        }
    }
}

/// What [`Session::process_rx`] found.
enum Processed {
    Nothing,
    Owned,
    Packet {
        start: usize,
        len: usize,
        outcome: Outcome,
    },
}

impl<S, B, const OUT: usize, const IN: usize, T: Tables> core::fmt::Debug
    for Session<S, B, OUT, IN, T>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("buffered", &(self.rx_end - self.rx_start))
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_types(_: ConnectionError, _: Key) {}

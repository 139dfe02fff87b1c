//! The session as the host adapters instantiate it, and how they build it from [`Options`].

use mqtt_proto::{Subscription, SubscriptionOptions, TopicFilter};
use mqtt_session::{Heap, Session, VecStore};

use crate::file_store::FileStore;
use crate::options::{Options, StoreOptions};
use crate::store::HostStore;

/// Operations (publishes, subscribes, unsubscribes) queued or in flight at once: room
/// for a broker's Receive Maximum (or `Options::max_inflight`) of up to a few hundred
/// used in full, with publishes queued behind it. The table is a heap ring that holds
/// memory only while operations are queued or in flight.
pub const OUTBOX: usize = 256;
/// QoS 1/2 messages the server may have in flight to us (our Receive Maximum). 3.1.1
/// cannot announce it, so it must be at least what brokers send unasked (mosquitto: 20).
pub const INBOX: usize = 64;

/// The session type of the std and tokio adapters.
/// Its receive buffer is a `Vec` that [`grow_rx`] enlarges on demand up to
/// `Options::max_incoming_packet` and [`rx_after_read`] while reads come in full, and
/// [`shrink_rx`] returns to [`RX_INITIAL`] when idle, so an idle connection holds
/// [`RX_INITIAL`] bytes; its in-flight tables are [`Heap`] rings, empty (no memory)
/// while nothing is in flight.
pub type HostSession = Session<HostStore, Vec<u8>, OUTBOX, INBOX, Heap>;

/// The receive buffer a session starts with and returns to when idle: enough for the
/// acknowledgements and pings of a quiet connection.
pub const RX_INITIAL: usize = 256;

/// How far reads that fill the receive buffer grow it: a backlog of small messages is
/// read in few system calls. (A single larger packet grows it further, up to the largest
/// accepted: [`grow_rx`].)
pub const RX_BURST: usize = 16 * 1024;

/// Doubles the session's receive buffer (up to the largest packet accepted) when it is
/// full of one incomplete packet, i.e. [`Session::read_buffer`] is empty. True if it grew.
pub fn grow_rx(session: &mut HostSession, max: usize) -> bool {
    double_when_full(session, max)
}

/// Right after [`Session::handle_read`]: a read that left no free space in the receive
/// buffer says more is waiting, so the buffer doubles (up to [`RX_BURST`]) and the next
/// read takes more. True if it grew.
pub fn rx_after_read(session: &mut HostSession) -> bool {
    double_when_full(session, RX_BURST)
}

/// Doubles the receive buffer, up to `cap`, when it has no free space left.
fn double_when_full(session: &mut HostSession, cap: usize) -> bool {
    if !session.read_buffer().is_empty() {
        return false;
    }
    let rx = session.rx_buffer_mut();
    let len = rx.len();
    if len >= cap {
        return false;
    }
    rx.resize((len * 2).min(cap), 0);
    true
}

/// The connection is idle: a receive buffer grown past [`RX_INITIAL`] that holds no
/// unprocessed byte goes back to [`RX_INITIAL`]. True if it shrank.
pub fn shrink_rx(session: &mut HostSession) -> bool {
    let len = session.rx_buffer_mut().len();
    // `read_buffer` moves buffered bytes to the front: all of it free means none buffered.
    if len <= RX_INITIAL || session.read_buffer().len() != len {
        return false;
    }
    let rx = session.rx_buffer_mut();
    rx.truncate(RX_INITIAL);
    rx.shrink_to_fit();
    true
}

/// Why a session could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The options make an invalid CONNECT (bad client id, will topic, ...).
    Session(mqtt_session::Error),
    /// The file store could not be opened.
    Store(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Session(e) => write!(f, "invalid options: {e}"),
            OpenError::Store(e) => write!(f, "cannot open the session store: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Builds the session for `options`: opens its store, and restores unfinished work a
/// previous process left in a file store. Returns the session and how many operations
/// were restored.
pub fn open_session(options: &Options) -> Result<(HostSession, usize), OpenError> {
    let store = match &options.store {
        StoreOptions::Memory { max_bytes } => HostStore::Memory(VecStore::new(*max_bytes)),
        StoreOptions::File { dir, max_bytes } => {
            HostStore::File(FileStore::open(dir, *max_bytes).map_err(OpenError::Store)?)
        }
    };
    let max = options.max_incoming_packet.max(64);
    let rx = vec![0u8; RX_INITIAL.min(max)];
    options
        .with_config(|c| HostSession::restore_with_rx_capacity(c, store, rx, max))
        .map_err(OpenError::Session)
}

/// Filters the application gave as strings, checked into [`TopicFilter`]s for the
/// session; an invalid one is `Encode(InvalidTopicFilter)`, refused before anything is
/// queued.
pub fn topic_filters<'a>(
    filters: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<TopicFilter<'a>>, mqtt_session::Error> {
    filters
        .into_iter()
        .map(mqtt_session::topic_filter)
        .collect()
}

/// Filters with their options, as the application gave them, checked into
/// [`Subscription`]s for the session (see [`topic_filters`]).
pub fn subscriptions(
    filters: &[(String, SubscriptionOptions)],
) -> Result<Vec<Subscription<'_>>, mqtt_session::Error> {
    filters
        .iter()
        .map(|(f, options)| {
            mqtt_session::topic_filter(f).map(|filter| Subscription {
                filter,
                options: *options,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_session::{ConnState, Event, Instant};

    fn connected() -> HostSession {
        let mut o = Options::new("mqtt://127.0.0.1:1883", "rx-test").unwrap();
        o.version = mqtt_proto::ProtocolVersion::V3_1_1;
        let (mut s, _) = open_session(&o).unwrap();
        let now = Instant::from_millis(0);
        s.connect(now);
        while s.poll_event().is_some() {}
        s.handle_transport_up(now);
        let mut out = [0u8; 256];
        assert!(s.poll_transmit(now, &mut out).unwrap() > 0); // the CONNECT
        let connack = [0x20, 0x02, 0x00, 0x00];
        s.read_buffer()[..4].copy_from_slice(&connack);
        s.handle_read(now, 4);
        assert!(matches!(s.poll_event(), Some(Event::Connected { .. })));
        assert_eq!(s.state(), ConnState::Connected);
        s
    }

    /// A read of `n` bytes, as an adapter does it: into the read buffer, then handle_read.
    fn read(s: &mut HostSession, n: usize) {
        s.read_buffer()[..n].fill(0x30);
        s.handle_read(Instant::from_millis(1), n);
    }

    /// Reads that fill the buffer double it up to RX_BURST; a partial read does not.
    #[test]
    fn full_reads_grow_the_receive_buffer_up_to_the_burst_size() {
        let mut s = connected();
        assert_eq!(s.rx_buffer_mut().len(), RX_INITIAL);
        read(&mut s, 10);
        assert!(!rx_after_read(&mut s), "room left: no growth");
        let mut len = RX_INITIAL;
        while len < RX_BURST {
            let free = s.read_buffer().len();
            read(&mut s, free);
            assert!(rx_after_read(&mut s));
            len *= 2;
            assert_eq!(s.rx_buffer_mut().len(), len.min(RX_BURST));
        }
        let free = s.read_buffer().len();
        read(&mut s, free);
        assert!(!rx_after_read(&mut s), "at the burst size");
        assert_eq!(s.rx_buffer_mut().len(), RX_BURST);
    }

    /// Idle, the grown buffer goes back to RX_INITIAL, but never while it holds part of
    /// a packet: those bytes survive and the packet completes.
    #[test]
    fn idle_shrink_keeps_buffered_bytes() {
        let mut s = connected();
        let now = Instant::from_millis(1);
        assert!(
            !shrink_rx(&mut s),
            "nothing to give back at the initial size"
        );
        s.rx_buffer_mut().resize(2 * RX_INITIAL, 0); // as a burst grows it
        // The first 3 bytes of a 12-byte QoS 0 PUBLISH to "a/b" with payload "hello".
        let publish = [
            0x30, 0x0a, 0x00, 0x03, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o',
        ];
        s.read_buffer()[..3].copy_from_slice(&publish[..3]);
        s.handle_read(now, 3);
        assert!(s.poll_event().is_none(), "incomplete");
        assert!(!shrink_rx(&mut s), "3 bytes are buffered");
        assert_eq!(s.rx_buffer_mut().len(), 2 * RX_INITIAL);
        s.read_buffer()[..9].copy_from_slice(&publish[3..]);
        s.handle_read(now, 9);
        match s.poll_event() {
            Some(Event::Message(m)) => assert_eq!((m.topic, m.payload), ("a/b", &b"hello"[..])),
            other => panic!("{other:?}"),
        }
        while s.poll_event().is_some() {}
        assert!(shrink_rx(&mut s));
        assert_eq!(s.rx_buffer_mut().len(), RX_INITIAL);
        assert_eq!(s.rx_buffer_mut().capacity(), RX_INITIAL);
    }
}

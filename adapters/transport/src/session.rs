//! The session as the host adapters instantiate it, and how they build it from [`Options`].

use mqtt_session::{Heap, Session, VecStore};

use crate::file_store::FileStore;
use crate::options::{Options, StoreOptions};
use crate::store::HostStore;

/// Operations (publishes, subscribes, unsubscribes) queued or in flight at once.
pub const OUTBOX: usize = 64;
/// QoS 1/2 messages the server may have in flight to us (our Receive Maximum). 3.1.1
/// cannot announce it, so it must be at least what brokers send unasked (mosquitto: 20).
pub const INBOX: usize = 64;

/// The session type of the std and tokio adapters.
/// Its receive buffer is a `Vec` that [`grow_rx`] enlarges on demand up to
/// `Options::max_incoming_packet`, so an idle connection holds [`RX_INITIAL`] bytes; its
/// in-flight tables are [`Heap`] rings, empty (no memory) while nothing is in flight.
pub type HostSession = Session<HostStore, Vec<u8>, OUTBOX, INBOX, Heap>;

/// The receive buffer a session starts with (it grows when a larger packet arrives).
pub const RX_INITIAL: usize = 1024;

/// Doubles the session's receive buffer (up to the largest packet accepted) when it is
/// full of one incomplete packet, i.e. [`Session::read_buffer`] is empty. True if it grew.
pub fn grow_rx(session: &mut HostSession, max: usize) -> bool {
    if !session.read_buffer().is_empty() {
        return false;
    }
    let rx = session.rx_buffer_mut();
    let len = rx.len();
    if len >= max {
        return false;
    }
    rx.resize((len * 2).clamp(RX_INITIAL, max), 0);
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

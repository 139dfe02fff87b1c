//! The session as the host adapters instantiate it, and how they build it from [`Options`].

use mqtt_session::{Session, VecStore};

use crate::file_store::FileStore;
use crate::options::{Options, StoreOptions};
use crate::store::HostStore;

/// Operations (publishes, subscribes, unsubscribes) queued or in flight at once.
pub const OUTBOX: usize = 64;
/// QoS 1/2 messages the server may have in flight to us (our Receive Maximum). 3.1.1
/// cannot announce it, so it must be at least what brokers send unasked (mosquitto: 20).
pub const INBOX: usize = 64;

/// The session type of the std and tokio adapters.
pub type HostSession = Session<HostStore, Box<[u8]>, OUTBOX, INBOX>;

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
    let rx = vec![0u8; options.max_incoming_packet.max(64)].into_boxed_slice();
    options
        .with_config(|c| HostSession::restore(c, store, rx))
        .map_err(OpenError::Session)
}

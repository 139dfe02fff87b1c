//! What the std and tokio adapters share, so that each is written once: broker URLs,
//! rustls TLS configuration, the owned connection options, the clock, owned messages,
//! the session type and its store (in memory or crash-safe files). No protocol logic
//! lives here: that is the session's.

pub mod clock;
pub mod file_store;
pub mod message;
pub mod options;
pub mod session;
pub mod store;
pub mod tls;
pub mod url;

pub use clock::Clock;
pub use file_store::{Durability, FileStore, FileStoreConfig};
pub use message::Message;
pub use options::{Options, Secret, StoreOptions, WillOptions};
pub use session::{
    HostSession, INBOX, OUTBOX, OpenError, RX_BURST, RX_INITIAL, grow_rx, open_session,
    rx_after_read, shrink_rx, subscriptions, topic_filters,
};
pub use store::HostStore;
pub use tls::{Roots, TlsError, TlsOptions};
pub use url::{BrokerUrl, Scheme, UrlError};

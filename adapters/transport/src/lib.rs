//! What the std and tokio adapters share, so that each is written once: broker URLs,
//! rustls TLS configuration, the owned connection options, the clock, and a crash-safe
//! file-backed [`mqtt_session::Store`]. No protocol logic lives here: that is the session's.

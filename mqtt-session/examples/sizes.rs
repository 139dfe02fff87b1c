//! Prints `size_of` of the session for the configurations the adapters use.
//!
//! `cargo run -p mqtt-session --example sizes --features alloc`
use mqtt_session::{ArenaStore, Heap, Inline, Session, VecStore};

/// Embedded: 8 operations in flight, 8 incoming, 1 KiB receive buffer, 2 KiB store.
pub type Embedded = Session<ArenaStore<24, 2048>, [u8; 1024], 8, 8>;
/// Host adapters: 256 operations out and 64 in on heap tables (`mqtt_transport::OUTBOX`,
/// `INBOX`), heap store and receive buffer.
pub type Host = Session<VecStore, Vec<u8>, 256, 64, Heap>;
/// The host shape with the tables inline instead (what the adapters used before, with 64
/// operations out).
pub type HostInline = Session<VecStore, Vec<u8>, 64, 64, Inline>;

fn main() {
    println!(
        "embedded (ArenaStore<24, 2048>, [u8; 1024], OUT 8, IN 8): {} bytes",
        size_of::<Embedded>()
    );
    println!(
        "  of which store {} and receive buffer 1024",
        size_of::<ArenaStore<24, 2048>>()
    );
    println!(
        "  protocol state alone: {} bytes",
        size_of::<Embedded>() - size_of::<ArenaStore<24, 2048>>() - 1024
    );
    println!(
        "host (VecStore, Vec<u8>, OUT 256, IN 64, Heap tables): {} bytes (+ heap: receive \
         buffer, store records, and the tables only while operations are in flight)",
        size_of::<Host>()
    );
    println!(
        "host with Inline tables (OUT 64, IN 64): {} bytes",
        size_of::<HostInline>()
    );
}

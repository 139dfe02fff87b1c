//! Prints `size_of` of the session for the configurations the adapters use.
//!
//! `cargo run -p mqtt-session --example sizes --features alloc`
use mqtt_session::{ArenaStore, Session};

/// Embedded: 8 operations in flight, 8 incoming, 1 KiB receive buffer, 2 KiB store.
pub type Embedded = Session<ArenaStore<24, 2048>, [u8; 1024], 8, 8>;
/// Host adapters: 64 in flight each way, heap store and heap receive buffer.
pub type Host = Session<mqtt_session::VecStore, Box<[u8]>, 64, 64>;

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
        "host (VecStore, Box<[u8]>, OUT 64, IN 64): {} bytes (+ heap: receive buffer and records)",
        size_of::<Host>()
    );
}

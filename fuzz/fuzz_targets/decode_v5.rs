//! decode_v5: arbitrary bytes through an MQTT 5.0 decoder.
//!
//! Invariants (implemented in `mqtt_fuzz::check_decode` and `check_packet`, src/lib.rs):
//! - no input panics, loops or reads out of bounds;
//! - `decode` agrees with `frame` (the fixed-header parser); on `Packet { consumed }`,
//!   `2 <= consumed <= input length` and `consumed` is the total the fixed header announces;
//! - byte at a time (growing prefixes): `Incomplete(Header)` while the fixed header is short
//!   (never at 5 bytes or more), then `Incomplete(Total(t))` with the one total `t` of the
//!   whole input, then from one prefix length `k` on exactly the whole input's result:
//!   a packet settles at `k == consumed` (the same packet), an error in the body at
//!   `k == total`, an error in the fixed header at the byte that shows it (`k <= 5`,
//!   and every longer prefix gives that same error); an incomplete input never settles.
//!   So a prefix is either incomplete or gives the whole input's result, never another error;
//! - `decode_exact` agrees (`TrailingBytes` when more follows, `Truncated` when short);
//! - `max_packet_size(total)` changes nothing, `max_packet_size(total - 1)` is
//!   `PacketTooLarge { size: total, max: total - 1 }` from the fixed header alone;
//! - the first packet re-encodes (CONNECT with its own version) to at most `consumed` bytes
//!   that decode to an equal packet (bytes may differ from the input: short forms); the
//!   encoding is a fixed point; `encode`, `encode_to` and `OwnedPacket` agree; an undersized
//!   buffer is `BufferTooSmall` and untouched; the packet rebuilt from its iterated list items
//!   is equal and encodes identically; encoded for 3.1 or 3.1.1 it round-trips there or fails
//!   with a version error (properties, 5.0-only reason codes, AUTH, a topic alias). The one
//!   encoder refusal allowed: a 3.x CONNECT (CONNECT carries its own level, so a 5.0 decoder
//!   reads 3.x ones too) with an empty client id and clean session 0 (MQTT-3.1.3-7/8).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_fuzz::decode_v5(data));

//! roundtrip: decode -> encode -> decode for every packet of a stream, in any version.
//!
//! Input: the first byte selects the version (`b % 3`: 0 = 3.1, 1 = 3.1.1, 2 = 5.0); the rest
//! is decoded packet after packet until it is incomplete or malformed.
//!
//! Invariants, for every packet decoded (`mqtt_fuzz::check_packet`, src/lib.rs):
//! - no input panics; each packet takes `2 <= consumed <= remaining` bytes;
//! - `encoded_len` (CONNECT with its own version; asking for another version is
//!   `VersionMismatch`) is exact and at most `consumed`: re-encoding never grows a packet;
//! - the encoded bytes decode to an equal packet (compare packets, not bytes: a 5.0 ack with
//!   an explicit Success code, or an empty property block, re-encodes in its short form);
//!   encoding that packet gives the same bytes (a fixed point);
//! - `encode` into a buffer one byte short is `BufferTooSmall { required }` and writes nothing;
//!   `encode_to` (a `BufMut`) and `OwnedPacket` give the same bytes and the same packet;
//! - the packet rebuilt from the items its lists yield (properties, subscriptions, filters,
//!   reason codes) is equal and encodes to the same bytes: lazy iteration loses nothing and the
//!   encoder accepts whatever the decoder validated;
//! - encoded for each other version it either decodes there to an equal packet or is refused
//!   with an error that version explains (nothing between 3.1 and 3.1.1; `NotInVersion`,
//!   a CONNACK/SUBACK `InvalidReasonCode` or an aliased empty topic going down from 5.0; a
//!   3.1.1 UNSUBACK, which has no reason codes, going up);
//! - the one encoder refusal allowed: a 3.x CONNECT with an empty client id and clean session
//!   0, which a server receives but a client may not send (MQTT-3.1.3-7/8).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mqtt_fuzz::roundtrip(data));

//! A zero-copy, `no_std` codec for every MQTT 3.1, 3.1.1 and 5.0 control packet.
//!
//! # What goes in, what comes out, who owns the bytes
//! - **Decode**: hand [`Decoder::decode`] the bytes received so far. It returns
//!   [`Decoded::Incomplete`] (with the packet's total length once the fixed header is
//!   buffered) or one [`Packet`] and how many bytes it `consumed`. The packet borrows
//!   topics, payloads, client ids, credentials and properties from your buffer: nothing
//!   is copied or allocated. A packet larger than [`Decoder::max_packet_size`] fails from
//!   its fixed header alone, before its body is buffered.
//! - **Encode**: [`Packet::encoded_len`] gives the exact size (and checks the packet);
//!   [`Packet::encode`] writes into your `&mut [u8]`, or reports
//!   [`EncodeError::BufferTooSmall`] with the size required.
//! - **Errors**: a malformed input is a typed [`DecodeError`] whose
//!   [`DecodeError::reason_code`] is the DISCONNECT reason to send; no input panics,
//!   loops or reads out of bounds.
//!
//! The codec decodes and encodes every packet type in both directions, so it serves
//! clients, test brokers, proxies and dissectors alike.
//!
//! ```
//! use mqtt_proto::{Decoded, Decoder, Packet, Properties, ProtocolVersion, Publish, QosPid, TopicName};
//!
//! let publish = Packet::Publish(Publish {
//!     dup: false,
//!     qos: QosPid::AtMostOnce,
//!     retain: false,
//!     topic: TopicName::from_static("sensors/1/temp"),
//!     properties: Properties::empty(),
//!     payload: b"21.5",
//! });
//! let v = ProtocolVersion::V3_1_1; // or V5, with the `v5` feature (on by default)
//! let mut buf = [0u8; 64];
//! let n = publish.encode(v, &mut buf).unwrap();
//! assert_eq!(n, publish.encoded_len(v).unwrap());
//!
//! match Decoder::new(v).decode(&buf[..n]).unwrap() {
//!     Decoded::Packet { packet, consumed } => {
//!         assert_eq!(packet, publish);
//!         assert_eq!(consumed, n);
//!     }
//!     Decoded::Incomplete(_) => unreachable!(),
//! }
//! ```
//!
//! # Features
//! - default: `no_std`, no allocation; `v5` (MQTT 5.0), `decode-connect` (decoding
//!   CONNECT, which only a server receives) and `encode-server` (encoding CONNACK, SUBACK
//!   and UNSUBACK, which only a server sends) on. A client may leave the last two out.
//! - `alloc`: `OwnedPacket`, a received packet that owns its bytes.
//! - `std`: `alloc`, for std users.
//! - `bytes`: `Packet::encode_to` into a `bytes::BufMut`, and `Bytes`-backed owned packets.
//! - `defmt`: `defmt::Format` on every public type.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod codec;
mod error;
mod framing;
mod list;
#[cfg(feature = "alloc")]
mod owned;
mod packet;
mod property;
mod reason_code;
pub mod topic;
pub mod varint;
mod version;

pub use error::{DecodeError, EncodeError};
pub use framing::{FixedHeader, Frame, Needed, frame};
pub use list::{Item, Iter, List};
#[cfg(feature = "alloc")]
pub use owned::OwnedPacket;
pub use packet::{
    Ack, Auth, ConnAck, Connect, Decoded, Decoder, Disconnect, Packet, PacketType, Publish,
    ReceivedWill, RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will, WillRef,
};
pub use property::{Properties, Property, PropertyContext, PropertyId};
pub use reason_code::ReasonCode;
pub use topic::{TopicFilter, TopicName};
pub use version::{PacketId, ProtocolVersion, QoS, QosPid};

//! The embedded adapter: the session over `embedded-io-async` / `embedded-io` transports (being written).
#![no_std]
#![forbid(unsafe_code)]

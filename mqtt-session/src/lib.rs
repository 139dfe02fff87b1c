//! The MQTT client session as a pure state machine: bytes, time and commands in; bytes, events and deadlines out.
#![no_std]
#![forbid(unsafe_code)]

//! Every deadline of the session in one table; `poll_timeout` is its minimum and a
//! spurious `handle_timeout` (nothing expired) does nothing.

use crate::time::Instant;

/// The session's deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Timers {
    /// Ask for a new transport (reconnect backoff).
    pub reconnect: Option<Instant>,
    /// Transport up and CONNACK received by then, or the attempt failed.
    pub connect: Option<Instant>,
    /// Send PINGREQ (nothing sent or nothing received for the keepalive interval).
    pub keepalive: Option<Instant>,
    /// PINGRESP by then, or the connection is dead.
    pub ping: Option<Instant>,
}

impl Timers {
    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        [self.reconnect, self.connect, self.keepalive, self.ping]
            .into_iter()
            .flatten()
            .min()
    }

    /// Clears every deadline that belongs to a connection.
    pub fn clear_connection(&mut self) {
        self.connect = None;
        self.keepalive = None;
        self.ping = None;
    }

    /// True if `t` is set and has come.
    pub fn expired(t: Option<Instant>, now: Instant) -> bool {
        t.is_some_and(|t| t <= now)
    }
}

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
    ///
    /// Pairwise, not the minimum of an array: on bare metal that array is copied with
    /// `__aeabi_memcpy8`, whose only call site this was (156 bytes of flash).
    pub fn next(&self) -> Option<Instant> {
        fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, None) => a,
                (None, b) => b,
            }
        }
        earlier(
            earlier(self.reconnect, self.connect),
            earlier(self.keepalive, self.ping),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `next` against the minimum over all four, for every pattern of set deadlines and
    /// every order of their values (ties included).
    #[test]
    fn next_is_the_earliest_set_deadline() {
        let values = [None, Some(1), Some(2), Some(3), Some(4)];
        for r in values {
            for c in values {
                for k in values {
                    for p in values {
                        let t = |v: Option<u64>| v.map(Instant::from_millis);
                        let timers = Timers {
                            reconnect: t(r),
                            connect: t(c),
                            keepalive: t(k),
                            ping: t(p),
                        };
                        let want = [r, c, k, p].into_iter().flatten().min();
                        assert_eq!(timers.next(), t(want), "{timers:?}");
                    }
                }
            }
        }
    }
}

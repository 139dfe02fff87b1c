//! The session's clock for hosts: milliseconds since an epoch taken at start, from a
//! monotonic clock, and a seed for the session's PRNG from the OS's hash randomness.

use std::time::Instant as StdInstant;

use mqtt_session::Instant;

/// Converts between `std::time::Instant` and the session's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: StdInstant,
}

impl Clock {
    /// A clock whose epoch is `epoch` (tokio callers pass `tokio::time::Instant::into_std`,
    /// so paused test time works).
    pub fn with_epoch(epoch: StdInstant) -> Self {
        Clock { epoch }
    }

    /// The session's time for the std instant `t` (saturating at the epoch).
    pub fn at(&self, t: StdInstant) -> Instant {
        let ms = t.saturating_duration_since(self.epoch).as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// The std instant of the session's time `t`.
    pub fn to_std(&self, t: Instant) -> StdInstant {
        self.epoch + std::time::Duration::from_millis(t.as_millis())
    }
}

/// 64 random bits for the session's PRNG seed (reconnect jitter), from std's per-process
/// hash keys, which the OS seeds; no extra dependency.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        StdInstant::now()
            .elapsed()
            .as_nanos()
            .try_into()
            .unwrap_or(0),
    );
    h.finish()
}

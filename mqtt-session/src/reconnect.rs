//! Reconnect policy: exponential backoff with jitter, a cap, optional attempt limit.
//!
//! Delay for attempt `n` (0-based): `base = min(cap, initial * multiplier^n)`, then
//! jitter draws uniformly from `[base * (100 - jitter_percent) / 100, base]` using the
//! session's seeded RNG. The attempt count resets once a connection stayed up for
//! `stable_after`.

use crate::rng::Rng;
use crate::time::Duration;

/// When and how often the session asks for a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReconnectPolicy {
    /// Reconnect automatically at all (default true).
    pub enabled: bool,
    /// Delay before the first retry (default 1 s).
    pub initial_delay: Duration,
    /// Growth factor per failed attempt (default 2).
    pub multiplier: u32,
    /// Largest delay (default 30 s).
    pub max_delay: Duration,
    /// How much of the delay is random, 0..=100 percent (default 50).
    pub jitter_percent: u8,
    /// Give up after this many consecutive failed attempts (default: never).
    pub max_attempts: Option<u32>,
    /// A connection that stayed up this long resets the backoff (default 10 s).
    pub stable_after: Duration,
    /// Keep retrying after a refusal that will not fix itself (bad credentials,
    /// not authorized, banned, ...). Default false: such a refusal stops the session.
    pub retry_fatal_refusals: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_secs(1),
            multiplier: 2,
            max_delay: Duration::from_secs(30),
            jitter_percent: 50,
            max_attempts: None,
            stable_after: Duration::from_secs(10),
            retry_fatal_refusals: false,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before retry number `attempt` (0-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let mut ms = self.initial_delay.as_millis();
        let cap = self.max_delay.as_millis();
        for _ in 0..attempt {
            ms = ms.saturating_mul(u64::from(self.multiplier.max(1)));
            if ms >= cap {
                break;
            }
        }
        Duration::from_millis(ms.min(cap))
    }

    /// The bounds `[low, high]` a jittered delay for `attempt` falls in.
    pub fn delay_bounds(&self, attempt: u32) -> (Duration, Duration) {
        let high = self.base_delay(attempt).as_millis();
        let jitter = u64::from(self.jitter_percent.min(100));
        let low = high * (100 - jitter) / 100;
        (Duration::from_millis(low), Duration::from_millis(high))
    }

    /// The delay before retry number `attempt`, jittered with `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let (low, high) = self.delay_bounds(attempt);
        let span = high.as_millis() - low.as_millis();
        Duration::from_millis(low.as_millis() + rng.below(span + 1))
    }
}

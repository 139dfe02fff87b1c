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
        let keep = 100 - u32::from(self.jitter_percent.min(100));
        // high * keep / 100 without the product (it overflows past u64::MAX / 100 ms) and
        // without a 64-bit division (a runtime routine of 0.9 KB on 32-bit targets).
        let (q, r) = div100(high);
        let low = q * u64::from(keep) + u64::from(r * keep / 100);
        (Duration::from_millis(low), Duration::from_millis(high))
    }

    /// The delay before retry number `attempt`, jittered with `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let (low, high) = self.delay_bounds(attempt);
        let span = high.as_millis() - low.as_millis();
        // `span + 1` overflows only for the whole u64 range, where every value is fair.
        let offset = match span.checked_add(1) {
            Some(n) => rng.below(n),
            None => rng.next_u64(),
        };
        Duration::from_millis(low.as_millis() + offset)
    }
}

/// `(x / 100, x % 100)` by a multiply with the reciprocal, as LLVM does for 64-bit targets:
/// thumbv7em has no 64-bit divide, and LLVM calls `__aeabi_uldivmod` there instead.
fn div100(x: u64) -> (u64, u32) {
    // floor(x / 100) = floor(floor(x / 4) * M / 2^66) with M = ceil(2^68 / 100) / 4.
    let q = ((u128::from(x >> 2) * 0x28F5_C28F_5C28_F5C3) >> 66) as u64;
    (q, (x - q * 100) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div100_agrees_with_division_at_the_edges() {
        let edges = [
            0,
            1,
            99,
            100,
            101,
            199,
            200,
            u64::MAX,
            u64::MAX - 1,
            u64::MAX / 100 * 100,
        ];
        for x in edges {
            assert_eq!(div100(x), (x / 100, (x % 100) as u32), "{x}");
        }
        let mut rng = Rng::new(7);
        for _ in 0..100_000 {
            let x = rng.next_u64() >> (rng.next_u64() % 64);
            assert_eq!(div100(x), (x / 100, (x % 100) as u32), "{x}");
        }
        for k in 0..64 {
            for d in [-1i64, 0, 1] {
                let x = (1u64 << k).wrapping_add(d as u64);
                assert_eq!(div100(x), (x / 100, (x % 100) as u32), "{x}");
            }
        }
    }

    #[test]
    fn jitter_bounds_hold_for_the_largest_delays() {
        let policy = ReconnectPolicy {
            initial_delay: Duration::from_millis(u64::MAX),
            max_delay: Duration::from_millis(u64::MAX),
            jitter_percent: 30,
            ..ReconnectPolicy::default()
        };
        let (low, high) = policy.delay_bounds(5);
        assert_eq!(high.as_millis(), u64::MAX);
        assert_eq!(u128::from(low.as_millis()), u128::from(u64::MAX) * 70 / 100);
        let d = policy.delay(5, &mut Rng::new(1));
        assert!(low <= d && d <= high);
        let all = ReconnectPolicy {
            jitter_percent: 100,
            ..policy
        };
        assert_eq!(all.delay_bounds(5).0, Duration::ZERO);
        let mut rng = Rng::new(3);
        let draws: [u64; 4] = core::array::from_fn(|_| all.delay(5, &mut rng).as_millis());
        assert!(draws.iter().any(|&d| d != draws[0]), "{draws:?}");
    }
}

//! Time for the adapter: a [`Clock`] that reads the current time as the session's
//! [`Instant`], and an async [`Timer`] that waits for a deadline on the same clock.
//!
//! The session counts milliseconds from an epoch the caller chooses; the clock and the
//! timer must agree on it. With the `embassy-time` feature, [`EmbassyClock`] is both.

use mqtt_session::Instant;

/// Reads the current time in milliseconds from a fixed epoch (a SysTick counter, an
/// RTC, `embassy_time::Instant::now()`...). It must never go backwards.
pub trait Clock {
    /// Now.
    fn now(&self) -> Instant;
}

/// Waits (asynchronously) until a point in time of the same [`Clock`].
///
/// The future may be dropped before it completes: the adapter races it against a read
/// and drops whichever loses, so it must hold no state that dropping would corrupt.
#[allow(async_fn_in_trait)]
pub trait Timer {
    /// Completes at or after `deadline` (at once if it has passed).
    async fn wait_until(&mut self, deadline: Instant);
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &mut C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

impl<T: Timer + ?Sized> Timer for &mut T {
    async fn wait_until(&mut self, deadline: Instant) {
        (**self).wait_until(deadline).await
    }
}

/// The clock and timer of `embassy-time`: milliseconds since embassy's epoch (boot).
///
/// The firmware must link an `embassy-time` driver (for example the one of its HAL).
#[cfg(feature = "embassy-time")]
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EmbassyClock;

#[cfg(feature = "embassy-time")]
impl Clock for EmbassyClock {
    fn now(&self) -> Instant {
        Instant::from_millis(embassy_time::Instant::now().as_millis())
    }
}

#[cfg(feature = "embassy-time")]
impl Timer for EmbassyClock {
    async fn wait_until(&mut self, deadline: Instant) {
        embassy_time::Timer::at(embassy_time::Instant::from_millis(deadline.as_millis())).await
    }
}

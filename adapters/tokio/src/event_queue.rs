//! The way from the driver task to [`crate::Events`]: a bounded queue of events under a
//! short mutex, inside the state the driver already shares with the handles.
//!
//! It replaces a tokio `mpsc` channel of boxed events, which cost every connection 800
//! bytes (the channel's own allocation, 512, and its first block of 32 slots, 288) even
//! when no event was ever read, plus a box per event. Here an idle connection holds only
//! the events not yet read (one allocation the size of one event for the usual
//! `Connected`); the memory of a burst is given back at the next idle keepalive
//! ([`EventQueue::shrink`]).
//!
//! - Bounded: the driver pushes only while fewer than `capacity` events wait; otherwise
//!   it keeps the event it has (see the driver) and waits for room
//!   ([`EventQueue::poll_room`]), reading nothing meanwhile.
//! - The application's [`EventQueue::poll_recv`] keeps no state between polls, so a
//!   dropped `recv` future loses nothing (cancel-safe).
//! - Either end going away is seen by the other: a dropped [`crate::Events`] wakes the
//!   driver (which then stops delivering), an ended driver makes `recv` return `None`
//!   once the events already queued are read.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::event::Event;

/// The queue, shared by the driver (the only producer) and [`crate::Events`] (the only
/// consumer).
pub(crate) struct EventQueue {
    inner: Mutex<Inner>,
}

struct Inner {
    events: VecDeque<Event>,
    capacity: usize,
    /// `recv` waits for an event.
    receiver: Option<Waker>,
    /// The driver waits for room or for the receiver to go.
    driver: Option<Waker>,
    /// The driver waits for room: the next event taken wakes it.
    room_wanted: bool,
    /// [`crate::Events`] was dropped: nothing more is queued.
    receiver_gone: bool,
    /// The driver has ended: `recv` returns `None` once the queue is empty.
    driver_gone: bool,
}

/// What [`EventQueue::push`] did with an event.
pub(crate) enum Push {
    /// Queued for the receiver.
    Queued,
    /// `capacity` events wait already: the event is given back.
    Full(Event),
    /// The receiver is gone (the event is dropped).
    Closed,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.lock();
        f.debug_struct("EventQueue")
            .field("len", &q.events.len())
            .field("capacity", &q.capacity)
            .finish_non_exhaustive()
    }
}

impl EventQueue {
    /// Holds at most `capacity` (at least 1) events; allocates nothing yet.
    pub(crate) fn new(capacity: usize) -> Self {
        EventQueue {
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                capacity: capacity.max(1),
                receiver: None,
                driver: None,
                room_wanted: false,
                receiver_gone: false,
                driver_gone: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing in `Inner` is left half-updated by a panic that matters more than the
        // connection would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver queues an event, and wakes the receiver.
    pub(crate) fn push(&self, ev: Event) -> Push {
        let mut q = self.lock();
        if q.receiver_gone {
            return Push::Closed;
        }
        if q.events.len() >= q.capacity {
            return Push::Full(ev);
        }
        if q.events.capacity() == 0 {
            // The first event of a quiet connection (usually `Connected`) takes room for
            // one, not the four a `VecDeque` starts with.
            q.events.reserve_exact(1);
        }
        q.events.push_back(ev);
        let waker = q.receiver.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        Push::Queued
    }

    /// The driver waits for room: `Ready(true)` once fewer than `capacity` events wait,
    /// `Ready(false)` if the receiver is gone.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut q = self.lock();
        if q.receiver_gone {
            return Poll::Ready(false);
        }
        if q.events.len() < q.capacity {
            return Poll::Ready(true);
        }
        q.room_wanted = true;
        set_waker(&mut q.driver, cx);
        Poll::Pending
    }

    /// The driver watches for the receiver to go: `Ready` once it has.
    pub(crate) fn poll_receiver_gone(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut q = self.lock();
        if q.receiver_gone {
            return Poll::Ready(());
        }
        set_waker(&mut q.driver, cx);
        Poll::Pending
    }

    /// The application takes the next event: `Ready(None)` once the driver has ended and
    /// every event was taken. Keeps no state between calls (cancel-safe).
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut q = self.lock();
        if let Some(ev) = q.events.pop_front() {
            let waker = Self::room_made(&mut q);
            drop(q);
            if let Some(w) = waker {
                w.wake();
            }
            return Poll::Ready(Some(ev));
        }
        if q.driver_gone {
            return Poll::Ready(None);
        }
        set_waker(&mut q.receiver, cx);
        Poll::Pending
    }

    /// The next event if one is queued.
    pub(crate) fn try_recv(&self) -> Option<Event> {
        let mut q = self.lock();
        let ev = q.events.pop_front()?;
        let waker = Self::room_made(&mut q);
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        Some(ev)
    }

    /// An event was taken: the driver's waker if it waits for room.
    fn room_made(q: &mut Inner) -> Option<Waker> {
        if std::mem::take(&mut q.room_wanted) {
            q.driver.take()
        } else {
            None
        }
    }

    /// [`crate::Events`] was dropped: drops what was queued and wakes the driver.
    pub(crate) fn receiver_gone(&self) {
        let mut q = self.lock();
        q.receiver_gone = true;
        q.room_wanted = false;
        let events = std::mem::take(&mut q.events);
        let waker = q.driver.take();
        drop(q);
        // Outside the lock: an event's drop runs arbitrary code (an `AckHandle`'s sender).
        drop(events);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The driver has ended: `recv` returns `None` after the events queued.
    pub(crate) fn driver_gone(&self) {
        let mut q = self.lock();
        q.driver_gone = true;
        let waker = q.receiver.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// At an idle moment: gives back the memory of a burst of events already read.
    pub(crate) fn shrink(&self) {
        let mut q = self.lock();
        if q.events.capacity() > q.events.len() {
            if q.events.is_empty() {
                q.events = VecDeque::new();
            } else {
                q.events.shrink_to_fit();
            }
        }
    }

    /// Events queued and not yet read (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().events.len()
    }
}

/// Stores `cx`'s waker in `slot` unless the one there wakes the same task.
fn set_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count::default());
        (c.clone(), Waker::from(c))
    }

    fn ev(i: u32) -> Event {
        Event::ReconnectScheduled {
            at: std::time::Instant::now(),
            attempt: i,
        }
    }

    fn attempt(ev: Option<Event>) -> Option<u32> {
        match ev {
            Some(Event::ReconnectScheduled { attempt, .. }) => Some(attempt),
            Some(other) => panic!("unexpected {other:?}"),
            None => None,
        }
    }

    /// Bounded: the event past `capacity` is given back, not queued nor lost; taking one
    /// makes room and wakes a driver that waits for it.
    #[test]
    fn full_queue_gives_the_event_back_and_wakes_the_driver_on_room() {
        let q = EventQueue::new(2);
        assert!(matches!(q.push(ev(1)), Push::Queued));
        assert!(matches!(q.push(ev(2)), Push::Queued));
        let back = match q.push(ev(3)) {
            Push::Full(e) => e,
            _ => panic!("a third event fit in a queue of 2"),
        };
        assert_eq!(q.len(), 2);
        let (driver, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_room(&mut cx).is_pending());
        assert_eq!(attempt(q.try_recv()), Some(1));
        assert_eq!(
            driver.0.load(Ordering::SeqCst),
            1,
            "room made: driver woken"
        );
        assert_eq!(q.poll_room(&mut cx), Poll::Ready(true));
        assert!(matches!(q.push(back), Push::Queued));
        assert_eq!(attempt(q.try_recv()), Some(2));
        assert_eq!(attempt(q.try_recv()), Some(3));
        assert_eq!(attempt(q.try_recv()), None);
    }

    /// A `recv` dropped while it waits takes nothing: the next one gets the event, and a
    /// push wakes the task that waits.
    #[test]
    fn recv_is_cancel_safe() {
        let q = Arc::new(EventQueue::new(4));
        let (app, w) = waker();
        let mut cx = Context::from_waker(&w);
        {
            let recv = pin!(std::future::poll_fn(|cx| q.poll_recv(cx)));
            assert!(recv.poll(&mut cx).is_pending());
        }
        assert!(matches!(q.push(ev(7)), Push::Queued));
        assert_eq!(
            app.0.load(Ordering::SeqCst),
            1,
            "the waiting task was woken"
        );
        let recv = pin!(std::future::poll_fn(|cx| q.poll_recv(cx)));
        match recv.poll(&mut cx) {
            Poll::Ready(e) => assert_eq!(attempt(e), Some(7)),
            Poll::Pending => panic!("the event was lost"),
        }
    }

    /// The receiver going away is seen by a driver that waits for room or watches for
    /// it; what was queued is dropped and nothing more is taken.
    #[test]
    fn receiver_gone_wakes_the_driver_and_refuses_events() {
        let q = EventQueue::new(1);
        assert!(matches!(q.push(ev(1)), Push::Queued));
        let (driver, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_room(&mut cx).is_pending());
        assert!(q.poll_receiver_gone(&mut cx).is_pending());
        q.receiver_gone();
        assert_eq!(driver.0.load(Ordering::SeqCst), 1);
        assert_eq!(q.poll_room(&mut cx), Poll::Ready(false));
        assert_eq!(q.poll_receiver_gone(&mut cx), Poll::Ready(()));
        assert!(matches!(q.push(ev(2)), Push::Closed));
        assert_eq!(q.len(), 0);
    }

    /// After the driver ends, `recv` still returns what was queued, then `None`; a
    /// waiting `recv` is woken.
    #[test]
    fn driver_gone_ends_recv_after_the_queued_events() {
        let q = EventQueue::new(4);
        let (app, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_recv(&mut cx).is_pending());
        assert!(matches!(q.push(ev(1)), Push::Queued));
        q.driver_gone();
        assert!(app.0.load(Ordering::SeqCst) >= 1);
        assert!(matches!(q.poll_recv(&mut cx), Poll::Ready(Some(_))));
        assert!(matches!(q.poll_recv(&mut cx), Poll::Ready(None)));
    }

    /// Memory: nothing before the first event, room for exactly one with it, and a
    /// burst's room given back once read.
    #[test]
    fn allocates_lazily_and_shrinks() {
        let q = EventQueue::new(256);
        assert_eq!(q.lock().events.capacity(), 0);
        assert!(matches!(q.push(ev(1)), Push::Queued));
        assert_eq!(q.lock().events.capacity(), 1);
        for i in 2..100 {
            assert!(matches!(q.push(ev(i)), Push::Queued));
        }
        while q.try_recv().is_some() {}
        assert!(q.lock().events.capacity() >= 99);
        q.shrink();
        assert_eq!(q.lock().events.capacity(), 0);
    }
}

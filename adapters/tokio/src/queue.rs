//! The way from the handles to the driver task: one bounded queue of commands under a
//! short mutex, and the answers to publishes without a channel per message.
//!
//! - A publish copies its topic (and a small payload) into the queue's buffers: no
//!   allocation per message once the buffers have grown to a burst's size. Other commands
//!   travel boxed, in the same queue, so every command keeps its order.
//! - The driver is woken only when it waits for commands (coalesced wake-ups); it takes
//!   the whole queue at once by swapping buffers with its own.
//! - A full queue makes the publisher wait (back-pressure); the driver stops taking while
//!   the session has no room, so the queue fills and publishers wait.
//! - Answers: each item has a sequence number; a QoS 0 publish is answered once the
//!   driver has handed every item up to it to the session (`done`, an atomic), so its
//!   future needs neither a slot nor a lock when it succeeds. A QoS 1/2 publish gets a
//!   slot in a slab (reused, no allocation per message) that the driver fills on
//!   PUBACK / PUBCOMP or loss, waking the future.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use mqtt_proto::{QoS, ReasonCode};
use tokio::sync::Notify;

use crate::client::{Command, Error, PayloadData, PublishAck, PublishProperties};

/// Payloads up to this size are copied into the queue's buffer (the caller's `Bytes` is
/// released at once, on its own thread); larger ones travel as they are.
const INLINE_MAX: usize = 512;

/// "No slot" / end of the free list.
const NONE: u32 = u32::MAX;

/// Memory kept for reuse between bursts, above which an idle queue gives it back.
const KEEP_ITEMS: usize = 64;

/// A publish or another command, in the order the handles queued them.
pub(crate) enum Item {
    Publish(PublishItem),
    /// Taken (`None`) once the driver handed it on.
    Command(Option<Box<Command>>),
}

impl PublishItem {
    /// QoS 1/2: the slot its future waits on.
    pub(crate) fn slot(&self) -> Option<u32> {
        (self.slot != NONE).then_some(self.slot)
    }
}

pub(crate) struct PublishItem {
    /// Byte range of the topic in [`Batch::text`].
    pub(crate) topic: (u32, u32),
    pub(crate) payload: Payload,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) properties: Option<Box<PublishProperties>>,
    /// QoS 1/2: the slot its future waits on.
    pub(crate) slot: u32,
}

pub(crate) enum Payload {
    /// Byte range in [`Batch::data`].
    Inline(u32, u32),
    Shared(Bytes),
}

/// Queued items and the bytes they refer to. The handles fill one; the driver swaps it
/// for its own empty one and works through it.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) items: Vec<Item>,
    pub(crate) text: String,
    pub(crate) data: Vec<u8>,
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.text.clear();
        self.data.clear();
    }

    /// Gives the memory back after a burst.
    fn shrink(&mut self) {
        if self.items.capacity() > KEEP_ITEMS {
            *self = Batch::default();
        }
    }
}

/// What a publish's future waits on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ticket {
    /// QoS 0: answered once `done` passes this sequence number.
    Seq(u64),
    /// QoS 1/2: a slot of the slab.
    Slot(u32),
}

enum Slot {
    Free {
        next: u32,
    },
    Waiting(Option<Waker>),
    Done(Result<PublishAck, Error>),
    /// The future was dropped first; the driver frees the slot when it completes.
    Abandoned,
}

struct Inner {
    batch: Batch,
    capacity: usize,
    /// Items ever queued: the next item's sequence number.
    pushed: u64,
    /// The driver is (about to be) waiting for commands: the next push wakes it.
    driver_waiting: bool,
    /// The driver's waker while it waits for commands. A slot, not a `Notify`: the
    /// driver's task holds no `Notified` future (80 bytes) while it waits.
    driver: Option<Waker>,
    /// A publisher waits for room.
    space_wanted: bool,
    /// The driver has ended: nothing more is taken or answered.
    closed: bool,
    /// Every [`crate::Client`] is gone.
    no_handles: bool,
    slots: Vec<Slot>,
    free: u32,
    live: usize,
    /// QoS 0 futures waiting for `done` to pass their sequence number.
    seq_waiters: Vec<(u64, Waker)>,
    /// QoS 0 futures dropped before their answer: a failure of theirs is not kept.
    seq_dropped: Vec<u64>,
    /// QoS 0 publishes the session refused, until their future takes the error.
    seq_failed: Vec<(u64, Error)>,
}

/// Shared between the handles and the driver.
pub(crate) struct Queue {
    inner: Mutex<Inner>,
    /// Items the driver has finished with: handed to the session, or failed. Written
    /// under the lock, read without it.
    done: AtomicU64,
    /// `seq_failed.len()`, readable without the lock.
    failed: AtomicUsize,
    /// Wakes publishers waiting for room.
    space: Notify,
}

/// What the driver learned when it took the queue.
pub(crate) struct Taken {
    /// Every handle is gone and nothing is queued.
    pub(crate) no_handles: bool,
}

/// Answers the driver collected during one turn, handed over under one lock.
#[derive(Default)]
pub(crate) struct Completions {
    pub(crate) slots: Vec<(u32, Result<PublishAck, Error>)>,
    /// QoS 0 refusals: (sequence number, error).
    pub(crate) failed: Vec<(u64, Error)>,
    /// Items finished so far (the new value of `done`).
    pub(crate) done: u64,
    /// `done` as last published.
    published: u64,
    wakers: Vec<Waker>,
}

impl Completions {
    /// Gives back the memory of a burst (keeps the counters).
    pub(crate) fn shrink(&mut self) {
        self.slots = Vec::new();
        self.failed = Vec::new();
        self.wakers = Vec::new();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.failed.is_empty() && self.done == self.published
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("done", &self.done.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Something for the driver: its waker if it waits for commands.
    fn driver_wake(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.driver_waiting) {
            self.driver.take()
        } else {
            None
        }
    }
}

/// The push of one publish into the queue (under its lock), for [`Queue::push_publish`]
/// and [`Queue::try_push_publish`]: the topic and a small payload are copied into the
/// batch's buffers; QoS 1/2 takes a slot for its answer. Called at most once with
/// success (a full queue does not call it).
fn publisher<'p>(
    topic: &'p str,
    payload: PayloadData<'p>,
    qos: QoS,
    retain: bool,
    properties: Option<Box<PublishProperties>>,
) -> impl FnMut(&mut Inner) -> Ticket + 'p {
    // A large borrowed payload is copied now, not under the queue's lock.
    let mut payload = Some(match payload {
        PayloadData::Borrowed(p) if p.len() > INLINE_MAX => {
            PayloadData::Owned(Bytes::copy_from_slice(p))
        }
        p => p,
    });
    let mut properties = Some(properties);
    move |q: &mut Inner| {
        let slot = if qos == QoS::AtMostOnce {
            NONE
        } else {
            q.alloc_slot()
        };
        let ticket = if slot == NONE {
            Ticket::Seq(q.pushed)
        } else {
            Ticket::Slot(slot)
        };
        let b = &mut q.batch;
        let t0 = b.text.len() as u32;
        b.text.push_str(topic);
        let topic = (t0, b.text.len() as u32);
        let payload = match payload.take() {
            Some(PayloadData::Owned(p)) if p.len() > INLINE_MAX => Payload::Shared(p),
            p => {
                let d0 = b.data.len() as u32;
                match &p {
                    Some(PayloadData::Owned(p)) => b.data.extend_from_slice(p),
                    Some(PayloadData::Borrowed(p)) => b.data.extend_from_slice(p),
                    None => {}
                }
                Payload::Inline(d0, b.data.len() as u32)
            }
        };
        b.items.push(Item::Publish(PublishItem {
            topic,
            payload,
            qos,
            retain,
            properties: properties.take().flatten(),
            slot,
        }));
        ticket
    }
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            inner: Mutex::new(Inner {
                batch: Batch::default(),
                capacity: capacity.max(1),
                pushed: 0,
                driver_waiting: false,
                driver: None,
                space_wanted: false,
                closed: false,
                no_handles: false,
                slots: Vec::new(),
                free: NONE,
                live: 0,
                seq_waiters: Vec::new(),
                seq_dropped: Vec::new(),
                seq_failed: Vec::new(),
            }),
            done: AtomicU64::new(0),
            failed: AtomicUsize::new(0),
            space: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave `Inner` half-updated in a way that matters more
        // than losing the connection would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a publish, waiting while the queue is full. Cancel-safe: nothing is queued
    /// unless this completes.
    pub(crate) async fn push_publish(
        &self,
        topic: &str,
        payload: PayloadData<'_>,
        qos: QoS,
        retain: bool,
        properties: Option<Box<PublishProperties>>,
    ) -> Result<Ticket, Error> {
        let mut push = publisher(topic, payload, qos, retain, properties);
        // Room now, the usual case: taken without building the waiting future.
        if let Some(ticket) = self.try_push(&mut push)? {
            return Ok(ticket);
        }
        self.push_with(push).await
    }

    /// Queues a publish if there is room now; [`Error::Full`] (nothing queued) if not.
    pub(crate) fn try_push_publish(
        &self,
        topic: &str,
        payload: PayloadData<'_>,
        qos: QoS,
        retain: bool,
        properties: Option<Box<PublishProperties>>,
    ) -> Result<Ticket, Error> {
        self.try_push(&mut publisher(topic, payload, qos, retain, properties))?
            .ok_or(Error::Full)
    }

    /// Queues another command, waiting while the queue is full. Cancel-safe likewise.
    pub(crate) async fn push_command(&self, cmd: Command) -> Result<(), Error> {
        let mut cmd = Some(Box::new(cmd));
        self.push_with(|q| q.batch.items.push(Item::Command(cmd.take())))
            .await
    }

    async fn push_with<R>(&self, mut push: impl FnMut(&mut Inner) -> R) -> Result<R, Error> {
        loop {
            if let Some(r) = self.try_push(&mut push)? {
                return Ok(r);
            }
            let notified = self.space.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before looking again, so room made in between is not missed.
            notified.as_mut().enable();
            if let Some(r) = self.try_push(&mut push)? {
                return Ok(r);
            }
            notified.await;
        }
    }

    fn try_push<R>(&self, push: &mut impl FnMut(&mut Inner) -> R) -> Result<Option<R>, Error> {
        let mut q = self.lock();
        if q.closed {
            return Err(Error::Closed);
        }
        // Byte offsets are u32: a queue holding ~2 GiB of topics or payloads counts as full.
        let bytes = q.batch.text.len().max(q.batch.data.len());
        if q.batch.items.len() >= q.capacity || bytes > (u32::MAX / 2) as usize {
            q.space_wanted = true;
            return Ok(None);
        }
        let r = push(&mut q);
        q.pushed += 1;
        let wake = q.driver_wake();
        drop(q);
        if let Some(w) = wake {
            w.wake();
        }
        Ok(Some(r))
    }

    /// The last handle is gone: the driver learns it when it next takes the queue.
    pub(crate) fn handles_gone(&self) {
        let mut q = self.lock();
        q.no_handles = true;
        let wake = q.driver_wake();
        drop(q);
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// The driver is about to wait: true if there is something to take now; otherwise the
    /// next push wakes [`Queue::driver_wakeup`].
    pub(crate) fn arm(&self) -> bool {
        let mut q = self.lock();
        if !q.batch.items.is_empty() || q.no_handles || q.closed {
            return true;
        }
        q.driver_waiting = true;
        false
    }

    /// Ready once a push (or the last handle going) follows [`Queue::arm`].
    pub(crate) fn poll_driver_wakeup(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut q = self.lock();
        if !q.driver_waiting {
            return Poll::Ready(());
        }
        match &q.driver {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.driver = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Swaps the queued items into `into` (which must be empty) and lets waiting
    /// publishers in.
    pub(crate) fn take(&self, into: &mut Batch) -> Taken {
        let mut q = self.lock();
        std::mem::swap(&mut q.batch, into);
        let space = std::mem::take(&mut q.space_wanted);
        let no_handles = q.no_handles && into.items.is_empty();
        drop(q);
        if space {
            self.space.notify_waiters();
        }
        Taken { no_handles }
    }

    /// Hands the driver's answers over: fills slots, advances `done`, wakes the futures.
    pub(crate) fn complete(&self, c: &mut Completions) {
        let mut guard = self.lock();
        let q = &mut *guard;
        for (slot, r) in c.slots.drain(..) {
            match q.slots.get_mut(slot as usize) {
                Some(s @ Slot::Waiting(_)) => {
                    if let Slot::Waiting(Some(w)) = std::mem::replace(s, Slot::Done(r)) {
                        c.wakers.push(w);
                    }
                }
                Some(Slot::Abandoned) => q.free_slot(slot),
                _ => {}
            }
        }
        for (seq, e) in c.failed.drain(..) {
            if !q.seq_dropped.contains(&seq) {
                q.seq_failed.push((seq, e));
            }
        }
        self.failed.store(q.seq_failed.len(), Ordering::Release);
        if c.done != c.published {
            c.published = c.done;
            self.done.store(c.done, Ordering::Release);
            let done = c.done;
            q.seq_dropped.retain(|&s| s >= done);
            let mut i = 0;
            while i < q.seq_waiters.len() {
                if q.seq_waiters[i].0 < done {
                    c.wakers.push(q.seq_waiters.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        drop(guard);
        for w in c.wakers.drain(..) {
            w.wake();
        }
    }

    /// The driver has ended: every waiting future gets `Closed`; pushes fail from now on.
    pub(crate) fn close(&self) {
        let mut wakers = Vec::new();
        let mut guard = self.lock();
        let q = &mut *guard;
        q.closed = true;
        q.batch = Batch::default();
        for i in 0..q.slots.len() {
            match &mut q.slots[i] {
                s @ Slot::Waiting(_) => {
                    if let Slot::Waiting(Some(w)) =
                        std::mem::replace(s, Slot::Done(Err(Error::Closed)))
                    {
                        wakers.push(w);
                    }
                }
                Slot::Abandoned => q.free_slot(i as u32),
                _ => {}
            }
        }
        wakers.extend(q.seq_waiters.drain(..).map(|(_, w)| w));
        drop(guard);
        for w in wakers {
            w.wake();
        }
        self.space.notify_waiters();
    }

    /// Releases memory kept from a burst (the driver calls this when idle).
    pub(crate) fn shrink(&self) {
        let mut q = self.lock();
        if q.batch.items.is_empty() {
            q.batch.shrink();
        }
        if q.live == 0 {
            q.slots = Vec::new();
            q.free = NONE;
        }
        if q.seq_waiters.is_empty() {
            q.seq_waiters = Vec::new();
        }
        if q.seq_dropped.is_empty() {
            q.seq_dropped = Vec::new();
        }
        if q.seq_failed.is_empty() {
            q.seq_failed = Vec::new();
        }
    }

    /// Polls a publish's answer.
    pub(crate) fn poll(
        &self,
        ticket: Ticket,
        cx: &mut Context<'_>,
    ) -> Poll<Result<PublishAck, Error>> {
        match ticket {
            Ticket::Seq(seq) => {
                if self.done.load(Ordering::Acquire) > seq {
                    return Poll::Ready(self.seq_result(seq));
                }
                let mut q = self.lock();
                if self.done.load(Ordering::Acquire) > seq {
                    drop(q);
                    return Poll::Ready(self.seq_result(seq));
                }
                if q.closed {
                    return Poll::Ready(Err(Error::Closed));
                }
                match q.seq_waiters.iter_mut().find(|(s, _)| *s == seq) {
                    Some((_, w)) => w.clone_from(cx.waker()),
                    None => q.seq_waiters.push((seq, cx.waker().clone())),
                }
                Poll::Pending
            }
            Ticket::Slot(slot) => {
                let mut q = self.lock();
                let Some(s) = q.slots.get_mut(slot as usize) else {
                    return Poll::Ready(Err(Error::Closed));
                };
                match s {
                    Slot::Waiting(w) => {
                        match w {
                            Some(w) => w.clone_from(cx.waker()),
                            None => *w = Some(cx.waker().clone()),
                        }
                        Poll::Pending
                    }
                    Slot::Done(_) => {
                        let Slot::Done(r) = std::mem::replace(s, Slot::Abandoned) else {
                            unreachable!("matched above")
                        };
                        q.free_slot(slot);
                        Poll::Ready(r)
                    }
                    Slot::Free { .. } | Slot::Abandoned => Poll::Ready(Err(Error::Closed)),
                }
            }
        }
    }

    /// A QoS 0 publish's answer, once `done` has passed it.
    fn seq_result(&self, seq: u64) -> Result<PublishAck, Error> {
        if self.failed.load(Ordering::Acquire) > 0 {
            let mut q = self.lock();
            if let Some(i) = q.seq_failed.iter().position(|(s, _)| *s == seq) {
                let (_, e) = q.seq_failed.swap_remove(i);
                self.failed.store(q.seq_failed.len(), Ordering::Release);
                return Err(e);
            }
        }
        Ok(PublishAck {
            reason_code: ReasonCode::Success,
        })
    }

    /// A publish's future is dropped before its answer was taken.
    pub(crate) fn forget(&self, ticket: Ticket) {
        match ticket {
            Ticket::Seq(seq) => {
                if self.done.load(Ordering::Acquire) > seq {
                    if self.failed.load(Ordering::Acquire) > 0 {
                        let _ = self.seq_result(seq);
                    }
                    return;
                }
                let mut q = self.lock();
                if self.done.load(Ordering::Acquire) > seq {
                    drop(q);
                    let _ = self.seq_result(seq);
                    return;
                }
                if !q.closed {
                    q.seq_dropped.push(seq);
                }
                q.seq_waiters.retain(|(s, _)| *s != seq);
            }
            Ticket::Slot(slot) => {
                let mut q = self.lock();
                match q.slots.get_mut(slot as usize) {
                    Some(s @ Slot::Waiting(_)) => *s = Slot::Abandoned,
                    Some(Slot::Done(_)) => q.free_slot(slot),
                    _ => {}
                }
            }
        }
    }
}

impl Inner {
    fn alloc_slot(&mut self) -> u32 {
        self.live += 1;
        if let Some(Slot::Free { next }) = self.slots.get(self.free as usize) {
            let i = self.free;
            self.free = *next;
            self.slots[i as usize] = Slot::Waiting(None);
            return i;
        }
        self.slots.push(Slot::Waiting(None));
        (self.slots.len() - 1) as u32
    }

    fn free_slot(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = Slot::Free { next: self.free };
            self.free = slot;
            self.live -= 1;
            if self.live == 0 {
                // Keeps the capacity for the next burst; `shrink` releases it when idle.
                self.slots.clear();
                self.free = NONE;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The queue alone, as the handles and the driver use it: every slot is released,
    //! whichever side finishes first; answers are the driver's; nothing is lost.

    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    use super::*;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<CountingWaker>, Waker) {
        let w = Arc::new(CountingWaker::default());
        (w.clone(), Waker::from(w))
    }

    /// An empty QoS 0 publish's push, not yet polled.
    fn push_empty(q: &Queue) -> impl Future<Output = Result<Ticket, Error>> + '_ {
        q.push_publish(
            "a/b",
            PayloadData::Borrowed(&[]),
            QoS::AtMostOnce,
            false,
            None,
        )
    }

    fn push(q: &Queue, qos: QoS, payload: &'static [u8]) -> Ticket {
        let fut = q.push_publish(
            "a/b",
            PayloadData::Owned(Bytes::from_static(payload)),
            qos,
            false,
            None,
        );
        let mut fut = std::pin::pin!(fut);
        let (_, w) = waker();
        match fut.as_mut().poll(&mut Context::from_waker(&w)) {
            Poll::Ready(r) => r.expect("queued"),
            Poll::Pending => panic!("the queue has room"),
        }
    }

    fn live(q: &Queue) -> usize {
        q.lock().live
    }

    use std::future::Future;

    #[test]
    fn slots_are_released_whichever_side_finishes_first() {
        let q = Queue::new(8);
        let a = push(&q, QoS::AtLeastOnce, b"1");
        let b = push(&q, QoS::ExactlyOnce, b"2");
        let c = push(&q, QoS::AtLeastOnce, b"3");
        assert_eq!(live(&q), 3);
        let mut batch = Batch::default();
        q.take(&mut batch);
        assert_eq!(batch.items.len(), 3);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        // a: polled while waiting, then answered: woken, answer taken, slot freed.
        assert!(q.poll(a, &mut cx).is_pending());
        // b: dropped before the answer: the driver's answer frees it.
        q.forget(b);
        // c: answered, then dropped without looking.
        let mut done = Completions::default();
        let ok = || {
            Ok(PublishAck {
                reason_code: ReasonCode::Success,
            })
        };
        let slot = |t| match t {
            Ticket::Slot(s) => s,
            Ticket::Seq(_) => panic!("QoS 1/2 have slots"),
        };
        done.slots.push((slot(a), ok()));
        done.slots.push((
            slot(b),
            Err(Error::Lost(mqtt_session::LossReason::SessionLost)),
        ));
        done.slots.push((slot(c), ok()));
        done.done = 3;
        q.complete(&mut done);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "a woken");
        assert_eq!(q.poll(a, &mut cx), Poll::Ready(ok()));
        q.forget(c);
        assert_eq!(live(&q), 0, "no slot left behind");
        assert!(q.lock().slots.is_empty());
    }

    #[test]
    fn qos0_answers_follow_done_and_keep_only_wanted_failures() {
        let q = Queue::new(8);
        let t: Vec<Ticket> = (0..4).map(|_| push(&q, QoS::AtMostOnce, b"x")).collect();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll(t[0], &mut cx).is_pending());
        assert!(q.poll(t[0], &mut cx).is_pending());
        assert_eq!(q.lock().seq_waiters.len(), 1, "one waker per future");
        // t[3] is dropped before the driver refuses it: its failure is not kept.
        q.forget(t[3]);
        let mut batch = Batch::default();
        q.take(&mut batch);
        let mut done = Completions::default();
        let refused = Error::Rejected(mqtt_session::Error::NotConnected);
        done.failed.push((1, refused.clone()));
        done.failed.push((3, refused.clone()));
        done.done = 4;
        q.complete(&mut done);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        let ok = Ok(PublishAck {
            reason_code: ReasonCode::Success,
        });
        assert_eq!(q.poll(t[0], &mut cx), Poll::Ready(ok.clone()));
        assert_eq!(q.poll(t[1], &mut cx), Poll::Ready(Err(refused)));
        assert_eq!(q.poll(t[2], &mut cx), Poll::Ready(ok));
        let inner = q.lock();
        assert!(inner.seq_failed.is_empty() && inner.seq_dropped.is_empty());
        assert!(inner.seq_waiters.is_empty());
        assert_eq!(q.failed.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn full_queue_waits_and_close_answers_everything() {
        let q = Arc::new(Queue::new(2));
        let a = push(&q, QoS::AtLeastOnce, b"1");
        let b = push(&q, QoS::AtMostOnce, b"2");
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        {
            let third = push_empty(&q);
            let mut third = std::pin::pin!(third);
            assert!(third.as_mut().poll(&mut cx).is_pending(), "full: waits");
            // Dropped while waiting: nothing queued.
        }
        assert_eq!(q.lock().batch.items.len(), 2);
        let third = push_empty(&q);
        let mut third = std::pin::pin!(third);
        assert!(third.as_mut().poll(&mut cx).is_pending());
        let mut batch = Batch::default();
        q.take(&mut batch);
        assert!(
            count.0.load(Ordering::SeqCst) >= 1,
            "room wakes the publisher"
        );
        assert!(matches!(
            third.as_mut().poll(&mut cx),
            Poll::Ready(Ok(Ticket::Seq(2)))
        ));
        assert!(q.poll(a, &mut cx).is_pending());
        assert!(q.poll(b, &mut cx).is_pending());
        q.close();
        assert_eq!(q.poll(a, &mut cx), Poll::Ready(Err(Error::Closed)));
        assert_eq!(q.poll(b, &mut cx), Poll::Ready(Err(Error::Closed)));
        assert_eq!(live(&q), 0);
        let late = push_empty(&q);
        let mut late = std::pin::pin!(late);
        assert!(matches!(
            late.as_mut().poll(&mut cx),
            Poll::Ready(Err(Error::Closed))
        ));
    }

    #[test]
    fn try_push_on_a_full_queue_queues_nothing_and_takes_no_slot() {
        let q = Queue::new(2);
        let try_push =
            |qos| q.try_push_publish("a/b", PayloadData::Borrowed(b"x"), qos, false, None);
        assert!(matches!(try_push(QoS::AtLeastOnce), Ok(Ticket::Slot(_))));
        assert!(matches!(try_push(QoS::AtMostOnce), Ok(Ticket::Seq(1))));
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            assert!(matches!(try_push(qos), Err(Error::Full)), "{qos:?}");
        }
        assert_eq!(live(&q), 1, "a refused QoS 1/2 push takes no slot");
        {
            let inner = q.lock();
            assert_eq!(inner.batch.items.len(), 2);
            assert_eq!(
                inner.batch.text, "a/ba/b",
                "no topic bytes of refused pushes"
            );
            assert_eq!(inner.batch.data, b"xx");
            assert_eq!(inner.pushed, 2);
        }
        let mut batch = Batch::default();
        q.take(&mut batch);
        assert!(matches!(try_push(QoS::ExactlyOnce), Ok(Ticket::Slot(_))));
        q.close();
        assert!(matches!(try_push(QoS::AtMostOnce), Err(Error::Closed)));
    }

    #[test]
    fn topics_and_payloads_come_back_as_queued() {
        let q = Queue::new(8);
        let big = Bytes::from(vec![7u8; INLINE_MAX + 1]);
        let fut = q.push_publish(
            "t/big",
            PayloadData::Owned(big.clone()),
            QoS::AtMostOnce,
            true,
            None,
        );
        let (_, w) = waker();
        let mut fut = std::pin::pin!(fut);
        assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_ready());
        push(&q, QoS::AtLeastOnce, b"small");
        // Borrowed payloads: copied, inline when small, into a `Bytes` of their own when
        // large; the caller's buffer is free again once the push returned.
        let mut own = vec![3u8; INLINE_MAX + 1];
        for (topic, len) in [
            ("t/b-small", 5),
            ("t/b-edge", INLINE_MAX),
            ("t/b-big", INLINE_MAX + 1),
        ] {
            let fut = q.push_publish(
                topic,
                PayloadData::Borrowed(&own[..len]),
                QoS::AtMostOnce,
                false,
                None,
            );
            let mut fut = std::pin::pin!(fut);
            assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_ready());
        }
        own.fill(0);
        let mut batch = Batch::default();
        q.take(&mut batch);
        let inline: Vec<bool> = batch
            .items
            .iter()
            .map(|i| matches!(i, Item::Publish(p) if matches!(p.payload, Payload::Inline(..))))
            .collect();
        assert_eq!(inline, [false, true, true, true, false]);
        let got: Vec<(String, Vec<u8>, bool)> = batch
            .items
            .iter()
            .map(|i| match i {
                Item::Publish(p) => {
                    let topic = batch.text[p.topic.0 as usize..p.topic.1 as usize].to_owned();
                    let payload = match &p.payload {
                        Payload::Inline(a, b) => batch.data[*a as usize..*b as usize].to_vec(),
                        Payload::Shared(b) => b.to_vec(),
                    };
                    (topic, payload, p.retain)
                }
                Item::Command(_) => panic!("only publishes"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("t/big".to_owned(), big.to_vec(), true),
                ("a/b".to_owned(), b"small".to_vec(), false),
                ("t/b-small".to_owned(), vec![3; 5], false),
                ("t/b-edge".to_owned(), vec![3; INLINE_MAX], false),
                ("t/b-big".to_owned(), vec![3; INLINE_MAX + 1], false),
            ]
        );
    }
}

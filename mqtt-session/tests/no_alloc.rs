//! Steady state allocates nothing: once connected, publishing (QoS 0/1/2 cycles) and
//! receiving (QoS 0/1/2 messages, PUBREL, PINGREQ/PINGRESP) make zero heap allocations.
//!
//! The count comes from a counting `#[global_allocator]` in this test binary alone,
//! counting per thread so that tests running in parallel do not disturb each other.
//! Implementing `GlobalAlloc` takes `unsafe`: the workspace lint table denies it, the
//! libraries forbid it in their own crate roots, and this test binary alone allows it.
#![allow(unsafe_code)]

mod common;
use common::*;

mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    /// The system allocator, counting the allocations of each thread.
    pub struct Counting;

    fn count() {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    }

    // SAFETY: every call is forwarded unchanged to the system allocator.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            // SAFETY: the caller's contract is passed on as is.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count();
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Allocations made by this thread so far.
    pub fn allocations() -> usize {
        ALLOCATIONS.with(|c| c.get())
    }
}

/// What a workload saw, to check that it really ran.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    published: usize,
    messages: usize,
    payload_bytes: usize,
    sent_bytes: usize,
}

/// Drains the session per its contract into fixed buffers; returns the bytes sent in
/// `wire[..n]`. Allocates nothing itself.
fn drain(s: &mut Sess, now: Instant, wire: &mut [u8; 1024], seen: &mut Seen) -> usize {
    let mut n = 0;
    loop {
        let mut progressed = false;
        while let Some(e) = s.poll_event() {
            progressed = true;
            match e {
                Event::Published { .. } => seen.published += 1,
                Event::Message(m) => {
                    seen.messages += 1;
                    seen.payload_bytes += m.payload.len();
                }
                _ => {}
            }
        }
        loop {
            let sent = s
                .poll_transmit(now, &mut wire[n..])
                .expect("buffer large enough");
            if sent == 0 {
                break;
            }
            n += sent;
            progressed = true;
        }
        if !progressed {
            seen.sent_bytes += n;
            return n;
        }
    }
}

/// The packet id of the single PUBLISH in `wire` (fixed header of two bytes).
fn publish_id(wire: &[u8]) -> u16 {
    assert_eq!(wire[0] & 0xf0, 0x30, "not a PUBLISH: {:02x?}", &wire[..4]);
    let topic_len = usize::from(u16::from_be_bytes([wire[2], wire[3]]));
    u16::from_be_bytes([wire[4 + topic_len], wire[5 + topic_len]])
}

/// An ack packet (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70) in 4 bytes.
fn ack(first: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [first, 0x02, hi, lo]
}

/// A connected session at time 0, everything drained.
fn connected(v: ProtocolVersion) -> (Box<Sess>, Instant) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    (t.s, t.now)
}

/// Publish cycles: QoS 0, QoS 1 to PUBACK, QoS 2 to PUBCOMP; `rounds` of each, plus a
/// keepalive exchange now and then.
fn publish_cycles(s: &mut Sess, now: &mut Instant, rounds: usize) -> Seen {
    let mut seen = Seen::default();
    let mut wire = [0u8; 1024];
    let payload = [0xa5u8; 64];
    for round in 0..rounds {
        s.publish(*now, "bench/q0", &payload, QoS::AtMostOnce, false, &[])
            .unwrap();
        let n = drain(s, *now, &mut wire, &mut seen);
        assert!(n > 64);

        s.publish(*now, "bench/q1", &payload, QoS::AtLeastOnce, false, &[])
            .unwrap()
            .unwrap();
        drain(s, *now, &mut wire, &mut seen);
        let id = publish_id(&wire);
        s.handle_input(*now, &ack(0x40, id));
        drain(s, *now, &mut wire, &mut seen);

        s.publish(*now, "bench/q2", &payload, QoS::ExactlyOnce, false, &[])
            .unwrap()
            .unwrap();
        drain(s, *now, &mut wire, &mut seen);
        let id = publish_id(&wire);
        s.handle_input(*now, &ack(0x50, id));
        let n = drain(s, *now, &mut wire, &mut seen);
        assert_eq!(wire[..n], ack(0x62, id));
        s.handle_input(*now, &ack(0x70, id));
        drain(s, *now, &mut wire, &mut seen);

        if round % 16 == 15 {
            keepalive(s, now, &mut wire, &mut seen);
        }
    }
    seen
}

/// Lets the keepalive fire and answers the PINGREQ.
fn keepalive(s: &mut Sess, now: &mut Instant, wire: &mut [u8; 1024], seen: &mut Seen) {
    *now = s.poll_timeout().expect("keepalive deadline");
    s.handle_timeout(*now);
    let n = drain(s, *now, wire, seen);
    assert_eq!(wire[..n], [0xc0, 0x00]);
    s.handle_input(*now, &[0xd0, 0x00]);
    drain(s, *now, wire, seen);
}

/// Receive cycles: a QoS 0, a QoS 1 (PUBACK) and a QoS 2 message (PUBREC, PUBREL,
/// PUBCOMP) from the server, pre-encoded; `rounds` of each, fed whole or in two pieces.
fn receive_cycles(s: &mut Sess, now: &mut Instant, rounds: usize, incoming: &[Vec<u8>; 3]) -> Seen {
    let mut seen = Seen::default();
    let mut wire = [0u8; 1024];
    for round in 0..rounds {
        for (qos, bytes) in incoming.iter().enumerate() {
            if round % 2 == 0 {
                s.handle_input(*now, bytes);
            } else {
                let (a, b) = bytes.split_at(bytes.len() / 2);
                s.handle_input(*now, a);
                drain(s, *now, &mut wire, &mut seen);
                s.handle_input(*now, b);
            }
            let n = drain(s, *now, &mut wire, &mut seen);
            match qos {
                0 => assert_eq!(n, 0),
                1 => assert_eq!(wire[..n], ack(0x40, 7)),
                _ => {
                    assert_eq!(wire[..n], ack(0x50, 9));
                    s.handle_input(*now, &ack(0x62, 9));
                    let n = drain(s, *now, &mut wire, &mut seen);
                    assert_eq!(wire[..n], ack(0x70, 9));
                }
            }
        }
        if round % 16 == 15 {
            keepalive(s, now, &mut wire, &mut seen);
        }
    }
    seen
}

fn incoming(v: ProtocolVersion) -> [Vec<u8>; 3] {
    let payload = [0x5au8; 100];
    [
        encode_all(v, &[publish("in/q0", &payload, 0, 0)]),
        encode_all(v, &[publish("in/q1", &payload, 1, 7)]),
        encode_all(v, &[publish("in/q2", &payload, 2, 9)]),
    ]
}

/// Runs `workload` once to warm up, then again counting allocations; returns the count
/// and what the measured run saw.
fn measure(
    v: ProtocolVersion,
    workload: impl Fn(&mut Sess, &mut Instant) -> Seen,
) -> (usize, Seen) {
    let (mut s, mut now) = connected(v);
    workload(&mut s, &mut now);
    let before = counting::allocations();
    let seen = workload(&mut s, &mut now);
    let after = counting::allocations();
    assert_eq!(s.state(), ConnState::Connected);
    assert_eq!(s.outstanding(), 0);
    (after - before, seen)
}

fn publish_workload(v: ProtocolVersion) -> (usize, Seen) {
    let (n, seen) = measure(v, |s, now| publish_cycles(s, now, 200));
    assert_eq!(seen.published, 400, "{seen:?}");
    (n, seen)
}

fn receive_workload(v: ProtocolVersion) -> (usize, Seen) {
    let msgs = incoming(v);
    let (n, seen) = measure(v, |s, now| receive_cycles(s, now, 200, &msgs));
    assert_eq!(seen.messages, 600, "{seen:?}");
    assert_eq!(seen.payload_bytes, 600 * 100);
    (n, seen)
}

/// The workloads themselves work (with or without the counting allocator).
#[test]
fn steady_state_workloads_run() {
    for v in VERSIONS {
        publish_workload(v);
        receive_workload(v);
    }
}

/// Publishing at QoS 0, 1 and 2 after connect allocates nothing.
#[test]
fn steady_state_publish_allocates_nothing() {
    for v in VERSIONS {
        let (allocations, seen) = publish_workload(v);
        assert_eq!(
            allocations, 0,
            "{v:?}: {allocations} allocations for {seen:?}"
        );
    }
}

/// Receiving QoS 0, 1 and 2 messages after connect allocates nothing.
#[test]
fn steady_state_receive_allocates_nothing() {
    for v in VERSIONS {
        let (allocations, seen) = receive_workload(v);
        assert_eq!(
            allocations, 0,
            "{v:?}: {allocations} allocations for {seen:?}"
        );
    }
}

/// The counter itself works: a heap allocation in the measured window is seen.
#[test]
fn counting_allocator_counts() {
    let before = counting::allocations();
    let v = std::hint::black_box(vec![1u8; 16]);
    assert!(counting::allocations() > before);
    drop(v);
}

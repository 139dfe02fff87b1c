//! Script tests of the order packets leave in, with commands issued back to back (no
//! draining between them, as an adapter that takes several commands before its next
//! drain). The rules, as the outbox keeps them:
//! - publishes leave in the order they were issued, whatever their QoS: a QoS 0 publish
//!   never overtakes a QoS 1/2 publish held back by flow control, nor is it overtaken;
//! - SUBSCRIBE and UNSUBSCRIBE are not subject to the send quota [MQTT-4.9.0-3], so they
//!   may pass publishes held back by it;
//! - a QoS 0 publish accepted while connected but not yet transmitted is kept, in its
//!   place, for the next connection;
//! - stored packets are written whole (`Err(required)` for a buffer too small), and an
//!   empty `poll_transmit` changes nothing.

mod common;
use common::*;

fn limited(v: ProtocolVersion) -> Config<'static> {
    let mut c = cfg(v);
    c.max_inflight = 1;
    c
}

/// [MQTT-4.9.0-2] A QoS 0 publish issued after a QoS 1 publish held back by a full send
/// quota waits behind it; a SUBSCRIBE issued in between goes at once.
fn qos0_never_overtakes_held_publish(v: ProtocolVersion) {
    let mut t = Script::new(&limited(v));
    t.establish();
    let a = t.publish("o/a", b"1", QoS::AtLeastOnce).unwrap();
    t.expect_sent(&[publish("o/a", b"1", 1, 1)]);
    // Back to back, then one drain.
    let now = t.now;
    let b = t.s.publish(now, "o/b", b"2", QoS::AtLeastOnce, false, &[]);
    let b = b.unwrap().unwrap();
    assert_eq!(
        t.s.publish(now, "o/c", b"3", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    t.s.subscribe(now, &[sub("s/#", QoS::AtMostOnce)], &[])
        .unwrap();
    assert_eq!(
        t.s.publish(now, "o/d", b"4", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    t.drain();
    t.expect_sent(&[subscribe_pkt(3, &[sub("s/#", QoS::AtMostOnce)], &[])]);
    assert_eq!(t.s.inflight_publishes(), 1);
    t.server(puback(1));
    t.expect_events(&[Ev::published(a)]);
    t.expect_sent(&[
        publish("o/b", b"2", 1, 2),
        publish("o/c", b"3", 0, 0),
        publish("o/d", b"4", 0, 0),
    ]);
    t.server(puback(2));
    t.expect_events(&[Ev::published(b)]);
    t.expect_idle();
}

#[test]
fn qos0_never_overtakes_held_publish_v311() {
    qos0_never_overtakes_held_publish(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos0_never_overtakes_held_publish_v5() {
    qos0_never_overtakes_held_publish(V5);
}

/// A QoS 0 publish issued before a QoS 1 publish that the full quota holds back is not
/// held with it (nothing was queued ahead of it), and the QoS 1 one keeps waiting.
fn qos0_before_held_publish_goes_first(v: ProtocolVersion) {
    let mut t = Script::new(&limited(v));
    t.establish();
    let a = t.publish("o/a", b"1", QoS::AtLeastOnce).unwrap();
    t.expect_sent(&[publish("o/a", b"1", 1, 1)]);
    let now = t.now;
    assert_eq!(
        t.s.publish(now, "o/c", b"3", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    let b = t.s.publish(now, "o/b", b"2", QoS::AtLeastOnce, false, &[]);
    let b = b.unwrap().unwrap();
    t.drain();
    t.expect_sent(&[publish("o/c", b"3", 0, 0)]);
    t.server(puback(1));
    t.expect_events(&[Ev::published(a)]);
    t.expect_sent(&[publish("o/b", b"2", 1, 2)]);
    t.server(puback(2));
    t.expect_events(&[Ev::published(b)]);
    t.expect_idle();
}

#[test]
fn qos0_before_held_publish_goes_first_v311() {
    qos0_before_held_publish_goes_first(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos0_before_held_publish_goes_first_v5() {
    qos0_before_held_publish_goes_first(V5);
}

/// A QoS 0 publish accepted while connected, not yet transmitted when the transport
/// drops, is sent on the next connection ahead of what was issued after it.
fn untransmitted_qos0_kept_in_order_across_reconnect(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let now = t.now;
    assert_eq!(
        t.s.publish(now, "o/x", b"x", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    let y = t.s.publish(now, "o/y", b"y", QoS::AtLeastOnce, false, &[]);
    let y = y.unwrap().unwrap();
    assert_eq!(
        t.s.publish(now, "o/z", b"z", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    t.drop_transport();
    t.expect_nothing_sent();
    t.reconnect();
    t.accept(false, &[]);
    t.expect_sent(&[
        publish("o/x", b"x", 0, 0),
        publish("o/y", b"y", 1, 1),
        publish("o/z", b"z", 0, 0),
    ]);
    t.server(puback(1));
    t.expect_events(&[Ev::published(y)]);
    t.expect_idle();
}

#[test]
fn untransmitted_qos0_kept_in_order_across_reconnect_v311() {
    untransmitted_qos0_kept_in_order_across_reconnect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn untransmitted_qos0_kept_in_order_across_reconnect_v5() {
    untransmitted_qos0_kept_in_order_across_reconnect(V5);
}

/// A QoS 0 PUBLISH is written whole: a buffer too small gets `Err(required)` and nothing,
/// and empty calls (any buffer) change nothing.
fn qos0_written_whole_and_empty_calls_inert(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let now = t.now;
    assert_eq!(
        t.s.publish(now, "o/w", b"whole", QoS::AtMostOnce, false, &[]),
        Ok(None)
    );
    let wire = encode_all(v, &[publish("o/w", b"whole", 0, 0)]);
    let mut small = vec![0u8; wire.len() - 1];
    assert_eq!(t.s.poll_transmit(now, &mut small), Err(wire.len()));
    assert_eq!(t.s.poll_transmit(now, &mut []), Err(wire.len()));
    let mut buf = vec![0u8; wire.len()];
    assert_eq!(t.s.poll_transmit(now, &mut buf), Ok(wire.len()));
    assert_eq!(buf, wire);
    let deadline = t.s.poll_timeout();
    for _ in 0..3 {
        assert_eq!(t.s.poll_transmit(now, &mut buf), Ok(0));
        assert_eq!(t.s.poll_transmit(now, &mut []), Ok(0));
    }
    assert_eq!(t.s.poll_timeout(), deadline);
    assert_eq!(t.s.outstanding(), 0);
    t.expect_idle();
}

#[test]
fn qos0_written_whole_and_empty_calls_inert_v311() {
    qos0_written_whole_and_empty_calls_inert(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos0_written_whole_and_empty_calls_inert_v5() {
    qos0_written_whole_and_empty_calls_inert(V5);
}

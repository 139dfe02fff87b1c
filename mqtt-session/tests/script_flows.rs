//! Script tests of the message flows: packet identifiers, QoS 1 and QoS 2 in both
//! directions, ordering, resending on reconnect, manual acks, the offline queue, and
//! operation tokens.
//!
//! Each test names the normative statement it covers; the ID is in its doc comment.

mod common;
use common::*;

// ----- packet identifiers ----------------------------------------------------------------

/// [MQTT-2.3.1-2] (3.1.1) [MQTT-2.2.1-3] (5.0) [MQTT-2.3.1-3] Packet identifiers are
/// never 0 and never one still in use: over a full wrap of the 16-bit space, with a QoS 1
/// PUBLISH, a SUBSCRIBE and a QoS 2 PUBLISH (after PUBREC) kept unacknowledged, every new
/// id avoids theirs; an id is free again once its final ack came.
fn packet_ids_never_zero_never_reused_while_in_flight(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.publish("hold/1", b"", QoS::AtLeastOnce);
    t.subscribe(&[sub("hold/#", QoS::AtMostOnce)]);
    t.publish("hold/2", b"", QoS::ExactlyOnce);
    t.expect_sent(&[
        publish("hold/1", b"", 1, 1),
        subscribe_pkt(2, &[sub("hold/#", QoS::AtMostOnce)], &[]),
        publish("hold/2", b"", 2, 3),
    ]);
    t.server(pubrec(3));
    t.expect_sent(&[pubrel(3)]);
    let held = [1u16, 2, 3];
    let mut prev = 3;
    let mut wrapped = false;
    for _ in 0..66_000 {
        let tok = t.publish("p", b"", QoS::AtLeastOnce).unwrap();
        let ids = t.sent_publish_ids();
        let [id] = ids[..] else {
            panic!("one PUBLISH expected, got ids {ids:?}")
        };
        assert_ne!(id, 0);
        assert!(!held.contains(&id), "id {id} is still in flight");
        if id < prev {
            assert_eq!(id, 4, "after the wrap the first free id");
            wrapped = true;
        }
        prev = id;
        t.server(puback(id));
        t.expect_events(&[Ev::published(tok)]);
    }
    assert!(wrapped);
    // The held ones complete normally.
    t.server_all(&[puback(1), suback(2, &[ReasonCode::Success]), pubcomp(3)]);
    assert_eq!(t.take_events().len(), 3);
    assert_eq!(t.s.outstanding(), 0);
}

#[test]
fn packet_ids_never_zero_never_reused_while_in_flight_v311() {
    packet_ids_never_zero_never_reused_while_in_flight(V311);
}

#[cfg(feature = "v5")]
#[test]
fn packet_ids_never_zero_never_reused_while_in_flight_v5() {
    packet_ids_never_zero_never_reused_while_in_flight(V5);
}

/// [MQTT-2.3.1-2] (3.1.1) [MQTT-2.2.1-3] (5.0) The 16-bit space wraps to 1, never 0; ids
/// held at the wrap (a QoS 1 PUBLISH, a SUBSCRIBE, a QoS 2 after PUBREC) are not reused;
/// a full outbox holds distinct ids.
fn packet_ids_wrap_to_one_and_stay_distinct(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    for expected in 1..=65_532u16 {
        let tok = t.publish("p", b"", QoS::AtLeastOnce).unwrap();
        assert_eq!(t.sent_publish_ids(), [expected]);
        t.server(puback(expected));
        t.expect_events(&[Ev::published(tok)]);
    }
    // Hold 65533..=65535 across the wrap.
    t.publish("hold/1", b"", QoS::AtLeastOnce);
    t.subscribe(&[sub("hold/#", QoS::AtMostOnce)]);
    t.publish("hold/2", b"", QoS::ExactlyOnce);
    t.expect_sent(&[
        publish("hold/1", b"", 1, 65_533),
        subscribe_pkt(65_534, &[sub("hold/#", QoS::AtMostOnce)], &[]),
        publish("hold/2", b"", 2, 65_535),
    ]);
    t.server(pubrec(65_535));
    t.expect_sent(&[pubrel(65_535)]);
    // The rest of the outbox fills with distinct ids 1, 2, ... (never 0).
    let mut ids = Vec::new();
    while t.s.outstanding() < OUT_CAP {
        t.publish("p", b"", QoS::ExactlyOnce);
        ids.extend(t.sent_publish_ids());
    }
    assert_eq!(ids, (1..=(OUT_CAP as u16 - 3)).collect::<Vec<_>>());
    assert_eq!(
        t.try_publish("p", b"", QoS::AtLeastOnce, false, &[]),
        Err(Error::Full)
    );
}

/// [MQTT-2.3.1-2] (3.1.1) [MQTT-2.2.1-3] (5.0) Ids held in scattered places (4, 6, 7 and
/// 12) are skipped on every lap: the run of free ids between two held ones is taken
/// without reusing either, on the first lap and after the wrap to 1.
fn packet_ids_skip_scattered_held_ids_on_every_lap(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let held = [4u16, 6, 7, 12];
    let mut given = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..65_535 + 20 {
        let tok = t.publish("p", b"", QoS::AtLeastOnce).unwrap();
        let ids = t.sent_publish_ids();
        let [id] = ids[..] else {
            panic!("one PUBLISH expected, got ids {ids:?}")
        };
        if given.len() < 12 && held.contains(&id) {
            tokens.push(tok);
        } else {
            t.server(puback(id));
            t.expect_events(&[Ev::published(tok)]);
        }
        given.push(id);
    }
    assert_eq!(given[..12], (1..=12).collect::<Vec<_>>());
    let second_lap: Vec<u16> = (1..=24).filter(|i| !held.contains(i)).collect();
    assert_eq!(given[65_535..], second_lap[..20]);
    assert!(given[12..65_535].iter().all(|id| !held.contains(id)));
}

/// [MQTT-2.2.1-3] A publish refused after its id was chosen gives the id back and leaves
/// the choice of the next one as it was: with the id after the wrap held (5), a refused
/// publish (over the server's Maximum Packet Size) looks past it and fails; the next
/// publish still skips the held id.
#[cfg(feature = "v5")]
#[test]
fn refused_publish_after_the_wrap_does_not_free_a_held_id_v5() {
    let mut t = Script::new(&cfg(V5));
    t.open();
    t.accept(false, &[Property::MaximumPacketSize(64)]);
    let mut held = None;
    for id in 1..=65_535u32 {
        let tok = t.publish("p", b"", QoS::AtLeastOnce).unwrap();
        assert_eq!(t.sent_publish_ids(), [id as u16]);
        if id == 5 {
            held = Some(tok);
        } else {
            t.server(puback(id as u16));
            t.expect_events(&[Ev::published(tok)]);
        }
    }
    for id in 1..=4u16 {
        let tok = t.publish("p", b"", QoS::AtLeastOnce).unwrap();
        assert_eq!(t.sent_publish_ids(), [id]);
        t.server(puback(id));
        t.expect_events(&[Ev::published(tok)]);
    }
    assert_eq!(
        t.try_publish("p", &[0; 100], QoS::AtLeastOnce, false, &[]),
        Err(Error::PacketTooLarge { size: 108, max: 64 })
    );
    t.expect_idle();
    t.publish("p", b"", QoS::AtLeastOnce).unwrap();
    assert_eq!(t.sent_publish_ids(), [6], "5 is still in flight");
    t.server(puback(5));
    t.expect_events(&[Ev::published(held.unwrap())]);
}

#[test]
fn packet_ids_skip_scattered_held_ids_on_every_lap_v311() {
    packet_ids_skip_scattered_held_ids_on_every_lap(V311);
}

#[cfg(feature = "v5")]
#[test]
fn packet_ids_skip_scattered_held_ids_on_every_lap_v5() {
    packet_ids_skip_scattered_held_ids_on_every_lap(V5);
}

#[test]
fn packet_ids_wrap_to_one_and_stay_distinct_v311() {
    packet_ids_wrap_to_one_and_stay_distinct(V311);
}

#[cfg(feature = "v5")]
#[test]
fn packet_ids_wrap_to_one_and_stay_distinct_v5() {
    packet_ids_wrap_to_one_and_stay_distinct(V5);
}

/// The outbox capacity counts unfinished operations: with one operation left
/// unacknowledged, any number of later ones can complete and new ones still fit.
fn outbox_capacity_counts_only_unfinished_operations(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.publish("hold", b"", QoS::AtLeastOnce);
    t.take_sent();
    for i in 0..(3 * OUT_CAP) {
        let r = t.try_publish("p", b"", QoS::AtLeastOnce, false, &[]);
        assert!(
            r.is_ok(),
            "publish #{i} with {} outstanding: {r:?}",
            t.s.outstanding()
        );
        let ids = t.sent_publish_ids();
        t.server(puback(ids[0]));
        t.take_events();
    }
}

#[test]
fn outbox_capacity_counts_only_unfinished_operations_v311() {
    outbox_capacity_counts_only_unfinished_operations(V311);
}

#[cfg(feature = "v5")]
#[test]
fn outbox_capacity_counts_only_unfinished_operations_v5() {
    outbox_capacity_counts_only_unfinished_operations(V5);
}

// ----- QoS 1 and QoS 2, sender ------------------------------------------------------------

/// [MQTT-4.3.2-1] (3.1.1) [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.2-3] (5.0) QoS 1 sender:
/// fresh id, PUBLISH QoS 1 DUP 0 (byte-exact), unacknowledged until PUBACK, then reported.
fn qos1_sender_flow(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let tok = t.publish("a/b", b"hi", QoS::AtLeastOnce).unwrap();
    t.expect_sent_bytes(&if v.is_v5() {
        hex("32 0a 00 03 61 2f 62 00 01 00 68 69")
    } else {
        hex("32 09 00 03 61 2f 62 00 01 68 69")
    });
    assert_eq!((t.s.outstanding(), t.s.inflight_publishes()), (1, 1));
    t.advance(29_000);
    t.expect_idle();
    assert_eq!(t.s.outstanding(), 1, "still unacknowledged");
    t.server(puback(1));
    t.expect_events(&[Ev::published(tok)]);
    t.expect_nothing_sent();
    assert_eq!((t.s.outstanding(), t.s.inflight_publishes()), (0, 0));
}

#[test]
fn qos1_sender_flow_v311() {
    qos1_sender_flow(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos1_sender_flow_v5() {
    qos1_sender_flow(V5);
}

/// [MQTT-4.3.3-1] [MQTT-2.3.1-6] (3.1.1) [MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.3.3-3]
/// [MQTT-4.3.3-4] [MQTT-4.3.3-5] [MQTT-2.2.1-5] (5.0) QoS 2 sender: PUBLISH QoS 2 DUP 0, unacknowledged until PUBREC;
/// PUBREC answered by PUBREL with the same id (byte-exact), unacknowledged until PUBCOMP;
/// a repeated PUBREC never brings the PUBLISH back.
fn qos2_sender_flow(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let tok = t.publish("a/b", b"hi", QoS::ExactlyOnce).unwrap();
    t.expect_sent_bytes(&if v.is_v5() {
        hex("34 0a 00 03 61 2f 62 00 01 00 68 69")
    } else {
        hex("34 09 00 03 61 2f 62 00 01 68 69")
    });
    t.advance(1_000);
    t.expect_idle();
    t.server(pubrec(1));
    t.expect_sent_bytes(&hex("62 02 00 01"));
    t.expect_no_events();
    assert_eq!(t.s.outstanding(), 1);
    t.server(pubrec(1));
    t.with_sent(|p| {
        assert!(
            p.is_empty() || p == [pubrel(1)],
            "answer to a repeated PUBREC: {p:#?}"
        )
    });
    t.expect_no_events();
    t.server(pubcomp(1));
    t.expect_events(&[Ev::published(tok)]);
    t.expect_nothing_sent();
    assert_eq!((t.s.outstanding(), t.s.inflight_publishes()), (0, 0));
}

#[test]
fn qos2_sender_flow_v311() {
    qos2_sender_flow(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos2_sender_flow_v5() {
    qos2_sender_flow(V5);
}

/// [MQTT-4.3.3-6] (5.0) [MQTT-4.4.0-1] Once PUBREL was sent the PUBLISH is never sent
/// again, not even on a resumed session: the PUBREL is.
fn qos2_no_publish_resend_after_pubrel(v: ProtocolVersion) {
    let mut t = Script::new(&persistent_cfg(v));
    t.establish();
    let tok = t.publish("a/b", b"hi", QoS::ExactlyOnce).unwrap();
    t.take_sent();
    t.server(pubrec(1));
    t.expect_sent(&[pubrel(1)]);
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_sent(&[pubrel(1)]);
    t.server(pubcomp(1));
    t.expect_events(&[Ev::published(tok)]);
    t.expect_nothing_sent();
}

#[test]
fn qos2_no_publish_resend_after_pubrel_v311() {
    qos2_no_publish_resend_after_pubrel(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos2_no_publish_resend_after_pubrel_v5() {
    qos2_no_publish_resend_after_pubrel(V5);
}

// ----- QoS 1 and QoS 2, receiver ----------------------------------------------------------

/// [MQTT-4.3.2-2] [MQTT-2.3.1-6] (3.1.1) [MQTT-4.3.2-4] [MQTT-4.3.2-5] [MQTT-2.2.1-5]
/// [MQTT-3.3.4-1] [MQTT-4.5.0-2] (5.0) QoS 1 receiver: delivered and PUBACKed with its id; after the PUBACK the same id is a new
/// message. QoS 0: delivered, nothing sent.
fn qos1_receiver(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server(publish("in/a", b"1", 1, 5));
    t.expect_events(&[Ev::msg("in/a", b"1", QoS::AtLeastOnce)]);
    t.expect_sent_bytes(&hex("40 02 00 05"));
    t.server(publish_pkt(true, 1, 5, false, "in/a", &[], b"2"));
    let mut again = Msg::new("in/a", b"2", QoS::AtLeastOnce);
    again.dup = true;
    t.expect_events(&[Ev::Message(again)]);
    t.expect_sent(&[puback(5)]);
    t.server(publish_pkt(false, 0, 0, true, "in/0", &[], b"z"));
    let mut retained = Msg::new("in/0", b"z", QoS::AtMostOnce);
    retained.retain = true;
    t.expect_events(&[Ev::Message(retained)]);
    t.expect_nothing_sent();
    assert_eq!(t.s.incoming_pending(), 0);
}

#[test]
fn qos1_receiver_v311() {
    qos1_receiver(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos1_receiver_v5() {
    qos1_receiver(V5);
}

/// [MQTT-4.3.3-2] [MQTT-2.3.1-6] (3.1.1) [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.3.3-11]
/// [MQTT-4.3.3-12] [MQTT-2.2.1-5] (5.0) QoS 2 receiver, exactly once: PUBREC with the id; a duplicate PUBLISH before
/// PUBREL is PUBRECed again and not delivered twice; PUBREL gets PUBCOMP with the id;
/// after PUBCOMP the id means a new message.
fn qos2_receiver_exactly_once(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server(publish("in/q2", b"1", 2, 7));
    t.expect_events(&[Ev::msg("in/q2", b"1", QoS::ExactlyOnce)]);
    t.expect_sent_bytes(&hex("50 02 00 07"));
    assert_eq!(t.s.incoming_pending(), 1);
    t.server(publish_pkt(true, 2, 7, false, "in/q2", &[], b"1"));
    t.expect_no_events();
    t.expect_sent(&[pubrec(7)]);
    t.server(publish("in/q2", b"1", 2, 7));
    t.expect_no_events();
    t.expect_sent(&[pubrec(7)]);
    t.server(pubrel(7));
    t.expect_sent_bytes(&hex("70 02 00 07"));
    t.expect_no_events();
    assert_eq!(t.s.incoming_pending(), 0);
    t.server(publish("in/q2", b"2", 2, 7));
    t.expect_events(&[Ev::msg("in/q2", b"2", QoS::ExactlyOnce)]);
    t.expect_sent(&[pubrec(7)]);
}

#[test]
fn qos2_receiver_exactly_once_v311() {
    qos2_receiver_exactly_once(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos2_receiver_exactly_once_v5() {
    qos2_receiver_exactly_once(V5);
}

/// [MQTT-4.3.3-13] (5.0) A QoS 2 receiver continues the acknowledgement sequence even if
/// the message expired meanwhile: a PUBLISH with a one-second Message Expiry Interval is
/// delivered once and PUBRECed; five seconds later its redelivery is PUBRECed again (not
/// delivered), and its PUBREL still gets PUBCOMP.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_3_3_13_qos2_receiver_completes_after_the_message_expired() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    let expiry = [Property::MessageExpiryInterval(1)];
    t.server(publish_pkt(false, 2, 9, false, "in/e", &expiry, b"e"));
    let events = t.take_events();
    assert!(
        matches!(events.as_slice(), [Ev::Message(m)] if m.topic == "in/e"),
        "delivered once: {events:?}"
    );
    t.expect_sent(&[pubrec(9)]);
    t.advance(5_000);
    t.expect_nothing_sent();
    t.server(publish_pkt(true, 2, 9, false, "in/e", &expiry, b"e"));
    t.expect_no_events();
    t.expect_sent(&[pubrec(9)]);
    t.server(pubrel(9));
    t.expect_sent(&[pubcomp(9)]);
    assert_eq!(t.s.incoming_pending(), 0);
}

/// [MQTT-4.3.3-7] (5.0) A QoS 2 sender applies no message expiry once the PUBLISH was
/// sent: its own publish with a one-second Message Expiry Interval, unacknowledged ten
/// seconds later, is sent again (DUP, the property unchanged) on the resumed session and
/// completes.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_3_3_7_qos2_sender_no_expiry_once_sent() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.establish();
    let expiry = [Property::MessageExpiryInterval(1)];
    let tok =
        t.s.publish(t.now, "o/e", b"e", QoS::ExactlyOnce, false, &expiry)
            .unwrap()
            .unwrap();
    t.drain();
    t.expect_sent(&[publish_pkt(false, 2, 1, false, "o/e", &expiry, b"e")]);
    t.advance(10_000);
    t.expect_nothing_sent();
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_sent(&[publish_pkt(true, 2, 1, false, "o/e", &expiry, b"e")]);
    t.server(pubrec(1));
    t.expect_sent(&[pubrel(1)]);
    t.server(pubcomp(1));
    t.expect_events(&[Ev::published(tok)]);
}

/// [MQTT-4.3.3-10] across a reconnect with the session resumed: the server's redelivery
/// (DUP) of a message already PUBRECed is not delivered again, and its PUBREL still gets
/// PUBCOMP.
fn qos2_receiver_exactly_once_across_reconnect(v: ProtocolVersion) {
    let mut t = Script::new(&persistent_cfg(v));
    t.establish();
    t.server(publish("in/q2", b"1", 2, 9));
    t.expect_events(&[Ev::msg("in/q2", b"1", QoS::ExactlyOnce)]);
    t.expect_sent(&[pubrec(9)]);
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_idle();
    t.server(publish_pkt(true, 2, 9, false, "in/q2", &[], b"1"));
    t.expect_no_events();
    t.expect_sent(&[pubrec(9)]);
    t.server(pubrel(9));
    t.expect_sent(&[pubcomp(9)]);
    t.expect_no_events();
}

#[test]
fn qos2_receiver_exactly_once_across_reconnect_v311() {
    qos2_receiver_exactly_once_across_reconnect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos2_receiver_exactly_once_across_reconnect_v5() {
    qos2_receiver_exactly_once_across_reconnect(V5);
}

/// A PUBREL for an id we hold no state for: PUBCOMP all the same (5.0: reason 0x92, Packet
/// Identifier not found); the connection stays up.
fn unknown_pubrel_answered_with_pubcomp(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server(pubrel(9));
    t.expect_sent_bytes(&if v.is_v5() {
        hex("70 03 00 09 92")
    } else {
        hex("70 02 00 09")
    });
    t.expect_no_events();
    assert_eq!(t.s.state(), ConnState::Connected);
}

#[test]
fn unknown_pubrel_answered_with_pubcomp_v311() {
    unknown_pubrel_answered_with_pubcomp(V311);
}

#[cfg(feature = "v5")]
#[test]
fn unknown_pubrel_answered_with_pubcomp_v5() {
    unknown_pubrel_answered_with_pubcomp(V5);
}

// ----- ordering -----------------------------------------------------------------------------

/// [MQTT-4.6.0-2] [MQTT-4.6.0-3] PUBACKs and PUBRECs leave in the order the PUBLISHes
/// arrived, interleaved as they came.
fn acks_leave_in_arrival_order(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server_all(&[
        publish("o/1", b"", 1, 5),
        publish("o/2", b"", 2, 3),
        publish("o/3", b"", 1, 9),
        publish("o/4", b"", 2, 4),
    ]);
    t.expect_sent(&[puback(5), pubrec(3), puback(9), pubrec(4)]);
    t.expect_events(&[
        Ev::msg("o/1", b"", QoS::AtLeastOnce),
        Ev::msg("o/2", b"", QoS::ExactlyOnce),
        Ev::msg("o/3", b"", QoS::AtLeastOnce),
        Ev::msg("o/4", b"", QoS::ExactlyOnce),
    ]);
}

#[test]
fn acks_leave_in_arrival_order_v311() {
    acks_leave_in_arrival_order(V311);
}

#[cfg(feature = "v5")]
#[test]
fn acks_leave_in_arrival_order_v5() {
    acks_leave_in_arrival_order(V5);
}

/// [MQTT-4.6.0-4] PUBRELs leave in the order the PUBRECs arrived.
fn pubrels_leave_in_pubrec_order(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let toks: Vec<Token> = (0..3)
        .map(|_| t.publish("r", b"", QoS::ExactlyOnce).unwrap())
        .collect();
    assert_eq!(t.sent_publish_ids(), [1, 2, 3]);
    t.server_all(&[pubrec(3), pubrec(1), pubrec(2)]);
    t.expect_sent(&[pubrel(3), pubrel(1), pubrel(2)]);
    t.server_all(&[pubcomp(2), pubcomp(3), pubcomp(1)]);
    t.expect_events(&[
        Ev::published(toks[1]),
        Ev::published(toks[2]),
        Ev::published(toks[0]),
    ]);
}

#[test]
fn pubrels_leave_in_pubrec_order_v311() {
    pubrels_leave_in_pubrec_order(V311);
}

#[cfg(feature = "v5")]
#[test]
fn pubrels_leave_in_pubrec_order_v5() {
    pubrels_leave_in_pubrec_order(V5);
}

// ----- resending on reconnect ---------------------------------------------------------------

/// [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-3.3.1-1] Reconnecting to a resumed session: every
/// unacknowledged PUBLISH goes again with DUP=1 and its original id, the pending PUBREL
/// too, all in the original order; then the flows complete and every token is reported
/// once.
fn resend_unacked_in_order_with_dup(v: ProtocolVersion) {
    let mut t = Script::new(&persistent_cfg(v));
    t.establish();
    let a = t.publish("r/a", b"a", QoS::AtLeastOnce).unwrap();
    let b = t.publish("r/b", b"b", QoS::ExactlyOnce).unwrap();
    let c = t.publish("r/c", b"c", QoS::AtLeastOnce).unwrap();
    let d = t.publish("r/d", b"d", QoS::ExactlyOnce).unwrap();
    t.expect_sent(&[
        publish("r/a", b"a", 1, 1),
        publish("r/b", b"b", 2, 2),
        publish("r/c", b"c", 1, 3),
        publish("r/d", b"d", 2, 4),
    ]);
    t.server(pubrec(2));
    t.expect_sent(&[pubrel(2)]);
    let expected_resend = [
        publish_pkt(true, 1, 1, false, "r/a", &[], b"a"),
        pubrel(2),
        publish_pkt(true, 1, 3, false, "r/c", &[], b"c"),
        publish_pkt(true, 2, 4, false, "r/d", &[], b"d"),
    ];
    for _ in 0..2 {
        t.drop_transport();
        let (clean, _) = t.reconnect();
        assert!(!clean);
        t.accept(true, &[]);
        t.expect_no_events();
        t.expect_sent(&expected_resend);
    }
    t.server_all(&[puback(1), pubcomp(2), puback(3), pubrec(4)]);
    t.expect_sent(&[pubrel(4)]);
    t.server(pubcomp(4));
    t.expect_events(&[
        Ev::published(a),
        Ev::published(b),
        Ev::published(c),
        Ev::published(d),
    ]);
    assert_eq!(t.s.outstanding(), 0);
}

#[test]
fn resend_unacked_in_order_with_dup_v311() {
    resend_unacked_in_order_with_dup(V311);
}

#[cfg(feature = "v5")]
#[test]
fn resend_unacked_in_order_with_dup_v5() {
    resend_unacked_in_order_with_dup(V5);
}

/// [MQTT-3.2.2-5] The server lost the session (Session Present = 0 on a reconnect with
/// Clean Start = 0): unacknowledged publishes go again as new messages (DUP=0, in
/// order); a QoS 2 publish the server had PUBRECed is reported `Lost(SessionLost)`, since
/// whether it was delivered is unknown.
fn session_lost_resends_as_new(v: ProtocolVersion) {
    let mut t = Script::new(&persistent_cfg(v));
    t.establish();
    let a = t.publish("r/a", b"a", QoS::AtLeastOnce).unwrap();
    let b = t.publish("r/b", b"b", QoS::ExactlyOnce).unwrap();
    let c = t.publish("r/c", b"c", QoS::ExactlyOnce).unwrap();
    t.take_sent();
    t.server(pubrec(2));
    t.expect_sent(&[pubrel(2)]);
    t.drop_transport();
    let (clean, _) = t.reconnect();
    assert!(!clean);
    t.accept(false, &[]);
    t.expect_events(&[Ev::Lost {
        token: b,
        reason: LossReason::SessionLost,
    }]);
    t.expect_sent(&[publish("r/a", b"a", 1, 1), publish("r/c", b"c", 2, 3)]);
    t.server_all(&[puback(1), pubrec(3)]);
    t.expect_sent(&[pubrel(3)]);
    t.server(pubcomp(3));
    t.expect_events(&[Ev::published(a), Ev::published(c)]);
    assert_eq!(t.s.outstanding(), 0);
}

#[test]
fn session_lost_resends_as_new_v311() {
    session_lost_resends_as_new(V311);
}

#[cfg(feature = "v5")]
#[test]
fn session_lost_resends_as_new_v5() {
    session_lost_resends_as_new(V5);
}

/// `resend_on_session_loss = false`: after a session loss the publishes the server had
/// seen are reported `Lost(NotResent)`; those never sent still go.
fn session_lost_without_resend(v: ProtocolVersion) {
    let mut c = persistent_cfg(v);
    c.resend_on_session_loss = false;
    let mut t = Script::new(&c);
    t.establish();
    let a = t.publish("r/a", b"a", QoS::AtLeastOnce).unwrap();
    t.take_sent();
    t.drop_transport();
    let b = t.publish("r/b", b"b", QoS::AtLeastOnce).unwrap();
    t.reconnect();
    t.accept(false, &[]);
    t.expect_events(&[Ev::Lost {
        token: a,
        reason: LossReason::NotResent,
    }]);
    t.expect_sent(&[publish("r/b", b"b", 1, 2)]);
    t.server(puback(2));
    t.expect_events(&[Ev::published(b)]);
}

#[test]
fn session_lost_without_resend_v311() {
    session_lost_without_resend(V311);
}

#[cfg(feature = "v5")]
#[test]
fn session_lost_without_resend_v5() {
    session_lost_without_resend(V5);
}

/// After a session loss the remembered subscriptions (acknowledged, minus refused and
/// unsubscribed filters) are subscribed again, as valid packets of the session's version;
/// with the session resumed, or `resubscribe = false`, nothing is.
fn session_lost_resubscribes_remembered_filters(v: ProtocolVersion) {
    let setup = |c: &Config<'_>| {
        let mut t = Script::new(c);
        t.establish();
        let s1 = t.subscribe(&[sub("t/1", QoS::AtLeastOnce), sub("t/2", QoS::AtMostOnce)]);
        let s2 = t.subscribe(&[sub("u/#", QoS::ExactlyOnce)]);
        t.take_sent();
        t.server_all(&[
            suback(1, &[ReasonCode::GrantedQoS1, ReasonCode::Success]),
            suback(2, &[ReasonCode::UnspecifiedError]),
        ]);
        let u = t.unsubscribe(&["t/2"]);
        t.take_sent();
        let codes: &[ReasonCode] = if v.is_v5() {
            &[ReasonCode::Success]
        } else {
            &[]
        };
        t.server(unsuback(3, codes));
        assert_eq!(t.take_events().len(), 3);
        t.drop_transport();
        t.reconnect();
        (t, [s1, s2, u])
    };
    let (mut t, user) = setup(&persistent_cfg(v));
    t.accept(false, &[]);
    t.expect_no_events();
    let id = t.with_sent(|p| match p {
        [Packet::Subscribe(s)] => {
            assert_eq!(
                s.filters,
                mqtt_proto::List::new(&[sub("t/1", QoS::AtLeastOnce)])
            );
            s.packet_id.get()
        }
        other => panic!("expected one SUBSCRIBE t/1, got {other:#?}"),
    });
    t.server(suback(id, &[ReasonCode::GrantedQoS1]));
    for e in t.take_events() {
        assert!(
            e.completion_token().is_none_or(|tok| !user.contains(&tok)),
            "a user token reported twice: {e:?}"
        );
    }
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_idle();

    let mut c = persistent_cfg(v);
    c.resubscribe = false;
    let (mut t, _) = setup(&c);
    t.accept(false, &[]);
    t.expect_idle();
}

#[test]
fn session_lost_resubscribes_remembered_filters_v311() {
    session_lost_resubscribes_remembered_filters(V311);
}

#[cfg(feature = "v5")]
#[test]
fn session_lost_resubscribes_remembered_filters_v5() {
    session_lost_resubscribes_remembered_filters(V5);
}

/// A SUBSCRIBE made before the first connection goes out once on it, and is reported
/// once: nothing was lost, so nothing is "resubscribed" (a second SUBSCRIBE would make
/// the server send its retained messages again).
fn offline_subscribe_sent_once(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    let tok = t.subscribe(&[sub("s/#", QoS::AtLeastOnce)]);
    t.open();
    t.accept(false, &[]);
    t.expect_sent(&[subscribe_pkt(1, &[sub("s/#", QoS::AtLeastOnce)], &[])]);
    t.server(suback(1, &[ReasonCode::GrantedQoS1]));
    t.expect_events(&[Ev::Subscribed {
        token: tok,
        reason_codes: vec![ReasonCode::GrantedQoS1],
    }]);
    t.expect_nothing_sent();
}

#[test]
fn offline_subscribe_sent_once_v311() {
    offline_subscribe_sent_once(V311);
}

#[cfg(feature = "v5")]
#[test]
fn offline_subscribe_sent_once_v5() {
    offline_subscribe_sent_once(V5);
}

/// [MQTT-4.4.0-2] (5.0) A PUBACK or PUBREC with a reason code of 0x80 or more counts as
/// acknowledged: reported with that code, no PUBREL, never sent again (not even on a
/// resumed session), and the send quota is given back.
#[cfg(feature = "v5")]
#[test]
fn error_ack_counts_as_acknowledged_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.establish();
    let a = t.publish("e/a", b"", QoS::AtLeastOnce).unwrap();
    let b = t.publish("e/b", b"", QoS::ExactlyOnce).unwrap();
    t.take_sent();
    t.server_all(&[
        puback_rc(1, ReasonCode::UnspecifiedError),
        pubrec_rc(2, ReasonCode::NotAuthorized),
    ]);
    t.expect_nothing_sent();
    t.expect_events(&[
        Ev::Published {
            token: a,
            reason_code: ReasonCode::UnspecifiedError,
        },
        Ev::Published {
            token: b,
            reason_code: ReasonCode::NotAuthorized,
        },
    ]);
    assert_eq!((t.s.outstanding(), t.s.inflight_publishes()), (0, 0));
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_idle();
}

// ----- manual acks ---------------------------------------------------------------------------

/// [MQTT-4.6.0-2] [MQTT-4.6.0-3] [MQTT-4.5.0-2] Manual-ack mode: nothing is acknowledged
/// until the application acks, and acks still leave in arrival order even when the
/// application acks out of order; a token acks once.
fn manual_ack_acks_in_arrival_order(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.manual_ack = true;
    let mut t = Script::new(&c);
    t.establish();
    t.server_all(&[
        publish("m/1", b"", 1, 1),
        publish("m/2", b"", 2, 2),
        publish("m/3", b"", 1, 3),
        publish("m/0", b"", 0, 0),
    ]);
    t.expect_nothing_sent();
    let events = t.take_events();
    let tokens: Vec<Option<Token>> = events
        .iter()
        .map(|e| match e {
            Ev::Message(m) => m.ack,
            other => panic!("{other:?}"),
        })
        .collect();
    let [Some(t1), Some(t2), Some(t3), None] = tokens[..] else {
        panic!("ack tokens {tokens:?}");
    };
    t.ack(t3);
    t.expect_nothing_sent();
    t.ack(t1);
    t.expect_sent(&[puback(1)]);
    t.ack(t2);
    t.expect_sent(&[pubrec(2), puback(3)]);
    t.server(pubrel(2));
    t.expect_sent(&[pubcomp(2)]);
    assert_eq!(t.s.ack(t2), Err(Error::UnknownToken));
    assert_eq!(t.s.ack(t3), Err(Error::UnknownToken));
    assert_eq!(t.s.ack(Token(999_999)), Err(Error::UnknownToken));
    t.expect_idle();
    assert_eq!(t.s.incoming_pending(), 0);
}

#[test]
fn manual_ack_acks_in_arrival_order_v311() {
    manual_ack_acks_in_arrival_order(V311);
}

#[cfg(feature = "v5")]
#[test]
fn manual_ack_acks_in_arrival_order_v5() {
    manual_ack_acks_in_arrival_order(V5);
}

// ----- offline queue -----------------------------------------------------------------------

/// QoS 1/2 published before connecting go out in order, as new messages, right after
/// CONNACK; QoS 0 while disconnected is `Err(NotConnected)` and changes nothing.
fn offline_queue_goes_out_in_order(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    let a = t.publish("o/1", b"1", QoS::AtLeastOnce).unwrap();
    let b = t.publish("o/2", b"2", QoS::ExactlyOnce).unwrap();
    let c = t.publish("o/3", b"3", QoS::AtLeastOnce).unwrap();
    assert_eq!(
        t.try_publish("o/0", b"0", QoS::AtMostOnce, false, &[]),
        Err(Error::NotConnected)
    );
    assert_eq!(t.s.outstanding(), 3);
    t.open();
    t.accept(false, &[]);
    t.expect_sent(&[
        publish("o/1", b"1", 1, 1),
        publish("o/2", b"2", 2, 2),
        publish("o/3", b"3", 1, 3),
    ]);
    t.server_all(&[puback(1), pubrec(2), puback(3)]);
    t.expect_sent(&[pubrel(2)]);
    t.server(pubcomp(2));
    t.expect_events(&[Ev::published(a), Ev::published(c), Ev::published(b)]);
    // While waiting to reconnect too.
    t.drop_transport();
    let d = t.publish("o/4", b"4", QoS::AtLeastOnce).unwrap();
    assert_eq!(
        t.try_publish("o/0", b"0", QoS::AtMostOnce, false, &[]),
        Err(Error::NotConnected)
    );
    t.reconnect();
    t.accept(false, &[]);
    t.expect_sent(&[publish("o/4", b"4", 1, 4)]);
    t.server(puback(4));
    t.expect_events(&[Ev::published(d)]);
}

#[test]
fn offline_queue_goes_out_in_order_v311() {
    offline_queue_goes_out_in_order(V311);
}

#[cfg(feature = "v5")]
#[test]
fn offline_queue_goes_out_in_order_v5() {
    offline_queue_goes_out_in_order(V5);
}

/// QoS 0 refused while disconnected leaves the session exactly as it was.
#[test]
fn offline_qos0_refusal_changes_nothing() {
    for v in VERSIONS {
        let err = assert_failed_command_changes_nothing(
            &cfg(v),
            |t| {
                t.publish("o/1", b"1", QoS::AtLeastOnce);
            },
            |t| {
                t.try_publish("o/0", b"0", QoS::AtMostOnce, false, &[])
                    .map(|_| ())
            },
        );
        assert_eq!(err, Error::NotConnected);
    }
}

/// `queue_qos0_offline`: QoS 0 while disconnected is queued and goes out in order.
fn offline_qos0_queued_when_enabled(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.queue_qos0_offline = true;
    let mut t = Script::new(&c);
    assert_eq!(t.publish("o/0", b"0", QoS::AtMostOnce), None);
    t.publish("o/1", b"1", QoS::AtLeastOnce);
    assert_eq!(t.publish("o/2", b"2", QoS::AtMostOnce), None);
    t.open();
    t.accept(false, &[]);
    t.expect_sent(&[
        publish("o/0", b"0", 0, 0),
        publish("o/1", b"1", 1, 1),
        publish("o/2", b"2", 0, 0),
    ]);
}

#[test]
fn offline_qos0_queued_when_enabled_v311() {
    offline_qos0_queued_when_enabled(V311);
}

#[cfg(feature = "v5")]
#[test]
fn offline_qos0_queued_when_enabled_v5() {
    offline_qos0_queued_when_enabled(V5);
}

// ----- subscriptions and tokens ------------------------------------------------------------

/// SUBSCRIBE and UNSUBSCRIBE go out as asked (5.0: with the subscription identifier);
/// SUBACK and UNSUBACK report them with the server's codes.
fn subscribe_unsubscribe_flow(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let filters = [sub("a/+", QoS::AtLeastOnce), sub("b/#", QoS::ExactlyOnce)];
    let props: &[Property<'_>] = if v.is_v5() {
        &[Property::SubscriptionIdentifier(7)]
    } else {
        &[]
    };
    let s = t.s.subscribe(t.now, &filters, props).unwrap();
    t.drain();
    t.expect_sent(&[subscribe_pkt(1, &filters, props)]);
    t.server(suback(
        1,
        &[ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
    ));
    t.expect_events(&[Ev::Subscribed {
        token: s,
        reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
    }]);
    let u = t.unsubscribe(&["a/+"]);
    t.expect_sent(&[unsubscribe_pkt(2, &["a/+"])]);
    let codes: &[ReasonCode] = if v.is_v5() {
        &[ReasonCode::Success]
    } else {
        &[]
    };
    t.server(unsuback(2, codes));
    t.expect_events(&[Ev::Unsubscribed {
        token: u,
        reason_codes: codes.to_vec(),
    }]);
    assert_eq!(t.s.outstanding(), 0);
}

#[test]
fn subscribe_unsubscribe_flow_v311() {
    subscribe_unsubscribe_flow(V311);
}

#[cfg(feature = "v5")]
#[test]
fn subscribe_unsubscribe_flow_v5() {
    subscribe_unsubscribe_flow(V5);
}

/// [MQTT-3.9.3-1] [MQTT-3.11.3-1] A SUBACK (or 5.0 UNSUBACK) whose code count differs
/// from the request's filter count is a protocol violation.
fn ack_count_mismatch_is_protocol_error(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.subscribe(&[sub("a", QoS::AtMostOnce), sub("b", QoS::AtMostOnce)]);
    t.take_sent();
    t.server(suback(1, &[ReasonCode::Success]));
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::AckCountMismatch,
        1,
    );
    if v.is_v5() {
        let mut t = Script::new(&cfg(v));
        t.establish();
        t.unsubscribe(&["a", "b"]);
        t.take_sent();
        t.server(unsuback(1, &[ReasonCode::Success]));
        expect_peer_fault(
            &mut t,
            ReasonCode::ProtocolError,
            PeerFault::AckCountMismatch,
            1,
        );
    }
}

#[test]
fn ack_count_mismatch_is_protocol_error_v311() {
    ack_count_mismatch_is_protocol_error(V311);
}

#[cfg(feature = "v5")]
#[test]
fn ack_count_mismatch_is_protocol_error_v5() {
    ack_count_mismatch_is_protocol_error(V5);
}

/// Every QoS>0 publish, subscribe and unsubscribe token is reported exactly once
/// (`Published`, `Subscribed`, `Unsubscribed`), QoS 0 has none, and nothing is reported
/// again after reconnects.
fn operation_tokens_reported_exactly_once(v: ProtocolVersion) {
    let mut t = Script::new(&persistent_cfg(v));
    t.establish();
    let mut tokens = vec![
        t.publish("k/1", b"", QoS::AtLeastOnce).unwrap(),
        t.publish("k/2", b"", QoS::ExactlyOnce).unwrap(),
        t.subscribe(&[sub("k/#", QoS::AtLeastOnce)]),
        t.unsubscribe(&["j/#"]),
    ];
    assert_eq!(t.publish("k/0", b"", QoS::AtMostOnce), None);
    tokens.push(t.publish("k/3", b"", QoS::ExactlyOnce).unwrap());
    let mut sorted = tokens.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), tokens.len(), "tokens are distinct");
    // Half acknowledged, then a reconnect to the resumed session, then the rest.
    let sent = t.take_sent();
    let first_half = decode_stream(t.v, &sent)[..3].to_vec();
    let mut partial = Vec::new();
    for p in first_half {
        partial.extend(encode_all(t.v, &[p]));
    }
    t.out_set(partial);
    let mut events = t.auto_respond();
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    events.extend(t.auto_respond());
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    events.extend(t.auto_respond());
    let mut reported: Vec<Token> = events.iter().filter_map(Ev::completion_token).collect();
    reported.sort();
    assert_eq!(reported, sorted, "events {events:?}");
    assert_eq!(t.s.outstanding(), 0);
}

#[test]
fn operation_tokens_reported_exactly_once_v311() {
    operation_tokens_reported_exactly_once(V311);
}

#[cfg(feature = "v5")]
#[test]
fn operation_tokens_reported_exactly_once_v5() {
    operation_tokens_reported_exactly_once(V5);
}

/// A remembered subscription too large for the new server's Maximum Packet Size is not
/// resubscribed, and that changes nothing else: a publish still awaiting its PUBACK keeps
/// its stored packet and goes again (DUP) on the next resumed connection.
#[cfg(feature = "v5")]
#[test]
fn resubscribe_too_large_keeps_other_records_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.establish();
    let a = t.publish("p", b"a", QoS::AtLeastOnce).unwrap();
    let long = "f".repeat(60);
    t.subscribe(&[sub(&long, QoS::AtMostOnce)]);
    t.take_sent();
    t.server(suback(2, &[ReasonCode::Success]));
    t.take_events();
    t.drop_transport();
    t.reconnect();
    t.accept(false, &[Property::MaximumPacketSize(50)]);
    t.expect_sent(&[publish("p", b"a", 1, 1)]);
    t.take_events();
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.expect_sent(&[publish_pkt(true, 1, 1, false, "p", &[], b"a")]);
    t.server(puback(1));
    t.expect_events(&[Ev::published(a)]);
}

/// Manual acks given while disconnected go out right after CONNACK when the session is
/// resumed (the server still waits for them); when the server lost the session they are
/// unknown (`Err(UnknownToken)`).
fn manual_acks_given_offline(v: ProtocolVersion) {
    for resumed in [true, false] {
        let mut c = persistent_cfg(v);
        c.manual_ack = true;
        let mut t = Script::new(&c);
        t.establish();
        t.server_all(&[publish("m/1", b"", 1, 1), publish("m/2", b"", 2, 2)]);
        let tokens: Vec<Token> = t
            .take_events()
            .iter()
            .filter_map(|e| match e {
                Ev::Message(m) => m.ack,
                _ => None,
            })
            .collect();
        assert_eq!(tokens.len(), 2);
        t.drop_transport();
        assert_eq!(t.s.ack(tokens[0]), Ok(()));
        assert_eq!(t.s.ack(tokens[1]), Ok(()));
        t.drain();
        t.expect_nothing_sent();
        t.reconnect();
        t.accept(resumed, &[]);
        if resumed {
            t.expect_sent(&[puback(1), pubrec(2)]);
            t.server(pubrel(2));
            t.expect_sent(&[pubcomp(2)]);
        } else {
            t.expect_nothing_sent();
        }
        assert_eq!(t.s.incoming_pending(), 0);
    }
}

#[test]
fn manual_acks_given_offline_v311() {
    manual_acks_given_offline(V311);
}

#[cfg(feature = "v5")]
#[test]
fn manual_acks_given_offline_v5() {
    manual_acks_given_offline(V5);
}

/// 5.0 §3.3.2.3.8: the Subscription Identifiers of an incoming PUBLISH reach the
/// application with the message (and the routing helper finds the same filters).
#[cfg(feature = "v5")]
#[test]
fn subscription_identifiers_reach_the_message_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.s.subscribe(
        t.now,
        &[sub("s/+", QoS::AtLeastOnce)],
        &[Property::SubscriptionIdentifier(42)],
    )
    .unwrap();
    t.drain();
    t.take_sent();
    t.server(suback(1, &[ReasonCode::GrantedQoS1]));
    t.take_events();
    t.server(publish_pkt(
        false,
        1,
        3,
        false,
        "s/x",
        &[Property::SubscriptionIdentifier(42)],
        b"v",
    ));
    let mut m = Msg::new("s/x", b"v", QoS::AtLeastOnce);
    m.subscription_ids = vec![42];
    t.expect_events(&[Ev::Message(m)]);
    let mut ids = Vec::new();
    t.s.for_each_match("s/x", &mut |_, _, id| ids.push(id));
    assert_eq!(ids, [Some(42)]);
}

// ----- the transmit contract ----------------------------------------------------------------

/// `poll_transmit` into an empty buffer: `Ok(0)` only when nothing is due. A staged
/// PUBACK (a control packet that streams into any buffer) and a queued PUBLISH both
/// answer `Err(required)`, and a buffer of that size then takes them. (An adapter that
/// releases its write buffer when idle asks with an empty one first.)
fn empty_buffer_is_err_while_bytes_wait(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let mut empty: [u8; 0] = [];
    assert_eq!(t.s.poll_transmit(t.now, &mut empty), Ok(0), "nothing due");
    // A QoS 1 PUBLISH from the server stages a PUBACK.
    let bytes = encode_all(v, &[publish("in/x", b"m", 1, 7)]);
    assert_eq!(t.s.handle_input(t.now, &bytes), bytes.len());
    while t.s.poll_event().is_some() {}
    let need =
        t.s.poll_transmit(t.now, &mut empty)
            .expect_err("a PUBACK waits: not Ok(0)");
    assert!(need > 0);
    let mut buf = vec![0u8; need];
    let n = t.s.poll_transmit(t.now, &mut buf).expect("room given");
    assert_eq!(decode_stream(v, &buf[..n]), vec![puback(7)]);
    assert_eq!(t.s.poll_transmit(t.now, &mut empty), Ok(0));
    // A queued PUBLISH.
    t.s.publish(t.now, "a/b", b"hi", QoS::AtLeastOnce, false, &[])
        .unwrap();
    while t.s.poll_event().is_some() {}
    let need =
        t.s.poll_transmit(t.now, &mut empty)
            .expect_err("a PUBLISH waits: not Ok(0)");
    let mut buf = vec![0u8; need];
    let n = t.s.poll_transmit(t.now, &mut buf).expect("room given");
    assert!(matches!(
        decode_stream(v, &buf[..n])[..],
        [Packet::Publish(_)]
    ));
}

#[test]
fn empty_buffer_is_err_while_bytes_wait_v311() {
    empty_buffer_is_err_while_bytes_wait(V311);
}

#[cfg(feature = "v5")]
#[test]
fn empty_buffer_is_err_while_bytes_wait_v5() {
    empty_buffer_is_err_while_bytes_wait(V5);
}

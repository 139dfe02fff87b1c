//! Script tests of `Session::publish_into`, the write-at-once path for QoS 0: a message
//! that can go at once (connected, nothing queued ahead of it, room in the caller's
//! buffer) is encoded straight into that buffer, with the outgoing topic alias (5.0) its
//! transmit would have chosen; anything else is queued exactly as `publish` queues it. Each case runs twin sessions, one
//! publishing through `publish` and a drain, the other through `publish_into`, and
//! requires the same bytes on the wire, the same events and the same session afterwards
//! (state, counts, next deadline), then the same continuation (more operations, the
//! server's answers, the next timer).

mod common;
use common::*;

/// Twin sessions after `setup`; `a` publishes (`publish`, drain), `b` publishes into a
/// `room`-byte buffer (then drains). Returns what `publish_into` wrote.
fn twin(
    config: &Config<'_>,
    setup: impl Fn(&mut Script),
    topic: &str,
    payload: &[u8],
    props: &[Property<'_>],
    room: usize,
) -> usize {
    let mut a = Script::new(config);
    let mut b = Script::new(config);
    setup(&mut a);
    setup(&mut b);
    assert_eq!(
        (a.take_sent(), a.take_events(), a.snapshot()),
        (b.take_sent(), b.take_events(), b.snapshot()),
        "setup is not deterministic"
    );
    let ra =
        a.s.publish(a.now, topic, payload, QoS::AtMostOnce, false, props);
    a.drain();
    let rb = b.publish_into(topic, payload, QoS::AtMostOnce, props, room);
    let direct = b.take_sent();
    b.drain();
    let queued = b.take_sent();
    assert_eq!(ra, rb.map(|(t, _)| t), "results differ");
    let n = rb.map_or(0, |(_, n)| n);
    assert_eq!(
        direct.len(),
        n,
        "bytes written and the count returned differ"
    );
    assert!(
        n == 0 || queued.is_empty(),
        "written at once and queued too"
    );
    let mut sent_b = direct;
    sent_b.extend_from_slice(&queued);
    assert_eq!(a.take_sent(), sent_b, "different bytes on the wire");
    assert_eq!(a.take_events(), b.take_events(), "different events");
    assert_eq!(a.snapshot(), b.snapshot(), "different sessions afterwards");
    // The server is heard from after the publish: the next keepalive deadline then
    // depends on when we last sent.
    a.advance(1);
    b.advance(1);
    a.server(Packet::PingResp);
    b.server(Packet::PingResp);
    assert_eq!(
        a.snapshot(),
        b.snapshot(),
        "different deadlines after a read"
    );
    assert_eq!(
        continuation(&mut a),
        continuation(&mut b),
        "different continuations"
    );
    n
}

fn wire_len(v: ProtocolVersion, topic: &str, payload: &[u8]) -> usize {
    encode_all(v, &[publish(topic, payload, 0, 0)]).len()
}

/// Connected with nothing queued: written at once, the same bytes `publish` sends, and
/// the keepalive counts it as sent [MQTT-3.1.2-23].
#[test]
fn mqtt_3_1_2_23_connected_idle_qos0_is_written_at_once() {
    for v in VERSIONS {
        let setup = |t: &mut Script| {
            t.establish();
            t.advance(5_000);
        };
        let n = twin(&cfg(v), setup, "d/a", b"now", &[], 1 << 12);
        assert_eq!(n, wire_len(v, "d/a", b"now"), "{v:?}");
        // Heard from the server since we last sent: the publish moves the keepalive
        // deadline, which the session must recompute at once.
        let heard = |t: &mut Script| {
            t.establish();
            t.advance(5_000);
            t.server(publish("in/x", b"", 0, 0));
            t.take_events();
        };
        assert!(twin(&cfg(v), heard, "d/a", b"now", &[], 1 << 12) > 0);
        // A buffer exactly the packet's size is enough.
        let n = twin(
            &cfg(v),
            setup,
            "d/a",
            b"now",
            &[],
            wire_len(v, "d/a", b"now"),
        );
        assert_eq!(n, wire_len(v, "d/a", b"now"), "{v:?}");
    }
}

/// [MQTT-4.9.0-2] [MQTT-4.6.0-6] A QoS 1 publish held back by the send quota is ahead:
/// the QoS 0 message queues behind it instead of overtaking it.
#[test]
fn mqtt_4_9_0_2_qos0_behind_a_held_publish_is_queued() {
    for v in VERSIONS {
        let mut c = cfg(v);
        c.max_inflight = 1;
        let setup = |t: &mut Script| {
            t.establish();
            t.publish("d/1", b"1", QoS::AtLeastOnce);
            t.publish("d/2", b"2", QoS::AtLeastOnce);
        };
        assert_eq!(twin(&c, setup, "d/b", b"later", &[], 1 << 12), 0, "{v:?}");
    }
}

/// Offline (with QoS 0 queued offline) or too small a buffer: queued, and sent by
/// `poll_transmit` exactly as `publish` would.
#[test]
fn qos0_that_cannot_go_at_once_is_queued_as_publish_queues_it() {
    for v in VERSIONS {
        let mut offline = cfg(v);
        offline.queue_qos0_offline = true;
        let setup = |t: &mut Script| {
            t.connect();
            t.take_events();
        };
        assert_eq!(twin(&offline, setup, "d/c", b"x", &[], 1 << 12), 0, "{v:?}");
        let setup = |t: &mut Script| t.establish();
        let small = wire_len(v, "d/c", b"x") - 1;
        assert_eq!(twin(&cfg(v), setup, "d/c", b"x", &[], small), 0, "{v:?}");
        assert_eq!(twin(&cfg(v), setup, "d/c", b"x", &[], 0), 0, "{v:?}");
    }
}

/// 5.0 with outgoing topic aliases granted (Topic Alias Maximum 2): written at once with
/// the alias a transmit of the queued message would choose [MQTT-3.3.2-8]: a new topic
/// binds the first free alias and carries topic and alias (3 bytes more), a bound topic
/// travels as its alias alone, no free alias leaves the topic plain; with room for the
/// plain packet but not the aliased one it is queued (and aliased when transmitted).
#[cfg(feature = "v5")]
#[test]
fn mqtt_3_3_2_8_outgoing_topic_alias_chosen_as_a_transmit_would() {
    let granted = |t: &mut Script| {
        t.open();
        t.accept(false, &[Property::TopicAliasMaximum(2)]);
    };
    let plain = wire_len(V5, "d/d", b"x");
    let fresh = twin(&cfg(V5), granted, "d/d", b"x", &[], 1 << 12);
    assert_eq!(fresh, plain + 3, "topic + Topic Alias property");
    let bound = |t: &mut Script| {
        granted(t);
        t.publish("d/d", b"x", QoS::AtMostOnce);
        t.take_sent();
    };
    let alias_only = twin(&cfg(V5), bound, "d/d", b"x", &[], 1 << 12);
    assert_eq!(alias_only, plain + 3 - "d/d".len(), "alias alone, no topic");
    let full = |t: &mut Script| {
        granted(t);
        t.publish("d/1", b"x", QoS::AtMostOnce);
        t.publish("d/2", b"x", QoS::AtMostOnce);
        t.take_sent();
    };
    assert_eq!(
        twin(&cfg(V5), full, "d/d", b"x", &[], 1 << 12),
        plain,
        "no free alias"
    );
    assert_eq!(
        twin(&cfg(V5), granted, "d/d", b"x", &[], plain),
        0,
        "queued"
    );
    let props = [Property::UserProperty("k", "v")];
    let with_props = twin(&cfg(V5), granted, "d/d", b"x", &props, 1 << 12);
    assert!(with_props > fresh, "properties and alias together");
    // A binding made at once is the session's: later publishes, either way, use it.
    let mut t = Script::new(&cfg(V5));
    granted(&mut t);
    let first = t.publish_into("d/d", b"x", QoS::AtMostOnce, &[], 1 << 12);
    let again = t.publish_into("d/d", b"x", QoS::AtMostOnce, &[], 1 << 12);
    assert_eq!((first, again), (Ok((None, fresh)), Ok((None, alias_only))));
    t.take_sent();
    t.publish("d/d", b"x", QoS::AtMostOnce);
    assert_eq!(
        t.take_sent().len(),
        alias_only,
        "queued, then sent as the alias"
    );
}

/// 5.0 properties travel in the packet written at once.
#[cfg(feature = "v5")]
#[test]
fn mqtt_3_3_2_v5_properties_written_at_once() {
    let props = [
        Property::ContentType("text/plain"),
        Property::UserProperty("k", "v"),
    ];
    let n = twin(&cfg(V5), |t| t.establish(), "d/p", b"x", &props, 1 << 12);
    assert!(n > wire_len(V5, "d/p", b"x"));
}

/// The refusals are `publish`'s: offline without `queue_qos0_offline` is `NotConnected`,
/// over the server's Maximum Packet Size is `PacketTooLarge` [MQTT-3.2.2-15], an invalid
/// topic is refused; nothing is written and the session is unchanged.
#[test]
fn mqtt_3_2_2_15_direct_refusals_are_publish_refusals_and_change_nothing() {
    let into = |t: &mut Script, topic: &str, payload: &[u8]| {
        t.publish_into(topic, payload, QoS::AtMostOnce, &[], 1 << 12)
            .map(|_| ())
    };
    for v in VERSIONS {
        let offline = |t: &mut Script| {
            t.connect();
            t.take_events();
        };
        let err = assert_failed_command_changes_nothing(&cfg(v), offline, |t| into(t, "d/e", b""));
        assert_eq!(err, Error::NotConnected);
        let err = assert_failed_command_changes_nothing(
            &cfg(v),
            |t| t.establish(),
            |t| into(t, "d/+", b""),
        );
        assert_eq!(
            err,
            Error::Encode(mqtt_proto::EncodeError::InvalidTopicName)
        );
    }
    // The server's Maximum Packet Size is a 5.0 CONNACK property.
    #[cfg(feature = "v5")]
    {
        let small = |t: &mut Script| {
            t.open();
            t.accept(false, &[Property::MaximumPacketSize(64)]);
        };
        // 1 + 1 + (2 + 3) topic + 1 properties + payload.
        let err =
            assert_failed_command_changes_nothing(&cfg(V5), small, |t| into(t, "a/b", &[7; 57]));
        assert_eq!(err, Error::PacketTooLarge { size: 65, max: 64 });
        assert_eq!(twin(&cfg(V5), small, "a/b", &[7; 56], &[], 1 << 12), 64);
    }
}

/// Back to back with no drain in between, as an adapter hands over a batch: messages
/// written at once and queued ones leave in the order they were issued; once one is
/// queued, the next QoS 0 message queues behind it.
#[test]
fn mqtt_4_6_0_back_to_back_publishes_keep_their_order() {
    for v in VERSIONS {
        let mut t = Script::new(&cfg(v));
        t.establish();
        let room = 1 << 12;
        assert!(
            t.publish_into("o/a", b"a", QoS::AtMostOnce, &[], room)
                .unwrap()
                .1
                > 0
        );
        assert!(
            t.publish_into("o/b", b"b", QoS::AtMostOnce, &[], room)
                .unwrap()
                .1
                > 0
        );
        let (c, n) = t
            .publish_into("o/c", b"c", QoS::AtLeastOnce, &[], room)
            .unwrap();
        assert_eq!(n, 0, "QoS 1 is always stored");
        assert_eq!(
            t.publish_into("o/d", b"d", QoS::AtMostOnce, &[], room)
                .unwrap(),
            (None, 0)
        );
        t.drain();
        assert!(
            t.publish_into("o/e", b"e", QoS::AtMostOnce, &[], room)
                .unwrap()
                .1
                > 0
        );
        t.expect_sent(&[
            publish("o/a", b"a", 0, 0),
            publish("o/b", b"b", 0, 0),
            publish("o/c", b"c", 1, 1),
            publish("o/d", b"d", 0, 0),
            publish("o/e", b"e", 0, 0),
        ]);
        t.server(puback(1));
        t.expect_events(&[Ev::published(c.unwrap())]);
        assert_eq!(t.s.outstanding(), 0);
        t.expect_idle();
    }
}

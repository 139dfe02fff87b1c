//! The broker model on its own: what it does for a correct client, and that each client
//! obligation it checks is reported when broken (and not otherwise).

use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{Duration, Instant};
use mqtt_tests::broker::{Broker, BrokerConfig, ConnId, Notice};
use mqtt_tests::wire::{Pkt, Tap};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V3: ProtocolVersion = ProtocolVersion::V3_1_1;

/// A scripted client connection to the broker.
struct Raw {
    conn: ConnId,
    v: ProtocolVersion,
    tap: Tap,
}

impl Raw {
    fn open(b: &mut Broker, v: ProtocolVersion, now: Instant) -> Raw {
        Raw {
            conn: b.accept(now),
            v,
            tap: Tap::new(v),
        }
    }

    fn send(&self, b: &mut Broker, now: Instant, p: &Pkt) {
        b.handle_input(now, self.conn, &p.encode(self.v).expect("encode"));
    }

    /// Everything the broker has released by `now`.
    fn recv(&mut self, b: &mut Broker, now: Instant) -> Vec<Pkt> {
        let t = b.poll_transmit(now, self.conn);
        self.tap
            .feed(&t.bytes)
            .into_iter()
            .map(|p| p.expect("the broker sent a malformed packet"))
            .collect()
    }
}

fn connect(v: ProtocolVersion, id: &str, clean: bool, expiry: Option<u32>) -> Pkt {
    connect_with(v, id, clean, expiry, 0, None, None)
}

fn connect_with(
    v: ProtocolVersion,
    id: &str,
    clean: bool,
    expiry: Option<u32>,
    keep_alive: u16,
    receive_maximum: Option<u16>,
    topic_alias_maximum: Option<u16>,
) -> Pkt {
    Pkt::Connect {
        version: v,
        clean_start: clean,
        keep_alive,
        client_id: id.into(),
        session_expiry: expiry,
        receive_maximum,
        maximum_packet_size: None,
        topic_alias_maximum,
    }
}

fn publish(qos: QoS, pid: u16, dup: bool, topic: &str, payload: &[u8]) -> Pkt {
    Pkt::Publish {
        dup,
        qos,
        pid,
        retain: false,
        topic: topic.into(),
        topic_alias: None,
        payload: payload.to_vec(),
    }
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn session_present(p: &[Pkt]) -> Option<bool> {
    p.iter().find_map(|p| match p {
        Pkt::ConnAck {
            session_present, ..
        } => Some(*session_present),
        _ => None,
    })
}

fn rules(b: &Broker) -> Vec<&'static str> {
    b.violations().iter().map(|v| v.rule).collect()
}

/// Connects `id` persistently and subscribes it to `s/#` at QoS 2.
fn subscribed(b: &mut Broker, v: ProtocolVersion, id: &str) -> Raw {
    let mut c = Raw::open(b, v, t(0));
    c.send(
        b,
        t(0),
        &connect(v, id, v.is_v5(), v.is_v5().then_some(3600)),
    );
    c.send(
        b,
        t(0),
        &Pkt::Subscribe {
            pid: 1,
            filters: vec![("s/#".into(), QoS::ExactlyOnce)],
        },
    );
    let got = c.recv(b, t(0));
    assert!(got.contains(&Pkt::SubAck {
        pid: 1,
        codes: vec![ReasonCode::GrantedQoS2]
    }));
    c
}

#[test]
fn session_present_follows_clean_start_and_persistence() {
    let mut b = Broker::new(BrokerConfig::default());
    let mut c = Raw::open(&mut b, V3, t(0));
    c.send(&mut b, t(0), &connect(V3, "a", false, None));
    assert_eq!(session_present(&c.recv(&mut b, t(0))), Some(false));
    b.handle_close(t(1), c.conn);
    let mut c = Raw::open(&mut b, V3, t(2));
    c.send(&mut b, t(2), &connect(V3, "a", false, None));
    assert_eq!(session_present(&c.recv(&mut b, t(2))), Some(true));
    b.handle_close(t(3), c.conn);
    // Clean session: a new, empty session that ends with the connection.
    let mut c = Raw::open(&mut b, V3, t(4));
    c.send(&mut b, t(4), &connect(V3, "a", true, None));
    assert_eq!(session_present(&c.recv(&mut b, t(4))), Some(false));
    b.handle_close(t(5), c.conn);
    assert!(!b.has_session("a"));
    // 5.0: Session Expiry Interval 0 ends the session with the connection; 10 s keeps it 10 s.
    let mut c = Raw::open(&mut b, V5, t(6));
    c.send(&mut b, t(6), &connect(V5, "b", true, Some(10)));
    c.recv(&mut b, t(6));
    b.handle_close(t(7), c.conn);
    let mut c = Raw::open(&mut b, V5, t(8_000));
    c.send(&mut b, t(8_000), &connect(V5, "b", false, Some(10)));
    assert_eq!(session_present(&c.recv(&mut b, t(8_000))), Some(true));
    b.handle_close(t(9_000), c.conn);
    b.handle_timeout(t(19_001));
    assert!(!b.has_session("b"), "expired");
    assert!(b.violations().is_empty(), "{:?}", b.violations());
}

#[test]
fn connack_announces_the_configured_5_0_limits() {
    let mut b = Broker::new(BrokerConfig {
        receive_maximum: Some(3),
        maximum_packet_size: Some(500),
        topic_alias_maximum: Some(4),
        server_keep_alive: Some(7),
        ..BrokerConfig::default()
    });
    let mut c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "", true, None));
    let got = c.recv(&mut b, t(0));
    match got.first() {
        Some(Pkt::ConnAck {
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            server_keep_alive,
            assigned_client_id,
            ..
        }) => {
            assert_eq!(*receive_maximum, Some(3));
            assert_eq!(*maximum_packet_size, Some(500));
            assert_eq!(*topic_alias_maximum, Some(4));
            assert_eq!(*server_keep_alive, Some(7));
            assert!(
                assigned_client_id.is_some(),
                "an empty client id gets one assigned"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn qos2_is_routed_once_and_resumed_with_dup() {
    let mut b = Broker::new(BrokerConfig::default());
    let mut c = subscribed(&mut b, V5, "me");
    b.take_notices();
    c.send(
        &mut b,
        t(1),
        &publish(QoS::ExactlyOnce, 5, false, "s/x", b"m1"),
    );
    let got = c.recv(&mut b, t(1));
    assert!(got.contains(&Pkt::PubRec(5, ReasonCode::Success)));
    // Routed back to the client itself, at QoS 2.
    let to_me = got
        .iter()
        .find_map(|p| match p {
            Pkt::Publish {
                pid,
                qos: QoS::ExactlyOnce,
                dup: false,
                ..
            } => Some(*pid),
            _ => None,
        })
        .expect("delivered");
    // The connection drops before PUBREL and before the delivery is acknowledged.
    b.handle_close(t(2), c.conn);
    let mut c = Raw::open(&mut b, V5, t(3));
    c.send(&mut b, t(3), &connect(V5, "me", false, Some(3600)));
    let got = c.recv(&mut b, t(3));
    assert_eq!(session_present(&got), Some(true));
    assert!(
        got.iter()
            .any(|p| matches!(p, Pkt::Publish { pid, dup: true, .. } if *pid == to_me)),
        "unacknowledged delivery resent with DUP: {got:?}"
    );
    // The client's own DUP resend is not routed again.
    c.send(
        &mut b,
        t(4),
        &publish(QoS::ExactlyOnce, 5, true, "s/x", b"m1"),
    );
    assert!(
        c.recv(&mut b, t(4))
            .contains(&Pkt::PubRec(5, ReasonCode::Success))
    );
    let routed = b
        .take_notices()
        .iter()
        .filter(|n| matches!(n, Notice::Routed { .. }))
        .count();
    assert_eq!(routed, 1, "exactly once");
    c.send(&mut b, t(5), &Pkt::PubRel(5, ReasonCode::Success));
    assert!(
        c.recv(&mut b, t(5))
            .contains(&Pkt::PubComp(5, ReasonCode::Success))
    );
    // Released: pid 5 is a new message again.
    c.send(
        &mut b,
        t(6),
        &publish(QoS::ExactlyOnce, 5, false, "s/y", b"m2"),
    );
    c.recv(&mut b, t(6));
    assert!(
        b.take_notices()
            .iter()
            .any(|n| matches!(n, Notice::Routed { payload, .. } if payload == b"m2"))
    );
    assert!(b.violations().is_empty(), "{:?}", b.violations());
}

#[test]
fn restart_keeps_or_loses_every_session() {
    let mut b = Broker::new(BrokerConfig::default());
    let c = subscribed(&mut b, V3, "me");
    let closed = b.restart(t(1), true);
    assert_eq!(closed, vec![c.conn]);
    assert_eq!(
        b.subscriptions("me"),
        vec![("s/#".to_owned(), QoS::ExactlyOnce)]
    );
    b.restart(t(2), false);
    assert!(!b.has_session("me"));
}

#[test]
fn respects_the_client_receive_maximum() {
    let mut b = Broker::new(BrokerConfig::default());
    let mut c = Raw::open(&mut b, V5, t(0));
    c.send(
        &mut b,
        t(0),
        &connect_with(V5, "me", true, Some(60), 0, Some(2), None),
    );
    c.send(
        &mut b,
        t(0),
        &Pkt::Subscribe {
            pid: 1,
            filters: vec![("s/#".into(), QoS::AtLeastOnce)],
        },
    );
    c.recv(&mut b, t(0));
    for i in 0..5u16 {
        c.send(
            &mut b,
            t(1),
            &publish(QoS::AtMostOnce, 0, false, "s/x", &[b'0' + i as u8]),
        );
    }
    let deliveries = |got: &[Pkt]| {
        got.iter()
            .filter_map(|p| match p {
                Pkt::Publish { pid, .. } => Some(*pid),
                _ => None,
            })
            .collect::<Vec<u16>>()
    };
    // Routed at QoS 0 (the publish's): no limit applies.
    assert_eq!(deliveries(&c.recv(&mut b, t(1))).len(), 5);
    for i in 0..5u16 {
        c.send(
            &mut b,
            t(2),
            &publish(QoS::AtLeastOnce, 10 + i, false, "s/x", &[b'a' + i as u8]),
        );
    }
    let first = deliveries(&c.recv(&mut b, t(2)));
    assert_eq!(first.len(), 2, "two in flight at most: {first:?}");
    c.send(&mut b, t(3), &Pkt::PubAck(first[0], ReasonCode::Success));
    assert_eq!(deliveries(&c.recv(&mut b, t(3))).len(), 1);
    assert!(b.violations().is_empty(), "{:?}", b.violations());
}

#[test]
fn keep_alive_is_enforced_at_one_and_a_half_times() {
    let mut b = Broker::new(BrokerConfig::default());
    let mut c = Raw::open(&mut b, V5, t(0));
    c.send(
        &mut b,
        t(0),
        &connect_with(V5, "me", true, None, 10, None, None),
    );
    c.recv(&mut b, t(0));
    assert_eq!(b.poll_timeout(), Some(t(15_000)));
    c.send(&mut b, t(9_000), &Pkt::PingReq);
    assert!(c.recv(&mut b, t(9_000)).contains(&Pkt::PingResp));
    b.handle_timeout(t(23_999));
    assert!(b.is_open(c.conn));
    b.handle_timeout(t(24_000));
    assert!(!b.is_open(c.conn));
    assert!(
        b.take_notices()
            .contains(&Notice::KeepAliveExpired { conn: c.conn })
    );
    let bye = b.poll_transmit(t(24_000), c.conn);
    assert!(bye.closed);
}

#[test]
fn topic_aliases_towards_the_client_stay_within_its_maximum() {
    let mut b = Broker::new(BrokerConfig {
        aliases_to_client: 8,
        ..BrokerConfig::default()
    });
    let mut c = Raw::open(&mut b, V5, t(0));
    c.send(
        &mut b,
        t(0),
        &connect_with(V5, "me", true, None, 0, None, Some(2)),
    );
    c.send(
        &mut b,
        t(0),
        &Pkt::Subscribe {
            pid: 1,
            filters: vec![("s/#".into(), QoS::AtMostOnce)],
        },
    );
    c.recv(&mut b, t(0));
    let mut bound = std::collections::BTreeMap::new();
    for i in 0..30u32 {
        let topic = format!("s/{}", i % 5);
        c.send(
            &mut b,
            t(1),
            &publish(QoS::AtMostOnce, 0, false, &topic, b"x"),
        );
        for p in c.recv(&mut b, t(1)) {
            if let Pkt::Publish {
                topic: tp,
                topic_alias,
                ..
            } = p
            {
                let a = topic_alias.expect("aliases in use");
                assert!((1..=2).contains(&a));
                let resolved = if tp.is_empty() {
                    bound.get(&a).cloned().expect("alias bound before use")
                } else {
                    bound.insert(a, tp.clone());
                    tp
                };
                assert_eq!(resolved, topic);
            }
        }
    }
}

// ----- client obligations --------------------------------------------------------------

#[test]
fn detects_a_packet_before_connect_and_a_second_connect() {
    let mut b = Broker::new(BrokerConfig::default());
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &Pkt::PingReq);
    assert_eq!(rules(&b), vec!["first-packet-not-connect"]);
    let c = Raw::open(&mut b, V5, t(1));
    c.send(&mut b, t(1), &connect(V5, "me", true, None));
    c.send(&mut b, t(1), &connect(V5, "me", true, None));
    assert_eq!(
        rules(&b),
        vec!["first-packet-not-connect", "second-connect"]
    );
}

#[test]
fn detects_malformed_bytes_and_a_zero_packet_id() {
    let mut b = Broker::new(BrokerConfig::default());
    let c = Raw::open(&mut b, V3, t(0));
    c.send(&mut b, t(0), &connect(V3, "me", true, None));
    // PUBACK with packet id 0.
    b.handle_input(t(1), c.conn, &[0x40, 0x02, 0x00, 0x00]);
    assert_eq!(rules(&b), vec!["malformed"]);
    assert!(!b.is_open(c.conn));
}

#[test]
fn detects_a_packet_id_reused_while_its_ack_is_held() {
    let mut b = Broker::new(BrokerConfig {
        max_ack_delay: Duration::from_secs(60),
        seed: 1,
        ..BrokerConfig::default()
    });
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, None));
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtLeastOnce, 3, false, "a", b"one"),
    );
    // Same id, another message, before the PUBACK could have reached the client.
    c.send(
        &mut b,
        t(2),
        &publish(QoS::AtLeastOnce, 3, false, "a", b"two"),
    );
    assert_eq!(rules(&b), vec!["pid-in-use"]);
}

#[test]
fn a_resend_needs_dup_and_a_new_connection() {
    let cfg = BrokerConfig {
        max_ack_delay: Duration::from_secs(60),
        seed: 2,
        ..BrokerConfig::default()
    };
    // Same connection (5.0).
    let mut b = Broker::new(cfg.clone());
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, Some(60)));
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtLeastOnce, 3, false, "a", b"one"),
    );
    c.send(
        &mut b,
        t(2),
        &publish(QoS::AtLeastOnce, 3, true, "a", b"one"),
    );
    assert_eq!(rules(&b), vec!["resend-same-connection"]);
    // Next connection without DUP: the PUBACK was never released, so this is a resend.
    let mut b = Broker::new(cfg.clone());
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, Some(60)));
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtLeastOnce, 3, false, "a", b"one"),
    );
    b.handle_close(t(2), c.conn);
    let c = Raw::open(&mut b, V5, t(3));
    c.send(&mut b, t(3), &connect(V5, "me", false, Some(60)));
    c.send(
        &mut b,
        t(4),
        &publish(QoS::AtLeastOnce, 3, false, "a", b"one"),
    );
    assert_eq!(rules(&b), vec!["resend-without-dup"]);
    // With DUP on the next connection: correct.
    let mut b = Broker::new(cfg);
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, Some(60)));
    c.send(
        &mut b,
        t(1),
        &publish(QoS::ExactlyOnce, 3, false, "a", b"one"),
    );
    b.handle_close(t(2), c.conn);
    let c = Raw::open(&mut b, V5, t(3));
    c.send(&mut b, t(3), &connect(V5, "me", false, Some(60)));
    c.send(
        &mut b,
        t(4),
        &publish(QoS::ExactlyOnce, 3, true, "a", b"one"),
    );
    c.send(&mut b, t(5), &Pkt::PubRel(3, ReasonCode::Success));
    assert!(b.violations().is_empty(), "{:?}", b.violations());
}

#[test]
fn detects_a_publish_after_its_pubrel() {
    let mut b = Broker::new(BrokerConfig {
        max_ack_delay: Duration::from_secs(60),
        seed: 3,
        ..BrokerConfig::default()
    });
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, Some(60)));
    c.send(
        &mut b,
        t(1),
        &publish(QoS::ExactlyOnce, 4, false, "a", b"one"),
    );
    c.send(&mut b, t(2), &Pkt::PubRel(4, ReasonCode::Success));
    b.handle_close(t(3), c.conn);
    let c = Raw::open(&mut b, V5, t(4));
    c.send(&mut b, t(4), &connect(V5, "me", false, Some(60)));
    c.send(
        &mut b,
        t(5),
        &publish(QoS::ExactlyOnce, 4, true, "a", b"one"),
    );
    assert_eq!(rules(&b), vec!["publish-after-pubrel"]);
}

#[test]
fn detects_more_in_flight_than_the_receive_maximum() {
    let mut b = Broker::new(BrokerConfig {
        receive_maximum: Some(2),
        ..BrokerConfig::default()
    });
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, None));
    // QoS 2 stays in flight until PUBCOMP: three of them exceed 2.
    for pid in 1..=3 {
        c.send(
            &mut b,
            t(1),
            &publish(QoS::ExactlyOnce, pid, false, "a", &[pid as u8]),
        );
    }
    assert_eq!(rules(&b), vec!["receive-maximum-exceeded"]);
    // 3.1.1 has no Receive Maximum.
    let mut b = Broker::new(BrokerConfig {
        receive_maximum: Some(2),
        ..BrokerConfig::default()
    });
    let c = Raw::open(&mut b, V3, t(0));
    c.send(&mut b, t(0), &connect(V3, "me", true, None));
    for pid in 1..=3 {
        c.send(
            &mut b,
            t(1),
            &publish(QoS::ExactlyOnce, pid, false, "a", &[pid as u8]),
        );
    }
    assert!(b.violations().is_empty());
}

#[test]
fn detects_acks_out_of_order_and_bytes_after_disconnect() {
    let mut b = Broker::new(BrokerConfig::default());
    let mut c = subscribed(&mut b, V3, "me");
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtMostOnce, 0, false, "s/1", b"a"),
    );
    b.take_notices();
    // Two QoS 1 deliveries (re-published at QoS 1), acked in reverse order.
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtLeastOnce, 7, false, "s/1", b"b"),
    );
    c.send(
        &mut b,
        t(1),
        &publish(QoS::AtLeastOnce, 8, false, "s/1", b"c"),
    );
    let pids: Vec<u16> = c
        .recv(&mut b, t(1))
        .iter()
        .filter_map(|p| match p {
            Pkt::Publish {
                pid,
                qos: QoS::AtLeastOnce,
                ..
            } => Some(*pid),
            _ => None,
        })
        .collect();
    assert_eq!(pids.len(), 2);
    c.send(&mut b, t(2), &Pkt::PubAck(pids[1], ReasonCode::Success));
    c.send(&mut b, t(2), &Pkt::PubAck(pids[0], ReasonCode::Success));
    assert_eq!(rules(&b), vec!["ack-order"]);
    c.send(
        &mut b,
        t(3),
        &Pkt::Disconnect {
            reason_code: ReasonCode::Success,
            session_expiry: None,
        },
    );
    c.send(&mut b, t(3), &Pkt::PingReq);
    assert_eq!(rules(&b), vec!["ack-order", "after-disconnect"]);
}

#[test]
fn detects_topic_aliases_above_the_announced_maximum() {
    let mut b = Broker::new(BrokerConfig {
        topic_alias_maximum: Some(2),
        ..BrokerConfig::default()
    });
    let c = Raw::open(&mut b, V5, t(0));
    c.send(&mut b, t(0), &connect(V5, "me", true, None));
    let aliased = |alias, topic: &str| Pkt::Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        pid: 0,
        retain: false,
        topic: topic.into(),
        topic_alias: Some(alias),
        payload: b"x".to_vec(),
    };
    c.send(&mut b, t(1), &aliased(2, "a/b"));
    c.send(&mut b, t(1), &aliased(2, ""));
    assert!(b.violations().is_empty(), "{:?}", b.violations());
    c.send(&mut b, t(1), &aliased(3, "a/c"));
    assert_eq!(rules(&b), vec!["topic-alias-invalid"]);
}

//! Script tests of limits and faults: flow control, Maximum QoS / Retain / Packet Size,
//! topic aliases, peer faults, caller faults, full tables, routing, input chunking.
//!
//! Each test names the normative statement it covers; the ID is in its doc comment.

mod common;
use common::*;

/// Ids of the PUBLISH packets in `p` (QoS > 0).
#[cfg(feature = "v5")]
fn publish_ids(p: &[Packet<'_>]) -> Vec<u16> {
    p.iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => p.qos.packet_id().map(|i| i.get()),
            _ => None,
        })
        .collect()
}

// ----- flow control ----------------------------------------------------------------------

/// [MQTT-3.3.4-7] [MQTT-4.9.0-1] [MQTT-4.9.0-2] The server's Receive Maximum caps the QoS
/// 1/2 publishes awaiting acknowledgement; QoS 2 holds its unit until PUBCOMP; later
/// publishes (QoS 0 too) wait in order.
#[cfg(feature = "v5")]
#[test]
fn server_receive_maximum_caps_inflight_v5() {
    let mut t = Script::new(&cfg(V5));
    t.open();
    t.accept(false, &[Property::ReceiveMaximum(2)]);
    let toks = [
        t.publish("f/1", b"", QoS::AtLeastOnce).unwrap(),
        t.publish("f/2", b"", QoS::AtLeastOnce).unwrap(),
        t.publish("f/3", b"", QoS::ExactlyOnce).unwrap(),
    ];
    t.publish("f/0", b"", QoS::AtMostOnce);
    t.expect_sent(&[publish("f/1", b"", 1, 1), publish("f/2", b"", 1, 2)]);
    assert_eq!(t.s.inflight_publishes(), 2);
    t.advance(5_000);
    t.expect_idle();
    t.server(puback(1));
    t.expect_events(&[Ev::published(toks[0])]);
    t.expect_sent(&[publish("f/3", b"", 2, 3), publish("f/0", b"", 0, 0)]);
    t.server(pubrec(3));
    t.expect_sent(&[pubrel(3)]);
    let t4 = t.publish("f/4", b"", QoS::AtLeastOnce).unwrap();
    t.expect_nothing_sent();
    assert_eq!(t.s.inflight_publishes(), 2);
    t.server(pubcomp(3));
    t.expect_events(&[Ev::published(toks[2])]);
    t.expect_sent(&[publish("f/4", b"", 1, 4)]);
    t.server_all(&[puback(2), puback(4)]);
    t.expect_events(&[Ev::published(toks[1]), Ev::published(t4)]);
    assert_eq!(t.s.inflight_publishes(), 0);
}

/// [MQTT-3.3.4-8] [MQTT-4.9.0-3] With the send quota used up, SUBSCRIBE, UNSUBSCRIBE,
/// acks of the server's messages and PINGREQ still go without delay.
#[cfg(feature = "v5")]
#[test]
fn exhausted_quota_does_not_delay_other_packets_v5() {
    let mut t = Script::new(&cfg(V5));
    t.open();
    t.accept(false, &[Property::ReceiveMaximum(1)]);
    t.publish("q/1", b"", QoS::AtLeastOnce);
    t.publish("q/2", b"", QoS::AtLeastOnce);
    t.expect_sent(&[publish("q/1", b"", 1, 1)]);
    t.subscribe(&[sub("s/#", QoS::AtLeastOnce)]);
    t.expect_sent(&[subscribe_pkt(3, &[sub("s/#", QoS::AtLeastOnce)], &[])]);
    t.unsubscribe(&["u/#"]);
    t.expect_sent(&[unsubscribe_pkt(4, &["u/#"])]);
    t.server(publish("in", b"", 1, 9));
    t.expect_sent(&[puback(9)]);
    t.take_events();
    t.server(publish("in", b"", 2, 10));
    t.expect_sent(&[pubrec(10)]);
    t.server(pubrel(10));
    t.expect_sent(&[pubcomp(10)]);
    t.take_events();
    t.expect_quiet_until(ms(30_000));
    t.advance_to(ms(30_000));
    t.expect_sent(&[Packet::PingReq]);
}

/// [MQTT-3.3.4-7] On a resumed session a QoS 2 message at the PUBREL stage still counts:
/// never more QoS 1/2 PUBLISHes sent on the connection without their final ack than the
/// server's Receive Maximum.
#[cfg(feature = "v5")]
#[test]
fn resumed_pubrel_counts_against_receive_maximum_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.open();
    t.accept(false, &[Property::ReceiveMaximum(2)]);
    let a = t.publish("r/a", b"", QoS::ExactlyOnce).unwrap();
    t.take_sent();
    t.server(pubrec(1));
    t.expect_sent(&[pubrel(1)]);
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[Property::ReceiveMaximum(2)]);
    t.expect_sent(&[pubrel(1)]);
    let mut unacked: Vec<u16> = Vec::new();
    let mut check = |t: &mut Script, acked: &[u16]| {
        unacked.retain(|id| !acked.contains(id));
        let sent = t.with_sent(publish_ids);
        unacked.extend(sent);
        assert!(unacked.len() <= 2, "unacknowledged PUBLISHes {unacked:?}");
    };
    for topic in ["r/b", "r/c"] {
        t.publish(topic, b"", QoS::AtLeastOnce);
        check(&mut t, &[]);
    }
    t.server(pubcomp(1));
    check(&mut t, &[]);
    t.expect_events(&[Ev::published(a)]);
    t.publish("r/d", b"", QoS::AtLeastOnce);
    check(&mut t, &[]);
    t.server(puback(2));
    check(&mut t, &[2]);
    t.server(puback(3));
    check(&mut t, &[3]);
}

/// Our Receive Maximum (sent in CONNECT) is enforced: one QoS 2 message more than it
/// awaiting PUBREL is DISCONNECT 0x93.
#[cfg(feature = "v5")]
#[test]
fn our_receive_maximum_enforced_v5() {
    let mut c = cfg(V5);
    c.receive_maximum = 2;
    let mut t = Script::new(&c);
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.transport_up();
    t.with_sent(|p| match p {
        [Packet::Connect(c)] => assert_eq!(c.properties.receive_maximum(), Some(2)),
        other => panic!("{other:#?}"),
    });
    t.accept(false, &[]);
    t.server_all(&[publish("in", b"1", 2, 1), publish("in", b"2", 2, 2)]);
    t.expect_sent(&[pubrec(1), pubrec(2)]);
    assert_eq!(t.take_events().len(), 2);
    t.server(publish("in", b"3", 2, 3));
    expect_peer_fault(
        &mut t,
        ReasonCode::ReceiveMaximumExceeded,
        PeerFault::ReceiveMaximumExceeded,
        1,
    );
}

/// The same in manual-ack mode, where QoS 1 messages awaiting the application count too.
#[cfg(feature = "v5")]
#[test]
fn our_receive_maximum_counts_manual_acks_v5() {
    let mut c = cfg(V5);
    c.receive_maximum = 1;
    c.manual_ack = true;
    let mut t = Script::new(&c);
    t.establish();
    t.server(publish("in", b"1", 1, 1));
    assert_eq!(t.take_events().len(), 1);
    t.server(publish("in", b"2", 1, 2));
    expect_peer_fault(
        &mut t,
        ReasonCode::ReceiveMaximumExceeded,
        PeerFault::ReceiveMaximumExceeded,
        1,
    );
}

/// Acks of many messages in one read come out whole and in order, however the session
/// paces its staging buffer.
fn many_acks_in_one_read_keep_order(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let ids: Vec<u16> = (1..=200).collect();
    let packets: Vec<Packet<'_>> = ids
        .iter()
        .map(|&id| publish("bulk", b"x", if id % 3 == 0 { 2 } else { 1 }, id))
        .collect();
    // Keep the incoming QoS 2 table below our Receive Maximum: release as we go.
    let mut all = Vec::new();
    for chunk in packets.chunks(12) {
        all.extend(encode_all(v, chunk));
        for p in chunk {
            if let Packet::Publish(Publish {
                qos: QosPid::ExactlyOnce(id),
                ..
            }) = p
            {
                all.extend(encode_all(v, &[pubrel(id.get())]));
            }
        }
    }
    t.server_bytes(&all);
    let expected: Vec<Packet<'_>> = ids
        .iter()
        .flat_map(|&id| {
            if id % 3 == 0 {
                vec![(0, pubrec(id)), (1, pubcomp(id))]
            } else {
                vec![(0, puback(id))]
            }
        })
        .map(|(_, p)| p)
        .collect();
    let got = t.take_sent();
    let got = decode_stream(v, &got);
    // Acks per message in arrival order; each PUBCOMP after its PUBREC.
    let acks: Vec<Packet<'_>> = got
        .iter()
        .copied()
        .filter(|p| !matches!(p, Packet::PubComp(_)))
        .collect();
    let expected_acks: Vec<Packet<'_>> = expected
        .iter()
        .copied()
        .filter(|p| !matches!(p, Packet::PubComp(_)))
        .collect();
    assert_eq!(acks, expected_acks);
    assert_eq!(got.len(), expected.len());
    let events = t.take_events();
    assert_eq!(events.len(), 200);
    assert_eq!(t.s.state(), ConnState::Connected);
}

#[test]
fn many_acks_in_one_read_keep_order_v311() {
    many_acks_in_one_read_keep_order(V311);
}

#[cfg(feature = "v5")]
#[test]
fn many_acks_in_one_read_keep_order_v5() {
    many_acks_in_one_read_keep_order(V5);
}

// ----- what the server allows ------------------------------------------------------------

/// [MQTT-3.2.2-11] Above the server's Maximum QoS a publish is refused with
/// `Err(QoSNotSupported)`, and nothing changes.
#[cfg(feature = "v5")]
#[test]
fn maximum_qos_refused_v5() {
    for (max, refused) in [
        (QoS::AtLeastOnce, QoS::ExactlyOnce),
        (QoS::AtMostOnce, QoS::AtLeastOnce),
        (QoS::AtMostOnce, QoS::ExactlyOnce),
    ] {
        let err = assert_failed_command_changes_nothing(
            &cfg(V5),
            |t| {
                t.open();
                t.accept(false, &[Property::MaximumQoS(max)]);
            },
            |t| t.try_publish("m", b"", refused, false, &[]).map(|_| ()),
        );
        assert_eq!(err, Error::QoSNotSupported);
    }
}

/// [MQTT-3.2.2-14] Retain Available = 0: a retained publish is `Err(RetainNotSupported)`,
/// and nothing changes.
#[cfg(feature = "v5")]
#[test]
fn retain_unavailable_refused_v5() {
    let err = assert_failed_command_changes_nothing(
        &cfg(V5),
        |t| {
            t.open();
            t.accept(false, &[Property::RetainAvailable(false)]);
        },
        |t| {
            t.try_publish("m", b"", QoS::AtMostOnce, true, &[])
                .map(|_| ())
        },
    );
    assert_eq!(err, Error::RetainNotSupported);
}

/// [MQTT-3.2.2-11] [MQTT-3.2.2-14] [MQTT-3.2.2-15] Publishes queued before the server's
/// limits were known are never sent above them: each such one is reported `Lost`, the
/// others go.
#[cfg(feature = "v5")]
#[test]
fn queued_publish_over_server_limits_not_sent_v5() {
    let mut t = Script::new(&cfg(V5));
    let big = [0u8; 200];
    let a = t.publish("l/a", b"", QoS::ExactlyOnce).unwrap();
    let b = t
        .try_publish("l/b", b"", QoS::AtLeastOnce, true, &[])
        .unwrap()
        .unwrap();
    let c = t.publish("l/c", &big, QoS::AtLeastOnce).unwrap();
    let d = t.publish("l/d", b"", QoS::AtLeastOnce).unwrap();
    t.open();
    t.accept(
        false,
        &[
            Property::MaximumQoS(QoS::AtLeastOnce),
            Property::RetainAvailable(false),
            Property::MaximumPacketSize(100),
        ],
    );
    t.expect_sent(&[publish("l/d", b"", 1, 4)]);
    let mut events = t.take_events();
    events.sort_by_key(|e| e.completion_token());
    assert_eq!(
        events,
        [
            Ev::Lost {
                token: a,
                reason: LossReason::QoSNotSupported
            },
            Ev::Lost {
                token: b,
                reason: LossReason::RetainNotSupported
            },
            Ev::Lost {
                token: c,
                reason: LossReason::PacketTooLarge
            },
        ]
    );
    t.server(puback(4));
    t.expect_events(&[Ev::published(d)]);
}

/// [MQTT-3.2.2-15] A publish or subscribe larger than the server's Maximum Packet Size is
/// `Err(PacketTooLarge)` with its size, and nothing changes; one exactly at the limit goes.
#[cfg(feature = "v5")]
#[test]
fn publish_over_server_maximum_packet_size_is_err_v5() {
    let setup = |t: &mut Script| {
        t.open();
        t.accept(false, &[Property::MaximumPacketSize(64)]);
    };
    // 1 + 1 + (2 + 3) topic + 2 id + 1 properties + payload.
    let err = assert_failed_command_changes_nothing(&cfg(V5), setup, |t| {
        t.try_publish("a/b", &[7; 55], QoS::AtLeastOnce, false, &[])
            .map(|_| ())
    });
    assert_eq!(err, Error::PacketTooLarge { size: 65, max: 64 });
    let long = "f".repeat(100);
    let err = assert_failed_command_changes_nothing(&cfg(V5), setup, |t| {
        t.s.subscribe(t.now, &[sub(&long, QoS::AtMostOnce)], &[])
            .map(|_| ())
    });
    assert!(
        matches!(err, Error::PacketTooLarge { max: 64, .. }),
        "{err:?}"
    );
    let mut t = Script::new(&cfg(V5));
    setup(&mut t);
    t.publish("a/b", &[7; 54], QoS::AtLeastOnce);
    assert_eq!(t.take_sent().len(), 64);
}

/// An incoming packet larger than our Maximum Packet Size: refused from its fixed header
/// alone (5.0: DISCONNECT 0x95; 3.1.1: close).
fn incoming_packet_over_our_maximum(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.maximum_packet_size = Some(100);
    let mut t = Script::new(&c);
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.transport_up();
    t.with_sent(|p| match p {
        [Packet::Connect(c)] if v.is_v5() => {
            assert_eq!(c.properties.maximum_packet_size(), Some(100))
        }
        [Packet::Connect(_)] => {}
        other => panic!("{other:#?}"),
    });
    t.accept(false, &[]);
    // A PUBLISH of 200 bytes: only its fixed header has arrived.
    t.server_hex("30 c5 01");
    expect_peer_fault(
        &mut t,
        ReasonCode::PacketTooLarge,
        PeerFault::Malformed(DecodeError::PacketTooLarge {
            size: 200,
            max: 100,
        }),
        1,
    );
}

#[test]
fn incoming_packet_over_our_maximum_v311() {
    incoming_packet_over_our_maximum(V311);
}

#[cfg(feature = "v5")]
#[test]
fn incoming_packet_over_our_maximum_v5() {
    incoming_packet_over_our_maximum(V5);
}

// ----- topic aliases -----------------------------------------------------------------------

/// A 5.0 PUBLISH QoS 0 on `topic` with Topic Alias `alias`, raw (an alias of 0 cannot be
/// encoded by mqtt-proto).
fn aliased_publish_bytes(topic: &str, alias: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((topic.len() as u16).to_be_bytes());
    body.extend(topic.as_bytes());
    body.extend([3, 0x23]);
    body.extend(alias.to_be_bytes());
    body.extend(payload);
    assert!(body.len() < 128);
    let mut p = vec![0x30, body.len() as u8];
    p.extend(body);
    p
}

/// 5.0 §3.3.2.3.4: a Topic Alias of 0 [MQTT-3.3.2-8] sent by the server is an invalid
/// alias: DISCONNECT 0x94 (Topic Alias invalid).
#[cfg(feature = "v5")]
#[test]
fn incoming_topic_alias_zero_is_invalid_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server_bytes(&aliased_publish_bytes("a/b", 0, b"x"));
    t.expect_sent(&[disconnect_pkt(ReasonCode::TopicAliasInvalid)]);
    let events = t.take_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Ev::ConnectionLost(ConnectionError::ProtocolViolation {
                reason_code: ReasonCode::TopicAliasInvalid,
                ..
            })
        )),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Ev::Message(_))));
}

/// [MQTT-4.8.0-2] A transient error while processing a received packet closes the
/// connection: an alias binding the store cannot keep (a topic longer than the 64 bytes
/// reserved per alias, and no room to spare) ends it with DISCONNECT 0x83 rather than
/// misrouting later messages sent with that alias alone. Our limit, so reconnect follows.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_8_0_2_alias_binding_the_store_cannot_keep_closes_with_0x83_v5() {
    let mut c = cfg(V5);
    c.topic_alias_maximum = 2;
    // 512 bytes: two aliases reserve 128 of them (ALIAS_RESERVE 64 each).
    let mut t = Script::with_store(&c, ArenaStore::<8, 512>::new());
    t.establish();
    // QoS 1 records of ~100 bytes until the store refuses one (it keeps the 128 free).
    let mut stored = 0;
    while t
        .s
        .publish(t.now, "p", &[7; 90], QoS::AtLeastOnce, false, &[])
        .is_ok()
    {
        stored += 1;
    }
    assert_eq!(stored, 3);
    t.drain();
    t.take_sent();
    // The first binding fits in the room kept free; the second no longer does.
    let long = |c: char, n: usize| core::iter::repeat_n(c, n).collect::<String>();
    let (first, second) = (long('a', 110), long('b', 115));
    t.server_bytes(&aliased_publish_bytes(&first, 1, b"x"));
    assert!(
        t.take_events()
            .iter()
            .any(|e| matches!(e, Ev::Message(m) if m.topic == first))
    );
    t.server_bytes(&aliased_publish_bytes(&second, 2, b"y"));
    expect_peer_fault(
        &mut t,
        ReasonCode::ImplementationSpecificError,
        PeerFault::TopicAliasNotKept(2),
        1,
    );
}

/// [MQTT-3.3.2-11] A Topic Alias above the Topic Alias Maximum we sent is invalid:
/// DISCONNECT 0x94, not delivered (also when we allowed none).
#[cfg(feature = "v5")]
#[test]
fn incoming_topic_alias_above_maximum_is_invalid_v5() {
    for (max, alias) in [(16u16, 17u16), (0, 1)] {
        let mut c = cfg(V5);
        c.topic_alias_maximum = max;
        let mut t = Script::new(&c);
        t.establish();
        t.server_bytes(&aliased_publish_bytes("a/b", alias, b"x"));
        expect_peer_fault(
            &mut t,
            ReasonCode::TopicAliasInvalid,
            PeerFault::TopicAliasInvalid(alias),
            1,
        );
    }
}

/// [MQTT-3.3.2-10] Every alias from 1 to our maximum is accepted; a topic binds it, an
/// empty topic uses it (the message carries the bound topic), a new topic rebinds it.
#[cfg(feature = "v5")]
#[test]
fn incoming_topic_alias_resolved_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    let msg = |topic: &str, payload: &[u8], alias: u16| {
        let mut m = Msg::new(topic, payload, QoS::AtMostOnce);
        m.topic_alias = Some(alias);
        Ev::Message(m)
    };
    for alias in 1..=16 {
        let topic = format!("t/{alias}");
        t.server_bytes(&aliased_publish_bytes(&topic, alias, b"bind"));
        t.expect_events(&[msg(&topic, b"bind", alias)]);
    }
    for alias in [1, 16, 7] {
        t.server_bytes(&aliased_publish_bytes("", alias, b"use"));
        t.expect_events(&[msg(&format!("t/{alias}"), b"use", alias)]);
    }
    t.server_bytes(&aliased_publish_bytes("other", 7, b"rebind"));
    t.server_bytes(&aliased_publish_bytes("", 7, b"use"));
    t.expect_events(&[msg("other", b"rebind", 7), msg("other", b"use", 7)]);
    t.expect_nothing_sent();
    assert_eq!(t.s.state(), ConnState::Connected);
}

/// An empty topic with an alias never bound is a protocol error (DISCONNECT 0x82).
#[cfg(feature = "v5")]
#[test]
fn unknown_topic_alias_is_protocol_error_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server_bytes(&aliased_publish_bytes("", 5, b"x"));
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::TopicAliasUnknown(5),
        1,
    );
}

/// [MQTT-3.3.2-7] Alias mappings do not carry over to a new connection.
#[cfg(feature = "v5")]
#[test]
fn topic_aliases_not_carried_over_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.establish();
    t.server_bytes(&aliased_publish_bytes("a/b", 3, b"x"));
    t.take_events();
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    t.server_bytes(&aliased_publish_bytes("", 3, b"y"));
    // A short connection: the backoff goes on to attempt 2.
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::TopicAliasUnknown(3),
        2,
    );
}

/// A server keeping the aliases our PUBLISHes bind; resolves each to its topic.
#[cfg(feature = "v5")]
struct AliasTable(Vec<Option<String>>);

#[cfg(feature = "v5")]
impl AliasTable {
    fn resolve(&mut self, p: &Publish<'_>, max: u16) -> String {
        match p.properties.topic_alias() {
            None => {
                assert!(!p.topic.is_empty());
                p.topic.to_string()
            }
            Some(a) => {
                assert!(a >= 1 && a <= max, "alias {a} above the server's {max}");
                let slot = &mut self.0[usize::from(a)];
                if p.topic.is_empty() {
                    slot.clone().expect("alias used before it was bound")
                } else {
                    *slot = Some(p.topic.to_string());
                    p.topic.to_string()
                }
            }
        }
    }
}

/// [MQTT-3.2.2-18] No Topic Alias Maximum from the server: our PUBLISHes carry no alias.
#[cfg(feature = "v5")]
#[test]
fn no_outgoing_alias_without_server_maximum_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    for _ in 0..3 {
        t.publish("same/topic", b"x", QoS::AtLeastOnce);
    }
    t.with_sent(|p| {
        for p in p {
            let Packet::Publish(p) = p else { panic!() };
            assert_eq!(p.topic, "same/topic");
            assert_eq!(p.properties.topic_alias(), None);
        }
    });
}

/// [MQTT-3.2.2-17] [MQTT-3.3.2-9] [MQTT-3.3.2-7] Aliases we send stay within the server's
/// Topic Alias Maximum, every aliased PUBLISH resolves to the topic published, and a new
/// connection starts from an empty table (the first use carries the topic again).
#[cfg(feature = "v5")]
#[test]
fn outgoing_aliases_within_server_maximum_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.open();
    t.accept(false, &[Property::TopicAliasMaximum(2)]);
    let topics = ["x/a", "x/b", "x/c", "x/a", "x/b", "x/a", "x/c", "x/a"];
    let mut table = AliasTable(vec![None; 3]);
    let check = |t: &mut Script, expected: &[&str], table: &mut AliasTable| {
        let got: Vec<String> = t.with_sent(|p| {
            p.iter()
                .filter_map(|p| match p {
                    Packet::Publish(p) => Some(table.resolve(p, 2)),
                    _ => None,
                })
                .collect()
        });
        assert_eq!(got, expected);
    };
    for topic in topics {
        t.publish(topic, b"", QoS::AtLeastOnce);
        check(&mut t, &[topic], &mut table);
    }
    // Unacknowledged ones go again on the resumed session: a fresh alias table.
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[Property::TopicAliasMaximum(2)]);
    let mut fresh = AliasTable(vec![None; 3]);
    check(&mut t, &topics, &mut fresh);
}

// ----- peer faults -----------------------------------------------------------------------

/// [MQTT-4.8.0-1] A malformed packet (a topic that is not UTF-8) ends the connection:
/// 5.0 DISCONNECT 0x81, 3.1.1 close; nothing is delivered.
fn malformed_packet_closes_with_0x81(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server_hex(if v.is_v5() {
        "30 05 00 02 ff fe 00"
    } else {
        "30 04 00 02 ff fe"
    });
    expect_peer_fault(
        &mut t,
        ReasonCode::MalformedPacket,
        PeerFault::Malformed(DecodeError::InvalidUtf8),
        1,
    );
}

#[test]
fn malformed_packet_closes_with_0x81_v311() {
    malformed_packet_closes_with_0x81(V311);
}

#[cfg(feature = "v5")]
#[test]
fn malformed_packet_closes_with_0x81_v5() {
    malformed_packet_closes_with_0x81(V5);
}

/// [MQTT-3.3.1-4] A PUBLISH with QoS 3 is malformed (0x81).
fn qos3_publish_is_malformed(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server_hex("36 06 00 01 61 00 01 00");
    expect_peer_fault(
        &mut t,
        ReasonCode::MalformedPacket,
        PeerFault::Malformed(DecodeError::InvalidQoS),
        1,
    );
}

#[test]
fn qos3_publish_is_malformed_v311() {
    qos3_publish_is_malformed(V311);
}

#[cfg(feature = "v5")]
#[test]
fn qos3_publish_is_malformed_v5() {
    qos3_publish_is_malformed(V5);
}

/// Reserved packet type 0 is a protocol error (0x82).
fn reserved_packet_type_is_protocol_error(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server_hex("00 00");
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::Malformed(DecodeError::InvalidPacketType(0)),
        1,
    );
}

#[test]
fn reserved_packet_type_is_protocol_error_v311() {
    reserved_packet_type_is_protocol_error(V311);
}

#[cfg(feature = "v5")]
#[test]
fn reserved_packet_type_is_protocol_error_v5() {
    reserved_packet_type_is_protocol_error(V5);
}

/// An acknowledgement for an id not in flight (or of the wrong kind for it) is a
/// protocol error: 5.0 DISCONNECT 0x82, 3.1.1 close.
fn unknown_ack_id_is_protocol_error(v: ProtocolVersion) {
    let unsub_codes: &[ReasonCode] = if v.is_v5() {
        &[ReasonCode::Success]
    } else {
        &[]
    };
    let codes = [ReasonCode::Success];
    let cases: Vec<(Packet<'_>, PacketType, u16)> = vec![
        (puback(42), PacketType::PubAck, 42),
        (pubrec(42), PacketType::PubRec, 42),
        (pubcomp(42), PacketType::PubComp, 42),
        (suback(42, &codes), PacketType::SubAck, 42),
        (unsuback(42, unsub_codes), PacketType::UnsubAck, 42),
        // Id 1 is a QoS 2 PUBLISH awaiting PUBREC, id 2 a QoS 1 awaiting PUBACK.
        (puback(1), PacketType::PubAck, 1),
        (pubcomp(1), PacketType::PubComp, 1),
        (pubrec(2), PacketType::PubRec, 2),
        (suback(2, &codes), PacketType::SubAck, 2),
    ];
    for (p, ty, id) in cases {
        let mut t = Script::new(&cfg(v));
        t.establish();
        t.publish("x", b"", QoS::ExactlyOnce);
        t.publish("y", b"", QoS::AtLeastOnce);
        t.take_sent();
        t.server(p);
        expect_peer_fault(
            &mut t,
            ReasonCode::ProtocolError,
            PeerFault::UnknownPacketId(ty, id),
            1,
        );
    }
}

#[test]
fn unknown_ack_id_is_protocol_error_v311() {
    unknown_ack_id_is_protocol_error(V311);
}

#[cfg(feature = "v5")]
#[test]
fn unknown_ack_id_is_protocol_error_v5() {
    unknown_ack_id_is_protocol_error(V5);
}

/// Packets only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), and (5.0) an
/// AUTH when we sent no authentication method [MQTT-4.12.0-6], are protocol errors.
fn client_only_packets_from_server_are_protocol_errors(v: ProtocolVersion) {
    let filters = [sub("a", QoS::AtMostOnce)];
    let unsub = ["a"];
    let mut cases: Vec<(Packet<'_>, PeerFault)> = vec![
        (
            Packet::Connect(default_connect(v, true)),
            PeerFault::UnexpectedPacket(PacketType::Connect),
        ),
        (
            subscribe_pkt(1, &filters, &[]),
            PeerFault::UnexpectedPacket(PacketType::Subscribe),
        ),
        (
            unsubscribe_pkt(1, &unsub),
            PeerFault::UnexpectedPacket(PacketType::Unsubscribe),
        ),
        (
            Packet::PingReq,
            PeerFault::UnexpectedPacket(PacketType::PingReq),
        ),
    ];
    if v.is_v5() {
        cases.push((
            Packet::Auth(mqtt_proto::Auth {
                reason_code: ReasonCode::ContinueAuthentication,
                properties: Properties::new(&[Property::AuthenticationMethod("x")]),
            }),
            PeerFault::UnexpectedAuth,
        ));
    }
    for (p, fault) in cases {
        let mut t = Script::new(&cfg(v));
        t.establish();
        t.server(p);
        expect_peer_fault(&mut t, ReasonCode::ProtocolError, fault, 1);
    }
}

#[test]
fn client_only_packets_from_server_are_protocol_errors_v311() {
    client_only_packets_from_server_are_protocol_errors(V311);
}

#[cfg(feature = "v5")]
#[test]
fn client_only_packets_from_server_are_protocol_errors_v5() {
    client_only_packets_from_server_are_protocol_errors(V5);
}

// ----- full tables and caller faults --------------------------------------------------------

/// A full outbox is `Err(Full)` for publish, subscribe and unsubscribe, connected or not,
/// and the session is unchanged (same next packet ids, tokens, transmissions).
fn full_outbox_is_err_full_and_changes_nothing(v: ProtocolVersion) {
    for connected in [false, true] {
        let setup = |t: &mut Script| {
            if connected {
                t.establish();
            }
            for i in 0..OUT_CAP {
                t.publish(&format!("f/{i}"), b"", QoS::AtLeastOnce);
            }
            assert_eq!(t.s.outstanding(), OUT_CAP);
        };
        let c = cfg(v);
        let e1 = assert_failed_command_changes_nothing(&c, setup, |t| {
            t.try_publish("x", b"", QoS::AtLeastOnce, false, &[])
                .map(|_| ())
        });
        let e2 = assert_failed_command_changes_nothing(&c, setup, |t| {
            t.s.subscribe(t.now, &[sub("x", QoS::AtMostOnce)], &[])
                .map(|_| ())
        });
        let e3 = assert_failed_command_changes_nothing(&c, setup, |t| {
            t.s.unsubscribe(t.now, &[TopicFilter::from_static("x")], &[])
                .map(|_| ())
        });
        assert_eq!([e1, e2, e3], [Error::Full; 3]);
        assert!(e1.is_capacity());
    }
}

#[test]
fn full_outbox_is_err_full_and_changes_nothing_v311() {
    full_outbox_is_err_full_and_changes_nothing(V311);
}

#[cfg(feature = "v5")]
#[test]
fn full_outbox_is_err_full_and_changes_nothing_v5() {
    full_outbox_is_err_full_and_changes_nothing(V5);
}

/// A full store is `Err(Full)` too, and changes nothing (the packet id it would have
/// taken is not used up).
fn full_store_is_err_full_and_changes_nothing(v: ProtocolVersion) {
    let big = vec![1u8; 3000];
    let setup = |t: &mut Script| {
        for i in 0..5 {
            t.publish(&format!("s/{i}"), &big, QoS::AtLeastOnce);
        }
    };
    let err = assert_failed_command_changes_nothing(&cfg(v), setup, |t| {
        t.try_publish("s/5", &big, QoS::AtLeastOnce, false, &[])
            .map(|_| ())
    });
    assert_eq!(err, Error::Full);
}

#[test]
fn full_store_is_err_full_and_changes_nothing_v311() {
    full_store_is_err_full_and_changes_nothing(V311);
}

#[cfg(feature = "v5")]
#[test]
fn full_store_is_err_full_and_changes_nothing_v5() {
    full_store_is_err_full_and_changes_nothing(V5);
}

/// Caller faults are `Err` and change nothing: a topic with wildcards or empty, an
/// invalid or empty filter list, properties in 3.1.1, properties a client may not send.
fn caller_faults_are_err_and_change_nothing(v: ProtocolVersion) {
    type Cmd = Box<dyn Fn(&mut Script) -> Result<(), Error>>;
    let mut cases: Vec<(&str, Cmd)> = vec![
        (
            "wildcard topic",
            Box::new(|t| {
                t.try_publish("a/+", b"", QoS::AtLeastOnce, false, &[])
                    .map(|_| ())
            }),
        ),
        (
            "# topic",
            Box::new(|t| {
                t.try_publish("a/#", b"", QoS::ExactlyOnce, false, &[])
                    .map(|_| ())
            }),
        ),
        (
            "empty topic",
            Box::new(|t| {
                t.try_publish("", b"", QoS::AtLeastOnce, false, &[])
                    .map(|_| ())
            }),
        ),
        // An invalid filter cannot reach the session: `Subscription::filter` and the
        // unsubscribe list are `TopicFilter`s, refused where they are made (mqtt-proto
        // tests/malformed.rs `mqtt_4_7_1_2_...`).
        (
            "no filter",
            Box::new(|t| t.s.subscribe(t.now, &[], &[]).map(|_| ())),
        ),
        (
            "no unsubscribe filter",
            Box::new(|t| t.s.unsubscribe(t.now, &[], &[]).map(|_| ())),
        ),
    ];
    if v.is_v5() {
        cases.push((
            "topic alias property",
            Box::new(|t| {
                t.try_publish(
                    "a",
                    b"",
                    QoS::AtLeastOnce,
                    false,
                    &[Property::TopicAlias(1)],
                )
                .map(|_| ())
            }),
        ));
        cases.push((
            "subscription identifier in publish",
            Box::new(|t| {
                t.try_publish(
                    "a",
                    b"",
                    QoS::AtLeastOnce,
                    false,
                    &[Property::SubscriptionIdentifier(1)],
                )
                .map(|_| ())
            }),
        ));
        cases.push((
            "no local on a shared subscription",
            Box::new(|t| {
                let mut s = sub("$share/g/a", QoS::AtMostOnce);
                s.options.no_local = true;
                t.s.subscribe(t.now, &[s], &[]).map(|_| ())
            }),
        ));
    } else {
        cases.push((
            "publish properties in 3.1.1",
            Box::new(|t| {
                t.try_publish(
                    "a",
                    b"",
                    QoS::AtLeastOnce,
                    false,
                    &[Property::ContentType("x")],
                )
                .map(|_| ())
            }),
        ));
        cases.push((
            "subscribe properties in 3.1.1",
            Box::new(|t| {
                t.s.subscribe(
                    t.now,
                    &[sub("a", QoS::AtMostOnce)],
                    &[Property::SubscriptionIdentifier(1)],
                )
                .map(|_| ())
            }),
        ));
    }
    for (what, cmd) in cases {
        for connected in [false, true] {
            let err = assert_failed_command_changes_nothing(
                &cfg(v),
                |t| {
                    if connected {
                        t.establish();
                    }
                    t.publish("ok", b"", QoS::AtLeastOnce);
                },
                |t| cmd(t),
            );
            assert!(
                matches!(err, Error::Encode(_) | Error::NotInVersion),
                "{what}: {err:?}"
            );
        }
    }
}

#[test]
fn caller_faults_are_err_and_change_nothing_v311() {
    caller_faults_are_err_and_change_nothing(V311);
}

#[cfg(feature = "v5")]
#[test]
fn caller_faults_are_err_and_change_nothing_v5() {
    caller_faults_are_err_and_change_nothing(V5);
}

// ----- routing ---------------------------------------------------------------------------

/// The routing helper: `for_each_match` visits every remembered filter matching a topic,
/// with its options and (5.0) subscription identifier; unsubscribed and refused filters
/// are forgotten; `$` topics do not match leading wildcards [MQTT-4.7.2-1].
fn for_each_match_routes(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let id_props = [Property::SubscriptionIdentifier(3)];
    let props: &[Property<'_>] = if v.is_v5() { &id_props } else { &[] };
    t.s.subscribe(
        t.now,
        &[sub("a/+", QoS::AtLeastOnce), sub("a/#", QoS::AtMostOnce)],
        props,
    )
    .unwrap();
    t.subscribe(&[sub("b/c", QoS::ExactlyOnce), sub("#", QoS::AtMostOnce)]);
    t.subscribe(&[sub("z/1", QoS::AtLeastOnce)]);
    t.take_sent();
    t.server_all(&[
        suback(1, &[ReasonCode::GrantedQoS1, ReasonCode::Success]),
        suback(2, &[ReasonCode::GrantedQoS2, ReasonCode::Success]),
        suback(3, &[ReasonCode::UnspecifiedError]),
    ]);
    assert_eq!(t.take_events().len(), 3);
    let sid = if v.is_v5() { Some(3) } else { None };
    let matches = |t: &Script, topic: &str| {
        let mut m = Vec::new();
        t.s.for_each_match(topic, &mut |f, o, id| m.push((f.to_owned(), o.qos, id)));
        m.sort();
        m
    };
    let e = |f: &str, q, id| (f.to_owned(), q, id);
    assert_eq!(
        matches(&t, "a/x"),
        [
            e("#", QoS::AtMostOnce, None),
            e("a/#", QoS::AtMostOnce, sid),
            e("a/+", QoS::AtLeastOnce, sid)
        ]
    );
    assert_eq!(
        matches(&t, "a/x/y"),
        [
            e("#", QoS::AtMostOnce, None),
            e("a/#", QoS::AtMostOnce, sid)
        ]
    );
    assert_eq!(
        matches(&t, "b/c"),
        [
            e("#", QoS::AtMostOnce, None),
            e("b/c", QoS::ExactlyOnce, None)
        ]
    );
    assert_eq!(matches(&t, "z/1"), [e("#", QoS::AtMostOnce, None)]);
    assert_eq!(matches(&t, "$SYS/x"), []);
    t.unsubscribe(&["a/#", "#"]);
    assert_eq!(matches(&t, "a/x"), [e("a/+", QoS::AtLeastOnce, sid)]);
    let mut all = 0;
    t.s.for_each_subscription(&mut |_, _, _| all += 1);
    assert_eq!(all, 2);
}

#[test]
fn for_each_match_routes_v311() {
    for_each_match_routes(V311);
}

#[cfg(feature = "v5")]
#[test]
fn for_each_match_routes_v5() {
    for_each_match_routes(V5);
}

/// [MQTT-3.3.2-3] (a server duty the client can detect): a PUBLISH whose topic matches
/// none of the client's filters is delivered, not treated as a protocol error, since a
/// server may rightly deliver from a subscription this session does not remember (a
/// persistent session subscribed by an earlier process, or a QoS 1/2 message the server
/// had started to send before an UNSUBSCRIBE and must complete [MQTT-3.10.4-3]);
/// `for_each_match` visits no filter
/// for it, which is how the application tells it from a message it asked for.
fn mqtt_3_3_2_3_unsolicited_topic_is_delivered_and_matches_no_filter(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.subscribe(&[sub("a/+", QoS::AtLeastOnce)]);
    t.take_sent();
    t.server(suback(1, &[ReasonCode::GrantedQoS1]));
    assert_eq!(t.take_events().len(), 1);
    for (topic, id) in [("a/1", 5), ("q/1", 6)] {
        t.server(publish(topic, b"m", 1, id));
        let events = t.take_events();
        assert!(
            matches!(events.as_slice(), [Ev::Message(m)] if m.topic == topic),
            "{topic}: {events:?}"
        );
        t.expect_sent(&[puback(id)]);
    }
    assert_eq!(t.s.state(), ConnState::Connected);
    let mut matched = Vec::new();
    t.s.for_each_match("a/1", &mut |f, _, _| matched.push(f.to_owned()));
    assert_eq!(matched, ["a/+"]);
    matched.clear();
    t.s.for_each_match("q/1", &mut |f, _, _| matched.push(f.to_owned()));
    assert!(matched.is_empty(), "{matched:?}");
}

#[test]
fn mqtt_3_3_2_3_unsolicited_topic_is_delivered_and_matches_no_filter_v311() {
    mqtt_3_3_2_3_unsolicited_topic_is_delivered_and_matches_no_filter(V311);
}

#[cfg(feature = "v5")]
#[test]
fn mqtt_3_3_2_3_unsolicited_topic_is_delivered_and_matches_no_filter_v5() {
    mqtt_3_3_2_3_unsolicited_topic_is_delivered_and_matches_no_filter(V5);
}

// ----- chunking ----------------------------------------------------------------------------

/// A server transcript: a CONNACK, then after the client's operations acks and messages.
fn transcript(v: ProtocolVersion) -> (Vec<u8>, Vec<u8>) {
    let connack_props = [
        Property::ServerKeepAlive(20),
        Property::ReceiveMaximum(5),
        Property::AssignedClientIdentifier("given"),
    ];
    let first = encode_all(
        v,
        &[connack(
            false,
            ReasonCode::Success,
            if v.is_v5() { &connack_props } else { &[] },
        )],
    );
    let codes = [ReasonCode::GrantedQoS1];
    let mut rest = encode_all(
        v,
        &[
            suback(1, &codes),
            puback(2),
            pubrec(3),
            publish("in/0", b"zero", 0, 0),
            publish("in/1", b"one", 1, 11),
            publish("in/2", b"two", 2, 12),
            publish_pkt(true, 2, 12, false, "in/2", &[], b"two"),
            pubrel(12),
            pubcomp(3),
            Packet::PingResp,
            pubrel(99),
        ],
    );
    if v.is_v5() {
        rest.extend(aliased_publish_bytes("al/1", 4, b"bind"));
        rest.extend(aliased_publish_bytes("", 4, b"use"));
    }
    (first, rest)
}

/// Runs the transcript with `feed` doing the server's sending; returns what the client
/// sent and the events.
fn run_transcript(v: ProtocolVersion, feed: &dyn Fn(&mut Script, &[u8])) -> (Vec<u8>, Vec<Ev>) {
    let (first, rest) = transcript(v);
    let mut t = Script::new(&cfg(v));
    t.connect();
    t.transport_up();
    feed(&mut t, &first);
    t.subscribe(&[sub("in/#", QoS::AtLeastOnce)]);
    t.publish("o/1", b"1", QoS::AtLeastOnce);
    t.publish("o/2", b"2", QoS::ExactlyOnce);
    feed(&mut t, &rest);
    t.advance(25_000);
    (t.take_sent(), t.take_events())
}

/// The receive path fed one byte at a time, or in odd chunks, gives the same events and
/// the same bytes out as fed whole.
fn bytewise_input_equals_whole(v: ProtocolVersion) {
    let whole = run_transcript(v, &|t, b| t.server_bytes(b));
    let bytewise = run_transcript(v, &|t, b| t.server_bytes_bytewise(b));
    let chunked = run_transcript(v, &|t, b| {
        for c in b.chunks(7) {
            t.server_bytes(c);
        }
    });
    assert!(whole.1.len() >= 8, "transcript too short: {:?}", whole.1);
    assert!(
        whole.1.contains(&Ev::Connected {
            session_present: false
        }),
        "{:?}",
        whole.1
    );
    // The zero-copy path: read straight into the session's buffer.
    let direct = run_transcript(v, &|t, b| {
        let mut rest = b;
        while !rest.is_empty() {
            let space = t.s.read_buffer();
            let n = space.len().min(rest.len()).min(5);
            space[..n].copy_from_slice(&rest[..n]);
            t.s.handle_read(t.now, n);
            rest = &rest[n..];
            t.drain();
        }
    });
    assert_eq!(bytewise, whole);
    assert_eq!(chunked, whole);
    assert_eq!(direct, whole);
}

#[test]
fn bytewise_input_equals_whole_v311() {
    bytewise_input_equals_whole(V311);
}

#[cfg(feature = "v5")]
#[test]
fn bytewise_input_equals_whole_v5() {
    bytewise_input_equals_whole(V5);
}

/// A PUBLISH of `total` bytes exactly (QoS 1, id `id`).
fn publish_of_size(v: ProtocolVersion, total: usize, id: u16) -> Vec<u8> {
    let mut payload = vec![0x42u8; total];
    loop {
        let p = publish("big", &payload, 1, id);
        let len = p.encoded_len(v).unwrap();
        assert!(
            len >= total,
            "cannot make a PUBLISH of exactly {total} bytes"
        );
        if len == total {
            return encode_all(v, &[p]);
        }
        payload.truncate(payload.len() - (len - total));
    }
}

/// Packets of exactly our maximum size (the receive buffer), back to back in one read,
/// are all delivered and acknowledged; one byte more is refused (0x95).
fn packets_of_the_maximum_size(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let mut chunk = Vec::new();
    for id in 1..=3 {
        chunk.extend(publish_of_size(v, RX_CAP, id));
    }
    t.server_bytes(&chunk);
    t.expect_sent(&[puback(1), puback(2), puback(3)]);
    let events = t.take_events();
    assert_eq!(events.len(), 3);
    for e in events {
        let Ev::Message(m) = e else { panic!("{e:?}") };
        assert_eq!(m.topic, "big");
        assert!(m.payload.iter().all(|b| *b == 0x42));
    }
    t.server_bytes(&publish_of_size(v, RX_CAP + 1, 4));
    expect_peer_fault(
        &mut t,
        ReasonCode::PacketTooLarge,
        PeerFault::Malformed(DecodeError::PacketTooLarge {
            size: RX_CAP as u32 + 1,
            max: RX_CAP as u32,
        }),
        1,
    );
}

#[test]
fn packets_of_the_maximum_size_v311() {
    packets_of_the_maximum_size(V311);
}

#[cfg(feature = "v5")]
#[test]
fn packets_of_the_maximum_size_v5() {
    packets_of_the_maximum_size(V5);
}

/// [MQTT-4.9.0-2] The server's quota towards us is per connection: QoS 2 exchanges carried
/// over a reconnect (PUBREC sent, PUBREL not yet received) are resent as PUBREL only and do
/// not use it, so Receive Maximum new messages may arrive beside them (found against
/// mosquitto resuming a session after a restart). One more is still a violation.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_9_0_2_carried_qos2_exchanges_do_not_use_the_new_quota_v5() {
    let mut c = persistent_cfg(V5);
    c.receive_maximum = 2;
    let mut t = Script::new(&c);
    t.establish();
    t.server_all(&[publish("in", b"1", 2, 1), publish("in", b"2", 2, 2)]);
    t.expect_sent(&[pubrec(1), pubrec(2)]);
    assert_eq!(t.take_events().len(), 2);
    t.drop_transport();
    t.reconnect();
    t.accept(true, &[]);
    // Two new messages while 1 and 2 still wait for PUBREL: within the quota.
    t.server_all(&[publish("in", b"3", 2, 3), publish("in", b"4", 2, 4)]);
    t.expect_sent(&[pubrec(3), pubrec(4)]);
    assert_eq!(t.take_events().len(), 2);
    // Completing a carried exchange frees nothing of this connection's quota: with 3 and
    // 4 outstanding, a fifth message is one too many.
    t.server(Packet::PubRel(mqtt_proto::Ack::new(pid(1))));
    t.expect_sent(&[pubcomp(1)]);
    t.server(publish("in", b"5", 2, 5));
    expect_peer_fault(
        &mut t,
        ReasonCode::ReceiveMaximumExceeded,
        PeerFault::ReceiveMaximumExceeded,
        2,
    );
}

/// 3.1.1 has no Receive Maximum: `max_inflight` caps what we keep in flight (mosquitto
/// drops a message beyond its own limit behind a PUBACK); the rest waits for an ack.
#[test]
fn max_inflight_caps_qos1_in_flight_v311() {
    let mut c = cfg(V311);
    c.max_inflight = 2;
    let mut t = Script::new(&c);
    t.establish();
    for p in [b"1", b"2", b"3"] {
        t.publish("q", p, QoS::AtLeastOnce);
    }
    t.with_sent(|p| assert_eq!(p.len(), 2, "only two in flight: {p:#?}"));
    t.server(puback(1));
    t.with_sent(|p| assert_eq!(p.len(), 1, "the third after the first ack: {p:#?}"));
}

/// A tolerance above our Receive Maximum (for brokers that overshoot it) moves the limit;
/// the message after it is still a violation (0x93).
#[cfg(feature = "v5")]
#[test]
fn receive_maximum_tolerance_moves_the_limit_v5() {
    let mut c = cfg(V5);
    c.receive_maximum = 2;
    c.receive_maximum_tolerance = 1;
    let mut t = Script::new(&c);
    t.establish();
    t.server_all(&[
        publish("in", b"1", 2, 1),
        publish("in", b"2", 2, 2),
        publish("in", b"3", 2, 3),
    ]);
    t.expect_sent(&[pubrec(1), pubrec(2), pubrec(3)]);
    assert_eq!(t.take_events().len(), 3);
    t.server(publish("in", b"4", 2, 4));
    expect_peer_fault(
        &mut t,
        ReasonCode::ReceiveMaximumExceeded,
        PeerFault::ReceiveMaximumExceeded,
        1,
    );
}

/// `n` QoS 2 messages in flight at once, each delivered once and answered with PUBREC; a DUP
/// resend of every one is not delivered again (PUBREC again); every PUBREL gets its
/// PUBCOMP; the ids are then free for new messages; the connection stays up throughout.
fn qos2_burst_each_delivered_once(t: &mut Script, n: u16) {
    let bodies: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
    let burst = |dup: bool| -> Vec<Packet<'_>> {
        (1..=n)
            .map(|i| {
                let mut p = publish("in", bodies[usize::from(i) - 1].as_bytes(), 2, i);
                if let Packet::Publish(x) = &mut p {
                    x.dup = dup;
                }
                p
            })
            .collect()
    };
    let recs: Vec<Packet<'_>> = (1..=n).map(pubrec).collect();
    t.server_all(&burst(false));
    t.expect_sent(&recs);
    let delivered = t.take_events();
    assert_eq!(delivered.len(), usize::from(n), "each once: {delivered:?}");
    // The server resends them all with DUP (its PUBRECs lost, say): none delivered again.
    t.server_all(&burst(true));
    t.expect_sent(&recs);
    t.expect_no_events();
    let rels: Vec<Packet<'_>> = (1..=n)
        .map(|i| Packet::PubRel(mqtt_proto::Ack::new(pid(i))))
        .collect();
    t.server_all(&rels);
    let comps: Vec<Packet<'_>> = (1..=n).map(pubcomp).collect();
    t.expect_sent(&comps);
    t.server_all(&burst(false));
    t.expect_sent(&recs);
    assert_eq!(
        t.take_events().len(),
        usize::from(n),
        "new messages, freed ids"
    );
    assert_eq!(t.s.state(), ConnState::Connected);
}

/// [MQTT-4.3.3-9] [MQTT-4.3.3-10] (3.1.1) A 3.1.1 server announces no limit and may have
/// more QoS 2 messages in flight to us than the incoming table holds (mosquitto's
/// `max_inflight_messages` can be 100 or more): ids beyond the table are kept in the store
/// until their PUBREL, and each message is still delivered exactly once. No 0x93
/// disconnect, which 3.1.1 cannot even express.
#[test]
fn v311_qos2_in_flight_beyond_the_table_kept_in_the_store() {
    let mut t = Script::new(&cfg(V311));
    t.establish();
    qos2_burst_each_delivered_once(&mut t, (IN_CAP * 3) as u16);
}

/// The same overflow in 5.0 stays a violation: the server knows our Receive Maximum.
#[cfg(feature = "v5")]
#[test]
fn v5_qos2_beyond_receive_maximum_still_a_violation() {
    let mut c = cfg(V5);
    c.receive_maximum = IN_CAP as u16;
    let mut t = Script::new(&c);
    t.establish();
    let first: Vec<Packet<'_>> = (1..=IN_CAP as u16)
        .map(|i| publish("in", b"m", 2, i))
        .collect();
    t.server_all(&first);
    assert_eq!(t.take_events().len(), IN_CAP);
    t.take_sent();
    t.server(publish("in", b"m", 2, IN_CAP as u16 + 1));
    expect_peer_fault(
        &mut t,
        ReasonCode::ReceiveMaximumExceeded,
        PeerFault::ReceiveMaximumExceeded,
        1,
    );
}

/// With a tolerance above the table (the adapters' default), a 5.0 server that ignores our
/// Receive Maximum (mosquitto 2.0.11 after a restart) is absorbed: auto-ack QoS 2 ids
/// beyond the table wait in the store for their PUBREL, each message is delivered once,
/// and the connection stays up instead of a 0x93 at every reconnect.
#[cfg(feature = "v5")]
#[test]
fn v5_tolerance_above_the_table_absorbs_an_overshooting_server() {
    let mut c = cfg(V5);
    c.receive_maximum = 4;
    c.receive_maximum_tolerance = u16::MAX;
    let mut t = Script::new(&c);
    t.establish();
    qos2_burst_each_delivered_once(&mut t, (IN_CAP * 2) as u16);
}

// ----- size rules on what the client sends -------------------------------------------------

/// The Reason String and User Property size rules bind a sender: [MQTT-3.4.2-2]
/// [MQTT-3.4.2-3] (PUBACK), [MQTT-3.5.2-2] [MQTT-3.5.2-3] (PUBREC), [MQTT-3.6.2-2]
/// [MQTT-3.6.2-3] (PUBREL), [MQTT-3.7.2-2] [MQTT-3.7.2-3] (PUBCOMP), [MQTT-3.14.2-3]
/// [MQTT-3.14.2-4] (DISCONNECT). The client never adds
/// either property, so no packet it acknowledges or disconnects with can outgrow the
/// server's Maximum Packet Size through them: every ack and the DISCONNECT below, the
/// error codes included (PUBCOMP 0x92, DISCONNECT 0x82), carries no property at all and
/// fits a server limit of 16 bytes.
#[cfg(feature = "v5")]
#[test]
fn mqtt_3_4_2_2_acks_and_disconnect_carry_no_reason_string_or_user_property_v5() {
    const LIMIT: u32 = 16;
    let mut t = Script::new(&cfg(V5));
    t.open();
    t.accept(false, &[Property::MaximumPacketSize(LIMIT)]);
    t.subscribe(&[sub("a/#", QoS::ExactlyOnce)]);
    t.server(suback(1, &[ReasonCode::GrantedQoS2]));
    t.publish("a/out", b"x", QoS::ExactlyOnce).unwrap();
    t.take_sent();
    // Each ack the client sends, with its reason code and encoded length.
    let collect = |t: &mut Script, acks: &mut Vec<(PacketType, ReasonCode, usize)>| {
        t.with_sent(|packets| {
            for p in packets {
                let (rc, props) = match p {
                    Packet::PubAck(a)
                    | Packet::PubRec(a)
                    | Packet::PubRel(a)
                    | Packet::PubComp(a) => (a.reason_code, a.properties),
                    Packet::Disconnect(d) => (d.reason_code, d.properties),
                    _ => continue,
                };
                assert!(props.is_empty(), "{p:?} carries properties");
                acks.push((p.packet_type(), rc, p.encoded_len(V5).unwrap()));
            }
        });
    };
    let mut acks = Vec::new();
    // In: QoS 1 (PUBACK), QoS 2 (PUBREC, then PUBCOMP), a PUBREL for an unknown id
    // (PUBCOMP 0x92). Out: the PUBREC of our QoS 2 (PUBREL). Then a PUBREC for an id the
    // client never used, a protocol error (DISCONNECT 0x82).
    t.server(publish("a/1", b"one", 1, 7));
    t.server(publish("a/2", b"two", 2, 8));
    t.drain();
    collect(&mut t, &mut acks);
    t.server(pubrel(8));
    t.server(pubrel(9));
    t.server(pubrec(2));
    collect(&mut t, &mut acks);
    t.server(pubrec(40));
    collect(&mut t, &mut acks);
    let kinds: Vec<(PacketType, ReasonCode)> = acks.iter().map(|&(k, rc, _)| (k, rc)).collect();
    assert_eq!(
        kinds,
        [
            (PacketType::PubAck, ReasonCode::Success),
            (PacketType::PubRec, ReasonCode::Success),
            (PacketType::PubComp, ReasonCode::Success),
            (PacketType::PubComp, ReasonCode::PacketIdentifierNotFound),
            (PacketType::PubRel, ReasonCode::Success),
            (PacketType::Disconnect, ReasonCode::ProtocolError),
        ]
    );
    for (kind, rc, len) in acks {
        assert!(len as u32 <= LIMIT, "{kind:?} {rc:?}: {len} bytes");
    }
}

//! The hostile-peer suite: the tokio client against a scripted fake broker
//! (`mqtt_tests::hostile`) that misbehaves in every way the checklist's D rows and the 5.0
//! prose list describe. For each attack, on both protocol versions where it exists:
//!
//! - the client reports a typed reason (`ConnectionLost { reason }`);
//! - in 5.0 it sends DISCONNECT with the right reason code before closing (checked on the
//!   bytes the fake broker received); in 3.1.1 it closes without DISCONNECT (which would
//!   tell the broker to drop our will);
//! - it closes the socket itself;
//! - it reconnects per policy: the next connection comes after the policy's delay
//!   (jitter 0 here, so the spacing is checked against the exact backoff);
//! - it does not panic (the driver task would end the event stream) and does not grow
//!   memory (`rss_flat_over_repeated_attacks`, in a child process of its own so the other
//!   tests do not disturb the measurement).
//!
//! Test names carry the checklist ID they cover (`mqtt_3_2_0_1_...` = MQTT-3.2.0-1); the
//! 5.0 prose items (3.1.2.11.4, 3.3.2.3.4, 3.3.4/4.9) are named after their section.
//!
//! Run: `cargo test -p mqtt-tests --test hostile` (no broker needed).

use std::time::{Duration, Instant};

use mqtt_proto::ProtocolVersion::{self, V3_1_1, V5};
use mqtt_proto::{DecodeError, PacketType, QoS, ReasonCode};
use mqtt_session::{ConnectionError, PeerFault};
use mqtt_tests::hostile::{Conn, HostileBroker, Step, connack_ok, publish, rss_kib};
use mqtt_tests::wire::Pkt;
use mqtt_tokio::{Capacity, Event, Events, Options};

const T: Duration = Duration::from_secs(10);
/// The reconnect delay of every test (jitter 0): the first retry comes this long after
/// the connection closed.
const RETRY: Duration = Duration::from_millis(300);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn opts(url: &str, v: ProtocolVersion) -> Options {
    let mut o = Options::new(url, "hostile").expect("url");
    o.version = v;
    o.keep_alive = 30;
    o.connect_timeout = Duration::from_secs(2);
    o.ping_timeout = Duration::from_secs(1);
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(RETRY.as_millis() as u64);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(2000);
    o.reconnect.jitter_percent = 0;
    o.rng_seed = Some(7);
    o.max_incoming_packet = 1024;
    o.receive_maximum = 2;
    o.receive_maximum_tolerance = 0; // the letter of 5.0 §3.3.4
    o.topic_alias_maximum = 4;
    o
}

/// The next event that `f` picks, within `timeout`.
async fn wait_for<R>(
    ev: &mut Events,
    timeout: Duration,
    what: &str,
    mut f: impl FnMut(Event) -> Option<R>,
) -> R {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Some(e)) => {
                if let Some(r) = f(e) {
                    return r;
                }
            }
            Ok(None) => panic!("event stream ended (driver task gone: panic?) waiting for {what}"),
            Err(_) => panic!("no {what} within {timeout:?}"),
        }
    }
}

/// What an attack must produce.
struct Expect {
    reason: ConnectionError,
    /// Compare an `UnknownPacketId` fault without its packet id (the client chose it).
    any_pid: bool,
    /// What the client must send before closing, in 5.0.
    disconnect: Sends,
}

/// The 5.0 DISCONNECT expected on the attacking connection.
#[derive(Clone, Copy, Debug)]
enum Sends {
    /// DISCONNECT with this reason code.
    Disconnect(ReasonCode),
    /// No DISCONNECT at all: the attack came before CONNACK, when the session closes
    /// without one (5.0 §4.13.1 makes the DISCONNECT a MAY), or a timeout.
    Nothing,
}

/// A violation before CONNACK: typed, closed, no DISCONNECT.
fn violation_before_connack(fault: PeerFault) -> Expect {
    Expect {
        disconnect: Sends::Nothing,
        ..violation(fault)
    }
}

fn violation(fault: PeerFault) -> Expect {
    Expect {
        reason: ConnectionError::ProtocolViolation {
            reason_code: fault.reason_code(),
            fault,
        },
        any_pid: false,
        disconnect: Sends::Disconnect(fault.reason_code()),
    }
}

fn no_disconnect(reason: ConnectionError) -> Expect {
    Expect {
        reason,
        any_pid: false,
        disconnect: Sends::Nothing,
    }
}

/// `e` with the packet id of an `UnknownPacketId` fault set to 0.
fn without_pid(e: ConnectionError) -> ConnectionError {
    match e {
        ConnectionError::ProtocolViolation {
            reason_code,
            fault: PeerFault::UnknownPacketId(t, _),
        } => ConnectionError::ProtocolViolation {
            reason_code,
            fault: PeerFault::UnknownPacketId(t, 0),
        },
        e => e,
    }
}

/// Runs one attack: connection 0 runs `attack`, every later connection behaves (CONNACK
/// and silence). Checks the typed reason, the DISCONNECT bytes, who closed, and the
/// reconnect's spacing.
fn run_attack(
    v: ProtocolVersion,
    attack: Vec<Step>,
    tweak: impl FnOnce(&mut Options),
    setup: impl AsyncFnOnce(&mqtt_tokio::Client),
    expect: Expect,
) {
    let broker = HostileBroker::start(move |i| {
        if i == 0 {
            attack.clone()
        } else {
            vec![Step::AwaitConnect, Step::ConnAckOk]
        }
    });
    let mut o = opts(&broker.url(), v);
    tweak(&mut o);
    rt().block_on(async {
        let (c, mut ev) = mqtt_tokio::connect(o, Capacity::default()).expect("connect");
        setup(&c).await;
        let reason = wait_for(&mut ev, T, "ConnectionLost", |e| match e {
            Event::ConnectionLost { reason } => Some(reason),
            _ => None,
        })
        .await;
        let reason = if expect.any_pid {
            without_pid(reason)
        } else {
            reason
        };
        assert_eq!(reason, expect.reason, "{v:?}: typed reason");
        let c0 = broker
            .wait_closed(0, Duration::from_secs(5))
            .expect("the client closed the attacking connection");
        check_disconnect(v, &c0, expect.disconnect);
        // Reconnects per policy, and the next connection is accepted.
        wait_for(&mut ev, T, "Connected after the attack", |e| {
            matches!(e, Event::Connected { .. }).then_some(())
        })
        .await;
        let c1 = &broker.conns()[1];
        let gap = c1.accepted - c0.closed.expect("closed");
        assert!(
            gap + Duration::from_millis(50) >= RETRY && gap < RETRY + Duration::from_millis(700),
            "{v:?}: reconnect {gap:?} after the close; the policy says {RETRY:?}"
        );
        // 1 s: a SUBSCRIBE the well-behaved reconnect never answers would hold it for T.
        c.disconnect(Duration::from_secs(1))
            .await
            .expect("clean disconnect afterwards");
    });
}

fn check_disconnect(v: ProtocolVersion, c: &Conn, sends: Sends) {
    let got = c.disconnect_code();
    match (v, sends) {
        (V5, Sends::Disconnect(code)) => assert_eq!(
            got,
            Some(code),
            "5.0 DISCONNECT sent on the attacking connection (packets: {:?})",
            c.packets()
        ),
        (V5, Sends::Nothing) => assert_eq!(got, None, "5.0: no DISCONNECT expected"),
        (_, _) => assert_eq!(
            got, None,
            "3.1.1: no DISCONNECT on a protocol violation (it would discard the will)"
        ),
    }
}

/// The attack after a normal CONNECT/CONNACK.
fn after_connack(mut rest: Vec<Step>) -> Vec<Step> {
    let mut s = vec![Step::AwaitConnect, Step::ConnAckOk];
    s.append(&mut rest);
    s
}

/// A PUBLISH QoS 0 whose body is `body` (topic and properties included), header 0x30.
fn raw_publish(v: ProtocolVersion, header: u8, topic: &[u8]) -> Vec<u8> {
    let mut body = vec![0, topic.len() as u8];
    body.extend_from_slice(topic);
    if v == V5 {
        body.push(0);
    }
    body.extend_from_slice(b"x");
    let mut out = vec![header, body.len() as u8];
    out.extend(body);
    out
}

fn both(f: impl Fn(ProtocolVersion)) {
    for v in [V3_1_1, V5] {
        f(v);
    }
}

fn nothing() -> impl AsyncFnOnce(&mqtt_tokio::Client) {
    async |_: &mqtt_tokio::Client| {}
}

/// Waits for the connection, then subscribes to `a/b` in the background.
fn subscribe_once_connected() -> impl AsyncFnOnce(&mqtt_tokio::Client) {
    async |c: &mqtt_tokio::Client| {
        let _ = tokio::time::timeout(T, c.connected()).await;
        let c = c.clone();
        tokio::spawn(async move { c.subscribe("a/b", QoS::AtMostOnce).await });
    }
}

// ----- malformed packets ---------------------------------------------------------------

/// [MQTT-1.5.3-1] [MQTT-1.5.4-1] [MQTT-4.8.0-1] A PUBLISH whose topic is not UTF-8:
/// Malformed Packet (0x81).
#[test]
fn mqtt_1_5_3_1_malformed_utf8_topic() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(raw_publish(v, 0x30, &[b'a', 0xff, 0xfe]))]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::InvalidUtf8)),
        )
    });
}

/// [MQTT-1.5.3-2] A U+0000 in a topic: Malformed Packet.
#[test]
fn mqtt_1_5_3_2_null_in_topic() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(raw_publish(v, 0x30, b"a\0b"))]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::NullCharacter)),
        )
    });
}

/// [MQTT-4.8.0-1] A remaining length of five bytes: Malformed Packet.
#[test]
fn mqtt_4_8_0_1_malformed_remaining_length() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x01])]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::VarIntTooLong)),
        )
    });
}

/// [MQTT-4.8.0-1] A PUBLISH cut short inside its topic (remaining length 3, topic length 9).
#[test]
fn mqtt_4_8_0_1_truncated_publish() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(vec![0x30, 0x03, 0x00, 0x09, b'a'])]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::Truncated)),
        )
    });
}

/// [MQTT-3.3.1-4] QoS 3 (both QoS bits set): Malformed Packet.
#[test]
fn mqtt_3_3_1_4_qos_3() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(raw_publish(v, 0x36, b"a"))]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::InvalidQoS)),
        )
    });
}

/// [MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH: Malformed Packet.
#[test]
fn mqtt_3_3_1_2_dup_on_qos_0() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(raw_publish(v, 0x38, b"a"))]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::DupWithQoS0)),
        )
    });
}

/// [MQTT-2.2.2-2] (3.1.1) [MQTT-2.1.3-1] (5.0) Wrong fixed-header flags (PUBACK 0x41):
/// Malformed Packet.
#[test]
fn mqtt_2_2_2_2_wrong_fixed_header_flags() {
    both(|v| {
        let ack = if v == V5 {
            vec![0x41, 0x03, 0x00, 0x01, 0x00]
        } else {
            vec![0x41, 0x02, 0x00, 0x01]
        };
        run_attack(
            v,
            after_connack(vec![Step::Raw(ack)]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::InvalidFixedHeaderFlags(
                0x41,
            ))),
        )
    });
}

/// [MQTT-3.2.2-1] CONNACK with reserved flag bits set: Malformed Packet.
#[test]
fn mqtt_3_2_2_1_connack_reserved_flags() {
    both(|v| {
        let connack = if v == V5 {
            vec![0x20, 0x03, 0x02, 0x00, 0x00]
        } else {
            vec![0x20, 0x02, 0x02, 0x00]
        };
        run_attack(
            v,
            vec![Step::AwaitConnect, Step::Raw(connack)],
            |_| {},
            nothing(),
            violation_before_connack(PeerFault::Malformed(DecodeError::InvalidConnAckFlags)),
        )
    });
}

/// [MQTT-3.3.2-2] [MQTT-4.7.1-1] A wildcard in a PUBLISH topic name: 0x90 Topic Name
/// invalid.
#[test]
fn mqtt_3_3_2_2_wildcard_in_publish_topic() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(raw_publish(v, 0x30, b"a/+"))]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::InvalidTopicName)),
        )
    });
}

/// [MQTT-4.8.0-1] Packet type 0 (reserved): Protocol Error (5.0 table: 0x82).
#[test]
fn mqtt_4_8_0_1_reserved_packet_type() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(vec![0x00, 0x00])]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::InvalidPacketType(0))),
        )
    });
}

/// [MQTT-4.8.0-1] A packet only clients send (SUBSCRIBE) from the server: Protocol Error.
#[test]
fn mqtt_4_8_0_1_client_only_packet_from_server() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Send(Pkt::Subscribe {
                pid: 1,
                filters: vec![("a".into(), QoS::AtMostOnce)],
            })]),
            |_| {},
            nothing(),
            violation(PeerFault::UnexpectedPacket(PacketType::Subscribe)),
        )
    });
}

// ----- state violations ----------------------------------------------------------------

/// [MQTT-3.2.0-1] A PUBLISH before CONNACK: Protocol Error.
#[test]
fn mqtt_3_2_0_1_publish_before_connack() {
    both(|v| {
        run_attack(
            v,
            vec![
                Step::AwaitConnect,
                Step::Send(publish(QoS::AtMostOnce, 0, "early", None)),
                Step::ConnAckOk,
            ],
            |_| {},
            nothing(),
            violation_before_connack(PeerFault::PacketBeforeConnAck(PacketType::Publish)),
        )
    });
}

/// [MQTT-3.2.0-2] A second CONNACK: Protocol Error.
#[test]
fn mqtt_3_2_0_2_second_connack() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![
                Step::Sleep(Duration::from_millis(100)),
                Step::ConnAckOk,
            ]),
            |_| {},
            nothing(),
            violation(PeerFault::SecondConnAck),
        )
    });
}

/// [MQTT-3.2.2-4] Session Present 1 answering Clean Start 1 (we hold no session): the
/// client closes the connection.
#[test]
fn mqtt_3_2_2_4_session_present_without_session() {
    both(|v| {
        let Pkt::ConnAck {
            reason_code,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            server_keep_alive,
            assigned_client_id,
            ..
        } = connack_ok()
        else {
            unreachable!()
        };
        let sp = Pkt::ConnAck {
            session_present: true,
            reason_code,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            server_keep_alive,
            assigned_client_id,
        };
        run_attack(
            v,
            vec![Step::AwaitConnect, Step::Send(sp)],
            |_| {},
            nothing(),
            violation_before_connack(PeerFault::UnexpectedSessionPresent),
        )
    });
}

/// [MQTT-2.3.1-7] (3.1.1) [MQTT-2.2.1-6] (5.0) A PUBACK for a packet identifier that is
/// not in flight: Protocol Error.
#[test]
fn mqtt_2_3_1_7_unknown_packet_id_puback() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Send(Pkt::PubAck(77, ReasonCode::Success))]),
            |_| {},
            nothing(),
            violation(PeerFault::UnknownPacketId(PacketType::PubAck, 77)),
        )
    });
}

/// [MQTT-2.3.1-7] [MQTT-2.2.1-6] A SUBACK whose identifier is not the SUBSCRIBE's.
#[test]
fn mqtt_2_3_1_7_suback_wrong_packet_id() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::OnSubscribe(|pid, v| {
                Pkt::SubAck {
                    pid: pid.wrapping_add(100),
                    codes: vec![ReasonCode::Success],
                }
                .encode(v)
                .unwrap()
            })]),
            |_| {},
            subscribe_once_connected(),
            Expect {
                reason: ConnectionError::ProtocolViolation {
                    reason_code: ReasonCode::ProtocolError,
                    fault: PeerFault::UnknownPacketId(PacketType::SubAck, 0),
                },
                any_pid: true,
                disconnect: Sends::Disconnect(ReasonCode::ProtocolError),
            },
        )
    });
}

/// [MQTT-3.9.3-1] A SUBACK with two codes for a one-filter SUBSCRIBE: Protocol Error.
#[test]
fn mqtt_3_9_3_1_suback_code_count() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::OnSubscribe(|pid, v| {
                Pkt::SubAck {
                    pid,
                    codes: vec![ReasonCode::Success, ReasonCode::Success],
                }
                .encode(v)
                .unwrap()
            })]),
            |_| {},
            subscribe_once_connected(),
            violation(PeerFault::AckCountMismatch),
        )
    });
}

/// [MQTT-3.9.3-2] A SUBACK return code outside the table (0x03): Malformed Packet.
#[test]
fn mqtt_3_9_3_2_suback_invalid_code() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::OnSubscribe(|pid, v| {
                let [hi, lo] = pid.to_be_bytes();
                if v == V5 {
                    vec![0x90, 0x04, hi, lo, 0x00, 0x03]
                } else {
                    vec![0x90, 0x03, hi, lo, 0x03]
                }
            })]),
            |_| {},
            subscribe_once_connected(),
            violation(PeerFault::Malformed(DecodeError::InvalidReasonCode(0x03))),
        )
    });
}

// ----- 5.0 limits ----------------------------------------------------------------------

/// 5.0 §3.1.2.11.4: a packet above the Maximum Packet Size we announced (1024 B):
/// DISCONNECT 0x95. 3.1.1 has no such announcement, but the receive buffer is the same
/// size: the client closes (typed as Packet too large).
#[test]
fn v5_3_1_2_11_4_oversize_packet() {
    both(|v| {
        let mut p = publish(QoS::AtMostOnce, 0, "big", None);
        if let Pkt::Publish { payload, .. } = &mut p {
            *payload = vec![b'x'; 2000];
        }
        let bytes = p.encode(v).unwrap();
        run_attack(
            v,
            after_connack(vec![Step::Raw(bytes.clone())]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::PacketTooLarge {
                size: bytes.len() as u32,
                max: 1024,
            })),
        )
    });
}

/// 5.0 §3.1.2.11.4 The largest remaining length the encoding allows (268,435,455)
/// announced and never sent: refused from the fixed header (0x95), nothing buffered.
#[test]
fn v5_3_1_2_11_4_max_remaining_length_never_sent() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![Step::Raw(vec![0x30, 0xff, 0xff, 0xff, 0x7f])]),
            |_| {},
            nothing(),
            violation(PeerFault::Malformed(DecodeError::PacketTooLarge {
                size: 268_435_455 + 5,
                max: 1024,
            })),
        )
    });
}

/// [MQTT-3.3.2-11] 5.0 §3.3.2.3.4 Topic Alias above our Topic Alias Maximum (4):
/// DISCONNECT 0x94.
#[test]
fn mqtt_3_3_2_11_topic_alias_above_maximum() {
    run_attack(
        V5,
        after_connack(vec![Step::Send(publish(QoS::AtMostOnce, 0, "t", Some(5)))]),
        |_| {},
        nothing(),
        violation(PeerFault::TopicAliasInvalid(5)),
    );
}

/// 5.0 §3.3.2.3.4 Topic Alias 0: DISCONNECT 0x94.
#[test]
fn v5_3_3_2_3_4_topic_alias_zero() {
    run_attack(
        V5,
        // The encoder refuses alias 0, so raw: PUBLISH "t", properties {Topic Alias 0}, "x".
        after_connack(vec![Step::Raw(vec![
            0x30, 0x08, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00, b'x',
        ])]),
        |_| {},
        nothing(),
        Expect {
            reason: ConnectionError::ProtocolViolation {
                reason_code: ReasonCode::TopicAliasInvalid,
                fault: PeerFault::Malformed(DecodeError::InvalidPropertyValue(0x23)),
            },
            any_pid: false,
            disconnect: Sends::Disconnect(ReasonCode::TopicAliasInvalid),
        },
    );
}

/// 5.0 §3.3.2.3.4 An empty topic with an alias that has no mapping: Protocol Error 0x82.
#[test]
fn v5_3_3_2_3_4_topic_alias_unknown() {
    run_attack(
        V5,
        after_connack(vec![Step::Send(publish(QoS::AtMostOnce, 0, "", Some(3)))]),
        |_| {},
        nothing(),
        violation(PeerFault::TopicAliasUnknown(3)),
    );
}

/// 5.0 §3.3.4 / §4.9 Three QoS 2 PUBLISH in flight (never released) against our Receive
/// Maximum of 2: DISCONNECT 0x93.
#[test]
fn v5_4_9_more_inflight_than_receive_maximum() {
    run_attack(
        V5,
        after_connack(vec![
            Step::Send(publish(QoS::ExactlyOnce, 1, "q2", None)),
            Step::Send(publish(QoS::ExactlyOnce, 2, "q2", None)),
            Step::Send(publish(QoS::ExactlyOnce, 3, "q2", None)),
        ]),
        |_| {},
        nothing(),
        violation(PeerFault::ReceiveMaximumExceeded),
    );
}

/// [MQTT-3.14.2-2] A server DISCONNECT carrying Session Expiry Interval: Protocol Error.
#[test]
fn mqtt_3_14_2_2_server_disconnect_with_session_expiry() {
    run_attack(
        V5,
        after_connack(vec![Step::Send(Pkt::Disconnect {
            reason_code: ReasonCode::Success,
            session_expiry: Some(60),
        })]),
        |_| {},
        nothing(),
        violation(PeerFault::SessionExpiryInServerDisconnect),
    );
}

/// [MQTT-4.12.0-6] An AUTH although we sent no Authentication Method: Protocol Error.
#[test]
fn mqtt_4_12_0_6_auth_without_method() {
    run_attack(
        V5,
        after_connack(vec![Step::Send(Pkt::Auth {
            reason_code: ReasonCode::ContinueAuthentication,
        })]),
        |_| {},
        nothing(),
        violation(PeerFault::UnexpectedAuth),
    );
}

// ----- silence and slowness ------------------------------------------------------------

/// Accepts the connection and never answers: ConnectTimeout after the connect timeout
/// (2 s here), then a reconnect per policy.
#[test]
fn accept_and_never_answer_connect_timeout() {
    both(|v| {
        let start = Instant::now();
        run_attack(
            v,
            vec![Step::AwaitConnect],
            |_| {},
            nothing(),
            no_disconnect(ConnectionError::ConnectTimeout),
        );
        assert!(start.elapsed() >= Duration::from_secs(2));
    });
}

/// Slowloris before CONNACK: the CONNACK at one byte per second; the connect timeout (2 s)
/// still holds: ConnectTimeout.
#[test]
fn slowloris_connack_connect_timeout() {
    both(|v| {
        let connack = connack_ok().encode(v).unwrap();
        run_attack(
            v,
            vec![
                Step::AwaitConnect,
                Step::Trickle(connack, Duration::from_secs(1)),
            ],
            |_| {},
            nothing(),
            no_disconnect(ConnectionError::ConnectTimeout),
        )
    });
}

/// [MQTT-3.1.2-23] (3.1.1) Slowloris after CONNACK: a PUBLISH at one byte per second
/// never completes, no PINGRESP comes: KeepAliveTimeout (keepalive 1 s, ping timeout 1 s).
#[test]
fn slowloris_publish_keepalive_timeout() {
    both(|v| {
        let p = publish(QoS::AtMostOnce, 0, "slow/topic/name", None)
            .encode(v)
            .unwrap();
        run_attack(
            v,
            after_connack(vec![Step::Trickle(p, Duration::from_secs(1))]),
            |o| o.keep_alive = 1,
            nothing(),
            no_disconnect(ConnectionError::KeepAliveTimeout),
        )
    });
}

/// CONNACK, then never a PINGRESP: KeepAliveTimeout.
#[test]
fn no_pingresp_keepalive_timeout() {
    both(|v| {
        run_attack(
            v,
            after_connack(vec![]),
            |o| o.keep_alive = 1,
            nothing(),
            no_disconnect(ConnectionError::KeepAliveTimeout),
        )
    });
}

// ----- reconnect policy and memory -----------------------------------------------------

/// Every connection attacks: the attempts follow the backoff exactly (jitter 0:
/// 300, 600, 1200, 1200 ms after each close, max 1.2 s).
#[test]
fn reconnect_backoff_under_repeated_attacks() {
    let broker = HostileBroker::start(|_| {
        vec![
            Step::AwaitConnect,
            Step::Send(publish(QoS::AtMostOnce, 0, "early", None)),
        ]
    });
    let mut o = opts(&broker.url(), V5);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(1200);
    rt().block_on(async {
        let (c, mut ev) = mqtt_tokio::connect(o, Capacity::default()).expect("connect");
        for _ in 0..5 {
            let r = wait_for(&mut ev, T, "ConnectionLost", |e| match e {
                Event::ConnectionLost { reason } => Some(reason),
                _ => None,
            })
            .await;
            assert!(matches!(
                r,
                ConnectionError::ProtocolViolation {
                    fault: PeerFault::PacketBeforeConnAck(PacketType::Publish),
                    ..
                }
            ));
        }
        assert!(broker.wait_accepted(5, T));
        let conns = broker.conns();
        let expected = [300u64, 600, 1200, 1200];
        for (i, want) in expected.iter().enumerate() {
            let gap = conns[i + 1].accepted - conns[i].closed.expect("closed");
            let want = Duration::from_millis(*want);
            assert!(
                gap + Duration::from_millis(50) >= want && gap < want + Duration::from_millis(500),
                "attempt {}: {gap:?} after the close, policy {want:?}",
                i + 1
            );
        }
        c.disconnect(T).await.ok();
    });
}

/// Resident memory stays flat over 400 attacks of every kind (the largest remaining
/// length included: a client that buffered the announced 256 MiB would show it). Runs in
/// a child process (`rss_child`) so the other tests' allocations do not count.
#[test]
fn rss_flat_over_repeated_attacks() {
    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .args(["--exact", "rss_child", "--nocapture", "--test-threads", "1"])
        .env("HOSTILE_RSS_CHILD", "1")
        .output()
        .expect("run child");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{text}");
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("RSS "), "child did not measure:\n{text}");
}

/// The measurement; does nothing unless run as the child of `rss_flat_over_repeated_attacks`.
#[test]
fn rss_child() {
    if std::env::var_os("HOSTILE_RSS_CHILD").is_none() {
        return;
    }
    let attacks: Vec<Vec<u8>> = vec![
        vec![0x30, 0xff, 0xff, 0xff, 0x7f],       // 256 MiB announced
        vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x01], // bad varint
        raw_publish(V5, 0x36, b"a"),              // QoS 3
        raw_publish(V5, 0x30, &[b'a', 0xff]),     // bad UTF-8
        vec![0x40, 0x03, 0x00, 0x4d, 0x00],       // unknown PUBACK id
        vec![0x20, 0x03, 0x00, 0x00, 0x00],       // second CONNACK
        {
            let mut p = publish(QoS::AtMostOnce, 0, "big", None);
            if let Pkt::Publish { payload, .. } = &mut p {
                *payload = vec![0; 1500];
            }
            p.encode(V5).unwrap()
        },
    ];
    let n = attacks.len();
    let broker =
        HostileBroker::start(move |i| after_connack(vec![Step::Raw(attacks[i % n].clone())]));
    let mut o = opts(&broker.url(), V5);
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(1);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(1);
    o.reconnect.stable_after = mqtt_session::Duration::from_millis(1);
    let rt = rt();
    rt.block_on(async {
        let (c, mut ev) = mqtt_tokio::connect(o, Capacity::default()).expect("connect");
        let mut lost = 0usize;
        let mut rss = Vec::new();
        let start = Instant::now();
        while lost < 500 {
            wait_for(&mut ev, T, "ConnectionLost", |e| {
                matches!(e, Event::ConnectionLost { .. }).then_some(())
            })
            .await;
            lost += 1;
            if lost == 100 || lost == 500 {
                rss.push(rss_kib().expect("VmRSS"));
            }
        }
        c.disconnect(T).await.ok();
        let growth = rss[1] as i64 - rss[0] as i64;
        println!(
            "RSS after 100 attacks {} KiB, after 500 {} KiB (growth {growth} KiB) in {:?}",
            rss[0],
            rss[1],
            start.elapsed()
        );
        assert!(
            growth < 2048,
            "resident memory grew {growth} KiB over 400 attacks"
        );
    });
}

//! The blocking adapter (`mqtt-blocking`) against a real mosquitto, for MQTT 3.1.1 and 5.0.
//!
//! Each test starts its own broker on its own loopback port. Without a `mosquitto` binary
//! the tests print a loud notice and pass; CI installs it (`.ci/run`), so there they run.
//!
//! Run: `cargo test -p mqtt-tests --test std_mosquitto`.

use std::time::{Duration, Instant};

use mqtt_blocking::{
    Client, ClientError, Completion, ConnState, Connection, ConnectionError, Event, Options, QoS,
    ReasonCode, Roots, StopReason, TlsOptions, Token, WillOptions,
};
use mqtt_proto::ProtocolVersion;
use mqtt_tests::certs::TestPki;
use mqtt_tests::mosquitto::{self, Mosquitto, Sub, TempDir};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Skips the test, loudly, when mosquitto is not installed.
macro_rules! need_mosquitto {
    () => {
        if !mqtt_tests::mosquitto::installed() {
            eprintln!(
                "\n!!!!!!!! SKIPPED {}: `mosquitto` is not installed (CI installs it) !!!!!!!!\n",
                module_path!()
            );
            return;
        }
    };
}

/// One `#[test]` per protocol version for a scenario `fn name(v: ProtocolVersion)`.
macro_rules! both_versions {
    ($($name:ident),* $(,)?) => {
        mod v311 {
            $(#[test] fn $name() { need_mosquitto!(); super::$name(super::V311); })*
        }
        mod v5 {
            $(#[test] fn $name() { need_mosquitto!(); super::$name(super::V5); })*
        }
    };
}

both_versions!(
    connect_and_disconnect,
    mqtt_4_3_2_1_mqtt_4_3_3_1_qos_0_1_2_to_own_subscription_and_unsubscribe,
    mqtt_4_3_2_2_mqtt_4_3_3_2_receive_qos_1_2_from_mosquitto_pub,
    publish_to_mosquitto_sub,
    mqtt_3_3_1_6_retained_message_on_subscribe,
    mqtt_3_1_2_8_will_published_on_abnormal_close,
    mqtt_3_1_2_10_will_not_published_after_clean_disconnect,
    persistent_session_receives_messages_sent_while_away,
    reconnects_after_broker_restart,
    keepalive_detects_half_open_broker,
    bad_password_stops_without_reconnecting,
    client_handle_publishes_from_another_thread,
    tls_roundtrip_with_mutual_tls,
    round_trips_do_not_wait_for_delayed_acks,
    qos0_burst_is_never_full_and_the_wire_keeps_the_publish_order,
);

// ----- helpers -----------------------------------------------------------------------------

fn version_tag(v: ProtocolVersion) -> &'static str {
    if v == V5 { "v5" } else { "v311" }
}

/// A mosquitto of our own, on its own port. Several tests read its log: as root (as on
/// CI) that needs the harness's `user root` line, or mosquitto drops to the `mosquitto`
/// user and cannot write the log in the test's directory.
fn broker(extra: &str) -> Mosquitto {
    Mosquitto::with_config(extra)
}

fn options(m: &Mosquitto, id: &str, v: ProtocolVersion) -> Options {
    let mut o = Options::new(&m.url(), format!("{id}-{}", version_tag(v))).unwrap();
    o.version = v;
    o.connect_timeout = Duration::from_secs(3);
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(100);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(400);
    o
}

/// Drives `c` until `f` picks a value out of an event; panics after `timeout` with the
/// events seen.
fn until<T>(
    c: &mut Connection,
    timeout: Duration,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    let end = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("no {what} within {timeout:?}; events seen: {seen:#?}");
        }
        if let Some(ev) = c.next_event(left) {
            if let Some(t) = f(&ev) {
                return t;
            }
            seen.push(ev);
        }
    }
}

fn connected(c: &mut Connection) -> bool {
    until(c, Duration::from_secs(10), "Connected", |e| match e {
        Event::Connected { session_present } => Some(*session_present),
        _ => None,
    })
}

fn subscribed(c: &mut Connection, token: Token) -> Vec<ReasonCode> {
    until(c, Duration::from_secs(5), "Subscribed", |e| match e {
        Event::Subscribed {
            token: t,
            reason_codes,
        } if *t == token => Some(reason_codes.clone()),
        _ => None,
    })
}

fn subscribe(c: &mut Connection, filter: &str, qos: QoS) {
    let token = c.subscribe(filter, qos).unwrap();
    let codes = subscribed(c, token);
    let granted = match qos {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    };
    assert_eq!(codes, [granted], "SUBACK for {filter}");
}

fn stopped(c: &mut Connection) -> StopReason {
    until(c, Duration::from_secs(5), "Stopped", |e| match e {
        Event::Stopped { reason } => Some(*reason),
        _ => None,
    })
}

/// (topic, payload, qos, retain) of the next `n` messages.
fn messages(c: &mut Connection, n: usize) -> Vec<(String, String, QoS, bool)> {
    (0..n)
        .map(|i| {
            until(
                c,
                Duration::from_secs(5),
                &format!("message {i}"),
                |e| match e {
                    Event::Message(m) => Some((
                        m.topic().to_string(),
                        String::from_utf8_lossy(m.payload()).into_owned(),
                        m.qos,
                        m.retain,
                    )),
                    _ => None,
                },
            )
        })
        .collect()
}

fn v_arg(v: ProtocolVersion) -> &'static str {
    if v == V5 { "mqttv5" } else { "mqttv311" }
}

/// Waits until the broker's log satisfies `f`.
fn wait_log(m: &Mosquitto, timeout: Duration, what: &str, f: impl Fn(&str) -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f(&m.log()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("broker log: no {what} within {timeout:?}:\n{}", m.log());
}

// ----- scenarios ---------------------------------------------------------------------------

fn connect_and_disconnect(v: ProtocolVersion) {
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "cd", v)).unwrap();
    assert!(!connected(&mut c), "clean start: no session present");
    assert_eq!(c.state(), ConnState::Connected);
    let id = c.options().client_id.clone();
    wait_log(&m, Duration::from_secs(5), "connection", |l| {
        l.contains("New client connected from 127.0.0.1") && l.contains(&id)
    });
    c.disconnect();
    let lost = until(
        &mut c,
        Duration::from_secs(5),
        "ConnectionLost",
        |e| match e {
            Event::ConnectionLost { reason } => Some(*reason),
            _ => None,
        },
    );
    assert_eq!(lost, ConnectionError::ClientDisconnect);
    assert_eq!(stopped(&mut c), StopReason::ClientDisconnect);
    // A clean DISCONNECT, not a dropped socket.
    wait_log(&m, Duration::from_secs(5), "clean disconnect", |l| {
        l.contains(&format!("Client {id} disconnected."))
    });
    // The iterator ends once stopped.
    assert_eq!(c.next(), None);
    assert_eq!(c.state(), ConnState::Idle);
}

/// mosquitto keeps Nagle's algorithm on its sockets: after its PUBACK / PUBREC it holds the
/// PUBLISH to our own subscription until our ACK of that acknowledgement arrives, which the
/// kernel delays up to 40 ms when we have nothing to write. The connection ACKs at once
/// (`TCP_QUICKACK`) after the broker completes an operation: 200 round trips one at a time,
/// at QoS 1 and 2, take well under 20 ms each.
fn round_trips_do_not_wait_for_delayed_acks(v: ProtocolVersion) {
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "rtt", v)).unwrap();
    connected(&mut c);
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("rtt/{qos:?}");
        subscribe(&mut c, &topic, qos);
        let payload = [7u8; 64];
        let mut slow = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            c.publish(&topic, &payload, qos, false).unwrap();
            let got = until(&mut c, Duration::from_secs(5), "own message", |e| match e {
                Event::Message(m) => Some(m.payload().to_vec()),
                _ => None,
            });
            assert_eq!(got, payload);
            if t.elapsed() > Duration::from_millis(20) {
                slow.push(t.elapsed());
            }
        }
        // One or two may meet a scheduling hiccup on a loaded machine; the stall hit more
        // than one in ten.
        assert!(
            slow.len() <= 2,
            "{v:?} {qos:?}: {} of 200 round trips over 20 ms: {slow:?}",
            slow.len()
        );
    }
    c.disconnect();
}

fn mqtt_4_3_2_1_mqtt_4_3_3_1_qos_0_1_2_to_own_subscription_and_unsubscribe(v: ProtocolVersion) {
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "qos", v)).unwrap();
    connected(&mut c);
    subscribe(&mut c, "rt/#", QoS::ExactlyOnce);
    assert_eq!(
        c.publish("rt/0", b"zero", QoS::AtMostOnce, false).unwrap(),
        None
    );
    let t1 = c
        .publish("rt/1", b"one", QoS::AtLeastOnce, false)
        .unwrap()
        .unwrap();
    let t2 = c
        .publish("rt/2", b"two", QoS::ExactlyOnce, false)
        .unwrap()
        .unwrap();
    assert_ne!(t1, t2);
    let mut got = Vec::new();
    let mut published = Vec::new();
    until(
        &mut c,
        Duration::from_secs(5),
        "3 messages and 2 acks",
        |e| {
            match e {
                Event::Message(m) => {
                    got.push((m.topic().to_string(), m.payload().to_vec(), m.qos, m.retain))
                }
                Event::Published { token, reason_code } => published.push((*token, *reason_code)),
                _ => {}
            }
            (got.len() == 3 && published.len() == 2).then_some(())
        },
    );
    got.sort();
    assert_eq!(
        got,
        [
            ("rt/0".into(), b"zero".to_vec(), QoS::AtMostOnce, false),
            ("rt/1".into(), b"one".to_vec(), QoS::AtLeastOnce, false),
            ("rt/2".into(), b"two".to_vec(), QoS::ExactlyOnce, false),
        ]
    );
    published.sort_by_key(|p| p.0);
    assert_eq!(
        published,
        [(t1, ReasonCode::Success), (t2, ReasonCode::Success)]
    );
    assert_eq!(c.session().outstanding(), 0);

    // Unsubscribe from rt/1's filter: a later rt/1 message does not come back, while a
    // message on a filter still subscribed does (mosquitto routes before it acknowledges).
    subscribe(&mut c, "other", QoS::AtLeastOnce);
    let u = c.unsubscribe(&["rt/#"]).unwrap();
    let codes = until(
        &mut c,
        Duration::from_secs(5),
        "Unsubscribed",
        |e| match e {
            Event::Unsubscribed {
                token,
                reason_codes,
            } if *token == u => Some(reason_codes.clone()),
            _ => None,
        },
    );
    if v == V5 {
        assert_eq!(codes, [ReasonCode::Success]);
    } else {
        assert!(codes.is_empty());
    }
    c.publish("rt/1", b"after", QoS::AtLeastOnce, false)
        .unwrap();
    c.publish("other", b"marker", QoS::AtLeastOnce, false)
        .unwrap();
    let first = messages(&mut c, 1);
    assert_eq!(first[0].0, "other", "got {first:?} after unsubscribing");
}

fn mqtt_4_3_2_2_mqtt_4_3_3_2_receive_qos_1_2_from_mosquitto_pub(v: ProtocolVersion) {
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "in", v)).unwrap();
    connected(&mut c);
    subscribe(&mut c, "in/#", QoS::ExactlyOnce);
    mosquitto::publish(
        m.port,
        &["-V", v_arg(v), "-q", "1", "-t", "in/a", "-m", "hello-1"],
    );
    mosquitto::publish(
        m.port,
        &["-V", v_arg(v), "-q", "2", "-t", "in/b", "-m", "hello-2"],
    );
    let got = messages(&mut c, 2);
    assert_eq!(
        got,
        [
            ("in/a".into(), "hello-1".into(), QoS::AtLeastOnce, false),
            ("in/b".into(), "hello-2".into(), QoS::ExactlyOnce, false),
        ]
    );
    // Both flows completed on our side (PUBACK; PUBREC, PUBREL, PUBCOMP): nothing pending.
    let end = Instant::now() + Duration::from_secs(5);
    while c.session().incoming_pending() > 0 {
        assert!(Instant::now() < end, "incoming flows not completed");
        let _ = c.next_event(Duration::from_millis(50));
    }
}

fn publish_to_mosquitto_sub(v: ProtocolVersion) {
    let m = broker("");
    let sub = Sub::start(m.port, &["-V", v_arg(v), "-q", "2", "-v", "-t", "out/#"]);
    let (_client, mut c) = Client::new(options(&m, "out", v)).unwrap();
    connected(&mut c);
    c.publish("out/0", b"p0", QoS::AtMostOnce, false).unwrap();
    let t1 = c
        .publish("out/1", b"p1", QoS::AtLeastOnce, false)
        .unwrap()
        .unwrap();
    let t2 = c
        .publish("out/2", b"p2", QoS::ExactlyOnce, false)
        .unwrap()
        .unwrap();
    let mut acked = Vec::new();
    until(&mut c, Duration::from_secs(5), "2 acks", |e| {
        if let Event::Published { token, .. } = e {
            acked.push(*token);
        }
        (acked.len() == 2).then_some(())
    });
    acked.sort();
    assert_eq!(acked, [t1, t2]);
    let mut lines = sub.take(3, Duration::from_secs(5));
    lines.sort();
    assert_eq!(lines, ["out/0 p0", "out/1 p1", "out/2 p2"]);
}

/// The topics of the PUBLISH packets the broker received from `client`, in order (from
/// its `log_type all` log).
fn received_topics(m: &Mosquitto, client: &str) -> Vec<String> {
    let from = format!("Received PUBLISH from {client} ");
    m.log()
        .lines()
        .filter_map(|l| l.split_once(&from))
        .filter_map(|(_, rest)| rest.split('\'').nth(1).map(str::to_string))
        .collect()
}

/// While connected, QoS 0 publishes are encoded straight into the transmit buffer: a
/// burst of 2,000 (400 KB, so the publish that passes 256 KiB staged writes mid-burst)
/// is never `Full` with no loop call in between, then QoS 1 and QoS 0 alternate (the
/// QoS 0 ones queued behind the QoS 1 ones the session holds); the broker receives every
/// message in the order it was published.
fn qos0_burst_is_never_full_and_the_wire_keeps_the_publish_order(v: ProtocolVersion) {
    const BURST: usize = 2_000;
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "q0burst", v)).unwrap();
    connected(&mut c);
    let id = c.options().client_id.clone();
    let payload = [7u8; 200];
    let mut expected = Vec::new();
    for i in 0..BURST {
        let topic = format!("burst/{i}");
        let r = c.publish(&topic, &payload, QoS::AtMostOnce, false);
        assert_eq!(r, Ok(None), "QoS 0 publish {i} taken at once");
        expected.push(topic);
    }
    let mut tokens = Vec::new();
    for i in 0..40 {
        let topic = format!("mix/{i}");
        let qos = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        match c.publish(&topic, b"m", qos, false).unwrap() {
            Some(t) => tokens.push(t),
            None => assert_eq!(qos, QoS::AtMostOnce),
        }
        expected.push(topic);
    }
    let mut acked = 0;
    until(&mut c, Duration::from_secs(10), "20 PUBACKs", |e| {
        if let Event::Published { token, .. } = e {
            assert!(tokens.contains(token));
            acked += 1;
        }
        (acked == tokens.len()).then_some(())
    });
    wait_log(&m, Duration::from_secs(10), "every PUBLISH", |_| {
        received_topics(&m, &id).len() >= expected.len()
    });
    assert_eq!(received_topics(&m, &id), expected, "the order published");
}

fn mqtt_3_3_1_6_retained_message_on_subscribe(v: ProtocolVersion) {
    let m = broker("");
    let (_client, mut c) = Client::new(options(&m, "ret", v)).unwrap();
    connected(&mut c);
    let t = c
        .publish("ret/x", b"kept", QoS::AtLeastOnce, true)
        .unwrap()
        .unwrap();
    until(&mut c, Duration::from_secs(5), "Published", |e| {
        matches!(e, Event::Published { token, .. } if *token == t).then_some(())
    });
    subscribe(&mut c, "ret/#", QoS::AtLeastOnce);
    assert_eq!(
        messages(&mut c, 1),
        [("ret/x".into(), "kept".into(), QoS::AtLeastOnce, true)]
    );
    // mosquitto_sub sees it too (a second subscriber, after the fact).
    let sub = Sub::start(m.port, &["-v", "-t", "ret/#"]);
    assert_eq!(
        sub.next(Duration::from_secs(5)).as_deref(),
        Some("ret/x kept")
    );
}

fn will_options(m: &Mosquitto, id: &str, v: ProtocolVersion) -> Options {
    let mut o = options(m, id, v);
    let mut will = WillOptions::new(format!("will/{}", version_tag(v)), "gone");
    will.qos = QoS::AtLeastOnce;
    o.will = Some(will);
    // No reconnect: the test sees the connection end and nothing after it.
    o.reconnect.enabled = false;
    o
}

fn mqtt_3_1_2_8_will_published_on_abnormal_close(v: ProtocolVersion) {
    let m = broker("");
    let sub = Sub::start(m.port, &["-v", "-q", "1", "-t", "will/#"]);
    let (_client, mut c) = Client::new(will_options(&m, "will", v)).unwrap();
    connected(&mut c);
    c.abort();
    let lost = until(
        &mut c,
        Duration::from_secs(5),
        "ConnectionLost",
        |e| match e {
            Event::ConnectionLost { reason } => Some(*reason),
            _ => None,
        },
    );
    assert_eq!(lost, ConnectionError::TransportClosed);
    assert_eq!(stopped(&mut c), StopReason::ReconnectDisabled);
    let topic = format!("will/{}", version_tag(v));
    assert_eq!(
        sub.next(Duration::from_secs(5)),
        Some(format!("{topic} gone")),
        "the broker publishes the will when the socket dies without DISCONNECT"
    );
}

fn mqtt_3_1_2_10_will_not_published_after_clean_disconnect(v: ProtocolVersion) {
    let m = broker("");
    let sub = Sub::start(m.port, &["-v", "-q", "1", "-t", "will/#"]);
    let (_client, mut c) = Client::new(will_options(&m, "nowill", v)).unwrap();
    connected(&mut c);
    let id = c.options().client_id.clone();
    c.disconnect();
    assert_eq!(stopped(&mut c), StopReason::ClientDisconnect);
    // Once the broker has handled our DISCONNECT, a marker published on the will's topic
    // must be the first thing the subscriber sees: a will would have come before it.
    wait_log(&m, Duration::from_secs(5), "clean disconnect", |l| {
        l.contains(&format!("Client {id} disconnected."))
    });
    let topic = format!("will/{}", version_tag(v));
    mosquitto::publish(m.port, &["-q", "1", "-t", &topic, "-m", "marker"]);
    assert_eq!(
        sub.next(Duration::from_secs(5)),
        Some(format!("{topic} marker")),
        "no will after a clean DISCONNECT"
    );
}

fn persistent_session_receives_messages_sent_while_away(v: ProtocolVersion) {
    let m = broker("");
    let mut o = options(&m, "persist", v);
    if v == V5 {
        o.clean_start = true; // a fresh session, kept for 60 s after each connection
        o.session_expiry_interval = 60;
    } else {
        o.clean_start = false; // 3.1.1: CleanSession = 0 keeps the session
    }
    let (_client, mut c) = Client::new(o).unwrap();
    assert!(!connected(&mut c), "first connection: no session yet");
    subscribe(&mut c, "away/#", QoS::AtLeastOnce);
    c.disconnect();
    assert_eq!(stopped(&mut c), StopReason::ClientDisconnect);
    let id = c.options().client_id.clone();
    wait_log(&m, Duration::from_secs(5), "clean disconnect", |l| {
        l.contains(&format!("Client {id} disconnected."))
    });
    for i in 0..3 {
        mosquitto::publish(
            m.port,
            &["-q", "1", "-t", "away/x", "-m", &format!("while-away-{i}")],
        );
    }
    c.reconnect();
    assert!(
        connected(&mut c),
        "the broker resumed the session [MQTT-3.1.2-4 (3.1.1) / MQTT-3.1.2-5 (5.0)]"
    );
    let got: Vec<String> = messages(&mut c, 3).into_iter().map(|m| m.1).collect();
    assert_eq!(got, ["while-away-0", "while-away-1", "while-away-2"]);
}

fn reconnects_after_broker_restart(v: ProtocolVersion) {
    let mut m = broker("");
    let (_client, mut c) = Client::new(options(&m, "restart", v)).unwrap();
    connected(&mut c);
    subscribe(&mut c, "rs/#", QoS::AtLeastOnce);
    m.restart();
    let lost = until(
        &mut c,
        Duration::from_secs(5),
        "ConnectionLost",
        |e| match e {
            Event::ConnectionLost { reason } => Some(*reason),
            _ => None,
        },
    );
    assert_eq!(lost, ConnectionError::TransportClosed);
    // Reconnects by itself (the session's backoff); the restarted broker has no session
    // (no persistence), so the session subscribes again by itself.
    assert!(!connected(&mut c));
    let codes = until(&mut c, Duration::from_secs(5), "resubscribe", |e| match e {
        Event::Subscribed { reason_codes, .. } => Some(reason_codes.clone()),
        _ => None,
    });
    assert_eq!(codes, [ReasonCode::GrantedQoS1]);
    mosquitto::publish(m.port, &["-q", "1", "-t", "rs/x", "-m", "back"]);
    assert_eq!(messages(&mut c, 1)[0].1, "back");
}

fn keepalive_detects_half_open_broker(v: ProtocolVersion) {
    let m = broker("");
    let mut o = options(&m, "ka", v);
    o.keep_alive = 2;
    o.ping_timeout = Duration::from_secs(1);
    o.connect_timeout = Duration::from_secs(2);
    let (_client, mut c) = Client::new(o).unwrap();
    connected(&mut c);
    m.pause();
    let paused = Instant::now();
    let lost = until(
        &mut c,
        Duration::from_secs(6),
        "ConnectionLost",
        |e| match e {
            Event::ConnectionLost { reason } => Some(*reason),
            _ => None,
        },
    );
    let took = paused.elapsed();
    m.resume();
    assert_eq!(lost, ConnectionError::KeepAliveTimeout);
    assert!(
        took <= Duration::from_millis(3500),
        "half-open link detected after {took:?} (keep alive 2 s + ping timeout 1 s)"
    );
    // After SIGCONT the session reconnects by itself.
    connected(&mut c);
}

fn bad_password_stops_without_reconnecting(v: ProtocolVersion) {
    let dir = TempDir::new("passwd");
    let file = dir.path().join("passwd");
    let st = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&file)
        .args(["user", "right"])
        .status()
        .expect("run mosquitto_passwd");
    assert!(st.success());
    let m = broker(&format!(
        "allow_anonymous false\npassword_file {}",
        file.display()
    ));

    // Control: the right password connects, so the refusal below is the password's.
    let mut o = options(&m, "good", v);
    o.username = Some("user".into());
    o.password = Some("right".into());
    let (_g, mut good) = Client::new(o).unwrap();
    connected(&mut good);
    good.disconnect();
    stopped(&mut good);

    // (The harness's readiness probe and the good client connected before.)
    let count = || m.log().matches("New connection from").count();
    let base = count();
    let mut o = options(&m, "bad", v);
    o.username = Some("user".into());
    o.password = Some("wrong".into());
    let (_client, mut c) = Client::new(o).unwrap();
    let reason = stopped(&mut c);
    // mosquitto 2.0 answers a wrong password with "not authorized" in both versions
    // (3.1.1 return code 5, 5.0 reason 0x87); either is fatal for the session.
    assert!(
        matches!(
            reason,
            StopReason::Refused(ReasonCode::NotAuthorized | ReasonCode::BadUserNameOrPassword)
        ),
        "{reason:?}"
    );
    assert_eq!(c.state(), ConnState::Idle);
    // No reconnect storm: over 2 s (20 times the reconnect delay) nothing happens, and
    // the broker saw exactly one attempt.
    assert_eq!(c.next_event(Duration::from_secs(2)), None);
    assert_eq!(count(), base + 1, "one attempt only:\n{}", m.log());
}

fn client_handle_publishes_from_another_thread(v: ProtocolVersion) {
    let m = broker("");
    let (client, mut c) = Client::new(options(&m, "thread", v)).unwrap();
    connected(&mut c);
    subscribe(&mut c, "th/#", QoS::ExactlyOnce);
    const N: usize = 20;
    let worker = {
        let client = client.clone();
        std::thread::spawn(move || {
            let mut tokens = Vec::new();
            for i in 0..N {
                let qos = if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                let mut r = client
                    .publish(format!("th/{i}"), format!("m{i}"), qos, false)
                    .unwrap();
                match r.wait(Duration::from_secs(10)).unwrap() {
                    Completion::Published { token, reason_code } => {
                        assert_eq!(reason_code, ReasonCode::Success);
                        tokens.push(token);
                    }
                    other => panic!("unexpected completion {other:?}"),
                }
            }
            // An invalid topic is the caller's fault, reported to the caller.
            let mut bad = client
                .publish("th/+", "x", QoS::AtLeastOnce, false)
                .unwrap();
            let err = bad.wait(Duration::from_secs(10)).unwrap_err();
            assert!(matches!(err, ClientError::Rejected(_)), "{err:?}");
            tokens
        })
    };
    let mut got = Vec::new();
    let mut published = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while !(worker.is_finished() && got.len() == N) {
        assert!(Instant::now() < end, "got {} of {N} messages", got.len());
        match c.next_event(Duration::from_millis(200)) {
            Some(Event::Message(m)) => got.push(String::from_utf8_lossy(m.payload()).into_owned()),
            Some(Event::Published { token, .. }) => published.push(token),
            _ => {}
        }
    }
    let tokens = worker.join().unwrap();
    assert_eq!(
        got,
        (0..N).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        "in order"
    );
    // The connection reported the same completions as events.
    assert_eq!(published, tokens);
    drop(client);
}

// ----- TLS ---------------------------------------------------------------------------------

/// A mosquitto whose only listener speaks TLS with a fresh PKI's server certificate for
/// `localhost` (no IP address in it).
fn tls_broker(dir: &TempDir, require_certificate: bool) -> (Mosquitto, TestPki) {
    let pki = TestPki::generate(dir.path(), &["localhost"]);
    let m = broker(&format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_certificate}\n",
        pki.ca_pem.display(),
        pki.server_cert.display(),
        pki.server_key.display(),
    ));
    (m, pki)
}

fn tls_options(m: &Mosquitto, pki: &TestPki, host: &str, id: &str, v: ProtocolVersion) -> Options {
    let mut o = options(m, id, v);
    o.brokers =
        mqtt_blocking::BrokerUrl::parse_list(&format!("mqtts://{host}:{}", m.port)).unwrap();
    o.tls = TlsOptions {
        roots: Roots::CaFileOnly,
        ca_file: Some(pki.ca_pem.clone()),
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        ..TlsOptions::default()
    };
    o
}

fn tls_roundtrip_with_mutual_tls(v: ProtocolVersion) {
    let dir = TempDir::new("std-tls");
    let (m, pki) = tls_broker(&dir, true);
    let (_client, mut c) = Client::new(tls_options(&m, &pki, "localhost", "tls", v)).unwrap();
    connected(&mut c);
    subscribe(&mut c, "tls/#", QoS::ExactlyOnce);
    let t = c
        .publish(
            "tls/a",
            vec![7u8; 40_000].as_slice(),
            QoS::ExactlyOnce,
            false,
        )
        .unwrap()
        .unwrap();
    let mut got = None;
    let mut done = false;
    until(&mut c, Duration::from_secs(5), "message and PUBCOMP", |e| {
        match e {
            Event::Message(m) => got = Some(m.payload().clone()),
            Event::Published { token, .. } if *token == t => done = true,
            _ => {}
        }
        (got.is_some() && done).then_some(())
    });
    // Larger than one TLS record (16 KiB): reassembled across reads.
    assert_eq!(got.unwrap().as_ref(), &[7u8; 40_000][..]);
    c.disconnect();
    assert_eq!(stopped(&mut c), StopReason::ClientDisconnect);
}

/// Never `Connected`; the session gives up after its attempts (`max_attempts = 1`).
fn refused(mut o: Options) {
    o.reconnect.max_attempts = Some(1);
    let (_client, mut c) = Client::new(o).unwrap();
    let mut lost = 0;
    let reason = until(&mut c, Duration::from_secs(10), "Stopped", |e| match e {
        Event::Connected { .. } => panic!("connected although TLS must refuse"),
        Event::ConnectionLost { .. } => {
            lost += 1;
            None
        }
        Event::Stopped { reason } => Some(*reason),
        _ => None,
    });
    assert_eq!(reason, StopReason::AttemptsExhausted);
    assert_eq!(lost, 2, "the first attempt and one retry");
}

#[test]
fn tls_certificate_for_another_host_is_refused() {
    need_mosquitto!();
    let dir = TempDir::new("std-tls-host");
    let (m, pki) = tls_broker(&dir, false);
    // The certificate names `localhost` only; 127.0.0.1 must not match it.
    refused(tls_options(&m, &pki, "127.0.0.1", "tls-host", V5));
}

#[test]
fn tls_without_client_certificate_is_refused_by_mutual_tls_broker() {
    need_mosquitto!();
    let dir = TempDir::new("std-tls-mtls");
    let (m, pki) = tls_broker(&dir, true);
    let mut o = tls_options(&m, &pki, "localhost", "tls-nocert", V5);
    o.tls.client_cert = None;
    o.tls.client_key = None;
    refused(o);
}

#[test]
fn tls_configuration_errors_are_typed() {
    let mut o = Options::new("mqtts://localhost:8883", "x").unwrap();
    o.tls.roots = Roots::CaFileOnly;
    o.tls.ca_file = Some("/nonexistent/ca.pem".into());
    let err = Client::new(o).map(|_| ()).unwrap_err();
    assert!(matches!(err, mqtt_blocking::NewError::Tls(_)), "{err}");
}

//! The tokio adapter against a real mosquitto, started by each test on its own free
//! loopback port. Both protocol versions wherever the behaviour exists in both.
//!
//! Run: `cargo test -p mqtt-tests --test tokio_mosquitto` (needs `mosquitto` and
//! `mosquitto-clients`, which `.ci/run` installs).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mqtt_proto::ProtocolVersion::{self, V3_1_1, V5};
use mqtt_tests::mosquitto::{self, Mosquitto, Sub, TempDir};
use mqtt_tests::proxy::Proxy;
use mqtt_tokio::{
    Capacity, ConnectionError, Error, Event, Events, Message, Options, QoS, ReasonCode, StopReason,
    StoreOptions, WillOptions,
};

const VERSIONS: [ProtocolVersion; 2] = [V3_1_1, V5];
const T: Duration = Duration::from_secs(10);

fn rt() -> tokio::runtime::Runtime {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Options for tests: the given version, fast reconnects.
fn opts(url: &str, id: &str, v: ProtocolVersion) -> Options {
    let mut o = Options::new(url, id).expect("url");
    o.version = v;
    o.keep_alive = 10;
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(100);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(500);
    o
}

/// A session that the broker keeps across connections (3.1.1: clean start 0 after the
/// first connection; 5.0: session expiry).
///
/// Clean Start is 0 from the first connection: mosquitto 2.0.11 saves a 5.0 session begun
/// with Clean Start 1 and an expiry to its database but does not restore it after a
/// restart (CONNACK session present 0; checked by hand with mosquitto_sub -x 300 with and
/// without -c). Each test has a fresh broker, so there is no stale session to resume.
fn persistent(mut o: Options) -> Options {
    o.clean_start = false;
    o.session_expiry_interval = 300;
    o
}

fn connect(o: Options) -> (mqtt_tokio::Client, Events) {
    mqtt_tokio::connect(o, Capacity::default()).expect("connect")
}

async fn connected(c: &mqtt_tokio::Client) -> bool {
    tokio::time::timeout(T, c.connected())
        .await
        .expect("connected within 10 s")
        .expect("connected, not stopped")
}

/// The next event that `f` picks, within `timeout`; panics naming what was seen otherwise.
async fn wait_for<R>(
    ev: &mut Events,
    timeout: Duration,
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
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("no matching event within {timeout:?}"),
        }
    }
}

async fn next_message(ev: &mut Events, timeout: Duration) -> Message {
    wait_for(ev, timeout, |e| match e {
        Event::Message { message, .. } => Some(message),
        _ => None,
    })
    .await
}

/// Messages that arrive within `quiet` of each other.
async fn drain_messages(ev: &mut Events, quiet: Duration) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(quiet, ev.recv()).await {
        if let Event::Message { message, .. } = e {
            out.push(message);
        }
    }
    out
}

fn need_broker() -> bool {
    if !mosquitto::installed() {
        eprintln!("SKIPPED: mosquitto is not installed (.ci/run installs it)");
        return false;
    }
    true
}

// ----- publish / subscribe -------------------------------------------------------------

/// [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1] QoS 0, 1 and 2 to our own subscription:
/// each arrives with its payload, and QoS 1/2 publishes resolve on PUBACK / PUBCOMP.
#[test]
fn qos_0_1_2_round_trip_through_own_subscription() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let (c, mut ev) = connect(opts(&m.url(), &format!("rt-{v:?}"), v));
            connected(&c).await;
            assert_eq!(
                c.subscribe("rt/#", QoS::ExactlyOnce).await.unwrap(),
                ReasonCode::GrantedQoS2
            );
            for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
                .into_iter()
                .enumerate()
            {
                let payload = format!("payload {i} {v:?}");
                let ack = c
                    .publish(format!("rt/{i}"), payload.clone(), qos, false)
                    .await
                    .unwrap();
                assert_eq!(ack.reason_code, ReasonCode::Success);
                let msg = next_message(&mut ev, T).await;
                assert_eq!(msg.topic(), format!("rt/{i}"));
                assert_eq!(msg.payload(), payload.as_bytes());
                assert_eq!(msg.qos, qos);
                assert!(!msg.dup);
            }
            c.disconnect(T).await.unwrap();
        }
    });
}

/// QoS 1 and 2 round trips to our own subscription do not stall on mosquitto's Nagle
/// algorithm (it does not set TCP_NODELAY by default): the broker writes the PUBACK (or
/// PUBCOMP), then the PUBLISH to us, which it holds until our ACK of the first; the kernel
/// delays that ACK up to 40 ms when we have nothing to send, and on a current-thread
/// runtime every round trip took 44 ms. The driver ACKs at once after an acknowledgement
/// it did not answer (`Conn::ack_now`). Of 200 round trips per version and QoS, at most
/// two may take over 20 ms (they take ~0.1 ms; without the fix more than one in ten
/// took 44 ms).
#[test]
fn round_trips_do_not_wait_for_delayed_acks() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for v in VERSIONS {
            let (c, mut ev) = connect(opts(&m.url(), &format!("rtt-{v:?}"), v));
            connected(&c).await;
            for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let topic = format!("rtt/{v:?}/{qos:?}");
                c.subscribe(topic.as_str(), qos).await.unwrap();
                let payload = bytes::Bytes::from(vec![7u8; 64]);
                let mut slow = Vec::new();
                for _ in 0..200 {
                    let t = Instant::now();
                    let p = c
                        .publish_start(topic.as_str(), payload.clone(), qos, false, None)
                        .await
                        .unwrap();
                    let msg = next_message(&mut ev, T).await;
                    assert_eq!(msg.payload(), &payload);
                    drop(p);
                    if t.elapsed() > Duration::from_millis(20) {
                        slow.push(t.elapsed());
                    }
                }
                // One or two may meet a scheduling hiccup on a loaded machine; the stall
                // hit more than one in ten.
                assert!(
                    slow.len() <= 2,
                    "{v:?} {qos:?}: {} of 200 round trips over 20 ms: {slow:?}",
                    slow.len()
                );
            }
            c.disconnect(T).await.unwrap();
        }
    });
}

/// [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-3.3.2-2] A topic filter or name given as a string
/// that breaks the rules is refused before anything is sent (`Rejected(Encode(...))`),
/// and the connection carries on: a valid subscribe and publish still work after it.
#[test]
fn mqtt_4_7_1_2_invalid_filters_and_names_are_refused_before_sending() {
    use mqtt_proto::EncodeError;
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let (c, mut ev) = connect(opts(&m.url(), &format!("bad-{v:?}"), v));
            connected(&c).await;
            for filter in ["a/#/b", "a+", "", "$share//x"] {
                assert_eq!(
                    c.subscribe(filter, QoS::AtLeastOnce).await.unwrap_err(),
                    Error::Rejected(mqtt_session::Error::Encode(EncodeError::InvalidTopicFilter)),
                    "{filter:?}"
                );
                assert_eq!(
                    c.unsubscribe(vec![filter.to_owned()]).await.unwrap_err(),
                    Error::Rejected(mqtt_session::Error::Encode(EncodeError::InvalidTopicFilter)),
                    "{filter:?}"
                );
            }
            for name in ["a/+", "#", ""] {
                assert_eq!(
                    c.publish(name, "x", QoS::AtLeastOnce, false)
                        .await
                        .unwrap_err(),
                    Error::Rejected(mqtt_session::Error::Encode(EncodeError::InvalidTopicName)),
                    "{name:?}"
                );
            }
            c.subscribe("ok/#", QoS::AtLeastOnce).await.unwrap();
            c.publish("ok/1", "fine", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            assert_eq!(next_message(&mut ev, T).await.payload(), &b"fine"[..]);
            c.disconnect(T).await.unwrap();
        }
    });
}

/// Writes are batched: a burst of publishes leaves in a few large writes, not one system
/// call per packet (rumqttc 0.25 makes one writev per publish). 10,000 QoS 0 publishes
/// must average at least 8 packets per write, 2,000 pipelined QoS 1 publishes at least 3;
/// the driver takes up to 256 queued commands per turn (measured with `mqttc bench`
/// against the sink: 100,000 QoS 0 publishes in 1,694 sendto calls).
#[test]
fn writes_batched_many_packets_per_write() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let (c, _ev) = connect(opts(&m.url(), &format!("batch-{v:?}"), v));
            connected(&c).await;
            let before = c.io_stats();
            let n0 = 10_000u64;
            let mut last = None;
            for i in 0..n0 {
                let p = c
                    .publish_start("batch/q0", format!("{i}"), QoS::AtMostOnce, false, None)
                    .await
                    .unwrap();
                last = Some(p);
            }
            last.unwrap().await.unwrap();
            let q0 = c.io_stats();
            let w0 = q0.writes - before.writes;
            assert!(
                w0 * 8 <= n0,
                "{v:?}: {n0} QoS 0 publishes took {w0} writes (at most {} allowed)",
                n0 / 8
            );
            let n1 = 2_000u64;
            let mut pending = Vec::new();
            for i in 0..n1 {
                pending.push(
                    c.publish_start("batch/q1", format!("{i}"), QoS::AtLeastOnce, false, None)
                        .await
                        .unwrap(),
                );
            }
            for p in pending {
                // 5.0: NoMatchingSubscribers (0x10), a success code.
                assert!(!p.await.unwrap().reason_code.is_error());
            }
            let w1 = c.io_stats().writes - q0.writes;
            // QoS 1 is paced by the broker's window (mosquitto: 20 in flight), so writes
            // follow the PUBACKs as they arrive: at least 3 packets per write on average.
            assert!(
                w1 * 3 <= n1,
                "{v:?}: {n1} QoS 1 publishes took {w1} writes (at most {} allowed)",
                n1 / 3
            );
            eprintln!(
                "{v:?}: {n0} QoS 0 in {w0} writes, {n1} QoS 1 in {w1} writes ({} bytes read in {} reads)",
                c.io_stats().bytes_read,
                c.io_stats().reads
            );
            c.disconnect(T).await.unwrap();
        }
    });
}

/// Both directions with the mosquitto tools as the other end: mosquitto_pub at QoS 1 and
/// 2 reaches us; our QoS 1 and 2 publishes reach mosquitto_sub.
#[test]
fn qos_1_2_both_directions_with_mosquitto_tools() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let vflag = if v == V5 { "mqttv5" } else { "mqttv311" };
            let (c, mut ev) = connect(opts(&m.url(), &format!("both-{v:?}"), v));
            connected(&c).await;
            c.subscribe("in/#", QoS::ExactlyOnce).await.unwrap();
            for q in ["1", "2"] {
                let port = m.port;
                let topic = format!("in/{q}");
                tokio::task::spawn_blocking(move || {
                    mosquitto::publish(
                        port,
                        &["-V", vflag, "-q", q, "-t", &topic, "-m", "from-tool"],
                    )
                })
                .await
                .unwrap();
                let msg = next_message(&mut ev, T).await;
                assert_eq!(
                    (msg.topic(), &msg.payload()[..]),
                    (&*format!("in/{q}"), &b"from-tool"[..])
                );
                assert_eq!(msg.qos as u8, q.parse::<u8>().unwrap());
            }
            let sub = Sub::start(m.port, &["-V", vflag, "-q", "2", "-t", "out/#", "-v"]);
            c.publish("out/1", "one", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            c.publish("out/2", "two", QoS::ExactlyOnce, false)
                .await
                .unwrap();
            assert_eq!(sub.take(2, T), ["out/1 one", "out/2 two"]);
            c.disconnect(T).await.unwrap();
        }
    });
}

/// [MQTT-3.3.1-6] A retained message goes to a later subscriber with RETAIN set;
/// [MQTT-3.10.4-6] after UNSUBSCRIBE no more messages arrive for the filter.
#[test]
fn retained_then_unsubscribe() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let (c, mut ev) = connect(opts(&m.url(), &format!("ret-{v:?}"), v));
            connected(&c).await;
            let topic = format!("ret/{v:?}");
            c.publish(topic.clone(), "kept", QoS::AtLeastOnce, true)
                .await
                .unwrap();
            c.subscribe(topic.clone(), QoS::AtLeastOnce).await.unwrap();
            let msg = next_message(&mut ev, T).await;
            assert_eq!(&msg.payload()[..], b"kept");
            assert!(
                msg.retain,
                "a retained message to a new subscription has RETAIN set"
            );
            let codes = c.unsubscribe(vec![topic.clone()]).await.unwrap();
            if v == V5 {
                assert_eq!(codes, [ReasonCode::Success]);
            }
            c.publish(topic.clone(), "", QoS::AtLeastOnce, true)
                .await
                .unwrap(); // clear it
            c.publish(topic.clone(), "after", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            assert!(
                drain_messages(&mut ev, Duration::from_millis(500))
                    .await
                    .is_empty()
            );
            c.disconnect(T).await.unwrap();
        }
    });
}

// ----- will ------------------------------------------------------------------------------

/// [MQTT-3.1.2-8] The will is published when the connection dies without DISCONNECT
/// (the proxy cuts it), and [MQTT-3.1.2-10] not after a clean disconnect.
#[test]
fn mqtt_3_1_2_8_will_on_abnormal_close_not_on_disconnect() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        for v in VERSIONS {
            let vflag = if v == V5 { "mqttv5" } else { "mqttv311" };
            let will_topic = format!("will/{v:?}");
            let sub = Sub::start(m.port, &["-V", vflag, "-t", &will_topic, "-v"]);
            let proxy = Proxy::start(m.port);
            let mut o = opts(&proxy.url(), &format!("will-{v:?}"), v);
            o.will = Some(WillOptions::new(will_topic.clone(), "gone"));
            o.reconnect.enabled = false;
            let (c, _ev) = connect(o.clone());
            connected(&c).await;
            proxy.cut();
            assert_eq!(sub.next(T).as_deref(), Some(&*format!("{will_topic} gone")));
            drop(c);
            // Clean disconnect: no will.
            let (c, _ev) = connect(o);
            connected(&c).await;
            c.disconnect(T).await.unwrap();
            assert_eq!(
                sub.next(Duration::from_millis(800)),
                None,
                "no will after DISCONNECT"
            );
        }
    });
}

/// [MQTT-3.1.3-9] 5.0 Will Delay Interval: after a cut, the will waits for the delay; a
/// reconnect within the delay suppresses it.
#[test]
fn mqtt_3_1_3_9_will_delay_honoured_v5() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        let sub = Sub::start(m.port, &["-V", "mqttv5", "-t", "wd/#", "-v"]);
        let proxy = Proxy::start(m.port);
        // 1. Cut and stay away: the will comes after about 2 s, not before.
        let mut o = persistent(opts(&proxy.url(), "wd-a", V5));
        let mut w = WillOptions::new("wd/a", "late");
        w.delay_interval = 2;
        o.will = Some(w);
        o.reconnect.enabled = false;
        let (c, _ev) = connect(o);
        connected(&c).await;
        let cut_at = Instant::now();
        proxy.cut();
        let line = tokio::task::spawn_blocking(move || (sub.next(Duration::from_secs(6)), sub))
            .await
            .unwrap();
        let (line, sub) = line;
        assert_eq!(line.as_deref(), Some("wd/a late"));
        let waited = cut_at.elapsed();
        assert!(
            waited >= Duration::from_millis(1500),
            "will after {waited:?}, before its 2 s delay"
        );
        drop(c);
        // 2. Cut and come back within the delay: no will.
        let mut o = persistent(opts(&proxy.url(), "wd-b", V5));
        let mut w = WillOptions::new("wd/b", "suppressed");
        w.delay_interval = 3;
        o.will = Some(w);
        let (c, mut ev) = connect(o);
        connected(&c).await;
        proxy.cut();
        wait_for(&mut ev, T, |e| {
            matches!(e, Event::Connected { .. }).then_some(())
        })
        .await;
        let quiet = tokio::task::spawn_blocking(move || sub.next(Duration::from_secs(4)))
            .await
            .unwrap();
        assert_eq!(
            quiet, None,
            "the will fired although the client came back within the delay"
        );
        c.disconnect(T).await.unwrap();
    });
}

// ----- session resumption ---------------------------------------------------------------

/// [MQTT-4.4.0-1] [MQTT-4.3.3-2] Connections cut again and again (a proxy between each
/// client and mosquitto) during a QoS 1 and QoS 2 stream: every publish resolves, no QoS 1
/// message is lost, and every QoS 2 message arrives exactly once.
#[test]
fn resumption_after_cuts_loses_nothing_and_qos2_exactly_once() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::with_config("max_queued_messages 0\nmax_inflight_messages 20");
    rt().block_on(async {
        for v in VERSIONS {
            let pub_proxy = Proxy::start(m.port);
            let sub_proxy = Proxy::start(m.port);
            let (sc, mut sev) = connect(persistent(opts(
                &sub_proxy.url(),
                &format!("res-sub-{v:?}"),
                v,
            )));
            connected(&sc).await;
            sc.subscribe("res/#", QoS::ExactlyOnce).await.unwrap();
            let (pc, _pev) = connect(persistent(opts(
                &pub_proxy.url(),
                &format!("res-pub-{v:?}"),
                v,
            )));
            connected(&pc).await;
            const N: usize = 1500;
            let publisher = tokio::spawn(async move {
                let mut pending = Vec::new();
                for i in 0..N {
                    let qos = if i % 2 == 0 {
                        QoS::AtLeastOnce
                    } else {
                        QoS::ExactlyOnce
                    };
                    let p = pc
                        .publish_start(
                            format!("res/{}", i % 2 + 1),
                            i.to_string(),
                            qos,
                            false,
                            None,
                        )
                        .await
                        .unwrap();
                    pending.push(p);
                }
                for p in pending {
                    p.await.expect("publish resolved");
                }
                pc
            });
            let cutter = tokio::spawn(async move {
                for k in 0..6 {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    if k % 2 == 0 {
                        pub_proxy.cut()
                    } else {
                        sub_proxy.cut()
                    }
                }
                (pub_proxy, sub_proxy)
            });
            let mut seen: HashMap<usize, usize> = HashMap::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
            while seen.len() < N {
                let msg = match tokio::time::timeout_at(
                    deadline,
                    next_message(&mut sev, Duration::from_secs(40)),
                )
                .await
                {
                    Ok(m) => m,
                    Err(_) => {
                        let missing: Vec<usize> = (0..N).filter(|i| !seen.contains_key(i)).collect();
                        let _ = std::fs::write(std::env::temp_dir().join("mqtt-resumption-failure.log"), m.log());
                        panic!(
                            "{v:?}: {} of {N} distinct messages arrived; missing {missing:?} (odd: QoS 2)",
                            seen.len()
                        )
                    }
                };
                let i: usize = std::str::from_utf8(msg.payload()).unwrap().parse().unwrap();
                *seen.entry(i).or_default() += 1;
            }
            let pc = publisher.await.unwrap();
            let _proxies = cutter.await.unwrap();
            // Late duplicates, if any, arrive now.
            for msg in drain_messages(&mut sev, Duration::from_millis(500)).await {
                let i: usize = std::str::from_utf8(msg.payload()).unwrap().parse().unwrap();
                *seen.entry(i).or_default() += 1;
            }
            for (i, n) in &seen {
                if i % 2 == 1 {
                    assert_eq!(*n, 1, "{v:?}: QoS 2 message {i} delivered {n} times");
                }
            }
            pc.disconnect(T).await.unwrap();
            sc.disconnect(T).await.unwrap();
        }
    });
}

/// mosquitto (persistence on) stopped gracefully in the middle of 10,000 QoS 1 and 10,000
/// QoS 2 messages and started again: every message arrives, each QoS 2 message once.
#[test]
fn broker_restart_sigterm_mid_stream_every_message_arrives() {
    broker_restart_mid_stream(false, V5);
}

/// The same with SIGKILL: mosquitto loses what it acknowledged since its last save. The
/// client reconnects by itself and every publish either completes or is reported lost:
/// nothing disappears without an event.
#[test]
fn broker_restart_sigkill_mid_stream_nothing_vanishes_silently() {
    broker_restart_mid_stream(true, V5);
}

/// The SIGTERM restart in 3.1.1: every message arrives, each QoS 2 one exactly once. No
/// deviation is possible here: 3.1.1 has no Receive Maximum, and QoS 2 ids beyond the
/// session's table wait for their PUBREL in the store.
#[test]
fn broker_restart_sigterm_mid_stream_every_message_arrives_v311() {
    broker_restart_mid_stream(false, V3_1_1);
}

/// The SIGKILL restart in 3.1.1: every publish completes or is reported lost.
#[test]
fn broker_restart_sigkill_mid_stream_nothing_vanishes_silently_v311() {
    broker_restart_mid_stream(true, V3_1_1);
}

fn broker_restart_mid_stream(kill: bool, v: ProtocolVersion) {
    if !need_broker() {
        return;
    }
    let mut m = Mosquitto::with_config(
        "persistence true\npersistence_location {dir}/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 20",
    );
    let url = m.url();
    let rt = rt();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<usize, usize>::new()));
    let (sc, pc, collector) = rt.block_on(async {
        let (sc, mut sev) = connect(persistent(opts(&url, "restart-sub", v)));
        connected(&sc).await;
        sc.subscribe("rs/#", QoS::ExactlyOnce).await.unwrap();
        let (pc, _pev) = connect(persistent(opts(&url, "restart-pub", v)));
        connected(&pc).await;
        std::mem::forget(_pev); // nobody reads them; events are dropped when nobody listens
        // The application reads all the time, as a real one does.
        let seen = seen.clone();
        let collector = tokio::spawn(async move {
            let mut lost = Vec::new();
            while let Some(e) = sev.recv().await {
                match e {
                    Event::Message { message, .. } => {
                        let i: usize = std::str::from_utf8(message.payload())
                            .unwrap()
                            .parse()
                            .unwrap();
                        *seen.lock().unwrap().entry(i).or_default() += 1;
                    }
                    Event::ConnectionLost { reason } => lost.push(reason),
                    _ => {}
                }
            }
            lost
        });
        (sc, pc, collector)
    });
    const N: usize = 20_000;
    let publisher = rt.spawn(async move {
        let mut results = Vec::with_capacity(N);
        let mut pending = std::collections::VecDeque::new();
        for i in 0..N {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            pending.push_back(
                pc.publish_start(format!("rs/{}", i % 2 + 1), i.to_string(), qos, false, None)
                    .await
                    .unwrap(),
            );
            if pending.len() >= 200 {
                results.push(pending.pop_front().unwrap().await);
            }
            // About 2 s in all, so the broker goes down in the middle of the stream.
            if i % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for p in pending {
            results.push(p.await);
        }
        (pc, results)
    });
    // Let the stream get going, then restart the broker under it.
    std::thread::sleep(Duration::from_millis(600));
    m.stop(kill);
    std::thread::sleep(Duration::from_millis(300));
    m.restart();
    rt.block_on(async {
        let (pc, results) = match tokio::time::timeout(Duration::from_secs(60), publisher).await {
            Ok(r) => r.unwrap(),
            Err(_) => {
                let log = m.log();
                let _ = std::fs::write(
                    std::env::temp_dir().join("mqtt-broker-restart-failure.log"),
                    &log,
                );
                panic!(
                    "publisher did not finish; {} distinct received",
                    seen.lock().unwrap().len()
                )
            }
        };
        // Wait until the subscriber has everything or nothing more comes for 3 s.
        let mut last = (0, Instant::now());
        while seen.lock().unwrap().len() < N && last.1.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let n = seen.lock().unwrap().len();
            if n != last.0 {
                last = (n, Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await; // late duplicates
        let seen = seen.lock().unwrap().clone();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(Error::Lost(_))))
            .count();
        let other: Vec<_> = results
            .iter()
            .filter(|r| !matches!(r, Ok(_) | Err(Error::Lost(_))))
            .collect();
        eprintln!(
            "kill={kill} {v:?}: {ok} acknowledged, {lost} reported lost, {} distinct received",
            seen.len()
        );
        assert!(
            other.is_empty(),
            "unexpected outcomes: {:?}",
            &other[..other.len().min(5)]
        );
        assert_eq!(ok + lost, N, "every publish resolved");
        let dup2: Vec<_> = seen
            .iter()
            .filter(|(i, n)| *i % 2 == 1 && **n > 1)
            .take(10)
            .collect();
        assert!(
            dup2.is_empty(),
            "QoS 2 messages delivered more than once: {dup2:?}"
        );
        if !kill {
            assert_eq!(ok, N, "graceful restart: every publish acknowledged");
        }
        let missing: Vec<_> = (0..N).filter(|i| !seen.contains_key(i)).collect();
        pc.disconnect(T).await.unwrap();
        sc.disconnect(T).await.unwrap();
        let losses = collector.await.unwrap();
        eprintln!("subscriber connection losses: {losses:?}");
        let flooded = losses.iter().any(|r| {
            matches!(
                r,
                ConnectionError::ProtocolViolation {
                    reason_code: ReasonCode::ReceiveMaximumExceeded,
                    ..
                }
            )
        });
        if !kill {
            // mosquitto 2.0.11 sometimes sends a resumed subscriber far more QoS 2 messages
            // than its Receive Maximum after a restart. With the adapters' default
            // tolerance the session absorbs that (QoS 2 ids beyond its table wait in the
            // store) instead of a 0x93 at every reconnect, which left up to 17,000 of the
            // 20,000 undelivered before: now every message must arrive.
            assert!(!flooded, "disconnected with 0x93: {losses:?}");
            assert!(
                missing.is_empty(),
                "messages never delivered: {:?}...",
                &missing[..missing.len().min(10)]
            );
        } else {
            // After SIGKILL mosquitto restores its last autosave (1 s): what it had
            // acknowledged since may be gone; that is the broker's loss, not silent on our
            // side, since every publish above resolved.
            eprintln!(
                "kill: {} of {N} never delivered (lost by the broker)",
                missing.len()
            );
        }
    });
}

// ----- faults ----------------------------------------------------------------------------

/// [MQTT-3.2.2-?] A wrong password: the refusal is reported with its code, the session
/// stops, and it does not try again (one connection attempt in the broker's log).
#[test]
fn wrong_password_stops_without_reconnect_storm() {
    if !need_broker() {
        return;
    }
    let dir = TempDir::new("passwd");
    let pw = dir.path().join("passwd");
    let st = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&pw)
        .args(["alice", "right"])
        .status()
        .expect("mosquitto_passwd");
    assert!(st.success());
    let m = Mosquitto::with_config(&format!(
        "allow_anonymous false\npassword_file {}",
        pw.display()
    ));
    rt().block_on(async {
        for v in VERSIONS {
            let mut o = opts(&m.url(), &format!("pw-{v:?}"), v);
            o.username = Some("alice".into());
            o.password = Some("wrong".into());
            let (c, mut ev) = connect(o);
            let refused = wait_for(&mut ev, T, |e| match e {
                Event::ConnectionLost {
                    reason: ConnectionError::Refused(rc),
                } => Some(rc),
                _ => None,
            })
            .await;
            let expected = if v == V5 {
                ReasonCode::BadUserNameOrPassword
            } else {
                ReasonCode::NotAuthorized
            };
            assert!(
                refused == expected || refused == ReasonCode::NotAuthorized,
                "{v:?}: {refused:?}"
            );
            let stop = wait_for(&mut ev, T, |e| match e {
                Event::Stopped { reason } => Some(reason),
                Event::ReconnectScheduled { .. } => {
                    panic!("reconnect scheduled after a fatal refusal")
                }
                _ => None,
            })
            .await;
            assert!(matches!(stop, StopReason::Refused(_)), "{stop:?}");
            assert!(matches!(
                c.connected().await,
                Err(mqtt_tokio::State::Stopped)
            ));
            tokio::time::sleep(Duration::from_secs(2)).await;
            let attempts = m
                .log()
                .matches(&format!("pw-{v:?}"))
                .filter(|_| true)
                .count();
            let connects = m
                .log()
                .lines()
                .filter(|l| l.contains("New client connected") && l.contains(&format!("pw-{v:?}")))
                .count();
            let _ = attempts;
            assert!(
                connects <= 1,
                "{v:?}: {connects} connection attempts with a wrong password"
            );
        }
    });
}

/// [MQTT-3.1.2-24] [MQTT-4.4.0-?] A broker that stops answering (SIGSTOP) is detected
/// within keep alive + ping timeout, and the client reconnects after SIGCONT.
#[test]
fn half_open_broker_detected_then_reconnected() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::start();
    rt().block_on(async {
        let mut o = opts(&m.url(), "half-open", V5);
        o.keep_alive = 2;
        o.ping_timeout = Duration::from_secs(1);
        o.connect_timeout = Duration::from_secs(2);
        let (c, mut ev) = connect(o);
        connected(&c).await;
        m.pause();
        let t0 = Instant::now();
        let reason = wait_for(&mut ev, Duration::from_secs(8), |e| match e {
            Event::ConnectionLost { reason } => Some(reason),
            _ => None,
        })
        .await;
        let took = t0.elapsed();
        assert_eq!(reason, ConnectionError::KeepAliveTimeout);
        assert!(
            took <= Duration::from_millis(3600),
            "detected after {took:?} (keep alive 2 s + ping timeout 1 s)"
        );
        m.resume();
        wait_for(&mut ev, Duration::from_secs(15), |e| {
            matches!(e, Event::Connected { .. }).then_some(())
        })
        .await;
        c.disconnect(T).await.unwrap();
    });
}

// ----- flow control ------------------------------------------------------------------------

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// A slow consumer: 100,000 QoS 1 messages flood in while the application reads nothing.
/// The driver stops reading at the bounded channel, so the client's memory stays flat
/// (the backlog waits in the broker), and afterwards every message arrives.
#[test]
fn slow_consumer_memory_bounded_under_100k_flood() {
    if !need_broker() {
        return;
    }
    let m = Mosquitto::with_config("max_queued_messages 0\nmax_inflight_messages 100");
    rt().block_on(async {
        let (sc, mut sev) = connect(opts(&m.url(), "slow-sub", V5));
        connected(&sc).await;
        sc.subscribe("flood", QoS::AtLeastOnce).await.unwrap();
        let (pc, _pev) = connect(opts(&m.url(), "flood-pub", V5));
        connected(&pc).await;
        const N: usize = 100_000;
        let payload = bytes::Bytes::from(vec![b'x'; 64]);
        let before = rss_kib();
        let mut pending = std::collections::VecDeque::new();
        for _ in 0..N {
            pending.push_back(
                pc.publish_start("flood", payload.clone(), QoS::AtLeastOnce, false, None)
                    .await
                    .unwrap(),
            );
            if pending.len() > 500 {
                pending.pop_front().unwrap().await.unwrap();
            }
        }
        for p in pending {
            p.await.unwrap();
        }
        let after_flood = rss_kib();
        eprintln!(
            "RSS before {before} KiB, after publishing 100k with nobody reading: {after_flood} KiB"
        );
        assert!(
            after_flood < before + 16 * 1024,
            "memory grew by {} KiB",
            after_flood - before
        );
        let mut got = 0usize;
        while got < N {
            match tokio::time::timeout(T, sev.recv()).await {
                Ok(Some(Event::Message { .. })) => got += 1,
                Ok(Some(_)) => {}
                _ => panic!("only {got} of {N} messages arrived"),
            }
        }
        eprintln!("RSS after draining: {} KiB", rss_kib());
        pc.disconnect(T).await.unwrap();
        sc.disconnect(T).await.unwrap();
    });
}

/// A process restart with the file store: a child process queues QoS 1 publishes while
/// the broker is unreachable and is killed (SIGKILL); a new client on the same store
/// directory completes them once the broker is there.
#[test]
fn file_store_survives_process_kill() {
    if !need_broker() {
        return;
    }
    if std::env::var("MQTT_CHILD_STORE").is_ok() {
        return; // the child's part runs in `child_queue_then_wait`
    }
    let dir = TempDir::new("filestore");
    let store = dir.path().join("store");
    let dead_port = mosquitto::free_port();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_queue_then_wait",
            "--nocapture",
            "--include-ignored",
        ])
        .env("MQTT_CHILD_STORE", &store)
        .env("MQTT_CHILD_PORT", dead_port.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
    let ready = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("QUEUED 50")));
    assert!(ready.is_some(), "the child did not queue its messages");
    child.kill().unwrap();
    child.wait().unwrap();
    let m = Mosquitto::start();
    let sub = Sub::start(m.port, &["-V", "mqttv5", "-q", "1", "-t", "fs/#", "-v"]);
    rt().block_on(async {
        let mut o = opts(&m.url(), "file-store-client", V5);
        o.store = StoreOptions::File {
            dir: store.clone(),
            max_bytes: 1 << 20,
        };
        let (c, _ev) = connect(o);
        connected(&c).await;
        let lines = tokio::task::spawn_blocking(move || sub.take(50, T))
            .await
            .unwrap();
        let mut got: Vec<usize> = lines
            .iter()
            .map(|l| l.strip_prefix("fs/q ").unwrap().parse().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..50).collect::<Vec<_>>(),
            "every queued message delivered once"
        );
        c.disconnect(T).await.unwrap();
    });
}

/// The child half of `file_store_survives_process_kill` (runs only when spawned by it).
#[test]
#[ignore = "run by file_store_survives_process_kill in a child process"]
fn child_queue_then_wait() {
    let (Ok(store), Ok(port)) = (
        std::env::var("MQTT_CHILD_STORE"),
        std::env::var("MQTT_CHILD_PORT"),
    ) else {
        return;
    };
    rt().block_on(async {
        let mut o = opts(&format!("mqtt://127.0.0.1:{port}"), "file-store-client", V5);
        o.store = StoreOptions::File {
            dir: store.into(),
            max_bytes: 1 << 20,
        };
        let (c, _ev) = connect(o);
        let mut pending = Vec::new();
        for i in 0..50 {
            pending.push(
                c.publish_start("fs/q", i.to_string(), QoS::AtLeastOnce, false, None)
                    .await
                    .unwrap(),
            );
        }
        // The driver has taken all 50 (the command channel holds 64): give it a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
        println!("QUEUED 50");
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

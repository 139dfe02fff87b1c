//! The interop matrix: the same scenarios, through the tokio client, against every broker
//! we can start on loopback (mosquitto, rumqttd, aedes, amqtt; `mqtt_tests::brokers`),
//! in MQTT 3.1.1 and 5.0.
//!
//! Every cell has an expectation in [`expected`]: `Pass`, a known `Deviation` (named, with
//! the reason and a fragment the failure must show, so a broker that gets fixed, or that
//! fails differently, turns the cell red until the table is updated), or `NotApplicable`
//! (a 5.0 feature on 3.1.1, or a version the broker refuses: the `connect` cell records
//! that). The matrix is printed at the end (stderr) and written to
//! `target/interop-matrix.md`.
//!
//! Brokers are installed by `tests/interop/install.sh` (mosquitto by apt in `.ci/run`).
//! A broker that is not installed shows as "not installed" and does not fail the run,
//! unless `MQTT_INTEROP_REQUIRE_ALL=1` (CI sets it after running the install script).
//!
//! Run: `cargo test -p mqtt-tests --test interop -- --nocapture`. The four brokers run
//! in parallel, their scenarios in turn: about a minute on 2 cores.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mqtt_proto::ProtocolVersion::{self, V3_1_1, V5};
use mqtt_tests::brokers::{self, Broker, Kind};
use mqtt_tests::proxy::Proxy;
use mqtt_tokio::{
    Capacity, Client, Event, Events, Message, Options, PublishProperties, QoS, SubscriptionOptions,
    WillOptions,
};

const T: Duration = Duration::from_secs(5);

/// The scenarios, in matrix order; `true`: 5.0 only.
const SCENARIOS: &[(&str, bool)] = &[
    ("connect", false),
    ("qos0", false),
    ("qos1", false),
    ("qos2", false),
    ("retained", false),
    ("will", false),
    ("session_resume", false),
    ("unsubscribe", false),
    ("dollar_not_matched", false),
    ("overlapping_subs", false),
    ("zero_length_id", false),
    ("keepalive", false),
    ("keepalive_0", false),
    ("session_expiry", true),
    ("assigned_client_id", true),
    ("topic_alias", true),
    ("subscription_id", true),
    ("shared_sub", true),
    ("request_response", true),
    ("max_packet_size", true),
    ("flow_control", true),
    ("user_properties", true),
    ("will_delay", true),
];

/// What a cell should be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Pass,
    /// A known deviation: why, and a fragment the scenario's failure message contains.
    Deviation(&'static str, &'static str),
    /// A deviation that depends on timing: either a pass or this deviation is accepted.
    Intermittent(&'static str, &'static str),
    /// A 5.0 feature on 3.1.1, or a version the broker does not speak.
    NotApplicable,
}

/// The table of known deviations (broker x version x scenario). Everything else: Pass,
/// or NotApplicable for 5.0 scenarios on 3.1.1.
fn expected(kind: Kind, v: ProtocolVersion, scenario: &str) -> Expect {
    use Expect::*;
    use Kind::*;
    let v5_only = SCENARIOS.iter().any(|(s, five)| *s == scenario && *five);
    if v == V3_1_1 && v5_only {
        return NotApplicable;
    }
    match (kind, v, scenario) {
        // Versions the broker does not speak: the connect cell checks the clean failure.
        (Aedes, V5, "connect") => Deviation(
            "aedes 1.2 has no MQTT 5 and answers a 5.0 CONNECT with a 3.1.1 CONNACK (return \
             code 0x01, not the 5.0 0x84): the client reports it as a malformed CONNACK",
            "Malformed(InvalidReasonCode(1))",
        ),
        (Aedes, V5, _) => NotApplicable,
        (Amqtt, V5, "connect") => Deviation(
            "amqtt 0.12 never answers a 5.0 CONNECT: the client times out cleanly",
            "ConnectTimeout",
        ),
        (Amqtt, V5, _) => NotApplicable,
        (Mosquitto, V5, "flow_control") => Intermittent(
            "mosquitto 2.0.11 exceeds our Receive Maximum (2) in some runs: on the first PUBACK \
             it sends two more QoS 1 PUBLISH (3 in flight); the client disconnects with 0x93",
            "ReceiveMaximumExceeded",
        ),
        (Amqtt, V3_1_1, "qos0" | "qos1") => Deviation(
            "amqtt 0.12 delivers at the subscription's QoS (2), not min(publish QoS, granted \
             QoS) [MQTT-3.8.4-6 of 3.1.1]",
            "delivered at ExactlyOnce",
        ),
        (Amqtt, V3_1_1, "dollar_not_matched") => Deviation(
            "amqtt 0.12 does not deliver to a subscription to `#` alone",
            "marker not received through #",
        ),
        (Amqtt, V3_1_1, "session_resume") => Deviation(
            "amqtt 0.12 does not queue QoS 1 messages for an offline persistent session \
             (as the Paho suite found)",
            "no message within",
        ),
        (Rumqttd, _, "qos0" | "qos1") => Deviation(
            "rumqttd 0.20 delivers at the subscription's QoS (2), not min(publish QoS, \
             granted QoS) [MQTT-3.8.4-6 of 3.1.1; 5.0 §3.8.4]",
            "delivered at ExactlyOnce",
        ),
        (Rumqttd, V5, "flow_control") => Deviation(
            "rumqttd 0.20 ignores our Receive Maximum (2): a 3rd unacknowledged QoS 1 PUBLISH \
             arrives; the client disconnects with 0x93",
            "ReceiveMaximumExceeded",
        ),
        (Rumqttd, V5, "max_packet_size") => Deviation(
            "rumqttd 0.20: after a message above our Maximum Packet Size (1024) neither it \
             nor the next small one reaches us within 1 s",
            "payload lengths received []",
        ),
        (Rumqttd, _, "keepalive_0") => Deviation(
            "rumqttd 0.20 refuses Keep Alive 0 (ZeroKeepAlive) and closes without CONNACK",
            "TransportClosed",
        ),
        _ => Pass,
    }
}

// ----- helpers -------------------------------------------------------------------------

struct Ctx<'a> {
    broker: &'a Broker,
    v: ProtocolVersion,
    /// A topic prefix and client-id prefix unique to this cell.
    p: String,
}

impl Ctx<'_> {
    fn opts(&self, id: &str) -> Options {
        let mut o =
            Options::new(&self.broker.url(self.v), format!("{}-{id}", self.p)).expect("url");
        o.version = self.v;
        o.keep_alive = 10;
        o.connect_timeout = Duration::from_secs(3);
        o.reconnect.initial_delay = mqtt_session::Duration::from_millis(100);
        o.reconnect.max_delay = mqtt_session::Duration::from_millis(500);
        o
    }

    fn topic(&self, t: &str) -> String {
        format!("{}/{t}", self.p)
    }

    async fn client(&self, o: Options) -> Result<(Client, Events), String> {
        let (c, mut ev) = mqtt_tokio::connect(o, Capacity::default()).map_err(|e| e.to_string())?;
        connected(&mut ev).await?;
        Ok((c, ev))
    }
}

/// Waits for `Connected` (its session_present) or fails with the first `ConnectionLost`.
async fn connected(ev: &mut Events) -> Result<bool, String> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Some(Event::Connected {
                session_present, ..
            })) => return Ok(session_present),
            Ok(Some(Event::ConnectionLost { reason })) => {
                return Err(format!("connection lost: {reason:?}"));
            }
            Ok(Some(Event::Stopped { reason })) => return Err(format!("stopped: {reason:?}")),
            Ok(Some(_)) => {}
            Ok(None) => return Err("event stream ended".into()),
            Err(_) => return Err("no CONNACK within 5 s".into()),
        }
    }
}

async fn next_message(ev: &mut Events, timeout: Duration) -> Result<Message, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Some(Event::Message { message, ack })) => {
                if let Some(a) = ack {
                    a.ack();
                }
                return Ok(message);
            }
            Ok(Some(Event::ConnectionLost { reason })) => {
                return Err(format!("connection lost: {reason:?}"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err("event stream ended".into()),
            Err(_) => return Err(format!("no message within {timeout:?}")),
        }
    }
}

/// Messages arriving within `quiet` of each other.
async fn drain(ev: &mut Events, quiet: Duration) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(quiet, ev.recv()).await {
        if let Event::Message { message, ack } = e {
            if let Some(a) = ack {
                a.ack();
            }
            out.push(message);
        }
    }
    out
}

fn check(cond: bool, what: impl Into<String>) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what.into()) }
}

async fn sub(c: &Client, filter: &str, qos: QoS) -> Result<(), String> {
    let rc = c
        .subscribe(filter, qos)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    check(
        (rc as u8) < 0x80,
        format!("subscribe {filter} refused: {rc:?}"),
    )
}

async fn publish(
    c: &Client,
    topic: &str,
    payload: &str,
    qos: QoS,
    retain: bool,
) -> Result<(), String> {
    let ack = tokio::time::timeout(
        T,
        c.publish(topic.to_string(), payload.to_string(), qos, retain),
    )
    .await
    .map_err(|_| format!("publish {topic} not acknowledged within 5 s"))?
    .map_err(|e| format!("publish: {e}"))?;
    check(
        (ack.reason_code as u8) < 0x80,
        format!("publish refused: {:?}", ack.reason_code),
    )
}

async fn bye(c: &Client) {
    let _ = tokio::time::timeout(T, c.disconnect(Duration::from_secs(1))).await;
}

// ----- scenarios -----------------------------------------------------------------------

async fn run_scenario(ctx: &Ctx<'_>, name: &str) -> Result<(), String> {
    match name {
        "connect" => {
            let (c, _ev) = ctx.client(ctx.opts("c")).await?;
            bye(&c).await;
            Ok(())
        }
        "qos0" | "qos1" | "qos2" => {
            let qos = match name {
                "qos0" => QoS::AtMostOnce,
                "qos1" => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            // Both ways: A -> broker (acknowledged), broker -> B (delivered at that QoS).
            let (b, mut bev) = ctx.client(ctx.opts("b")).await?;
            sub(&b, &ctx.topic("q/#"), QoS::ExactlyOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            publish(&a, &ctx.topic("q/x"), "hello", qos, false).await?;
            let m = next_message(&mut bev, T).await?;
            check(
                m.topic() == ctx.topic("q/x") && &m.payload()[..] == b"hello",
                format!("got {:?}", m.topic()),
            )?;
            check(
                m.qos == qos,
                format!("delivered at {:?}, sent at {qos:?}", m.qos),
            )?;
            bye(&a).await;
            bye(&b).await;
            Ok(())
        }
        "retained" => {
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            let t = ctx.topic("ret");
            publish(&a, &t, "kept", QoS::AtLeastOnce, true).await?;
            let (b, mut bev) = ctx.client(ctx.opts("b")).await?;
            sub(&b, &t, QoS::AtLeastOnce).await?;
            let m = next_message(&mut bev, T).await;
            // Clear it for the next runs.
            let _ = publish(&a, &t, "", QoS::AtLeastOnce, true).await;
            bye(&a).await;
            bye(&b).await;
            let m = m?;
            check(&m.payload()[..] == b"kept", "wrong payload")?;
            check(m.retain, "retained message delivered without RETAIN")
        }
        "will" => {
            let (b, mut bev) = ctx.client(ctx.opts("b")).await?;
            let t = ctx.topic("will");
            sub(&b, &t, QoS::AtLeastOnce).await?;
            let proxy = Proxy::start(ctx.broker.port(ctx.v));
            let mut o = ctx.opts("a");
            o.brokers = Options::new(&proxy.url(), "x").expect("url").brokers;
            let mut w = WillOptions::new(t.clone(), "gone");
            w.qos = QoS::AtLeastOnce;
            o.will = Some(w);
            let (a, _aev) = ctx.client(o).await?;
            proxy.cut();
            let m = next_message(&mut bev, T).await;
            bye(&a).await;
            bye(&b).await;
            let m = m?;
            check(&m.payload()[..] == b"gone", "wrong will payload")
        }
        "session_resume" => {
            let mut o = ctx.opts("s");
            o.clean_start = false;
            o.session_expiry_interval = 300;
            let t = ctx.topic("sess");
            // First a clean slate for this id, then a persistent session.
            let mut clean = o.clone();
            clean.clean_start = true;
            let (c, _ev) = ctx.client(clean).await?;
            bye(&c).await;
            let (s, _sev) = ctx.client(o.clone()).await?;
            sub(&s, &t, QoS::AtLeastOnce).await?;
            bye(&s).await;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            publish(&a, &t, "while-away", QoS::AtLeastOnce, false).await?;
            bye(&a).await;
            let (s, mut sev) =
                mqtt_tokio::connect(o, Capacity::default()).map_err(|e| e.to_string())?;
            let present = connected(&mut sev).await?;
            let m = next_message(&mut sev, T).await;
            bye(&s).await;
            check(present, "CONNACK session present 0 on resumption")?;
            check(&m?.payload()[..] == b"while-away", "wrong queued message")
        }
        "unsubscribe" => {
            let (c, mut ev) = ctx.client(ctx.opts("u")).await?;
            let t = ctx.topic("unsub");
            sub(&c, &t, QoS::AtLeastOnce).await?;
            publish(&c, &t, "one", QoS::AtLeastOnce, false).await?;
            next_message(&mut ev, T).await?;
            c.unsubscribe(vec![t.clone()])
                .await
                .map_err(|e| format!("unsubscribe: {e}"))?;
            publish(&c, &t, "two", QoS::AtLeastOnce, false).await?;
            let late = drain(&mut ev, Duration::from_millis(700)).await;
            bye(&c).await;
            check(
                late.is_empty(),
                format!("{} message(s) after UNSUBACK", late.len()),
            )
        }
        "dollar_not_matched" => {
            // [MQTT-4.7.2-1] `#` does not match topics starting with `$`.
            let (c, mut ev) = ctx.client(ctx.opts("d")).await?;
            sub(&c, "#", QoS::AtMostOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            let _ = publish(
                &a,
                &format!("$test/{}", ctx.p),
                "dollar",
                QoS::AtMostOnce,
                false,
            )
            .await;
            publish(&a, &ctx.topic("marker"), "m", QoS::AtLeastOnce, false).await?;
            let got = drain(&mut ev, Duration::from_millis(1500)).await;
            bye(&a).await;
            bye(&c).await;
            let dollar: Vec<_> = got
                .iter()
                .filter(|m| m.topic().starts_with('$'))
                .map(|m| m.topic().to_string())
                .collect();
            check(
                got.iter().any(|m| m.topic() == ctx.topic("marker")),
                "marker not received through #",
            )?;
            check(dollar.is_empty(), format!("# matched {dollar:?}"))
        }
        "overlapping_subs" => {
            // [MQTT-3.3.5-1] One message matching two subscriptions of one client: at
            // least one copy, and one at the larger of the two QoS.
            let (c, mut ev) = ctx.client(ctx.opts("o")).await?;
            sub(&c, &ctx.topic("ov/#"), QoS::AtLeastOnce).await?;
            sub(&c, &ctx.topic("ov/+"), QoS::ExactlyOnce).await?;
            publish(&c, &ctx.topic("ov/x"), "both", QoS::ExactlyOnce, false).await?;
            let got = drain(&mut ev, Duration::from_millis(1000)).await;
            bye(&c).await;
            check(!got.is_empty(), "no copy delivered")?;
            let qos: Vec<_> = got.iter().map(|m| m.qos).collect();
            check(
                qos.contains(&QoS::ExactlyOnce),
                format!("copies at {qos:?}, none at QoS 2"),
            )
        }
        "zero_length_id" => {
            let mut o = ctx.opts("z");
            o.client_id = String::new();
            let (c, mut ev) = ctx.client(o).await?;
            let t = ctx.topic("zero");
            sub(&c, &t, QoS::AtLeastOnce).await?;
            publish(&c, &t, "z", QoS::AtLeastOnce, false).await?;
            next_message(&mut ev, T).await?;
            bye(&c).await;
            Ok(())
        }
        "keepalive" => {
            // Keep Alive 1 s and idle for 3.5 s: pings keep the connection up.
            let mut o = ctx.opts("k");
            o.keep_alive = 1;
            o.ping_timeout = Duration::from_secs(2);
            let (c, mut ev) = ctx.client(o).await?;
            let mut lost = None;
            let end = tokio::time::Instant::now() + Duration::from_millis(3500);
            while let Ok(Some(e)) = tokio::time::timeout_at(end, ev.recv()).await {
                if let Event::ConnectionLost { reason } = e {
                    lost = Some(reason);
                }
            }
            bye(&c).await;
            check(lost.is_none(), format!("idle connection lost: {lost:?}"))
        }
        "keepalive_0" => {
            let mut o = ctx.opts("k0");
            o.keep_alive = 0;
            let (c, _ev) = ctx.client(o).await?;
            bye(&c).await;
            Ok(())
        }
        "session_expiry" => {
            // Expiry 2 s: after 3.5 s away the session is gone (session present 0).
            let mut o = ctx.opts("e");
            o.session_expiry_interval = 2;
            let (c, _ev) = ctx.client(o.clone()).await?;
            bye(&c).await;
            tokio::time::sleep(Duration::from_millis(3500)).await;
            o.clean_start = false;
            let (c, mut ev) =
                mqtt_tokio::connect(o, Capacity::default()).map_err(|e| e.to_string())?;
            let present = connected(&mut ev).await?;
            bye(&c).await;
            check(!present, "session present after its expiry")
        }
        "assigned_client_id" => {
            // [MQTT-3.2.2-16] An empty id in 5.0: the server assigns one. The session
            // refuses a CONNACK without Assigned Client Identifier, so connecting and
            // resuming with it is the check (the id itself is not exposed by the API).
            let mut o = ctx.opts("x");
            o.client_id = String::new();
            let (c, _ev) = ctx.client(o).await?;
            bye(&c).await;
            Ok(())
        }
        "topic_alias" => {
            // Aliases allowed both ways (Topic Alias Maximum 16 on each side): the same
            // topic three times each way arrives with its full name, at QoS 1 (aliased
            // when transmitted from the session's queue) and at QoS 0 (aliased as it is
            // written at once, `publish_into`), on a bound topic and on a new one.
            let (b, mut bev) = ctx.client(ctx.opts("b")).await?;
            let t = ctx.topic("alias/long/topic/name/for/aliasing");
            let t0 = ctx.topic("alias/long/topic/name/for/qos0");
            sub(&b, &t, QoS::AtLeastOnce).await?;
            sub(&b, &t0, QoS::AtLeastOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            let mut sent = Vec::new();
            for i in 0..3 {
                publish(&a, &t, &format!("m{i}"), QoS::AtLeastOnce, false).await?;
                sent.push((t.clone(), format!("m{i}")));
            }
            for (topic, tag) in [(&t, "a"), (&t0, "b")] {
                for i in 0..3 {
                    publish(&a, topic, &format!("{tag}{i}"), QoS::AtMostOnce, false).await?;
                    sent.push((topic.clone(), format!("{tag}{i}")));
                }
            }
            let mut got = Vec::new();
            for _ in 0..sent.len() {
                let m = next_message(&mut bev, T).await?;
                got.push((
                    m.topic().to_string(),
                    String::from_utf8_lossy(m.payload()).into_owned(),
                ));
            }
            bye(&a).await;
            bye(&b).await;
            got.sort();
            sent.sort();
            check(got == sent, format!("received {got:?}, sent {sent:?}"))
        }
        "subscription_id" => {
            let (c, mut ev) = ctx.client(ctx.opts("i")).await?;
            let t = ctx.topic("sid");
            let codes = c
                .subscribe_many(
                    vec![(t.clone(), SubscriptionOptions::new(QoS::AtLeastOnce))],
                    Some(42),
                )
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            check(
                codes.iter().all(|c| (*c as u8) < 0x80),
                format!("refused {codes:?}"),
            )?;
            publish(&c, &t, "s", QoS::AtLeastOnce, false).await?;
            let m = next_message(&mut ev, T).await?;
            bye(&c).await;
            let ids: Vec<u32> = m.properties().subscription_identifiers().collect();
            check(
                ids == [42],
                format!("subscription identifiers {ids:?}, want [42]"),
            )
        }
        "shared_sub" => {
            let f = format!("$share/g{}/{}", ctx.p.replace('/', "-"), ctx.topic("sh/#"));
            let (x, mut xev) = ctx.client(ctx.opts("x")).await?;
            let (y, mut yev) = ctx.client(ctx.opts("y")).await?;
            sub(&x, &f, QoS::AtLeastOnce).await?;
            sub(&y, &f, QoS::AtLeastOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            for i in 0..10 {
                publish(
                    &a,
                    &ctx.topic(&format!("sh/{i}")),
                    "s",
                    QoS::AtLeastOnce,
                    false,
                )
                .await?;
            }
            let (gx, gy) = tokio::join!(
                drain(&mut xev, Duration::from_millis(800)),
                drain(&mut yev, Duration::from_millis(800))
            );
            bye(&a).await;
            bye(&x).await;
            bye(&y).await;
            check(
                gx.len() + gy.len() == 10,
                format!("{} + {} copies of 10 messages", gx.len(), gy.len()),
            )
        }
        "request_response" => {
            let (r, mut rev) = ctx.client(ctx.opts("resp")).await?;
            let req = ctx.topic("req");
            let resp = ctx.topic("resp");
            sub(&r, &req, QoS::AtLeastOnce).await?;
            let (q, mut qev) = ctx.client(ctx.opts("reqr")).await?;
            sub(&q, &resp, QoS::AtLeastOnce).await?;
            let props = PublishProperties {
                response_topic: Some(resp.clone()),
                correlation_data: Some(b"corr-7".to_vec()),
                ..Default::default()
            };
            q.publish_start(req.clone(), "ping", QoS::AtLeastOnce, false, Some(props))
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
            let m = next_message(&mut rev, T).await?;
            let p = m.properties();
            let (rt, cd) = (
                p.response_topic().map(str::to_string),
                p.correlation_data().map(<[u8]>::to_vec),
            );
            check(
                rt.as_deref() == Some(&*resp),
                format!("response topic {rt:?}"),
            )?;
            let reply = PublishProperties {
                correlation_data: cd,
                ..Default::default()
            };
            r.publish_start(resp.clone(), "pong", QoS::AtLeastOnce, false, Some(reply))
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
            let m = next_message(&mut qev, T).await?;
            bye(&q).await;
            bye(&r).await;
            let cd = m.properties().correlation_data().map(<[u8]>::to_vec);
            check(
                cd.as_deref() == Some(b"corr-7"),
                format!("correlation data {cd:?}"),
            )
        }
        "max_packet_size" => {
            // [MQTT-3.1.2-25] We announce 1024: a larger message is not sent to us.
            let mut o = ctx.opts("m");
            o.max_incoming_packet = 1024;
            let (c, mut ev) = ctx.client(o).await?;
            let t = ctx.topic("mps");
            sub(&c, &t, QoS::AtLeastOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            publish(&a, &t, &"x".repeat(4000), QoS::AtLeastOnce, false).await?;
            publish(&a, &t, "small", QoS::AtLeastOnce, false).await?;
            let got = drain(&mut ev, Duration::from_millis(1000)).await;
            bye(&a).await;
            bye(&c).await;
            let lens: Vec<_> = got.iter().map(|m| m.payload().len()).collect();
            check(
                lens == [5],
                format!("payload lengths received {lens:?}, want [5]"),
            )
        }
        "flow_control" => {
            // Receive Maximum 2 and manual acks: at most 2 unacknowledged QoS 1 messages;
            // after the acks the rest arrive.
            let mut o = ctx.opts("f");
            o.receive_maximum = 2;
            o.receive_maximum_tolerance = 0; // the letter of 5.0 §3.3.4, to see the deviation
            o.manual_ack = true;
            let (c, mut ev) = ctx.client(o).await?;
            let t = ctx.topic("flow");
            sub(&c, &t, QoS::AtLeastOnce).await?;
            let (a, _aev) = ctx.client(ctx.opts("a")).await?;
            for i in 0..6 {
                a.publish_start(t.clone(), format!("{i}"), QoS::AtLeastOnce, false, None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let mut held = Vec::new();
            let mut lost = None;
            let end = tokio::time::Instant::now() + Duration::from_millis(1200);
            while let Ok(Some(e)) = tokio::time::timeout_at(end, ev.recv()).await {
                match e {
                    Event::Message { ack, .. } => held.push(ack),
                    Event::ConnectionLost { reason } => lost = Some(reason),
                    _ => {}
                }
            }
            let first = held.len();
            let mut total = first;
            for a in held.drain(..).flatten() {
                a.ack();
            }
            while total < 6 {
                match tokio::time::timeout(T, ev.recv()).await {
                    Ok(Some(Event::Message { ack, .. })) => {
                        total += 1;
                        if let Some(a) = ack {
                            a.ack();
                        }
                    }
                    Ok(Some(Event::ConnectionLost { reason })) => {
                        lost = Some(reason);
                        break;
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            bye(&a).await;
            bye(&c).await;
            check(lost.is_none(), format!("connection lost: {lost:?}"))?;
            check(
                first <= 2,
                format!("{first} unacknowledged messages, Receive Maximum 2"),
            )?;
            check(total == 6, format!("{total} of 6 messages after acking"))
        }
        "user_properties" => {
            let (c, mut ev) = ctx.client(ctx.opts("p")).await?;
            let t = ctx.topic("up");
            sub(&c, &t, QoS::AtLeastOnce).await?;
            let want = vec![
                ("k".to_string(), "v1".to_string()),
                ("k".to_string(), "v2".to_string()),
                ("other".to_string(), "x".to_string()),
            ];
            let props = PublishProperties {
                user_properties: want.clone(),
                ..Default::default()
            };
            c.publish_start(t.clone(), "p", QoS::AtLeastOnce, false, Some(props))
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
            let m = next_message(&mut ev, T).await?;
            bye(&c).await;
            let got: Vec<(String, String)> = m
                .properties()
                .user_properties()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            check(got == want, format!("user properties {got:?}"))
        }
        "will_delay" => {
            // Will Delay 2 s (session expiry 10 s): nothing in the first second after the
            // connection dies, the will within 5 s.
            let (b, mut bev) = ctx.client(ctx.opts("b")).await?;
            let t = ctx.topic("wd");
            sub(&b, &t, QoS::AtLeastOnce).await?;
            let proxy = Proxy::start(ctx.broker.port(ctx.v));
            let mut o = ctx.opts("a");
            o.brokers = Options::new(&proxy.url(), "x").expect("url").brokers;
            o.session_expiry_interval = 10;
            o.reconnect.enabled = false;
            let mut w = WillOptions::new(t.clone(), "late");
            w.delay_interval = 2;
            o.will = Some(w);
            let (a, _aev) = ctx.client(o).await?;
            proxy.cut();
            let early = drain(&mut bev, Duration::from_millis(1000)).await;
            let late = next_message(&mut bev, T).await;
            drop(a);
            bye(&b).await;
            check(early.is_empty(), "will published before its delay")?;
            check(&late?.payload()[..] == b"late", "wrong will")
        }
        other => Err(format!("unknown scenario {other}")),
    }
}

// ----- the matrix ----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Cell {
    Pass,
    Deviation(&'static str),
    Fail(String),
    NotApplicable,
    NotInstalled,
}

impl Cell {
    fn short(&self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Deviation(_) => "deviation",
            Cell::Fail(_) => "FAIL",
            Cell::NotApplicable => "n/a",
            Cell::NotInstalled => "not installed",
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every scenario against one broker, both versions.
fn run_broker(kind: Kind) -> Vec<((Kind, ProtocolVersion, &'static str), Cell)> {
    let mut out = Vec::new();
    let broker = match Broker::start(kind) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("interop: {e}");
            for v in [V3_1_1, V5] {
                for (s, _) in SCENARIOS {
                    out.push(((kind, v, *s), Cell::NotInstalled));
                }
            }
            return out;
        }
    };
    let rt = rt();
    for v in [V3_1_1, V5] {
        for (s, _) in SCENARIOS {
            let exp = expected(kind, v, s);
            let cell = match exp {
                Expect::NotApplicable => Cell::NotApplicable,
                _ => {
                    let ctx = Ctx {
                        broker: &broker,
                        v,
                        p: format!(
                            "it{}-{}{}",
                            std::process::id(),
                            s,
                            if v == V5 { 5 } else { 4 }
                        ),
                    };
                    let r = rt.block_on(async {
                        tokio::time::timeout(Duration::from_secs(20), run_scenario(&ctx, s))
                            .await
                            .unwrap_or_else(|_| Err("scenario timed out (20 s)".into()))
                    });
                    match (exp, r) {
                        (Expect::Pass, Ok(())) => Cell::Pass,
                        (Expect::Pass, Err(e)) => {
                            if std::env::var_os("MQTT_INTEROP_LOG").is_some() {
                                let log = broker.log();
                                let lines: Vec<&str> =
                                    log.lines().filter(|l| l.contains(&ctx.p)).collect();
                                eprintln!(
                                    "--- {} {v:?} {s} log:\n{}",
                                    kind.name(),
                                    lines[lines.len().saturating_sub(40)..].join("\n")
                                );
                            }
                            Cell::Fail(e)
                        }
                        (Expect::Deviation(why, shows), Err(e)) if e.contains(shows) => {
                            Cell::Deviation(why)
                        }
                        (Expect::Deviation(why, shows), Err(e)) => Cell::Fail(format!(
                            "known deviation \"{why}\" now fails differently: {e} (expected it to show {shows:?})"
                        )),
                        (Expect::Deviation(why, _), Ok(())) => Cell::Fail(format!(
                            "known deviation \"{why}\" no longer deviates: update the table"
                        )),
                        (Expect::Intermittent(why, shows), Err(e)) if e.contains(shows) => {
                            Cell::Deviation(why)
                        }
                        (Expect::Intermittent(_, _), Ok(())) => Cell::Pass,
                        (Expect::Intermittent(why, shows), Err(e)) => Cell::Fail(format!(
                            "known intermittent deviation \"{why}\" fails differently: {e} (expected it to show {shows:?})"
                        )),
                        (Expect::NotApplicable, _) => unreachable!(),
                    }
                }
            };
            out.push(((kind, v, *s), cell));
        }
    }
    // A failing broker's own account (captured; shown when the test fails): a broker
    // that closed every connection, or did not own its port, says so here.
    if out.iter().any(|(_, c)| matches!(c, Cell::Fail(_))) {
        let log = broker.log();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!(
            "--- {} log, last 30 lines:\n{}",
            kind.name(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        );
    }
    out
}

#[test]
fn interop_matrix() {
    let only: Option<Vec<String>> = std::env::var("MQTT_INTEROP_BROKERS")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|n| n == k.name()))
        })
        .collect();
    let start = std::time::Instant::now();
    let cells: BTreeMap<_, _> = std::thread::scope(|s| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|k| s.spawn(move || run_broker(*k)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("broker thread"))
            .collect()
    });
    let elapsed = start.elapsed();

    // The matrix: scenarios down, broker/version across.
    let cols: Vec<(Kind, ProtocolVersion)> = kinds
        .iter()
        .flat_map(|k| [(*k, V3_1_1), (*k, V5)])
        .collect();
    let mut md = String::new();
    let _ = writeln!(md, "# Interop matrix ({elapsed:.0?})\n");
    md.push_str("| scenario |");
    for (k, v) in &cols {
        let _ = write!(
            md,
            " {} {} |",
            k.name(),
            if *v == V5 { "5.0" } else { "3.1.1" }
        );
    }
    md.push_str("\n|---|");
    for _ in &cols {
        md.push_str("---|");
    }
    md.push('\n');
    for (s, _) in SCENARIOS {
        let _ = write!(md, "| {s} |");
        for (k, v) in &cols {
            let _ = write!(md, " {} |", cells[&(*k, *v, *s)].short());
        }
        md.push('\n');
    }
    let mut notes = String::new();
    let mut failures = 0;
    let mut missing = 0;
    for ((k, v, s), c) in &cells {
        let vs = if *v == V5 { "5.0" } else { "3.1.1" };
        match c {
            Cell::Deviation(why) => {
                let _ = writeln!(notes, "- deviation {} {vs} {s}: {why}", k.name());
            }
            Cell::Fail(e) => {
                failures += 1;
                let _ = writeln!(notes, "- FAIL {} {vs} {s}: {e}", k.name());
            }
            Cell::NotInstalled => missing += 1,
            _ => {}
        }
    }
    md.push('\n');
    md.push_str(&notes);
    eprintln!("\n{md}");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("interop-matrix.md"), &md);
    if missing > 0 {
        eprintln!(
            "interop: {missing} cells not run: brokers missing (tests/interop/install.sh; cache {})",
            brokers::cache_dir().display()
        );
        assert!(
            std::env::var("MQTT_INTEROP_REQUIRE_ALL").as_deref() != Ok("1"),
            "MQTT_INTEROP_REQUIRE_ALL=1 and brokers are missing"
        );
    }
    assert_eq!(failures, 0, "{failures} interop cells failed:\n{notes}");
}

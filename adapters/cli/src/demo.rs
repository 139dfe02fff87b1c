//! `mqttc demo`: starts an embedded broker (rumqttd, in this process, on a free loopback
//! port) unless --host is given, then shows in plain words: publish/subscribe at QoS 0, 1
//! and 2; a QoS 1 stream whose connections are cut in the middle and resume by
//! themselves with nothing lost; and a throughput figure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use mqtt_proto::{ProtocolVersion, QoS, SubscriptionOptions};
use mqtt_tokio::{Capacity, Client, Event, Events, Options, Pending, PublishAck};
use tokio::sync::{mpsc, oneshot};

use crate::Fail;
use crate::conn;
use crate::proxy::Proxy;

/// `mqttc demo` flags.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Use this broker instead of the embedded one.
    #[arg(long)]
    host: Option<String>,
    /// Its port.
    #[arg(short = 'p', long, default_value_t = 1883)]
    port: u16,
    /// Protocol version: 311 or 5.
    #[arg(short = 'V', long = "protocol-version", default_value = "5")]
    version: String,
    /// Messages in the cut stream.
    #[arg(long, default_value_t = 2000)]
    stream: u32,
    /// Messages in the throughput run.
    #[arg(long, default_value_t = 20_000)]
    throughput: u32,
}

const STEP: Duration = Duration::from_secs(15);

fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Fail + '_ {
    move |e| Fail::msg(format!("demo: {what}: {e}"))
}

/// Runs the demo.
pub async fn run(a: DemoArgs) -> Result<u8, Fail> {
    let version = match a.version.as_str() {
        "5" | "mqttv5" => ProtocolVersion::V5,
        "311" | "mqttv311" => ProtocolVersion::V3_1_1,
        other => return Err(Fail::usage(format!("unknown protocol version {other:?}"))),
    };
    let started = Instant::now();
    println!("mqttc demo: a short tour of this MQTT client.");
    let (host, port) = match &a.host {
        Some(h) => {
            println!("[1/4] Using the broker at {h}:{}.", a.port);
            (h.clone(), a.port)
        }
        None => {
            let port = embedded::start(version)?;
            println!(
                "[1/4] Started an embedded broker (rumqttd 0.20, inside this process) on 127.0.0.1:{port}."
            );
            ("127.0.0.1".to_string(), port)
        }
    };
    let url = format!("mqtt://{host}:{port}");
    let tag = std::process::id();
    let vname = if version.is_v5() { "5.0" } else { "3.1.1" };

    // 2. QoS 0, 1, 2.
    println!("[2/4] Publish and subscribe at each quality of service (MQTT {vname}).");
    let (sub, mut sub_ev) = start(&url, &format!("demo-{tag}-sub"), version, false).await?;
    let topic = format!("demo/{tag}/qos");
    // One filter per level: rumqttd 0.20 delivers at the subscription's QoS, not at
    // min(publish, subscription) as the specification says.
    let filters = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .map(|q| (format!("{topic}/{}", q as u8), SubscriptionOptions::new(q)))
        .collect();
    let codes = sub
        .subscribe_many(filters, None)
        .await
        .map_err(fail("subscribe"))?;
    println!(
        "      A subscriber is connected and listens on {topic}/0, /1 and /2 (the broker granted {codes:?})."
    );
    let (publ, pub_ev) = start(&url, &format!("demo-{tag}-pub"), version, false).await?;
    drain(pub_ev);
    let what = [
        (QoS::AtMostOnce, "at most once: sent, no acknowledgement"),
        (
            QoS::AtLeastOnce,
            "at least once: the broker acknowledged it (PUBACK)",
        ),
        (
            QoS::ExactlyOnce,
            "exactly once: the four-step handshake completed (PUBREC, PUBREL, PUBCOMP)",
        ),
    ];
    for (qos, words) in what {
        let n = qos as u8;
        let t = format!("{topic}/{n}");
        let payload = format!("hello at QoS {n}");
        publ.publish(t.clone(), payload.clone(), qos, false)
            .await
            .map_err(fail("publish"))?;
        let m = next_message(&mut sub_ev, STEP)
            .await
            .ok_or_else(|| Fail::msg(format!("demo: the QoS {n} message did not arrive")))?;
        println!(
            "      QoS {n} ({words}) -> received {:?} on {} at QoS {}.",
            String::from_utf8_lossy(m.payload()),
            m.topic(),
            m.qos as u8
        );
    }
    let _ = sub.disconnect(Duration::from_secs(1)).await;

    // 3. A cut in the middle of a QoS 1 stream.
    let n = a.stream.max(10);
    println!("[3/4] A connection cut in the middle of a QoS 1 stream of {n} numbered messages.");
    let proxy = Proxy::start(format!("{host}:{port}"))
        .await
        .map_err(fail("proxy"))?;
    let purl = format!("mqtt://127.0.0.1:{}", proxy.port);
    let stream_topic = format!("demo/{tag}/stream");
    let (ssub, mut ssub_ev) = start(&purl, &format!("demo-{tag}-ssub"), version, true).await?;
    ssub.subscribe(stream_topic.clone(), QoS::AtLeastOnce)
        .await
        .map_err(fail("subscribe"))?;
    let (spub, spub_ev) = start(&purl, &format!("demo-{tag}-spub"), version, true).await?;
    drain(spub_ev);
    println!(
        "      Publisher and subscriber both go through a small proxy that can cut their TCP connections;"
    );
    println!("      the subscriber's session is persistent (clean start 0, session expiry 300 s).");
    let (cut_tx, cut_rx) = oneshot::channel::<()>();
    let sender = {
        let spub = spub.clone();
        let t = stream_topic.clone();
        tokio::spawn(async move { send_numbered(&spub, &t, n, QoS::AtLeastOnce).await })
    };
    let cut_at = n / 3;
    let mut cut_tx = Some(cut_tx);
    let mut seen = HashSet::new();
    let mut dups = 0u32;
    let mut cut_time = None;
    let mut resumed = None;
    let deadline = tokio::time::Instant::now() + STEP;
    while seen.len() < n as usize {
        let ev = match tokio::time::timeout_at(deadline, ssub_ev.recv()).await {
            Ok(Some(ev)) => ev,
            _ => break,
        };
        match ev {
            Event::Message { message, .. } => {
                let i = seq(message.payload());
                if !seen.insert(i) {
                    dups += 1;
                }
                if seen.len() as u32 == cut_at
                    && let Some(tx) = cut_tx.take()
                {
                    let _ = tx.send(());
                    let cut = proxy.cut();
                    cut_time = Some(Instant::now());
                    println!(
                        "      After {cut_at} messages arrived: the proxy cuts both connections ({cut} sockets dropped, no DISCONNECT)."
                    );
                }
            }
            Event::ConnectionLost { reason } => {
                println!(
                    "      The subscriber notices: connection lost ({reason:?}); it reconnects by itself."
                );
            }
            Event::Connected {
                session_present, ..
            } => {
                let after = cut_time.map(|t| t.elapsed()).unwrap_or_default();
                resumed = Some(session_present);
                println!(
                    "      Reconnected {} ms after the cut; the broker {} the session (session present = {}).",
                    after.as_millis(),
                    if session_present {
                        "resumed"
                    } else {
                        "did NOT resume"
                    },
                    u8::from(session_present)
                );
            }
            _ => {}
        }
    }
    drop(cut_rx);
    let sent = sender.await.map_err(fail("publisher"))?;
    let sent = sent.map_err(fail("publish"))?;
    let _ = ssub.disconnect(Duration::from_secs(1)).await;
    let _ = spub.disconnect(Duration::from_secs(1)).await;
    drop(proxy);
    if cut_tx.is_some() {
        return Err(Fail::msg(format!(
            "demo: only {} of {n} stream messages arrived before the cut",
            seen.len()
        )));
    }
    if seen.len() < n as usize {
        return Err(Fail::msg(format!(
            "demo: after the cut only {} of {n} messages arrived ({} lost)",
            seen.len(),
            n as usize - seen.len()
        )));
    }
    if resumed.is_none() {
        return Err(Fail::msg("demo: the subscriber did not reconnect".into()));
    }
    println!(
        "      Result: the publisher had all {sent} messages acknowledged; the subscriber got {} of {n} distinct messages: nothing lost.",
        seen.len()
    );
    println!(
        "      ({dups} arrived twice: QoS 1 means at least once, so a message in flight during the cut may be redelivered.)"
    );

    // 4. Throughput.
    let m = a.throughput.max(100);
    println!(
        "[4/4] Throughput: {m} QoS 1 messages of 64 bytes from one publisher to one subscriber."
    );
    let ttopic = format!("demo/{tag}/tp");
    let (tsub, mut tsub_ev) = start(&url, &format!("demo-{tag}-tsub"), version, false).await?;
    tsub.subscribe(ttopic.clone(), QoS::AtLeastOnce)
        .await
        .map_err(fail("subscribe"))?;
    let t0 = Instant::now();
    let sender = {
        let publ = publ.clone();
        let t = ttopic.clone();
        tokio::spawn(async move { send_numbered(&publ, &t, m, QoS::AtLeastOnce).await })
    };
    let mut got = 0u32;
    let deadline = tokio::time::Instant::now() + STEP;
    while got < m {
        match tokio::time::timeout_at(deadline, tsub_ev.recv()).await {
            Ok(Some(Event::Message { .. })) => got += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let _ = sender.await;
    let _ = tsub.disconnect(Duration::from_secs(1)).await;
    let _ = publ.disconnect(Duration::from_secs(1)).await;
    if got < m {
        return Err(Fail::msg(format!(
            "demo: only {got} of {m} throughput messages arrived within {} s",
            STEP.as_secs()
        )));
    }
    println!(
        "      All {m} arrived in {:.2} s: {:.0} messages/s end to end (publisher, broker and subscriber share this machine).",
        secs,
        f64::from(m) / secs
    );
    println!(
        "Done in {:.1} s: every step worked. Next: `mqttc sub -t '#' -v` and `mqttc pub -t a/b -m hi` against your broker.",
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Connects one demo client; a failure is one line.
async fn start(
    url: &str,
    id: &str,
    version: ProtocolVersion,
    persistent: bool,
) -> Result<(Client, Events), Fail> {
    let mut o = Options::new(url, id).map_err(fail("broker address"))?;
    o.version = version;
    o.keep_alive = 30; // rumqttd refuses keep alive 0
    // rumqttd 0.20 keys the topic aliases it sends by subscription filter, not by topic,
    // so every topic under one filter would arrive as the first one: accept none.
    o.topic_alias_maximum = 0;
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(100);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(500);
    if persistent {
        o.clean_start = false;
        o.session_expiry_interval = 300;
    }
    let broker = o.brokers[0].to_string();
    let (c, mut ev) = mqtt_tokio::connect(o, Capacity::default()).map_err(fail("client"))?;
    let wait = async {
        while let Some(e) = ev.recv().await {
            match e {
                Event::Connected { .. } => return Ok(()),
                Event::TransportFailed { broker, error } => {
                    return Err(Fail::msg(format!(
                        "demo: cannot connect to {broker}: {error}"
                    )));
                }
                Event::ConnectionLost { reason } => {
                    return Err(Fail::msg(format!("demo: {}", conn::lost(&broker, reason))));
                }
                Event::Stopped { reason } => {
                    return Err(Fail::msg(format!(
                        "demo: {}",
                        conn::stopped(&broker, reason)
                    )));
                }
                _ => {}
            }
        }
        Err(Fail::msg("demo: the client ended".into()))
    };
    match tokio::time::timeout(Duration::from_secs(10), wait).await {
        Ok(Ok(())) => Ok((c, ev)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Fail::msg(format!("demo: no answer from {broker} in 10 s"))),
    }
}

fn drain(mut ev: Events) {
    tokio::spawn(async move { while ev.recv().await.is_some() {} });
}

async fn next_message(ev: &mut Events, t: Duration) -> Option<mqtt_tokio::Message> {
    let deadline = tokio::time::Instant::now() + t;
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Some(Event::Message { message, .. })) => return Some(message),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

fn seq(p: &[u8]) -> u32 {
    p.get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .unwrap_or(u32::MAX)
}

/// Publishes `n` 64-byte messages numbered 0.. (big-endian u32 first), pipelined, and
/// waits for every acknowledgement. Returns how many were acknowledged.
async fn send_numbered(
    c: &Client,
    topic: &str,
    n: u32,
    qos: QoS,
) -> Result<u32, mqtt_tokio::Error> {
    let (tx, mut rx) = mpsc::channel::<Pending<PublishAck>>(4096);
    let checker = tokio::spawn(async move {
        let mut ok = 0u32;
        while let Some(p) = rx.recv().await {
            p.await?;
            ok += 1;
        }
        Ok::<u32, mqtt_tokio::Error>(ok)
    });
    for i in 0..n {
        let mut payload = vec![0u8; 64];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        let p = c
            .publish_start(topic, Bytes::from(payload), qos, false, None)
            .await?;
        if tx.send(p).await.is_err() {
            break;
        }
    }
    drop(tx);
    checker.await.unwrap_or(Err(mqtt_tokio::Error::Closed))
}

#[cfg(feature = "demo-broker")]
mod embedded {
    //! rumqttd 0.20 in this process: config built in code with every field written out;
    //! `Broker::start` blocks, so it gets a thread; it cannot report its port, so one is
    //! picked free first.

    use std::collections::HashMap;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use mqtt_proto::ProtocolVersion;
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

    use crate::Fail;

    fn free_port() -> Result<u16, Fail> {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Fail::msg(format!("demo: no free loopback port: {e}")))
    }

    /// Starts the broker with one listener for `version`; returns its port.
    pub fn start(version: ProtocolVersion) -> Result<u16, Fail> {
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let connections = ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let server = ServerSettings {
            name: "demo".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections,
        };
        let listeners = HashMap::from([("1".to_string(), server)]);
        let (v4, v5) = if version.is_v5() {
            (None, Some(listeners))
        } else {
            (Some(listeners), None)
        };
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: 1000,
                max_outgoing_packet_count: 200,
                max_segment_size: 100 << 20,
                max_segment_count: 10,
                custom_segment: None,
                initialized_filters: None,
                shared_subscriptions_strategy: Default::default(),
            },
            v4,
            v5,
            ws: None,
            cluster: None,
            console: None,
            bridge: None,
            prometheus: None,
            metrics: None,
        };
        std::thread::Builder::new()
            .name("rumqttd".into())
            .spawn(move || {
                let mut broker = Broker::new(config);
                if let Err(e) = broker.start() {
                    eprintln!("mqttc: error: demo: the embedded broker stopped: {e}");
                }
            })
            .map_err(|e| Fail::msg(format!("demo: cannot start the broker thread: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(addr).is_ok() {
                return Ok(port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Fail::msg(format!(
            "demo: the embedded broker did not listen on {addr} within 10 s"
        )))
    }
}

#[cfg(not(feature = "demo-broker"))]
mod embedded {
    use crate::Fail;
    use mqtt_proto::ProtocolVersion;

    /// Built without the `demo-broker` feature.
    pub fn start(_: ProtocolVersion) -> Result<u16, Fail> {
        Err(Fail::usage(
            "demo: built without the embedded broker (feature demo-broker): give --host".into(),
        ))
    }
}

//! The benchmark's peer: the same publish / subscribe / round-trip / idle runs as
//! `mqttc bench`, on rumqttc's `AsyncClient` and tokio `EventLoop` (MQTT 3.1.1).
//!
//! `mqttc-rumqttc <pub|sub|rtt|idle> <port> <count> <qos> [size] [inflight]`; prints a
//! `RESULT key=value ...` line.

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

fn opts(id: String, port: u16, inflight: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(inflight.max(1));
    o.set_max_packet_size(1 << 20, 1 << 20);
    o
}

fn qos(n: u64) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|p| p * 4096)
        .unwrap_or(0)
}

async fn connected(el: &mut EventLoop) {
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return,
            Ok(_) => {}
            Err(e) => {
                eprintln!("mqttc-rumqttc: error: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let role = args.first().cloned().unwrap_or_default();
    let port = num(1, 1883) as u16;
    let count = num(2, 1000);
    let q = qos(num(3, 0));
    let size = num(4, 64).max(8) as usize;
    let inflight = num(5, 100) as u16;
    let pid = std::process::id();
    let topic = "bench/t";
    match role.as_str() {
        "pub" => {
            let (c, mut el) = AsyncClient::new(opts(format!("rq-p{pid}"), port, inflight), 1024);
            connected(&mut el).await;
            let t0 = Instant::now();
            let payload = vec![0u8; size];
            tokio::spawn(async move {
                for _ in 0..count {
                    if c.publish(topic, q, false, payload.clone()).await.is_err() {
                        break;
                    }
                }
            });
            let mut done = 0u64;
            while done < count {
                match el.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(_))) if q == QoS::AtMostOnce => done += 1,
                    Ok(Event::Incoming(Packet::PubAck(_))) if q == QoS::AtLeastOnce => done += 1,
                    Ok(Event::Incoming(Packet::PubComp(_))) => done += 1,
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("mqttc-rumqttc: error: {e}");
                        std::process::exit(1);
                    }
                }
            }
            let s = t0.elapsed().as_secs_f64();
            println!("RESULT sent={done} pub_rate={:.0}", done as f64 / s);
        }
        "sub" => {
            let (c, mut el) = AsyncClient::new(opts(format!("rq-s{pid}"), port, inflight), 1024);
            connected(&mut el).await;
            c.subscribe(topic, q).await.ok();
            let mut n = 0u64;
            let mut first = None;
            let mut last = Instant::now();
            while n < count {
                let wait = if first.is_none() { 60 } else { 3 };
                match tokio::time::timeout(Duration::from_secs(wait), el.poll()).await {
                    Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                        last = Instant::now();
                        first.get_or_insert(last);
                        n += 1;
                    }
                    Ok(Ok(_)) => {}
                    _ => break,
                }
            }
            let s = first.map(|f| (last - f).as_secs_f64()).unwrap_or(0.0);
            println!("RESULT received={n} sub_rate={:.0}", n as f64 / s.max(1e-9));
        }
        "rtt" => {
            let (c, mut el) = AsyncClient::new(opts(format!("rq-r{pid}"), port, inflight), 1024);
            connected(&mut el).await;
            let t = format!("bench/rtt/{pid}");
            c.subscribe(&t, q).await.ok();
            loop {
                if let Ok(Event::Incoming(Packet::SubAck(_))) = el.poll().await {
                    break;
                }
            }
            let mut lat = Vec::new();
            for _ in 0..count {
                let t0 = Instant::now();
                c.publish(&t, q, false, vec![0u8; size]).await.ok();
                loop {
                    match el.poll().await {
                        Ok(Event::Incoming(Packet::Publish(_))) => break,
                        Ok(_) => {}
                        Err(e) => {
                            eprintln!("mqttc-rumqttc: error: {e}");
                            std::process::exit(1);
                        }
                    }
                }
                lat.push(t0.elapsed().as_nanos() as u64 / 1000);
            }
            lat.sort_unstable();
            let p = |x: f64| lat[((lat.len() - 1) as f64 * x) as usize];
            println!(
                "RESULT rtt_n={} p50_us={} p90_us={} p99_us={}",
                lat.len(),
                p(0.5),
                p(0.9),
                p(0.99)
            );
        }
        "idle" => {
            let before = rss();
            let mut up = 0u64;
            let mut keep = Vec::new();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
            // In waves of 1,000, each waited for until it is up or no CONNACK came for
            // 5 s: the same pacing as `mqttc bench --idle`.
            let mut i = 0;
            while i < count {
                let wave = 1000.min(count - i);
                for j in i..i + wave {
                    let (c, mut el) =
                        AsyncClient::new(opts(format!("rq-i{pid}-{j}"), port, 100), 10);
                    let tx = tx.clone();
                    keep.push(c);
                    tokio::spawn(async move {
                        let mut sent = false;
                        loop {
                            match el.poll().await {
                                Ok(Event::Incoming(Packet::ConnAck(_))) if !sent => {
                                    sent = true;
                                    let _ = tx.send(());
                                }
                                Ok(_) => {}
                                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                            }
                        }
                    });
                }
                i += wave;
                while up < i {
                    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                        Ok(Some(())) => up += 1,
                        _ => break,
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let after = rss();
            println!(
                "RESULT connections={up} rss_before_kib={} rss_after_kib={} bytes_per_conn={}",
                before / 1024,
                after / 1024,
                after.saturating_sub(before) / up.max(1)
            );
        }
        _ => {
            eprintln!(
                "usage: mqttc-rumqttc <pub|sub|rtt|idle> <port> <count> <qos> [size] [inflight]"
            );
            std::process::exit(2);
        }
    }
}

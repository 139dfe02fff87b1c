//! The benchmark's peer: the same publish / subscribe / round-trip / idle runs as
//! `mqttc bench`, on rumqttc's `AsyncClient` and tokio `EventLoop` (MQTT 3.1.1).
//!
//! `mqttc-rumqttc <pub|sub|rtt|idle> <port> <count> <qos> [size] [inflight]`; prints a
//! `RESULT key=value ...` line; `cpu_ns` is the process's user + system CPU time so far
//! (getrusage), which the benchmark script prefers to GNU time's 10 ms resolution.
//! `mqttc-rumqttc floor <port> <count> <qos> [size]` is the reference floor (no client):
//! see [`floor`]. `BENCH_THREADS=1` runs the client on tokio's current-thread runtime.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::{self, v4};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

// The process's CPU time (getrusage), shared with `mqttc`; `rss` is unused here.
#[allow(dead_code)]
#[path = "../rusage.rs"]
mod rusage;

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

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("mqttc-rumqttc: {what}: {e}");
    std::process::exit(1);
}

/// The next whole packet, decoded by rumqttc's codec from `rx`, reading the socket into
/// `rx` (through the reused `chunk`) while the packet is incomplete.
fn next(s: &mut TcpStream, rx: &mut BytesMut, chunk: &mut [u8]) -> v4::Packet {
    loop {
        match v4::Packet::read(rx, 1 << 20) {
            Ok(p) => return p,
            Err(mqttbytes::Error::InsufficientBytes(_)) => match s.read(chunk) {
                Ok(0) => die("read", "connection closed"),
                Ok(n) => rx.extend_from_slice(&chunk[..n]),
                Err(e) => die("read", e),
            },
            Err(e) => die("decode", e),
        }
    }
}

/// The "plain loop" floor, not a client: rumqttc's own 3.1.1 codec over a
/// blocking socket on the main thread (no runtime, no tasks). 256 PUBLISHes are encoded
/// into one reused buffer and written with one `write_all`; at QoS 1 the batch's 256
/// PUBACKs are read and decoded before the next batch. CPU is the whole process's.
fn floor(port: u16, count: u64, q: u64, size: usize) {
    const BATCH: u64 = 256;
    if q > 1 {
        eprintln!("mqttc-rumqttc: floor: QoS {q} is not supported (0 or 1)");
        std::process::exit(2);
    }
    let q = qos(q);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| die("connect", e));
    s.set_nodelay(true).unwrap_or_else(|e| die("nodelay", e));
    let mut tx = BytesMut::with_capacity(1 << 16);
    let mut rx = BytesMut::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];

    let mut connect = v4::Connect::new(format!("rq-f{}", std::process::id()));
    connect.keep_alive = 60;
    connect.write(&mut tx).unwrap_or_else(|e| die("encode", e));
    s.write_all(&tx).unwrap_or_else(|e| die("write", e));
    match next(&mut s, &mut rx, &mut chunk) {
        v4::Packet::ConnAck(a) if a.code == v4::ConnectReturnCode::Success => {}
        p => die("connect", format!("unexpected {p:?}")),
    }

    // One PUBLISH, re-encoded for every message (only its packet id changes).
    let mut p = v4::Publish::from_bytes("bench/t", q, Bytes::from(vec![0u8; size]));
    let (mut sent, mut pkid) = (0u64, 0u16);
    let t0 = Instant::now();
    while sent < count {
        let n = BATCH.min(count - sent);
        tx.clear();
        for _ in 0..n {
            if q == QoS::AtLeastOnce {
                // 1..=65535, wrapping; a batch's ids are all acked before the next batch.
                pkid = pkid % u16::MAX + 1;
                p.pkid = pkid;
            }
            p.write(&mut tx).unwrap_or_else(|e| die("encode", e));
        }
        s.write_all(&tx).unwrap_or_else(|e| die("write", e));
        if q == QoS::AtLeastOnce {
            let mut acked = 0;
            while acked < n {
                if let v4::Packet::PubAck(_) = next(&mut s, &mut rx, &mut chunk) {
                    acked += 1;
                }
            }
        }
        sent += n;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_ns = rusage::now().cpu_ns;

    tx.clear();
    v4::Disconnect
        .write(&mut tx)
        .unwrap_or_else(|e| die("encode", e));
    s.write_all(&tx).unwrap_or_else(|e| die("write", e));
    println!(
        "RESULT sent={sent} pub_rate={:.0} cpu_ns={cpu_ns} cpu_ns_per_msg={:.0}",
        sent as f64 / secs,
        cpu_ns as f64 / sent.max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("floor") {
        return clients(args);
    }
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (port, count, q, size) = (num(1, 1883) as u16, num(2, 1000), num(3, 0), num(4, 64));
    floor(port, count, q, size as usize);
}

/// The client runs on tokio's multi-thread runtime with two workers, or on one thread
/// when `BENCH_THREADS=1` (the benchmark script runs both clients either way).
fn clients(args: Vec<String>) {
    let one = std::env::var("BENCH_THREADS").is_ok_and(|t| t == "1");
    let mut b = match one {
        true => tokio::runtime::Builder::new_current_thread(),
        false => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    let rt = b.enable_all().build().unwrap_or_else(|e| die("runtime", e));
    rt.block_on(run_client(args));
}

async fn run_client(args: Vec<String>) {
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
                    // As mqttc bench: without waiting while the request channel has room.
                    if c.try_publish(topic, q, false, payload.clone()).is_ok() {
                        continue;
                    }
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
            println!(
                "RESULT sent={done} pub_rate={:.0} cpu_ns={}",
                done as f64 / s,
                rusage::now().cpu_ns
            );
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
            println!(
                "RESULT received={n} sub_rate={:.0} cpu_ns={}",
                n as f64 / s.max(1e-9),
                rusage::now().cpu_ns
            );
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
                "usage: mqttc-rumqttc <pub|sub|rtt|idle> <port> <count> <qos> [size] [inflight]\n       mqttc-rumqttc floor <port> <count> <0|1> [size]"
            );
            std::process::exit(2);
        }
    }
}

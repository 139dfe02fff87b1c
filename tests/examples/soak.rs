//! The soak: a publisher and a subscriber through the tokio adapter, both through a proxy
//! that cuts every connection at random moments, against a real mosquitto; QoS 1 and 2 at
//! a steady rate for `SOAK_SECONDS`. Reports resident memory at start and end and checks
//! that every acknowledged QoS 1/2 message reached the subscriber (persistent sessions on
//! both sides, so a cut loses nothing). Run through `tests/soak.sh`.
//!
//! Environment: SOAK_SECONDS (default 600), SOAK_RATE (messages/s, default 200),
//! SOAK_CUT_MS (mean time between cuts, default 3000), SOAK_VERSION (5 or 4 for 3.1.1;
//! default 5).

/// Which message numbers arrived: a fixed bitmap and a count.
struct Seen {
    bits: Vec<u64>,
    count: usize,
}

impl Seen {
    fn new(n: usize) -> Self {
        Seen {
            bits: vec![0u64; n / 64 + 1],
            count: 0,
        }
    }
    /// Marks `n`; false if it was already there (or out of range).
    fn insert(&mut self, n: u64) -> bool {
        let (w, b) = ((n / 64) as usize, n % 64);
        match self.bits.get_mut(w) {
            Some(word) if *word & (1 << b) == 0 => {
                *word |= 1 << b;
                self.count += 1;
                true
            }
            _ => false,
        }
    }
    fn len(&self) -> usize {
        self.count
    }
}
use std::time::{Duration, Instant};

use mqtt_proto::ProtocolVersion;
use mqtt_tests::hostile::rss_kib;
use mqtt_tests::mosquitto::Mosquitto;
use mqtt_tests::proxy::Proxy;
use mqtt_tokio::{Capacity, Event, Options, QoS};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn opts(url: &str, id: &str) -> Options {
    let mut o = Options::new(url, id).expect("url");
    o.version = if env("SOAK_VERSION", 5) == 4 {
        ProtocolVersion::V3_1_1
    } else {
        ProtocolVersion::V5
    };
    o.clean_start = false;
    o.session_expiry_interval = 3600;
    o.keep_alive = 5;
    o.reconnect.initial_delay = mqtt_session::Duration::from_millis(50);
    o.reconnect.max_delay = mqtt_session::Duration::from_millis(500);
    o
}

fn main() {
    let secs = env("SOAK_SECONDS", 600);
    let rate = env("SOAK_RATE", 200).max(1);
    let cut_ms = env("SOAK_CUT_MS", 3000).max(10);
    let m = Mosquitto::with_config("max_queued_messages 1000000\nmax_inflight_messages 0\n");
    let sub_proxy = Proxy::start(m.port);
    let pub_proxy = Proxy::start(m.port);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (s, mut sev) =
            mqtt_tokio::connect(opts(&sub_proxy.url(), "soak-sub"), Capacity::default()).unwrap();
        s.connected().await.unwrap();
        s.subscribe("soak/#", QoS::ExactlyOnce).await.unwrap();
        let (p, mut pev) =
            mqtt_tokio::connect(opts(&pub_proxy.url(), "soak-pub"), Capacity::default()).unwrap();
        p.connected().await.unwrap();
        tokio::spawn(async move { while pev.recv().await.is_some() {} });
        // A bitmap sized up front, so the soak's own bookkeeping does not grow the RSS it
        // reports (a set of every id grew it by ~2.5 MiB over ten minutes).
        let received = std::sync::Arc::new(std::sync::Mutex::new(Seen::new(
            (secs * rate + 1024) as usize,
        )));
        let dups = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reconnects = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        {
            let (received, dups, reconnects) = (received.clone(), dups.clone(), reconnects.clone());
            tokio::spawn(async move {
                while let Some(e) = sev.recv().await {
                    match e {
                        Event::Message { message, .. } => {
                            let n: u64 = std::str::from_utf8(message.payload())
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(u64::MAX);
                            if !received.lock().unwrap().insert(n) {
                                dups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        Event::Connected { .. } => {
                            reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            });
        }
        // Random cuts (a small LCG: reproducible, no dependency).
        let cutter = tokio::spawn(async move {
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            let mut cuts = 0u64;
            loop {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let wait = (x >> 33) % (2 * cut_ms);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                if (x >> 20) & 1 == 0 {
                    sub_proxy.cut();
                } else {
                    pub_proxy.cut();
                }
                cuts += 1;
                if cuts.is_multiple_of(20) {
                    eprintln!("soak: {cuts} cuts");
                }
                if cuts == u64::MAX {
                    return cuts;
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_start = rss_kib().unwrap_or(0);
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        let mut sent = 0u64;
        let mut pending = Vec::new();
        while start.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            let qos = if sent.is_multiple_of(2) { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
            match p
                .publish_start(format!("soak/{}", sent % 16), sent.to_string(), qos, false, None)
                .await
            {
                Ok(f) => pending.push((sent, f)),
                Err(e) => eprintln!("soak: publish {sent}: {e}"),
            }
            sent += 1;
            if pending.len() > 2000 {
                let (n, f) = pending.remove(0);
                if let Err(e) = f.await {
                    eprintln!("soak: publish {n} not acknowledged: {e}");
                }
            }
        }
        let mut unacked = 0;
        for (_, f) in pending {
            if tokio::time::timeout(Duration::from_secs(30), f).await.map(|r| r.is_err()).unwrap_or(true) {
                unacked += 1;
            }
        }
        cutter.abort();
        // Let the subscriber catch up.
        let deadline = Instant::now() + Duration::from_secs(60);
        while received.lock().unwrap().len() < sent as usize && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rss_end = rss_kib().unwrap_or(0);
        let got = received.lock().unwrap().len() as u64;
        let lost = sent - got.min(sent);
        println!(
            "soak: {secs} s at {rate}/s: sent {sent} (QoS 1/2 alternating), received {got} distinct, \
             lost {lost}, duplicates {} (QoS 1 redelivery is allowed), not acknowledged {unacked}, \
             subscriber connections {}; RSS start {rss_start} KiB, end {rss_end} KiB",
            dups.load(std::sync::atomic::Ordering::Relaxed),
            reconnects.load(std::sync::atomic::Ordering::Relaxed),
        );
        let _ = tokio::time::timeout(Duration::from_secs(5), p.disconnect(Duration::from_secs(1))).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), s.disconnect(Duration::from_secs(1))).await;
        if lost > 0 || unacked > 0 {
            eprintln!("soak: FAILED: QoS 1/2 messages lost");
            std::process::exit(1);
        }
    });
}

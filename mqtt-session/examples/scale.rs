//! Scale: one process holds N sessions of the embedded-sized configuration (default
//! 1,000,000), each driven through connect, a subscribe and one keepalive cycle, and
//! reports bytes per session and the time of a keepalive sweep over all of them.
//!
//! `cargo run --release -p mqtt-session --example scale --features alloc -- [N]`
//!
//! The server side is scripted (CONNACK, SUBACK, PINGRESP as bytes), and every step
//! checks what the session sent, so the sweep measures real work, not a no-op.
use mqtt_proto::{ProtocolVersion, QoS, Subscription, SubscriptionOptions, TopicFilter};
use mqtt_session::{ArenaStore, Config, Event, Instant, Session};

/// The embedded-sized configuration: 8 operations, 8 incoming, 1 KiB receive buffer,
/// a 2 KiB store (24 records).
type Embedded = Session<ArenaStore<24, 2048>, [u8; 1024], 8, 8>;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn drain(s: &mut Embedded) -> usize {
    let mut n = 0;
    while s.poll_event().is_some() {
        n += 1;
    }
    n
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::from_millis(0);
    let mut out = [0u8; 256];
    let rss_before = rss_kib();
    let start = std::time::Instant::now();
    let mut sessions: Vec<Embedded> = Vec::with_capacity(n);
    let mut id = String::new();
    let mut filter = String::new();
    for i in 0..n {
        use std::fmt::Write;
        id.clear();
        let _ = write!(id, "dev{i:08}");
        let mut config = Config::new(&id);
        config.version = ProtocolVersion::V3_1_1;
        config.keep_alive = 30;
        let mut s = Embedded::new(&config, ArenaStore::new(), [0; 1024]).expect("config");
        s.connect(t0);
        assert_eq!(s.poll_event(), Some(Event::OpenTransport));
        s.handle_transport_up(t0);
        let k = s.poll_transmit(t0, &mut out).expect("connect fits");
        assert_eq!(out[0], 0x10, "CONNECT first");
        assert!(k > 12);
        s.handle_input(t0, &[0x20, 0x02, 0x00, 0x00]); // CONNACK accepted
        assert_eq!(
            s.poll_event(),
            Some(Event::Connected {
                session_present: false
            })
        );
        filter.clear();
        let _ = write!(filter, "cmd/{i:08}/#");
        let subs = [Subscription {
            filter: TopicFilter::new(&filter).expect("valid filter"),
            options: SubscriptionOptions::new(QoS::AtLeastOnce),
        }];
        s.subscribe(t0, &subs, &[]).expect("subscribe");
        let k = s.poll_transmit(t0, &mut out).expect("subscribe fits");
        assert_eq!(out[0], 0x82, "SUBSCRIBE");
        assert!(k > 4);
        let pid = [out[2], out[3]];
        s.handle_input(t0, &[0x90, 0x03, pid[0], pid[1], 0x01]); // SUBACK granted QoS 1
        assert!(matches!(s.poll_event(), Some(Event::Subscribed { .. })));
        sessions.push(s);
    }
    let setup = start.elapsed();
    let rss_after = rss_kib();

    // One keepalive cycle for every session: the PINGREQ falls due, goes out, PINGRESP comes back.
    let t1 = Instant::from_millis(30_000);
    let sweep = std::time::Instant::now();
    let mut pings = 0usize;
    for s in sessions.iter_mut() {
        assert_eq!(s.poll_timeout(), Some(t1));
        s.handle_timeout(t1);
        let k = s.poll_transmit(t1, &mut out).expect("ping fits");
        if k == 2 && out[0] == 0xc0 {
            pings += 1;
        }
        s.handle_input(t1, &[0xd0, 0x00]);
        drain(s);
    }
    let sweep = sweep.elapsed();
    assert_eq!(pings, n, "every session sent exactly one PINGREQ");
    // After the PINGRESP the next keepalive is 30 s after the ping.
    assert!(
        sessions
            .iter()
            .all(|s| s.poll_timeout() == Some(Instant::from_millis(60_000)))
    );

    println!("sessions:                {n}");
    println!("size_of::<Session>:      {} bytes", size_of::<Embedded>());
    println!(
        "resident per session:    {:.0} bytes (RSS {} -> {} KiB)",
        (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / n as f64,
        rss_before,
        rss_after
    );
    println!(
        "connect + subscribe all: {:.2} s ({:.0} ns per session)",
        setup.as_secs_f64(),
        setup.as_nanos() as f64 / n as f64
    );
    println!(
        "keepalive sweep:         {:.1} ms ({:.0} ns per session)",
        sweep.as_secs_f64() * 1e3,
        sweep.as_nanos() as f64 / n as f64
    );
}

//! Scale through the simulation harness: N embedded-sized sessions (default 1,000,000)
//! connected to one in-process broker model (`mqtt_tests::broker`), each driven through
//! connect, a subscribe and one keepalive cycle, every byte crossing between session and
//! broker model. Reports bytes per session and the time of the keepalive sweep (session
//! and broker model together; `mqtt-session`'s `scale` example times the session alone).
//!
//! `cargo run --release -p mqtt-tests --example scale_sim -- [N]`
use mqtt_proto::{ProtocolVersion, QoS, Subscription, SubscriptionOptions, TopicFilter};
use mqtt_session::{ArenaStore, Config, Event, Instant, Session};
use mqtt_tests::broker::{Broker, BrokerConfig, ConnId};

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

/// What the session reported while the bytes moved.
#[derive(Default)]
struct Seen {
    connected: usize,
    subscribed: usize,
}

/// Moves bytes both ways until neither side has anything more, draining events.
fn pump(
    s: &mut Embedded,
    broker: &mut Broker,
    conn: ConnId,
    now: Instant,
    out: &mut [u8],
    seen: &mut Seen,
) {
    loop {
        let mut moved = false;
        while let Some(ev) = s.poll_event() {
            match ev {
                Event::Connected { .. } => seen.connected += 1,
                Event::Subscribed { .. } => seen.subscribed += 1,
                _ => {}
            }
            moved = true;
        }
        let n = s.poll_transmit(now, out).expect("buffer fits");
        if n > 0 {
            broker.handle_input(now, conn, &out[..n]);
            moved = true;
        }
        let t = broker.poll_transmit(now, conn);
        assert!(!t.closed, "the broker model closed the connection");
        if !t.bytes.is_empty() {
            assert_eq!(s.handle_input(now, &t.bytes), t.bytes.len());
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::from_millis(0);
    let mut out = vec![0u8; 4096];
    let mut broker = Broker::new(BrokerConfig::default());
    let rss_before = rss_kib();
    let start = std::time::Instant::now();
    let mut clients: Vec<(Embedded, ConnId)> = Vec::with_capacity(n);
    let mut seen = Seen::default();
    for i in 0..n {
        let id = format!("dev{i:08}");
        let mut config = Config::new(&id);
        config.version = ProtocolVersion::V3_1_1;
        config.keep_alive = 30;
        let mut s = Embedded::new(&config, ArenaStore::new(), [0; 1024]).expect("config");
        s.connect(t0);
        assert_eq!(s.poll_event(), Some(Event::OpenTransport));
        let conn = broker.accept(t0);
        s.handle_transport_up(t0);
        pump(&mut s, &mut broker, conn, t0, &mut out, &mut seen);
        let filter = format!("cmd/{i:08}/#");
        let subs = [Subscription {
            filter: TopicFilter::new(&filter).expect("valid filter"),
            options: SubscriptionOptions::new(QoS::AtLeastOnce),
        }];
        s.subscribe(t0, &subs, &[]).expect("subscribe");
        pump(&mut s, &mut broker, conn, t0, &mut out, &mut seen);
        clients.push((s, conn));
    }
    let setup = start.elapsed();
    assert_eq!(
        (seen.connected, seen.subscribed),
        (n, n),
        "every session connected and subscribed"
    );
    assert_eq!(broker.subscriptions("dev00000000").len(), 1);
    let rss_after = rss_kib();

    // One keepalive cycle each: PINGREQ out, through the broker model, PINGRESP back.
    let t1 = Instant::from_millis(30_000);
    let sweep = std::time::Instant::now();
    for (s, conn) in clients.iter_mut() {
        s.handle_timeout(t1);
        pump(s, &mut broker, *conn, t1, &mut out, &mut seen);
    }
    let sweep = sweep.elapsed();
    // Every session saw its PINGRESP: the next keepalive is 30 s after the ping, no ping timeout pending.
    assert!(
        clients
            .iter()
            .all(|(s, _)| s.poll_timeout() == Some(Instant::from_millis(60_000)))
    );
    assert!(
        broker.violations().is_empty(),
        "client violations: {:?}",
        broker.violations()
    );

    println!("sessions:                  {n} (one broker model, {n} connections)");
    println!("size_of::<Session>:        {} bytes", size_of::<Embedded>());
    println!(
        "resident, sessions + broker model: {:.0} bytes per client (RSS {} -> {} KiB)",
        (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / n as f64,
        rss_before,
        rss_after
    );
    println!("connect + subscribe all:   {:.2} s", setup.as_secs_f64());
    println!(
        "keepalive sweep:           {:.1} ms ({:.0} ns per client, session and broker model)",
        sweep.as_secs_f64() * 1e3,
        sweep.as_nanos() as f64 / n as f64
    );
}

//! Publishes a burst of QoS 0 and QoS 1 messages to a broker and reports the time, to
//! check the batching with `strace -f -c -e trace=write,sendto,writev`:
//! `cargo run -p mqtt-blocking --example burst -- mqtt://127.0.0.1:1883 10000`.

use std::time::{Duration, Instant};

use mqtt_blocking::{Client, Event, Options, QoS};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let (_client, mut c) = Client::new(Options::new(&url, "burst").expect("URL")).expect("client");
    while !matches!(
        c.next_event(Duration::from_secs(10)),
        Some(Event::Connected { .. })
    ) {}
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let start = Instant::now();
        let (mut sent, mut acked) = (0, 0);
        while acked < n {
            // Stage as many as the session takes, then let the loop write them at once.
            while sent < n {
                match c.publish("burst/t", b"0123456789", qos, false) {
                    Ok(_) => sent += 1,
                    Err(e) if e.is_capacity() => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if qos == QoS::AtMostOnce {
                c.flush();
                acked = sent;
                continue;
            }
            if let Some(Event::Published { .. }) = c.next_event(Duration::from_secs(10)) {
                acked += 1;
            }
        }
        println!("{n} x {qos:?}: {:?}", start.elapsed());
    }
    c.disconnect();
}

//! The way from the driver to [`Events`] against a small in-process server that sends
//! messages as soon as the client connects: a full event queue stops the reading (and
//! loses nothing), a dropped `Events` is noticed (the driver goes on without it), and a
//! `recv` cancelled over and over loses nothing.

use std::time::Duration;

use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion, QosPid};
use mqtt_tokio::{Capacity, Client, Event, Events, Options, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(20);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A 3.1.1 QoS 0 PUBLISH on `t` whose payload is `i` (4 bytes) padded to `size`.
fn publish(i: u32, size: usize) -> Vec<u8> {
    let topic = b"t";
    let body = 2 + topic.len() + size.max(4);
    let mut p = vec![0x30];
    let mut n = body;
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        p.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    p.extend_from_slice(topic);
    p.extend_from_slice(&i.to_be_bytes());
    p.resize(p.len() + size.max(4) - 4, b'x');
    p
}

/// A 3.1.1 server for one connection: CONNACK, then `count` messages of `size` bytes
/// (written as fast as the socket takes them, alongside the answers), PUBACK, PINGRESP.
/// Returns the port and the bytes of messages it will send.
async fn server(count: u32, size: usize) -> (u16, u64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let total: u64 = (0..count).map(|i| publish(i, size).len() as u64).sum();
    tokio::spawn(async move {
        let Ok((s, _)) = listener.accept().await else {
            return;
        };
        let (mut r, mut w) = s.into_split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        // Writer: answers first, messages once connected.
        tokio::spawn(async move {
            let Some(connack) = rx.recv().await else {
                return;
            };
            if w.write_all(&connack).await.is_err() {
                return;
            }
            let mut next = 0;
            loop {
                while let Ok(answer) = rx.try_recv() {
                    if w.write_all(&answer).await.is_err() {
                        return;
                    }
                }
                if next < count {
                    if w.write_all(&publish(next, size)).await.is_err() {
                        return;
                    }
                    next += 1;
                } else {
                    match rx.recv().await {
                        Some(answer) => {
                            if w.write_all(&answer).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    }
                }
            }
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut len = 0;
        loop {
            match r.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => len += n,
            }
            let mut at = 0;
            while at < len {
                let (packet, used) =
                    match Decoder::new(ProtocolVersion::V3_1_1).decode(&buf[at..len]) {
                        Ok(Decoded::Packet { packet, consumed }) => (packet, consumed),
                        Ok(Decoded::Incomplete(_)) => break,
                        Err(e) => panic!("server: bad packet: {e:?}"),
                    };
                at += used;
                let answer = match packet {
                    Packet::Connect(_) => vec![0x20, 2, 0, 0],
                    Packet::Publish(p) => match p.qos {
                        QosPid::AtLeastOnce(id) => {
                            let id = id.get().to_be_bytes();
                            vec![0x40, 2, id[0], id[1]]
                        }
                        _ => continue,
                    },
                    Packet::PingReq => vec![0xd0, 0],
                    Packet::Disconnect(_) => return,
                    _ => continue,
                };
                if tx.send(answer).is_err() {
                    return;
                }
            }
            buf.copy_within(at..len, 0);
            len -= at;
        }
    });
    (port, total)
}

async fn client(port: u16, events: usize) -> (Client, Events) {
    let mut o = Options::new(&format!("mqtt://127.0.0.1:{port}"), "events").expect("url");
    o.version = ProtocolVersion::V3_1_1;
    let (c, ev) = mqtt_tokio::connect(
        o,
        Capacity {
            events,
            commands: 16,
        },
    )
    .expect("connect");
    tokio::time::timeout(T, c.connected())
        .await
        .expect("connected in time")
        .expect("connected");
    (c, ev)
}

/// The message's number, or `None` for another event.
fn number(ev: &Event) -> Option<u32> {
    match ev {
        Event::Message { message, .. } => {
            let p = message.payload();
            Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
        }
        _ => None,
    }
}

/// Takes events until `count` messages came; asserts they came in order, once each.
async fn expect_messages(events: &mut Events, count: u32) {
    let mut next = 0;
    while next < count {
        let ev = tokio::time::timeout(T, events.recv())
            .await
            .unwrap_or_else(|_| panic!("message {next} of {count} did not come"))
            .expect("driver alive");
        if let Some(i) = number(&ev) {
            assert_eq!(i, next, "messages out of order or lost");
            next += 1;
        }
    }
}

/// With nobody reading, the driver fills the event queue (capacity 2), holds one more
/// and stops reading the socket: most of what the server sent stays unread. Once the
/// application reads, every message arrives, in order, none lost.
#[test]
fn full_event_queue_stops_reading_and_loses_nothing() {
    rt().block_on(async {
        let (count, size) = (200, 1000);
        let (port, total) = server(count, size).await;
        let (c, mut events) = client(port, 2).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let read = c.io_stats().bytes_read;
        assert!(
            read < total / 2,
            "the driver read {read} of {total} bytes with nobody taking events"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            c.io_stats().bytes_read,
            read,
            "the driver went on reading with the event queue full"
        );
        expect_messages(&mut events, count).await;
        assert!(c.io_stats().bytes_read >= total);
    });
}

/// Dropping `Events` while the queue is full (capacity 1) is noticed: the driver drops
/// the events from then on and reads on, so a publish's PUBACK behind 300 messages
/// arrives.
#[test]
fn dropped_events_are_noticed() {
    rt().block_on(async {
        let (port, _) = server(300, 1000).await;
        let (c, events) = client(port, 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(events);
        let ack = tokio::time::timeout(T, c.publish("t/ack", "x", QoS::AtLeastOnce, false))
            .await
            .expect("the PUBACK was read: the driver noticed the dropped Events");
        assert!(ack.is_ok(), "{ack:?}");
    });
}

/// `recv` cancelled over and over (a timeout shorter than the gaps between events)
/// loses nothing and duplicates nothing.
#[test]
fn cancelled_recv_loses_no_event() {
    rt().block_on(async {
        let count = 2000;
        let (port, _) = server(count, 10).await;
        let (c, mut events) = client(port, 4).await;
        let mut next = 0;
        let mut cancelled = 0u32;
        let deadline = tokio::time::Instant::now() + T;
        while next < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {next} of {count}"
            );
            match tokio::time::timeout(Duration::from_micros(50), events.recv()).await {
                Ok(Some(ev)) => {
                    if let Some(i) = number(&ev) {
                        assert_eq!(i, next, "an event lost or duplicated");
                        next += 1;
                    }
                }
                Ok(None) => panic!("driver ended"),
                Err(_) => cancelled += 1,
            }
        }
        println!("{cancelled} recv futures cancelled");
        // And the queue ends empty: nothing was delivered twice.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(ev) = events.try_recv() {
            assert_eq!(number(&ev), None, "a message delivered twice");
        }
        drop(c);
    });
}

/// Once the driver has ended (`disconnect`), `recv` returns the events queued before,
/// then `None`.
#[test]
fn recv_ends_after_the_driver() {
    rt().block_on(async {
        let (port, _) = server(3, 10).await;
        let (c, mut events) = client(port, 16).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.disconnect(Duration::from_secs(1))
            .await
            .expect("disconnect");
        let mut messages = 0;
        loop {
            match tokio::time::timeout(T, events.recv()).await {
                Ok(Some(ev)) => messages += u32::from(number(&ev).is_some()),
                Ok(None) => break,
                Err(_) => panic!("recv did not end after the driver"),
            }
        }
        assert_eq!(messages, 3);
    });
}

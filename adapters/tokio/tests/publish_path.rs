//! The publish path (handles -> command queue -> driver -> session) against a small
//! in-process server that records every PUBLISH and can hold its acknowledgements back:
//! order kept across interleaved QoS 0/1 publishers, back-pressure when the in-flight
//! table and the queue are full, cancelled publishes neither lost nor duplicated.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion, QosPid};
use mqtt_tokio::{Capacity, Client, Error, Events, OUTBOX, Options, Pending, PublishAck, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

const T: Duration = Duration::from_secs(20);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// What the server saw: each PUBLISH's QoS and payload, in arrival order.
type Seen = mpsc::UnboundedReceiver<(u8, Vec<u8>)>;

/// Holds PUBACK / PUBREC back while `hold` is set; `release` sends what was held.
#[derive(Default)]
struct Acks {
    hold: AtomicBool,
    release: Notify,
}

impl Acks {
    /// Stops holding acknowledgements back and sends those held.
    fn release_all(&self) {
        self.hold.store(false, Ordering::SeqCst);
        self.release.notify_one();
    }
}

/// Asserts that the server receives no further PUBLISH within `ms` milliseconds.
async fn nothing_more(seen: &mut Seen, ms: u64, why: &str) {
    assert!(
        tokio::time::timeout(Duration::from_millis(ms), seen.recv())
            .await
            .is_err(),
        "{why}"
    );
}

/// A 3.1.1 server for one connection at a time: CONNACK, PUBACK, PUBREC/PUBCOMP,
/// PINGRESP; records publishes.
async fn server(acks: Arc<Acks>) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            let acks = acks.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut len = 0;
                let mut held: Vec<u8> = Vec::new();
                loop {
                    let n = tokio::select! {
                        r = s.read(&mut buf[len..]) => match r {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        },
                        () = acks.release.notified(), if !held.is_empty() => 0,
                    };
                    len += n;
                    let mut out = Vec::new();
                    if !acks.hold.load(Ordering::SeqCst) {
                        out.append(&mut held);
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
                        let hold = acks.hold.load(Ordering::SeqCst);
                        let ack = |first: u8, id: u16, out: &mut Vec<u8>, held: &mut Vec<u8>| {
                            let to = if hold { held } else { out };
                            to.extend_from_slice(&[first, 2]);
                            to.extend_from_slice(&id.to_be_bytes());
                        };
                        match packet {
                            Packet::Connect(_) => out.extend_from_slice(&[0x20, 2, 0, 0]),
                            Packet::Publish(p) => {
                                let q = match p.qos {
                                    QosPid::AtMostOnce => 0,
                                    QosPid::AtLeastOnce(id) => {
                                        ack(0x40, id.get(), &mut out, &mut held);
                                        1
                                    }
                                    QosPid::ExactlyOnce(id) => {
                                        ack(0x50, id.get(), &mut out, &mut held);
                                        2
                                    }
                                };
                                let _ = tx.send((q, p.payload.to_vec()));
                            }
                            Packet::PubRel(r) => {
                                out.extend_from_slice(&[0x70, 2]);
                                out.extend_from_slice(&r.packet_id.get().to_be_bytes());
                            }
                            Packet::PingReq => out.extend_from_slice(&[0xd0, 0]),
                            Packet::Disconnect(_) => return,
                            _ => {}
                        }
                    }
                    buf.copy_within(at..len, 0);
                    len -= at;
                    if !out.is_empty() && s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

async fn client(port: u16, max_inflight: u16, commands: usize) -> (Client, Events) {
    let mut o = Options::new(&format!("mqtt://127.0.0.1:{port}"), "publish-path").expect("url");
    o.version = ProtocolVersion::V3_1_1;
    o.max_inflight = Some(max_inflight);
    let (c, ev) = mqtt_tokio::connect(
        o,
        Capacity {
            events: 16,
            commands,
        },
    )
    .expect("connect");
    tokio::time::timeout(T, c.connected())
        .await
        .expect("connected in time")
        .expect("connected");
    (c, ev)
}

fn payload(task: u8, i: u32) -> Vec<u8> {
    let mut p = vec![task];
    p.extend_from_slice(&i.to_be_bytes());
    p
}

fn parse(p: &[u8]) -> (u8, u32) {
    (p[0], u32::from_be_bytes([p[1], p[2], p[3], p[4]]))
}

/// Receives `n` publishes (panics after `T`).
async fn receive(seen: &mut Seen, n: usize) -> Vec<(u8, Vec<u8>)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(T, seen.recv()).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("received {} of {n}", got.len()),
        }
    }
    got
}

/// 4 tasks x 25,000 publishes, QoS 0 and 1 alternating, through a small queue: every
/// message arrives once, each task's in the order it published them, and every answer
/// is a success.
#[test]
fn interleaved_publishes_from_several_tasks_keep_their_order() {
    const TASKS: u8 = 4;
    const EACH: u32 = 25_000;
    rt().block_on(async {
        let (port, mut seen) = server(Arc::default()).await;
        let (c, _ev) = client(port, 32, 16).await;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let mut window: VecDeque<Pending<PublishAck>> = VecDeque::new();
                for i in 0..EACH {
                    let qos = if (i + u32::from(t)) % 2 == 0 {
                        QoS::AtMostOnce
                    } else {
                        QoS::AtLeastOnce
                    };
                    if window.len() >= 40 {
                        window.pop_front().expect("full").await.expect("answer");
                    }
                    let p = c
                        .publish_start("order/t", payload(t, i), qos, false, None)
                        .await
                        .expect("queued");
                    window.push_back(p);
                }
                for p in window {
                    p.await.expect("answer");
                }
            }));
        }
        for t in tasks {
            tokio::time::timeout(T, t)
                .await
                .expect("in time")
                .expect("task");
        }
        let got = receive(&mut seen, usize::from(TASKS) * EACH as usize).await;
        let mut next = [0u32; TASKS as usize];
        for (qos, p) in &got {
            let (t, i) = parse(p);
            assert_eq!(
                i,
                next[usize::from(t)],
                "task {t}: out of order or duplicated"
            );
            assert_eq!(u32::from(*qos), (i + u32::from(t)) % 2, "QoS kept");
            next[usize::from(t)] += 1;
        }
        assert!(next.iter().all(|&n| n == EACH));
        c.disconnect(Duration::from_secs(5))
            .await
            .expect("disconnect");
    });
}

/// With the broker's acknowledgements held back, a publisher fills the in-flight table,
/// the session's outbox and the command queue, then waits: the number of publishes
/// accepted stops growing, the server sees no more than the in-flight window. Released,
/// everything completes, once each, in order.
#[test]
fn publishers_wait_when_in_flight_table_and_queue_are_full() {
    const N: u32 = OUTBOX as u32 + 100;
    rt().block_on(async {
        let acks = Arc::new(Acks::default());
        acks.hold.store(true, Ordering::SeqCst);
        let (port, mut seen) = server(acks.clone()).await;
        let (c, _ev) = client(port, 4, 8).await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let publisher = {
            let c = c.clone();
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                for i in 0..N {
                    let p = c
                        .publish_start("bp/t", payload(0, i), QoS::AtLeastOnce, false, None)
                        .await
                        .expect("queued");
                    pending.push(p);
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                for p in pending {
                    p.await.expect("acknowledged");
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stuck = accepted.load(Ordering::SeqCst);
        assert!(
            stuck < N as usize,
            "publish_start must wait, accepted {stuck}"
        );
        // The session's outbox (in flight and queued) + taken by the driver (8) + queued (8).
        assert!(stuck <= OUTBOX + 8 + 8 + 1, "bounded: accepted {stuck}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            stuck,
            "no growth while full"
        );
        let early = receive(&mut seen, 4).await;
        nothing_more(
            &mut seen,
            200,
            "no more than the in-flight window on the wire",
        )
        .await;
        acks.release_all();
        tokio::time::timeout(T, publisher)
            .await
            .expect("all acknowledged in time")
            .expect("publisher");
        let rest = receive(&mut seen, N as usize - 4).await;
        for (i, (_, p)) in early.iter().chain(&rest).enumerate() {
            assert_eq!(parse(p), (0, i as u32), "in order, once each");
        }
        c.disconnect(Duration::from_secs(5))
            .await
            .expect("disconnect");
    });
}

/// A publish cancelled while it waits for room is never sent; answers dropped unread do
/// not withdraw their messages; afterwards the client still works and disconnects with
/// nothing outstanding; a publish after `disconnect` fails with `Closed`.
#[test]
fn cancelled_publishes_are_neither_lost_nor_duplicated() {
    rt().block_on(async {
        let acks = Arc::new(Acks::default());
        acks.hold.store(true, Ordering::SeqCst);
        let (port, mut seen) = server(acks.clone()).await;
        let (c, _ev) = client(port, 2, 4).await;
        // Fill everything; keep the answers of the even ones, drop the odd ones unread.
        let mut kept = Vec::new();
        let mut accepted = 0u32;
        loop {
            let qos = if accepted.is_multiple_of(3) {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            let start = c.publish_start("cancel/t", payload(0, accepted), qos, false, None);
            match tokio::time::timeout(Duration::from_millis(200), start).await {
                Ok(p) => {
                    let p = p.expect("queued");
                    if accepted.is_multiple_of(2) {
                        kept.push(p);
                    }
                    accepted += 1;
                }
                // Cancelled while waiting for room: this one must never be sent.
                Err(_) => break,
            }
            assert!(accepted < 1000, "publish_start never waited");
        }
        // A few more cancellations, of both kinds of future.
        for _ in 0..3 {
            let start = c.publish("cancel/t", payload(1, 0), QoS::AtLeastOnce, false);
            assert!(
                tokio::time::timeout(Duration::from_millis(50), start)
                    .await
                    .is_err()
            );
        }
        acks.release_all();
        for p in kept {
            tokio::time::timeout(T, p)
                .await
                .expect("answered in time")
                .expect("acknowledged");
        }
        // Still usable: one more, answered.
        c.publish("cancel/t", payload(2, 0), QoS::AtLeastOnce, false)
            .await
            .expect("publish after the cancellations");
        let got = receive(&mut seen, accepted as usize + 1).await;
        for (i, (_, p)) in got[..accepted as usize].iter().enumerate() {
            assert_eq!(parse(p), (0, i as u32), "accepted ones in order, once each");
        }
        assert_eq!(parse(&got[accepted as usize].1), (2, 0));
        c.disconnect(Duration::from_secs(5))
            .await
            .expect("disconnect");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), seen.recv())
                .await
                .map_or(true, |m| m.is_none()),
            "the cancelled publishes never went out"
        );
        assert_eq!(
            c.publish("cancel/t", "late", QoS::AtMostOnce, false).await,
            Err(Error::Closed)
        );
    });
}

/// `try_publish` from a plain thread (no runtime, no `.await`): with the broker's
/// acknowledgements held back it queues until the in-flight table, the outbox and the
/// queue are full, then answers `Full` at once and queues nothing; released, exactly the
/// accepted messages arrive, once each, in order, and every answer is a success. After
/// `disconnect` it answers `Closed`.
#[test]
fn try_publish_from_a_plain_thread_refuses_when_full_and_queues_nothing() {
    rt().block_on(async {
        let acks = Arc::new(Acks::default());
        acks.hold.store(true, Ordering::SeqCst);
        let (port, mut seen) = server(acks.clone()).await;
        let (c, _ev) = client(port, 4, 8).await;
        let thread = {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                let mut refused = 0u32;
                let mut i = 0u32;
                // Until the queue stays full through 50 tries 10 ms apart: the driver has
                // taken all it can.
                while refused < 50 {
                    match c.try_publish("try/t", payload(0, i), QoS::AtLeastOnce, false, None) {
                        Ok(p) => {
                            answers.push(p);
                            i += 1;
                            refused = 0;
                        }
                        Err(Error::Full) => {
                            refused += 1;
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => panic!("try_publish: {e}"),
                    }
                    assert!(i < 1000, "try_publish must refuse once full");
                }
                answers
            })
        };
        let answers = tokio::task::spawn_blocking(move || thread.join().expect("thread"))
            .await
            .expect("join");
        let accepted = answers.len();
        // The session's outbox (in flight and queued) + taken by the driver (8) + queued (8).
        assert!(
            (4..=OUTBOX + 8 + 8).contains(&accepted),
            "bounded: accepted {accepted}"
        );
        acks.release_all();
        for p in answers {
            let ack = tokio::time::timeout(T, p)
                .await
                .expect("answered in time")
                .expect("acknowledged");
            assert_eq!(ack.reason_code, mqtt_tokio::ReasonCode::Success);
        }
        let got = receive(&mut seen, accepted).await;
        for (i, (qos, p)) in got.iter().enumerate() {
            assert_eq!((*qos, parse(p)), (1, (0, i as u32)), "in order, once each");
        }
        nothing_more(&mut seen, 300, "nothing refused was sent").await;
        c.disconnect(Duration::from_secs(5))
            .await
            .expect("disconnect");
        assert_eq!(
            c.try_publish("try/t", b"late", QoS::AtMostOnce, false, None)
                .err(),
            Some(Error::Closed)
        );
    });
}

/// `max_inflight` 100 (the benchmark broker's window), acknowledgements held back: the
/// server sees exactly 100 publishes in flight, then nothing more until it acknowledges
/// (the session's outbox used to hold 64 operations, which capped the window silently).
#[test]
fn a_max_inflight_of_100_is_used_in_full() {
    const N: u32 = 150;
    rt().block_on(async {
        let acks = Arc::new(Acks::default());
        acks.hold.store(true, Ordering::SeqCst);
        let (port, mut seen) = server(acks.clone()).await;
        let (c, _ev) = client(port, 100, 256).await;
        let mut pending = Vec::new();
        for i in 0..N {
            let p = c
                .publish_start("w/t", payload(0, i), QoS::AtLeastOnce, false, None)
                .await
                .expect("queued");
            pending.push(p);
        }
        let in_flight = receive(&mut seen, 100).await;
        nothing_more(
            &mut seen,
            300,
            "no more than the window of 100 before an acknowledgement",
        )
        .await;
        acks.release_all();
        for p in pending {
            tokio::time::timeout(T, p)
                .await
                .expect("answered in time")
                .expect("acknowledged");
        }
        let rest = receive(&mut seen, (N - 100) as usize).await;
        for (i, (_, p)) in in_flight.iter().chain(&rest).enumerate() {
            assert_eq!(parse(p), (0, i as u32), "in order, once each");
        }
        c.disconnect(Duration::from_secs(5))
            .await
            .expect("disconnect");
    });
}

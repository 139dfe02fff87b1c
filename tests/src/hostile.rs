//! A scripted fake broker on loopback that misbehaves on purpose, for the hostile-peer
//! suite (`tests/hostile.rs`).
//!
//! Each accepted connection runs a script ([`Step`]s chosen by the connection's index, so
//! the first connection can attack and the reconnect can behave). Everything the client
//! sends is recorded per connection ([`Conn`]): the raw bytes, when the connection was
//! accepted and when the client closed it. [`Conn::packets`] decodes the recording with
//! `mqtt-proto` under the version the client's CONNECT announced, so a test can check the
//! DISCONNECT reason code the client sent.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mqtt_proto::{DecodeError, Decoded, Decoder, ProtocolVersion, QoS, ReasonCode};

use crate::wire::{Pkt, Tap};

/// One step of a connection's script.
#[derive(Clone, Debug)]
pub enum Step {
    /// Wait (up to 5 s) until the client's CONNECT has arrived.
    AwaitConnect,
    /// Wait (up to 5 s) until the client has sent a packet of this kind (by its
    /// `Display` name's first word, e.g. "SUBSCRIBE", "PUBLISH", "PINGREQ").
    Await(&'static str),
    /// Send a packet, encoded in the version of the client's CONNECT.
    Send(Pkt),
    /// A CONNACK with Success (and no properties).
    ConnAckOk,
    /// Send raw bytes.
    Raw(Vec<u8>),
    /// Send raw bytes one at a time, `interval` apart (slowloris).
    Trickle(Vec<u8>, Duration),
    /// Pause.
    Sleep(Duration),
    /// Wait (up to 5 s) for the client's SUBSCRIBE, then send the bytes `f` makes of its
    /// packet identifier and the connection's version.
    OnSubscribe(fn(u16, ProtocolVersion) -> Vec<u8>),
}

/// What one connection saw.
#[derive(Debug, Clone)]
pub struct Conn {
    /// When it was accepted.
    pub accepted: Instant,
    /// When the client closed it (read end-of-stream or error), if it did.
    pub closed: Option<Instant>,
    /// Every byte the client sent.
    pub bytes: Vec<u8>,
}

impl Conn {
    /// The client's packets, decoded under the version its CONNECT announced; a decode
    /// error ends the list with `Err`.
    pub fn packets(&self) -> Vec<Result<Pkt, DecodeError>> {
        let first = match Decoder::new(ProtocolVersion::V5).decode(&self.bytes) {
            Ok(Decoded::Packet { packet, consumed }) => (Pkt::from_packet(&packet), consumed),
            Ok(Decoded::Incomplete(_)) => return Vec::new(),
            Err(e) => return vec![Err(e)],
        };
        let version = match &first.0 {
            Pkt::Connect { version, .. } => *version,
            _ => ProtocolVersion::V5,
        };
        let mut out = vec![Ok(first.0)];
        out.extend(Tap::new(version).feed(&self.bytes[first.1..]));
        out
    }

    /// The version of the client's CONNECT, if one arrived.
    pub fn version(&self) -> Option<ProtocolVersion> {
        match self.packets().first() {
            Some(Ok(Pkt::Connect { version, .. })) => Some(*version),
            _ => None,
        }
    }

    /// The reason code of the client's DISCONNECT, if it sent one.
    pub fn disconnect_code(&self) -> Option<ReasonCode> {
        self.packets().into_iter().find_map(|p| match p {
            Ok(Pkt::Disconnect { reason_code, .. }) => Some(reason_code),
            _ => None,
        })
    }

    /// Whether the client sent a packet whose display starts with `kind`.
    pub fn sent(&self, kind: &str) -> bool {
        self.packets()
            .iter()
            .any(|p| matches!(p, Ok(p) if p.to_string().starts_with(kind)))
    }
}

type Script = dyn Fn(usize) -> Vec<Step> + Send + Sync;

/// The fake broker: accepts on 127.0.0.1, runs the script for each connection, records.
/// Stops accepting on drop.
pub struct HostileBroker {
    /// Its port.
    pub port: u16,
    conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>>,
    stop: Arc<AtomicBool>,
}

impl HostileBroker {
    /// Starts the broker; `script(i)` is the script of the `i`-th (0-based) connection.
    /// After its script a connection stays open, reading, until the client closes it (or
    /// 60 s pass).
    pub fn start(script: impl Fn(usize) -> Vec<Step> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let conns: Arc<Mutex<Vec<Arc<Mutex<Conn>>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        {
            let conns = conns.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).ok();
                            s.set_nodelay(true).ok();
                            let conn = Arc::new(Mutex::new(Conn {
                                accepted: Instant::now(),
                                closed: None,
                                bytes: Vec::new(),
                            }));
                            let index = {
                                let mut all = conns.lock().unwrap();
                                all.push(conn.clone());
                                all.len() - 1
                            };
                            let steps = script(index);
                            let stop = stop.clone();
                            thread::spawn(move || serve(s, conn, steps, stop));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        HostileBroker { port, conns, stop }
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// A snapshot of every connection so far.
    pub fn conns(&self) -> Vec<Conn> {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.lock().unwrap().clone())
            .collect()
    }

    /// Waits until connection `i` was closed by the client; its snapshot.
    pub fn wait_closed(&self, i: usize, timeout: Duration) -> Option<Conn> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(c) = self.conns().get(i)
                && c.closed.is_some()
            {
                return Some(c.clone());
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits until at least `n` connections were accepted.
    pub fn wait_accepted(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.conns.lock().unwrap().len() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for HostileBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut s: TcpStream, conn: Arc<Mutex<Conn>>, steps: Vec<Step>, stop: Arc<AtomicBool>) {
    let closed = Arc::new(AtomicBool::new(false));
    // The reader: records everything until the client closes.
    {
        let mut r = s.try_clone().expect("clone");
        let conn = conn.clone();
        let closed = closed.clone();
        thread::spawn(move || {
            r.set_read_timeout(Some(Duration::from_secs(60))).ok();
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => conn.lock().unwrap().bytes.extend_from_slice(&buf[..n]),
                }
            }
            conn.lock().unwrap().closed = Some(Instant::now());
            closed.store(true, Ordering::Relaxed);
        });
    }
    let version = || {
        conn.lock()
            .unwrap()
            .version()
            .unwrap_or(ProtocolVersion::V5)
    };
    let wait = |pred: &dyn Fn(&Conn) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !closed.load(Ordering::Relaxed) {
            if pred(&conn.lock().unwrap()) {
                return true;
            }
            thread::sleep(Duration::from_millis(2));
        }
        pred(&conn.lock().unwrap())
    };
    for step in steps {
        if closed.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
            break;
        }
        let ok = match step {
            Step::AwaitConnect => wait(&|c| c.version().is_some()),
            Step::Await(kind) => wait(&|c| c.sent(kind)),
            Step::Send(p) => s.write_all(&p.encode(version()).expect("encode")).is_ok(),
            Step::ConnAckOk => s
                .write_all(&connack_ok().encode(version()).unwrap())
                .is_ok(),
            Step::Raw(b) => s.write_all(&b).is_ok(),
            Step::Trickle(b, every) => {
                let mut ok = true;
                for byte in b {
                    if closed.load(Ordering::Relaxed) || s.write_all(&[byte]).is_err() {
                        ok = false;
                        break;
                    }
                    thread::sleep(every);
                }
                ok
            }
            Step::OnSubscribe(f) => {
                let pid = |c: &Conn| {
                    c.packets().into_iter().find_map(|p| match p {
                        Ok(Pkt::Subscribe { pid, .. }) => Some(pid),
                        _ => None,
                    })
                };
                wait(&|c| pid(c).is_some());
                let found = pid(&conn.lock().unwrap());
                match found {
                    Some(pid) => s.write_all(&f(pid, version())).is_ok(),
                    None => false,
                }
            }
            Step::Sleep(d) => {
                let until = Instant::now() + d;
                while Instant::now() < until && !closed.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(5));
                }
                true
            }
        };
        if !ok {
            break;
        }
    }
    let until = Instant::now() + Duration::from_secs(60);
    while !closed.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) && Instant::now() < until
    {
        thread::sleep(Duration::from_millis(5));
    }
    let _ = s.shutdown(Shutdown::Both);
}

/// A CONNACK with Success, no session, no properties.
pub fn connack_ok() -> Pkt {
    Pkt::ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        receive_maximum: None,
        maximum_packet_size: None,
        topic_alias_maximum: None,
        server_keep_alive: None,
        assigned_client_id: None,
    }
}

/// A PUBLISH from the server.
pub fn publish(qos: QoS, pid: u16, topic: &str, alias: Option<u16>) -> Pkt {
    Pkt::Publish {
        dup: false,
        qos,
        pid,
        retain: false,
        topic: topic.into(),
        topic_alias: alias,
        payload: b"hostile".to_vec(),
    }
}

/// Resident set size of this process in KiB (Linux `/proc/self/status` VmRSS).
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

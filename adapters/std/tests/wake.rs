//! The loop's wait is woken by a `Client` on another thread: no broker needed (the
//! connection waits for a reconnect a minute away, so only a wake-up can end the wait).

use std::time::{Duration, Instant};

use mqtt_blocking::{Client, ClientError, Event, Options, QoS, StopReason};

/// A loopback port nobody listens on: connecting to it is refused at once.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn waiting_connection() -> (Client, mqtt_blocking::Connection) {
    let mut o = Options::new(&format!("mqtt://127.0.0.1:{}", closed_port()), "wake").unwrap();
    o.reconnect.initial_delay = mqtt_session::Duration::from_secs(60);
    o.reconnect.max_delay = mqtt_session::Duration::from_secs(60);
    o.reconnect.jitter_percent = 0;
    let (client, mut c) = Client::new(o).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < end, "no ReconnectScheduled");
        if let Some(Event::ReconnectScheduled { at, attempt }) =
            c.next_event(Duration::from_secs(1))
        {
            assert_eq!(attempt, 1);
            assert!(at > Instant::now() + Duration::from_secs(50));
            break;
        }
    }
    (client, c)
}

#[test]
fn a_client_command_wakes_the_blocked_loop() {
    let (client, mut c) = waiting_connection();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let sent = Instant::now();
        // QoS 1 queues while disconnected: the session takes it and gives a token.
        let mut r = client.publish("a/b", "x", QoS::AtLeastOnce, false).unwrap();
        let token = r.token(Duration::from_secs(5)).unwrap();
        let took = sent.elapsed();
        assert!(token.is_some());
        // QoS 0 while disconnected is the caller's fault, reported to the caller.
        let mut q0 = client.publish("a/b", "x", QoS::AtMostOnce, false).unwrap();
        assert_eq!(
            q0.wait(Duration::from_secs(5)),
            Err(ClientError::Rejected(mqtt_session::Error::NotConnected))
        );
        client.disconnect().unwrap();
        took
    });
    let start = Instant::now();
    let ev = c.next_event(Duration::from_secs(30));
    let took = worker.join().unwrap();
    assert!(
        took < Duration::from_millis(500),
        "command taken after {took:?}"
    );
    assert_eq!(
        ev,
        Some(Event::Stopped {
            reason: StopReason::ClientDisconnect
        })
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    // The queued publish stays in the session (it would resume on reconnect).
    assert_eq!(c.session().outstanding(), 1);
}

#[test]
fn dropping_the_last_client_ends_wait_event_once_stopped() {
    let (client, mut c) = waiting_connection();
    c.disconnect();
    assert_eq!(
        c.wait_event(),
        Some(Event::Stopped {
            reason: StopReason::ClientDisconnect
        })
    );
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(client);
    });
    let start = Instant::now();
    // Stopped and idle: only a client could restart it; once the last is gone, None.
    assert_eq!(c.wait_event(), None);
    assert!(start.elapsed() < Duration::from_secs(5));
    worker.join().unwrap();
    // Iteration ends too.
    assert_eq!(c.next(), None);
}

#[test]
fn idle_connection_memory_is_what_the_docs_say() {
    // The session value (protocol state and tables, without its heap buffers) and the
    // connection around it; the docs of the crate quote these bounds.
    let session = std::mem::size_of::<mqtt_transport::HostSession>();
    let connection = std::mem::size_of::<mqtt_blocking::Connection>();
    eprintln!("HostSession {session} B, Connection {connection} B");
    assert!(connection < 8 * 1024, "{connection}");
}

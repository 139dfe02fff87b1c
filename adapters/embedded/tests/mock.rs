//! Host tests of both clients over a scripted transport on virtual time.
//!
//! A script lists, per connection, what the client must write (exact bytes) and what the
//! "broker" answers; the mock panics on any byte the script did not expect. Time is
//! virtual: the timer jumps the clock to the deadline it is asked to wait for, so a
//! keepalive or backoff of seconds runs in microseconds, and every jump is recorded.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use mqtt_embedded::{BlockingClient, BlockingConnector, Client, Clock, Connector, Timer};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{
    ArenaStore, Config, ConnectionError, Event, Instant, ReconnectPolicy, Session, Token,
};

// ----- the script ------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    /// The client must write exactly these bytes next (possibly over several writes).
    Out(Vec<u8>),
    /// The broker sends these bytes.
    In(Vec<u8>),
    /// The broker closes the connection (read returns 0).
    Eof,
}
use Step::{Eof, In, Out};

#[derive(Default)]
struct World {
    /// Virtual time in ms.
    now: u64,
    /// One script per connection, in order.
    connections: VecDeque<VecDeque<Step>>,
    /// The script of the open connection.
    current: Option<VecDeque<Step>>,
    connects: u32,
    closes: u32,
    /// Every timer wait, as the deadline it was asked for.
    waits: Vec<u64>,
}

impl World {
    fn shared(connections: Vec<Vec<Step>>) -> Rc<RefCell<World>> {
        Rc::new(RefCell::new(World {
            connections: connections.into_iter().map(VecDeque::from).collect(),
            ..World::default()
        }))
    }

    fn write(&mut self, mut buf: &[u8]) {
        let now = self.now;
        let script = self.current.as_mut().expect("write on a closed transport");
        while !buf.is_empty() {
            match script.front_mut() {
                Some(Out(expected)) => {
                    let n = expected.len().min(buf.len());
                    assert_eq!(
                        &buf[..n],
                        &expected[..n],
                        "unexpected bytes written at t={now} ms"
                    );
                    expected.drain(..n);
                    buf = &buf[n..];
                    if expected.is_empty() {
                        script.pop_front();
                    }
                }
                other => {
                    panic!("client wrote {buf:02x?} at t={now} ms, the script expected {other:?}")
                }
            }
        }
    }

    /// `None`: nothing to read yet.
    fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        let script = self.current.as_mut()?;
        match script.front_mut() {
            Some(In(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.drain(..n);
                if bytes.is_empty() {
                    script.pop_front();
                }
                Some(n)
            }
            Some(Eof) => {
                script.pop_front();
                Some(0)
            }
            _ => None,
        }
    }

    fn open(&mut self) {
        self.connects += 1;
        assert!(
            self.current.as_ref().is_none_or(|s| s.is_empty()),
            "reopened before the script ended"
        );
        self.current = Some(
            self.connections
                .pop_front()
                .expect("a connection the script does not have"),
        );
    }

    fn close(&mut self) {
        self.closes += 1;
        if let Some(s) = self.current.take() {
            assert!(s.is_empty(), "closed with steps left: {s:?}");
        }
    }

    fn assert_done(&self) {
        assert!(
            self.connections.is_empty(),
            "connections left: {:?}",
            self.connections
        );
        if let Some(s) = &self.current {
            assert!(s.is_empty(), "steps left: {s:?}");
        }
    }
}

#[derive(Clone)]
struct Mock(Rc<RefCell<World>>);

#[derive(Debug)]
struct MockError;
impl core::fmt::Display for MockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("mock error")
    }
}
impl core::error::Error for MockError {}
impl embedded_io::Error for MockError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Mock {
    type Error = MockError;
}

impl embedded_io_async::Read for Mock {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        std::future::poll_fn(|_| match self.0.borrow_mut().read(buf) {
            Some(n) => Poll::Ready(Ok(n)),
            None => Poll::Pending,
        })
        .await
    }
}

impl embedded_io_async::Write for Mock {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        self.0.borrow_mut().write(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), MockError> {
        Ok(())
    }
}

impl embedded_io::Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        Ok(self
            .0
            .borrow_mut()
            .read(buf)
            .expect("read without read_ready"))
    }
}

impl embedded_io::ReadReady for Mock {
    fn read_ready(&mut self) -> Result<bool, MockError> {
        let w = self.0.borrow();
        Ok(matches!(
            w.current.as_ref().and_then(|s| s.front()),
            Some(In(_) | Eof)
        ))
    }
}

impl embedded_io::Write for Mock {
    fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        self.0.borrow_mut().write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), MockError> {
        Ok(())
    }
}

/// Counts connects and closes, and opens the next scripted connection.
struct MockConnector(Rc<RefCell<World>>);

impl Connector<Mock> for MockConnector {
    type Error = MockError;
    async fn connect(&mut self, _: &mut Mock) -> Result<(), MockError> {
        self.0.borrow_mut().open();
        Ok(())
    }
    async fn close(&mut self, _: &mut Mock) {
        self.0.borrow_mut().close();
    }
}

impl BlockingConnector<Mock> for MockConnector {
    type Error = MockError;
    fn connect(&mut self, _: &mut Mock) -> Result<(), MockError> {
        self.0.borrow_mut().open();
        Ok(())
    }
    fn close(&mut self, _: &mut Mock) {
        self.0.borrow_mut().close();
    }
}

/// Virtual clock: waiting jumps time to the deadline.
struct VClock(Rc<RefCell<World>>);

impl Clock for VClock {
    fn now(&self) -> Instant {
        Instant::from_millis(self.0.borrow().now)
    }
}

impl Timer for VClock {
    async fn wait_until(&mut self, deadline: Instant) {
        let mut w = self.0.borrow_mut();
        w.waits.push(deadline.as_millis());
        w.now = w.now.max(deadline.as_millis());
    }
}

/// Polls a future to completion; the mock never needs a real wake-up (a pending read
/// loses the race against the timer, which is always ready).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(x) = f.as_mut().poll(&mut cx) {
            return x;
        }
    }
    panic!("future did not complete");
}

// ----- packets (MQTT 3.1.1, written out byte by byte) -----------------------------------

/// CONNECT, 3.1.1, clean session, keepalive 30 s, client id "t1".
fn connect_311() -> Vec<u8> {
    vec![
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 30, 0, 2, b't', b'1',
    ]
}
const CONNACK_OK: [u8; 4] = [0x20, 2, 0, 0];

fn publish(qos: u8, id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0, topic.len() as u8];
    body.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut p = vec![0x30 | (qos << 1), body.len() as u8];
    p.extend(body);
    p
}

fn ack(kind: u8, id: u16) -> Vec<u8> {
    let [hi, lo] = id.to_be_bytes();
    vec![kind, 2, hi, lo]
}
const PUBACK: u8 = 0x40;
const PUBREC: u8 = 0x50;
const PUBREL: u8 = 0x62;
const PUBCOMP: u8 = 0x70;

fn config_311() -> Config<'static> {
    let mut c = Config::new("t1");
    c.version = ProtocolVersion::V3_1_1;
    c.keep_alive = 30;
    c.ping_timeout = mqtt_session::Duration::from_secs(5);
    c.reconnect = ReconnectPolicy {
        jitter_percent: 0,
        ..ReconnectPolicy::default()
    };
    c
}

type Sess = Session<ArenaStore<16, 1024>, [u8; 256], 4, 4>;

fn session(config: &Config<'_>) -> Sess {
    Session::new(config, ArenaStore::new(), [0; 256]).unwrap()
}

/// What the tests remember of an event (events borrow the session).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Connected,
    Lost(ConnectionError),
    Scheduled(u64),
    Message(String, Vec<u8>, QoS),
    Published(Token),
    Subscribed(Token, Vec<ReasonCode>),
    Stopped,
    Other(String),
}

fn seen(ev: Event<'_>) -> Seen {
    match ev {
        Event::Connected { .. } => Seen::Connected,
        Event::ConnectionLost { reason } => Seen::Lost(reason),
        Event::ReconnectScheduled { at, .. } => Seen::Scheduled(at.as_millis()),
        Event::Message(m) => Seen::Message(m.topic.into(), m.payload.into(), m.qos),
        Event::Published { token, .. } => Seen::Published(token),
        Event::Subscribed {
            token,
            reason_codes,
        } => Seen::Subscribed(token, reason_codes.iter().collect()),
        Event::Stopped { .. } => Seen::Stopped,
        other => Seen::Other(format!("{other:?}")),
    }
}

// ----- the async client --------------------------------------------------------------------

type AsyncClient<'t> =
    Client<'t, ArenaStore<16, 1024>, [u8; 256], Mock, MockConnector, VClock, 4, 4>;

fn async_client<'t>(
    world: &Rc<RefCell<World>>,
    tx: &'t mut [u8],
    config: &Config<'_>,
) -> AsyncClient<'t> {
    Client::new(
        session(config),
        Mock(world.clone()),
        MockConnector(world.clone()),
        VClock(world.clone()),
        tx,
    )
}

fn poll_async(client: &mut AsyncClient<'_>, log: &mut Vec<Seen>) {
    block_on(client.poll(|ev| log.push(seen(ev)))).unwrap();
}

#[test]
fn async_connect_subscribe_publish_all_qos_and_receive() {
    let topic = "t1/x";
    let world = World::shared(vec![vec![
        Out(connect_311()),
        In(CONNACK_OK.to_vec()),
        // SUBSCRIBE id 1, "t1/x" QoS 2; SUBACK granted 2.
        Out(vec![0x82, 9, 0, 1, 0, 4, b't', b'1', b'/', b'x', 2]),
        In(vec![0x90, 3, 0, 1, 2]),
        // QoS 0 out, echoed back by the broker.
        Out(publish(0, 0, topic, b"zero")),
        In(publish(0, 0, topic, b"zero")),
        // QoS 1 out (id 2), PUBACK; the echo comes in as QoS 1 id 7, acked by the client.
        Out(publish(1, 2, topic, b"one")),
        In(ack(PUBACK, 2)),
        In(publish(1, 7, topic, b"one")),
        Out(ack(PUBACK, 7)),
        // QoS 2 out (id 3): PUBREC, PUBREL, PUBCOMP.
        Out(publish(2, 3, topic, b"two")),
        In(ack(PUBREC, 3)),
        Out(ack(PUBREL, 3)),
        In(ack(PUBCOMP, 3)),
        // QoS 2 in (id 8): PUBREC out, PUBREL in, PUBCOMP out.
        In(publish(2, 8, topic, b"two")),
        Out(ack(PUBREC, 8)),
        In(ack(PUBREL, 8)),
        Out(ack(PUBCOMP, 8)),
        // Clean disconnect.
        Out(vec![0xE0, 0]),
    ]]);
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    let mut log = Vec::new();

    c.connect();
    poll_async(&mut c, &mut log); // opens, sends CONNECT, reads CONNACK
    assert_eq!(log, [Seen::Connected]);
    assert!(c.is_transport_up());
    assert_eq!(world.borrow().connects, 1);

    let sub = c.subscribe(topic, QoS::ExactlyOnce).unwrap();
    poll_async(&mut c, &mut log);
    assert_eq!(log[1], Seen::Subscribed(sub, vec![ReasonCode::GrantedQoS2]));

    assert_eq!(
        c.publish(topic, b"zero", QoS::AtMostOnce, false).unwrap(),
        None
    );
    poll_async(&mut c, &mut log);
    assert_eq!(
        log[2],
        Seen::Message(topic.into(), b"zero".to_vec(), QoS::AtMostOnce)
    );

    let t1 = c
        .publish(topic, b"one", QoS::AtLeastOnce, false)
        .unwrap()
        .unwrap();
    while log.len() < 5 {
        poll_async(&mut c, &mut log);
    }
    assert_eq!(
        log[3..5],
        [
            Seen::Published(t1),
            Seen::Message(topic.into(), b"one".to_vec(), QoS::AtLeastOnce)
        ]
    );

    let t2 = c
        .publish(topic, b"two", QoS::ExactlyOnce, false)
        .unwrap()
        .unwrap();
    while log.len() < 7 {
        poll_async(&mut c, &mut log);
    }
    assert_eq!(
        log[5..7],
        [
            Seen::Published(t2),
            Seen::Message(topic.into(), b"two".to_vec(), QoS::ExactlyOnce)
        ]
    );
    // Let the PUBREL in and the PUBCOMP out.
    poll_async(&mut c, &mut log);
    assert_eq!(c.session().incoming_pending(), 0);

    c.disconnect();
    poll_async(&mut c, &mut log);
    assert_eq!(log[7], Seen::Lost(ConnectionError::ClientDisconnect));
    assert_eq!(log.last(), Some(&Seen::Stopped));
    assert!(!c.is_transport_up());
    let w = world.borrow();
    assert_eq!((w.connects, w.closes), (1, 1));
    w.assert_done();
    // Everything ran at t=0: no timer fired.
    assert_eq!(w.now, 0);
}

#[test]
fn async_keepalive_pings_when_idle_and_reconnects_through_the_connector() {
    let world = World::shared(vec![
        vec![
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
            // Idle for the keepalive: PINGREQ, PINGRESP.
            Out(vec![0xC0, 0]),
            In(vec![0xD0, 0]),
            // Idle again: PINGREQ and no answer: the ping timeout ends the connection.
            Out(vec![0xC0, 0]),
        ],
        vec![
            // The second connection, opened by the connector after the backoff.
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
        ],
    ]);
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    let mut log = Vec::new();
    c.connect();
    poll_async(&mut c, &mut log);
    assert_eq!(log, [Seen::Connected]);

    // Nothing to read: the client waits for the keepalive deadline and pings.
    poll_async(&mut c, &mut log);
    assert_eq!(world.borrow().now, 30_000, "PINGREQ after keep alive");
    poll_async(&mut c, &mut log); // reads the PINGRESP
    assert_eq!(log, [Seen::Connected]);

    // Second ping at 60 s, unanswered: lost at 65 s (ping timeout 5 s).
    while !log.iter().any(|s| matches!(s, Seen::Lost(_))) {
        poll_async(&mut c, &mut log);
    }
    assert_eq!(log[1], Seen::Lost(ConnectionError::KeepAliveTimeout));
    assert_eq!(world.borrow().now, 65_000);
    assert_eq!(
        log[2],
        Seen::Scheduled(66_000),
        "first retry after 1 s, no jitter"
    );
    assert_eq!(world.borrow().closes, 1, "the dead transport was closed");

    // The backoff timer fires, the session asks for a transport, the connector opens it.
    while log.len() < 4 {
        poll_async(&mut c, &mut log);
    }
    assert_eq!(log[3], Seen::Connected);
    let w = world.borrow();
    assert_eq!(w.connects, 2);
    assert_eq!(w.now, 66_000);
    assert_eq!(w.waits, [30_000, 60_000, 65_000, 66_000]);
    w.assert_done();
}

#[test]
fn async_transport_eof_reconnects_and_resends_unacknowledged_qos1() {
    let topic = "t1/x";
    let world = World::shared(vec![
        vec![
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
            Out(publish(1, 1, topic, b"q1")),
            Eof,
        ],
        vec![
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
            // Clean session: the server lost it; the session resends as new (same id here).
            Out(publish(1, 1, topic, b"q1")),
            In(ack(PUBACK, 1)),
        ],
    ]);
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    let mut log = Vec::new();
    c.connect();
    poll_async(&mut c, &mut log);
    let token = c
        .publish(topic, b"q1", QoS::AtLeastOnce, false)
        .unwrap()
        .unwrap();
    while !log.contains(&Seen::Published(token)) {
        poll_async(&mut c, &mut log);
        assert!(log.len() < 10, "{log:?}");
    }
    assert_eq!(
        log,
        [
            Seen::Connected,
            Seen::Lost(ConnectionError::TransportClosed),
            Seen::Scheduled(1_000),
            Seen::Connected,
            Seen::Published(token),
        ]
    );
    assert_eq!(world.borrow().connects, 2);
    world.borrow().assert_done();
}

#[test]
fn async_tx_buffer_too_small_names_the_size() {
    let world = World::shared(vec![vec![]]);
    let mut tx = [0u8; 8];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    c.connect();
    let err = block_on(c.poll(|_| {})).unwrap_err();
    assert_eq!(err, mqtt_embedded::Error::TxBufferTooSmall { required: 16 });
}

#[test]
fn async_poll_returns_when_idle() {
    let world = World::shared(vec![]);
    let mut tx = [0u8; 64];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    // Never connected: nothing to wait for, poll returns at once.
    block_on(c.poll(|_| panic!("no event expected"))).unwrap();
    assert_eq!(world.borrow().connects, 0);
}

/// A connector that fails its first attempts: the session backs off and retries.
struct Flaky {
    world: Rc<RefCell<World>>,
    failures: u32,
}

impl Connector<Mock> for Flaky {
    type Error = MockError;
    async fn connect(&mut self, _: &mut Mock) -> Result<(), MockError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(MockError);
        }
        self.world.borrow_mut().open();
        Ok(())
    }
}

#[test]
fn async_connector_failures_back_off_per_the_session_policy() {
    let world = World::shared(vec![vec![Out(connect_311()), In(CONNACK_OK.to_vec())]]);
    let mut tx = [0u8; 64];
    let config = config_311();
    let mut c = Client::new(
        session(&config),
        Mock(world.clone()),
        Flaky {
            world: world.clone(),
            failures: 2,
        },
        VClock(world.clone()),
        &mut tx,
    );
    let mut log = Vec::new();
    c.connect();
    while !log.contains(&Seen::Connected) {
        block_on(c.poll(|ev| log.push(seen(ev)))).unwrap();
        assert!(log.len() < 10, "{log:?}");
    }
    // Backoff 1 s then 2 s (multiplier 2, no jitter).
    assert_eq!(
        log,
        [
            Seen::Lost(ConnectionError::TransportClosed),
            Seen::Scheduled(1_000),
            Seen::Lost(ConnectionError::TransportClosed),
            Seen::Scheduled(3_000),
            Seen::Connected,
        ]
    );
    world.borrow().assert_done();
}

// ----- the blocking client -----------------------------------------------------------------

type BlockingMockClient<'t> =
    BlockingClient<'t, ArenaStore<16, 1024>, [u8; 256], Mock, MockConnector, VClock, 4, 4>;

fn blocking_client<'t>(
    world: &Rc<RefCell<World>>,
    tx: &'t mut [u8],
    config: &Config<'_>,
) -> BlockingMockClient<'t> {
    BlockingClient::new(
        session(config),
        Mock(world.clone()),
        MockConnector(world.clone()),
        VClock(world.clone()),
        tx,
    )
}

#[test]
fn blocking_connect_publish_receive_ping_and_reconnect() {
    let topic = "t1/x";
    let world = World::shared(vec![
        vec![
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
            Out(vec![0x82, 9, 0, 1, 0, 4, b't', b'1', b'/', b'x', 1]),
            In(vec![0x90, 3, 0, 1, 1]),
            Out(publish(1, 2, topic, b"b1")),
            In(ack(PUBACK, 2)),
            In(publish(1, 5, topic, b"b1")),
            Out(ack(PUBACK, 5)),
            Out(vec![0xC0, 0]),
            In(vec![0xD0, 0]),
            Eof,
        ],
        vec![
            Out(connect_311()),
            In(CONNACK_OK.to_vec()),
            // The server lost the session (clean session): the session subscribes again.
            Out(vec![0x82, 9, 0, 3, 0, 4, b't', b'1', b'/', b'x', 1]),
            In(vec![0x90, 3, 0, 3, 1]),
            Out(vec![0xE0, 0]),
        ],
    ]);
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = blocking_client(&world, &mut tx, &config);
    let mut log = Vec::new();
    c.connect();
    let next = c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(log, [Seen::Connected]);
    assert_eq!(
        next,
        Some(Instant::from_millis(30_000)),
        "next deadline: keepalive"
    );

    let sub = c.subscribe(topic, QoS::AtLeastOnce).unwrap();
    c.poll(|ev| log.push(seen(ev))).unwrap();
    let token = c
        .publish(topic, b"b1", QoS::AtLeastOnce, false)
        .unwrap()
        .unwrap();
    c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(
        log[1..],
        [
            Seen::Subscribed(sub, vec![ReasonCode::GrantedQoS1]),
            Seen::Published(token),
            Seen::Message(topic.into(), b"b1".to_vec(), QoS::AtLeastOnce),
        ]
    );

    // Polling before the deadline does nothing; at the deadline it pings.
    let next = c.poll(|ev| log.push(seen(ev))).unwrap().unwrap();
    assert_eq!(log.len(), 4);
    world.borrow_mut().now = next.as_millis();
    c.poll(|ev| log.push(seen(ev))).unwrap(); // PINGREQ out
    c.poll(|ev| log.push(seen(ev))).unwrap(); // PINGRESP in, then EOF
    assert_eq!(
        log[4..],
        [
            Seen::Lost(ConnectionError::TransportClosed),
            Seen::Scheduled(next.as_millis() + 1_000)
        ]
    );

    let next = c.poll(|ev| log.push(seen(ev))).unwrap().unwrap();
    world.borrow_mut().now = next.as_millis();
    c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(log[6], Seen::Connected);
    assert_eq!(world.borrow().connects, 2);
    c.poll(|ev| log.push(seen(ev))).unwrap(); // the SUBACK of the resubscribe
    assert!(matches!(&log[7], Seen::Subscribed(_, codes) if codes == &[ReasonCode::GrantedQoS1]));

    c.disconnect();
    c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(log.last(), Some(&Seen::Stopped));
    assert_eq!(world.borrow().closes, 2);
    world.borrow().assert_done();
}

// ----- QoS 0 straight into the transmit buffer ---------------------------------------------

/// Ten QoS 0 messages published between two polls, then a QoS 1 one: the script of a
/// connection that sees them in that order (the outbox holds 4 operations).
fn burst_script() -> Vec<Vec<Step>> {
    let mut steps = vec![Out(connect_311()), In(CONNACK_OK.to_vec())];
    for i in 0..10u8 {
        steps.push(Out(publish(0, 0, "t1/x", &[b'm', b'0' + i])));
    }
    steps.push(Out(publish(1, 1, "t1/x", b"q1")));
    steps.push(In(ack(PUBACK, 1)));
    vec![steps]
}

/// Publishes what [`burst_script`] expects through `publish`: ten QoS 0 messages, none
/// refused, then the QoS 1 one, whose token it returns.
fn publish_burst(
    mut publish: impl FnMut(&[u8], QoS) -> Result<Option<Token>, mqtt_session::Error>,
) -> Token {
    for i in 0..10u8 {
        assert_eq!(
            publish(&[b'm', b'0' + i], QoS::AtMostOnce),
            Ok(None),
            "QoS 0 message {i}"
        );
    }
    publish(b"q1", QoS::AtLeastOnce).unwrap().unwrap()
}

/// A QoS 0 burst larger than the outbox (4 here) is never refused as `Full` while the
/// transmit buffer has room: each message is written into it at once and the next poll
/// sends them, in publish order, before the QoS 1 message published after them.
#[test]
fn async_qos0_burst_beyond_the_outbox_is_sent_in_order() {
    let world = World::shared(burst_script());
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = async_client(&world, &mut tx, &config);
    let mut log = Vec::new();
    c.connect();
    poll_async(&mut c, &mut log);
    assert_eq!(log, [Seen::Connected]);
    let token = publish_burst(|payload, qos| c.publish("t1/x", payload, qos, false));
    assert_eq!(
        c.session().outstanding(),
        1,
        "only the QoS 1 message takes a slot"
    );
    poll_async(&mut c, &mut log);
    assert_eq!(log[1..], [Seen::Published(token)]);
    world.borrow().assert_done();
}

/// [`async_qos0_burst_beyond_the_outbox_is_sent_in_order`] for the blocking client.
#[test]
fn blocking_qos0_burst_beyond_the_outbox_is_sent_in_order() {
    let world = World::shared(burst_script());
    let mut tx = [0u8; 128];
    let config = config_311();
    let mut c = blocking_client(&world, &mut tx, &config);
    let mut log = Vec::new();
    c.connect();
    c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(log, [Seen::Connected]);
    let token = publish_burst(|payload, qos| c.publish("t1/x", payload, qos, false));
    assert_eq!(
        c.session().outstanding(),
        1,
        "only the QoS 1 message takes a slot"
    );
    c.poll(|ev| log.push(seen(ev))).unwrap();
    assert_eq!(log[1..], [Seen::Published(token)]);
    world.borrow().assert_done();
}

//! The full round trip over the emulated UART to a real broker, MQTT 5.0: connect,
//! subscribe to its own topic at QoS 2, publish at QoS 0, 1 and 2, receive the three
//! messages back and check their payloads, disconnect cleanly, and exit through
//! semihosting with 0 (1 on any failure, or after 20 s).
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use mqtt_embedded::{AlwaysOpen, Client};
use mqtt_embedded_firmware::{
    SysTickClock, Uart, block_on, exit, millis, paint_stack, println, stack_used, start_systick,
    static_ram,
};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{ArenaStore, Config, ConnectionError, Event, Session, StopReason, Token};

/// The embedded configuration of `mqtt-session/examples/sizes.rs`.
type Sess = Session<ArenaStore<24, 2048>, [u8; 1024], 8, 8>;

const TOPIC: &str = "mqtt-embedded/qemu/full";
const PAYLOADS: [&[u8]; 3] = [b"full qos0", b"full qos1", b"full qos2"];
const TIMEOUT_MS: u64 = 20_000;

#[entry]
fn main() -> ! {
    paint_stack();
    let cp = cortex_m::Peripherals::take().unwrap();
    start_systick(cp.SYST);
    let uart = Uart::uart0(115_200);
    let fut = run(uart);
    let future_size = core::mem::size_of_val(&fut);
    let result = block_on(fut, millis() + TIMEOUT_MS).unwrap_or(Err("timeout"));
    println!(
        "stack used: {} bytes (the client future: {} bytes, the session: {} bytes), static RAM: {} bytes",
        stack_used(),
        future_size,
        core::mem::size_of::<Sess>(),
        static_ram()
    );
    match result {
        Ok(()) => {
            println!(
                "PASS full: connected, subscribed, QoS 0/1/2 published and received, disconnected in {} ms",
                millis()
            );
            exit(true)
        }
        Err(why) => {
            println!("FAIL full: {}", why);
            exit(false)
        }
    }
}

/// What the events said so far.
#[derive(Default)]
struct Seen {
    connected: bool,
    subscribed: Option<Token>,
    published: [Option<Token>; 2],
    received: [bool; 3],
    stopped: bool,
    error: Option<&'static str>,
}

impl Seen {
    fn on(&mut self, ev: Event<'_>) {
        match ev {
            Event::Connected { .. } => self.connected = true,
            Event::Subscribed {
                token,
                reason_codes,
            } => {
                if reason_codes.iter().eq([ReasonCode::GrantedQoS2]) {
                    self.subscribed = Some(token);
                } else {
                    self.error = Some("subscription not granted at QoS 2");
                }
            }
            Event::Published { token, reason_code } => {
                if reason_code.is_error() {
                    self.error = Some("publish refused");
                } else if let Some(slot) = self.published.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(token);
                }
            }
            Event::Message(m) => {
                let i = m.qos as usize;
                if m.topic == TOPIC && m.payload == PAYLOADS[i] && !self.received[i] {
                    self.received[i] = true;
                } else {
                    self.error = Some("unexpected message");
                }
            }
            Event::ConnectionLost {
                reason: ConnectionError::ClientDisconnect,
            } => {}
            Event::ConnectionLost { .. } => self.error = Some("connection lost"),
            Event::Stopped {
                reason: StopReason::ClientDisconnect,
            } => self.stopped = true,
            Event::Stopped { .. } => self.error = Some("stopped"),
            Event::Lost { .. } => self.error = Some("operation lost"),
            _ => {}
        }
    }
}

async fn run(uart: Uart) -> Result<(), &'static str> {
    let mut config = Config::new("qemu-full");
    config.version = ProtocolVersion::V5;
    config.keep_alive = 10;
    // A UART carries one byte stream: nothing to reconnect to.
    config.reconnect.enabled = false;
    let session: Sess =
        Session::new(&config, ArenaStore::new(), [0; 1024]).map_err(|_| "session")?;
    let mut tx = [0u8; 1024];
    let mut client = Client::new(session, uart, AlwaysOpen, SysTickClock, &mut tx);
    let mut seen = Seen::default();

    client.connect();
    while !seen.connected {
        step(&mut client, &mut seen).await?;
    }
    let sub = client
        .subscribe(TOPIC, QoS::ExactlyOnce)
        .map_err(|_| "subscribe")?;
    while seen.subscribed != Some(sub) {
        step(&mut client, &mut seen).await?;
    }
    let mut tokens = [None; 2];
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let token = client
            .publish(TOPIC, PAYLOADS[i], qos, false)
            .map_err(|_| "publish")?;
        if i > 0 {
            tokens[i - 1] = token;
        }
    }
    while seen.received != [true; 3]
        || seen.published != tokens
        || client.session().incoming_pending() > 0
    {
        step(&mut client, &mut seen).await?;
    }
    client.disconnect();
    while !seen.stopped {
        step(&mut client, &mut seen).await?;
    }
    if client.is_transport_up() {
        return Err("transport still open after the disconnect");
    }
    Ok(())
}

type FullClient<'t> =
    Client<'t, ArenaStore<24, 2048>, [u8; 1024], Uart, AlwaysOpen, SysTickClock, 8, 8>;

async fn step(client: &mut FullClient<'_>, seen: &mut Seen) -> Result<(), &'static str> {
    client.poll(|ev| seen.on(ev)).await.map_err(|_| "poll")?;
    match seen.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

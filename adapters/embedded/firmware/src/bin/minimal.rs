//! The minimal firmware for the footprint (MQTT 3.1.1): connect, subscribe at QoS 1,
//! publish one QoS 1 message, wait for its PUBACK and for the message to come back,
//! exit through semihosting with 0 (1 on any failure, or after 20 s).
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use mqtt_embedded::{AlwaysOpen, Client};
use mqtt_embedded_firmware::{
    SysTickClock, Uart, block_on, exit, millis, paint_stack, println, stack_used, start_systick,
    static_ram,
};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::{ArenaStore, Config, Event, Session};

type Sess = Session<ArenaStore<8, 512>, [u8; 256], 2, 2>;

const TOPIC: &str = "mqtt-embedded/qemu/minimal";
const PAYLOAD: &[u8] = b"minimal qos1";

#[entry]
fn main() -> ! {
    paint_stack();
    let cp = cortex_m::Peripherals::take().unwrap();
    start_systick(cp.SYST);
    let fut = run(Uart::uart0(115_200));
    let future_size = core::mem::size_of_val(&fut);
    let ok = block_on(fut, millis() + 20_000).unwrap_or(false);
    println!(
        "stack used: {} bytes (the client future: {} bytes, the session: {} bytes), static RAM: {} bytes",
        stack_used(),
        future_size,
        core::mem::size_of::<Sess>(),
        static_ram()
    );
    println!("{} minimal", if ok { "PASS" } else { "FAIL" });
    exit(ok)
}

async fn run(uart: Uart) -> bool {
    let mut config = Config::new("qemu-minimal");
    config.version = ProtocolVersion::V3_1_1;
    config.reconnect.enabled = false;
    let Ok(session) = Sess::new(&config, ArenaStore::new(), [0; 256]) else {
        return false;
    };
    let mut tx = [0u8; 256];
    let mut client = Client::new(session, uart, AlwaysOpen, SysTickClock, &mut tx);
    client.connect();
    let (mut connected, mut subscribed, mut published, mut received, mut failed) =
        (false, false, false, false, false);
    let mut step = 0;
    while !failed && (!published || !received) {
        if client
            .poll(|ev| match ev {
                Event::Connected { .. } => connected = true,
                Event::Subscribed { .. } => subscribed = true,
                Event::Published { reason_code, .. } => published = !reason_code.is_error(),
                Event::Message(m) => received = m.topic == TOPIC && m.payload == PAYLOAD,
                Event::ConnectionLost { .. } | Event::Stopped { .. } | Event::Lost { .. } => {
                    failed = true
                }
                _ => {}
            })
            .await
            .is_err()
        {
            return false;
        }
        if step == 0 && connected {
            step = 1;
            failed |= client.subscribe(TOPIC, QoS::AtLeastOnce).is_err();
        }
        if step == 1 && subscribed {
            step = 2;
            failed |= client
                .publish(TOPIC, PAYLOAD, QoS::AtLeastOnce, false)
                .is_err();
        }
    }
    !failed
}

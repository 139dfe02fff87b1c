//! The minimal firmware built with minimq (crates.io) instead of this project's client,
//! for the footprint comparison: the same runtime, UART, SysTick and executor; connect,
//! subscribe at QoS 1, publish one QoS 1 message, wait for its PUBACK and for the
//! message to come back, exit through semihosting. minimq speaks MQTT 5.0 only and
//! reads time through embassy-time, whose driver here is the SysTick counter.
#![no_std]
#![no_main]

use core::task::Waker;

use cortex_m_rt::entry;
use minimq::{Buffers, ConfigBuilder, Publication, QoS, SubscriptionOptions, TopicFilter};
use mqtt_embedded_firmware::{
    Uart, block_on, exit, millis, paint_stack, println, stack_used, start_systick, static_ram,
};

const TOPIC: &str = "mqtt-embedded/qemu/minimq";
const PAYLOAD: &[u8] = b"minimq qos1";

/// embassy-time's clock is the SysTick counter; wake-ups are immediate because the
/// executor spins.
struct SysTickDriver;

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        millis() * (embassy_time_driver::TICK_HZ / 1000)
    }

    fn schedule_wake(&self, _at: u64, waker: &Waker) {
        waker.wake_by_ref();
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver);

#[entry]
fn main() -> ! {
    paint_stack();
    let cp = cortex_m::Peripherals::take().unwrap();
    start_systick(cp.SYST);
    let fut = run(Uart::uart0(115_200));
    let future_size = core::mem::size_of_val(&fut);
    let ok = block_on(fut, millis() + 20_000).unwrap_or(false);
    println!(
        "stack used: {} bytes (the client future: {} bytes), static RAM: {} bytes",
        stack_used(),
        future_size,
        static_ram()
    );
    println!("{} minimq", if ok { "PASS" } else { "FAIL" });
    exit(ok)
}

async fn run(uart: Uart) -> bool {
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 512];
    let Ok(config) = ConfigBuilder::new(Buffers::new(&mut rx, &mut tx)).client_id("qemu-minimq")
    else {
        return false;
    };
    let mut session = minimq::Session::new(config);
    let Ok(mut conn) = session.connect(uart).await else {
        return false;
    };
    let filter = TopicFilter::new(TOPIC)
        .options(SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce));
    let Ok(sub) = conn.subscribe(&[filter], &[]).await else {
        return false;
    };
    while !conn.is_complete(&sub) {
        if conn.poll().await.is_err() {
            return false;
        }
    }
    let Ok(Some(op)) = conn
        .publish(Publication::bytes(TOPIC, PAYLOAD).qos(QoS::AtLeastOnce))
        .await
    else {
        return false;
    };
    let mut received = false;
    while !(received && conn.is_complete(&op)) {
        match conn.poll().await {
            Ok(Some(m)) => received = m.topic() == TOPIC && m.payload() == PAYLOAD,
            Ok(None) => {}
            Err(_) => return false,
        }
    }
    true
}

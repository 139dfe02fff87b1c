//! The baseline: the same runtime, UART, SysTick, executor, panic handler and reports as
//! the MQTT firmware, without MQTT. The footprint table subtracts it to show what the
//! MQTT client itself costs. It echoes nothing and exits with 0.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use embedded_io_async::Write;
use mqtt_embedded_firmware::{
    Uart, block_on, exit, millis, paint_stack, println, stack_used, start_systick, static_ram,
};

#[entry]
fn main() -> ! {
    paint_stack();
    let cp = cortex_m::Peripherals::take().unwrap();
    start_systick(cp.SYST);
    let mut uart = Uart::uart0(115_200);
    let ok = block_on(
        async { uart.write_all(b"").await.is_ok() },
        millis() + 1_000,
    )
    .unwrap_or(false);
    println!(
        "stack used: {} bytes, static RAM: {} bytes",
        stack_used(),
        static_ram()
    );
    exit(ok)
}

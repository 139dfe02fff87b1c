//! What every firmware binary shares: the CMSDK UART0 driver (the MQTT transport), the
//! SysTick clock, a spinning `block_on` with a deadline, stack painting, and the exit
//! through semihosting.
//!
//! The board is QEMU's `mps2-an386` (Cortex-M4F at 25 MHz, CMSDK APB UART0 at
//! 0x4000_4000). QEMU connects UART0 to a TCP socket (`-serial tcp:127.0.0.1:PORT`), so
//! the bytes written to the data register reach a real broker on the host.
#![no_std]

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Context, Poll, Waker};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use cortex_m_semihosting::debug;

/// The core clock of the MPS2 AN386 image.
pub const CPU_HZ: u32 = 25_000_000;

// ----- time: SysTick every millisecond ----------------------------------------------------

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Starts the 1 ms SysTick interrupt from the core clock.
pub fn start_systick(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CPU_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Milliseconds since `start_systick`.
pub fn millis() -> u64 {
    u64::from(MILLIS.load(Ordering::Relaxed))
}

/// The SysTick clock as the adapter's `Clock` and `Timer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SysTickClock;

impl mqtt_embedded::Clock for SysTickClock {
    fn now(&self) -> mqtt_session::Instant {
        mqtt_session::Instant::from_millis(millis())
    }
}

impl mqtt_embedded::Timer for SysTickClock {
    async fn wait_until(&mut self, deadline: mqtt_session::Instant) {
        core::future::poll_fn(|cx| {
            if millis() >= deadline.as_millis() {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}

// ----- the CMSDK APB UART -----------------------------------------------------------------

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// The CMSDK APB UART: a data register, a state register (TX buffer full, RX buffer
/// full), a control register (TX/RX enable) and a baud divider. One byte of buffer each
/// way, polled; QEMU holds back further input until the byte is read, so nothing is lost.
#[derive(Debug)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// UART0 of the MPS2, enabled at `baud`.
    pub fn uart0(baud: u32) -> Self {
        let uart = Uart { base: 0x4000_4000 };
        uart.write_reg(BAUDDIV, CPU_HZ / baud);
        uart.write_reg(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        uart
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: an aligned, always-mapped device register of the UART.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: an aligned, always-mapped device register of the UART.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn rx_ready(&self) -> bool {
        self.read_reg(STATE) & STATE_RX_FULL != 0
    }

    fn tx_full(&self) -> bool {
        self.read_reg(STATE) & STATE_TX_FULL != 0
    }

    /// Reads what is buffered now, at most `buf.len()` bytes.
    fn read_now(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        for b in buf.iter_mut() {
            if !self.rx_ready() {
                break;
            }
            *b = self.read_reg(DATA) as u8;
            n += 1;
        }
        n
    }

    /// Writes what fits now.
    fn write_now(&mut self, buf: &[u8]) -> usize {
        let mut n = 0;
        for &b in buf {
            if self.tx_full() {
                break;
            }
            self.write_reg(DATA, u32::from(b));
            n += 1;
        }
        n
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for Uart {
    /// Cancel-safe: a byte leaves the UART only when it is returned.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        core::future::poll_fn(|cx| match self.read_now(buf) {
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }
}

impl embedded_io_async::Write for Uart {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        core::future::poll_fn(|cx| match self.write_now(buf) {
            0 => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        while !buf.is_empty() && !self.rx_ready() {}
        Ok(self.read_now(buf))
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.rx_ready())
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        while !buf.is_empty() && self.tx_full() {}
        Ok(self.write_now(buf))
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

// ----- executor, exit, stack -----------------------------------------------------------------

/// Polls `f` until it completes or the SysTick clock passes `deadline_ms`. No interrupt
/// wakes a task here, so it spins (the UART has no interrupt wired).
pub fn block_on<F: Future>(f: F, deadline_ms: u64) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(x) = f.as_mut().poll(&mut cx) {
            return Some(x);
        }
        if millis() > deadline_ms {
            return None;
        }
    }
}

/// Ends the emulation: QEMU exits with 0 for `true` and 1 for `false`.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Prints a line on the host's console (semihosting).
#[macro_export]
macro_rules! println {
    ($($t:tt)*) => { cortex_m_semihosting::hprintln!($($t)*) };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m_semihosting::hprintln!("FAIL: panic: {}", info);
    exit(false)
}

const PAINT: u32 = 0x5A5A_A5A5;

unsafe extern "C" {
    static mut __sheap: u32;
    static mut _stack_start: u32;
}

fn stack_bottom() -> usize {
    core::ptr::addr_of!(__sheap) as usize
}

fn stack_top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// Fills the free stack (from the end of static RAM to just below the current stack
/// pointer) with a pattern, for [`stack_used`]. Call first thing in `main`.
#[inline(never)]
pub fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = stack_bottom();
    while p + 64 < sp {
        // SAFETY: between the end of .bss/.uninit and the live stack: unused RAM.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// The deepest the stack has reached since [`paint_stack`], in bytes from its top.
pub fn stack_used() -> usize {
    let mut p = stack_bottom();
    // SAFETY: reads of RAM between the end of static data and the stack top.
    while p < stack_top() && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    stack_top() - p
}

/// Static RAM (.data + .bss + .uninit) as the linker laid it out.
pub fn static_ram() -> usize {
    stack_bottom() - 0x2000_0000
}

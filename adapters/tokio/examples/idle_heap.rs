//! Live heap per idle connection, counted by a global allocator (the RSS figure of
//! `mqttc bench --idle` also includes allocator slack and the kernel's socket buffers).
//!
//! ```text
//! cargo run --release -p mqtt-tokio --example idle_heap -- [PORT] [N] [311|5]
//! ```
//!
//! Opens N (default 1000) connections to a broker on 127.0.0.1:PORT (default 1883), waits
//! until they are all connected, and prints the live heap per connection and, per
//! allocation size, how many live blocks each connection holds.
#![allow(unsafe_code)] // the counting GlobalAlloc below

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// Live bytes over all allocations.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Sizes in 8-byte steps up to 64 KiB; the last bucket holds everything above.
const BUCKETS: usize = 8 * 1024 + 1;
static BY_SIZE: [AtomicIsize; BUCKETS] = [const { AtomicIsize::new(0) }; BUCKETS];
/// Allocations made (freed or not) per size bucket: the transient ones that leave holes
/// in the heap, which count in the resident figure but not in the live one.
static MADE: [AtomicIsize; BUCKETS] = [const { AtomicIsize::new(0) }; BUCKETS];

fn bucket(size: usize) -> usize {
    size.div_ceil(8).min(BUCKETS - 1)
}

/// The system allocator, counting.
struct Counting;

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            BY_SIZE[bucket(layout.size())].fetch_add(1, Ordering::Relaxed);
            MADE[bucket(layout.size())].fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BY_SIZE[bucket(layout.size())].fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            BY_SIZE[bucket(layout.size())].fetch_sub(1, Ordering::Relaxed);
            BY_SIZE[bucket(new_size)].fetch_add(1, Ordering::Relaxed);
            MADE[bucket(new_size)].fetch_add(1, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn snapshot() -> Vec<isize> {
    BY_SIZE.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

fn made() -> Vec<isize> {
    MADE.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).map_or(Ok(1883), |s| s.parse())?;
    let n: usize = args.get(2).map_or(Ok(1000), |s| s.parse())?;
    let v311 = args.get(3).is_some_and(|s| s == "311");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Warm up the runtime and the allocator's per-thread state with one connection.
        let url = format!("mqtt://127.0.0.1:{port}");
        let open = |i: usize| -> Result<_, Box<dyn std::error::Error>> {
            let mut o = mqtt_tokio::Options::new(&url, format!("idle-heap-{i}"))?;
            o.keep_alive = 60;
            if v311 {
                o.version = mqtt_proto::ProtocolVersion::V3_1_1;
            }
            Ok(mqtt_tokio::connect(o, Default::default())?)
        };
        let warm = open(usize::MAX)?;
        let _ = warm.0.connected().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (live0, sizes0, made0) = (LIVE.load(Ordering::Relaxed), snapshot(), made());
        let mut clients = Vec::with_capacity(n);
        for i in 0..n {
            clients.push(open(i)?);
        }
        for (c, _) in &clients {
            let _ = c.connected().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (live1, sizes1) = (LIVE.load(Ordering::Relaxed), snapshot());
        let up = clients
            .iter()
            .filter(|(c, _)| matches!(c.state(), mqtt_tokio::State::Connected { .. }))
            .count();
        println!(
            "{up} of {n} connected; live heap per connection: {} bytes",
            (live1 - live0) / n as isize
        );
        println!("per connection: blocks x size (bytes, rounded up to 8)");
        for (i, (a, b)) in sizes0.iter().zip(&sizes1).enumerate() {
            let d = b - a;
            if d != 0 && d.unsigned_abs() * 10 >= n {
                let size = if i == BUCKETS - 1 {
                    ">64K".to_string()
                } else {
                    (i * 8).to_string()
                };
                println!("  {:>6.2} x {size}", d as f64 / n as f64);
            }
        }
        println!(
            "per connection, allocations of 1 KiB or more made while connecting (live or not):"
        );
        for (i, (a, b)) in made0.iter().zip(&made()).enumerate().skip(128) {
            let d = b - a;
            if d != 0 && d.unsigned_abs() * 10 >= n {
                println!("  {:>6.2} x {}", d as f64 / n as f64, i * 8);
            }
        }
        drop(clients);
        drop(warm);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

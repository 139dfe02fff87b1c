//! Deterministic simulation of one client session against the broker model over a faulty
//! link (see `mqtt_tests::sim` for what each seed does and every invariant checked).
//!
//! - `cargo test -p mqtt-tests --test simulation`: seeds `0..1000` (`SIM_SEEDS=n` for
//!   `0..n`, `SIM_SEED_START=k` to start elsewhere), spread over the available cores.
//! - `SIM_SEED=n cargo test -p mqtt-tests --test simulation`: seed `n` alone, printing
//!   its last steps (`SIM_TRACE=lines`, default 200) whether it passes or fails.
//! - `tests/run-sim-long.sh`: 100,000 seeds in release.
//!
//! A failing seed prints its number, its parameters and the last steps of its trace.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mqtt_tests::link::Sabotage;
use mqtt_tests::sim::{self, SimFailure, SimOutcome};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn trace_len() -> usize {
    env_u64("SIM_TRACE").map_or(200, |n| n as usize)
}

/// Which known bugs fail instead of being tolerated: every one by default (all of
/// `sim::KNOWN_BUGS` are fixed, so each must stay fixed); `SIM_STRICT=0` tolerates them,
/// a comma-separated list of ids makes only those fail.
fn strict() -> Vec<String> {
    let v = std::env::var("SIM_STRICT").unwrap_or_else(|_| "all".to_owned());
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "0")
        .map(|s| {
            if s == "1" {
                "all".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

fn run(seed: u64, trace: usize) -> Result<SimOutcome, SimFailure> {
    let strict = strict();
    for id in &strict {
        assert!(
            id == "all" || sim::KNOWN_BUGS.iter().any(|(b, _)| b == id),
            "SIM_STRICT: unknown bug id {id:?}"
        );
    }
    sim::run_seed_with(seed, trace, |p| p.strict = strict)
}

#[test]
fn simulation_seeds() {
    if let Some(seed) = env_u64("SIM_SEED") {
        match run(seed, trace_len()) {
            Ok(out) => println!("seed {seed} passed: {out:?}"),
            Err(f) => panic!("{f}"),
        }
        return;
    }
    let count = env_u64("SIM_SEEDS").unwrap_or(1000);
    let start = env_u64("SIM_SEED_START").unwrap_or(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicU64::new(start);
    let failures: Mutex<Vec<SimFailure>> = Mutex::new(Vec::new());
    let totals: Mutex<SimOutcome> = Mutex::new(SimOutcome::default());
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= start + count {
                        return;
                    }
                    // Only failures keep their trace: run without one first, then again.
                    match run(seed, 0) {
                        Ok(o) => {
                            let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                            t.steps += o.steps;
                            t.virtual_ms += o.virtual_ms;
                            t.published += o.published;
                            t.acked_published += o.acked_published;
                            t.delivered += o.delivered;
                            t.lost += o.lost;
                            t.connections += o.connections;
                            t.session_losses += o.session_losses;
                            t.blackholes += o.blackholes;
                            t.degraded += o.degraded;
                        }
                        Err(_) => {
                            let f = match run(seed, trace_len()) {
                                Err(f) => f,
                                Ok(_) => panic!("seed {seed} is not deterministic"),
                            };
                            failures.lock().unwrap_or_else(|e| e.into_inner()).push(f);
                        }
                    }
                }
            });
        }
    });
    let t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "{count} seeds from {start} in {:.1} s on {threads} threads: {} steps, {} virtual s, {} messages published ({} QoS 1/2), {} deliveries, {} lost, {} connections, {} broker session losses, {} blackholes, {} runs without liveness checks",
        t0.elapsed().as_secs_f64(),
        t.steps,
        t.virtual_ms / 1000,
        t.published,
        t.acked_published,
        t.delivered,
        t.lost,
        t.connections,
        t.session_losses,
        t.blackholes,
        t.degraded
    );
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|f| f.seed);
    if let Some(first) = failures.first() {
        for f in failures
            .iter()
            .take(env_u64("SIM_LIST").map_or(40, |n| n as usize))
        {
            println!("seed {}: {}", f.seed, f.message);
        }
        let seeds: Vec<u64> = failures.iter().map(|f| f.seed).collect();
        panic!(
            "{} of {count} seeds failed: {seeds:?}\n\nfirst failure:\n{first}",
            failures.len()
        );
    }
    // The runs must exercise what they claim to check.
    if count >= 100 {
        assert!(t.delivered > t.published / 2, "too few deliveries: {t:?}");
        assert!(
            t.session_losses > 0 && t.blackholes > 0 && t.lost > 0,
            "{t:?}"
        );
    }
}

#[test]
fn same_seed_same_run() {
    for seed in [3, 17, 101] {
        let a = run(seed, 0).map_err(|f| f.to_string());
        let b = run(seed, 0).map_err(|f| f.to_string());
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a, b, "seed {seed} ran differently twice");
    }
}

/// Heap tables (the host adapters') and inline tables of the same bounds are one state
/// machine: every `Variant::Vec` seed among the first 300 runs step for step the same with
/// either (same steps, virtual time, counts; or the same failure).
#[test]
fn heap_and_inline_tables_run_identically() {
    let mut compared = 0;
    for seed in 0..300 {
        if sim::SimParams::from_seed(seed).variant != sim::Variant::Vec {
            continue;
        }
        let heap = sim::run_seed_with(seed, 0, |p| p.inline_tables = false);
        let inline = sim::run_seed_with(seed, 0, |p| p.inline_tables = true);
        let (heap, inline) = (
            format!("{:?}", heap.map_err(|f| f.to_string())),
            format!("{:?}", inline.map_err(|f| f.to_string())),
        );
        assert_eq!(heap, inline, "seed {seed}: heap and inline tables diverged");
        compared += 1;
    }
    assert!(compared >= 50, "only {compared} Vec seeds compared");
}

/// The harness must catch a broken exactly-once guarantee: a link that duplicates QoS 2
/// deliveries under fresh packet ids makes the client deliver a message twice.
#[test]
fn harness_catches_duplicate_qos2_delivery() {
    let caught = (0..40).find_map(|seed| {
        sim::run_sabotaged(seed, Sabotage::DuplicateQos2ToClient)
            .err()
            .filter(|f| f.message.contains("delivered twice"))
    });
    let f = caught.expect("no seed reported the duplicated QoS 2 delivery");
    assert!(f.to_string().contains("SIM_SEED="), "{f}");
}

/// The harness must catch a lost acknowledgement: the token never resolves.
#[test]
fn harness_catches_a_swallowed_puback() {
    let caught = (0..40).find_map(|seed| {
        sim::run_sabotaged(seed, Sabotage::SwallowFirstPubAck)
            .err()
            .filter(|f| f.message.contains("no quiescence"))
    });
    assert!(caught.is_some(), "no seed noticed the swallowed PUBACK");
}

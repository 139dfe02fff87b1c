//! `mqttc`: a command-line MQTT 3.1.1 / 5.0 client on the tokio adapter.
//!
//! - `mqttc pub` / `mqttc sub`: mosquitto_pub / mosquitto_sub flags;
//! - `mqttc decode`: the codec's dissector over hex or a binary capture;
//! - `mqttc bench`: N publishers, M subscribers, latency, CPU and memory;
//! - `mqttc sink`: an MQTT server that acknowledges and discards (for the benchmark);
//! - `mqttc demo`: an embedded broker and a narrated tour.
//!
//! Every failure is one line on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod conn;
mod decode;
mod demo;
mod proxy;
mod pubsub;
mod rusage;
mod sink;

/// A failure to report: one line and an exit code.
#[derive(Debug)]
pub struct Fail {
    /// The line (without the `mqttc: ` prefix).
    pub msg: String,
    /// The exit code.
    pub code: u8,
}

impl Fail {
    /// A runtime failure (exit code 1).
    pub fn msg(msg: String) -> Self {
        Fail { msg, code: 1 }
    }
    /// A usage error (exit code 2).
    pub fn usage(msg: String) -> Self {
        Fail { msg, code: 2 }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "mqttc",
    version,
    about = "An MQTT 3.1.1 / 5.0 client: pub, sub, decode, bench, demo"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Publish messages (mosquitto_pub flags).
    Pub(pubsub::PubArgs),
    /// Subscribe and print messages (mosquitto_sub flags).
    Sub(pubsub::SubArgs),
    /// Decode MQTT packets from hex or a binary capture file.
    Decode(decode::DecodeArgs),
    /// Load test: N publishers, M subscribers; messages/s, latency, CPU, memory.
    Bench(bench::BenchArgs),
    /// An MQTT server that acknowledges everything and discards it (benchmark sink).
    Sink(sink::SinkArgs),
    /// A narrated tour on an embedded broker (or --host): QoS 0/1/2, a cut connection
    /// resumed with nothing lost, and a throughput figure.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    // A bug must still be one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("mqttc: internal error: {msg}");
    }));
    let cli = Cli::parse();
    // One round trip at a time gains nothing from a second worker and pays a cross-thread
    // wake-up each way (p99 110 against 85-100 us here): `bench --roundtrip` runs the
    // client on one thread, as a latency-minded application would; the rest on two.
    let mut runtime = match &cli.cmd {
        Cmd::Bench(a) if a.roundtrip || a.threads == 1 => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    let rt = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mqttc: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Pub(a) => pubsub::run_pub(a).await,
            Cmd::Sub(a) => pubsub::run_sub(a).await,
            Cmd::Decode(a) => decode::run(a),
            Cmd::Bench(a) => bench::run(a).await,
            Cmd::Sink(a) => sink::run(a).await,
            Cmd::Demo(a) => demo::run(a).await,
        }
    });
    // Do not wait for driver tasks still closing their sockets.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("mqttc: error: {}", f.msg);
            ExitCode::from(f.code)
        }
    }
}

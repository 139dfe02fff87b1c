//! Launchers for the interop matrix (`tests/interop.rs`): mosquitto (apt), rumqttd
//! (crates.io binary), aedes (npm) and amqtt (PyPI), each on free loopback ports with a
//! configuration written to a temporary directory, killed on drop.
//!
//! `tests/interop/install.sh` installs the last three into the cache directory
//! ([`cache_dir`]: `$MQTT_INTEROP_CACHE`, default `~/.cache/mqtt-interop`); the launchers
//! look there. Quirks (from /work/shared/brokers.md, checked by the matrix):
//! rumqttd speaks one protocol version per listener, so it gets a v4 and a v5 listener
//! on two ports; aedes 1.x needs an `.mjs` script (top-level `await Aedes.createBroker()`).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_proto::ProtocolVersion;

use crate::mosquitto::{self, Mosquitto, TempDir, free_port};

/// The brokers of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Debian's mosquitto 2.0.11.
    Mosquitto,
    /// rumqttd 0.20.0 from crates.io.
    Rumqttd,
    /// aedes 1.2.0 from npm.
    Aedes,
    /// amqtt 0.12.1 from PyPI.
    Amqtt,
}

impl Kind {
    /// All of them, in matrix order.
    pub const ALL: [Kind; 4] = [Kind::Mosquitto, Kind::Rumqttd, Kind::Aedes, Kind::Amqtt];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mosquitto => "mosquitto",
            Kind::Rumqttd => "rumqttd",
            Kind::Aedes => "aedes",
            Kind::Amqtt => "amqtt",
        }
    }
}

/// Where `tests/interop/install.sh` puts the brokers.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MQTT_INTEROP_CACHE") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/mqtt-interop")
}

fn rumqttd_bin() -> PathBuf {
    cache_dir().join("rumqttd/bin/rumqttd")
}
fn aedes_dir() -> PathBuf {
    cache_dir().join("aedes")
}
fn amqtt_bin() -> PathBuf {
    cache_dir().join("amqtt-venv/bin/amqtt")
}

/// `Ok` if `kind` is installed; otherwise what is missing.
pub fn installed(kind: Kind) -> Result<(), String> {
    let ok = match kind {
        Kind::Mosquitto => mosquitto::installed(),
        Kind::Rumqttd => rumqttd_bin().exists(),
        Kind::Aedes => aedes_dir().join("node_modules/aedes/package.json").exists(),
        Kind::Amqtt => amqtt_bin().exists(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not installed (run tests/interop/install.sh; cache {})",
            kind.name(),
            cache_dir().display()
        ))
    }
}

enum Proc {
    Mosquitto(Box<Mosquitto>),
    Child(Child, TempDir),
}

/// A running broker.
pub struct Broker {
    /// Which.
    pub kind: Kind,
    proc: Proc,
    port_v4: u16,
    port_v5: u16,
}

impl Broker {
    /// Starts `kind` on free loopback ports and waits until it accepts connections.
    pub fn start(kind: Kind) -> Result<Broker, String> {
        installed(kind)?;
        let (proc, port_v4, port_v5) = match kind {
            Kind::Mosquitto => {
                let m = Mosquitto::start();
                let p = m.port;
                (Proc::Mosquitto(Box::new(m)), p, p)
            }
            Kind::Rumqttd => {
                let dir = TempDir::new("rumqttd");
                let (p4, p5) = (free_port(), free_port());
                let conf = format!(
                    r#"id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:{p4}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true

[v5.1]
name = "v5-1"
listen = "127.0.0.1:{p5}"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
"#
                );
                let path = dir.path().join("rumqttd.toml");
                std::fs::write(&path, conf).map_err(|e| e.to_string())?;
                let child = spawn(
                    Command::new(rumqttd_bin())
                        .arg("-c")
                        .arg(&path)
                        .current_dir(dir.path()),
                    &dir,
                )?;
                (Proc::Child(child, dir), p4, p5)
            }
            Kind::Aedes => {
                let dir = TempDir::new("aedes");
                let p = free_port();
                let script = dir.path().join("broker.mjs");
                std::fs::write(
                    &script,
                    format!(
                        "import {{ createServer }} from 'node:net'\n\
                         import {{ Aedes }} from '{}'\n\
                         const aedes = await Aedes.createBroker()\n\
                         const server = createServer(aedes.handle)\n\
                         server.listen({p}, '127.0.0.1')\n",
                        aedes_dir().join("node_modules/aedes/aedes.js").display()
                    ),
                )
                .map_err(|e| e.to_string())?;
                let child = spawn(Command::new("node").arg(&script), &dir)?;
                (Proc::Child(child, dir), p, p)
            }
            Kind::Amqtt => {
                let dir = TempDir::new("amqtt");
                let p = free_port();
                let conf = dir.path().join("broker.yaml");
                std::fs::write(
                    &conf,
                    format!(
                        "---\nlisteners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{p}\n\
                         plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
                    ),
                )
                .map_err(|e| e.to_string())?;
                let child = spawn(
                    Command::new(amqtt_bin())
                        .arg("-c")
                        .arg(&conf)
                        .current_dir(dir.path()),
                    &dir,
                )?;
                (Proc::Child(child, dir), p, p)
            }
        };
        let b = Broker {
            kind,
            proc,
            port_v4,
            port_v5,
        };
        for port in [port_v4, port_v5] {
            wait_listening(port, Duration::from_secs(20))
                .map_err(|e| format!("{}: {e}\nlog:\n{}", kind.name(), b.log()))?;
        }
        Ok(b)
    }

    /// The port for `version` (rumqttd has one listener per version).
    pub fn port(&self, v: ProtocolVersion) -> u16 {
        if v == ProtocolVersion::V5 {
            self.port_v5
        } else {
            self.port_v4
        }
    }

    /// `mqtt://127.0.0.1:<port for v>`.
    pub fn url(&self, v: ProtocolVersion) -> String {
        format!("mqtt://127.0.0.1:{}", self.port(v))
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        match &self.proc {
            Proc::Mosquitto(m) => m.log(),
            Proc::Child(_, dir) => {
                std::fs::read_to_string(dir.path().join("broker.log")).unwrap_or_default()
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Proc::Child(c, _) = &mut self.proc {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(cmd: &mut Command, dir: &TempDir) -> Result<Child, String> {
    let log = std::fs::File::create(dir.path().join("broker.log")).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))
}

fn wait_listening(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("not listening on {port} after {timeout:?}"))
}

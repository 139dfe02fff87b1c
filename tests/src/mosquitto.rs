//! A real mosquitto for the adapter tests: started on a free loopback port with its own
//! configuration in a temporary directory, stopped (and its directory removed) on drop.
//! Also SIGSTOP / SIGCONT / SIGKILL / restart, for the fault tests.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound then released; the race is harmless in practice).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Whether the mosquitto binary is installed (`.ci/run` installs it).
pub fn installed() -> bool {
    Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "mqtt-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running mosquitto. Killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    dir: TempDir,
    extra: String,
}

impl Mosquitto {
    /// Starts mosquitto on a free port with anonymous access and no persistence.
    pub fn start() -> Self {
        Self::with_config("")
    }

    /// Starts mosquitto with extra configuration lines (for a TLS listener, limits, ...).
    /// `{dir}` in `extra` is replaced by the broker's temporary directory.
    pub fn with_config(extra: &str) -> Self {
        let dir = TempDir::new("mosquitto");
        let extra = extra.replace("{dir}", &dir.path().display().to_string());
        let mut m = Mosquitto {
            child: None,
            port: free_port(),
            dir,
            extra,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        let has_listener = self
            .extra
            .lines()
            .any(|l| l.trim_start().starts_with("listener"));
        let mut text = String::new();
        if !has_listener {
            text.push_str(&format!("listener {} 127.0.0.1\n", self.port));
        }
        text.push_str("allow_anonymous true\n");
        // As root, mosquitto drops to the `mosquitto` user and then cannot write its log or
        // persistence file in our directory; `user root` keeps it (ignored when not root).
        text.push_str("user root\n");
        if !self.extra.contains("persistence") {
            text.push_str("persistence false\n");
        }
        text.push_str(&format!(
            "log_dest file {}\nlog_type all\n",
            self.dir.path().join("mosquitto.log").display()
        ));
        text.push_str(&self.extra);
        text.push('\n');
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto (is it installed? .ci/run installs it)");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "mosquitto exited at start ({status}): {err}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("mosquitto did not listen on {} within 10 s", self.port);
    }

    /// The broker's temporary directory (certificates, persistence files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    /// SIGSTOP: the broker stops answering but keeps its sockets open (a half-open link).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`Mosquitto::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Stops the broker: SIGTERM (it saves persistence) or SIGKILL, and waits for it.
    pub fn stop(&mut self, kill: bool) {
        if let Some(mut c) = self.child.take() {
            self.signal_child(&c, if kill { "-KILL" } else { "-TERM" });
            let _ = c.wait();
        }
    }

    fn signal_child(&self, c: &Child, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &c.id().to_string()])
            .status();
    }

    /// Starts the broker again on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.stop(false);
        self.spawn();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `mosquitto_sub` collecting lines (`-v`: "topic payload") in the background.
#[derive(Debug)]
pub struct Sub {
    child: Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Sub {
    /// Runs `mosquitto_sub -h 127.0.0.1 -p port <args>` and waits until it subscribed
    /// (it is started with `-d`, whose SUBACK line is the signal).
    pub fn start(port: u16, args: &[&str]) -> Self {
        // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe otherwise.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-d",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("Client ") {
                    if line.contains("received SUBACK")
                        && let Some(r) = ready.take()
                    {
                        let _ = r.send(());
                    }
                    continue;
                }
                if line.starts_with("Subscribed (mid") {
                    continue;
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("mosquitto_sub did not subscribe within 10 s");
        Sub { child, rx }
    }

    /// The next output line, within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<String> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Waits for `n` lines (each within `timeout` of the previous).
    pub fn take(&self, n: usize, timeout: Duration) -> Vec<String> {
        (0..n).map_while(|_| self.next(timeout)).collect()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mosquitto_pub -h 127.0.0.1 -p port <args>` to completion; panics if it fails.
pub fn publish(port: u16, args: &[&str]) {
    let st = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .status()
        .expect("run mosquitto_pub");
    assert!(st.success(), "mosquitto_pub {args:?} failed: {st}");
}

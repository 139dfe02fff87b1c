//! The `mqttc` binary against a real mosquitto (started per test on a free loopback
//! port), with mosquitto_pub / mosquitto_sub as the other end, both protocol versions and
//! both directions; `mqttc demo`; and the one-line errors.
//!
//! Run: `cargo test -p mqttc --test cli_mosquitto` (needs `mosquitto` and
//! `mosquitto-clients`, which `.ci/run` installs).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mqtt_tests::mosquitto::{self, Mosquitto, Sub};

const MQTTC: &str = env!("CARGO_BIN_EXE_mqttc");
const VERSIONS: [&str; 2] = ["mqttv311", "mqttv5"];
const T: Duration = Duration::from_secs(10);

fn mqttc(args: &[&str]) -> Output {
    Command::new(MQTTC)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mqttc")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A running `mqttc sub` whose stdout lines arrive on a channel.
struct MqttcSub {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl MqttcSub {
    fn start(port: u16, args: &[&str]) -> Self {
        let mut child = Command::new(MQTTC)
            .args(["sub", "-h", "127.0.0.1", "-p", &port.to_string(), "-d"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqttc sub");
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // -d prints the events; the first `Connected` comes before the SUBSCRIBE, so
        // also wait for the subscription to be in place: mosquitto logs it.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("Connected")
                    && let Some(r) = ready.take()
                {
                    let _ = r.send(());
                }
            }
        });
        ready_rx.recv_timeout(T).expect("mqttc sub connected");
        MqttcSub { child, rx }
    }

    fn take(&self, n: usize) -> Vec<String> {
        (0..n).map_while(|_| self.rx.recv_timeout(T).ok()).collect()
    }

    fn wait(mut self) -> std::process::ExitStatus {
        for _ in 0..100 {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }
}

impl Drop for MqttcSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until mosquitto's log shows `n` subscriptions (the SUBSCRIBE is in place).
fn wait_subscribed(m: &Mosquitto, n: usize) {
    for _ in 0..200 {
        if m.log().matches("SUBSCRIBE from").count() >= n
            || m.log().matches("Received SUBSCRIBE").count() >= n
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no SUBSCRIBE seen by mosquitto:\n{}", m.log());
}

#[test]
fn mqttc_pub_to_mosquitto_sub_both_versions_and_qos() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    for v in VERSIONS {
        let topic = format!("cli/{v}/x");
        let sub = Sub::start(m.port, &["-V", v, "-t", &topic, "-v", "-q", "2"]);
        for q in ["0", "1", "2"] {
            let msg = format!("hello-{v}-q{q}");
            let o = mqttc(&[
                "pub",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-V",
                v,
                "-t",
                &topic,
                "-m",
                &msg,
                "-q",
                q,
            ]);
            assert!(o.status.success(), "mqttc pub failed: {}", stderr(&o));
            assert_eq!(sub.next(T).as_deref(), Some(&*format!("{topic} {msg}")));
        }
    }
}

#[test]
fn mqttc_pub_lines_file_null_and_url() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    let sub = Sub::start(m.port, &["-V", "mqttv5", "-t", "lines/#", "-v", "-q", "1"]);
    // -l: every stdin line a message, QoS 1, pipelined.
    let mut child = Command::new(MQTTC)
        .args([
            "pub",
            "-p",
            &port,
            "-h",
            "127.0.0.1",
            "-V",
            "5",
            "-t",
            "lines/a",
            "-l",
            "-q",
            "1",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqttc pub -l");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..500 {
            writeln!(stdin, "line {i}").expect("write");
        }
    }
    assert!(child.wait().expect("wait").success());
    let got = sub.take(500, T);
    assert_eq!(got.len(), 500);
    assert_eq!(got[0], "lines/a line 0");
    assert_eq!(got[499], "lines/a line 499");
    // -f file, -n null message, -L url with the topic in its path.
    let dir = mosquitto::TempDir::new("cli");
    let f = dir.path().join("payload.bin");
    std::fs::write(&f, b"from a file").expect("write");
    let o = mqttc(&[
        "pub",
        "-p",
        &port,
        "-t",
        "lines/f",
        "-f",
        f.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sub.next(T).as_deref(), Some("lines/f from a file"));
    let o = mqttc(&["pub", "-p", &port, "-t", "lines/n", "-n"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sub.next(T).as_deref(), Some("lines/n (null)")); // mosquitto_sub prints an empty payload so
    let url = format!("mqtt://127.0.0.1:{port}/lines/url");
    let o = mqttc(&["pub", "-L", &url, "-m", "via url", "-q", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sub.next(T).as_deref(), Some("lines/url via url"));
}

#[test]
fn mqttc_pub_v5_properties_reach_mosquitto_sub() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    let sub = Sub::start(
        m.port,
        &["-V", "mqttv5", "-t", "props", "-F", "%t %p %P|%C|%R|%D|%E"],
    );
    let o = mqttc(&[
        "pub",
        "-p",
        &port,
        "-V",
        "mqttv5",
        "-t",
        "props",
        "-m",
        "p",
        "-q",
        "1",
        "-D",
        "publish",
        "user-property",
        "k",
        "v",
        "-D",
        "publish",
        "content-type",
        "text/plain",
        "-D",
        "publish",
        "response-topic",
        "reply/here",
        "-D",
        "publish",
        "correlation-data",
        "abc",
        "-D",
        "publish",
        "message-expiry-interval",
        "3600",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = sub.next(T).expect("a message");
    assert!(
        line.starts_with("props p k:v|text/plain|reply/here|abc|"),
        "{line}"
    );
    // -D with 3.1.1 is a usage error, one line.
    let o = mqttc(&[
        "pub",
        "-p",
        &port,
        "-t",
        "x",
        "-m",
        "y",
        "-D",
        "publish",
        "content-type",
        "a",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn mosquitto_pub_to_mqttc_sub_both_versions() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    for (i, v) in VERSIONS.iter().enumerate() {
        let topic = format!("to-mqttc/{v}");
        let sub = MqttcSub::start(
            m.port,
            &[
                "-V", v, "-t", &topic, "-t", "other/#", "-v", "-q", "2", "-C", "4",
            ],
        );
        wait_subscribed(&m, i + 1);
        for q in ["0", "1", "2"] {
            mosquitto::publish(
                m.port,
                &["-V", v, "-t", &topic, "-m", &format!("m{q}"), "-q", q],
            );
        }
        mosquitto::publish(m.port, &["-V", v, "-t", "other/a", "-m", "o"]);
        let got = sub.take(4);
        assert_eq!(
            got,
            [
                format!("{topic} m0"),
                format!("{topic} m1"),
                format!("{topic} m2"),
                "other/a o".to_string()
            ]
        );
        assert!(sub.wait().success(), "-C 4 ends with exit code 0");
    }
}

#[test]
fn mqttc_sub_format_and_v5_properties() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let sub = MqttcSub::start(
        m.port,
        &[
            "-V",
            "5",
            "-t",
            "fmt/#",
            "-q",
            "1",
            "-C",
            "1",
            "-F",
            "%t|%p|%q|%r|%l|%x|%P|%C|%R|%D",
        ],
    );
    wait_subscribed(&m, 1);
    mosquitto::publish(
        m.port,
        &[
            "-V",
            "mqttv5",
            "-t",
            "fmt/a",
            "-m",
            "hi",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "a",
            "b",
            "-D",
            "publish",
            "content-type",
            "ct",
            "-D",
            "publish",
            "response-topic",
            "rt",
            "-D",
            "publish",
            "correlation-data",
            "cd",
        ],
    );
    // -F adds no newline (as mosquitto_sub's), so the one line arrives at exit.
    assert_eq!(sub.take(1), ["fmt/a|hi|1|0|2|6869|a:b|ct|rt|cd"]);
}

#[test]
fn mqttc_sub_timeout_and_persistent_session() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    // -W without messages: exit 27 when -C was not reached.
    let o = mqttc(&["sub", "-p", &port, "-t", "none", "-W", "1", "-C", "1"]);
    assert_eq!(o.status.code(), Some(27), "{}", stderr(&o));
    // -c: a persistent session keeps QoS 1 messages published while we are away.
    for v in VERSIONS {
        let id = format!("cli-persist-{v}");
        let topic = format!("persist/{v}");
        let o = mqttc(&[
            "sub", "-p", &port, "-V", v, "-c", "-i", &id, "-t", &topic, "-q", "1", "-W", "1",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        mosquitto::publish(m.port, &["-V", v, "-t", &topic, "-m", "queued", "-q", "1"]);
        let o = mqttc(&[
            "sub", "-p", &port, "-V", v, "-c", "-i", &id, "-t", &topic, "-q", "1", "-C", "1", "-W",
            "5",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "queued\n");
    }
}

#[test]
fn errors_are_one_line_and_non_zero() {
    if !mosquitto::installed() {
        return;
    }
    // Connection refused: nothing listens on this port.
    let port = mosquitto::free_port().to_string();
    for args in [
        vec!["pub", "-p", &port, "-t", "x", "-m", "y"],
        vec!["sub", "-p", &port, "-t", "x"],
    ] {
        let o = mqttc(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("cannot connect") && e.contains("refused"), "{e}");
        assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
    }
    // Bad URL.
    let o = mqttc(&["pub", "-L", "nope://x/y", "-m", "z"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("URL") || stderr(&o).contains("scheme"));
}

#[test]
fn not_authorized_is_one_line() {
    if !mosquitto::installed() {
        return;
    }
    let dir = mosquitto::TempDir::new("cli-auth");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "").expect("write");
    // An empty password file: every user is refused.
    let m = Mosquitto::with_config(&format!("password_file {}\n", pw.display()));
    for v in VERSIONS {
        let o = mqttc(&[
            "pub",
            "-p",
            &m.port.to_string(),
            "-V",
            v,
            "-u",
            "alice",
            "-P",
            "wrong",
            "-t",
            "x",
            "-m",
            "y",
        ]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("refused"), "{e}");
    }
}

#[test]
fn decode_hex_both_versions() {
    // 3.1.1 PUBLISH (no property length): auto falls back from 5.0.
    let o = mqttc(&["decode", "30 0c 00 05 61 2f 62 2f 63 68 65 6c 6c 6f"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("PUBLISH (14 bytes, MQTT 3.1.1)"), "{out}");
    assert!(out.contains("topic: \"a/b/c\""), "{out}");
    // 5.0 CONNACK with an empty property list, then PINGRESP.
    let o = mqttc(&["decode", "-V", "5", "20030000 00 d000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("CONNACK") && out.contains("PINGRESP"), "{out}");
    // Garbage: one line, non-zero.
    let o = mqttc(&["decode", "-V", "311", "f0 00"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1);
}

#[test]
fn demo_exits_zero() {
    let o = Command::new(MQTTC)
        .args(["demo", "--stream", "600", "--throughput", "2000"])
        .output()
        .expect("run mqttc demo");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("nothing lost"), "{out}");
}

/// `mqttc bench --roundtrip` (on its current-thread runtime) completes every round trip at
/// QoS 0, 1 and 2 and reports the percentiles; 200 of them in well under the 10 s a
/// delayed-ACK stall (44 ms each) would add up to.
#[test]
fn bench_roundtrip_all_qos() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    for q in ["0", "1", "2"] {
        let t = std::time::Instant::now();
        let o = mqttc(&[
            "bench",
            "--quiet",
            "-p",
            &port,
            "-V",
            "311",
            "--roundtrip",
            "-n",
            "200",
            "-q",
            q,
        ]);
        assert!(o.status.success(), "mqttc bench failed: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let result = out
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .expect("RESULT line");
        assert!(result.contains("rtt_n=200 "), "QoS {q}: {result}");
        assert!(result.contains("p99_us="), "QoS {q}: {result}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "QoS {q}: 200 round trips took {:?}",
            t.elapsed()
        );
    }
}

/// `mqttc bench` with a publisher and a subscriber in one process: every message arrives,
/// latency is measured from the stamps; with `--no-latency` the same run carries no stamp
/// and says so instead of printing zeros.
#[test]
fn bench_pub_sub_with_and_without_latency() {
    if !mosquitto::installed() {
        return;
    }
    let m = Mosquitto::start();
    let port = m.port.to_string();
    for (flag, want) in [
        (None, "latency p50 "),
        (Some("--no-latency"), "latency not measured"),
    ] {
        let mut args = vec![
            "bench", "--quiet", "-p", &port, "-V", "311", "-n", "2000", "-q", "1",
        ];
        args.extend(flag);
        let o = mqttc(&args);
        assert!(o.status.success(), "mqttc bench failed: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(want), "{flag:?}: {out}");
        let result = out
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .expect("RESULT line");
        assert!(result.contains("sent=2000 received=2000"), "{result}");
        assert_eq!(result.contains("p99_us="), flag.is_none(), "{result}");
    }
}

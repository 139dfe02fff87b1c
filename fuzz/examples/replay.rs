//! Replays `session` inputs on stable: files, or every file of a folder (a corpus).
//! One file: prints what the run went through (`MQTT_FUZZ_TRACE=1` prints every step) and
//! panics on a broken invariant. Several: prints each failure's first line, exits 1 if any.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example replay -- FILE|DIR...
//! ```
use std::path::PathBuf;

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in std::env::args_os().skip(1).map(PathBuf::from) {
        if arg.is_dir() {
            let mut dir: Vec<PathBuf> = std::fs::read_dir(&arg)
                .expect("readable folder")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.is_file())
                .collect();
            dir.sort();
            files.extend(dir);
        } else {
            files.push(arg);
        }
    }
    assert!(!files.is_empty(), "usage: replay FILE|DIR...");
    if let [file] = &files[..] {
        let data = std::fs::read(file).expect("readable input");
        println!("{:?}", mqtt_fuzz::session::run_stats(&data));
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    // How many inputs reach each milestone.
    let mut reach: Vec<(&str, usize)> = Vec::new();
    let mut count = |name: &'static str, hit: bool| match reach.iter_mut().find(|(n, _)| *n == name)
    {
        Some((_, c)) => *c += usize::from(hit),
        None => reach.push((name, usize::from(hit))),
    };
    for file in &files {
        let data = std::fs::read(file).expect("readable input");
        match std::panic::catch_unwind(|| mqtt_fuzz::session::run_stats(&data)) {
            Ok(Some(st)) => {
                count("connected", st.connected > 0);
                count("reconnected", st.connected > 1);
                count("session resumed", st.resumed > 0);
                count("message received", st.messages > 0);
                count("published (QoS 1/2 ack)", st.published > 0);
                count("subscribed", st.subscribed > 0);
                count("unsubscribed", st.unsubscribed > 0);
                count("operation lost", st.lost > 0);
                count("connection lost", st.connection_lost > 0);
                count("auth event", st.auth > 0);
                count("manual ack", st.app_acks > 0);
                for (t, name) in [
                    (3, "client PUBLISH"),
                    (4, "client PUBACK"),
                    (5, "client PUBREC"),
                    (6, "client PUBREL"),
                    (7, "client PUBCOMP"),
                    (8, "client SUBSCRIBE"),
                    (10, "client UNSUBSCRIBE"),
                    (12, "client PINGREQ"),
                    (14, "client DISCONNECT"),
                    (15, "client AUTH"),
                ] {
                    count(name, st.client_packets[t] > 0);
                }
                continue;
            }
            Ok(None) => continue,
            Err(_) => {}
        }
        if let Err(e) = std::panic::catch_unwind(|| mqtt_fuzz::session::run(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("panic");
            println!("{}: {}", file.display(), msg.lines().next().unwrap_or(""));
            failed += 1;
        }
    }
    for (name, n) in &reach {
        println!("{n:>7} inputs reach: {name}");
    }
    println!("{} inputs, {failed} failed", files.len());
    std::process::exit(i32::from(failed > 0));
}

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
    for file in &files {
        let data = std::fs::read(file).expect("readable input");
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
    println!("{} inputs, {failed} failed", files.len());
    std::process::exit(i32::from(failed > 0));
}

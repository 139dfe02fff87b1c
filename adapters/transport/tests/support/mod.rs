//! Helpers shared by this crate's integration tests: a temporary directory and a tracing
//! subscriber that records warnings.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "mqtt-transport-{tag}-{}-{}",
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

/// Records the message of every event at `level` or more severe.
struct Recorder {
    level: tracing::Level,
    seen: Arc<Mutex<Vec<String>>>,
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() <= self.level {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.seen.lock().unwrap().push(m.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `f` on this thread with a subscriber recording events at `level` or above, and
/// returns their messages with `f`'s result.
pub fn record_events<R>(level: tracing::Level, f: impl FnOnce() -> R) -> (Vec<String>, R) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sub = Recorder {
        level,
        seen: seen.clone(),
    };
    let r = tracing::subscriber::with_default(sub, f);
    let v = seen.lock().unwrap().clone();
    (v, r)
}

/// The warnings (and errors) `f` logs on this thread, with its result.
pub fn count_warnings<R>(f: impl FnOnce() -> R) -> (Vec<String>, R) {
    record_events(tracing::Level::WARN, f)
}

//! The crash-safe `FileStore`:
//! - it behaves exactly like `VecStore` for any sequence of put / remove / rename, and
//!   keeps its contents across a reopen (topic aliases, per connection, are not kept);
//! - a log cut at any byte of its last record reopens as the state before or after that
//!   operation, and appends after that work;
//! - a corrupted byte anywhere stops the replay at the record holding it (the state of the
//!   records before it), warns, and never panics;
//! - compaction keeps the contents and bounds the log;
//! - one directory, one user: a second open fails clearly, in this process or another, and
//!   a lock left by a killed process is taken over;
//! - a session with a file store restores its unacknowledged QoS 1 publish after a
//!   "process restart", resends it, and forgets it once acknowledged.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant as StdInstant;

use mqtt_proto::QoS;
use mqtt_session::{Instant, Key, Store, VecStore};
use mqtt_transport::{
    Durability, FileStore, FileStoreConfig, HostStore, Options, StoreOptions, open_session,
};
use proptest::prelude::*;
use support::{TempDir, count_warnings};

type Snapshot = BTreeMap<Key, Vec<u8>>;

fn snapshot(s: &impl Store) -> Snapshot {
    let mut keys = Vec::new();
    s.for_each_key(&mut |k| keys.push(k));
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "for_each_key in ascending order");
    keys.into_iter()
        .map(|k| (k, s.get(k).expect("a listed key has a record").to_vec()))
        .collect()
}

fn durable_only(mut s: Snapshot) -> Snapshot {
    s.retain(|k, _| !matches!(k, Key::TopicAlias(_) | Key::OutAlias(_)));
    s
}

fn buffered() -> FileStoreConfig {
    FileStoreConfig {
        durability: Durability::OsBuffered,
        compact_min_bytes: u64::MAX,
    }
}

fn log_path(dir: &Path) -> std::path::PathBuf {
    dir.join("store.log")
}

const KEYS: [Key; 10] = [
    Key::Connect,
    Key::AssignedClientId,
    Key::Out(0),
    Key::Out(1),
    Key::Out(70_000),
    Key::IncomingQos2(3),
    Key::Subscription(0),
    Key::TopicAlias(1),
    Key::OutAlias(2),
    Key::Auth,
];

#[derive(Clone, Debug)]
enum Op {
    Put(usize, usize, u8),
    Remove(usize),
    Rename(usize, usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS.len();
    prop_oneof![
        4 => (k.clone(), 0usize..90, any::<u8>()).prop_map(|(k, l, b)| Op::Put(k, l, b)),
        2 => k.clone().prop_map(Op::Remove),
        2 => (k.clone(), k).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Invariant: after every operation the FileStore and a VecStore with the same bound
    /// hold the same records, answer puts alike and report the same room; after a reopen
    /// the FileStore holds the VecStore's durable records.
    #[test]
    fn file_store_equals_vec_store(
        ops in proptest::collection::vec(op(), 1..60),
        compact_min in prop_oneof![Just(0u64), Just(256u64), Just(u64::MAX)],
    ) {
        const MAX: usize = 200;
        let dir = TempDir::new("prop");
        let config = FileStoreConfig { durability: Durability::OsBuffered, compact_min_bytes: compact_min };
        let mut fs = FileStore::open_with(dir.path(), MAX, config).unwrap();
        let mut vs = VecStore::new(MAX);
        for op in ops {
            match op {
                Op::Put(k, len, b) => {
                    let value: Vec<u8> = (0..len).map(|i| b.wrapping_add(i as u8)).collect();
                    let a = fs.put(KEYS[k], &value);
                    let e = vs.put(KEYS[k], &value);
                    prop_assert_eq!(a, e);
                }
                Op::Remove(k) => {
                    fs.remove(KEYS[k]);
                    vs.remove(KEYS[k]);
                }
                Op::Rename(a, b) => {
                    fs.rename(KEYS[a], KEYS[b]);
                    vs.rename(KEYS[a], KEYS[b]);
                }
                Op::Reopen => {
                    drop(fs);
                    fs = FileStore::open_with(dir.path(), MAX, config).unwrap();
                    for k in [Key::TopicAlias(1), Key::OutAlias(2)] {
                        vs.remove(k);
                    }
                }
            }
            prop_assert!(fs.last_error().is_none());
            prop_assert_eq!(snapshot(&fs), snapshot(&vs));
            prop_assert_eq!(fs.room(), vs.room());
            prop_assert_eq!(fs.has_room(50), vs.has_room(50));
        }
        let expected = durable_only(snapshot(&vs));
        drop(fs);
        let fs = FileStore::open_with(dir.path(), MAX, config).unwrap();
        prop_assert_eq!(snapshot(&fs), expected);
    }
}

/// The store before and after `last`, and the log's bytes after it.
fn run_last_op(last: &dyn Fn(&mut FileStore)) -> (Snapshot, Snapshot, u64, Vec<u8>) {
    let dir = TempDir::new("torn-src");
    let mut s = FileStore::open_with(dir.path(), 1 << 20, buffered()).unwrap();
    s.put(Key::Connect, b"connect packet").unwrap();
    for i in 1..=4u32 {
        s.put(Key::Out(i), format!("publish {i}").as_bytes())
            .unwrap();
    }
    s.remove(Key::Out(2));
    s.put(Key::IncomingQos2(9), b"").unwrap();
    let before = snapshot(&s);
    let len_before = s.log_len();
    last(&mut s);
    let after = snapshot(&s);
    assert_ne!(before, after, "the last operation changes something");
    assert!(
        s.log_len() > len_before,
        "the last operation appended a record"
    );
    drop(s);
    let bytes = std::fs::read(log_path(dir.path())).unwrap();
    (before, after, len_before, bytes)
}

/// A named last operation.
type LastOp<'a> = (&'a str, &'a dyn Fn(&mut FileStore));

/// Invariant: a log cut at any byte of its last record reopens as the state before (cut
/// inside the record) or after (record complete) that operation, the torn tail is cut off,
/// and a later append survives the next reopen.
#[test]
fn a_torn_last_record_gives_the_state_before_or_after() {
    let lasts: [LastOp<'_>; 6] = [
        ("put new", &|s| s.put(Key::Out(5), b"publish five").unwrap()),
        ("put replace", &|s| s.put(Key::Out(1), b"pubrel 1").unwrap()),
        ("remove", &|s| s.remove(Key::Out(3))),
        ("rename", &|s| s.rename(Key::Out(4), Key::Out(6))),
        ("rename over", &|s| s.rename(Key::Out(4), Key::Out(1))),
        ("rename alias to durable", &|s| {
            s.put(Key::TopicAlias(1), b"t/1").unwrap();
            s.rename(Key::TopicAlias(1), Key::Out(8));
        }),
    ];
    for (name, last) in lasts {
        let (before, after, len_before, bytes) = run_last_op(last);
        for cut in len_before as usize..=bytes.len() {
            let dir = TempDir::new("torn");
            std::fs::write(log_path(dir.path()), &bytes[..cut]).unwrap();
            let (warnings, s) = count_warnings(|| FileStore::open(dir.path(), 1 << 20).unwrap());
            let (expected, len) = if cut == bytes.len() {
                (&after, bytes.len() as u64)
            } else {
                (&before, len_before)
            };
            assert_eq!(&snapshot(&s), expected, "{name}: cut at {cut}");
            assert_eq!(s.log_len(), len, "{name}: cut at {cut}");
            assert_eq!(
                std::fs::metadata(log_path(dir.path())).unwrap().len(),
                len,
                "{name}: the torn tail is truncated"
            );
            assert_eq!(
                warnings.len(),
                usize::from(cut != len_before as usize && cut != bytes.len()),
                "{name}: cut at {cut}: {warnings:?}"
            );
            // Appending after a repaired tail works, and is replayed.
            let mut s = s;
            s.put(Key::Out(99), b"later").unwrap();
            drop(s);
            let s = FileStore::open(dir.path(), 1 << 20).unwrap();
            let mut with_later = expected.clone();
            with_later.insert(Key::Out(99), b"later".to_vec());
            assert_eq!(snapshot(&s), with_later, "{name}: cut at {cut}, then a put");
        }
    }
}

/// Invariant: flipping any byte after the header makes the replay stop at the record that
/// holds it, giving the state after the records before it, with a warning, never a panic;
/// a damaged header is refused with an error, never overwritten.
#[test]
fn a_corrupt_byte_stops_the_replay_at_its_record() {
    let dir = TempDir::new("corrupt-src");
    let mut s = FileStore::open_with(dir.path(), 1 << 20, buffered()).unwrap();
    let mut prefixes = vec![(s.log_len(), snapshot(&s))];
    let ops: [&dyn Fn(&mut FileStore); 6] = [
        &|s| s.put(Key::Connect, b"connect").unwrap(),
        &|s| s.put(Key::Out(1), b"one").unwrap(),
        &|s| s.put(Key::Out(2), b"two").unwrap(),
        &|s| s.rename(Key::Out(1), Key::Out(3)),
        &|s| s.remove(Key::Out(2)),
        &|s| s.put(Key::Subscription(0), b"sub").unwrap(),
    ];
    for op in ops {
        op(&mut s);
        prefixes.push((s.log_len(), snapshot(&s)));
    }
    drop(s);
    let bytes = std::fs::read(log_path(dir.path())).unwrap();
    assert_eq!(bytes.len() as u64, prefixes.last().unwrap().0);

    for pos in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x5A;
        let d = TempDir::new("corrupt");
        std::fs::write(log_path(d.path()), &bad).unwrap();
        let (warnings, opened) = count_warnings(|| FileStore::open(d.path(), 1 << 20));
        if pos < 8 {
            let e = opened.expect_err("a damaged header is refused");
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            assert_eq!(
                std::fs::read(log_path(d.path())).unwrap(),
                bad,
                "left alone"
            );
            continue;
        }
        let s = opened.unwrap_or_else(|e| panic!("byte {pos}: {e}"));
        // The record holding `pos` is the first whose end is past it.
        let k = prefixes
            .iter()
            .position(|(end, _)| *end > pos as u64)
            .unwrap();
        let (start, expected) = &prefixes[k - 1];
        assert_eq!(&snapshot(&s), expected, "byte {pos} (record {k})");
        assert_eq!(s.log_len(), *start, "byte {pos}");
        assert_eq!(warnings.len(), 1, "byte {pos}: {warnings:?}");
        assert!(
            warnings[0].contains(&format!("at byte {start}")),
            "{warnings:?}"
        );
    }
}

#[test]
fn a_corrupt_record_is_kept_aside_for_inspection() {
    let dir = TempDir::new("corrupt-copy");
    let mut s = FileStore::open(dir.path(), 1 << 20).unwrap();
    s.put(Key::Out(1), b"first").unwrap();
    let end_first = s.log_len();
    s.put(Key::Out(2), b"second").unwrap();
    s.put(Key::Out(3), b"third").unwrap();
    drop(s);
    let mut bytes = std::fs::read(log_path(dir.path())).unwrap();
    let original = bytes.clone();
    bytes[end_first as usize + 10] ^= 1;
    std::fs::write(log_path(dir.path()), &bytes).unwrap();
    let (warnings, s) = count_warnings(|| FileStore::open(dir.path(), 1 << 20).unwrap());
    assert!(
        warnings[0].contains("bad checksum"),
        "{warnings:?} ({original:?})"
    );
    assert_eq!(
        snapshot(&s),
        [(Key::Out(1), b"first".to_vec())].into_iter().collect()
    );
    assert_eq!(
        std::fs::read(dir.path().join("store.log.corrupt")).unwrap(),
        bytes
    );
}

#[test]
fn compaction_keeps_the_contents_and_bounds_the_log() {
    let dir = TempDir::new("compact");
    let config = FileStoreConfig {
        durability: Durability::OsBuffered,
        compact_min_bytes: 4096,
    };
    let mut s = FileStore::open_with(dir.path(), 1 << 20, config).unwrap();
    let mut vs = VecStore::new(1 << 20);
    let mut max_len = 0;
    for i in 0..5000u32 {
        let k = Key::Out(i % 7);
        let v = vec![i as u8; (i % 100) as usize];
        s.put(k, &v).unwrap();
        vs.put(k, &v).unwrap();
        if i % 3 == 0 {
            s.remove(Key::Out((i + 1) % 7));
            vs.remove(Key::Out((i + 1) % 7));
        }
        if i % 11 == 0 {
            s.rename(Key::Out(i % 7), Key::Subscription(i % 3));
            vs.rename(Key::Out(i % 7), Key::Subscription(i % 3));
        }
        max_len = max_len.max(s.log_len());
    }
    // Live data is under 1 KiB; without compaction the log would pass 300 KB.
    assert!(max_len < 2 * 4096 + 1024, "log grew to {max_len}");
    assert_eq!(snapshot(&s), snapshot(&vs));
    s.compact().unwrap();
    assert_eq!(snapshot(&s), snapshot(&vs));
    assert!(!dir.path().join("store.log.tmp").exists());
    drop(s);
    let s = FileStore::open_with(dir.path(), 1 << 20, config).unwrap();
    assert_eq!(snapshot(&s), snapshot(&vs));
}

#[test]
fn a_leftover_compaction_file_is_ignored() {
    let dir = TempDir::new("leftover");
    let mut s = FileStore::open(dir.path(), 1 << 20).unwrap();
    s.put(Key::Out(1), b"kept").unwrap();
    drop(s);
    // A compaction cut by a crash before its rename.
    std::fs::write(dir.path().join("store.log.tmp"), b"MQTTSTO\x01garbage").unwrap();
    let s = FileStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(s.get(Key::Out(1)), Some(&b"kept"[..]));
    assert!(!dir.path().join("store.log.tmp").exists());
}

#[test]
fn the_bound_is_enforced_like_vec_store() {
    let dir = TempDir::new("bound");
    let mut s = FileStore::open(dir.path(), 10).unwrap();
    s.put(Key::Out(1), b"123456").unwrap();
    assert!(s.put(Key::Out(2), b"12345").is_err());
    assert_eq!(s.get(Key::Out(2)), None);
    s.put(Key::Out(1), b"1234567890").unwrap(); // replacing frees the old bytes
    assert_eq!(s.room().1, 0);
    drop(s);
    // Reopened with a smaller bound: nothing is dropped, but nothing more fits.
    let mut s = FileStore::open(dir.path(), 4).unwrap();
    assert_eq!(s.get(Key::Out(1)), Some(&b"1234567890"[..]));
    assert_eq!(s.room().1, 0);
    assert!(!s.has_room(1));
    assert!(s.put(Key::Out(3), b"x").is_err());
    assert!(
        s.last_error().is_none(),
        "StoreFull from the bound is not an IO error"
    );
}

#[test]
fn files_are_private_and_debug_shows_no_record() {
    let dir = TempDir::new("private");
    let store_dir = dir.path().join("client-1");
    let mut s = FileStore::open(&store_dir, 1 << 20).unwrap();
    s.put(Key::Connect, b"password=hunter2").unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store_dir), 0o700);
        assert_eq!(mode(&log_path(&store_dir)), 0o600);
    }
}

// ----- locking -------------------------------------------------------------------------------

#[test]
fn a_second_open_in_this_process_fails_clearly() {
    let dir = TempDir::new("lock");
    let s = FileStore::open(dir.path(), 1 << 20).unwrap();
    let e = FileStore::open(dir.path(), 1 << 20).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy);
    let text = e.to_string();
    assert!(text.contains("in use by this process"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    let lock = dir.path().join("lock");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        std::process::id().to_string()
    );
    drop(s);
    assert!(!lock.exists(), "the lock file is removed on drop");
    FileStore::open(dir.path(), 1 << 20).expect("free again");
}

#[test]
fn a_lock_file_of_a_dead_process_is_taken_over() {
    let dir = TempDir::new("stale");
    // A lock file whose writer is gone (no process holds its lock).
    std::fs::write(dir.path().join("lock"), "4000000\n").unwrap();
    let s = FileStore::open(dir.path(), 1 << 20).expect("stale lock taken over");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("lock"))
            .unwrap()
            .trim(),
        std::process::id().to_string()
    );
    drop(s);
}

/// Not a test on its own: the child process of `another_process_holds_the_lock`.
#[test]
#[ignore = "helper run by another_process_holds_the_lock"]
fn lock_holder_child() {
    let Ok(dir) = std::env::var("FILE_STORE_LOCK_DIR") else {
        return;
    };
    let mut s = FileStore::open(&dir, 1 << 20).unwrap();
    s.put(Key::Out(1), b"from the child").unwrap();
    println!("LOCKED");
    // Wait for the parent to kill us (SIGKILL: no destructor runs, the lock file stays).
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn another_process_holds_the_lock_until_killed() {
    let dir = TempDir::new("lock-proc");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FILE_STORE_LOCK_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    assert!(
        out.lines()
            .map_while(Result::ok)
            .any(|l| l.contains("LOCKED")),
        "the child did not lock the store"
    );
    let e = FileStore::open(dir.path(), 1 << 20).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy);
    assert!(
        e.to_string()
            .contains(&format!("in use by process {}", child.id())),
        "{e}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        dir.path().join("lock").exists(),
        "a killed owner leaves its lock file"
    );
    let s = FileStore::open(dir.path(), 1 << 20).expect("taken over from the dead owner");
    assert_eq!(s.get(Key::Out(1)), Some(&b"from the child"[..]));
}

// ----- a session over the file store ---------------------------------------------------------

fn drain(s: &mut mqtt_transport::HostSession) {
    while s.poll_event().is_some() {}
}

fn transmit(s: &mut mqtt_transport::HostSession, now: Instant) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let mut all = Vec::new();
    loop {
        let n = s.poll_transmit(now, &mut out).expect("buffer large enough");
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&out[..n]);
    }
}

/// [MQTT-4.4.0-1] through a "process restart": the QoS 1 publish not yet acknowledged is
/// restored from the file store, resent with DUP after reconnecting, and forgotten once
/// acknowledged.
#[test]
fn a_session_restores_its_unacknowledged_publish_from_files() {
    let dir = TempDir::new("session");
    let mut options = Options::new("mqtt://127.0.0.1:1883", "file-store-client").unwrap();
    options.session_expiry_interval = 3600;
    options.store = StoreOptions::File {
        dir: dir.path().join("file-store-client"),
        max_bytes: 1 << 20,
    };
    let now = Instant::ZERO;
    let (mut s, restored) = open_session(&options).unwrap();
    assert_eq!(restored, 0);
    assert!(matches!(s.store(), HostStore::File(_)));
    s.connect(now);
    drain(&mut s);
    s.handle_transport_up(now);
    drain(&mut s);
    let connect = transmit(&mut s, now);
    assert_eq!(
        connect.first(),
        Some(&0x10),
        "CONNECT first: {connect:02x?}"
    );
    assert_eq!(s.handle_input(now, &[0x20, 0x03, 0x00, 0x00, 0x00]), 5);
    drain(&mut s);
    let token = s
        .publish(now, "a/b", b"persist me", QoS::AtLeastOnce, false, &[])
        .unwrap();
    assert!(token.is_some());
    let sent = transmit(&mut s, now);
    assert_eq!(sent.first(), Some(&0x32), "PUBLISH QoS 1: {sent:02x?}");
    drop(s); // the process "dies" before the PUBACK

    let (mut s, restored) = open_session(&options).unwrap();
    assert_eq!(restored, 1);
    assert_eq!(s.outstanding(), 1);
    s.connect(now);
    drain(&mut s);
    s.handle_transport_up(now);
    drain(&mut s);
    let connect = transmit(&mut s, now);
    assert_eq!(connect.first(), Some(&0x10));
    // CONNACK with Session Present: the unacknowledged PUBLISH goes again, with DUP.
    s.handle_input(now, &[0x20, 0x03, 0x01, 0x00, 0x00]);
    drain(&mut s);
    let resent = transmit(&mut s, now);
    assert_eq!(
        resent.first(),
        Some(&0x3A),
        "PUBLISH QoS 1 DUP: {resent:02x?}"
    );
    assert!(
        resent
            .windows(b"persist me".len())
            .any(|w| w == b"persist me"),
        "{resent:02x?}"
    );
    // Its packet id follows the topic: 2 bytes length + "a/b".
    let pid = [resent[2 + 2 + 3], resent[2 + 2 + 3 + 1]];
    s.handle_input(now, &[0x40, 0x02, pid[0], pid[1]]);
    drain(&mut s);
    assert_eq!(s.outstanding(), 0);
    drop(s);

    let (s, restored) = open_session(&options).unwrap();
    assert_eq!(restored, 0, "acknowledged work is gone from the files");
    drop(s);
}

// ----- cost ------------------------------------------------------------------------------

/// The cost of one put of a 100-byte record (a small PUBLISH), median of 2,000, with each
/// durability. Run: `cargo test -p mqtt-transport --test file_store -- --ignored
/// --nocapture put_cost`.
#[test]
#[ignore = "measurement; run by hand"]
fn put_cost() {
    for durability in [Durability::Sync, Durability::OsBuffered] {
        let dir = TempDir::new("cost");
        let config = FileStoreConfig {
            durability,
            ..FileStoreConfig::default()
        };
        let mut s = FileStore::open_with(dir.path(), 1 << 24, config).unwrap();
        let value = [7u8; 100];
        let mut times = Vec::with_capacity(2000);
        for i in 0..2000u32 {
            let t = StdInstant::now();
            s.put(Key::Out(i % 64), &value).unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{durability:?}: median {:?}, p90 {:?}, p99 {:?} per 100-byte put (dir {})",
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() * 99 / 100],
            dir.path().display()
        );
    }
}

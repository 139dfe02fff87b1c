//! Replays the committed seeds and regression inputs through the targets' invariants, and
//! checks that `fuzz/seeds/` is what `seeds::files()` builds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mqtt_proto::{Decoded, Decoder, ProtocolVersion};

use crate::{TARGETS, run_target, seeds, session};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn there_is_a_seed_of_every_type_in_both_versions() {
    let all = seeds::seeds();
    for (dir, types) in [("v4", 1..=14u8), ("v5", 1..=15u8)] {
        let have: BTreeSet<u8> = all
            .iter()
            .filter(|s| s.dir == dir)
            .map(|s| s.packet_type as u8)
            .collect();
        assert_eq!(have, types.collect(), "packet types among the {dir} seeds");
    }
}

#[test]
fn committed_seeds_are_current() {
    let root = fuzz_dir().join("seeds");
    let expected = seeds::files();
    let mut names = BTreeSet::new();
    for (name, bytes) in &expected {
        let path = root.join(name);
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run fuzz/gen-seeds.sh", path.display()));
        assert_eq!(&on_disk, bytes, "{name} is stale; run fuzz/gen-seeds.sh");
        names.insert(name.clone());
    }
    for dir in ["v4", "v5", "roundtrip", "session"] {
        for path in bin_files(&root.join(dir)) {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            assert!(
                names.contains(&name),
                "{name} is not built by seeds::files()"
            );
        }
    }
}

#[test]
fn every_seed_decodes_whole_as_its_type() {
    for s in seeds::seeds() {
        let v = s.version;
        match Decoder::new(v).decode(&s.bytes) {
            Ok(Decoded::Packet { packet, consumed }) => {
                assert_eq!(consumed, s.bytes.len(), "{}/{}", s.dir, s.name);
                assert_eq!(packet.packet_type(), s.packet_type, "{}/{}", s.dir, s.name);
            }
            other => panic!("{}/{}: {other:?}", s.dir, s.name),
        }
    }
}

#[test]
fn seeds_hold_the_invariants_of_every_target() {
    let root = fuzz_dir().join("seeds");
    for dir in ["v4", "v5"] {
        for path in bin_files(&root.join(dir)) {
            let data = std::fs::read(&path).unwrap();
            crate::decode_v4(&data);
            crate::decode_v5(&data);
            for v in crate::VERSIONS {
                crate::check_stream(v, &data);
            }
        }
    }
    for path in bin_files(&root.join("roundtrip")) {
        crate::roundtrip(&std::fs::read(&path).unwrap());
    }
}

/// Inputs that once broke an invariant live in `fuzz/regressions/<target>/`; each must now
/// pass, except the open session bugs of `session::KNOWN_BUGS` (each replayed by an
/// ignored test until fixed).
#[test]
fn regressions_pass() {
    let root = fuzz_dir().join("regressions");
    for target in TARGETS {
        for path in bin_files(&root.join(target)) {
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy();
            if target == "session" && session::KNOWN_BUGS.iter().any(|b| b.file == name) {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run_target(target, &data));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
        }
    }
}

/// A few inputs whose outcome is known, so the checks are seen to check something.
#[test]
fn invariants_cover_errors_and_prefixes() {
    // Header error at the first byte (type 0), in the remaining length, in the body.
    crate::decode_v4(&[0x00]);
    crate::decode_v4(&[0x30, 0xff, 0xff, 0xff, 0xff]);
    crate::decode_v5(&[0x30, 0x80, 0x00]);
    crate::decode_v5(&[0x62, 0x02, 0x00, 0x00]); // PUBREL with packet id 0
    crate::decode_v4(&[0xf0, 0x00]); // AUTH before 5.0
    // Incomplete: short header, and a long announced body.
    crate::decode_v5(&[0x30]);
    crate::decode_v5(&[0x30, 0xff, 0x7f, 0x00]);
    // Two packets back to back, and one with trailing garbage.
    crate::roundtrip(&[1, 0xc0, 0x00, 0xd0, 0x00, 0xe0, 0x00]);
    crate::decode_v4(&[0xc0, 0x00, 0xff]);
    // A 3.1.1 CONNECT with an empty client id and clean session 0: decodes, not re-encodable.
    let connect = [
        0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00,
    ];
    crate::decode_v4(&connect);
    crate::decode_v5(&connect);
    assert!(matches!(
        mqtt_proto::Packet::decode_exact(&connect, ProtocolVersion::V3_1_1),
        Ok(mqtt_proto::Packet::Connect(_))
    ));
}

// ----- the session target ---------------------------------------------------------------------

fn session_seed_files() -> Vec<PathBuf> {
    bin_files(&fuzz_dir().join("seeds").join("session"))
}

/// Every session seed passes the invariants, and together they reach deep: both versions,
/// QoS 1 and 2 handshakes both ways, subscribe, unsubscribe, a resumed session, manual acks,
/// enhanced authentication, keepalive, lost operations and lost connections.
#[test]
fn session_seeds_hold_the_invariants_and_go_deep() {
    let files = session_seed_files();
    assert!(files.len() >= 6, "session seeds: {files:?}");
    let mut total = session::Stats::default();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let st = session::run_stats(&data)
            .unwrap_or_else(|| panic!("{}: not a runnable input", path.display()));
        assert!(
            st.connected > 0,
            "{}: never connected: {st:?}",
            path.display()
        );
        total.connected += st.connected;
        total.resumed += st.resumed;
        total.messages += st.messages;
        total.published += st.published;
        total.subscribed += st.subscribed;
        total.unsubscribed += st.unsubscribed;
        total.lost += st.lost;
        total.connection_lost += st.connection_lost;
        total.auth += st.auth;
        total.app_acks += st.app_acks;
        for (t, n) in st.client_packets.iter().enumerate() {
            total.client_packets[t] += n;
        }
    }
    let t = total;
    assert!(t.resumed > 0 && t.messages > 0 && t.published > 0, "{t:?}");
    assert!(
        t.subscribed > 0 && t.unsubscribed > 0 && t.lost > 0,
        "{t:?}"
    );
    assert!(
        t.connection_lost > 0 && t.auth > 0 && t.app_acks > 0,
        "{t:?}"
    );
    // Every client packet type: CONNECT, PUBLISH .. UNSUBSCRIBE, PINGREQ, DISCONNECT, AUTH.
    for ty in [1, 3, 4, 5, 6, 7, 8, 10, 12, 14, 15] {
        assert!(
            t.client_packets[ty] > 0,
            "no client packet of type {ty}: {t:?}"
        );
    }
}

/// The input format round-trips: parsing an encoded input gives the same operations.
#[test]
fn session_inputs_round_trip() {
    for (name, bytes) in session::seed_inputs() {
        let (setup, ops) = session::parse_input(&bytes).expect(name);
        assert_eq!(session::encode_input(&setup, &ops), bytes, "{name}");
    }
    // Short inputs run nothing; missing argument bytes read as zero.
    assert!(session::parse_input(&[1, 2, 3]).is_none());
    let (_, ops) = session::parse_input(&[1, 0, 0, 0, 0, 0, 0, 5]).unwrap();
    assert_eq!(
        ops,
        [session::Op::Publish {
            qos: 0,
            topic: 0,
            len: 0,
            flags: 0
        }]
    );
}

/// The open session bugs, replayed: each still fails (so a fix shows up here), until it
/// is fixed and leaves [`session::KNOWN_BUGS`]. `cargo test --manifest-path fuzz/Cargo.toml --lib -- --ignored`.
#[test]
#[ignore = "replays the open session bugs of session::KNOWN_BUGS (none at the moment)"]
fn known_session_bugs_still_fail() {
    let root = fuzz_dir().join("regressions").join("session");
    for b in session::KNOWN_BUGS {
        let data = std::fs::read(root.join(b.file)).unwrap();
        let outcome = std::panic::catch_unwind(|| run_target("session", &data));
        assert!(
            outcome.is_err(),
            "{} passes now: remove it from KNOWN_BUGS",
            b.id
        );
    }
}

/// Every open session bug has its input committed.
#[test]
fn known_session_bugs_have_inputs() {
    let root = fuzz_dir().join("regressions").join("session");
    for b in session::KNOWN_BUGS {
        assert!(root.join(b.file).is_file(), "{}: missing {}", b.id, b.file);
    }
}

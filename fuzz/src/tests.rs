//! Replays the committed seeds and regression inputs through the targets' invariants, and
//! checks that `fuzz/seeds/` is what `seeds::files()` builds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mqtt_proto::{Decoded, Decoder, ProtocolVersion};

use crate::{TARGETS, run_target, seeds};

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
    for dir in ["v4", "v5", "roundtrip"] {
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

/// Inputs that once broke an invariant live in `fuzz/regressions/<target>/`; each must now pass.
#[test]
fn regressions_pass() {
    let root = fuzz_dir().join("regressions");
    for target in TARGETS {
        for path in bin_files(&root.join(target)) {
            if path.extension().is_some_and(|e| e == "md") {
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

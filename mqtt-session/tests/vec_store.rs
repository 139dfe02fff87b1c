//! `VecStore` against a `BTreeMap` model: the same records, in the same key order, with the
//! same byte accounting and the same refusals, for any sequence of operations.
#![cfg(feature = "alloc")]

use std::collections::BTreeMap;

use mqtt_session::{Key, Store, StoreFull, VecStore};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(Key, usize, u8),
    Remove(Key),
    Rename(Key, Key),
    /// The session's idle hook: memory given back, records kept.
    Release,
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![
        Just(Key::Connect),
        Just(Key::AssignedClientId),
        (0u32..12).prop_map(Key::Out),
        (0u16..6).prop_map(Key::IncomingQos2),
        (0u32..6).prop_map(Key::Subscription),
        (0u16..4).prop_map(Key::TopicAlias),
        (0u16..4).prop_map(Key::OutAlias),
        Just(Key::Auth),
    ]
}

fn op(max_len: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), 0usize..max_len, any::<u8>()).prop_map(|(k, n, b)| Op::Put(k, n, b)),
        2 => key().prop_map(Op::Remove),
        1 => (key(), key()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => Just(Op::Release),
    ]
}

proptest! {
    #[test]
    fn vec_store_matches_a_sorted_map(ops in proptest::collection::vec(op(40), 0..200)) {
        run(400, ops)?;
    }

    /// Records of up to 3 KB in a 40 KB store: the arena grows past its shrink floor,
    /// compacts, and shrinks back as records go.
    #[test]
    fn vec_store_large_records_match_a_sorted_map(
        ops in proptest::collection::vec(op(3000), 0..200)
    ) {
        run(40_000, ops)?;
    }
}

/// A stream as a connection makes it: after the CONNECT, operations stored under increasing keys and
/// completed oldest first (sometimes newest first, or replaced), so the arena's records
/// stay in key order (the compaction that needs no sorting) with now and then one out of
/// order.
fn stream(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec((0u8..10, 1usize..max_len, any::<u8>()), 0..300).prop_map(|steps| {
        let (mut next, mut oldest) = (0u32, 0u32);
        // The CONNECT is kept in front of the operations, as a session keeps it.
        let mut ops = vec![Op::Put(Key::Connect, 30, 0)];
        for (what, n, b) in steps {
            match what {
                0..=4 => {
                    ops.push(Op::Put(Key::Out(next), n, b));
                    next += 1;
                }
                5..=7 if oldest < next => {
                    ops.push(Op::Remove(Key::Out(oldest)));
                    oldest += 1;
                }
                8 if next > oldest => ops.push(Op::Put(Key::Out(next - 1), n, b)),
                _ => ops.push(Op::Remove(Key::Out(next.saturating_sub(1)))),
            }
        }
        ops
    })
}

proptest! {
    #[test]
    fn vec_store_stream_matches_a_sorted_map(ops in stream(700)) {
        run(8_000, ops)?;
    }
}

fn run(max: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    {
        let mut store = VecStore::new(max);
        let mut model: BTreeMap<Key, Vec<u8>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(k, n, b) => {
                    let used: usize = model.values().map(Vec::len).sum();
                    let old = model.get(&k).map_or(0, Vec::len);
                    let fits = used - old + n <= max;
                    let r = store.put_with(k, n, &mut |dst| dst.fill(b));
                    prop_assert_eq!(r, if fits { Ok(()) } else { Err(StoreFull) });
                    if fits {
                        model.insert(k, vec![b; n]);
                    }
                }
                Op::Remove(k) => {
                    store.remove(k);
                    model.remove(&k);
                }
                Op::Release => {
                    store.release();
                    let used: usize = model.values().map(Vec::len).sum();
                    prop_assert!(
                        store.heap_bytes() <= used + 24 * model.len() + 64,
                        "released: {} heap bytes for {} bytes in {} records",
                        store.heap_bytes(),
                        used,
                        model.len()
                    );
                }
                Op::Rename(a, b) => {
                    store.rename(a, b);
                    if a != b {
                        model.remove(&b);
                        if let Some(r) = model.remove(&a) {
                            model.insert(b, r);
                        }
                    }
                }
            }
            let mut keys = Vec::new();
            store.for_each_key(&mut |k| keys.push(k));
            prop_assert_eq!(&keys, &model.keys().copied().collect::<Vec<_>>());
            for (k, v) in &model {
                prop_assert_eq!(store.get(*k), Some(&v[..]));
            }
            let used: usize = model.values().map(Vec::len).sum();
            prop_assert_eq!(store.room().1, max - used);
            prop_assert!(store.has_room(max - used));
            prop_assert!(!store.has_room(max - used + 1));
            prop_assert!(store.heap_bytes() <= 2 * max + 24 * 64 + 4096, "bounded");
        }
    }
    Ok(())
}

//! The store the host adapters give the session: in memory or in files.

use mqtt_session::{Key, Store, StoreFull, VecStore};

use crate::file_store::FileStore;

/// One of the stores an [`crate::StoreOptions`] can ask for.
#[derive(Debug)]
pub enum HostStore {
    /// In memory ([`VecStore`]).
    Memory(VecStore),
    /// In files, crash-safe ([`FileStore`]).
    File(FileStore),
}

impl Store for HostStore {
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull> {
        match self {
            HostStore::Memory(s) => s.put_with(key, len, write),
            HostStore::File(s) => s.put_with(key, len, write),
        }
    }
    fn get(&self, key: Key) -> Option<&[u8]> {
        match self {
            HostStore::Memory(s) => s.get(key),
            HostStore::File(s) => s.get(key),
        }
    }
    fn remove(&mut self, key: Key) {
        match self {
            HostStore::Memory(s) => s.remove(key),
            HostStore::File(s) => s.remove(key),
        }
    }
    fn rename(&mut self, from: Key, to: Key) {
        match self {
            HostStore::Memory(s) => s.rename(from, to),
            HostStore::File(s) => s.rename(from, to),
        }
    }
    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        match self {
            HostStore::Memory(s) => s.for_each_key(f),
            HostStore::File(s) => s.for_each_key(f),
        }
    }
    fn has_room(&self, len: usize) -> bool {
        match self {
            HostStore::Memory(s) => s.has_room(len),
            HostStore::File(s) => s.has_room(len),
        }
    }
    fn room(&self) -> (usize, usize) {
        match self {
            HostStore::Memory(s) => s.room(),
            HostStore::File(s) => s.room(),
        }
    }
    /// The in-memory store gives back its spare buffer (the file store keeps one
    /// allocation per record, nothing spare).
    fn release(&mut self) {
        match self {
            HostStore::Memory(s) => s.release(),
            HostStore::File(s) => s.release(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `release` reaches the in-memory store: after a burst its buffer shrinks to its records.
    #[test]
    fn release_is_forwarded_to_the_memory_store() {
        let mut s = HostStore::Memory(VecStore::new(1 << 20));
        for i in 0..64u16 {
            s.put(Key::Out(u32::from(i)), &[7u8; 1000]).unwrap();
        }
        for i in 1..64u16 {
            s.remove(Key::Out(u32::from(i)));
        }
        let HostStore::Memory(v) = &s else {
            unreachable!()
        };
        let before = v.heap_bytes();
        s.release();
        let HostStore::Memory(v) = &s else {
            unreachable!()
        };
        assert!(v.heap_bytes() < before, "{} -> {}", before, v.heap_bytes());
        assert!(v.heap_bytes() <= 2 * 1000, "{}", v.heap_bytes());
        assert_eq!(s.get(Key::Out(0)), Some(&[7u8; 1000][..]));
    }
}

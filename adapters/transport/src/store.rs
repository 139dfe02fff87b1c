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
}

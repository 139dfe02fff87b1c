//! Storage for what the session must keep as bytes: the CONNECT it repeats, outgoing
//! operations until acknowledged, incoming QoS 2 ids until released, and the
//! subscriptions it remembers. Every record is an encoded MQTT packet (or empty).
//!
//! The session is generic over [`Store`], so the caller chooses the memory: the fixed
//! [`ArenaStore`] (no heap, for microcontrollers), the growable `VecStore` (feature
//! `alloc`), or a store that also writes through to disk. The same trait is the
//! persistence hook: a store that survives a restart lets [`crate::Session::restore`]
//! rebuild the inflight tables from it.

/// What a record is; the ordering of keys is the order records are replayed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Key {
    /// The CONNECT packet sent on every connection.
    Connect,
    /// The client identifier the server assigned (5.0), used on later connects.
    AssignedClientId,
    /// An outgoing operation (PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE) by sequence number.
    Out(u32),
    /// An incoming QoS 2 packet id whose PUBREL is awaited (empty record).
    IncomingQos2(u16),
    /// A remembered subscription (a one-filter SUBSCRIBE packet) by sequence number.
    Subscription(u32),
    /// The topic name the server bound to an incoming topic alias (this connection only).
    TopicAlias(u16),
    /// The topic name we bound to an outgoing topic alias (this connection only).
    OutAlias(u16),
    /// An AUTH packet waiting to be sent.
    Auth,
}

/// The store has no room for a record: the caller sees back-pressure, nothing is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StoreFull;

/// Keyed byte records. Implementations must keep every record until removed.
pub trait Store {
    /// Inserts or replaces the record under `key` with `len` bytes that `write` fills in
    /// place (so packets are encoded straight into the store). On `Err` nothing changed.
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull>;
    /// Inserts or replaces the record under `key`.
    fn put(&mut self, key: Key, bytes: &[u8]) -> Result<(), StoreFull> {
        self.put_with(key, bytes.len(), &mut |dst| dst.copy_from_slice(bytes))
    }
    /// The record under `key`.
    fn get(&self, key: Key) -> Option<&[u8]>;
    /// Removes the record under `key`, if any.
    fn remove(&mut self, key: Key);
    /// Moves a record to a new key (replacing any record there).
    fn rename(&mut self, from: Key, to: Key);
    /// Calls `f` with every key, in ascending key order.
    fn for_each_key(&self, f: &mut dyn FnMut(Key));
    /// Whether a record of `len` bytes would fit now.
    fn has_room(&self, len: usize) -> bool;
    /// Free records and free bytes, as far as the store knows (unbounded by default).
    /// The session reserves part of it for incoming topic aliases at each connection.
    fn room(&self) -> (usize, usize) {
        (usize::MAX, usize::MAX)
    }
}

#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Slot {
    key: Key,
    start: u32,
    len: u32,
}

/// A store in fixed memory: `N` records sharing `BYTES` bytes. Records are laid out
/// in insertion order; when the end is reached the live ones are compacted forward.
pub struct ArenaStore<const N: usize, const BYTES: usize> {
    slots: heapless::Vec<Slot, N>,
    bytes: [u8; BYTES],
    end: usize,
}

impl<const N: usize, const BYTES: usize> Default for ArenaStore<N, BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const BYTES: usize> core::fmt::Debug for ArenaStore<N, BYTES> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArenaStore")
            .field("records", &self.slots.len())
            .field("used", &self.used())
            .finish()
    }
}

impl<const N: usize, const BYTES: usize> ArenaStore<N, BYTES> {
    /// An empty store.
    pub const fn new() -> Self {
        ArenaStore {
            slots: heapless::Vec::new(),
            bytes: [0; BYTES],
            end: 0,
        }
    }

    fn used(&self) -> usize {
        self.slots.iter().map(|s| s.len as usize).sum()
    }

    fn index(&self, key: Key) -> Option<usize> {
        self.slots.iter().position(|s| s.key == key)
    }

    /// Moves every live record to the front, in order.
    fn compact(&mut self) {
        let mut to = 0usize;
        for slot in self.slots.iter_mut() {
            let (from, len) = (slot.start as usize, slot.len as usize);
            if from != to {
                self.bytes.copy_within(from..from + len, to);
                slot.start = to as u32;
            }
            to += len;
        }
        self.end = to;
    }
}

impl<const N: usize, const BYTES: usize> Store for ArenaStore<N, BYTES> {
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull> {
        if let Some(i) = self.index(key) {
            // Replace in place when the new record is no longer; else drop and re-add.
            if let Some(slot) = self.slots.get_mut(i)
                && len <= slot.len as usize
                && let Some(dst) = self
                    .bytes
                    .get_mut(slot.start as usize..slot.start as usize + len)
            {
                write(dst);
                slot.len = len as u32;
                return Ok(());
            }
            let old = self.slots.remove(i);
            if !self.has_room(len) {
                // Put the old record back: a failed put changes nothing.
                let _ = self.slots.insert(i, old);
                return Err(StoreFull);
            }
        }
        if !self.has_room(len) {
            return Err(StoreFull);
        }
        if self.end + len > BYTES {
            self.compact();
        }
        let start = self.end;
        let dst = self.bytes.get_mut(start..start + len).ok_or(StoreFull)?;
        write(dst);
        self.end += len;
        self.slots
            .push(Slot {
                key,
                start: start as u32,
                len: len as u32,
            })
            .map_err(|_| StoreFull)
    }

    fn get(&self, key: Key) -> Option<&[u8]> {
        let s = self.slots.iter().find(|s| s.key == key)?;
        self.bytes.get(s.start as usize..(s.start + s.len) as usize)
    }

    fn remove(&mut self, key: Key) {
        if let Some(i) = self.index(key) {
            self.slots.remove(i);
            if self.slots.is_empty() {
                self.end = 0;
            }
        }
    }

    fn rename(&mut self, from: Key, to: Key) {
        if from == to {
            return;
        }
        self.remove(to);
        if let Some(s) = self.slots.iter_mut().find(|s| s.key == from) {
            s.key = to;
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        let mut keys: heapless::Vec<Key, N> = self.slots.iter().map(|s| s.key).collect();
        // Insertion sort: at most N (a few dozen) keys, and 2.5 KB less flash than
        // `sort_unstable` on a Cortex-M (adapters/embedded/README.md).
        for i in 1..keys.len() {
            let mut j = i;
            while j > 0 {
                match (keys.get(j - 1), keys.get(j)) {
                    (Some(a), Some(b)) if a > b => keys.swap(j - 1, j),
                    _ => break,
                }
                j -= 1;
            }
        }
        keys.iter().for_each(|k| f(*k));
    }

    fn has_room(&self, len: usize) -> bool {
        !self.slots.is_full() && self.used() + len <= BYTES
    }
    fn room(&self) -> (usize, usize) {
        (N - self.slots.len(), BYTES - self.used())
    }
}

/// A growable store on the heap, bounded only by `max_bytes`.
///
/// Records sit in a ring sorted by key, found by binary search. Operations are keyed by an
/// increasing sequence number, so a new one goes after the older ones and the oldest
/// completes next to the front: each moves only the few records on its short side (the
/// CONNECT, remembered subscriptions). An idle connection holds a few dozen bytes besides
/// its records (a `BTreeMap` would take a 368-byte node for the first one).
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub struct VecStore {
    records: alloc::collections::VecDeque<(Key, alloc::boxed::Box<[u8]>)>,
    used: usize,
    max_bytes: usize,
}

#[cfg(feature = "alloc")]
impl VecStore {
    /// An empty store holding at most `max_bytes` of records.
    pub fn new(max_bytes: usize) -> Self {
        VecStore {
            records: Default::default(),
            used: 0,
            max_bytes,
        }
    }

    /// Where `key` is, or where it would go.
    fn find(&self, key: Key) -> Result<usize, usize> {
        // Most lookups are for the newest or the oldest operation: check the back first.
        match self.records.back() {
            Some((last, _)) if *last < key => Err(self.records.len()),
            _ => self.records.binary_search_by(|(k, _)| k.cmp(&key)),
        }
    }
}

#[cfg(feature = "alloc")]
impl Store for VecStore {
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull> {
        let at = self.find(key);
        let old = match at {
            Ok(i) => self.records.get(i).map_or(0, |(_, r)| r.len()),
            Err(_) => 0,
        };
        if self.used - old + len > self.max_bytes {
            return Err(StoreFull);
        }
        self.used = self.used - old + len;
        let mut record = alloc::vec![0u8; len].into_boxed_slice();
        write(&mut record);
        match at {
            Ok(i) => {
                if let Some(slot) = self.records.get_mut(i) {
                    slot.1 = record;
                }
            }
            Err(i) => self.records.insert(i, (key, record)),
        }
        Ok(())
    }
    fn get(&self, key: Key) -> Option<&[u8]> {
        let i = self.find(key).ok()?;
        self.records.get(i).map(|(_, r)| &r[..])
    }
    fn remove(&mut self, key: Key) {
        if let Ok(i) = self.find(key)
            && let Some((_, r)) = self.records.remove(i)
        {
            self.used -= r.len();
        }
    }
    fn rename(&mut self, from: Key, to: Key) {
        if from == to {
            return;
        }
        self.remove(to);
        let Ok(i) = self.find(from) else {
            return;
        };
        let Some((_, record)) = self.records.remove(i) else {
            return;
        };
        let j = self.find(to).unwrap_or_else(|j| j);
        self.records.insert(j, (to, record));
    }
    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        self.records.iter().for_each(|(k, _)| f(*k));
    }
    fn has_room(&self, len: usize) -> bool {
        self.used + len <= self.max_bytes
    }
    fn room(&self) -> (usize, usize) {
        (usize::MAX, self.max_bytes - self.used)
    }
}

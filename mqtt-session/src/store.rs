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
    /// The connection idles or ended: a store on the heap may give spare memory back
    /// (records stay). Nothing by default.
    fn release(&mut self) {}
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
                crate::shift::move_front(&mut self.bytes, from, len, to);
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
            // A failed put changes nothing: check the room the old record leaves first.
            let old = self.slots.get(i).map_or(0, |s| s.len as usize);
            if self.used() - old + len > BYTES {
                return Err(StoreFull);
            }
            crate::shift::remove(&mut self.slots, i);
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
            let Some(slot) = crate::shift::remove(&mut self.slots, i) else {
                return;
            };
            if self.slots.is_empty() {
                self.end = 0;
            } else if (slot.start + slot.len) as usize == self.end {
                // The newest record (an operation finished before the next one came):
                // its bytes are reused right away, still in cache.
                self.end = slot.start as usize;
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
        // Pushed one by one: `collect` into a `heapless::Vec` links a panic message for an
        // overflow that cannot happen here (as many slots as keys).
        let mut keys: heapless::Vec<Key, N> = heapless::Vec::new();
        for s in &self.slots {
            let _ = keys.push(s.key);
        }
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
/// The records' bytes share one growable arena (no allocation, no zero-fill per record):
/// a record goes at the end of what is in use; removing the last one (an operation
/// acknowledged before the next is stored, the common case) gives its bytes straight back,
/// and when the end is reached the live records are compacted forward in the bytes already
/// there, growing the arena only when less than half of it would be free (so it holds at
/// most twice `max_bytes`). The arena shrinks when its records fall under a sixteenth of it
/// (past a 4 KiB floor), and to what its records need exactly when the session releases it
/// ([`Store::release`]: the connection idles or ends).
///
/// The index sits in a ring sorted by key, found by binary search. Operations are keyed by
/// an increasing sequence number, so a new one goes after the older ones and the oldest
/// completes next to the front: each moves only the few entries on its short side (the
/// CONNECT, remembered subscriptions). An idle connection holds a few dozen bytes besides
/// its records (a `BTreeMap` would take a 368-byte node for the first one).
#[cfg(feature = "alloc")]
#[derive(Default)]
pub struct VecStore {
    /// Where each record's bytes are, sorted by key.
    records: alloc::collections::VecDeque<Record>,
    /// The arena. Its length is how much of it was ever written (initialised), so bytes
    /// past `end` are reused without zeroing them again.
    bytes: alloc::vec::Vec<u8>,
    /// Everything from here on is free.
    end: usize,
    /// Bytes of live records (what `max_bytes` bounds).
    used: usize,
    max_bytes: usize,
    /// Where the record after the last one found sits: a burst of sends reads the
    /// records of consecutive operations in turn. An atomic (relaxed) rather than a
    /// `Cell`, so the store stays `Sync`; it is only a guess, checked before use.
    next_hint: core::sync::atomic::AtomicUsize,
}

#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug)]
struct Record {
    key: Key,
    start: usize,
    len: usize,
}

/// Below this arena size the store never shrinks on its own (only on [`Store::release`]).
#[cfg(feature = "alloc")]
const SHRINK_FLOOR: usize = 4096;

#[cfg(feature = "alloc")]
impl core::fmt::Debug for VecStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the bytes: the CONNECT record holds the password.
        f.debug_struct("VecStore")
            .field("records", &self.records.len())
            .field("used", &self.used)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "alloc")]
impl VecStore {
    /// An empty store holding at most `max_bytes` of records.
    pub fn new(max_bytes: usize) -> Self {
        VecStore {
            max_bytes,
            ..Default::default()
        }
    }

    /// Bytes held on the heap: the arena and the index.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.records.capacity() * core::mem::size_of::<Record>()
    }

    /// Where `key` is, or where it would go.
    #[inline]
    fn find(&self, key: Key) -> Result<usize, usize> {
        // Most lookups are for the newest or the oldest operation: check the back first.
        match self.records.back() {
            Some(last) if last.key < key => return Err(self.records.len()),
            Some(last) if last.key == key => return Ok(self.records.len() - 1),
            _ => {}
        }
        // The oldest operation (the one acknowledged or sent next) sits at the front,
        // behind at most the CONNECT and an assigned client id, which sort first.
        for i in 0..3 {
            match self.records.get(i) {
                Some(r) if r.key == key => return Ok(i),
                Some(_) => {}
                None => break,
            }
        }
        // The one after the last found (the next record of a burst), or just before it
        // when the oldest was removed meanwhile.
        let hint = self.next_hint.load(core::sync::atomic::Ordering::Relaxed);
        for i in [hint, hint.wrapping_sub(1)] {
            if self.records.get(i).is_some_and(|r| r.key == key) {
                self.next_hint
                    .store(i + 1, core::sync::atomic::Ordering::Relaxed);
                return Ok(i);
            }
        }
        let found = self.records.binary_search_by(|r| r.key.cmp(&key));
        if let Ok(i) = found {
            self.next_hint
                .store(i + 1, core::sync::atomic::Ordering::Relaxed);
        }
        found
    }

    /// Moves the live records to the front of the arena (skipping index `skip`, whose bytes
    /// are being replaced), in the order they sit there, so nothing is overwritten.
    fn compact(&mut self, skip: Option<usize>) {
        // Records appended in key order sit in the arena in index order: compact them in
        // that order, with no list to allocate and sort.
        let mut last = 0;
        let in_order = self.records.iter().enumerate().all(|(i, r)| {
            let ok = Some(i) == skip || r.start >= last;
            if Some(i) != skip {
                last = r.start + r.len;
            }
            ok
        });
        if in_order {
            let mut to = 0;
            for (i, r) in self.records.iter_mut().enumerate() {
                if Some(i) == skip {
                    continue;
                }
                if r.start != to {
                    self.bytes.copy_within(r.start..r.start + r.len, to);
                    r.start = to;
                }
                to += r.len;
            }
            self.end = to;
            return;
        }
        let mut order: alloc::vec::Vec<(usize, usize)> = self
            .records
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != skip)
            .map(|(i, r)| (r.start, i))
            .collect();
        order.sort_unstable();
        let mut to = 0;
        for (from, i) in order {
            if let Some(r) = self.records.get_mut(i) {
                if from != to {
                    self.bytes.copy_within(from..from + r.len, to);
                    r.start = to;
                }
                to += r.len;
            }
        }
        self.end = to;
    }

    /// Room for `len` bytes at the end of the arena; returns where they start. `skip`: the
    /// index of a record whose old bytes are no longer needed.
    fn alloc(&mut self, len: usize, skip: Option<usize>) -> usize {
        if self.end + len > self.bytes.capacity() {
            self.compact(skip);
            // Grow while less than half would stay free, so compactions stay rare.
            let want = (self.end + len) * 2;
            if want > self.bytes.capacity() {
                self.bytes.reserve_exact(want - self.bytes.len());
            }
        }
        if self.end + len > self.bytes.len() {
            // Only bytes never written before are zeroed (once).
            self.bytes.resize(self.end + len, 0);
        }
        let start = self.end;
        self.end += len;
        start
    }

    /// Gives memory back: to what the records need when `exact`, else only when they
    /// use a sixteenth of a large arena.
    fn shrink(&mut self, exact: bool) {
        let cap = self.bytes.capacity();
        if self.records.is_empty() {
            self.end = 0;
            if exact || cap > SHRINK_FLOOR {
                self.bytes = alloc::vec::Vec::new();
            }
        } else if exact || (cap > SHRINK_FLOOR && self.used * 16 < cap) {
            self.compact(None);
            let keep = if exact { self.end } else { self.end * 4 };
            self.bytes.truncate(keep.max(self.end));
            self.bytes.shrink_to(keep);
        }
        if exact {
            self.records.shrink_to_fit();
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
            Ok(i) => self.records.get(i).copied(),
            Err(_) => None,
        };
        let old_len = old.map_or(0, |r| r.len);
        if self.used - old_len + len > self.max_bytes {
            return Err(StoreFull);
        }
        self.used = self.used - old_len + len;
        if let (Ok(i), Some(old)) = (at, old) {
            // Replace in place when no longer (a PUBREL replacing its PUBLISH).
            let start = if len <= old.len {
                old.start
            } else {
                if old.start + old.len == self.end {
                    self.end = old.start; // the last record: its bytes are free again
                }
                self.alloc(len, Some(i))
            };
            if old.start + old.len == self.end && len <= old.len {
                self.end = start + len;
            }
            if let Some(r) = self.records.get_mut(i) {
                r.start = start;
                r.len = len;
            }
            if let Some(dst) = self.bytes.get_mut(start..start + len) {
                write(dst);
            }
            return Ok(());
        }
        let start = self.alloc(len, None);
        let record = Record { key, start, len };
        match at {
            // The newest operation: at the back, the common case.
            Err(i) if i == self.records.len() => self.records.push_back(record),
            Err(i) | Ok(i) => self.records.insert(i, record),
        }
        if let Some(dst) = self.bytes.get_mut(start..start + len) {
            write(dst);
        }
        Ok(())
    }
    #[inline]
    fn get(&self, key: Key) -> Option<&[u8]> {
        let i = self.find(key).ok()?;
        let r = self.records.get(i)?;
        self.bytes.get(r.start..r.start + r.len)
    }
    fn remove(&mut self, key: Key) {
        let Ok(i) = self.find(key) else { return };
        let Some(r) = self.records.remove(i) else {
            return;
        };
        self.used -= r.len;
        if r.start + r.len == self.end {
            self.end = r.start;
        }
        if self.records.is_empty() {
            self.end = 0;
        }
        if self.bytes.capacity() > SHRINK_FLOOR {
            self.shrink(false);
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
        let Some(mut record) = self.records.remove(i) else {
            return;
        };
        record.key = to;
        let j = self.find(to).unwrap_or_else(|j| j);
        self.records.insert(j, record);
    }
    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        self.records.iter().for_each(|r| f(r.key));
    }
    fn has_room(&self, len: usize) -> bool {
        self.used + len <= self.max_bytes
    }
    fn room(&self) -> (usize, usize) {
        (usize::MAX, self.max_bytes - self.used)
    }
    fn release(&mut self) {
        self.shrink(true);
    }
}

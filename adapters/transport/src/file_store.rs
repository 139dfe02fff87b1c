//! A crash-safe, file-backed [`Store`]: the session's records survive a process restart
//! (or a power cut), so unfinished QoS 1/2 work resumes through `Session::restore`.
//!
//! # Format and crash safety
//! One directory per client id holds `store.log`, an append-only log:
//!
//! ```text
//! header:  "MQTTSTO" 0x01                      (8 bytes: magic, format version)
//! record:  len u32 LE | crc u32 LE | payload   (crc32 over the len bytes and the payload)
//! payload: op u8 | key | ...
//!          op 1 put:    key, value (the rest of the payload)
//!          op 2 remove: key
//!          op 3 rename: from key, to key
//! key:     tag u8 | fields LE: 0 Connect, 1 AssignedClientId, 2 Out(u32), 3 IncomingQos2(u16),
//!          4 Subscription(u32), 5 TopicAlias(u16), 6 OutAlias(u16), 7 Auth
//! ```
//!
//! Each `put_with` / `remove` / `rename` appends one record in one `write` and, with
//! [`Durability::Sync`] (the default), `fdatasync`s before returning. At open the log is
//! replayed up to the first record that is incomplete or fails its CRC, and the file is
//! truncated there: a crash at any byte of an append leaves either the state before the
//! operation (record torn, dropped) or after it (record complete). When the dead bytes
//! (replaced or removed records) outweigh the live ones, the live records are written to
//! `store.log.tmp`, which is fsynced and renamed over the log, and the directory fsynced:
//! at every instant one complete log is in place.
//!
//! Topic alias records ([`Key::TopicAlias`], [`Key::OutAlias`]) live in memory only: they
//! are valid for one network connection, which a restart ends anyway, so writing them
//! would add a disk sync to the receive path for nothing.
//!
//! Reads are served from memory (the whole store is cached at open). The directory is
//! created `0700` and the files `0600` on Unix: the CONNECT record holds the password.
//!
//! # Locking
//! `lock` in the directory holds the owner's pid and an exclusive `flock`-style lock
//! ([`std::fs::File::try_lock`]) for as long as the store is open, and is removed on drop.
//! A lock file left by a dead process is taken over, because the kernel released its
//! lock when it died; this needs no pid liveness check, so a reused pid (common in
//! containers, where a restarted client often gets the same pid) cannot keep a stale lock
//! alive or make a live one look stale.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mqtt_session::{Key, Store, StoreFull};

const MAGIC: [u8; 8] = *b"MQTTSTO\x01";
const LOG: &str = "store.log";
const TMP: &str = "store.log.tmp";
const CORRUPT: &str = "store.log.corrupt";
const LOCK: &str = "lock";
/// Record framing: len + crc.
const FRAME: usize = 8;
/// Longest encoded key (tag + u32).
const MAX_KEY: usize = 5;

const OP_PUT: u8 = 1;
const OP_REMOVE: u8 = 2;
const OP_RENAME: u8 = 3;

/// When an operation's record reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` after every operation: survives a crash of the process and of the
    /// machine (power cut). The default.
    #[default]
    Sync,
    /// Written to the OS before returning, synced only by compaction: survives a crash of
    /// the process, not of the machine. Much cheaper per operation.
    OsBuffered,
}

/// Tuning for [`FileStore::open_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// When records reach the disk (default [`Durability::Sync`]).
    pub durability: Durability,
    /// The log is compacted only once it is at least this long (default 64 KiB), and its
    /// dead bytes exceed its live ones.
    pub compact_min_bytes: u64,
}

impl Default for FileStoreConfig {
    fn default() -> Self {
        FileStoreConfig {
            durability: Durability::Sync,
            compact_min_bytes: 64 * 1024,
        }
    }
}

/// A [`Store`] kept in memory and written through to an append-only log in one directory
/// per client id; see the [module docs](self) for the format and the crash guarantees.
pub struct FileStore {
    dir: PathBuf,
    records: BTreeMap<Key, Vec<u8>>,
    /// Bytes of values held (the `max_bytes` accounting, as `VecStore` does it).
    used: usize,
    max_bytes: usize,
    config: FileStoreConfig,
    log: File,
    /// Length of the log (header + complete records).
    file_len: u64,
    /// Bytes the log would take if compacted now (header + one put per durable record).
    live_len: u64,
    /// A record could not be written: the log no longer matches memory and must be
    /// rewritten from memory before anything else is appended.
    needs_rewrite: bool,
    last_error: Option<io::Error>,
    /// Scratch for encoding records.
    buf: Vec<u8>,
    lock: Option<Lock>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the records: the CONNECT holds the password.
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("records", &self.records.len())
            .field("used", &self.used)
            .field("max_bytes", &self.max_bytes)
            .field("file_len", &self.file_len)
            .field("durability", &self.config.durability)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`, holding at most `max_bytes` of
    /// records, with [`Durability::Sync`]. Fails if another `FileStore` (in this or
    /// another process) has it open, or on an IO error, or if `dir` holds a log of an
    /// unknown format.
    pub fn open(dir: impl AsRef<Path>, max_bytes: usize) -> io::Result<FileStore> {
        Self::open_with(dir, max_bytes, FileStoreConfig::default())
    }

    /// [`FileStore::open`] with explicit durability and compaction settings.
    pub fn open_with(
        dir: impl AsRef<Path>,
        max_bytes: usize,
        config: FileStoreConfig,
    ) -> io::Result<FileStore> {
        let dir = dir.as_ref().to_path_buf();
        create_private_dir(&dir)?;
        let lock = Lock::acquire(&dir)?;
        // A compaction cut by a crash left a temporary file; the log itself is intact.
        match std::fs::remove_file(dir.join(TMP)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let path = dir.join(LOG);
        let mut log = private_file(&path, false)?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)?;
        let fresh = bytes.len() < MAGIC.len();
        if fresh {
            // New, or its creation was cut before the header was complete (then no
            // record was ever acknowledged).
            log.set_len(0)?;
            log.seek(SeekFrom::Start(0))?;
            log.write_all(&MAGIC)?;
            log.sync_all()?;
            // The file's entry in `dir`, and `dir`'s in its parent (it may be new too).
            sync_dir(&dir)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
            bytes = MAGIC.to_vec();
        } else if bytes[..MAGIC.len()] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not a session store log of a known format",
                    path.display()
                ),
            ));
        }
        let replay = replay(&bytes);
        if let Some(bad) = &replay.bad {
            tracing::warn!(
                "session store {}: {} at byte {}; the {} bytes from there on are dropped \
                 (replayed {} records)",
                path.display(),
                bad.reason,
                replay.valid_len,
                bytes.len() as u64 - replay.valid_len,
                replay.count
            );
            if bad.corruption {
                // Not a torn last write: keep the original for inspection.
                let _ = std::fs::write(dir.join(CORRUPT), &bytes);
            }
            log.set_len(replay.valid_len)?;
            log.sync_all()?;
        }
        log.seek(SeekFrom::Start(replay.valid_len))?;
        let used = replay.records.values().map(Vec::len).sum();
        let mut store = FileStore {
            dir,
            used,
            max_bytes,
            config,
            log,
            file_len: replay.valid_len,
            live_len: 0,
            needs_rewrite: false,
            last_error: None,
            buf: Vec::new(),
            lock: Some(lock),
            records: replay.records,
        };
        store.live_len = store.compute_live_len();
        if store.should_compact() {
            store.compact()?;
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last IO error an operation met, if any. Such an operation reported `StoreFull`
    /// (a put) or was applied in memory only (remove, rename) until the log is rewritten
    /// from memory, which is retried before the next operation.
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    /// The log's current length in bytes (header and records).
    pub fn log_len(&self) -> u64 {
        self.file_len
    }

    /// Rewrites the log with the live records only (also done automatically when the dead
    /// bytes exceed the live ones).
    pub fn compact(&mut self) -> io::Result<()> {
        let tmp = self.dir.join(TMP);
        let mut out = Vec::with_capacity(usize::try_from(self.live_len).unwrap_or(0));
        out.extend_from_slice(&MAGIC);
        for (k, v) in self.records.iter().filter(|(k, _)| is_durable(**k)) {
            encode_record(&mut out, OP_PUT, *k, None, v.len(), &mut |d| {
                d.copy_from_slice(v)
            });
        }
        let result = (|| {
            let mut f = private_file(&tmp, true)?;
            f.write_all(&out)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.dir.join(LOG))?;
            sync_dir(&self.dir)?;
            f.seek(SeekFrom::End(0))?;
            Ok(f)
        })();
        match result {
            Ok(f) => {
                self.log = f;
                self.file_len = out.len() as u64;
                self.live_len = self.file_len;
                self.needs_rewrite = false;
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn compute_live_len(&self) -> u64 {
        MAGIC.len() as u64
            + self
                .records
                .iter()
                .filter(|(k, _)| is_durable(**k))
                .map(|(k, v)| put_len(*k, v.len()))
                .sum::<u64>()
    }

    fn should_compact(&self) -> bool {
        self.file_len >= self.config.compact_min_bytes
            && self.file_len - self.live_len > self.live_len
    }

    fn fail(&mut self, what: &str, e: io::Error) {
        tracing::error!(
            "session store {}: {what} failed: {e}",
            self.dir.join(LOG).display()
        );
        self.last_error = Some(e);
    }

    /// Rewrites the log from memory if an earlier write failed. `false` if that fails too.
    fn repair(&mut self) -> bool {
        if !self.needs_rewrite {
            return true;
        }
        match self.compact() {
            Ok(()) => true,
            Err(e) => {
                self.fail("rewriting the log after an error", e);
                false
            }
        }
    }

    /// Appends the record in `self.buf` durably. On error the log is cut back to its
    /// previous length (or marked for a rewrite if even that fails).
    fn append(&mut self) -> io::Result<()> {
        let r = self.log.write_all(&self.buf).and_then(|()| {
            if self.config.durability == Durability::Sync {
                self.log.sync_data()
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => {
                self.file_len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                let cut = self
                    .log
                    .set_len(self.file_len)
                    .and_then(|()| self.log.seek(SeekFrom::Start(self.file_len)).map(|_| ()));
                if cut.is_err() {
                    self.needs_rewrite = true;
                }
                Err(e)
            }
        }
    }

    /// After a successful change: compact if worthwhile (a failure is only logged: the
    /// log is still correct, just long).
    fn after_change(&mut self) {
        if self.should_compact()
            && let Err(e) = self.compact()
        {
            self.fail("compacting the log", e);
        }
    }

    /// Logs a record for a change that memory applies regardless (remove, rename).
    fn log_unconditional(&mut self, what: &str) {
        if !self.repair() {
            // Memory moves on; the rewrite at the next operation carries this change.
            self.needs_rewrite = true;
            return;
        }
        if let Err(e) = self.append() {
            self.needs_rewrite = true;
            self.fail(what, e);
        }
    }

    fn remove_in_memory(&mut self, key: Key) -> Option<Vec<u8>> {
        let v = self.records.remove(&key)?;
        self.used -= v.len();
        if is_durable(key) {
            self.live_len -= put_len(key, v.len());
        }
        Some(v)
    }

    fn insert_in_memory(&mut self, key: Key, v: Vec<u8>) {
        self.remove_in_memory(key);
        self.used += v.len();
        if is_durable(key) {
            self.live_len += put_len(key, v.len());
        }
        self.records.insert(key, v);
    }
}

impl Store for FileStore {
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull> {
        let old = self.records.get(&key).map_or(0, Vec::len);
        if self.used - old + len > self.max_bytes || len > u32::MAX as usize - 2 * MAX_KEY - 1 {
            return Err(StoreFull);
        }
        let mut value = vec![0u8; len];
        write(&mut value);
        if is_durable(key) {
            if !self.repair() {
                return Err(StoreFull);
            }
            self.buf.clear();
            encode_record(&mut self.buf, OP_PUT, key, None, len, &mut |d| {
                d.copy_from_slice(&value)
            });
            if let Err(e) = self.append() {
                self.fail("writing a record", e);
                return Err(StoreFull);
            }
        }
        self.insert_in_memory(key, value);
        self.after_change();
        Ok(())
    }

    fn get(&self, key: Key) -> Option<&[u8]> {
        self.records.get(&key).map(Vec::as_slice)
    }

    fn remove(&mut self, key: Key) {
        if self.remove_in_memory(key).is_none() || !is_durable(key) {
            return;
        }
        self.buf.clear();
        encode_record(&mut self.buf, OP_REMOVE, key, None, 0, &mut |_| {});
        self.log_unconditional("logging a removal");
        self.after_change();
    }

    fn rename(&mut self, from: Key, to: Key) {
        if from == to {
            return;
        }
        let had_to = self.records.contains_key(&to);
        let moved = self.remove_in_memory(from);
        if moved.is_none() && !had_to {
            return;
        }
        // What the log must learn, so that replay gives what memory now holds.
        self.buf.clear();
        let value = moved.as_deref();
        match (is_durable(from), is_durable(to), value) {
            (true, true, Some(_)) => {
                encode_record(&mut self.buf, OP_RENAME, from, Some(to), 0, &mut |_| {})
            }
            (false, true, Some(v)) => {
                encode_record(&mut self.buf, OP_PUT, to, None, v.len(), &mut |d| {
                    d.copy_from_slice(v)
                })
            }
            (true, false, Some(_)) => {
                encode_record(&mut self.buf, OP_REMOVE, from, None, 0, &mut |_| {})
            }
            // Nothing moved: `to` is just removed.
            (_, true, None) => encode_record(&mut self.buf, OP_REMOVE, to, None, 0, &mut |_| {}),
            (_, false, _) => {}
        }
        match moved {
            Some(v) => self.insert_in_memory(to, v),
            None => {
                self.remove_in_memory(to);
            }
        }
        if !self.buf.is_empty() {
            self.log_unconditional("logging a rename");
            self.after_change();
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        self.records.keys().for_each(|k| f(*k));
    }

    fn has_room(&self, len: usize) -> bool {
        self.used + len <= self.max_bytes
    }

    fn room(&self) -> (usize, usize) {
        (usize::MAX, self.max_bytes.saturating_sub(self.used))
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if self.needs_rewrite {
            let _ = self.repair();
        }
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
    }
}

// ----- records ------------------------------------------------------------------------------

/// Whether records under `key` are written to the log (topic aliases are per connection).
fn is_durable(key: Key) -> bool {
    !matches!(key, Key::TopicAlias(_) | Key::OutAlias(_))
}

fn encode_key(out: &mut Vec<u8>, key: Key) {
    match key {
        Key::Connect => out.push(0),
        Key::AssignedClientId => out.push(1),
        Key::Out(n) => {
            out.push(2);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Key::IncomingQos2(n) => {
            out.push(3);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Key::Subscription(n) => {
            out.push(4);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Key::TopicAlias(n) => {
            out.push(5);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Key::OutAlias(n) => {
            out.push(6);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Key::Auth => out.push(7),
    }
}

fn key_len(key: Key) -> usize {
    match key {
        Key::Connect | Key::AssignedClientId | Key::Auth => 1,
        Key::Out(_) | Key::Subscription(_) => 5,
        Key::IncomingQos2(_) | Key::TopicAlias(_) | Key::OutAlias(_) => 3,
    }
}

/// Decodes a key at the start of `b`; returns it and the rest.
fn decode_key(b: &[u8]) -> Option<(Key, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let u16_at = |r: &[u8]| Some(u16::from_le_bytes(r.get(..2)?.try_into().ok()?));
    let u32_at = |r: &[u8]| Some(u32::from_le_bytes(r.get(..4)?.try_into().ok()?));
    let key = match tag {
        0 => Key::Connect,
        1 => Key::AssignedClientId,
        2 => Key::Out(u32_at(rest)?),
        3 => Key::IncomingQos2(u16_at(rest)?),
        4 => Key::Subscription(u32_at(rest)?),
        5 => Key::TopicAlias(u16_at(rest)?),
        6 => Key::OutAlias(u16_at(rest)?),
        7 => Key::Auth,
        _ => return None,
    };
    Some((key, rest.get(key_len(key) - 1..)?))
}

/// Size of the put record of a `len`-byte value under `key`.
fn put_len(key: Key, len: usize) -> u64 {
    (FRAME + 1 + key_len(key) + len) as u64
}

/// Appends one framed record to `out`: `op`, `key`, `to` (rename) or a `len`-byte value
/// that `write` fills in (put).
fn encode_record(
    out: &mut Vec<u8>,
    op: u8,
    key: Key,
    to: Option<Key>,
    len: usize,
    write: &mut dyn FnMut(&mut [u8]),
) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME]);
    out.push(op);
    encode_key(out, key);
    if let Some(to) = to {
        encode_key(out, to);
    }
    let v = out.len();
    out.resize(v + len, 0);
    write(&mut out[v..]);
    let payload_len = (out.len() - start - FRAME) as u32;
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    let crc = crc32(&[&out[start..start + 4], &out[start + FRAME..]]);
    out[start + 4..start + FRAME].copy_from_slice(&crc.to_le_bytes());
}

struct BadRecord {
    reason: &'static str,
    /// A complete record with a bad checksum or content (not a write cut by a crash).
    corruption: bool,
}

struct Replay {
    records: BTreeMap<Key, Vec<u8>>,
    /// Length of the header and the records replayed.
    valid_len: u64,
    count: usize,
    bad: Option<BadRecord>,
}

/// Replays the log `bytes` (header checked by the caller) up to its end or its first bad
/// record.
fn replay(bytes: &[u8]) -> Replay {
    let mut records = BTreeMap::new();
    let mut pos = MAGIC.len();
    let mut count = 0;
    let bad = loop {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            break None;
        }
        let Some(frame) = rest.get(..FRAME) else {
            break Some(BadRecord {
                reason: "an incomplete record header (a write cut short)",
                corruption: false,
            });
        };
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let Some(payload) = FRAME.checked_add(len).and_then(|end| rest.get(FRAME..end)) else {
            break Some(BadRecord {
                reason: "an incomplete record (a write cut short, or a corrupt length)",
                corruption: false,
            });
        };
        if crc32(&[&frame[..4], payload]) != crc {
            break Some(BadRecord {
                reason: "a record with a bad checksum (corrupted)",
                corruption: true,
            });
        }
        let ok = match payload.split_first() {
            Some((&OP_PUT, r)) => decode_key(r).map(|(k, v)| {
                records.insert(k, v.to_vec());
            }),
            Some((&OP_REMOVE, r)) => decode_key(r).and_then(|(k, rest)| {
                rest.is_empty().then(|| {
                    records.remove(&k);
                })
            }),
            Some((&OP_RENAME, r)) => decode_key(r)
                .and_then(|(from, r)| decode_key(r).map(|(to, rest)| (from, to, rest)))
                .and_then(|(from, to, rest)| {
                    rest.is_empty().then(|| {
                        if from != to {
                            records.remove(&to);
                            if let Some(v) = records.remove(&from) {
                                records.insert(to, v);
                            }
                        }
                    })
                }),
            _ => None,
        };
        if ok.is_none() {
            break Some(BadRecord {
                reason: "a record of an unknown kind or key (corrupted, or a newer format)",
                corruption: true,
            });
        }
        pos += FRAME + len;
        count += 1;
    };
    Replay {
        records,
        valid_len: pos as u64,
        count,
        bad,
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and PNG use), over the concatenation of `parts`.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

// ----- files and the lock -------------------------------------------------------------------

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Opens `path` for reading and writing, creating it (mode 0600 on Unix); `truncate`
/// empties it.
fn private_file(path: &Path, truncate: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Makes a rename or creation in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The exclusive lock on a store directory.
struct Lock {
    path: PathBuf,
    file: File,
}

impl Lock {
    fn acquire(dir: &Path) -> io::Result<Lock> {
        let path = dir.join(LOCK);
        // A few tries: the file may be unlinked by its previous owner between our open and
        // our lock, in which case we locked a file nobody else will ever see.
        for _ in 0..10 {
            let mut file = private_file(&path, false)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    let pid = pid.trim();
                    let owner = if pid.is_empty() {
                        "another process".to_string()
                    } else if pid == std::process::id().to_string() {
                        format!("this process (pid {pid})")
                    } else {
                        format!("process {pid}")
                    };
                    return Err(io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!(
                            "the session store {} is in use by {owner} (lock file {}); \
                             one client id needs one directory per running client",
                            dir.display(),
                            path.display()
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0)?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
            return Ok(Lock { path, file });
        }
        Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("could not lock {}: it keeps being replaced", path.display()),
        ))
    }

    fn release(self) {
        // Unlink while still holding the lock, so nobody locks the old file meanwhile
        // without noticing (see `acquire`).
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Whether the open `file` is still the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[]), 0);
    }

    #[test]
    fn key_encoding_is_stable() {
        // The on-disk bytes of every key kind; changing any is a format change.
        let cases: [(Key, &[u8]); 8] = [
            (Key::Connect, &[0]),
            (Key::AssignedClientId, &[1]),
            (Key::Out(0x0102_0304), &[2, 4, 3, 2, 1]),
            (Key::IncomingQos2(0x0102), &[3, 2, 1]),
            (Key::Subscription(7), &[4, 7, 0, 0, 0]),
            (Key::TopicAlias(9), &[5, 9, 0]),
            (Key::OutAlias(0x0a0b), &[6, 0x0b, 0x0a]),
            (Key::Auth, &[7]),
        ];
        for (key, bytes) in cases {
            let mut v = Vec::new();
            encode_key(&mut v, key);
            assert_eq!(v, bytes, "{key:?}");
            assert_eq!(key_len(key), bytes.len());
            assert_eq!(decode_key(bytes), Some((key, &[][..])));
        }
        assert_eq!(decode_key(&[8]), None);
        assert_eq!(decode_key(&[2, 1, 2]), None);
    }

    #[test]
    fn record_layout() {
        let mut v = Vec::new();
        encode_record(&mut v, OP_PUT, Key::Out(1), None, 2, &mut |d| {
            d.copy_from_slice(b"hi")
        });
        assert_eq!(&v[..4], &8u32.to_le_bytes());
        assert_eq!(&v[8..], &[OP_PUT, 2, 1, 0, 0, 0, b'h', b'i']);
        assert_eq!(v.len() as u64, put_len(Key::Out(1), 2));
        assert_eq!(
            u32::from_le_bytes(v[4..8].try_into().unwrap()),
            crc32(&[&v[..4], &v[8..]])
        );
    }
}

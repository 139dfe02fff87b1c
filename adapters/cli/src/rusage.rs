//! CPU time and peak memory of this process (getrusage(RUSAGE_SELF)), and its current
//! resident set (from /proc/self/statm).

#![allow(unsafe_code)] // one libc call, with a zeroed out-parameter it fills

/// CPU time and peak resident memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// User + system CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
}

/// getrusage(RUSAGE_SELF).
pub fn now() -> Usage {
    // SAFETY: `rusage` is plain data; getrusage fills it and only reads `who`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a live `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Usage::default();
    }
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    Usage {
        cpu_ns: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss: ru.ru_maxrss as u64 * 1024,
    }
}

/// The current resident set size in bytes (0 if unknown).
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

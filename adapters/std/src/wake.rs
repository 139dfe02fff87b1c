//! Waiting for "the socket is readable, a [`crate::Client`] queued a command, or the
//! deadline came", whichever is first, without busy polling.
//!
//! On Unix the reader waits in `poll(2)` on the socket and on one end of a
//! `UnixStream` pair; a client writes one byte to the other end after queuing a command
//! (the self-pipe trick). Elsewhere the socket's read timeout is capped at
//! [`FALLBACK_TICK`] while client handles exist, so a command waits at most that long.

use std::io;
use std::time::{Duration, Instant};

/// What ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The socket has bytes (or an error, or end of stream) to read.
    Readable,
    /// A client queued a command.
    Woken,
    /// The deadline came.
    Timeout,
}

/// On platforms without the self-pipe, how long a command may wait for the reader.
#[cfg(not(unix))]
pub(crate) const FALLBACK_TICK: Duration = Duration::from_millis(20);

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

#[cfg(unix)]
mod imp {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::event::{PollFd, PollFlags, Timespec, poll};

    /// The clients' side: wakes the reader.
    #[derive(Debug)]
    pub(crate) struct Waker {
        tx: UnixStream,
        /// A wake-up byte is in the pipe and not yet drained: no need for another.
        pending: AtomicBool,
    }

    impl Waker {
        pub(crate) fn wake(&self) {
            if !self.pending.swap(true, Ordering::AcqRel) {
                // Non-blocking: a full pipe already holds a wake-up.
                let _ = (&self.tx).write(&[1]);
            }
        }
    }

    /// The reader's side.
    #[derive(Debug)]
    pub(crate) struct Waiter {
        rx: UnixStream,
        waker: Arc<Waker>,
    }

    pub(crate) fn pair() -> io::Result<(Arc<Waker>, Waiter)> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        let waker = Arc::new(Waker {
            tx,
            pending: AtomicBool::new(false),
        });
        Ok((waker.clone(), Waiter { rx, waker }))
    }

    impl Waiter {
        /// Waits until `socket` is readable, a client wakes us, or `deadline`.
        pub(crate) fn wait(
            &mut self,
            socket: Option<&std::net::TcpStream>,
            deadline: Option<Instant>,
            _clients: bool,
        ) -> io::Result<Ready> {
            loop {
                let timeout = remaining(deadline).map(|d| Timespec {
                    tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    // Round up so we do not wake a little early and spin.
                    tv_nsec: i64::from(d.subsec_micros()) * 1000 + 999,
                });
                if timeout.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec <= 999) {
                    return Ok(Ready::Timeout);
                }
                let rx = self.rx.as_fd();
                let mut fds = [
                    PollFd::new(&rx, PollFlags::IN),
                    PollFd::new(&rx, PollFlags::IN),
                ];
                let n = match socket {
                    Some(s) => {
                        fds[1] = PollFd::new(s, PollFlags::IN);
                        2
                    }
                    None => 1,
                };
                match poll(&mut fds[..n], timeout.as_ref()) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
                let woken = !fds[0].revents().is_empty();
                let readable = n == 2 && !fds[1].revents().is_empty();
                if woken {
                    self.drain();
                }
                return Ok(if readable {
                    Ready::Readable
                } else if woken {
                    Ready::Woken
                } else {
                    Ready::Timeout
                });
            }
        }

        /// Empties the pipe; the next `wake` writes a byte again.
        pub(crate) fn drain(&mut self) {
            self.waker.pending.store(false, Ordering::Release);
            let mut buf = [0u8; 64];
            while matches!(self.rx.read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::sync::Arc;

    /// Nothing to do: the reader looks at the command queue every [`FALLBACK_TICK`].
    #[derive(Debug)]
    pub(crate) struct Waker;

    impl Waker {
        pub(crate) fn wake(&self) {}
    }

    #[derive(Debug)]
    pub(crate) struct Waiter;

    pub(crate) fn pair() -> io::Result<(Arc<Waker>, Waiter)> {
        Ok((Arc::new(Waker), Waiter))
    }

    impl Waiter {
        /// Sets the socket's read timeout to the wait (capped at [`FALLBACK_TICK`] while
        /// clients exist) and reports `Readable`: the caller's read then blocks at most that.
        pub(crate) fn wait(
            &mut self,
            socket: Option<&std::net::TcpStream>,
            deadline: Option<Instant>,
            clients: bool,
        ) -> io::Result<Ready> {
            let mut wait = remaining(deadline);
            if clients {
                wait = Some(wait.map_or(FALLBACK_TICK, |w| w.min(FALLBACK_TICK)));
            }
            if wait == Some(Duration::ZERO) {
                return Ok(Ready::Timeout);
            }
            match socket {
                Some(s) => {
                    s.set_read_timeout(wait)?;
                    Ok(Ready::Readable)
                }
                None => {
                    std::thread::sleep(wait.unwrap_or(FALLBACK_TICK));
                    Ok(Ready::Woken)
                }
            }
        }

        pub(crate) fn drain(&mut self) {}
    }
}

pub(crate) use imp::{Waiter, Waker, pair};

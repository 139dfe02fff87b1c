//! The only place this crate touches the network: opening a TCP (and TLS) stream to a
//! broker, reading, writing and closing it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_transport::{BrokerUrl, Scheme, TlsOptions};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// An open byte stream to the broker.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    /// rustls over the socket. Reads go record by record through `read_tls` /
    /// `process_new_packets` rather than `StreamOwned`'s `Read`, which would block on a
    /// partial record: the loop reads only when `poll` says the socket is readable.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// Opens a stream to `url` within `timeout`: TCP (TCP_NODELAY if asked), then TLS
    /// for `mqtts://`.
    ///
    /// The TLS handshake completes here, so a refused certificate shows as a failure to
    /// open. Writes get a timeout (`write_timeout`): a peer that stops reading must not
    /// block the loop, and its timers, for ever.
    pub(crate) fn open(
        url: &BrokerUrl,
        nodelay: bool,
        tls: &TlsOptions,
        tls_config: Option<&Arc<ClientConfig>>,
        timeout: Duration,
        write_timeout: Duration,
    ) -> io::Result<Stream> {
        let deadline = Instant::now() + timeout;
        let mut tcp = connect_tcp(url, deadline)?;
        tcp.set_nodelay(nodelay)?;
        tcp.set_write_timeout(Some(write_timeout.max(Duration::from_millis(1))))?;
        match url.scheme {
            Scheme::Mqtt => Ok(Stream::Tcp(tcp)),
            Scheme::Mqtts => {
                let config = tls_config
                    .cloned()
                    .ok_or_else(|| io::Error::other("TLS is not configured"))?;
                let name = tls.server_name(&url.host).map_err(io::Error::other)?;
                let mut conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
                while conn.is_handshaking() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        ));
                    }
                    tcp.set_read_timeout(Some(left))?;
                    conn.complete_io(&mut tcp)?;
                }
                tcp.set_read_timeout(None)?;
                Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
            }
            Scheme::Ws | Scheme::Wss => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the blocking adapter speaks mqtt:// and mqtts:// only, not WebSocket",
            )),
        }
    }

    /// Sends the ACK of what was read at once (Linux `TCP_QUICKACK`) instead of after the
    /// delayed-ACK timer (up to 40 ms), for when the loop read and has nothing to answer.
    /// Best effort: elsewhere, or on error, nothing.
    pub(crate) fn ack_now(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = socket2::SockRef::from(self.socket()).set_tcp_quickack(true);
    }

    /// The socket, to wait on.
    pub(crate) fn socket(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }

    /// Bytes already received and decrypted but not yet read: readable without waiting
    /// on the socket. `None`: none buffered.
    pub(crate) fn read_buffered(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            Stream::Tcp(_) => None,
            Stream::Tls(_) if buf.is_empty() => None,
            Stream::Tls(t) => match t.conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                r => Some(r),
            },
        }
    }

    /// Reads into `buf` (not empty) with one `recv` on the socket; 0 means the peer
    /// closed. `WouldBlock`: nothing to hand out yet (part of a TLS record).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(t) => {
                if t.conn.read_tls(&mut t.sock)? == 0 {
                    return Ok(0);
                }
                let processed = t.conn.process_new_packets();
                // Alerts, key updates, session tickets acknowledgements.
                while t.conn.wants_write() {
                    t.conn.write_tls(&mut t.sock)?;
                }
                processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                t.conn.reader().read(buf)
            }
        }
    }

    /// Writes all of `buf`: one `write` call for TCP unless the kernel takes less; for
    /// TLS, the records of `buf` in as few `writev` calls as rustls needs.
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(buf),
            Stream::Tls(t) => {
                t.conn.writer().write_all(buf)?;
                while t.conn.wants_write() {
                    t.conn.write_tls(&mut t.sock)?;
                }
                Ok(())
            }
        }
    }

    /// Closes gracefully (TLS close_notify, then FIN).
    pub(crate) fn close(self) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Stream::Tls(mut t) => {
                t.conn.send_close_notify();
                while t.conn.wants_write() {
                    if t.conn.write_tls(&mut t.sock).is_err() {
                        break;
                    }
                }
                let _ = t.sock.shutdown(Shutdown::Both);
            }
        }
    }

    /// Closes at once without TLS close_notify or anything else (fault injection).
    pub(crate) fn abort(self) {
        let _ = self.socket().shutdown(Shutdown::Both);
    }
}

/// Connects to the first address of `url` that answers before `deadline`.
fn connect_tcp(url: &BrokerUrl, deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    for addr in url.socket_addr_string().to_socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

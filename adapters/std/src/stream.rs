//! The only place this crate touches the network: opening a TCP (and TLS) stream to a
//! broker, reading, writing and closing it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use mqtt_transport::{BrokerUrl, Scheme, TlsOptions};

/// An open byte stream to the broker.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
}

impl Stream {
    /// Opens a stream to `url` within `timeout`: TCP (TCP_NODELAY if asked), then TLS
    /// for `mqtts://`.
    pub(crate) fn open(
        url: &BrokerUrl,
        nodelay: bool,
        _tls: &TlsOptions,
        timeout: Duration,
    ) -> io::Result<Stream> {
        let deadline = Instant::now() + timeout;
        let tcp = connect_tcp(url, deadline)?;
        tcp.set_nodelay(nodelay)?;
        match url.scheme {
            Scheme::Mqtt => Ok(Stream::Tcp(tcp)),
            Scheme::Mqtts => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is not wired into the blocking adapter yet",
            )),
            Scheme::Ws | Scheme::Wss => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the blocking adapter speaks mqtt:// and mqtts:// only, not WebSocket",
            )),
        }
    }

    /// The socket, to wait on.
    pub(crate) fn socket(&self) -> &TcpStream {
        match self {
            Stream::Tcp(s) => s,
        }
    }

    /// Bytes already received and decrypted but not yet read: readable without waiting
    /// on the socket. `None`: none buffered.
    pub(crate) fn read_buffered(&mut self, _buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            Stream::Tcp(_) => None,
        }
    }

    /// Reads into `buf`; 0 means the peer closed.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
        }
    }

    /// Writes all of `buf` (one `write` call unless the kernel takes less).
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(buf),
        }
    }

    /// Closes gracefully (TLS close_notify, then FIN).
    pub(crate) fn close(self) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
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

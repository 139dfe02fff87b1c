//! The only place this crate touches the network: opening TCP, TLS and WebSocket streams
//! to a broker, and reading and writing bytes on them.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use mqtt_transport::{BrokerUrl, Scheme, TlsOptions};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open byte stream to the broker.
pub(crate) enum Conn {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Ws {
        ws: Box<WebSocketStream<MaybeTlsStream<TcpStream>>>,
        /// Bytes of the last binary frame not yet handed to the session.
        rest: Bytes,
    },
}

impl Conn {
    /// Opens a stream to `url`: TCP (with TCP_NODELAY if asked), then TLS, then the
    /// WebSocket handshake with the "mqtt" sub-protocol, as the scheme says. `tls`: the
    /// settings and the rustls configuration built from them (`None`: no TLS).
    pub(crate) async fn open(
        url: &BrokerUrl,
        nodelay: bool,
        tls: Option<(&TlsOptions, &Arc<rustls::ClientConfig>)>,
    ) -> io::Result<Conn> {
        let tcp = TcpStream::connect(url.socket_addr_string()).await?;
        tcp.set_nodelay(nodelay)?;
        let tls = || tls.ok_or_else(|| io::Error::other("TLS is not configured"));
        match url.scheme {
            Scheme::Mqtt => Ok(Conn::Tcp(tcp)),
            Scheme::Mqtts => {
                let (options, config) = tls()?;
                let name = options.server_name(&url.host).map_err(io::Error::other)?;
                // Boxed, as the WebSocket handshake below: their futures are kilobytes, and
                // inline they made every connection attempt's future (plain TCP too) 9.6 KB,
                // freed after the connect but left as holes in the heap (resident memory).
                let stream =
                    Box::pin(TlsConnector::from(config.clone()).connect(name, tcp)).await?;
                Ok(Conn::Tls(Box::new(stream)))
            }
            Scheme::Ws | Scheme::Wss => {
                let http = if url.scheme == Scheme::Wss {
                    "wss"
                } else {
                    "ws"
                };
                let host = if url.host.contains(':') {
                    format!("[{}]", url.host)
                } else {
                    url.host.clone()
                };
                let mut request = format!("{http}://{host}:{}{}", url.port, url.path)
                    .into_client_request()
                    .map_err(io::Error::other)?;
                request
                    .headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
                let connector = if url.scheme == Scheme::Wss {
                    Some(tokio_tungstenite::Connector::Rustls(tls()?.1.clone()))
                } else {
                    Some(tokio_tungstenite::Connector::Plain)
                };
                let (ws, _response) = Box::pin(tokio_tungstenite::client_async_tls_with_config(
                    request, tcp, None, connector,
                ))
                .await
                .map_err(io::Error::other)?;
                Ok(Conn::Ws {
                    ws: Box::new(ws),
                    rest: Bytes::new(),
                })
            }
        }
    }

    /// The TCP socket under the stream (`MaybeTlsStream` is non-exhaustive: a kind this
    /// crate never builds has none).
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Conn::Tcp(s) => Some(s),
            Conn::Tls(s) => Some(s.get_ref().0),
            Conn::Ws { ws, .. } => match ws.get_ref() {
                MaybeTlsStream::Rustls(s) => Some(s.get_ref().0),
                MaybeTlsStream::Plain(s) => Some(s),
                _ => None,
            },
        }
    }

    /// Sends the ACK of what was read at once (Linux `TCP_QUICKACK`) instead of after the
    /// delayed-ACK timer (up to 40 ms), for when the driver read and has nothing to
    /// answer: a broker that keeps Nagle's algorithm on its sockets waits for that ACK
    /// before sending its next small packet. Best effort: elsewhere, or on error, nothing.
    pub(crate) fn ack_now(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(tcp) = self.tcp() {
            let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        }
    }

    /// Reads into `buf`; 0 means the peer closed. A poll, not an `async fn`: the driver's
    /// task holds no read future while it waits (72 bytes of it, on every connection).
    /// Nothing is lost when the caller stops polling before `Ready`.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match self {
            Conn::Tcp(s) => ready!(Pin::new(s).poll_read(cx, &mut rb))?,
            Conn::Tls(s) => ready!(Pin::new(&mut **s).poll_read(cx, &mut rb))?,
            Conn::Ws { ws, rest } => loop {
                if !rest.is_empty() {
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest.split_to(n));
                    return Poll::Ready(Ok(n));
                }
                match ready!(ws.poll_next_unpin(cx)) {
                    None | Some(Ok(WsMessage::Close(_))) => return Poll::Ready(Ok(0)),
                    Some(Ok(WsMessage::Binary(b))) => *rest = b,
                    // MQTT travels in binary frames only; any other data frame closes the
                    // connection [MQTT-6.0.0-1].
                    Some(Ok(WsMessage::Text(_))) => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a text frame on an MQTT WebSocket [MQTT-6.0.0-1]",
                        )));
                    }
                    // Pings are answered by tungstenite on the next write or flush.
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                }
            },
        }
        Poll::Ready(Ok(rb.filled().len()))
    }

    /// Writes all of `buf` in one call on the stream (one WebSocket frame).
    pub(crate) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(buf).await,
            Conn::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
            Conn::Ws { ws, .. } => ws
                .send(WsMessage::Binary(Bytes::copy_from_slice(buf)))
                .await
                .map_err(io::Error::other),
        }
    }

    /// Closes the stream (TLS close_notify, WebSocket close frame, TCP FIN).
    pub(crate) async fn close(&mut self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown().await,
            Conn::Tls(s) => s.shutdown().await,
            Conn::Ws { ws, .. } => SinkExt::close(&mut **ws).await.map_err(io::Error::other),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection attempt's future stays small whatever the scheme: the TLS and
    /// WebSocket handshakes live behind their own boxes. Inline they made it 9.6 KB for
    /// plain TCP too, allocated per attempt and freed after it, which left 10,000 idle
    /// connections opened at once at 11.1 KB resident each instead of 6.2 KB.
    #[test]
    fn connect_future_is_small() {
        let url = BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap();
        let open = Conn::open(&url, true, None);
        let size = std::mem::size_of_val(&open);
        println!("Conn::open future: {size} bytes");
        assert!(size <= 512, "Conn::open future is {size} bytes");
    }
}

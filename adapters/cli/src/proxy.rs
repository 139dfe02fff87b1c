//! A TCP proxy on loopback that the demo cuts: every connection through it is dropped at
//! once, so the clients see their transport die without a DISCONNECT.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The proxy; stops on drop.
pub struct Proxy {
    /// The loopback port clients connect to.
    pub port: u16,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<free port> to `target` (host:port).
    pub async fn start(target: String) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let c = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let h = tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
                if let Ok(mut v) = c.lock() {
                    v.push(h);
                }
            }
        });
        Ok(Proxy {
            port,
            conns,
            accept,
        })
    }

    /// Drops every connection through the proxy now (both sockets close).
    pub fn cut(&self) -> usize {
        let v = self
            .conns
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let n = v.iter().filter(|h| !h.is_finished()).count();
        for h in v {
            h.abort();
        }
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

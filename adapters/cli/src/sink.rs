//! `mqttc sink`: an MQTT server for the benchmark that answers what a client waits for
//! (CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK, PINGRESP) and discards the rest,
//! so a publisher is measured alone. One task per connection; each read is decoded with
//! mqtt-proto in place and answered with one write.

use clap::Args;
use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion, QosPid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Fail;

/// `mqttc sink` flags.
#[derive(Args, Debug)]
pub struct SinkArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0: a free one, printed on stdout).
    #[arg(short = 'p', long, default_value_t = 0)]
    port: u16,
}

/// Runs `mqttc sink` until killed.
pub async fn run(a: SinkArgs) -> Result<u8, Fail> {
    let listener = TcpListener::bind((a.bind.as_str(), a.port))
        .await
        .map_err(|e| Fail::msg(format!("cannot listen on {}:{}: {e}", a.bind, a.port)))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(a.port);
    println!("sink listening on {}:{port}", a.bind);
    loop {
        let Ok((s, _)) = listener.accept().await else {
            continue;
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(serve(s));
    }
}

fn ack(out: &mut Vec<u8>, first: u8, id: u16) {
    out.extend_from_slice(&[first, 2]);
    out.extend_from_slice(&id.to_be_bytes());
}

async fn serve(mut s: TcpStream) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0usize;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut version = ProtocolVersion::V5;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match s.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        len += n;
        let mut at = 0;
        while at < len {
            let dec = Decoder::new(version).decode(&buf[at..len]);
            let (packet, consumed) = match dec {
                Ok(Decoded::Packet { packet, consumed }) => (packet, consumed),
                Ok(Decoded::Incomplete(_)) => break,
                Err(_) => return,
            };
            at += consumed;
            let v5 = version.is_v5();
            match packet {
                Packet::Connect(c) => {
                    version = c.protocol;
                    if c.protocol.is_v5() {
                        out.extend_from_slice(&[0x20, 3, 0, 0, 0]);
                    } else {
                        out.extend_from_slice(&[0x20, 2, 0, 0]);
                    }
                }
                Packet::Publish(p) => match p.qos {
                    QosPid::AtMostOnce => {}
                    QosPid::AtLeastOnce(id) => ack(&mut out, 0x40, id.get()),
                    QosPid::ExactlyOnce(id) => ack(&mut out, 0x50, id.get()),
                },
                Packet::PubRel(a) => ack(&mut out, 0x70, a.packet_id.get()),
                Packet::Subscribe(sub) => {
                    let granted: Vec<u8> =
                        sub.filters.iter().map(|f| f.options.qos as u8).collect();
                    let extra = usize::from(v5);
                    out.push(0x90);
                    out.push((2 + extra + granted.len()) as u8);
                    out.extend_from_slice(&sub.packet_id.get().to_be_bytes());
                    if v5 {
                        out.push(0);
                    }
                    out.extend_from_slice(&granted);
                }
                Packet::Unsubscribe(u) => {
                    let n = u.filters.iter().count();
                    out.push(0xb0);
                    if v5 {
                        out.push((3 + n) as u8);
                        out.extend_from_slice(&u.packet_id.get().to_be_bytes());
                        out.push(0);
                        out.extend(std::iter::repeat_n(0u8, n));
                    } else {
                        out.push(2);
                        out.extend_from_slice(&u.packet_id.get().to_be_bytes());
                    }
                }
                Packet::PingReq => out.extend_from_slice(&[0xd0, 0]),
                Packet::Disconnect(_) => {
                    let _ = s.write_all(&out).await;
                    return;
                }
                _ => {}
            }
        }
        buf.copy_within(at..len, 0);
        len -= at;
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

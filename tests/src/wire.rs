//! Owned summaries of MQTT packets ([`Pkt`]) and a [`Tap`] that decodes a byte stream.
//!
//! The broker model builds what it sends as a [`Pkt`] and encodes it with `mqtt-proto`;
//! the link decodes both directions of every connection with a [`Tap`] so the simulation
//! sees the packets the client really sent and really received.

use std::fmt;

use mqtt_proto::{
    Ack, ConnAck, Connect, DecodeError, Decoded, Decoder, Disconnect, EncodeError, List, Packet,
    PacketId, Properties, Property, ProtocolVersion, Publish, QoS, QosPid, ReasonCode, SubAck,
    Subscribe, Subscription, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe,
};

/// A model's filter as a `TopicFilter`; an invalid one cannot be encoded.
fn filter(f: &str) -> Result<TopicFilter<'_>, EncodeError> {
    TopicFilter::new(f).map_err(|_| EncodeError::InvalidTopicFilter)
}

/// One MQTT control packet, owning its data: what the tests look at and build.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Pkt {
    Connect {
        version: ProtocolVersion,
        clean_start: bool,
        keep_alive: u16,
        client_id: String,
        session_expiry: Option<u32>,
        receive_maximum: Option<u16>,
        maximum_packet_size: Option<u32>,
        topic_alias_maximum: Option<u16>,
    },
    ConnAck {
        session_present: bool,
        reason_code: ReasonCode,
        receive_maximum: Option<u16>,
        maximum_packet_size: Option<u32>,
        topic_alias_maximum: Option<u16>,
        server_keep_alive: Option<u16>,
        assigned_client_id: Option<String>,
    },
    Publish {
        dup: bool,
        qos: QoS,
        /// 0 for QoS 0.
        pid: u16,
        retain: bool,
        /// Empty when only the alias names the topic.
        topic: String,
        topic_alias: Option<u16>,
        payload: Vec<u8>,
    },
    PubAck(u16, ReasonCode),
    PubRec(u16, ReasonCode),
    PubRel(u16, ReasonCode),
    PubComp(u16, ReasonCode),
    Subscribe {
        pid: u16,
        filters: Vec<(String, QoS)>,
    },
    SubAck {
        pid: u16,
        codes: Vec<ReasonCode>,
    },
    Unsubscribe {
        pid: u16,
        filters: Vec<String>,
    },
    UnsubAck {
        pid: u16,
        codes: Vec<ReasonCode>,
    },
    PingReq,
    PingResp,
    Disconnect {
        reason_code: ReasonCode,
        session_expiry: Option<u32>,
    },
    Auth {
        reason_code: ReasonCode,
    },
}

impl Pkt {
    /// The owned summary of a decoded packet.
    pub fn from_packet(p: &Packet<'_>) -> Pkt {
        match *p {
            Packet::Connect(c) => Pkt::Connect {
                version: c.protocol,
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                client_id: c.client_id.to_owned(),
                session_expiry: c.properties.session_expiry_interval(),
                receive_maximum: c.properties.receive_maximum(),
                maximum_packet_size: c.properties.maximum_packet_size(),
                topic_alias_maximum: c.properties.topic_alias_maximum(),
            },
            Packet::ConnAck(a) => Pkt::ConnAck {
                session_present: a.session_present,
                reason_code: a.reason_code,
                receive_maximum: a.properties.receive_maximum(),
                maximum_packet_size: a.properties.maximum_packet_size(),
                topic_alias_maximum: a.properties.topic_alias_maximum(),
                server_keep_alive: a.properties.server_keep_alive(),
                assigned_client_id: a.properties.assigned_client_identifier().map(str::to_owned),
            },
            Packet::Publish(p) => Pkt::Publish {
                dup: p.dup,
                qos: p.qos.qos(),
                pid: p.qos.packet_id().map_or(0, |id| id.get()),
                retain: p.retain,
                topic: p.topic.to_string(),
                topic_alias: p.properties.topic_alias(),
                payload: p.payload.to_vec(),
            },
            Packet::PubAck(a) => Pkt::PubAck(a.packet_id.get(), a.reason_code),
            Packet::PubRec(a) => Pkt::PubRec(a.packet_id.get(), a.reason_code),
            Packet::PubRel(a) => Pkt::PubRel(a.packet_id.get(), a.reason_code),
            Packet::PubComp(a) => Pkt::PubComp(a.packet_id.get(), a.reason_code),
            Packet::Subscribe(s) => Pkt::Subscribe {
                pid: s.packet_id.get(),
                filters: s
                    .filters
                    .iter()
                    .map(|f| (f.filter.to_string(), f.options.qos))
                    .collect(),
            },
            Packet::SubAck(a) => Pkt::SubAck {
                pid: a.packet_id.get(),
                codes: a.reason_codes.iter().collect(),
            },
            Packet::Unsubscribe(u) => Pkt::Unsubscribe {
                pid: u.packet_id.get(),
                filters: u.filters.iter().map(|f| f.to_string()).collect(),
            },
            Packet::UnsubAck(a) => Pkt::UnsubAck {
                pid: a.packet_id.get(),
                codes: a.reason_codes.iter().collect(),
            },
            Packet::PingReq => Pkt::PingReq,
            Packet::PingResp => Pkt::PingResp,
            Packet::Disconnect(d) => Pkt::Disconnect {
                reason_code: d.reason_code,
                session_expiry: d.properties.session_expiry_interval(),
            },
            Packet::Auth(a) => Pkt::Auth {
                reason_code: a.reason_code,
            },
        }
    }

    /// The packet id a PUBLISH (QoS > 0), an ack, a SUBSCRIBE or an UNSUBSCRIBE carries.
    pub fn pid(&self) -> Option<u16> {
        match self {
            Pkt::Publish { pid, .. } if *pid != 0 => Some(*pid),
            Pkt::PubAck(p, _) | Pkt::PubRec(p, _) | Pkt::PubRel(p, _) | Pkt::PubComp(p, _) => {
                Some(*p)
            }
            Pkt::Subscribe { pid, .. }
            | Pkt::SubAck { pid, .. }
            | Pkt::Unsubscribe { pid, .. }
            | Pkt::UnsubAck { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// Encodes the packet for `v`.
    pub fn encode(&self, v: ProtocolVersion) -> Result<Vec<u8>, EncodeError> {
        let mut props: Vec<Property<'_>> = Vec::new();
        let zero = || PacketId::new(1).ok_or(EncodeError::PacketTooLarge);
        let id = |pid: u16| PacketId::new(pid).map_or_else(zero, Ok);
        let codes_holder: Vec<ReasonCode>;
        let subs_holder: Vec<Subscription<'_>>;
        let unsubs_holder: Vec<TopicFilter<'_>>;
        let packet = match self {
            Pkt::Connect {
                version,
                clean_start,
                keep_alive,
                client_id,
                session_expiry,
                receive_maximum,
                maximum_packet_size,
                topic_alias_maximum,
            } => {
                if version.is_v5() {
                    props.extend(session_expiry.map(Property::SessionExpiryInterval));
                    props.extend(receive_maximum.map(Property::ReceiveMaximum));
                    props.extend(maximum_packet_size.map(Property::MaximumPacketSize));
                    props.extend(topic_alias_maximum.map(Property::TopicAliasMaximum));
                }
                Packet::Connect(Connect {
                    protocol: *version,
                    clean_start: *clean_start,
                    keep_alive: *keep_alive,
                    properties: Properties::new(&props),
                    client_id,
                    will: None,
                    username: None,
                    password: None,
                })
            }
            Pkt::ConnAck {
                session_present,
                reason_code,
                receive_maximum,
                maximum_packet_size,
                topic_alias_maximum,
                server_keep_alive,
                assigned_client_id,
            } => {
                if v.is_v5() {
                    props.extend(receive_maximum.map(Property::ReceiveMaximum));
                    props.extend(maximum_packet_size.map(Property::MaximumPacketSize));
                    props.extend(topic_alias_maximum.map(Property::TopicAliasMaximum));
                    props.extend(server_keep_alive.map(Property::ServerKeepAlive));
                    props.extend(
                        assigned_client_id
                            .as_deref()
                            .map(Property::AssignedClientIdentifier),
                    );
                }
                Packet::ConnAck(ConnAck {
                    session_present: *session_present,
                    reason_code: *reason_code,
                    properties: Properties::new(&props),
                })
            }
            Pkt::Publish {
                dup,
                qos,
                pid,
                retain,
                topic,
                topic_alias,
                payload,
            } => {
                props.extend(topic_alias.map(Property::TopicAlias));
                let qos = match qos {
                    QoS::AtMostOnce => QosPid::AtMostOnce,
                    QoS::AtLeastOnce => QosPid::AtLeastOnce(id(*pid)?),
                    QoS::ExactlyOnce => QosPid::ExactlyOnce(id(*pid)?),
                };
                Packet::Publish(Publish {
                    dup: *dup,
                    qos,
                    retain: *retain,
                    topic: if topic.is_empty() {
                        TopicName::ALIAS_ONLY
                    } else {
                        TopicName::new(topic).map_err(|_| EncodeError::InvalidTopicName)?
                    },
                    properties: Properties::new(&props),
                    payload,
                })
            }
            Pkt::PubAck(p, rc) => Packet::PubAck(ack(id(*p)?, *rc)),
            Pkt::PubRec(p, rc) => Packet::PubRec(ack(id(*p)?, *rc)),
            Pkt::PubRel(p, rc) => Packet::PubRel(ack(id(*p)?, *rc)),
            Pkt::PubComp(p, rc) => Packet::PubComp(ack(id(*p)?, *rc)),
            Pkt::Subscribe { pid, filters } => {
                subs_holder = filters
                    .iter()
                    .map(|(f, q)| {
                        Ok(Subscription {
                            filter: filter(f)?,
                            options: SubscriptionOptions::new(*q),
                        })
                    })
                    .collect::<Result<_, EncodeError>>()?;
                Packet::Subscribe(Subscribe {
                    packet_id: id(*pid)?,
                    properties: Properties::empty(),
                    filters: List::new(&subs_holder),
                })
            }
            Pkt::SubAck { pid, codes } => {
                codes_holder = codes.clone();
                Packet::SubAck(SubAck {
                    packet_id: id(*pid)?,
                    properties: Properties::empty(),
                    reason_codes: List::new(&codes_holder),
                })
            }
            Pkt::Unsubscribe { pid, filters } => {
                unsubs_holder = filters
                    .iter()
                    .map(|f| filter(f))
                    .collect::<Result<_, _>>()?;
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: id(*pid)?,
                    properties: Properties::empty(),
                    filters: List::new(&unsubs_holder),
                })
            }
            Pkt::UnsubAck { pid, codes } => {
                codes_holder = if v.is_v5() { codes.clone() } else { Vec::new() };
                Packet::UnsubAck(UnsubAck {
                    packet_id: id(*pid)?,
                    properties: Properties::empty(),
                    reason_codes: List::new(&codes_holder),
                })
            }
            Pkt::PingReq => Packet::PingReq,
            Pkt::PingResp => Packet::PingResp,
            Pkt::Disconnect {
                reason_code,
                session_expiry,
            } => {
                props.extend(session_expiry.map(Property::SessionExpiryInterval));
                Packet::Disconnect(Disconnect {
                    reason_code: *reason_code,
                    properties: Properties::new(&props),
                })
            }
            Pkt::Auth { reason_code } => Packet::Auth(mqtt_proto::Auth {
                reason_code: *reason_code,
                properties: Properties::empty(),
            }),
        };
        let len = packet.encoded_len(v)?;
        let mut buf = vec![0u8; len];
        let n = packet.encode(v, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }
}

fn ack(packet_id: PacketId, reason_code: ReasonCode) -> Ack<'static> {
    Ack {
        packet_id,
        reason_code,
        properties: Properties::empty(),
    }
}

/// A short printable form of a payload: its first bytes up to a `:`.
pub fn payload_label(payload: &[u8]) -> String {
    let head: Vec<u8> = payload
        .iter()
        .copied()
        .take_while(|b| *b != b':')
        .take(16)
        .collect();
    String::from_utf8_lossy(&head).into_owned()
}

impl fmt::Display for Pkt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkt::Connect {
                clean_start,
                keep_alive,
                client_id,
                session_expiry,
                receive_maximum,
                ..
            } => write!(
                f,
                "CONNECT(clean={clean_start} ka={keep_alive} id={client_id:?} expiry={session_expiry:?} rm={receive_maximum:?})"
            ),
            Pkt::ConnAck {
                session_present,
                reason_code,
                receive_maximum,
                server_keep_alive,
                ..
            } => write!(
                f,
                "CONNACK(sp={session_present} rc={reason_code:?} rm={receive_maximum:?} ska={server_keep_alive:?})"
            ),
            Pkt::Publish {
                dup,
                qos,
                pid,
                topic,
                topic_alias,
                payload,
                ..
            } => {
                write!(f, "PUBLISH(q{} pid={pid}", *qos as u8)?;
                if *dup {
                    f.write_str(" DUP")?;
                }
                write!(f, " topic={topic:?}")?;
                if let Some(a) = topic_alias {
                    write!(f, " alias={a}")?;
                }
                write!(f, " {} len={})", payload_label(payload), payload.len())
            }
            Pkt::PubAck(p, rc) => write!(f, "PUBACK({p} {rc:?})"),
            Pkt::PubRec(p, rc) => write!(f, "PUBREC({p} {rc:?})"),
            Pkt::PubRel(p, rc) => write!(f, "PUBREL({p} {rc:?})"),
            Pkt::PubComp(p, rc) => write!(f, "PUBCOMP({p} {rc:?})"),
            Pkt::Subscribe { pid, filters } => write!(f, "SUBSCRIBE({pid} {filters:?})"),
            Pkt::SubAck { pid, codes } => write!(f, "SUBACK({pid} {codes:?})"),
            Pkt::Unsubscribe { pid, filters } => write!(f, "UNSUBSCRIBE({pid} {filters:?})"),
            Pkt::UnsubAck { pid, codes } => write!(f, "UNSUBACK({pid} {codes:?})"),
            Pkt::PingReq => f.write_str("PINGREQ"),
            Pkt::PingResp => f.write_str("PINGRESP"),
            Pkt::Disconnect { reason_code, .. } => write!(f, "DISCONNECT({reason_code:?})"),
            Pkt::Auth { reason_code } => write!(f, "AUTH({reason_code:?})"),
        }
    }
}

/// Decodes one direction of one connection as bytes arrive in any chunking.
#[derive(Debug)]
pub struct Tap {
    decoder: Decoder,
    buf: Vec<u8>,
    broken: bool,
}

impl Tap {
    /// A tap for a connection speaking `version` (CONNECT decodes under any version).
    pub fn new(version: ProtocolVersion) -> Self {
        Tap {
            decoder: Decoder::new(version),
            buf: Vec::new(),
            broken: false,
        }
    }

    /// Appends `data` and returns every packet completed by it. After a decode error the
    /// stream cannot be framed any more: the error is returned once and the rest ignored.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Result<Pkt, DecodeError>> {
        let mut out = Vec::new();
        if self.broken {
            return out;
        }
        self.buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            match self.decoder.decode(&self.buf[start..]) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    out.push(Ok(Pkt::from_packet(&packet)));
                    start += consumed;
                }
                Ok(Decoded::Incomplete(_)) => break,
                Err(e) => {
                    out.push(Err(e));
                    self.broken = true;
                    break;
                }
            }
        }
        self.buf.drain(..start);
        out
    }

    /// Bytes of a packet not yet complete.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_in_one_byte_chunks() {
        let v = ProtocolVersion::V5;
        let p = Pkt::Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            pid: 7,
            retain: false,
            topic: "a/b".into(),
            topic_alias: Some(3),
            payload: b"m1:xyz".to_vec(),
        };
        let bytes = p.encode(v).unwrap();
        let mut tap = Tap::new(v);
        let mut got = Vec::new();
        for b in &bytes {
            got.extend(tap.feed(&[*b]));
        }
        assert_eq!(got, vec![Ok(p)]);
        assert_eq!(tap.pending(), 0);
    }
}

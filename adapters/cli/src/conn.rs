//! The connection flags shared by `pub` and `sub` (mosquitto_pub / mosquitto_sub
//! spelling), their translation into [`Options`], and the first connection, whose
//! failure becomes one clear line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_tokio::{
    Capacity, Client, ConnectionError, Event, Events, Options, ReasonCode, StopReason, WillOptions,
};

use crate::Fail;

/// Connection flags, as mosquitto_pub and mosquitto_sub spell them.
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Broker host (mosquitto's -h; help is --help only).
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    pub host: String,
    /// Broker port (default 1883, 8883 with TLS).
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// URL: mqtt(s)://[user[:password]@]host[:port]/topic (overrides -h -p -u -P -t).
    #[arg(short = 'L', long = "url")]
    pub url: Option<String>,
    /// Client id (default: mqttc-<pid>).
    #[arg(short = 'i', long = "id")]
    pub id: Option<String>,
    /// User name.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// Keep alive in seconds (0 turns it off).
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// Protocol version: mqttv311 | mqttv5 (also 311 and 5; mqttv31 / 31 too).
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311", value_parser = parse_version)]
    pub version: ProtocolVersion,
    /// CA certificates (PEM) to verify the broker with; turns TLS on.
    #[arg(long)]
    pub cafile: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// DANGEROUS: do not verify the broker's certificate (anyone can impersonate it).
    #[arg(long = "insecure")]
    pub insecure: bool,
    /// MQTT 5.0 property: -D <command> <name> <value> [<value>], e.g.
    /// `-D publish user-property k v`, `-D connect session-expiry-interval 60`.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = clap::ArgAction::Append,
          value_names = ["COMMAND", "NAME", "VALUE"], allow_hyphen_values = false)]
    pub properties: Vec<String>,
    /// Will topic.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// Will payload.
    #[arg(long = "will-payload", default_value = "")]
    pub will_payload: String,
    /// Will QoS.
    #[arg(long = "will-qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub will_qos: u8,
    /// Will retain flag.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// Print connection events on stderr.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
}

fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s {
        "mqttv5" | "5" | "v5" => Ok(ProtocolVersion::V5),
        "mqttv311" | "311" | "v311" | "3.1.1" => Ok(ProtocolVersion::V3_1_1),
        "mqttv31" | "31" | "3.1" => Ok(ProtocolVersion::V3_1),
        _ => Err("expected mqttv311, mqttv5, 311 or 5".into()),
    }
}

/// Parses a QoS number.
pub fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The parts of `-L`: broker URL without credentials and path, credentials, topic.
struct ParsedUrl {
    broker: String,
    user: Option<String>,
    password: Option<String>,
    topic: Option<String>,
}

fn split_url(url: &str) -> Result<ParsedUrl, Fail> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Fail::usage(format!(
            "bad URL {url:?}: expected mqtt(s)://host[:port]/topic"
        )));
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let (cred, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (user, password) = match cred {
        Some(c) => match c.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(c.to_string()), None),
        },
        None => (None, None),
    };
    let topic = path.filter(|p| !p.is_empty()).map(str::to_string);
    Ok(ParsedUrl {
        broker: format!("{scheme}://{hostport}"),
        user,
        password,
        topic,
    })
}

/// A 5.0 property given with -D, sorted by the packet it belongs to.
#[derive(Debug, Default, Clone)]
pub struct Props {
    /// PUBLISH properties.
    pub publish: mqtt_tokio::PublishProperties,
    /// Whether any PUBLISH property was given.
    pub has_publish: bool,
}

impl ConnArgs {
    /// The options these flags describe, the topic from `-L` if any, and the PUBLISH
    /// properties from `-D`.
    pub fn options(&self) -> Result<(Options, Option<String>, Props), Fail> {
        let tls = self.cafile.is_some() || self.insecure || self.cert.is_some();
        let (broker, url_user, url_pw, url_topic) = match &self.url {
            Some(u) => {
                let p = split_url(u)?;
                (p.broker, p.user, p.password, p.topic)
            }
            None => {
                let scheme = if tls { "mqtts" } else { "mqtt" };
                let port = self.port.unwrap_or(if tls { 8883 } else { 1883 });
                let host = if self.host.contains(':') && !self.host.starts_with('[') {
                    format!("[{}]", self.host)
                } else {
                    self.host.clone()
                };
                (format!("{scheme}://{host}:{port}"), None, None, None)
            }
        };
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("mqttc-{}", std::process::id()));
        let mut o = Options::new(&broker, id)
            .map_err(|e| Fail::usage(format!("bad broker address {broker:?}: {e}")))?;
        o.version = self.version;
        o.keep_alive = self.keepalive;
        o.username = self.username.clone().or(url_user);
        o.password = self.password.clone().or(url_pw).map(Into::into);
        o.tls.ca_file = self.cafile.clone();
        o.tls.client_cert = self.cert.clone();
        o.tls.client_key = self.key.clone();
        if self.insecure {
            eprintln!(
                "mqttc: WARNING: --insecure: the broker's certificate is NOT verified; \
                 anyone on the path can read and change this traffic"
            );
            o.tls.dangerous_accept_any_certificate = true;
        }
        o.reconnect.initial_delay = mqtt_session::Duration::from_millis(500);
        o.reconnect.max_delay = mqtt_session::Duration::from_millis(5000);
        if let Some(t) = &self.will_topic {
            let mut w = WillOptions::new(t.clone(), self.will_payload.clone().into_bytes());
            w.qos = qos(self.will_qos);
            w.retain = self.will_retain;
            o.will = Some(w);
        }
        let mut props = Props::default();
        if !self.properties.is_empty() && !self.version.is_v5() {
            return Err(Fail::usage("-D properties need MQTT 5 (-V mqttv5)".into()));
        }
        // Flattened -D values: <command> <name> <value>, two values for user-property.
        let mut rest = self.properties.as_slice();
        while !rest.is_empty() {
            let n = if rest.get(1).is_some_and(|n| n == "user-property") {
                4
            } else {
                3
            };
            let Some(group) = rest.get(..n) else {
                return Err(Fail::usage(format!(
                    "-D {}: missing a value",
                    rest.join(" ")
                )));
            };
            apply_property(group, &mut o, &mut props)?;
            rest = &rest[n..];
        }
        Ok((o, url_topic, props))
    }
}

fn apply_property(p: &[String], o: &mut Options, props: &mut Props) -> Result<(), Fail> {
    let bad = || {
        Fail::usage(format!(
            "unsupported -D {}: see `mqttc pub --help` for the supported properties",
            p.join(" ")
        ))
    };
    let num = |v: &str| -> Result<u32, Fail> {
        v.parse()
            .map_err(|_| Fail::usage(format!("-D {}: {v:?} is not a number", p.join(" "))))
    };
    let (cmd, name, v1, v2) = (
        p[0].as_str(),
        p[1].as_str(),
        p[2].as_str(),
        p.get(3).map(String::as_str),
    );
    let pair = |v2: Option<&str>| -> Result<(String, String), Fail> {
        v2.map(|v| (v1.to_string(), v.to_string()))
            .ok_or_else(|| Fail::usage("-D ... user-property needs a key and a value".into()))
    };
    match (cmd, name) {
        ("publish", "user-property") => {
            props.publish.user_properties.push(pair(v2)?);
            props.has_publish = true;
        }
        ("publish", "content-type") => {
            props.publish.content_type = Some(v1.to_string());
            props.has_publish = true;
        }
        ("publish", "response-topic") => {
            props.publish.response_topic = Some(v1.to_string());
            props.has_publish = true;
        }
        ("publish", "correlation-data") => {
            props.publish.correlation_data = Some(v1.as_bytes().to_vec());
            props.has_publish = true;
        }
        ("publish", "message-expiry-interval") => {
            props.publish.message_expiry_interval = Some(num(v1)?);
            props.has_publish = true;
        }
        ("publish", "payload-format-indicator") => {
            props.publish.payload_is_utf8 = num(v1)? == 1;
            props.has_publish = true;
        }
        ("connect", "user-property") => o.user_properties.push(pair(v2)?),
        ("connect", "session-expiry-interval") => o.session_expiry_interval = num(v1)?,
        ("connect", "receive-maximum") => {
            o.receive_maximum = u16::try_from(num(v1)?).map_err(|_| bad())?;
        }
        ("connect", "maximum-packet-size") => o.max_incoming_packet = num(v1)? as usize,
        ("connect", "topic-alias-maximum") => {
            o.topic_alias_maximum = u16::try_from(num(v1)?).map_err(|_| bad())?;
        }
        ("will", name) => {
            let Some(w) = o.will.as_mut() else {
                return Err(Fail::usage("-D will ... needs --will-topic".into()));
            };
            match name {
                "user-property" => w.user_properties.push(pair(v2)?),
                "content-type" => w.content_type = Some(v1.to_string()),
                "message-expiry-interval" => w.message_expiry_interval = Some(num(v1)?),
                "will-delay-interval" => w.delay_interval = num(v1)?,
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Says in plain words why a connection failed or stopped.
pub fn describe_refusal(rc: ReasonCode) -> String {
    let what = match rc {
        ReasonCode::NotAuthorized => "not authorized",
        ReasonCode::BadUserNameOrPassword => "bad user name or password",
        ReasonCode::UnsupportedProtocolVersion => "unsupported protocol version",
        ReasonCode::ClientIdentifierNotValid => "client identifier not valid",
        ReasonCode::ServerUnavailable => "server unavailable",
        ReasonCode::Banned => "banned",
        _ => "",
    };
    if what.is_empty() {
        format!("{rc:?}")
    } else {
        what.to_string()
    }
}

/// Starts the client and waits for the first connection. Any failure before it (refused
/// TCP connection, TLS failure, CONNACK refusal, timeout) is one error line.
pub async fn connect(o: Options, debug: bool) -> Result<(Client, Events, bool), Fail> {
    let broker = o.brokers.first().map(|b| b.to_string()).unwrap_or_default();
    let timeout = o.connect_timeout + Duration::from_secs(1);
    let (client, mut events) =
        mqtt_tokio::connect(o, Capacity::default()).map_err(|e| Fail::msg(e.to_string()))?;
    let wait = async {
        while let Some(ev) = events.recv().await {
            if debug {
                eprintln!("mqttc: {ev:?}");
            }
            match ev {
                Event::Connected {
                    session_present, ..
                } => return Ok(session_present),
                Event::TransportFailed { broker, error } => {
                    let tls = error
                        .get_ref()
                        .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some());
                    let kind = if tls { "TLS failure" } else { "cannot connect" };
                    return Err(Fail::msg(format!("{kind} to {broker}: {error}")));
                }
                Event::ConnectionLost { reason } => {
                    return Err(Fail::msg(lost(&broker, reason)));
                }
                Event::Stopped { reason } => return Err(Fail::msg(stopped(&broker, reason))),
                _ => {}
            }
        }
        Err(Fail::msg(format!("connection to {broker} ended")))
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(sp)) => Ok((client, events, sp)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Fail::msg(format!(
            "no answer from {broker} within {} s",
            timeout.as_secs()
        ))),
    }
}

/// One line for a lost connection.
pub fn lost(broker: &str, reason: ConnectionError) -> String {
    match reason {
        ConnectionError::Refused(rc) => {
            format!("connection refused by {broker}: {}", describe_refusal(rc))
        }
        ConnectionError::TransportClosed => {
            format!("{broker} closed the connection (wrong protocol version for this listener?)")
        }
        ConnectionError::ConnectTimeout => format!("no CONNACK from {broker} in time"),
        other => format!("connection to {broker} lost: {other:?}"),
    }
}

/// One line for a stopped session.
pub fn stopped(broker: &str, reason: StopReason) -> String {
    match reason {
        StopReason::Refused(rc) => {
            format!("connection refused by {broker}: {}", describe_refusal(rc))
        }
        other => format!("connection to {broker} stopped: {other:?}"),
    }
}

//! `mqttc pub` and `mqttc sub`.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use mqtt_proto::SubscriptionOptions;
use mqtt_tokio::{Client, Error, Event, Events, Message, Pending, PublishAck};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::Fail;
use crate::conn::{self, ConnArgs};

/// `mqttc pub` flags.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct PubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    /// The message.
    #[arg(short = 'm', long = "message", group = "source")]
    message: Option<String>,
    /// Send the whole file as one message.
    #[arg(short = 'f', long = "file", group = "source")]
    file: Option<std::path::PathBuf>,
    /// Send each line of stdin as a message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    lines: bool,
    /// Send the whole of stdin as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    stdin: bool,
    /// Send a zero-length message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    null: bool,
    /// QoS (0, 1 or 2).
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
}

/// `mqttc sub` flags.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Topic filter (repeatable).
    #[arg(short = 't', long = "topic")]
    topics: Vec<String>,
    /// QoS of the subscriptions.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<u64>,
    /// Exit after this many seconds (exit code 27 if -C was given and not reached).
    #[arg(short = 'W', long = "timeout")]
    timeout: Option<u64>,
    /// Print "topic payload".
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Output format (see README: %t %p %q %r %l %d %x %X %I %U %C %R %D %E %P %%, \n \t \\).
    #[arg(short = 'F', long = "format")]
    format: Option<String>,
    /// No newline after each message.
    #[arg(short = 'N')]
    no_newline: bool,
    /// Persistent session: clean start 0 (5.0: session expiry from -x, default never).
    #[arg(short = 'c', long = "disable-clean-session")]
    persistent: bool,
    /// 5.0 session expiry interval in seconds.
    #[arg(short = 'x', long = "session-expiry-interval")]
    session_expiry: Option<u32>,
    /// Do not print retained messages.
    #[arg(short = 'R')]
    no_retained: bool,
}

fn drain_events(mut events: Events, debug: bool) {
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if debug {
                eprintln!("mqttc: {ev:?}");
            }
        }
    });
}

fn publish_error(topic: &str, e: Error) -> Fail {
    Fail::msg(match e {
        Error::Refused(rc) => format!("publish to {topic} refused by the broker: {rc:?}"),
        Error::Rejected(e) => format!("publish to {topic} rejected: {e}"),
        other => format!("publish to {topic} failed: {other}"),
    })
}

/// Runs `mqttc pub`.
pub async fn run_pub(a: PubArgs) -> Result<u8, Fail> {
    let (o, url_topic, props) = a.conn.options()?;
    let topic = a
        .topic
        .clone()
        .or(url_topic)
        .ok_or_else(|| Fail::usage("no topic: give -t".into()))?;
    let payload: Option<Bytes> = if let Some(m) = &a.message {
        Some(Bytes::from(m.clone().into_bytes()))
    } else if let Some(f) = &a.file {
        let data =
            std::fs::read(f).map_err(|e| Fail::msg(format!("cannot read {}: {e}", f.display())))?;
        Some(data.into())
    } else if a.null {
        Some(Bytes::new())
    } else if a.stdin {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
            .map_err(|e| Fail::msg(format!("cannot read stdin: {e}")))?;
        Some(v.into())
    } else if a.lines {
        None
    } else {
        return Err(Fail::usage(
            "nothing to publish: give -m, -f, -l, -n or -s".into(),
        ));
    };
    let qos = conn::qos(a.qos);
    let debug = a.conn.debug;
    let (client, events, _) = conn::connect(o, debug).await?;
    drain_events(events, debug);
    let props = props.has_publish.then_some(props.publish);
    let result = match payload {
        Some(p) => match client
            .publish_start(topic.clone(), p, qos, a.retain, props)
            .await
        {
            Ok(pending) => pending.await.map(|_| ()),
            Err(e) => Err(e),
        },
        None => publish_lines(&client, &topic, qos, a.retain, props).await,
    };
    let _ = client.disconnect(Duration::from_secs(10)).await;
    result.map_err(|e| publish_error(&topic, e))?;
    Ok(0)
}

async fn publish_lines(
    client: &Client,
    topic: &str,
    qos: mqtt_proto::QoS,
    retain: bool,
    props: Option<mqtt_tokio::PublishProperties>,
) -> Result<(), Error> {
    let (tx, mut rx) = mpsc::channel::<Pending<PublishAck>>(1024);
    let checker = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            p.await?;
        }
        Ok::<(), Error>(())
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut sent = Ok(());
    while let Ok(Some(line)) = lines.next_line().await {
        match client
            .publish_start(topic, line.into_bytes(), qos, retain, props.clone())
            .await
        {
            Ok(p) => {
                if tx.send(p).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                sent = Err(e);
                break;
            }
        }
    }
    drop(tx);
    let checked = checker.await.unwrap_or(Err(Error::Closed));
    sent.and(checked)
}

/// Runs `mqttc sub`.
pub async fn run_sub(a: SubArgs) -> Result<u8, Fail> {
    let (mut o, url_topic, _) = a.conn.options()?;
    let mut topics = a.topics.clone();
    if let Some(t) = url_topic {
        topics.push(t);
    }
    if topics.is_empty() {
        return Err(Fail::usage("no topic: give -t (repeatable)".into()));
    }
    if a.persistent {
        if a.conn.id.is_none() {
            return Err(Fail::usage("-c needs a stable client id: give -i".into()));
        }
        o.clean_start = false;
        o.session_expiry_interval = a.session_expiry.unwrap_or(u32::MAX);
    } else if let Some(x) = a.session_expiry {
        o.session_expiry_interval = x;
    }
    let debug = a.conn.debug;
    let (client, mut events, _) = conn::connect(o, debug).await?;
    let filters = topics
        .iter()
        .map(|t| (t.clone(), SubscriptionOptions::new(conn::qos(a.qos))))
        .collect();
    let codes = client
        .subscribe_many(filters, None)
        .await
        .map_err(|e| Fail::msg(format!("subscribe failed: {e}")))?;
    for (t, c) in topics.iter().zip(&codes) {
        if c.is_error() {
            return Err(Fail::msg(format!(
                "subscription to {t} refused by the broker: {}",
                conn::describe_refusal(*c)
            )));
        }
    }
    let deadline = a
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut n = 0u64;
    let mut code = 0u8;
    let mut buf = Vec::new();
    'outer: loop {
        let ev = match deadline {
            Some(d) => match tokio::time::timeout_at(d, events.recv()).await {
                Ok(ev) => ev,
                Err(_) => {
                    if a.count.is_some() {
                        code = 27;
                    }
                    break;
                }
            },
            None => events.recv().await,
        };
        let Some(ev) = ev else { break };
        let mut next = Some(ev);
        // Handle what is ready, then flush once (keeps `mqttc sub | other` live).
        while let Some(ev) = next.take() {
            match ev {
                Event::Message { message, .. } => {
                    if !(a.no_retained && message.retain) {
                        buf.clear();
                        format_message(&mut buf, &message, &a);
                        let _ = out.write_all(&buf);
                        n += 1;
                        if a.count.is_some_and(|c| n >= c) {
                            break 'outer;
                        }
                    }
                }
                Event::Stopped { reason } => {
                    let _ = out.flush();
                    return Err(Fail::msg(conn::stopped("the broker", reason)));
                }
                other => {
                    if debug {
                        eprintln!("mqttc: {other:?}");
                    }
                }
            }
            next = events.try_recv();
        }
        let _ = out.flush();
    }
    let _ = out.flush();
    drop(out);
    let _ = client.disconnect(Duration::from_secs(2)).await;
    Ok(code)
}

/// Writes one message in the `-F` format (or the default / `-v` form).
pub fn format_message(out: &mut Vec<u8>, m: &Message, a: &SubArgs) {
    match &a.format {
        Some(f) => format_with(out, f, m),
        None => {
            if a.verbose {
                out.extend_from_slice(m.topic().as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(m.payload());
            if !a.no_newline {
                out.push(b'\n');
            }
        }
    }
}

fn hex(out: &mut Vec<u8>, data: &[u8], upper: bool) {
    for b in data {
        let s = if upper {
            format!("{b:02X}")
        } else {
            format!("{b:02x}")
        };
        out.extend_from_slice(s.as_bytes());
    }
}

/// The `-F` directives: %t topic, %p payload, %q QoS, %r retain (0/1), %l payload length,
/// %d dup flag, %x / %X payload in hex, %I ISO-8601 local... (UTC) time, %U Unix time
/// with nanoseconds, %C content type, %R response topic, %D correlation data, %E message
/// expiry interval, %P user properties (k:v, space separated), %% a percent sign; escapes
/// \n \t \\ \e (no newline is added: end the format with \n).
fn format_with(out: &mut Vec<u8>, f: &str, m: &Message) {
    let props = m.properties();
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('t') => out.extend_from_slice(m.topic().as_bytes()),
                Some('p') => out.extend_from_slice(m.payload()),
                Some('q') => out.extend_from_slice((m.qos as u8).to_string().as_bytes()),
                Some('r') => out.push(if m.retain { b'1' } else { b'0' }),
                Some('d') => out.push(if m.dup { b'1' } else { b'0' }),
                Some('l') => out.extend_from_slice(m.payload().len().to_string().as_bytes()),
                Some('x') => hex(out, m.payload(), false),
                Some('X') => hex(out, m.payload(), true),
                Some('I') => out.extend_from_slice(iso8601_now().as_bytes()),
                Some('U') => {
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    out.extend_from_slice(
                        format!("{}.{:09}", t.as_secs(), t.subsec_nanos()).as_bytes(),
                    );
                }
                Some('C') => out.extend_from_slice(props.content_type().unwrap_or("").as_bytes()),
                Some('R') => {
                    out.extend_from_slice(props.response_topic().unwrap_or("").as_bytes());
                }
                Some('D') => out.extend_from_slice(props.correlation_data().unwrap_or(b"")),
                Some('E') => {
                    if let Some(e) = props.message_expiry_interval() {
                        out.extend_from_slice(e.to_string().as_bytes());
                    }
                }
                Some('P') => {
                    let mut first = true;
                    for (k, v) in props.user_properties() {
                        if !first {
                            out.push(b' ');
                        }
                        first = false;
                        out.extend_from_slice(format!("{k}:{v}").as_bytes());
                    }
                }
                Some('%') => out.push(b'%'),
                Some(other) => {
                    out.push(b'%');
                    out.extend_from_slice(other.to_string().as_bytes());
                }
                None => out.push(b'%'),
            },
            '\\' => match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('e') => out.push(0x1b),
                Some('\\') => out.push(b'\\'),
                Some(other) => {
                    out.push(b'\\');
                    out.extend_from_slice(other.to_string().as_bytes());
                }
                None => out.push(b'\\'),
            },
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn iso8601_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

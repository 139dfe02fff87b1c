//! The `session` target: a [`mqtt_session::Session`] driven by a sequence of operations
//! decoded from the fuzz input, with the invariants below checked after every step.
//!
//! # Input
//! [`Setup::LEN`] header bytes choose the configuration ([`Setup`]: protocol 3.1.1 or 5.0,
//! manual ack, clean start / session expiry, enhanced auth, keepalive, our Receive Maximum,
//! topic alias maxima, reconnect policy, timeouts, the size of the transmit buffer, a will,
//! credentials). The rest is a sequence of [`Op`]s, one opcode byte and a fixed number of
//! argument bytes each (a missing byte reads as 0): server bytes (raw, or well-formed server
//! packets built with mqtt-proto from fuzz-chosen fields, packet ids picked among the ids
//! actually in flight, fed whole, in chunks or with a tail held back for later), time steps,
//! transport up/down and commands. After every input and command the driver drains the
//! session per its contract: `poll_event` until `None`, then `poll_transmit` until 0,
//! repeated while either produced something.
//!
//! # Invariants (each violation panics with the operation trace)
//! 1. No panic, and draining settles (bounded rounds).
//! 2. Every byte from `poll_transmit` decodes with `Decoder::new(version)` into whole
//!    packets (a client-side stream buffer per connection; packets may straddle calls). The
//!    first packet of each connection is CONNECT, and only there; before `Connected` only
//!    CONNECT and AUTH go out; a client never sends CONNACK, SUBACK, UNSUBACK or PINGRESP,
//!    AUTH only in 5.0 with a method configured, PINGREQ only with a keepalive.
//! 3. No output without a connection (before transport up, after transport down or
//!    `CloseTransport`); after `ConnectionLost` only DISCONNECT; nothing after DISCONNECT
//!    on the same connection (until a new transport up).
//! 4. Packet ids of QoS>0 PUBLISH, SUBSCRIBE and UNSUBSCRIBE are non-zero (the decoder
//!    refuses 0) and never reused while in flight: the model tracks ids from the output
//!    stream and frees them on the acks fed (mirroring the session's receive stream) or on
//!    `Lost`. A resend keeps its id and is sent at most once per connection; DUP is set
//!    exactly on a resend within the same session (not on the first send, not after the
//!    server lost the session); no PUBLISH after its PUBREL; PUBLISH content (topic, QoS,
//!    retain, payload) is what the caller published, QoS 0 goes out at most once.
//! 5. Acks follow causes: PUBACK/PUBREC only for a server PUBLISH of that QoS and id (and in
//!    manual-ack mode only after `ack`), PUBREL only after a PUBREC, PUBCOMP only after a
//!    PUBREL.
//! 6. Server limits from the CONNACK: `inflight_publishes()` never exceeds OUT nor the
//!    server's Receive Maximum (or the PUBRELs carried into the connection, whichever is
//!    larger); packets fit its Maximum Packet Size; QoS <= Maximum QoS; no RETAIN when it
//!    is not available; outgoing topic aliases within its Topic Alias Maximum and bound
//!    before use on the connection.
//! 7. Tokens: every token returned by a QoS>0 publish, subscribe or unsubscribe is fresh and
//!    reported at most once by `Published`/`Subscribed`/`Unsubscribed`/`Lost`, with the
//!    right kind (`Published` only after an ack for it was fed, with that ack's reason
//!    code; SUBACK/UNSUBACK code counts match the request); until reported it is listed by
//!    `for_each_outstanding`, and never after. Manual-ack tokens are fresh; `ack` succeeds
//!    only once per delivered token.
//! 8. Events are used before the next call and borrow nothing stale: every `Message`
//!    equals (topic after alias resolution, payload, QoS, retain, DUP) a PUBLISH fed on
//!    this connection, in order; a QoS 2 message is not delivered again while its id awaits
//!    PUBREL [MQTT-4.3.3-9/10].
//!    `Connected` follows an accepted CONNACK and repeats its Session Present.
//! 9. Time: after `handle_timeout(now)` has been drained, `poll_timeout()` is not in the
//!    past (strictly in the future unless the reconnect jitter allows a zero delay); a
//!    spurious `handle_timeout` (before the deadline) produces nothing;
//!    `ReconnectScheduled` is never in the past.
//! 10. Outputs: `poll_transmit` returning 0 means nothing is due (a probe with a large
//!     buffer then gives 0 too; an empty buffer gives 0 only when nothing is due); `Err(required)` names more than the buffer given, and a
//!     buffer of that size makes progress.
//! 11. Commands: `Err` leaves the session unchanged (the drain after it produces nothing,
//!     counters unchanged); QoS 0 publishes return no token, QoS 1/2 a token.
//! 12. Getters: `outstanding() <= OUT`, `incoming_pending() <=` our Receive Maximum, and
//!     `state()` is AwaitConnAck/Connected/Closing only while the transport is up.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use mqtt_proto::{
    Ack, Auth, ConnAck, Decoded, Decoder, Disconnect, List, Packet, PacketId, Properties, Property,
    ProtocolVersion, Publish, QoS, QosPid, ReasonCode, RetainHandling, SubAck, Subscription,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck,
};
use mqtt_session::{
    ArenaStore, Config, ConnState, ConnectionError, Duration, Event, Instant, ReconnectPolicy,
    Session, Token,
};

/// Operations queued or in flight at once (the session's `OUT`).
pub const OUT: usize = 8;
/// Incoming QoS 1/2 messages in progress at once (the session's `IN`).
pub const IN: usize = 8;
/// The receive buffer: the largest packet accepted.
pub const RX: usize = 2048;
/// The session under test.
pub type FuzzSession = Session<ArenaStore<32, 8192>, [u8; RX], OUT, IN>;

/// Operations run per input at most (keeps each execution short).
pub const MAX_OPS: usize = 600;
/// The buffer used to check that `poll_transmit` returning 0 means nothing was due.
const PROBE: usize = 16 * 1024;
/// Drain rounds before the drain is declared a livelock.
const MAX_DRAIN_ROUNDS: usize = 256;

/// Topics the client publishes to (the last two are invalid: an `Err` path).
pub const CLIENT_TOPICS: [&str; 8] = [
    "a",
    "a/b",
    "a/b/c",
    "b/c",
    "$SYS/x",
    "a/long/topic/name/worth/an/alias",
    "",
    "a/+",
];
/// Topics the server publishes on.
pub const SERVER_TOPICS: [&str; 6] = ["a", "a/b", "a/b/c", "b/c", "x/y/z", "$SYS/up"];
/// Filters for subscribe/unsubscribe (the last two are invalid).
pub const FILTERS: [&str; 8] = ["a/#", "+/b", "a/b", "#", "a/+/c", "$share/g/a", "", "a/#/b"];

/// Whether the bit mask `filters` picks one of the invalid [`FILTERS`] (the last two).
fn invalid_filter_chosen(filters: u8) -> bool {
    filters & 0b1100_0000 != 0
}
/// Transmit buffer sizes selectable by [`Op::SetChunk`] and the setup (tiny ones split
/// control packets and make stored packets report `Err(required)`).
pub const CHUNKS: [usize; 16] = [
    4096, 1, 2, 3, 4, 5, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 7,
];

const AUTH_METHOD: &str = "SCRAM-SHA-1";

// ----- known bugs ---------------------------------------------------------------------------

/// A session bug this target found that is not fixed yet. Its input is in
/// `fuzz/regressions/session/<file>`, replayed by an `#[ignore]`d test (src/tests.rs). While
/// it is listed here, libFuzzer runs (`cfg(fuzzing)`) tolerate that one violation so they
/// can find others; the stable replay checks everything. Remove the entry with the fix.
#[derive(Clone, Copy, Debug)]
pub struct KnownBug {
    /// Name used at the check that tolerates it.
    pub id: &'static str,
    /// The regression input under `fuzz/regressions/session/`.
    pub file: &'static str,
    /// What goes wrong.
    pub what: &'static str,
}

/// Open session bugs (see [`KnownBug`]).
/// The two entries this list held (`message-matches-no-publish-fed`,
/// `qos2-delivered-again-awaiting-pubrel`, 2026-12-05) were the harness's mirror, not the
/// session: a PUBREL fed in the same `handle_input` as the QoS 2 PUBLISH it releases, and
/// a QoS 1 PUBLISH without DUP reusing an id still awaiting the application's ack (a new
/// message, delivered). Their inputs stay as regressions.
pub const KNOWN_BUGS: &[KnownBug] = &[];

/// True when libFuzzer should let the known bug `id` pass (never on the stable replay). A
/// check guarded by `!tolerated("id")` names its entry in [`KNOWN_BUGS`].
pub fn tolerated(id: &str) -> bool {
    cfg!(fuzzing) && KNOWN_BUGS.iter().any(|b| b.id == id)
}

// ----- input format -----------------------------------------------------------------------

/// The configuration header of an input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// bit 0 5.0; 1 manual ack; 2 clean start off; 3 session expiry (5.0); 4 auth method
    /// (5.0); 5 queue QoS 0 offline; 6 resubscribe off; 7 resend on session loss off.
    pub flags: u8,
    /// Keepalive in seconds.
    pub keep_alive: u8,
    /// Our Receive Maximum (0: the default, clamped to `IN`).
    pub receive_maximum: u8,
    /// Low nibble: our Topic Alias Maximum; high nibble: aliases we may send.
    pub aliases: u8,
    /// bits 0-1 jitter {50, 0, 90, 100}%; 2 reconnect off; 3-4 max attempts {none, 1, 3,
    /// none}; 5 retry fatal refusals; 6-7 initial delay {1 s, 100 ms, 5 s, 10 ms}.
    pub reconnect: u8,
    /// bits 0-3 transmit buffer ([`CHUNKS`]); 4-5 ping timeout {10 s, 1 s, 100 ms, 30 s};
    /// 6 connect timeout 500 ms (else 10 s); 7 Maximum Packet Size 256.
    pub misc: u8,
    /// bit 0 will (QoS bits 1-2, retain bit 3); 4 user name; 5 password; 6 auth data;
    /// 7 empty client id.
    pub extras: u8,
}

impl Setup {
    /// Header length in bytes.
    pub const LEN: usize = 7;

    fn parse(r: &mut Reader<'_>) -> Self {
        Setup {
            flags: r.u8(),
            keep_alive: r.u8(),
            receive_maximum: r.u8(),
            aliases: r.u8(),
            reconnect: r.u8(),
            misc: r.u8(),
            extras: r.u8(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[
            self.flags,
            self.keep_alive,
            self.receive_maximum,
            self.aliases,
            self.reconnect,
            self.misc,
            self.extras,
        ]);
    }

    /// The protocol version chosen.
    pub fn version(&self) -> ProtocolVersion {
        if self.flags & 1 != 0 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        }
    }

    fn jitter(&self) -> u8 {
        [50, 0, 90, 100][usize::from(self.reconnect & 3)]
    }

    /// The session configuration.
    pub fn config(&self) -> Config<'static> {
        let v = self.version();
        let v5 = v.is_v5();
        let mut c = Config::new(if self.extras & 0x80 != 0 {
            ""
        } else {
            "fuzz-client"
        });
        c.version = v;
        c.manual_ack = self.flags & 2 != 0;
        c.clean_start = self.flags & 4 == 0;
        c.session_expiry_interval = if v5 && self.flags & 8 != 0 { 3600 } else { 0 };
        c.authentication_method = (v5 && self.flags & 16 != 0).then_some(AUTH_METHOD);
        c.authentication_data = (self.extras & 0x40 != 0).then_some(b"client-first".as_slice());
        c.queue_qos0_offline = self.flags & 32 != 0;
        c.resubscribe = self.flags & 64 == 0;
        c.resend_on_session_loss = self.flags & 128 == 0;
        c.keep_alive = u16::from(self.keep_alive);
        if self.receive_maximum != 0 {
            c.receive_maximum = u16::from(self.receive_maximum);
        }
        c.topic_alias_maximum = u16::from(self.aliases & 0x0f);
        c.topic_alias_send_maximum = u16::from(self.aliases >> 4);
        c.reconnect = ReconnectPolicy {
            enabled: self.reconnect & 4 == 0,
            initial_delay: Duration::from_millis(
                [1000, 100, 5000, 10][usize::from(self.reconnect >> 6)],
            ),
            multiplier: 2,
            max_delay: Duration::from_secs(30),
            jitter_percent: self.jitter(),
            max_attempts: [None, Some(1), Some(3), None][usize::from((self.reconnect >> 3) & 3)],
            stable_after: Duration::from_secs(10),
            retry_fatal_refusals: self.reconnect & 32 != 0,
        };
        c.ping_timeout =
            Duration::from_millis([10_000, 1000, 100, 30_000][usize::from((self.misc >> 4) & 3)]);
        c.connect_timeout = Duration::from_millis(if self.misc & 0x40 != 0 { 500 } else { 10_000 });
        c.maximum_packet_size = (self.misc & 0x80 != 0).then_some(256);
        if self.extras & 1 != 0 {
            c.will = Some(mqtt_session::Will {
                topic: "clients/fuzz/status",
                payload: b"offline",
                qos: [
                    QoS::AtMostOnce,
                    QoS::AtLeastOnce,
                    QoS::ExactlyOnce,
                    QoS::AtLeastOnce,
                ][usize::from((self.extras >> 1) & 3)],
                retain: self.extras & 8 != 0,
                delay_interval: 0,
                properties: &[],
            });
        }
        c.username = (self.extras & 0x10 != 0).then_some("user");
        c.password = (self.extras & 0x20 != 0).then_some(b"secret".as_slice());
        c.rng_seed = u64::from(self.flags) << 8 | u64::from(self.reconnect);
        c
    }
}

/// Reads bytes; past the end every read is 0.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }
}

/// One step of a fuzz input. Packet-id selectors (`pid`): below 0x80 an index into the
/// ids the model sees in flight for that packet type (falling back to a literal), from
/// 0x80 the literal id `(pid & 0x7f) + 1`. `feed`: low nibble the chunk size the bytes are
/// handed over in (0: at once), high nibble how many trailing bytes are held back and
/// prepended to the next server bytes (a packet straddling other operations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Time passes, then `handle_timeout`. `mode % 5`: 0 `+amount` ms, 1 `+amount*100`
    /// ms, 2 `+amount` s, 3 to the deadline, 4 to one ms before the deadline.
    Advance { mode: u8, amount: u8 },
    /// `handle_transport_up`.
    TransportUp,
    /// `handle_transport_down` (the model's transport closes).
    TransportDown,
    /// Size of the transmit buffer from now on ([`CHUNKS`]).
    SetChunk(u8),
    /// `connect`.
    Connect,
    /// `publish`. `qos % 4` {0,1,2,1}; `topic` indexes [`CLIENT_TOPICS`]; `len` filler
    /// bytes after the 4-byte marker; `flags`: bit 0 retain, 1 user property, 2 message
    /// expiry, 3 a TopicAlias property (refused), 4 payload `len * 16`, 5 response topic.
    Publish {
        qos: u8,
        topic: u8,
        len: u8,
        flags: u8,
    },
    /// `subscribe` to the [`FILTERS`] in the bit mask `filters` (0: an empty list).
    /// `opts`: bits 0-1 QoS, 2 no local, 3 retain as published, 4-5 retain handling.
    /// `props`: bit 0 subscription id `(props >> 2) + 1`, bit 1 user property.
    Subscribe { filters: u8, opts: u8, props: u8 },
    /// `unsubscribe` from the [`FILTERS`] in `filters`; `props` bit 0 user property.
    Unsubscribe { filters: u8, props: u8 },
    /// `ack`: below 0x80 the `sel`-th delivered manual-ack token, else `Token(sel & 0x7f)`.
    Ack { sel: u8 },
    /// `disconnect`.
    Disconnect,
    /// `auth` (bit 0 of `flags`: `reauthenticate`) with `len` bytes of data.
    Auth { flags: u8, len: u8 },
    /// Raw server bytes.
    Raw { bytes: Vec<u8>, feed: u8 },
    /// CONNACK. `flags`: bit 0 session present, 1 Maximum QoS 1 (else 0), 2-3 server
    /// keepalive `* 5` s, 4-7 Topic Alias Maximum. `code` below 0x80 Success, else an
    /// index into the refusal codes. `props` (5.0): bit 0 Receive Maximum `rm + 1`, 1
    /// Maximum QoS, 2 Retain Available false, 3 Maximum Packet Size `mps * 8 + 8`, 4 Topic
    /// Alias Maximum, 5 Server Keep Alive, 6 Assigned Client Identifier, 7 reason string
    /// and user property.
    ConnAck {
        flags: u8,
        code: u8,
        props: u8,
        rm: u8,
        mps: u8,
        feed: u8,
    },
    /// Server PUBLISH. `flags`: bits 0-1 QoS {0,1,2,2}, 2 DUP, 3 retain, 4 empty topic
    /// (alias only), 5 subscription id, 6 user property. `pid`: below 0x80 `pid % 16 + 1`,
    /// else `pid * 257`. `alias`: 0 none, else the Topic Alias.
    ServerPublish {
        flags: u8,
        pid: u8,
        topic: u8,
        alias: u8,
        len: u8,
        feed: u8,
    },
    /// `kind % 4`: PUBACK, PUBREC, PUBREL, PUBCOMP; `code` indexes the codes allowed (5.0).
    ServerAck {
        kind: u8,
        pid: u8,
        code: u8,
        feed: u8,
    },
    /// SUBACK. `count` below 0x80: as many codes as the SUBSCRIBE had filters, else
    /// `count & 3`; `code` is the first code's index, the next ones follow.
    SubAck {
        pid: u8,
        count: u8,
        code: u8,
        feed: u8,
    },
    /// UNSUBACK, as [`Op::SubAck`] (3.1.1: no codes).
    UnsubAck {
        pid: u8,
        count: u8,
        code: u8,
        feed: u8,
    },
    /// PINGRESP.
    PingResp { feed: u8 },
    /// Server DISCONNECT; `flags` bit 0 Session Expiry Interval (a violation), bit 1
    /// reason string.
    ServerDisconnect { code: u8, flags: u8, feed: u8 },
    /// Server AUTH with `len` bytes of data (5.0).
    ServerAuth { code: u8, len: u8, feed: u8 },
}

/// Number of opcodes.
const OPCODES: u8 = 20;

impl Op {
    fn parse(r: &mut Reader<'_>) -> Op {
        match r.u8() % OPCODES {
            0 => Op::Advance {
                mode: r.u8(),
                amount: r.u8(),
            },
            1 => Op::TransportUp,
            2 => Op::TransportDown,
            3 => Op::SetChunk(r.u8()),
            4 => Op::Connect,
            5 => Op::Publish {
                qos: r.u8(),
                topic: r.u8(),
                len: r.u8(),
                flags: r.u8(),
            },
            6 => Op::Subscribe {
                filters: r.u8(),
                opts: r.u8(),
                props: r.u8(),
            },
            7 => Op::Unsubscribe {
                filters: r.u8(),
                props: r.u8(),
            },
            8 => Op::Ack { sel: r.u8() },
            9 => Op::Disconnect,
            10 => Op::Auth {
                flags: r.u8(),
                len: r.u8(),
            },
            11 => {
                let n = usize::from(r.u8());
                let bytes = r.bytes(n);
                Op::Raw {
                    bytes,
                    feed: r.u8(),
                }
            }
            12 => Op::ConnAck {
                flags: r.u8(),
                code: r.u8(),
                props: r.u8(),
                rm: r.u8(),
                mps: r.u8(),
                feed: r.u8(),
            },
            13 => Op::ServerPublish {
                flags: r.u8(),
                pid: r.u8(),
                topic: r.u8(),
                alias: r.u8(),
                len: r.u8(),
                feed: r.u8(),
            },
            14 => Op::ServerAck {
                kind: r.u8(),
                pid: r.u8(),
                code: r.u8(),
                feed: r.u8(),
            },
            15 => Op::SubAck {
                pid: r.u8(),
                count: r.u8(),
                code: r.u8(),
                feed: r.u8(),
            },
            16 => Op::UnsubAck {
                pid: r.u8(),
                count: r.u8(),
                code: r.u8(),
                feed: r.u8(),
            },
            17 => Op::PingResp { feed: r.u8() },
            18 => Op::ServerDisconnect {
                code: r.u8(),
                flags: r.u8(),
                feed: r.u8(),
            },
            _ => Op::ServerAuth {
                code: r.u8(),
                len: r.u8(),
                feed: r.u8(),
            },
        }
    }

    /// Appends the input bytes that [`parse_input`] reads back as this operation.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut op = |code: u8, args: &[u8]| {
            out.push(code);
            out.extend_from_slice(args);
        };
        match self {
            Op::Advance { mode, amount } => op(0, &[*mode, *amount]),
            Op::TransportUp => op(1, &[]),
            Op::TransportDown => op(2, &[]),
            Op::SetChunk(c) => op(3, &[*c]),
            Op::Connect => op(4, &[]),
            Op::Publish {
                qos,
                topic,
                len,
                flags,
            } => op(5, &[*qos, *topic, *len, *flags]),
            Op::Subscribe {
                filters,
                opts,
                props,
            } => op(6, &[*filters, *opts, *props]),
            Op::Unsubscribe { filters, props } => op(7, &[*filters, *props]),
            Op::Ack { sel } => op(8, &[*sel]),
            Op::Disconnect => op(9, &[]),
            Op::Auth { flags, len } => op(10, &[*flags, *len]),
            Op::Raw { bytes, feed } => {
                let n = u8::try_from(bytes.len()).expect("raw op of at most 255 bytes");
                let mut args = vec![n];
                args.extend_from_slice(bytes);
                args.push(*feed);
                op(11, &args);
            }
            Op::ConnAck {
                flags,
                code,
                props,
                rm,
                mps,
                feed,
            } => op(12, &[*flags, *code, *props, *rm, *mps, *feed]),
            Op::ServerPublish {
                flags,
                pid,
                topic,
                alias,
                len,
                feed,
            } => op(13, &[*flags, *pid, *topic, *alias, *len, *feed]),
            Op::ServerAck {
                kind,
                pid,
                code,
                feed,
            } => op(14, &[*kind, *pid, *code, *feed]),
            Op::SubAck {
                pid,
                count,
                code,
                feed,
            } => op(15, &[*pid, *count, *code, *feed]),
            Op::UnsubAck {
                pid,
                count,
                code,
                feed,
            } => op(16, &[*pid, *count, *code, *feed]),
            Op::PingResp { feed } => op(17, &[*feed]),
            Op::ServerDisconnect { code, flags, feed } => op(18, &[*code, *flags, *feed]),
            Op::ServerAuth { code, len, feed } => op(19, &[*code, *len, *feed]),
        }
    }
}

/// Splits an input into its setup and operations (at most [`MAX_OPS`]).
pub fn parse_input(data: &[u8]) -> Option<(Setup, Vec<Op>)> {
    if data.len() < Setup::LEN {
        return None;
    }
    let mut r = Reader { data };
    let setup = Setup::parse(&mut r);
    let mut ops = Vec::new();
    while !r.data.is_empty() && ops.len() < MAX_OPS {
        ops.push(Op::parse(&mut r));
    }
    Some((setup, ops))
}

/// The bytes of an input: the setup, then the operations.
pub fn encode_input(setup: &Setup, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    setup.encode(&mut out);
    for op in ops {
        op.encode(&mut out);
    }
    out
}

/// The `session` target: runs the operations of `data` and checks the invariants.
pub fn run(data: &[u8]) {
    let _ = run_stats(data);
}

/// What a run went through (for tests that check the seeds go deep).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations run.
    pub ops: usize,
    /// Transport connections opened.
    pub connections: u32,
    /// `Connected` events, and how many of them had Session Present.
    pub connected: u32,
    /// `Connected` events with Session Present.
    pub resumed: u32,
    /// Client packets by packet type number (index 1 CONNECT ... 15 AUTH).
    pub client_packets: [u32; 16],
    /// `Message` events.
    pub messages: u32,
    /// `Published` events.
    pub published: u32,
    /// `Subscribed` events.
    pub subscribed: u32,
    /// `Unsubscribed` events.
    pub unsubscribed: u32,
    /// `Lost` events.
    pub lost: u32,
    /// `ConnectionLost` events.
    pub connection_lost: u32,
    /// `Auth` events.
    pub auth: u32,
    /// Successful `ack` calls.
    pub app_acks: u32,
}

/// [`run`], returning what the run went through (`None`: input too short or the
/// configuration refused).
pub fn run_stats(data: &[u8]) -> Option<Stats> {
    let (setup, ops) = parse_input(data)?;
    let mut d = Driver::new(setup)?;
    for (i, op) in ops.iter().enumerate() {
        d.cur = i;
        d.step(op, &ops);
    }
    d.stats.ops = ops.len();
    Some(d.stats)
}

// ----- the model ----------------------------------------------------------------------------

/// An event copied out of the session before the next call.
#[derive(Clone, Debug)]
enum Ev {
    Redirect {
        #[allow(dead_code)] // read through Debug in failure reports
        len: usize,
    },
    OpenTransport,
    CloseTransport,
    Connected {
        session_present: bool,
    },
    ConnectionLost {
        reason: ConnectionError,
    },
    ReconnectScheduled {
        at: u64,
        attempt: u32,
    },
    Stopped,
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        ack: Option<Token>,
    },
    Published {
        token: Token,
        reason_code: ReasonCode,
    },
    Subscribed {
        token: Token,
        codes: usize,
    },
    Unsubscribed {
        token: Token,
        codes: usize,
    },
    Auth,
    Lost {
        token: Token,
    },
}

impl Ev {
    /// Copies everything the event borrows; walks its property and code lists and formats
    /// it, so a stale borrow shows as a wrong value (or a crash under ASan).
    fn capture(ev: &Event<'_>) -> Ev {
        let _ = format!("{ev:?}");
        match *ev {
            Event::OpenTransport => Ev::OpenTransport,
            Event::CloseTransport => Ev::CloseTransport,
            Event::Connected { session_present } => Ev::Connected { session_present },
            Event::ConnectionLost { reason } => Ev::ConnectionLost { reason },
            Event::ReconnectScheduled { at, attempt } => Ev::ReconnectScheduled {
                at: at.as_millis(),
                attempt,
            },
            Event::Stopped { .. } => Ev::Stopped,
            Event::Message(m) => {
                let _ = m.properties.iter().count();
                Ev::Message {
                    topic: m.topic.to_string(),
                    payload: m.payload.to_vec(),
                    qos: m.qos,
                    retain: m.retain,
                    dup: m.dup,
                    ack: m.ack,
                }
            }
            Event::Published { token, reason_code } => Ev::Published { token, reason_code },
            Event::Subscribed {
                token,
                reason_codes,
            } => Ev::Subscribed {
                token,
                codes: reason_codes.iter().count(),
            },
            Event::Unsubscribed {
                token,
                reason_codes,
            } => Ev::Unsubscribed {
                token,
                codes: reason_codes.iter().count(),
            },
            Event::Auth { data, .. } => {
                let _ = data.0.len();
                Ev::Auth
            }
            Event::Lost { token, .. } => Ev::Lost { token },
            Event::Redirect {
                server_reference, ..
            } => Ev::Redirect {
                len: server_reference.len(),
            },
        }
    }
}

/// What a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Publish(QoS),
    Subscribe(usize),
    Unsubscribe(usize),
    Message,
}

/// What the model knows of one QoS 1/2 publish (by token).
#[derive(Clone, Copy, Debug, Default)]
struct PubTrack {
    pid: Option<u16>,
    /// Session epoch of the last send (epochs change when the server loses the session).
    sent_epoch: Option<u32>,
    last_conn: Option<u32>,
    /// A PUBREC (success) was fed while the model held this publish under its id.
    rec_fed: bool,
    /// The client sent PUBREL for it.
    rel_sent: bool,
}

/// What a publish command asked for, found again by the marker at the payload's start.
#[derive(Clone, Debug)]
struct Published {
    token: Option<Token>,
    topic: &'static str,
    qos: QoS,
    retain: bool,
    payload: Vec<u8>,
    sent: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdKind {
    Pub1,
    Pub2,
    Sub,
    Unsub,
}

/// A client packet id the model saw go out.
#[derive(Clone, Debug)]
struct IdUse {
    kind: IdKind,
    /// The publish's token (unknown for subscribe/unsubscribe).
    token: Option<Token>,
    /// The packet with its id zeroed (subscribe/unsubscribe).
    sig: Vec<u8>,
    /// Filters in the SUBSCRIBE/UNSUBSCRIBE.
    count: usize,
    conn: u32,
    /// An ack for it was fed (it may be free in the session).
    freed: bool,
    /// Value of `Driver::nonpub_lost` when it was sent.
    lost_gen: u32,
}

/// A packet id reused while the model still had it in flight; confirmed at the end of
/// the operation unless the old user was reported lost meanwhile.
#[derive(Clone, Debug)]
struct Suspect {
    pid: u16,
    old: IdUse,
    what: String,
}

/// The server's limits from the CONNACK of a connection.
#[derive(Clone, Copy, Debug)]
struct Limits {
    session_present: bool,
    success: bool,
    receive_maximum: u16,
    max_qos: QoS,
    retain_available: bool,
    max_packet_size: u32,
    topic_alias_maximum: u16,
    keep_alive: Option<u16>,
}

/// One transport connection as the server sees it: the client's byte stream.
#[derive(Debug)]
struct Conn {
    id: u32,
    buf: Vec<u8>,
    packets: u32,
    connected: bool,
    limits: Option<Limits>,
    lost: bool,
    sent_disconnect: bool,
    client_aliases: HashMap<u16, String>,
}

/// A PUBLISH fed to the session, as the application should see it.
#[derive(Clone, Debug)]
struct Candidate {
    topic: Option<String>,
    payload: Vec<u8>,
    qos: QoS,
    pid: u16,
    retain: bool,
    dup: bool,
    /// A PUBREL for this QoS 2 id followed the PUBLISH in the stream before the drain
    /// (one `handle_input` can hold both): once delivered, the id is already released.
    released: bool,
}

/// The session's receive stream, decoded the way the session decodes it: from the
/// accepted transport up, stopping at the first malformed packet.
#[derive(Debug, Default)]
struct Mirror {
    buf: Vec<u8>,
    dead: bool,
    first_connack: Option<Limits>,
    /// The Topic Alias Maximum our CONNECT announced on this connection.
    alias_max: u16,
    aliases: HashMap<u16, String>,
    candidates: VecDeque<Candidate>,
}

struct Driver {
    s: Box<FuzzSession>,
    setup: Setup,
    v: ProtocolVersion,
    manual: bool,
    auth: bool,
    keep_alive: u16,
    our_rm: usize,
    our_alias_max: u16,
    send_alias_max: u16,
    rx_max: u32,
    zero_delay_possible: bool,
    now: u64,
    tx_size: usize,
    pending_rx: Vec<u8>,
    cur: usize,

    conn_seq: u32,
    conn: Option<Conn>,
    mirror: Mirror,
    /// Incremented whenever a CONNACK says the server has no session for us.
    epoch: u32,
    /// Bound on `inflight_publishes()`: max(server Receive Maximum, PUBRELs carried over).
    rm_bound: Option<usize>,

    tokens: HashMap<Token, Kind>,
    reported: HashMap<Token, &'static str>,
    serial: u32,
    publishes: HashMap<u32, Published>,
    pubs: HashMap<Token, PubTrack>,
    ids: BTreeMap<u16, IdUse>,
    acked_codes: HashMap<Token, Vec<ReasonCode>>,
    nonpub_lost: u32,
    suspects: Vec<Suspect>,

    delivered_acks: Vec<Token>,
    app_acked: HashSet<Token>,
    /// Manual ack: (id, QoS) of messages delivered and not yet acknowledged by `ack`.
    awaiting_app: HashMap<(u16, QoS), Token>,
    qos2_delivered: HashSet<u16>,
    server_q1: HashSet<u16>,
    server_q2: HashSet<u16>,
    server_pubrel: HashSet<u16>,
    server_pubrec: HashSet<u16>,

    /// Events and bytes seen by the current drain.
    drained_events: usize,
    drained_bytes: usize,
    stats: Stats,
    /// `MQTT_FUZZ_TRACE` set: print operations, events and packets to stderr.
    trace: bool,
    /// `Stopped` came and no `connect()` since.
    stopped: bool,
    /// The transmit buffer, reused.
    txbuf: Vec<u8>,
    ping_timeout: u64,
    connect_timeout: u64,
}

impl Driver {
    fn new(setup: Setup) -> Option<Driver> {
        let config = setup.config();
        let s = Box::new(FuzzSession::new(&config, ArenaStore::new(), [0; RX]).ok()?);
        let v = config.version;
        Some(Driver {
            s,
            setup,
            v,
            manual: config.manual_ack,
            auth: config.authentication_method.is_some(),
            keep_alive: config.keep_alive,
            our_rm: usize::from(config.receive_maximum).clamp(1, IN),
            our_alias_max: if v.is_v5() {
                config.topic_alias_maximum
            } else {
                0
            },
            send_alias_max: if v.is_v5() {
                config.topic_alias_send_maximum
            } else {
                0
            },
            rx_max: config
                .maximum_packet_size
                .unwrap_or(u32::MAX)
                .min(RX as u32),
            zero_delay_possible: setup.jitter() == 100,
            now: 0,
            tx_size: CHUNKS[usize::from(setup.misc & 0x0f)],
            pending_rx: Vec::new(),
            cur: 0,
            conn_seq: 0,
            conn: None,
            mirror: Mirror::default(),
            epoch: 0,
            rm_bound: None,
            tokens: HashMap::new(),
            reported: HashMap::new(),
            serial: 0,
            publishes: HashMap::new(),
            pubs: HashMap::new(),
            ids: BTreeMap::new(),
            acked_codes: HashMap::new(),
            nonpub_lost: 0,
            suspects: Vec::new(),
            delivered_acks: Vec::new(),
            app_acked: HashSet::new(),
            awaiting_app: HashMap::new(),
            qos2_delivered: HashSet::new(),
            server_q1: HashSet::new(),
            server_q2: HashSet::new(),
            server_pubrel: HashSet::new(),
            server_pubrec: HashSet::new(),
            drained_events: 0,
            drained_bytes: 0,
            stats: Stats::default(),
            trace: std::env::var_os("MQTT_FUZZ_TRACE").is_some(),
            stopped: false,
            txbuf: Vec::new(),
            ping_timeout: config.ping_timeout.as_millis(),
            connect_timeout: config.connect_timeout.as_millis(),
        })
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    // ----- failure report -----------------------------------------------------------------

    #[track_caller]
    fn fail(&self, ops: &[Op], msg: impl std::fmt::Display) -> ! {
        let mut trace = String::new();
        let from = self.cur.saturating_sub(40);
        for (i, op) in ops.iter().enumerate().take(self.cur + 1).skip(from) {
            let _ = writeln!(trace, "  #{i}: {op:?}");
        }
        panic!(
            "session invariant broken: {msg}\n  at op #{} of {}, now {} ms, state {:?}, \
             setup {:?}\n  operations:\n{trace}",
            self.cur,
            ops.len(),
            self.now,
            self.s.state(),
            self.setup,
        );
    }

    // ----- one operation ------------------------------------------------------------------

    fn step(&mut self, op: &Op, ops: &[Op]) {
        if self.trace {
            eprintln!("#{} {op:?}  (now {} ms)", self.cur, self.now);
        }
        match op {
            Op::Advance { mode, amount } => self.advance(*mode, *amount, ops),
            Op::TransportUp => {
                let before = self.s.state();
                let now = self.now();
                self.s.handle_transport_up(now);
                if before == ConnState::Opening {
                    if self.s.state() != ConnState::AwaitConnAck {
                        self.fail(ops, "transport up in Opening did not await CONNACK");
                    }
                    self.conn_seq += 1;
                    self.stats.connections += 1;
                    self.conn = Some(Conn {
                        id: self.conn_seq,
                        buf: Vec::new(),
                        packets: 0,
                        connected: false,
                        limits: None,
                        lost: false,
                        sent_disconnect: false,
                        client_aliases: HashMap::new(),
                    });
                    self.mirror = Mirror::default();
                    self.pending_rx.clear();
                }
                self.drain(ops);
            }
            Op::TransportDown => {
                let now = self.now();
                self.s.handle_transport_down(now);
                self.conn = None;
                self.pending_rx.clear();
                self.drain(ops);
            }
            Op::SetChunk(c) => self.tx_size = CHUNKS[usize::from(c % 16)],
            Op::Connect => {
                let now = self.now();
                self.stopped = false;
                self.s.connect(now);
                self.drain(ops);
            }
            Op::Publish {
                qos,
                topic,
                len,
                flags,
            } => self.cmd_publish(*qos, *topic, *len, *flags, ops),
            Op::Subscribe {
                filters,
                opts,
                props,
            } => self.cmd_subscribe(*filters, *opts, *props, ops),
            Op::Unsubscribe { filters, props } => self.cmd_unsubscribe(*filters, *props, ops),
            Op::Ack { sel } => self.cmd_ack(*sel, ops),
            Op::Disconnect => {
                let now = self.now();
                self.s.disconnect(now);
                self.drain(ops);
            }
            Op::Auth { flags, len } => {
                let data = vec![0xa5; usize::from(*len)];
                let now = self.now();
                let snap = self.snapshot();
                let r = if flags & 1 != 0 {
                    self.s.reauthenticate(now, &data)
                } else {
                    self.s.auth(now, &data)
                };
                self.after_command(r.is_err(), snap, ops);
            }
            Op::Raw { bytes, feed } => self.feed(bytes.clone(), *feed, ops),
            _ => {
                if let Some((bytes, feed)) = self.server_packet(op) {
                    self.feed(bytes, feed, ops);
                }
            }
        }
        self.end_of_op(ops);
    }

    fn advance(&mut self, mode: u8, amount: u8, ops: &[Op]) {
        let amount = u64::from(amount);
        let deadline = self.s.poll_timeout().map(|t| t.as_millis());
        self.now = match mode % 5 {
            0 => self.now + amount,
            1 => self.now + amount * 100,
            2 => self.now + amount * 1000,
            3 => deadline.filter(|&t| t > self.now).unwrap_or(self.now + 1),
            _ => deadline
                .filter(|&t| t > self.now + 1)
                .map_or(self.now + 1, |t| t - 1),
        };
        let spurious = self
            .s
            .poll_timeout()
            .is_none_or(|t| t.as_millis() > self.now);
        let now = self.now();
        self.s.handle_timeout(now);
        self.drain(ops);
        if spurious && (self.drained_events > 0 || self.drained_bytes > 0) {
            self.fail(
                ops,
                format!(
                    "a spurious handle_timeout (deadline {deadline:?}) produced {} events and \
                     {} bytes",
                    self.drained_events, self.drained_bytes
                ),
            );
        }
        if let Some(t) = self.s.poll_timeout() {
            let t = t.as_millis();
            if t < self.now || (t == self.now && !self.zero_delay_possible) {
                self.fail(
                    ops,
                    format!("poll_timeout {t} not after now after handle_timeout was drained"),
                );
            }
        }
    }

    // ----- commands -----------------------------------------------------------------------

    fn snapshot(&self) -> (usize, u16, usize, ConnState) {
        (
            self.s.outstanding(),
            self.s.inflight_publishes(),
            self.s.incoming_pending(),
            self.s.state(),
        )
    }

    /// Drains after a command; a refused command must have changed nothing.
    fn after_command(&mut self, refused: bool, snap: (usize, u16, usize, ConnState), ops: &[Op]) {
        if refused && self.snapshot() != snap {
            self.fail(
                ops,
                format!(
                    "a refused command changed the session: {snap:?} -> {:?}",
                    self.snapshot()
                ),
            );
        }
        self.drain(ops);
        if refused && (self.drained_events > 0 || self.drained_bytes > 0) {
            self.fail(
                ops,
                format!(
                    "a refused command produced {} events and {} bytes",
                    self.drained_events, self.drained_bytes
                ),
            );
        }
    }

    fn new_token(&mut self, t: Token, kind: Kind, ops: &[Op]) {
        if self.tokens.insert(t, kind).is_some() || self.reported.contains_key(&t) {
            self.fail(ops, format!("token {t:?} returned twice"));
        }
    }

    fn cmd_publish(&mut self, qos: u8, topic: u8, len: u8, flags: u8, ops: &[Op]) {
        let qos = [
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::AtLeastOnce,
        ][usize::from(qos & 3)];
        let topic = CLIENT_TOPICS[usize::from(topic % 8)];
        self.serial += 1;
        let serial = self.serial;
        let filler = if flags & 0x10 != 0 {
            usize::from(len) * 16
        } else {
            usize::from(len)
        };
        let mut payload = serial.to_be_bytes().to_vec();
        payload.extend((0..filler).map(|i| i as u8 ^ len));
        let mut props = Vec::new();
        if flags & 2 != 0 {
            props.push(Property::UserProperty("k", "v"));
        }
        if flags & 4 != 0 {
            props.push(Property::MessageExpiryInterval(60));
        }
        if flags & 8 != 0 {
            props.push(Property::TopicAlias(1));
        }
        if flags & 0x20 != 0 {
            props.push(Property::ResponseTopic("reply/to"));
        }
        let retain = flags & 1 != 0;
        let snap = self.snapshot();
        let now = self.now();
        let r = self.s.publish(now, topic, &payload, qos, retain, &props);
        if let Ok(t) = r {
            if t.is_some() != (qos != QoS::AtMostOnce) {
                self.fail(ops, format!("publish at {qos:?} returned {t:?}"));
            }
            if let Some(t) = t {
                self.new_token(t, Kind::Publish(qos), ops);
                self.pubs.insert(t, PubTrack::default());
            }
            self.publishes.insert(
                serial,
                Published {
                    token: t,
                    topic,
                    qos,
                    retain,
                    payload,
                    sent: false,
                },
            );
        }
        self.after_command(r.is_err(), snap, ops);
    }

    fn cmd_subscribe(&mut self, filters: u8, opts: u8, props: u8, ops: &[Op]) {
        let options = SubscriptionOptions {
            qos: [
                QoS::AtMostOnce,
                QoS::AtLeastOnce,
                QoS::ExactlyOnce,
                QoS::ExactlyOnce,
            ][usize::from(opts & 3)],
            no_local: opts & 4 != 0,
            retain_as_published: opts & 8 != 0,
            retain_handling: [
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtNewSubscribe,
                RetainHandling::DoNotSend,
                RetainHandling::SendAtSubscribe,
            ][usize::from((opts >> 4) & 3)],
        };
        let Ok(subs) = FILTERS
            .iter()
            .enumerate()
            .filter(|(i, _)| filters & (1 << i) != 0)
            .map(|(_, f)| {
                mqtt_session::topic_filter(f).map(|filter| Subscription { filter, options })
            })
            .collect::<Result<Vec<Subscription<'_>>, _>>()
        else {
            // An invalid filter cannot become a `TopicFilter`: refused before the session.
            assert!(invalid_filter_chosen(filters), "a valid filter was refused");
            return;
        };
        let mut p = Vec::new();
        if props & 1 != 0 {
            p.push(Property::SubscriptionIdentifier(u32::from(props >> 2) + 1));
        }
        if props & 2 != 0 {
            p.push(Property::UserProperty("k", "v"));
        }
        let snap = self.snapshot();
        let now = self.now();
        let r = self.s.subscribe(now, &subs, &p);
        if let Ok(t) = r {
            self.new_token(t, Kind::Subscribe(subs.len()), ops);
        }
        self.after_command(r.is_err(), snap, ops);
    }

    fn cmd_unsubscribe(&mut self, filters: u8, props: u8, ops: &[Op]) {
        let Ok(list) = FILTERS
            .iter()
            .enumerate()
            .filter(|(i, _)| filters & (1 << i) != 0)
            .map(|(_, f)| mqtt_session::topic_filter(f))
            .collect::<Result<Vec<TopicFilter<'_>>, _>>()
        else {
            // An invalid filter cannot become a `TopicFilter`: refused before the session.
            assert!(invalid_filter_chosen(filters), "a valid filter was refused");
            return;
        };
        let p: Vec<Property<'_>> = if props & 1 != 0 {
            vec![Property::UserProperty("k", "v")]
        } else {
            Vec::new()
        };
        let snap = self.snapshot();
        let now = self.now();
        let r = self.s.unsubscribe(now, &list, &p);
        if let Ok(t) = r {
            self.new_token(t, Kind::Unsubscribe(list.len()), ops);
        }
        self.after_command(r.is_err(), snap, ops);
    }

    fn cmd_ack(&mut self, sel: u8, ops: &[Op]) {
        let token = if sel & 0x80 != 0 || self.delivered_acks.is_empty() {
            Token(u32::from(sel & 0x7f))
        } else {
            self.delivered_acks[usize::from(sel) % self.delivered_acks.len()]
        };
        let snap = self.snapshot();
        let r = self.s.ack(token);
        if r.is_ok() {
            if self.tokens.get(&token) != Some(&Kind::Message) {
                self.fail(
                    ops,
                    format!("ack({token:?}) accepted a token never delivered"),
                );
            }
            if !self.app_acked.insert(token) {
                self.fail(ops, format!("ack({token:?}) accepted twice"));
            }
            self.stats.app_acks += 1;
            self.awaiting_app.retain(|_, t| *t != token);
        }
        self.after_command(r.is_err(), snap, ops);
    }

    // ----- server packets -----------------------------------------------------------------

    /// The ids the model has in flight of one kind, in order.
    fn live_ids(&self, kinds: &[IdKind]) -> Vec<u16> {
        self.ids
            .iter()
            .filter(|(_, u)| !u.freed && kinds.contains(&u.kind))
            .map(|(&pid, _)| pid)
            .collect()
    }

    fn pick(sel: u8, list: &[u16]) -> u16 {
        if sel & 0x80 == 0 && !list.is_empty() {
            list[usize::from(sel) % list.len()]
        } else {
            u16::from(sel & 0x7f) + 1
        }
    }

    /// Encodes the server packet an operation describes (None: not expressible in this
    /// version or otherwise refused by the encoder).
    fn server_packet(&self, op: &Op) -> Option<(Vec<u8>, u8)> {
        let v5 = self.v.is_v5();
        let id = |pid: u16| PacketId::new(pid.max(1)).expect("non-zero");
        let (bytes, feed) = match *op {
            Op::ConnAck {
                flags,
                code,
                props,
                rm,
                mps,
                feed,
            } => {
                let reason_code = if code < 0x80 {
                    ReasonCode::Success
                } else if v5 {
                    const REFUSALS: [ReasonCode; 12] = [
                        ReasonCode::UnspecifiedError,
                        ReasonCode::MalformedPacket,
                        ReasonCode::ProtocolError,
                        ReasonCode::UnsupportedProtocolVersion,
                        ReasonCode::ClientIdentifierNotValid,
                        ReasonCode::BadUserNameOrPassword,
                        ReasonCode::NotAuthorized,
                        ReasonCode::ServerUnavailable,
                        ReasonCode::ServerBusy,
                        ReasonCode::Banned,
                        ReasonCode::BadAuthenticationMethod,
                        ReasonCode::QuotaExceeded,
                    ];
                    REFUSALS[usize::from(code) % REFUSALS.len()]
                } else {
                    const REFUSALS: [ReasonCode; 5] = [
                        ReasonCode::UnsupportedProtocolVersion,
                        ReasonCode::ClientIdentifierNotValid,
                        ReasonCode::ServerUnavailable,
                        ReasonCode::BadUserNameOrPassword,
                        ReasonCode::NotAuthorized,
                    ];
                    REFUSALS[usize::from(code) % REFUSALS.len()]
                };
                let mut p = Vec::new();
                if v5 {
                    if props & 1 != 0 {
                        p.push(Property::ReceiveMaximum(u16::from(rm) + 1));
                    }
                    if props & 2 != 0 {
                        p.push(Property::MaximumQoS(if flags & 2 != 0 {
                            QoS::AtLeastOnce
                        } else {
                            QoS::AtMostOnce
                        }));
                    }
                    if props & 4 != 0 {
                        p.push(Property::RetainAvailable(false));
                    }
                    if props & 8 != 0 {
                        p.push(Property::MaximumPacketSize(u32::from(mps) * 8 + 8));
                    }
                    if props & 16 != 0 {
                        p.push(Property::TopicAliasMaximum(u16::from(flags >> 4)));
                    }
                    if props & 32 != 0 {
                        p.push(Property::ServerKeepAlive(u16::from((flags >> 2) & 3) * 5));
                    }
                    if props & 64 != 0 {
                        p.push(Property::AssignedClientIdentifier("assigned-7"));
                    }
                    if props & 128 != 0 {
                        p.push(Property::ReasonString("welcome"));
                        p.push(Property::UserProperty("broker", "fuzz"));
                    }
                }
                let packet = Packet::ConnAck(ConnAck {
                    session_present: flags & 1 != 0,
                    reason_code,
                    properties: Properties::new(&p),
                });
                (encode(packet, self.v)?, feed)
            }
            Op::ServerPublish {
                flags,
                pid,
                topic,
                alias,
                len,
                feed,
            } => {
                let pid = if pid < 0x80 {
                    u16::from(pid % 16) + 1
                } else {
                    u16::from(pid) * 257
                };
                let qos = match flags & 3 {
                    0 => QosPid::AtMostOnce,
                    1 => QosPid::AtLeastOnce(id(pid)),
                    _ => QosPid::ExactlyOnce(id(pid)),
                };
                let mut p = Vec::new();
                if v5 {
                    if alias != 0 {
                        p.push(Property::TopicAlias(u16::from(alias)));
                    }
                    if flags & 0x20 != 0 {
                        p.push(Property::SubscriptionIdentifier(u32::from(len) + 1));
                    }
                    if flags & 0x40 != 0 {
                        p.push(Property::UserProperty("u", "p"));
                    }
                }
                let payload: Vec<u8> = (0..usize::from(len)).map(|i| i as u8 ^ flags).collect();
                let packet = Packet::Publish(Publish {
                    dup: flags & 4 != 0 && qos != QosPid::AtMostOnce,
                    qos,
                    retain: flags & 8 != 0,
                    topic: if flags & 0x10 != 0 && v5 && alias != 0 {
                        TopicName::ALIAS_ONLY
                    } else {
                        TopicName::new(SERVER_TOPICS[usize::from(topic) % SERVER_TOPICS.len()])
                            .expect("SERVER_TOPICS are valid")
                    },
                    properties: Properties::new(&p),
                    payload: &payload,
                });
                (encode(packet, self.v)?, feed)
            }
            Op::ServerAck {
                kind,
                pid,
                code,
                feed,
            } => {
                let kind = kind % 4;
                let list = match kind {
                    0 => self.live_ids(&[IdKind::Pub1]),
                    1 | 3 => self.live_ids(&[IdKind::Pub2]),
                    _ => {
                        let mut l: Vec<u16> = self.server_q2.iter().copied().collect();
                        l.sort_unstable();
                        l
                    }
                };
                let pid = Self::pick(pid, &list);
                let codes: &[ReasonCode] = match kind {
                    0 | 1 => &[
                        ReasonCode::Success,
                        ReasonCode::NoMatchingSubscribers,
                        ReasonCode::UnspecifiedError,
                        ReasonCode::ImplementationSpecificError,
                        ReasonCode::NotAuthorized,
                        ReasonCode::TopicNameInvalid,
                        ReasonCode::PacketIdentifierInUse,
                        ReasonCode::QuotaExceeded,
                        ReasonCode::PayloadFormatInvalid,
                    ],
                    _ => &[ReasonCode::Success, ReasonCode::PacketIdentifierNotFound],
                };
                let reason_code = if v5 {
                    codes[usize::from(code) % codes.len()]
                } else {
                    ReasonCode::Success
                };
                let ack = Ack {
                    packet_id: id(pid),
                    reason_code,
                    properties: Properties::empty(),
                };
                let packet = match kind {
                    0 => Packet::PubAck(ack),
                    1 => Packet::PubRec(ack),
                    2 => Packet::PubRel(ack),
                    _ => Packet::PubComp(ack),
                };
                (encode(packet, self.v)?, feed)
            }
            Op::SubAck {
                pid,
                count,
                code,
                feed,
            }
            | Op::UnsubAck {
                pid,
                count,
                code,
                feed,
            } => {
                let sub = matches!(op, Op::SubAck { .. });
                let kind = if sub { IdKind::Sub } else { IdKind::Unsub };
                let list = self.live_ids(&[kind]);
                let pid = Self::pick(pid, &list);
                let n = if count < 0x80 {
                    self.ids
                        .get(&pid)
                        .filter(|u| u.kind == kind)
                        .map_or(1, |u| u.count)
                } else {
                    usize::from(count & 3)
                };
                let codes: &[ReasonCode] = match (sub, v5) {
                    (true, true) => &[
                        ReasonCode::GrantedQoS1,
                        ReasonCode::Success,
                        ReasonCode::GrantedQoS2,
                        ReasonCode::UnspecifiedError,
                        ReasonCode::NotAuthorized,
                        ReasonCode::TopicFilterInvalid,
                        ReasonCode::QuotaExceeded,
                        ReasonCode::SharedSubscriptionsNotSupported,
                        ReasonCode::SubscriptionIdentifiersNotSupported,
                        ReasonCode::WildcardSubscriptionsNotSupported,
                    ],
                    (true, false) => &[
                        ReasonCode::GrantedQoS1,
                        ReasonCode::Success,
                        ReasonCode::GrantedQoS2,
                        ReasonCode::UnspecifiedError,
                    ],
                    (false, _) => &[
                        ReasonCode::Success,
                        ReasonCode::NoSubscriptionExisted,
                        ReasonCode::UnspecifiedError,
                        ReasonCode::TopicFilterInvalid,
                    ],
                };
                let rcs: Vec<ReasonCode> = (0..n)
                    .map(|i| codes[(usize::from(code) + i) % codes.len()])
                    .collect();
                let packet = if sub {
                    Packet::SubAck(SubAck {
                        packet_id: id(pid),
                        properties: Properties::empty(),
                        reason_codes: List::new(&rcs),
                    })
                } else {
                    Packet::UnsubAck(UnsubAck {
                        packet_id: id(pid),
                        properties: Properties::empty(),
                        reason_codes: if v5 { List::new(&rcs) } else { List::empty() },
                    })
                };
                (encode(packet, self.v)?, feed)
            }
            Op::PingResp { feed } => (encode(Packet::PingResp, self.v)?, feed),
            Op::ServerDisconnect { code, flags, feed } => {
                const CODES: [ReasonCode; 8] = [
                    ReasonCode::Success,
                    ReasonCode::ServerShuttingDown,
                    ReasonCode::SessionTakenOver,
                    ReasonCode::KeepAliveTimeout,
                    ReasonCode::ProtocolError,
                    ReasonCode::ServerBusy,
                    ReasonCode::UseAnotherServer,
                    ReasonCode::AdministrativeAction,
                ];
                let mut p = Vec::new();
                if v5 && flags & 1 != 0 {
                    p.push(Property::SessionExpiryInterval(10));
                }
                if v5 && flags & 2 != 0 {
                    p.push(Property::ReasonString("bye"));
                }
                let packet = Packet::Disconnect(Disconnect {
                    reason_code: if v5 {
                        CODES[usize::from(code) % CODES.len()]
                    } else {
                        ReasonCode::Success
                    },
                    properties: Properties::new(&p),
                });
                (encode(packet, self.v)?, feed)
            }
            Op::ServerAuth { code, len, feed } => {
                const CODES: [ReasonCode; 3] = [
                    ReasonCode::ContinueAuthentication,
                    ReasonCode::Success,
                    ReasonCode::ReAuthenticate,
                ];
                let data = vec![0x5a; usize::from(len)];
                let p = [
                    Property::AuthenticationMethod(AUTH_METHOD),
                    Property::AuthenticationData(&data),
                ];
                let packet = Packet::Auth(Auth {
                    reason_code: CODES[usize::from(code) % CODES.len()],
                    properties: Properties::new(&p),
                });
                (encode(packet, self.v)?, feed)
            }
            _ => return None,
        };
        Some((bytes, feed))
    }

    /// Hands server bytes to the session in chunks, re-offering what it did not take after
    /// draining (back-pressure), and to the mirror as the session takes them.
    fn feed(&mut self, bytes: Vec<u8>, feed: u8, ops: &[Op]) {
        let mut data = std::mem::take(&mut self.pending_rx);
        data.extend_from_slice(&bytes);
        let hold = usize::from(feed >> 4).min(data.len());
        self.pending_rx = data.split_off(data.len() - hold);
        let chunk = match usize::from(feed & 0x0f) {
            0 => data.len().max(1),
            c => c,
        };
        for piece in data.chunks(chunk) {
            let mut rest = piece;
            let mut stalls = 0;
            while !rest.is_empty() {
                let now = self.now();
                let n = self.s.handle_input(now, rest);
                if n > rest.len() {
                    self.fail(
                        ops,
                        format!("handle_input took {n} of {} bytes", rest.len()),
                    );
                }
                self.mirror_feed(&rest[..n], ops);
                rest = &rest[n..];
                self.drain(ops);
                if n == 0 {
                    stalls += 1;
                    if stalls > 2 {
                        // The session takes no more (it is not reading): the adapter stops.
                        break;
                    }
                }
            }
        }
    }

    // ----- the mirror of the receive stream -----------------------------------------------

    fn mirror_feed(&mut self, bytes: &[u8], ops: &[Op]) {
        if self.mirror.dead {
            return;
        }
        self.mirror.buf.extend_from_slice(bytes);
        let dec = Decoder::new(self.v).max_packet_size(self.rx_max);
        loop {
            let buf = std::mem::take(&mut self.mirror.buf);
            match dec.decode(&buf) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    self.mirror_packet(&packet, ops);
                    self.mirror.buf = buf[consumed..].to_vec();
                }
                Ok(Decoded::Incomplete(_)) => {
                    self.mirror.buf = buf;
                    return;
                }
                Err(_) => {
                    self.mirror.dead = true;
                    return;
                }
            }
        }
    }

    /// Frees a client id on an ack fed (the session may have accepted it).
    fn mirror_free(&mut self, pid: u16, kinds: &[IdKind], code: ReasonCode, need_rec: bool) {
        let Some(u) = self.ids.get_mut(&pid) else {
            return;
        };
        if !kinds.contains(&u.kind) {
            return;
        }
        if need_rec
            && !u
                .token
                .and_then(|t| self.pubs.get(&t))
                .is_some_and(|p| p.rec_fed)
        {
            return;
        }
        u.freed = true;
        if let Some(t) = u.token {
            self.acked_codes.entry(t).or_default().push(code);
        }
    }

    fn mirror_packet(&mut self, p: &Packet<'_>, _ops: &[Op]) {
        if self.trace {
            eprintln!("    server -> {p:?}");
        }
        match *p {
            Packet::ConnAck(c) if self.mirror.first_connack.is_none() => {
                let props = c.properties;
                self.mirror.first_connack = Some(Limits {
                    session_present: c.session_present,
                    success: !c.reason_code.is_error(),
                    receive_maximum: props.receive_maximum().unwrap_or(u16::MAX),
                    max_qos: props.maximum_qos().unwrap_or(QoS::ExactlyOnce),
                    retain_available: props.retain_available().unwrap_or(true),
                    max_packet_size: props.maximum_packet_size().unwrap_or(u32::MAX),
                    topic_alias_maximum: props.topic_alias_maximum().unwrap_or(0),
                    keep_alive: props.server_keep_alive(),
                });
            }
            Packet::Publish(x) => {
                let alias = x.properties.topic_alias();
                // An alias outside what our CONNECT announced is refused by the session: such a
                // PUBLISH can match no Message.
                let topic = match alias {
                    Some(a) if a == 0 || a > self.mirror.alias_max => None,
                    Some(a) if x.topic.is_empty() => self.mirror.aliases.get(&a).cloned(),
                    Some(a) => {
                        self.mirror.aliases.insert(a, x.topic.to_string());
                        Some(x.topic.to_string())
                    }
                    None => Some(x.topic.to_string()),
                };
                let pid = x.qos.packet_id().map_or(0, |id| id.get());
                match x.qos.qos() {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        self.server_q1.insert(pid);
                    }
                    QoS::ExactlyOnce => {
                        self.server_q2.insert(pid);
                    }
                }
                self.mirror.candidates.push_back(Candidate {
                    topic,
                    payload: x.payload.to_vec(),
                    qos: x.qos.qos(),
                    pid,
                    retain: x.retain,
                    dup: x.dup,
                    released: false,
                });
            }
            Packet::PubAck(a) => {
                self.mirror_free(a.packet_id.get(), &[IdKind::Pub1], a.reason_code, false)
            }
            Packet::PubRec(a) => {
                let pid = a.packet_id.get();
                if a.reason_code.is_error() {
                    self.mirror_free(pid, &[IdKind::Pub2], a.reason_code, false);
                } else {
                    self.server_pubrec.insert(pid);
                    if let Some(u) = self.ids.get(&pid)
                        && u.kind == IdKind::Pub2
                        && let Some(t) = u.token
                        && let Some(p) = self.pubs.get_mut(&t)
                    {
                        p.rec_fed = true;
                    }
                }
            }
            Packet::PubRel(a) => {
                let pid = a.packet_id.get();
                self.server_pubrel.insert(pid);
                // The session may release the id now and deliver a new message under it.
                self.qos2_delivered.remove(&pid);
                // A QoS 2 PUBLISH of this id earlier in the same input, not yet drained, is
                // released as soon as it is delivered.
                for c in self.mirror.candidates.iter_mut() {
                    if c.qos == QoS::ExactlyOnce && c.pid == pid {
                        c.released = true;
                    }
                }
            }
            Packet::PubComp(a) => {
                let pid = a.packet_id.get();
                // 0x92 answers a resent PUBREL the server had completed: after a PUBREC the
                // session reports that as delivered (5.0 3.7.2.1, "not an error during
                // recovery").
                if a.reason_code == ReasonCode::PacketIdentifierNotFound {
                    self.mirror_free(pid, &[IdKind::Pub2], ReasonCode::Success, true);
                }
                self.mirror_free(pid, &[IdKind::Pub2], a.reason_code, true)
            }
            Packet::SubAck(a) => self.mirror_free(
                a.packet_id.get(),
                &[IdKind::Sub],
                ReasonCode::Success,
                false,
            ),
            Packet::UnsubAck(a) => self.mirror_free(
                a.packet_id.get(),
                &[IdKind::Unsub],
                ReasonCode::Success,
                false,
            ),
            _ => {}
        }
    }

    // ----- draining -----------------------------------------------------------------------

    /// Drains per the contract: events until none, then transmits until 0, while either
    /// produced something. Then probes that nothing was left due.
    fn drain(&mut self, ops: &[Op]) {
        self.drained_events = 0;
        self.drained_bytes = 0;
        for round in 0.. {
            if round >= MAX_DRAIN_ROUNDS {
                self.fail(ops, "draining does not settle");
            }
            let mut produced = false;
            for n in 0.. {
                if n > 4096 {
                    self.fail(ops, "poll_event does not run dry");
                }
                let Some(ev) = self.s.poll_event().map(|e| Ev::capture(&e)) else {
                    break;
                };
                produced = true;
                self.drained_events += 1;
                self.on_event(ev, ops);
            }
            // An empty buffer first: `Ok(0)` there must mean nothing is due either.
            let empty = self.s.poll_transmit(self.now(), &mut []);
            if matches!(empty, Ok(n) if n > 0) || empty == Err(0) {
                self.fail(
                    ops,
                    format!("poll_transmit with an empty buffer: {empty:?}"),
                );
            }
            for n in 0.. {
                if n > 100_000 {
                    self.fail(ops, "poll_transmit does not run dry");
                }
                let size = self.tx_size;
                let sent = self.transmit(size, ops);
                if sent == 0 {
                    break;
                }
                if n == 0 && empty == Ok(0) {
                    self.fail(
                        ops,
                        format!("poll_transmit with an empty buffer returned 0 while {sent} bytes were due"),
                    );
                }
                produced = true;
            }
            if !produced {
                break;
            }
        }
        // Every whole packet fed has been processed now (or never will be, the session not
        // reading): no later Message comes from these.
        self.mirror.candidates.clear();
        // 0 means nothing is due, whatever the buffer size.
        if self.tx_size < PROBE {
            let sent = self.transmit(PROBE, ops);
            if sent > 0 {
                self.fail(
                    ops,
                    format!(
                        "poll_transmit with a {}-byte buffer returned 0 while {sent} bytes were due",
                        self.tx_size
                    ),
                );
            }
        }
        self.check_getters(ops);
    }

    fn transmit(&mut self, size: usize, ops: &[Op]) -> usize {
        // One buffer, reused (taken out so the output can be checked with `&mut self`).
        let mut buf = std::mem::take(&mut self.txbuf);
        buf.resize(buf.len().max(size), 0);
        // Poisoned, so bytes claimed but not written show up as garbage.
        buf[..size].fill(0xee);
        let now = self.now();
        let r = self.s.poll_transmit(now, &mut buf[..size]);
        let sent = match r {
            Ok(n) => {
                if n > size {
                    self.fail(ops, format!("poll_transmit wrote {n} into {size} bytes"));
                }
                self.on_output(&buf[..n], ops);
                n
            }
            Err(required) => {
                if required <= size {
                    self.fail(
                        ops,
                        format!("poll_transmit asked for {required} bytes with {size} given"),
                    );
                }
                buf.resize(buf.len().max(required), 0);
                buf[..required].fill(0xee);
                match self.s.poll_transmit(now, &mut buf[..required]) {
                    Ok(n) if n > 0 && n <= required => {
                        self.on_output(&buf[..n], ops);
                        n
                    }
                    other => self.fail(
                        ops,
                        format!(
                            "poll_transmit asked for {required} bytes, then gave {other:?} with them"
                        ),
                    ),
                }
            }
        };
        self.txbuf = buf;
        sent
    }

    // ----- events -------------------------------------------------------------------------

    fn report(&mut self, token: Token, how: &'static str, ops: &[Op]) {
        if let Some(before) = self.reported.insert(token, how) {
            self.fail(ops, format!("{token:?} reported by {how} after {before}"));
        }
    }

    fn on_event(&mut self, ev: Ev, ops: &[Op]) {
        if self.trace {
            eprintln!("    event {ev:?}");
        }
        let st = &mut self.stats;
        match &ev {
            Ev::Connected { session_present } => {
                st.connected += 1;
                st.resumed += u32::from(*session_present);
            }
            Ev::Message { .. } => st.messages += 1,
            Ev::Published { .. } => st.published += 1,
            Ev::Subscribed { .. } => st.subscribed += 1,
            Ev::Unsubscribed { .. } => st.unsubscribed += 1,
            Ev::Lost { .. } => st.lost += 1,
            Ev::ConnectionLost { .. } => st.connection_lost += 1,
            Ev::Auth => st.auth += 1,
            _ => {}
        }
        match ev {
            Ev::OpenTransport => {
                if self.stopped {
                    self.fail(ops, "OpenTransport after Stopped without connect()");
                }
                if self.conn.is_some() {
                    self.fail(ops, "OpenTransport while the transport is up");
                }
            }
            Ev::Stopped => self.stopped = true,
            Ev::Redirect { .. } => {
                if !self.v.is_v5() {
                    self.fail(ops, "Redirect event in 3.1.1");
                }
            }
            Ev::Auth => {
                if !(self.v.is_v5() && self.auth) {
                    self.fail(ops, "Auth event without an authentication method");
                }
            }
            Ev::CloseTransport => {
                self.conn = None;
                self.pending_rx.clear();
            }
            Ev::ConnectionLost { reason } => {
                if let ConnectionError::ProtocolViolation { reason_code, fault } = reason
                    && reason_code != fault.reason_code()
                {
                    self.fail(ops, format!("{reason:?}: reason code is not the fault's"));
                }
                if let Some(c) = &mut self.conn {
                    c.lost = true;
                }
            }
            Ev::ReconnectScheduled { at, attempt } => {
                if at < self.now || (at == self.now && !self.zero_delay_possible) {
                    self.fail(
                        ops,
                        format!("reconnect scheduled at {at}, now {}", self.now),
                    );
                }
                let policy = self.setup.config().reconnect;
                if attempt == 0 || policy.max_attempts.is_some_and(|m| attempt > m) {
                    self.fail(ops, format!("reconnect attempt {attempt} under {policy:?}"));
                }
                let (low, high) = policy.delay_bounds(attempt - 1);
                let delay = at - self.now;
                if delay < low.as_millis() || delay > high.as_millis() {
                    self.fail(
                        ops,
                        format!(
                            "reconnect attempt {attempt} after {delay} ms, outside [{}, {}]",
                            low.as_millis(),
                            high.as_millis()
                        ),
                    );
                }
            }
            Ev::Connected { session_present } => self.on_connected(session_present, ops),
            Ev::Message {
                topic,
                payload,
                qos,
                retain,
                dup,
                ack,
            } => self.on_message(topic, payload, qos, retain, dup, ack, ops),
            Ev::Published { token, reason_code } => {
                if !matches!(self.tokens.get(&token), Some(Kind::Publish(q)) if *q != QoS::AtMostOnce)
                {
                    self.fail(
                        ops,
                        format!("Published for {token:?}, not a QoS 1/2 publish"),
                    );
                }
                self.report(token, "Published", ops);
                match self.acked_codes.get(&token) {
                    Some(codes) if codes.contains(&reason_code) => {}
                    codes => self.fail(
                        ops,
                        format!(
                            "Published {token:?} with {reason_code:?}, acks fed for it: {codes:?}"
                        ),
                    ),
                }
            }
            Ev::Subscribed { token, codes } => {
                match self.tokens.get(&token) {
                    Some(Kind::Subscribe(n)) if *n != codes => {
                        self.fail(
                            ops,
                            format!("Subscribed {token:?}: {codes} codes for {n} filters"),
                        );
                    }
                    // A resubscribe after a session loss has a token never returned.
                    Some(Kind::Subscribe(_)) | None => {}
                    Some(k) => self.fail(ops, format!("Subscribed for {token:?}, a {k:?}")),
                }
                self.report(token, "Subscribed", ops);
            }
            Ev::Unsubscribed { token, codes } => {
                match self.tokens.get(&token) {
                    Some(Kind::Unsubscribe(n)) if self.v.is_v5() && *n != codes => {
                        self.fail(
                            ops,
                            format!("Unsubscribed {token:?}: {codes} codes for {n} filters"),
                        );
                    }
                    Some(Kind::Unsubscribe(_)) => {}
                    k => self.fail(ops, format!("Unsubscribed for {token:?}, a {k:?}")),
                }
                self.report(token, "Unsubscribed", ops);
            }
            Ev::Lost { token } => {
                match self.tokens.get(&token) {
                    Some(Kind::Publish(q)) if *q != QoS::AtMostOnce => {
                        for u in self.ids.values_mut() {
                            if u.token == Some(token) {
                                u.freed = true;
                            }
                        }
                    }
                    Some(Kind::Subscribe(_) | Kind::Unsubscribe(_)) | None => {
                        self.nonpub_lost += 1;
                        for u in self.ids.values_mut() {
                            if matches!(u.kind, IdKind::Sub | IdKind::Unsub) {
                                u.freed = true;
                            }
                        }
                    }
                    Some(k) => self.fail(ops, format!("Lost for {token:?}, a {k:?}")),
                }
                self.report(token, "Lost", ops);
            }
        }
    }

    fn on_connected(&mut self, session_present: bool, ops: &[Op]) {
        let Some(conn) = &self.conn else {
            self.fail(ops, "Connected without a transport");
        };
        if conn.connected {
            self.fail(ops, "Connected twice on one connection");
        }
        let limits = match self.mirror.first_connack {
            Some(l) if l.success && l.session_present == session_present => l,
            other => self.fail(
                ops,
                format!(
                    "Connected {{ session_present: {session_present} }} after CONNACK {other:?}"
                ),
            ),
        };
        if let Some(c) = &mut self.conn {
            c.connected = true;
            c.limits = Some(limits);
        }
        if !session_present {
            self.epoch += 1;
            self.qos2_delivered.clear();
            self.awaiting_app.clear();
        }
        let carried = usize::from(self.s.inflight_publishes());
        self.rm_bound = Some(usize::from(limits.receive_maximum).max(carried));
    }

    #[allow(clippy::too_many_arguments)]
    fn on_message(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        ack: Option<Token>,
        ops: &[Op],
    ) {
        if self.conn.as_ref().is_none_or(|c| !c.connected) {
            self.fail(ops, "Message outside a connection");
        }
        // The PUBLISHes fed in this drain with this content. The session skips a QoS 1/2
        // one whose id is still in its inbox; the model's inbox (ids delivered and not yet
        // acknowledged by the application, QoS 2 ids not yet released) is a subset of the
        // session's, so prefer candidates outside it, and only trust the id when the
        // remaining candidates agree on it.
        let matching: Vec<usize> = (0..self.mirror.candidates.len())
            .filter(|&i| {
                let c = &self.mirror.candidates[i];
                c.topic.as_deref() == Some(topic.as_str())
                    && c.payload == payload
                    && c.qos == qos
                    && c.retain == retain
                    && c.dup == dup
            })
            .collect();
        if matching.is_empty() && !tolerated("message-matches-no-publish-fed") {
            self.fail(
                ops,
                format!(
                    "Message {topic:?} ({} bytes, {qos:?}) matches no PUBLISH fed",
                    payload.len()
                ),
            );
        }
        // A QoS 2 message whose id is delivered and not yet released (PUBREL) is never
        // delivered again [MQTT-4.3.3-9/10]: at least one candidate must be outside that set.
        let q2_open = |d: &Self, i: usize| {
            let c = &d.mirror.candidates[i];
            c.qos == QoS::ExactlyOnce && d.qos2_delivered.contains(&c.pid)
        };
        let allowed: Vec<usize> = matching
            .iter()
            .copied()
            .filter(|&i| !q2_open(self, i))
            .collect();
        if allowed.is_empty() && !tolerated("qos2-delivered-again-awaiting-pubrel") {
            let pids: Vec<u16> = matching
                .iter()
                .map(|&i| self.mirror.candidates[i].pid)
                .collect();
            self.fail(
                ops,
                format!(
                    "QoS 2 message delivered again while its id (one of {pids:?}) awaits PUBREL"
                ),
            );
        }
        // Attribution: the session skips ids still in its inbox; prefer candidates outside
        // the model's (a subset of it), and trust the id only if the pool agrees on it.
        let preferred: Vec<usize> = allowed
            .iter()
            .copied()
            .filter(|&i| {
                // Only a duplicate is skipped: QoS 2, or QoS 1 with DUP. A QoS 1 PUBLISH
                // without DUP under an id still in the inbox is a new message (the server
                // replaced its session) and is delivered [MQTT-3.3.1-1, MQTT-4.3.2-4].
                let c = &self.mirror.candidates[i];
                let skippable = c.qos == QoS::ExactlyOnce || c.dup;
                !(skippable && self.awaiting_app.contains_key(&(c.pid, c.qos)))
            })
            .collect();
        let pool = if preferred.is_empty() {
            allowed
        } else {
            preferred
        };
        let chosen = pool[0];
        let pid = self.mirror.candidates[chosen].pid;
        let released = self.mirror.candidates[chosen].released;
        let unambiguous = pool.iter().all(|&i| self.mirror.candidates[i].pid == pid);
        self.mirror.candidates.drain(..=chosen);
        let wants_token = self.manual && qos != QoS::AtMostOnce;
        match ack {
            Some(t) if wants_token => {
                self.new_token(t, Kind::Message, ops);
                self.delivered_acks.push(t);
                if unambiguous {
                    self.awaiting_app.insert((pid, qos), t);
                }
            }
            None if !wants_token => {}
            _ => self.fail(
                ops,
                format!(
                    "Message at {qos:?} with ack {ack:?} (manual ack {})",
                    self.manual
                ),
            ),
        }
        if qos == QoS::ExactlyOnce && unambiguous && !released {
            self.qos2_delivered.insert(pid);
        }
    }

    // ----- the client's byte stream -------------------------------------------------------

    fn on_output(&mut self, bytes: &[u8], ops: &[Op]) {
        if bytes.is_empty() {
            return;
        }
        self.drained_bytes += bytes.len();
        let Some(conn) = &mut self.conn else {
            self.fail(
                ops,
                format!("{} bytes sent without a connection", bytes.len()),
            );
        };
        conn.buf.extend_from_slice(bytes);
        let dec = Decoder::new(self.v);
        loop {
            let Some(conn) = &mut self.conn else { return };
            let buf = std::mem::take(&mut conn.buf);
            match dec.decode(&buf) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    let raw = &buf[..consumed];
                    self.client_packet(&packet, raw, ops);
                    if let Some(conn) = &mut self.conn {
                        conn.buf = buf[consumed..].to_vec();
                    }
                }
                Ok(Decoded::Incomplete(_)) => {
                    conn.buf = buf;
                    return;
                }
                Err(e) => self.fail(
                    ops,
                    format!("the client sent bytes that do not decode: {e:?}: {buf:02x?}"),
                ),
            }
        }
    }

    fn client_packet(&mut self, p: &Packet<'_>, raw: &[u8], ops: &[Op]) {
        if self.trace {
            eprintln!("    client -> {p:?}");
        }
        let v5 = self.v.is_v5();
        let conn = self.conn.as_mut().expect("checked by on_output");
        conn.packets += 1;
        let first = conn.packets == 1;
        self.stats.client_packets[p.packet_type() as usize & 15] += 1;
        let (conn_id, packets, connected, lost, sent_disconnect, limits) = (
            conn.id,
            conn.packets,
            conn.connected,
            conn.lost,
            conn.sent_disconnect,
            conn.limits,
        );
        let name = p.packet_type().name();
        if sent_disconnect {
            self.fail(ops, format!("{name} sent after DISCONNECT"));
        }
        if lost && !matches!(p, Packet::Disconnect(_)) {
            self.fail(ops, format!("{name} sent after ConnectionLost"));
        }
        if first != matches!(p, Packet::Connect(_)) {
            self.fail(ops, format!("{name} as packet #{packets} of a connection"));
        }
        if !connected && !matches!(p, Packet::Connect(_) | Packet::Auth(_)) {
            self.fail(ops, format!("{name} sent before Connected"));
        }
        if let Some(l) = limits
            && raw.len() as u64 > u64::from(l.max_packet_size)
        {
            self.fail(
                ops,
                format!(
                    "{name} of {} bytes over the server's Maximum Packet Size {}",
                    raw.len(),
                    l.max_packet_size
                ),
            );
        }
        match *p {
            Packet::Connect(c) => {
                if c.protocol != self.v {
                    self.fail(ops, format!("CONNECT for {:?}", c.protocol));
                }
                // Limits we announce stay within the configuration and our capacities.
                let aliases = c.properties.topic_alias_maximum().unwrap_or(0);
                let rm = c.properties.receive_maximum().unwrap_or(u16::MAX);
                let mps = c.properties.maximum_packet_size().unwrap_or(u32::MAX);
                if self.v.is_v5()
                    && (aliases > self.our_alias_max
                        || usize::from(rm) > self.our_rm
                        || mps > self.rx_max)
                {
                    self.fail(
                        ops,
                        format!(
                            "CONNECT announces aliases {aliases}, Receive Maximum {rm}, Maximum \
                             Packet Size {mps} over ours ({}, {}, {})",
                            self.our_alias_max, self.our_rm, self.rx_max
                        ),
                    );
                }
                self.mirror.alias_max = aliases;
            }
            Packet::Publish(x) => self.client_publish(&x, conn_id, limits, ops),
            Packet::PubAck(a) | Packet::PubRec(a) => {
                let pid = a.packet_id.get();
                let (set, qos) = if matches!(p, Packet::PubAck(_)) {
                    (&self.server_q1, QoS::AtLeastOnce)
                } else {
                    (&self.server_q2, QoS::ExactlyOnce)
                };
                if !set.contains(&pid) {
                    self.fail(
                        ops,
                        format!("{name} {pid} without a {qos:?} PUBLISH {pid} fed"),
                    );
                }
                if let Some(t) = self.awaiting_app.get(&(pid, qos)) {
                    self.fail(ops, format!("{name} {pid} before ack({t:?})"));
                }
            }
            Packet::PubRel(a) => {
                let pid = a.packet_id.get();
                if !self.server_pubrec.contains(&pid) {
                    self.fail(ops, format!("PUBREL {pid} without a PUBREC {pid} fed"));
                }
                if let Some(u) = self.ids.get(&pid)
                    && u.kind == IdKind::Pub2
                    && let Some(t) = u.token
                    && let Some(pt) = self.pubs.get_mut(&t)
                {
                    pt.rel_sent = true;
                }
            }
            Packet::PubComp(a) => {
                let pid = a.packet_id.get();
                if !self.server_pubrel.contains(&pid) {
                    self.fail(ops, format!("PUBCOMP {pid} without a PUBREL {pid} fed"));
                }
            }
            Packet::Subscribe(s) => {
                let count = s.filters.len();
                self.client_id_use(s.packet_id.get(), IdKind::Sub, raw, count, conn_id, ops)
            }
            Packet::Unsubscribe(u) => {
                let count = u.filters.len();
                self.client_id_use(u.packet_id.get(), IdKind::Unsub, raw, count, conn_id, ops)
            }
            Packet::PingReq => {
                let ka = limits.and_then(|l| l.keep_alive).unwrap_or(self.keep_alive);
                if ka == 0 {
                    self.fail(ops, "PINGREQ with keepalive off");
                }
            }
            Packet::Disconnect(_) => {
                if let Some(c) = &mut self.conn {
                    c.sent_disconnect = true;
                }
            }
            Packet::Auth(_) => {
                if !(v5 && self.auth) {
                    self.fail(ops, "AUTH sent without an authentication method");
                }
            }
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                self.fail(ops, format!("the client sent a server packet {name}"))
            }
        }
    }

    fn client_publish(
        &mut self,
        x: &Publish<'_>,
        conn_id: u32,
        limits: Option<Limits>,
        ops: &[Op],
    ) {
        let Some(l) = limits else {
            self.fail(ops, "PUBLISH before CONNACK");
        };
        let qos = x.qos.qos();
        if qos > l.max_qos {
            self.fail(
                ops,
                format!("PUBLISH at {qos:?} over Maximum QoS {:?}", l.max_qos),
            );
        }
        if x.retain && !l.retain_available {
            self.fail(ops, "PUBLISH with RETAIN when Retain Available is false");
        }
        // Topic alias (5.0).
        let topic = match x.properties.topic_alias() {
            Some(a) => {
                let max = l.topic_alias_maximum.min(self.send_alias_max);
                if a == 0 || a > max {
                    self.fail(ops, format!("topic alias {a} over the maximum {max}"));
                }
                let conn = self.conn.as_mut().expect("connected");
                if x.topic.is_empty() {
                    match conn.client_aliases.get(&a) {
                        Some(t) => t.clone(),
                        None => self.fail(ops, format!("topic alias {a} used before bound")),
                    }
                } else {
                    conn.client_aliases.insert(a, x.topic.to_string());
                    x.topic.to_string()
                }
            }
            None => {
                if x.topic.is_empty() {
                    self.fail(ops, "PUBLISH with an empty topic and no alias");
                }
                x.topic.to_string()
            }
        };
        let Some(marker) = x.payload.get(..4) else {
            self.fail(ops, "PUBLISH without the driver's payload marker");
        };
        let serial = u32::from_be_bytes(marker.try_into().expect("4 bytes"));
        let Some(want) = self.publishes.get_mut(&serial) else {
            self.fail(ops, format!("PUBLISH with unknown marker {serial}"));
        };
        if want.topic != topic
            || want.qos != qos
            || want.retain != x.retain
            || want.payload != x.payload
        {
            let want = format!("{:?} {:?} retain {}", want.topic, want.qos, want.retain);
            self.fail(
                ops,
                format!(
                    "PUBLISH {topic:?} {qos:?} retain {} is not what was published: {want}",
                    x.retain
                ),
            );
        }
        let first_send = !want.sent;
        want.sent = true;
        let Some(pid) = x.qos.packet_id().map(|id| id.get()) else {
            if !first_send {
                self.fail(ops, format!("QoS 0 publish {serial} sent twice"));
            }
            return;
        };
        let token = want.token.expect("QoS 1/2 publishes have a token");
        let epoch = self.epoch;
        let track = self.pubs.entry(token).or_default();
        let track_copy = *track;
        if track_copy.last_conn == Some(conn_id) {
            self.fail(
                ops,
                format!("PUBLISH {pid} ({token:?}) sent twice on one connection"),
            );
        }
        if track_copy.rel_sent {
            self.fail(
                ops,
                format!("PUBLISH {pid} ({token:?}) sent again after its PUBREL"),
            );
        }
        if let Some(old) = track_copy.pid
            && old != pid
        {
            self.fail(
                ops,
                format!("{token:?} resent with id {pid}, first sent as {old}"),
            );
        }
        let resend = track_copy.sent_epoch == Some(epoch);
        if x.dup != resend {
            self.fail(
                ops,
                format!(
                    "PUBLISH {pid} ({token:?}) with DUP {} on a {}",
                    x.dup,
                    if resend {
                        "resend"
                    } else {
                        "first send in this session"
                    }
                ),
            );
        }
        track.pid = Some(pid);
        track.sent_epoch = Some(epoch);
        track.last_conn = Some(conn_id);
        let kind = if qos == QoS::AtLeastOnce {
            IdKind::Pub1
        } else {
            IdKind::Pub2
        };
        let what = format!("PUBLISH {pid} ({token:?})");
        match self.ids.get(&pid) {
            Some(u) if !u.freed && u.token != Some(token) => {
                self.suspects.push(Suspect {
                    pid,
                    old: u.clone(),
                    what,
                });
            }
            _ => {}
        }
        self.ids.insert(
            pid,
            IdUse {
                kind,
                token: Some(token),
                sig: Vec::new(),
                count: 0,
                conn: conn_id,
                freed: false,
                lost_gen: self.nonpub_lost,
            },
        );
    }

    fn client_id_use(
        &mut self,
        pid: u16,
        kind: IdKind,
        raw: &[u8],
        count: usize,
        conn_id: u32,
        ops: &[Op],
    ) {
        // The packet with its id zeroed: a resend is the same packet.
        let mut sig = raw.to_vec();
        let header = 1 + mqtt_proto::varint::decode(&raw[1..])
            .ok()
            .flatten()
            .map_or(1, |(_, n)| n);
        if let Some(id) = sig.get_mut(header..header + 2) {
            id.fill(0);
        }
        match self.ids.get(&pid) {
            Some(u) if !u.freed => {
                let resend = u.kind == kind && u.sig == sig && u.conn != conn_id;
                if !resend {
                    self.suspects.push(Suspect {
                        pid,
                        old: u.clone(),
                        what: format!("{kind:?} {pid} on connection {conn_id}"),
                    });
                }
            }
            _ => {}
        }
        let _ = ops;
        self.ids.insert(
            pid,
            IdUse {
                kind,
                token: None,
                sig,
                count,
                conn: conn_id,
                freed: false,
                lost_gen: self.nonpub_lost,
            },
        );
    }

    // ----- after each step ----------------------------------------------------------------

    fn check_getters(&mut self, ops: &[Op]) {
        let inflight = usize::from(self.s.inflight_publishes());
        if inflight > OUT {
            self.fail(ops, format!("inflight_publishes {inflight} > OUT {OUT}"));
        }
        match self.rm_bound {
            Some(b) if inflight > b => self.fail(
                ops,
                format!("inflight_publishes {inflight} over the server's Receive Maximum ({b})"),
            ),
            None if inflight > 0 => self.fail(
                ops,
                format!("inflight_publishes {inflight} before any CONNACK"),
            ),
            _ => {}
        }
        let outstanding = self.s.outstanding();
        if outstanding > OUT {
            self.fail(ops, format!("outstanding {outstanding} > OUT {OUT}"));
        }
        // Receive Maximum bounds what the server sends on one connection (QoS 2 exchanges
        // carried over a reconnect do not count, 5.0 §4.9), and 3.1.1 announces none: the
        // table's capacity is the bound that always holds. The per-connection limit is
        // checked by the script tests (script_limits.rs) and the hostile suite.
        let incoming = self.s.incoming_pending();
        if incoming > IN {
            self.fail(
                ops,
                format!("incoming_pending {incoming} over the table's capacity {IN}"),
            );
        }
        let state = self.s.state();
        if matches!(
            state,
            ConnState::AwaitConnAck | ConnState::Connected | ConnState::Closing
        ) && self.conn.is_none()
        {
            self.fail(ops, format!("state {state:?} without a transport"));
        }
        // The timer table matches the state: a deadline while connecting, waiting or
        // keeping alive, none when idle.
        let deadline = self.s.poll_timeout().map(|t| t.as_millis());
        let bound = match state {
            ConnState::Idle => {
                if let Some(t) = deadline {
                    self.fail(ops, format!("Idle with a deadline at {t}"));
                }
                return;
            }
            ConnState::Opening | ConnState::AwaitConnAck => Some(self.connect_timeout),
            ConnState::Waiting => Some(30_000),
            ConnState::Connected => {
                let ka = self
                    .conn
                    .as_ref()
                    .and_then(|c| c.limits)
                    .and_then(|l| l.keep_alive)
                    .unwrap_or(self.keep_alive);
                (ka > 0).then(|| (u64::from(ka) * 1000).max(self.ping_timeout))
            }
            ConnState::Closing => None,
        };
        if let Some(b) = bound
            && deadline.is_none_or(|t| t > self.now + b)
        {
            self.fail(
                ops,
                format!("{state:?} with deadline {deadline:?}, expected one within {b} ms"),
            );
        }
    }

    fn end_of_op(&mut self, ops: &[Op]) {
        // Remembered subscriptions: only filters that were subscribed, each once; routing
        // agrees with topic matching.
        let mut filters: Vec<String> = Vec::new();
        self.s
            .for_each_subscription(&mut |f, _, _| filters.push(f.to_owned()));
        for f in &filters {
            if !FILTERS.contains(&f.as_str()) || f.is_empty() {
                self.fail(ops, format!("remembered filter {f:?} was never subscribed"));
            }
        }
        let mut unique = filters.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != filters.len() {
            self.fail(ops, format!("a filter remembered twice: {filters:?}"));
        }
        for topic in ["a/b", "a/b/c", "$SYS/up"] {
            let mut routed = 0;
            self.s.for_each_match(topic, &mut |f, _, _| {
                assert!(mqtt_proto::topic::matches(f, topic), "{f} routes {topic}");
                routed += 1;
            });
            let expected = filters
                .iter()
                .filter(|f| mqtt_proto::topic::matches(f, topic))
                .count();
            if routed != expected {
                self.fail(
                    ops,
                    format!("{topic:?} routed to {routed} filters, {expected} match"),
                );
            }
        }

        // Every returned token not yet reported is outstanding; reported ones are not.
        let mut live = HashSet::new();
        self.s.for_each_outstanding(&mut |t| {
            live.insert(t);
        });
        for (&t, &k) in &self.tokens {
            let op = matches!(k, Kind::Subscribe(_) | Kind::Unsubscribe(_))
                || matches!(k, Kind::Publish(q) if q != QoS::AtMostOnce);
            if !op {
                continue;
            }
            let reported = self.reported.contains_key(&t);
            if reported == live.contains(&t) {
                self.fail(
                    ops,
                    format!(
                        "{t:?} ({k:?}) {} and {} outstanding",
                        if reported { "reported" } else { "not reported" },
                        if reported { "still" } else { "not" }
                    ),
                );
            }
        }
        for t in &live {
            if self.reported.contains_key(t) {
                self.fail(ops, format!("{t:?} outstanding after it was reported"));
            }
        }
        // Ids reused while in flight, unless the old user was reported lost meanwhile.
        for s in std::mem::take(&mut self.suspects) {
            let released = match s.old.token {
                Some(t) => self.reported.contains_key(&t),
                None => self.nonpub_lost > s.old.lost_gen,
            };
            if !released {
                self.fail(
                    ops,
                    format!(
                        "packet id {} reused by {} while in flight for {:?} {:?} (sent on \
                         connection {})",
                        s.pid, s.what, s.old.kind, s.old.token, s.old.conn
                    ),
                );
            }
        }
    }
}

fn encode(p: Packet<'_>, v: ProtocolVersion) -> Option<Vec<u8>> {
    let len = p.encoded_len(v).ok()?;
    let mut buf = vec![0u8; len];
    p.encode(v, &mut buf).ok()?;
    Some(buf)
}

// ----- seeds --------------------------------------------------------------------------------

/// The hand-built seed inputs of `fuzz/seeds/session/` (written by `fuzz/gen-seeds.sh`):
/// connect, CONNACK, publishes at QoS 1 and 2 with their acks, subscribe and unsubscribe,
/// server messages, keepalive, a session resumed after a transport loss, manual acks with
/// topic aliases, enhanced authentication, flow control through a one-byte transmit
/// buffer, and a keepalive timeout followed by a refused reconnect.
pub fn seed_inputs() -> Vec<(&'static str, Vec<u8>)> {
    use Op::*;
    let v5 = Setup {
        flags: 1,
        keep_alive: 30,
        aliases: 0x44,
        ..Setup::default()
    };
    let ok_connack = |flags: u8, props: u8, rm: u8| ConnAck {
        flags,
        code: 0,
        props,
        rm,
        mps: 0,
        feed: 0,
    };
    let to_deadline = Advance { mode: 3, amount: 0 };
    let ack = |kind: u8, pid: u8| ServerAck {
        kind,
        pid,
        code: 0,
        feed: 0,
    };
    let publish = |qos: u8, topic: u8| Publish {
        qos,
        topic,
        len: 6,
        flags: 0,
    };
    let server_publish = |flags: u8, pid: u8, topic: u8, alias: u8, feed: u8| ServerPublish {
        flags,
        pid,
        topic,
        alias,
        len: 5,
        feed,
    };
    let mut seeds = Vec::new();

    // 5.0: the whole happy path on one connection.
    seeds.push((
        "01-v5-publish-subscribe",
        encode_input(
            &v5,
            &[
                Connect,
                TransportUp,
                // Receive Maximum 3, Topic Alias Maximum 4.
                ok_connack(0x40, 0x01 | 0x10, 2),
                publish(1, 1),
                publish(2, 1), // the second "a/b" goes out as its alias
                Subscribe {
                    filters: 0b11,
                    opts: 1,
                    props: 1 | (4 << 2),
                },
                ack(0, 0), // PUBACK for the QoS 1 publish
                ack(1, 0), // PUBREC for the QoS 2 one: PUBREL goes out
                ack(3, 0), // PUBCOMP
                SubAck {
                    pid: 0,
                    count: 0,
                    code: 0,
                    feed: 0,
                },
                server_publish(1, 1, 1, 0, 0),
                server_publish(2, 2, 0, 1, 0x03), // QoS 2, three bytes at a time
                ack(2, 0),                        // PUBREL: PUBCOMP goes out
                Unsubscribe {
                    filters: 1,
                    props: 0,
                },
                UnsubAck {
                    pid: 0,
                    count: 0,
                    code: 0,
                    feed: 0,
                },
                to_deadline.clone(), // keepalive: PINGREQ
                PingResp { feed: 0 },
                Disconnect,
                TransportDown,
            ],
        ),
    ));

    // 3.1.1, persistent session: in-flight operations resume after a transport loss.
    let v311 = Setup {
        flags: 0b100,
        keep_alive: 10,
        ..Setup::default()
    };
    seeds.push((
        "02-v311-resume-session",
        encode_input(
            &v311,
            &[
                Connect,
                TransportUp,
                ok_connack(0, 0, 0),
                publish(1, 0),
                publish(2, 2),
                Subscribe {
                    filters: 0b100,
                    opts: 2,
                    props: 0,
                },
                ack(1, 0), // PUBREC: the QoS 2 publish now waits for PUBCOMP
                TransportDown,
                to_deadline.clone(), // reconnect backoff: OpenTransport
                TransportUp,
                ok_connack(1, 0, 0), // session present: PUBLISH DUP, PUBREL, SUBSCRIBE again
                ack(0, 0),
                ack(3, 0),
                SubAck {
                    pid: 0,
                    count: 0,
                    code: 0,
                    feed: 0,
                },
                server_publish(2, 7, 2, 0, 0),
                publish(1, 3),
                TransportDown,
                to_deadline.clone(),
                TransportUp,
                ok_connack(0, 0, 0), // session lost: the publish goes again as new
                ack(0, 0),
                to_deadline.clone(),
                PingResp { feed: 0 },
            ],
        ),
    ));

    // 5.0 manual acks and incoming topic aliases; acks leave in arrival order.
    seeds.push((
        "03-v5-manual-ack-aliases",
        encode_input(
            &Setup {
                flags: 1 | 2,
                aliases: 0x04,
                ..v5
            },
            &[
                Connect,
                TransportUp,
                ok_connack(0, 0, 0),
                server_publish(1, 1, 2, 2, 0), // QoS 1 on "a/b/c", binds alias 2
                server_publish(0x12, 2, 0, 2, 0), // QoS 2 by alias 2 only
                Ack { sel: 1 },                // held back behind the first
                Ack { sel: 0 },                // now PUBACK and PUBREC go out
                ack(2, 0),                     // PUBREL
                server_publish(1, 1, 3, 0, 0x21), // a tail held back ...
                Advance { mode: 0, amount: 5 },
                PingResp { feed: 0 }, // ... and completed by the next bytes
                Ack { sel: 2 },
                Ack { sel: 2 }, // a second ack of the same token is refused
            ],
        ),
    ));

    // 5.0 enhanced authentication before CONNACK, then re-authentication.
    seeds.push((
        "04-v5-auth",
        encode_input(
            &Setup {
                flags: 1 | 16,
                extras: 0x40,
                ..v5
            },
            &[
                Connect,
                TransportUp,
                ServerAuth {
                    code: 0,
                    len: 4,
                    feed: 0,
                },
                Auth { flags: 0, len: 8 },
                ok_connack(0, 0, 0),
                Auth { flags: 1, len: 8 },
                ServerAuth {
                    code: 1,
                    len: 0,
                    feed: 0,
                },
                Disconnect,
            ],
        ),
    ));

    // 5.0 flow control through a one-byte transmit buffer, then a peer fault.
    seeds.push((
        "05-v5-flow-control-small-buffer",
        encode_input(
            &Setup { misc: 0x01, ..v5 },
            &[
                Connect,
                TransportUp,
                ok_connack(0, 0x01, 0), // Receive Maximum 1
                publish(1, 0),
                publish(1, 1),
                publish(2, 2),
                ack(0, 0),
                ack(0, 0),
                ack(1, 0),
                SetChunk(3),
                ack(0, 0x85), // PUBACK for an id not in flight: DISCONNECT 0x82
                to_deadline.clone(),
                TransportUp,
                ok_connack(0, 0, 0),
                ack(1, 0),
                ack(3, 0),
            ],
        ),
    ));

    // 3.1.1 keepalive timeout, reconnect, refused CONNACK stops the session.
    seeds.push((
        "06-v311-keepalive-timeout-refused",
        encode_input(
            &Setup {
                keep_alive: 5,
                ..Setup::default()
            },
            &[
                Connect,
                TransportUp,
                ok_connack(0, 0, 0),
                to_deadline.clone(), // PINGREQ
                to_deadline.clone(), // no PINGRESP: connection lost
                to_deadline.clone(), // reconnect
                TransportUp,
                ConnAck {
                    flags: 0,
                    code: 0x84,
                    props: 0,
                    rm: 0,
                    mps: 0,
                    feed: 0,
                },
                Publish {
                    qos: 0,
                    topic: 0,
                    len: 1,
                    flags: 0,
                },
                Connect,
            ],
        ),
    ));
    seeds
}

//! [`Heap`] in-flight tables (the host adapters' choice): the same bounds as inline ones,
//! memory only while something is in flight, given back when the connection idles.
//! That they behave exactly like inline tables is checked by the simulation
//! (`tests/tests/simulation.rs`, `heap_and_inline_tables_run_identically`).
#![cfg(feature = "alloc")]

use mqtt_proto::{
    Ack, ConnAck, Decoded, Decoder, Packet, PacketId, ProtocolVersion, Publish, QoS, QosPid,
    ReasonCode, TopicName,
};
use mqtt_session::{Config, ConnState, Error, Heap, Instant, Key, Session, Store, VecStore};

/// The host adapters' session shape (adapters/transport `HostSession`).
type Host = Session<VecStore, Vec<u8>, 64, 64, Heap>;

/// Every version this build speaks (3.1.1 alone without `v5`), and the newest of them.
#[cfg(feature = "v5")]
const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];
#[cfg(not(feature = "v5"))]
const VERSIONS: [ProtocolVersion; 1] = [ProtocolVersion::V3_1_1];
#[cfg(feature = "v5")]
const NEWEST: ProtocolVersion = ProtocolVersion::V5;
#[cfg(not(feature = "v5"))]
const NEWEST: ProtocolVersion = ProtocolVersion::V3_1_1;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn drain(s: &mut Host, now: Instant) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        let mut progressed = false;
        while s.poll_event().is_some() {
            progressed = true;
        }
        let mut buf = [0u8; 8192];
        let n = s.poll_transmit(now, &mut buf).expect("buffer large enough");
        wire.extend_from_slice(&buf[..n]);
        if n == 0 && !progressed {
            return wire;
        }
    }
}

fn feed(s: &mut Host, now: Instant, v: ProtocolVersion, p: Packet<'_>) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = p.encode(v, &mut buf).expect("encodes");
    s.handle_input(now, &buf[..n]);
    drain(s, now)
}

fn packet_types(v: ProtocolVersion, wire: &[u8]) -> Vec<u8> {
    let d = Decoder::new(v);
    let mut rest = wire;
    let mut types = Vec::new();
    while !rest.is_empty() {
        let Ok(Decoded::Packet { consumed: used, .. }) = d.decode(rest) else {
            panic!("not whole packets: {rest:02x?}");
        };
        types.push(rest[0] >> 4);
        rest = &rest[used..];
    }
    types
}

fn connected(v: ProtocolVersion) -> Host {
    let mut c = Config::new("heap-tables");
    c.version = v;
    c.keep_alive = 10;
    let mut s = Host::new(&c, VecStore::new(1 << 20), vec![0; 4096]).unwrap();
    s.connect(at(0));
    drain(&mut s, at(0));
    s.handle_transport_up(at(0));
    let wire = drain(&mut s, at(0));
    assert_eq!(packet_types(v, &wire), [1], "CONNECT");
    feed(
        &mut s,
        at(0),
        v,
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: Default::default(),
        }),
    );
    assert_eq!(s.state(), ConnState::Connected);
    s
}

/// The protocol state of a host connection (the session struct; its tables sit on the
/// heap and are empty while idle) is under 1 KiB, with the same 64 + 64 bounds the inline
/// tables had in 2.9 KB.
#[test]
fn host_session_protocol_state_under_1_kib() {
    let size = core::mem::size_of::<Host>();
    println!("Session<VecStore, Vec<u8>, 64, 64, Heap>: {size} bytes");
    assert!(size <= 1024, "{size} bytes");
    let s = connected(NEWEST);
    assert_eq!(
        s.table_heap_bytes(),
        0,
        "a connection with nothing in flight"
    );
}

/// A burst grows the tables up to the same bound inline tables have (the 65th operation is
/// `Full`), a steady stream keeps the memory (no allocation per message), and the first
/// keepalive ping of the idle connection gives it back.
#[test]
fn heap_tables_bounded_kept_while_busy_released_when_idle() {
    for v in VERSIONS {
        let mut s = connected(v);
        let mut ids = Vec::new();
        for i in 0..64 {
            let t = s.publish(
                at(100),
                "t/burst",
                &[i as u8; 16],
                QoS::AtLeastOnce,
                false,
                &[],
            );
            assert!(matches!(t, Ok(Some(_))), "{v:?} publish {i}: {t:?}");
        }
        assert_eq!(
            s.publish(
                at(100),
                "t/burst",
                b"one too many",
                QoS::AtLeastOnce,
                false,
                &[]
            ),
            Err(Error::Full),
            "{v:?}: the heap outbox keeps the bound of 64"
        );
        let wire = drain(&mut s, at(100));
        let d = Decoder::new(v);
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let Ok(Decoded::Packet {
                packet: p,
                consumed: used,
            }) = d.decode(rest)
            else {
                panic!("not whole packets");
            };
            if let Packet::Publish(Publish {
                qos: QosPid::AtLeastOnce(id),
                ..
            }) = p
            {
                ids.push(id);
            }
            rest = &rest[used..];
        }
        assert_eq!(ids.len(), 64, "{v:?}");
        let grown = s.table_heap_bytes();
        assert!(grown > 0, "{v:?}: the burst is on the heap");
        let store_grown = s.store().heap_bytes();
        assert!(
            store_grown >= 64 * 16,
            "{v:?}: the store's arena holds the burst"
        );

        // The server sends a burst of QoS 2 messages: the inbox grows too.
        for i in 1..=20u16 {
            let out = feed(
                &mut s,
                at(200),
                v,
                Packet::Publish(Publish {
                    dup: false,
                    qos: QosPid::ExactlyOnce(PacketId::new(i).unwrap()),
                    retain: false,
                    topic: TopicName::from_static("t/in"),
                    properties: Default::default(),
                    payload: b"x",
                }),
            );
            assert_eq!(packet_types(v, &out), [5], "{v:?}: PUBREC");
        }
        assert!(s.table_heap_bytes() > grown, "{v:?}: the inbox grew");
        for i in 1..=20u16 {
            feed(&mut s, at(300), v, Packet::PubRel(ack(i)));
        }
        for id in ids {
            feed(&mut s, at(300), v, Packet::PubAck(ack(id.get())));
        }
        assert_eq!(s.outstanding(), 0);
        assert_eq!(s.incoming_pending(), 0);
        let busy = s.table_heap_bytes();
        assert!(busy > 0, "{v:?}: kept while the connection is busy");
        let store_busy = s.store().heap_bytes();
        assert_eq!(
            store_busy, store_grown,
            "{v:?}: the arena is kept while busy"
        );
        // Another message now reuses the memory.
        s.publish(at(400), "t/again", b"y", QoS::AtLeastOnce, false, &[])
            .unwrap();
        let wire = drain(&mut s, at(400));
        assert_eq!(
            s.table_heap_bytes(),
            busy,
            "{v:?}: no allocation per message"
        );
        assert_eq!(
            s.store().heap_bytes(),
            store_busy,
            "{v:?}: no store allocation per message"
        );
        let Ok(Decoded::Packet {
            packet:
                Packet::Publish(Publish {
                    qos: QosPid::AtLeastOnce(id),
                    ..
                }),
            ..
        }) = Decoder::new(v).decode(&wire)
        else {
            panic!("{v:?}: expected a QoS 1 PUBLISH");
        };
        feed(&mut s, at(500), v, Packet::PubAck(ack(id.get())));
        assert_eq!(s.state(), ConnState::Connected);

        // Idle: the keepalive timer (10 s after the last packet sent) sends PINGREQ.
        let due = s.poll_timeout().expect("keepalive deadline");
        assert!(due >= at(10_400), "{v:?}: {due:?} is the keepalive");
        s.handle_timeout(due);
        let wire = drain(&mut s, due);
        assert_eq!(packet_types(v, &wire), [12], "{v:?}: PINGREQ");
        assert_eq!(
            s.table_heap_bytes(),
            0,
            "{v:?}: an idle connection holds no table"
        );
        let connect_len = s.store().get(Key::Connect).unwrap().len();
        assert!(
            s.store().heap_bytes() <= connect_len + 64,
            "{v:?}: an idle store holds its records only: {} bytes for a {connect_len}-byte CONNECT",
            s.store().heap_bytes()
        );
        // And the tables work again after being given back.
        s.publish(due, "t/after", b"z", QoS::ExactlyOnce, false, &[])
            .unwrap();
        assert!(s.table_heap_bytes() > 0);
    }
}

fn ack(id: u16) -> Ack<'static> {
    Ack {
        packet_id: PacketId::new(id).unwrap(),
        reason_code: ReasonCode::Success,
        properties: Default::default(),
    }
}

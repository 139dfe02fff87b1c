//! Script tests of the session's edges: output buffers that are too small, 5.0 enhanced
//! authentication, and a session restored from its store after a process restart.
//!
//! Each test names the normative statement it covers; the ID is in its doc comment.

mod common;

use std::collections::BTreeMap;

use common::*;
use mqtt_session::{Key, Store, StoreFull};

// ----- output buffers ----------------------------------------------------------------------

/// An output buffer too small for the next packet is `Err(required)` naming its size, and
/// nothing is lost: with a buffer of that size the same packet goes out whole.
fn undersized_output_buffer_names_the_size(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.s.handle_transport_up(t.now);
    let connect = default_connect_bytes(v);
    assert_eq!(t.s.poll_transmit(t.now, &mut [0u8; 8]), Err(connect.len()));
    let mut buf = vec![0u8; connect.len()];
    assert_eq!(t.s.poll_transmit(t.now, &mut buf), Ok(connect.len()));
    assert_eq!(buf, connect);
    t.drain();
    t.accept(false, &[]);

    let payload = [9u8; 100];
    let tok =
        t.s.publish(t.now, "big/one", &payload, QoS::AtLeastOnce, false, &[])
            .unwrap()
            .unwrap();
    let expected = encode_all(v, &[publish("big/one", &payload, 1, 1)]);
    assert_eq!(
        t.s.poll_transmit(t.now, &mut [0u8; 50]),
        Err(expected.len())
    );
    assert_eq!(
        t.s.poll_transmit(t.now, &mut [0u8; 50]),
        Err(expected.len())
    );
    let mut buf = vec![0u8; expected.len()];
    assert_eq!(t.s.poll_transmit(t.now, &mut buf), Ok(expected.len()));
    assert_eq!(buf, expected);
    t.drain();
    t.expect_idle();
    t.server(puback(1));
    t.expect_events(&[Ev::published(tok)]);
}

#[test]
fn undersized_output_buffer_names_the_size_v311() {
    undersized_output_buffer_names_the_size(V311);
}

#[cfg(feature = "v5")]
#[test]
fn undersized_output_buffer_names_the_size_v5() {
    undersized_output_buffer_names_the_size(V5);
}

/// Acks and pings are a byte stream: taken a byte at a time they arrive whole and in
/// order.
fn control_bytes_may_be_taken_a_byte_at_a_time(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let input = encode_all(
        v,
        &[
            publish("in", b"", 1, 3),
            publish("in", b"", 2, 4),
            pubrel(4),
        ],
    );
    t.s.handle_input(t.now, &input);
    let mut events = 0;
    while t.s.poll_event().is_some() {
        events += 1;
    }
    assert_eq!(events, 2);
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    for _ in 0..100 {
        while t.s.poll_event().is_some() {}
        match t.s.poll_transmit(t.now, &mut byte) {
            Ok(1) => got.push(byte[0]),
            Ok(0) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        decode_stream(v, &got),
        [puback(3), pubrec(4), pubcomp(4)],
        "{got:02x?}"
    );
}

#[test]
fn control_bytes_may_be_taken_a_byte_at_a_time_v311() {
    control_bytes_may_be_taken_a_byte_at_a_time(V311);
}

#[cfg(feature = "v5")]
#[test]
fn control_bytes_may_be_taken_a_byte_at_a_time_v5() {
    control_bytes_may_be_taken_a_byte_at_a_time(V5);
}

// ----- enhanced authentication (5.0) --------------------------------------------------------

#[cfg(feature = "v5")]
fn auth_pkt<'a>(rc: ReasonCode, props: &'a [Property<'a>]) -> Packet<'a> {
    Packet::Auth(mqtt_proto::Auth {
        reason_code: rc,
        properties: Properties::new(props),
    })
}

#[cfg(feature = "v5")]
fn auth_cfg() -> Config<'static> {
    let mut c = cfg(V5);
    c.authentication_method = Some("SCRAM-SHA-1");
    c.authentication_data = Some(b"client-first");
    c
}

/// [MQTT-3.1.2-30] [MQTT-4.12.0-3] [MQTT-4.12.0-5] With an Authentication Method: it and
/// the initial data go in CONNECT; before CONNACK only AUTH goes out (queued publishes
/// wait); a server challenge is shown as `Event::Auth` and answered with AUTH 0x18
/// carrying the same method.
#[cfg(feature = "v5")]
#[test]
fn enhanced_authentication_exchange_v5() {
    let mut t = Script::new(&auth_cfg());
    let tok = t.publish("a", b"1", QoS::AtLeastOnce).unwrap();
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.transport_up();
    t.with_sent(|p| match p {
        [Packet::Connect(c)] => {
            assert_eq!(c.properties.authentication_method(), Some("SCRAM-SHA-1"));
            assert_eq!(
                c.properties.authentication_data(),
                Some(&b"client-first"[..])
            );
        }
        other => panic!("{other:#?}"),
    });
    t.server(auth_pkt(
        ReasonCode::ContinueAuthentication,
        &[
            Property::AuthenticationMethod("SCRAM-SHA-1"),
            Property::AuthenticationData(b"server-first"),
        ],
    ));
    t.expect_events(&[Ev::Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        data: b"server-first".to_vec(),
    }]);
    t.expect_nothing_sent();
    t.s.auth(t.now, b"client-final").unwrap();
    t.drain();
    t.expect_sent(&[auth_pkt(
        ReasonCode::ContinueAuthentication,
        &[
            Property::AuthenticationMethod("SCRAM-SHA-1"),
            Property::AuthenticationData(b"client-final"),
        ],
    )]);
    t.advance(1_000);
    t.expect_idle();
    t.accept(false, &[Property::AuthenticationMethod("SCRAM-SHA-1")]);
    t.expect_sent(&[publish("a", b"1", 1, 1)]);
    t.server(puback(1));
    t.expect_events(&[Ev::published(tok)]);
}

/// [MQTT-4.12.1-1] Re-authentication only once connected: AUTH 0x19 with the same method;
/// the server's AUTH Success is shown. [MQTT-3.15.2-2] [MQTT-3.15.2-3] The AUTH packets
/// the client sends (here and in `enhanced_authentication_exchange_v5`) carry exactly the
/// method and the data: no Reason String and no User Property, so neither can outgrow the
/// server's Maximum Packet Size.
#[cfg(feature = "v5")]
#[test]
fn reauthentication_after_connack_v5() {
    let mut t = Script::new(&auth_cfg());
    t.connect();
    t.transport_up();
    t.take_sent();
    t.take_events();
    assert_eq!(t.s.reauthenticate(t.now, b"x"), Err(Error::NotConnected));
    t.drain();
    t.expect_idle();
    t.accept(false, &[]);
    t.s.reauthenticate(t.now, b"again").unwrap();
    t.drain();
    t.expect_sent(&[auth_pkt(
        ReasonCode::ReAuthenticate,
        &[
            Property::AuthenticationMethod("SCRAM-SHA-1"),
            Property::AuthenticationData(b"again"),
        ],
    )]);
    t.server(auth_pkt(
        ReasonCode::Success,
        &[Property::AuthenticationMethod("SCRAM-SHA-1")],
    ));
    t.expect_events(&[Ev::Auth {
        reason_code: ReasonCode::Success,
        data: Vec::new(),
    }]);
    assert_eq!(t.s.state(), ConnState::Connected);
}

/// [MQTT-4.12.0-7] Without an Authentication Method the client never sends AUTH.
#[cfg(feature = "v5")]
#[test]
fn no_auth_without_method_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    assert_eq!(t.s.auth(t.now, b"x"), Err(Error::NoAuthMethod));
    assert_eq!(t.s.reauthenticate(t.now, b"x"), Err(Error::NoAuthMethod));
    t.drain();
    t.expect_idle();
}

/// [MQTT-4.12.1-2] A failed re-authentication: the server's DISCONNECT ends the
/// connection.
#[cfg(feature = "v5")]
#[test]
fn failed_reauthentication_closes_v5() {
    let mut t = Script::new(&auth_cfg());
    t.connect();
    t.transport_up();
    t.take_sent();
    t.take_events();
    t.accept(false, &[]);
    t.s.reauthenticate(t.now, b"again").unwrap();
    t.drain();
    t.take_sent();
    t.server(disconnect_pkt(ReasonCode::NotAuthorized));
    t.expect_nothing_sent();
    let events = t.take_events();
    assert!(
        events.contains(&Ev::ConnectionLost(ConnectionError::ServerDisconnect(
            ReasonCode::NotAuthorized
        ))),
        "{events:?}"
    );
    assert!(events.contains(&Ev::CloseTransport));
    assert_ne!(t.s.state(), ConnState::Connected);
}

// ----- restore after a restart ---------------------------------------------------------------

/// A store that survives a "process restart": a plain map, cloned as a snapshot.
#[derive(Clone, Debug, Default)]
struct MapStore(BTreeMap<Key, Vec<u8>>);

impl Store for MapStore {
    fn put_with(
        &mut self,
        key: Key,
        len: usize,
        write: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), StoreFull> {
        let mut v = vec![0; len];
        write(&mut v);
        self.0.insert(key, v);
        Ok(())
    }
    fn get(&self, key: Key) -> Option<&[u8]> {
        self.0.get(&key).map(Vec::as_slice)
    }
    fn remove(&mut self, key: Key) {
        self.0.remove(&key);
    }
    fn rename(&mut self, from: Key, to: Key) {
        if from != to
            && let Some(v) = self.0.remove(&from)
        {
            self.0.insert(to, v);
        }
    }
    fn for_each_key(&self, f: &mut dyn FnMut(Key)) {
        self.0.keys().for_each(|k| f(*k));
    }
    fn has_room(&self, _: usize) -> bool {
        true
    }
}

fn outstanding_tokens<S: Store>(t: &Script<S>) -> Vec<Token> {
    let mut v = Vec::new();
    t.s.for_each_outstanding(&mut |tok| v.push(tok));
    v
}

/// [MQTT-4.1.0-1] [MQTT-4.4.0-1] [MQTT-4.6.0-1] Session state survives a restart through
/// the store: the rebuilt session resumes with Clean Start 0, resends the unacknowledged
/// PUBLISH (DUP) and the pending PUBREL in order, sends what was queued, keeps the
/// incoming QoS 2 state (no second delivery, PUBCOMP for its PUBREL), and reports every
/// restored operation once.
fn restored_session_resumes(v: ProtocolVersion) {
    let c = persistent_cfg(v);
    let mut a = Script::with_store(&c, MapStore::default());
    a.establish();
    a.publish("r/1", b"1", QoS::AtLeastOnce);
    a.publish("r/2", b"2", QoS::ExactlyOnce);
    a.take_sent();
    a.server(pubrec(2));
    a.expect_sent(&[pubrel(2)]);
    a.server(publish("in", b"x", 2, 5));
    a.expect_sent(&[pubrec(5)]);
    a.take_events();
    a.drop_transport();
    a.publish("r/3", b"3", QoS::AtLeastOnce);

    let (mut b, restored) = Script::restored(&c, a.s.store().clone());
    assert_eq!(restored, 3);
    let tokens = outstanding_tokens(&b);
    assert_eq!(tokens.len(), 3);
    let (clean, _) = b.open();
    assert!(!clean, "the restored session is resumed");
    b.accept(true, &[]);
    b.with_sent(|p| match p {
        [Packet::Publish(p1), rel, Packet::Publish(p3)] => {
            assert_eq!(
                *p1,
                Publish {
                    dup: true,
                    ..publish_of("r/1", b"1", 1)
                }
            );
            assert_eq!(*rel, pubrel(2));
            assert_eq!(Publish { dup: false, ..*p3 }, publish_of("r/3", b"3", 3));
        }
        other => panic!("resend after restore: {other:#?}"),
    });
    b.server(publish_pkt(true, 2, 5, false, "in", &[], b"x"));
    b.expect_no_events();
    b.expect_sent(&[pubrec(5)]);
    b.server(pubrel(5));
    b.expect_sent(&[pubcomp(5)]);
    b.server_all(&[puback(1), pubcomp(2), puback(3)]);
    let mut reported: Vec<Token> = b
        .take_events()
        .iter()
        .filter_map(Ev::completion_token)
        .collect();
    reported.sort();
    let mut expected = tokens;
    expected.sort();
    assert_eq!(reported, expected);
    assert_eq!(b.s.outstanding(), 0);
}

fn publish_of(topic: &'static str, payload: &'static [u8], id: u16) -> Publish<'static> {
    match publish(topic, payload, 1, id) {
        Packet::Publish(p) => p,
        _ => unreachable!(),
    }
}

#[test]
fn restored_session_resumes_v311() {
    restored_session_resumes(V311);
}

#[cfg(feature = "v5")]
#[test]
fn restored_session_resumes_v5() {
    restored_session_resumes(V5);
}

/// A restored SUBSCRIBE whose SUBACK refuses one filter forgets that filter, and only it.
fn restored_subscribe_refusal_forgets_the_right_filter(v: ProtocolVersion) {
    let c = persistent_cfg(v);
    let mut a = Script::with_store(&c, MapStore::default());
    a.establish();
    a.subscribe(&[sub("x", QoS::AtLeastOnce), sub("y", QoS::AtLeastOnce)]);
    a.take_sent();
    a.drop_transport();
    let (mut b, restored) = Script::restored(&c, a.s.store().clone());
    assert_eq!(restored, 1);
    b.open();
    b.accept(true, &[]);
    let id = b.with_sent(|p| match p {
        [Packet::Subscribe(s)] => s.packet_id.get(),
        other => panic!("{other:#?}"),
    });
    b.server(suback(
        id,
        &[ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
    ));
    b.take_events();
    let mut remembered = Vec::new();
    b.s.for_each_subscription(&mut |f, _, _| remembered.push(f.to_owned()));
    assert_eq!(remembered, ["x"]);
}

#[test]
fn restored_subscribe_refusal_forgets_the_right_filter_v311() {
    restored_subscribe_refusal_forgets_the_right_filter(V311);
}

#[cfg(feature = "v5")]
#[test]
fn restored_subscribe_refusal_forgets_the_right_filter_v5() {
    restored_subscribe_refusal_forgets_the_right_filter(V5);
}

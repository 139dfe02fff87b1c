//! Script tests of the connection lifecycle: CONNECT/CONNACK, keepalive, timeouts,
//! reconnect backoff, refusals, DISCONNECT in both directions.
//!
//! Each test names the normative statement it covers; the ID is in its doc comment.

mod common;
use common::*;

// ----- CONNECT first -------------------------------------------------------------------

/// [MQTT-3.1.0-1] The first packet on a new connection is CONNECT: operations queued
/// before connecting, and time passing while waiting for CONNACK, send nothing else.
fn first_packet_is_connect(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.publish("a/b", b"1", QoS::AtLeastOnce);
    t.unsubscribe(&["s/#"]);
    t.expect_idle();
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.advance(100);
    t.expect_idle();
    t.transport_up();
    t.expect_sent_bytes(&default_connect_bytes(v));
    t.expect_no_events();
    t.advance(1000);
    t.expect_idle();
    t.accept(false, &[]);
    t.expect_no_events();
    t.expect_sent(&[publish("a/b", b"1", 1, 1), unsubscribe_pkt(2, &["s/#"])]);
}

#[test]
fn first_packet_is_connect_v311() {
    first_packet_is_connect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn first_packet_is_connect_v5() {
    first_packet_is_connect(V5);
}

/// [MQTT-3.1.0-1] The same on every reconnect.
fn first_packet_is_connect_on_reconnect(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.drop_transport();
    t.publish("a/b", b"1", QoS::AtLeastOnce);
    let (clean, id) = t.reconnect();
    assert!(clean);
    assert_eq!(id, "client-1");
    t.advance(500);
    t.expect_idle();
    t.accept(false, &[]);
    t.expect_sent(&[publish("a/b", b"1", 1, 1)]);
}

#[test]
fn first_packet_is_connect_on_reconnect_v311() {
    first_packet_is_connect_on_reconnect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn first_packet_is_connect_on_reconnect_v5() {
    first_packet_is_connect_on_reconnect(V5);
}

// ----- CONNACK first, once -------------------------------------------------------------

/// [MQTT-3.2.0-1] Anything but CONNACK as the server's first packet is a protocol
/// violation: the connection ends, nothing is delivered, a reconnect is scheduled.
fn nothing_but_connack_accepted_first(v: ProtocolVersion) {
    let codes = [ReasonCode::Success];
    let mut first: Vec<Packet<'_>> = vec![
        Packet::PingResp,
        publish("a/b", b"x", 0, 0),
        publish("a/b", b"x", 1, 1),
        puback(1),
        suback(1, &codes),
    ];
    if v.is_v5() {
        // [MQTT-3.14.0-1] not even DISCONNECT before CONNACK.
        first.push(disconnect_pkt(ReasonCode::ServerShuttingDown));
    }
    for p in first {
        let mut t = Script::new(&cfg(v));
        t.open();
        t.server(p);
        expect_nothing_or_disconnect(&mut t, ReasonCode::ProtocolError);
        let events = t.take_events();
        expect_lost_then_reconnect(
            &events,
            ConnectionError::ProtocolViolation {
                reason_code: ReasonCode::ProtocolError,
                fault: PeerFault::PacketBeforeConnAck(p.packet_type()),
            },
            true,
            t.now,
            1,
        );
        assert_eq!(t.s.state(), ConnState::Waiting, "after {p:?}");
    }
}

#[test]
fn nothing_but_connack_accepted_first_v311() {
    nothing_but_connack_accepted_first(V311);
}

#[cfg(feature = "v5")]
#[test]
fn nothing_but_connack_accepted_first_v5() {
    nothing_but_connack_accepted_first(V5);
}

/// [MQTT-3.2.0-2] A second CONNACK is a protocol violation (5.0: DISCONNECT 0x82).
fn second_connack_is_protocol_error(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.server(connack(false, ReasonCode::Success, &[]));
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::SecondConnAck,
        1,
    );
}

#[test]
fn second_connack_is_protocol_error_v311() {
    second_connack_is_protocol_error(V311);
}

#[cfg(feature = "v5")]
#[test]
fn second_connack_is_protocol_error_v5() {
    second_connack_is_protocol_error(V5);
}

/// [MQTT-3.2.2-4] Session Present = 1 when the client has no session (it sent Clean
/// Start): the client closes the connection, and tries again with Clean Start.
fn session_present_without_state_closes(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    let (clean, _) = t.open();
    assert!(clean);
    t.server(connack(true, ReasonCode::Success, &[]));
    expect_nothing_or_disconnect(&mut t, ReasonCode::ProtocolError);
    let events = t.take_events();
    assert!(!events.iter().any(|e| matches!(e, Ev::Connected { .. })));
    expect_lost_then_reconnect(
        &events,
        ConnectionError::ProtocolViolation {
            reason_code: ReasonCode::ProtocolError,
            fault: PeerFault::UnexpectedSessionPresent,
        },
        true,
        t.now,
        1,
    );
    let (clean, _) = t.reconnect();
    assert!(clean, "still no session: Clean Start again");
}

#[test]
fn session_present_without_state_closes_v311() {
    session_present_without_state_closes(V311);
}

#[cfg(feature = "v5")]
#[test]
fn session_present_without_state_closes_v5() {
    session_present_without_state_closes(V5);
}

// ----- keepalive -------------------------------------------------------------------------

/// [MQTT-3.1.2-23] (3.1.1) [MQTT-3.1.2-20] (5.0) Idle for Keep Alive: PINGREQ, exactly on
/// time; the next one a Keep Alive after the last.
fn keepalive_pingreq_when_idle(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.expect_quiet_until(ms(30_000));
    t.advance_to(ms(30_000));
    t.expect_sent_bytes(&[0xc0, 0x00]);
    t.expect_no_events();
    // Waiting for PINGRESP.
    t.expect_quiet_until(ms(40_000));
    t.server(Packet::PingResp);
    t.expect_idle();
    t.expect_quiet_until(ms(60_000));
    t.advance_to(ms(60_000));
    t.expect_sent_bytes(&[0xc0, 0x00]);
}

#[test]
fn keepalive_pingreq_when_idle_v311() {
    keepalive_pingreq_when_idle(V311);
}

#[cfg(feature = "v5")]
#[test]
fn keepalive_pingreq_when_idle_v5() {
    keepalive_pingreq_when_idle(V5);
}

/// [MQTT-3.1.2-23] (3.1.1) [MQTT-3.1.2-20] (5.0) Whatever the traffic, the gap between
/// two packets the client sends never exceeds Keep Alive, and the client never pings
/// early while it is sending anyway.
fn keepalive_gap_between_sends_never_exceeds_keepalive(v: ProtocolVersion) {
    let keep_alive = 30_000;
    let mut t = Script::new(&cfg(v));
    t.establish();
    let mut last_send = t.now;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut pings = 0;
    for _ in 0..400 {
        match rand(4) {
            0 => {
                t.publish("k/a", b"x", QoS::AtMostOnce);
            }
            1 => t.server(publish("k/b", b"y", 0, 0)),
            _ => {
                // Let time pass, firing every deadline on the way.
                let target = t.now + Duration::from_millis(rand(25_000));
                while let Some(d) = t.s.poll_timeout().filter(|d| *d <= target) {
                    t.advance_to(d.max(t.now));
                    let sent = t.take_sent();
                    if !sent.is_empty() {
                        assert!(t.now - last_send <= Duration::from_millis(keep_alive));
                        last_send = t.now;
                        assert_eq!(sent, [0xc0, 0x00], "only a PINGREQ is due");
                        pings += 1;
                        t.server(Packet::PingResp);
                    }
                }
                t.advance_to(target);
            }
        }
        t.take_events();
        let sent = t.take_sent();
        if !sent.is_empty() {
            assert!(
                t.now - last_send <= Duration::from_millis(keep_alive),
                "{:?} without sending",
                t.now - last_send
            );
            last_send = t.now;
        }
        assert_eq!(t.s.state(), ConnState::Connected);
        let due = t.s.poll_timeout().expect("keepalive deadline");
        assert!(
            due <= last_send + Duration::from_millis(keep_alive),
            "deadline {due:?} later than last send {last_send:?} + keepalive"
        );
    }
    assert!(pings > 0, "the script never let the connection idle");
}

#[test]
fn keepalive_gap_between_sends_never_exceeds_keepalive_v311() {
    keepalive_gap_between_sends_never_exceeds_keepalive(V311);
}

#[cfg(feature = "v5")]
#[test]
fn keepalive_gap_between_sends_never_exceeds_keepalive_v5() {
    keepalive_gap_between_sends_never_exceeds_keepalive(V5);
}

/// [MQTT-3.1.2-21] [MQTT-3.2.2-21] A Server Keep Alive in CONNACK replaces the client's
/// Keep Alive, shorter or longer; 0 turns keepalive off.
#[cfg(feature = "v5")]
#[test]
fn server_keep_alive_overrides_client_keep_alive_v5() {
    for (server, first_ping) in [(5u16, Some(5_000u64)), (120, Some(120_000)), (0, None)] {
        let mut t = Script::new(&cfg(V5));
        t.open();
        t.accept(false, &[Property::ServerKeepAlive(server)]);
        t.expect_idle();
        match first_ping {
            Some(at) => {
                t.expect_quiet_until(ms(at));
                t.advance_to(ms(at));
                t.expect_sent(&[Packet::PingReq]);
            }
            None => t.expect_no_deadline(),
        }
    }
}

/// Keep Alive 0 in the configuration: no PINGREQ, no deadline at all once connected.
fn keep_alive_zero_never_pings(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.keep_alive = 0;
    let mut t = Script::new(&c);
    t.establish();
    t.expect_no_deadline();
}

#[test]
fn keep_alive_zero_never_pings_v311() {
    keep_alive_zero_never_pings(V311);
}

#[cfg(feature = "v5")]
#[test]
fn keep_alive_zero_never_pings_v5() {
    keep_alive_zero_never_pings(V5);
}

/// [MQTT-3.1.2-23] / [MQTT-3.1.2-20] with a dead peer: no PINGRESP within the ping
/// timeout declares the connection dead at keepalive + ping timeout, asks the adapter to
/// close the transport, then schedules a reconnect.
fn ping_timeout_declares_connection_dead(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.advance_to(ms(30_000));
    t.expect_sent(&[Packet::PingReq]);
    t.expect_quiet_until(ms(40_000));
    t.advance_to(ms(40_000));
    expect_nothing_or_disconnect(&mut t, ReasonCode::KeepAliveTimeout);
    let events = t.take_events();
    let at = expect_lost_then_reconnect(&events, ConnectionError::KeepAliveTimeout, true, t.now, 1);
    assert_eq!(
        events.iter().position(|e| *e == Ev::CloseTransport),
        Some(0),
        "close first: {events:?}"
    );
    t.expect_quiet_until(at);
    let (clean, _) = t.reconnect();
    assert!(clean);
}

#[test]
fn ping_timeout_declares_connection_dead_v311() {
    ping_timeout_declares_connection_dead(V311);
}

#[cfg(feature = "v5")]
#[test]
fn ping_timeout_declares_connection_dead_v5() {
    ping_timeout_declares_connection_dead(V5);
}

// ----- connect timeout -------------------------------------------------------------------

/// A stopped broker that still accepts TCP: transport up, CONNECT sent, no CONNACK. The
/// attempt fails at transport-up + connect timeout.
fn connect_timeout_without_connack(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.advance(200);
    t.transport_up();
    t.expect_connect();
    t.expect_quiet_until(ms(10_200));
    t.advance_to(ms(10_200));
    t.expect_nothing_sent();
    let events = t.take_events();
    let at = expect_lost_then_reconnect(&events, ConnectionError::ConnectTimeout, true, t.now, 1);
    t.expect_quiet_until(at);
    t.reconnect();
}

#[test]
fn connect_timeout_without_connack_v311() {
    connect_timeout_without_connack(V311);
}

#[cfg(feature = "v5")]
#[test]
fn connect_timeout_without_connack_v5() {
    connect_timeout_without_connack(V5);
}

/// The transport never opens: the attempt fails at the connect timeout.
fn connect_timeout_without_transport(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.expect_quiet_until(ms(10_000));
    t.advance_to(ms(10_000));
    let events = t.take_events();
    expect_lost_then_reconnect(&events, ConnectionError::ConnectTimeout, true, t.now, 1);
}

#[test]
fn connect_timeout_without_transport_v311() {
    connect_timeout_without_transport(V311);
}

#[cfg(feature = "v5")]
#[test]
fn connect_timeout_without_transport_v5() {
    connect_timeout_without_transport(V5);
}

// ----- reconnect backoff -----------------------------------------------------------------

/// Connects and lets `n` transport opens fail; returns each scheduled delay and attempt.
fn failing_opens(config: &Config<'_>, n: u32) -> (Script, Vec<(Duration, u32)>) {
    let mut t = Script::new(config);
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    let mut delays = Vec::new();
    for _ in 0..n {
        t.transport_down();
        let events = t.take_events();
        let [
            Ev::ConnectionLost(ConnectionError::TransportClosed),
            Ev::ReconnectScheduled { at, attempt },
        ] = events.as_slice()
        else {
            panic!("events after a failed open: {events:?}");
        };
        delays.push((*at - t.now, *attempt));
        t.expect_quiet_until(*at);
        t.advance_to(*at);
        t.expect_events(&[Ev::OpenTransport]);
    }
    (t, delays)
}

/// Backoff: each delay within `ReconnectPolicy::delay_bounds`, doubling from 1 s, capped
/// at 30 s; attempts counted from 1.
fn reconnect_backoff_grows_within_bounds_and_caps(v: ProtocolVersion) {
    let policy = ReconnectPolicy::default();
    let (_, delays) = failing_opens(&cfg(v), 9);
    let highs = [
        1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000,
    ];
    for (i, ((delay, attempt), high)) in delays.iter().zip(highs).enumerate() {
        assert_eq!(*attempt, i as u32 + 1);
        let (lo, hi) = policy.delay_bounds(i as u32);
        assert_eq!(
            hi,
            Duration::from_millis(high),
            "cap/growth of attempt {attempt}"
        );
        assert_eq!(lo, Duration::from_millis(high / 2), "50 % jitter");
        assert!(
            lo <= *delay && *delay <= hi,
            "attempt {attempt}: {delay:?} not in {lo:?}..={hi:?}"
        );
    }
}

#[test]
fn reconnect_backoff_grows_within_bounds_and_caps_v311() {
    reconnect_backoff_grows_within_bounds_and_caps(V311);
}

#[cfg(feature = "v5")]
#[test]
fn reconnect_backoff_grows_within_bounds_and_caps_v5() {
    reconnect_backoff_grows_within_bounds_and_caps(V5);
}

/// The same seed gives the same delays; another seed gives others.
#[test]
fn reconnect_same_seed_same_delays() {
    let mut c = cfg(NEWEST);
    c.rng_seed = 7;
    let (_, a) = failing_opens(&c, 8);
    let (_, b) = failing_opens(&c, 8);
    assert_eq!(a, b);
    c.rng_seed = 8;
    let (_, other) = failing_opens(&c, 8);
    assert_ne!(a, other, "the seed has no effect on jitter");
}

/// Connects after `failures` failed opens, stays up `up_ms`, then loses the connection
/// through `end`; returns the attempt number and delay of the next reconnect.
fn attempt_after_connection(
    v: ProtocolVersion,
    failures: u32,
    up_ms: u64,
    end: impl FnOnce(&mut Script),
) -> (u32, Duration) {
    let mut c = cfg(v);
    c.keep_alive = 0;
    let (mut t, _) = failing_opens(&c, failures);
    t.transport_up();
    t.expect_connect();
    t.accept(false, &[]);
    t.advance(up_ms);
    t.expect_idle();
    end(&mut t);
    t.take_sent();
    let events = t.take_events();
    match events.last() {
        Some(Ev::ReconnectScheduled { at, attempt }) => (*attempt, *at - t.now),
        _ => panic!("no reconnect scheduled: {events:?}"),
    }
}

/// A connection that stayed up `stable_after` (10 s) resets the backoff: attempt 1, with
/// the first delay again.
fn backoff_resets_after_stable_connection(v: ProtocolVersion) {
    let (attempt, delay) = attempt_after_connection(v, 3, 10_000, |t| t.transport_down());
    assert_eq!(attempt, 1);
    let (lo, hi) = ReconnectPolicy::default().delay_bounds(0);
    assert!(lo <= delay && delay <= hi);
    // A short connection does not.
    let (attempt, delay) = attempt_after_connection(v, 3, 5_000, |t| t.transport_down());
    assert_eq!(attempt, 4);
    let (lo, hi) = ReconnectPolicy::default().delay_bounds(3);
    assert!(lo <= delay && delay <= hi);
}

#[test]
fn backoff_resets_after_stable_connection_v311() {
    backoff_resets_after_stable_connection(V311);
}

#[cfg(feature = "v5")]
#[test]
fn backoff_resets_after_stable_connection_v5() {
    backoff_resets_after_stable_connection(V5);
}

/// The reset does not depend on how the stable connection ended: a server DISCONNECT.
#[cfg(feature = "v5")]
#[test]
fn backoff_resets_after_stable_connection_ended_by_server_v5() {
    let (attempt, _) = attempt_after_connection(V5, 3, 60_000, |t| {
        t.server(disconnect_pkt(ReasonCode::ServerShuttingDown));
    });
    assert_eq!(attempt, 1);
}

/// ... or a protocol violation by the server (3.1.1 closes at once).
#[test]
fn backoff_resets_after_stable_connection_ended_by_peer_fault_v311() {
    let (attempt, _) = attempt_after_connection(V311, 3, 60_000, |t| {
        t.server_hex("30 04 00 02 ff fe");
    });
    assert_eq!(attempt, 1);
}

/// ... or a protocol violation by the server (5.0 sends DISCONNECT first).
#[cfg(feature = "v5")]
#[test]
fn backoff_resets_after_stable_connection_ended_by_peer_fault_v5() {
    let (attempt, _) = attempt_after_connection(V5, 3, 60_000, |t| {
        t.server_hex("30 05 00 02 ff fe 00");
    });
    assert_eq!(attempt, 1);
}

/// `max_attempts`: after that many failed reconnects the session stops
/// (`Stopped{AttemptsExhausted}`), has no deadline, and `connect` starts it again.
fn max_attempts_then_stopped(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.reconnect.max_attempts = Some(3);
    let (mut t, delays) = failing_opens(&c, 3);
    assert_eq!(delays.iter().map(|d| d.1).collect::<Vec<_>>(), [1, 2, 3]);
    t.transport_down();
    t.expect_events(&[
        Ev::ConnectionLost(ConnectionError::TransportClosed),
        Ev::Stopped(StopReason::AttemptsExhausted),
    ]);
    assert_eq!(t.s.state(), ConnState::Idle);
    t.expect_no_deadline();
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.transport_down();
    let events = t.take_events();
    expect_lost_then_reconnect(&events, ConnectionError::TransportClosed, false, t.now, 1);
}

#[test]
fn max_attempts_then_stopped_v311() {
    max_attempts_then_stopped(V311);
}

#[cfg(feature = "v5")]
#[test]
fn max_attempts_then_stopped_v5() {
    max_attempts_then_stopped(V5);
}

/// Reconnecting turned off: the first loss stops the session.
#[test]
fn reconnect_disabled_stops() {
    let mut c = cfg(NEWEST);
    c.reconnect.enabled = false;
    let mut t = Script::new(&c);
    t.establish();
    t.transport_down();
    t.expect_events(&[
        Ev::ConnectionLost(ConnectionError::TransportClosed),
        Ev::Stopped(StopReason::ReconnectDisabled),
    ]);
    t.expect_no_deadline();
}

// ----- refusals --------------------------------------------------------------------------

/// The CONNACK `connack_bytes` refuses with `code`: fatal ones stop, the others retry.
fn refusal(v: ProtocolVersion, connack_bytes: &[u8], code: ReasonCode, fatal: bool) {
    let mut t = Script::new(&cfg(v));
    t.open();
    t.server_bytes(connack_bytes);
    t.expect_nothing_sent();
    let events = t.take_events();
    let lost = Ev::ConnectionLost(ConnectionError::Refused(code));
    if fatal {
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(events[..2].contains(&Ev::CloseTransport), "{events:?}");
        assert!(events[..2].contains(&lost), "{events:?}");
        assert_eq!(events[2], Ev::Stopped(StopReason::Refused(code)));
        assert_eq!(t.s.state(), ConnState::Idle);
        t.expect_no_deadline();
        // `connect` starts again.
        t.connect();
        t.expect_events(&[Ev::OpenTransport]);
    } else {
        expect_lost_then_reconnect(&events, ConnectionError::Refused(code), true, t.now, 1);
        t.reconnect();
    }
}

/// Fatal 5.0 refusals stop reconnecting: 0x84 unsupported version, 0x85 client id not
/// valid, 0x86 bad user name or password, 0x87 not authorized, 0x8A banned, 0x8C bad
/// authentication method.
#[cfg(feature = "v5")]
#[test]
fn fatal_refusals_stop_v5() {
    for code in [
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
        ReasonCode::Banned,
        ReasonCode::BadAuthenticationMethod,
    ] {
        let bytes = encode_all(V5, &[connack(false, code, &[])]);
        refusal(V5, &bytes, code, true);
    }
}

/// Transient 5.0 refusals retry with backoff: 0x80, 0x88 server unavailable, 0x89 busy,
/// 0x97 quota exceeded, 0x9F connection rate exceeded.
#[cfg(feature = "v5")]
#[test]
fn transient_refusals_retry_v5() {
    for code in [
        ReasonCode::UnspecifiedError,
        ReasonCode::ServerUnavailable,
        ReasonCode::ServerBusy,
        ReasonCode::QuotaExceeded,
        ReasonCode::ConnectionRateExceeded,
    ] {
        let bytes = encode_all(V5, &[connack(false, code, &[])]);
        refusal(V5, &bytes, code, false);
    }
}

/// 3.1.1 return codes: 1 (version), 2 (identifier), 4 (bad user name or password) and 5
/// (not authorized) stop; 3 (server unavailable) retries.
#[test]
fn refusals_v311() {
    refusal(
        V311,
        &hex("20 02 00 01"),
        ReasonCode::UnsupportedProtocolVersion,
        true,
    );
    refusal(
        V311,
        &hex("20 02 00 02"),
        ReasonCode::ClientIdentifierNotValid,
        true,
    );
    refusal(
        V311,
        &hex("20 02 00 04"),
        ReasonCode::BadUserNameOrPassword,
        true,
    );
    refusal(V311, &hex("20 02 00 05"), ReasonCode::NotAuthorized, true);
    refusal(
        V311,
        &hex("20 02 00 03"),
        ReasonCode::ServerUnavailable,
        false,
    );
}

/// `retry_fatal_refusals` keeps retrying after a fatal refusal.
#[test]
fn retry_fatal_refusals_policy() {
    let mut c = cfg(NEWEST);
    c.reconnect.retry_fatal_refusals = true;
    let mut t = Script::new(&c);
    t.open();
    t.server(connack(false, ReasonCode::NotAuthorized, &[]));
    let events = t.take_events();
    expect_lost_then_reconnect(
        &events,
        ConnectionError::Refused(ReasonCode::NotAuthorized),
        true,
        t.now,
        1,
    );
}

// ----- DISCONNECT ------------------------------------------------------------------------

/// A server DISCONNECT ends the connection; the client sends nothing back and reconnects.
#[cfg(feature = "v5")]
#[test]
fn server_disconnect_schedules_reconnect_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server(disconnect_pkt(ReasonCode::ServerShuttingDown));
    t.expect_nothing_sent();
    let events = t.take_events();
    expect_lost_then_reconnect(
        &events,
        ConnectionError::ServerDisconnect(ReasonCode::ServerShuttingDown),
        true,
        t.now,
        1,
    );
}

/// DISCONNECT 0x8E (session taken over): another client has our identity; stop.
#[cfg(feature = "v5")]
#[test]
fn server_disconnect_session_taken_over_stops_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server(disconnect_pkt(ReasonCode::SessionTakenOver));
    t.expect_nothing_sent();
    let events = t.take_events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.contains(&Ev::CloseTransport));
    assert!(
        events.contains(&Ev::ConnectionLost(ConnectionError::ServerDisconnect(
            ReasonCode::SessionTakenOver
        )))
    );
    assert_eq!(events[2], Ev::Stopped(StopReason::SessionTakenOver));
    t.expect_no_deadline();
}

/// [MQTT-3.14.2-2] A server DISCONNECT must not carry a Session Expiry Interval: the
/// client treats it as a protocol error (DISCONNECT 0x82).
#[cfg(feature = "v5")]
#[test]
fn server_disconnect_with_session_expiry_is_protocol_error_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server(Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::Success,
        properties: Properties::new(&[Property::SessionExpiryInterval(60)]),
    }));
    expect_peer_fault(
        &mut t,
        ReasonCode::ProtocolError,
        PeerFault::SessionExpiryInServerDisconnect,
        1,
    );
}

/// [MQTT-3.14.4-1] [MQTT-3.14.4-2] `disconnect()`: DISCONNECT (normal) is the last packet,
/// the adapter is asked to close, the session stops; nothing more is sent, whatever is
/// asked of it, and no deadline remains.
fn client_disconnect_sends_disconnect_and_stops(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    let tok = t.publish("a/b", b"1", QoS::AtLeastOnce).unwrap();
    t.expect_sent(&[publish("a/b", b"1", 1, 1)]);
    t.disconnect();
    t.expect_sent_bytes(&[0xe0, 0x00]);
    t.expect_events(&[
        Ev::ConnectionLost(ConnectionError::ClientDisconnect),
        Ev::CloseTransport,
        Ev::Stopped(StopReason::ClientDisconnect),
    ]);
    assert_eq!(t.s.state(), ConnState::Idle);
    // Nothing more on that connection.
    let tok2 = t.publish("a/b", b"2", QoS::ExactlyOnce).unwrap();
    assert_eq!(
        t.try_publish("a/b", b"0", QoS::AtMostOnce, false, &[]),
        Err(Error::NotConnected)
    );
    t.server(puback(1));
    t.server(Packet::PingResp);
    t.transport_down();
    t.expect_no_deadline();
    // Unfinished operations resume on the next connection (as new: no session kept).
    t.open();
    t.accept(false, &[]);
    t.expect_sent(&[publish("a/b", b"1", 1, 1), publish("a/b", b"2", 2, 2)]);
    t.server_all(&[puback(1), pubrec(2)]);
    t.expect_sent(&[pubrel(2)]);
    t.server(pubcomp(2));
    t.expect_events(&[Ev::published(tok), Ev::published(tok2)]);
}

#[test]
fn client_disconnect_sends_disconnect_and_stops_v311() {
    client_disconnect_sends_disconnect_and_stops(V311);
}

#[cfg(feature = "v5")]
#[test]
fn client_disconnect_sends_disconnect_and_stops_v5() {
    client_disconnect_sends_disconnect_and_stops(V5);
}

/// [MQTT-3.14.4-1] [MQTT-3.14.4-2] After the client's DISCONNECT for a peer fault nothing
/// follows it on that connection: not the acks of packets received with the fault, not
/// new operations, not pings.
#[cfg(feature = "v5")]
#[test]
fn nothing_sent_after_fault_disconnect_v5() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    let mut chunk = encode_all(V5, &[publish("in/1", b"a", 1, 7)]);
    chunk.extend(hex("30 05 00 02 ff fe 00")); // topic not UTF-8
    chunk.extend(encode_all(
        V5,
        &[Packet::PingResp, publish("in/2", b"b", 1, 8)],
    ));
    t.server_bytes(&chunk);
    t.with_sent(|p| match p {
        [.., Packet::Disconnect(d)] => {
            assert_eq!(d.reason_code, ReasonCode::MalformedPacket);
            assert!(p.len() == 1 || p[..p.len() - 1] == [puback(7)], "{p:#?}");
        }
        other => panic!("DISCONNECT is not the last packet: {other:#?}"),
    });
    let events = t.take_events();
    let at = match events.last() {
        Some(Ev::ReconnectScheduled { at, .. }) => *at,
        _ => panic!("{events:?}"),
    };
    assert!(!events.contains(&Ev::msg("in/2", b"b", QoS::AtLeastOnce)));
    t.publish("a/b", b"1", QoS::AtLeastOnce);
    t.subscribe(&[sub("x", QoS::AtMostOnce)]);
    t.expect_quiet_until(at);
}

// ----- Clean Start, client identifier, will, credentials --------------------------------

/// [MQTT-3.1.2-4] (5.0) Clean Start on the first connection, then 0 on every reconnect
/// while the session persists (Session Expiry > 0, sent in CONNECT); without expiry,
/// Clean Start every time.
#[cfg(feature = "v5")]
#[test]
fn clean_start_first_then_resume_v5() {
    let mut t = Script::new(&persistent_cfg(V5));
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.transport_up();
    t.with_sent(|p| match p {
        [Packet::Connect(c)] => {
            assert!(c.clean_start);
            assert_eq!(c.properties.session_expiry_interval(), Some(3600));
        }
        other => panic!("{other:#?}"),
    });
    t.accept(false, &[]);
    t.drop_transport();
    assert!(!t.reconnect().0, "resume the session");
    t.accept(true, &[]);
    t.drop_transport();
    assert!(!t.reconnect().0);

    let mut t = Script::new(&cfg(V5));
    assert!(t.open().0);
    t.accept(false, &[]);
    t.drop_transport();
    assert!(t.reconnect().0, "no session to resume");
}

/// [MQTT-3.1.2-6] (3.1.1) CleanSession as configured on every connection: 0 keeps the
/// session (and so Session Present = 1 is accepted), 1 starts afresh each time.
#[test]
fn clean_session_as_configured_v311() {
    let mut t = Script::new(&persistent_cfg(V311));
    assert!(!t.open().0);
    t.accept(true, &[]);
    t.drop_transport();
    assert!(!t.reconnect().0);
    t.accept(true, &[]);

    let mut t = Script::new(&cfg(V311));
    assert!(t.open().0);
    t.accept(false, &[]);
    t.drop_transport();
    assert!(t.reconnect().0);
}

/// 5.0 §3.2.2.3.7: the Assigned Client Identifier from CONNACK names the session from
/// then on [MQTT-3.1.3-2]: the next CONNECT carries it.
#[cfg(feature = "v5")]
#[test]
fn assigned_client_identifier_used_next_time_v5() {
    let mut c = persistent_cfg(V5);
    c.client_id = "";
    let mut t = Script::new(&c);
    assert_eq!(t.open().1, "");
    t.accept(false, &[Property::AssignedClientIdentifier("srv-42")]);
    t.drop_transport();
    let (clean, id) = t.reconnect();
    assert_eq!(id, "srv-42");
    assert!(!clean);
}

/// The will and the credentials from the configuration appear in CONNECT.
fn will_and_credentials_in_connect(v: ProtocolVersion) {
    let will_props = [Property::UserProperty("k", "v")];
    let mut c = cfg(v);
    c.will = Some(Will {
        topic: "will/t",
        payload: b"bye",
        qos: QoS::AtLeastOnce,
        retain: true,
        delay_interval: if v.is_v5() { 5 } else { 0 },
        properties: if v.is_v5() { &will_props } else { &[] },
    });
    c.username = Some("user");
    c.password = Some(b"secret");
    let mut t = Script::new(&c);
    t.connect();
    t.transport_up();
    let expected_will_props = [
        Property::WillDelayInterval(5),
        Property::UserProperty("k", "v"),
    ];
    let mut expected = default_connect(v, true);
    let expected_will = mqtt_proto::Will {
        topic: TopicName::from_static("will/t"),
        payload: b"bye",
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::new(if v.is_v5() { &expected_will_props } else { &[] }),
    };
    expected.will = Some(mqtt_proto::WillRef::Given(&expected_will));
    expected.username = Some("user");
    expected.password = Some(b"secret");
    t.expect_sent(&[Packet::Connect(expected)]);
}

#[test]
fn will_and_credentials_in_connect_v311() {
    will_and_credentials_in_connect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn will_and_credentials_in_connect_v5() {
    will_and_credentials_in_connect(V5);
}

/// The transport dropping under a connection: reported and a reconnect scheduled, but no
/// request to close a transport that is gone.
fn transport_down_schedules_reconnect(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.advance(20_000);
    t.transport_down();
    let events = t.take_events();
    let at = expect_lost_then_reconnect(&events, ConnectionError::TransportClosed, false, t.now, 1);
    t.expect_quiet_until(at);
    t.reconnect();
}

#[test]
fn transport_down_schedules_reconnect_v311() {
    transport_down_schedules_reconnect(V311);
}

#[cfg(feature = "v5")]
#[test]
fn transport_down_schedules_reconnect_v5() {
    transport_down_schedules_reconnect(V5);
}

/// `disconnect()` before the connection is up: while waiting to reconnect it just stops;
/// while opening it also asks the adapter to close the transport being opened. Nothing is
/// sent and no deadline remains either way.
fn disconnect_before_connected_stops(v: ProtocolVersion) {
    let mut t = Script::new(&cfg(v));
    t.establish();
    t.drop_transport();
    t.disconnect();
    t.expect_events(&[Ev::Stopped(StopReason::ClientDisconnect)]);
    t.expect_no_deadline();

    let mut t = Script::new(&cfg(v));
    t.connect();
    t.expect_events(&[Ev::OpenTransport]);
    t.disconnect();
    let events = t.take_events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.contains(&Ev::CloseTransport));
    assert_eq!(events[1], Ev::Stopped(StopReason::ClientDisconnect));
    t.transport_up();
    t.expect_no_deadline();
}

#[test]
fn disconnect_before_connected_stops_v311() {
    disconnect_before_connected_stops(V311);
}

#[cfg(feature = "v5")]
#[test]
fn disconnect_before_connected_stops_v5() {
    disconnect_before_connected_stops(V5);
}

/// A configuration whose CONNECT could not be valid is refused when the session is
/// built: a will topic with a wildcard, 5.0 properties in 3.1.1, a 3.1.1 password without
/// a user name, an empty 3.1.1 client id with a kept session.
#[test]
fn invalid_configuration_is_refused() {
    type Edit = fn(&mut Config<'static>);
    let cases: [(ProtocolVersion, Edit); 5] = [
        (NEWEST, |c| {
            c.will = Some(Will {
                topic: "w/+",
                payload: b"",
                qos: QoS::AtMostOnce,
                retain: false,
                delay_interval: 0,
                properties: &[],
            })
        }),
        (V311, |c| c.properties = &[Property::UserProperty("k", "v")]),
        (V311, |c| c.password = Some(b"secret")),
        (V311, |c| {
            c.client_id = "";
            c.clean_start = false;
        }),
        (V311, |c| {
            c.will = Some(Will {
                topic: "w",
                payload: b"",
                qos: QoS::AtMostOnce,
                retain: false,
                delay_interval: 5,
                properties: &[],
            })
        }),
    ];
    for (i, (v, edit)) in cases.into_iter().enumerate() {
        let mut c = cfg(v);
        edit(&mut c);
        let r = Sess::new(&c, ArenaStore::new(), [0; RX_CAP]);
        assert!(r.is_err(), "case {i} accepted");
    }
}

/// [MQTT-3.1.2-23] (3.1.1) [MQTT-3.1.2-20] (5.0) also while a PINGRESP is awaited: with
/// a Keep Alive (5 s) shorter than the ping timeout (10 s by default), the client still
/// sends something at least every Keep Alive, or has closed the connection by then.
fn keepalive_gap_while_waiting_for_pingresp(v: ProtocolVersion) {
    let mut c = cfg(v);
    c.keep_alive = 5;
    let mut t = Script::new(&c);
    t.establish();
    t.advance_to(ms(5_000));
    t.expect_sent(&[Packet::PingReq]);
    let mut last_send = t.now;
    while t.s.state() == ConnState::Connected {
        let due = t.s.poll_timeout().expect("a deadline while connected");
        assert!(
            due <= last_send + Duration::from_secs(5),
            "next deadline {due:?}, {:?} after the last packet sent, while connected",
            due - last_send
        );
        t.advance_to(due);
        if !t.take_sent().is_empty() {
            last_send = t.now;
        }
    }
}

#[test]
fn keepalive_gap_while_waiting_for_pingresp_v311() {
    keepalive_gap_while_waiting_for_pingresp(V311);
}

#[cfg(feature = "v5")]
#[test]
fn keepalive_gap_while_waiting_for_pingresp_v5() {
    keepalive_gap_while_waiting_for_pingresp(V5);
}

// ----- server redirection (5.0 §4.11) ----------------------------------------------------

/// A CONNACK 0x9C with a Server Reference is reported (before the loss it causes) so the
/// adapter can follow it; the refusal itself is transient, so a reconnect is scheduled.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_11_connack_use_another_server_reports_redirect() {
    let mut t = Script::new(&cfg(V5));
    t.connect();
    t.transport_up();
    let _ = t.take_events();
    let props = [Property::ServerReference("other:1884")];
    t.server(connack(false, ReasonCode::UseAnotherServer, &props));
    let events = t.take_events();
    assert_eq!(
        events[0],
        Ev::Redirect {
            server_reference: "other:1884".into(),
            permanent: false
        },
        "{events:?}"
    );
    assert!(
        events.contains(&Ev::ConnectionLost(ConnectionError::Refused(
            ReasonCode::UseAnotherServer
        )))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ev::ReconnectScheduled { .. })),
        "{events:?}"
    );
}

/// A DISCONNECT 0x9D (server moved) with a Server Reference is reported as permanent;
/// without the property there is nothing to follow and no redirect event.
#[cfg(feature = "v5")]
#[test]
fn mqtt_4_11_disconnect_server_moved_reports_permanent_redirect() {
    let mut t = Script::new(&cfg(V5));
    t.establish();
    let props = [Property::ServerReference("b c:2")];
    t.server(Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::ServerMoved,
        properties: Properties::new(&props),
    }));
    let events = t.take_events();
    assert_eq!(
        events[0],
        Ev::Redirect {
            server_reference: "b c:2".into(),
            permanent: true
        }
    );
    let mut t = Script::new(&cfg(V5));
    t.establish();
    t.server(disconnect_pkt(ReasonCode::ServerMoved));
    let events = t.take_events();
    assert!(
        !events.iter().any(|e| matches!(e, Ev::Redirect { .. })),
        "{events:?}"
    );
}

//! `Debug` never prints secrets: the CONNECT password and Authentication Data (in CONNECT,
//! CONNACK and AUTH), whether the packet was built by the caller or decoded from bytes.

mod common;

use common::*;
#[cfg(feature = "v5")]
use mqtt_proto::{Auth, ConnAck, ReasonCode};
use mqtt_proto::{Connect, Packet, Properties, Property};

const PASSWORD: &[u8] = b"hunter2-s3cret";
const AUTH_DATA: &[u8] = b"tok3n-XYZZY";

/// Renderings a secret could take in a `Debug` string: text, byte list, hex.
fn forms(secret: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(secret).into_owned();
    let list = format!("{secret:?}"); // [104, 117, ...]
    let inner = list
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let hex = format!("{secret:02x?}");
    let hex_inner = hex
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let plain_hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        text,
        inner,
        hex_inner,
        plain_hex,
        "s3cret".into(),
        "XYZZY".into(),
    ]
}

fn assert_no_secret(rendered: &str, secret: &[u8]) {
    for f in forms(secret) {
        assert!(
            !rendered.contains(&f),
            "Debug output leaks {f:?}: {rendered}"
        );
    }
}

/// The password of a CONNECT (built, decoded, pretty-printed) is never printed.
#[test]
fn connect_debug_redacts_password() {
    let auth = [
        Property::AuthenticationMethod("SCRAM-SHA-1"),
        Property::AuthenticationData(AUTH_DATA),
    ];
    #[cfg(feature = "v5")]
    let cases = [(V4, &[][..]), (V5, &auth[..])];
    #[cfg(not(feature = "v5"))]
    let cases = [(V4, &[][..])];
    #[cfg(not(feature = "v5"))]
    let _ = auth;
    for (v, props) in cases {
        let p = Packet::Connect(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 30,
            properties: Properties::new(props),
            client_id: "client-1",
            will: None,
            username: Some("alice"),
            password: Some(PASSWORD),
        });
        let bytes = encode(&p, v);
        // The decoded packet too, where this build decodes a CONNECT (`decode-connect`).
        #[cfg_attr(not(feature = "decode-connect"), allow(unused_mut))]
        let mut packets = vec![p];
        #[cfg(feature = "decode-connect")]
        packets.push(decode_ok(v, &bytes));
        #[cfg(not(feature = "decode-connect"))]
        let _ = bytes;
        for q in packets {
            for rendered in [format!("{q:?}"), format!("{q:#?}")] {
                assert_no_secret(&rendered, PASSWORD);
                assert_no_secret(&rendered, AUTH_DATA);
                // What is not secret is still shown.
                assert!(rendered.contains("alice"), "{rendered}");
                assert!(rendered.contains("client-1"), "{rendered}");
                assert!(rendered.contains("redacted"), "{rendered}");
            }
            if let Packet::Connect(c) = q {
                assert_no_secret(&format!("{c:?}"), PASSWORD);
                assert_eq!(c.password, Some(PASSWORD));
            }
        }
    }
}

/// Authentication Data in an AUTH (and a CONNACK) is never printed; the method is.
#[test]
#[cfg(feature = "v5")]
fn auth_debug_redacts_authentication_data() {
    let props = [
        Property::AuthenticationMethod("SCRAM-SHA-1"),
        Property::AuthenticationData(AUTH_DATA),
        Property::ReasonString("continue"),
    ];
    let packets = [
        Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties::new(&props),
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::Success,
            properties: Properties::new(&props),
        }),
    ];
    // A CONNACK is encoded only with `encode-server`.
    for p in packets.into_iter().filter(|p| encodes(p.packet_type())) {
        let bytes = encode(&p, V5);
        let decoded = decode_ok(V5, &bytes);
        for q in [p, decoded] {
            for rendered in [format!("{q:?}"), format!("{q:#?}")] {
                assert_no_secret(&rendered, AUTH_DATA);
                assert!(rendered.contains("SCRAM-SHA-1"), "{rendered}");
                assert!(rendered.contains("redacted"), "{rendered}");
            }
        }
    }
    // The property on its own, and the property list.
    assert_no_secret(
        &format!("{:?}", Property::AuthenticationData(AUTH_DATA)),
        AUTH_DATA,
    );
    assert_no_secret(&format!("{:?}", Properties::new(&props)), AUTH_DATA);
    // The data itself stays available to the program.
    assert_eq!(
        Properties::new(&props).authentication_data(),
        Some(AUTH_DATA)
    );
}

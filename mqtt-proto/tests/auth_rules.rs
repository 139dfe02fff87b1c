//! Enhanced-authentication rules without a [MQTT-x] label (MQTT 5.0 §3.1.2.11.10,
//! §3.15.2.2.2): authentication data, and an AUTH with properties, need the method.
//! All of it is MQTT 5.0: without the `v5` feature this file has no tests.
#![cfg(feature = "v5")]

use mqtt_proto::{
    Auth, DecodeError, Decoder, EncodeError, Packet, Properties, Property, PropertyId,
    ProtocolVersion, ReasonCode,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const METHOD: u8 = PropertyId::AuthenticationMethod as u8;

#[test]
#[cfg(feature = "decode-connect")]
fn connect_with_authentication_data_but_no_method_is_a_protocol_error() {
    // CONNECT "MQTT" 5, clean start, keep alive 0, properties: Authentication Data (0x16) "x".
    let bytes = [
        0x10, 0x12, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00, 0x04, 0x16, 0x00,
        0x01, b'x', 0x00, 0x01, b'c',
    ];
    let err = Decoder::new(V5).decode(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::MissingProperty(METHOD));
    assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn auth_with_properties_but_no_method_is_refused_both_ways() {
    // AUTH 0x18 with only a Reason String.
    let bytes = [0xf0, 0x06, 0x18, 0x04, 0x1f, 0x00, 0x01, b'r'];
    assert_eq!(
        Decoder::new(V5).decode(&bytes).unwrap_err(),
        DecodeError::MissingProperty(METHOD)
    );

    let props = [Property::ReasonString("r")];
    let auth = Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties::new(&props),
    });
    assert_eq!(
        auth.encoded_len(V5),
        Err(EncodeError::MissingProperty(METHOD))
    );

    let props = [
        Property::AuthenticationMethod("SCRAM-SHA-1"),
        Property::AuthenticationData(b"c1"),
    ];
    let auth = Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties::new(&props),
    });
    let mut buf = [0u8; 64];
    let n = auth.encode(V5, &mut buf).unwrap();
    assert_eq!(Packet::decode_exact(&buf[..n], V5).unwrap(), auth);
}

#[test]
fn bare_auth_success_needs_no_method() {
    // Reason code and properties may be left out when the reason is Success (§3.15.2.1).
    assert_eq!(
        Packet::decode_exact(&[0xf0, 0x00], V5).unwrap(),
        Packet::Auth(Auth {
            reason_code: ReasonCode::Success,
            properties: Properties::empty()
        })
    );
}

//! The seed corpus: valid packets of all 15 types, MQTT 3.1.1 and 5.0 variants (and a 3.1
//! CONNECT), built as values and encoded with `mqtt-proto` itself.
//!
//! `examples/gen_seeds.rs` (run by `fuzz/gen-seeds.sh`) writes [`files`] under `fuzz/seeds/`:
//! - `v4/NN-type[-variant].bin`: one raw 3.1.1 packet per file (the 3.1 CONNECT too);
//! - `v5/NN-type[-variant].bin`: one raw 5.0 packet per file;
//! - `roundtrip/{v4,v5}-....bin`: the same packets behind the byte that selects their
//!   version for the `roundtrip` target ([`crate::version_byte`]);
//! - `session/NN-....bin`: operation sequences for the `session` target
//!   ([`crate::session::seed_inputs`]).
//!
//! The unit tests check that the committed files equal what this module builds, and that
//! every seed decodes whole, as its type, and passes the targets' invariants.

use core::num::NonZeroU16;

use mqtt_proto::{
    Ack, Auth, ConnAck, Connect, Disconnect, List, Packet, PacketType, Properties, Property,
    ProtocolVersion, Publish, QoS, QosPid, ReasonCode, RetainHandling, SubAck, Subscribe,
    Subscription, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe, Will,
    WillRef,
};

/// One seed packet.
pub struct Seed {
    /// `v4` (decoded as 3.1.1; holds the 3.1 CONNECT too) or `v5`.
    pub dir: &'static str,
    /// File stem, `NN-type[-variant]` with NN the packet type number.
    pub name: &'static str,
    /// The version it was encoded for.
    pub version: ProtocolVersion,
    /// Its packet type.
    pub packet_type: PacketType,
    /// The encoded packet.
    pub bytes: Vec<u8>,
}

fn id(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("non-zero packet id")
}

fn encode(dir: &'static str, name: &'static str, v: ProtocolVersion, p: Packet<'_>) -> Seed {
    let len = p
        .encoded_len(v)
        .unwrap_or_else(|e| panic!("seed {dir}/{name}: {e:?}"));
    let mut bytes = vec![0u8; len];
    p.encode(v, &mut bytes).expect("sized by encoded_len");
    Seed {
        dir,
        name,
        version: v,
        packet_type: p.packet_type(),
        bytes,
    }
}

/// Every seed packet, in a fixed order.
pub fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    v3(&mut out);
    v5(&mut out);
    out
}

/// 3.1.1 packets (14 types: AUTH is 5.0 only) and a 3.1 CONNECT.
fn v3(out: &mut Vec<Seed>) {
    use ProtocolVersion::{V3_1, V3_1_1};
    let v = V3_1_1;
    let no = Properties::empty();
    out.push(encode(
        "v4",
        "01-connect",
        v,
        Packet::Connect(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 60,
            properties: no,
            client_id: "fuzz-client",
            will: Some(WillRef::Given(&Will {
                topic: TopicName::from_static("clients/fuzz/status"),
                payload: b"offline",
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: no,
            })),
            username: Some("user"),
            password: Some(b"secret"),
        }),
    ));
    out.push(encode(
        "v4",
        "01-connect-minimal",
        v,
        Packet::Connect(Connect {
            protocol: v,
            clean_start: true,
            keep_alive: 0,
            properties: no,
            client_id: "",
            will: None,
            username: None,
            password: None,
        }),
    ));
    out.push(encode(
        "v4",
        "01-connect-mqtt31",
        V3_1,
        Packet::Connect(Connect {
            protocol: V3_1,
            clean_start: false,
            keep_alive: 30,
            properties: no,
            client_id: "legacy",
            will: None,
            username: Some("u"),
            password: Some(b"p"),
        }),
    ));
    out.push(encode(
        "v4",
        "02-connack",
        v,
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: no,
        }),
    ));
    out.push(encode(
        "v4",
        "02-connack-refused",
        v,
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::NotAuthorized,
            properties: no,
        }),
    ));
    out.push(encode(
        "v4",
        "03-publish-qos0",
        v,
        Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: false,
            topic: TopicName::from_static("sensors/1/temp"),
            properties: no,
            payload: b"21.5",
        }),
    ));
    out.push(encode(
        "v4",
        "03-publish-qos2-dup-retain",
        v,
        Packet::Publish(Publish {
            dup: true,
            qos: QosPid::ExactlyOnce(id(7)),
            retain: true,
            topic: TopicName::from_static("a/b"),
            properties: no,
            payload: &[0x00, 0xff, 0x10],
        }),
    ));
    out.push(encode(
        "v4",
        "04-puback",
        v,
        Packet::PubAck(Ack::new(id(1))),
    ));
    out.push(encode(
        "v4",
        "05-pubrec",
        v,
        Packet::PubRec(Ack::new(id(2))),
    ));
    out.push(encode(
        "v4",
        "06-pubrel",
        v,
        Packet::PubRel(Ack::new(id(3))),
    ));
    out.push(encode(
        "v4",
        "07-pubcomp",
        v,
        Packet::PubComp(Ack::new(id(4))),
    ));
    let subs = [
        Subscription {
            filter: TopicFilter::from_static("sensors/+/temp"),
            options: SubscriptionOptions::new(QoS::AtLeastOnce),
        },
        Subscription {
            filter: TopicFilter::from_static("alerts/#"),
            options: SubscriptionOptions::new(QoS::ExactlyOnce),
        },
    ];
    out.push(encode(
        "v4",
        "08-subscribe",
        v,
        Packet::Subscribe(Subscribe {
            packet_id: id(10),
            properties: no,
            filters: List::new(&subs),
        }),
    ));
    let codes = [ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError];
    out.push(encode(
        "v4",
        "09-suback",
        v,
        Packet::SubAck(SubAck {
            packet_id: id(10),
            properties: no,
            reason_codes: List::new(&codes),
        }),
    ));
    let filters = [
        TopicFilter::from_static("sensors/+/temp"),
        TopicFilter::from_static("alerts/#"),
    ];
    out.push(encode(
        "v4",
        "10-unsubscribe",
        v,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(11),
            properties: no,
            filters: List::new(&filters),
        }),
    ));
    out.push(encode(
        "v4",
        "11-unsuback",
        v,
        Packet::UnsubAck(UnsubAck {
            packet_id: id(11),
            properties: no,
            reason_codes: List::empty(),
        }),
    ));
    out.push(encode("v4", "12-pingreq", v, Packet::PingReq));
    out.push(encode("v4", "13-pingresp", v, Packet::PingResp));
    out.push(encode(
        "v4",
        "14-disconnect",
        v,
        Packet::Disconnect(Disconnect::normal()),
    ));
}

/// 5.0 packets: all 15 types, with properties, reason codes and the short forms.
fn v5(out: &mut Vec<Seed>) {
    let v = ProtocolVersion::V5;
    let no = Properties::empty();
    let connect_props = [
        Property::SessionExpiryInterval(3600),
        Property::ReceiveMaximum(32),
        Property::MaximumPacketSize(65_536),
        Property::TopicAliasMaximum(10),
        Property::RequestResponseInformation(true),
        Property::RequestProblemInformation(false),
        Property::UserProperty("region", "eu"),
        Property::AuthenticationMethod("SCRAM-SHA-256"),
        Property::AuthenticationData(b"client-first"),
    ];
    let will_props = [
        Property::WillDelayInterval(5),
        Property::PayloadFormatIndicator(true),
        Property::MessageExpiryInterval(120),
        Property::ContentType("text/plain"),
        Property::ResponseTopic("clients/fuzz/reply"),
        Property::CorrelationData(b"\x01\x02"),
        Property::UserProperty("k", "v"),
    ];
    out.push(encode(
        "v5",
        "01-connect",
        v,
        Packet::Connect(Connect {
            protocol: v,
            clean_start: false,
            keep_alive: 30,
            properties: Properties::new(&connect_props),
            client_id: "fuzz-client-5",
            will: Some(WillRef::Given(&Will {
                topic: TopicName::from_static("clients/fuzz/status"),
                payload: b"gone",
                qos: QoS::ExactlyOnce,
                retain: false,
                properties: Properties::new(&will_props),
            })),
            username: None,
            password: Some(b"token-without-user"),
        }),
    ));
    let connack_props = [
        Property::SessionExpiryInterval(0),
        Property::AssignedClientIdentifier("auto-4711"),
        Property::ServerKeepAlive(45),
        Property::ReceiveMaximum(100),
        Property::TopicAliasMaximum(16),
        Property::MaximumQoS(QoS::AtLeastOnce),
        Property::RetainAvailable(true),
        Property::MaximumPacketSize(1_048_576),
        Property::WildcardSubscriptionAvailable(true),
        Property::SubscriptionIdentifierAvailable(true),
        Property::SharedSubscriptionAvailable(false),
        Property::ResponseInformation("responses/"),
        Property::ReasonString("welcome"),
        Property::UserProperty("broker", "test"),
    ];
    out.push(encode(
        "v5",
        "02-connack",
        v,
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: Properties::new(&connack_props),
        }),
    ));
    let moved = [Property::ServerReference("other.example:1883")];
    out.push(encode(
        "v5",
        "02-connack-moved",
        v,
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::ServerMoved,
            properties: Properties::new(&moved),
        }),
    ));
    let publish_props = [
        Property::PayloadFormatIndicator(true),
        Property::MessageExpiryInterval(60),
        Property::TopicAlias(3),
        Property::ResponseTopic("replies/1"),
        Property::CorrelationData(b"req-1"),
        Property::UserProperty("trace", "abc"),
        Property::SubscriptionIdentifier(1),
        Property::SubscriptionIdentifier(268_435_455),
        Property::ContentType("application/json"),
    ];
    out.push(encode(
        "v5",
        "03-publish-qos1",
        v,
        Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtLeastOnce(id(5)),
            retain: false,
            topic: TopicName::from_static("sensors/1/temp"),
            properties: Properties::new(&publish_props),
            payload: b"{\"t\":21.5}",
        }),
    ));
    let alias = [Property::TopicAlias(3)];
    out.push(encode(
        "v5",
        "03-publish-alias-only",
        v,
        Packet::Publish(Publish {
            dup: false,
            qos: QosPid::AtMostOnce,
            retain: true,
            topic: TopicName::ALIAS_ONLY,
            properties: Properties::new(&alias),
            payload: b"",
        }),
    ));
    let reason = [
        Property::ReasonString("no one listening"),
        Property::UserProperty("a", "b"),
    ];
    out.push(encode(
        "v5",
        "04-puback",
        v,
        Packet::PubAck(Ack {
            packet_id: id(5),
            reason_code: ReasonCode::NoMatchingSubscribers,
            properties: Properties::new(&reason),
        }),
    ));
    out.push(encode(
        "v5",
        "04-puback-short",
        v,
        Packet::PubAck(Ack::new(id(6))),
    ));
    out.push(encode(
        "v5",
        "05-pubrec",
        v,
        Packet::PubRec(Ack {
            packet_id: id(7),
            reason_code: ReasonCode::QuotaExceeded,
            properties: no,
        }),
    ));
    out.push(encode(
        "v5",
        "06-pubrel",
        v,
        Packet::PubRel(Ack {
            packet_id: id(7),
            reason_code: ReasonCode::PacketIdentifierNotFound,
            properties: no,
        }),
    ));
    out.push(encode(
        "v5",
        "07-pubcomp",
        v,
        Packet::PubComp(Ack::new(id(7))),
    ));
    let sub_props = [
        Property::SubscriptionIdentifier(42),
        Property::UserProperty("x", "y"),
    ];
    let subs = [
        Subscription {
            filter: TopicFilter::from_static("sensors/+/temp"),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendAtNewSubscribe,
            },
        },
        Subscription {
            filter: TopicFilter::from_static("$share/group/alerts/#"),
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: false,
                retain_as_published: false,
                retain_handling: RetainHandling::DoNotSend,
            },
        },
    ];
    out.push(encode(
        "v5",
        "08-subscribe",
        v,
        Packet::Subscribe(Subscribe {
            packet_id: id(20),
            properties: Properties::new(&sub_props),
            filters: List::new(&subs),
        }),
    ));
    let suback_codes = [
        ReasonCode::GrantedQoS1,
        ReasonCode::SharedSubscriptionsNotSupported,
    ];
    out.push(encode(
        "v5",
        "09-suback",
        v,
        Packet::SubAck(SubAck {
            packet_id: id(20),
            properties: Properties::new(&reason),
            reason_codes: List::new(&suback_codes),
        }),
    ));
    let unsub_props = [Property::UserProperty("why", "done")];
    let filters = [
        TopicFilter::from_static("sensors/+/temp"),
        TopicFilter::from_static("$share/group/alerts/#"),
    ];
    out.push(encode(
        "v5",
        "10-unsubscribe",
        v,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(21),
            properties: Properties::new(&unsub_props),
            filters: List::new(&filters),
        }),
    ));
    let unsuback_codes = [ReasonCode::Success, ReasonCode::NoSubscriptionExisted];
    out.push(encode(
        "v5",
        "11-unsuback",
        v,
        Packet::UnsubAck(UnsubAck {
            packet_id: id(21),
            properties: no,
            reason_codes: List::new(&unsuback_codes),
        }),
    ));
    out.push(encode("v5", "12-pingreq", v, Packet::PingReq));
    out.push(encode("v5", "13-pingresp", v, Packet::PingResp));
    let disconnect_props = [
        Property::SessionExpiryInterval(0),
        Property::ReasonString("bye"),
        Property::ServerReference("backup:1883"),
    ];
    out.push(encode(
        "v5",
        "14-disconnect",
        v,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::DisconnectWithWillMessage,
            properties: Properties::new(&disconnect_props),
        }),
    ));
    out.push(encode(
        "v5",
        "14-disconnect-short",
        v,
        Packet::Disconnect(Disconnect::normal()),
    ));
    let auth_props = [
        Property::AuthenticationMethod("SCRAM-SHA-256"),
        Property::AuthenticationData(b"server-first"),
        Property::ReasonString("continue"),
    ];
    out.push(encode(
        "v5",
        "15-auth",
        v,
        Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties::new(&auth_props),
        }),
    ));
    out.push(encode(
        "v5",
        "15-auth-short",
        v,
        Packet::Auth(Auth {
            reason_code: ReasonCode::Success,
            properties: no,
        }),
    ));
}

/// Every file of `fuzz/seeds/`: its path below that folder and its bytes.
pub fn files() -> Vec<(String, Vec<u8>)> {
    let seeds = seeds();
    let mut files = Vec::new();
    for s in &seeds {
        files.push((format!("{}/{}.bin", s.dir, s.name), s.bytes.clone()));
    }
    for s in &seeds {
        let mut bytes = vec![crate::version_byte(s.version)];
        bytes.extend_from_slice(&s.bytes);
        files.push((format!("roundtrip/{}-{}.bin", s.dir, s.name), bytes));
    }
    for (name, bytes) in crate::session::seed_inputs() {
        files.push((format!("session/{name}.bin"), bytes));
    }
    files
}

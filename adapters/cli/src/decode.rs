//! `mqttc decode`: the codec's dissector (mqtt-proto's `examples/dissect.rs`) over a hex
//! string or a binary capture: every packet in the byte stream, one after the other.
//! The hex parsing and the error-kind helper are copied from that example (a dozen
//! lines); everything else is mqtt-proto's `Decoder`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mqtt_proto::{Decoded, Decoder, Packet, ProtocolVersion};

use crate::Fail;

/// `mqttc decode` flags.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Hex bytes (spaces and `0x` allowed); several arguments are joined. Without hex
    /// or --file, hex is read from stdin.
    hex: Vec<String>,
    /// A binary capture (raw bytes of one direction of an MQTT stream).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Protocol version: 311 | 5 | auto (auto: a leading CONNECT's level, else 5).
    #[arg(short = 'V', long = "protocol-version", default_value = "auto")]
    version: String,
}

/// Hex digits to bytes, ignoring whitespace and `0x` prefixes (from `dissect.rs`).
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.replace("0x", "").replace("0X", "");
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b',' && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The variant name of a `Debug` rendering (from `dissect.rs`).
fn kind(debug: &str) -> &str {
    debug.split(['(', ' ', '{']).next().unwrap_or(debug)
}

/// Runs `mqttc decode`.
pub fn run(a: DecodeArgs) -> Result<u8, Fail> {
    let bytes = if let Some(f) = &a.file {
        std::fs::read(f).map_err(|e| Fail::msg(format!("cannot read {}: {e}", f.display())))?
    } else {
        let text = if a.hex.is_empty() {
            std::io::read_to_string(std::io::stdin())
                .map_err(|e| Fail::msg(format!("cannot read stdin: {e}")))?
        } else {
            a.hex.join(" ")
        };
        parse_hex(&text)
            .ok_or_else(|| Fail::usage("not hex: expected pairs of hex digits".into()))?
    };
    let version = match a.version.as_str() {
        "5" | "mqttv5" | "auto" => ProtocolVersion::V5,
        "311" | "mqttv311" => ProtocolVersion::V3_1_1,
        "31" | "mqttv31" => ProtocolVersion::V3_1,
        other => return Err(Fail::usage(format!("unknown protocol version {other:?}"))),
    };
    // auto: 5.0 (or a leading CONNECT's level); if that fails, 3.1.1.
    let result = match dissect(&bytes, version, a.version == "auto") {
        Err(e) if a.version == "auto" => {
            dissect(&bytes, ProtocolVersion::V3_1_1, false).map_err(|_| e)
        }
        r => r,
    };
    let text = result.map_err(Fail::msg)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    Ok(0)
}

/// Every packet of `bytes`, two lines each: offset, type, length, version; the packet.
fn dissect(bytes: &[u8], mut version: ProtocolVersion, auto: bool) -> Result<String, String> {
    let mut text = String::new();
    let mut offset = 0usize;
    let mut count = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        match Decoder::new(version).decode(rest) {
            Ok(Decoded::Packet { packet, consumed }) => {
                if let (true, Packet::Connect(c)) = (auto && count == 0, &packet) {
                    version = c.protocol;
                }
                text.push_str(&format!(
                    "{offset:>6}  {} ({consumed} bytes, {})\n        {packet:?}\n",
                    packet.packet_type().name(),
                    version_name(version)
                ));
                offset += consumed;
                count += 1;
            }
            Ok(Decoded::Incomplete(n)) => {
                return Err(format!(
                    "incomplete packet at offset {offset} ({} bytes left, {}): {n:?}",
                    rest.len(),
                    version_name(version)
                ));
            }
            Err(e) => {
                return Err(format!(
                    "malformed packet at offset {offset} ({}): {} ({e})",
                    version_name(version),
                    kind(&format!("{e:?}"))
                ));
            }
        }
    }
    if count == 0 {
        return Err("no bytes to decode".into());
    }
    Ok(text)
}

fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "MQTT 3.1",
        ProtocolVersion::V3_1_1 => "MQTT 3.1.1",
        ProtocolVersion::V5 => "MQTT 5.0",
    }
}

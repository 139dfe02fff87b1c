//! Dissector: reads hex packets from standard input, one per line (spaces allowed), and
//! prints one line per input line: `ok <TYPE> <consumed>`, `incomplete`, or `error <Kind>`.
//!
//! ```text
//! echo "30 0c 00 05 61 2f 62 2f 63 68 65 6c 6c 6f" | cargo run -q -p mqtt-proto --example dissect -- --protocol 4
//! ok PUBLISH 14
//! ```
use std::io::{BufRead, Write};

use mqtt_proto::{Decoded, Decoder, ProtocolVersion};

fn parse_hex(line: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = line.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The variant name of a `Debug` rendering: `InvalidPacketType(0)` gives `InvalidPacketType`.
fn kind(debug: &str) -> &str {
    debug.split(['(', ' ', '{']).next().unwrap_or(debug)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut level = 5u8;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--protocol" | "-p" => level = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {
                eprintln!("usage: dissect --protocol 3|4|5  < hex lines");
                std::process::exit(2);
            }
        }
    }
    let Ok(version) = ProtocolVersion::from_level(level) else {
        eprintln!("dissect: --protocol must be 3, 4 or 5");
        std::process::exit(2);
    };
    let decoder = Decoder::new(version);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let result = match parse_hex(&line) {
            None => "error InvalidHex".to_string(),
            Some(bytes) => match decoder.decode(&bytes) {
                Ok(Decoded::Packet { packet, consumed }) => {
                    format!("ok {} {consumed}", packet.packet_type().name())
                }
                Ok(Decoded::Incomplete(_)) => "incomplete".to_string(),
                Err(e) => format!("error {}", kind(&format!("{e:?}"))),
            },
        };
        if writeln!(out, "{result}").is_err() {
            break;
        }
    }
}

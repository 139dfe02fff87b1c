//! The generated test PKI works with a real mosquitto TLS listener, through
//! `TlsOptions::client_config`: a plain rustls connection over `std::net::TcpStream`
//! completes the handshake and an MQTT 3.1.1 CONNECT gets its CONNACK; with
//! `require_certificate true` a client without a certificate is refused; a server
//! certificate for another host is refused; TLS 1.3-only listeners work.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use mqtt_tests::certs::TestPki;
use mqtt_tests::mosquitto::{Mosquitto, TempDir, installed};
use mqtt_transport::{Roots, TlsOptions};

/// CONNECT, MQTT 3.1.1, clean session, keep alive 60, empty client id.
const CONNECT: [u8; 14] = [
    0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
];
/// CONNACK, no session present, accepted.
const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// A mosquitto whose (only) listener speaks TLS with the PKI's server certificate.
fn tls_broker(pki: &TestPki, require_certificate: bool, tls_version: &str) -> Mosquitto {
    // No `listener` line: these settings apply to the default listener on the broker's
    // free port, which `Mosquitto` waits for.
    Mosquitto::with_config(&format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_certificate}\n\
         tls_version {tls_version}\n",
        pki.ca_pem.display(),
        pki.server_cert.display(),
        pki.server_key.display(),
    ))
}

fn trusting(pki: &TestPki) -> TlsOptions {
    TlsOptions {
        roots: Roots::CaFileOnly,
        ca_file: Some(pki.ca_pem.clone()),
        ..TlsOptions::default()
    }
}

fn with_client_cert(pki: &TestPki) -> TlsOptions {
    TlsOptions {
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        ..trusting(pki)
    }
}

/// TLS to the broker as `host`, CONNECT, read 4 bytes: the CONNACK, or the error (the
/// handshake's, or the broker closing the connection).
fn mqtt_connect(
    opts: &TlsOptions,
    host: &str,
    port: u16,
) -> Result<([u8; 4], Option<rustls::ProtocolVersion>), std::io::Error> {
    let config = opts.client_config().expect("client config");
    let name = opts.server_name(host).expect("server name");
    let mut conn = rustls::ClientConnection::new(config, name).expect("client connection");
    let mut sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(&CONNECT)?;
    tls.flush()?;
    let mut connack = [0u8; 4];
    tls.read_exact(&mut connack)?;
    Ok((connack, conn.protocol_version()))
}

#[test]
fn mosquitto_accepts_the_generated_pki_with_mutual_tls() {
    if !installed() {
        eprintln!("mosquitto is not installed; skipped");
        return;
    }
    let dir = TempDir::new("pki");
    let pki = TestPki::generate(dir.path(), &["localhost", "127.0.0.1"]);
    let broker = tls_broker(&pki, true, "tlsv1.2");

    for host in ["localhost", "127.0.0.1"] {
        let (connack, version) = mqtt_connect(&with_client_cert(&pki), host, broker.port)
            .unwrap_or_else(|e| panic!("mTLS CONNECT via {host}: {e}\n{}", broker.log()));
        assert_eq!(connack, CONNACK);
        assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
    }

    // No client certificate: the broker ends the handshake (TLS 1.3: at our first read).
    let err = mqtt_connect(&trusting(&pki), "localhost", broker.port)
        .expect_err("a client without a certificate must be refused");
    eprintln!("refused as expected: {err}");
}

#[test]
fn mosquitto_tls13_only_listener_without_client_certificates() {
    if !installed() {
        eprintln!("mosquitto is not installed; skipped");
        return;
    }
    let dir = TempDir::new("pki13");
    let pki = TestPki::generate(dir.path(), &["localhost"]);
    let broker = tls_broker(&pki, false, "tlsv1.3");
    let (connack, version) = mqtt_connect(&trusting(&pki), "localhost", broker.port)
        .unwrap_or_else(|e| panic!("TLS CONNECT: {e}\n{}", broker.log()));
    assert_eq!(connack, CONNACK);
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn mosquitto_certificate_for_another_host_is_refused() {
    if !installed() {
        eprintln!("mosquitto is not installed; skipped");
        return;
    }
    let dir = TempDir::new("pki-wrong-host");
    let pki = TestPki::generate(dir.path(), &["wrong.example"]);
    let broker = tls_broker(&pki, false, "tlsv1.2");
    let err = mqtt_connect(&trusting(&pki), "localhost", broker.port)
        .expect_err("a certificate for wrong.example must not be accepted for localhost");
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .cloned();
    assert!(
        matches!(
            inner,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
    // The same broker, asked by the name on its certificate, is accepted.
    let opts = TlsOptions {
        server_name: Some("wrong.example".into()),
        ..trusting(&pki)
    };
    let (connack, _) = mqtt_connect(&opts, "127.0.0.1", broker.port).expect("by its name");
    assert_eq!(connack, CONNACK);
}

//! A throwaway PKI for the TLS tests, generated with rcgen: a CA, a server certificate for
//! the given hosts, and a client certificate, all written as PEM files that both rustls
//! and mosquitto (`cafile`, `certfile`, `keyfile`) read.
//!
//! This file uses only `std` and `rcgen`, so a crate that cannot depend on `mqtt-tests`
//! (the transport crate's own tests) includes it with `#[path]`.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The PEM files of a test PKI, all in `dir`.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// The directory holding the files.
    pub dir: PathBuf,
    /// The CA certificate (`ca.pem`), to trust.
    pub ca_pem: PathBuf,
    /// The server certificate (`server.pem`), signed by the CA, for the given hosts.
    pub server_cert: PathBuf,
    /// The server's PKCS#8 private key (`server.key`).
    pub server_key: PathBuf,
    /// The client certificate (`client.pem`), signed by the CA, for mutual TLS.
    pub client_cert: PathBuf,
    /// The client's PKCS#8 private key (`client.key`).
    pub client_key: PathBuf,
}

impl TestPki {
    /// Generates a fresh CA (ECDSA P-256), a server certificate valid for `hosts` (DNS
    /// names or IP addresses, e.g. `["localhost", "127.0.0.1"]`) and a client certificate
    /// (CN `test-client`), and writes them to `dir` (created if missing). Panics on
    /// failure: it is test support.
    pub fn generate(dir: &Path, hosts: &[&str]) -> TestPki {
        std::fs::create_dir_all(dir).expect("create the PKI directory");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mqtt test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |names: Vec<String>, cn: &str, eku: ExtendedKeyUsagePurpose| {
            let mut p = CertificateParams::new(names).expect("leaf params");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![eku];
            p.use_authority_key_identifier_extension = true;
            let key = KeyPair::generate().expect("leaf key");
            let cert = p.signed_by(&key, &issuer).expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let host_names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let cn = hosts.first().copied().unwrap_or("server");
        let (server_pem, server_key) = leaf(host_names, cn, ExtendedKeyUsagePurpose::ServerAuth);
        let (client_pem, client_key) = leaf(
            Vec::new(),
            "test-client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let pki = TestPki {
            dir: dir.to_path_buf(),
            ca_pem: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        // World-readable, keys included: mosquitto started as root drops to the
        // `mosquitto` user before it reads them. These are throwaway test keys.
        for (path, pem) in [
            (&pki.ca_pem, ca_cert.pem()),
            (&pki.server_cert, server_pem),
            (&pki.server_key, server_key),
            (&pki.client_cert, client_pem),
            (&pki.client_key, client_key),
        ] {
            std::fs::write(path, pem).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        pki
    }
}

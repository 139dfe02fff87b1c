//! TLS for both adapters, with rustls: TLS 1.2 and 1.3 only, certificates and host names
//! verified by default, a CA file or the webpki / system roots, client certificates
//! (mutual TLS), SNI and ALPN.

use std::path::PathBuf;

/// Where trusted root certificates come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Roots {
    /// The Mozilla roots compiled in (webpki-roots); the default.
    #[default]
    WebPki,
    /// The operating system's trust store (rustls-native-certs).
    Native,
    /// None besides `ca_file`.
    CaFileOnly,
}

/// TLS settings. `Debug` shows paths, never key material.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Trusted roots (default: webpki roots).
    pub roots: Roots,
    /// A PEM file of CA certificates to trust (in addition to `roots`).
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain for mutual TLS (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// ALPN protocols to offer, e.g. `b"mqtt"` (empty: none).
    pub alpn: Vec<Vec<u8>>,
    /// The name to send as SNI and to verify the certificate against, when it differs
    /// from the URL's host.
    pub server_name: Option<String>,
    /// Accept any server certificate and host name. Never in production: it makes TLS
    /// worthless against an active attacker.
    pub dangerous_accept_any_certificate: bool,
}

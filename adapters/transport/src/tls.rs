//! TLS for both adapters, with rustls: TLS 1.2 and 1.3 only, certificates and host names
//! verified by default, a CA file or the webpki / system roots, client certificates
//! (mutual TLS), SNI and ALPN.
//!
//! Configurations are built with the ring provider passed explicitly, so they never depend
//! on a process-wide default provider being installed.
//!
//! ```no_run
//! use mqtt_transport::{Roots, TlsOptions};
//! let tls = TlsOptions {
//!     roots: Roots::CaFileOnly,
//!     ca_file: Some("/etc/mqtt/ca.pem".into()),
//!     alpn: vec![b"mqtt".to_vec()],
//!     ..TlsOptions::default()
//! };
//! let config = tls.client_config()?; // Arc<rustls::ClientConfig>
//! let name = tls.server_name("broker.example")?; // SNI and the name checked
//! let conn = rustls::ClientConnection::new(config, name);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

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

/// Why a TLS configuration could not be built. `Display` names the file and what is wrong
/// with it; it never prints key material.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    ReadFile {
        /// What the file is for ("CA file", "client certificate", "client key").
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid PEM (a section without an end, bad base64, ...).
    BadPem {
        /// What the file is for.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong, without the file's content.
        reason: &'static str,
    },
    /// A CA file or client certificate file holds no `CERTIFICATE` section.
    NoCertificate {
        /// What the file is for.
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
    /// A certificate in the CA file cannot be a trust anchor (not a parsable X.509
    /// certificate).
    BadCaCertificate {
        /// The CA file.
        path: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// The client key file holds no private key (PKCS#8, PKCS#1 or SEC1).
    NoPrivateKey {
        /// The key file.
        path: PathBuf,
    },
    /// The client key is of a type the crypto provider does not support.
    BadClientKey {
        /// The key file.
        path: PathBuf,
        /// rustls's reason (never the key itself).
        reason: String,
    },
    /// The client key is not the key of the client certificate.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A client certificate without a key, or a key without a certificate.
    IncompleteClientAuth {
        /// Which of the two is missing: "client_cert" or "client_key".
        missing: &'static str,
    },
    /// The host name (or `server_name` override) is neither a DNS name nor an IP address.
    InvalidServerName {
        /// The name given.
        name: String,
    },
    /// No trusted root at all: `Roots::CaFileOnly` without a CA file, or an empty system
    /// trust store and no CA file.
    NoRoots {
        /// Why there are none.
        detail: String,
    },
    /// rustls refused the configuration for another reason.
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::ReadFile { what, path, source } => {
                write!(f, "cannot read the {what} {}: {source}", path.display())
            }
            TlsError::BadPem { what, path, reason } => {
                write!(
                    f,
                    "the {what} {} is not valid PEM: {reason}",
                    path.display()
                )
            }
            TlsError::NoCertificate { what, path } => write!(
                f,
                "the {what} {} contains no PEM certificate (BEGIN CERTIFICATE)",
                path.display()
            ),
            TlsError::BadCaCertificate { path, reason } => write!(
                f,
                "a certificate in the CA file {} cannot be trusted as a root: {reason}",
                path.display()
            ),
            TlsError::NoPrivateKey { path } => write!(
                f,
                "the client key file {} contains no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                path.display()
            ),
            TlsError::BadClientKey { path, reason } => write!(
                f,
                "the client key in {} is not usable: {reason}",
                path.display()
            ),
            TlsError::KeyMismatch { cert, key } => write!(
                f,
                "the client key {} does not belong to the client certificate {}",
                key.display(),
                cert.display()
            ),
            TlsError::IncompleteClientAuth { missing } => write!(
                f,
                "mutual TLS needs both client_cert and client_key; {missing} is missing"
            ),
            TlsError::InvalidServerName { name } => write!(
                f,
                "invalid TLS server name {name:?}: neither a DNS name nor an IP address"
            ),
            TlsError::NoRoots { detail } => {
                write!(f, "no trusted root certificates: {detail}")
            }
            TlsError::Rustls(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::ReadFile { source, .. } => Some(source),
            TlsError::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

/// The crypto provider every configuration here uses: ring (the workspace's choice, see
/// its Cargo.toml). rustls 0.23.48 deprecates ring's `default_provider` because ring has
/// no post-quantum key exchange; aws-lc-rs would need cmake and a C toolchain.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsOptions {
    /// Builds the rustls client configuration: TLS 1.3 and 1.2, the chosen roots plus the
    /// CA file, the client certificate if configured, ALPN. Build it once and share the
    /// `Arc` between connections (it holds the session resumption cache).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Rustls)?;
        let builder = if self.dangerous_accept_any_certificate {
            tracing::warn!(
                "TLS certificate and host name verification is OFF \
                 (dangerous_accept_any_certificate): any server, or anyone in between, is accepted"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let mut config = match (&self.client_cert, &self.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(TlsError::IncompleteClientAuth {
                    missing: "client_key",
                });
            }
            (None, Some(_)) => {
                return Err(TlsError::IncompleteClientAuth {
                    missing: "client_cert",
                });
            }
            (Some(cert_path), Some(key_path)) => {
                let chain = read_certs("client certificate", cert_path)?;
                let key = read_key(key_path)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| match e {
                        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                            cert: cert_path.clone(),
                            key: key_path.clone(),
                        },
                        other => TlsError::BadClientKey {
                            path: key_path.clone(),
                            reason: other.to_string(),
                        },
                    })?
            }
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    /// The name to send as SNI and to check the server's certificate against: the
    /// `server_name` override, else `url_host` (an IP address, with or without IPv6
    /// brackets, gives an IP name: no SNI, the certificate's IP SAN is checked).
    pub fn server_name(&self, url_host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(url_host);
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName {
            name: name.to_owned(),
        })
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut store = RootCertStore::empty();
        let mut no_roots_detail = String::new();
        match self.roots {
            Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::Native => {
                let found = rustls_native_certs::load_native_certs();
                for e in &found.errors {
                    tracing::warn!("loading the system trust store: {e}");
                }
                let (added, ignored) = store.add_parsable_certificates(found.certs);
                if ignored > 0 {
                    tracing::warn!("{ignored} unparsable certificates in the system trust store");
                }
                if added == 0 {
                    no_roots_detail = format!(
                        "the system trust store has none ({} errors loading it)",
                        found.errors.len()
                    );
                }
            }
            Roots::CaFileOnly => no_roots_detail = "Roots::CaFileOnly without a ca_file".into(),
        }
        if let Some(path) = &self.ca_file {
            for cert in read_certs("CA file", path)? {
                store.add(cert).map_err(|e| TlsError::BadCaCertificate {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        if store.is_empty() {
            return Err(TlsError::NoRoots {
                detail: no_roots_detail,
            });
        }
        Ok(store)
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// A description of a PEM error that cannot echo the file's content.
fn pem_reason(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { .. } => "a section has no END line",
        E::IllegalSectionStart { .. } => "a malformed BEGIN line",
        E::Base64Decode(_) => "bad base64 in a section",
        E::Io(_) => "read error",
        E::NoItemsFound => "no section of the expected kind",
        E::SectionTooLarge => "a section is too large",
        _ => "unreadable PEM",
    }
}

fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file("client key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        e => TlsError::BadPem {
            what: "client key",
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        },
    })
}

/// The verifier behind `dangerous_accept_any_certificate`: any certificate and name are
/// accepted, but the handshake signatures are still checked against the presented
/// certificate (so the peer must at least hold its key).
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

//! Broker addresses: `mqtt://`, `mqtts://`, `ws://` and `wss://` URLs, lists of them, and
//! the 5.0 Server Reference a server may redirect us to.

use core::fmt;
use core::str::FromStr;

/// How the MQTT byte stream travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP (`mqtt://`, also `tcp://`), default port 1883.
    Mqtt,
    /// TCP with TLS (`mqtts://`, also `ssl://`, `tls://`), default port 8883.
    Mqtts,
    /// WebSocket (`ws://`), sub-protocol "mqtt", default port 80.
    Ws,
    /// WebSocket over TLS (`wss://`), default port 443.
    Wss,
}

impl Scheme {
    /// The port used when the URL gives none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether this scheme runs over TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether this scheme runs over WebSocket.
    pub const fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }
}

/// Why a broker address could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not one of mqtt, mqtts, ws, wss (or tcp, ssl, tls).
    UnknownScheme(String),
    /// No host between `://` and the port or path.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort(String),
    /// User information (`user:password@`) in the URL: pass credentials in the options,
    /// so they never travel in a string that ends up in logs.
    CredentialsInUrl,
    /// A path, query or fragment on an mqtt/mqtts URL, which has no use for one.
    UnexpectedPath(String),
    /// An empty list.
    Empty,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::UnknownScheme(s) => write!(
                f,
                "unknown URL scheme {s:?} (expected mqtt, mqtts, ws or wss)"
            ),
            UrlError::MissingHost => f.write_str("the URL has no host"),
            UrlError::InvalidPort(p) => write!(f, "invalid port {p:?}"),
            UrlError::CredentialsInUrl => f.write_str(
                "credentials in the URL are not accepted: give the user name and password as options",
            ),
            UrlError::UnexpectedPath(p) => {
                write!(f, "unexpected path {p:?} on an mqtt/mqtts URL")
            }
            UrlError::Empty => f.write_str("no broker address given"),
        }
    }
}

impl std::error::Error for UrlError {}

/// One broker address.
///
/// ```
/// use mqtt_transport::url::{BrokerUrl, Scheme};
/// let u: BrokerUrl = "mqtts://broker.example:8884".parse().unwrap();
/// assert_eq!((u.scheme, u.host.as_str(), u.port), (Scheme::Mqtts, "broker.example", 8884));
/// let w: BrokerUrl = "ws://[::1]/ws".parse().unwrap();
/// assert_eq!((w.host.as_str(), w.port, w.path.as_str()), ("::1", 80, "/ws"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// WebSocket path (default `/mqtt`); empty for mqtt/mqtts.
    pub path: String,
}

impl BrokerUrl {
    /// Parses `scheme://host[:port][/path]`. A bare `host[:port]` means `mqtt://`.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, rest)) => {
                let scheme = match sch.to_ascii_lowercase().as_str() {
                    "mqtt" | "tcp" => Scheme::Mqtt,
                    "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
                    "ws" => Scheme::Ws,
                    "wss" => Scheme::Wss,
                    _ => return Err(UrlError::UnknownScheme(sch.to_string())),
                };
                (scheme, rest)
            }
            None => (Scheme::Mqtt, s),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(UrlError::CredentialsInUrl);
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => parse_port(p)?,
            None => scheme.default_port(),
        };
        let path = if scheme.is_websocket() {
            if path.is_empty() { "/mqtt" } else { path }.to_string()
        } else if path.is_empty() || path == "/" {
            String::new()
        } else {
            return Err(UrlError::UnexpectedPath(path.to_string()));
        };
        Ok(BrokerUrl {
            scheme,
            host: host.to_string(),
            port,
            path,
        })
    }

    /// Parses a comma- or whitespace-separated list of broker addresses, tried in turn.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, UrlError> {
        let list = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(BrokerUrl::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(UrlError::Empty);
        }
        Ok(list)
    }

    /// The addresses of a 5.0 Server Reference (a space-separated list of `host[:port]`,
    /// or full URLs), relative to the address we are connected to: scheme and path are
    /// kept, and so is the port when the reference names none.
    pub fn parse_server_reference(
        reference: &str,
        current: &BrokerUrl,
    ) -> Result<Vec<Self>, UrlError> {
        let list = reference
            .split_whitespace()
            .map(|r| {
                if r.contains("://") {
                    BrokerUrl::parse(r)
                } else {
                    let (host, port) = split_host_port(r)?;
                    Ok(BrokerUrl {
                        scheme: current.scheme,
                        host: host.to_string(),
                        port: match port {
                            Some(p) => parse_port(p)?,
                            None => current.port,
                        },
                        path: current.path.clone(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(UrlError::Empty);
        }
        Ok(list)
    }

    /// `host:port` for connecting a socket (IPv6 in brackets).
    pub fn socket_addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UrlError::MissingHost)?;
        match after {
            "" => (host, None),
            p => (
                host,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| UrlError::InvalidPort(p.to_string()))?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, UrlError> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort(p.to_string())),
        Ok(n) => Ok(n),
    }
}

impl FromStr for BrokerUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, UrlError> {
        BrokerUrl::parse(s)
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        f.write_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_paths() {
        let cases = [
            ("mqtt://h", Scheme::Mqtt, "h", 1883, ""),
            ("tcp://h:1", Scheme::Mqtt, "h", 1, ""),
            ("h:7", Scheme::Mqtt, "h", 7, ""),
            ("mqtts://h", Scheme::Mqtts, "h", 8883, ""),
            ("ssl://h/", Scheme::Mqtts, "h", 8883, ""),
            ("ws://h", Scheme::Ws, "h", 80, "/mqtt"),
            ("wss://h:9/x/y", Scheme::Wss, "h", 9, "/x/y"),
            ("mqtt://[::1]:5", Scheme::Mqtt, "::1", 5, ""),
            ("MQTT://127.0.0.1", Scheme::Mqtt, "127.0.0.1", 1883, ""),
        ];
        for (s, scheme, host, port, path) in cases {
            let u = BrokerUrl::parse(s).unwrap();
            assert_eq!(
                (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
                (scheme, host, port, path),
                "{s}"
            );
            assert_eq!(
                BrokerUrl::parse(&u.to_string()).unwrap(),
                u,
                "display of {s}"
            );
        }
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            BrokerUrl::parse("http://h"),
            Err(UrlError::UnknownScheme(_))
        ));
        assert_eq!(BrokerUrl::parse("mqtt://:1"), Err(UrlError::MissingHost));
        assert!(matches!(
            BrokerUrl::parse("mqtt://h:0"),
            Err(UrlError::InvalidPort(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("mqtt://h:x"),
            Err(UrlError::InvalidPort(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("mqtt://h:70000"),
            Err(UrlError::InvalidPort(_))
        ));
        assert_eq!(
            BrokerUrl::parse("mqtt://u:secret@h"),
            Err(UrlError::CredentialsInUrl)
        );
        assert!(matches!(
            BrokerUrl::parse("mqtt://h/p"),
            Err(UrlError::UnexpectedPath(_))
        ));
        assert_eq!(BrokerUrl::parse_list(" , "), Err(UrlError::Empty));
        // The error text never echoes a password.
        let e = BrokerUrl::parse("mqtt://u:secret@h")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"));
    }

    #[test]
    fn lists_and_server_references() {
        let l = BrokerUrl::parse_list("mqtt://a:1, mqtts://b ws://c").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].scheme, Scheme::Mqtts);
        let cur = BrokerUrl::parse("wss://a:444/m").unwrap();
        let r = BrokerUrl::parse_server_reference("b c:5 [::1]:6 mqtt://d", &cur).unwrap();
        assert_eq!(r[0].to_string(), "wss://b:444/m");
        assert_eq!(r[1].to_string(), "wss://c:5/m");
        assert_eq!(r[2].to_string(), "wss://[::1]:6/m");
        assert_eq!(r[3].to_string(), "mqtt://d:1883");
    }
}

//! Errors of commands: the caller's fault, or capacity. The session is unchanged.

use mqtt_proto::{EncodeError, TopicFilter, TopicName};

/// Why a command was refused. Nothing changed in the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The packet could not be built (invalid topic or filter, string too long, ...).
    Encode(EncodeError),
    /// The packet exceeds the server's Maximum Packet Size [MQTT-3.2.2-15].
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The server's limit.
        max: u32,
    },
    /// QoS above the server's Maximum QoS [MQTT-3.2.2-11].
    QoSNotSupported,
    /// Retain requested but the server has none [MQTT-3.2.2-14].
    RetainNotSupported,
    /// QoS 0 while disconnected (and offline queueing of QoS 0 is off).
    NotConnected,
    /// Capacity: the outgoing table or the store is full. Retry after completions.
    Full,
    /// `ack` with a token that names no pending incoming message.
    UnknownToken,
    /// The command needs MQTT 5.0.
    NotInVersion,
    /// `auth` without an authentication method in the configuration.
    NoAuthMethod,
}

impl Error {
    /// True for capacity errors, which clear as operations complete.
    pub const fn is_capacity(&self) -> bool {
        matches!(self, Error::Full)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Encode(e) => write!(f, "cannot encode: {e}"),
            Error::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the server maximum {max}")
            }
            Error::QoSNotSupported => f.write_str("QoS above the server's maximum"),
            Error::RetainNotSupported => {
                f.write_str("the server does not support retained messages")
            }
            Error::NotConnected => f.write_str("not connected"),
            Error::Full => f.write_str("outgoing table or store full"),
            Error::UnknownToken => f.write_str("no pending message with this token"),
            Error::NotInVersion => f.write_str("needs MQTT 5.0"),
            Error::NoAuthMethod => f.write_str("no authentication method configured"),
        }
    }
}

impl core::error::Error for Error {}

/// `name` checked into a [`TopicName`]; a refused one is `Encode(InvalidTopicName)`, the
/// error the session and every adapter report for a topic name given as a string.
pub fn topic_name(name: &str) -> Result<TopicName<'_>, Error> {
    TopicName::new(name).map_err(|_| Error::Encode(EncodeError::InvalidTopicName))
}

/// `filter` checked into a [`TopicFilter`]; a refused one is `Encode(InvalidTopicFilter)`,
/// the error every adapter reports for a topic filter given as a string.
pub fn topic_filter(filter: &str) -> Result<TopicFilter<'_>, Error> {
    TopicFilter::new(filter).map_err(|_| Error::Encode(EncodeError::InvalidTopicFilter))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings that break the topic rules map to the one encode error each.
    #[test]
    fn topic_strings_map_to_encode_errors() {
        assert_eq!(topic_name("a/b").map(|t| t.as_str()), Ok("a/b"));
        for bad in ["", "a/+", "#", "a\0"] {
            assert_eq!(
                topic_name(bad),
                Err(Error::Encode(EncodeError::InvalidTopicName)),
                "{bad:?}"
            );
        }
        assert_eq!(topic_filter("a/+/#").map(|t| t.as_str()), Ok("a/+/#"));
        for bad in ["", "a#", "a/#/b", "$share/g"] {
            assert_eq!(
                topic_filter(bad),
                Err(Error::Encode(EncodeError::InvalidTopicFilter)),
                "{bad:?}"
            );
        }
    }
}

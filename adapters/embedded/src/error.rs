//! The adapter's own error.

/// Why driving the session failed. Transport failures are not errors of the adapter:
/// they end the connection, the session reports `ConnectionLost` and reconnects per its
/// policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The transmit buffer given to the client is smaller than the next packet, which
    /// needs `required` bytes. Nothing was lost: give a larger buffer (or send smaller
    /// packets). The session keeps the packet until it fits.
    TxBufferTooSmall {
        /// Bytes the next packet needs.
        required: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::TxBufferTooSmall { required } => {
                write!(
                    f,
                    "transmit buffer too small: the next packet needs {required} bytes"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

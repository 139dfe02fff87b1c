//! Opening and closing the transport when the session asks ([`mqtt_session::Event::OpenTransport`],
//! [`mqtt_session::Event::CloseTransport`]).
//!
//! The client owns the transport value `T` for its whole life; a connector (re)opens it
//! in place. That fits embedded stacks, where one socket object with fixed buffers is
//! connected again and again (`embassy_net::tcp::TcpSocket::connect` / `close`), as
//! well as a modem behind a UART (dial with AT commands, hang up) or a bare UART link
//! (nothing to do: [`AlwaysOpen`]). When and how often to reconnect is the session's
//! business (its reconnect policy, backoff and jitter); the connector only does it.

/// Opens and closes an async transport `T`.
#[allow(async_fn_in_trait)]
pub trait Connector<T> {
    /// Why opening failed (logged, then reported to the session as a transport failure).
    type Error: core::fmt::Debug;

    /// Opens `transport` (connect the socket, dial the modem...). On `Err`, the session
    /// counts a failed attempt and schedules the next one.
    ///
    /// The future is raced against the session's connect timeout and dropped if that
    /// fires first, so it must be safe to drop midway.
    async fn connect(&mut self, transport: &mut T) -> Result<(), Self::Error>;

    /// Closes `transport`. Called after the session's last bytes (a DISCONNECT) were
    /// written and flushed, and after a read or write error. The default does nothing.
    async fn close(&mut self, transport: &mut T) {
        let _ = transport;
    }
}

/// Opens and closes a blocking transport `T`.
pub trait BlockingConnector<T> {
    /// Why opening failed.
    type Error: core::fmt::Debug;

    /// Opens `transport`. It should give up by itself within the session's connect
    /// timeout: a blocking call cannot be interrupted by the adapter.
    fn connect(&mut self, transport: &mut T) -> Result<(), Self::Error>;

    /// Closes `transport`. The default does nothing.
    fn close(&mut self, transport: &mut T) {
        let _ = transport;
    }
}

/// A connector for links that are always open, such as a UART straight to the broker
/// (or to a transparent bridge): connecting and closing do nothing.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlwaysOpen;

impl<T> Connector<T> for AlwaysOpen {
    type Error = core::convert::Infallible;

    async fn connect(&mut self, _: &mut T) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<T> BlockingConnector<T> for AlwaysOpen {
    type Error = core::convert::Infallible;

    fn connect(&mut self, _: &mut T) -> Result<(), Self::Error> {
        Ok(())
    }
}

//! What the async and blocking clients share: reading the session's events and telling
//! adapter requests apart from application events.

use mqtt_session::{Event, Session, Store};

/// What the adapter must do after draining events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// No more events.
    Idle,
    /// The session asked for a transport.
    Open,
    /// The session asked to close the transport.
    Close,
}

/// Hands every application event to `on_event` until the session has none left or asks
/// the adapter for something.
pub(crate) fn next_action<S, B, F, const OUT: usize, const IN: usize>(
    session: &mut Session<S, B, OUT, IN>,
    on_event: &mut F,
) -> Action
where
    S: Store,
    B: AsRef<[u8]> + AsMut<[u8]>,
    F: FnMut(Event<'_>),
{
    while let Some(ev) = session.poll_event() {
        match ev {
            Event::OpenTransport => return Action::Open,
            Event::CloseTransport => return Action::Close,
            ev => {
                log_event(&ev);
                on_event(ev);
            }
        }
    }
    Action::Idle
}

/// Logs lifecycle events (never payloads).
fn log_event(ev: &Event<'_>) {
    match ev {
        Event::Connected { session_present } => {
            info!("mqtt: connected (session present: {})", session_present)
        }
        Event::ConnectionLost { reason } => warn!("mqtt: connection lost: {}", reason),
        Event::ReconnectScheduled { at, attempt } => {
            debug!("mqtt: reconnect {} at {} ms", attempt, at.as_millis())
        }
        Event::Stopped { reason } => warn!("mqtt: stopped: {}", reason),
        Event::Lost { token, reason } => warn!("mqtt: operation {} lost: {}", token.0, reason),
        Event::Message(m) => trace!("mqtt: message on {} ({} bytes)", m.topic, m.payload.len()),
        _ => {}
    }
}

/// The racing of two futures, first one wins (the loser is dropped).
pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// Polls `a` then `b` until one completes; the other is dropped.
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = core::pin::pin!(a);
    let mut b = core::pin::pin!(b);
    core::future::poll_fn(|cx| {
        if let core::task::Poll::Ready(x) = a.as_mut().poll(cx) {
            return core::task::Poll::Ready(Either::First(x));
        }
        if let core::task::Poll::Ready(y) = b.as_mut().poll(cx) {
            return core::task::Poll::Ready(Either::Second(y));
        }
        core::task::Poll::Pending
    })
    .await
}

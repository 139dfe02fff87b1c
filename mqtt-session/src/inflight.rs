//! The inflight tables: the ordered outbox of our operations and the inbox of the
//! server's QoS 1/2 messages still owed an acknowledgement.
//!
//! Outbox, one entry per operation, in the order the caller issued them:
//!
//! ```text
//! PUBLISH QoS 0 : Pending -> (sent) removed
//! PUBLISH QoS 1 : Pending -> AwaitAck --PUBACK--> Done
//! PUBLISH QoS 2 : Pending -> AwaitAck --PUBREC--> AwaitComp --PUBCOMP--> Done
//!                                      (PUBREC >= 0x80 -> Done)
//! SUBSCRIBE / UNSUBSCRIBE / resubscribe : Pending -> AwaitAck --SUBACK/UNSUBACK--> Done
//! on reconnect with session present : AwaitAck -> Pending{dup}, AwaitComp -> RelPending
//! ```
//!
//! Offline queueing, flow control and resending are all the same thing here: an
//! entry that is `Pending` is sent as soon as the connection and the send quota allow.

use mqtt_proto::QoS;

use crate::event::{LossReason, Token};

/// What an outbox entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum OutKind {
    Publish(QoS),
    /// `sub_base..sub_base + count` are the subscription records it created.
    Subscribe {
        count: u16,
        sub_base: u32,
    },
    Unsubscribe {
        count: u16,
    },
    /// A remembered subscription sent again after the server lost our session.
    Resubscribe {
        sub_seq: u32,
    },
}

/// Where an outbox entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum OutState {
    /// Not sent on this connection; `dup`: sent on an earlier one.
    Pending { dup: bool },
    /// Sent; waiting for PUBACK, PUBREC, SUBACK or UNSUBACK.
    AwaitAck,
    /// QoS 2 after PUBREC, PUBREL to be sent again on this connection.
    RelPending,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    AwaitComp,
    /// Finished and reported; removed once it reaches the front.
    Done,
    /// Will never complete; reported by `poll_event`, then Done.
    Lost(LossReason),
}

/// One operation of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct OutEntry {
    /// Store key `Key::Out(seq)` (not used by resubscribe).
    pub seq: u32,
    pub token: Token,
    /// Packet id; 0 for QoS 0.
    pub pid: u16,
    pub kind: OutKind,
    pub state: OutState,
}

impl OutEntry {
    /// A QoS 1/2 PUBLISH, which counts against the server's Receive Maximum once sent.
    pub fn is_acked_publish(&self) -> bool {
        matches!(self.kind, OutKind::Publish(q) if q != QoS::AtMostOnce)
    }

    /// Counts against the send quota now.
    pub fn holds_quota(&self) -> bool {
        self.is_acked_publish()
            && matches!(
                self.state,
                OutState::AwaitAck | OutState::RelPending | OutState::AwaitComp
            )
    }

    /// The store record this operation owns and drops when it ends. A resubscribe sends a
    /// remembered subscription's record, which stays.
    pub fn own_record(&self) -> Option<crate::store::Key> {
        match self.kind {
            OutKind::Resubscribe { .. } => None,
            _ => Some(crate::store::Key::Out(self.seq)),
        }
    }

    /// Still holds its packet id.
    pub fn holds_pid(&self) -> bool {
        self.pid != 0 && !matches!(self.state, OutState::Done | OutState::Lost(_))
    }
}

/// One QoS 1/2 message from the server not yet fully acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct InEntry {
    pub pid: u16,
    pub qos: QoS,
    pub token: Token,
    pub stage: InStage,
    /// A QoS 2 exchange carried over from an earlier connection (PUBREC sent before it
    /// ended): the server resends only the PUBREL, so on this connection the entry does
    /// not use the server's send quota towards us (5.0 §4.9).
    pub carried: bool,
}

/// Where an incoming message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) enum InStage {
    /// Manual ack: delivered, waiting for the caller's `ack` (`acked` once it came, but
    /// an earlier message still holds the ack order).
    AwaitApp { acked: bool },
    /// QoS 2: PUBREC sent, waiting for PUBREL.
    AwaitPubRel,
}

//! What a bridge asks the engine to do.

use crate::event::Side;
use crate::outcome::Outcome;

/// One thing for the engine to carry out, in the order given: it builds and sends the SIP
/// messages and moves the media, the bridge only decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send 180 (`early_media_from: None`) or 183 with our SDP (`Some(leg)`: relay that
    /// leg's early media to the caller). Only one leg's early media is relayed at a time.
    ProgressCaller {
        /// 180 or 183.
        status: u16,
        /// The leg whose early media to relay, if any.
        early_media_from: Option<usize>,
    },
    /// Send 200 with our SDP to the caller and bridge media caller <-> leg. It replaces any
    /// early-media relay from the same leg.
    AnswerCaller {
        /// The winning leg.
        leg: usize,
    },
    /// ACK the leg's 2xx (also a retransmitted one: the callee repeats it until it gets one).
    Ack {
        /// The leg.
        leg: usize,
    },
    /// A 2xx we do not want (a losing branch, a 200 crossing our CANCEL, the caller gone):
    /// ACK it, then BYE it, so the callee is never left in a call nobody hears.
    AckAndBye {
        /// The leg.
        leg: usize,
    },
    /// CANCEL a leg that has no final response yet (the transaction layer defers it until a
    /// provisional arrived, RFC 3261 §9.1).
    Cancel {
        /// The leg.
        leg: usize,
    },
    /// BYE the bridged leg.
    Bye {
        /// The leg.
        leg: usize,
    },
    /// BYE the answered caller.
    ByeCaller,
    /// Final error to the caller's INVITE: 487 after a CANCEL (or a BYE on the early dialog).
    /// Failed attempts are [`Action::Failed`] instead, so the engine may try elsewhere.
    RejectCaller {
        /// The status to send.
        status: u16,
    },
    /// Send a session refresh (re-INVITE) on that side.
    Refresh {
        /// The side.
        side: Side,
    },
    /// Stop relaying the early media announced by the last `ProgressCaller { early_media_from:
    /// Some(leg) }`: that leg failed, was cancelled or lost. The caller stays in early state.
    StopEarlyMedia,
    /// No leg answered and the caller is still there: the engine decides what comes next
    /// (another destination, or reject with [`Outcome::status`]). The bridge is over.
    Failed(Outcome),
    /// The call is over on every leg that matters to the caller; emitted exactly once, for
    /// the call record. Stray legs may still settle afterwards, see [`crate::Bridge::is_ended`].
    Ended {
        /// Why it ended.
        reason: EndReason,
    },
}

/// Why a bridge ended, for the call record and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The caller sent BYE (or BYE on the early dialog).
    CallerHangup,
    /// The bridged leg sent BYE.
    CalleeHangup,
    /// The caller sent CANCEL before the answer.
    CallerCancel,
    /// The caller never ACKed our 2xx.
    NoAck,
    /// The bridged leg stopped answering in-dialog requests (timeout, 408, 481).
    LegDied,
    /// A session timer expired or a refresh failed (RFC 4028).
    SessionExpired,
    /// A side that should send RTP sent none for the configured time.
    MediaTimeout,
    /// Nobody answered: every leg timed out, or the ring timeout fired.
    NoAnswer,
    /// A leg was busy (486, 600).
    Busy,
    /// The legs refused otherwise; the status is the one chosen for the caller, unmapped.
    Unavailable(u16),
}

impl EndReason {
    /// A stable name for call records and metrics labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndReason::CallerHangup => "caller-bye",
            EndReason::CalleeHangup => "callee-bye",
            EndReason::CallerCancel => "cancel",
            EndReason::NoAck => "no-ack",
            EndReason::LegDied => "leg-died",
            EndReason::SessionExpired => "session-expired",
            EndReason::MediaTimeout => "rtp-timeout",
            EndReason::NoAnswer => "no-answer",
            EndReason::Busy => "busy",
            EndReason::Unavailable(_) => "unavailable",
        }
    }
}

impl From<Outcome> for EndReason {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Busy => EndReason::Busy,
            Outcome::NoAnswer => EndReason::NoAnswer,
            Outcome::Unavailable(status) => EndReason::Unavailable(status),
        }
    }
}

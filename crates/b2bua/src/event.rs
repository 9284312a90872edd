//! What the engine reports to a bridge.

use std::time::Duration;

/// One side of a bridged call, for the things both sides have: session timers and refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Leg A, the INVITE we received.
    Caller,
    /// Outgoing leg `n`; only the winner has a session worth timing.
    Leg(usize),
}

/// Something that happened to the call, on the wire or on the engine's clock.
///
/// Legs are the indices `0..legs` given to [`crate::Bridge::new`]; an event naming any other
/// leg is an engine bug and is ignored without any action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A 101..199 on a leg. `sdp`: it carries an SDP body, i.e. the leg offers early media.
    /// 100 Trying is accepted and never passed on: it only stops retransmissions.
    Provisional {
        /// The leg it came on.
        leg: usize,
        /// Its status code.
        status: u16,
        /// Whether it carries SDP (early media).
        sdp: bool,
    },
    /// A 2xx on the leg's dialog: its first one, or a retransmission of it (re-ACKed).
    Answered {
        /// The leg it came on.
        leg: usize,
    },
    /// A 2xx that opens a second dialog on a leg that already answered (another To-tag: a
    /// forking proxy behind the leg). Added because the bridge cannot tell it from a
    /// retransmission, yet it must be hung up, never re-ACKed only (RFC 3261 §13.2.2.4).
    /// On a leg with no 2xx yet it is that leg's first, and taken as [`Event::Answered`].
    ForkedAnswer {
        /// The leg it came on.
        leg: usize,
    },
    /// A final 3xx-6xx on a leg.
    Failed {
        /// The leg it came on.
        leg: usize,
        /// Its status code.
        status: u16,
    },
    /// Before the answer: Timer B, a transport error, or no final response 64*T1 after our
    /// CANCEL. After it: an in-dialog request (BYE, re-INVITE) timed out or got 408/481.
    LegTimeout {
        /// The leg it happened on.
        leg: usize,
    },
    /// A BYE from a leg, already answered 200 by the engine.
    LegBye {
        /// The leg it came on.
        leg: usize,
    },
    /// A CANCEL from the caller before our final answer; the engine answered it 200 and
    /// sends 487 to the INVITE when told to.
    CallerCancel,
    /// A BYE from the caller, already answered 200; may come before its ACK. Before our
    /// answer (a BYE on the early dialog, RFC 3261 §15) it is taken like a CANCEL.
    CallerBye,
    /// The ACK for our 2xx to the caller.
    CallerAck,
    /// No ACK came for our 2xx (Timer L): the caller's side of the session never started.
    CallerAckTimeout,
    /// RFC 4028 negotiated (or renegotiated) on a side after the answer. We either refresh
    /// at `interval / 2` or expect the peer to refresh before
    /// `interval - min(32 s, interval / 3)`. A zero `interval` turns the side's timer off
    /// (a refresh without `Session-Expires`).
    SessionTimer {
        /// The side it was negotiated on.
        side: Side,
        /// The session interval (Session-Expires).
        interval: Duration,
        /// Whether we are the refresher on that side.
        we_refresh: bool,
    },
    /// A session refresh succeeded on a side: the peer's re-INVITE/UPDATE arrived, or ours
    /// got a 2xx. The session interval starts over.
    Refreshed {
        /// The side it succeeded on.
        side: Side,
    },
    /// Our refresh on a side timed out or got 408/481 (RFC 4028 §10): the session is gone.
    /// Added so a failed caller-side refresh has a name; on the winning leg it is the same.
    RefreshFailed {
        /// The side it failed on.
        side: Side,
    },
    /// No RTP from a side for the configured time while it should send (the relay's
    /// silence watch): its phone is gone without a BYE, so the call is hung up both ways.
    MediaTimeout {
        /// The silent side.
        side: Side,
    },
    /// Time passed: the ring timeout and session timers are checked (and only here, so the
    /// engine alone decides the order of simultaneous events).
    Tick,
}

impl Event {
    /// The outgoing leg the event names, so out-of-range indices are refused in one place.
    pub(crate) fn leg(&self) -> Option<usize> {
        match *self {
            Event::Provisional { leg, .. }
            | Event::Answered { leg }
            | Event::ForkedAnswer { leg }
            | Event::Failed { leg, .. }
            | Event::LegTimeout { leg }
            | Event::LegBye { leg } => Some(leg),
            Event::SessionTimer { side, .. }
            | Event::Refreshed { side }
            | Event::RefreshFailed { side }
            | Event::MediaTimeout { side } => match side {
                Side::Leg(leg) => Some(leg),
                Side::Caller => None,
            },
            Event::CallerCancel
            | Event::CallerBye
            | Event::CallerAck
            | Event::CallerAckTimeout
            | Event::Tick => None,
        }
    }
}

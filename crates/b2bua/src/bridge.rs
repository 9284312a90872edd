//! The bridge: one call's phase and legs, and the entry points the engine drives.

use std::time::{Duration, Instant};

use crate::action::{Action, EndReason};
use crate::answered::Answered;
use crate::event::Event;
use crate::leg::Legs;
use crate::ringing::Ringing;

/// One call through the B2BUA: the caller's leg and the outgoing legs it may be bridged to.
/// Drive it with [`Bridge::handle`]; re-arm the engine's timer to [`Bridge::poll_timeout`].
#[derive(Debug)]
pub struct Bridge {
    legs: Legs,
    phase: Phase,
}

/// Where the call stands, for logs, metrics and the engine's own choices (e.g. whether a
/// re-INVITE from the caller can be taken yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for an answer; the caller may have been told 180.
    Ringing,
    /// Waiting for an answer while a leg's early media is relayed to the caller.
    EarlyMedia,
    /// A leg answered and is bridged to the caller.
    Answered,
    /// `Ended` was emitted; stray legs may still settle (see [`Bridge::is_ended`]).
    Ended,
}

/// The phases of a call; each holds only what it needs, and a transition consumes the old
/// phase so nothing of a past state can be used by mistake.
#[derive(Debug)]
pub(crate) enum Phase {
    Ringing(Ringing),
    Answered(Answered),
    Over(Over),
}

/// After `Ended`: only stray 2xx are still answered (ACK, or ACK and BYE).
#[derive(Debug)]
pub(crate) struct Over {
    winner: Option<usize>,
}

/// The only way into [`Phase::Over`], so `Ended` is emitted exactly once.
pub(crate) fn end(winner: Option<usize>, reason: EndReason, out: &mut Vec<Action>) -> Phase {
    out.push(Action::Ended { reason });
    Phase::Over(Over { winner })
}

impl Over {
    fn handle(self, event: Event, legs: &mut Legs, out: &mut Vec<Action>) -> Phase {
        match event {
            Event::Answered { leg } => legs.unwanted_answer(leg, out),
            Event::ForkedAnswer { leg } => out.push(Action::AckAndBye { leg }),
            Event::Failed { leg, .. } | Event::LegTimeout { leg } => {
                legs.finish(leg);
            }
            _ => {}
        }
        Phase::Over(self)
    }
}

impl Bridge {
    /// `legs` outgoing INVITEs have just been sent. `ring_timeout`: give up after this long
    /// without an answer (`None`: wait for the legs' own timeouts). With no legs at all the
    /// attempt fails with [`crate::Outcome::NoAnswer`] at the first event (`poll_timeout` is
    /// `now`), so a bad target list still ends like any other call.
    pub fn new(now: Instant, legs: usize, ring_timeout: Option<Duration>) -> Bridge {
        Bridge {
            legs: Legs::new(legs),
            phase: Phase::Ringing(Ringing::new(now, ring_timeout)),
        }
    }

    /// Takes one event at `now` and returns what the engine must do, in order. An event
    /// naming a leg that does not exist returns nothing.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if event.leg().is_some_and(|leg| leg >= self.legs.count()) {
            return out;
        }
        let event = match event {
            Event::ForkedAnswer { leg } if !self.legs.answered(leg) => Event::Answered { leg },
            other => other,
        };
        let placeholder = Phase::Over(Over { winner: None });
        self.phase = match std::mem::replace(&mut self.phase, placeholder) {
            Phase::Ringing(r) => r.handle(now, event, &mut self.legs, &mut out),
            Phase::Answered(a) => a.handle(now, event, &mut self.legs, &mut out),
            Phase::Over(o) => o.handle(event, &mut self.legs, &mut out),
        };
        out
    }

    /// Earliest deadline (ring timeout, session refresh or expiry); the engine sends
    /// [`Event::Tick`] at or after it. `None`: only the network can move the call on.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Ringing(r) => r.deadline(&self.legs),
            Phase::Answered(a) => a.deadline(),
            Phase::Over(_) => None,
        }
    }

    /// Where the call stands.
    pub fn state(&self) -> State {
        match &self.phase {
            Phase::Ringing(r) if r.early_media().is_some() => State::EarlyMedia,
            Phase::Ringing(_) => State::Ringing,
            Phase::Answered(_) => State::Answered,
            Phase::Over(_) => State::Ended,
        }
    }

    /// The leg bridged to the caller, from its answer on (also after the end, for the record).
    pub fn winner(&self) -> Option<usize> {
        match &self.phase {
            Phase::Ringing(_) => None,
            Phase::Answered(a) => Some(a.winner()),
            Phase::Over(o) => o.winner,
        }
    }

    /// True once `Ended` was emitted *and* every leg has its final response or timed out,
    /// so no 2xx can cross a CANCEL any more: the engine may forget the call. Until then it
    /// must keep feeding the legs' events, and stray 2xx are ACKed and hung up.
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Over(_)) && self.legs.settled()
    }
}

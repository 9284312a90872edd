//! After the answer: keep the bridge up until a side hangs up, dies or its session expires.

use std::time::Instant;

use crate::action::{Action, EndReason};
use crate::bridge::{Phase, end};
use crate::event::{Event, Side};
use crate::leg::Legs;
use crate::session_timer::{Due, SessionTimer};

/// The caller is bridged to `winner`.
#[derive(Debug)]
pub(crate) struct Answered {
    winner: usize,
    /// Whether the caller ACKed our 2xx; a BYE may come first, which is fine.
    acked: bool,
    caller_timer: Option<SessionTimer>,
    leg_timer: Option<SessionTimer>,
}

/// Who gets a BYE when the call ends.
#[derive(Debug, Clone, Copy)]
struct Hangup {
    leg: bool,
    caller: bool,
}

const BOTH: Hangup = Hangup {
    leg: true,
    caller: true,
};
const LEG: Hangup = Hangup {
    leg: true,
    caller: false,
};
const CALLER: Hangup = Hangup {
    leg: false,
    caller: true,
};

impl Answered {
    pub(crate) fn new(winner: usize) -> Answered {
        Answered {
            winner,
            acked: false,
            caller_timer: None,
            leg_timer: None,
        }
    }

    pub(crate) fn winner(&self) -> usize {
        self.winner
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        let caller = self.caller_timer.and_then(|t| t.deadline());
        let leg = self.leg_timer.and_then(|t| t.deadline());
        match (caller, leg) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn handle(
        mut self,
        now: Instant,
        event: Event,
        legs: &mut Legs,
        out: &mut Vec<Action>,
    ) -> Phase {
        let w = self.winner;
        match event {
            // The winner's retransmitted 2xx is re-ACKed; a loser's is hung up.
            Event::Answered { leg } => legs.unwanted_answer(leg, out),
            Event::ForkedAnswer { leg } => out.push(Action::AckAndBye { leg }),
            Event::LegTimeout { leg } if leg == w => {
                // Its dialog is gone (RFC 5057): a BYE there would only time out again.
                return self.hang_up(CALLER, EndReason::LegDied, out);
            }
            Event::Failed { leg, .. } | Event::LegTimeout { leg } => {
                legs.finish(leg);
            }
            Event::LegBye { leg } if leg == w => {
                return self.hang_up(CALLER, EndReason::CalleeHangup, out);
            }
            Event::CallerBye => return self.hang_up(LEG, EndReason::CallerHangup, out),
            Event::CallerAck => self.acked = true,
            Event::CallerAckTimeout if !self.acked => {
                // §13.3.1.4: the dialog exists but the session must be ended with a BYE.
                return self.hang_up(BOTH, EndReason::NoAck, out);
            }
            Event::SessionTimer {
                side,
                interval,
                we_refresh,
            } => {
                if let Some(slot) = self.timer(side) {
                    *slot = SessionTimer::new(now, interval, we_refresh);
                }
            }
            Event::Refreshed { side } => {
                if let Some(Some(timer)) = self.timer(side) {
                    timer.refreshed(now);
                }
            }
            Event::RefreshFailed { side } if self.is_ours(side) => {
                return self.hang_up(BOTH, EndReason::SessionExpired, out);
            }
            Event::MediaTimeout { side } if self.is_ours(side) => {
                return self.hang_up(BOTH, EndReason::MediaTimeout, out);
            }
            Event::Tick => return self.tick(now, out),
            _ => {}
        }
        Phase::Answered(self)
    }

    /// Whether the side is one of this call's two: the caller or the winner.
    fn is_ours(&self, side: Side) -> bool {
        side == Side::Caller || side == Side::Leg(self.winner)
    }

    /// The timer slot of a side of this call; `None` for a losing leg.
    fn timer(&mut self, side: Side) -> Option<&mut Option<SessionTimer>> {
        match side {
            Side::Caller => Some(&mut self.caller_timer),
            Side::Leg(_) if self.is_ours(side) => Some(&mut self.leg_timer),
            Side::Leg(_) => None,
        }
    }

    fn tick(mut self, now: Instant, out: &mut Vec<Action>) -> Phase {
        let w = self.winner;
        let caller = self
            .caller_timer
            .as_mut()
            .map_or(Due::Nothing, |t| t.poll(now));
        let leg = self
            .leg_timer
            .as_mut()
            .map_or(Due::Nothing, |t| t.poll(now));
        if caller == Due::Expired || leg == Due::Expired {
            return self.hang_up(BOTH, EndReason::SessionExpired, out);
        }
        for (side, due) in [(Side::Caller, caller), (Side::Leg(w), leg)] {
            if due == Due::Refresh {
                out.push(Action::Refresh { side });
            }
        }
        Phase::Answered(self)
    }

    fn hang_up(self, who: Hangup, reason: EndReason, out: &mut Vec<Action>) -> Phase {
        if who.leg {
            out.push(Action::Bye { leg: self.winner });
        }
        if who.caller {
            out.push(Action::ByeCaller);
        }
        end(Some(self.winner), reason, out)
    }
}

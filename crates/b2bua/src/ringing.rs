//! Before the answer: relay progress, pick the first 2xx, or choose the outcome.

use std::time::{Duration, Instant};

use crate::action::{Action, EndReason};
use crate::answered::Answered;
use crate::bridge::{Phase, end};
use crate::event::Event;
use crate::leg::{Leg, Legs};
use crate::outcome::{Outcome, Verdict};

/// Waiting for the first 2xx among the legs.
#[derive(Debug)]
pub(crate) struct Ringing {
    started: Instant,
    /// When the ring timeout fires, if there is one.
    deadline: Option<Instant>,
    /// Whether the caller was told 180 or 183: a second 180 would change nothing for it.
    told: bool,
    /// The leg whose early media is relayed to the caller.
    early: Option<usize>,
    verdict: Verdict,
}

impl Ringing {
    pub(crate) fn new(now: Instant, ring_timeout: Option<Duration>) -> Ringing {
        Ringing {
            started: now,
            deadline: ring_timeout.and_then(|d| now.checked_add(d)),
            told: false,
            early: None,
            verdict: Verdict::default(),
        }
    }

    pub(crate) fn early_media(&self) -> Option<usize> {
        self.early
    }

    pub(crate) fn deadline(&self, legs: &Legs) -> Option<Instant> {
        if legs.any_ringing() {
            self.deadline
        } else {
            // Only with no legs at all: the next event concludes.
            Some(self.started)
        }
    }

    pub(crate) fn handle(
        mut self,
        now: Instant,
        event: Event,
        legs: &mut Legs,
        out: &mut Vec<Action>,
    ) -> Phase {
        // Only a leg still ringing can progress, win or fail; anything else from a leg is late.
        let ringing = event.leg().and_then(|leg| legs.get(leg)) == Some(Leg::Ringing);
        match event {
            Event::Provisional { leg, status, sdp } if ringing => {
                self.provisional(leg, status, sdp, out);
            }
            Event::Answered { leg } if ringing => return self.answer(leg, legs, out),
            Event::Answered { leg } => legs.unwanted_answer(leg, out),
            Event::ForkedAnswer { leg } => out.push(Action::AckAndBye { leg }),
            Event::Failed { leg, status } if ringing => {
                legs.set(leg, Leg::Done);
                if (600..=699).contains(&status) {
                    return self.fail(Outcome::global(status), legs, out);
                }
                self.verdict.failed(status);
                self.lose_early(leg, out);
            }
            Event::LegTimeout { leg } if ringing => {
                legs.set(leg, Leg::Done);
                self.lose_early(leg, out);
            }
            Event::CallerCancel => return self.abandon(EndReason::CallerCancel, legs, out),
            Event::CallerBye => return self.abandon(EndReason::CallerHangup, legs, out),
            Event::Tick if self.deadline.is_some_and(|d| now >= d) => {
                return self.fail(Outcome::NoAnswer, legs, out);
            }
            _ => {}
        }
        if legs.any_ringing() {
            Phase::Ringing(self)
        } else {
            let outcome = self.verdict.outcome();
            self.fail(outcome, legs, out)
        }
    }

    /// 180 is relayed once; the first early SDP (from a 180 or 183) is relayed as 183 with
    /// our SDP, even after a 180, so the caller switches from local ringback to the callee's
    /// tones. Later 180s are dropped (a 180 after early media makes some phones mute it),
    /// and so are other 1xx without SDP, which tell the caller nothing it can show.
    fn provisional(&mut self, leg: usize, status: u16, sdp: bool, out: &mut Vec<Action>) {
        if !(101..=199).contains(&status) {
            return;
        }
        if sdp && self.early.is_none() {
            self.early = Some(leg);
            self.told = true;
            out.push(Action::ProgressCaller {
                status: 183,
                early_media_from: Some(leg),
            });
        } else if status == 180 && !self.told {
            self.told = true;
            out.push(Action::ProgressCaller {
                status: 180,
                early_media_from: None,
            });
        }
    }

    /// The first 2xx wins (§16.7 forwards the first 2xx at once); the others are cancelled.
    fn answer(self, leg: usize, legs: &mut Legs, out: &mut Vec<Action>) -> Phase {
        legs.set(leg, Leg::Bridged);
        out.push(Action::Ack { leg });
        if self.early.is_some_and(|e| e != leg) {
            out.push(Action::StopEarlyMedia);
        }
        out.push(Action::AnswerCaller { leg });
        legs.cancel_ringing(out);
        Phase::Answered(Answered::new(leg))
    }

    /// A leg is done; if it was the early-media one, its relay stops. The slot is free again,
    /// so another leg's early SDP that arrives later is relayed in its place.
    fn lose_early(&mut self, leg: usize, out: &mut Vec<Action>) {
        if self.early == Some(leg) {
            self.early = None;
            out.push(Action::StopEarlyMedia);
        }
    }

    fn stop_everything(&mut self, legs: &mut Legs, out: &mut Vec<Action>) {
        if self.early.take().is_some() {
            out.push(Action::StopEarlyMedia);
        }
        legs.cancel_ringing(out);
    }

    /// No leg will answer: hand the caller back to the engine with the outcome.
    fn fail(mut self, outcome: Outcome, legs: &mut Legs, out: &mut Vec<Action>) -> Phase {
        self.stop_everything(legs, out);
        out.push(Action::Failed(outcome));
        end(None, outcome.into(), out)
    }

    /// The caller left before any answer: its INVITE gets 487 (§9.2, §15.1.2).
    fn abandon(mut self, reason: EndReason, legs: &mut Legs, out: &mut Vec<Action>) -> Phase {
        self.stop_everything(legs, out);
        out.push(Action::RejectCaller { status: 487 });
        end(None, reason, out)
    }
}

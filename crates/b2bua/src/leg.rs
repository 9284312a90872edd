//! Where each outgoing leg stands, and the steps that close legs down.

use crate::action::Action;

/// What an outgoing leg's INVITE has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    /// Sent, no final response yet: it may still win.
    Ringing,
    /// We gave up on it (CANCEL sent) and wait for its final response, which may still be a
    /// 2xx that crossed the CANCEL. The transaction layer always ends this with a final or a
    /// timeout (64*T1 after the CANCEL), so no timer is needed here.
    Cancelling,
    /// A final non-2xx or a timeout: nothing more will come.
    Done,
    /// Its 2xx won: it is (or was) bridged to the caller.
    Bridged,
    /// Its 2xx came when we no longer wanted it: ACKed and hung up.
    Discarded,
}

/// The outgoing legs, by index.
#[derive(Debug)]
pub(crate) struct Legs(Vec<Leg>);

impl Legs {
    pub(crate) fn new(count: usize) -> Legs {
        Legs(vec![Leg::Ringing; count])
    }

    pub(crate) fn count(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn get(&self, leg: usize) -> Option<Leg> {
        self.0.get(leg).copied()
    }

    pub(crate) fn set(&mut self, leg: usize, state: Leg) {
        if let Some(slot) = self.0.get_mut(leg) {
            *slot = state;
        }
    }

    /// Whether a 2xx was seen on the leg, so a further dialog there is a fork behind it.
    pub(crate) fn answered(&self, leg: usize) -> bool {
        matches!(self.get(leg), Some(Leg::Bridged | Leg::Discarded))
    }

    /// Whether some leg could still answer the caller.
    pub(crate) fn any_ringing(&self) -> bool {
        self.0.contains(&Leg::Ringing)
    }

    /// Whether nothing more is expected from any leg, so the engine may forget the call.
    pub(crate) fn settled(&self) -> bool {
        !self
            .0
            .iter()
            .any(|l| matches!(l, Leg::Ringing | Leg::Cancelling))
    }

    /// CANCEL every leg still ringing: they lost, or the attempt is over.
    pub(crate) fn cancel_ringing(&mut self, out: &mut Vec<Action>) {
        for (leg, state) in self.0.iter_mut().enumerate() {
            if *state == Leg::Ringing {
                *state = Leg::Cancelling;
                out.push(Action::Cancel { leg });
            }
        }
    }

    /// A final non-2xx or a timeout on a leg. Returns whether it was still ringing (only
    /// then does it count for the outcome); a duplicate or a late one changes nothing.
    pub(crate) fn finish(&mut self, leg: usize) -> bool {
        match self.get(leg) {
            Some(Leg::Ringing) => {
                self.set(leg, Leg::Done);
                true
            }
            Some(Leg::Cancelling) => {
                self.set(leg, Leg::Done);
                false
            }
            _ => false,
        }
    }

    /// A 2xx that cannot win: re-ACK a retransmission on a leg whose 2xx was already handled,
    /// ACK and hang up anything else (a losing branch, a 200 crossing our CANCEL).
    pub(crate) fn unwanted_answer(&mut self, leg: usize, out: &mut Vec<Action>) {
        match self.get(leg) {
            Some(Leg::Bridged | Leg::Discarded) => out.push(Action::Ack { leg }),
            Some(Leg::Ringing | Leg::Cancelling | Leg::Done) => {
                self.set(leg, Leg::Discarded);
                out.push(Action::AckAndBye { leg });
            }
            None => {}
        }
    }
}

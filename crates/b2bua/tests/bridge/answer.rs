//! One leg, answered: every way the call can end.

use vaxel_b2bua::{Action, EndReason, Event, State};

use crate::sim::{Sim, ok, ringing, secs};

use Action::*;

/// One leg rang and answered, and the caller ACKed.
fn answered() -> Sim {
    let mut sim = Sim::new(1, Some(secs(60)));
    assert_eq!(sim.bridge.state(), State::Ringing);
    assert_eq!(
        sim.ev(Event::Provisional {
            leg: 0,
            status: 100,
            sdp: false
        }),
        []
    );
    assert_eq!(
        sim.at(1).ev(ringing(0)),
        [ProgressCaller {
            status: 180,
            early_media_from: None
        }]
    );
    assert_eq!(
        sim.at(2).ev(ringing(0)),
        [],
        "a repeated 180 is not relayed again"
    );
    assert_eq!(
        sim.at(5).ev(ok(0)),
        [Ack { leg: 0 }, AnswerCaller { leg: 0 }]
    );
    assert_eq!(sim.bridge.state(), State::Answered);
    assert_eq!(sim.bridge.winner(), Some(0));
    assert_eq!(
        sim.bridge.poll_timeout(),
        None,
        "no ring timeout after the answer"
    );
    assert_eq!(sim.ev(Event::CallerAck), []);
    sim
}

#[test]
fn caller_hangs_up() {
    let mut sim = answered();
    assert_eq!(
        sim.at(30).ev(Event::CallerBye),
        [
            Bye { leg: 0 },
            Ended {
                reason: EndReason::CallerHangup
            }
        ]
    );
    assert_eq!(sim.bridge.state(), State::Ended);
    assert!(sim.bridge.is_ended());
    assert_eq!(sim.bridge.winner(), Some(0));
}

#[test]
fn callee_hangs_up() {
    let mut sim = answered();
    assert_eq!(
        sim.at(30).ev(Event::LegBye { leg: 0 }),
        [
            ByeCaller,
            Ended {
                reason: EndReason::CalleeHangup
            }
        ]
    );
    assert!(sim.bridge.is_ended());
}

#[test]
fn bye_before_ack_is_a_normal_hangup() {
    let mut sim = Sim::new(1, None);
    assert_eq!(
        sim.at(3).ev(ok(0)),
        [Ack { leg: 0 }, AnswerCaller { leg: 0 }]
    );
    assert_eq!(
        sim.ev(Event::CallerBye),
        [
            Bye { leg: 0 },
            Ended {
                reason: EndReason::CallerHangup
            }
        ]
    );
    assert_eq!(sim.ev(Event::CallerAck), [], "the late ACK changes nothing");
    assert_eq!(sim.at(35).ev(Event::CallerAckTimeout), []);
    assert_eq!(sim.ended_count(), 1);
}

#[test]
fn no_ack_hangs_up_both_sides() {
    let mut sim = Sim::new(1, None);
    sim.at(3).ev(ok(0));
    assert_eq!(
        sim.at(35).ev(Event::CallerAckTimeout),
        [
            Bye { leg: 0 },
            ByeCaller,
            Ended {
                reason: EndReason::NoAck
            }
        ]
    );
    assert!(sim.bridge.is_ended());
}

#[test]
fn ack_timeout_after_the_ack_is_ignored() {
    let mut sim = answered();
    assert_eq!(sim.at(40).ev(Event::CallerAckTimeout), []);
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn leg_dies_after_answer() {
    let mut sim = answered();
    assert_eq!(
        sim.at(100).ev(Event::LegTimeout { leg: 0 }),
        [
            ByeCaller,
            Ended {
                reason: EndReason::LegDied
            }
        ]
    );
    assert!(sim.bridge.is_ended());
}

#[test]
fn retransmitted_2xx_is_acked_again() {
    let mut sim = answered();
    assert_eq!(sim.ev(ok(0)), [Ack { leg: 0 }]);
    assert_eq!(sim.ev(ok(0)), [Ack { leg: 0 }]);
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn second_dialog_on_the_winning_leg_is_hung_up() {
    let mut sim = answered();
    assert_eq!(
        sim.ev(Event::ForkedAnswer { leg: 0 }),
        [AckAndBye { leg: 0 }]
    );
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn cancel_after_answer_does_nothing() {
    let mut sim = answered();
    assert_eq!(sim.ev(Event::CallerCancel), []);
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn late_finals_on_the_winner_do_nothing() {
    let mut sim = answered();
    assert_eq!(sim.ev(crate::sim::fail(0, 500)), []);
    assert_eq!(sim.ev(ringing(0)), []);
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn bye_on_the_early_dialog_rejects_the_invite() {
    let mut sim = Sim::new(1, None);
    sim.ev(ringing(0));
    assert_eq!(
        sim.at(4).ev(Event::CallerBye),
        [
            Cancel { leg: 0 },
            RejectCaller { status: 487 },
            Ended {
                reason: EndReason::CallerHangup
            }
        ]
    );
    assert!(
        !sim.bridge.is_ended(),
        "leg 0 still owes its final response"
    );
    assert_eq!(sim.ev(crate::sim::fail(0, 487)), []);
    assert!(sim.bridge.is_ended());
}

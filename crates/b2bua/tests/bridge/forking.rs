//! Several legs: the first 2xx wins, every other leg is cancelled or hung up.

use vaxel_b2bua::{Action, EndReason, Event, Outcome, State};

use crate::sim::{Sim, fail, ok, ringing, secs};

use Action::*;

#[test]
fn second_leg_answers_first_is_cancelled() {
    let mut sim = Sim::new(2, Some(secs(30)));
    sim.at(1).ev(ringing(0));
    assert_eq!(sim.ev(ringing(1)), []);
    assert_eq!(
        sim.at(6).ev(ok(1)),
        [Ack { leg: 1 }, AnswerCaller { leg: 1 }, Cancel { leg: 0 }]
    );
    assert_eq!(sim.bridge.winner(), Some(1));
    assert_eq!(sim.ev(fail(0, 487)), [], "the cancelled leg's 487 is quiet");
    assert_eq!(sim.ev(Event::CallerAck), []);
    assert_eq!(
        sim.at(60).ev(Event::Tick),
        [],
        "no ring timeout after the answer"
    );
    sim.ev(Event::CallerBye);
    assert_eq!(sim.ended_count(), 1);
    assert!(sim.bridge.is_ended());
}

#[test]
fn two_200s_the_second_is_acked_and_hung_up() {
    let mut sim = Sim::new(2, None);
    sim.ev(ringing(0));
    sim.ev(ringing(1));
    assert_eq!(
        sim.at(5).ev(ok(0)),
        [Ack { leg: 0 }, AnswerCaller { leg: 0 }, Cancel { leg: 1 }]
    );
    assert_eq!(
        sim.ev(ok(1)),
        [AckAndBye { leg: 1 }],
        "200 crossed our CANCEL"
    );
    assert_eq!(
        sim.ev(ok(1)),
        [Ack { leg: 1 }],
        "its retransmission is only re-ACKed"
    );
    assert_eq!(sim.bridge.winner(), Some(0));
    assert_eq!(sim.bridge.state(), State::Answered);
}

#[test]
fn caller_cancel_with_a_200_crossing_it() {
    let mut sim = Sim::new(2, None);
    sim.ev(ringing(0));
    sim.ev(ringing(1));
    assert_eq!(
        sim.at(8).ev(Event::CallerCancel),
        [
            Cancel { leg: 0 },
            Cancel { leg: 1 },
            RejectCaller { status: 487 },
            Ended {
                reason: EndReason::CallerCancel
            }
        ]
    );
    assert_eq!(sim.bridge.state(), State::Ended);
    assert!(!sim.bridge.is_ended(), "both legs may still answer");
    assert_eq!(sim.ev(ok(0)), [AckAndBye { leg: 0 }]);
    assert!(!sim.bridge.is_ended());
    assert_eq!(sim.ev(fail(1, 487)), []);
    assert!(sim.bridge.is_ended());
    assert_eq!(sim.ev(Event::CallerCancel), []);
    assert_eq!(sim.ended_count(), 1);
    assert_eq!(sim.bridge.winner(), None);
}

#[test]
fn a_cancelled_leg_that_never_answers_settles_on_its_timeout() {
    let mut sim = Sim::new(1, None);
    sim.ev(ringing(0));
    sim.at(2).ev(Event::CallerCancel);
    assert!(!sim.bridge.is_ended());
    // The transaction layer gives up 64*T1 after the CANCEL and reports a timeout.
    assert_eq!(sim.at(34).ev(Event::LegTimeout { leg: 0 }), []);
    assert!(sim.bridge.is_ended());
}

#[test]
fn ring_timeout_with_two_legs() {
    let mut sim = Sim::new(2, Some(secs(20)));
    sim.at(1).ev(ringing(1));
    assert_eq!(sim.bridge.poll_timeout(), Some(sim.t0 + secs(20)));
    assert_eq!(sim.at(19).ev(Event::Tick), [], "not yet");
    let (at, actions) = sim.step();
    assert_eq!(at, secs(20));
    assert_eq!(
        actions,
        [
            Cancel { leg: 0 },
            Cancel { leg: 1 },
            Failed(Outcome::NoAnswer),
            Ended {
                reason: EndReason::NoAnswer
            }
        ]
    );
    assert_eq!(sim.bridge.poll_timeout(), None);
    assert_eq!(sim.at(21).ev(ok(1)), [AckAndBye { leg: 1 }], "too late");
    assert!(!sim.bridge.is_ended());
    sim.ev(fail(0, 487));
    assert!(sim.bridge.is_ended());
    assert_eq!(sim.ended_count(), 1);
}

#[test]
fn ring_timeout_only_cancels_legs_still_ringing() {
    let mut sim = Sim::new(3, Some(secs(20)));
    sim.at(2).ev(fail(0, 486));
    sim.at(3).ev(Event::LegTimeout { leg: 2 });
    let (_, actions) = sim.step();
    assert_eq!(
        actions,
        [
            Cancel { leg: 1 },
            Failed(Outcome::NoAnswer),
            Ended {
                reason: EndReason::NoAnswer
            }
        ]
    );
}

#[test]
fn a_2xx_after_the_leg_failed_is_hung_up() {
    let mut sim = Sim::new(2, None);
    sim.ev(fail(0, 480));
    assert_eq!(sim.ev(ok(0)), [AckAndBye { leg: 0 }]);
    assert_eq!(sim.bridge.state(), State::Ringing, "leg 1 still rings");
    assert_eq!(sim.ev(ok(1)), [Ack { leg: 1 }, AnswerCaller { leg: 1 }]);
}

#[test]
fn no_legs_fails_at_once() {
    let mut sim = Sim::new(0, None);
    assert_eq!(sim.bridge.poll_timeout(), Some(sim.t0));
    let (_, actions) = sim.step();
    assert_eq!(
        actions,
        [
            Failed(Outcome::NoAnswer),
            Ended {
                reason: EndReason::NoAnswer
            }
        ]
    );
    assert!(sim.bridge.is_ended());
}

#[test]
fn out_of_range_legs_are_ignored() {
    let mut sim = Sim::new(2, None);
    assert_eq!(sim.ev(ok(2)), []);
    assert_eq!(sim.ev(fail(7, 486)), []);
    assert_eq!(sim.ev(Event::ForkedAnswer { leg: 9 }), []);
    assert_eq!(sim.bridge.state(), State::Ringing);
}

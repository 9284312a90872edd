//! Early media: one leg's at a time, stopped when that leg goes away.

use vaxel_b2bua::{Action, EndReason, Event, Outcome, State};

use crate::sim::{Sim, early, fail, ok, ringing};

use Action::*;

fn early_from(leg: usize) -> Action {
    ProgressCaller {
        status: 183,
        early_media_from: Some(leg),
    }
}

#[test]
fn early_leg_fails_while_another_rings_then_that_one_answers() {
    let mut sim = Sim::new(2, None);
    assert_eq!(
        sim.ev(ringing(0)),
        [ProgressCaller {
            status: 180,
            early_media_from: None
        }]
    );
    assert_eq!(sim.at(1).ev(early(1)), [early_from(1)], "183 after the 180");
    assert_eq!(sim.bridge.state(), State::EarlyMedia);
    assert_eq!(
        sim.ev(early(0)),
        [],
        "only the first leg's early media is relayed"
    );
    assert_eq!(sim.ev(ringing(0)), [], "no 180 after early media");
    assert_eq!(sim.at(4).ev(fail(1, 486)), [StopEarlyMedia]);
    assert_eq!(sim.bridge.state(), State::Ringing);
    assert_eq!(
        sim.at(6).ev(ok(0)),
        [Ack { leg: 0 }, AnswerCaller { leg: 0 }]
    );
}

#[test]
fn the_early_leg_answers_and_keeps_its_media() {
    let mut sim = Sim::new(2, None);
    assert_eq!(sim.ev(early(0)), [early_from(0)]);
    assert_eq!(sim.ev(ringing(1)), [], "the caller already has progress");
    assert_eq!(
        sim.ev(ok(0)),
        [Ack { leg: 0 }, AnswerCaller { leg: 0 }, Cancel { leg: 1 }]
    );
}

#[test]
fn another_leg_answers_so_the_early_relay_stops() {
    let mut sim = Sim::new(2, None);
    sim.ev(early(0));
    assert_eq!(
        sim.ev(ok(1)),
        [
            Ack { leg: 1 },
            StopEarlyMedia,
            AnswerCaller { leg: 1 },
            Cancel { leg: 0 }
        ]
    );
}

#[test]
fn a_180_with_sdp_is_relayed_as_183() {
    let mut sim = Sim::new(1, None);
    assert_eq!(
        sim.ev(Event::Provisional {
            leg: 0,
            status: 180,
            sdp: true
        }),
        [early_from(0)]
    );
}

#[test]
fn other_provisionals_without_sdp_are_not_relayed() {
    let mut sim = Sim::new(1, None);
    for status in [100, 181, 182, 183] {
        let e = Event::Provisional {
            leg: 0,
            status,
            sdp: false,
        };
        assert_eq!(sim.ev(e), [], "{status}");
    }
    assert_eq!(
        sim.ev(Event::Provisional {
            leg: 0,
            status: 100,
            sdp: true
        }),
        [],
        "100 is never passed on"
    );
}

#[test]
fn after_the_early_leg_failed_another_leg_may_bring_early_media() {
    let mut sim = Sim::new(2, None);
    sim.ev(early(0));
    assert_eq!(sim.ev(Event::LegTimeout { leg: 0 }), [StopEarlyMedia]);
    assert_eq!(sim.ev(early(1)), [early_from(1)]);
}

#[test]
fn the_relay_stops_when_the_attempt_fails() {
    let mut sim = Sim::new(1, None);
    sim.ev(early(0));
    assert_eq!(
        sim.ev(fail(0, 480)),
        [
            StopEarlyMedia,
            Failed(Outcome::Unavailable(480)),
            Ended {
                reason: EndReason::Unavailable(480)
            }
        ]
    );
}

#[test]
fn the_relay_stops_when_the_caller_cancels() {
    let mut sim = Sim::new(2, None);
    sim.ev(early(1));
    assert_eq!(
        sim.ev(Event::CallerCancel),
        [
            StopEarlyMedia,
            Cancel { leg: 0 },
            Cancel { leg: 1 },
            RejectCaller { status: 487 },
            Ended {
                reason: EndReason::CallerCancel
            }
        ]
    );
}

#[test]
fn provisionals_from_a_finished_leg_are_ignored() {
    let mut sim = Sim::new(2, None);
    sim.ev(fail(0, 404));
    assert_eq!(sim.ev(early(0)), []);
    assert_eq!(sim.ev(ringing(0)), []);
}

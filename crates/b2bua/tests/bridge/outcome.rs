//! No leg answers: which outcome the engine gets, and when.

use vaxel_b2bua::{Action, EndReason, Event, Outcome};

use crate::sim::{Sim, fail, ringing};

use Action::*;

/// Fails every leg in turn with `statuses`; returns the actions of the last one.
fn all_fail(statuses: &[u16]) -> Vec<Action> {
    let mut sim = Sim::new(statuses.len(), None);
    let (last, rest) = statuses.split_last().expect("at least one leg");
    for (leg, &status) in rest.iter().enumerate() {
        assert_eq!(sim.ev(fail(leg, status)), [], "leg {leg} is not the last");
    }
    let out = sim.ev(fail(rest.len(), *last));
    assert!(sim.bridge.is_ended());
    out
}

fn failed(outcome: Outcome) -> [Action; 2] {
    [
        Failed(outcome),
        Ended {
            reason: outcome.into(),
        },
    ]
}

#[test]
fn all_busy_is_busy() {
    assert_eq!(all_fail(&[486, 486]), failed(Outcome::Busy));
    assert_eq!(Outcome::Busy.status(), 486);
}

#[test]
fn busy_beats_unavailable() {
    assert_eq!(all_fail(&[486, 480]), failed(Outcome::Busy));
    assert_eq!(all_fail(&[480, 486]), failed(Outcome::Busy));
}

#[test]
fn a_4xx_beats_a_5xx() {
    assert_eq!(all_fail(&[404, 503]), failed(Outcome::Unavailable(404)));
    assert_eq!(all_fail(&[503, 404]), failed(Outcome::Unavailable(404)));
    assert_eq!(Outcome::Unavailable(404).status(), 404);
}

#[test]
fn a_lone_503_is_mapped_to_500() {
    assert_eq!(all_fail(&[503]), failed(Outcome::Unavailable(503)));
    assert_eq!(Outcome::Unavailable(503).status(), 500);
}

#[test]
fn a_redirect_is_not_passed_on() {
    assert_eq!(all_fail(&[302]), failed(Outcome::Unavailable(302)));
    assert_eq!(Outcome::Unavailable(302).status(), 480);
}

#[test]
fn a_408_counts_as_no_answer() {
    assert_eq!(all_fail(&[408, 408]), failed(Outcome::NoAnswer));
    assert_eq!(all_fail(&[408, 404]), failed(Outcome::Unavailable(404)));
}

#[test]
fn all_timed_out_is_no_answer() {
    let mut sim = Sim::new(2, None);
    sim.ev(ringing(0));
    assert_eq!(sim.at(32).ev(Event::LegTimeout { leg: 1 }), []);
    assert_eq!(
        sim.at(40).ev(Event::LegTimeout { leg: 0 }),
        failed(Outcome::NoAnswer)
    );
    assert_eq!(Outcome::NoAnswer.status(), 480);
    assert!(sim.bridge.is_ended());
}

#[test]
fn a_603_ends_the_search_at_once() {
    let mut sim = Sim::new(3, None);
    sim.ev(ringing(0));
    sim.ev(fail(2, 486));
    assert_eq!(
        sim.at(3).ev(fail(1, 603)),
        [
            Cancel { leg: 0 },
            Failed(Outcome::Unavailable(603)),
            Ended {
                reason: EndReason::Unavailable(603)
            }
        ]
    );
    assert_eq!(Outcome::Unavailable(603).status(), 603);
    assert!(!sim.bridge.is_ended(), "leg 0 owes its 487");
    assert_eq!(sim.ev(fail(0, 487)), []);
    assert!(sim.bridge.is_ended());
}

#[test]
fn a_600_is_busy_everywhere() {
    let mut sim = Sim::new(2, None);
    assert_eq!(
        sim.ev(fail(0, 600)),
        [
            Cancel { leg: 1 },
            Failed(Outcome::Busy),
            Ended {
                reason: EndReason::Busy
            }
        ]
    );
}

#[test]
fn duplicate_finals_count_once() {
    let mut sim = Sim::new(2, None);
    assert_eq!(sim.ev(fail(0, 404)), []);
    assert_eq!(sim.ev(fail(0, 486)), [], "a leg has one final");
    assert_eq!(sim.ev(fail(1, 500)), failed(Outcome::Unavailable(404)));
}

//! Once `Ended` is out, only stray 2xx still get an answer.

use vaxel_b2bua::{Action, Event, Side};

use crate::sim::{Sim, early, fail, ok, ringing, timer};

use Action::*;

#[test]
fn events_after_the_end_are_ignored() {
    let mut sim = Sim::new(2, None);
    sim.ev(ringing(0));
    sim.at(3).ev(ok(0));
    sim.ev(Event::CallerAck);
    sim.ev(timer(Side::Caller, 90, true));
    sim.at(10).ev(Event::CallerBye);
    sim.ev(fail(1, 487));
    assert!(sim.bridge.is_ended());
    let quiet = [
        ringing(1),
        early(1),
        fail(1, 486),
        Event::LegTimeout { leg: 0 },
        Event::LegBye { leg: 0 },
        Event::CallerCancel,
        Event::CallerBye,
        Event::CallerAck,
        Event::CallerAckTimeout,
        timer(Side::Leg(0), 90, false),
        Event::Refreshed { side: Side::Caller },
        Event::RefreshFailed { side: Side::Caller },
        Event::Tick,
    ];
    for (i, event) in quiet.into_iter().enumerate() {
        assert_eq!(sim.at(20 + i as u64 * 100).ev(event), [], "{event:?}");
    }
    assert_eq!(
        sim.ev(ok(0)),
        [Ack { leg: 0 }],
        "the winner's 2xx is still re-ACKed"
    );
    assert_eq!(
        sim.ev(ok(1)),
        [AckAndBye { leg: 1 }],
        "a loser's 2xx is hung up"
    );
    assert_eq!(
        sim.ev(Event::ForkedAnswer { leg: 0 }),
        [AckAndBye { leg: 0 }]
    );
    assert_eq!(sim.ended_count(), 1);
    assert!(sim.bridge.is_ended());
}

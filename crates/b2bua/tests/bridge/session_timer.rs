//! RFC 4028 session timers after the answer, on both sides.

use std::time::Duration;

use vaxel_b2bua::{Action, EndReason, Event, Side};

use crate::sim::{Sim, fail, ok, secs, timer};

use Action::*;

/// Two legs, leg 1 answered at 10 s and ACKed, leg 0 cancelled and settled.
fn answered() -> Sim {
    let mut sim = Sim::new(2, Some(secs(60)));
    sim.at(10).ev(ok(1));
    sim.ev(fail(0, 487));
    sim.ev(Event::CallerAck);
    sim
}

fn expired() -> [Action; 3] {
    [
        Bye { leg: 1 },
        ByeCaller,
        Ended {
            reason: EndReason::SessionExpired,
        },
    ]
}

#[test]
fn we_refresh_at_half_the_interval_again_after_each_success() {
    let mut sim = answered();
    sim.ev(timer(Side::Leg(1), 1800, true));
    let (at, actions) = sim.step();
    assert_eq!(at, secs(10 + 900));
    assert_eq!(actions, [Refresh { side: Side::Leg(1) }]);
    // Our re-INVITE gets its 2xx two seconds later: the next refresh is 900 s after that.
    sim.at(912).ev(Event::Refreshed { side: Side::Leg(1) });
    let (at, actions) = sim.step();
    assert_eq!(at, secs(912 + 900));
    assert_eq!(actions, [Refresh { side: Side::Leg(1) }]);
    sim.at(1813).ev(Event::Refreshed { side: Side::Leg(1) });
    let (at, _) = sim.step();
    assert_eq!(at, secs(1813 + 900));
    assert_eq!(sim.ended_count(), 0);
}

#[test]
fn peer_fails_to_refresh_so_both_sides_are_hung_up() {
    let mut sim = answered();
    sim.ev(timer(Side::Caller, 90, false));
    // The caller refreshes once in time (at 50 s): the expiry moves on.
    assert_eq!(sim.at(50).ev(Event::Refreshed { side: Side::Caller }), []);
    // 90 s - min(32 s, 30 s) = 60 s after the last refresh.
    let (at, actions) = sim.step();
    assert_eq!(at, secs(50 + 60));
    assert_eq!(actions, expired());
    assert!(sim.bridge.is_ended());
    assert_eq!(sim.bridge.poll_timeout(), None);
}

#[test]
fn long_interval_leaves_a_32_second_margin() {
    let mut sim = answered();
    sim.ev(timer(Side::Leg(1), 1800, false));
    let (at, actions) = sim.step();
    assert_eq!(at, secs(10 + 1800 - 32));
    assert_eq!(actions, expired());
}

#[test]
fn our_refresh_that_never_succeeds_expires_at_the_full_interval() {
    let mut sim = answered();
    sim.ev(timer(Side::Caller, 120, true));
    let (at, actions) = sim.step();
    assert_eq!(at, secs(70));
    assert_eq!(actions, [Refresh { side: Side::Caller }]);
    let (at, actions) = sim.step();
    assert_eq!(at, secs(130));
    assert_eq!(actions, expired());
}

#[test]
fn failed_caller_refresh_hangs_up() {
    let mut sim = answered();
    sim.ev(timer(Side::Caller, 90, true));
    sim.step();
    assert_eq!(
        sim.at(60).ev(Event::RefreshFailed { side: Side::Caller }),
        expired()
    );
}

#[test]
fn failed_leg_refresh_reported_as_timeout_is_a_dead_leg() {
    let mut sim = answered();
    sim.ev(timer(Side::Leg(1), 90, true));
    sim.step();
    assert_eq!(
        sim.at(80).ev(Event::LegTimeout { leg: 1 }),
        [
            ByeCaller,
            Ended {
                reason: EndReason::LegDied
            }
        ]
    );
}

#[test]
fn both_sides_run_their_own_timers() {
    let mut sim = answered();
    sim.ev(timer(Side::Caller, 600, false));
    sim.ev(timer(Side::Leg(1), 200, true));
    assert_eq!(sim.bridge.poll_timeout(), Some(sim.t0 + secs(110)));
    let (_, actions) = sim.step();
    assert_eq!(actions, [Refresh { side: Side::Leg(1) }]);
    sim.at(111).ev(Event::Refreshed { side: Side::Leg(1) });
    sim.at(300).ev(Event::Refreshed { side: Side::Caller });
    assert_eq!(sim.bridge.poll_timeout(), Some(sim.t0 + secs(211)));
}

#[test]
fn a_zero_interval_turns_the_timer_off() {
    let mut sim = answered();
    sim.ev(timer(Side::Caller, 90, false));
    assert!(sim.bridge.poll_timeout().is_some());
    sim.at(20).ev(Event::SessionTimer {
        side: Side::Caller,
        interval: Duration::ZERO,
        we_refresh: false,
    });
    assert_eq!(sim.bridge.poll_timeout(), None);
}

#[test]
fn timers_on_a_losing_leg_or_before_the_answer_are_ignored() {
    let mut sim = Sim::new(2, None);
    sim.ev(timer(Side::Caller, 90, false));
    assert_eq!(sim.bridge.poll_timeout(), None);
    sim.at(5).ev(ok(1));
    sim.ev(timer(Side::Leg(0), 90, false));
    assert_eq!(sim.ev(Event::RefreshFailed { side: Side::Leg(0) }), []);
    assert_eq!(sim.bridge.poll_timeout(), None);
}

#[test]
fn tick_before_the_deadline_does_nothing() {
    let mut sim = answered();
    sim.ev(timer(Side::Leg(1), 90, true));
    assert_eq!(sim.at(54).ev(Event::Tick), []);
    assert_eq!(sim.at(55).ev(Event::Tick), [Refresh { side: Side::Leg(1) }]);
    assert_eq!(sim.at(56).ev(Event::Tick), [], "one refresh per interval");
}

/// A silent side (no RTP for `rtp_timeout`) of the bridged call hangs up both; a silent
/// losing leg or a silence before the answer changes nothing.
#[test]
fn media_timeout_on_a_bridged_side_hangs_up_both() {
    let timed_out = [
        Bye { leg: 1 },
        ByeCaller,
        Ended {
            reason: EndReason::MediaTimeout,
        },
    ];
    for side in [Side::Caller, Side::Leg(1)] {
        let mut sim = answered();
        assert_eq!(sim.at(30).ev(Event::MediaTimeout { side }), timed_out);
    }
    let mut sim = answered();
    assert!(
        sim.ev(Event::MediaTimeout { side: Side::Leg(0) })
            .is_empty()
    );
}

//! Random event sequences against the invariants of docs/b2bua.md, with a seeded PRNG so a
//! failure names its seed and replays exactly.

use std::time::Duration;

use vaxel_b2bua::{Action, Event, Side, State};

use crate::sim::Sim;

/// SplitMix64: tiny, seedable, good enough to shuffle SIP events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn random_event(rng: &mut Rng, legs: usize) -> Event {
    // Now and then a leg that does not exist.
    let leg = rng.below(legs + 1);
    let side = if rng.chance(50) {
        Side::Caller
    } else {
        Side::Leg(leg)
    };
    match rng.below(18) {
        0..=2 => Event::Provisional {
            leg,
            status: rng.pick(&[100, 180, 180, 181, 183]),
            sdp: rng.chance(40),
        },
        3 | 4 => Event::Answered { leg },
        5 => Event::ForkedAnswer { leg },
        6 | 7 => Event::Failed {
            leg,
            status: rng.pick(&[302, 404, 408, 480, 486, 487, 500, 503, 600, 603]),
        },
        8 => Event::LegTimeout { leg },
        9 => Event::LegBye { leg },
        10 => rng.pick(&[Event::CallerCancel, Event::CallerBye]),
        11 => Event::CallerAck,
        12 => Event::CallerAckTimeout,
        13 => Event::SessionTimer {
            side,
            interval: Duration::from_secs(rng.pick(&[0, 90, 120, 1800])),
            we_refresh: rng.chance(50),
        },
        14 => Event::Refreshed { side },
        15 => Event::RefreshFailed { side },
        16 => Event::MediaTimeout { side },
        _ => Event::Tick,
    }
}

/// What the test has seen so far of one call, to judge each new step against.
#[derive(Default)]
struct Model {
    legs: usize,
    /// Per leg: a final non-2xx or a timeout was fed.
    finals: Vec<bool>,
    /// Per leg: CANCEL was asked for.
    cancelled: Vec<bool>,
    /// Per leg: a 2xx was fed.
    answered: Vec<bool>,
    /// Per leg: ACK-and-BYE was asked for.
    discarded: Vec<bool>,
    winner: Option<usize>,
    /// The winner's side ended: we sent BYE, or it sent BYE or died.
    winner_gone: bool,
    /// The answered caller's side ended: we sent BYE, or it did.
    caller_gone: bool,
    /// Answer, reject or failure: the caller gets exactly one.
    verdicts: usize,
    /// The caller ACKed our 2xx.
    acked: bool,
    told_180: usize,
    relay: Option<usize>,
    ended: usize,
}

impl Model {
    fn new(legs: usize) -> Model {
        Model {
            legs,
            finals: vec![false; legs],
            cancelled: vec![false; legs],
            discarded: vec![false; legs],
            answered: vec![false; legs],
            ..Model::default()
        }
    }

    /// Checks one step: the state before it, the event, and what came out.
    fn step(&mut self, was_over: bool, event: Event, out: &[Action], ctx: &str) {
        // The documented rule: a leg's first 2xx is its answer, however the engine named it.
        let event = match event {
            Event::ForkedAnswer { leg } if leg < self.legs && !self.answered[leg] => {
                Event::Answered { leg }
            }
            other => other,
        };
        let out_of_range = match event {
            Event::Provisional { leg, .. }
            | Event::Answered { leg }
            | Event::ForkedAnswer { leg }
            | Event::Failed { leg, .. }
            | Event::LegTimeout { leg }
            | Event::LegBye { leg } => leg >= self.legs,
            Event::SessionTimer { side, .. }
            | Event::Refreshed { side }
            | Event::RefreshFailed { side }
            | Event::MediaTimeout { side } => matches!(side, Side::Leg(l) if l >= self.legs),
            _ => false,
        };
        if out_of_range {
            assert!(out.is_empty(), "{ctx}: a leg out of range gave {out:?}");
        }
        if was_over && !out_of_range {
            let allowed = match event {
                Event::Answered { leg } => {
                    out == [Action::Ack { leg }] || out == [Action::AckAndBye { leg }]
                }
                Event::ForkedAnswer { leg } => out == [Action::AckAndBye { leg }],
                _ => out.is_empty(),
            };
            assert!(allowed, "{ctx}: after the end {event:?} gave {out:?}");
        }
        // What the event itself closed, before the actions are judged against it.
        match event {
            Event::Failed { leg, .. } | Event::LegTimeout { leg } if leg < self.legs => {
                self.finals[leg] = true;
            }
            _ => {}
        }
        if self.ended == 0 && self.winner.is_some() {
            match event {
                Event::LegBye { leg } | Event::LegTimeout { leg } if Some(leg) == self.winner => {
                    self.winner_gone = true
                }
                Event::CallerBye => self.caller_gone = true,
                _ => {}
            }
        }
        let (live, answered_before) = (self.ended == 0, self.winner.is_some());
        for action in out {
            self.action(event, *action, ctx);
        }
        // The caller can always leave, and an unacknowledged answer always ends.
        let must_end = match event {
            Event::CallerBye => true,
            Event::CallerCancel => !answered_before,
            Event::CallerAckTimeout => answered_before && !self.acked,
            _ => false,
        };
        if live && must_end {
            assert_eq!(self.ended, 1, "{ctx}: the call went on");
        }
        if event == Event::CallerAck && answered_before {
            self.acked = true;
        }
        if let Event::Answered { leg } = event {
            if leg < self.legs {
                self.answered[leg] = true;
            }
        }
    }

    fn action(&mut self, event: Event, action: Action, ctx: &str) {
        let leg_of = match action {
            Action::ProgressCaller {
                early_media_from, ..
            } => early_media_from,
            Action::AnswerCaller { leg }
            | Action::Ack { leg }
            | Action::AckAndBye { leg }
            | Action::Cancel { leg }
            | Action::Bye { leg } => Some(leg),
            Action::Refresh {
                side: Side::Leg(leg),
            } => Some(leg),
            _ => None,
        };
        if let Some(leg) = leg_of {
            assert!(
                leg < self.legs,
                "{ctx}: {action:?} names a leg out of range"
            );
        }
        match action {
            Action::Ended { .. } => {
                self.ended += 1;
                assert_eq!(self.ended, 1, "{ctx}: Ended twice");
                self.check_closed(ctx);
            }
            Action::Ack { .. } | Action::AckAndBye { .. } => {}
            _ => assert_eq!(self.ended, 0, "{ctx}: {action:?} after Ended"),
        }
        match action {
            Action::ProgressCaller {
                status: 180,
                early_media_from: None,
            } => {
                self.told_180 += 1;
                assert_eq!(self.told_180, 1, "{ctx}: 180 relayed twice");
                assert!(self.relay.is_none(), "{ctx}: 180 after early media");
            }
            Action::ProgressCaller {
                status: 183,
                early_media_from: Some(leg),
            } => {
                assert!(self.relay.is_none(), "{ctx}: two early-media relays");
                self.relay = Some(leg);
            }
            Action::ProgressCaller { .. } => panic!("{ctx}: odd progress {action:?}"),
            Action::StopEarlyMedia => {
                assert!(self.relay.take().is_some(), "{ctx}: nothing to stop");
            }
            Action::AnswerCaller { leg } => {
                self.verdicts += 1;
                assert_eq!(self.verdicts, 1, "{ctx}: second verdict for the caller");
                assert!(
                    self.relay.is_none() || self.relay == Some(leg),
                    "{ctx}: another leg's early media still relayed"
                );
                self.relay = None;
                assert_eq!(
                    event,
                    Event::Answered { leg },
                    "{ctx}: answer without a 2xx"
                );
                self.winner = Some(leg);
            }
            Action::RejectCaller { .. } | Action::Failed(_) => {
                self.verdicts += 1;
                assert_eq!(self.verdicts, 1, "{ctx}: second verdict for the caller");
            }
            Action::Ack { leg } => {
                assert_eq!(event, Event::Answered { leg }, "{ctx}: ACK without a 2xx");
            }
            Action::AckAndBye { leg } => {
                assert!(
                    event == Event::Answered { leg } || event == Event::ForkedAnswer { leg },
                    "{ctx}: ACK+BYE without a 2xx"
                );
                assert_ne!(
                    (Some(leg), event),
                    (self.winner, Event::Answered { leg }),
                    "{ctx}: the winner's own dialog hung up"
                );
                self.discarded[leg] = true;
            }
            Action::Cancel { leg } => {
                assert!(!self.cancelled[leg], "{ctx}: leg {leg} cancelled twice");
                assert!(!self.finals[leg], "{ctx}: CANCEL after a final");
                assert!(!self.discarded[leg], "{ctx}: CANCEL after a 2xx");
                self.cancelled[leg] = true;
            }
            Action::Bye { leg } => {
                assert_eq!(Some(leg), self.winner, "{ctx}: BYE to a leg not bridged");
                self.winner_gone = true;
            }
            Action::ByeCaller => {
                assert!(self.winner.is_some(), "{ctx}: BYE to an unanswered caller");
                self.caller_gone = true;
            }
            Action::Refresh { side } => {
                assert!(self.winner.is_some(), "{ctx}: refresh before the answer");
                assert!(
                    side == Side::Caller || side == Side::Leg(self.winner.unwrap_or(usize::MAX)),
                    "{ctx}: refresh on a losing leg"
                );
            }
            Action::Ended { .. } => {}
        }
    }

    /// At `Ended`: no leg, no relay and no caller is left half-open.
    fn check_closed(&self, ctx: &str) {
        assert_eq!(self.verdicts, 1, "{ctx}: the caller got no verdict");
        assert!(self.relay.is_none(), "{ctx}: early media still relayed");
        for leg in 0..self.legs {
            if Some(leg) == self.winner {
                assert!(self.winner_gone, "{ctx}: winner {leg} left up");
            } else {
                assert!(
                    self.finals[leg] || self.cancelled[leg] || self.discarded[leg],
                    "{ctx}: leg {leg} left ringing"
                );
            }
        }
        if self.winner.is_some() {
            assert!(self.caller_gone, "{ctx}: answered caller left up");
        }
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed);
    let legs = rng.below(5);
    let ring = rng
        .pick(&[None, Some(20), Some(60)])
        .map(Duration::from_secs);
    let mut sim = Sim::new(legs, ring);
    let mut model = Model::new(legs);
    let feed = |sim: &mut Sim, model: &mut Model, event: Event, what: &str| {
        let was_over = sim.bridge.state() == State::Ended;
        let was_ended = sim.bridge.is_ended();
        let out = sim.ev(event);
        let ctx = format!("seed {seed}, {what} {event:?}");
        model.step(was_over, event, &out, &ctx);
        assert!(
            !was_ended || sim.bridge.is_ended(),
            "{ctx}: came back to life"
        );
        assert_eq!(sim.bridge.winner(), model.winner, "{ctx}: winner");
    };

    for _ in 0..rng.below(40) {
        if rng.chance(15) {
            if let Some(deadline) = sim.bridge.poll_timeout() {
                sim.now = sim.now.max(deadline);
            }
        } else {
            sim.now += Duration::from_millis(rng.below(40_000) as u64);
        }
        let event = random_event(&mut rng, legs);
        feed(&mut sim, &mut model, event, "random");
    }

    // Wind down: let the timers run a while, try to end the call one way or another, settle
    // every leg, and hang up for good (an answered call that ignored the first try, e.g. an
    // ACK timeout after the ACK, ends here). Exactly one Ended must come out of it all.
    for _ in 0..rng.below(4) {
        if let Some(deadline) = sim.bridge.poll_timeout() {
            sim.now = sim.now.max(deadline);
            feed(&mut sim, &mut model, Event::Tick, "tick");
        }
    }
    let hangup = rng.pick(&[
        Event::CallerBye,
        Event::CallerCancel,
        Event::CallerAckTimeout,
    ]);
    feed(&mut sim, &mut model, hangup, "hang up");
    for leg in 0..legs {
        let settle = if rng.chance(50) {
            Event::LegTimeout { leg }
        } else {
            Event::Failed { leg, status: 487 }
        };
        feed(&mut sim, &mut model, settle, "settle");
    }
    feed(&mut sim, &mut model, Event::CallerBye, "last bye");
    feed(&mut sim, &mut model, Event::Tick, "tick");
    let ctx = format!("seed {seed}");
    assert!(sim.bridge.is_ended(), "{ctx}: not ended");
    assert_eq!(sim.bridge.state(), State::Ended, "{ctx}");
    assert_eq!(sim.ended_count(), 1, "{ctx}: Ended must come exactly once");
    assert_eq!(sim.bridge.poll_timeout(), None, "{ctx}: timer left armed");
}

#[test]
fn random_sequences_keep_the_invariants() {
    for seed in 0..5_000 {
        run(seed);
    }
}

//! A simulated clock around one bridge, in the spirit of quinn-proto's test `Pair`: time
//! only moves when a test says so, and `step` jumps straight to the bridge's next deadline.

use std::time::{Duration, Instant};

use vaxel_b2bua::{Action, Bridge, Event, Side};

pub struct Sim {
    pub bridge: Bridge,
    pub t0: Instant,
    pub now: Instant,
    /// Every action so far, for whole-call assertions.
    pub log: Vec<Action>,
}

impl Sim {
    pub fn new(legs: usize, ring_timeout: Option<Duration>) -> Sim {
        let t0 = Instant::now();
        Sim {
            bridge: Bridge::new(t0, legs, ring_timeout),
            t0,
            now: t0,
            log: Vec::new(),
        }
    }

    /// Moves the clock to `secs` after the start (never backwards).
    pub fn at(&mut self, secs: u64) -> &mut Sim {
        let t = self.t0 + Duration::from_secs(secs);
        assert!(t >= self.now, "time runs forwards");
        self.now = t;
        self
    }

    pub fn ev(&mut self, event: Event) -> Vec<Action> {
        let out = self.bridge.handle(self.now, event);
        self.log.extend(out.iter().copied());
        out
    }

    /// Jumps to the next deadline and ticks there; returns the time (since start) and actions.
    pub fn step(&mut self) -> (Duration, Vec<Action>) {
        let deadline = self.bridge.poll_timeout().expect("a deadline is armed");
        assert!(deadline >= self.now, "deadline not in the past");
        self.now = deadline;
        (self.now - self.t0, self.ev(Event::Tick))
    }

    /// How many `Ended` were emitted over the whole call.
    pub fn ended_count(&self) -> usize {
        self.log
            .iter()
            .filter(|a| matches!(a, Action::Ended { .. }))
            .count()
    }
}

pub fn ringing(leg: usize) -> Event {
    Event::Provisional {
        leg,
        status: 180,
        sdp: false,
    }
}

pub fn early(leg: usize) -> Event {
    Event::Provisional {
        leg,
        status: 183,
        sdp: true,
    }
}

pub fn ok(leg: usize) -> Event {
    Event::Answered { leg }
}

pub fn fail(leg: usize, status: u16) -> Event {
    Event::Failed { leg, status }
}

pub fn timer(side: Side, secs: u64, we_refresh: bool) -> Event {
    Event::SessionTimer {
        side,
        interval: Duration::from_secs(secs),
        we_refresh,
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

//! The wall clock of the switchboard: real time, or `--now` plus the time since start.

use std::time::Instant;

use jiff::Timestamp;

/// Maps monotonic instants to wall-clock time, possibly shifted to a chosen start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    wall_origin: Timestamp,
}

impl Clock {
    /// The real wall clock.
    pub fn system() -> Self {
        Clock {
            origin: Instant::now(),
            wall_origin: Timestamp::now(),
        }
    }

    /// A clock that reads `start` now and runs on from there (`vaxel run --now`).
    pub fn starting_at(start: Timestamp) -> Self {
        Clock {
            origin: Instant::now(),
            wall_origin: start,
        }
    }

    /// Wall time at a monotonic instant.
    pub fn at(&self, instant: Instant) -> Timestamp {
        let elapsed = instant.saturating_duration_since(self.origin);
        let span = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.wall_origin
            .checked_add(span)
            .unwrap_or(self.wall_origin)
    }

    /// Wall time now.
    pub fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }
}

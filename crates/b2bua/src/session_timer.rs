//! One side's RFC 4028 session timer.

use std::time::{Duration, Instant};

/// The longest margin a non-refresher leaves before the expiry (RFC 4028 §10).
const MAX_MARGIN: Duration = Duration::from_secs(32);

/// A negotiated session interval on one side, counted from the last successful refresh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionTimer {
    interval: Duration,
    we_refresh: bool,
    /// When the session was last refreshed (or negotiated).
    since: Instant,
    /// Whether our refresh for this interval is out; the next one waits for `Refreshed`.
    refresh_sent: bool,
}

/// What a side's timer asks for at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    Refresh,
    Expired,
}

impl SessionTimer {
    /// `None` for a zero interval: the side has no session timer any more.
    pub(crate) fn new(now: Instant, interval: Duration, we_refresh: bool) -> Option<SessionTimer> {
        (!interval.is_zero()).then_some(SessionTimer {
            interval,
            we_refresh,
            since: now,
            refresh_sent: false,
        })
    }

    pub(crate) fn refreshed(&mut self, now: Instant) {
        self.since = now;
        self.refresh_sent = false;
    }

    /// When we send our refresh: half the interval (RFC 4028 §10 recommends it).
    fn refresh_at(&self) -> Option<Instant> {
        if self.we_refresh && !self.refresh_sent {
            self.since.checked_add(self.interval / 2)
        } else {
            None
        }
    }

    /// When the session is given up. The non-refresher hangs up a little before the
    /// refresher's deadline; as refresher we still hang up at the full interval if our
    /// refresh neither succeeded nor was reported failed, so no call outlives its timer.
    fn expires_at(&self) -> Option<Instant> {
        let life = if self.we_refresh {
            self.interval
        } else {
            self.interval - MAX_MARGIN.min(self.interval / 3)
        };
        self.since.checked_add(life)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        match (self.refresh_at(), self.expires_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Checks the timer at `now`; a refresh is asked for once per interval.
    pub(crate) fn poll(&mut self, now: Instant) -> Due {
        if self.expires_at().is_some_and(|t| now >= t) {
            Due::Expired
        } else if self.refresh_at().is_some_and(|t| now >= t) {
            self.refresh_sent = true;
            Due::Refresh
        } else {
            Due::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_rfc_4028() {
        let t0 = Instant::now();
        let ours = SessionTimer::new(t0, Duration::from_secs(1800), true).expect("timer");
        assert_eq!(ours.deadline(), Some(t0 + Duration::from_secs(900)));
        let theirs = SessionTimer::new(t0, Duration::from_secs(1800), false).expect("timer");
        assert_eq!(theirs.deadline(), Some(t0 + Duration::from_secs(1768)));
        let short = SessionTimer::new(t0, Duration::from_secs(90), false).expect("timer");
        assert_eq!(short.deadline(), Some(t0 + Duration::from_secs(60)));
        assert!(SessionTimer::new(t0, Duration::ZERO, true).is_none());
    }

    #[test]
    fn refresh_once_then_expire() {
        let t0 = Instant::now();
        let mut t = SessionTimer::new(t0, Duration::from_secs(90), true).expect("timer");
        assert_eq!(t.poll(t0 + Duration::from_secs(44)), Due::Nothing);
        assert_eq!(t.poll(t0 + Duration::from_secs(45)), Due::Refresh);
        assert_eq!(t.poll(t0 + Duration::from_secs(46)), Due::Nothing);
        assert_eq!(t.deadline(), Some(t0 + Duration::from_secs(90)));
        assert_eq!(t.poll(t0 + Duration::from_secs(90)), Due::Expired);
    }

    #[test]
    fn huge_interval_never_fires() {
        let t0 = Instant::now();
        let mut t = SessionTimer::new(t0, Duration::MAX, false).expect("timer");
        assert_eq!(t.poll(t0 + Duration::from_secs(1 << 40)), Due::Nothing);
    }
}

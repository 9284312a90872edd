//! Absolute-deadline pacing of 20 ms frames.

use std::time::{Duration, Instant};

use crate::FRAME;

/// Most frames [`Pacer::frames_due`] reports at once; a longer stall is better skipped
/// (see [`Pacer::resync`]) than blasted at the peer in one burst.
pub const MAX_CATCH_UP: u64 = 5;

/// Frame clock for one stream. Frame `n` is due at `start + n * 20 ms`, computed from the
/// start instant every time, so late wake-ups never accumulate into drift.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    /// Frames sent (or skipped) so far; the index of the next frame.
    sent: u64,
}

impl Pacer {
    /// A pacer whose frame 0 is due at `start`.
    pub fn new(start: Instant) -> Self {
        Self { start, sent: 0 }
    }

    /// When frame `n` is due.
    pub fn deadline(&self, n: u64) -> Instant {
        let offset = Duration::from_micros(n.saturating_mul(FRAME.as_micros() as u64));
        self.start.checked_add(offset).unwrap_or(self.start)
    }

    /// When the next unsent frame is due: the instant to arm the timer for.
    pub fn next_deadline(&self) -> Instant {
        self.deadline(self.sent)
    }

    /// Record that the next frame has been sent.
    pub fn advance(&mut self) {
        self.sent = self.sent.saturating_add(1);
    }

    /// Index of the next frame (= frames sent or skipped so far).
    pub fn frames_sent(&self) -> u64 {
        self.sent
    }

    /// How many frames are due at `now` and not sent yet, at most [`MAX_CATCH_UP`].
    pub fn frames_due(&self, now: Instant) -> u64 {
        self.frames_behind(now).min(MAX_CATCH_UP)
    }

    /// Frames due at `now` and not sent, without the cap.
    pub fn frames_behind(&self, now: Instant) -> u64 {
        let Some(elapsed) = now.checked_duration_since(self.start) else {
            return 0;
        };
        let last_due = (elapsed.as_micros() / FRAME.as_micros()) as u64;
        (last_due + 1).saturating_sub(self.sent)
    }

    /// After a long stall, drop the frames beyond the catch-up window so the stream stays
    /// in real time. Returns how many frames were skipped; the caller should advance its
    /// RTP timestamp by that many frames ([`crate::RtpSender::skip`]).
    pub fn resync(&mut self, now: Instant) -> u64 {
        let skipped = self.frames_behind(now).saturating_sub(MAX_CATCH_UP);
        self.sent = self.sent.saturating_add(skipped);
        skipped
    }

    /// Skips every frame due at `now`, so the next one is in the future: for a clock that
    /// had nothing to send for a while and should not catch up at all.
    pub fn skip_past(&mut self, now: Instant) {
        self.sent = self.sent.saturating_add(self.frames_behind(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hour_has_zero_drift() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        // Simulate a sender that always wakes 7 ms late and sends what is due.
        let mut n = 0u64;
        while n < 180_000 {
            let now = p.next_deadline() + Duration::from_millis(7);
            let due = p.frames_due(now);
            assert_eq!(due, 1, "frame {n}");
            for _ in 0..due {
                p.advance();
                n += 1;
            }
        }
        assert_eq!(p.frames_sent(), 180_000);
        assert_eq!(p.next_deadline() - start, Duration::from_secs(3600));
        assert_eq!(p.deadline(180_000), start + Duration::from_secs(3600));
    }

    #[test]
    fn frames_due_counts_boundaries_exactly() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        assert_eq!(p.frames_due(start), 1); // frame 0 is due at start
        p.advance();
        assert_eq!(p.frames_due(start + Duration::from_micros(19_999)), 0);
        assert_eq!(p.frames_due(start + FRAME), 1);
        assert_eq!(p.frames_due(start + Duration::from_millis(60)), 3);
        assert_eq!(p.frames_due(start + Duration::from_secs(10)), MAX_CATCH_UP);
    }

    #[test]
    fn before_start_nothing_is_due() {
        let start = Instant::now() + Duration::from_secs(1);
        let p = Pacer::new(start);
        assert_eq!(p.frames_due(start - Duration::from_millis(1)), 0);
    }

    #[test]
    fn resync_skips_a_long_stall() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        let now = start + Duration::from_secs(2); // frames 0..=100 due
        assert_eq!(p.frames_behind(now), 101);
        assert_eq!(p.resync(now), 96);
        assert_eq!(p.frames_due(now), MAX_CATCH_UP);
        for _ in 0..MAX_CATCH_UP {
            p.advance();
        }
        assert_eq!(p.frames_due(now), 0);
        assert_eq!(p.next_deadline(), start + Duration::from_millis(2020));
        assert_eq!(p.resync(now), 0);
    }

    #[test]
    fn skip_past_leaves_nothing_due() {
        let start = Instant::now();
        let mut p = Pacer::new(start);
        let now = start + Duration::from_millis(1_010);
        p.skip_past(now);
        assert_eq!(p.frames_due(now), 0);
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1_020));
        p.skip_past(now);
        assert_eq!(p.next_deadline(), start + Duration::from_millis(1_020));
    }
}

//! Blocking password guessers: too many failed digest answers from one source address within
//! a window block that address for a while. The table is capped so a flood from many
//! addresses cannot grow it without bound.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Thresholds for [`FailureTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureConfig {
    /// Failures within `window` that start a block; 0 disables blocking.
    pub max_failures: u32,
    /// Seconds over which failures are counted.
    pub window: u64,
    /// Seconds a source stays blocked.
    pub block_for: u64,
    /// Most sources tracked at once; beyond it the least relevant are forgotten.
    pub max_sources: usize,
}

impl Default for FailureConfig {
    fn default() -> Self {
        FailureConfig {
            max_failures: 10,
            window: 60,
            block_for: 600,
            max_sources: 10_000,
        }
    }
}

/// Reported once when a source becomes blocked, so the engine logs it once, not per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockStarted {
    /// The blocked address.
    pub ip: IpAddr,
    /// When the block ends (seconds on the caller's clock).
    pub until: u64,
    /// Failures counted when it started.
    pub failures: u32,
}

#[derive(Debug, Clone, Default)]
struct Source {
    failures: VecDeque<u64>,
    blocked_until: Option<u64>,
}

impl Source {
    /// Until when this entry matters; after that it can be dropped.
    fn relevant_until(&self, window: u64) -> u64 {
        let last = self.failures.back().map_or(0, |t| t.saturating_add(window));
        self.blocked_until.unwrap_or(0).max(last)
    }
}

/// Failed attempts per source address, and the blocks they caused.
#[derive(Debug, Clone, Default)]
pub struct FailureTracker {
    config: FailureConfig,
    sources: HashMap<IpAddr, Source>,
}

impl FailureTracker {
    /// An empty tracker.
    pub fn new(config: FailureConfig) -> FailureTracker {
        FailureTracker {
            config,
            sources: HashMap::new(),
        }
    }

    /// Whether requests from `ip` are to be dropped (or refused) unexamined.
    pub fn is_blocked(&self, ip: IpAddr, now: u64) -> bool {
        self.sources
            .get(&ip)
            .and_then(|s| s.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Counts a failed digest answer from `ip` ([`crate::AuthOutcome::Challenge`] with
    /// `failed`). Returns `Some` only when this failure starts a block.
    pub fn record_failure(&mut self, ip: IpAddr, now: u64) -> Option<BlockStarted> {
        if self.config.max_failures == 0 {
            return None;
        }
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.config.max_sources {
            self.make_room(now);
        }
        let cfg = self.config;
        let source = self.sources.entry(ip).or_default();
        match source.blocked_until {
            Some(until) if now < until => return None,
            Some(_) => *source = Source::default(),
            None => {}
        }
        while source
            .failures
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= cfg.window)
        {
            source.failures.pop_front();
        }
        source.failures.push_back(now);
        let count = u32::try_from(source.failures.len()).unwrap_or(u32::MAX);
        if count < cfg.max_failures {
            return None;
        }
        let until = now.saturating_add(cfg.block_for);
        source.failures.clear();
        source.blocked_until = Some(until);
        Some(BlockStarted {
            ip,
            until,
            failures: count,
        })
    }

    /// Forgets the failures of `ip` after a successful authentication (a block stays).
    pub fn record_success(&mut self, ip: IpAddr) {
        if let Some(s) = self.sources.get_mut(&ip) {
            s.failures.clear();
            if s.blocked_until.is_none() {
                self.sources.remove(&ip);
            }
        }
    }

    /// Drops sources whose failures and block are all in the past.
    pub fn purge(&mut self, now: u64) {
        let window = self.config.window;
        self.sources.retain(|_, s| s.relevant_until(window) > now);
    }

    /// Number of sources tracked.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    fn make_room(&mut self, now: u64) {
        self.purge(now);
        let window = self.config.window;
        while self.sources.len() >= self.config.max_sources.max(1) {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, s)| s.relevant_until(window))
                .map(|(ip, _)| *ip);
            match oldest {
                Some(ip) => {
                    self.sources.remove(&ip);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn blocks_after_threshold_once_and_unblocks_later() {
        let mut t = FailureTracker::new(FailureConfig::default());
        let mut starts = Vec::new();
        for i in 0..25u64 {
            if let Some(b) = t.record_failure(ip(1), 1000 + i) {
                starts.push(b);
            }
        }
        assert_eq!(
            starts,
            vec![BlockStarted {
                ip: ip(1),
                until: 1009 + 600,
                failures: 10
            }]
        );
        assert!(t.is_blocked(ip(1), 1009));
        assert!(t.is_blocked(ip(1), 1608));
        assert!(!t.is_blocked(ip(2), 1100));
        assert!(!t.is_blocked(ip(1), 1609));
        // After the block a fresh count starts: nine failures do not block again.
        for i in 0..9 {
            assert_eq!(t.record_failure(ip(1), 1700 + i), None);
        }
        assert!(!t.is_blocked(ip(1), 1710));
        assert!(t.record_failure(ip(1), 1710).is_some());
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut t = FailureTracker::new(FailureConfig::default());
        for i in 0..30u64 {
            // One failure every 7 s: at most 9 inside any 60 s window.
            assert_eq!(t.record_failure(ip(1), i * 7), None, "failure {i}");
        }
        assert!(!t.is_blocked(ip(1), 210));
    }

    #[test]
    fn success_resets_the_count() {
        let mut t = FailureTracker::new(FailureConfig::default());
        for i in 0..9 {
            t.record_failure(ip(1), i);
        }
        t.record_success(ip(1));
        assert_eq!(t.record_failure(ip(1), 10), None);
    }

    #[test]
    fn table_is_capped_and_keeps_blocks_over_stale_entries() {
        let cfg = FailureConfig {
            max_failures: 2,
            max_sources: 3,
            ..FailureConfig::default()
        };
        let mut t = FailureTracker::new(cfg);
        t.record_failure(ip(1), 0);
        assert!(t.record_failure(ip(1), 0).is_some());
        for n in 2..50 {
            t.record_failure(ip(n), 10 + u64::from(n));
            assert!(t.len() <= 3);
        }
        assert!(t.is_blocked(ip(1), 100));
        t.purge(10_000);
        assert!(t.is_empty());
    }
}

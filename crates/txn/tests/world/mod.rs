//! The simulated world both transaction test suites use: a core, a virtual clock that jumps
//! from deadline to deadline (like quinn's test `Pair::step`), and everything sent, with times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaxel_txn::{Core, Output, Peer, TimerConfig, TuEvent};

/// A transaction core, a simulated clock and everything it sent, with send times.
pub struct World {
    pub core: Core,
    pub start: Instant,
    pub now: Instant,
    pub sent: Vec<(Duration, Peer, String)>,
    pub events: Vec<(Duration, TuEvent)>,
}

impl World {
    pub fn new() -> Self {
        let start = Instant::now();
        World {
            core: Core::new(TimerConfig::default()),
            start,
            now: start,
            sent: vec![],
            events: vec![],
        }
    }

    /// Collects what the core wants sent and told, stamped with the current virtual time.
    pub fn drain(&mut self) {
        let at = self.now - self.start;
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Send { peer, bytes } => self.sent.push((at, peer, text(&bytes))),
                Output::Event(e) => self.events.push((at, e)),
            }
        }
    }

    /// Jumps from deadline to deadline until `until` (time since start).
    pub fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        while let Some(t) = self.core.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.core.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(end);
    }
}

fn text(b: &Arc<[u8]>) -> String {
    String::from_utf8_lossy(b).into_owned()
}

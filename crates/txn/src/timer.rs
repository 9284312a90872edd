//! RFC 3261 timer values and a deadline queue with lazy cancellation.
//!
//! Every transaction carries a generation number; a timer entry remembers the generation it
//! was armed in, and fires only if the transaction still has it. Changing state bumps the
//! generation, which cancels every pending timer of the old state at no cost.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// The base timer values of RFC 3261 §17.1.1.1; tests may shrink or stretch them.
#[derive(Debug, Clone, Copy)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Delay after which an INVITE server transaction sends 100 Trying if the TU is silent
    /// (§17.2.1 allows skipping it when the TU answers within 200 ms).
    pub trying: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// 64*T1: Timers B, F, H, J, L and M.
    pub fn t64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D over UDP: at least 32 s (§17.1.1.2), the longest a server with default
    /// timers keeps retransmitting its final response.
    pub fn timer_d(&self) -> Duration {
        self.t64().max(Duration::from_secs(32))
    }
}

/// Which timer of a transaction fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// Send 100 Trying when the TU has not answered yet.
    Trying,
    /// INVITE server: retransmit the final non-2xx response.
    G,
    /// INVITE server: give up waiting for the ACK of a non-2xx.
    H,
    /// INVITE server: absorb ACK retransmissions, then terminate.
    I,
    /// Non-INVITE server: absorb request retransmissions, then terminate.
    J,
    /// Non-INVITE client: retransmit the request.
    E,
    /// Non-INVITE client: transaction timeout.
    F,
    /// Non-INVITE client: absorb response retransmissions, then terminate.
    K,
    /// INVITE server after a 2xx (RFC 6026 Accepted): retransmit the 2xx until the ACK.
    Retransmit2xx,
    /// INVITE server after a 2xx: stop waiting for the ACK (RFC 6026 Timer L).
    L,
    /// INVITE client: retransmit the INVITE (doubling, no T2 cap).
    A,
    /// INVITE client: no response at all; the transaction times out.
    B,
    /// INVITE client after a non-2xx: absorb response retransmissions, then terminate.
    D,
    /// INVITE client after a 2xx (RFC 6026 Timer M): pass 2xx from other forks, then end.
    M,
    /// INVITE client after sending CANCEL: give up on the final response (§9.1, 64*T1).
    CancelGuard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Instant,
    seq: u64,
    txn: u64,
    generation: u32,
    kind: TimerKind,
}

/// A fired timer, to be checked against the transaction's current generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Slot of the transaction.
    pub txn: u64,
    /// Generation the timer was armed in.
    pub generation: u32,
    /// Which timer.
    pub kind: TimerKind,
}

/// Min-heap of deadlines.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl TimerQueue {
    /// An empty queue with room for `n` timers.
    pub fn with_capacity(n: usize) -> Self {
        TimerQueue {
            heap: BinaryHeap::with_capacity(n),
            seq: 0,
        }
    }

    /// Arms a timer.
    pub fn arm(&mut self, at: Instant, txn: u64, generation: u32, kind: TimerKind) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            txn,
            generation,
            kind,
        }));
    }

    /// The earliest deadline, stale entries included (a spurious wake-up is harmless).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Pops one timer due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Fired> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.at <= now => {
                let e = self.heap.pop()?.0;
                Some(Fired {
                    txn: e.txn,
                    generation: e.generation,
                    kind: e.kind,
                })
            }
            _ => None,
        }
    }
}

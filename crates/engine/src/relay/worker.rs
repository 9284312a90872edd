//! One relay thread: the bridges it owns, an epoll set over their sockets and its command
//! eventfd, and the loop that moves packets between them.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use socket2::SockAddr;
use tracing::warn;

use super::forward::{Dropped, Latch, Leg, forward};
use super::rewrite::Rewriter;
use super::sys::{BATCH, Batch, Epoll, EventFd};
use super::{BridgeId, Side, Which};
use crate::metrics::Metrics;

/// Orders from the [`super::Relay`] handle, one variant per method.
pub enum Command {
    /// [`super::Relay::bridge`].
    Bridge { id: BridgeId, a: Side, b: Side },
    /// [`super::Relay::update`].
    Update {
        id: BridgeId,
        which: Which,
        side: Side,
    },
    /// [`super::Relay::unbridge`].
    Unbridge { id: BridgeId },
    /// [`super::Relay::shutdown`].
    Shutdown,
}

/// The epoll token of the command eventfd; sockets get `slot << 1 | side`.
const WAKE: u64 = u64::MAX;

/// Batches read from one socket per wake-up before the others get their turn (level
/// triggering brings it back if more is queued).
const MAX_ROUNDS: usize = 4;

/// One leg of a bridge as the worker keeps it.
struct SideState {
    socket: Arc<UdpSocket>,
    leg: Leg,
    latch: Latch,
    /// `latch.dest()` in the kernel's format, converted when it changes, not per packet.
    dest: SockAddr,
    /// The stream we send to this leg's peer.
    out: Rewriter,
}

impl SideState {
    fn new(side: Side) -> SideState {
        let latch = Latch::new(side.remote);
        SideState {
            dest: SockAddr::from(latch.dest()),
            leg: leg(&side),
            latch,
            socket: side.socket,
            out: Rewriter::random(),
        }
    }

    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Applies a re-INVITE's answer on this leg, keeping our outgoing stream. Returns the
    /// socket it replaced, if it did (the caller re-registers it).
    fn renegotiate(&mut self, side: Side) -> Option<Arc<UdpSocket>> {
        if self.latch.renegotiate(side.remote) {
            self.dest = SockAddr::from(self.latch.dest());
        }
        self.leg = leg(&side);
        if Arc::ptr_eq(&self.socket, &side.socket) {
            None
        } else {
            // A new socket is a new stream for the peer as far as latching goes.
            self.latch = Latch::new(side.remote);
            self.dest = SockAddr::from(self.latch.dest());
            Some(std::mem::replace(&mut self.socket, side.socket))
        }
    }

    fn learn(&mut self, from: SocketAddr) {
        if self.latch.learn(from) {
            self.dest = SockAddr::from(self.latch.dest());
        }
    }
}

/// The state for `side`: `old`'s, renegotiated, if it had the same socket; else fresh.
fn carry(old: Option<SideState>, side: Side) -> SideState {
    match old {
        Some(mut s) if Arc::ptr_eq(&s.socket, &side.socket) => {
            s.renegotiate(side);
            // The far end is (probably) a new source: continue our stream after a re-base.
            s.out.interrupt();
            s
        }
        _ => SideState::new(side),
    }
}

fn leg(side: &Side) -> Leg {
    Leg {
        codec: side.codec,
        audio_pt: side.audio_pt,
        event_pt: side.event_pt,
        send: side.send,
    }
}

struct Bridge {
    id: BridgeId,
    sides: [SideState; 2],
}

/// What happened to packets since the last flush to the shared metrics (kept per thread so
/// the hot path touches no shared cache line).
#[derive(Default)]
struct Counts {
    relayed: u64,
    transcoded: u64,
    strict: u64,
    dropped: u64,
    held: u64,
    send_errors: u64,
}

impl Counts {
    fn dropped(&mut self, why: Dropped) {
        match why {
            Dropped::Held => self.held += 1,
            Dropped::Garbage | Dropped::ComfortNoise | Dropped::UnknownPt | Dropped::NoEventPt => {
                self.dropped += 1
            }
        }
    }

    fn flush(&mut self, m: &Metrics) {
        let pairs: [(&mut u64, &AtomicU64); 6] = [
            (&mut self.relayed, &m.rtp_relayed),
            (&mut self.transcoded, &m.rtp_transcoded),
            (&mut self.strict, &m.rtp_dropped_strict),
            (&mut self.dropped, &m.rtp_relay_dropped),
            (&mut self.held, &m.rtp_relay_held),
            (&mut self.send_errors, &m.rtp_send_errors),
        ];
        for (n, a) in pairs {
            if *n > 0 {
                a.fetch_add(std::mem::take(n), Ordering::Relaxed);
            }
        }
    }
}

/// A relay thread's state; `run` is the thread.
pub struct Worker {
    epoll: Epoll,
    wake: Arc<EventFd>,
    commands: mpsc::Receiver<Command>,
    /// Bridges by slot; a slot's index is in its sockets' epoll tokens.
    slots: Vec<Option<Bridge>>,
    free: Vec<usize>,
    by_id: HashMap<BridgeId, usize>,
    counts: Counts,
    metrics: Arc<Metrics>,
}

impl Worker {
    /// A worker woken by `wake` for `commands`. Made on the caller's thread so setup errors
    /// reach [`super::Relay::new`].
    pub fn new(
        wake: Arc<EventFd>,
        commands: mpsc::Receiver<Command>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(wake.fd(), WAKE)?;
        Ok(Worker {
            epoll,
            wake,
            commands,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            counts: Counts::default(),
            metrics,
        })
    }

    /// Runs until Shutdown (or every handle is gone).
    pub fn run(mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        // Made here, not in `new`: its buffers are pointed at by raw pointers, so it stays on
        // the thread that uses it.
        let mut batch = Batch::new();
        loop {
            let n = match self.epoll.wait(&mut events) {
                Ok(n) => n,
                Err(e) => {
                    warn!(error = %e, "media relay thread stops: epoll_wait failed");
                    return;
                }
            };
            // Commands first, so an order given before a packet was sent (a hold, a new
            // address) applies to it. A socket event of this round may then name a slot that
            // was emptied or reused: reading a slot's sockets when they are idle is harmless.
            if events.iter().take(n).any(|ev| ev.u64 == WAKE) && !self.apply_commands() {
                return;
            }
            let now = Instant::now();
            for ev in events.iter().take(n) {
                let token = ev.u64;
                if token != WAKE {
                    self.readable(&mut batch, (token >> 1) as usize, (token & 1) as usize, now);
                }
            }
            self.counts.flush(&self.metrics);
        }
    }

    /// Relays everything queued on side `rx` of the bridge in `slot`.
    fn readable(&mut self, batch: &mut Batch, slot: usize, rx: usize, now: Instant) {
        let Some(Some(bridge)) = self.slots.get_mut(slot) else {
            return;
        };
        let [a, b] = &mut bridge.sides;
        let (from, to) = if rx == 0 { (a, b) } else { (b, a) };
        let counts = &mut self.counts;
        for _ in 0..MAX_ROUNDS {
            // WouldBlock ends the drain; so does any other error (level triggering retries).
            let Ok(n) = batch.recv(from.fd()) else {
                break;
            };
            for i in 0..n {
                let Some((src, buf)) = batch.packet(i) else {
                    counts.dropped += 1;
                    continue;
                };
                if !from.latch.admits(src) {
                    counts.strict += 1;
                    continue;
                }
                match forward(buf, &from.leg, &to.leg, &mut to.out, now) {
                    Ok(out) => {
                        from.learn(src);
                        counts.relayed += 1;
                        counts.transcoded += u64::from(out.transcoded);
                        batch.queue(i, out.range);
                    }
                    Err(Dropped::Garbage) => counts.dropped += 1,
                    Err(why) => {
                        from.learn(src);
                        counts.dropped(why);
                    }
                }
            }
            counts.send_errors += batch.flush(to.fd(), &to.dest);
            if n < BATCH {
                break;
            }
        }
    }

    /// Applies queued commands; false on Shutdown or when the handles are gone.
    fn apply_commands(&mut self) -> bool {
        self.wake.clear();
        loop {
            match self.commands.try_recv() {
                Ok(Command::Bridge { id, a, b }) => self.bridge(id, a, b),
                Ok(Command::Update { id, which, side }) => self.update(id, which, side),
                Ok(Command::Unbridge { id }) => {
                    if let Some(slot) = self.by_id.remove(&id) {
                        self.release(slot);
                    }
                }
                Ok(Command::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    fn bridge(&mut self, id: BridgeId, a: Side, b: Side) {
        let old = self.by_id.remove(&id).and_then(|slot| self.release(slot));
        // A leg that keeps its socket keeps its outgoing stream and latch (a transfer
        // replaces the other leg; this one's phone should hear one continuous stream).
        let (old_a, old_b) = match old {
            Some(Bridge { sides: [a, b], .. }) => (Some(a), Some(b)),
            None => (None, None),
        };
        let sides = [carry(old_a, a), carry(old_b, b)];
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let tokens = [(slot as u64) << 1, ((slot as u64) << 1) | 1];
        if let Err(e) = self.epoll.add(sides[0].fd(), tokens[0]) {
            warn!(bridge = id, error = %e, "media relay: cannot watch leg A's socket; not bridged");
            self.free.push(slot);
            return;
        }
        if let Err(e) = self.epoll.add(sides[1].fd(), tokens[1]) {
            warn!(bridge = id, error = %e, "media relay: cannot watch leg B's socket; not bridged");
            self.epoll.delete(sides[0].fd());
            self.free.push(slot);
            return;
        }
        let bridge = Bridge { id, sides };
        if slot == self.slots.len() {
            self.slots.push(Some(bridge));
        } else if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(bridge);
        }
        self.by_id.insert(id, slot);
    }

    fn update(&mut self, id: BridgeId, which: Which, side: Side) {
        let Some(&slot) = self.by_id.get(&id) else {
            return;
        };
        let Some(Some(bridge)) = self.slots.get_mut(slot) else {
            return;
        };
        let i = match which {
            Which::A => 0,
            Which::B => 1,
        };
        let Some(state) = bridge.sides.get_mut(i) else {
            return;
        };
        if let Some(old) = state.renegotiate(side) {
            self.epoll.delete(old.as_raw_fd());
            let token = ((slot as u64) << 1) | i as u64;
            if let Err(e) = self.epoll.add(state.fd(), token) {
                warn!(bridge = id, error = %e, "media relay: cannot watch the new socket");
            }
        }
    }

    /// Empties `slot`, unwatching its sockets; returns what it held.
    fn release(&mut self, slot: usize) -> Option<Bridge> {
        let bridge = self.slots.get_mut(slot)?.take()?;
        for s in &bridge.sides {
            self.epoll.delete(s.fd());
        }
        self.free.push(slot);
        debug_assert!(self.by_id.get(&bridge.id) != Some(&slot));
        Some(bridge)
    }
}

//! One relay thread's state, whichever way it waits for packets: the bridges it owns, the
//! commands that change them, and what happens to one datagram. The waiting loops are in
//! `epoll.rs` and `ring.rs`; they see bridge changes through [`Watcher`].

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::SockAddr;
use tracing::warn;

use super::forward::{Dropped, Latch, Leg, forward};
use super::rewrite::Rewriter;
use super::sys::EventFd;
use super::{BridgeId, RelayEvent, RelayEvents, Side, Which};
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
    /// [`super::Relay::watch_silence`].
    Silence {
        after: Option<Duration>,
        events: RelayEvents,
    },
    /// [`super::Relay::shutdown`].
    Shutdown,
}

/// A waiting loop's handle on one watched socket (its own meaning per loop).
pub type Watch = u32;

/// The handle of a socket that could not be watched; loops ignore it.
pub const NO_WATCH: Watch = Watch::MAX;

/// How a waiting loop learns which sockets to read and for which bridge side. Commands call
/// it; it must not touch the bridges.
pub trait Watcher {
    /// Starts reading `socket` for side `side` (0 = A, 1 = B) of the bridge in `slot`.
    fn watch(&mut self, socket: &Arc<UdpSocket>, slot: usize, side: usize) -> io::Result<Watch>;
    /// A watched socket stays but now belongs to another slot or side.
    fn rewatch(&mut self, watch: Watch, socket: &Arc<UdpSocket>, slot: usize, side: usize);
    /// Stops reading a socket.
    fn unwatch(&mut self, watch: Watch, socket: &Arc<UdpSocket>);
}

/// One leg of a bridge as the worker keeps it.
pub struct SideState {
    socket: Arc<UdpSocket>,
    leg: Leg,
    latch: Latch,
    /// `latch.dest()` in the kernel's format, converted when it changes, not per packet.
    dest: SockAddr,
    /// The stream we send to this leg's peer.
    out: Rewriter,
    watch: Watch,
    /// The peer should send us RTP (its SDP direction).
    receive: bool,
    /// The last valid RTP from the peer (or when it was due to start sending).
    heard: Instant,
    /// Its silence was reported (until it sends again).
    silent: bool,
    /// The socket is connected to the latched SDP address: packets leave without an address
    /// (no route look-up per packet) and the kernel drops strangers' packets.
    connected: bool,
    /// Connecting failed (say, an address family the socket cannot reach): not tried again
    /// on every packet, only after the leg's address or socket changes.
    connect_failed: bool,
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
            watch: 0,
            receive: side.receive,
            heard: Instant::now(),
            silent: false,
            connected: false,
            connect_failed: false,
        }
    }

    /// The socket packets for this leg's peer leave from.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Where packets for this leg's peer go: `None` when the socket is connected there.
    pub fn dest(&self) -> Option<&SockAddr> {
        (!self.connected).then_some(&self.dest)
    }

    /// A send without an address failed for want of a connection: someone else (the RTP
    /// scheduler, finishing with the caller's port late) disconnected the socket. Send with
    /// the address again; the next packet from the peer connects it again.
    pub fn lost_connection(&mut self) {
        self.connected = false;
    }

    /// Undoes our connection (a new SDP address: latching starts over and must hear every
    /// source).
    fn disconnect(&mut self) {
        if self.connected {
            let _ = crate::ports::disconnect(&self.socket);
            self.connected = false;
        }
    }

    /// Applies a re-INVITE's answer on this leg, keeping our outgoing stream. Returns the
    /// socket it replaced, if it did (the caller re-watches).
    fn renegotiate(&mut self, side: Side) -> Option<Arc<UdpSocket>> {
        if self.latch.renegotiate(side.remote) {
            self.dest = SockAddr::from(self.latch.dest());
        }
        if !self.latch.on_sdp() {
            self.disconnect();
            self.connect_failed = false;
        }
        self.leg = leg(&side);
        if side.receive && !self.receive {
            // Back from hold: it has the whole time to start sending.
            self.heard = Instant::now();
            self.silent = false;
        }
        self.receive = side.receive;
        if Arc::ptr_eq(&self.socket, &side.socket) {
            None
        } else {
            // A new socket is a new stream for the peer as far as latching goes.
            self.latch = Latch::new(side.remote);
            self.dest = SockAddr::from(self.latch.dest());
            self.connected = false;
            self.connect_failed = false;
            Some(std::mem::replace(&mut self.socket, side.socket))
        }
    }

    fn learn(&mut self, from: SocketAddr, now: Instant) {
        self.heard = now;
        self.silent = false;
        if self.latch.learn(from) {
            self.dest = SockAddr::from(self.latch.dest());
        }
        if self.connected && !self.latch.on_sdp() {
            // Heard from elsewhere while "connected": someone disconnected the socket.
            self.connected = false;
        } else if !self.connected && !self.connect_failed && self.latch.on_sdp() {
            self.connected = socket2::SockRef::from(&*self.socket)
                .connect(&self.dest)
                .is_ok();
            self.connect_failed = !self.connected;
        }
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

/// A bridged call: its two legs, A first.
pub struct Bridge {
    id: BridgeId,
    pub sides: [SideState; 2],
}

/// What happened to packets since the last flush to the shared metrics (kept per thread so
/// the hot path touches no shared cache line).
#[derive(Default)]
pub struct Counts {
    relayed: u64,
    transcoded: u64,
    strict: u64,
    pub dropped: u64,
    held: u64,
    pub send_errors: u64,
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

    /// Adds the counts to the shared metrics and starts over.
    pub fn flush(&mut self, m: &Metrics) {
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

/// One datagram received on `from` from `src` (`None`: an address we cannot read) in `buf`:
/// strict RTP, then the rewrite for `to`. Returns the part of `buf` to send out of `to`'s
/// socket to `to.dest()`, or `None` if the packet is dropped (counted).
pub fn relay_one(
    from: &mut SideState,
    to: &mut SideState,
    src: Option<SocketAddr>,
    buf: &mut [u8],
    now: Instant,
    counts: &mut Counts,
) -> Option<Range<usize>> {
    let Some(src) = src else {
        counts.dropped += 1;
        return None;
    };
    if !from.latch.admits(src) {
        counts.strict += 1;
        return None;
    }
    match forward(buf, &from.leg, &to.leg, &mut to.out, now) {
        Ok(out) => {
            from.learn(src, now);
            counts.relayed += 1;
            counts.transcoded += u64::from(out.transcoded);
            Some(out.range)
        }
        Err(Dropped::Garbage) => {
            counts.dropped += 1;
            None
        }
        Err(why) => {
            from.learn(src, now);
            counts.dropped(why);
            None
        }
    }
}

/// A relay thread's bridges and orders; the waiting loop owns it.
pub struct Worker {
    wake: Arc<EventFd>,
    commands: mpsc::Receiver<Command>,
    /// Bridges by slot; a slot's index is what the waiting loop reports packets for.
    slots: Vec<Option<Bridge>>,
    free: Vec<usize>,
    by_id: HashMap<BridgeId, usize>,
    pub counts: Counts,
    pub metrics: Arc<Metrics>,
    silence: Option<SilenceWatch>,
}

/// [`super::Relay::watch_silence`]'s order as a worker keeps it.
struct SilenceWatch {
    after: Duration,
    events: RelayEvents,
    next_check: Instant,
}

/// How often a worker looks for silent legs (the waiting loops wake at least this often).
pub const SILENCE_CHECK: Duration = Duration::from_secs(1);

impl Worker {
    /// A worker woken by `wake` for `commands`.
    pub fn new(
        wake: Arc<EventFd>,
        commands: mpsc::Receiver<Command>,
        metrics: Arc<Metrics>,
    ) -> Worker {
        Worker {
            wake,
            commands,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            counts: Counts::default(),
            metrics,
            silence: None,
        }
    }

    /// Reports the legs that fell silent (see [`super::Relay::watch_silence`]); cheap when
    /// called more often than [`SILENCE_CHECK`].
    pub fn check_silence(&mut self, now: Instant) {
        let Some(watch) = self.silence.as_mut() else {
            return;
        };
        if now < watch.next_check {
            return;
        }
        watch.next_check = now + SILENCE_CHECK;
        for bridge in self.slots.iter_mut().flatten() {
            for (side, which) in bridge.sides.iter_mut().zip([Which::A, Which::B]) {
                if side.receive
                    && !side.silent
                    && now.saturating_duration_since(side.heard) >= watch.after
                {
                    side.silent = true;
                    (watch.events)(RelayEvent::Silent {
                        id: bridge.id,
                        which,
                    });
                }
            }
        }
    }

    /// The command eventfd (for the waiting loop to watch).
    pub fn wake_fd(&self) -> RawFd {
        self.wake.fd()
    }

    /// The two legs of the bridge in `slot`, the receiving one (`rx`) first, and the counts.
    pub fn legs(
        &mut self,
        slot: usize,
        rx: usize,
    ) -> Option<(&mut SideState, &mut SideState, &mut Counts)> {
        let Some(Some(bridge)) = self.slots.get_mut(slot) else {
            return None;
        };
        let [a, b] = &mut bridge.sides;
        let (from, to) = if rx == 0 { (a, b) } else { (b, a) };
        Some((from, to, &mut self.counts))
    }

    /// Applies queued commands; false on Shutdown or when the handles are gone.
    pub fn apply_commands(&mut self, w: &mut impl Watcher) -> bool {
        self.wake.clear();
        loop {
            match self.commands.try_recv() {
                Ok(Command::Bridge { id, a, b }) => self.bridge(w, id, a, b),
                Ok(Command::Update { id, which, side }) => self.update(w, id, which, side),
                Ok(Command::Unbridge { id }) => {
                    if let Some(slot) = self.by_id.remove(&id)
                        && let Some(bridge) = self.take(slot)
                    {
                        for s in &bridge.sides {
                            w.unwatch(s.watch, &s.socket);
                        }
                    }
                }
                Ok(Command::Silence { after, events }) => {
                    self.silence = after.map(|after| SilenceWatch {
                        after,
                        events,
                        next_check: Instant::now(),
                    });
                }
                Ok(Command::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    fn bridge(&mut self, w: &mut impl Watcher, id: BridgeId, a: Side, b: Side) {
        let old = self.by_id.remove(&id).and_then(|slot| self.take(slot));
        let slot = self.free.pop().unwrap_or(self.slots.len());
        // A leg that keeps its socket keeps its outgoing stream, latch and watch (a transfer
        // replaces the other leg; this one's phone should hear one continuous stream).
        let mut olds: [Option<SideState>; 2] = match old {
            Some(Bridge { sides: [a, b], .. }) => [Some(a), Some(b)],
            None => [None, None],
        };
        let news = [a, b];
        let mut carried = [false; 2];
        for (i, (old, new)) in olds.iter_mut().zip(&news).enumerate() {
            match old {
                Some(s) if Arc::ptr_eq(&s.socket, &new.socket) => carried[i] = true,
                Some(s) => w.unwatch(s.watch, &s.socket),
                None => {}
            }
        }
        let mut sides = Vec::with_capacity(2);
        for (i, (old, new)) in olds.into_iter().zip(news).enumerate() {
            let state = match old {
                Some(mut s) if carried[i] => {
                    s.renegotiate(new);
                    // The far end is (probably) a new source: continue our stream after a
                    // re-base.
                    s.out.interrupt();
                    w.rewatch(s.watch, &s.socket, slot, i);
                    s
                }
                _ => {
                    let mut s = SideState::new(new);
                    match w.watch(&s.socket, slot, i) {
                        Ok(watch) => s.watch = watch,
                        Err(e) => {
                            warn!(bridge = id, side = i, error = %e, "media relay: cannot watch a leg's socket; not bridged");
                            for done in &sides {
                                let done: &SideState = done;
                                w.unwatch(done.watch, &done.socket);
                            }
                            self.free.push(slot);
                            return;
                        }
                    }
                    s
                }
            };
            sides.push(state);
        }
        let (Some(b), Some(a)) = (sides.pop(), sides.pop()) else {
            self.free.push(slot);
            return;
        };
        let bridge = Bridge { id, sides: [a, b] };
        if slot == self.slots.len() {
            self.slots.push(Some(bridge));
        } else if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(bridge);
        }
        self.by_id.insert(id, slot);
    }

    fn update(&mut self, w: &mut impl Watcher, id: BridgeId, which: Which, side: Side) {
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
            w.unwatch(state.watch, &old);
            match w.watch(&state.socket, slot, i) {
                Ok(watch) => state.watch = watch,
                Err(e) => {
                    state.watch = NO_WATCH;
                    warn!(bridge = id, error = %e, "media relay: cannot watch the new socket")
                }
            }
        }
    }

    /// Empties `slot`; returns what it held (still watched: the caller decides).
    fn take(&mut self, slot: usize) -> Option<Bridge> {
        let bridge = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        debug_assert!(self.by_id.get(&bridge.id) != Some(&slot));
        Some(bridge)
    }
}

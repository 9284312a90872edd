//! The RTP scheduler: one thread per core paces every outgoing stream it owns in batches, on
//! absolute deadlines, so no stream needs a task or a timer of its own and nothing drifts
//! over an hour. A thread's streams are spread over 10 phases 2 ms apart (see [`PHASES`]).
//! On Linux a phase's packets go to the kernel through the thread's io_uring, many per
//! system call (`uring.rs`); without io_uring, one `sendto` each.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;
#[cfg(target_os = "linux")]
use std::{os::fd::AsRawFd, sync::Once};

use tokio::sync::mpsc::UnboundedSender;
use vaxel_media::{Codec, MAX_CATCH_UP, Pacer, Playout, Prompt, RtpSender, SAMPLES_PER_FRAME};

use crate::metrics::Metrics;

/// A stream's id: the engine uses the call's id.
pub type StreamId = u64;

/// Orders for a scheduler thread.
pub enum Command {
    /// Start sending on `socket` to `remote`.
    Start {
        /// Stream id.
        id: StreamId,
        /// The call's RTP socket (non-blocking).
        socket: Arc<UdpSocket>,
        /// Where the caller wants RTP; `None` until it says (a late offer: the answer comes
        /// in the ACK). Meanwhile the stream waits: nothing is played, so the caller hears
        /// the prompt from its start once [`Command::Retarget`] says where.
        remote: Option<SocketAddr>,
        /// Negotiated codec.
        codec: Codec,
        /// SSRC, first sequence number and timestamp.
        rtp: RtpSender,
    },
    /// Queue a prompt `times` times after whatever is playing.
    Play {
        /// Stream id.
        id: StreamId,
        /// The shared prompt.
        prompt: Prompt,
        /// How many times.
        times: u32,
    },
    /// Drop whatever is queued (barge-in). Later PlaybackDone events carry `generation`,
    /// so the engine can tell them from reports about the audio that was dropped.
    Clear {
        /// Stream id.
        id: StreamId,
        /// The call's playback generation from now on.
        generation: u64,
    },
    /// The caller's answer arrived (late offer): where to send, in which law and payload type.
    /// `remote: None`: there will be no answer before the call's final response (early media
    /// without an offer from the caller): play silently, so prompts still end on time.
    Retarget {
        /// Stream id.
        id: StreamId,
        /// Where the caller wants RTP, or None to play without sending.
        remote: Option<SocketAddr>,
        /// Its G.711 law.
        codec: Codec,
        /// Its audio payload type.
        payload_type: u8,
    },
    /// Connect the stream's socket to its remote (`on`), or undo that. Only while nothing
    /// else reads the socket: a connected socket takes packets from the remote only, and
    /// sends without a route look-up per packet (~6 % of a prompt packet's cost). Stop and a
    /// replacing Start undo it too.
    Connect {
        /// Stream id.
        id: StreamId,
        /// Connect (true) or disconnect (false).
        on: bool,
    },
    /// Stop and forget the stream.
    Stop {
        /// Stream id.
        id: StreamId,
    },
    /// End the thread.
    Shutdown,
}

/// What the scheduler tells the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// The last queued frame of a stream has been sent (with the playback generation).
    PlaybackDone(StreamId, u64),
    /// The caller pressed a key (RFC 4733 event or in-band tone).
    Digit(StreamId, char),
    /// The relay heard no RTP from one leg of the bridged call for `[server] rtp_timeout`.
    Silent(StreamId, crate::relay::Which),
}

struct Stream {
    id: StreamId,
    socket: Arc<UdpSocket>,
    /// `None`: nowhere to send yet: the stream waits, or plays silently if `silent`.
    remote: Option<Dest>,
    /// With no `remote`: play (consume frames) without sending.
    silent: bool,
    codec: Codec,
    rtp: RtpSender,
    playout: Playout,
    /// Whether PlaybackDone was sent for the current queue.
    reported: bool,
    /// Playback generation (bumped by Clear).
    generation: u64,
    /// The socket is connected to `remote` (see [`Command::Connect`]).
    connected: bool,
}

impl Stream {
    /// Connects or disconnects the socket; on failure it stays as it was.
    fn connect(&mut self, on: bool) {
        if on == self.connected {
            return;
        }
        let sock = socket2::SockRef::from(&*self.socket);
        let done = if on {
            let Some(remote) = &self.remote else {
                return;
            };
            sock.connect(&socket2::SockAddr::from(remote.addr))
        } else {
            crate::ports::disconnect(&self.socket)
        };
        if done.is_ok() {
            self.connected = on;
        }
    }
}

/// Handles to the scheduler threads; streams are spread over them by id.
#[derive(Clone)]
pub struct Scheduler {
    threads: Arc<Vec<mpsc::Sender<Command>>>,
}

impl Scheduler {
    /// Starts `threads` scheduler threads (normally one per core).
    pub fn start(
        threads: usize,
        events: UnboundedSender<MediaEvent>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Scheduler> {
        let mut senders = Vec::new();
        for n in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let events = events.clone();
            let metrics = metrics.clone();
            thread::Builder::new()
                .name(format!("vaxel-rtp-{n}"))
                .spawn(move || run(rx, events, metrics))?;
            senders.push(tx);
        }
        Ok(Scheduler {
            threads: Arc::new(senders),
        })
    }

    /// Sends a command to the thread that owns stream `id`.
    pub fn send(&self, cmd: Command) {
        let id = match &cmd {
            Command::Start { id, .. }
            | Command::Play { id, .. }
            | Command::Clear { id, .. }
            | Command::Connect { id, .. }
            | Command::Retarget { id, .. }
            | Command::Stop { id } => *id,
            Command::Shutdown => {
                for t in self.threads.iter() {
                    let _ = t.send(Command::Shutdown);
                }
                return;
            }
        };
        let n = self.threads.len().max(1);
        if let Some(t) = self.threads.get((id as usize) % n) {
            // The thread only ends on Shutdown, after which commands are moot.
            let _ = t.send(cmd);
        }
    }
}

/// A thread's streams: a dense Vec walked every tick (no hashing, no pointer chasing), and
/// an index from id to slot for the commands.
#[derive(Default)]
struct Streams {
    list: Vec<Stream>,
    slot: HashMap<StreamId, usize>,
}

impl Streams {
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        let i = *self.slot.get(&id)?;
        self.list.get_mut(i)
    }

    fn insert(&mut self, s: Stream) {
        let id = s.id;
        match self.slot.get(&id).copied() {
            Some(i) => {
                if let Some(old) = self.list.get_mut(i) {
                    *old = s;
                }
            }
            None => {
                self.slot.insert(id, self.list.len());
                self.list.push(s);
            }
        }
    }

    fn remove(&mut self, id: StreamId) {
        let Some(i) = self.slot.remove(&id) else {
            return;
        };
        if i < self.list.len() {
            self.list.swap_remove(i);
            // The last stream moved into the hole.
            if let Some(moved) = self.list.get(i) {
                self.slot.insert(moved.id, i);
            }
        }
    }
}

/// Sub-ticks per 20 ms frame. Every stream belongs to one phase and is sent at that
/// phase's deadlines, 2 ms after the previous phase's: a thread's work arrives as ten small
/// bursts per frame instead of one big one. With one burst, 2,500 streams per thread took
/// ~9 ms per tick, and anything that delayed the thread inside it moved every later stream
/// of the burst (p99 gap jitter 2.5-14 ms at 5,000 streams). 20 phases were no better than
/// 10 and cost more wake-ups (each one a VM exit here).
const PHASES: usize = 10;

/// One phase: its frame clock (offset from the others by its share of the 20 ms) and its
/// streams.
struct Phase {
    pacer: Pacer,
    streams: Streams,
}

/// A scheduler thread's streams, spread over the phases.
struct Phases {
    list: Vec<Phase>,
    /// Which phase holds a stream.
    home: HashMap<StreamId, usize>,
}

impl Phases {
    fn new(start: Instant) -> Phases {
        let step = vaxel_media::FRAME / PHASES as u32;
        Phases {
            list: (0..PHASES)
                .map(|p| Phase {
                    pacer: Pacer::new(start + step * p as u32),
                    streams: Streams::default(),
                })
                .collect(),
            home: HashMap::new(),
        }
    }

    fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        let p = *self.home.get(&id)?;
        self.list.get_mut(p)?.streams.get_mut(id)
    }

    /// Adds (or replaces) a stream: a new one joins the phase with the fewest streams.
    fn insert(&mut self, s: Stream, now: Instant) {
        let p = match self.home.get(&s.id) {
            Some(&p) => p,
            None => {
                let Some((p, _)) = self
                    .list
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, ph)| ph.streams.list.len())
                else {
                    return;
                };
                p
            }
        };
        let Some(phase) = self.list.get_mut(p) else {
            return;
        };
        if phase.streams.is_empty() {
            // An idle phase's clock stood still; its first frame is its next deadline.
            phase.pacer.skip_past(now);
        }
        self.home.insert(s.id, p);
        phase.streams.insert(s);
    }

    fn remove(&mut self, id: StreamId) {
        if let Some(p) = self.home.remove(&id)
            && let Some(phase) = self.list.get_mut(p)
        {
            phase.streams.remove(id);
        }
    }

    /// The busy phase due first, and when.
    fn next(&self) -> Option<(usize, Instant)> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, ph)| !ph.streams.is_empty())
            .map(|(p, ph)| (p, ph.pacer.next_deadline()))
            .min_by_key(|&(_, at)| at)
    }
}

fn run(rx: mpsc::Receiver<Command>, events: UnboundedSender<MediaEvent>, metrics: Arc<Metrics>) {
    crate::priority::apply_to_this_thread();
    let mut phases = Phases::new(Instant::now());
    let mut buf = Vec::with_capacity(PACKET_CAPACITY);
    let mut out = Out::new();
    loop {
        // Commands first, so a Play that follows a PlaybackDone lands before the next tick.
        loop {
            match rx.try_recv() {
                Ok(cmd) => {
                    if !apply(cmd, &mut phases) {
                        return;
                    }
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        let Some((p, at)) = phases.next() else {
            // Idle: block on the next command.
            match rx.recv() {
                Ok(cmd) => {
                    if !apply(cmd, &mut phases) {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
        };
        if at > now {
            // Sleep, but wake for commands too: a new stream may belong to an earlier phase.
            match rx.recv_timeout(at - now) {
                Ok(cmd) => {
                    if !apply(cmd, &mut phases) {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            continue;
        }
        let Some(phase) = phases.list.get_mut(p) else {
            continue;
        };
        // After a stall longer than MAX_CATCH_UP frames, skip ahead rather than burst.
        if phase.pacer.frames_behind(now) > MAX_CATCH_UP {
            let skipped = phase.pacer.resync(now);
            for s in phase.streams.list.iter_mut() {
                s.rtp
                    .skip((skipped as u32).saturating_mul(SAMPLES_PER_FRAME as u32));
            }
        }
        for _ in 0..phase.pacer.frames_due(now) {
            tick(&mut phase.streams, &mut out, &mut buf, &events, &metrics);
            phase.pacer.advance();
        }
    }
}

/// Applies one command; false means shut down.
fn apply(cmd: Command, phases: &mut Phases) -> bool {
    match cmd {
        Command::Start {
            id,
            socket,
            remote,
            codec,
            rtp,
        } => {
            if let Some(old) = phases.get_mut(id) {
                old.connect(false);
            } else if socket.peer_addr().is_ok() {
                // Back from the relay, which may have connected it to the caller: start from
                // a known state (a relay still sending on it heals, see relay/worker.rs).
                let _ = crate::ports::disconnect(&socket);
            }
            phases.insert(
                Stream {
                    id,
                    socket,
                    remote: remote.map(Dest::new),
                    silent: false,
                    codec,
                    rtp,
                    playout: Playout::new(),
                    reported: true,
                    generation: 0,
                    connected: false,
                },
                Instant::now(),
            );
        }
        Command::Retarget {
            id,
            remote,
            codec,
            payload_type,
        } => {
            if let Some(s) = phases.get_mut(id) {
                s.connect(false);
                s.silent = remote.is_none();
                s.remote = remote.map(Dest::new);
                s.codec = codec;
                s.rtp.set_payload_type(payload_type);
            }
        }
        Command::Connect { id, on } => {
            if let Some(s) = phases.get_mut(id) {
                s.connect(on);
            }
        }
        Command::Play { id, prompt, times } => {
            if let Some(s) = phases.get_mut(id) {
                s.playout.push(prompt, times);
                s.reported = false;
            }
        }
        Command::Clear { id, generation } => {
            if let Some(s) = phases.get_mut(id) {
                s.playout.clear();
                s.reported = true;
                s.generation = generation;
            }
        }
        Command::Stop { id } => {
            if let Some(s) = phases.get_mut(id) {
                s.connect(false);
            }
            phases.remove(id);
        }
        Command::Shutdown => return false,
    }
    true
}

/// Room for one G.711 RTP packet: header and a 20 ms frame.
const PACKET_CAPACITY: usize = 12 + SAMPLES_PER_FRAME;

/// How a thread's packets leave.
enum Out {
    /// Queued on the thread's io_uring, submitted as its queue fills and at the end of a tick.
    #[cfg(target_os = "linux")]
    Ring(Box<crate::uring::SendRing>),
    /// One `sendto` per packet.
    Sendto,
}

impl Out {
    #[cfg(target_os = "linux")]
    fn new() -> Out {
        static FALLBACK: Once = Once::new();
        match crate::uring::SendRing::new(PACKET_CAPACITY) {
            Ok(ring) => Out::Ring(Box::new(ring)),
            Err(e) => {
                FALLBACK.call_once(|| {
                    tracing::warn!(
                        "io_uring unavailable ({e}): RTP is sent with one sendto per packet"
                    )
                });
                Out::Sendto
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Out {
        Out::Sendto
    }

    /// Gives up a ring that failed: the thread sends with `sendto` from now on.
    #[cfg(target_os = "linux")]
    fn abandon_ring(&mut self, e: std::io::Error) {
        tracing::warn!("io_uring send failed ({e}): this RTP thread falls back to sendto");
        *self = Out::Sendto;
    }
}

/// One 20 ms batch: a frame for every stream with something to play.
fn tick(
    streams: &mut Streams,
    out: &mut Out,
    buf: &mut Vec<u8>,
    events: &UnboundedSender<MediaEvent>,
    metrics: &Metrics,
) {
    let mut sent = 0u64;
    let mut errors = 0u64;
    for s in streams.list.iter_mut() {
        if s.remote.is_none() && !s.silent {
            // Waiting for the caller's answer (a late offer): the prompt has not started.
            continue;
        }
        match (s.playout.next_frame(s.codec), &s.remote) {
            (Some(frame), Some(remote)) => match out {
                #[cfg(target_os = "linux")]
                Out::Ring(ring) => {
                    let rtp = &mut s.rtp;
                    let dest = (!s.connected).then_some(&remote.raw);
                    let queued = ring.send(s.socket.as_raw_fd(), dest, s.id, |packet| {
                        rtp.write_packet(frame, packet)
                    });
                    if let Err(e) = queued {
                        errors += 1;
                        out.abandon_ring(e);
                    }
                }
                Out::Sendto => {
                    buf.clear();
                    s.rtp.write_packet(frame, buf);
                    let result = if s.connected {
                        s.socket.send(buf)
                    } else {
                        remote.send(&s.socket, buf)
                    };
                    match result {
                        Ok(_) => sent += 1,
                        Err(e) => {
                            errors += 1;
                            if matches!(e.raw_os_error(), Some(libc::EDESTADDRREQ | libc::ENOTCONN))
                            {
                                s.connected = false;
                            }
                        }
                    }
                }
            },
            // Nothing to play, or playing silently: time still passes on the stream's clock.
            _ => s.rtp.skip(SAMPLES_PER_FRAME as u32),
        }
        if !s.reported && s.playout.is_idle() {
            // Reported as the last frame leaves, so the next prompt can follow seamlessly.
            s.reported = true;
            let _ = events.send(MediaEvent::PlaybackDone(s.id, s.generation));
        }
    }
    // Completions are counted as they are reaped (most within this tick's submit).
    #[cfg(target_os = "linux")]
    if let Out::Ring(ring) = out {
        let flushed = ring.flush();
        let (ok, failed) = ring.take_counts();
        sent += ok;
        errors += failed;
        // A socket disconnected under a connected stream (a hand-over that raced): that
        // stream goes back to sending with its address; one packet was lost.
        for id in ring.take_unconnected() {
            if let Some(s) = streams.get_mut(id) {
                s.connected = false;
            }
        }
        if let Err(e) = flushed {
            out.abandon_ring(e);
        }
    }
    metrics.rtp_packets_sent.fetch_add(sent, Ordering::Relaxed);
    metrics.rtp_send_errors.fetch_add(errors, Ordering::Relaxed);
}

/// The remote address, converted once for the kernel instead of on every packet.
struct Dest {
    addr: SocketAddr,
    #[cfg(target_os = "linux")]
    raw: socket2::SockAddr,
}

impl Dest {
    fn new(addr: SocketAddr) -> Dest {
        Dest {
            addr,
            #[cfg(target_os = "linux")]
            raw: socket2::SockAddr::from(addr),
        }
    }

    /// One datagram; a full socket buffer is an error like any other (the frame is late
    /// by the next tick anyway).
    #[cfg(target_os = "linux")]
    fn send(&self, socket: &UdpSocket, packet: &[u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: the fd is open for the call (we hold the socket), `packet` is valid for its
        // length, and `raw` is a sockaddr of the length it reports.
        let n = unsafe {
            libc::sendto(
                socket.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                libc::MSG_DONTWAIT,
                self.raw.as_ptr().cast(),
                self.raw.len(),
            )
        };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn send(&self, socket: &UdpSocket, packet: &[u8]) -> std::io::Result<usize> {
        socket.send_to(packet, self.addr)
    }
}

#[cfg(test)]
mod tests;

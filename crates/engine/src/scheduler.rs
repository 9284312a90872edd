//! The RTP scheduler: one thread per core paces every outgoing stream it owns in one batch
//! per 20 ms tick, on absolute deadlines, so no stream needs a task or a timer of its own and
//! nothing drifts over an hour. On Linux a tick's packets go to the kernel through the
//! thread's io_uring, many per system call (`uring.rs`); without io_uring, one `sendto` each.

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
        /// Where the caller wants RTP.
        remote: SocketAddr,
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
}

struct Stream {
    id: StreamId,
    socket: Arc<UdpSocket>,
    remote: Dest,
    codec: Codec,
    rtp: RtpSender,
    playout: Playout,
    /// Whether PlaybackDone was sent for the current queue.
    reported: bool,
    /// Playback generation (bumped by Clear).
    generation: u64,
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

fn run(rx: mpsc::Receiver<Command>, events: UnboundedSender<MediaEvent>, metrics: Arc<Metrics>) {
    let mut streams = Streams::default();
    let mut pacer = Pacer::new(Instant::now());
    let mut buf = Vec::with_capacity(PACKET_CAPACITY);
    let mut out = Out::new();
    loop {
        // Commands first, so a Play that follows a PlaybackDone lands before the next tick.
        loop {
            match rx.try_recv() {
                Ok(cmd) => {
                    if !apply(cmd, &mut streams) {
                        return;
                    }
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        let due = pacer.frames_due(now);
        if due == 0 {
            let wait = pacer.next_deadline().saturating_duration_since(now);
            if streams.is_empty() {
                // Idle: block on the next command (or the tick, whichever first).
                match rx.recv_timeout(wait) {
                    Ok(cmd) => {
                        if !apply(cmd, &mut streams) {
                            return;
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                thread::sleep(wait);
            }
            continue;
        }
        // After a stall longer than MAX_CATCH_UP frames, skip ahead rather than burst.
        let frames = if due > MAX_CATCH_UP {
            let skipped = pacer.resync(now);
            for s in streams.list.iter_mut() {
                s.rtp
                    .skip((skipped as u32).saturating_mul(SAMPLES_PER_FRAME as u32));
            }
            1
        } else {
            due
        };
        for _ in 0..frames {
            tick(&mut streams, &mut out, &mut buf, &events, &metrics);
            pacer.advance();
        }
    }
}

/// Applies one command; false means shut down.
fn apply(cmd: Command, streams: &mut Streams) -> bool {
    match cmd {
        Command::Start {
            id,
            socket,
            remote,
            codec,
            rtp,
        } => {
            streams.insert(Stream {
                id,
                socket,
                remote: Dest::new(remote),
                codec,
                rtp,
                playout: Playout::new(),
                reported: true,
                generation: 0,
            });
        }
        Command::Play { id, prompt, times } => {
            if let Some(s) = streams.get_mut(id) {
                s.playout.push(prompt, times);
                s.reported = false;
            }
        }
        Command::Clear { id, generation } => {
            if let Some(s) = streams.get_mut(id) {
                s.playout.clear();
                s.reported = true;
                s.generation = generation;
            }
        }
        Command::Stop { id } => {
            streams.remove(id);
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
        match s.playout.next_frame(s.codec) {
            Some(frame) => match out {
                #[cfg(target_os = "linux")]
                Out::Ring(ring) => {
                    let rtp = &mut s.rtp;
                    let queued = ring.send(s.socket.as_raw_fd(), &s.remote.raw, |packet| {
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
                    match s.remote.send(&s.socket, buf) {
                        Ok(_) => sent += 1,
                        Err(_) => errors += 1,
                    }
                }
            },
            // Nothing to play: time still passes on the stream's clock.
            None => s.rtp.skip(SAMPLES_PER_FRAME as u32),
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
        if let Err(e) = flushed {
            out.abandon_ring(e);
        }
    }
    metrics.rtp_packets_sent.fetch_add(sent, Ordering::Relaxed);
    metrics.rtp_send_errors.fetch_add(errors, Ordering::Relaxed);
}

/// The remote address, converted once for the kernel instead of on every packet.
struct Dest {
    #[cfg(not(target_os = "linux"))]
    addr: SocketAddr,
    #[cfg(target_os = "linux")]
    raw: socket2::SockAddr,
}

impl Dest {
    fn new(addr: SocketAddr) -> Dest {
        Dest {
            #[cfg(not(target_os = "linux"))]
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

//! The media relay of the B2BUA: vaxel anchors the RTP of a bridged call, each leg talking
//! to one of our ports, and moves every packet received on one leg's socket out of the other
//! leg's socket.
//!
//! On the way a packet gets our SSRC, sequence number and timestamp for that direction
//! (one continuous stream per direction across transfers and holds), the other
//! leg's payload types, and, when the legs chose different G.711 laws, its payload
//! transcoded by table. RFC 4733 telephone-events pass through untouched apart from the
//! header. Strict RTP and symmetric RTP (the latching rule is on `forward::Latch`) keep strangers
//! out and reach phones behind NAT.
//!
//! Cost per packet is the point: a few worker threads (one per core), each owning a set of
//! bridges, so there is no task, lock or allocation per stream or packet. Each call's socket
//! holds one packet per 20 ms, so what costs is system calls per packet, not our code: a
//! worker waits with one io_uring (`ring.rs`: a multishot receive per socket into provided
//! buffers, sends queued as ring entries, one `io_uring_enter` per round for all sockets),
//! or, where io_uring cannot be set up, with epoll plus one `recvmmsg` and one `sendmmsg` per
//! readable socket (`epoll.rs`). The switch task gives orders through [`Relay`], which only
//! queues a command and wakes the worker's eventfd. Linux only.

mod bufring;
mod epoll;
mod forward;
mod rewrite;
mod ring;
mod sys;
mod worker;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use vaxel_media::Codec;

use tracing::warn;

use crate::metrics::Metrics;
use ring::Ring;
use sys::{Epoll, EventFd};
use worker::{Command, Worker};

/// A bridged call's id: the engine uses the call's id, as for scheduler streams.
pub type BridgeId = u64;

/// One leg of a bridge as signalling left it.
#[derive(Debug, Clone)]
pub struct Side {
    /// Our socket for this leg (bound from the port pool, non-blocking); the relay keeps a
    /// clone until the bridge ends.
    pub socket: Arc<UdpSocket>,
    /// Where the SDP says the peer wants RTP (used until a source latches).
    pub remote: SocketAddr,
    /// The G.711 law negotiated on this leg.
    pub codec: Codec,
    /// The payload type of the audio on this leg.
    pub audio_pt: u8,
    /// The telephone-event payload type on this leg; `None` drops events from the other leg.
    pub event_pt: Option<u8>,
    /// False while this leg is on hold (it sent a=sendonly or a=inactive): nothing is sent
    /// to it.
    pub send: bool,
    /// Whether the leg's SDP says it sends us RTP (sendrecv or sendonly): only such a leg
    /// can fall silent (see [`Relay::watch_silence`]).
    pub receive: bool,
}

/// What the relay tells the switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEvent {
    /// Leg `which` of bridge `id` should send RTP and has sent none for the time given to
    /// [`Relay::watch_silence`]: its phone is probably gone without a BYE.
    Silent {
        /// The bridge.
        id: BridgeId,
        /// The silent leg.
        which: Which,
    },
}

/// Where relay events go; called on the relay threads, so it must not block.
pub type RelayEvents = Arc<dyn Fn(RelayEvent) + Send + Sync>;

/// Which leg of a bridge an update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first `Side` given to [`Relay::bridge`].
    A,
    /// The second.
    B,
}

/// How the relay threads wait for packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayIo {
    /// io_uring where it can be set up (kernel 6.0+, not disabled by seccomp or
    /// `kernel.io_uring_disabled`), else epoll (logged once).
    Auto,
    /// epoll with `recvmmsg`/`sendmmsg`: the fallback, selectable for tests and comparisons.
    Epoll,
}

/// Set when the fallback to epoll has been logged, so it is logged once per process.
static FALLBACK_LOGGED: AtomicBool = AtomicBool::new(false);

/// Handle to the relay threads; bridges are spread over them by id. Clones share the
/// threads, which end on [`Relay::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    workers: Vec<WorkerHandle>,
    /// Every thread runs io_uring.
    uring: bool,
    /// Taken by `shutdown` to wait for the threads.
    joins: Mutex<Vec<JoinHandle<()>>>,
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    wake: Arc<EventFd>,
}

impl Relay {
    /// Starts `threads` relay threads (at least one; normally one per core) on io_uring
    /// where possible.
    pub fn new(threads: usize, metrics: Arc<Metrics>) -> std::io::Result<Relay> {
        Relay::new_with(threads, metrics, RelayIo::Auto)
    }

    /// [`Relay::new`] with the way of waiting chosen by the caller; `VAXEL_RELAY_NO_URING=1`
    /// in the environment turns `Auto` into `Epoll` (to rule io_uring out on a live system).
    pub fn new_with(threads: usize, metrics: Arc<Metrics>, io: RelayIo) -> std::io::Result<Relay> {
        let io = match std::env::var("VAXEL_RELAY_NO_URING") {
            Ok(v) if v == "1" => RelayIo::Epoll,
            _ => io,
        };
        let mut workers = Vec::new();
        let mut joins = Vec::new();
        let mut uring = true;
        for n in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let wake = Arc::new(EventFd::new()?);
            let worker = Worker::new(wake.clone(), rx, metrics.clone());
            // Made here so that setup errors reach the caller; unused on io_uring.
            let epoll = Epoll::new()?;
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            joins.push(
                thread::Builder::new()
                    .name(format!("vaxel-relay-{n}"))
                    .spawn(move || {
                        crate::priority::apply_to_this_thread();
                        // The ring is made on its thread: it is set up for a single issuer.
                        let ring = match io {
                            RelayIo::Auto => Ring::new()
                                .inspect_err(|e| {
                                    if !FALLBACK_LOGGED.swap(true, Ordering::Relaxed) {
                                        warn!(error = %e, "media relay: io_uring unavailable, using epoll");
                                    }
                                })
                                .ok(),
                            RelayIo::Epoll => None,
                        };
                        let _ = ready_tx.send(ring.is_some());
                        match ring {
                            Some(ring) => {
                                drop(epoll);
                                ring.run(worker);
                            }
                            None => epoll::run(worker, epoll),
                        }
                    })?,
            );
            uring &= ready_rx.recv().unwrap_or(false);
            workers.push(WorkerHandle { commands: tx, wake });
        }
        Ok(Relay {
            inner: Arc::new(Inner {
                workers,
                uring,
                joins: Mutex::new(joins),
            }),
        })
    }

    /// Whether the threads relay through io_uring (else epoll).
    pub fn uses_io_uring(&self) -> bool {
        self.inner.uring
    }

    /// Starts relaying between `a` and `b`, replacing the bridge `id` if there is one (a
    /// leg that keeps its socket then keeps its latch and our stream's numbering).
    pub fn bridge(&self, id: BridgeId, a: Side, b: Side) {
        self.send(id, Command::Bridge { id, a, b });
    }

    /// A re-INVITE on one leg: new address, codec, payload types or hold state. Latching
    /// starts over for that leg only if its address changed.
    pub fn update(&self, id: BridgeId, which: Which, side: Side) {
        self.send(id, Command::Update { id, which, side });
    }

    /// Reports, through `events`, every leg that should send RTP and has sent none for
    /// `after` (once per silence; checked about once a second); `None` stops watching. Can be
    /// called again (a reload) with another time.
    pub fn watch_silence(&self, after: Option<Duration>, events: RelayEvents) {
        for w in &self.inner.workers {
            let cmd = Command::Silence {
                after,
                events: events.clone(),
            };
            if w.commands.send(cmd).is_ok() {
                w.wake.signal();
            }
        }
    }

    /// Stops relaying; the relay drops its clones of the two sockets.
    pub fn unbridge(&self, id: BridgeId) {
        self.send(id, Command::Unbridge { id });
    }

    /// Stops every thread and waits for them (each finishes the batch in hand), so the
    /// sockets are released when this returns. Later commands are ignored.
    pub fn shutdown(&self) {
        self.inner.stop();
        let joins = match self.inner.joins.lock() {
            Ok(mut j) => std::mem::take(&mut *j),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for j in joins {
            let _ = j.join();
        }
    }

    fn send(&self, id: BridgeId, cmd: Command) {
        let n = self.inner.workers.len().max(1);
        if let Some(w) = self.inner.workers.get((id % n as u64) as usize) {
            // A worker only stops on shutdown, after which commands are moot.
            if w.commands.send(cmd).is_ok() {
                w.wake.signal();
            }
        }
    }
}

impl Inner {
    fn stop(&self) {
        for w in &self.workers {
            let _ = w.commands.send(Command::Shutdown);
            w.wake.signal();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

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
//! bridges and one epoll set over their sockets, so there is no task, lock or allocation per
//! stream or packet, and a socket that became readable is drained with one `recvmmsg` and
//! relayed with one `sendmmsg`. The switch task gives orders through [`Relay`], which only
//! queues a command and wakes the worker's eventfd. Linux only (epoll, eventfd, recvmmsg).

mod forward;
mod rewrite;
mod sys;
mod worker;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use vaxel_media::Codec;

use crate::metrics::Metrics;
use sys::EventFd;
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
}

/// Which leg of a bridge an update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first `Side` given to [`Relay::bridge`].
    A,
    /// The second.
    B,
}

/// Handle to the relay threads; bridges are spread over them by id. Clones share the
/// threads, which end on [`Relay::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    workers: Vec<WorkerHandle>,
    /// Taken by `shutdown` to wait for the threads.
    joins: Mutex<Vec<JoinHandle<()>>>,
}

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    wake: Arc<EventFd>,
}

impl Relay {
    /// Starts `threads` relay threads (at least one; normally one per core).
    pub fn new(threads: usize, metrics: Arc<Metrics>) -> std::io::Result<Relay> {
        let mut workers = Vec::new();
        let mut joins = Vec::new();
        for n in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let wake = Arc::new(EventFd::new()?);
            let worker = Worker::new(wake.clone(), rx, metrics.clone())?;
            joins.push(
                thread::Builder::new()
                    .name(format!("vaxel-relay-{n}"))
                    .spawn(move || worker.run())?,
            );
            workers.push(WorkerHandle { commands: tx, wake });
        }
        Ok(Relay {
            inner: Arc::new(Inner {
                workers,
                joins: Mutex::new(joins),
            }),
        })
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

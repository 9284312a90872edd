//! The relay loop without io_uring: one epoll set over the worker's sockets and its command
//! eventfd; a socket that became readable is drained with `recvmmsg` and relayed with
//! `sendmmsg`. Kept for kernels or sandboxes without io_uring.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use tracing::warn;

use super::sys::{BATCH, Batch, Epoll};
use super::worker::{Watch, Watcher, Worker, relay_one};

/// The epoll token of the command eventfd; sockets get `slot << 1 | side`.
const WAKE: u64 = u64::MAX;

/// Batches read from one socket per wake-up before the others get their turn (level
/// triggering brings it back if more is queued).
const MAX_ROUNDS: usize = 4;

fn token(slot: usize, side: usize) -> u64 {
    ((slot as u64) << 1) | (side as u64 & 1)
}

impl Watcher for Epoll {
    fn watch(
        &mut self,
        socket: &Arc<UdpSocket>,
        slot: usize,
        side: usize,
    ) -> std::io::Result<Watch> {
        self.add(socket.as_raw_fd(), token(slot, side))?;
        Ok(0)
    }

    fn rewatch(&mut self, _: Watch, socket: &Arc<UdpSocket>, slot: usize, side: usize) {
        if let Err(e) = self.modify(socket.as_raw_fd(), token(slot, side)) {
            warn!(error = %e, "media relay: cannot move a socket to its new bridge");
        }
    }

    fn unwatch(&mut self, _: Watch, socket: &Arc<UdpSocket>) {
        // Needed even when the socket is about to be dropped: another clone of its `Arc`
        // may keep the file open, and with it the registration.
        self.delete(socket.as_raw_fd());
    }
}

/// Runs `worker` until Shutdown (or every handle is gone).
pub fn run(mut worker: Worker, mut epoll: Epoll) {
    if let Err(e) = epoll.add(worker.wake_fd(), WAKE) {
        warn!(error = %e, "media relay thread stops: cannot watch its command eventfd");
        return;
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    // Made here: its buffers are pointed at by raw pointers, so it stays on this thread.
    let mut batch = Batch::new();
    loop {
        let n = match epoll.wait(&mut events) {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "media relay thread stops: epoll_wait failed");
                return;
            }
        };
        // Commands first, so an order given before a packet was sent (a hold, a new
        // address) applies to it. A socket event of this round may then name a slot that
        // was emptied or reused: reading a slot's sockets when they are idle is harmless.
        if events.iter().take(n).any(|ev| ev.u64 == WAKE) && !worker.apply_commands(&mut epoll) {
            return;
        }
        let now = Instant::now();
        for ev in events.iter().take(n) {
            let token = ev.u64;
            if token != WAKE {
                readable(
                    &mut worker,
                    &mut batch,
                    (token >> 1) as usize,
                    (token & 1) as usize,
                    now,
                );
            }
        }
        worker.check_silence(now);
        worker.counts.flush(&worker.metrics);
    }
}

/// Relays everything queued on side `rx` of the bridge in `slot`.
fn readable(worker: &mut Worker, batch: &mut Batch, slot: usize, rx: usize, now: Instant) {
    let Some((from, to, counts)) = worker.legs(slot, rx) else {
        return;
    };
    for _ in 0..MAX_ROUNDS {
        // WouldBlock ends the drain; so does any other error (level triggering retries).
        let Ok(n) = batch.recv(from.fd()) else {
            break;
        };
        for i in 0..n {
            let (src, buf) = match batch.packet(i) {
                Some((src, buf)) => (Some(src), buf),
                None => (None, &mut [][..]),
            };
            if let Some(range) = relay_one(from, to, src, buf, now, counts) {
                batch.queue(i, range);
            }
        }
        let (failed, unconnected) = batch.flush(to.fd(), to.dest());
        counts.send_errors += failed;
        if unconnected {
            to.lost_connection();
        }
        if n < BATCH {
            break;
        }
    }
}

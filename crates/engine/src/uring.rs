//! A scheduler thread's io_uring for RTP sends: every packet of a 20 ms tick becomes one
//! `IORING_OP_SEND` entry (each stream has its own socket, so `sendmmsg` cannot batch them),
//! submitted to the kernel [`BATCH`] at a time. Completions are reaped without waiting; a
//! packet's buffer (and its destination address) stays in a slot of a per-thread pool until
//! its completion has been seen, so nothing is allocated per packet. A socket connected to
//! its peer is sent to without an address (no route look-up per packet).
//!
//! Linux only. [`SendRing::new`] fails where io_uring cannot be used (old kernel, seccomp,
//! `kernel.io_uring_disabled`); the scheduler then sends with `sendto` as before.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{IoUring, opcode, types};
use socket2::SockAddr;

/// Sends per `io_uring_enter` (the submission queue's size). One enter is kernel time that
/// nothing preempts on a `PREEMPT_NONE` kernel: with a whole tick's ~2,500 sends in one enter
/// (~10 ms) the bench at 5,000 streams had twice the p99 gap jitter of `sendto` and used more
/// CPU per packet than with batches of 128 (~0.5 ms each; the extra enters cost nothing).
const BATCH: u32 = 128;

/// One packet in flight: its bytes and where it goes, both kept until the kernel is done.
struct Slot {
    packet: Vec<u8>,
    dest: Option<SockAddr>,
    /// The caller's tag for the packet (the scheduler's stream id).
    tag: u64,
}

/// A thread's ring and its pool of packet buffers.
pub struct SendRing {
    ring: IoUring,
    /// Boxed so a slot never moves while the kernel may read it, even when the pool grows.
    #[expect(clippy::vec_box, reason = "the kernel holds pointers into the slots")]
    slots: Vec<Box<Slot>>,
    free: Vec<u32>,
    /// Packet capacity of a new slot.
    packet_capacity: usize,
    /// Completions seen since the last [`SendRing::take_counts`].
    sent: u64,
    errors: u64,
    /// Tags of packets sent without an address that failed because their socket was not
    /// connected (any more): see [`SendRing::take_unconnected`].
    unconnected: Vec<u64>,
}

impl SendRing {
    /// Sets up a ring and checks with one datagram to itself on loopback that sends work.
    pub fn new(packet_capacity: usize) -> io::Result<SendRing> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .setup_submit_all()
            .setup_cqsize(2 * BATCH)
            .build(BATCH)
            // Flags older kernels do not know (before 6.0): a plain ring.
            .or_else(|_| IoUring::new(BATCH))?;
        let mut r = SendRing {
            ring,
            slots: Vec::new(),
            free: Vec::new(),
            packet_capacity,
            sent: 0,
            errors: 0,
            unconnected: Vec::new(),
        };
        r.self_test()?;
        Ok(r)
    }

    /// Sends one byte to a socket of our own through the ring. A kernel that has io_uring but
    /// no destination address on `IORING_OP_SEND` (before 6.0) fails here rather than in a call.
    fn self_test(&mut self) -> io::Result<()> {
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        probe.set_nonblocking(true)?;
        let dest = SockAddr::from(probe.local_addr()?);
        self.send(probe.as_raw_fd(), Some(&dest), 0, |p| p.push(0))?;
        self.ring.submit_and_wait(1)?;
        self.reap();
        let (sent, errors) = self.take_counts();
        let mut byte = [0u8; 1];
        match probe.recv(&mut byte) {
            Ok(1) if sent == 1 && errors == 0 => Ok(()),
            _ => Err(io::Error::other("a send through io_uring did not arrive")),
        }
    }

    /// Queues one datagram from `fd` to `dest` (`None`: the socket's connected peer), tagged
    /// `tag`; `fill` writes the packet into an empty buffer. When the submission queue is
    /// full, what it holds is submitted first.
    pub fn send(
        &mut self,
        fd: RawFd,
        dest: Option<&SockAddr>,
        tag: u64,
        fill: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.flush()?;
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Box::new(Slot {
                    packet: Vec::with_capacity(self.packet_capacity),
                    dest: None,
                    tag: 0,
                }));
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.packet.clear();
        fill(&mut slot.packet);
        slot.dest = dest.cloned();
        slot.tag = tag;
        let send = opcode::Send::new(
            types::Fd(fd),
            slot.packet.as_ptr(),
            slot.packet.len() as u32,
        );
        let send = match &slot.dest {
            Some(d) => send.dest_addr(d.as_ptr().cast()).dest_addr_len(d.len()),
            None => send,
        };
        let entry = send
            // A full socket buffer fails the send (as sendto would) instead of waiting for room.
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data(u64::from(index));
        // SAFETY: the entry points into `slots[index]`, which is boxed (never moves) and not
        // reused or freed until `reap` sees this entry's completion; the address is a valid
        // sockaddr of the length given.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full after a submit"))
    }

    /// Submits what is queued and reaps the completions that are there, without waiting.
    /// An error means the ring is broken: the caller should stop using it.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.ring.submission().is_empty() {
            if self.ring.submit()? == 0 {
                return Err(io::Error::other("io_uring took no entries"));
            }
            self.reap();
        }
        self.reap();
        Ok(())
    }

    /// Counts and frees the completed sends.
    fn reap(&mut self) {
        for cqe in self.ring.completion() {
            let index = cqe.user_data() as u32;
            if cqe.result() >= 0 {
                self.sent += 1;
            } else {
                self.errors += 1;
                if matches!(-cqe.result(), libc::EDESTADDRREQ | libc::ENOTCONN)
                    && let Some(slot) = self.slots.get(index as usize)
                {
                    self.unconnected.push(slot.tag);
                }
            }
            self.free.push(index);
        }
    }

    /// Tags of the packets that failed for want of a connection since the last call: someone
    /// else disconnected the socket (a hand-over raced), so those streams should send with
    /// their address again.
    pub fn take_unconnected(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.unconnected)
    }

    /// Packets sent and failed since the last call.
    pub fn take_counts(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.sent),
            std::mem::take(&mut self.errors),
        )
    }
}

impl Drop for SendRing {
    fn drop(&mut self) {
        // Closing the ring does not wait for sends the kernel still holds; their buffers
        // must outlive them, so a pool with any slot in flight is leaked (only after a broken
        // ring: a UDP send normally completes within its submit).
        if self.free.len() < self.slots.len() {
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sends_in_batches_and_counts_errors() {
        let Ok(mut ring) = SendRing::new(172) else {
            // No io_uring here: the scheduler uses sendto, nothing to test.
            return;
        };
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        // Three receivers, so that none of their default buffers overflows.
        let rx: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
            .collect();
        let dests: Vec<SockAddr> = rx
            .iter()
            .map(|r| SockAddr::from(r.local_addr().unwrap()))
            .collect();
        // More than one submission queue's worth: the queue is submitted as it fills.
        let count = 2 * BATCH as usize + 44;
        for i in 0..count {
            ring.send(tx.as_raw_fd(), Some(&dests[i % 3]), 0, |p| {
                p.extend_from_slice(&[i as u8; 172])
            })
            .unwrap();
        }
        // A bad descriptor fails in its completion, not in the batch.
        ring.send(-1, Some(&dests[0]), 0, |p| p.push(1)).unwrap();
        ring.flush().unwrap();
        assert_eq!(ring.take_counts(), (count as u64, 1));
        let mut buf = [0u8; 256];
        for r in &rx {
            r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        for i in 0..count {
            let n = rx[i % 3].recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i as u8; 172][..], "packet {i}");
        }
        // Every buffer came back, and the pool did not grow past one batch in flight.
        assert_eq!(ring.free.len(), ring.slots.len());
        assert!(
            ring.slots.len() <= BATCH as usize + 1,
            "{}",
            ring.slots.len()
        );
    }
}

#[cfg(test)]
mod connected_tests {
    use super::*;
    use std::time::Duration;

    /// A connected socket sends without an address; with one, it goes where the address says.
    #[test]
    fn connected_sends_need_no_address() {
        let Ok(mut ring) = SendRing::new(172) else {
            return;
        };
        let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let other = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for r in [&rx, &other] {
            r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let to_other = SockAddr::from(other.local_addr().unwrap());
        ring.send(tx.as_raw_fd(), None, 1, |p| p.push(7)).unwrap();
        ring.send(tx.as_raw_fd(), Some(&to_other), 2, |p| p.push(8))
            .unwrap();
        ring.flush().unwrap();
        assert_eq!(ring.take_counts(), (2, 0));
        let mut buf = [0u8; 8];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[7]);
        let n = other.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[8]);
        // Not connected and no address: the send fails in its completion.
        let lone = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        ring.send(lone.as_raw_fd(), None, 3, |p| p.push(9)).unwrap();
        ring.flush().unwrap();
        assert_eq!(ring.take_counts(), (0, 1));
        assert_eq!(
            ring.take_unconnected(),
            [3],
            "the tag of the unconnected send"
        );
    }
}

//! The relay loop through io_uring: one ring per relay thread, a multishot `RECVMSG` per
//! socket taking datagrams into provided buffers (`bufring.rs`), every relayed packet an
//! `IORING_OP_SEND` with its destination from the same buffer, and one `io_uring_enter` per
//! loop round that submits what the last round queued and waits for completions. Packets of
//! many sockets are thus received and sent in one system call, where epoll needs a wake-up
//! and two calls per socket with a packet (each call's socket holds one packet per 20 ms).
//!
//! Commands still come through the worker's eventfd, watched by a multishot poll. A socket
//! leaves with an `ASYNC_CANCEL` of its receive; its arm (index and generation in the
//! `user_data`) is not reused until the receive's last completion came.

use std::io;
use std::mem::ManuallyDrop;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use socket2::SockAddr;
use tracing::warn;

use super::bufring::BufRing;
use super::sys::socket_addr;
use super::worker::{NO_WATCH, Watch, Watcher, Worker, relay_one};

/// Submission queue entries: queued sends and re-arms are submitted this many at a time
/// at most (one enter is kernel time nothing preempts on a `PREEMPT_NONE` kernel; see
/// `crate::uring`).
const SQ: u32 = 128;
/// Completion queue entries: a round may bring a completion per packet of every socket.
const CQ: u32 = 8192;
/// Provided buffers per thread: 20 ms of 100,000 packets/s, the most a thread may hold
/// between two rounds before receives stop (they resume when buffers come back).
const BUFS: u16 = 4096;
/// Bytes per provided buffer: the `io_uring_recvmsg_out` header, the source address, and
/// a datagram up to an Ethernet MTU (nothing we relay is larger; longer ones are dropped).
const BUF_LEN: usize = 2048;
const GROUP: u16 = 0;
/// Room for the source address in each buffer.
const NAME_LEN: usize = size_of::<libc::sockaddr_storage>();
/// `struct io_uring_recvmsg_out`: name, control and payload lengths, flags.
const OUT_LEN: usize = 16;
/// Where the datagram starts in a buffer (we ask for no control data).
const PAYLOAD_AT: usize = OUT_LEN + NAME_LEN;
/// With `min_wait` (6.12+), a round waits up to `MIN_WAIT_US` for `WANT` completions, then
/// returns with whatever came: packets wait at most that long for their round (the added
/// jitter), and a busy thread makes one system call per `MIN_WAIT_US` instead of one per
/// packet. 500 us was no cheaper per packet than 250 us in 3-run bench matrices (within the
/// VM's noise) and doubled the median added delay.
const WANT: usize = 256;
const MIN_WAIT_US: u32 = 250;
/// A round's wait ends after this even when nothing happens.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Consecutive failed receives after which a socket is given up (logged).
const MAX_ERRORS: u8 = 3;

/// `user_data` layout: the kind in the top two bits; a receive's arm index in the low 32
/// bits and its generation above; a send's buffer id in the low 16 bits.
const KIND_SHIFT: u32 = 62;
const RECV: u64 = 0;
const SEND: u64 = 1;
const WAKE: u64 = 2;
const OTHER: u64 = 3;
const GEN_MASK: u32 = (1 << 30) - 1;

fn kind(ud: u64) -> u64 {
    ud >> KIND_SHIFT
}

fn recv_ud(arm: u32, generation: u32) -> u64 {
    (RECV << KIND_SHIFT) | (u64::from(generation & GEN_MASK) << 32) | u64::from(arm)
}

/// One socket's multishot receive.
struct Arm {
    /// Kept until the receive's last completion, so the file outlives the request.
    socket: Option<Arc<UdpSocket>>,
    /// The bridge slot and side it reads for; `None` once unwatched.
    target: Option<(usize, usize)>,
    generation: u32,
    /// A receive is queued or in flight (a completion without `F_MORE` is still to come).
    live: bool,
    errors: u8,
}

/// A relay thread's ring, its provided buffers and its receives.
pub struct Ring {
    ring: IoUring,
    bufs: ManuallyDrop<BufRing>,
    /// The template of every receive: lengths of the name and control areas. Boxed: the
    /// kernel reads it when a receive is submitted.
    msghdr: Box<libc::msghdr>,
    arms: Vec<Arm>,
    free_arms: Vec<u32>,
    /// The destination of the send using buffer `bid`, kept until its completion.
    dests: Vec<SockAddr>,
    /// The bridge slot and side whose socket the send using buffer `bid` left from.
    senders: Vec<(u32, u8)>,
    sends_in_flight: u32,
    wake_live: bool,
    min_wait: bool,
    cqes: Vec<(u64, i32, u32)>,
}

impl Ring {
    /// Sets up a ring on the calling thread (the only one that may use it) and checks with
    /// a datagram on loopback that multishot receives into provided buffers and sends with
    /// a destination work (kernel 6.0+).
    pub fn new() -> io::Result<Ring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_submit_all()
            .setup_cqsize(CQ)
            .build(SQ)
            // Before 6.1: completions run at the next system call instead.
            .or_else(|_| {
                IoUring::builder()
                    .setup_coop_taskrun()
                    .setup_submit_all()
                    .setup_cqsize(CQ)
                    .build(SQ)
            })?;
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::other(
                "io_uring without timed waits (before 5.11)",
            ));
        }
        let bufs = BufRing::new(&ring, GROUP, BUFS, BUF_LEN)?;
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msghdr.msg_namelen = NAME_LEN as libc::socklen_t;
        let unspecified = SockAddr::from(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let mut r = Ring {
            min_wait: ring.params().is_feature_min_timeout(),
            ring,
            bufs: ManuallyDrop::new(bufs),
            msghdr,
            arms: Vec::new(),
            free_arms: Vec::new(),
            dests: vec![unspecified; usize::from(BUFS)],
            senders: vec![(u32::MAX, 0); usize::from(BUFS)],
            sends_in_flight: 0,
            wake_live: false,
            cqes: Vec::with_capacity(CQ as usize),
        };
        r.self_test()?;
        Ok(r)
    }

    /// Queues an entry, submitting what is queued first when the queue is full.
    ///
    /// # Safety
    /// What the entry points at must stay valid until its last completion.
    unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.ring.submit()?;
        }
        // SAFETY: the caller keeps the entry's memory valid.
        unsafe { self.ring.submission().push(entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full after a submit"))
    }

    /// Queues the multishot receive of arm `index`.
    fn arm(&mut self, index: u32) -> io::Result<()> {
        let Some(arm) = self.arms.get(index as usize) else {
            return Err(io::Error::other("no such arm"));
        };
        let Some(socket) = &arm.socket else {
            return Err(io::Error::other("arm without a socket"));
        };
        let entry = opcode::RecvMsgMulti::new(
            types::Fd(socket.as_raw_fd()),
            &raw const *self.msghdr,
            self.bufs.group(),
        )
        .build()
        .user_data(recv_ud(index, arm.generation));
        // SAFETY: the msghdr is boxed and lives as long as the ring; the buffers are the
        // group's, which outlives every request (see `Drop`); the arm keeps the socket open.
        unsafe { self.push(&entry) }?;
        if let Some(arm) = self.arms.get_mut(index as usize) {
            arm.live = true;
        }
        Ok(())
    }

    fn arm_wake(&mut self, fd: RawFd) -> io::Result<()> {
        let entry = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(WAKE << KIND_SHIFT);
        // SAFETY: a poll points at no memory; the eventfd outlives the thread's loop.
        unsafe { self.push(&entry) }?;
        self.wake_live = true;
        Ok(())
    }

    /// Queues `range` of buffer `bid` to leave from `fd` for `dest` (`None`: the socket's
    /// connected peer), on behalf of side `sender` (slot, side); the buffer stays ours until
    /// the send's completion. False if it could not be queued (buffer given back).
    fn send(
        &mut self,
        fd: RawFd,
        dest: Option<&SockAddr>,
        sender: (u32, u8),
        bid: u16,
        range: Range<usize>,
    ) -> bool {
        let buf = self.bufs.buf(bid);
        let Some(packet) = buf.get(range) else {
            self.bufs.give(bid);
            return false;
        };
        let (ptr, len) = (packet.as_ptr(), packet.len() as u32);
        let Some(slot) = self.dests.get_mut(usize::from(bid)) else {
            self.bufs.give(bid);
            return false;
        };
        let mut send = opcode::Send::new(types::Fd(fd), ptr, len);
        if let Some(dest) = dest {
            slot.clone_from(dest);
            send = send
                .dest_addr(slot.as_ptr().cast())
                .dest_addr_len(slot.len());
        }
        if let Some(s) = self.senders.get_mut(usize::from(bid)) {
            *s = sender;
        }
        let entry = send
            // A full socket buffer fails the send (as sendmmsg would) instead of waiting.
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data((SEND << KIND_SHIFT) | u64::from(bid));
        // SAFETY: the packet lies in buffer `bid` and the address in `dests[bid]`, neither
        // reused nor freed before this send's completion gives the buffer back.
        if unsafe { self.push(&entry) }.is_ok() {
            self.sends_in_flight += 1;
            true
        } else {
            self.bufs.give(bid);
            false
        }
    }

    /// One round: publish returned buffers, submit, wait (see `MIN_WAIT_US`), take the
    /// completions.
    fn enter(&mut self, wait: Duration) -> io::Result<()> {
        self.bufs.commit();
        let ts = Timespec::from(wait);
        let args = SubmitArgs::new().timespec(&ts);
        let r = if self.min_wait {
            let args = args.min_wait_usec(MIN_WAIT_US);
            self.ring.submitter().submit_with_args(WANT, &args)
        } else {
            self.ring.submitter().submit_with_args(1, &args)
        };
        match r {
            Ok(_) => {}
            // Timed out, interrupted, or completions to take first.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        self.cqes.clear();
        let completions = self.ring.completion();
        self.cqes
            .extend(completions.map(|c| (c.user_data(), c.result(), c.flags())));
        Ok(())
    }

    /// Runs `worker` until Shutdown (or every handle is gone).
    pub fn run(mut self, mut worker: Worker) {
        if let Err(e) = self.arm_wake(worker.wake_fd()) {
            warn!(error = %e, "media relay thread stops: cannot watch its command eventfd");
            return;
        }
        loop {
            if let Err(e) = self.enter(MAX_WAIT) {
                warn!(error = %e, "media relay thread stops: io_uring_enter failed");
                break;
            }
            let cqes = std::mem::take(&mut self.cqes);
            // Commands first, so an order given before a packet was sent applies to it.
            let mut wake = false;
            for &(ud, _, flags) in &cqes {
                if kind(ud) == WAKE {
                    wake = true;
                    self.wake_live &= cqueue::more(flags);
                }
            }
            if wake {
                if !self.wake_live
                    && let Err(e) = self.arm_wake(worker.wake_fd())
                {
                    warn!(error = %e, "media relay thread stops: cannot watch its command eventfd");
                    break;
                }
                if !worker.apply_commands(&mut self) {
                    // The rest of this round's completions still count for what is in flight.
                    self.settle(&cqes);
                    break;
                }
            }
            let now = Instant::now();
            for &(ud, res, flags) in &cqes {
                match kind(ud) {
                    RECV => self.received(&mut worker, ud, res, flags, now),
                    SEND => {
                        self.sends_in_flight = self.sends_in_flight.saturating_sub(1);
                        let bid = ud as u16;
                        if res < 0 {
                            worker.counts.send_errors += 1;
                            if matches!(-res, libc::EDESTADDRREQ | libc::ENOTCONN)
                                && let Some(&(slot, side)) = self.senders.get(usize::from(bid))
                                && let Some((sender, _, _)) =
                                    worker.legs(slot as usize, usize::from(side))
                            {
                                sender.lost_connection();
                            }
                        }
                        self.bufs.give(bid);
                    }
                    _ => {}
                }
            }
            self.cqes = cqes;
            worker.check_silence(now);
            worker.counts.flush(&worker.metrics);
        }
        worker.counts.flush(&worker.metrics);
        self.quiesce();
    }

    /// A completion of a receive.
    fn received(&mut self, worker: &mut Worker, ud: u64, res: i32, flags: u32, now: Instant) {
        let index = ud as u32;
        let bid = cqueue::buffer_select(flags);
        let more = cqueue::more(flags);
        let Some(arm) = self
            .arms
            .get_mut(index as usize)
            .filter(|a| a.generation == ((ud >> 32) as u32 & GEN_MASK))
        else {
            // Not ours (cannot happen: arms are reused only after their last completion).
            if let Some(bid) = bid {
                self.bufs.give(bid);
            }
            return;
        };
        if !more {
            arm.live = false;
        }
        let target = arm.target;
        // Out of buffers, or an ICMP error reported on a connected socket (the peer's port
        // was closed a moment: a phone restarting, a call ending) end a receive without
        // saying anything about the socket: re-armed, not counted.
        let passing = matches!(
            -res,
            libc::ENOBUFS
                | libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
        );
        if res < 0 && !passing {
            arm.errors = arm.errors.saturating_add(1);
        } else if res >= 0 {
            arm.errors = 0;
        }
        let errors = arm.errors;
        if let Some(bid) = bid {
            match target {
                Some((slot, side)) if res >= 0 => {
                    self.relay(worker, slot, side, bid, res as usize, now)
                }
                _ => self.bufs.give(bid),
            }
        }
        if more {
            return;
        }
        match target {
            Some(_) if errors < MAX_ERRORS => {
                if let Err(e) = self.arm(index) {
                    warn!(error = %e, "media relay: cannot re-arm a socket's receive");
                }
            }
            Some(_) => {
                warn!(error = %io::Error::from_raw_os_error(-res), "media relay: a socket keeps failing; no longer read");
            }
            None => self.release(index),
        }
    }

    /// Relays the datagram in buffer `bid` (`len` bytes written) received for `side` of the
    /// bridge in `slot`.
    fn relay(
        &mut self,
        worker: &mut Worker,
        slot: usize,
        side: usize,
        bid: u16,
        len: usize,
        now: Instant,
    ) {
        let buf = self.bufs.buf(bid);
        let len = len.min(buf.len());
        let (src, payload) = match parse(&buf[..len]) {
            Some((src, payload)) => (src, payload),
            None => (None, 0..0),
        };
        let Some((from, to, counts)) = worker.legs(slot, side) else {
            self.bufs.give(bid);
            return;
        };
        let Some(datagram) = buf.get_mut(payload.clone()) else {
            self.bufs.give(bid);
            return;
        };
        match relay_one(from, to, src, datagram, now, counts) {
            Some(range) => {
                let at = payload.start + range.start..payload.start + range.end;
                let sender = (slot as u32, (1 - side) as u8);
                if !self.send(to.fd(), to.dest(), sender, bid, at) {
                    counts.send_errors += 1;
                }
            }
            None => self.bufs.give(bid),
        }
    }

    /// Forgets arm `index` after its last completion.
    fn release(&mut self, index: u32) {
        if let Some(arm) = self.arms.get_mut(index as usize) {
            arm.socket = None;
            arm.target = None;
            self.free_arms.push(index);
        }
    }

    /// Nothing in flight any more: the buffers may go.
    fn quiet(&self) -> bool {
        !self.wake_live && self.sends_in_flight == 0 && !self.arms.iter().any(|a| a.live)
    }

    /// Cancels everything in flight and waits (bounded) for the last completions, so the
    /// kernel no longer writes into our buffers when they are unmapped.
    fn quiesce(&mut self) {
        let entry = opcode::AsyncCancel2::new(CancelBuilder::any())
            .build()
            .user_data(OTHER << KIND_SHIFT);
        // SAFETY: a cancellation points at no memory.
        if unsafe { self.push(&entry) }.is_err() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.quiet() && Instant::now() < deadline {
            if self.enter(Duration::from_millis(100)).is_err() {
                return;
            }
            let cqes = std::mem::take(&mut self.cqes);
            self.settle(&cqes);
            self.cqes = cqes;
        }
        if !self.quiet() {
            warn!(
                "media relay: io_uring requests still in flight at shutdown; their buffers are leaked"
            );
        }
    }

    /// Accounts completions without relaying anything (the loop is stopping): buffers back,
    /// receives, sends and the command poll no longer in flight once their last completion
    /// came.
    fn settle(&mut self, cqes: &[(u64, i32, u32)]) {
        for &(ud, _, flags) in cqes {
            if let Some(bid) = cqueue::buffer_select(flags) {
                self.bufs.give(bid);
            }
            let done = !cqueue::more(flags);
            match kind(ud) {
                RECV => {
                    if let Some(arm) = self.arms.get_mut(ud as u32 as usize) {
                        arm.live &= !done;
                    }
                }
                SEND => {
                    self.sends_in_flight = self.sends_in_flight.saturating_sub(1);
                    self.bufs.give(ud as u16);
                }
                WAKE => self.wake_live &= !done,
                _ => {}
            }
        }
    }

    /// Sends a datagram to a socket of our own, takes it back through a multishot receive
    /// and returns it through a send with a destination.
    fn self_test(&mut self) -> io::Result<()> {
        let fail = |what: &str| io::Error::other(format!("io_uring self-test: {what}"));
        let probe = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?);
        probe.set_nonblocking(true)?;
        let peer = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        peer.set_read_timeout(Some(Duration::from_secs(1)))?;
        let index = self.watch(&probe, 0, 0)?;
        peer.send_to(b"vaxel", probe.local_addr()?)?;
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut got = None;
        while got.is_none() && Instant::now() < deadline {
            self.enter(Duration::from_millis(100))?;
            for &(ud, res, flags) in &self.cqes {
                if kind(ud) == RECV && res > 0 {
                    got = cqueue::buffer_select(flags).map(|bid| (bid, res as usize));
                }
            }
        }
        let (bid, len) = got.ok_or_else(|| fail("no datagram"))?;
        let (src, payload) = parse(&self.bufs.buf(bid)[..len]).ok_or_else(|| fail("format"))?;
        if src != Some(peer.local_addr()?) || payload.len() != 5 {
            return Err(fail("wrong source or length"));
        }
        let dest = SockAddr::from(peer.local_addr()?);
        if !self.send(probe.as_raw_fd(), Some(&dest), (u32::MAX, 0), bid, payload) {
            return Err(fail("cannot queue a send"));
        }
        self.unwatch(index, &probe);
        self.enter(Duration::from_millis(100))?;
        let mut back = [0u8; 8];
        match peer.recv(&mut back) {
            Ok(5) if &back[..5] == b"vaxel" => {}
            _ => return Err(fail("the send did not arrive")),
        }
        // The send's completion and the receive's last one give everything back.
        while !self.quiet() && Instant::now() < deadline {
            let cqes = std::mem::take(&mut self.cqes);
            self.settle(&cqes);
            self.cqes = cqes;
            if self.quiet() {
                break;
            }
            self.enter(Duration::from_millis(100))?;
        }
        if !self.quiet() {
            return Err(fail("requests did not finish"));
        }
        self.release(index);
        Ok(())
    }
}

/// The source address and the datagram's place in a buffer filled by a multishot
/// receive; `None` if it is not in the expected format or the datagram was truncated.
fn parse(buf: &[u8]) -> Option<(Option<SocketAddr>, Range<usize>)> {
    let word = |i: usize| -> Option<u32> {
        let b = buf.get(4 * i..4 * i + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (namelen, payloadlen, flags) = (word(0)?, word(2)?, word(3)?);
    if flags & libc::MSG_TRUNC as u32 != 0 {
        return None;
    }
    let name = buf.get(OUT_LEN..OUT_LEN + NAME_LEN)?;
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let n = (namelen as usize).min(NAME_LEN);
    // SAFETY: copies at most NAME_LEN (= size of sockaddr_storage) bytes into `ss`.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), (&raw mut ss).cast::<u8>(), n);
    }
    let src = socket_addr(&ss, namelen as libc::socklen_t);
    let end = PAYLOAD_AT.checked_add(payloadlen as usize)?;
    if end > buf.len() {
        return None;
    }
    Some((src, PAYLOAD_AT..end))
}

impl Watcher for Ring {
    fn watch(&mut self, socket: &Arc<UdpSocket>, slot: usize, side: usize) -> io::Result<Watch> {
        let index = match self.free_arms.pop() {
            Some(i) => i,
            None => {
                self.arms.push(Arm {
                    socket: None,
                    target: None,
                    generation: 0,
                    live: false,
                    errors: 0,
                });
                (self.arms.len() - 1) as u32
            }
        };
        if let Some(arm) = self.arms.get_mut(index as usize) {
            arm.generation = arm.generation.wrapping_add(1) & GEN_MASK;
            arm.socket = Some(socket.clone());
            arm.target = Some((slot, side));
            arm.errors = 0;
        }
        if let Err(e) = self.arm(index) {
            self.release(index);
            return Err(e);
        }
        Ok(index)
    }

    fn rewatch(&mut self, watch: Watch, _: &Arc<UdpSocket>, slot: usize, side: usize) {
        if let Some(arm) = self.arms.get_mut(watch as usize)
            && arm.target.is_some()
        {
            arm.target = Some((slot, side));
        }
    }

    fn unwatch(&mut self, watch: Watch, _: &Arc<UdpSocket>) {
        if watch == NO_WATCH {
            return;
        }
        let Some(arm) = self.arms.get_mut(watch as usize) else {
            return;
        };
        if arm.target.take().is_none() {
            return;
        }
        if !arm.live {
            self.release(watch);
            return;
        }
        let entry = opcode::AsyncCancel::new(recv_ud(watch, arm.generation))
            .build()
            .user_data(OTHER << KIND_SHIFT);
        // SAFETY: a cancellation points at no memory.
        if let Err(e) = unsafe { self.push(&entry) } {
            // The receive goes on; its datagrams are dropped (no target) and the arm is
            // released at its last completion.
            warn!(error = %e, "media relay: cannot cancel a socket's receive");
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.quiet() {
            let _ = self.ring.submitter().unregister_buf_ring(GROUP);
            // SAFETY: dropped once, here; nothing in flight can write into the buffers.
            unsafe { ManuallyDrop::drop(&mut self.bufs) };
        }
        // Else the buffers are leaked: the kernel may still write into them.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer as a multishot receive fills it: header, name area, datagram.
    fn filled(from: SocketAddr, payload: &[u8], flags: u32) -> Vec<u8> {
        let name = SockAddr::from(from);
        let mut b = Vec::new();
        for word in [name.len(), 0, payload.len() as u32, flags] {
            b.extend_from_slice(&word.to_ne_bytes());
        }
        // SAFETY: `name.len()` bytes of the SockAddr's storage are initialised.
        let raw =
            unsafe { std::slice::from_raw_parts(name.as_ptr().cast::<u8>(), name.len() as usize) };
        b.extend_from_slice(raw);
        b.resize(PAYLOAD_AT, 0);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn parse_finds_source_and_datagram() {
        for from in ["127.0.0.9:4000", "[::1]:5004"] {
            let from: SocketAddr = from.parse().expect("addr");
            let b = filled(from, &[7; 20], 0);
            let (src, range) = parse(&b).expect("parsed");
            assert_eq!(src, Some(from));
            assert_eq!(range, PAYLOAD_AT..PAYLOAD_AT + 20);
        }
    }

    #[test]
    fn parse_rejects_truncated_and_short_buffers() {
        let from: SocketAddr = "127.0.0.9:4000".parse().expect("addr");
        let b = filled(from, &[7; 20], libc::MSG_TRUNC as u32);
        assert!(parse(&b).is_none());
        let b = filled(from, &[7; 20], 0);
        assert!(parse(&b[..b.len() - 1]).is_none(), "payload past the end");
        assert!(parse(&b[..10]).is_none(), "no header");
        // An unknown address family parses, without a source (the packet is dropped).
        let mut b = filled(from, &[7; 20], 0);
        b[OUT_LEN] = 0xEE;
        b[OUT_LEN + 1] = 0xEE;
        assert_eq!(parse(&b).map(|p| p.0), Some(None));
    }
}

//! The Linux system calls of the relay, each behind a small safe type: an epoll set, an
//! eventfd to wake a worker for commands, and a batch of datagram buffers moved with one
//! `recvmmsg` in and one `sendmmsg` out, so a socket that became readable costs two system
//! calls however many packets it had queued.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use socket2::SockAddr;

/// Datagrams taken from a socket per system call.
pub const BATCH: usize = 32;

/// Largest datagram kept whole; larger ones arrive truncated and are dropped. RTP for G.711
/// at 20 ms is 172 bytes, and nothing we relay exceeds an Ethernet MTU.
const BUF_LEN: usize = 2048;

/// Converts a return value of -1 to the OS error.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An epoll set, level-triggered: a socket left with packets (batch full) is reported again.
pub struct Epoll(OwnedFd);

impl Epoll {
    /// An empty set.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` is open and owned by nothing else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for input, reported with `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Reports `fd` (already watched) with `token` from now on.
    pub fn modify(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) })?;
        Ok(())
    }

    /// Stops watching `fd`. Needed even when the socket is about to be dropped: another
    /// clone of its `Arc` may keep the file open, and with it the registration.
    pub fn delete(&self, fd: RawFd) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in `add`. Failure means it was not registered, which is what we want.
        unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Waits (without timeout) for ready fds, filling `events`; 0 after a signal.
    pub fn wait(&self, events: &mut [libc::epoll_event]) -> io::Result<usize> {
        let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: the kernel writes at most `max` entries into `events`.
        // Wakes at least once a second for the silence check, even when nothing happens.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, 1000) };
        match check(n) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A counter fd that makes a worker's epoll_wait return when a command is queued.
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A cleared counter.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain system call; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `fd` is open and owned by nothing else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// For registering with [`Epoll`] or a ring.
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Wakes the reader. Never blocks: a counter at its maximum is already a wake-up.
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64.
        unsafe { libc::write(self.fd(), (&raw const one).cast(), size_of::<u64>()) };
    }

    /// Resets the counter, so the next command wakes the reader again.
    pub fn clear(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN (already zero) is fine.
        unsafe { libc::read(self.fd(), (&raw mut n).cast(), size_of::<u64>()) };
    }
}

/// A worker's datagram buffers and the kernel's descriptions of them. Everything lives in
/// boxes whose addresses never change, so the pointers between them are set up once.
pub struct Batch {
    bufs: Box<[[u8; BUF_LEN]]>,
    names: Box<[libc::sockaddr_storage]>,
    rx_iov: Box<[libc::iovec]>,
    rx: Box<[libc::mmsghdr]>,
    tx_iov: Box<[libc::iovec]>,
    tx: Box<[libc::mmsghdr]>,
    /// Datagrams received by the last `recv`.
    received: usize,
    /// Packets queued for the next `flush`: buffer index and range.
    queued: Vec<(usize, Range<usize>)>,
}

impl Batch {
    /// Buffers for [`BATCH`] datagrams each way.
    pub fn new() -> Batch {
        // SAFETY: all-zero is a valid value of these plain C structs (null pointers, zero
        // lengths).
        let zero_iov: libc::iovec = unsafe { zeroed() };
        let zero_hdr: libc::mmsghdr = unsafe { zeroed() };
        let zero_name: libc::sockaddr_storage = unsafe { zeroed() };
        let mut b = Batch {
            bufs: vec![[0u8; BUF_LEN]; BATCH].into_boxed_slice(),
            names: vec![zero_name; BATCH].into_boxed_slice(),
            rx_iov: vec![zero_iov; BATCH].into_boxed_slice(),
            rx: vec![zero_hdr; BATCH].into_boxed_slice(),
            tx_iov: vec![zero_iov; BATCH].into_boxed_slice(),
            tx: vec![zero_hdr; BATCH].into_boxed_slice(),
            received: 0,
            queued: Vec::with_capacity(BATCH),
        };
        for i in 0..BATCH {
            b.rx_iov[i] = libc::iovec {
                iov_base: b.bufs[i].as_mut_ptr().cast(),
                iov_len: BUF_LEN,
            };
            b.rx[i].msg_hdr.msg_iov = &raw mut b.rx_iov[i];
            b.rx[i].msg_hdr.msg_iovlen = 1;
            b.rx[i].msg_hdr.msg_name = (&raw mut b.names[i]).cast();
            b.tx[i].msg_hdr.msg_iov = &raw mut b.tx_iov[i];
            b.tx[i].msg_hdr.msg_iovlen = 1;
        }
        b
    }

    /// Takes up to [`BATCH`] datagrams from `fd` without blocking; `WouldBlock` when there
    /// were none.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.received = 0;
        self.queued.clear();
        for h in self.rx.iter_mut() {
            // The kernel overwrites these with what it received.
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at its own iovec (one BUF_LEN buffer) and its own
        // sockaddr_storage, all alive and unaliased for the call (we hold `&mut self`).
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.rx.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.received = check(n)? as usize;
        Ok(self.received)
    }

    /// Datagram `i` of the last `recv` and its source; `None` if it was truncated or came
    /// from an address family we do not speak.
    pub fn packet(&mut self, i: usize) -> Option<(SocketAddr, &mut [u8])> {
        if i >= self.received {
            return None;
        }
        let h = self.rx.get(i)?;
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = (h.msg_len as usize).min(BUF_LEN);
        let from = socket_addr(self.names.get(i)?, h.msg_hdr.msg_namelen)?;
        let buf = self.bufs.get_mut(i)?.get_mut(..len)?;
        Some((from, buf))
    }

    /// Queues `range` of datagram `i` for the next `flush`.
    pub fn queue(&mut self, i: usize, range: Range<usize>) {
        if i < self.received && range.end <= BUF_LEN && self.queued.len() < BATCH {
            self.queued.push((i, range));
        }
    }

    /// Sends the queued packets out of `fd` to `dest` (`None`: the socket's connected peer).
    /// Returns how many could not be sent (a full socket buffer or an unreachable
    /// destination drops them; RTP does not retry) and whether one failed for want of a
    /// connection (the socket was disconnected under us).
    pub fn flush(&mut self, fd: RawFd, dest: Option<&SockAddr>) -> (u64, bool) {
        let count = self.queued.len();
        for (j, (i, range)) in self.queued.iter().enumerate() {
            self.tx_iov[j] = libc::iovec {
                iov_base: self.bufs[*i][range.start..].as_mut_ptr().cast(),
                iov_len: range.len(),
            };
            let h = &mut self.tx[j].msg_hdr;
            match dest {
                Some(d) => {
                    h.msg_name = d.as_ptr() as *mut libc::c_void;
                    h.msg_namelen = d.len();
                }
                None => {
                    h.msg_name = std::ptr::null_mut();
                    h.msg_namelen = 0;
                }
            }
        }
        self.queued.clear();
        let mut done = 0;
        let mut failed = 0;
        let mut unconnected = false;
        while done < count {
            // SAFETY: headers done..count point at iovecs into `bufs` (in range, checked by
            // `queue`) and at `dest`, which outlives the call; the kernel only reads them.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.tx[done..].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                done += n as usize;
            } else {
                // The first remaining packet failed; the rest may still go.
                unconnected |= matches!(
                    io::Error::last_os_error().raw_os_error(),
                    Some(libc::EDESTADDRREQ | libc::ENOTCONN)
                );
                done += 1;
                failed += 1;
            }
        }
        (failed, unconnected)
    }
}

/// The address the kernel wrote into `ss`.
pub fn socket_addr(ss: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and sockaddr_storage
            // is large and aligned enough for any sockaddr.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn batch_moves_datagrams_with_their_sources() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let out = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sink.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .expect("timeout");
        let mut batch = Batch::new();
        let err = batch.recv(rx.as_raw_fd()).expect_err("nothing queued");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let to = rx.local_addr().expect("addr");
        for i in 0..3u8 {
            tx.send_to(&[i; 20], to).expect("send");
        }
        // Loopback delivers synchronously.
        assert_eq!(batch.recv(rx.as_raw_fd()).expect("recv"), 3);
        for i in 0..3 {
            let (from, buf) = batch.packet(i).expect("packet");
            assert_eq!(from, tx.local_addr().expect("addr"));
            assert_eq!(buf.len(), 20);
            buf[5] = 0xEE;
            batch.queue(i, 5..20);
        }
        assert!(batch.packet(3).is_none());
        let dest = SockAddr::from(sink.local_addr().expect("addr"));
        assert_eq!(batch.flush(out.as_raw_fd(), Some(&dest)), (0, false));
        let mut got = [0u8; 64];
        for i in 0..3u8 {
            let (n, from) = sink.recv_from(&mut got).expect("relayed");
            assert_eq!(from, out.local_addr().expect("addr"));
            assert_eq!(n, 15);
            assert_eq!(got[0], 0xEE);
            assert!(got[1..15].iter().all(|&b| b == i));
        }
    }

    #[test]
    fn eventfd_wakes_epoll() {
        let ep = Epoll::new().expect("epoll");
        let ev = EventFd::new().expect("eventfd");
        ep.add(ev.fd(), 7).expect("add");
        ev.signal();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        assert_eq!(ep.wait(&mut events).expect("wait"), 1);
        let token = events[0].u64;
        assert_eq!(token, 7);
        ev.clear();
        ep.delete(ev.fd());
    }
}

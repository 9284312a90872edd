//! The receiving phones: a few shared sockets, each looked at every tick and emptied with
//! `recvmmsg` in big batches, with the kernel's receive time (`SO_TIMESTAMPNS`), so reading
//! late does not change the transit times. A datagram's stream comes from its source port
//! (through the relay: the relay port it left from) or from its stamp (direct).

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::send::HEADER;
use crate::stamp::{self, Alphabet, STAMP_LEN};
use crate::sys::{mono, name_thread, real, rx_timestamp, sleep_until_mono};

/// Datagrams per `recvmmsg`.
const RX_BATCH: usize = 256;
/// Receive buffer per datagram: our packets are 172 bytes; a longer one is not ours.
const RX_BUF: usize = 512;
/// No stream / no law in a source map.
pub const NONE: u32 = u32::MAX;

/// What a receiver learnt about one stream (the one arriving for receiving leg `r`).
#[derive(Default)]
pub struct RxStream {
    pub seen: Vec<u64>,
    pub received: u32,
    pub dups: u32,
    pub corrupt: u32,
    /// Transit times (ns) of packets after the warm-up.
    pub transit: Vec<u32>,
}

impl RxStream {
    /// Adds what another receiver saw of the same stream.
    pub fn merge(&mut self, o: RxStream) {
        if self.seen.len() < o.seen.len() {
            self.seen.resize(o.seen.len(), 0);
        }
        for (a, b) in self.seen.iter_mut().zip(&o.seen) {
            *a |= b;
        }
        self.received += o.received;
        self.dups += o.dups;
        self.corrupt += o.corrupt;
        self.transit.extend_from_slice(&o.transit);
    }
}

/// How a datagram's source port tells its stream, indexed by port.
pub enum Sources {
    /// Through the relay: the relay port it left from is the receiving leg's (`NONE`: not
    /// a relay port of ours).
    Relay(Arc<Vec<u32>>),
    /// Phone to phone: the sending phone socket's law (`NONE`: not ours); the stream is in
    /// the stamp.
    Direct(Arc<Vec<u32>>),
}

/// One receiver thread's job.
pub struct RxJob {
    pub idx: usize,
    pub sockets: Vec<RawFd>,
    pub streams: usize,
    /// Law of every stream (`stamp::law`).
    pub laws: Arc<Vec<usize>>,
    pub sources: Sources,
    pub alphabet: Arc<Alphabet>,
    pub rounds: u64,
    pub warmup_rounds: u32,
    pub tick_ns: u64,
    pub stop: Arc<AtomicBool>,
}

pub struct RecvReport {
    /// By receiving stream; streams this thread never saw are empty.
    pub streams: Vec<RxStream>,
    pub negative: u64,
    /// Datagrams whose stream could not be told (unknown source or unreadable stamp).
    pub unknown: u64,
    pub calls: u64,
}

/// Receive buffers and the kernel's descriptions of them, set up once.
struct Bufs {
    data: Vec<[u8; RX_BUF]>,
    ctrl: Vec<[u64; 8]>,
    names: Vec<libc::sockaddr_in>,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
}

impl Bufs {
    fn new() -> Box<Bufs> {
        let mut b = Box::new(Bufs {
            data: vec![[0; RX_BUF]; RX_BATCH],
            ctrl: vec![[0; 8]; RX_BATCH],
            // SAFETY: all-zero sockaddr_in, iovec and mmsghdr are valid.
            names: vec![unsafe { zeroed() }; RX_BATCH],
            // SAFETY: as above.
            iov: vec![unsafe { zeroed() }; RX_BATCH],
            // SAFETY: as above.
            hdr: vec![unsafe { zeroed() }; RX_BATCH],
        });
        for k in 0..RX_BATCH {
            b.iov[k] = libc::iovec {
                iov_base: b.data[k].as_mut_ptr().cast(),
                iov_len: RX_BUF,
            };
        }
        b
    }

    /// Takes up to `RX_BATCH` datagrams from `fd` without blocking.
    fn recv(&mut self, fd: RawFd) -> usize {
        for k in 0..RX_BATCH {
            let h = &mut self.hdr[k];
            h.msg_hdr.msg_iov = &raw mut self.iov[k];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = (&raw mut self.names[k]).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_control = self.ctrl[k].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = size_of::<[u64; 8]>() as _;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at its own buffer, name and control area, all alive
        // and unaliased for the call.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                self.hdr.as_mut_ptr(),
                RX_BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        got.max(0) as usize
    }
}

/// Runs until `stop`, looking at the sockets every tick.
pub fn receiver(job: RxJob) -> io::Result<RecvReport> {
    name_thread(&format!("gen-recv-{}", job.idx));
    let words = (job.rounds as usize).div_ceil(64) + 1;
    let mut rep = RecvReport {
        streams: (0..job.streams).map(|_| RxStream::default()).collect(),
        negative: 0,
        unknown: 0,
        calls: 0,
    };
    let mut bufs = Bufs::new();
    let mut next = mono();
    while !job.stop.load(Ordering::Relaxed) {
        // Sleep first and then take whatever is ready without blocking: no wake-up per
        // packet (the kernel's receive timestamps keep the transit times exact).
        next += job.tick_ns;
        let now = mono();
        if next > now {
            sleep_until_mono(next);
        } else {
            next = now;
        }
        for &fd in &job.sockets {
            loop {
                let got = bufs.recv(fd);
                rep.calls += 1;
                for k in 0..got {
                    take(&job, &bufs, k, words, &mut rep);
                }
                if got < RX_BATCH {
                    break;
                }
            }
        }
    }
    Ok(rep)
}

/// Accounts datagram `k` of the last batch.
fn take(job: &RxJob, bufs: &Bufs, k: usize, words: usize, rep: &mut RecvReport) {
    let h = &bufs.hdr[k];
    let len = (h.msg_len as usize).min(RX_BUF);
    let rx_ns = rx_timestamp(&h.msg_hdr).unwrap_or_else(real);
    let pkt = &bufs.data[k][..len];
    let port = usize::from(u16::from_be(bufs.names[k].sin_port));
    let stamp_bytes = pkt.get(HEADER..HEADER + STAMP_LEN);
    let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
    let (r, stamp) = match &job.sources {
        Sources::Relay(map) => {
            let r = map[port];
            if r == NONE || r as usize >= job.streams {
                rep.unknown += 1;
                return;
            }
            let r = r as usize;
            let from = r ^ 1;
            let table = &job.alphabet.decode[job.laws[from]][job.laws[r]];
            let stamp = stamp_bytes
                .filter(|_| !truncated)
                .and_then(|b| stamp::decode(b, table))
                .filter(|s| s.stream as usize == from);
            (r, stamp)
        }
        Sources::Direct(map) => {
            let law = map[port];
            if law == NONE {
                rep.unknown += 1;
                return;
            }
            let law = law as usize;
            let table = &job.alphabet.decode[law][law];
            let Some(stamp) = stamp_bytes
                .filter(|_| !truncated)
                .and_then(|b| stamp::decode(b, table))
                .filter(|s| (s.stream as usize) < job.streams)
            else {
                rep.unknown += 1;
                return;
            };
            (stamp.stream as usize ^ 1, Some(stamp))
        }
    };
    let st = &mut rep.streams[r];
    if st.seen.is_empty() {
        st.seen = vec![0; words];
        st.transit = Vec::with_capacity(job.rounds as usize);
    }
    let Some(stamp) = stamp else {
        st.corrupt += 1;
        return;
    };
    let word = (stamp.seq / 64) as usize;
    if word >= st.seen.len() {
        st.corrupt += 1;
        return;
    }
    let bit = 1u64 << (stamp.seq % 64);
    if st.seen[word] & bit != 0 {
        st.dups += 1;
        return;
    }
    st.seen[word] |= bit;
    st.received += 1;
    if stamp.seq >= job.warmup_rounds {
        let t = if rx_ns >= stamp.tx_ns {
            rx_ns - stamp.tx_ns
        } else {
            rep.negative += 1;
            0
        };
        st.transit.push(t.min(u64::from(u32::MAX)) as u32);
    }
}

//! The pacing thread: every stream's packet at its absolute deadline, sent from the few
//! shared phone sockets with `sendmmsg`: the packets due in one wake-up are batched per
//! socket (streams are given to sockets in blocks, so they share few sockets), up to 64 per
//! call.

use std::mem::{size_of, zeroed};
use std::os::fd::RawFd;
use std::sync::Arc;

use crate::stamp::{self, Alphabet, STAMP_LEN};
use crate::sys::{clock_ns, fine_timer_slack, mono, name_thread, real, sleep_until_mono};

/// Packet interval (20 ms of G.711 at 8 kHz).
pub const PTIME_NS: u64 = 20_000_000;
pub const PAYLOAD: usize = 160;
pub const HEADER: usize = 12;

/// Datagrams per `sendmmsg` at most.
const SEND_BATCH: usize = 64;

/// One sending leg: the shared phone socket it leaves from, where it goes, its RTP state.
pub struct Tx {
    pub fd: RawFd,
    /// Index of the phone socket `fd` (batches are per socket).
    pub phone: usize,
    pub dest: libc::sockaddr_in,
    pub law: usize,
    pub packet: [u8; HEADER + PAYLOAD],
    pub seq: u16,
    pub ts: u32,
}

pub struct SendReport {
    pub sent: Vec<u32>,
    pub errors: u64,
    /// Lateness histogram in microseconds (last bin: 100 ms and more).
    pub late_us: Vec<u64>,
    pub first_ns: u64,
    pub last_ns: u64,
    /// `sendmmsg` calls made.
    pub calls: u64,
    /// CPU time of the sender thread (it has exited before the process looks).
    pub cpu_ns: u64,
}

/// What the pacing loop needs besides the streams.
pub struct Pace {
    pub rounds: u64,
    pub t0: u64,
    pub warmup_rounds: u64,
    pub tick_ns: u64,
}

/// The `sendmmsg` headers of one batch, pointing into the `Tx` entries it sends.
struct Batch {
    fd: RawFd,
    iov: Vec<libc::iovec>,
    hdr: Vec<libc::mmsghdr>,
    streams: Vec<usize>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            fd: -1,
            // SAFETY: all-zero iovec/mmsghdr are valid (null pointers, zero lengths).
            iov: vec![unsafe { zeroed() }; SEND_BATCH],
            // SAFETY: as above.
            hdr: vec![unsafe { zeroed() }; SEND_BATCH],
            streams: Vec::with_capacity(SEND_BATCH),
        }
    }

    /// Sends what is batched; failed datagrams are skipped (RTP does not retry).
    fn flush(&mut self, tx: &[Tx], rep: &mut SendReport) {
        let count = self.streams.len();
        for (k, &s) in self.streams.iter().enumerate() {
            let t = &tx[s];
            self.iov[k] = libc::iovec {
                iov_base: t.packet.as_ptr() as *mut libc::c_void,
                iov_len: t.packet.len(),
            };
            let h = &mut self.hdr[k].msg_hdr;
            h.msg_iov = &raw mut self.iov[k];
            h.msg_iovlen = 1;
            h.msg_name = (&raw const t.dest) as *mut libc::c_void;
            h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        let mut done = 0;
        while done < count {
            rep.calls += 1;
            // SAFETY: headers done..count point at iovecs over packets in `tx` and at their
            // sockaddr_in, all alive and unchanged during the call; the kernel only reads them.
            let n = unsafe {
                libc::sendmmsg(
                    self.fd,
                    self.hdr[done..count].as_mut_ptr(),
                    (count - done) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                for &s in &self.streams[done..done + n as usize] {
                    rep.sent[s] += 1;
                }
                done += n as usize;
            } else {
                done += 1;
                rep.errors += 1;
            }
        }
        self.streams.clear();
    }
}

/// Sends `pace.rounds` packets per stream; stream `s` of `S` is due at
/// `t0 + k * 20 ms + s * 20 ms / S`. The thread sleeps at least a tick at a time; packets
/// that fell due meanwhile go out together, each stamped just before its batch is sent.
pub fn sender(mut tx: Vec<Tx>, alphabet: Arc<Alphabet>, pace: Pace) -> SendReport {
    name_thread("gen-send");
    fine_timer_slack();
    let cpu0 = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    let total = tx.len() as u64;
    let mut rep = SendReport {
        sent: vec![0; tx.len()],
        errors: 0,
        late_us: vec![0; 100_001],
        first_ns: 0,
        last_ns: 0,
        calls: 0,
        cpu_ns: 0,
    };
    let phones = tx.iter().map(|t| t.phone + 1).max().unwrap_or(0);
    let mut batches: Vec<Batch> = (0..phones).map(|_| Batch::new()).collect();
    let deadline = |round: u64, s: usize| pace.t0 + round * PTIME_NS + s as u64 * PTIME_NS / total;
    for round in 0..pace.rounds {
        let mut s = 0;
        while s < tx.len() {
            let mut now = mono();
            let due = deadline(round, s);
            if now < due {
                sleep_until_mono(due.max(now + pace.tick_ns));
                now = mono();
            }
            if rep.first_ns == 0 {
                rep.first_ns = now;
            }
            rep.last_ns = now;
            // Everything due by now in this round, in deadline order.
            while s < tx.len() && deadline(round, s) <= now {
                if round >= pace.warmup_rounds {
                    let late = (now.saturating_sub(deadline(round, s)) / 1000).min(100_000);
                    rep.late_us[late as usize] += 1;
                }
                let batch = &mut batches[tx[s].phone];
                if batch.streams.len() == SEND_BATCH {
                    batch.flush(&tx, &mut rep);
                }
                let t = &mut tx[s];
                batch.fd = t.fd;
                t.packet[2..4].copy_from_slice(&t.seq.to_be_bytes());
                t.packet[4..8].copy_from_slice(&t.ts.to_be_bytes());
                stamp::encode(
                    &mut t.packet[HEADER..HEADER + STAMP_LEN],
                    &alphabet.send[t.law],
                    s as u32,
                    round as u32,
                    real(),
                );
                t.seq = t.seq.wrapping_add(1);
                t.ts = t.ts.wrapping_add(PAYLOAD as u32);
                batch.streams.push(s);
                s += 1;
            }
            for batch in batches.iter_mut().filter(|b| !b.streams.is_empty()) {
                batch.flush(&tx, &mut rep);
            }
        }
    }
    rep.cpu_ns = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - cpu0;
    rep
}

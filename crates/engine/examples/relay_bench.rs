//! Load test of the media relay (`vaxel_engine::relay`): N bridged calls, every leg's "phone"
//! sending 20 ms PCMU/PCMA RTP to its relay port, the relay moving it to the other leg's
//! phone. Measures loss, added jitter and the CPU of the relay threads; prints one JSON line.
//!
//! ```sh
//! cargo run --release -p vaxel-engine --example relay_bench -- --calls 2000 --secs 20
//! cargo run --release -p vaxel-engine --example relay_bench -- --calls 2000 --secs 20 --mixed
//! cargo run --release -p vaxel-engine --example relay_bench -- --calls 2000 --secs 20 --direct
//! ```
//!
//! - 2N relay sockets on 127.0.0.1 and 2N phone sockets on 127.0.0.2 (std `UdpSocket`,
//!   non-blocking, default buffers as in vaxel), N bridges through the real [`Relay`] with one
//!   thread per core (`--threads`). `--mixed`: every second bridge is PCMU on leg A and PCMA on
//!   leg B, so the relay transcodes both directions of half the calls.
//! - One pacing thread sends every stream's packet at an absolute deadline: stream `s` of `S`
//!   at `t0 + k * 20 ms + s * 20 ms / S` (evenly spread), one `sendto` per packet, a proper
//!   12-byte RTP header (sequence +1, timestamp +160, own SSRC) and 160 bytes of payload. It
//!   sleeps at least `--tick-us` (100 us) at a time, so packets due within a tick leave back to
//!   back: on this VM a wake-up per packet cost more than the packet.
//! - The payload carries the stream, the sender's sequence number and the send instant
//!   (CLOCK_REALTIME, read just before `sendto`), written as 32 bytes from a 16-value
//!   alphabet chosen so that it survives G.711 transcoding unchanged in meaning.
//! - Receiver threads (one per core, `--receivers`) keep an epoll set over the phone sockets,
//!   look at it every `--rx-tick-us` (1 ms; 0 = block in epoll_wait) and take datagrams with
//!   `recvmmsg`, with the kernel's receive time (`SO_TIMESTAMPNS`), so reading late does not
//!   change the transit times.
//!   Transit = receive time - send time. Added jitter = transit minus the minimum transit of
//!   the same stream; reported as p50/p99/p99.9/max over all packets after the warm-up.
//! - Loss: per stream, packets sent minus distinct packets received (counted over the whole
//!   run, warm-up included), after a drain of 500 ms.
//! - CPU: the relay threads (named `vaxel-relay-N`) from `/proc/self/task/*/schedstat`
//!   (nanoseconds) from just before the first packet to the end of the drain, as % of one core
//!   over the sending time; the load generator's threads likewise (the sender measures its
//!   own, CLOCK_THREAD_CPUTIME_ID).
//! - `--direct`: the same load sent phone to phone with no relay: the cost and the jitter of
//!   the load generator itself (the baseline).
//!
//! Traffic goes to 127.0.0.1/127.0.0.2 only. Linux only.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use vaxel_engine::metrics::Metrics;
use vaxel_engine::relay::{Relay, Side};
use vaxel_media::{Codec, g711};

/// Packet interval (20 ms of G.711 at 8 kHz).
const PTIME_NS: u64 = 20_000_000;
const PAYLOAD: usize = 160;
const HEADER: usize = 12;
const EVENT_PT: u8 = 101;

struct Args {
    calls: usize,
    secs: f64,
    direct: bool,
    mixed: bool,
    threads: usize,
    receivers: usize,
    warmup: f64,
    tick_us: u64,
    rx_tick_us: u64,
    label: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: relay_bench [--calls N] [--secs S] [--direct] [--mixed] [--threads T] \
         [--receivers R] [--warmup S] [--tick-us US] [--rx-tick-us US] [--label TEXT]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let mut a = Args {
        calls: 500,
        secs: 10.0,
        direct: false,
        mixed: false,
        threads: cores,
        receivers: cores,
        warmup: 1.0,
        tick_us: 100,
        rx_tick_us: 1000,
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--calls" => a.calls = val().parse().unwrap_or_else(|_| usage()),
            "--secs" => a.secs = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => a.threads = val().parse().unwrap_or_else(|_| usage()),
            "--receivers" => a.receivers = val().parse().unwrap_or_else(|_| usage()),
            "--warmup" => a.warmup = val().parse().unwrap_or_else(|_| usage()),
            "--tick-us" => a.tick_us = val().parse().unwrap_or_else(|_| usage()),
            "--rx-tick-us" => a.rx_tick_us = val().parse().unwrap_or_else(|_| usage()),
            "--label" => a.label = val(),
            "--direct" => a.direct = true,
            "--mixed" => a.mixed = true,
            _ => usage(),
        }
    }
    if a.calls == 0 || a.secs <= 0.0 || a.secs > 600.0 || a.receivers == 0 {
        usage();
    }
    a
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: clock_gettime writes one timespec.
    let mut ts: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn mono() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn real() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

fn sleep_until_mono(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: plain system call with a valid timespec; EINTR only shortens the sleep.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
}

fn name_thread(name: &str) {
    // Thread names from std's Builder are enough, but the main thread is renamed too so the
    // /proc/self/task scan can tell every thread apart.
    if let Ok(c) = std::ffi::CString::new(name) {
        // SAFETY: a NUL-terminated name of at most 15 bytes for the calling thread.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// CPU nanoseconds per thread name (from schedstat; clock ticks from stat if it is missing).
fn thread_cpu() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let ns = match std::fs::read_to_string(p.join("schedstat")) {
            Ok(s) => s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            Err(_) => {
                let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
                let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
                let f: Vec<&str> = rest.split(' ').collect();
                let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
                    + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
                ticks * 10_000_000
            }
        };
        out.push((comm.trim().to_string(), ns));
    }
    out
}

fn cpu_of(snap: &[(String, u64)], prefix: &str) -> u64 {
    snap.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, ns)| ns)
        .sum()
}

/// Receive-buffer drops of our sockets, from /proc/net/udp (keyed by "IPHEX:PORTHEX").
fn socket_drops(ours: &HashSet<String>) -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/udp") else {
        return 0;
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local = cols.get(1)?;
            if ours.contains(*local) {
                cols.last()?.parse::<u64>().ok()
            } else {
                None
            }
        })
        .sum()
}

fn proc_key(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    }
}

fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

fn raise_nofile(need: u64) {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut r: libc::rlimit = zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < need {
            r.rlim_cur = r.rlim_max.min(need.max(r.rlim_cur));
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// The 16 byte values a sender of `codec` writes for nibbles 0..16, and for each possible
/// arrival law the table back from byte to nibble (0xFF: not ours). Values are chosen so that
/// the G.711 law conversion (through linear, as the relay does) maps them to 16 distinct
/// values, preferring values that survive a round trip exactly.
struct Alphabet {
    send: [[u8; 16]; 2],
    /// decode[sender law][arrival law][byte]
    decode: [[[u8; 256]; 2]; 2],
}

fn law(c: Codec) -> usize {
    match c {
        Codec::Pcmu => 0,
        Codec::Pcma => 1,
    }
}

fn convert(from: Codec, to: Codec, b: u8) -> u8 {
    if from == to {
        return b;
    }
    let mut buf = [b];
    g711::transcode(from, to, &mut buf);
    buf[0]
}

impl Alphabet {
    fn new() -> Alphabet {
        let mut a = Alphabet {
            send: [[0; 16]; 2],
            decode: [[[0xFF; 256]; 2]; 2],
        };
        for from in [Codec::Pcmu, Codec::Pcma] {
            let other = if from == Codec::Pcmu {
                Codec::Pcma
            } else {
                Codec::Pcmu
            };
            let exact = |v: u8| convert(other, from, convert(from, other, v)) == v;
            let mut chosen: Vec<u8> = Vec::new();
            let mut images = HashSet::new();
            for pass in 0..2 {
                for v in 0..=255u8 {
                    if chosen.len() == 16 {
                        break;
                    }
                    if (pass == 0 && !exact(v)) || chosen.contains(&v) {
                        continue;
                    }
                    if images.insert(convert(from, other, v)) {
                        chosen.push(v);
                    }
                }
            }
            assert_eq!(
                chosen.len(),
                16,
                "no 16-value alphabet survives transcoding"
            );
            for (nib, &v) in chosen.iter().enumerate() {
                a.send[law(from)][nib] = v;
                a.decode[law(from)][law(from)][usize::from(v)] = nib as u8;
                a.decode[law(from)][law(other)][usize::from(convert(from, other, v))] = nib as u8;
            }
        }
        a
    }
}

/// One sending leg: its phone socket, where it sends, and its RTP state.
struct Tx {
    fd: RawFd,
    dest: libc::sockaddr_in,
    law: usize,
    packet: [u8; HEADER + PAYLOAD],
    seq: u16,
    ts: u32,
}

fn sockaddr_in(a: SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(v4) = a else {
        panic!("IPv4 only")
    };
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut s: libc::sockaddr_in = unsafe { zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = v4.port().to_be();
    s.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
    s
}

fn encode_stamp(out: &mut [u8], alphabet: &[u8; 16], fields: [u8; 16]) {
    for (i, b) in fields.iter().enumerate() {
        out[2 * i] = alphabet[usize::from(b >> 4)];
        out[2 * i + 1] = alphabet[usize::from(b & 0xF)];
    }
}

fn decode_stamp(inp: &[u8], table: &[u8; 256]) -> Option<[u8; 16]> {
    let mut f = [0u8; 16];
    for (i, o) in f.iter_mut().enumerate() {
        let hi = table[usize::from(*inp.get(2 * i)?)];
        let lo = table[usize::from(*inp.get(2 * i + 1)?)];
        if hi > 15 || lo > 15 {
            return None;
        }
        *o = (hi << 4) | lo;
    }
    Some(f)
}

struct SendReport {
    sent: Vec<u32>,
    errors: u64,
    late_us: Vec<u64>,
    first_ns: u64,
    last_ns: u64,
    /// CPU time of the sender thread (it has exited before the process looks).
    cpu_ns: u64,
}

fn sender(
    mut tx: Vec<Tx>,
    alphabet: Arc<Alphabet>,
    rounds: u64,
    t0: u64,
    warmup_rounds: u64,
    tick_ns: u64,
) -> SendReport {
    name_thread("gen-send");
    // Fine-grained sleeps: the default 50 us timer slack would bunch packets up.
    // SAFETY: plain prctl on the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0) };
    let cpu0 = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    let total = tx.len() as u64;
    let mut sent = vec![0u32; tx.len()];
    let mut errors = 0;
    // Lateness histogram in microseconds (last bin: 100 ms and more).
    let mut late_us = vec![0u64; 100_001];
    let mut first_ns = 0;
    let mut last_ns = 0;
    for round in 0..rounds {
        for (s, t) in tx.iter_mut().enumerate() {
            let deadline = t0 + round * PTIME_NS + s as u64 * PTIME_NS / total;
            let mut now = mono();
            if now < deadline {
                // Sleep at least a tick: packets due meanwhile go out back to back (each
                // still stamped when it is sent), so the sender wakes every `tick` at most.
                sleep_until_mono(deadline.max(now + tick_ns));
                now = mono();
            }
            if round >= warmup_rounds {
                let late = ((now.saturating_sub(deadline)) / 1000).min(100_000) as usize;
                late_us[late] += 1;
            }
            t.packet[2..4].copy_from_slice(&t.seq.to_be_bytes());
            t.packet[4..8].copy_from_slice(&t.ts.to_be_bytes());
            let stamp = real();
            let mut f = [0u8; 16];
            f[0..4].copy_from_slice(&(s as u32).to_be_bytes());
            f[4..8].copy_from_slice(&(round as u32).to_be_bytes());
            f[8..16].copy_from_slice(&stamp.to_be_bytes());
            encode_stamp(
                &mut t.packet[HEADER..HEADER + 2 * 16],
                &alphabet.send[t.law],
                f,
            );
            // SAFETY: sends the packet buffer to a valid sockaddr_in.
            let n = unsafe {
                libc::sendto(
                    t.fd,
                    t.packet.as_ptr().cast(),
                    t.packet.len(),
                    libc::MSG_DONTWAIT,
                    (&raw const t.dest).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if n < 0 {
                errors += 1;
            } else {
                sent[s] += 1;
            }
            if first_ns == 0 {
                first_ns = now;
            }
            last_ns = now;
            t.seq = t.seq.wrapping_add(1);
            t.ts = t.ts.wrapping_add(PAYLOAD as u32);
        }
    }
    SendReport {
        sent,
        errors,
        late_us,
        first_ns,
        last_ns,
        cpu_ns: clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - cpu0,
    }
}

/// What a receiver learnt about one stream (the one arriving on one phone socket).
struct RxStream {
    /// The sending stream's index (the other leg of the same call).
    from: usize,
    table: usize,
    seen: Vec<u64>,
    received: u32,
    dups: u32,
    corrupt: u32,
    /// Transit times (ns) of packets after the warm-up.
    transit: Vec<u32>,
}

struct RecvReport {
    streams: Vec<RxStream>,
    negative: u64,
}

const RX_BATCH: usize = 16;

fn receiver(
    idx: usize,
    sockets: Vec<(RawFd, RxStream)>,
    decode_tables: Vec<[u8; 256]>,
    stop: Arc<AtomicBool>,
    warmup_rounds: u32,
    tick_ns: u64,
) -> io::Result<RecvReport> {
    name_thread(&format!("gen-recv-{idx}"));
    // SAFETY: plain system call; the fd is closed when the thread ends (process exit).
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut streams = Vec::with_capacity(sockets.len());
    let mut fds = Vec::with_capacity(sockets.len());
    for (i, (fd, st)) in sockets.into_iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: valid epoll fd, socket fd and event.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        fds.push(fd);
        streams.push(st);
    }
    let mut bufs = vec![[0u8; 2048]; RX_BATCH];
    let mut ctrl = vec![[0u64; 16]; RX_BATCH];
    // SAFETY: all-zero iovec/mmsghdr are valid (null pointers, zero lengths).
    let mut iov: Vec<libc::iovec> = vec![unsafe { zeroed() }; RX_BATCH];
    let mut hdr: Vec<libc::mmsghdr> = vec![unsafe { zeroed() }; RX_BATCH];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 4096];
    let mut negative = 0u64;
    let mut next = mono();
    while !stop.load(Ordering::Relaxed) {
        // With a tick, sleep first and then take whatever is ready without blocking: no
        // wake-up per packet (the kernel's receive timestamps keep the transit times exact).
        let timeout = if tick_ns > 0 {
            next += tick_ns;
            let now = mono();
            if next > now {
                sleep_until_mono(next);
            } else {
                next = now;
            }
            0
        } else {
            50
        };
        // SAFETY: the kernel writes at most events.len() entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter().take(n as usize) {
            let i = ev.u64 as usize;
            loop {
                for k in 0..RX_BATCH {
                    iov[k] = libc::iovec {
                        iov_base: bufs[k].as_mut_ptr().cast(),
                        iov_len: bufs[k].len(),
                    };
                    let h = &mut hdr[k];
                    h.msg_hdr.msg_iov = &raw mut iov[k];
                    h.msg_hdr.msg_iovlen = 1;
                    h.msg_hdr.msg_control = ctrl[k].as_mut_ptr().cast();
                    h.msg_hdr.msg_controllen = size_of::<[u64; 16]>() as _;
                    h.msg_hdr.msg_flags = 0;
                    h.msg_len = 0;
                }
                // SAFETY: every header points at its own buffer and control area.
                let got = unsafe {
                    libc::recvmmsg(
                        fds[i],
                        hdr.as_mut_ptr(),
                        RX_BATCH as u32,
                        libc::MSG_DONTWAIT,
                        std::ptr::null_mut(),
                    )
                };
                if got <= 0 {
                    break;
                }
                let st = &mut streams[i];
                for k in 0..got as usize {
                    let h = &hdr[k];
                    let len = h.msg_len as usize;
                    let rx_ns = rx_timestamp(&h.msg_hdr).unwrap_or_else(real);
                    let pkt = &bufs[k][..len];
                    if len < HEADER + 2 * 16 {
                        st.corrupt += 1;
                        continue;
                    }
                    let Some(f) = decode_stamp(&pkt[HEADER..HEADER + 32], &decode_tables[st.table])
                    else {
                        st.corrupt += 1;
                        continue;
                    };
                    let from = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
                    let seq = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                    let tx_ns =
                        u64::from_be_bytes([f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15]]);
                    if from != st.from {
                        st.corrupt += 1;
                        continue;
                    }
                    let word = (seq / 64) as usize;
                    if word >= st.seen.len() {
                        st.corrupt += 1;
                        continue;
                    }
                    let bit = 1u64 << (seq % 64);
                    if st.seen[word] & bit != 0 {
                        st.dups += 1;
                        continue;
                    }
                    st.seen[word] |= bit;
                    st.received += 1;
                    if seq >= warmup_rounds {
                        let t = if rx_ns >= tx_ns {
                            rx_ns - tx_ns
                        } else {
                            negative += 1;
                            0
                        };
                        st.transit.push(t.min(u64::from(u32::MAX)) as u32);
                    }
                }
                if (got as usize) < RX_BATCH {
                    break;
                }
            }
        }
    }
    // SAFETY: closes our epoll fd.
    unsafe { libc::close(ep) };
    Ok(RecvReport { streams, negative })
}

fn rx_timestamp(h: &libc::msghdr) -> Option<u64> {
    // SAFETY: walks the control messages the kernel wrote into the buffer of `h`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const one).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return -1.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)])
}

fn hist_percentile(h: &[u64], p: f64) -> u64 {
    let total: u64 = h.iter().sum();
    if total == 0 {
        return 0;
    }
    let want = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut acc = 0;
    for (i, n) in h.iter().enumerate() {
        acc += n;
        if acc >= want {
            return i as u64;
        }
    }
    (h.len() - 1) as u64
}

fn main() -> io::Result<()> {
    let a = args();
    name_thread("gen-main");
    let n = a.calls;
    let streams = 2 * n;
    raise_nofile((4 * streams + 256) as u64);
    let codecs: Vec<Codec> = (0..streams)
        .map(|s| {
            let call = s / 2;
            if s % 2 == 1 && a.mixed && call % 2 == 1 {
                Codec::Pcma
            } else {
                Codec::Pcmu
            }
        })
        .collect();
    let alphabet = Arc::new(Alphabet::new());

    // Phone sockets on 127.0.0.2, relay sockets on 127.0.0.1.
    let mut phones = Vec::with_capacity(streams);
    let mut relay_socks = Vec::with_capacity(streams);
    let mut relay_keys = HashSet::new();
    let mut phone_keys = HashSet::new();
    for _ in 0..streams {
        let p = UdpSocket::bind("127.0.0.2:0")?;
        p.set_nonblocking(true)?;
        enable_timestamps(p.as_raw_fd())?;
        phone_keys.insert(proc_key(p.local_addr()?));
        phones.push(p);
        if !a.direct {
            let r = UdpSocket::bind("127.0.0.1:0")?;
            r.set_nonblocking(true)?;
            relay_keys.insert(proc_key(r.local_addr()?));
            relay_socks.push(Arc::new(r));
        }
    }

    let metrics = Arc::new(Metrics::default());
    let relay = if a.direct {
        None
    } else {
        let relay = Relay::new(a.threads, metrics.clone())?;
        for call in 0..n {
            let side = |s: usize| -> io::Result<Side> {
                Ok(Side {
                    socket: relay_socks[s].clone(),
                    remote: phones[s].local_addr()?,
                    codec: codecs[s],
                    audio_pt: codecs[s].payload_type(),
                    event_pt: Some(EVENT_PT),
                    send: true,
                })
            };
            relay.bridge(call as u64, side(2 * call)?, side(2 * call + 1)?);
        }
        // Commands are queued to the workers; let them register every socket.
        thread::sleep(Duration::from_millis(200 + n as u64 / 10));
        Some(relay)
    };

    // Senders: phone s sends to its relay port (or straight to the other phone).
    let mut tx = Vec::with_capacity(streams);
    for s in 0..streams {
        let dest = if a.direct {
            phones[s ^ 1].local_addr()?
        } else {
            relay_socks[s].local_addr()?
        };
        let mut packet = [codecs[s].silence_byte(); HEADER + PAYLOAD];
        packet[0] = 0x80;
        packet[1] = codecs[s].payload_type();
        packet[8..12].copy_from_slice(&fastrand::u32(..).to_be_bytes());
        tx.push(Tx {
            fd: phones[s].as_raw_fd(),
            dest: sockaddr_in(dest),
            law: law(codecs[s]),
            packet,
            seq: fastrand::u16(..),
            ts: fastrand::u32(..),
        });
    }
    let rounds = (a.secs * 1000.0 / 20.0).round() as u64;
    let warmup_rounds = ((a.warmup * 50.0).round() as u64).min(rounds.saturating_sub(1));

    // Receivers: socket r receives stream r ^ 1.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tables = Vec::new();
    for from in 0..2 {
        for arrive in 0..2 {
            tables.push(alphabet.decode[from][arrive]);
        }
    }
    let mut per_rx: Vec<Vec<(RawFd, RxStream)>> = (0..a.receivers).map(|_| Vec::new()).collect();
    for r in 0..streams {
        let from = r ^ 1;
        let arrive = if a.direct { codecs[from] } else { codecs[r] };
        per_rx[r % a.receivers].push((
            phones[r].as_raw_fd(),
            RxStream {
                from,
                table: law(codecs[from]) * 2 + law(arrive),
                seen: vec![0; (rounds as usize).div_ceil(64) + 1],
                received: 0,
                dups: 0,
                corrupt: 0,
                transit: Vec::with_capacity(rounds as usize),
            },
        ));
    }
    let rx_tick_ns = a.rx_tick_us * 1000;
    let tick_ns = a.tick_us * 1000;
    let mut rx_handles = Vec::new();
    for (idx, socks) in per_rx.into_iter().enumerate() {
        let (tb, st) = (tables.clone(), stop.clone());
        rx_handles.push(
            thread::Builder::new()
                .name(format!("gen-recv-{idx}"))
                .spawn(move || receiver(idx, socks, tb, st, warmup_rounds as u32, rx_tick_ns))?,
        );
    }

    let drift0 = real() as i128 - mono() as i128;
    let cpu0 = thread_cpu();
    let proc0 = clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    let wall0 = mono();
    let t0 = wall0 + 100_000_000;
    let al = alphabet.clone();
    let send = thread::Builder::new()
        .name("gen-send".into())
        .spawn(move || sender(tx, al, rounds, t0, warmup_rounds, tick_ns))?;
    let rep = send
        .join()
        .map_err(|_| io::Error::other("sender panicked"))?;
    // Drain: the relay needs microseconds; give stragglers half a second.
    thread::sleep(Duration::from_millis(500));
    let cpu1 = thread_cpu();
    let proc1 = clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    let wall1 = mono();
    let drift1 = real() as i128 - mono() as i128;
    stop.store(true, Ordering::Relaxed);
    let mut rx_streams: Vec<Option<RxStream>> = (0..streams).map(|_| None).collect();
    let mut negative = 0;
    for (idx, h) in rx_handles.into_iter().enumerate() {
        let r = h
            .join()
            .map_err(|_| io::Error::other("receiver panicked"))??;
        negative += r.negative;
        for (j, st) in r.streams.into_iter().enumerate() {
            rx_streams[idx + j * a.receivers] = Some(st);
        }
    }
    let relay_drops = socket_drops(&relay_keys);
    let phone_drops = socket_drops(&phone_keys);
    if let Some(r) = &relay {
        r.shutdown();
    }

    // Loss and jitter.
    let mut sent_total = 0u64;
    let mut recv_total = 0u64;
    let mut lost = 0u64;
    let mut streams_with_loss = 0u64;
    let mut dups = 0u64;
    let mut corrupt = 0u64;
    let mut added: Vec<u32> = Vec::new();
    let mut transit_all: Vec<u32> = Vec::new();
    for (r, st) in rx_streams.iter_mut().enumerate() {
        let Some(st) = st else { continue };
        let sent = u64::from(rep.sent[r ^ 1]);
        sent_total += sent;
        recv_total += u64::from(st.received);
        let l = sent.saturating_sub(u64::from(st.received));
        lost += l;
        streams_with_loss += u64::from(l > 0);
        dups += u64::from(st.dups);
        corrupt += u64::from(st.corrupt);
        if let Some(&min) = st.transit.iter().min() {
            added.extend(st.transit.iter().map(|t| t - min));
            transit_all.extend_from_slice(&st.transit);
        }
        st.transit = Vec::new();
    }
    added.sort_unstable();
    transit_all.sort_unstable();
    let over = |limit_ns: u32| added.len() - added.partition_point(|&v| v <= limit_ns);

    let window_s = (wall1 - wall0) as f64 / 1e9;
    let send_s = (rep.last_ns.saturating_sub(rep.first_ns)) as f64 / 1e9;
    let cpu = |prefix: &str| cpu_of(&cpu1, prefix).saturating_sub(cpu_of(&cpu0, prefix)) as f64;
    let relay_ns = cpu("vaxel-relay");
    let send_ns = rep.cpu_ns as f64;
    let recv_ns = cpu("gen-recv");
    let all_ns = (proc1 - proc0) as f64;
    let relayed = metrics.rtp_relayed.load(Ordering::Relaxed);
    // CPU % over the time packets were being sent (the 0.1 s before and the drain after
    // cost next to nothing when the relay keeps up; when it does not, it works during them).
    let pct = |ns: f64| ns / 1e9 / send_s.max(1e-3) * 100.0;
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\"bench\":\"relay\",\"mode\":\"{}\",\"mixed\":{},\"label\":\"{}\",\"calls\":{n},\"streams\":{streams},\
         \"secs\":{},\"relay_threads\":{},\"receivers\":{},\"warmup_s\":{},\"tick_us\":{},\"rx_tick_us\":{},",
        if a.direct { "direct" } else { "relay" },
        a.mixed,
        a.label,
        a.secs,
        if a.direct { 0 } else { a.threads },
        a.receivers,
        a.warmup,
        a.tick_us,
        a.rx_tick_us
    );
    let _ = write!(
        j,
        "\"sent\":{sent_total},\"send_errors\":{},\"received\":{recv_total},\"lost\":{lost},\
         \"streams_with_loss\":{streams_with_loss},\"dups\":{dups},\"corrupt\":{corrupt},\
         \"loss_pct\":{:.4},\"send_pps\":{:.0},\"send_late_p50_us\":{},\"send_late_p99_us\":{},\
         \"send_late_max_us\":{},",
        rep.errors,
        if sent_total > 0 {
            lost as f64 * 100.0 / sent_total as f64
        } else {
            0.0
        },
        sent_total as f64 / send_s.max(1e-9),
        hist_percentile(&rep.late_us, 0.5),
        hist_percentile(&rep.late_us, 0.99),
        rep.late_us.iter().rposition(|&c| c > 0).unwrap_or(0),
    );
    let us = |v: f64| {
        if v < 0.0 {
            v
        } else {
            (v / 100.0).round() / 10.0
        }
    };
    let _ = write!(
        j,
        "\"jitter_packets\":{},\"jitter_p50_us\":{},\"jitter_p90_us\":{},\"jitter_p99_us\":{},\
         \"jitter_p999_us\":{},\"jitter_max_us\":{},\"jitter_over_2ms\":{},\"jitter_over_20ms\":{},\
         \"transit_p50_us\":{},\"transit_p99_us\":{},\"transit_negative\":{negative},\
         \"clock_drift_us\":{:.1},",
        added.len(),
        us(percentile(&added, 0.5)),
        us(percentile(&added, 0.9)),
        us(percentile(&added, 0.99)),
        us(percentile(&added, 0.999)),
        us(added.last().map_or(-1.0, |&v| f64::from(v))),
        over(2_000_000),
        over(20_000_000),
        us(percentile(&transit_all, 0.5)),
        us(percentile(&transit_all, 0.99)),
        (drift1 - drift0) as f64 / 1000.0,
    );
    let _ = write!(
        j,
        "\"window_s\":{:.3},\"send_s\":{:.3},\"relay_cpu_s\":{:.3},\"relay_cpu_pct\":{:.1},\"relay_cpu_us_per_pkt\":{:.2},\
         \"gen_send_cpu_pct\":{:.1},\"gen_recv_cpu_pct\":{:.1},\"gen_cpu_pct\":{:.1},\"process_cpu_pct\":{:.1},\
         \"gen_cpu_us_per_pkt\":{:.2},",
        window_s,
        send_s,
        relay_ns / 1e9,
        pct(relay_ns),
        if relayed > 0 {
            relay_ns / 1e3 / relayed as f64
        } else {
            0.0
        },
        pct(send_ns),
        pct(recv_ns),
        pct(send_ns + recv_ns),
        pct(all_ns),
        (send_ns + recv_ns) / 1e3 / (sent_total.max(1) as f64),
    );
    let _ = write!(
        j,
        "\"relayed\":{relayed},\"transcoded\":{},\"relay_send_errors\":{},\"relay_strict_drops\":{},\
         \"relay_other_drops\":{},\"relay_socket_drops\":{relay_drops},\"phone_socket_drops\":{phone_drops},\
         \"loadavg1\":{:.2},\"nice\":{}}}",
        metrics.rtp_transcoded.load(Ordering::Relaxed),
        metrics.rtp_send_errors.load(Ordering::Relaxed),
        metrics.rtp_dropped_strict.load(Ordering::Relaxed),
        metrics.rtp_relay_dropped.load(Ordering::Relaxed),
        loadavg1(),
        // SAFETY: plain system call about this process.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
    );
    println!("{j}");
    drop(phones);
    Ok(())
}

//! RTP sink for the prompt-stream benchmark: one UDP socket that every call's SDP points at.
//! Streams are told apart by (source address, SSRC). Packets are read in batches with
//! recvmmsg(2) and stamped by the kernel (SO_TIMESTAMPNS) as they are queued, so the
//! inter-packet gaps measure when vaxel sent, not when this process got round to reading.
//! SO_RXQ_OVFL counts what the kernel dropped because this socket's buffer was full, which
//! separates the sink's own losses from vaxel's.
//!
//! The sink polls (`--poll-us`, default 1000): it reads without blocking and sleeps while
//! its socket is empty. A sink that blocks in recvmmsg sits on the socket's wait queue, and
//! on loopback the sender's system call runs the receive path, so every wake-up of the sink
//! (tens of thousands a second, each an IPI: a VM exit here) was charged to vaxel's CPU
//! (~6 % of it at 5,000 streams). A real peer's wake-ups happen on its own machine. The
//! kernel's time stamps make the late reads invisible to the jitter figures.
//!
//! usage: sink --port P [--addr IPV4] [--expect PACKETS_PER_STREAM] [--max-secs S] [--idle-secs S]
//!             [--poll-us US (0: block in recvmmsg)] [--out FILE.json] [--ready FILE]

use std::collections::HashMap;
use std::io::Write;
use std::mem::{size_of, zeroed};
use std::time::{Duration, Instant};

const BATCH: usize = 256;
const PKT: usize = 2048;
const CMSG_SPACE: usize = 128;
/// |gap - 20 ms| histogram resolution: 1 us buckets up to 200 ms, then an overflow bucket.
const HIST_US: usize = 200_000;
const FRAME_NS: i64 = 20_000_000;

#[derive(Default)]
struct Stream {
    packets: u64,
    first_seq: u16,
    /// Highest sequence seen, extended past 16-bit wraps.
    max_ext: u64,
    last_seq: u16,
    last_ns: i64,
    first_ns: i64,
    gap_lost: u64,
    dup_or_late: u64,
}

struct Args {
    port: u16,
    addr: std::net::Ipv4Addr,
    expect: u64,
    max_secs: u64,
    idle_secs: u64,
    poll_us: u64,
    out: Option<String>,
    ready: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { port: 0, addr: std::net::Ipv4Addr::LOCALHOST, expect: 0, max_secs: 120, idle_secs: 3, poll_us: 1000, out: None, ready: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{k} {v}: {e}"));
        match k.as_str() {
            "--port" => a.port = num(&v)? as u16,
            "--addr" => a.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?,
            "--expect" => a.expect = num(&v)?,
            "--max-secs" => a.max_secs = num(&v)?,
            "--idle-secs" => a.idle_secs = num(&v)?,
            "--poll-us" => a.poll_us = num(&v)?,
            "--out" => a.out = Some(v),
            "--ready" => a.ready = Some(v),
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if a.port == 0 {
        return Err("--port is required".into());
    }
    Ok(a)
}

fn setsockopt_int(fd: i32, level: i32, name: i32, val: i32) -> i32 {
    // SAFETY: passes a pointer to a live i32 and its size.
    unsafe { libc::setsockopt(fd, level, name, &val as *const i32 as *const libc::c_void, size_of::<i32>() as u32) }
}

fn open_socket(addr: std::net::Ipv4Addr, port: u16) -> Result<i32, String> {
    // SAFETY: plain libc socket calls on a fd we own; structs are zeroed then filled.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        // A deep buffer: a 5000-stream tick is 5000 packets arriving within a millisecond.
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 256 << 20) != 0 {
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 256 << 20);
        }
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1);
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1);
        let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            size_of::<libc::timeval>() as u32,
        );
        let mut sa: libc::sockaddr_in = zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from_ne_bytes(addr.octets());
        if libc::bind(fd, &sa as *const libc::sockaddr_in as *const libc::sockaddr, size_of::<libc::sockaddr_in>() as u32) != 0 {
            return Err(format!("bind {addr}:{port}: {}", std::io::Error::last_os_error()));
        }
        Ok(fd)
    }
}

fn now_realtime_ns() -> i64 {
    // SAFETY: clock_gettime writes into a zeroed timespec.
    unsafe {
        let mut ts: libc::timespec = zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts);
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }
}

struct Totals {
    packets: u64,
    bytes: u64,
    not_rtp: u64,
    kernel_drops: u32,
    hist: Vec<u64>,
    over: u64,
    max_dev_ns: i64,
    gaps: u64,
    late_40ms: u64,
    per_sec: Vec<u64>,
    /// Gaps over 40 ms by the second (since the first packet) in which they ended.
    late_per_sec: Vec<u64>,
    first_ns: i64,
    last_ns: i64,
}

fn record(streams: &mut HashMap<(u32, u16, u32), Stream>, t: &mut Totals, key: (u32, u16, u32), seq: u16, ns: i64) {
    if t.first_ns == 0 {
        t.first_ns = ns;
    }
    t.last_ns = t.last_ns.max(ns);
    let sec = ((ns - t.first_ns).max(0) / 1_000_000_000) as usize;
    if sec < 100_000 {
        if t.per_sec.len() <= sec {
            t.per_sec.resize(sec + 1, 0);
        }
        t.per_sec[sec] += 1;
    }
    let s = streams.entry(key).or_default();
    if s.packets == 0 {
        s.packets = 1;
        s.first_seq = seq;
        s.last_seq = seq;
        s.max_ext = seq as u64;
        s.first_ns = ns;
        s.last_ns = ns;
        return;
    }
    s.packets += 1;
    let d = seq.wrapping_sub(s.last_seq);
    if d == 0 || d >= 0x8000 {
        s.dup_or_late += 1;
        return;
    }
    if d == 1 {
        let dev = ((ns - s.last_ns) - FRAME_NS).abs();
        let us = (dev / 1000) as usize;
        if us < HIST_US {
            t.hist[us] += 1;
        } else {
            t.over += 1;
        }
        t.max_dev_ns = t.max_dev_ns.max(dev);
        t.gaps += 1;
        if ns - s.last_ns > 2 * FRAME_NS {
            t.late_40ms += 1;
            if sec < 100_000 {
                if t.late_per_sec.len() <= sec {
                    t.late_per_sec.resize(sec + 1, 0);
                }
                t.late_per_sec[sec] += 1;
            }
        }
    } else {
        s.gap_lost += (d - 1) as u64;
    }
    s.max_ext += d as u64;
    s.last_seq = seq;
    s.last_ns = ns;
}

fn percentile_us(hist: &[u64], over: u64, total: u64, p: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let target = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut acc = 0u64;
    for (us, n) in hist.iter().enumerate() {
        acc += n;
        if acc >= target {
            return us as f64;
        }
    }
    let _ = over;
    HIST_US as f64
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sink: {e}");
            std::process::exit(2);
        }
    };
    let fd = match open_socket(args.addr, args.port) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("sink: {e}");
            std::process::exit(1);
        }
    };
    if let Some(r) = &args.ready {
        let _ = std::fs::write(r, "ready\n");
    }
    let started = Instant::now();
    let mut last_pkt = Instant::now();
    let mut streams: HashMap<(u32, u16, u32), Stream> = HashMap::with_capacity(8192);
    let mut t = Totals {
        packets: 0,
        bytes: 0,
        not_rtp: 0,
        kernel_drops: 0,
        hist: vec![0; HIST_US],
        over: 0,
        max_dev_ns: 0,
        gaps: 0,
        late_40ms: 0,
        per_sec: Vec::new(),
        late_per_sec: Vec::new(),
        first_ns: 0,
        last_ns: 0,
    };
    let mut bufs = vec![[0u8; PKT]; BATCH];
    let mut ctrl = vec![[0u8; CMSG_SPACE]; BATCH];
    // SAFETY: zeroed POD structs, filled below before use.
    let mut addrs: Vec<libc::sockaddr_in> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iovs: Vec<libc::iovec> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    loop {
        for i in 0..BATCH {
            iovs[i].iov_base = bufs[i].as_mut_ptr() as *mut libc::c_void;
            iovs[i].iov_len = PKT;
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = &mut addrs[i] as *mut libc::sockaddr_in as *mut libc::c_void;
            h.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = ctrl[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = CMSG_SPACE;
            h.msg_flags = 0;
            msgs[i].msg_len = 0;
        }
        // SAFETY: every mmsghdr points at live buffers of the stated sizes.
        let flags = if args.poll_us > 0 { libc::MSG_DONTWAIT } else { libc::MSG_WAITFORONE };
        let n = unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, flags, std::ptr::null_mut()) };
        if args.poll_us > 0 && n < BATCH as i32 {
            // Drained: let packets gather instead of waiting on the socket (see the top).
            std::thread::sleep(Duration::from_micros(args.poll_us));
        }
        if n > 0 {
            last_pkt = Instant::now();
            for i in 0..n as usize {
                let len = msgs[i].msg_len as usize;
                let buf = &bufs[i][..len.min(PKT)];
                let mut ns = 0i64;
                // SAFETY: walking the control messages the kernel wrote into ctrl[i].
                unsafe {
                    let h = &msgs[i].msg_hdr;
                    let mut c = libc::CMSG_FIRSTHDR(h);
                    while !c.is_null() {
                        if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                            let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                            ns = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
                        } else if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL {
                            let d = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const u32);
                            t.kernel_drops = t.kernel_drops.max(d);
                        }
                        c = libc::CMSG_NXTHDR(h, c);
                    }
                }
                if ns == 0 {
                    ns = now_realtime_ns();
                }
                t.packets += 1;
                t.bytes += len as u64;
                if len < 12 || buf[0] >> 6 != 2 {
                    t.not_rtp += 1;
                    continue;
                }
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                let a = &addrs[i];
                record(&mut streams, &mut t, (a.sin_addr.s_addr, u16::from_be(a.sin_port), ssrc), seq, ns);
            }
        }
        let idle = last_pkt.elapsed();
        if started.elapsed() > Duration::from_secs(args.max_secs) {
            eprintln!("sink: --max-secs reached");
            break;
        }
        if t.packets > 0 && idle > Duration::from_secs(args.idle_secs) {
            break;
        }
    }
    report(&args, &streams, &t);
}

fn report(args: &Args, streams: &HashMap<(u32, u16, u32), Stream>, t: &Totals) {
    let mut gap_lost = 0u64;
    let mut dup = 0u64;
    let mut short = 0u64;
    let mut streams_with_loss = 0u64;
    let mut min_pk = u64::MAX;
    let mut max_pk = 0u64;
    let mut durations: Vec<i64> = Vec::new();
    for s in streams.values() {
        gap_lost += s.gap_lost;
        dup += s.dup_or_late;
        let span = s.max_ext - s.first_seq as u64 + 1;
        let tail = args.expect.saturating_sub(span);
        short += tail;
        if s.gap_lost > 0 || tail > 0 {
            streams_with_loss += 1;
        }
        min_pk = min_pk.min(s.packets);
        max_pk = max_pk.max(s.packets);
        durations.push(s.last_ns - s.first_ns);
    }
    if streams.is_empty() {
        min_pk = 0;
    }
    durations.sort_unstable();
    let med_dur = durations.get(durations.len() / 2).copied().unwrap_or(0);
    let expected_total = args.expect * streams.len() as u64;
    let p = |q| percentile_us(&t.hist, t.over, t.gaps, q);
    // Only the seconds that had late gaps, as [second, count] pairs.
    let late: Vec<[u64; 2]> = t.late_per_sec.iter().enumerate().filter(|(_, n)| **n > 0).map(|(s, n)| [s as u64, *n]).collect();
    let peak = t.per_sec.iter().copied().max().unwrap_or(0);
    let json = format!(
        "{{\"streams\":{},\"packets\":{},\"bytes\":{},\"not_rtp\":{},\"expected_per_stream\":{},\"expected_total\":{},\
\"seq_gap_lost\":{},\"tail_short\":{},\"dup_or_late\":{},\"streams_with_loss\":{},\"kernel_rcvbuf_drops\":{},\
\"min_packets_per_stream\":{},\"max_packets_per_stream\":{},\"median_stream_secs\":{:.3},\
\"gaps_measured\":{},\"dev_p50_us\":{},\"dev_p90_us\":{},\"dev_p99_us\":{},\"dev_p999_us\":{},\"dev_max_us\":{:.0},\
\"gaps_over_40ms\":{},\"late_by_sec\":{:?},\"peak_pps\":{},\"per_sec\":{:?}}}",
        streams.len(),
        t.packets,
        t.bytes,
        t.not_rtp,
        args.expect,
        expected_total,
        gap_lost,
        short,
        dup,
        streams_with_loss,
        t.kernel_drops,
        min_pk,
        max_pk,
        med_dur as f64 / 1e9,
        t.gaps,
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        t.max_dev_ns as f64 / 1000.0,
        t.late_40ms,
        late,
        peak,
        t.per_sec,
    );
    match &args.out {
        Some(f) => {
            if let Err(e) = std::fs::write(f, format!("{json}\n")) {
                eprintln!("sink: writing {f}: {e}");
            }
        }
        None => {
            let _ = writeln!(std::io::stdout(), "{json}");
        }
    }
}

//! Clocks, sleeps, socket options and /proc readings of the bench, each a thin wrapper over
//! one system call or file.

use std::collections::HashSet;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::RawFd;

pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    // SAFETY: all-zero is a valid timespec; clock_gettime writes one.
    let mut ts: libc::timespec = unsafe { zeroed() };
    // SAFETY: as above, `ts` is valid for the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn mono() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

pub fn real() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

pub fn sleep_until_mono(ns: u64) {
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

/// Fine-grained sleeps for the calling thread: the default 50 us timer slack would bunch
/// packets up.
pub fn fine_timer_slack() {
    // SAFETY: plain prctl on the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0) };
}

pub fn name_thread(name: &str) {
    // Thread names from std's Builder are enough, but the main thread is renamed too so the
    // /proc/self/task scan can tell every thread apart.
    if let Ok(c) = std::ffi::CString::new(name) {
        // SAFETY: a NUL-terminated name of at most 15 bytes for the calling thread.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// CPU nanoseconds per thread name (from schedstat; clock ticks from stat if it is missing).
pub fn thread_cpu() -> Vec<(String, u64)> {
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

pub fn cpu_of(snap: &[(String, u64)], prefix: &str) -> u64 {
    snap.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, ns)| ns)
        .sum()
}

/// Receive-buffer drops of our sockets, from /proc/net/udp (keyed by "IPHEX:PORTHEX").
pub fn socket_drops(ours: &HashSet<String>) -> u64 {
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

pub fn proc_key(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    }
}

/// Packets the kernel dropped from its per-CPU input backlog (loopback goes through it),
/// summed over CPUs: the second column of /proc/net/softnet_stat.
pub fn backlog_drops() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/softnet_stat") else {
        return 0;
    };
    text.lines()
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .sum()
}

pub fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

pub fn raise_nofile(need: u64) {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut r: libc::rlimit = zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < need {
            r.rlim_cur = r.rlim_max.min(need.max(r.rlim_cur));
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with a valid int.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// Large buffers for a shared phone socket (hundreds of streams each): past
/// `net.core.[rw]mem_max` when we may (root), else as large as allowed.
pub fn big_buffers(fd: RawFd, bytes: libc::c_int) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_int(fd, libc::SOL_SOCKET, force, bytes).is_err() {
            let _ = set_int(fd, libc::SOL_SOCKET, plain, bytes);
        }
    }
}

pub fn sockaddr_in(a: SocketAddr) -> libc::sockaddr_in {
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

/// The kernel's receive time (SO_TIMESTAMPNS) among the control messages of `h`.
pub fn rx_timestamp(h: &libc::msghdr) -> Option<u64> {
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

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return -1.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)])
}

pub fn hist_percentile(h: &[u64], p: f64) -> u64 {
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

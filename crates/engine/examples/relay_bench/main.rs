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
//! - 2N relay sockets on 127.0.0.1 (std `UdpSocket`, non-blocking, default buffers as in
//!   vaxel), N bridges through the real [`Relay`] with one thread per core (`--threads`;
//!   `--epoll` keeps it off io_uring). `--mixed`: every second bridge is PCMU on leg A and
//!   PCMA on leg B, so the relay transcodes both directions of half the calls.
//! - The phones are a few shared sockets on 127.0.0.2 (`--phone-sockets` per G.711 law,
//!   8 MB buffers), streams given to them in blocks of consecutive streams. Each relay port
//!   latches its phone's shared address (several relay ports have the same remote).
//! - One pacing thread (`send.rs`) sends every stream's packet at an absolute deadline:
//!   stream `s` of `S` at `t0 + k * 20 ms + s * 20 ms / S` (evenly spread), with a proper
//!   12-byte RTP header and 160 bytes of payload. It sleeps at least `--tick-us` (100 us) at a
//!   time; packets due meanwhile leave with `sendmmsg`, batched per phone socket. The payload
//!   carries the stream, the sender's sequence number and the send instant (CLOCK_REALTIME,
//!   read as the packet is put in its batch), written as 32 bytes from a 16-value alphabet
//!   that survives G.711 transcoding (`stamp.rs`).
//! - Receiver threads (`--receivers`, default 1; `recv.rs`) look at their phone sockets
//!   every `--rx-tick-us` (1 ms) and take datagrams with `recvmmsg` (256 at a time) and the
//!   kernel's receive time (`SO_TIMESTAMPNS`). Transit = receive time - send time. Added
//!   jitter = transit minus the minimum transit of the same stream; reported as
//!   p50/p99/p99.9/max over all packets after the warm-up.
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

mod recv;
mod report;
mod send;
mod stamp;
mod sys;

use std::collections::HashSet;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use vaxel_engine::metrics::Metrics;
use vaxel_engine::relay::{Relay, RelayIo, Side};
use vaxel_media::Codec;

use recv::{NONE, RxJob, RxStream, Sources};
use send::{HEADER, PAYLOAD, Pace, Tx};
use stamp::{Alphabet, law};
use sys::*;

const EVENT_PT: u8 = 101;
/// Buffer size of a shared phone socket, each way.
const PHONE_BUF: libc::c_int = 8 << 20;

pub struct Args {
    calls: usize,
    secs: f64,
    direct: bool,
    mixed: bool,
    epoll: bool,
    /// The relay threads under SCHED_FIFO, as `[server] media_realtime = true` runs them.
    realtime: bool,
    threads: usize,
    receivers: usize,
    phone_sockets: usize,
    warmup: f64,
    tick_us: u64,
    rx_tick_us: u64,
    label: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: relay_bench [--calls N] [--secs S] [--direct] [--mixed] [--epoll] [--realtime] [--threads T] \
         [--receivers R] [--phone-sockets K] [--warmup S] [--tick-us US] [--rx-tick-us US] \
         [--label TEXT]"
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
        epoll: false,
        realtime: false,
        threads: cores,
        receivers: 1,
        phone_sockets: 8,
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
            "--phone-sockets" => a.phone_sockets = val().parse().unwrap_or_else(|_| usage()),
            "--warmup" => a.warmup = val().parse().unwrap_or_else(|_| usage()),
            "--tick-us" => a.tick_us = val().parse().unwrap_or_else(|_| usage()),
            "--rx-tick-us" => a.rx_tick_us = val().parse().unwrap_or_else(|_| usage()),
            "--label" => a.label = val(),
            "--direct" => a.direct = true,
            "--mixed" => a.mixed = true,
            "--epoll" => a.epoll = true,
            "--realtime" => a.realtime = true,
            _ => usage(),
        }
    }
    if a.calls == 0
        || a.secs <= 0.0
        || a.secs > 600.0
        || a.receivers == 0
        || a.phone_sockets == 0
        || a.rx_tick_us == 0
    {
        usage();
    }
    a
}

fn main() -> io::Result<()> {
    let a = args();
    name_thread("gen-main");
    let n = a.calls;
    let streams = 2 * n;
    raise_nofile((2 * streams + 256) as u64);
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
    let laws: Arc<Vec<usize>> = Arc::new(codecs.iter().map(|&c| law(c)).collect());
    let alphabet = Arc::new(Alphabet::new());

    // Shared phone sockets on 127.0.0.2, a group per law (a direct receiver tells the
    // sender's law by the socket it came from); streams in blocks of consecutive streams.
    let mut phones: Vec<UdpSocket> = Vec::new();
    let mut phone_law: Vec<usize> = Vec::new();
    let mut phone_of = vec![0usize; streams];
    for l in 0..2 {
        let members: Vec<usize> = (0..streams).filter(|&s| laws[s] == l).collect();
        if members.is_empty() {
            continue;
        }
        let k = a.phone_sockets.min(members.len());
        let base = phones.len();
        for _ in 0..k {
            let p = UdpSocket::bind("127.0.0.2:0")?;
            p.set_nonblocking(true)?;
            enable_timestamps(p.as_raw_fd())?;
            big_buffers(p.as_raw_fd(), PHONE_BUF);
            phones.push(p);
            phone_law.push(l);
        }
        for (j, &s) in members.iter().enumerate() {
            phone_of[s] = base + j * k / members.len();
        }
    }
    let mut phone_keys = HashSet::new();
    for p in &phones {
        phone_keys.insert(proc_key(p.local_addr()?));
    }
    let mut relay_socks = Vec::new();
    let mut relay_keys = HashSet::new();
    if !a.direct {
        for _ in 0..streams {
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
        let io = if a.epoll {
            RelayIo::Epoll
        } else {
            RelayIo::Auto
        };
        vaxel_engine::priority::set_wanted(a.realtime);
        let relay = Relay::new_with(a.threads, metrics.clone(), io)?;
        for call in 0..n {
            let side = |s: usize| -> io::Result<Side> {
                Ok(Side {
                    socket: relay_socks[s].clone(),
                    remote: phones[phone_of[s]].local_addr()?,
                    codec: codecs[s],
                    audio_pt: codecs[s].payload_type(),
                    event_pt: Some(EVENT_PT),
                    send: true,
                    receive: true,
                })
            };
            relay.bridge(call as u64, side(2 * call)?, side(2 * call + 1)?);
        }
        // Commands are queued to the workers; let them register every socket.
        thread::sleep(Duration::from_millis(200 + n as u64 / 10));
        Some(relay)
    };
    let relay_io = match &relay {
        None => "none",
        Some(r) if r.uses_io_uring() && a.realtime => "io_uring+rt",
        Some(r) if r.uses_io_uring() => "io_uring",
        Some(_) if a.realtime => "epoll+rt",
        Some(_) => "epoll",
    };

    // Senders: stream s goes from its phone socket to its relay port (or straight to the
    // other leg's phone socket).
    let mut tx = Vec::with_capacity(streams);
    for s in 0..streams {
        let dest = if a.direct {
            phones[phone_of[s ^ 1]].local_addr()?
        } else {
            relay_socks[s].local_addr()?
        };
        let mut packet = [codecs[s].silence_byte(); HEADER + PAYLOAD];
        packet[0] = 0x80;
        packet[1] = codecs[s].payload_type();
        packet[8..12].copy_from_slice(&fastrand::u32(..).to_be_bytes());
        tx.push(Tx {
            fd: phones[phone_of[s]].as_raw_fd(),
            phone: phone_of[s],
            dest: sockaddr_in(dest),
            law: laws[s],
            packet,
            seq: fastrand::u16(..),
            ts: fastrand::u32(..),
        });
    }
    let rounds = (a.secs * 1000.0 / 20.0).round() as u64;
    let warmup_rounds = ((a.warmup * 50.0).round() as u64).min(rounds.saturating_sub(1));

    // Receivers: how a source port tells the stream, and which phone sockets each takes.
    let mut map = vec![NONE; 1 << 16];
    if a.direct {
        for (p, &l) in phones.iter().zip(&phone_law) {
            map[usize::from(p.local_addr()?.port())] = l as u32;
        }
    } else {
        for (r, sock) in relay_socks.iter().enumerate() {
            map[usize::from(sock.local_addr()?.port())] = r as u32;
        }
    }
    let map = Arc::new(map);
    let stop = Arc::new(AtomicBool::new(false));
    let mut rx_handles = Vec::new();
    for idx in 0..a.receivers {
        let job = RxJob {
            idx,
            sockets: phones
                .iter()
                .enumerate()
                .filter(|(i, _)| i % a.receivers == idx)
                .map(|(_, p)| p.as_raw_fd())
                .collect(),
            streams,
            laws: laws.clone(),
            sources: if a.direct {
                Sources::Direct(map.clone())
            } else {
                Sources::Relay(map.clone())
            },
            alphabet: alphabet.clone(),
            rounds,
            warmup_rounds: warmup_rounds as u32,
            tick_ns: a.rx_tick_us * 1000,
            stop: stop.clone(),
        };
        rx_handles.push(
            thread::Builder::new()
                .name(format!("gen-recv-{idx}"))
                .spawn(move || recv::receiver(job))?,
        );
    }

    let drift0 = real() as i128 - mono() as i128;
    let cpu0 = thread_cpu();
    let proc0 = clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
    let backlog0 = backlog_drops();
    let wall0 = mono();
    let pace = Pace {
        rounds,
        t0: wall0 + 100_000_000,
        warmup_rounds,
        tick_ns: a.tick_us * 1000,
    };
    let al = alphabet.clone();
    let send = thread::Builder::new()
        .name("gen-send".into())
        .spawn(move || send::sender(tx, al, pace))?;
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
    let mut rx: Vec<RxStream> = (0..streams).map(|_| RxStream::default()).collect();
    let (mut negative, mut unknown, mut recv_calls) = (0, 0, 0);
    for h in rx_handles {
        let r = h
            .join()
            .map_err(|_| io::Error::other("receiver panicked"))??;
        negative += r.negative;
        unknown += r.unknown;
        recv_calls += r.calls;
        for (st, got) in rx.iter_mut().zip(r.streams) {
            st.merge(got);
        }
    }
    let relay_socket_drops = socket_drops(&relay_keys);
    let phone_socket_drops = socket_drops(&phone_keys);
    let backlog = backlog_drops().saturating_sub(backlog0);
    if let Some(r) = &relay {
        r.shutdown();
    }
    let cpu = |prefix: &str| cpu_of(&cpu1, prefix).saturating_sub(cpu_of(&cpu0, prefix)) as f64;
    let line = report::json(report::Run {
        args: &a,
        streams,
        rx,
        send: rep,
        negative,
        unknown,
        recv_calls,
        window_s: (wall1 - wall0) as f64 / 1e9,
        drift_us: (drift1 - drift0) as f64 / 1000.0,
        relay_ns: cpu("vaxel-relay"),
        recv_ns: cpu("gen-recv"),
        all_ns: (proc1 - proc0) as f64,
        relay_io,
        relayed: metrics.rtp_relayed.load(Ordering::Relaxed),
        transcoded: metrics.rtp_transcoded.load(Ordering::Relaxed),
        relay_send_errors: metrics.rtp_send_errors.load(Ordering::Relaxed),
        relay_strict_drops: metrics.rtp_dropped_strict.load(Ordering::Relaxed),
        relay_other_drops: metrics.rtp_relay_dropped.load(Ordering::Relaxed),
        relay_socket_drops,
        phone_socket_drops,
        backlog_drops: backlog,
    });
    println!("{line}");
    drop(phones);
    Ok(())
}

//! The scheduler's phases and a stream's life on a real socket.

use super::*;
use std::net::Ipv4Addr;
use std::time::Duration;

fn stream(id: StreamId, socket: &Arc<UdpSocket>) -> Stream {
    Stream {
        id,
        socket: socket.clone(),
        remote: Some(Dest::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 9)))),
        silent: false,
        codec: Codec::Pcmu,
        rtp: RtpSender::new(1, 0, 0, 0),
        playout: Playout::new(),
        reported: true,
        generation: 0,
        connected: false,
    }
}

/// New streams fill the phases evenly; the busy phases come due 2 ms apart, each on its
/// own 20 ms grid; a phase left empty does not wake the thread.
#[test]
fn streams_spread_over_phases_evenly_in_time() {
    let socket = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind"));
    let t0 = Instant::now();
    let mut phases = Phases::new(t0);
    for id in 0..(2 * PHASES as u64) {
        phases.insert(stream(id, &socket), t0);
    }
    assert!(phases.list.iter().all(|p| p.streams.list.len() == 2));
    // Replacing a stream keeps its phase.
    let home = phases.home[&7];
    phases.insert(stream(7, &socket), t0);
    assert_eq!(phases.home[&7], home);
    assert_eq!(phases.list[home].streams.list.len(), 2);

    // Phase 0's frame due at t0 itself was skipped on joining (it is not in the future).
    let mut deadlines = Vec::new();
    while deadlines.len() < PHASES {
        let (p, at) = phases.next().expect("busy");
        deadlines.push(at - t0);
        phases.list[p].pacer.advance();
    }
    let want: Vec<Duration> = (1..=PHASES as u32)
        .map(|p| vaxel_media::FRAME / PHASES as u32 * p)
        .collect();
    assert_eq!(deadlines, want);

    // Empty every phase but the last: only it is due from now on.
    for id in 0..(2 * PHASES as u64) {
        if phases.home[&id] != PHASES - 1 {
            phases.remove(id);
        }
    }
    assert_eq!(phases.home.len(), 2);
    let (p, _) = phases.next().expect("one busy phase");
    assert_eq!(p, PHASES - 1);
}

/// A scheduler thread playing an endless prompt as stream `id` from `ours` (bound to an
/// explicit port, as the port pool binds: an ephemeral one is given up on disconnect) to
/// `caller` (reads wait up to 2 s).
struct Playing {
    sched: Scheduler,
    metrics: Arc<Metrics>,
    caller: UdpSocket,
    ours: Arc<UdpSocket>,
}

fn playing(id: StreamId) -> Playing {
    let (events, _rx) = tokio::sync::mpsc::unbounded_channel();
    let metrics = Arc::new(Metrics::default());
    let sched = Scheduler::start(1, events, metrics.clone()).expect("scheduler");
    let caller = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("caller");
    caller
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let ours = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("ours"));
    ours.set_nonblocking(true).expect("nonblocking");
    sched.send(Command::Start {
        id,
        socket: ours.clone(),
        remote: Some(caller.local_addr().expect("addr")),
        codec: Codec::Pcmu,
        rtp: RtpSender::new(7, 100, 0, 0),
    });
    sched.send(Command::Play {
        id,
        prompt: Prompt::from_samples_8k(vec![1000; 8000]),
        times: u32::MAX,
    });
    Playing {
        sched,
        metrics,
        caller,
        ours,
    }
}

/// Connect narrows the socket to the caller and sends without an address; disconnect
/// (and Stop) undo it; packets flow, in sequence, throughout.
#[test]
fn connect_and_disconnect_while_playing() {
    let Playing {
        sched,
        metrics,
        caller,
        ours,
    } = playing(1);
    let bound = ours.local_addr().expect("bound");
    let remote = caller.local_addr().expect("addr");
    let mut buf = [0u8; 256];
    let mut last_seq = None;
    let mut take = |n: usize| {
        for _ in 0..n {
            let len = caller.recv(&mut buf).expect("a packet within 2 s");
            assert_eq!(len, 172);
            let seq = u16::from_be_bytes([buf[2], buf[3]]);
            if let Some(prev) = last_seq {
                assert_eq!(seq, u16::wrapping_add(prev, 1), "no packet lost");
            }
            last_seq = Some(seq);
        }
    };
    take(3);
    assert!(ours.peer_addr().is_err(), "not connected yet");
    sched.send(Command::Connect { id: 1, on: true });
    take(5);
    assert_eq!(ours.peer_addr().expect("connected"), remote);
    sched.send(Command::Connect { id: 1, on: false });
    take(5);
    assert!(ours.peer_addr().is_err(), "disconnected");
    assert_eq!(ours.local_addr().expect("bound"), bound, "still bound");
    sched.send(Command::Connect { id: 1, on: true });
    take(3);
    sched.send(Command::Stop { id: 1 });
    // Stop undoes the connection (the socket may go on to the relay or a reader).
    let deadline = Instant::now() + Duration::from_secs(2);
    while ours.peer_addr().is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ours.peer_addr().is_err(), "Stop disconnects");
    assert_eq!(metrics.rtp_send_errors.load(Ordering::Relaxed), 0);
    sched.send(Command::Shutdown);
}

/// A stream that joins an idle phase starts at that phase's next deadline, not with a
/// burst of the frames the phase "missed" while it was empty.
#[test]
fn a_phase_that_was_idle_starts_in_the_future() {
    let socket = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind"));
    let t0 = Instant::now();
    let mut phases = Phases::new(t0);
    let later = t0 + Duration::from_secs(5);
    phases.insert(stream(1, &socket), later);
    let (p, at) = phases.next().expect("busy");
    assert!(
        at > later && at <= later + vaxel_media::FRAME,
        "{:?}",
        at - later
    );
    assert_eq!(phases.list[p].pacer.frames_due(later), 0);
}

/// Someone else disconnects the socket of a connected stream (a hand-over to the relay that
/// raced): the send without an address fails once, and the stream goes back to sending with
/// its address instead of failing for the rest of the prompt.
#[test]
fn a_stream_whose_socket_is_disconnected_under_it_recovers() {
    let Playing {
        sched,
        metrics,
        caller,
        ours,
    } = playing(5);
    sched.send(Command::Connect { id: 5, on: true });
    let mut buf = [0u8; 256];
    let seq = |caller: &UdpSocket, buf: &mut [u8; 256]| {
        caller.recv(buf).expect("a packet within 2 s");
        u16::from_be_bytes([buf[2], buf[3]])
    };
    for _ in 0..5 {
        seq(&caller, &mut buf);
    }
    assert!(ours.peer_addr().is_ok(), "connected");
    crate::ports::disconnect(&ours).expect("disconnect");
    let before = seq(&caller, &mut buf);
    // Ten more in a row after at most one lost.
    let mut last = seq(&caller, &mut buf);
    assert!(last.wrapping_sub(before) <= 2, "{before} -> {last}");
    for _ in 0..10 {
        let next = seq(&caller, &mut buf);
        assert_eq!(next, last.wrapping_add(1));
        last = next;
    }
    assert!(metrics.rtp_send_errors.load(Ordering::Relaxed) <= 1);
    sched.send(Command::Shutdown);
}

//! The media relay on real UDP sockets on 127.0.0.1: plain sockets play the phones, and the
//! relay moves their RTP between its two ports per bridge. Waits are bounded; negative
//! checks ("nothing arrived") are made after a positive signal that the packet was handled
//! (a later packet arrived first, or a counter moved), never by sleeping.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vaxel_engine::metrics::Metrics;
use vaxel_engine::relay::{Relay, RelayIo, Side, Which};
use vaxel_media::{Codec, g711, parse_rtp};

const WAIT: Duration = Duration::from_secs(3);

/// Every test runs once per way of waiting: io_uring (where this kernel has it) and the
/// epoll fallback.
macro_rules! both_paths {
    ($($name:ident),* $(,)?) => {
        mod io_uring {
            $(#[test]
            fn $name() {
                super::$name(vaxel_engine::relay::RelayIo::Auto)
            })*
        }
        mod epoll {
            $(#[test]
            fn $name() {
                super::$name(vaxel_engine::relay::RelayIo::Epoll)
            })*
        }
    };
}

both_paths!(
    same_codec_relays_both_ways_with_our_ssrc_and_continuous_numbering,
    different_laws_are_transcoded_both_ways,
    strict_rtp_drops_strangers_and_symmetric_rtp_answers_the_source,
    telephone_events_pass_through_with_the_payload_type_mapped,
    hold_stops_media_to_the_held_leg_and_resume_restores_it,
    unbridge_stops_relaying_and_releases_the_sockets,
    two_hundred_bridges_on_two_threads_all_relay,
    shutdown_releases_every_socket_and_later_commands_are_ignored,
    reinvite_to_a_new_socket_moves_the_leg_and_keeps_our_stream,
    a_new_bridge_keeps_the_leg_that_keeps_its_socket,
    a_backlog_larger_than_the_receive_buffers_is_relayed_whole,
);

/// A leg's liveness and its socket: silence reports, connected sockets, ICMP errors.
#[path = "relay/legs.rs"]
mod legs;

/// Two relay threads waiting the `io` way. Where io_uring cannot be set up, `Auto` falls
/// back to epoll: the test then runs on epoll twice, and says so.
fn relay(io: RelayIo, metrics: &Arc<Metrics>) -> Relay {
    let relay = Relay::new_with(2, metrics.clone(), io).expect("relay");
    if io == RelayIo::Auto && !relay.uses_io_uring() {
        eprintln!("io_uring unavailable here: the io_uring variant ran on epoll");
    }
    relay
}

/// A phone's socket, blocking with a bounded wait.
fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind phone");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s
}

/// One of our relay ports, as the port pool hands them out: bound to an explicit port (a
/// socket bound to port 0 would give its port up when the relay disconnects it).
fn port() -> Arc<UdpSocket> {
    let free = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port");
    let s = UdpSocket::bind(free).expect("bind relay port");
    s.set_nonblocking(true).expect("nonblocking");
    Arc::new(s)
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().expect("local addr")
}

fn side(socket: &Arc<UdpSocket>, remote: SocketAddr, codec: Codec, event_pt: Option<u8>) -> Side {
    Side {
        socket: socket.clone(),
        remote,
        codec,
        audio_pt: codec.payload_type(),
        event_pt,
        send: true,
        receive: true,
    }
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, (u8::from(marker) << 7) | pt];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A received packet's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
    from: SocketAddr,
}

fn recv(s: &UdpSocket) -> Got {
    let mut buf = [0u8; 2048];
    let (n, from) = s
        .recv_from(&mut buf)
        .expect("a relayed packet within the wait");
    let p = parse_rtp(&buf[..n]).expect("relayed packets are RTP");
    Got {
        pt: p.payload_type,
        marker: p.marker,
        seq: p.seq,
        ts: p.timestamp,
        ssrc: p.ssrc,
        payload: p.payload.to_vec(),
        from,
    }
}

/// Nothing is queued on `s` right now.
fn assert_empty(s: &UdpSocket) {
    s.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 2048];
    let r = s.recv_from(&mut buf);
    s.set_nonblocking(false).expect("blocking");
    assert!(r.is_err(), "unexpected packet: {r:?}");
}

/// Waits until `counter` reaches `want`.
fn wait_for(counter: &AtomicU64, want: u64) {
    let deadline = Instant::now() + WAIT;
    while counter.load(Ordering::Relaxed) < want {
        assert!(Instant::now() < deadline, "counter stuck below {want}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A bridged call: phone A <-> port A | relay | port B <-> phone B.
struct Call {
    relay: Relay,
    metrics: Arc<Metrics>,
    phone_a: UdpSocket,
    phone_b: UdpSocket,
    port_a: Arc<UdpSocket>,
    port_b: Arc<UdpSocket>,
}

impl Call {
    fn new(io: RelayIo, a: (Codec, Option<u8>), b: (Codec, Option<u8>)) -> Call {
        let metrics = Arc::new(Metrics::default());
        let relay = relay(io, &metrics);
        let (phone_a, phone_b) = (phone(), phone());
        let (port_a, port_b) = (port(), port());
        relay.bridge(
            1,
            side(&port_a, addr(&phone_a), a.0, a.1),
            side(&port_b, addr(&phone_b), b.0, b.1),
        );
        Call {
            relay,
            metrics,
            phone_a,
            phone_b,
            port_a,
            port_b,
        }
    }

    fn a_sends(&self, pkt: &[u8]) {
        self.phone_a
            .send_to(pkt, addr(&self.port_a))
            .expect("send from A");
    }

    fn b_sends(&self, pkt: &[u8]) {
        self.phone_b
            .send_to(pkt, addr(&self.port_b))
            .expect("send from B");
    }
}

fn same_codec_relays_both_ways_with_our_ssrc_and_continuous_numbering(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, Some(101)), (Codec::Pcmu, Some(96)));
    let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
    let mut to_b = Vec::new();
    for i in 0..10u16 {
        call.a_sends(&rtp(
            0,
            i == 5,
            1000 + i,
            50_000 + 160 * u32::from(i),
            0xA,
            &payload,
        ));
        to_b.push(recv(&call.phone_b));
    }
    // A new source on leg A (say, after a transfer): our stream to B carries on.
    for i in 0..3u16 {
        call.a_sends(&rtp(
            0,
            false,
            7 + i,
            9 + 160 * u32::from(i),
            0xAA,
            &payload,
        ));
        to_b.push(recv(&call.phone_b));
    }
    let ssrc = to_b[0].ssrc;
    assert_ne!(ssrc, 0xA);
    for (i, g) in to_b.iter().enumerate() {
        assert_eq!(g.from, addr(&call.port_b), "sent from B's port");
        assert_eq!(g.pt, 0);
        assert_eq!(g.payload, payload);
        assert_eq!(g.ssrc, ssrc, "one SSRC per direction");
        assert_eq!(g.seq, to_b[0].seq.wrapping_add(i as u16), "continuous");
        if i > 0 {
            assert!(g.ts.wrapping_sub(to_b[i - 1].ts) >= 160);
        }
        if (1..10).contains(&i) {
            assert_eq!(g.ts.wrapping_sub(to_b[i - 1].ts), 160);
        }
    }
    assert!(to_b[5].marker, "marker passed through");
    assert!(!to_b[4].marker && !to_b[6].marker);
    assert!(to_b[10].marker, "a new source starts a talkspurt");

    let mut to_a = Vec::new();
    for i in 0..5u16 {
        call.b_sends(&rtp(
            0,
            false,
            60_000 + i,
            160 * u32::from(i),
            0xB,
            &payload,
        ));
        to_a.push(recv(&call.phone_a));
    }
    for (i, g) in to_a.iter().enumerate() {
        assert_eq!(g.from, addr(&call.port_a));
        assert_eq!(g.payload, payload);
        assert_eq!(g.ssrc, to_a[0].ssrc);
        assert_eq!(g.seq, to_a[0].seq.wrapping_add(i as u16));
        assert_eq!(g.ts, to_a[0].ts.wrapping_add(160 * i as u32));
    }
    assert!(to_a[0].ssrc != 0xB && to_a[0].ssrc != ssrc);
    wait_for(&call.metrics.rtp_relayed, 18);
    assert_eq!(call.metrics.rtp_transcoded.load(Ordering::Relaxed), 0);
    assert!(
        call.metrics
            .render()
            .contains("vaxel_rtp_relayed_total 18\n")
    );
    call.relay.shutdown();
}

fn different_laws_are_transcoded_both_ways(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcma, None));
    let all: Vec<u8> = (0..=255).collect();
    call.a_sends(&rtp(0, false, 1, 0, 1, &all));
    let g = recv(&call.phone_b);
    assert_eq!(g.pt, 8);
    let want: Vec<u8> = all
        .iter()
        .map(|&b| g711::alaw_encode(g711::ulaw_decode(b)))
        .collect();
    assert_eq!(g.payload, want);

    call.b_sends(&rtp(8, false, 1, 0, 2, &all));
    let g = recv(&call.phone_a);
    assert_eq!(g.pt, 0);
    let want: Vec<u8> = all
        .iter()
        .map(|&b| g711::ulaw_encode(g711::alaw_decode(b)))
        .collect();
    assert_eq!(g.payload, want);
    wait_for(&call.metrics.rtp_transcoded, 2);
    call.relay.shutdown();
}

fn strict_rtp_drops_strangers_and_symmetric_rtp_answers_the_source(io: RelayIo) {
    let metrics = Arc::new(Metrics::default());
    let relay = relay(io, &metrics);
    // Phone A is behind NAT: its SDP names a port it does not send from.
    let sdp_a = phone();
    let phone_a = phone();
    let phone_b = phone();
    let (port_a, port_b) = (port(), port());
    relay.bridge(
        7,
        side(&port_a, addr(&sdp_a), Codec::Pcma, None),
        side(&port_b, addr(&phone_b), Codec::Pcma, None),
    );
    // Before A is heard, media for A goes where its SDP said.
    phone_b
        .send_to(&rtp(8, false, 1, 0, 2, &[1; 160]), addr(&port_b))
        .expect("send");
    assert_eq!(recv(&sdp_a).payload, [1; 160]);
    // A's first packet latches its real source...
    phone_a
        .send_to(&rtp(8, false, 1, 0, 1, &[2; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [2; 160]);
    // ...and from then on B's media goes there, not to the SDP address.
    phone_b
        .send_to(&rtp(8, false, 2, 160, 2, &[3; 160]), addr(&port_b))
        .expect("send");
    let g = recv(&phone_a);
    assert_eq!((g.payload, g.from), (vec![3; 160], addr(&port_a)));
    assert_empty(&sdp_a);

    // A stranger sending to A's port is not heard: B gets A's next packet, and only that.
    let stranger = phone();
    for i in 0..3u16 {
        stranger
            .send_to(&rtp(8, false, 100 + i, 0, 666, &[0x66; 160]), addr(&port_a))
            .expect("send");
    }
    phone_a
        .send_to(&rtp(8, false, 2, 160, 1, &[4; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [4; 160]);
    assert_empty(&phone_b);
    wait_for(&metrics.rtp_dropped_strict, 3);
    assert!(
        metrics
            .render()
            .contains("vaxel_rtp_dropped_strict_total 3\n")
    );
    // Nor does the stranger get B's media.
    phone_b
        .send_to(&rtp(8, false, 3, 320, 2, &[5; 160]), addr(&port_b))
        .expect("send");
    assert_eq!(recv(&phone_a).payload, [5; 160]);
    assert_empty(&stranger);

    // Garbage from the latched source is dropped and counted, not relayed.
    phone_a
        .send_to(&[0x40, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], addr(&port_a))
        .expect("send");
    phone_a.send_to(&[1, 2, 3], addr(&port_a)).expect("send");
    phone_a
        .send_to(&rtp(8, false, 3, 320, 1, &[6; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [6; 160]);
    wait_for(&metrics.rtp_relay_dropped, 2);

    // A re-INVITE with A's same address keeps the latch; a new address starts over.
    relay.update(7, Which::A, side(&port_a, addr(&sdp_a), Codec::Pcma, None));
    stranger
        .send_to(&rtp(8, false, 200, 0, 666, &[0x66; 160]), addr(&port_a))
        .expect("send");
    phone_a
        .send_to(&rtp(8, false, 4, 480, 1, &[7; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [7; 160]);
    wait_for(&metrics.rtp_dropped_strict, 4);
    let moved = phone();
    relay.update(7, Which::A, side(&port_a, addr(&moved), Codec::Pcma, None));
    moved
        .send_to(&rtp(8, false, 1, 0, 9, &[8; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [8; 160]);
    phone_b
        .send_to(&rtp(8, false, 4, 480, 2, &[9; 160]), addr(&port_b))
        .expect("send");
    assert_eq!(recv(&moved).payload, [9; 160]);
    relay.shutdown();
}

fn telephone_events_pass_through_with_the_payload_type_mapped(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, Some(101)), (Codec::Pcma, Some(96)));
    // Digit 5, end bit, volume 10, duration 800: untouched, even across laws.
    let event = [5u8, 0x8A, 0x03, 0x20];
    call.a_sends(&rtp(0, false, 1, 0, 1, &[0xFF; 160]));
    let audio = recv(&call.phone_b);
    call.a_sends(&rtp(101, true, 2, 160, 1, &event));
    let g = recv(&call.phone_b);
    assert_eq!(
        (g.pt, g.marker, g.payload.as_slice()),
        (96, true, &event[..])
    );
    assert_eq!(g.seq, audio.seq.wrapping_add(1), "same stream as the audio");
    assert_eq!(g.ts, audio.ts.wrapping_add(160));
    assert_eq!(g.ssrc, audio.ssrc);

    call.b_sends(&rtp(96, true, 1, 0, 2, &event));
    let g = recv(&call.phone_a);
    assert_eq!((g.pt, g.payload.as_slice()), (101, &event[..]));

    // Leg B renegotiates without telephone-event: A's events are dropped, audio still flows.
    call.relay.update(
        1,
        Which::B,
        side(&call.port_b, addr(&call.phone_b), Codec::Pcma, None),
    );
    call.a_sends(&rtp(101, false, 3, 160, 1, &event));
    call.a_sends(&rtp(0, false, 4, 320, 1, &[0xFF; 160]));
    let g = recv(&call.phone_b);
    assert_eq!(g.pt, 8);
    wait_for(&call.metrics.rtp_relay_dropped, 1);
    // Comfort noise and unknown payload types are dropped too.
    call.a_sends(&rtp(13, false, 5, 480, 1, &[0x40]));
    call.a_sends(&rtp(18, false, 6, 480, 1, &[0; 20]));
    call.a_sends(&rtp(0, false, 7, 480, 1, &[0xFF; 160]));
    assert_eq!(recv(&call.phone_b).pt, 8);
    assert_empty(&call.phone_b);
    wait_for(&call.metrics.rtp_relay_dropped, 3);
    call.relay.shutdown();
}

fn hold_stops_media_to_the_held_leg_and_resume_restores_it(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcma, None), (Codec::Pcma, None));
    call.a_sends(&rtp(8, false, 1, 0, 1, &[1; 160]));
    let before = recv(&call.phone_b);
    // B puts the call on hold (a=sendonly): B's music still reaches A, nothing goes to B.
    let mut held = side(&call.port_b, addr(&call.phone_b), Codec::Pcma, None);
    held.send = false;
    call.relay.update(1, Which::B, held);
    for i in 0..5u16 {
        call.a_sends(&rtp(8, false, 2 + i, 160 * u32::from(1 + i), 1, &[2; 160]));
    }
    wait_for(&call.metrics.rtp_relay_held, 5);
    assert_empty(&call.phone_b);
    call.b_sends(&rtp(8, false, 1, 0, 2, &[3; 160]));
    assert_eq!(recv(&call.phone_a).payload, [3; 160]);

    call.relay.update(
        1,
        Which::B,
        side(&call.port_b, addr(&call.phone_b), Codec::Pcma, None),
    );
    call.a_sends(&rtp(8, false, 7, 160 * 6, 1, &[4; 160]));
    let after = recv(&call.phone_b);
    assert_eq!(after.payload, [4; 160]);
    assert_eq!(after.ssrc, before.ssrc);
    assert_eq!(
        after.seq,
        before.seq.wrapping_add(1),
        "no hole for the held packets"
    );
    assert!(after.marker);
    assert!(after.ts.wrapping_sub(before.ts) >= 160);
    call.relay.shutdown();
}

fn unbridge_stops_relaying_and_releases_the_sockets(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    call.a_sends(&rtp(0, false, 1, 0, 1, &[1; 160]));
    recv(&call.phone_b);
    call.relay.unbridge(1);
    let deadline = Instant::now() + WAIT;
    while Arc::strong_count(&call.port_a) > 1 || Arc::strong_count(&call.port_b) > 1 {
        assert!(Instant::now() < deadline, "relay kept the sockets");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Nobody reads our port any more: the packet is still there for us to find.
    call.a_sends(&rtp(0, false, 2, 160, 1, &[2; 160]));
    call.port_a.set_nonblocking(false).expect("blocking");
    call.port_a.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0u8; 256];
    let (n, _) = call.port_a.recv_from(&mut buf).expect("unread packet");
    assert_eq!(n, 172);
    assert_empty(&call.phone_b);
    call.relay.shutdown();
}

fn two_hundred_bridges_on_two_threads_all_relay(io: RelayIo) {
    const CALLS: u64 = 200;
    const PACKETS: u16 = 5;
    let metrics = Arc::new(Metrics::default());
    let relay = relay(io, &metrics);
    let mut calls = Vec::new();
    for id in 0..CALLS {
        let (pa, pb) = (phone(), phone());
        let (ra, rb) = (port(), port());
        let codec_b = if id % 2 == 0 {
            Codec::Pcmu
        } else {
            Codec::Pcma
        };
        relay.bridge(
            id,
            side(&ra, addr(&pa), Codec::Pcmu, Some(101)),
            side(&rb, addr(&pb), codec_b, Some(96)),
        );
        calls.push((pa, pb, ra, rb, codec_b));
    }
    // Every call sends both ways before anyone reads: the relay sees 400 busy sockets.
    for (id, (pa, pb, ra, rb, codec_b)) in calls.iter().enumerate() {
        for i in 0..PACKETS {
            let ts = 160 * u32::from(i);
            let tag = [id as u8; 160];
            pa.send_to(&rtp(0, false, i, ts, 1, &tag), addr(ra))
                .expect("send");
            pb.send_to(
                &rtp(codec_b.payload_type(), false, i, ts, 2, &tag),
                addr(rb),
            )
            .expect("send");
        }
    }
    for (id, (pa, pb, _, _, codec_b)) in calls.iter().enumerate() {
        let tag = [id as u8; 160];
        let mut to_b = tag.to_vec();
        g711::transcode(Codec::Pcmu, *codec_b, &mut to_b);
        let mut to_a = tag.to_vec();
        g711::transcode(*codec_b, Codec::Pcmu, &mut to_a);
        for i in 0..PACKETS {
            let g = recv(pb);
            assert_eq!(
                (g.pt, &g.payload),
                (codec_b.payload_type(), &to_b),
                "call {id}"
            );
            let g2 = recv(pa);
            assert_eq!((g2.pt, &g2.payload), (0, &to_a), "call {id}");
            let _ = i;
        }
    }
    wait_for(&metrics.rtp_relayed, CALLS * 2 * u64::from(PACKETS));
    assert_eq!(metrics.rtp_dropped_strict.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.rtp_relay_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.rtp_send_errors.load(Ordering::Relaxed), 0);
    relay.shutdown();
}

fn shutdown_releases_every_socket_and_later_commands_are_ignored(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    call.a_sends(&rtp(0, false, 1, 0, 1, &[1; 160]));
    recv(&call.phone_b);
    call.relay.shutdown();
    assert_eq!(Arc::strong_count(&call.port_a), 1);
    assert_eq!(Arc::strong_count(&call.port_b), 1);
    call.relay.unbridge(1);
    call.relay.bridge(
        2,
        side(&call.port_a, addr(&call.phone_a), Codec::Pcmu, None),
        side(&call.port_b, addr(&call.phone_b), Codec::Pcmu, None),
    );
    call.relay.shutdown();
}

/// Waits until the relay dropped its clone of `port`.
fn wait_released(port: &Arc<UdpSocket>) {
    let deadline = Instant::now() + WAIT;
    while Arc::strong_count(port) > 1 {
        assert!(Instant::now() < deadline, "relay kept the socket");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn reinvite_to_a_new_socket_moves_the_leg_and_keeps_our_stream(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    call.a_sends(&rtp(0, false, 1, 0, 1, &[1; 160]));
    let before = recv(&call.phone_b);
    assert_eq!(before.from, addr(&call.port_b));
    // Leg B moves to another of our ports (and another phone port).
    let port_b2 = port();
    let phone_b2 = phone();
    call.relay.update(
        1,
        Which::B,
        side(&port_b2, addr(&phone_b2), Codec::Pcmu, None),
    );
    wait_released(&call.port_b);
    call.a_sends(&rtp(0, false, 2, 160, 1, &[2; 160]));
    let after = recv(&phone_b2);
    assert_eq!(after.from, addr(&port_b2));
    assert_eq!((after.ssrc, after.payload[0]), (before.ssrc, 2));
    assert_eq!(after.seq, before.seq.wrapping_add(1));
    phone_b2
        .send_to(&rtp(0, false, 1, 0, 2, &[3; 160]), addr(&port_b2))
        .expect("send");
    let g = recv(&call.phone_a);
    assert_eq!((g.from, g.payload[0]), (addr(&call.port_a), 3));
    // The old port is no longer read.
    call.phone_b
        .send_to(&rtp(0, false, 2, 160, 2, &[4; 160]), addr(&call.port_b))
        .expect("send");
    let mut buf = [0u8; 256];
    call.port_b.set_nonblocking(false).expect("blocking");
    call.port_b.set_read_timeout(Some(WAIT)).expect("timeout");
    assert_eq!(call.port_b.recv(&mut buf).expect("unread packet"), 172);
    assert_empty(&call.phone_a);
    call.relay.shutdown();
}

fn a_new_bridge_keeps_the_leg_that_keeps_its_socket(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    call.b_sends(&rtp(0, false, 1, 0, 2, &[1; 160]));
    let before = recv(&call.phone_a);
    // A transfer: leg A stays, leg B is replaced by C on another port.
    let (port_c, phone_c) = (port(), phone());
    call.relay.bridge(
        1,
        side(&call.port_a, addr(&call.phone_a), Codec::Pcmu, None),
        side(&port_c, addr(&phone_c), Codec::Pcma, None),
    );
    wait_released(&call.port_b);
    phone_c
        .send_to(&rtp(8, false, 9, 900, 3, &[0xD5; 160]), addr(&port_c))
        .expect("send");
    let after = recv(&call.phone_a);
    assert_eq!((after.from, after.pt), (addr(&call.port_a), 0));
    assert_eq!(
        after.ssrc, before.ssrc,
        "one stream for A across the transfer"
    );
    assert_eq!(after.seq, before.seq.wrapping_add(1));
    assert!(after.marker);
    // A's latch and socket carried over: A's packets reach C, transcoded.
    call.a_sends(&rtp(0, false, 2, 160, 1, &[0xFF; 160]));
    let g = recv(&phone_c);
    assert_eq!((g.from, g.pt), (addr(&port_c), 8));
    assert_eq!(g.payload[0], g711::ulaw_to_alaw(0xFF));
    call.relay.shutdown();
}

fn a_backlog_larger_than_the_receive_buffers_is_relayed_whole(io: RelayIo) {
    // More datagrams queued on the ports of one thread than the io_uring path has provided
    // buffers (4,096): its receives end with ENOBUFS and must be re-armed.
    const BRIDGES: usize = 55;
    const QUEUED: u16 = 80;
    let metrics = Arc::new(Metrics::default());
    let relay = Relay::new_with(1, metrics.clone(), io).expect("relay");
    let (caller, sink) = (phone(), phone());
    let mut ports = Vec::new();
    for _ in 0..BRIDGES {
        let (a, b) = (port(), port());
        for i in 0..QUEUED {
            let pkt = rtp(0, false, i, 160 * u32::from(i), 7, &[0xFF; 160]);
            caller.send_to(&pkt, addr(&a)).expect("send");
        }
        ports.push((a, b));
    }
    for (id, (a, b)) in ports.iter().enumerate() {
        relay.bridge(
            id as u64,
            side(a, addr(&caller), Codec::Pcmu, None),
            side(b, addr(&sink), Codec::Pcmu, None),
        );
    }
    wait_for(&metrics.rtp_relayed, (BRIDGES * usize::from(QUEUED)) as u64);
    // And every receive still runs afterwards.
    for (a, _) in &ports {
        caller
            .send_to(&rtp(0, false, QUEUED, 0, 7, &[0xFF; 160]), addr(a))
            .expect("send");
    }
    wait_for(
        &metrics.rtp_relayed,
        (BRIDGES * (usize::from(QUEUED) + 1)) as u64,
    );
    assert_eq!(metrics.rtp_relay_dropped.load(Ordering::Relaxed), 0);
    assert_eq!(metrics.rtp_send_errors.load(Ordering::Relaxed), 0);
    relay.shutdown();
}

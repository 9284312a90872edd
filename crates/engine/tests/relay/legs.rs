//! A leg's liveness and its socket: legs that fall silent (`Relay::watch_silence`), sockets
//! connected to the latched SDP address, and what happens when something else disconnects
//! them or the peer's port closes.

use super::*;
use vaxel_engine::relay::RelayEvent;

both_paths!(
    a_leg_that_stops_sending_is_reported_once_and_a_held_leg_never,
    a_leg_heard_from_its_sdp_address_gets_a_connected_socket,
    a_socket_disconnected_under_the_relay_keeps_relaying,
    a_phone_that_closes_its_port_a_while_is_heard_again,
);

/// `watch_silence`: leg B never sends and is reported (once) after the time; leg A keeps
/// sending and is not; a leg on hold (its SDP says it does not send) is never reported, and
/// after it comes back it has the whole time again.
fn a_leg_that_stops_sending_is_reported_once_and_a_held_leg_never(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    // A second bridge whose B leg is on hold (sendonly from us: it sends nothing).
    let (phone_c, phone_d) = (phone(), phone());
    let (port_c, port_d) = (port(), port());
    let held = |s: Side| Side {
        receive: false,
        ..s
    };
    call.relay.bridge(
        2,
        side(&port_c, addr(&phone_c), Codec::Pcmu, None),
        held(side(&port_d, addr(&phone_d), Codec::Pcmu, None)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    call.relay.watch_silence(
        Some(Duration::from_millis(1500)),
        Arc::new(move |ev| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send((Instant::now(), ev));
            }
        }),
    );
    let start = Instant::now();
    let mut seq = 0u16;
    // A and C talk every 20 ms; B and D say nothing.
    let mut talk = |secs: f64| {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut events = Vec::new();
        while Instant::now() < until {
            seq = seq.wrapping_add(1);
            let pkt = rtp(0, false, seq, 160 * u32::from(seq), 0xA, &[0xFF; 160]);
            call.a_sends(&pkt);
            phone_c.send_to(&pkt, addr(&port_c)).expect("send from C");
            std::thread::sleep(Duration::from_millis(20));
            events.extend(rx.try_iter());
        }
        events
    };
    let events = talk(4.0);
    let reported: Vec<RelayEvent> = events.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        reported,
        [RelayEvent::Silent {
            id: 1,
            which: Which::B
        }],
        "only B, once"
    );
    let after = events[0].0 - start;
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_millis(3500),
        "{after:?}"
    );

    // D comes off hold: reported, but only once its own 1.5 s have passed.
    let resumed = Instant::now();
    call.relay.update(
        2,
        Which::B,
        side(&port_d, addr(&phone_d), Codec::Pcmu, None),
    );
    let events = talk(3.5);
    let reported: Vec<RelayEvent> = events.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        reported,
        [RelayEvent::Silent {
            id: 2,
            which: Which::B
        }]
    );
    let after = events[0].0 - resumed;
    assert!(after >= Duration::from_millis(1500), "{after:?}");
    // Switched off: nothing more, though A and C are silent now too.
    call.relay.watch_silence(None, Arc::new(|_| {}));
    std::thread::sleep(Duration::from_millis(2500));
    assert!(rx.try_recv().is_err());
}

/// Waits until `port` is connected (`Some(peer)`) or not (`None`).
fn wait_peer(port: &UdpSocket, want: Option<SocketAddr>) {
    let deadline = Instant::now() + WAIT;
    while port.peer_addr().ok() != want {
        assert!(
            Instant::now() < deadline,
            "peer of {:?} never became {want:?}",
            port.local_addr()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Dissolves `socket`'s connection behind the relay's back (as a late hand-over could).
fn disconnect(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed sockaddr with family AF_UNSPEC on an open fd.
    let rc = unsafe {
        let mut sa: libc::sockaddr = std::mem::zeroed();
        sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
        libc::connect(
            socket.as_raw_fd(),
            &sa,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "disconnect");
}

/// A leg that sends from the address its SDP names gets its relay socket connected there
/// (sends without a route look-up; the kernel keeps strangers out, as the latching rule
/// would); a re-INVITE to a new address undoes it, so latching can hear every source again.
fn a_leg_heard_from_its_sdp_address_gets_a_connected_socket(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    assert!(call.port_a.peer_addr().is_err(), "not before A is heard");
    call.a_sends(&rtp(0, false, 1, 0, 1, &[1; 160]));
    assert_eq!(recv(&call.phone_b).payload, [1; 160]);
    wait_peer(&call.port_a, Some(addr(&call.phone_a)));
    // Media for A still arrives, now from the connected socket.
    call.b_sends(&rtp(0, false, 1, 0, 2, &[2; 160]));
    let g = recv(&call.phone_a);
    assert_eq!((g.payload, g.from), (vec![2; 160], addr(&call.port_a)));
    // A stranger is not relayed.
    let stranger = phone();
    stranger
        .send_to(&rtp(0, false, 9, 0, 666, &[0x66; 160]), addr(&call.port_a))
        .expect("send");
    call.a_sends(&rtp(0, false, 2, 160, 1, &[3; 160]));
    assert_eq!(recv(&call.phone_b).payload, [3; 160]);
    assert_empty(&call.phone_b);
    // A re-INVITE moves A: the socket is disconnected, and A's new address is heard.
    let moved = phone();
    call.relay.update(
        1,
        Which::A,
        side(&call.port_a, addr(&moved), Codec::Pcmu, None),
    );
    wait_peer(&call.port_a, None);
    moved
        .send_to(&rtp(0, false, 3, 320, 1, &[4; 160]), addr(&call.port_a))
        .expect("send");
    assert_eq!(recv(&call.phone_b).payload, [4; 160]);
    wait_peer(&call.port_a, Some(addr(&moved)));
}

/// The caller's port can be disconnected behind the relay's back (the RTP scheduler letting
/// go of it late): at most one packet to that leg is lost, the next go out with the address,
/// and the leg's next packet connects the socket again.
fn a_socket_disconnected_under_the_relay_keeps_relaying(io: RelayIo) {
    let call = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    call.a_sends(&rtp(0, false, 1, 0, 1, &[1; 160]));
    assert_eq!(recv(&call.phone_b).payload, [1; 160]);
    wait_peer(&call.port_a, Some(addr(&call.phone_a)));
    disconnect(&call.port_a);
    for i in 0..3u16 {
        call.b_sends(&rtp(0, false, 10 + i, 0, 2, &[i as u8; 160]));
        std::thread::sleep(Duration::from_millis(5));
    }
    // The first may be lost; the later ones arrive.
    let mut got = Vec::new();
    call.phone_a
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    while let Ok(n) = call.phone_a.recv(&mut buf) {
        got.push(parse_rtp(&buf[..n]).expect("rtp").payload[0]);
    }
    assert!(got.ends_with(&[1, 2]), "B's media reaches A again: {got:?}");
    assert!(call.metrics.rtp_send_errors.load(Ordering::Relaxed) <= 1);
    // A's next packet connects the socket again.
    call.a_sends(&rtp(0, false, 2, 160, 1, &[2; 160]));
    assert_eq!(recv(&call.phone_b).payload, [2; 160]);
    wait_peer(&call.port_a, Some(addr(&call.phone_a)));
}

/// A connected socket hears the ICMP errors of its peer: a phone that closes its RTP port for
/// a while (a restart) makes every packet we send it come back as "port unreachable", which
/// ends our receive on that socket each time. It is re-armed, not given up: the phone is
/// heard again when it is back on the same address.
fn a_phone_that_closes_its_port_a_while_is_heard_again(io: RelayIo) {
    let Call {
        relay: _relay,
        metrics: _metrics,
        phone_a,
        phone_b,
        port_a,
        port_b,
    } = Call::new(io, (Codec::Pcmu, None), (Codec::Pcmu, None));
    let a_at = addr(&phone_a);
    phone_a
        .send_to(&rtp(0, false, 1, 0, 1, &[1; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [1; 160]);
    wait_peer(&port_a, Some(a_at));
    drop(phone_a);
    for i in 0..8u16 {
        phone_b
            .send_to(&rtp(0, false, 10 + i, 0, 2, &[9; 160]), addr(&port_b))
            .expect("send");
        std::thread::sleep(Duration::from_millis(10));
    }
    let back = UdpSocket::bind(a_at).expect("the phone is back on its address");
    back.send_to(&rtp(0, false, 2, 160, 1, &[2; 160]), addr(&port_a))
        .expect("send");
    assert_eq!(recv(&phone_b).payload, [2; 160], "heard again");
}

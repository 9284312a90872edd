//! Transaction timers on a simulated clock: every expectation below is a time in the RFC.

use std::net::SocketAddr;
use std::time::Duration;

use vaxel_sip::{Message, Request, Response, SipMessage, parse};
mod world;

use vaxel_txn::{Peer, ServerTxn, TuEvent};
use world::World;

impl World {
    fn receive(&mut self, raw: &str, peer: Peer) {
        let msg = parse(raw.replace('\n', "\r\n").as_bytes()).expect("test message parses");
        self.core.handle_message(self.now, msg, peer);
        self.drain();
    }

    fn respond(&mut self, txn: ServerTxn, status: u16, to_tag: &str) {
        let req = self.last_request();
        let mut resp = Response::for_request(&req, status);
        let mut to = resp.to().cloned().expect("to");
        to.set_tag(to_tag);
        resp.headers.set("To", to.to_string());
        self.core.respond(self.now, txn, resp).expect("respond");
        self.drain();
    }

    fn last_request(&self) -> Request {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                TuEvent::Request { request, .. } => Some(request.clone()),
                _ => None,
            })
            .expect("a request reached the TU")
    }

    fn server_txn(&self) -> ServerTxn {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                TuEvent::Request { txn, .. } => Some(*txn),
                _ => None,
            })
            .expect("a request reached the TU")
    }

    /// Times (in ms since start) at which a message whose first line starts with `prefix` was sent.
    fn sent_at(&self, prefix: &str) -> Vec<u128> {
        self.sent
            .iter()
            .filter(|(_, _, t)| t.starts_with(prefix))
            .map(|(d, _, _)| d.as_millis())
            .collect()
    }
}

fn caller() -> Peer {
    Peer::udp("127.0.0.1:5061".parse::<SocketAddr>().expect("addr"))
}

fn invite(branch: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:46101022290@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}
From: <sip:caller@127.0.0.1>;tag=abc
To: <sip:46101022290@127.0.0.1>
Call-ID: {call_id}
CSeq: 1 INVITE
Max-Forwards: 70
Contact: <sip:caller@127.0.0.1:5061>
Content-Length: 0

"
    )
}

fn ack(branch: &str, call_id: &str, to_tag: &str) -> String {
    format!(
        "ACK sip:46101022290@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}
From: <sip:caller@127.0.0.1>;tag=abc
To: <sip:46101022290@127.0.0.1>;tag={to_tag}
Call-ID: {call_id}
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

"
    )
}

#[test]
fn trying_is_sent_after_200ms_only_if_the_tu_is_silent() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK1", "c1"), caller());
    assert!(w.sent.is_empty(), "no 100 at once");
    w.run_until(Duration::from_millis(199));
    assert!(w.sent.is_empty());
    w.run_until(Duration::from_millis(250));
    assert_eq!(w.sent_at("SIP/2.0 100"), vec![200]);

    // A TU that answers at once gets no 100 Trying.
    let mut w = World::new();
    w.receive(&invite("z9hG4bK2", "c2"), caller());
    let t = w.server_txn();
    w.respond(t, 486, "t1");
    w.run_until(Duration::from_millis(300));
    assert!(w.sent_at("SIP/2.0 100").is_empty());
}

#[test]
fn non_2xx_is_retransmitted_on_timer_g_until_the_ack_then_timer_i_ends_it() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK3", "c3"), caller());
    let t = w.server_txn();
    w.respond(t, 486, "t3");
    w.run_until(Duration::from_millis(8000));
    // 0, then T1, 2T1, 4T1, 8T1 (capped at T2 = 4 s): 0.5, 1.5, 3.5, 7.5 s.
    assert_eq!(w.sent_at("SIP/2.0 486"), vec![0, 500, 1500, 3500, 7500]);
    w.receive(&ack("z9hG4bK3", "c3", "t3"), caller());
    assert_eq!(w.core.state_of(t.0), Some("Confirmed"));
    w.run_until(Duration::from_millis(12_000));
    assert_eq!(w.sent_at("SIP/2.0 486").len(), 5, "the ACK stops Timer G");
    w.run_until(Duration::from_millis(12_999));
    assert_eq!(w.core.len(), 1, "Timer I (T4 = 5 s) still running");
    w.run_until(Duration::from_millis(13_001));
    assert_eq!(w.core.len(), 0);
    assert!(
        w.events
            .iter()
            .all(|(_, e)| !matches!(e, TuEvent::AckTimeout { .. }))
    );
}

#[test]
fn timer_h_gives_up_after_64_t1_without_ack_and_intervals_cap_at_t2() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK4", "c4"), caller());
    let t = w.server_txn();
    w.respond(t, 480, "t4");
    w.run_until(Duration::from_secs(40));
    let times = w.sent_at("SIP/2.0 480");
    assert_eq!(&times[..6], &[0, 500, 1500, 3500, 7500, 11_500]);
    assert!(
        times.windows(2).skip(4).all(|p| p[1] - p[0] == 4000),
        "{times:?}"
    );
    assert!(*times.last().expect("some") < 32_000);
    let timeouts: Vec<_> = w
        .events
        .iter()
        .filter_map(|(d, e)| {
            matches!(e, TuEvent::AckTimeout { was_2xx: false, .. }).then_some(d.as_millis())
        })
        .collect();
    assert_eq!(timeouts, vec![32_000]);
    assert_eq!(w.core.len(), 0);
}

#[test]
fn retransmitted_invites_are_absorbed_and_get_the_last_response() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK5", "c5"), caller());
    let t = w.server_txn();
    w.respond(t, 183, "t5");
    w.receive(&invite("z9hG4bK5", "c5"), caller());
    assert_eq!(w.sent_at("SIP/2.0 183").len(), 2, "183 repeated");
    assert_eq!(
        w.events
            .iter()
            .filter(|(_, e)| matches!(e, TuEvent::Request { .. }))
            .count(),
        1
    );
    w.respond(t, 486, "t5");
    w.receive(&invite("z9hG4bK5", "c5"), caller());
    assert_eq!(w.sent_at("SIP/2.0 486").len(), 2, "final repeated");
    assert!(
        w.core
            .respond(w.now, t, Response::for_request(&w.last_request(), 200))
            .is_err(),
        "no second final"
    );
}

#[test]
fn a_2xx_is_retransmitted_until_its_ack_which_has_its_own_branch() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK6", "c6"), caller());
    let t = w.server_txn();
    w.respond(t, 200, "t6");
    w.run_until(Duration::from_millis(2000));
    assert_eq!(w.sent_at("SIP/2.0 200"), vec![0, 500, 1500]);
    // Retransmitted INVITE in Accepted: absorbed, not passed up, not answered (RFC 6026).
    w.receive(&invite("z9hG4bK6", "c6"), caller());
    assert_eq!(w.sent_at("SIP/2.0 200").len(), 3);
    w.receive(&ack("z9hG4bKother", "c6", "t6"), caller());
    let acks: Vec<_> = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, TuEvent::Ack { txn: Some(x), .. } if *x == t))
        .collect();
    assert_eq!(acks.len(), 1);
    w.run_until(Duration::from_secs(40));
    assert_eq!(
        w.sent_at("SIP/2.0 200").len(),
        3,
        "ACK stops the retransmissions"
    );
    assert_eq!(w.core.len(), 0);
}

#[test]
fn a_2xx_without_ack_reports_ack_timeout_at_timer_l() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK7", "c7"), caller());
    let t = w.server_txn();
    w.respond(t, 200, "t7");
    w.run_until(Duration::from_secs(33));
    let ev: Vec<_> = w
        .events
        .iter()
        .filter_map(|(d, e)| {
            matches!(e, TuEvent::AckTimeout { was_2xx: true, .. }).then_some(d.as_millis())
        })
        .collect();
    assert_eq!(ev, vec![32_000]);
    assert_eq!(w.core.len(), 0);
}

#[test]
fn cancel_gets_200_and_the_invite_is_reported_cancelled() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bK8", "c8"), caller());
    let t = w.server_txn();
    w.respond(t, 183, "t8");
    let cancel = invite("z9hG4bK8", "c8")
        .replace("INVITE sip", "CANCEL sip")
        .replace("1 INVITE", "1 CANCEL");
    w.receive(&cancel, caller());
    assert_eq!(w.sent_at("SIP/2.0 200").len(), 1);
    assert!(
        w.sent
            .iter()
            .any(|(_, _, s)| s.starts_with("SIP/2.0 200") && s.contains("CANCEL"))
    );
    assert!(
        w.events
            .iter()
            .any(|(_, e)| matches!(e, TuEvent::Cancelled { txn } if *txn == t))
    );
    w.respond(t, 487, "t8");
    assert_eq!(w.sent_at("SIP/2.0 487"), vec![0]);
    // A retransmitted CANCEL gets the same 200 again, and no second Cancelled event.
    w.receive(&cancel, caller());
    assert_eq!(w.sent_at("SIP/2.0 200").len(), 2);
    assert_eq!(
        w.events
            .iter()
            .filter(|(_, e)| matches!(e, TuEvent::Cancelled { .. }))
            .count(),
        1
    );
}

#[test]
fn cancel_for_an_unknown_transaction_gets_481() {
    let mut w = World::new();
    let cancel = invite("z9hG4bK9", "c9")
        .replace("INVITE sip", "CANCEL sip")
        .replace("1 INVITE", "1 CANCEL");
    w.receive(&cancel, caller());
    assert_eq!(w.sent_at("SIP/2.0 481").len(), 1);
    assert!(w.events.is_empty());
}

fn options(branch: &str) -> String {
    invite(branch, "o1")
        .replace("INVITE sip", "OPTIONS sip")
        .replace("1 INVITE", "1 OPTIONS")
}

#[test]
fn non_invite_server_repeats_its_final_and_ends_on_timer_j() {
    let mut w = World::new();
    w.receive(&options("z9hG4bKa"), caller());
    let t = w.server_txn();
    w.respond(t, 200, "x");
    w.receive(&options("z9hG4bKa"), caller());
    assert_eq!(w.sent_at("SIP/2.0 200").len(), 2);
    w.run_until(Duration::from_millis(31_999));
    assert_eq!(w.core.len(), 1);
    w.run_until(Duration::from_millis(32_001));
    assert_eq!(w.core.len(), 0, "Timer J = 64*T1 over UDP");

    // Over TCP, Timer J is zero.
    let mut w = World::new();
    let tcp = Peer::tcp("127.0.0.1:40000".parse().expect("addr"), 7);
    w.receive(&options("z9hG4bKb").replace("UDP", "TCP"), tcp);
    let t = w.server_txn();
    w.respond(t, 200, "x");
    assert_eq!(w.core.len(), 0);
    assert_eq!(w.sent[0].1, tcp, "TCP responses use the same connection");
}

fn bye_request(branch: &str) -> Request {
    let raw = format!(
        "BYE sip:caller@127.0.0.1:5061 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:46101022290@127.0.0.1>;tag=t\r\nTo: <sip:caller@127.0.0.1>;tag=abc\r\nCall-ID: cb\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(raw.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

#[test]
fn bye_client_retransmits_on_timer_e_and_times_out_on_timer_f() {
    let mut w = World::new();
    let txn = w
        .core
        .send_request(w.now, &bye_request("z9hG4bKc1"), caller())
        .expect("send");
    w.drain();
    w.run_until(Duration::from_secs(33));
    let times = w.sent_at("BYE");
    assert_eq!(&times[..6], &[0, 500, 1500, 3500, 7500, 11_500]);
    assert!(*times.last().expect("some") < 32_000);
    let timeouts: Vec<_> = w
        .events
        .iter()
        .filter_map(|(d, e)| {
            matches!(e, TuEvent::Timeout { txn: x } if *x == txn).then_some(d.as_millis())
        })
        .collect();
    assert_eq!(timeouts, vec![32_000]);
    assert_eq!(w.core.len(), 0);
}

#[test]
fn bye_client_completes_on_200_and_absorbs_retransmissions_until_timer_k() {
    let mut w = World::new();
    let txn = w
        .core
        .send_request(w.now, &bye_request("z9hG4bKc2"), caller())
        .expect("send");
    w.drain();
    w.run_until(Duration::from_millis(600));
    let ok = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc2\nFrom: <sip:46101022290@127.0.0.1>;tag=t\nTo: <sip:caller@127.0.0.1>;tag=abc\nCall-ID: cb\nCSeq: 2 BYE\nContent-Length: 0\n\n";
    w.receive(ok, caller());
    w.receive(ok, caller());
    let responses = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, TuEvent::Response { txn: x, .. } if *x == txn))
        .count();
    assert_eq!(responses, 1, "the retransmitted 200 is absorbed");
    w.run_until(Duration::from_secs(10));
    assert_eq!(
        w.sent_at("BYE"),
        vec![0, 500],
        "no retransmission after the 200"
    );
    assert_eq!(w.core.len(), 0, "Timer K ended it");
}

#[test]
fn stray_responses_are_dropped_silently() {
    let mut w = World::new();
    let ok = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnone\nFrom: <sip:a@b>;tag=t\nTo: <sip:c@d>;tag=x\nCall-ID: s\nCSeq: 2 BYE\nContent-Length: 0\n\n";
    w.receive(ok, caller());
    assert!(w.sent.is_empty() && w.events.is_empty());
    assert_eq!(w.core.stats().stray_responses, 1);
}

#[test]
fn responses_follow_rport_and_received() {
    let mut w = World::new();
    let nat = Peer::udp("10.0.0.9:40123".parse().expect("addr"));
    w.receive(
        &invite("z9hG4bKr1", "r1").replace("127.0.0.1:5061;branch", "192.0.2.1:5070;rport;branch"),
        nat,
    );
    let t = w.server_txn();
    let via = w.last_request().top_via().cloned().expect("via");
    assert_eq!(via.received(), Some("10.0.0.9"));
    assert_eq!(via.rport(), Some(Some(40123)));
    w.respond(t, 486, "x");
    assert_eq!(w.sent[0].1.addr, "10.0.0.9:40123".parse().expect("addr"));

    let mut w = World::new();
    w.receive(
        &invite("z9hG4bKr2", "r2").replace("127.0.0.1:5061;branch", "192.0.2.1:5070;branch"),
        nat,
    );
    let t = w.server_txn();
    w.respond(t, 486, "x");
    assert_eq!(
        w.sent[0].1.addr,
        "10.0.0.9:5070".parse().expect("addr"),
        "no rport: source IP, Via port"
    );
}

#[test]
fn the_table_drains_after_100k_calls() {
    let mut w = World::new();
    for i in 0..100_000u32 {
        let branch = format!("z9hG4bKload{i}");
        let call = format!("load{i}");
        w.receive(&invite(&branch, &call), caller());
        let t = w.server_txn();
        w.respond(t, 486, "busy");
        w.receive(&ack(&branch, &call, "busy"), caller());
        w.events.clear();
        w.sent.clear();
        if i % 1000 == 999 {
            let at = w.now - w.start + Duration::from_millis(100);
            w.run_until(at);
        }
    }
    let at = w.now - w.start + Duration::from_secs(60);
    w.run_until(at);
    assert_eq!(w.core.len(), 0);
    assert_eq!(w.core.poll_timeout(), None, "no timer left behind");
}

#[test]
fn stateless_answers_leave_nothing_behind() {
    let mut w = World::new();
    w.receive(&invite("z9hG4bKs1", "s1"), caller());
    let t = w.server_txn();
    let resp = Response::for_request(&w.last_request(), 403);
    w.core.respond_stateless(t, resp).expect("respond");
    w.drain();
    assert_eq!(w.core.len(), 0);
    w.run_until(Duration::from_secs(40));
    assert_eq!(
        w.sent_at("SIP/2.0 403"),
        vec![0],
        "sent once, never retransmitted"
    );
}

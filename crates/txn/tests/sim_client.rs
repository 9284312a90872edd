//! INVITE client transactions and CANCEL on a simulated clock (RFC 3261 §17.1.1, §9.1,
//! RFC 6026): every expectation below is a time or a header in the RFCs.

use std::net::SocketAddr;
use std::time::Duration;

use vaxel_sip::{Message, Request, Response, SipMessage, Via, parse};
mod world;

use vaxel_txn::{ClientTxn, Dialog, Peer, TuEvent, TxnError};
use world::World;

impl World {
    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn invite(&mut self, req: &Request, peer: Peer) -> ClientTxn {
        let txn = self.core.send_invite(self.now, req, peer).expect("send");
        self.drain();
        txn
    }

    fn cancel(&mut self, txn: ClientTxn) -> ClientTxn {
        let c = self.core.cancel(self.now, txn).expect("cancel");
        self.drain();
        c
    }

    fn receive(&mut self, resp: Response, peer: Peer) {
        self.core
            .handle_message(self.now, Message::Response(resp), peer);
        self.drain();
    }

    /// Times (ms since start) of sent messages whose first line starts with `prefix`.
    fn sent_at(&self, prefix: &str) -> Vec<u128> {
        self.sent
            .iter()
            .filter(|(_, _, t)| t.starts_with(prefix))
            .map(|(d, _, _)| d.as_millis())
            .collect()
    }

    /// The last sent request with this method, parsed.
    fn last_sent(&self, method: &str) -> Request {
        let raw = self
            .sent
            .iter()
            .rev()
            .find(|(_, _, t)| t.starts_with(&format!("{method} ")))
            .map(|(_, _, t)| t.clone())
            .expect("request sent");
        request(&raw)
    }

    /// Statuses of the responses the TU got for `txn`, with their times.
    fn responses(&self, txn: ClientTxn) -> Vec<(u128, u16)> {
        self.events
            .iter()
            .filter_map(|(d, e)| match e {
                TuEvent::Response { txn: t, response } if *t == txn => {
                    Some((d.as_millis(), response.status))
                }
                _ => None,
            })
            .collect()
    }

    fn timeouts(&self, txn: ClientTxn) -> Vec<u128> {
        self.events
            .iter()
            .filter_map(|(d, e)| {
                matches!(e, TuEvent::Timeout { txn: t } if *t == txn).then_some(d.as_millis())
            })
            .collect()
    }
}

fn request(raw: &str) -> Request {
    match parse(raw.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn callee() -> Peer {
    Peer::udp("192.0.2.10:5060".parse::<SocketAddr>().expect("addr"))
}

fn tcp_callee() -> Peer {
    Peer::tcp("192.0.2.10:5060".parse::<SocketAddr>().expect("addr"), 3)
}

/// An INVITE as vaxel sends it: one Via, a preloaded route of two hops.
fn out_invite(branch: &str, call_id: &str) -> Request {
    request(
        &format!(
            "INVITE sip:bob@192.0.2.10 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.1:5060;branch={branch}
Max-Forwards: 70
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
From: \"Alice\" <sip:alice@example.com>;tag=ours
To: <sip:bob@example.com>
Call-ID: {call_id}
CSeq: 7 INVITE
Contact: <sip:vaxel@198.51.100.1:5060>
Content-Length: 0

"
        )
        .replace('\n', "\r\n"),
    )
}

/// The callee's answer: its To tag, a Contact and two Record-Routes.
fn answer(invite: &Request, status: u16, tag: &str) -> Response {
    let mut resp = Response::for_request(invite, status);
    if status > 100 {
        let mut to = resp.to().cloned().expect("to");
        to.set_tag(tag);
        resp.headers.set("To", to.to_string());
        resp.headers
            .push("Contact", format!("<sip:bob-{tag}@192.0.2.10:5070>"));
        resp.headers.push("Record-Route", "<sip:p2.example.com;lr>");
        resp.headers.push("Record-Route", "<sip:p1.example.com;lr>");
    }
    resp
}

fn cancel_answer(cancel: &Request, status: u16) -> Response {
    Response::for_request(cancel, status)
}

#[test]
fn timer_a_doubles_without_cap_and_timer_b_times_out_at_32s() {
    let mut w = World::new();
    let t = w.invite(&out_invite("z9hG4bKa1", "a1"), callee());
    assert_eq!(w.core.state_of(t.0), Some("Calling"));
    w.run_until(Duration::from_secs(40));
    assert_eq!(
        w.sent_at("INVITE"),
        vec![0, 500, 1500, 3500, 7500, 15_500, 31_500]
    );
    assert_eq!(w.timeouts(t), vec![32_000]);
    assert!(w.responses(t).is_empty());
    assert_eq!(w.core.len(), 0);
    assert_eq!(w.core.cancel(w.now, t), Err(TxnError::NoSuchTransaction));
}

#[test]
fn a_provisional_stops_timer_a_and_b_and_every_distinct_one_reaches_the_tu() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa2", "a2");
    let t = w.invite(&inv, callee());
    w.run_until(Duration::from_millis(1000));
    w.receive(answer(&inv, 100, ""), callee());
    assert_eq!(w.core.state_of(t.0), Some("Proceeding"));
    w.receive(answer(&inv, 180, "x"), callee());
    w.receive(answer(&inv, 180, "x"), callee());
    w.receive(answer(&inv, 180, "y"), callee());
    let mut sdp = answer(&inv, 183, "x");
    sdp.body = b"v=0\r\n".to_vec();
    w.receive(sdp, callee());
    w.run_until(Duration::from_secs(120));
    assert_eq!(
        w.sent_at("INVITE"),
        vec![0, 500],
        "no Timer A after the 100"
    );
    assert!(w.timeouts(t).is_empty(), "no Timer B in Proceeding");
    assert_eq!(
        w.responses(t),
        vec![(1000, 100), (1000, 180), (1000, 180), (1000, 183)],
        "the retransmitted 180 of fork x is absorbed, fork y's comes through"
    );
    assert_eq!(w.core.state_of(t.0), Some("Proceeding"));
}

#[test]
fn a_486_is_acked_by_the_transaction_with_the_right_headers() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa3", "a3");
    let t = w.invite(&inv, callee());
    w.receive(answer(&inv, 180, "b1"), callee());
    w.run_until(Duration::from_secs(2));
    w.receive(answer(&inv, 486, "b1"), callee());
    assert_eq!(w.responses(t), vec![(0, 180), (2000, 486)]);
    assert_eq!(w.core.state_of(t.0), Some("Completed"));
    assert_eq!(w.sent_at("ACK"), vec![2000]);
    assert_eq!(w.sent.last().expect("sent").1, callee());

    let ack = w.last_sent("ACK");
    assert_eq!(ack.uri, inv.uri, "Request-URI of the INVITE");
    assert_eq!(ack.headers.count("Via"), 1);
    assert_eq!(ack.top_via().expect("via"), inv.top_via().expect("via"));
    assert_eq!(ack.call_id().expect("call-id"), "a3");
    assert_eq!(ack.from().expect("from"), inv.from().expect("from"));
    let to = ack.to().expect("to");
    assert_eq!(to.tag(), Some("b1"), "To with the response's tag");
    assert_eq!(to.uri, inv.to().expect("to").uri);
    let cseq = ack.cseq().expect("cseq");
    assert_eq!((cseq.seq, cseq.method.as_str()), (7, "ACK"));
    assert_eq!(
        ack.headers.values("Route"),
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert!(ack.headers.get("Contact").is_none());

    // A retransmitted 486 gets the ACK again and does not reach the TU.
    w.run_until(Duration::from_secs(3));
    w.receive(answer(&inv, 486, "b1"), callee());
    assert_eq!(w.sent_at("ACK"), vec![2000, 3000]);
    assert_eq!(w.responses(t).len(), 2);
    // Timer D: 32 s over UDP.
    w.run_until(Duration::from_millis(33_999));
    assert_eq!(w.core.len(), 1);
    w.run_until(Duration::from_millis(34_001));
    assert_eq!(w.core.len(), 0);
    assert!(w.timeouts(t).is_empty());
    assert_eq!(w.sent_at("INVITE"), vec![0]);
}

#[test]
fn a_final_without_provisional_is_acked_too_and_stops_timer_a() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa4", "a4");
    let t = w.invite(&inv, callee());
    w.run_until(Duration::from_millis(600));
    w.receive(answer(&inv, 404, "n"), callee());
    w.run_until(Duration::from_secs(40));
    assert_eq!(w.sent_at("INVITE"), vec![0, 500]);
    assert_eq!(w.sent_at("ACK"), vec![600]);
    assert_eq!(w.responses(t), vec![(600, 404)]);
    assert!(w.timeouts(t).is_empty());
    assert_eq!(w.core.len(), 0);
}

#[test]
fn every_2xx_of_every_fork_reaches_the_tu_until_timer_m() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa5", "a5");
    let t = w.invite(&inv, callee());
    w.receive(answer(&inv, 180, "f1"), callee());
    w.run_until(Duration::from_secs(1));
    w.receive(answer(&inv, 200, "f1"), callee());
    assert_eq!(w.core.state_of(t.0), Some("Accepted"));
    assert!(
        w.sent_at("ACK").is_empty(),
        "the TU ACKs a 2xx, not the transaction"
    );
    w.run_until(Duration::from_secs(2));
    w.receive(answer(&inv, 200, "f2"), callee());
    w.receive(answer(&inv, 180, "f3"), callee());
    w.receive(answer(&inv, 486, "f3"), callee());
    assert_eq!(
        w.responses(t),
        vec![(0, 180), (1000, 200), (2000, 200)],
        "provisionals and non-2xx after a 2xx are absorbed"
    );
    assert!(w.sent_at("ACK").is_empty());
    // Timer M = 64*T1 from the first 2xx.
    w.run_until(Duration::from_millis(32_999));
    assert_eq!(w.core.len(), 1);
    w.run_until(Duration::from_millis(33_001));
    assert_eq!(w.core.len(), 0);
    assert!(w.timeouts(t).is_empty());
    assert_eq!(w.sent_at("INVITE"), vec![0]);
}

#[test]
fn uac_dialogs_per_fork_and_their_acks() {
    let inv = out_invite("z9hG4bKa6", "a6");
    let peer = callee();
    let d1 = Dialog::new_uac(&inv, &answer(&inv, 200, "f1"), peer).expect("dialog");
    let d2 = Dialog::new_uac(&inv, &answer(&inv, 200, "f2"), peer).expect("dialog");
    assert_eq!(d1.local_tag, "ours");
    assert_eq!(d1.remote_tag.as_deref(), Some("f1"));
    assert_eq!(d2.remote_tag.as_deref(), Some("f2"));
    assert_eq!(d1.remote_target.to_string(), "sip:bob-f1@192.0.2.10:5070");
    assert_eq!(
        d1.route_set,
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
        "Record-Route reversed"
    );
    assert_eq!(d1.local_seq, 7);

    let via = Via::parse("SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKack1").expect("via");
    let ack = d1.ack(via.clone());
    assert_eq!(ack.uri.to_string(), "sip:bob-f1@192.0.2.10:5070");
    assert_eq!(ack.top_via().expect("via"), &via);
    let cseq = ack.cseq().expect("cseq");
    assert_eq!((cseq.seq, cseq.method.as_str()), (7, "ACK"));
    assert_eq!(ack.from().expect("from").tag(), Some("ours"));
    assert_eq!(ack.to().expect("to").tag(), Some("f1"));
    assert_eq!(ack.call_id().expect("call-id"), "a6");
    assert_eq!(ack.headers.values("Route"), d1.route_set);

    // The BYE of the dialog comes after the INVITE's CSeq.
    let mut d1 = d1;
    let bye = d1.request(vaxel_sip::Method::Bye, via);
    assert_eq!(bye.cseq().expect("cseq").seq, 8);

    // A response without a To tag still makes a dialog; an INVITE without a From tag not.
    let mut untagged = inv.clone();
    untagged.headers.set("From", "<sip:alice@example.com>");
    assert!(Dialog::new_uac(&untagged, &answer(&inv, 200, "f1"), peer).is_err());
}

#[test]
fn cancel_after_180_uses_the_invite_branch_and_the_487_is_acked() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa7", "a7");
    let t = w.invite(&inv, callee());
    w.receive(answer(&inv, 180, "r"), callee());
    w.run_until(Duration::from_secs(5));
    let c = w.cancel(t);
    assert_ne!(c, t);
    assert_eq!(w.sent_at("CANCEL"), vec![5000]);
    let cancel = w.last_sent("CANCEL");
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(cancel.headers.count("Via"), 1);
    assert_eq!(cancel.top_via().expect("via"), inv.top_via().expect("via"));
    assert_eq!(cancel.call_id().expect("call-id"), "a7");
    assert_eq!(cancel.from().expect("from"), inv.from().expect("from"));
    assert_eq!(cancel.to().expect("to"), inv.to().expect("to"), "no To tag");
    let cseq = cancel.cseq().expect("cseq");
    assert_eq!((cseq.seq, cseq.method.as_str()), (7, "CANCEL"));
    assert_eq!(cancel.headers.values("Route"), inv.headers.values("Route"));
    assert_eq!(w.core.cancel(w.now, t), Err(TxnError::WrongState), "once");

    w.run_until(Duration::from_millis(5100));
    w.receive(cancel_answer(&cancel, 200), callee());
    assert_eq!(w.responses(c), vec![(5100, 200)]);
    w.receive(answer(&inv, 487, "r"), callee());
    assert_eq!(w.responses(t), vec![(0, 180), (5100, 487)]);
    assert_eq!(w.sent_at("ACK"), vec![5100]);
    let ack = w.last_sent("ACK");
    assert_eq!(ack.to().expect("to").tag(), Some("r"));
    assert_eq!(w.core.cancel(w.now, t), Err(TxnError::WrongState));

    w.run_until(Duration::from_secs(60));
    assert_eq!(
        w.sent_at("CANCEL"),
        vec![5000],
        "answered: not retransmitted"
    );
    assert_eq!(w.core.len(), 0);
    assert!(w.timeouts(t).is_empty() && w.timeouts(c).is_empty());
}

#[test]
fn cancel_before_any_provisional_waits_for_the_first_one() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa8", "a8");
    let t = w.invite(&inv, callee());
    w.run_until(Duration::from_millis(200));
    let c = w.cancel(t);
    assert!(
        w.sent_at("CANCEL").is_empty(),
        "§9.1: not before a provisional"
    );
    assert_eq!(w.core.cancel(w.now, t), Err(TxnError::WrongState), "once");
    w.run_until(Duration::from_millis(1000));
    assert_eq!(w.sent_at("INVITE"), vec![0, 500], "the INVITE keeps going");
    w.receive(answer(&inv, 180, "r"), callee());
    assert_eq!(w.sent_at("CANCEL"), vec![1000]);
    assert_eq!(w.responses(t), vec![(1000, 180)]);
    let cancel = w.last_sent("CANCEL");
    assert_eq!(
        cancel.top_via().expect("via").branch(),
        Some("z9hG4bKa8"),
        "same branch as the INVITE"
    );
    w.receive(cancel_answer(&cancel, 200), callee());
    assert_eq!(w.responses(c), vec![(1000, 200)]);
    w.receive(answer(&inv, 487, "r"), callee());
    assert_eq!(w.sent_at("ACK"), vec![1000]);
    w.run_until(Duration::from_secs(60));
    assert_eq!(w.sent_at("INVITE"), vec![0, 500]);
    assert_eq!(w.core.len(), 0);
}

#[test]
fn a_cancel_that_is_never_sent_leaves_nothing_behind() {
    // The INVITE times out before any provisional: the deferred CANCEL never goes out.
    let mut w = World::new();
    let t = w.invite(&out_invite("z9hG4bKa9", "a9"), callee());
    let c = w.cancel(t);
    w.run_until(Duration::from_secs(40));
    assert!(w.sent_at("CANCEL").is_empty());
    assert_eq!(w.timeouts(t), vec![32_000]);
    assert!(w.responses(c).is_empty() && w.timeouts(c).is_empty());
    assert_eq!(w.core.len(), 0);

    // A final response before any provisional: likewise.
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa10", "a10");
    let t = w.invite(&inv, callee());
    let _ = w.cancel(t);
    w.receive(answer(&inv, 603, "d"), callee());
    assert!(w.sent_at("CANCEL").is_empty());
    assert_eq!(w.sent_at("ACK"), vec![0]);
    w.run_until(Duration::from_secs(40));
    assert_eq!(w.core.len(), 0);
}

#[test]
fn without_a_final_response_64_t1_after_the_cancel_the_invite_times_out() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKa11", "a11");
    let t = w.invite(&inv, callee());
    w.receive(answer(&inv, 180, "r"), callee());
    w.run_until(Duration::from_secs(10));
    let c = w.cancel(t);
    let cancel = w.last_sent("CANCEL");
    w.receive(cancel_answer(&cancel, 200), callee());
    w.run_until(Duration::from_secs(60));
    assert_eq!(w.timeouts(t), vec![42_000]);
    assert!(w.timeouts(c).is_empty());
    assert_eq!(w.core.len(), 0);
}

#[test]
fn over_tcp_nothing_is_retransmitted_and_timer_d_is_zero() {
    let mut w = World::new();
    let inv = out_invite("z9hG4bKt1", "t1");
    let t = w.invite(&inv, tcp_callee());
    w.run_until(Duration::from_secs(40));
    assert_eq!(w.sent_at("INVITE"), vec![0]);
    assert_eq!(w.timeouts(t), vec![32_000], "Timer B still applies");

    let mut w = World::new();
    let t = w.invite(&inv, tcp_callee());
    w.receive(answer(&inv, 486, "b"), tcp_callee());
    assert_eq!(w.sent_at("ACK"), vec![0]);
    assert_eq!(w.sent.last().expect("sent").1, tcp_callee());
    assert_eq!(w.responses(t), vec![(0, 486)]);
    assert_eq!(w.core.len(), 0, "Timer D = 0");
    w.run_until(Duration::from_secs(40));
    assert!(w.timeouts(t).is_empty());
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn send_invite_rejects_what_it_cannot_run() {
    let mut w = World::new();
    let mut bye = out_invite("z9hG4bKx1", "x1");
    bye.method = vaxel_sip::Method::Bye;
    assert_eq!(
        w.core.send_invite(w.now, &bye, callee()),
        Err(TxnError::WrongState)
    );
    let mut no_branch = out_invite("z9hG4bKx2", "x2");
    no_branch
        .headers
        .set("Via", "SIP/2.0/UDP 198.51.100.1:5060");
    assert_eq!(
        w.core.send_invite(w.now, &no_branch, callee()),
        Err(TxnError::MalformedRequest)
    );
    assert_eq!(
        w.core.cancel(w.now, ClientTxn(999)),
        Err(TxnError::NoSuchTransaction)
    );
    assert_eq!(w.core.len(), 0);
    assert!(w.sent.is_empty());
}

#[test]
fn the_table_drains_after_100k_invite_client_transactions() {
    let mut w = World::new();
    let peer = callee();
    for i in 0..100_000u32 {
        let inv = out_invite(&format!("z9hG4bKload{i}"), &format!("load{i}"));
        let t = w.invite(&inv, peer);
        match i % 4 {
            0 => {
                w.receive(answer(&inv, 180, "r"), peer);
                w.receive(answer(&inv, 486, "r"), peer);
            }
            1 => w.receive(answer(&inv, 200, "r"), peer),
            2 => {
                w.receive(answer(&inv, 180, "r"), peer);
                let _ = w.cancel(t);
                let cancel = w.last_sent("CANCEL");
                w.receive(cancel_answer(&cancel, 200), peer);
                w.receive(answer(&inv, 487, "r"), peer);
            }
            _ => {} // no answer: Timer B
        }
        w.events.clear();
        w.sent.clear();
        if i % 1000 == 999 {
            let at = w.elapsed() + Duration::from_millis(100);
            w.run_until(at);
            w.sent.clear();
            w.events.clear();
        }
    }
    assert!(!w.core.is_empty());
    let at = w.elapsed() + Duration::from_secs(70);
    w.run_until(at);
    assert_eq!(w.core.len(), 0);
    assert_eq!(w.core.poll_timeout(), None, "no timer left behind");
}

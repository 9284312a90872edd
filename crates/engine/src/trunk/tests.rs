//! The glue on a simulated clock: a real transaction `Core`, our own digest `Authenticator`
//! as the operator's registrar, and a fake "our address" instead of sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vaxel_registrar::{Algorithm, AuthConfig, AuthOutcome, Authenticator, Credentials};
use vaxel_sip::{Message, Method};
use vaxel_txn::{Output, TimerConfig, Transport, TuEvent};

use super::*;

const OURS: &str = "192.0.2.1:5060";
const REGISTRAR: &str = "127.0.0.1:5080";

fn local(p: &Peer) -> Option<Local> {
    Some(Local {
        transport: p.transport,
        addr: OURS.parse().ok()?,
    })
}

fn trunk(id: &str, uri: &str, register: bool) -> Trunk {
    Trunk {
        id: id.into(),
        allow: Vec::new(),
        uri: Some(uri.into()),
        username: Some("4610000000".into()),
        password: Some("trunk-secret".into()),
        register: Some(register),
        caller_id: None,
    }
}

/// The operator's registrar: digest with MD5 and qop=auth, 200 with the asked Expires.
struct Operator {
    auth: Authenticator,
    password: String,
    silent: bool,
}

impl Operator {
    fn new() -> Operator {
        let config = AuthConfig {
            algorithms: vec![Algorithm::Md5],
            ..AuthConfig::default()
        };
        Operator {
            auth: Authenticator::new([3; 32], config),
            password: "trunk-secret".into(),
            silent: false,
        }
    }

    fn answer(&mut self, req: &Request) -> Option<Response> {
        if self.silent {
            return None;
        }
        let password = self.password.clone();
        let users = move |u: &str| {
            (u == "4610000000").then(|| Credentials {
                user: "trunk".into(),
                password: password.clone(),
            })
        };
        let outcome = self
            .auth
            .verify(1_700_000_000, req, "operator.example", false, &users);
        let mut resp = Response::for_request(req, 200);
        match outcome {
            AuthOutcome::Ok { .. } => {
                let expires = req.expires().unwrap_or(3600);
                resp.headers.push("Expires", expires.to_string());
            }
            AuthOutcome::Challenge { stale, .. } => {
                resp = Response::for_request(req, 401);
                for (n, v) in self
                    .auth
                    .challenge(1_700_000_000, "operator.example", stale, false)
                {
                    resp.headers.push(n, v);
                }
            }
            AuthOutcome::Forbidden => resp = Response::for_request(req, 403),
        }
        Some(resp)
    }
}

/// The switch's part: a Core, our registrations, and the operator on the far end.
struct World {
    now: Instant,
    core: Core,
    regs: TrunkRegistrations,
    operator: Operator,
    /// Every request that went out, with where it went.
    wire: Vec<(SocketAddr, Request)>,
    /// The transport of each request in `wire`.
    transports: Vec<Transport>,
}

impl World {
    fn new(trunks: &[Trunk]) -> World {
        let now = Instant::now();
        let mut regs = TrunkRegistrations::default();
        regs.reload_with(now, trunks, &local);
        World {
            now,
            core: Core::new(TimerConfig::default()),
            regs,
            operator: Operator::new(),
            wire: Vec::new(),
            transports: Vec::new(),
        }
    }

    /// Carries out what the Core asks until it is quiet: requests reach the operator, its
    /// answers come back, events go to the registrations as the switch hooks would.
    fn pump(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Send { peer, bytes } => {
                    let Ok(Message::Request(req)) = vaxel_sip::parse(&bytes) else {
                        continue; // ACKs and the like are not for the operator
                    };
                    self.wire.push((peer.addr, req.clone()));
                    self.transports.push(peer.transport);
                    if let Some(resp) = self.operator.answer(&req) {
                        self.core
                            .handle_message(self.now, Message::Response(resp), peer);
                    }
                }
                Output::Event(TuEvent::Response { txn, response }) => {
                    assert!(self.regs.owns(txn));
                    let ours = self.regs.on_response_with(
                        self.now,
                        txn,
                        &response,
                        &mut self.core,
                        &local,
                    );
                    assert!(ours);
                }
                Output::Event(TuEvent::Timeout { txn }) => {
                    assert!(self.regs.on_txn_timeout(self.now, txn));
                }
                Output::Event(other) => panic!("unexpected event {other:?}"),
            }
        }
    }

    /// Jumps to the next wake-up of the registrations or the Core and runs it.
    fn step(&mut self) {
        let next = [self.regs.poll_timeout(), self.core.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("something scheduled");
        self.now = self.now.max(next);
        self.core.handle_timeout(self.now);
        self.pump();
        self.regs.on_timeout_with(self.now, &mut self.core, &local);
        self.pump();
    }

    /// Runs every wake-up up to and including the registrations' next one.
    fn next_registration_event(&mut self) {
        let target = self.regs.poll_timeout().expect("a registration scheduled");
        while self.now < target {
            self.step();
        }
        if self.regs.poll_timeout().is_some_and(|t| t <= self.now) {
            self.step();
        }
    }

    fn status(&self) -> Vec<(String, String)> {
        self.regs.status()
    }

    fn last_request(&self) -> &Request {
        &self.wire.last().expect("a request went out").1
    }
}

fn state(w: &World) -> String {
    w.status()
        .first()
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

#[test]
fn a_trunk_registers_through_the_core_with_digest_and_refreshes() {
    let mut w = World::new(&[trunk("op", "sip:127.0.0.1:5080", true)]);
    let t0 = w.now;
    assert_eq!(w.regs.poll_timeout(), Some(t0));
    w.step();
    assert_eq!(w.wire.len(), 2, "REGISTER, then with credentials");
    let (to, first) = &w.wire[0];
    assert_eq!(to.to_string(), REGISTRAR);
    assert_eq!(first.method, Method::Register);
    assert_eq!(first.uri.to_string(), "sip:127.0.0.1:5080");
    let via = first.top_via().unwrap();
    assert_eq!(
        (via.transport.as_str(), via.host.as_str(), via.port),
        ("UDP", "192.0.2.1", Some(5060))
    );
    assert_eq!(first.headers.iter().next().map(|(n, _)| n), Some("Via"));
    assert_eq!(
        first.contacts().unwrap()[0].uri.to_string(),
        "sip:4610000000@192.0.2.1:5060"
    );
    assert_eq!(
        first.from().unwrap().uri.to_string(),
        "sip:4610000000@127.0.0.1"
    );
    assert_eq!(first.headers.get("User-Agent"), Some(USER_AGENT));
    let second = w.last_request();
    assert!(second.headers.get("Authorization").is_some());
    assert_ne!(
        second.top_via().unwrap().branch(),
        via.branch(),
        "a new transaction"
    );
    assert_eq!(state(&w), "registered");
    assert_eq!(w.status()[0].0, "op");

    // Next wake-up: the refresh, 10 % before the hour is up; one round trip (same nonce).
    assert_eq!(w.regs.poll_timeout(), Some(t0 + Duration::from_secs(3240)));
    w.next_registration_event();
    assert_eq!(w.now, t0 + Duration::from_secs(3240));
    assert_eq!(w.wire.len(), 3);
    assert_eq!(state(&w), "registered");
    assert!(w.regs.txns.is_empty());
}

#[test]
fn a_silent_registrar_fails_after_timer_f_and_is_retried_with_backoff() {
    let mut w = World::new(&[trunk("op", "sip:127.0.0.1:5080", true)]);
    let t0 = w.now;
    w.operator.silent = true;
    w.step();
    assert_eq!(state(&w), "registering");
    // Retransmissions, then Timer F at 64*T1 = 32 s.
    while state(&w) == "registering" {
        w.step();
    }
    assert_eq!(w.now, t0 + Duration::from_secs(32));
    assert_eq!(state(&w), "failed: no answer from the registrar");
    assert_eq!(w.regs.poll_timeout(), Some(w.now + Duration::from_secs(30)));
    // The registrar comes back: the retry registers.
    w.operator.silent = false;
    w.next_registration_event();
    assert_eq!(w.now, t0 + Duration::from_secs(62));
    assert_eq!(state(&w), "registered");
}

#[test]
fn wrong_credentials_fail_once_per_attempt() {
    let mut w = World::new(&[trunk("op", "sip:127.0.0.1:5080", true)]);
    w.operator.password = "other".into();
    w.step();
    assert_eq!(w.wire.len(), 2);
    assert_eq!(
        state(&w),
        "failed: the registrar refused our credentials (401)"
    );
    w.next_registration_event();
    assert_eq!(w.wire.len(), 4, "one more attempt: challenge, answer");
}

/// `transport=tcp`: the REGISTERs go to a TCP peer, with a TCP Via and a Contact that asks
/// for TCP; the registration completes as over UDP.
#[test]
fn a_tcp_trunk_registers_over_tcp() {
    let mut w = World::new(&[trunk("op", "sip:127.0.0.1:5080;transport=tcp", true)]);
    w.step();
    assert_eq!(w.wire.len(), 2, "REGISTER, then with credentials");
    assert_eq!(w.transports, [Transport::Tcp, Transport::Tcp]);
    let first = &w.wire[0].1;
    assert!(
        first
            .top_via()
            .is_ok_and(|v| v.transport.eq_ignore_ascii_case("TCP")),
        "{first:?}"
    );
    let contact = first.headers.get("Contact").unwrap_or_default();
    assert!(contact.contains(";transport=tcp"), "{contact}");
    assert_eq!(state(&w), "registered");
}

#[test]
fn trunks_the_engine_cannot_serve_are_disabled_not_retried() {
    let w = World::new(&[
        trunk("tls", "sips:operator.example", true),
        trunk("ws", "sip:operator.example;transport=ws", true),
        trunk("off", "sip:127.0.0.1", false),
        Trunk {
            password: None,
            ..trunk("nopass", "sip:127.0.0.1", true)
        },
    ]);
    let status = w.status();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].1, "disabled: sips: (TLS) is not supported yet");
    assert_eq!(status[1].1, "disabled: transport=ws is not supported");
    assert_eq!(w.regs.poll_timeout(), None);
}

#[test]
fn without_a_udp_listener_there_is_nothing_to_register_from() {
    let mut regs = TrunkRegistrations::default();
    regs.reload_with(
        Instant::now(),
        &[trunk("op", "sip:127.0.0.1", true)],
        &|_| None,
    );
    assert_eq!(
        regs.status()[0].1,
        "disabled: no UDP listener to register from"
    );
}

#[test]
fn reload_keeps_unchanged_restarts_changed_and_unregisters_removed_trunks() {
    let a = trunk("a", "sip:127.0.0.1:5080", true);
    let b = trunk("b", "sip:127.0.0.1:5080", true);
    let mut w = World::new(&[a.clone(), b.clone()]);
    w.step();
    assert_eq!(w.wire.len(), 4);
    assert!(w.status().iter().all(|(_, s)| s == "registered"));
    let call_id_a = w.wire[0].1.call_id().unwrap().to_string();

    // Same a, b gone, c new.
    let c = trunk("c", "sip:127.0.0.1:5080", true);
    let now = w.now;
    w.regs.reload_with(now, &[a.clone(), c.clone()], &local);
    assert_eq!(
        w.status(),
        [
            ("a".into(), "registered".into()),
            ("c".into(), "unregistered".into())
        ]
    );
    assert_eq!(w.regs.poll_timeout(), Some(now));
    w.next_registration_event();
    let sent: Vec<&Request> = w.wire[4..].iter().map(|(_, r)| r).collect();
    let unregisters: Vec<&&Request> = sent.iter().filter(|r| r.expires() == Some(0)).collect();
    assert_eq!(unregisters.len(), 1, "b says goodbye");
    assert!(
        unregisters[0].headers.get("Authorization").is_some(),
        "with the challenge b already had"
    );
    assert!(sent.iter().all(|r| r.call_id().unwrap() != call_id_a));
    assert!(w.regs.leaving.is_empty(), "b is forgotten once answered");
    assert!(w.status().iter().all(|(_, s)| s == "registered"));

    // A changed password restarts a (new Call-ID) without an un-REGISTER.
    let before = w.wire.len();
    let a2 = Trunk {
        password: Some("new".into()),
        ..a
    };
    w.operator.password = "new".into();
    let now = w.now;
    w.regs.reload_with(now, &[a2, c], &local);
    w.next_registration_event();
    let sent: Vec<&Request> = w.wire[before..].iter().map(|(_, r)| r).collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.expires() == Some(3600)));
    assert_ne!(sent[0].call_id().unwrap(), call_id_a);
    assert!(w.status().iter().all(|(_, s)| s == "registered"));
}

#[test]
fn shutdown_unregisters_every_trunk() {
    let mut w = World::new(&[trunk("a", "sip:127.0.0.1:5080", true)]);
    w.step();
    let now = w.now + Duration::from_secs(5);
    w.now = now;
    w.regs.shutdown_with(now, &mut w.core, &local);
    w.pump();
    assert_eq!(w.last_request().expires(), Some(0));
    assert!(w.regs.status().is_empty());
    assert!(w.regs.leaving.is_empty());
    assert_eq!(w.regs.poll_timeout(), None);
}

#[test]
fn responses_and_timeouts_of_other_transactions_are_not_ours() {
    let mut w = World::new(&[]);
    let resp = Response::for_request(
        &Request::new(Method::Options, Uri::parse("sip:x").unwrap()),
        200,
    );
    assert!(!w.regs.owns(ClientTxn(99)));
    assert!(
        !w.regs
            .on_response_with(w.now, ClientTxn(99), &resp, &mut w.core, &local)
    );
    assert!(!w.regs.on_txn_timeout(w.now, ClientTxn(99)));
}

#[test]
fn a_registrar_name_is_looked_up_off_the_switch() {
    let mut w = World::new(&[trunk("op", "sip:localhost:5080", true)]);
    let t0 = w.now;
    w.regs.on_timeout_with(t0, &mut w.core, &local);
    w.pump();
    assert!(w.wire.is_empty(), "nothing sent before the name resolves");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while state(&w) != "registered" {
        assert!(
            std::time::Instant::now() < deadline,
            "lookup never finished"
        );
        let next = w.regs.poll_timeout().unwrap();
        assert!(next <= w.now + LOOKUP_POLL);
        std::thread::sleep(Duration::from_millis(5));
        w.now = w.now.max(next);
        let now = w.now;
        w.regs.on_timeout_with(now, &mut w.core, &local);
        w.pump();
    }
    assert_eq!(w.wire[0].0.port(), 5080);
    assert!(w.wire[0].0.ip().is_loopback());
    assert_eq!(state(&w), "registered");
}

// ---------------------------------------------------------------- outbound INVITE digest

fn invite() -> Request {
    let text = "INVITE sip:4687654321@127.0.0.1:5080 SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfirst;rport\r\n\
                Max-Forwards: 70\r\n\
                From: <sip:4610000000@192.0.2.1>;tag=ab\r\n\
                To: <sip:4687654321@127.0.0.1>\r\n\
                Call-ID: out-1@vaxel\r\n\
                CSeq: 7 INVITE\r\n\
                Contact: <sip:4610000000@192.0.2.1:5060>\r\n\
                Content-Type: application/sdp\r\n\
                Content-Length: 4\r\n\r\nv=0\n";
    match vaxel_sip::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn challenge(status: u16, header: &str, value: &str) -> Response {
    let mut r = Response::for_request(&invite(), status);
    r.headers.push(header, value);
    r
}

#[test]
fn an_invite_challenged_by_the_trunk_is_signed_once() {
    let t = trunk("op", "sip:127.0.0.1:5080", false);
    let mut counts = NonceCounts::default();
    let c = challenge(
        407,
        "Proxy-Authenticate",
        r#"Digest realm="operator.example", nonce="n1", qop="auth", algorithm=MD5"#,
    );
    let retry = authorize_retry(&t, &invite(), &c, &mut counts).expect("signed");
    assert_eq!(retry.cseq().unwrap().seq, 8);
    assert_eq!(retry.cseq().unwrap().method, Method::Invite);
    assert_eq!(retry.call_id().unwrap(), "out-1@vaxel");
    assert_eq!(retry.body, invite().body);
    let via = retry.top_via().unwrap();
    assert_eq!(
        (via.branch(), via.rport()),
        (None, Some(None)),
        "branch left to the caller"
    );
    assert_eq!(retry.headers.iter().next().map(|(n, _)| n), Some("Via"));
    let creds =
        DigestCredentials::parse(retry.headers.get("Proxy-Authorization").unwrap()).unwrap();
    assert_eq!(creds.username, "4610000000");
    assert_eq!(creds.uri, "sip:4687654321@127.0.0.1:5080");
    assert_eq!(creds.nc, "00000001");
    assert_eq!(retry.headers.get("Authorization"), None);

    // The trunk refuses that answer: no second try.
    let again = challenge(
        407,
        "Proxy-Authenticate",
        r#"Digest realm="operator.example", nonce="n2", qop="auth""#,
    );
    assert_eq!(authorize_retry(&t, &retry, &again, &mut counts), None);
    // Unless the nonce was only stale.
    let stale = challenge(
        407,
        "Proxy-Authenticate",
        r#"Digest realm="operator.example", nonce="n2", qop="auth", stale=true"#,
    );
    let third = authorize_retry(&t, &retry, &stale, &mut counts).expect("stale: again");
    assert_eq!(third.cseq().unwrap().seq, 9);

    // The next call on the first nonce counts on.
    let next_call = authorize_retry(&t, &invite(), &c, &mut counts).unwrap();
    let creds =
        DigestCredentials::parse(next_call.headers.get("Proxy-Authorization").unwrap()).unwrap();
    assert_eq!(creds.nc, "00000001", "n1 was replaced by n2 for the realm");
    let after = authorize_retry(&t, &invite(), &c, &mut counts).unwrap();
    let creds =
        DigestCredentials::parse(after.headers.get("Proxy-Authorization").unwrap()).unwrap();
    assert_eq!(creds.nc, "00000002");
}

#[test]
fn no_credentials_or_no_usable_challenge_means_no_retry() {
    let mut counts = NonceCounts::default();
    let c = challenge(401, "WWW-Authenticate", r#"Digest realm="r", nonce="n""#);
    let bare = Trunk {
        username: None,
        password: None,
        ..trunk("op", "sip:127.0.0.1", false)
    };
    assert_eq!(authorize_retry(&bare, &invite(), &c, &mut counts), None);
    let t = trunk("op", "sip:127.0.0.1", false);
    let garbage = challenge(401, "WWW-Authenticate", "Digest realm=");
    assert_eq!(authorize_retry(&t, &invite(), &garbage, &mut counts), None);
    let not_a_challenge = Response::for_request(&invite(), 486);
    assert_eq!(
        authorize_retry(&t, &invite(), &not_a_challenge, &mut counts),
        None
    );
    let www = authorize_retry(&t, &invite(), &c, &mut counts).unwrap();
    let creds = DigestCredentials::parse(www.headers.get("Authorization").unwrap()).unwrap();
    assert_eq!((creds.realm.as_str(), creds.qop), ("r", None));
}

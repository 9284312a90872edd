//! Trunk registration from the client side: round trips against our own server-side
//! `Authenticator`, and every path of the `Registration` state machine on a simulated clock
//! (no sockets, no sleeps). The digest answers themselves are tested in `client_digest.rs`.

use std::time::{Duration, Instant};

use vaxel_registrar::client::{
    ChallengeError, Failure, Registration, RegistrationConfig, RegistrationState,
};
use vaxel_registrar::nonce::NonceConfig;
use vaxel_registrar::{
    Algorithm, AuthConfig, AuthOutcome, Authenticator, Credentials, DigestCredentials, Qop,
};
use vaxel_sip::{Message, Method, Request, Response, SipMessage};

const REALM: &str = "operator.example";
const USER: &str = "4610000000";
const PASSWORD: &str = "trunk-secret";

/// Unix seconds on the server's side of the simulated clock.
fn unix(t0: Instant, now: Instant) -> u64 {
    1_700_000_000 + (now - t0).as_secs()
}

fn parse_request(bytes: &[u8]) -> Request {
    match vaxel_sip::parse(bytes).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

/// What the engine does to a REGISTER before sending: a Via on top, then the bytes.
fn on_the_wire(req: Request) -> Request {
    let mut wire = Request::new(req.method.clone(), req.uri.clone());
    wire.headers
        .push("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtest");
    for (n, v) in req.headers.iter() {
        wire.headers.push(n, v);
    }
    parse_request(&wire.to_bytes())
}

fn answer(req: &Request, status: u16, extra: &[(&str, String)]) -> Response {
    let mut r = Response::for_request(req, status);
    for (n, v) in extra {
        r.headers.push(n, v.clone());
    }
    r
}

/// A registrar built on the crate's own `Authenticator`: 401 until the answer verifies, then
/// 200 with the asked Expires.
struct Registrar {
    auth: Authenticator,
    t0: Instant,
    password: String,
}

impl Registrar {
    fn new(t0: Instant, algorithms: Vec<Algorithm>) -> Registrar {
        let config = AuthConfig {
            algorithms,
            allow_no_qop: false,
            nonce: NonceConfig {
                lifetime: 300,
                max_tracked: 1000,
            },
        };
        Registrar {
            auth: Authenticator::new([7; 32], config),
            t0,
            password: PASSWORD.into(),
        }
    }

    fn handle(&mut self, now: Instant, req: Request) -> (Response, AuthOutcome) {
        let req = on_the_wire(req);
        let t = unix(self.t0, now);
        let password = self.password.clone();
        let users = move |name: &str| {
            (name == USER).then(|| Credentials {
                user: "trunk".into(),
                password: password.clone(),
            })
        };
        let outcome = self.auth.verify(t, &req, REALM, false, &users);
        let resp = match &outcome {
            AuthOutcome::Ok { .. } => {
                let expires = req.expires().unwrap_or(3600).to_string();
                answer(&req, 200, &[("Expires", expires)])
            }
            AuthOutcome::Challenge { stale, .. } => {
                let mut r = answer(&req, 401, &[]);
                for (n, v) in self.auth.challenge(t, REALM, *stale, false) {
                    r.headers.push(n, v);
                }
                r
            }
            AuthOutcome::Forbidden => answer(&req, 403, &[]),
        };
        (resp, outcome)
    }
}

fn config() -> RegistrationConfig {
    RegistrationConfig::new(
        "sip:operator.example:5080;transport=udp",
        USER,
        PASSWORD,
        "sip:4610000000@192.0.2.1:5060",
    )
}

fn registration(now: Instant) -> Registration {
    Registration::new(now, config(), 42).unwrap()
}

fn is_ok(o: &AuthOutcome) -> bool {
    matches!(o, AuthOutcome::Ok { .. })
}

/// Runs one attempt against `server` until no request is left; returns the outcomes seen.
fn exchange(reg: &mut Registration, server: &mut Registrar, now: Instant) -> Vec<AuthOutcome> {
    let mut outcomes = Vec::new();
    let mut next = reg.handle_timeout(now);
    while let Some(req) = next {
        let (resp, outcome) = server.handle(now, req);
        outcomes.push(outcome);
        next = reg.handle_response(now, &resp);
        assert!(outcomes.len() < 10, "no end to the exchange");
    }
    outcomes
}

#[test]
fn round_trip_md5_sha256_and_the_strongest_of_both() {
    for (offered, expected) in [
        (vec![Algorithm::Md5], Algorithm::Md5),
        (vec![Algorithm::Sha256], Algorithm::Sha256),
        (vec![Algorithm::Md5, Algorithm::Sha256], Algorithm::Sha256),
        (
            vec![Algorithm::Sha512_256, Algorithm::Md5],
            Algorithm::Sha512_256,
        ),
    ] {
        let t0 = Instant::now();
        let mut server = Registrar::new(t0, offered.clone());
        let mut reg = registration(t0);
        let first = reg.handle_timeout(t0).expect("first REGISTER due at once");
        assert_eq!(*reg.state(), RegistrationState::Registering);
        let (resp, outcome) = server.handle(t0, first);
        assert_eq!(resp.status, 401);
        assert!(matches!(
            outcome,
            AuthOutcome::Challenge { failed: false, .. }
        ));
        let signed = reg.handle_response(t0, &resp).expect("answer to the 401");
        let creds = DigestCredentials::parse(signed.headers.get("Authorization").unwrap()).unwrap();
        assert_eq!(creds.algorithm, expected, "offered {offered:?}");
        assert_eq!(creds.qop, Some(Qop::Auth));
        assert_eq!(creds.username, USER);
        let (resp, outcome) = server.handle(t0, signed);
        assert!(is_ok(&outcome), "{outcome:?} for {offered:?}");
        assert_eq!(reg.handle_response(t0, &resp), None);
        assert_eq!(
            *reg.state(),
            RegistrationState::Registered {
                until: t0 + Duration::from_secs(3600)
            }
        );
    }
}

#[test]
fn a_refresh_on_an_expired_nonce_is_rechallenged_with_stale_and_succeeds() {
    let t0 = Instant::now();
    let mut server = Registrar::new(t0, vec![Algorithm::Sha256, Algorithm::Md5]);
    let mut reg = registration(t0);
    let outcomes = exchange(&mut reg, &mut server, t0);
    assert!(is_ok(outcomes.last().unwrap()));
    // The refresh is due 10 % before expiry and reuses the old (now stale) nonce.
    let refresh_at = reg.poll_timeout().unwrap();
    assert_eq!(refresh_at, t0 + Duration::from_secs(3240));
    assert_eq!(
        reg.handle_timeout(refresh_at - Duration::from_secs(1)),
        None
    );
    let outcomes = exchange(&mut reg, &mut server, refresh_at);
    assert_eq!(
        outcomes,
        [
            AuthOutcome::Challenge {
                stale: true,
                failed: false
            },
            AuthOutcome::Ok {
                user: "trunk".into()
            }
        ]
    );
    assert_eq!(
        *reg.state(),
        RegistrationState::Registered {
            until: refresh_at + Duration::from_secs(3600)
        }
    );
}

#[test]
fn a_stale_challenge_after_our_answer_is_retried_then_registered() {
    let t0 = Instant::now();
    let mut server = Registrar::new(t0, vec![Algorithm::Md5]);
    let mut reg = registration(t0);
    let first = reg.handle_timeout(t0).unwrap();
    let (resp, _) = server.handle(t0, first);
    let signed = reg.handle_response(t0, &resp).unwrap();
    // Our answer reaches the server after its nonce expired.
    let late = t0 + Duration::from_secs(400);
    let (resp, outcome) = server.handle(late, signed);
    assert_eq!(
        outcome,
        AuthOutcome::Challenge {
            stale: true,
            failed: false
        }
    );
    assert!(
        resp.headers
            .get("WWW-Authenticate")
            .unwrap()
            .contains("stale=true")
    );
    let retry = reg
        .handle_response(late, &resp)
        .expect("stale: retried at once");
    let (resp, outcome) = server.handle(late, retry);
    assert!(is_ok(&outcome));
    reg.handle_response(late, &resp);
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
}

#[test]
fn a_wrong_password_fails_after_one_answer_and_backs_off_doubling_to_ten_minutes() {
    let t0 = Instant::now();
    let mut server = Registrar::new(t0, vec![Algorithm::Md5]);
    server.password = "not-what-we-have".into();
    let mut reg = registration(t0);
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..7 {
        let outcomes = exchange(&mut reg, &mut server, now);
        assert_eq!(
            outcomes.len(),
            2,
            "challenge, then one answer: {outcomes:?}"
        );
        assert!(matches!(
            outcomes[1],
            AuthOutcome::Challenge {
                failed: true,
                stale: false
            }
        ));
        let RegistrationState::Failed { retry_at, reason } = reg.state().clone() else {
            panic!("not failed: {:?}", reg.state());
        };
        assert_eq!(reason, Failure::CredentialsRefused { status: 401 });
        assert_eq!(reg.poll_timeout(), Some(retry_at));
        waits.push((retry_at - now).as_secs());
        now = retry_at;
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
    // Fixed password: the next attempt registers and the backoff starts over.
    server.password = PASSWORD.into();
    let outcomes = exchange(&mut reg, &mut server, now);
    assert!(is_ok(outcomes.last().unwrap()));
    let now = reg.poll_timeout().unwrap();
    let req = reg.handle_timeout(now).unwrap();
    reg.handle_timeout_of_txn(now);
    drop(req);
    let RegistrationState::Failed { retry_at, reason } = reg.state().clone() else {
        panic!("not failed");
    };
    assert_eq!(
        (reason, retry_at - now),
        (Failure::Timeout, Duration::from_secs(30))
    );
}

// ---------------------------------------------------------------- scripted answers

#[test]
fn the_register_is_whole_and_refreshes_keep_call_id_and_raise_cseq() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.registrar = "sip:someone@operator.example:5080;transport=tcp".into();
    cfg.user_agent = Some("vaxel/test".into());
    let mut reg = Registration::new(t0, cfg, 9).unwrap();
    assert_eq!(reg.poll_timeout(), Some(t0));
    let req = on_the_wire(reg.handle_timeout(t0).unwrap());
    assert_eq!(reg.poll_timeout(), None, "waiting for the answer");
    assert_eq!(req.method, Method::Register);
    assert_eq!(
        req.uri.to_string(),
        "sip:operator.example:5080;transport=tcp"
    );
    assert_eq!(
        req.from().unwrap().uri.to_string(),
        "sip:4610000000@operator.example"
    );
    assert!(req.from().unwrap().tag().is_some());
    assert_eq!(
        req.to().unwrap().uri.to_string(),
        "sip:4610000000@operator.example"
    );
    assert_eq!(req.to().unwrap().tag(), None);
    assert_eq!(
        req.contacts().unwrap()[0].uri.to_string(),
        "sip:4610000000@192.0.2.1:5060"
    );
    assert_eq!(req.expires(), Some(3600));
    assert_eq!(req.max_forwards().unwrap(), Some(70));
    assert_eq!(req.headers.get("User-Agent"), Some("vaxel/test"));
    assert_eq!(req.headers.get("Authorization"), None);
    let call_id = req.call_id().unwrap().to_string();
    assert_eq!(call_id, reg.call_id());
    let mut cseqs = vec![req.cseq().unwrap().seq];

    // Granted 600 s on our contact (another, older contact listed too).
    let ok = answer(
        &req,
        200,
        &[
            (
                "Contact",
                "<sip:4610000000@192.0.2.99:5060>;expires=30".into(),
            ),
            ("Contact", "<sip:4610000000@192.0.2.1>;expires=600".into()),
            ("Expires", "3600".into()),
        ],
    );
    assert_eq!(reg.handle_response(t0, &ok), None);
    assert_eq!(
        *reg.state(),
        RegistrationState::Registered {
            until: t0 + Duration::from_secs(600)
        }
    );
    let mut now = reg.poll_timeout().unwrap();
    assert_eq!(now, t0 + Duration::from_secs(540));
    for _ in 0..3 {
        let req = on_the_wire(reg.handle_timeout(now).unwrap());
        assert_eq!(req.call_id().unwrap(), call_id);
        cseqs.push(req.cseq().unwrap().seq);
        // Still registered while the refresh is out.
        assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
        // Only an Expires header this time.
        reg.handle_response(now, &answer(&req, 200, &[("Expires", "120".into())]));
        now = reg.poll_timeout().unwrap();
    }
    assert_eq!(cseqs, [1, 2, 3, 4]);
    assert!(
        matches!(reg.state(), RegistrationState::Registered { until } if *until == now + Duration::from_secs(12))
    );
}

#[test]
fn a_challenge_is_reused_for_refreshes_with_a_rising_nonce_count() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let req = reg.handle_timeout(t0).unwrap();
    let challenge = (
        "WWW-Authenticate",
        format!(r#"Digest realm="{REALM}", nonce="abc", opaque="op", qop="auth", algorithm=MD5"#),
    );
    let signed = reg
        .handle_response(t0, &answer(&req, 401, &[challenge]))
        .unwrap();
    let creds = DigestCredentials::parse(signed.headers.get("Authorization").unwrap()).unwrap();
    assert_eq!(
        (creds.nc.as_str(), creds.opaque.as_deref()),
        ("00000001", Some("op"))
    );
    assert_eq!(creds.uri, "sip:operator.example:5080;transport=udp");
    reg.handle_response(t0, &answer(&signed, 200, &[]));
    let now = reg.poll_timeout().unwrap();
    let refresh = reg.handle_timeout(now).unwrap();
    let creds = DigestCredentials::parse(refresh.headers.get("Authorization").unwrap()).unwrap();
    assert_eq!(
        (creds.nonce.as_str(), creds.nc.as_str()),
        ("abc", "00000002")
    );
}

#[test]
fn proxy_challenges_are_answered_in_proxy_authorization() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let req = reg.handle_timeout(t0).unwrap();
    let challenge = (
        "Proxy-Authenticate",
        r#"Digest realm="proxy", nonce="p1""#.to_string(),
    );
    let signed = reg
        .handle_response(t0, &answer(&req, 407, &[challenge]))
        .unwrap();
    assert_eq!(signed.headers.get("Authorization"), None);
    let creds =
        DigestCredentials::parse(signed.headers.get("Proxy-Authorization").unwrap()).unwrap();
    assert_eq!((creds.realm.as_str(), creds.qop), ("proxy", None));
    // A second 407 without stale: refused.
    let again = (
        "Proxy-Authenticate",
        r#"Digest realm="proxy", nonce="p2""#.to_string(),
    );
    assert_eq!(
        reg.handle_response(t0, &answer(&signed, 407, &[again])),
        None
    );
    assert!(matches!(
        reg.state(),
        RegistrationState::Failed {
            reason: Failure::CredentialsRefused { status: 407 },
            ..
        }
    ));
}

#[test]
fn endless_stale_challenges_are_cut_short() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let mut req = reg.handle_timeout(t0).unwrap();
    let mut sent = 1;
    for n in 0..10 {
        let stale = if n == 0 { "" } else { ", stale=true" };
        let c = (
            "WWW-Authenticate",
            format!(r#"Digest realm="r", nonce="n{n}", qop="auth"{stale}"#),
        );
        match reg.handle_response(t0, &answer(&req, 401, &[c])) {
            Some(next) => {
                req = next;
                sent += 1;
            }
            None => break,
        }
    }
    assert_eq!(sent, 4, "first answer and two stale retries");
    assert!(matches!(
        reg.state(),
        RegistrationState::Failed {
            reason: Failure::CredentialsRefused { status: 401 },
            ..
        }
    ));
}

#[test]
fn interval_too_brief_is_retried_with_min_expires_once_per_raise() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let req = reg.handle_timeout(t0).unwrap();
    let retry = reg
        .handle_response(t0, &answer(&req, 423, &[("Min-Expires", "7200".into())]))
        .expect("retried with Min-Expires");
    assert_eq!(retry.expires(), Some(7200));
    assert_eq!(retry.cseq().unwrap().seq, 2);
    reg.handle_response(t0, &answer(&retry, 200, &[]));
    assert_eq!(
        *reg.state(),
        RegistrationState::Registered {
            until: t0 + Duration::from_secs(7200)
        }
    );
    // Refreshes keep asking for the raised interval.
    let now = reg.poll_timeout().unwrap();
    assert_eq!(reg.handle_timeout(now).unwrap().expires(), Some(7200));

    // A 423 that does not raise the interval, or has no Min-Expires, is a failure.
    for min in [None, Some("3600"), Some("junk"), Some("999999")] {
        let mut reg = registration(t0);
        let req = reg.handle_timeout(t0).unwrap();
        let extra: Vec<(&str, String)> = min
            .map(|m| ("Min-Expires", m.to_string()))
            .into_iter()
            .collect();
        assert_eq!(
            reg.handle_response(t0, &answer(&req, 423, &extra)),
            None,
            "{min:?}"
        );
        assert!(matches!(
            reg.state(),
            RegistrationState::Failed {
                reason: Failure::IntervalTooBrief { .. },
                ..
            }
        ));
    }
}

#[test]
fn errors_fail_with_backoff_or_retry_after() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let req = reg.handle_timeout(t0).unwrap();
    reg.handle_response(t0, &answer(&req, 403, &[]));
    assert_eq!(
        *reg.state(),
        RegistrationState::Failed {
            retry_at: t0 + Duration::from_secs(30),
            reason: Failure::Rejected {
                status: 403,
                reason: "Forbidden".into()
            }
        }
    );
    let now = t0 + Duration::from_secs(30);
    let req = reg.handle_timeout(now).unwrap();
    reg.handle_response(
        now,
        &answer(&req, 503, &[("Retry-After", "120 (maintenance)".into())]),
    );
    assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(120)));
    // A 2xx that grants our contact nothing.
    let now = now + Duration::from_secs(120);
    let req = reg.handle_timeout(now).unwrap();
    reg.handle_response(
        now,
        &answer(
            &req,
            200,
            &[(
                "Contact",
                "<sip:4610000000@192.0.2.1:5060>;expires=0".into(),
            )],
        ),
    );
    assert!(matches!(
        reg.state(),
        RegistrationState::Failed {
            reason: Failure::NoBinding,
            ..
        }
    ));
    // Unreachable (the engine could not send) retries like a timeout.
    let now = reg.poll_timeout().unwrap();
    let _lost = reg.handle_timeout(now).unwrap();
    reg.handle_unreachable(now, "no route");
    assert!(matches!(
        reg.state(),
        RegistrationState::Failed { reason: Failure::Unreachable(why), .. } if why == "no route"
    ));
    // A challenge we cannot answer.
    let now = reg.poll_timeout().unwrap();
    let req = reg.handle_timeout(now).unwrap();
    let bad = (
        "WWW-Authenticate",
        r#"Digest realm="r", nonce="n", algorithm=AKAv1-MD5"#.to_string(),
    );
    reg.handle_response(now, &answer(&req, 401, &[bad]));
    assert!(matches!(
        reg.state(),
        RegistrationState::Failed {
            reason: Failure::BadChallenge(ChallengeError::UnknownAlgorithm(_)),
            ..
        }
    ));
    let e = Failure::BadChallenge(ChallengeError::UnknownAlgorithm("AKAv1-MD5".into()));
    assert_eq!(
        e.to_string(),
        "unusable challenge: unsupported digest algorithm `AKAv1-MD5`"
    );
}

#[test]
fn stray_provisional_and_late_answers_are_ignored() {
    let t0 = Instant::now();
    let mut reg = registration(t0);
    let req = on_the_wire(reg.handle_timeout(t0).unwrap());
    assert_eq!(reg.handle_response(t0, &answer(&req, 100, &[])), None);
    assert_eq!(*reg.state(), RegistrationState::Registering);
    let mut other_call = answer(&req, 200, &[]);
    other_call.headers.set("Call-ID", "someone-else@x");
    assert_eq!(reg.handle_response(t0, &other_call), None);
    let mut old_cseq = answer(&req, 200, &[]);
    old_cseq.headers.set("CSeq", "0 REGISTER");
    assert_eq!(reg.handle_response(t0, &old_cseq), None);
    assert_eq!(*reg.state(), RegistrationState::Registering);
    assert!(reg.is_waiting());
    reg.handle_response(t0, &answer(&req, 200, &[]));
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
    // The same 200 again (a retransmission): nothing changes, nothing is sent.
    let before = reg.clone();
    assert_eq!(reg.handle_response(t0, &answer(&req, 200, &[])), None);
    assert_eq!(reg.poll_timeout(), before.poll_timeout());
    // A timeout report with nothing in flight is ignored too.
    reg.handle_timeout_of_txn(t0);
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
}

#[test]
fn unregister_sends_expires_zero_once_bound_and_then_stops() {
    let t0 = Instant::now();
    let mut server = Registrar::new(t0, vec![Algorithm::Md5]);
    let mut reg = registration(t0);
    exchange(&mut reg, &mut server, t0);
    let now = t0 + Duration::from_secs(10);
    let bye = reg.unregister(now).expect("un-REGISTER");
    assert_eq!(bye.expires(), Some(0));
    assert!(
        bye.headers.get("Authorization").is_some(),
        "preemptive credentials"
    );
    let (resp, outcome) = server.handle(now, bye);
    assert!(is_ok(&outcome));
    assert_eq!(reg.handle_response(now, &resp), None);
    assert_eq!(*reg.state(), RegistrationState::Unregistered);
    assert!(!reg.is_waiting());
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.handle_timeout(now + Duration::from_secs(100_000)), None);
    // Never registered: nothing to send.
    let mut fresh = registration(t0);
    assert_eq!(fresh.unregister(t0), None);
    assert_eq!(fresh.poll_timeout(), None);
}

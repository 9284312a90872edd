//! Challenge/verify round trips on a simulated clock, as a phone would answer.

use vaxel_registrar::digest::{ResponseInput, compute_response};
use vaxel_registrar::{
    Algorithm, AuthConfig, AuthOutcome, Authenticator, Credentials, FailureConfig, FailureTracker,
    Qop, parse_auth_header,
};
use vaxel_sip::{Message, Request};

const REALM: &str = "pbx.example.com";

fn register(auth_header: Option<(&str, &str)>) -> Request {
    let mut text = String::from(
        "REGISTER sip:pbx.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@pbx.example.com>;tag=1928301774\r\n\
         To: <sip:1001@pbx.example.com>\r\n\
         Call-ID: a84b4c76e66710@192.0.2.10\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:1001@192.0.2.10:5060>\r\n",
    );
    if let Some((name, value)) = auth_header {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match vaxel_sip::parse(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn users(name: &str) -> Option<Credentials> {
    (name == "1001").then(|| Credentials {
        user: "alice".into(),
        password: "s3cret".into(),
    })
}

/// A phone's answer to one challenge header value.
fn answer(challenge: &str, user: &str, password: &str, nc: u32, qop: bool) -> String {
    let h = parse_auth_header(challenge).unwrap();
    assert_eq!(h.scheme, "Digest");
    let get = |n: &str| h.get(n).unwrap().to_string();
    let (realm, nonce) = (get("realm"), get("nonce"));
    let algorithm = Algorithm::parse(&get("algorithm")).unwrap();
    let nc_s = format!("{nc:08x}");
    let uri = "sip:pbx.example.com";
    let response = compute_response(&ResponseInput {
        algorithm,
        username: user,
        realm: &realm,
        password,
        method: "REGISTER",
        uri,
        nonce: &nonce,
        qop: qop.then_some(Qop::Auth),
        nc: &nc_s,
        cnonce: "0a4f113b",
        body_hash: "",
    });
    let mut v = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={algorithm}"
    );
    if qop {
        v.push_str(&format!(", qop=auth, nc={nc_s}, cnonce=\"0a4f113b\""));
    }
    v
}

fn authenticator() -> Authenticator {
    Authenticator::new([42; 32], AuthConfig::default())
}

fn ok() -> AuthOutcome {
    AuthOutcome::Ok {
        user: "alice".into(),
    }
}

#[test]
fn challenge_offers_sha256_then_md5_with_one_nonce() {
    let mut a = authenticator();
    let h = a.challenge(1000, REALM, false, false);
    assert_eq!(h.len(), 2);
    assert!(h.iter().all(|(n, _)| *n == "WWW-Authenticate"));
    assert!(h[0].1.contains("algorithm=SHA-256"), "{}", h[0].1);
    assert!(h[1].1.contains("algorithm=MD5"), "{}", h[1].1);
    assert!(
        h[0].1
            .starts_with("Digest realm=\"pbx.example.com\", nonce=\"")
    );
    assert!(h[0].1.contains("qop=\"auth\"") && !h[0].1.contains("stale"));
    let p = a.challenge(1000, REALM, true, true);
    assert!(
        p.iter()
            .all(|(n, v)| *n == "Proxy-Authenticate" && v.ends_with("stale=true"))
    );
}

#[test]
fn no_credentials_gets_a_plain_challenge() {
    let mut a = authenticator();
    let out = a.verify(1000, &register(None), REALM, false, &users);
    assert_eq!(
        out,
        AuthOutcome::Challenge {
            stale: false,
            failed: false
        }
    );
    // RFC 4475 regaut01: an unknown scheme is treated as no credentials.
    let req = register(Some((
        "Authorization",
        "NoOneKnowsThisScheme opaque-data=here",
    )));
    assert_eq!(
        a.verify(1000, &req, REALM, false, &users),
        AuthOutcome::Challenge {
            stale: false,
            failed: false
        }
    );
}

#[test]
fn round_trip_sha256_and_md5_with_qop_auth() {
    for (i, alg) in ["SHA-256", "MD5"].iter().enumerate() {
        let mut a = authenticator();
        let ch = a.challenge(1000, REALM, false, false);
        let value = &ch[i].1;
        assert!(value.contains(alg));
        let req = register(Some((
            "Authorization",
            &answer(value, "1001", "s3cret", 1, true),
        )));
        assert_eq!(a.verify(1001, &req, REALM, false, &users), ok(), "{alg}");
        // The next request on the same nonce with a higher count is fine too.
        let req = register(Some((
            "Authorization",
            &answer(value, "1001", "s3cret", 2, true),
        )));
        assert_eq!(a.verify(1002, &req, REALM, false, &users), ok(), "{alg}");
    }
}

#[test]
fn proxy_authorization_is_read_for_proxy_challenges() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, true);
    let v = answer(&ch[0].1, "1001", "s3cret", 1, true);
    let req = register(Some(("Proxy-Authorization", &v)));
    assert_eq!(a.verify(1000, &req, REALM, true, &users), ok());
    // The same answer in Authorization does not count for a proxy challenge.
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 2, true),
    )));
    assert!(matches!(
        a.verify(1000, &req, REALM, true, &users),
        AuthOutcome::Challenge { failed: false, .. }
    ));
}

#[test]
fn legacy_answer_without_qop_is_accepted_unless_disabled() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, false);
    let req = register(Some((
        "Authorization",
        &answer(&ch[1].1, "1001", "s3cret", 0, false),
    )));
    assert_eq!(a.verify(1000, &req, REALM, false, &users), ok());
    let mut strict = Authenticator::new(
        [42; 32],
        AuthConfig {
            allow_no_qop: false,
            ..AuthConfig::default()
        },
    );
    let ch = strict.challenge(1000, REALM, false, false);
    let req = register(Some((
        "Authorization",
        &answer(&ch[1].1, "1001", "s3cret", 0, false),
    )));
    assert!(matches!(
        strict.verify(1000, &req, REALM, false, &users),
        AuthOutcome::Challenge { .. }
    ));
}

#[test]
fn expired_nonce_with_right_password_is_stale() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, false);
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 1, true),
    )));
    assert_eq!(a.verify(1299, &req, REALM, false, &users), ok());
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 2, true),
    )));
    assert_eq!(
        a.verify(1300, &req, REALM, false, &users),
        AuthOutcome::Challenge {
            stale: true,
            failed: false
        }
    );
    // Wrong password on an expired nonce is a failure, not stale.
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "nope", 3, true),
    )));
    assert_eq!(
        a.verify(1300, &req, REALM, false, &users),
        AuthOutcome::Challenge {
            stale: false,
            failed: true
        }
    );
    // A nonce sealed with another secret (before a restart) is stale too.
    let mut restarted = Authenticator::new([43; 32], AuthConfig::default());
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 4, true),
    )));
    assert_eq!(
        restarted.verify(1001, &req, REALM, false, &users),
        AuthOutcome::Challenge {
            stale: true,
            failed: false
        }
    );
}

#[test]
fn replayed_nonce_count_is_refused() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, false);
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 5, true),
    )));
    assert_eq!(a.verify(1000, &req, REALM, false, &users), ok());
    assert_eq!(
        a.verify(1001, &req, REALM, false, &users),
        AuthOutcome::Forbidden
    );
    let lower = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 4, true),
    )));
    assert_eq!(
        a.verify(1001, &lower, REALM, false, &users),
        AuthOutcome::Forbidden
    );
    // A forger with the wrong password cannot burn counts: 6 still works afterwards.
    let forged = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "x", 6, true),
    )));
    assert!(matches!(
        a.verify(1001, &forged, REALM, false, &users),
        AuthOutcome::Challenge { failed: true, .. }
    ));
    let next = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 6, true),
    )));
    assert_eq!(a.verify(1001, &next, REALM, false, &users), ok());
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, false);
    let wrong_pw = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "guess", 1, true),
    )));
    let no_user = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1009", "guess", 1, true),
    )));
    let o1 = a.verify(1000, &wrong_pw, REALM, false, &users);
    let o2 = a.verify(1000, &no_user, REALM, false, &users);
    assert_eq!(o1, o2);
    assert_eq!(
        o1,
        AuthOutcome::Challenge {
            stale: false,
            failed: true
        }
    );
    // The challenges that follow have the same shape: only the nonce differs.
    let shape = |h: Vec<(&'static str, String)>| -> Vec<(&'static str, String)> {
        h.into_iter()
            .map(|(n, v)| {
                let names: Vec<String> = parse_auth_header(&v)
                    .unwrap()
                    .params
                    .into_iter()
                    .map(|(k, val)| {
                        if k == "nonce" {
                            k
                        } else {
                            format!("{k}={val}")
                        }
                    })
                    .collect();
                (n, names.join(","))
            })
            .collect()
    };
    let h1 = shape(a.challenge(1000, REALM, false, false));
    let h2 = shape(a.challenge(1000, REALM, false, false));
    assert_eq!(h1, h2);
}

#[test]
fn realm_mismatch_and_unoffered_algorithm_are_not_answers() {
    let mut a = authenticator();
    let ch = a.challenge(1000, REALM, false, false);
    let v = answer(&ch[0].1, "1001", "s3cret", 1, true).replace(REALM, "other.example.com");
    let req = register(Some(("Authorization", &v)));
    assert_eq!(
        a.verify(1000, &req, REALM, false, &users),
        AuthOutcome::Challenge {
            stale: false,
            failed: false
        }
    );
    let mut sha_only = Authenticator::new(
        [42; 32],
        AuthConfig {
            algorithms: vec![Algorithm::Sha256],
            ..AuthConfig::default()
        },
    );
    let ch = sha_only.challenge(1000, REALM, false, false);
    assert_eq!(ch.len(), 1);
    let md5 = ch[0].1.replace("SHA-256", "MD5");
    let req = register(Some((
        "Authorization",
        &answer(&md5, "1001", "s3cret", 1, true),
    )));
    assert!(matches!(
        sha_only.verify(1000, &req, REALM, false, &users),
        AuthOutcome::Challenge { failed: false, .. }
    ));
}

#[test]
fn password_flood_blocks_the_source_once_then_lets_it_go() {
    let mut a = authenticator();
    let mut tracker = FailureTracker::new(FailureConfig::default());
    let ip: std::net::IpAddr = "198.51.100.7".parse().unwrap();
    let mut blocks = Vec::new();
    let mut dropped = 0;
    for i in 0..40u64 {
        let now = 5000 + i;
        if tracker.is_blocked(ip, now) {
            dropped += 1;
            continue;
        }
        let ch = a.challenge(now, REALM, false, false);
        let req = register(Some((
            "Authorization",
            &answer(&ch[0].1, "1001", "guess", 1, true),
        )));
        if let AuthOutcome::Challenge { failed: true, .. } =
            a.verify(now, &req, REALM, false, &users)
        {
            blocks.extend(tracker.record_failure(ip, now));
        }
    }
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].until, 5009 + 600);
    assert_eq!(dropped, 30);
    assert!(tracker.is_blocked(ip, 5608));
    assert!(!tracker.is_blocked(ip, 5609));
    // After the block the right password gets through.
    let ch = a.challenge(5609, REALM, false, false);
    let req = register(Some((
        "Authorization",
        &answer(&ch[0].1, "1001", "s3cret", 1, true),
    )));
    assert_eq!(a.verify(5609, &req, REALM, false, &users), ok());
}

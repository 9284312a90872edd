//! The digest side of our client: the conformance vectors answered by it, malformed
//! challenges refused without panics, the strongest challenge chosen per realm, and nonce
//! counts. The `Registration` state machine that uses it is tested in `client.rs`.

use vaxel_registrar::client::{
    ChallengeError, DigestAnswer, DigestChallenge, NonceCounts, authorize, challenges,
};
use vaxel_registrar::{Algorithm, DigestCredentials};
use vaxel_sip::{Method, Request, Response, Uri};

// ---------------------------------------------------------------- conformance vectors

#[test]
fn our_answers_match_every_digest_vector_we_can_answer() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/conformance/digest/digest_vectors.tsv"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let (mut answered, mut auth_int) = (0, 0);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 13, "row `{line}`");
        let (algorithm, qop) = (f[1], f[8]);
        if qop == "auth-int" {
            // The client never answers auth-int (the vector has no body, only its hash).
            auth_int += 1;
            continue;
        }
        let mut challenge = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={algorithm}",
            f[3], f[7]
        );
        if !qop.is_empty() {
            challenge.push_str(&format!(", qop=\"{qop}\""));
        }
        let c = DigestChallenge::parse(&challenge, false).expect("vector challenge");
        let nc = if f[9].is_empty() {
            1
        } else {
            u32::from_str_radix(f[9], 16).expect("nc")
        };
        let value = c.answer(&DigestAnswer {
            username: f[2],
            password: f[4],
            method: f[5],
            uri: f[6],
            cnonce: f[10],
            nc,
        });
        let back = DigestCredentials::parse(&value).expect("our answer parses");
        assert_eq!(back.response, f[12], "vector `{}`: {value}", f[0]);
        assert_eq!((back.username.as_str(), back.uri.as_str()), (f[2], f[6]));
        answered += 1;
    }
    assert_eq!((answered, auth_int), (7, 2));
}

// ---------------------------------------------------------------- challenge parsing

#[test]
fn malformed_challenges_are_errors_not_panics() {
    type Expect = fn(&ChallengeError) -> bool;
    let cases: &[(&str, Expect)] = &[
        ("", |e| matches!(e, ChallengeError::Syntax(_))),
        ("Digest", |e| *e == ChallengeError::Missing("realm")),
        ("Digest realm=\"r\"", |e| {
            *e == ChallengeError::Missing("nonce")
        }),
        ("Basic realm=\"r\"", |e| {
            matches!(e, ChallengeError::UnknownScheme(_))
        }),
        ("Digest realm=\"r, nonce=\"n\"", |e| {
            matches!(e, ChallengeError::Syntax(_))
        }),
        ("Digest realm=\"r\", realm=\"s\", nonce=\"n\"", |e| {
            matches!(e, ChallengeError::Syntax(_))
        }),
        ("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1", |e| {
            matches!(e, ChallengeError::UnknownAlgorithm(_))
        }),
        (
            "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5",
            |e| matches!(e, ChallengeError::UnknownAlgorithm(_)),
        ),
        ("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", |e| {
            matches!(e, ChallengeError::UnsupportedQop(_))
        }),
        ("Digest realm=\"r\", nonce", |e| {
            matches!(e, ChallengeError::Syntax(_))
        }),
        ("Digest realm=\"r\", nonce=", |e| {
            matches!(e, ChallengeError::Syntax(_))
        }),
        ("Digest realm=\"r\" junk, nonce=\"n\"", |e| {
            matches!(e, ChallengeError::Syntax(_))
        }),
        ("Digest =\"r\"", |e| matches!(e, ChallengeError::Syntax(_))),
    ];
    for (value, expected) in cases {
        let e = DigestChallenge::parse(value, false).expect_err(value);
        assert!(expected(&e), "`{value}` gave {e:?}");
    }
    // Every prefix and a byte flipped anywhere: never a panic.
    let good = r#"Digest realm="ex\"am", nonce="abc", opaque="o", algorithm=SHA-256, qop="auth,auth-int", stale=true"#;
    for i in 0..=good.len() {
        if let Some(prefix) = good.get(..i) {
            let _ = DigestChallenge::parse(prefix, false);
        }
        for b in [b'"', b',', b'=', b'\\', b' ', 0xff] {
            let mut bytes = good.as_bytes().to_vec();
            if let Some(slot) = bytes.get_mut(i) {
                *slot = b;
            }
            let _ = DigestChallenge::parse(&String::from_utf8_lossy(&bytes), true);
        }
    }
}

#[test]
fn the_strongest_challenge_per_realm_is_chosen() {
    let resp = response_with(
        401,
        &[
            (
                "WWW-Authenticate",
                r#"Digest realm="a", nonce="1", algorithm=MD5, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="a", nonce="2", algorithm=SHA-512-256, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="a", nonce="3", algorithm=SHA-256, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="a", nonce="4", algorithm=SHA-1"#,
            ),
            ("WWW-Authenticate", r#"Digest realm="b", nonce="5""#),
            (
                "Proxy-Authenticate",
                r#"Digest realm="a", nonce="6", algorithm=SHA-256"#,
            ),
        ],
    );
    let found = challenges(&resp).unwrap();
    let picked: Vec<(bool, &str, Algorithm, &str)> = found
        .iter()
        .map(|c| (c.proxy, c.realm.as_str(), c.algorithm, c.nonce.as_str()))
        .collect();
    assert_eq!(
        picked,
        [
            (false, "a", Algorithm::Sha512_256, "2"),
            (false, "b", Algorithm::Md5, "5"),
            (true, "a", Algorithm::Sha256, "6"),
        ]
    );
    // Nothing usable: the first problem is reported.
    let resp = response_with(
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="a", nonce="1", algorithm=SHA-1"#,
        )],
    );
    assert!(matches!(
        challenges(&resp),
        Err(ChallengeError::UnknownAlgorithm(_))
    ));
    assert_eq!(
        challenges(&response_with(401, &[])),
        Err(ChallengeError::NoChallenge)
    );
}

#[test]
fn repeated_requests_on_one_nonce_count_up_and_old_answers_are_replaced() {
    let c = DigestChallenge::parse(r#"Digest realm="r", nonce="n", qop="auth""#, true).unwrap();
    let mut counts = NonceCounts::default();
    let mut req = Request::new(
        Method::Invite,
        Uri::parse("sip:4687654321@operator.example").unwrap(),
    );
    req.headers.push("Proxy-Authorization", "Digest old");
    for expected in ["00000001", "00000002", "00000003"] {
        authorize(
            &mut req,
            std::slice::from_ref(&c),
            "u",
            "p",
            "cn",
            &mut counts,
        );
        let lines: Vec<&str> = req.headers.get_all("Proxy-Authorization").collect();
        assert_eq!(lines.len(), 1);
        let creds = DigestCredentials::parse(lines[0]).unwrap();
        assert_eq!(creds.nc, expected);
        assert_eq!(creds.uri, "sip:4687654321@operator.example");
    }
    assert_eq!(req.headers.count("Authorization"), 0);
}

// ---------------------------------------------------------------- the simulated registrar

fn response_with(status: u16, headers: &[(&str, &str)]) -> Response {
    let mut r = Response::for_request(&register_template(), status);
    for (n, v) in headers {
        r.headers.push(n, *v);
    }
    r
}

fn register_template() -> Request {
    let mut r = Request::new(
        Method::Register,
        Uri::parse("sip:operator.example").unwrap(),
    );
    r.headers.push("Call-ID", "x@y");
    r.headers.push("CSeq", "1 REGISTER");
    r
}

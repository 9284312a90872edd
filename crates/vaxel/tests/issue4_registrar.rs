//! Phones against the running switchboard: REGISTER with digest authentication (401), the
//! same answer for an unknown user as for a wrong password, blocking after repeated failures
//! (logged once), registrations kept across a restart, and phones' INVITEs authenticated
//! with 407 before they walk the plan.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use vaxel_registrar::digest::{ResponseInput, compute_response};
use vaxel_registrar::{Algorithm, Qop};

#[path = "support/env.rs"]
mod env;
#[path = "support/vaxel.rs"]
mod vaxel;
use env::{TestDir, free_sip_port};
use vaxel::Vaxel;

/// The sections after `[server]`: one trunk, Anna, and a busy DID.
const SECTIONS: &str = r#"
[[trunk]]
id = "operator"
allow = ["127.0.0.1/32"]

[[user]]
id = "anna"
name = "Anna"
extension = "1001"
password = "secret-1001"

[[did]]
number = "4610000001"
route = "busy"
"#;

fn start(dir: &Path, sip: u16, http: u16) -> Vaxel {
    Vaxel::start_on(dir, sip, http, "", SECTIONS)
}

fn fastrand_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A phone: one UDP socket, requests built by hand.
struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    cseq: u32,
}

impl Phone {
    fn new(ip: &str, server: SocketAddr) -> Phone {
        let sock = UdpSocket::bind((ip, 0)).expect("bind phone");
        sock.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        Phone {
            sock,
            server,
            cseq: 0,
        }
    }

    fn send(&mut self, method: &str, ruri: &str, to: &str, extra: &str) -> Option<String> {
        self.cseq += 1;
        let me = self.sock.local_addr().expect("addr");
        let msg = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKp{}x{};rport\r\nFrom: <sip:1001@127.0.0.1>;tag=ph1\r\nTo: <{to}>\r\nCall-ID: phone-{}@{me}\r\nCSeq: {} {method}\r\nContact: <sip:1001@{me}>\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n",
            self.cseq,
            fastrand_ish(),
            me.port(),
            self.cseq
        );
        self.sock
            .send_to(msg.as_bytes(), self.server)
            .expect("send");
        let mut buf = [0u8; 8192];
        self.sock
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn register(&mut self, extra: &str) -> Option<String> {
        let server = self.server;
        self.send(
            "REGISTER",
            &format!("sip:{server}"),
            "sip:1001@127.0.0.1",
            extra,
        )
    }
}

fn status(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header_values<'a>(resp: &'a str, name: &str) -> Vec<&'a str> {
    resp.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let start = challenge.find(&key).map(|i| i + key.len()).unwrap_or(0);
    let end = challenge[start..]
        .find('"')
        .map(|e| start + e)
        .unwrap_or(start);
    &challenge[start..end]
}

/// The Authorization (or Proxy-Authorization) header answering the SHA-256 challenge.
fn answer(
    challenge_resp: &str,
    header: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: &str,
) -> String {
    let challenges = header_values(challenge_resp, header);
    let sha = challenges
        .iter()
        .find(|c| c.contains("SHA-256"))
        .expect("a SHA-256 challenge is offered");
    let (realm, nonce) = (param(sha, "realm"), param(sha, "nonce"));
    let response = compute_response(&ResponseInput {
        algorithm: Algorithm::Sha256,
        username: "1001",
        realm,
        password,
        method,
        uri,
        nonce,
        nc,
        cnonce: "c0ffee",
        qop: Some(Qop::Auth),
        body_hash: "",
    });
    format!(
        "Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=SHA-256, qop=auth, nc={nc}, cnonce=\"c0ffee\""
    )
}

/// Registers `phone` (user 1001) for 600 s: the 401 challenge, then the 200 it earns.
fn register_ok(phone: &mut Phone) -> (String, String) {
    let uri = format!("sip:{}", phone.server);
    let challenge = phone.register("Expires: 600\r\n").expect("an answer");
    assert_eq!(status(&challenge), 401, "{challenge}");
    let auth = answer(
        &challenge,
        "WWW-Authenticate",
        "secret-1001",
        "REGISTER",
        &uri,
        "00000001",
    );
    let ok = phone
        .register(&format!("Expires: 600\r\nAuthorization: {auth}\r\n"))
        .expect("an answer");
    assert_eq!(status(&ok), 200, "{ok}");
    (challenge, ok)
}

#[test]
fn register_is_challenged_then_bound_and_the_binding_survives_a_restart() {
    let dir = TestDir::new("reg");
    let dir = dir.path();
    let (sip, http) = (free_sip_port(), free_sip_port());
    let server = start(dir, sip, http);
    let mut phone = Phone::new("127.0.0.1", server.sip);
    let (first, ok) = register_ok(&mut phone);
    let challenges = header_values(&first, "WWW-Authenticate");
    assert!(
        challenges.iter().any(|c| c.contains("SHA-256"))
            && challenges.iter().any(|c| c.contains("MD5")),
        "{first}"
    );
    let uri = format!("sip:{}", server.sip);
    let contact = header_values(&ok, "Contact");
    assert_eq!(contact.len(), 1, "{ok}");
    assert!(
        contact[0].contains(&format!("{}", phone.sock.local_addr().expect("addr")))
            && contact[0].contains("expires="),
        "{ok}"
    );
    // The same answer (same nonce count) again is a replay.
    let auth = answer(
        &first,
        "WWW-Authenticate",
        "secret-1001",
        "REGISTER",
        &uri,
        "00000001",
    );
    let replay = phone
        .register(&format!("Expires: 600\r\nAuthorization: {auth}\r\n"))
        .expect("an answer");
    assert_eq!(status(&replay), 403, "{replay}");
    server.stop();

    // After a restart the binding is still there: a query (no Contact) lists it.
    let server = start(dir, sip, http);
    let mut phone2 = Phone::new("127.0.0.1", server.sip);
    let challenge = phone2
        .send("REGISTER", &uri, "sip:1001@127.0.0.1", "")
        .expect("an answer");
    assert_eq!(status(&challenge), 401);
    let auth = answer(
        &challenge,
        "WWW-Authenticate",
        "secret-1001",
        "REGISTER",
        &uri,
        "00000001",
    );
    // A query: the REGISTER without Contact (Phone::send always adds one, so build it here).
    let me = phone2.sock.local_addr().expect("addr");
    let query = format!(
        "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKq{};rport\r\nFrom: <sip:1001@127.0.0.1>;tag=q\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: query@{me}\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n",
        fastrand_ish()
    );
    phone2
        .sock
        .send_to(query.as_bytes(), server.sip)
        .expect("send");
    let mut buf = [0u8; 8192];
    let (n, _) = phone2
        .sock
        .recv_from(&mut buf)
        .expect("answer to the query");
    let listed = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(status(&listed), 200, "{listed}");
    let port = phone.sock.local_addr().expect("addr").port();
    assert!(
        header_values(&listed, "Contact")
            .iter()
            .any(|c| c.contains(&port.to_string())),
        "binding lost:\n{listed}"
    );
    let log = server.stop();
    assert!(log.contains("registrations restored"), "{log}");
}

#[test]
fn unknown_users_and_wrong_passwords_look_the_same_and_a_flood_is_blocked_once() {
    let dir = TestDir::new("flood");
    let dir = dir.path();
    let server = start(dir, free_sip_port(), free_sip_port());
    let mut phone = Phone::new("127.0.0.3", server.sip);
    let uri = format!("sip:{}", server.sip);
    let mut shapes = Vec::new();
    let mut blocked_at = None;
    for i in 0..14 {
        let challenge = phone.register("").expect("a challenge");
        if status(&challenge) == 403 {
            blocked_at = Some(i);
            break;
        }
        assert_eq!(status(&challenge), 401, "{challenge}");
        // Alternate an unknown password with an unknown user: the answer must not differ.
        let wrong = answer(
            &challenge,
            "WWW-Authenticate",
            "not-the-password",
            "REGISTER",
            &uri,
            "00000001",
        );
        let wrong = if i % 2 == 0 {
            wrong
        } else {
            wrong.replace("username=\"1001\"", "username=\"9999\"")
        };
        let resp = phone
            .register(&format!("Authorization: {wrong}\r\n"))
            .expect("an answer");
        if status(&resp) == 403 {
            blocked_at = Some(i);
            break;
        }
        assert_eq!(status(&resp), 401, "{resp}");
        let shape: Vec<String> = header_values(&resp, "WWW-Authenticate")
            .iter()
            .map(|c| c.replace(param(c, "nonce"), "N"))
            .collect();
        shapes.push(shape);
    }
    assert!(
        shapes.windows(2).all(|w| w[0] == w[1]),
        "unknown user and wrong password must be answered alike: {shapes:?}"
    );
    assert!(blocked_at.is_some(), "ten failures must block the source");
    // Still blocked, and another source is not.
    assert_eq!(phone.register("").map(|r| status(&r)), Some(403));
    let mut other = Phone::new("127.0.0.4", server.sip);
    assert_eq!(other.register("").map(|r| status(&r)), Some(401));
    let log = server.stop();
    assert_eq!(
        log.matches("source blocked").count(),
        1,
        "logged once, not per packet:\n{log}"
    );
}

#[test]
fn a_phone_invite_is_challenged_with_407_then_walks_the_plan() {
    let dir = TestDir::new("inv");
    let dir = dir.path();
    let server = start(dir, free_sip_port(), free_sip_port());
    let mut phone = Phone::new("127.0.0.5", server.sip);
    let ruri = format!("sip:4610000001@{}", server.sip);
    let challenge = phone.send("INVITE", &ruri, &ruri, "").expect("an answer");
    assert_eq!(status(&challenge), 407, "{challenge}");
    let auth = answer(
        &challenge,
        "Proxy-Authenticate",
        "secret-1001",
        "INVITE",
        &ruri,
        "00000001",
    );
    let busy = phone
        .send(
            "INVITE",
            &ruri,
            &ruri,
            &format!("Proxy-Authorization: {auth}\r\n"),
        )
        .expect("an answer");
    assert_eq!(
        status(&busy),
        486,
        "an authenticated phone reaches the plan:\n{busy}"
    );
    server.stop();
}

fn metric(http: SocketAddr, name: &str) -> Option<i64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(http).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines().find_map(|l| {
        l.strip_prefix(&format!("{name} "))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[test]
fn registered_phones_are_qualified_with_options_and_a_silent_one_is_marked_unavailable() {
    let dir = TestDir::new("qualify");
    let dir = dir.path();
    let http = free_sip_port();
    let server = start(dir, free_sip_port(), http);
    let http = SocketAddr::from(([127, 0, 0, 1], http));
    // A phone that answers OPTIONS 200, from a thread.
    let mut alive = Phone::new("127.0.0.6", server.sip);
    register_ok(&mut alive);
    let responder = alive.sock.try_clone().expect("clone");
    responder
        .set_read_timeout(Some(Duration::from_secs(90)))
        .expect("timeout");
    let answered = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let (n, from) = responder.recv_from(&mut buf).ok()?;
        let req = String::from_utf8_lossy(&buf[..n]).into_owned();
        let mut resp = String::from("SIP/2.0 200 OK\r\n");
        for l in req.lines().filter(|l| {
            let n = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ["via", "from", "to", "call-id", "cseq"].contains(&n.as_str())
        }) {
            resp.push_str(l);
            resp.push_str("\r\n");
        }
        resp.push_str("Content-Length: 0\r\n\r\n");
        responder.send_to(resp.as_bytes(), from).ok()?;
        Some(req)
    });
    // A phone that registers and then says nothing.
    let mut silent = Phone::new("127.0.0.7", server.sip);
    register_ok(&mut silent);
    let deadline = Instant::now() + Duration::from_secs(100);
    loop {
        if metric(http, "vaxel_registrations_unreachable") == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the silent phone was never marked unavailable:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(metric(http, "vaxel_registrations"), Some(2));
    let options = answered
        .join()
        .expect("thread")
        .expect("the live phone got an OPTIONS");
    assert!(
        options.starts_with("OPTIONS sip:1001@127.0.0.6:"),
        "{options}"
    );
    let log = server.stop();
    assert_eq!(log.matches("marked unavailable").count(), 1, "{log}");
    assert!(log.contains("127.0.0.7"), "{log}");
}

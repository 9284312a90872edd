//! Calls between people through the B2BUA, driven only from outside: SIPp phones register with
//! digest (401), call with digest (407), and SIPp callees ring, answer, refuse or hang up.
//! Each scenario in tests/sipp/issue4/ states what it expects on the wire; a run passes when
//! every SIPp involved exits 0.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/env.rs"]
mod env;
#[path = "support/vaxel.rs"]
mod vaxel;
use env::{TestDir, free_sip_port, free_tcp_port, repo_root};
use vaxel::Vaxel;

/// SIPp answers only the first challenge, and only MD5.
const SIPP_DIGEST: &str = "digest = [\"MD5\"]";

const CONFIG: &str = r#"
[[trunk]]
id = "operator"
allow = ["127.0.0.9/32"]
uri = "sip:127.0.0.1:{operator}"
username = "vaxel-trunk"
password = "trunk-secret"
caller_id = "4610100100"

[[user]]
id = "anna"
name = "Anna"
extension = "1001"
password = "secret-1001"

[[user]]
id = "bertil"
name = "Bertil"
extension = "1002"
password = "secret-1002"

[[user]]
id = "cecilia"
name = "Cecilia"
extension = "1003"
password = "secret-1003"

[[user]]
id = "david"
name = "David"
extension = "1004"
password = "secret-1004"
forward = { no_answer = "busy", after = "1s" }

[[user]]
id = "erik"
name = "Erik"
extension = "1005"
password = "secret-1005"

[[did]]
number = "4610100100"
route = "user:bertil"
"#;

fn scenario(name: &str) -> PathBuf {
    repo_root()
        .join("tests/sipp/issue4")
        .join(format!("{name}.xml"))
}

/// A SIP endpoint of the test on its own loopback address and port.
#[derive(Clone, Copy)]
struct Endpoint {
    ip: &'static str,
    port: u16,
}

impl Endpoint {
    fn new(ip: &'static str) -> Endpoint {
        let port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .expect("free port")
            .port();
        Endpoint { ip, port }
    }
}

/// An even port on `ip` with the next two free too (SIPp's audio, RTCP and video ports).
fn free_media_ports(ip: &str) -> u16 {
    for _ in 0..200 {
        let a = UdpSocket::bind((ip, 0)).expect("bind udp");
        let port = a.local_addr().expect("addr").port();
        if port < 65000
            && port % 2 == 0
            && UdpSocket::bind((ip, port + 1)).is_ok()
            && UdpSocket::bind((ip, port + 2)).is_ok()
        {
            return port;
        }
    }
    panic!("no free media ports on {ip}");
}

/// One SIPp run; `remote` is None for a callee (it waits for vaxel).
fn sipp(dir: &Path, name: &str, at: Endpoint, remote: Option<SocketAddr>, extra: &[&str]) -> Child {
    let tag = format!("{name}-{}-{}", at.ip, at.port);
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir);
    if let Some(r) = remote {
        cmd.arg(r.to_string());
    }
    cmd.arg("-sf")
        .arg(scenario(name))
        .args(["-m", "1", "-i", at.ip, "-p", &at.port.to_string()])
        .args(["-mi", at.ip, "-mp", &free_media_ports(at.ip).to_string()])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-max_retrans",
            "5",
            "-aa",
        ])
        .arg("-trace_err")
        .arg("-error_file")
        .arg(dir.join(format!("{tag}-errors.log")))
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(dir.join(format!("{tag}-messages.log")))
        .arg("-nostdin")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run sipp ({e}); install it (Debian: apt-get install sip-tester)")
    })
}

/// Waits for a SIPp run and asserts it passed, showing its messages if not.
fn passed(dir: &Path, name: &str, at: Endpoint, child: Child, vaxel: &Vaxel) {
    let out: Output = child.wait_with_output().expect("sipp ran");
    if !out.status.success() {
        let tag = format!("{name}-{}-{}", at.ip, at.port);
        let msgs =
            std::fs::read_to_string(dir.join(format!("{tag}-messages.log"))).unwrap_or_default();
        let errs =
            std::fs::read_to_string(dir.join(format!("{tag}-errors.log"))).unwrap_or_default();
        panic!(
            "sipp {name} at {}:{} failed ({}):\n{}\n--- errors\n{errs}\n--- messages\n{msgs}\n--- vaxel\n{}",
            at.ip,
            at.port,
            out.status,
            String::from_utf8_lossy(&out.stderr),
            vaxel.log_text()
        );
    }
}

/// Registers `at` as a phone of `user` (SIPp answers the 401 with the digest).
fn register(dir: &Path, v: &Vaxel, at: Endpoint, extension: &str, user: &str, password: &str) {
    let child = sipp(
        dir,
        "register",
        at,
        Some(v.sip),
        &["-s", extension, "-au", user, "-ap", password],
    );
    passed(dir, "register", at, child, v);
}

/// Anna's phone (127.0.0.2) calls `number` with `scenario`.
fn anna_calls(dir: &Path, v: &Vaxel, name: &str, number: &str) -> (Endpoint, Child) {
    let at = Endpoint::new("127.0.0.2");
    let child = sipp(
        dir,
        name,
        at,
        Some(v.sip),
        &["-s", number, "-au", "anna", "-ap", "secret-1001"],
    );
    (at, child)
}

/// A callee phone of `user` registered at `ip`, running `name` and waiting to be rung.
fn callee(
    dir: &Path,
    v: &Vaxel,
    ip: &'static str,
    name: &str,
    (ext, user, pw): (&str, &str, &str),
) -> (Endpoint, Child) {
    let at = Endpoint::new(ip);
    register(dir, v, at, ext, user, pw);
    let child = sipp(dir, name, at, None, &[]);
    // Let SIPp bind before vaxel sends the INVITE.
    std::thread::sleep(Duration::from_millis(300));
    (at, child)
}

const BERTIL: (&str, &str, &str) = ("1002", "bertil", "secret-1002");
const CECILIA: (&str, &str, &str) = ("1003", "cecilia", "secret-1003");
const DAVID: (&str, &str, &str) = ("1004", "david", "secret-1004");

/// One phone calls another: caller scenario, callee scenario, the call record expected.
fn phone_to_phone(test: &str, caller: &str, callee_name: &str, expect_cdr: &str) -> String {
    phone_to_phone_with(test, SIPP_DIGEST, caller, callee_name, expect_cdr)
}

/// [`phone_to_phone`] with more `[server]` settings.
fn phone_to_phone_with(
    test: &str,
    server: &str,
    caller: &str,
    callee_name: &str,
    expect_cdr: &str,
) -> String {
    let dir = TestDir::new(test);
    let v = Vaxel::start(
        dir.path(),
        server,
        &CONFIG.replace("{operator}", &9.to_string()),
    );
    let (b_at, b) = callee(dir.path(), &v, "127.0.0.3", callee_name, BERTIL);
    let (a_at, a) = anna_calls(dir.path(), &v, caller, "1002");
    passed(dir.path(), caller, a_at, a, &v);
    passed(dir.path(), callee_name, b_at, b, &v);
    std::thread::sleep(Duration::from_millis(300));
    let cdrs = v.cdrs();
    let log = v.stop();
    assert!(
        cdrs.iter().any(|c| c.starts_with(expect_cdr)),
        "expected a call record {expect_cdr}..., got {cdrs:?}\n{log}"
    );
    log
}

#[test]
fn a_phone_calls_another_which_answers_then_the_caller_hangs_up() {
    phone_to_phone(
        "answered",
        "phone_call",
        "callee_answer",
        "answered|200|caller-bye|user:bertil",
    );
}

#[test]
fn the_callee_hangs_up_and_the_caller_gets_a_bye() {
    phone_to_phone(
        "callee-bye",
        "phone_call_callee_bye",
        "callee_hangs_up",
        "answered|200|callee-bye",
    );
}

/// A phone calls without SDP (late offer): vaxel offers in its 200, the phone answers in the
/// ACK, and the call is bridged to the callee (who got vaxel's own offer) until the caller's
/// BYE.
#[test]
fn a_late_offer_from_the_caller_is_bridged_after_its_ack() {
    let log = phone_to_phone(
        "late-offer",
        "phone_call_late_offer",
        "callee_answer",
        "answered|200|caller-bye|user:bertil",
    );
    let answered = log
        .find("late offer answered in the ACK")
        .unwrap_or_else(|| panic!("the ACK's answer was not taken:\n{log}"));
    assert!(log[answered..].contains("codec=Pcma"), "{log}");
}

/// Neither SIPp phone sends RTP: with `rtp_timeout = "2s"` the relay reports the silence
/// and vaxel hangs up both (each scenario waits for vaxel's BYE and answers it).
#[test]
fn a_bridged_call_without_rtp_is_hung_up_after_rtp_timeout() {
    let started = Instant::now();
    phone_to_phone_with(
        "rtp-timeout",
        &format!("{SIPP_DIGEST}\nrtp_timeout = \"2s\""),
        "phone_call_callee_bye",
        "callee_answer",
        "answered|200|rtp-timeout",
    );
    // Registration, the call, 2-3 s of silence and the BYEs: well under SIPp's own limits.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_busy_callee_gives_the_caller_486() {
    phone_to_phone(
        "busy",
        "phone_call_busy",
        "callee_busy",
        "rejected|486|plan|user:bertil",
    );
}

#[test]
fn the_callers_cancel_reaches_the_ringing_phone() {
    phone_to_phone(
        "cancel",
        "phone_cancel",
        "callee_rings",
        "cancelled|487|cancel",
    );
}

#[test]
fn a_200_crossing_our_cancel_is_acked_and_byed() {
    phone_to_phone(
        "crossing",
        "phone_cancel",
        "callee_cancel_crossing",
        "cancelled|487|cancel",
    );
}

#[test]
fn bye_before_ack_ends_both_legs() {
    phone_to_phone(
        "bye-before-ack",
        "phone_bye_before_ack",
        "callee_answer",
        "answered|200|caller-bye",
    );
}

#[test]
fn a_reinvite_for_hold_is_answered_for_its_leg() {
    phone_to_phone(
        "hold",
        "phone_hold",
        "callee_answer",
        "answered|200|caller-bye",
    );
}

/// A phone driven by hand on a UDP socket, for races SIPp cannot script: it reads what
/// vaxel sends and answers exactly when the test says.
struct RawPhone {
    sock: UdpSocket,
}

impl RawPhone {
    /// Registers `at` with SIPp, then takes over its address.
    fn register(dir: &Path, v: &Vaxel, ip: &'static str, who: (&str, &str, &str)) -> RawPhone {
        let at = Endpoint::new(ip);
        register(dir, v, at, who.0, who.1, who.2);
        let sock = UdpSocket::bind((at.ip, at.port)).expect("bind the registered address");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        RawPhone { sock }
    }

    /// The next request vaxel sends (OPTIONS qualifies are answered and skipped).
    fn next_request(&self, within: Duration) -> Option<(String, SocketAddr)> {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 8192];
        while Instant::now() < deadline {
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("SIP/2.0") {
                continue;
            }
            if text.starts_with("OPTIONS") {
                self.reply(&text, from, "200 OK", "");
                continue;
            }
            return Some((text, from));
        }
        None
    }

    /// Sends a response to `req` (Via, From, To with our tag, Call-ID, CSeq copied).
    fn reply(&self, req: &str, to: SocketAddr, status: &str, extra: &str) {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for line in req.lines() {
            let name = line.split(':').next().unwrap_or("").trim();
            if ["Via", "From", "Call-ID", "CSeq"].contains(&name) {
                out.push_str(line.trim_end());
                out.push_str("\r\n");
            } else if name == "To" {
                out.push_str(line.trim_end());
                if !line.contains("tag=") {
                    out.push_str(";tag=raw1");
                }
                out.push_str("\r\n");
            }
        }
        out.push_str(extra);
        let me = self.sock.local_addr().expect("addr");
        if status.starts_with("200") && req.starts_with("INVITE") {
            let sdp = format!(
                "v=0\r\no=raw 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
                ip = me.ip(),
                port = me.port() + 2
            );
            out.push_str(&format!(
                "Contact: <sip:raw@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            ));
        } else {
            out.push_str("Content-Length: 0\r\n\r\n");
        }
        self.sock.send_to(out.as_bytes(), to).expect("send");
    }
}

#[test]
fn forking_rings_every_phone_and_a_second_200_is_acked_and_byed() {
    let dir = TestDir::new("forking");
    let v = Vaxel::start(
        dir.path(),
        SIPP_DIGEST,
        &CONFIG.replace("{operator}", &9.to_string()),
    );
    let p1 = RawPhone::register(dir.path(), &v, "127.0.0.4", CECILIA);
    let p2 = RawPhone::register(dir.path(), &v, "127.0.0.5", CECILIA);
    let (a_at, a) = anna_calls(dir.path(), &v, "phone_call", "1003");
    let wait = Duration::from_secs(10);
    let (i1, from1) = p1.next_request(wait).expect("INVITE to phone 1");
    let (i2, from2) = p2.next_request(wait).expect("INVITE to phone 2");
    assert!(
        i1.starts_with("INVITE") && i2.starts_with("INVITE"),
        "{i1}\n{i2}"
    );
    // Both phones answer at once, before either can hear a CANCEL: two 200s.
    p1.reply(&i1, from1, "200 OK", "");
    p2.reply(&i2, from2, "200 OK", "");
    // Each 200 is ACKed; exactly one phone is also sent BYE at once (the second 200); a
    // CANCEL crossing its 200 may come first and gets its 200.
    let mut byed = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let mut acked = false;
        let deadline = Instant::now() + Duration::from_millis(600);
        while Instant::now() < deadline {
            let Some((req, from)) = p.next_request(Duration::from_millis(100)) else {
                continue;
            };
            if req.starts_with("ACK") {
                acked = true;
            } else if req.starts_with("CANCEL") {
                p.reply(&req, from, "200 OK", "");
            } else if req.starts_with("BYE") {
                assert!(acked, "phone {n}: BYE before the ACK");
                p.reply(&req, from, "200 OK", "");
                // Retransmissions (we read one phone, then the other) count once.
                if !byed.contains(&n) {
                    byed.push(n);
                }
            }
        }
        assert!(acked, "phone {n}'s 200 was not ACKed:\n{}", v.log_text());
    }
    assert_eq!(
        byed.len(),
        1,
        "one phone (the second 200) gets BYE at once: {byed:?}"
    );
    // The caller talks to the other one and hangs up: that phone gets the BYE then.
    passed(dir.path(), "phone_call", a_at, a, &v);
    let winner = if byed[0] == 1 { &p2 } else { &p1 };
    let (bye, from) = winner
        .next_request(wait)
        .expect("BYE to the phone that won");
    assert!(bye.starts_with("BYE"), "{bye}");
    winner.reply(&bye, from, "200 OK", "");
    let log = v.stop();
    assert!(log.contains("phones=2"), "both phones rung:\n{log}");
}

#[test]
fn a_user_with_no_phone_is_unavailable() {
    let dir = TestDir::new("unavailable");
    let v = Vaxel::start(
        dir.path(),
        SIPP_DIGEST,
        &CONFIG.replace("{operator}", &9.to_string()),
    );
    let (a_at, a) = anna_calls(dir.path(), &v, "phone_call_unavailable", "1005");
    passed(dir.path(), "phone_call_unavailable", a_at, a, &v);
    v.stop();
}

#[test]
fn no_answer_forward_cancels_the_phone_after_the_delay() {
    let dir = TestDir::new("no-answer");
    let v = Vaxel::start(
        dir.path(),
        SIPP_DIGEST,
        &CONFIG.replace("{operator}", &9.to_string()),
    );
    let (d_at, d) = callee(dir.path(), &v, "127.0.0.6", "callee_rings", DAVID);
    let started = Instant::now();
    let (a_at, a) = anna_calls(dir.path(), &v, "phone_call_busy", "1004");
    passed(dir.path(), "phone_call_busy", a_at, a, &v);
    passed(dir.path(), "callee_rings", d_at, d, &v);
    // `after = "1s"`, then the forward (to busy): well before the default minute.
    assert!(started.elapsed() < Duration::from_secs(15));
    v.stop();
}

/// Anna's phone calls an outside number, which the operator (a SIPp run with `op_flags`)
/// answers; both pass. Returns what the operator saw.
fn outside_call(dir: &Path, v: &Vaxel, op: Endpoint, op_flags: &[&str]) -> String {
    let operator = sipp(dir, "operator_answer", op, None, op_flags);
    std::thread::sleep(Duration::from_millis(300));
    let (a_at, a) = anna_calls(dir, v, "phone_call", "0701234567");
    passed(dir, "phone_call", a_at, a, v);
    passed(dir, "operator_answer", op, operator, v);
    std::fs::read_to_string(dir.join(format!(
        "operator_answer-{}-{}-messages.log",
        op.ip, op.port
    )))
    .unwrap_or_default()
}

#[test]
fn an_outside_number_goes_to_the_trunk_with_digest_credentials() {
    let dir = TestDir::new("trunk-out");
    let op = Endpoint::new("127.0.0.1");
    let v = Vaxel::start(
        dir.path(),
        SIPP_DIGEST,
        &CONFIG.replace("{operator}", &op.port.to_string()),
    );
    let msgs = outside_call(dir.path(), &v, op, &[]);
    // The operator sees our number, not the extension.
    assert!(msgs.contains("From: \"Anna\" <sip:4610100100@"), "{msgs}");
    v.stop();
}

/// A trunk with `transport=tcp`: vaxel opens a TCP connection to the operator (a SIPp over
/// TCP) for the INVITE, and the operator's answer, our ACK and the BYE use it.
#[test]
fn an_outside_number_goes_to_a_tcp_trunk_over_a_connection_we_open() {
    let dir = TestDir::new("trunk-tcp");
    let op = Endpoint::new("127.0.0.1");
    let (udp, tcp, http) = (free_sip_port(), free_tcp_port(), free_tcp_port());
    let listen =
        format!("{SIPP_DIGEST}\nsip = [\"udp://127.0.0.1:{udp}\", \"tcp://127.0.0.1:{tcp}\"]");
    let config = CONFIG.replace(
        "uri = \"sip:127.0.0.1:{operator}\"",
        &format!("uri = \"sip:127.0.0.1:{};transport=tcp\"", op.port),
    );
    assert_ne!(config, CONFIG, "the trunk uri was replaced");
    let v = Vaxel::start_on(dir.path(), udp, http, &listen, &config);
    let msgs = outside_call(dir.path(), &v, op, &["-t", "t1"]);
    assert!(msgs.contains("Via: SIP/2.0/TCP"), "{msgs}");
    assert!(
        msgs.contains("BYE sip:"),
        "the BYE came over TCP too:\n{msgs}"
    );
    let log = v.stop();
    assert!(log.contains("tcp connection opened"), "{log}");
}

#[test]
fn a_call_to_our_did_from_the_trunk_rings_the_user() {
    let dir = TestDir::new("did-to-user");
    let v = Vaxel::start(
        dir.path(),
        SIPP_DIGEST,
        &CONFIG.replace("{operator}", &9.to_string()),
    );
    let (b_at, b) = callee(dir.path(), &v, "127.0.0.3", "callee_hangs_up", BERTIL);
    // The operator (trunk allow 127.0.0.9) delivers a call to the DID: no authentication.
    let at = Endpoint::new("127.0.0.9");
    let op = sipp(
        dir.path(),
        "trunk_call_callee_bye",
        at,
        Some(v.sip),
        &["-s", "4610100100"],
    );
    passed(dir.path(), "trunk_call_callee_bye", at, op, &v);
    passed(dir.path(), "callee_hangs_up", b_at, b, &v);
    v.stop();
}

#[test]
fn session_timers_too_short_get_422_then_the_callers_refresh_is_accepted() {
    phone_to_phone(
        "session-timer",
        "phone_session_timer",
        "callee_answer",
        "answered|200|caller-bye",
    );
}

#[test]
fn the_callees_early_media_reaches_the_caller_before_the_answer() {
    phone_to_phone(
        "early-media",
        "phone_call_early_media",
        "callee_early_media",
        "answered|200|caller-bye",
    );
}

#[test]
fn the_callee_puts_the_call_on_hold_with_a_reinvite_answered_for_its_leg() {
    phone_to_phone(
        "callee-hold",
        "phone_call",
        "callee_hold",
        "answered|200|caller-bye",
    );
}

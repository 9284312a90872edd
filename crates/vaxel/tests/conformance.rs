//! The RFC 4475 torture corpus (tests/conformance/rfc4475) thrown at a running vaxel, each
//! file as one UDP datagram and as one TCP connection's bytes: the first final response's
//! status, or silence, must be what MANIFEST.tsv and the plan expect, and the server must
//! still answer OPTIONS afterwards. Also: OPTIONS advertises what vaxel takes.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Vaxel;
use vaxel_testua::msg::stream_frame_len;

/// What must come back for one file.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// A final response with one of these codes.
    Status(&'static [u16]),
    /// No response within the quiet period (responses, and requests too broken to answer).
    Silence,
    /// TCP framing errors: a 400, a closed connection, or silence; never anything else.
    FramingError,
}

use Expect::{FramingError, Silence, Status};

/// How long silence must last to count as "no answer".
const QUIET: Duration = Duration::from_millis(300);
/// How long an expected answer may take on a busy machine.
const ANSWER: Duration = Duration::from_secs(5);

fn corpus() -> PathBuf {
    common::repo_root().join("tests/conformance/rfc4475")
}

/// The expectation per file, as the plan says: checks first (400/505/416/420/415/...),
/// then routing (404 for numbers we do not have; REGISTER without credentials 401).
fn expectations(tcp: bool) -> BTreeMap<&'static str, Expect> {
    let mut m = BTreeMap::new();
    let accepted_options = Status(&[200]);
    for (file, e) in [
        // 3.1.1 valid messages
        // Its To has a tag: a re-INVITE for a dialog we do not have (RFC 3261 §12.2.2).
        ("wsinv.dat", Status(&[481])),
        ("intmeth.dat", Status(&[501])),
        ("esc01.dat", Status(&[404])),
        ("escnull.dat", Status(&[401])),
        ("esc02.dat", Status(&[501])),
        ("lwsdisp.dat", accepted_options.clone()),
        ("longreq.dat", Status(&[404])),
        ("dblreq.dat", Status(&[401])),
        ("semiuri.dat", accepted_options.clone()),
        ("transports.dat", accepted_options.clone()),
        // MESSAGE is not a method vaxel serves.
        ("mpart01.dat", Status(&[405, 501])),
        ("unreason.dat", Silence),
        ("noreason.dat", Silence),
        // 3.1.2 invalid messages
        ("badinv01.dat", Status(&[400])),
        ("clerr.dat", if tcp { Silence } else { Status(&[400]) }),
        ("ncl.dat", if tcp { FramingError } else { Status(&[400]) }),
        ("scalar02.dat", Status(&[400])),
        ("scalarlg.dat", Silence),
        ("quotbal.dat", Status(&[400])),
        ("ltgtruri.dat", Status(&[400])),
        ("lwsruri.dat", Status(&[400])),
        ("lwsstart.dat", Status(&[400, 404])),
        ("trws.dat", Status(&[400, 200])),
        ("escruri.dat", Status(&[400])),
        ("baddate.dat", Status(&[400, 404])),
        ("regbadct.dat", Status(&[400])),
        ("badaspec.dat", Status(&[400])),
        // The file ends without the blank line after the headers: on a stream the
        // message never ends, so the server can only wait.
        ("baddn.dat", if tcp { FramingError } else { Status(&[400]) }),
        ("badvers.dat", Status(&[505])),
        ("mismatch01.dat", Status(&[400])),
        ("mismatch02.dat", Status(&[501])),
        ("bigcode.dat", Silence),
        // 3.2 transaction layer
        ("badbranch.dat", Status(&[200, 400])),
        // 3.3 application layer
        ("insuf.dat", Status(&[400])),
        ("unkscm.dat", Status(&[416])),
        ("novelsc.dat", Status(&[416])),
        // The registrar refuses an address of record that is not sip:/sips: (400).
        ("unksm2.dat", Status(&[400])),
        ("bext01.dat", Status(&[420])),
        ("invut.dat", Status(&[415])),
        ("regaut01.dat", Status(&[401])),
        ("multi01.dat", Status(&[400])),
        ("mcl01.dat", if tcp { FramingError } else { Status(&[400]) }),
        ("bcast.dat", Silence),
        ("zeromf.dat", accepted_options.clone()),
        ("cparam01.dat", Status(&[401])),
        ("cparam02.dat", Status(&[401])),
        ("regescrt.dat", Status(&[401])),
        ("sdp01.dat", Status(&[406, 400])),
        // 3.4 backward compatibility: no branch, no tags, no Content-Length. Over TCP the
        // missing Content-Length leaves the SDP as a broken second message, but the first
        // answer is still for the INVITE.
        ("inv2543.dat", Status(&[404, 400])),
        // Not in the RFC text: no SIP version, no Via: nothing can be answered.
        ("test.dat", Silence),
    ] {
        m.insert(file, e);
    }
    m
}

/// Files listed in MANIFEST.tsv.
fn manifest() -> Vec<String> {
    let text = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// The status code of a response's first line.
fn status_of(msg: &[u8]) -> Option<u16> {
    let line = msg.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// What came back for one exchange.
#[derive(Debug)]
enum Got {
    /// The first final response (status, first line).
    #[allow(dead_code)] // the line is read through Debug, in failure messages
    Final(u16, String),
    /// Nothing (for `waited`).
    Nothing,
    /// TCP: the server closed the connection without a final response.
    Closed,
}

fn first_line(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg.split(|&b| b == b'\n').next().unwrap_or_default())
        .trim_end()
        .to_string()
}

/// Sends from `from`:5060. The corpus' Vias name hosts without rport, so vaxel answers
/// (RFC 3261 §18.2.2) to the source address with the sent-by port, 5060; a private
/// loopback address per file keeps one file's retransmitted answers out of the next.
fn over_udp(server: SocketAddr, from: Ipv4Addr, bytes: &[u8], wait: Duration) -> Got {
    let sock = UdpSocket::bind((from, 5060)).unwrap_or_else(|e| {
        panic!("bind {from}:5060 (the corpus' Vias send answers to port 5060): {e}")
    });
    sock.send_to(bytes, server).expect("send");
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Got::Nothing;
        }
        sock.set_read_timeout(Some(left)).expect("timeout");
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = &buf[..n];
                match status_of(msg) {
                    Some(s) if s >= 200 => return Got::Final(s, first_line(msg)),
                    _ => continue,
                }
            }
            Err(_) => return Got::Nothing,
        }
    }
}

fn over_tcp(server: SocketAddr, bytes: &[u8], wait: Duration) -> Got {
    let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(5)).expect("connect");
    s.write_all(bytes).expect("write");
    let deadline = Instant::now() + wait;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let got = loop {
        while let Some(n) = stream_frame_len(&buf) {
            let msg: Vec<u8> = buf.drain(..n).collect();
            if let Some(st) = status_of(&msg).filter(|&st| st >= 200) {
                return Got::Final(st, first_line(&msg));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Got::Nothing;
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut chunk) {
            Ok(0) => break Got::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break Got::Closed,
            Err(_) => break Got::Nothing,
        }
    };
    let _ = s.shutdown(Shutdown::Both);
    got
}

fn judge(file: &str, expect: &Expect, got: &Got) -> Option<String> {
    let ok = match (expect, got) {
        (Status(codes), Got::Final(s, _)) => codes.contains(s),
        (Silence, Got::Nothing) => true,
        (FramingError, Got::Final(400, _) | Got::Closed | Got::Nothing) => true,
        _ => false,
    };
    (!ok).then(|| format!("{file}: expected {expect:?}, got {got:?}"))
}

/// The RFC 3261 §17.2.3 server transaction key of a request: top Via branch and sent-by,
/// and the method. Several corpus files reuse one (e.g. cparam01/cparam02); vaxel rightly
/// treats the second as a retransmission of the first and answers the first's source.
fn txn_key(bytes: &[u8]) -> Option<String> {
    let vaxel_testua::SipMessage::Request(r) = vaxel_testua::msg::parse(bytes).ok()? else {
        return None;
    };
    let via = r
        .headers
        .get("Via")?
        .split(',')
        .next()?
        .to_ascii_lowercase();
    let mut parts = via.split(';');
    let sent_by = parts.next()?.split_whitespace().nth(1)?.to_string();
    let branch = parts.find_map(|p| p.trim().strip_prefix("branch=").map(str::to_string))?;
    Some(format!("{branch} {sent_by} {}", r.method))
}

/// Files (with their index in the manifest) sent to one vaxel instance.
type Round = Vec<(usize, String)>;

/// Splits the files into rounds in which no two share a transaction key; each round
/// gets a fresh vaxel.
fn rounds(files: &[String]) -> Vec<Round> {
    let mut rounds: Vec<(Vec<String>, Round)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
        let key = txn_key(&bytes);
        let slot = rounds
            .iter()
            .position(|(keys, _)| key.as_ref().is_none_or(|k| !keys.contains(k)));
        let slot = slot.unwrap_or_else(|| {
            rounds.push((Vec::new(), Vec::new()));
            rounds.len() - 1
        });
        let (keys, members) = &mut rounds[slot];
        keys.extend(key);
        members.push((i, file.clone()));
    }
    rounds.into_iter().map(|(_, m)| m).collect()
}

fn run_corpus(tcp: bool) {
    let transport = if tcp { "TCP" } else { "UDP" };
    let expect = expectations(tcp);
    let files = manifest();
    assert_eq!(
        files.len(),
        expect.len(),
        "MANIFEST.tsv and the expectations differ"
    );
    let mut failures = Vec::new();
    for round in rounds(&files) {
        // The UDP run sends from 127.0.0.10 and up: the trunk takes the whole loopback net.
        let vaxel = Vaxel::start_with(&format!("rfc4475-{transport}"), |l| {
            l.config_with_allow("127.0.0.0/8")
        });
        for (i, file) in &round {
            let e = expect
                .get(file.as_str())
                .unwrap_or_else(|| panic!("no expectation for {file}"));
            let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
            let wait = if *e == Silence { QUIET } else { ANSWER };
            let got = if tcp {
                over_tcp(vaxel.sip(), &bytes, wait)
            } else {
                let from = Ipv4Addr::new(127, 0, 0, 10 + *i as u8);
                over_udp(vaxel.sip(), from, &bytes, wait)
            };
            eprintln!("{file} over {transport}: {got:?}");
            failures.extend(judge(file, e, &got));
        }
        // Still alive and answering after its part of the corpus.
        let alive = vaxel.ua().options();
        assert!(
            matches!(&alive, Ok(r) if r.status == 200),
            "OPTIONS after the corpus: {alive:?}\n{}",
            vaxel.log()
        );
        vaxel.stop();
    }
    assert!(
        failures.is_empty(),
        "{} of {} files answered wrongly over {transport}:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn rfc4475_over_udp() {
    run_corpus(false);
}

#[test]
fn rfc4475_over_tcp() {
    run_corpus(true);
}

#[test]
fn options_advertises_methods_and_body_types() {
    let vaxel = Vaxel::start("options");
    let r = vaxel.ua().options().expect("OPTIONS answered");
    assert_eq!(r.status, 200, "{}", r.text());
    let allow = r.headers.tokens("Allow");
    for m in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"] {
        assert!(allow.iter().any(|a| a == m), "Allow lacks {m}: {allow:?}");
    }
    let accept = r.headers.tokens("Accept");
    assert!(
        accept
            .iter()
            .any(|a| a.eq_ignore_ascii_case("application/sdp")),
        "Accept lacks application/sdp: {accept:?}"
    );
    assert!(
        r.headers.get("Supported").is_some(),
        "no Supported header:\n{}",
        r.text()
    );
    assert!(r.to_tag().is_some(), "a final response carries a To tag");
    vaxel.stop();
}

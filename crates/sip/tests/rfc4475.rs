//! RFC 4475 torture messages: the verdict on every file of the corpus (as a datagram and
//! as a stream), and the values the parser must get right.

mod common;

use common::{
    StreamEvent, Verdict, corpus, corpus_files, datagram_verdict, manifest_files, stream,
};
use vaxel_sip::{ErrorKind, Message, Method, Request, SipMessage, UasPolicy, check_request, parse};

const DIR: &str = "rfc4475";

use Verdict::{Accept, Drop, Status};

/// Every file with what the engine's UAS does with it as a UDP datagram. The policy is the
/// engine's: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO; no registrar yet, so REGISTER and
/// MESSAGE get 405; unknown methods 501.
const EXPECTED: &[(&str, Verdict)] = &[
    // 3.1.1 valid messages
    ("wsinv.dat", Accept),
    ("intmeth.dat", Status(501)), // unknown method
    ("esc01.dat", Accept),
    ("escnull.dat", Status(405)), // REGISTER
    ("esc02.dat", Status(501)),   // RE%47IST%45R is not REGISTER
    ("lwsdisp.dat", Accept),
    ("longreq.dat", Accept),
    ("dblreq.dat", Status(405)), // the REGISTER; the trailing INVITE is ignored
    ("semiuri.dat", Accept),
    ("transports.dat", Accept),
    ("mpart01.dat", Status(405)), // MESSAGE
    ("unreason.dat", Drop),       // response
    ("noreason.dat", Drop),       // response
    // 3.1.2 invalid messages
    ("badinv01.dat", Status(400)),
    ("clerr.dat", Status(400)),
    ("ncl.dat", Status(400)),
    ("scalar02.dat", Status(400)),
    ("scalarlg.dat", Drop), // response with CSeq > 2^32: discarded
    ("quotbal.dat", Status(400)),
    ("ltgtruri.dat", Status(400)),
    ("lwsruri.dat", Status(400)),
    // Either is allowed; we are strict: the Request-Line is `Method SP URI SP Version`, and
    // accepting extra SP would mean re-serializing a line we were sent differently.
    ("lwsstart.dat", Status(400)),
    // Either is allowed; strict for the same reason (trailing SP after the version).
    ("trws.dat", Status(400)),
    // Either is allowed; a Request-URI with escaped headers makes no sense to a UAS and a
    // 400 is the simpler way never to turn them into real headers.
    ("escruri.dat", Status(400)),
    // Either is allowed; Date plays no part in our processing, so its bad zone is ignored.
    ("baddate.dat", Accept),
    ("regbadct.dat", Status(400)),
    // Either is allowed; `< sip:... >` has LWS inside the brackets, which the grammar does
    // not allow (LAQUOT/RAQUOT carry SWS only outside), and guessing is how bugs start.
    ("badaspec.dat", Status(400)),
    ("baddn.dat", Status(400)),
    ("badvers.dat", Status(505)),
    ("mismatch01.dat", Status(400)),
    ("mismatch02.dat", Status(501)), // unknown method: 501 preferred over 400
    ("bigcode.dat", Drop),           // response code beyond 699 (and 2^32)
    // 3.2 transaction layer: either is allowed; the message is well-formed and vaxel-txn
    // falls back to RFC 2543 matching for a branch that is only the magic cookie.
    ("badbranch.dat", Accept),
    // 3.3 application layer
    ("insuf.dat", Status(400)),
    ("unkscm.dat", Status(416)),
    ("novelsc.dat", Status(416)), // soap.beep is never meaningful to us
    ("unksm2.dat", Status(405)),  // REGISTER (a registrar would 400 the To)
    ("bext01.dat", Status(420)),
    ("invut.dat", Status(415)),
    ("regaut01.dat", Status(405)), // non-registrar endpoint
    ("multi01.dat", Status(400)),
    ("mcl01.dat", Status(400)),
    ("bcast.dat", Drop),    // response
    ("zeromf.dat", Accept), // an endpoint processes Max-Forwards 0 normally
    ("cparam01.dat", Status(405)),
    ("cparam02.dat", Status(405)),
    ("regescrt.dat", Status(405)),
    ("sdp01.dat", Status(406)),
    // 3.4 backward compatibility: RFC 2543 syntax is accepted on UDP, body = rest.
    ("inv2543.dat", Accept),
    // Not in the RFC text: no SIP-Version, no Via, a line without colon: nothing to
    // answer to.
    ("test.dat", Drop),
];

fn expected(file: &str) -> Verdict {
    EXPECTED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("{file} has no expected verdict"))
}

fn request(file: &str) -> Request {
    match parse(&corpus(DIR, file)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{file}: expected a request, got {other:?}"),
    }
}

#[test]
fn table_covers_every_file_and_the_manifest() {
    let files = corpus_files(DIR);
    assert_eq!(files, manifest_files(DIR), "corpus and MANIFEST.tsv differ");
    let mut listed: Vec<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(listed, files, "EXPECTED must list every file exactly once");
}

#[test]
fn datagram_verdicts() {
    let mut wrong = Vec::new();
    for (file, want) in EXPECTED {
        let got = datagram_verdict(&corpus(DIR, file));
        if got != *want {
            wrong.push(format!("{file}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn error_kinds_of_the_invalid_messages() {
    let kinds = [
        ("badinv01.dat", ErrorKind::Header),
        ("clerr.dat", ErrorKind::ContentLength),
        ("ncl.dat", ErrorKind::ContentLength),
        ("mcl01.dat", ErrorKind::ContentLength),
        ("scalar02.dat", ErrorKind::Header),
        ("quotbal.dat", ErrorKind::Header),
        ("ltgtruri.dat", ErrorKind::Uri),
        ("lwsruri.dat", ErrorKind::StartLine),
        ("escruri.dat", ErrorKind::Uri),
        ("regbadct.dat", ErrorKind::Header),
        ("baddn.dat", ErrorKind::Header),
        ("insuf.dat", ErrorKind::Required),
        ("multi01.dat", ErrorKind::Required),
        ("bigcode.dat", ErrorKind::StartLine),
        ("test.dat", ErrorKind::StartLine),
    ];
    for (file, kind) in kinds {
        let e = parse(&corpus(DIR, file)).expect_err(file);
        assert_eq!(e.kind(), kind, "{file}: {e}");
    }
}

/// The 400 of a malformed request copies Via, From, To, Call-ID and CSeq as received.
#[test]
fn stateless_400_copies_the_dialog_headers() {
    let e = parse(&corpus(DIR, "quotbal.dat")).unwrap_err();
    let resp = e.response().unwrap();
    assert_eq!(resp.status, 400);
    let names: Vec<&str> = resp.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["Via", "From", "To", "Call-ID", "CSeq", "Warning"]);
    assert_eq!(
        resp.headers.get("Via"),
        Some("SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234")
    );
    assert_eq!(
        resp.headers.get("To"),
        Some("\"Mr. J. User <sip:j.user@example.com>")
    );
    assert_eq!(resp.headers.get("CSeq"), Some("8 INVITE"));
    // Responses and Via-less requests have nobody to answer.
    assert!(
        parse(&corpus(DIR, "scalarlg.dat"))
            .unwrap_err()
            .response()
            .is_none()
    );
    assert!(
        parse(&corpus(DIR, "test.dat"))
            .unwrap_err()
            .response()
            .is_none()
    );
}

#[test]
fn uas_check_responses_carry_their_headers() {
    let policy = common::engine_policy();
    let reject = |file: &str| check_request(&request(file), &policy).unwrap_err();

    let r = reject("intmeth.dat");
    assert_eq!((r.status, r.reason.as_str()), (501, "Not Implemented"));
    assert_eq!(
        r.headers.get("Allow"),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO")
    );
    let r = reject("regaut01.dat");
    assert_eq!(r.status, 405);
    assert_eq!(
        r.headers.get("Allow"),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO")
    );

    let r = reject("bext01.dat");
    assert_eq!(r.status, 420);
    assert_eq!(
        r.headers.get("Unsupported"),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );

    let r = reject("invut.dat");
    assert_eq!(r.status, 415);
    assert_eq!(r.headers.get("Accept"), Some("application/sdp"));

    assert_eq!(r.headers.get("Accept-Encoding"), None);
    // The same INVITE with an encoding we do not know: 415 naming the one we do.
    let mut gz = request("esc01.dat");
    gz.headers.push("Content-Encoding", "gzip");
    let r = check_request(&gz, &policy).unwrap_err();
    assert_eq!(r.status, 415);
    assert_eq!(r.headers.get("Accept-Encoding"), Some("identity"));
    gz.headers.set("Content-Encoding", "identity");
    assert_eq!(check_request(&gz, &policy), Ok(()));

    let r = reject("sdp01.dat");
    assert_eq!(r.status, 406);
    assert!(r.headers.get("Warning").unwrap().starts_with("399 "));

    let r = reject("mismatch01.dat");
    assert_eq!(r.status, 400);
    let r = reject("badvers.dat");
    assert_eq!(r.status, 505);
    let r = reject("unkscm.dat");
    assert_eq!(r.status, 416);

    // Every check response is a response to that request: same Via, Call-ID, CSeq.
    for file in [
        "intmeth.dat",
        "bext01.dat",
        "invut.dat",
        "sdp01.dat",
        "unkscm.dat",
    ] {
        let req = request(file);
        let r = check_request(&req, &policy).unwrap_err();
        assert_eq!(r.headers.get("Via"), req.headers.get("Via"), "{file}");
        assert_eq!(r.call_id().unwrap(), req.call_id().unwrap(), "{file}");
        assert_eq!(r.cseq().unwrap(), req.cseq().unwrap(), "{file}");
    }

    // A registrar-capable policy accepts the REGISTER files that were only 405 for us.
    let mut registrar: UasPolicy = policy.clone();
    registrar.allow.push(Method::Register);
    for file in [
        "escnull.dat",
        "cparam01.dat",
        "cparam02.dat",
        "regescrt.dat",
    ] {
        assert_eq!(check_request(&request(file), &registrar), Ok(()), "{file}");
    }
    // ACK is never answered, whatever it carries.
    let mut ack = request("badvers.dat");
    ack.method = Method::Ack;
    assert_eq!(check_request(&ack, &policy), Ok(()));
}

#[test]
fn semiuri_user_part_keeps_its_semicolon() {
    let req = request("semiuri.dat");
    assert_eq!(req.uri.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(
        req.uri.user_unescaped().as_deref(),
        Some("user;par=u@example.net")
    );
    assert_eq!(req.uri.host, "example.com");
    assert!(req.uri.params.is_empty());
    assert_eq!(req.headers.values("Accept").len(), 6);
}

#[test]
fn esc02_method_is_an_extension_and_has_two_contacts() {
    let req = request("esc02.dat");
    assert_eq!(req.method, Method::Extension("RE%47IST%45R".into()));
    assert_eq!(req.cseq().unwrap().method, req.method);
    let contacts = req.contacts().unwrap();
    let hosts: Vec<&str> = contacts.iter().map(|c| c.uri.host.as_str()).collect();
    assert_eq!(hosts, ["host1.example.com", "host3.example.com"]);
    // C%6Fntact is a header of its own, kept as received.
    assert_eq!(
        req.headers.get("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
    assert_eq!(req.to().unwrap().display.as_deref(), Some("%Z%45"));
    assert_eq!(
        req.top_via().unwrap().branch(),
        Some("z9hG4bK209%fzsnel234")
    );
}

#[test]
fn esc01_escapes_decode_in_the_user_part() {
    let req = request("esc01.dat");
    assert_eq!(req.uri.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(
        req.uri.user_unescaped().as_deref(),
        Some("sips:user@example.com")
    );
    assert_eq!(req.uri.host, "example.net");
    assert_eq!(
        req.to().unwrap().uri.user_unescaped().as_deref(),
        Some("user")
    );
    assert_eq!(
        req.from().unwrap().uri.user_unescaped().as_deref(),
        Some("I have spaces")
    );
    let contact = req.contacts().unwrap().remove(0);
    assert_eq!(contact.uri.user_unescaped().as_deref(), Some("caller"));
    // URI parameters are kept as written.
    assert_eq!(contact.uri.param("%6C%72"), Some(None));
    assert_eq!(contact.uri.param("n%61me"), Some(Some("v%61lue%25%34%31")));
    assert_eq!(req.content_type().as_deref(), Some("application/sdp"));
    assert_eq!(req.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");
}

#[test]
fn escnull_gives_two_distinct_bindings() {
    let req = request("escnull.dat");
    let contacts = req.contacts().unwrap();
    assert_eq!(contacts.len(), 2);
    let users: Vec<String> = contacts
        .iter()
        .map(|c| c.uri.user_unescaped().unwrap())
        .collect();
    assert_eq!(users, ["\0", "\0\0"]);
    assert_ne!(contacts[0].uri, contacts[1].uri);
    // The AOR is not cut at the decoded NUL.
    assert_eq!(
        req.to().unwrap().uri.user_unescaped().as_deref(),
        Some("null-\0-null")
    );
}

/// The value of the first raw line of `file` starting with `prefix`, after the colon.
fn raw_value(bytes: &[u8], prefix: &str) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix}"));
    line.split_once(':').unwrap().1.trim().to_string()
}

#[test]
fn longreq_values_are_intact() {
    let bytes = corpus(DIR, "longreq.dat");
    let req = request("longreq.dat");
    let to_raw = raw_value(&bytes, "To:");
    assert_eq!(req.headers.get("To"), Some(to_raw.as_str()));
    let to = req.to().unwrap();
    assert_eq!(
        to.display.as_deref(),
        Some(
            "I have a user name of extremeextremeextremeextremeextremeextremeextremeextremeextremeextreme proportion"
        )
    );
    assert_eq!(to.uri.port, Some(6000));
    assert_eq!(to.uri.params.len(), 3);
    let from = req.from().unwrap();
    let tag_raw = raw_value(&bytes, "F:");
    let tag_raw = tag_raw
        .split(";tag=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(from.tag(), Some(tag_raw));
    assert_eq!(from.params.len(), 3);
    assert_eq!(req.call_id().unwrap(), raw_value(&bytes, "Call-ID:"));
    let vias = req.vias().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[0].host, "sip33.example.com");
    let last = vias.last().unwrap();
    assert_eq!(last.host, "host.example.com");
    assert_eq!(last.received(), Some("192.0.2.5"));
    let branch = last.branch().unwrap();
    assert!(branch.starts_with("verylonglong") && branch.ends_with("branchvalue"));
    assert_eq!(branch.len(), 215);
    let unknown_name = "Unknown-LongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLongLong-Name";
    let unknown = format!("{unknown_name}:");
    assert_eq!(
        req.headers.get(unknown_name),
        Some(raw_value(&bytes, &unknown).as_str())
    );
    assert_eq!(req.contacts().unwrap().len(), 1);
    assert_eq!(req.body.len(), 150);
}

#[test]
fn mpart01_body_is_framed_by_content_length() {
    let req = request("mpart01.dat");
    let len: usize = req.headers.get("Content-Length").unwrap().parse().unwrap();
    assert_eq!(req.body.len(), len);
    assert_eq!(req.body.iter().filter(|b| **b == 0).count(), 2);
    assert_eq!(req.content_type().as_deref(), Some("multipart/mixed"));
}

#[test]
fn dblreq_is_the_register_alone() {
    let req = request("dblreq.dat");
    assert_eq!(req.method, Method::Register);
    assert!(req.body.is_empty());
    assert_eq!(
        req.call_id().unwrap(),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
}

#[test]
fn transports_keeps_all_five_vias() {
    let req = request("transports.dat");
    let vias = req.vias().unwrap();
    let got: Vec<(&str, &str)> = vias
        .iter()
        .map(|v| (v.transport.as_str(), v.host.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("UDP", "t1.example.com"),
            ("SCTP", "t2.example.com"),
            ("TLS", "t3.example.com"),
            ("UNKNOWN", "t4.example.com"),
            ("TCP", "t5.example.com"),
        ]
    );
}

#[test]
fn lwsdisp_display_name_without_space() {
    let req = request("lwsdisp.dat");
    let from = req.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("caller"));
    assert_eq!(from.uri.user.as_deref(), Some("caller"));
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn wsinv_tortuous_whitespace() {
    let req = request("wsinv.dat");
    assert_eq!(req.method, Method::Invite);
    assert_eq!(req.uri.param("unknownparam"), Some(None));
    let to = req.to().unwrap();
    assert_eq!(to.uri.user.as_deref(), Some("vivekg"));
    assert_eq!(to.tag(), Some("1918181833n"));
    let from = req.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    let cseq = req.cseq().unwrap();
    assert_eq!((cseq.seq, &cseq.method), (9, &Method::Invite));
    assert_eq!(req.max_forwards().unwrap(), Some(68));
    let vias = req.vias().unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = vias
        .iter()
        .map(|v| (v.transport.as_str(), v.host.as_str(), v.branch()))
        .collect();
    assert_eq!(
        got,
        [
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    assert!(vias.iter().all(|v| v.protocol == "SIP/2.0"));
    let contact = req.contacts().unwrap().remove(0);
    assert_eq!(contact.display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(contact.param("newparam"), Some(Some("newvalue")));
    assert_eq!(contact.param("secondparam"), Some(None));
    assert_eq!(contact.param("q"), Some(Some("0.33")));
    // Unknown headers are kept as received (unfolded).
    assert_eq!(
        req.headers.get("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(
        req.headers.get("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(req.headers.get("Subject"), Some(""));
    assert_eq!(req.body.len(), 150);
}

#[test]
fn intmeth_parses_every_odd_character() {
    let req = request("intmeth.dat");
    assert_eq!(
        req.method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    assert_eq!(req.cseq().unwrap().method, req.method);
    assert_eq!(req.uri.host, "example.com");
    assert_eq!(
        req.uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        req.uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(
        req.to().unwrap().display.as_deref(),
        Some("BEL:\u{7} NUL:\0 DEL:\u{7f}")
    );
    let from = req.from().unwrap();
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        req.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(req.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
}

#[test]
fn inv2543_rfc2543_syntax_is_accepted_on_udp() {
    let bytes = corpus(DIR, "inv2543.dat");
    let req = request("inv2543.dat");
    let via = req.top_via().unwrap();
    assert_eq!(via.branch(), None);
    assert_eq!(req.from().unwrap().tag(), None);
    assert_eq!(req.max_forwards().unwrap(), None);
    // No Content-Length: the body is the rest of the datagram.
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(req.body, &bytes[head_end..]);
}

#[test]
fn scalar02_overlarge_values() {
    let e = parse(&corpus(DIR, "scalar02.dat")).unwrap_err();
    assert!(e.to_string().contains("CSeq"), "{e}");
    // The same message with a sane CSeq is fine: Max-Forwards 300 is taken as given and
    // the huge Expires means the default.
    let text = String::from_utf8(corpus(DIR, "scalar02.dat")).unwrap();
    let fixed = text.replace("36893488147419103232 REGISTER", "1 REGISTER");
    let Ok(Message::Request(req)) = parse(fixed.as_bytes()) else {
        panic!("fixed scalar02 must parse");
    };
    assert_eq!(req.max_forwards().unwrap(), Some(300));
    assert_eq!(req.expires(), Some(3600));
}

#[test]
fn responses_parse_and_are_dropped() {
    for (file, status, reason) in [("noreason.dat", 100, ""), ("bcast.dat", 200, "OK")] {
        match parse(&corpus(DIR, file)) {
            Ok(Message::Response(r)) => {
                assert_eq!((r.status, r.reason.as_str()), (status, reason), "{file}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    let Ok(Message::Response(r)) = parse(&corpus(DIR, "unreason.dat")) else {
        panic!("unreason must parse");
    };
    assert_eq!(r.status, 200);
    assert!(r.reason.starts_with("= 2**3 * 5**2 "), "{}", r.reason);
    assert!(!r.reason.is_ascii());
}

/// Stream (TCP) behaviour that differs from the datagram verdict, and why.
fn stream_expected(file: &str) -> (Vec<StreamEvent>, bool) {
    use StreamEvent::{Fatal, Message};
    // (events, bytes left waiting)
    match file {
        // Content-Length beyond the data: on a stream, wait for the rest.
        "clerr.dat" => (vec![], true),
        // Framing lost: 400, then the connection closes.
        "ncl.dat" | "mcl01.dat" => (vec![Fatal(Status(400))], false),
        // No Content-Length on a stream: the body cannot be framed. Still a 400.
        "inv2543.dat" => (vec![Fatal(Status(400))], false),
        // Framed by its Content-Length (18), then the start line fails: the stream stays
        // in sync, and without a Via there is nobody to answer.
        "test.dat" => (vec![Message(Drop)], false),
        // The REGISTER; then, on a stream, the trailing octets are a message of their own:
        // an INVITE whose body is 155 bytes for a Content-Length of 150, so the INVITE is
        // framed, and the 5 bytes left (`C` CRLF CRLF) are a head without Content-Length:
        // framing lost.
        "dblreq.dat" => (
            vec![Message(Status(405)), Message(Accept), Fatal(Drop)],
            false,
        ),
        // The file ends without the blank line that closes the headers: a stream waits.
        "baddn.dat" => (vec![], true),
        other => (vec![Message(expected(other))], false),
    }
}

#[test]
fn stream_verdicts_in_small_chunks() {
    let mut wrong = Vec::new();
    for (file, _) in EXPECTED {
        let bytes = corpus(DIR, file);
        let (want, waits) = stream_expected(file);
        for chunk in [1, 7, bytes.len()] {
            let (got, left) = stream(&bytes, chunk);
            if got != want || (left > 0) != waits {
                wrong.push(format!(
                    "{file} in {chunk}-byte chunks: expected {want:?} (waiting {waits}), got {got:?} ({left} left)"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Back-to-back messages on one connection, keep-alive CRLFs between them.
#[test]
fn stream_of_many_messages() {
    let files = [
        "wsinv.dat",
        "esc01.dat",
        "bcast.dat",
        "mpart01.dat",
        "quotbal.dat",
        "longreq.dat",
    ];
    let mut bytes = Vec::new();
    for f in files {
        bytes.extend_from_slice(&corpus(DIR, f));
        bytes.extend_from_slice(b"\r\n\r\n");
    }
    let want: Vec<StreamEvent> = files
        .iter()
        .map(|f| StreamEvent::Message(expected(f)))
        .collect();
    for chunk in [1, 7, 1000, bytes.len()] {
        let (got, left) = stream(&bytes, chunk);
        assert_eq!(got, want, "{chunk}-byte chunks");
        assert_eq!(left, 0);
    }
}

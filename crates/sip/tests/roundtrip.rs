//! Serialization: every message we accept comes back the same after to_bytes and a second
//! parse; responses built for a request; compact names, folding and header editing.

mod common;

use common::{corpus, corpus_files};
use vaxel_sip::{
    Headers, Message, Method, NameAddr, Request, Response, SipMessage, StreamFramer, Uri, Via,
    canonical, parse,
};

/// Every corpus message that parses.
fn accepted() -> Vec<(String, Message)> {
    let mut out = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        for file in corpus_files(dir) {
            if let Ok(m) = parse(&corpus(dir, &file)) {
                out.push((format!("{dir}/{file}"), m));
            }
        }
    }
    out
}

fn without_content_length(h: &Headers) -> Vec<(String, String)> {
    h.iter()
        .filter(|(n, _)| !canonical(n).eq_ignore_ascii_case("content-length"))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn assert_same_typed<M: SipMessage + std::fmt::Debug>(name: &str, a: &M, b: &M) {
    assert_eq!(a.vias().unwrap(), b.vias().unwrap(), "{name}: Via");
    assert_eq!(a.cseq().unwrap(), b.cseq().unwrap(), "{name}: CSeq");
    assert_eq!(
        a.call_id().unwrap(),
        b.call_id().unwrap(),
        "{name}: Call-ID"
    );
    assert_eq!(a.from().ok(), b.from().ok(), "{name}: From");
    assert_eq!(a.to().ok(), b.to().ok(), "{name}: To");
    assert_eq!(a.contacts().ok(), b.contacts().ok(), "{name}: Contact");
    assert_eq!(
        a.max_forwards().ok(),
        b.max_forwards().ok(),
        "{name}: Max-Forwards"
    );
    assert_eq!(a.content_type(), b.content_type(), "{name}: Content-Type");
    assert_eq!(a.expires(), b.expires(), "{name}: Expires");
    assert_eq!(
        without_content_length(a.headers()),
        without_content_length(b.headers()),
        "{name}: headers"
    );
}

#[test]
fn corpus_roundtrips() {
    let all = accepted();
    assert!(all.len() >= 40, "only {} corpus messages parse", all.len());
    for (name, first) in all {
        let bytes = first.to_bytes();
        let second = parse(&bytes).unwrap_or_else(|e| panic!("{name}: re-parse failed: {e}"));
        match (&first, &second) {
            (Message::Request(a), Message::Request(b)) => {
                assert_eq!(a.method, b.method, "{name}");
                assert_eq!(a.uri, b.uri, "{name}");
                assert_eq!(a.version, b.version, "{name}");
                assert_eq!(a.body, b.body, "{name}");
                assert_same_typed(&name, a, b);
            }
            (Message::Response(a), Message::Response(b)) => {
                assert_eq!((a.status, &a.reason), (b.status, &b.reason), "{name}");
                assert_eq!(a.body, b.body, "{name}");
                assert_same_typed(&name, a, b);
            }
            _ => panic!("{name}: changed kind"),
        }
        // The serialized form is a fixed point, and frames on a stream as one message.
        assert_eq!(second.to_bytes(), bytes, "{name}: not idempotent");
        let mut framer = StreamFramer::new(vaxel_sip::DEFAULT_MAX_MESSAGE);
        framer.push(&bytes);
        assert_eq!(framer.next_message().unwrap().unwrap(), second, "{name}");
        assert_eq!(framer.buffered(), 0, "{name}");
    }
}

/// The typed values print in a form that parses back to the same value.
#[test]
fn typed_values_display_and_reparse() {
    for (name, m) in accepted() {
        let Message::Request(req) = m else { continue };
        let uri = Uri::parse(&req.uri.to_string()).unwrap();
        assert_eq!(uri, req.uri, "{name}");
        for via in req.vias().unwrap() {
            assert_eq!(Via::parse(&via.to_string()).unwrap(), via, "{name}");
        }
        let mut addrs = req.contacts().unwrap();
        addrs.push(req.from().unwrap().clone());
        addrs.push(req.to().unwrap().clone());
        for a in addrs {
            // Display names with control characters (intmeth) print as quoted-pairs.
            let printed = a.to_string();
            if let Some(d) = &a.display {
                assert!(
                    !d.chars().any(|c| c.is_ascii_control()) || printed.contains("\\\0"),
                    "{name}: {printed:?}"
                );
            }
            assert_eq!(NameAddr::parse(&printed).unwrap(), a, "{name}: {printed}");
        }
    }
}

fn sample() -> Request {
    let raw = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
Max-Forwards: 70\r\n\
f: \"Alice, A.\" <sip:alice@example.com>;tag=a1\r\n\
t: <sip:bob@example.com>\r\n\
i: abc@example.com\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:alice@192.0.2.1>\r\n\
Record-Route: <sip:p1.example.com;lr>\r\n\
Subject: lunch\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\n";
    match parse(raw).unwrap() {
        Message::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn response_for_request_copies_only_the_dialog_headers() {
    let req = sample();
    let resp = Response::for_request(&req, 486);
    assert_eq!((resp.status, resp.reason.as_str()), (486, "Busy Here"));
    let got: Vec<(&str, &str)> = resp.headers.iter().collect();
    assert_eq!(
        got,
        [
            ("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"),
            (
                "Via",
                "SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com;branch=z9hG4bK3"
            ),
            ("From", "\"Alice, A.\" <sip:alice@example.com>;tag=a1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "abc@example.com"),
            ("CSeq", "1 INVITE"),
        ]
    );
    assert!(resp.body.is_empty());
    let back = match parse(&resp.to_bytes()).unwrap() {
        Message::Response(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(back.vias().unwrap().len(), 3);
    assert_eq!(back.headers.get("Content-Length"), Some("0"));
    assert_eq!(back.cseq().unwrap().method, Method::Invite);
}

#[test]
fn compact_forms_are_the_same_headers() {
    let req = sample();
    assert_eq!(
        req.headers.get("Via"),
        Some("SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
    );
    assert_eq!(req.headers.count("VIA"), 2);
    assert_eq!(req.headers.values("v").len(), 3);
    assert_eq!(req.headers.get("call-id"), Some("abc@example.com"));
    assert_eq!(req.headers.get("I"), Some("abc@example.com"));
    assert_eq!(req.contacts().unwrap()[0].uri.host, "192.0.2.1");
    assert_eq!(req.content_type().as_deref(), Some("application/sdp"));
    assert_eq!(req.body, b"v=0\n");
    assert_eq!(req.from().unwrap().display.as_deref(), Some("Alice, A."));
    for (short, long) in [
        ("v", "Via"),
        ("F", "From"),
        ("t", "To"),
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("e", "Content-Encoding"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("o", "Event"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("u", "Allow-Events"),
        ("x", "Session-Expires"),
        ("y", "Identity"),
    ] {
        assert_eq!(canonical(short), long);
    }
    assert_eq!(canonical("q"), "q");
    assert_eq!(canonical("Via"), "Via");
    // Compact names are kept on the wire as received.
    let text = String::from_utf8(req.to_bytes()).unwrap();
    assert!(text.contains("\r\nv: SIP/2.0/UDP a.example.com"), "{text}");
    assert!(text.ends_with("Content-Length: 4\r\n\r\nv=0\n"), "{text}");
    assert!(!text.contains("l: 4"), "{text}");
}

#[test]
fn folded_lines_are_joined() {
    let raw = b"OPTIONS sip:a@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP\r\n\t h.example.com\r\n  ;branch=z9hG4bKf\r\n\
To: <sip:a@example.com>\r\n\
From: <sip:b@example.com>\r\n ;tag=1\r\n\
Call-ID: fold\r\n\
CSeq:\r\n 2\r\n\tOPTIONS\r\n\
Subject: one\r\n two\r\n\t\r\n three\r\n\
Content-Length: 0\r\n\r\n";
    let Ok(Message::Request(req)) = parse(raw) else {
        panic!("folded message must parse");
    };
    let via = req.top_via().unwrap();
    assert_eq!(
        (via.host.as_str(), via.branch()),
        ("h.example.com", Some("z9hG4bKf"))
    );
    assert_eq!(req.from().unwrap().tag(), Some("1"));
    assert_eq!(req.cseq().unwrap().seq, 2);
    assert_eq!(req.headers.get("Subject"), Some("one two three"));
    // Serialized unfolded, and the same again.
    let bytes = req.to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("Subject: one two three\r\n"));
    assert_eq!(parse(&bytes).unwrap(), Message::Request(req));
}

#[test]
fn bare_lf_and_mixed_line_endings_frame_alike() {
    for body in ["ok", ""] {
        let crlf = format!(
            "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: lf\r\nCSeq: 1 OPTIONS\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        line_endings_frame_alike(crlf.as_bytes());
    }
}

fn line_endings_frame_alike(crlf: &[u8]) {
    let text = String::from_utf8(crlf.to_vec()).unwrap();
    let lf = text.replace("\r\n", "\n");
    // Header lines ending in LF, the blank line in CRLF: the head is complete even when
    // nothing follows it.
    let mixed = text.replace("\r\n", "\n").replacen("\n\n", "\n\r\n", 1);
    let want = parse(crlf).unwrap();
    for variant in [lf.as_bytes(), mixed.as_bytes()] {
        assert_eq!(parse(variant).unwrap(), want);
        for chunk in [1, 5, variant.len()] {
            let mut framer = StreamFramer::new(4096);
            let mut got = Vec::new();
            for piece in variant.chunks(chunk) {
                framer.push(piece);
                while let Some(m) = framer.next_message() {
                    got.push(m.unwrap());
                }
            }
            assert_eq!(got, vec![want.clone()], "{chunk}-byte chunks");
        }
    }
}

#[test]
fn framer_agrees_with_the_parser_on_content_length() {
    // A folded Content-Length and a compact one: both frame by the unfolded value.
    for head in ["Content-Length:\r\n 2", "l : 2", "CONTENT-LENGTH:2"] {
        let raw = format!(
            "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: cl\r\nCSeq: 1 OPTIONS\r\n{head}\r\n\r\nokNEXT"
        );
        let mut framer = StreamFramer::new(4096);
        framer.push(raw.as_bytes());
        let Some(Ok(Message::Request(req))) = framer.next_message() else {
            panic!("{head}: not framed");
        };
        assert_eq!(req.body, b"ok", "{head}");
        assert_eq!(framer.buffered(), 4, "{head}");
        assert!(framer.next_message().is_none());
    }
}

#[test]
fn stream_limits() {
    // Headers that never end: refused once past the limit, and the framer stays closed.
    let mut framer = StreamFramer::new(64);
    framer.push(&[b'a'; 65]);
    let e = framer.next_message().unwrap().unwrap_err();
    assert!(e.is_fatal_for_stream());
    assert!(framer.next_message().is_none());
    framer.push(b"OPTIONS sip:a SIP/2.0\r\n\r\n");
    assert!(framer.next_message().is_none());
    assert_eq!(framer.buffered(), 0);

    // A Content-Length beyond the limit is refused before the body arrives.
    let mut framer = StreamFramer::new(256);
    framer.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nContent-Length: 100000\r\n\r\n");
    let e = framer.next_message().unwrap().unwrap_err();
    assert!(e.is_fatal_for_stream());

    // Keep-alives alone produce nothing.
    let mut framer = StreamFramer::new(256);
    framer.push(b"\r\n\r\n\r\n");
    assert!(framer.next_message().is_none());
    assert_eq!(framer.buffered(), 0);

    // A datagram over the limit.
    let e = vaxel_sip::parse_with_limit(&[b'x'; 100], 99).unwrap_err();
    assert_eq!(e.kind(), vaxel_sip::ErrorKind::TooLarge);
    assert!(e.response().is_none());
}

#[test]
fn headers_set_remove_values() {
    let mut h = Headers::default();
    h.push(
        "Contact",
        "\"Doe, John\" <sip:j@example.com>;q=0.5, <sip:k@example.com>",
    );
    h.push("m", "<sip:l@example.com;x=\"a,b\">");
    h.push("Subject", "x");
    h.push("Contact", "\"quote \\\" and, comma\" <sip:m@example.com>");
    let values = h.values("Contact");
    assert_eq!(
        values,
        [
            "\"Doe, John\" <sip:j@example.com>;q=0.5",
            "<sip:k@example.com>",
            "<sip:l@example.com;x=\"a,b\">",
            "\"quote \\\" and, comma\" <sip:m@example.com>",
        ]
    );
    assert_eq!(h.count("contact"), 3);

    // set replaces every line of that name (compact ones too) in the place of the first.
    h.set("CONTACT", "<sip:only@example.com>");
    let all: Vec<(&str, &str)> = h.iter().collect();
    assert_eq!(
        all,
        [("Contact", "<sip:only@example.com>"), ("Subject", "x")]
    );
    h.set("To", "<sip:t@example.com>");
    assert_eq!(h.len(), 3);
    assert_eq!(h.iter().last(), Some(("To", "<sip:t@example.com>")));

    h.remove("s");
    assert_eq!(h.get("Subject"), None);
    assert_eq!(h.len(), 2);
    h.remove("Contact");
    h.remove("To");
    assert!(h.is_empty());
    assert!(h.values("Contact").is_empty());
}

#[test]
fn built_request_serializes_and_parses() {
    let mut req = Request::new(
        Method::Options,
        Uri::parse("sip:[2001:db8::1]:5070;transport=tcp").unwrap(),
    );
    req.headers.push(
        "Via",
        "SIP/2.0/TCP [2001:db8::2]:5060;branch=z9hG4bKb;rport",
    );
    req.headers.push("Max-Forwards", "70");
    req.headers.push("From", "<sip:v@example.com>;tag=v1");
    req.headers.push("To", "<sip:x@example.com>");
    req.headers.push("Call-ID", "built");
    req.headers.push("CSeq", "7 OPTIONS");
    req.headers.push("Content-Length", "999"); // replaced by the real length
    req.body = b"hello".to_vec();
    let bytes = req.to_bytes();
    let Ok(Message::Request(back)) = parse(&bytes) else {
        panic!("built request must parse");
    };
    assert_eq!(back.uri.port, Some(5070));
    assert_eq!(back.uri.param("transport"), Some(Some("tcp")));
    assert_eq!(back.top_via().unwrap().rport(), Some(None));
    assert_eq!(back.headers.get("Content-Length"), Some("5"));
    assert_eq!(back.headers.count("Content-Length"), 1);
    assert_eq!(back.body, b"hello");
}

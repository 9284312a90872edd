//! Small grammar edges beyond the torture corpora, each pinned to the verdict we chose.

mod common;

use common::{Verdict, datagram_verdict};
use vaxel_sip::{ErrorKind, Message, SipMessage, Uri, parse};

/// A sound OPTIONS with one header line replaced (or added, when `name` is absent).
fn options_with(name: &str, line: &str) -> Vec<u8> {
    let base = [
        "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKe",
        "To: <sip:a@example.com>",
        "From: <sip:b@example.com>;tag=1",
        "Call-ID: edge@example.com",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
    ];
    let mut lines: Vec<String> = base
        .iter()
        .map(|l| {
            if l.starts_with(&format!("{name}:")) {
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !base.iter().any(|l| l.starts_with(&format!("{name}:"))) {
        lines.push(line.to_string());
    }
    format!(
        "OPTIONS sip:a@example.com SIP/2.0\r\n{}\r\nContent-Length: 0\r\n\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

#[test]
fn baseline_is_accepted() {
    assert_eq!(
        datagram_verdict(&options_with("X", "X: y")),
        Verdict::Accept
    );
}

#[test]
fn call_id_must_be_one_word() {
    for bad in ["Call-ID:", "Call-ID: two words", "Call-ID: a@b, c@d"] {
        let e = parse(&options_with("Call-ID", bad)).unwrap_err();
        assert_eq!(e.response().unwrap().status, 400, "{bad}");
    }
    let ok = options_with("Call-ID", "Call-ID: odd\"<chars>\"[]{}?/@x");
    assert_eq!(datagram_verdict(&ok), Verdict::Accept);
}

#[test]
fn ports_are_digits_only() {
    assert!(Uri::parse("sip:h.example.com:+5060").is_err());
    assert!(Uri::parse("sip:h.example.com:").is_err());
    assert!(Uri::parse("sip:h.example.com:65536").is_err());
    assert_eq!(
        Uri::parse("sip:h.example.com:05060").unwrap().port,
        Some(5060)
    );
    let e = parse(&options_with(
        "Via",
        "Via: SIP/2.0/UDP h.example.com:-1;branch=z9hG4bKe",
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Header);
}

#[test]
fn bare_cr_inside_a_header_is_refused() {
    // Another stack could take the CR as a line end and see an injected header.
    let e = parse(&options_with("Subject", "Subject: hi\rX-Injected: 1")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Header);
    let resp = e.response().unwrap();
    assert!(resp.headers.iter().all(|(_, v)| !v.contains('\r')));
}

#[test]
fn sip_version_is_case_insensitive() {
    let raw = String::from_utf8(options_with("X", "X: y")).unwrap();
    let lower = raw.replacen("SIP/2.0\r\n", "sip/2.0\r\n", 1);
    assert_eq!(datagram_verdict(lower.as_bytes()), Verdict::Accept);
    let other = raw.replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    assert_eq!(datagram_verdict(other.as_bytes()), Verdict::Status(505));
    let resp = b"sip/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKr\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    assert!(matches!(parse(resp), Ok(Message::Response(r)) if r.status == 180));
}

#[test]
fn methods_are_case_sensitive() {
    // `options` is an unknown method whose CSeq matches: 501.
    let raw = String::from_utf8(options_with("CSeq", "CSeq: 1 options")).unwrap();
    let raw = raw.replacen("OPTIONS sip:", "options sip:", 1);
    assert_eq!(datagram_verdict(raw.as_bytes()), Verdict::Status(501));
    // OPTIONS with a lower-case CSeq method is a mismatch: 400.
    let raw = options_with("CSeq", "CSeq: 1 options");
    assert_eq!(datagram_verdict(&raw), Verdict::Status(400));
}

#[test]
fn empty_via_gets_no_answer() {
    let e = parse(&options_with("Via", "Via: ")).unwrap_err();
    assert!(e.response().is_none(), "nowhere to send a 400");
}

#[test]
fn repeated_single_headers_and_counts() {
    for name in ["To", "From", "CSeq", "Max-Forwards"] {
        let raw = String::from_utf8(options_with("X", "X: y")).unwrap();
        let line = raw
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap();
        let doubled = raw.replacen(line, &format!("{line}\r\n{line}"), 1);
        let e = parse(doubled.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Required, "{name}");
    }
    // Via, Contact and unknown headers may repeat.
    let raw = options_with("Contact", "Contact: <sip:x@h>, <sip:y@h>\r\nm: <sip:z@h>");
    let Ok(Message::Request(req)) = parse(&raw) else {
        panic!("contacts")
    };
    assert_eq!(req.contacts().unwrap().len(), 3);
    // `*` alone is the un-REGISTER form.
    let raw = options_with("Contact", "Contact: *");
    let Ok(Message::Request(req)) = parse(&raw) else {
        panic!("star")
    };
    assert!(req.contacts().unwrap().is_empty());
}

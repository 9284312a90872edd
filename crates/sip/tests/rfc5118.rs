//! RFC 5118 IPv6 torture messages. The files have bare LF line endings, two carry a wrong
//! Content-Length and two lack the blank line that ends the headers (see MANIFEST.tsv).

mod common;

use common::{
    StreamEvent, Verdict, corpus, corpus_files, datagram_verdict, manifest_files, stream,
};
use vaxel_sip::{ErrorKind, Message, Request, SipMessage, parse};

const DIR: &str = "rfc5118";

use Verdict::{Accept, Status};

/// The verdict on each file as received, with the engine's policy (REGISTER gets 405).
const EXPECTED: &[(&str, Verdict)] = &[
    ("ipv4-mapped-ipv6", Accept),
    ("ipv6-bad", Status(400)),
    // The extra colon is tolerated: the reference is kept as written.
    ("ipv6-bug-abnf-3-colons", Accept),
    ("ipv6-correct-abnf-2-colons", Accept),
    ("ipv6-good", Status(405)),
    // Content-Length 268 for 242 body bytes: a datagram that ends before its body is an
    // error and a request gets 400 (RFC 3261 §18.3). We stay strict on the raw file and
    // feed a corrected copy to the tests of what the message means.
    ("ipv6-in-sdp", Status(400)),
    ("mult-ip-in-header", Accept),
    // Content-Length 181 for 180 body bytes: same as above.
    ("mult-ip-in-sdp", Status(400)),
    ("port-ambiguous", Status(405)),
    ("port-unambiguous", Status(405)),
    ("via-received-param-no-delim", Accept),
    ("via-received-param-with-delim", Accept),
];

/// The verdicts once the Content-Length matches the body.
const EXPECTED_FIXED: &[(&str, Verdict)] = &[("ipv6-in-sdp", Accept), ("mult-ip-in-sdp", Accept)];

fn expected(file: &str, fixed: bool) -> Verdict {
    let table = if fixed {
        EXPECTED_FIXED
            .iter()
            .chain(EXPECTED)
            .find(|(f, _)| *f == file)
    } else {
        EXPECTED.iter().find(|(f, _)| *f == file)
    };
    table.map(|(_, v)| *v).expect(file)
}

/// The message with its Content-Length set to the bytes after the blank line.
fn fix_content_length(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let Some(split) = text
        .find("\n\n")
        .map(|i| i + 2)
        .or_else(|| text.find("\r\n\r\n").map(|i| i + 4))
    else {
        return bytes.to_vec();
    };
    let (head, body) = text.split_at(split);
    let head: String = head
        .split_inclusive('\n')
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                let eol = if line.ends_with("\r\n") { "\r\n" } else { "\n" };
                format!("Content-Length: {}{eol}", body.len())
            } else {
                line.to_string()
            }
        })
        .collect();
    format!("{head}{body}").into_bytes()
}

/// LF line endings turned into CRLF.
fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 32);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn request_bytes(bytes: &[u8]) -> Request {
    match parse(bytes) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn request(file: &str) -> Request {
    request_bytes(&fix_content_length(&corpus(DIR, file)))
}

#[test]
fn table_covers_every_file() {
    let files = corpus_files(DIR);
    assert_eq!(files, manifest_files(DIR));
    let mut listed: Vec<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(listed, files);
}

#[test]
fn verdicts_raw_fixed_and_crlf() {
    let mut wrong = Vec::new();
    for (file, _) in EXPECTED {
        let raw = corpus(DIR, file);
        let fixed = fix_content_length(&raw);
        let cases = [
            ("raw", datagram_verdict(&raw), expected(file, false)),
            ("fixed", datagram_verdict(&fixed), expected(file, true)),
            (
                "crlf+fixed",
                datagram_verdict(&fix_content_length(&to_crlf(&raw))),
                expected(file, true),
            ),
        ];
        for (how, got, want) in cases {
            if got != want {
                wrong.push(format!("{file} ({how}): expected {want:?}, got {got:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn wrong_content_lengths_are_the_only_sdp_problem() {
    for file in ["ipv6-in-sdp", "mult-ip-in-sdp"] {
        let e = parse(&corpus(DIR, file)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ContentLength, "{file}");
        assert!(!e.is_fatal_for_stream(), "{file}");
        let req = request(file);
        assert_eq!(req.content_type().as_deref(), Some("application/sdp"));
        let body = String::from_utf8(req.body).unwrap();
        assert!(
            body.starts_with("v=0\n") && body.contains("IN IP6 2001:db8::"),
            "{file}"
        );
    }
}

#[test]
fn ipv6_bad_is_refused() {
    let e = parse(&corpus(DIR, "ipv6-bad")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Uri);
    let resp = e.response().unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.headers.get("Via"),
        Some("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111")
    );
}

#[test]
fn ipv6_references_in_uri_via_and_contact() {
    let req = request("ipv6-good");
    assert_eq!(
        (req.uri.host.as_str(), req.uri.port),
        ("[2001:db8::10]", None)
    );
    let via = req.top_via().unwrap();
    assert_eq!((via.host.as_str(), via.port), ("[2001:db8::9:1]", None));
    let contact = req.contacts().unwrap().remove(0);
    assert_eq!(contact.uri.host, "[2001:db8::1]");
    assert_eq!(contact.display.as_deref(), Some("Caller"));
}

#[test]
fn port_outside_the_brackets_only() {
    let req = request("port-unambiguous");
    assert_eq!(req.uri.host, "[2001:db8::10]");
    assert_eq!(req.uri.port, Some(5070));
    let req = request("port-ambiguous");
    assert_eq!(req.uri.host, "[2001:db8::10:5070]");
    assert_eq!(req.uri.port, None);
}

#[test]
fn via_received_with_and_without_brackets() {
    let via = request("via-received-param-with-delim")
        .top_via()
        .cloned()
        .unwrap();
    assert_eq!(via.received(), Some("[2001:db8::9:255]"));
    assert_eq!(via.branch(), Some("z9hG4bKas3-111"));
    let via = request("via-received-param-no-delim")
        .top_via()
        .cloned()
        .unwrap();
    assert_eq!(via.received(), Some("2001:db8::9:255"));
    assert_eq!(via.branch(), Some("z9hG4bKas3"));
}

#[test]
fn mixed_ip_versions_in_vias() {
    let vias = request("mult-ip-in-header").vias().unwrap();
    let got: Vec<(&str, Option<u16>, &str)> = vias
        .iter()
        .map(|v| (v.host.as_str(), v.port, v.transport.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("[2001:db8::9:1]", Some(6050), "UDP"),
            ("192.0.2.1", None, "UDP"),
            ("[2001:db8::9:255]", None, "TCP"),
        ]
    );
    assert_eq!(vias[2].received(), Some("192.0.2.200"));
}

#[test]
fn ipv4_mapped_addresses() {
    let req = request("ipv4-mapped-ipv6");
    let vias = req.vias().unwrap();
    assert_eq!(
        (vias[0].host.as_str(), vias[0].port),
        ("[::ffff:192.0.2.10]", Some(19823))
    );
    assert_eq!(vias[1].host, "[::ffff:192.0.2.2]");
    assert_eq!(req.contacts().unwrap()[0].uri.host, "[::ffff:192.0.2.2]");
    assert_eq!(req.body.len(), 236);
}

#[test]
fn abnf_bug_three_colons_tolerated() {
    let req = request("ipv6-bug-abnf-3-colons");
    assert_eq!(req.uri.host, "[2001:db8:::192.0.2.1]");
    assert_eq!(req.to().unwrap().uri.host, "[2001:db8:::192.0.2.1]");
    let req = request("ipv6-correct-abnf-2-colons");
    assert_eq!(req.uri.host, "[2001:db8::192.0.2.1]");
    // These files have no blank line after the headers: as a datagram that is all head.
    assert!(req.body.is_empty());
}

#[test]
fn on_a_stream() {
    use StreamEvent::Message;
    for (file, _) in EXPECTED {
        let raw = corpus(DIR, file);
        let (want, waits) = match *file {
            // No blank line closes the head: a stream waits for it.
            "ipv6-bug-abnf-3-colons" | "ipv6-correct-abnf-2-colons" => (vec![], true),
            // The Content-Length runs past the data: a stream waits for the rest.
            "ipv6-in-sdp" | "mult-ip-in-sdp" => (vec![], true),
            other => (vec![Message(expected(other, false))], false),
        };
        for chunk in [1, 7, raw.len()] {
            let (got, left) = stream(&raw, chunk);
            assert_eq!(got, want, "{file} in {chunk}-byte chunks");
            assert_eq!(left > 0, waits, "{file} in {chunk}-byte chunks");
        }
        let fixed = fix_content_length(&raw);
        if !waits || file.ends_with("sdp") {
            let (got, left) = stream(&fixed, 7);
            assert_eq!(got, vec![Message(expected(file, true))], "{file} fixed");
            assert_eq!(left, 0);
        }
    }
}

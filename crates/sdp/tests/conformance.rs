//! SDP bodies from the RFC 4475 and RFC 5118 SIP torture-test corpora.

use std::net::IpAddr;
use std::path::PathBuf;

use vaxel_sdp::{Codec, SdpError, SessionDescription, negotiate};

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(rel)
}

/// The message body: everything after the first empty line (CRLF or LF framing).
fn body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let crlf = text.find("\r\n\r\n").map(|i| i + 4);
    let lf = text.find("\n\n").map(|i| i + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(text.len()),
    };
    text[start..].to_string()
}

#[test]
fn rfc4475_sdp_bodies() {
    let mut parsed = 0;
    let mut entries: Vec<_> = std::fs::read_dir(corpus("rfc4475"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let sdp = body(&std::fs::read(&path).unwrap());
        if !sdp.starts_with("v=0") {
            continue; // no body, or a body that is not SDP (multipart, a second request)
        }
        let result = SessionDescription::parse(&sdp);
        if name == "test.dat" {
            // "testing=123" is not an SDP line.
            assert!(
                matches!(result, Err(SdpError::BadLine { line: 2, .. })),
                "{result:?}"
            );
            continue;
        }
        let sd = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        parsed += 1;
        assert_eq!(sd.origin.username, "mhandley", "{name}");
        assert!(matches!(sd.connection, Some(IpAddr::V4(_))), "{name}");
        let audio = &sd.media[0];
        assert_eq!(
            (audio.kind.as_str(), audio.port),
            ("audio", 49217),
            "{name}"
        );
        assert_eq!(audio.formats[0], 0, "{name}");
        if let Some(video) = sd.media.get(1) {
            assert_eq!((video.kind.as_str(), video.port), ("video", 3227));
            assert_eq!(video.rtpmap(31).unwrap().name, "LPC");
        }
        let neg = negotiate(&sd, &[Codec::Pcma, Codec::Pcmu]).unwrap();
        assert_eq!(
            neg.codec,
            Codec::Pcmu,
            "{name}: PCMU is the only common codec"
        );
        assert_eq!(neg.remote.port(), 49217);
        assert_eq!(Some(neg.remote.ip()), sd.connection);
        assert_eq!(neg.declined.len(), sd.media.len());
    }
    assert!(parsed >= 15, "only {parsed} SDP bodies found");
}

#[test]
fn wsinv_uses_session_connection() {
    let sd = SessionDescription::parse(&body(&std::fs::read(corpus("rfc4475/wsinv.dat")).unwrap()))
        .unwrap();
    assert_eq!(sd.origin.address, "192.0.2.3");
    assert_eq!(sd.connection, Some("192.0.2.4".parse().unwrap()));
}

#[test]
fn rfc5118_ipv6_in_sdp() {
    let sd = SessionDescription::parse(&body(
        &std::fs::read(corpus("rfc5118/ipv6-in-sdp")).unwrap(),
    ))
    .unwrap();
    assert_eq!(sd.origin.addr_type, "IP6");
    assert_eq!(sd.connection, Some("2001:db8::20".parse().unwrap()));
    assert_eq!(sd.media.len(), 2);
    assert_eq!(sd.media[0].rtpmap(2).unwrap().name, "G726-32");
    // G.726 only: nothing we speak.
    assert_eq!(negotiate(&sd, &Codec::ALL), Err(SdpError::NoCommonCodec));
}

#[test]
fn rfc5118_mult_ip_in_sdp() {
    let sd = SessionDescription::parse(&body(
        &std::fs::read(corpus("rfc5118/mult-ip-in-sdp")).unwrap(),
    ))
    .unwrap();
    assert_eq!(sd.origin.address, "host.example.com");
    assert_eq!(sd.connection, None);
    assert_eq!(sd.media[0].connection, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(sd.media[1].connection, Some("2001:db8::1".parse().unwrap()));
    let neg = negotiate(&sd, &Codec::ALL).unwrap();
    assert_eq!(neg.remote, "192.0.2.1:22334".parse().unwrap());
    assert_eq!(neg.codec, Codec::Pcmu);
    assert_eq!(neg.media_index, 0);
}

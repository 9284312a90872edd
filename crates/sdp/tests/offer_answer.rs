//! Negotiation and answer/offer writing.

use std::net::{IpAddr, SocketAddr};

use vaxel_sdp::{Codec, Direction, SdpError, SessionDescription, answer, negotiate, offer};

/// SIPp's built-in `uac` scenario body, with its placeholders filled in.
const SIPP_OFFER: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s).unwrap()
}

#[test]
fn sipp_default_offer() {
    let neg = negotiate(&parse(SIPP_OFFER), &Codec::ALL).unwrap();
    assert_eq!(neg.codec, Codec::Pcmu);
    assert_eq!(neg.payload_type, 0);
    assert_eq!(neg.telephone_event, None);
    assert_eq!(neg.remote, "127.0.0.1:6000".parse::<SocketAddr>().unwrap());
    assert_eq!(neg.ptime, 20);
    assert_eq!(neg.direction, Direction::SendRecv);
    // Only PCMA supported: no common codec.
    assert_eq!(
        negotiate(&parse(SIPP_OFFER), &[Codec::Pcma]),
        Err(SdpError::NoCommonCodec)
    );
}

#[test]
fn g729_only_is_no_common_codec() {
    let sdp = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
m=audio 4000 RTP/AVP 18 101\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\n\
a=rtpmap:101 telephone-event/8000\n";
    assert_eq!(
        negotiate(&parse(sdp), &Codec::ALL),
        Err(SdpError::NoCommonCodec)
    );
}

#[test]
fn offerer_order_wins_and_dtmf_is_picked_up() {
    // LF-only line ends, unknown attributes, PCMA listed before PCMU.
    let sdp = "v=0\no=alice 2890844526 2890844526 IN IP4 198.51.100.7\ns= \nc=IN IP4 198.51.100.7\n\
t=0 0\na=tool:softphone 1.0\nm=audio 49170 RTP/AVP 8 0 96 101\na=rtpmap:96 opus/48000/2\n\
a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:30\na=x-unknown\na=rtcp:49171\n";
    let sd = parse(sdp);
    assert_eq!(
        sd.attributes[0],
        ("tool".into(), Some("softphone 1.0".into()))
    );
    assert_eq!(sd.media[0].fmtp(101), Some("0-15"));
    let neg = negotiate(&sd, &[Codec::Pcmu, Codec::Pcma]).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcma, 8));
    assert_eq!(neg.telephone_event, Some(101));
    assert_eq!(neg.ptime, 30);
    // With only PCMU supported the second offered codec is taken.
    let neg = negotiate(&sd, &[Codec::Pcmu]).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcmu, 0));
}

#[test]
fn rtpmap_overrides_static_meaning_and_rate_must_match() {
    // PT 0 remapped to something else; PCMU at 16 kHz is not G.711.
    let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 97 98\r\na=rtpmap:0 G722/8000\r\na=rtpmap:97 PCMU/16000\r\n\
a=rtpmap:98 pcma/8000\r\n";
    let neg = negotiate(&parse(sdp), &Codec::ALL).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcma, 98));
}

#[test]
fn directions_are_mirrored() {
    for (offered, expected) in [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ] {
        let sdp = SIPP_OFFER.to_string() + &format!("a={offered}\r\n");
        let neg = negotiate(&parse(&sdp), &Codec::ALL).unwrap();
        assert_eq!(neg.direction, expected, "{offered}");
        let ans = answer(&neg, "192.0.2.9".parse().unwrap(), 20000, 1, 1);
        assert!(
            ans.contains(&format!("a={}\r\n", expected.as_str())),
            "{ans}"
        );
    }
    // Session-level direction applies when the media section has none.
    let sdp = SIPP_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    let sd = parse(&sdp);
    assert_eq!(sd.media[0].direction, Direction::SendOnly);
    assert_eq!(
        negotiate(&sd, &Codec::ALL).unwrap().direction,
        Direction::RecvOnly
    );
}

#[test]
fn answer_round_trips_and_keeps_m_line_count() {
    let sdp = "v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n\
m=video 5002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 5000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
    let neg = negotiate(&parse(sdp), &[Codec::Pcma]).unwrap();
    assert_eq!(neg.media_index, 1);
    assert_eq!(
        neg.remote,
        "[2001:db8::5]:5000".parse::<SocketAddr>().unwrap()
    );
    let local: IpAddr = "2001:db8::1".parse().unwrap();
    let text = answer(&neg, local, 30000, 42, 7);
    assert!(text.lines().count() > 5);
    assert!(
        text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
        "CRLF lines"
    );
    assert!(text.starts_with(
        "v=0\r\no=vaxel 42 7 IN IP6 2001:db8::1\r\ns=vaxel\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
    ));
    assert!(text.contains("m=video 0 RTP/AVP 96\r\n"));
    assert!(text.contains("a=fmtp:101 0-16\r\n"));
    let back = parse(&text);
    assert_eq!(back.media.len(), 2);
    assert_eq!(back.media[0].port, 0);
    let audio = &back.media[1];
    assert_eq!(
        (audio.port, audio.formats.as_slice()),
        (30000, &[8u8, 101][..])
    );
    assert_eq!(audio.rtpmap(8).unwrap().name, "PCMA");
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.direction, Direction::RecvOnly);
    assert_eq!(back.connection, Some(local));
    // And the offerer can negotiate our answer back.
    let theirs = negotiate(&back, &Codec::ALL).unwrap();
    assert_eq!(
        (theirs.codec, theirs.telephone_event),
        (Codec::Pcma, Some(101))
    );
    assert_eq!(theirs.direction, Direction::SendOnly);
}

#[test]
fn rejected_stream_is_answered_with_port_zero() {
    let sdp = SIPP_OFFER.replace("m=audio 6000", "m=audio 0");
    let neg = negotiate(&parse(&sdp), &Codec::ALL).unwrap();
    assert_eq!(neg.remote.port(), 0);
    let back = parse(&answer(&neg, "192.0.2.9".parse().unwrap(), 20000, 1, 1));
    assert_eq!(back.media[0].port, 0);
}

#[test]
fn offer_lists_codecs_in_order() {
    let text = offer(
        &[Codec::Pcma, Codec::Pcmu],
        Some(101),
        "192.0.2.9".parse().unwrap(),
        20000,
        5,
        5,
    );
    assert!(text.contains("m=audio 20000 RTP/AVP 8 0 101\r\n"), "{text}");
    let sd = parse(&text);
    assert_eq!(sd.origin.username, "vaxel");
    let neg = negotiate(&sd, &Codec::ALL).unwrap();
    assert_eq!((neg.codec, neg.telephone_event), (Codec::Pcma, Some(101)));
    assert_eq!(neg.direction, Direction::SendRecv);
    let plain = offer(
        &[Codec::Pcmu],
        None,
        "192.0.2.9".parse().unwrap(),
        20000,
        5,
        5,
    );
    assert!(!plain.contains("telephone-event"));
}

#[test]
fn typed_errors() {
    assert_eq!(SessionDescription::parse(""), Err(SdpError::Missing('v')));
    assert_eq!(
        SessionDescription::parse("o=- 1 1 IN IP4 1.2.3.4\r\n"),
        Err(SdpError::Missing('v'))
    );
    assert_eq!(
        SessionDescription::parse("v=0\r\ns=-\r\n"),
        Err(SdpError::Missing('o'))
    );
    let bad = |s: &str| matches!(SessionDescription::parse(s), Err(SdpError::BadLine { .. }));
    assert!(bad("v=1\r\n"));
    assert!(bad("v=0\r\no=short\r\n"));
    assert!(bad("v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 not-an-ip\r\n"));
    assert!(bad(
        "v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 70000 RTP/AVP 0\r\n"
    ));
    assert!(bad(
        "v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\n"
    ));
    assert!(bad("v=0\r\no=- 1 1 IN IP4 a\r\nm =audio 1 RTP/AVP 0\r\n"));
    let no_c = "v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 1 RTP/AVP 0\r\n";
    assert_eq!(
        negotiate(&parse(no_c), &Codec::ALL),
        Err(SdpError::NoConnection)
    );
    let video = "v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 10.0.0.1\r\nm=video 1 RTP/AVP 31\r\n";
    assert_eq!(
        negotiate(&parse(video), &Codec::ALL),
        Err(SdpError::NoAudio)
    );
    let srtp = "v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/SAVP 0\r\n";
    assert_eq!(
        negotiate(&parse(srtp), &Codec::ALL),
        Err(SdpError::UnsupportedProfile("RTP/SAVP".into()))
    );
}

#[test]
fn multicast_ttl_and_port_count_are_tolerated() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\nm=audio 49170/2 RTP/AVP 8\r\na=ptime:20.0\r\n";
    let neg = negotiate(&parse(sdp), &Codec::ALL).unwrap();
    assert_eq!(neg.remote, "224.2.1.1:49170".parse::<SocketAddr>().unwrap());
    assert_eq!(neg.ptime, 20);
}

#[test]
fn garbage_never_panics() {
    let base = SIPP_OFFER.as_bytes();
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..5000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let mut bytes = base.to_vec();
        let pos = (s % bytes.len() as u64) as usize;
        bytes[pos] = (s >> 32) as u8;
        bytes.truncate(((s >> 16) % (base.len() as u64 + 1)) as usize);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(sd) = SessionDescription::parse(&text) {
            let _ = negotiate(&sd, &Codec::ALL);
        }
    }
}

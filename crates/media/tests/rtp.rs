//! RTP writing and parsing.

use vaxel_media::{Codec, MediaError, Playout, Prompt, RtpReject, RtpSender, parse_rtp};

#[test]
fn header_layout_marker_and_increments() {
    let mut tx = RtpSender::new(0xDEAD_BEEF, 1000, 50_000, Codec::Pcma.payload_type());
    let payload = [0xD5u8; 160];
    let mut out = Vec::new();
    tx.write_packet(&payload, &mut out);
    assert_eq!(out.len(), 172);
    assert_eq!(
        &out[..12],
        &[
            0x80, 0x88, 0x03, 0xE8, 0x00, 0x00, 0xC3, 0x50, 0xDE, 0xAD, 0xBE, 0xEF
        ]
    );
    assert_eq!(&out[12..], &payload[..]);
    assert_eq!(
        (tx.seq(), tx.timestamp(), tx.ssrc()),
        (1001, 50_160, 0xDEAD_BEEF)
    );

    out.clear();
    tx.write_packet(&payload, &mut out);
    let p = parse_rtp(&out).unwrap();
    assert!(!p.marker, "marker only on the first packet");
    assert_eq!((p.seq, p.timestamp, p.payload_type), (1001, 50_160, 8));
}

#[test]
fn seq_and_timestamp_wrap_around() {
    let mut tx = RtpSender::new(1, u16::MAX, u32::MAX - 100, 0);
    let mut out = Vec::new();
    tx.write_packet(&[0xFF; 160], &mut out);
    assert_eq!(tx.seq(), 0);
    assert_eq!(tx.timestamp(), 59);
    let mut second = Vec::new();
    tx.write_packet(&[0xFF; 160], &mut second);
    let a = parse_rtp(&out).unwrap();
    let b = parse_rtp(&second).unwrap();
    assert_eq!((a.seq, a.timestamp), (u16::MAX, u32::MAX - 100));
    assert_eq!((b.seq, b.timestamp), (0, 59));
    assert!(a.marker && !b.marker);
}

#[test]
fn skip_advances_time_and_marks_next_packet() {
    let mut tx = RtpSender::new(7, 10, 0, 0);
    let mut out = Vec::new();
    tx.write_packet(&[0; 160], &mut out);
    tx.skip(0); // no time passed: no new talkspurt
    out.clear();
    tx.write_packet(&[0; 160], &mut out);
    assert!(!parse_rtp(&out).unwrap().marker);
    tx.skip(800);
    out.clear();
    tx.write_packet(&[0; 160], &mut out);
    let p = parse_rtp(&out).unwrap();
    assert!(p.marker);
    assert_eq!((p.seq, p.timestamp), (12, 1120));
}

#[test]
fn stream_is_continuous_across_prompts_and_repeats() {
    let mut play = Playout::new();
    play.push(Prompt::from_samples_8k(vec![100; 400]), 3); // 3 frames x 3
    play.push(
        vaxel_media::tones::silence(std::time::Duration::from_millis(40)),
        1,
    );
    let mut tx = RtpSender::new(42, 65_530, 0, 0);
    let mut packets = Vec::new();
    while let Some(frame) = play.next_frame(Codec::Pcmu) {
        let mut out = Vec::new();
        tx.write_packet(frame, &mut out);
        packets.push(out);
    }
    assert_eq!(packets.len(), 11);
    for (i, raw) in packets.iter().enumerate() {
        let p = parse_rtp(raw).unwrap();
        assert_eq!(p.ssrc, 42);
        assert_eq!(p.seq, 65_530u16.wrapping_add(i as u16));
        assert_eq!(p.timestamp, 160 * i as u32);
        assert_eq!(p.marker, i == 0);
        assert_eq!(p.payload.len(), 160);
    }
}

#[test]
fn parses_csrc_extension_and_padding() {
    let mut pkt = vec![
        0xB2, 0x00, 0x00, 0x05, 0, 0, 0, 9, 0, 0, 0, 1, // V=2 P=1 X=1 CC=2, PT 0
        0, 0, 0, 0xAA, 0, 0, 0, 0xBB, // two CSRCs
        0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4, // extension, one word
    ];
    pkt.extend_from_slice(&[9, 8, 7]); // payload
    pkt.extend_from_slice(&[0, 0, 3]); // 3 bytes padding
    let p = parse_rtp(&pkt).unwrap();
    assert_eq!(p.payload, &[9, 8, 7]);
    assert_eq!((p.seq, p.timestamp, p.ssrc), (5, 9, 1));
}

fn reject(buf: &[u8]) -> RtpReject {
    match parse_rtp(buf) {
        Err(MediaError::BadRtp(r)) => r,
        other => panic!("expected BadRtp, got {other:?}"),
    }
}

#[test]
fn rejects_bad_packets() {
    assert!(matches!(reject(&[]), RtpReject::Truncated { .. }));
    assert!(matches!(reject(&[0x80, 0, 0]), RtpReject::Truncated { .. }));
    let mut v1 = vec![0x40u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF];
    assert_eq!(reject(&v1), RtpReject::Version(1));
    v1[0] = 0x00;
    assert_eq!(reject(&v1), RtpReject::Version(0));
    // RTCP receiver report (PT 201) arriving on the RTP port (rtcp-mux).
    let rr = [0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0];
    assert_eq!(reject(&rr), RtpReject::Rtcp(201));
    let sr = [0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 2];
    assert_eq!(reject(&sr), RtpReject::Rtcp(200));
    // CSRC count claims more than present.
    assert!(matches!(
        reject(&[0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
        RtpReject::Truncated { .. }
    ));
    // Padding count larger than the packet.
    assert!(matches!(
        reject(&[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 50]),
        RtpReject::Truncated { .. }
    ));
    // Padding count zero.
    assert_eq!(
        reject(&[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0]),
        RtpReject::Padding
    );
    // Dynamic PTs outside 72..=76 still pass (e.g. telephone-event 101, marker set).
    let te = [
        0x80,
        0x80 | 101,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        1,
        0x8A,
        0,
        0xA0,
    ];
    let p = parse_rtp(&te).unwrap();
    assert_eq!((p.payload_type, p.marker), (101, true));
}

#[test]
fn garbage_never_panics() {
    // Deterministic xorshift fuzz: every prefix of random datagrams parses or is rejected.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let len = (s % 64) as usize;
        let mut buf: Vec<u8> = (0..len).map(|i| (s >> (i % 8 * 8)) as u8).collect();
        if let Some(b) = buf.first_mut() {
            *b = (*b & 0x3F) | 0x80; // mostly version 2, to reach the deeper checks
        }
        if let Ok(p) = parse_rtp(&buf) {
            assert!(p.payload.len() <= buf.len().saturating_sub(12));
        }
    }
}

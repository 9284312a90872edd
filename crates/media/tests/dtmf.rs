//! RFC 4733 telephone-events and SIP INFO bodies: every key press becomes exactly one digit.

use vaxel_media::dtmf::{DIGITS, EventReceiver, digit_from_event, parse_info};

/// A telephone-event payload: event, end bit, volume 10, duration.
fn ev(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let [d0, d1] = duration.to_be_bytes();
    [event, if end { 0x80 | 10 } else { 10 }, d0, d1]
}

/// One key press as a typical phone sends it: start (marker), continuations every 400
/// units (50 ms), then the end packet three times.
fn press(ts: u32, event: u8, packets: u16) -> Vec<(u32, bool, [u8; 4])> {
    let mut out = vec![(ts, true, ev(event, false, 0))];
    for i in 1..packets {
        out.push((ts, false, ev(event, false, i * 400)));
    }
    for _ in 0..3 {
        out.push((ts, false, ev(event, true, packets * 400)));
    }
    out
}

fn feed(rx: &mut EventReceiver, packets: &[(u32, bool, [u8; 4])]) -> String {
    packets
        .iter()
        .filter_map(|(ts, m, p)| rx.on_packet(*ts, *m, p))
        .collect()
}

#[test]
fn event_codes_map_to_keys() {
    let keys: String = (0..=15).filter_map(digit_from_event).collect();
    assert_eq!(keys, "0123456789*#ABCD");
    assert_eq!(DIGITS.iter().collect::<String>(), keys);
    assert_eq!(digit_from_event(16), None);
    assert_eq!(digit_from_event(255), None);
}

#[test]
fn one_digit_per_event_at_its_first_packet() {
    let mut rx = EventReceiver::new();
    let packets = press(1000, 5, 4);
    assert_eq!(
        rx.on_packet(packets[0].0, packets[0].1, &packets[0].2),
        Some('5')
    );
    assert_eq!(feed(&mut rx, &packets[1..]), "");
}

#[test]
fn every_key_in_sequence() {
    let mut rx = EventReceiver::new();
    let mut all = Vec::new();
    for code in 0..16u8 {
        all.extend(press(1000 + u32::from(code) * 3200, code, 3));
    }
    assert_eq!(feed(&mut rx, &all), "0123456789*#ABCD");
}

#[test]
fn same_digit_twice_is_two_digits() {
    let mut rx = EventReceiver::new();
    let mut all = press(8000, 1, 3);
    all.extend(press(8000 + 2400, 1, 3));
    assert_eq!(feed(&mut rx, &all), "11");
}

#[test]
fn late_end_packets_after_the_next_event_began_are_ignored() {
    let mut rx = EventReceiver::new();
    let first = press(100, 2, 3);
    let second = press(100 + 1600, 3, 3);
    // First event's start and continuations, then the second event starts before the
    // redundant end packets of the first arrive; they trickle in interleaved.
    let mut seq = first[..3].to_vec();
    seq.push(second[0]);
    seq.push(first[3]);
    seq.push(second[1]);
    seq.push(first[4]);
    seq.push(first[5]);
    seq.extend_from_slice(&second[2..]);
    assert_eq!(feed(&mut rx, &seq), "23");
}

#[test]
fn reordered_packets_within_an_event_report_once() {
    let mut rx = EventReceiver::new();
    let mut p = press(5000, 9, 4);
    p.swap(0, 2); // a continuation overtakes the start packet
    p.swap(4, 6); // end packets reordered
    p.reverse(); // worst case: everything backwards
    assert_eq!(feed(&mut rx, &p), "9");
}

#[test]
fn start_packet_lost_still_reports_once() {
    let mut rx = EventReceiver::new();
    let p = press(7000, 0, 3);
    assert_eq!(feed(&mut rx, &p[1..]), "0");
}

#[test]
fn only_end_packets_received_reports_once() {
    let mut rx = EventReceiver::new();
    let p = press(7000, 11, 3);
    assert_eq!(feed(&mut rx, &p[3..]), "#");
}

#[test]
fn non_dtmf_events_are_ignored_and_stay_silent() {
    let mut rx = EventReceiver::new();
    let mut all = press(100, 16, 3); // flash
    all.extend(press(3000, 4, 2));
    all.extend(press(6000, 32, 2)); // a tone event
    all.extend(press(9000, 7, 2));
    assert_eq!(feed(&mut rx, &all), "47");
}

#[test]
fn short_payloads_are_ignored() {
    let mut rx = EventReceiver::new();
    assert_eq!(rx.on_packet(1, true, &[]), None);
    assert_eq!(rx.on_packet(1, true, &[5, 0, 0]), None);
    // A payload with trailing bytes (padding) is still read.
    assert_eq!(rx.on_packet(2, true, &[5, 10, 0, 0, 0]), Some('5'));
}

#[test]
fn timestamp_wraparound() {
    let mut rx = EventReceiver::new();
    let mut all = press(u32::MAX - 100, 1, 3);
    all.extend(press(u32::MAX.wrapping_add(3000), 2, 3));
    assert_eq!(feed(&mut rx, &all), "12");
}

#[test]
fn long_event_segments_are_one_digit() {
    // RFC 4733 §2.5.1.3: a press longer than 0xFFFF units continues in a new segment at
    // timestamp + 0xFFFF, without the marker bit.
    let mut rx = EventReceiver::new();
    let ts = 40_000u32;
    let mut seq = vec![(ts, true, ev(6, false, 0))];
    for d in (400..=0xFE00u16).step_by(4000) {
        seq.push((ts, false, ev(6, false, d)));
    }
    seq.push((ts, false, ev(6, false, 0xFFFF)));
    let ts2 = ts + 0xFFFF;
    seq.push((ts2, false, ev(6, false, 400)));
    for _ in 0..3 {
        seq.push((ts2, false, ev(6, true, 800)));
    }
    assert_eq!(feed(&mut rx, &seq), "6");
    // A new press of the same key afterwards (with marker) is a new digit.
    assert_eq!(feed(&mut rx, &press(ts2 + 4000, 6, 2)), "6");
}

#[test]
fn same_key_after_lost_marker_and_ended_previous_is_new() {
    let mut rx = EventReceiver::new();
    let mut all = press(1000, 8, 2);
    all.extend(press(4000, 8, 2).into_iter().skip(1));
    assert_eq!(feed(&mut rx, &all), "88");
}

#[test]
fn late_end_packets_after_several_events_are_ignored() {
    // Ends of an event arriving after 3 more events: still silent.
    let mut rx = EventReceiver::new();
    let first = press(0, 1, 2);
    let mut seq = first[..2].to_vec();
    for k in 1..=3u32 {
        seq.extend(press(k * 2000, 2 + k as u8, 2));
    }
    seq.extend_from_slice(&first[2..]);
    assert_eq!(feed(&mut rx, &seq), "1345");
}

#[test]
fn reset_forgets_seen_events() {
    let mut rx = EventReceiver::new();
    assert_eq!(rx.on_packet(10, true, &ev(3, false, 0)), Some('3'));
    assert_eq!(rx.on_packet(10, false, &ev(3, false, 400)), None);
    rx.reset();
    assert_eq!(rx.on_packet(10, false, &ev(3, false, 800)), Some('3'));
}

#[test]
fn info_dtmf_relay() {
    let ct = "application/dtmf-relay";
    assert_eq!(parse_info(ct, b"Signal=5\r\nDuration=160\r\n"), Some('5'));
    assert_eq!(parse_info(ct, b"Signal=5\r\nDuration=160"), Some('5'));
    assert_eq!(parse_info(ct, b"signal= 7\nduration= 250\n"), Some('7'));
    assert_eq!(parse_info(ct, b"Duration=100\r\nSIGNAL = #\r\n"), Some('#'));
    assert_eq!(parse_info(ct, b"Signal=*\r\nDuration=160\r\n"), Some('*'));
    assert_eq!(parse_info(ct, b"Signal=10\r\nDuration=160\r\n"), Some('*'));
    assert_eq!(parse_info(ct, b"Signal=11\r\nDuration=160\r\n"), Some('#'));
    assert_eq!(parse_info(ct, b"Signal=d\r\n"), Some('D'));
    assert_eq!(parse_info(ct, b"Signal=12\r\n"), Some('A'));
    assert_eq!(parse_info(ct, b"  Signal=0  \r\n"), Some('0'));
    assert_eq!(
        parse_info("Application/DTMF-Relay; charset=utf-8", b"Signal=3"),
        Some('3')
    );
    assert_eq!(parse_info(ct, b"Signal=\r\nDuration=160"), None);
    assert_eq!(parse_info(ct, b"Signal=16\r\n"), None);
    assert_eq!(parse_info(ct, b"Signal=E\r\n"), None);
    assert_eq!(parse_info(ct, b"Signal=55\r\n"), None);
    assert_eq!(parse_info(ct, b"Duration=160\r\n"), None);
    assert_eq!(parse_info(ct, b""), None);
    assert_eq!(parse_info(ct, b"Signal=\xff\r\n"), None);
}

#[test]
fn info_dtmf_plain() {
    let ct = "application/dtmf";
    for (body, key) in [
        (&b"5"[..], '5'),
        (b"5\r\n", '5'),
        (b" 9 ", '9'),
        (b"*", '*'),
        (b"#\n", '#'),
        (b"b", 'B'),
        (b"10", '*'),
        (b"11", '#'),
    ] {
        assert_eq!(parse_info(ct, body), Some(key), "{body:?}");
    }
    assert_eq!(parse_info("APPLICATION/DTMF", b"4"), Some('4'));
    assert_eq!(parse_info(ct, b""), None);
    assert_eq!(parse_info(ct, b"x"), None);
    assert_eq!(parse_info(ct, b"12345"), None);
}

#[test]
fn info_other_content_types_are_not_dtmf() {
    assert_eq!(parse_info("application/sdp", b"5"), None);
    assert_eq!(parse_info("text/plain", b"Signal=5"), None);
    assert_eq!(parse_info("application/dtmf-relayx", b"Signal=5"), None);
    assert_eq!(parse_info("", b"5"), None);
}

//! The media a caller hears: 20 ms pacing, continuous seq/ts across a repeat, one SSRC,
//! the marker on the first packet only, and payloads byte-equal to the prompt's G.711
//! frames, for PCMU and PCMA offers; answered (200 + BYE) and early media (183 + 480).
//! Loose pacing bounds here (the machine is shared); the exact numbers belong to bench/.

mod common;

use std::time::{Duration, Instant};

use common::{PROMPT, Vaxel, did};
use vaxel_testua::{Call, Codec, Prompt, RtpReport, check_prompt_payloads};

const LONG: Duration = Duration::from_secs(40);

fn prompt() -> Prompt {
    Prompt::load(&common::sounds_dir().join(PROMPT)).expect("load the test prompt")
}

/// The codec of the server's SDP, checked to be the one offered.
fn assert_answered_with(call: &Call, codec: Codec) {
    let sdp = call.answer().expect("an SDP answer");
    let m = sdp.media.first().expect("an m= line");
    assert_eq!(
        m.formats.first().copied(),
        Some(codec.payload_type()),
        "answer picks the offered codec first: {sdp:?}"
    );
    assert!(call.remote_media().is_some_and(|a| a.port() != 0));
}

/// Judges a finished prompt stream played `plays` times.
fn assert_prompt_stream(call: &Call, codec: Codec, plays: usize, what: &str) {
    call.rtp()
        .wait_quiet(Duration::from_millis(300), LONG)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let packets = call.rtp().packets();
    let report = RtpReport::analyse(&packets);
    eprintln!(
        "{what}: {} packets, median gap {:?}, p99 {:?}, max {:?}",
        report.packets, report.median_gap, report.p99_gap, report.max_gap
    );
    if let Err(e) = report.check_continuous() {
        panic!("{what}: stream not continuous: {e}");
    }
    if let Err(e) = check_prompt_payloads(&packets, &prompt(), codec, plays) {
        panic!("{what}: payloads: {e}");
    }
    if let Err(e) = report.check_pacing(
        Duration::from_millis(20),
        Duration::from_millis(2),
        Duration::from_millis(60),
    ) {
        panic!("{what}: pacing: {e}");
    }
}

fn answered_twice(vaxel: &Vaxel, codec: Codec) {
    let ua = vaxel.ua();
    let mut call = ua.invite(did::ANSWERED_TWICE, &[codec]).expect("INVITE");
    call.wait_status(200, Duration::from_secs(10))
        .expect("200 OK");
    call.ack().expect("ACK");
    assert_answered_with(&call, codec);
    call.wait_bye_and_ok(LONG)
        .expect("vaxel's BYE after the prompt");
    let bye_at = Instant::now();
    let last = call
        .rtp()
        .packets()
        .last()
        .map(|p| p.at)
        .expect("RTP before the BYE");
    assert!(last <= bye_at, "RTP after the BYE");
    assert_prompt_stream(&call, codec, 2, &format!("answered {codec}"));
}

fn early_twice(vaxel: &Vaxel, codec: Codec) {
    let ua = vaxel.ua();
    let mut call = ua.invite(did::EARLY_TWICE, &[codec]).expect("INVITE");
    let progress = call
        .wait_status(183, Duration::from_secs(10))
        .expect("183 Session Progress");
    assert!(!progress.body.is_empty(), "183 carries SDP");
    assert_answered_with(&call, codec);
    call.wait_status(480, LONG).expect("480 after the prompt");
    call.ack().expect("ACK");
    assert_prompt_stream(&call, codec, 2, &format!("early media {codec}"));
}

#[test]
fn answered_message_plays_prompt_twice_pcmu_and_pcma() {
    let vaxel = Vaxel::start("rtp-answered");
    std::thread::scope(|s| {
        let a = s.spawn(|| answered_twice(&vaxel, Codec::Pcmu));
        let b = s.spawn(|| answered_twice(&vaxel, Codec::Pcma));
        let (a, b) = (a.join(), b.join());
        if let Err(e) = a.and(b) {
            std::panic::resume_unwind(e);
        }
    });
    vaxel.stop();
}

#[test]
fn early_media_plays_prompt_twice_pcmu_and_pcma() {
    let vaxel = Vaxel::start("rtp-early");
    std::thread::scope(|s| {
        let a = s.spawn(|| early_twice(&vaxel, Codec::Pcmu));
        let b = s.spawn(|| early_twice(&vaxel, Codec::Pcma));
        let (a, b) = (a.join(), b.join());
        if let Err(e) = a.and(b) {
            std::panic::resume_unwind(e);
        }
    });
    vaxel.stop();
}

/// How long after `since` the last packet arrived (zero if it came before).
fn late_by(call: &Call, since: Instant) -> Duration {
    call.rtp()
        .packets()
        .last()
        .map(|p| p.at.saturating_duration_since(since))
        .unwrap_or_default()
}

#[test]
fn caller_bye_stops_rtp_within_100ms() {
    let vaxel = Vaxel::start("rtp-bye");
    let ua = vaxel.ua();
    let mut call = ua
        .invite(did::ANSWERED_TWICE, &[Codec::Pcma])
        .expect("INVITE");
    call.wait_status(200, Duration::from_secs(10)).expect("200");
    call.ack().expect("ACK");
    call.rtp()
        .wait_count(25, Duration::from_secs(10))
        .expect("the prompt starts");
    let sent = Instant::now();
    let ok = call.bye().expect("BYE answered");
    assert_eq!(ok.status, 200, "{}", ok.text());
    let last = call
        .rtp()
        .wait_quiet(Duration::from_millis(500), Duration::from_secs(10))
        .expect("RTP stops");
    let late = last.saturating_duration_since(sent);
    assert!(
        late <= Duration::from_millis(100),
        "RTP went on {late:?} after our BYE"
    );
    assert!(
        call.rtp().count() < prompt().frame_count(),
        "the prompt was cut short"
    );
    vaxel.stop();
}

#[test]
fn cancel_stops_early_media() {
    let vaxel = Vaxel::start("rtp-cancel");
    let ua = vaxel.ua();
    let mut call = ua.invite(did::EARLY_TWICE, &[Codec::Pcmu]).expect("INVITE");
    call.wait_status(183, Duration::from_secs(10)).expect("183");
    call.rtp()
        .wait_count(25, Duration::from_secs(10))
        .expect("early media starts");
    let sent = Instant::now();
    let ok = call.cancel().expect("CANCEL answered");
    assert_eq!(ok.status, 200, "{}", ok.text());
    call.wait_status(487, Duration::from_secs(10))
        .expect("487 for the INVITE");
    call.ack().expect("ACK");
    call.rtp()
        .wait_quiet(Duration::from_millis(500), Duration::from_secs(10))
        .expect("RTP stops");
    let late = late_by(&call, sent);
    assert!(
        late <= Duration::from_millis(100),
        "RTP went on {late:?} after our CANCEL"
    );
    let report = RtpReport::analyse(&call.rtp().packets());
    report
        .check_continuous()
        .expect("continuous until cancelled");
    vaxel.stop();
}

/// Late offers (INVITEs without SDP), one switchboard for the three cases so that this file's
/// tests do not start more of them at once than the pacing checks can bear on 2 cores.
#[test]
fn late_offers() {
    let vaxel = Vaxel::start("rtp-late-offer");
    late_offer_is_answered_in_the_ack_and_the_prompt_plays_whole(&vaxel);
    late_offer_without_an_answer_in_the_ack_is_hung_up(&vaxel);
    late_offer_to_early_media_gets_183_without_sdp_then_480_on_time(&vaxel);
    let log = vaxel.stop();
    assert!(log.contains("not answered in the ACK"), "{log}");
}

/// A late offer to an answered message: vaxel offers both laws and telephone-event in its
/// 200, the caller answers in the ACK, and the prompt plays from its first frame in the law
/// the caller chose.
fn late_offer_is_answered_in_the_ack_and_the_prompt_plays_whole(vaxel: &Vaxel) {
    let ua = vaxel.ua();
    let mut call = ua.invite_without_sdp(did::ANSWERED_TWICE).expect("INVITE");
    call.wait_status(200, Duration::from_secs(10))
        .expect("200 OK");
    let offer = call.answer().expect("an SDP offer in the 200").clone();
    let formats = &offer.media.first().expect("an m= line").formats;
    assert!(
        formats.contains(&0) && formats.contains(&8) && formats.contains(&101),
        "{offer:?}"
    );
    // Nothing is sent before the answer.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call.rtp().packets().len(), 0, "RTP before the answer");
    call.ack_with_answer(Some(Codec::Pcma)).expect("ACK");
    call.wait_bye_and_ok(LONG)
        .expect("vaxel's BYE after the prompt");
    assert_prompt_stream(&call, Codec::Pcma, 2, "late offer, PCMA");
}

/// An ACK that does not answer our offer ends the call with a BYE, without media.
fn late_offer_without_an_answer_in_the_ack_is_hung_up(vaxel: &Vaxel) {
    let ua = vaxel.ua();
    let mut call = ua.invite_without_sdp(did::ANSWERED_TWICE).expect("INVITE");
    call.wait_status(200, Duration::from_secs(10))
        .expect("200 OK");
    call.ack_with_answer(None).expect("ACK");
    call.wait_bye_and_ok(Duration::from_secs(5))
        .expect("BYE at once");
    assert_eq!(call.rtp().packets().len(), 0, "no RTP without an answer");
}

/// Early media with a late offer: the 183 carries no SDP (an offer may not go in an
/// unreliable provisional response); the prompt runs silently, so the 480 still comes
/// after it, as with an offer.
fn late_offer_to_early_media_gets_183_without_sdp_then_480_on_time(vaxel: &Vaxel) {
    let ua = vaxel.ua();
    let mut call = ua.invite_without_sdp(did::EARLY_TWICE).expect("INVITE");
    let progress = call
        .wait_status(183, Duration::from_secs(10))
        .expect("183 Session Progress");
    let at_183 = Instant::now();
    assert!(progress.body.is_empty(), "183 without SDP");
    call.wait_status(480, LONG).expect("480 after the prompt");
    call.ack().expect("ACK");
    let silent_play = at_183.elapsed();
    let two_plays = prompt().duration() * 2;
    assert!(
        silent_play + Duration::from_millis(300) >= two_plays,
        "480 after {silent_play:?}, the prompt twice takes {two_plays:?}"
    );
    assert_eq!(call.rtp().packets().len(), 0, "no RTP without an answer");
}

//! Issue 3 end to end: IVR menus reached over the wire with every DTMF method (RFC 4733
//! telephone-events from SIPp's pcaps and from our own RTP, SIP INFO dtmf-relay and dtmf,
//! in-band G.711 tones), barge-in, the timeout and invalid paths and their separate counts.
//!
//! Every choice of the test menus leads to its own always-closed schedule (`got-N`), which
//! hangs up: the call's log line `schedule decided schedule=schedule:got-N` says which
//! destination the call reached, and the BYE on the wire says when.

mod issue3_support;

use std::time::{Duration, Instant};

use issue3_support::{Layout, RtpOut, Switchboard, TestDir, sipp, write_wav};
use vaxel_media::Codec;
use vaxel_testua::{Call, SipMessage, Ua};

/// `ivr:menu`: a 4 s prompt (a key that does not barge in is noticed only after it).
const MENU: &str = "4610000300";
/// `ivr:quick`: a 1 s prompt, for the timeout paths.
const QUICK: &str = "4610000301";
/// A welcome message, then the menu.
const WELCOME: &str = "4610000302";
/// Prompt lengths.
const MENU_PROMPT: Duration = Duration::from_secs(4);

fn config(l: &Layout) -> String {
    std::fs::create_dir_all(&l.sounds_dir).unwrap();
    write_wav(&l.sounds_dir.join("menu.wav"), 600.0, 4000);
    write_wav(&l.sounds_dir.join("quick.wav"), 600.0, 1000);
    write_wav(&l.sounds_dir.join("oops.wav"), 400.0, 500);
    let choices: Vec<String> = (0..10)
        .map(|d| format!("\"{d}\" = \"schedule:got-{d}\""))
        .collect();
    let choices = choices.join(", ");
    let mut s = l.server_and_trunk();
    for (id, prompt) in [("menu", "menu.wav"), ("quick", "quick.wav")] {
        s.push_str(&format!(
            r#"
[[ivr]]
id = "{id}"
prompt = "{prompt}"
invalid_prompt = "oops.wav"
timeout = "2s"
retries = 1
choices = {{ {choices} }}
on_timeout = "schedule:timed-out"
on_invalid = "schedule:invalid"
"#
        ));
    }
    // Markers: always closed (no periods), hang up either way.
    let markers = (0..10)
        .map(|d| format!("got-{d}"))
        .chain(["timed-out".to_string(), "invalid".to_string()]);
    for id in markers {
        s.push_str(&format!(
            "\n[[schedule]]\nid = \"{id}\"\nwhen_open = \"hangup\"\nwhen_closed = \"hangup\"\n"
        ));
    }
    s.push_str(&format!(
        "\n[[did]]\nnumber = \"{MENU}\"\nroute = \"ivr:menu\"\n\n[[did]]\nnumber = \"{QUICK}\"\nroute = \"ivr:quick\"\n"
    ));
    s.push_str(&format!(
        "\n[[message]]\nid = \"welcome\"\nanswer = true\nsound = \"oops.wav\"\nthen = \"ivr:menu\"\n\n[[did]]\nnumber = \"{WELCOME}\"\nroute = \"message:welcome\"\n"
    ));
    s
}

fn start(name: &str) -> (TestDir, Switchboard) {
    let dir = TestDir::new(name);
    let sb = Switchboard::start(&dir, None, config);
    (dir, sb)
}

/// The schedules the call's log says it reached, in order.
fn reached(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("schedule decided"))
        .filter_map(|l| {
            let rest = l.split("schedule=schedule:").nth(1)?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

/// The keys the call's log says vaxel took, in order.
fn keys(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| l.contains(" DTMF "))
        .filter_map(|l| l.split("digit=").nth(1)?.chars().next())
        .collect()
}

/// Asserts the call took exactly `expect_keys` and reached only `marker`.
fn assert_route(sb: &Switchboard, call_id: &str, expect_keys: &str, marker: &str) {
    let lines = sb.wait_call_ended(call_id);
    let log = lines.join("\n");
    assert_eq!(keys(&lines), expect_keys, "keys taken; call log:\n{log}");
    assert_eq!(
        reached(&lines),
        [marker],
        "destination reached; call log:\n{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("call ended") && l.contains("outcome=\"answered\"")),
        "call not ended as answered; call log:\n{log}"
    );
}

/// Places a call offering `codecs` + telephone-event 101, answers the 200 with ACK.
fn answered_call(sb: &Switchboard, number: &str, codecs: &[Codec]) -> (Ua, Call, Instant) {
    let ua = sb.ua();
    let mut call = ua.invite(number, codecs).unwrap();
    call.wait_status(200, Duration::from_secs(10)).unwrap();
    let answered = Instant::now();
    call.ack().unwrap();
    (ua, call, answered)
}

/// Has vaxel's BYE for `call` arrived (and not been answered yet)?
fn has_bye(ua: &Ua, call: &Call) -> bool {
    ua.has_message(|m| {
        matches!(m, SipMessage::Request(r) if r.method == "BYE")
            && m.call_id() == Some(call.call_id())
    })
}

/// SIPp plays Debian's RFC 2833 pcaps for every key: each reaches its choice.
#[test]
fn rfc4733_pcaps_reach_every_choice() {
    let (_dir, sb) = start("pcap");
    let mut failures = Vec::new();
    for d in 0..10 {
        let pcap = format!("/usr/share/sip-tester/dtmf_2833_{d}.pcap");
        let run = sipp(&sb, "dtmf_2833", MENU, &[("pcap", &pcap)]);
        if !run.ok {
            failures.push(run.report);
            continue;
        }
        assert_route(&sb, &run.call_id, &d.to_string(), &format!("got-{d}"));
    }
    assert!(
        failures.is_empty(),
        "SIPp failed:\n{}",
        failures.join("\n\n")
    );
    sb.stop();
}

/// `*` from SIPp's pcap is not a choice: one invalid key, then the caller stays silent and
/// the timeouts (counted apart from the invalid key) lead to on_timeout.
#[test]
fn rfc4733_pcap_star_is_invalid_then_timeouts() {
    let (_dir, sb) = start("pcap-star");
    let run = sipp(
        &sb,
        "dtmf_2833",
        QUICK,
        &[("pcap", "/usr/share/sip-tester/dtmf_2833_star.pcap")],
    );
    assert!(run.ok, "{}", run.report);
    assert_route(&sb, &run.call_id, "*", "timed-out");
    sb.stop();
}

/// SIP INFO application/dtmf-relay (`Signal=N`) reaches the choice.
#[test]
fn sip_info_dtmf_relay_reaches_choice() {
    let (_dir, sb) = start("info-relay");
    for d in ["2", "7", "0"] {
        let run = sipp(&sb, "info_dtmf_relay", MENU, &[("digit", d)]);
        assert!(run.ok, "{}", run.report);
        assert_route(&sb, &run.call_id, d, &format!("got-{d}"));
    }
    sb.stop();
}

/// SIP INFO application/dtmf (the body is the key) reaches the choice.
#[test]
fn sip_info_dtmf_reaches_choice() {
    let (_dir, sb) = start("info-dtmf");
    for d in ["2", "9"] {
        let run = sipp(&sb, "info_dtmf", MENU, &[("digit", d)]);
        assert!(run.ok, "{}", run.report);
        assert_route(&sb, &run.call_id, d, &format!("got-{d}"));
    }
    sb.stop();
}

/// Two invalid keys over SIP INFO (`*`, then `#` as event code 11) with retries = 1 lead
/// to on_invalid.
#[test]
fn sip_info_two_invalid_keys_reach_on_invalid() {
    let (_dir, sb) = start("info-invalid");
    let run = sipp(
        &sb,
        "info_dtmf_relay_twice",
        MENU,
        &[("digit", "*"), ("digit2", "11")],
    );
    assert!(run.ok, "{}", run.report);
    assert_route(&sb, &run.call_id, "*#", "invalid");
    sb.stop();
}

/// Our own RFC 4733 key during the 4 s prompt barges in: the choice is taken at once.
#[test]
fn rfc4733_key_barges_into_the_prompt() {
    let (_dir, sb) = start("te-barge");
    let (_ua, mut call, answered) = answered_call(&sb, MENU, &[Codec::Pcmu]);
    let mut rtp = RtpOut::new(call.remote_media().unwrap(), Codec::Pcmu);
    rtp.audio(None, 400);
    let pressed = Instant::now();
    rtp.event(101, '5');
    rtp.audio(None, 100);
    call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
    let bye_after = pressed.elapsed();
    assert!(
        bye_after < Duration::from_millis(2500) && answered.elapsed() < MENU_PROMPT,
        "BYE {bye_after:?} after the key, {:?} after the answer: the key did not barge in",
        answered.elapsed()
    );
    assert_route(&sb, call.call_id(), "5", "got-5");
    sb.stop();
}

/// A message before the menu: while it plays nothing reads the caller's port (it is
/// connected to the caller's SDP address for cheaper sends); when the menu starts, keys are
/// heard again, also from a source other than the SDP address (RtpOut has its own socket).
#[test]
fn key_after_a_welcome_message_reaches_choice() {
    let (_dir, sb) = start("te-welcome");
    let (_ua, mut call, answered) = answered_call(&sb, WELCOME, &[Codec::Pcmu]);
    let mut rtp = RtpOut::new(call.remote_media().unwrap(), Codec::Pcmu);
    // A key during the 0.5 s welcome means nothing (no menu yet).
    rtp.event(101, '3');
    while answered.elapsed() < Duration::from_millis(1200) {
        rtp.audio(None, 100);
    }
    rtp.event(101, '5');
    rtp.audio(None, 100);
    call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
    assert_route(&sb, call.call_id(), "5", "got-5");
    sb.stop();
}

/// The same from the address the caller's SDP named, which a prompt-only socket connected
/// to the caller still hears: the key pressed during the welcome waits in the socket, and is
/// dropped when the menu's reader starts instead of answering the menu.
#[test]
fn a_key_queued_before_the_menu_does_not_answer_it() {
    let (_dir, sb) = start("te-welcome-queued");
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = media.local_addr().expect("addr").port();
    let sdp = format!(
        "v=0\r\no=testua 1 1 IN IP4 {{ip}}\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n"
    );
    let ua = sb.ua();
    let mut call = ua.invite_with_sdp(WELCOME, &sdp).unwrap();
    call.wait_status(200, Duration::from_secs(10)).unwrap();
    let answered = Instant::now();
    call.ack().unwrap();
    let mut rtp = RtpOut::from_socket(media, call.remote_media().unwrap(), Codec::Pcmu);
    rtp.event(101, '3');
    // Silence from here on would refill the socket: the caller says nothing until the menu.
    while answered.elapsed() < Duration::from_millis(1200) {
        std::thread::sleep(Duration::from_millis(20));
    }
    rtp.event(101, '5');
    rtp.audio(None, 100);
    call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
    assert_route(&sb, call.call_id(), "5", "got-5");
    sb.stop();
}

/// Two invalid RFC 4733 keys (the second barging into the invalid prompt or the menu
/// again) with retries = 1 reach on_invalid.
#[test]
fn rfc4733_two_invalid_keys_reach_on_invalid() {
    let (_dir, sb) = start("te-invalid");
    let (_ua, mut call, _) = answered_call(&sb, MENU, &[Codec::Pcma]);
    let mut rtp = RtpOut::new(call.remote_media().unwrap(), Codec::Pcma);
    rtp.audio(None, 300);
    rtp.event(101, '*');
    rtp.audio(None, 700);
    rtp.event(101, '#');
    rtp.audio(None, 100);
    call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
    assert_route(&sb, call.call_id(), "*#", "invalid");
    sb.stop();
}

/// A caller who offers no telephone-event: in-band tones in the G.711 audio reach the
/// choice (PCMU key 3, PCMA key 7), barging into the prompt.
#[test]
fn inband_tones_reach_choice() {
    let (_dir, sb) = start("inband");
    for (codec, pt, key) in [(Codec::Pcmu, 0, '3'), (Codec::Pcma, 8, '7')] {
        let ua = sb.ua();
        let sdp = format!(
            "v=0\r\no=testua 1 1 IN IP4 {{ip}}\r\ns=-\r\nc=IN IP4 {{ip}}\r\nt=0 0\r\n\
             m=audio {{port}} RTP/AVP {pt}\r\na=rtpmap:{pt} {}/8000\r\na=ptime:20\r\n",
            codec.name()
        );
        let mut call = ua.invite_with_sdp(MENU, &sdp).unwrap();
        let ok = call.wait_status(200, Duration::from_secs(10)).unwrap();
        let answered = Instant::now();
        call.ack().unwrap();
        let body = String::from_utf8_lossy(&ok.body).to_string();
        assert!(
            !body.contains("telephone-event"),
            "answer offers telephone-event nobody asked for:\n{body}"
        );
        let mut rtp = RtpOut::new(call.remote_media().unwrap(), codec);
        rtp.audio(None, 400);
        rtp.audio(Some(key), 100);
        rtp.audio(None, 600);
        call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
        assert!(
            answered.elapsed() < MENU_PROMPT,
            "BYE {:?} after the answer: the in-band key did not barge into the 4 s prompt",
            answered.elapsed()
        );
        assert_route(&sb, call.call_id(), &key.to_string(), &format!("got-{key}"));
    }
    sb.stop();
}

/// A silent caller: the menu is offered retries + 1 = 2 times (1 s prompt, 2 s timeout
/// each), then on_timeout.
#[test]
fn silent_caller_reaches_on_timeout() {
    let (_dir, sb) = start("silent");
    let (_ua, mut call, answered) = answered_call(&sb, QUICK, &[Codec::Pcmu]);
    call.wait_bye_and_ok(Duration::from_secs(30)).unwrap();
    let took = answered.elapsed();
    assert!(
        took >= Duration::from_millis(5500) && took < Duration::from_secs(15),
        "on_timeout after {took:?}, expected about 2 x (1 s prompt + 2 s timeout)"
    );
    assert_route(&sb, call.call_id(), "", "timed-out");
    // The prompt (50 packets of 20 ms) went out twice.
    let packets = call.rtp().count();
    assert!(
        (90..=115).contains(&packets),
        "{packets} RTP packets: expected the 1 s prompt twice (100)"
    );
    sb.stop();
}

/// Timeouts and invalid keys are counted apart (retries = 1): timeout, invalid, timeout
/// goes to on_timeout at the second timeout (a shared count would have left at the invalid
/// key already).
#[test]
fn timeout_invalid_timeout_reaches_on_timeout() {
    let (_dir, sb) = start("apart-timeout");
    let (ua, mut call, answered) = answered_call(&sb, QUICK, &[Codec::Pcmu]);
    let mut rtp = RtpOut::new(call.remote_media().unwrap(), Codec::Pcmu);
    // Offer 1: 0-3 s (silent: timeout 1). Offer 2: 3-6 s; the key at 4.5 s, in its wait.
    rtp.audio(None, 4500);
    rtp.event(101, '*');
    rtp.audio(None, 200);
    assert!(
        !has_bye(&ua, &call),
        "hung up already at the invalid key ({:?} after the answer)",
        answered.elapsed()
    );
    call.wait_bye_and_ok(Duration::from_secs(20)).unwrap();
    let took = answered.elapsed();
    assert!(
        took >= Duration::from_millis(7000),
        "left the menu after {took:?}: expected the invalid prompt and a 3rd offer first"
    );
    assert_route(&sb, call.call_id(), "*", "timed-out");
    sb.stop();
}

/// Timeout, invalid, invalid: on_invalid (the timeout did not use up an invalid try).
#[test]
fn timeout_invalid_invalid_reaches_on_invalid() {
    let (_dir, sb) = start("apart-invalid");
    let (_ua, mut call, _) = answered_call(&sb, QUICK, &[Codec::Pcmu]);
    let mut rtp = RtpOut::new(call.remote_media().unwrap(), Codec::Pcmu);
    rtp.audio(None, 4500);
    rtp.event(101, '*');
    rtp.audio(None, 600);
    rtp.event(101, '#');
    rtp.audio(None, 100);
    call.wait_bye_and_ok(Duration::from_secs(20)).unwrap();
    assert_route(&sb, call.call_id(), "*#", "invalid");
    sb.stop();
}

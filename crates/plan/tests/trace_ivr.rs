//! `vaxel trace --digits`: the dry run follows IVR menus with the caller's keys.

mod common;

use common::{compile_ok, example};
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;
use vaxel_plan::{Override, Plan, TraceStep, WalkContext};

fn none(_: &str) -> Vec<Override> {
    Vec::new()
}

fn tz() -> TimeZone {
    TimeZone::get("Europe/Stockholm").unwrap()
}

/// Wednesday 2026-08-12 at `h`:00 in Stockholm.
fn wednesday(h: i8) -> Timestamp {
    date(2026, 8, 12)
        .at(h, 0, 0, 0)
        .to_zoned(tz())
        .unwrap()
        .timestamp()
}

fn lines<S>(p: &Plan<S>, number: &str, digits: &str) -> Vec<String> {
    let tz = tz();
    let ctx = WalkContext {
        at: wednesday(10),
        tz: &tz,
        overrides: &none,
    };
    p.trace_with(number, Some(&ctx), digits)
        .iter()
        .map(ToString::to_string)
        .collect()
}

const MAIN: &str = "46101022290";
const HEAD: [&str; 3] = [
    "DID 46101022290 'Huvudnummer' -> schedule:office-hours",
    "schedule:office-hours 'Öppettider' is open: within opening hours mon,tue,wed,thu,fri 08:00-17:00 -> ivr:main",
    "ivr:main 'Huvudmeny' (answered, plays main-menu.wav): 1 -> queue:sales, 2 -> queue:support, 9 -> voicemail:admin, or dial an extension or queue number; no key within 5s -> queue:support, invalid -> ivr:main, each the 3rd time",
];
const SUPPORT: &str = "queue:support: queue 'Support' (longest-idle, 3 members, max wait 5m) failover -> message:high-load [not walked by this version: the engine answers 480, or BYE once answered]";

#[test]
fn key_2_reaches_support_after_the_inter_digit_wait() {
    // Queue number 2001 starts with 2, so the menu waits 3s before taking choice 2.
    let got = lines(&example(), MAIN, "2");
    assert_eq!(got[..3], HEAD);
    assert_eq!(
        got[3..],
        [
            "caller presses 2, then nothing for 3s -> queue:support",
            SUPPORT
        ]
    );
    // With `#` it is taken at once.
    let got = lines(&example(), MAIN, "2#");
    assert_eq!(got[3], "caller presses 2# -> queue:support");
}

#[test]
fn key_9_reaches_the_admin_voicemail() {
    let got = lines(&example(), MAIN, "9");
    assert_eq!(got[..3], HEAD);
    assert_eq!(
        got[3..],
        [
            "caller presses 9 -> voicemail:admin",
            "voicemail:admin: voicemail box of 'Admin System' [not walked by this version: the engine answers 480, or BYE once answered]",
        ]
    );
}

#[test]
fn key_5_is_invalid_then_the_caller_stays_silent() {
    let got = lines(&example(), MAIN, "5");
    assert_eq!(got[..3], HEAD);
    assert_eq!(
        got[3..],
        [
            "caller presses 5: invalid choice 1 of 3 -> menu again",
            "no key within 5s, 3 times -> queue:support",
            SUPPORT,
        ]
    );
}

#[test]
fn no_keys_times_out_to_on_timeout() {
    let got = lines(&example(), MAIN, "");
    assert_eq!(
        got[3..],
        ["no key within 5s, 3 times -> queue:support", SUPPORT]
    );
}

#[test]
fn an_extension_is_dialled_from_the_menu() {
    let got = lines(&example(), MAIN, "1001");
    assert_eq!(
        got[3..],
        [
            "caller presses 1001 -> user:anna",
            "user:anna: rings 'Anna Andersson' [not walked by this version: the engine answers 480, or BYE once answered]",
        ]
    );
    let got = lines(&example(), MAIN, "10#");
    assert_eq!(
        got[3],
        "caller presses 10#: invalid choice 1 of 3 -> menu again"
    );
}

#[test]
fn on_invalid_back_to_the_same_menu_starts_afresh() {
    let got = lines(&example(), MAIN, "55559");
    assert_eq!(
        got[3..],
        [
            "caller presses 5: invalid choice 1 of 3 -> menu again",
            "caller presses 5: invalid choice 2 of 3 -> menu again",
            "caller presses 5: invalid choice 3 of 3 -> ivr:main",
            "ivr:main 'Huvudmeny' (plays main-menu.wav): 1 -> queue:sales, 2 -> queue:support, 9 -> voicemail:admin, or dial an extension or queue number; no key within 5s -> queue:support, invalid -> ivr:main, each the 3rd time",
            "caller presses 5: invalid choice 1 of 3 -> menu again",
            "caller presses 9 -> voicemail:admin",
            "voicemail:admin: voicemail box of 'Admin System' [not walked by this version: the engine answers 480, or BYE once answered]",
        ]
    );
}

#[test]
fn keys_left_over_are_reported() {
    let steps = {
        let tz = tz();
        let ctx = WalkContext {
            at: wednesday(10),
            tz: &tz,
            overrides: &none,
        };
        example().trace_with(MAIN, Some(&ctx), "9 12")
    };
    assert!(
        matches!(steps.last(), Some(TraceStep::UnusedKeys { keys }) if keys == "12"),
        "{steps:?}"
    );
    // When closed, no menu takes any key.
    let tz = tz();
    let ctx = WalkContext {
        at: wednesday(20),
        tz: &tz,
        overrides: &none,
    };
    let got: Vec<String> = example()
        .trace_with(MAIN, Some(&ctx), "2")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got.last().unwrap(),
        "keys 2 not used: no menu was waiting for them"
    );
    assert!(got[1].contains("is closed"), "{got:?}");
}

const SMALL: &str = r#"
[[ivr]]
id = "a"
prompt = "main-menu.wav"
invalid_prompt = "high-load.wav"
retries = 1
choices = { "1" = "ivr:b" }
on_timeout = "ivr:a"
on_invalid = "busy"
[[ivr]]
id = "b"
prompt = "hold-music.wav"
retries = 5000
[[did]]
number = "461"
route = "ivr:a"
"#;

#[test]
fn menus_without_an_instant_and_their_limits() {
    let p = compile_ok(SMALL);
    let got: Vec<String> = p
        .trace_with("461", None, "7")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "DID 461 '461' -> ivr:a",
            "ivr:a 'a' (answered, plays main-menu.wav): 1 -> ivr:b; no key within 5s -> ivr:a, invalid -> busy, each the 2nd time",
            "caller presses 7: invalid choice 1 of 2 -> plays high-load.wav, menu again",
            "no key within 5s, 2 times -> ivr:a",
            // Keys were pressed since the first visit: not a loop yet.
            "ivr:a 'a' (plays main-menu.wav): 1 -> ivr:b; no key within 5s -> ivr:a, invalid -> busy, each the 2nd time",
            "no key within 5s, 2 times -> ivr:a",
            "ivr:a again: the call would loop from here",
        ]
    );
    let got: Vec<String> = p
        .trace_with("461", None, "77")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got[3], "caller presses 7: invalid choice 2 of 2 -> busy");
    assert_eq!(got[4], "busy: busy tone for a few seconds, then BYE");
    // A menu with a huge `retries` and a silent caller: the dry run stops counting.
    let steps = p.trace_with("461", None, "1");
    assert!(
        matches!(
            steps.last(),
            Some(TraceStep::Timeouts {
                times: 1000,
                next: None,
                ..
            })
        ),
        "{steps:?}"
    );
    assert_eq!(
        steps.last().unwrap().to_string(),
        "no key within 5s, 1000 times; the dry run stops counting here"
    );
    // The plain trace follows menus too, with a silent caller.
    assert_eq!(p.trace("461").len(), 4);
}

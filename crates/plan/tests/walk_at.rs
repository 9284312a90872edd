//! The walker and the dry run deciding schedules at an instant.

mod common;

use std::path::PathBuf;

use common::compile_ok;
use jiff::Timestamp;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use vaxel_plan::{
    Action, Event, Override, Plan, Reason, TraceStep, Walk, WalkContext, parse_override_hours,
};

const PLAN: &str = r#"
[[user]]
id = "admin"
voicemail = true
[[queue]]
id = "support"
[[message]]
id = "closed"
sound = "closed.wav"
then = "hangup"
[[message]]
id = "welcome"
answer = true
sound = "high-load.wav"
then = "schedule:office"
[[schedule]]
id = "office"
name = "Kontoret"
open = ["mon-fri 08:00-17:00"]
holidays = "se"
closed_on = ["2026-08-14"]
when_open = "queue:support"
when_closed = "schedule:evening"
[[schedule]]
id = "evening"
name = "Kväll"
open = ["mon-fri 17:00-20:00"]
when_open = "voicemail:admin"
when_closed = "message:closed"
[[schedule]]
id = "ping"
open = ["sat 10:00-11:00"]
when_open = "hangup"
when_closed = "schedule:pong"
[[schedule]]
id = "pong"
open = ["sat 10:00-11:00"]
when_open = "busy"
when_closed = "schedule:ping"
[[did]]
number = "1"
route = "schedule:office"
[[did]]
number = "2"
route = "message:welcome"
[[did]]
number = "3"
route = "schedule:ping"
"#;

fn plan() -> Plan<PathBuf> {
    compile_ok(PLAN)
}

fn tz() -> TimeZone {
    TimeZone::get("Europe/Stockholm").unwrap()
}

fn local(d: Date, hh: i8, mm: i8) -> Timestamp {
    d.at(hh, mm, 0, 0).to_zoned(tz()).unwrap().timestamp()
}

fn none(_: &str) -> Vec<Override> {
    Vec::new()
}

/// Wednesday 2026-08-12.
const WED: Date = date(2026, 8, 12);

fn start_at(
    p: &Plan<PathBuf>,
    number: &str,
    at: Timestamp,
    ov: &dyn Fn(&str) -> Vec<Override>,
) -> (Walk, Vec<Action>) {
    let tz = tz();
    let ctx = WalkContext {
        at,
        tz: &tz,
        overrides: ov,
    };
    let mut w = Walk::new(p.route_number(number).unwrap().node);
    let a = w.handle_at(p, Event::Start, &ctx);
    (w, a)
}

fn decided(p: &Plan<PathBuf>, w: &Walk) -> Vec<(String, bool)> {
    w.decisions()
        .iter()
        .map(|(n, v)| (p.node_name(*n), v.open))
        .collect()
}

#[test]
fn handle_without_a_clock_still_stops_at_schedules() {
    let p = plan();
    let mut w = Walk::new(p.route_number("1").unwrap().node);
    let a = w.handle(&p, Event::Start);
    assert!(matches!(
        a.as_slice(),
        [Action::Unsupported {
            what: "schedule",
            ..
        }]
    ));
    assert!(w.decisions().is_empty());
}

#[test]
fn open_office_goes_to_the_queue() {
    let p = plan();
    let (w, a) = start_at(&p, "1", local(WED, 10, 0), &none);
    assert!(matches!(
        a.as_slice(),
        [Action::Unsupported { what: "queue", .. }]
    ));
    assert_eq!(p.node_name(w.node()), "queue:support");
    assert_eq!(decided(&p, &w), [("schedule:office".to_string(), true)]);
}

#[test]
fn closed_office_falls_through_to_the_evening_schedule() {
    let p = plan();
    let (w, a) = start_at(&p, "1", local(WED, 18, 0), &none);
    assert!(matches!(
        a.as_slice(),
        [Action::Unsupported {
            what: "voicemail",
            ..
        }]
    ));
    assert_eq!(
        decided(&p, &w),
        [
            ("schedule:office".to_string(), false),
            ("schedule:evening".to_string(), true)
        ]
    );
    // Late at night both are closed: the closed message plays, then 480.
    let (mut w, a) = start_at(&p, "1", local(WED, 21, 0), &none);
    assert_eq!(a[0], Action::EarlyMedia);
    assert!(matches!(a[1], Action::Play { times: 1, .. }));
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Reject(480)]);
}

#[test]
fn overrides_are_looked_up_by_schedule_id() {
    let p = plan();
    let closed_today = |id: &str| {
        if id == "office" {
            vec![Override {
                date: WED,
                hours: None,
            }]
        } else {
            Vec::new()
        }
    };
    let (w, _) = start_at(&p, "1", local(WED, 10, 0), &closed_today);
    assert_eq!(p.node_name(w.node()), "message:closed");
    assert_eq!(
        w.decisions()[0].1.reason,
        Reason::Override {
            date: WED,
            hours: None
        }
    );
    // The same override on the evening schedule changes nothing at 10:00.
    let evening_only = |id: &str| {
        if id == "evening" {
            vec![Override {
                date: WED,
                hours: None,
            }]
        } else {
            Vec::new()
        }
    };
    let (w, _) = start_at(&p, "1", local(WED, 10, 0), &evening_only);
    assert_eq!(p.node_name(w.node()), "queue:support");
}

#[test]
fn a_schedule_after_a_message_is_decided_when_the_message_ends() {
    let p = plan();
    let (mut w, a) = start_at(&p, "2", local(WED, 16, 59), &none);
    assert_eq!(a[0], Action::Answer);
    assert!(w.decisions().is_empty());
    // The message ends after 17:00: the office has closed meanwhile.
    let tz = tz();
    let ctx = WalkContext {
        at: local(WED, 17, 0),
        tz: &tz,
        overrides: &none,
    };
    let a = w.handle_at(&p, Event::PlaybackDone, &ctx);
    assert!(matches!(
        a.as_slice(),
        [Action::Unsupported {
            what: "voicemail",
            ..
        }]
    ));
    assert_eq!(decided(&p, &w).len(), 2);
}

#[test]
fn schedules_that_send_the_call_round_in_a_circle_end_it() {
    let p = plan();
    // Saturday 2026-08-15 12:00: both closed, each sends the call to the other.
    let (w, a) = start_at(&p, "3", local(date(2026, 8, 15), 12, 0), &none);
    assert_eq!(a, vec![Action::Reject(480)]);
    assert!(w.is_ended());
    // At 10:30 ping is open.
    let (w, a) = start_at(&p, "3", local(date(2026, 8, 15), 10, 30), &none);
    assert_eq!(a, vec![Action::Reject(480)]);
    assert_eq!(p.node_name(w.node()), "hangup");
    assert_eq!(decided(&p, &w), [("schedule:ping".to_string(), true)]);
}

fn lines(steps: &[TraceStep]) -> Vec<String> {
    steps.iter().map(ToString::to_string).collect()
}

#[test]
fn trace_at_explains_each_schedule() {
    let p = plan();
    let tz = tz();
    let steps = p.trace_at("1", local(date(2026, 12, 24), 10, 0), &tz, &none);
    assert_eq!(
        lines(&steps),
        [
            "DID 1 '1' -> schedule:office",
            "schedule:office 'Kontoret' is closed: 2026-12-24 is julafton, a Swedish holiday: closed all day -> schedule:evening",
            "schedule:evening 'Kväll' is closed: outside the opening hours -> message:closed",
            "message:closed 'closed' (early media with 183 Session Progress, plays closed.wav once) -> hangup",
            "hangup: 480 Temporarily Unavailable",
        ]
    );
    let short = |id: &str| {
        if id == "office" {
            vec![Override {
                date: WED,
                hours: Some(parse_override_hours("10:00-14:00").unwrap()),
            }]
        } else {
            Vec::new()
        }
    };
    let steps = p.trace_at("2", local(WED, 11, 0), &tz, &short);
    let got = lines(&steps);
    assert_eq!(
        got[2],
        "schedule:office 'Kontoret' is open: one-day override for 2026-08-12: open 10:00-14:00 only -> queue:support"
    );
    assert!(
        got[3].starts_with("queue:support: queue 'support'"),
        "{got:?}"
    );
    assert_eq!(got.len(), 4);
}

#[test]
fn trace_at_reports_a_schedule_loop() {
    let p = plan();
    let tz = tz();
    let steps = p.trace_at("3", local(date(2026, 8, 15), 12, 0), &tz, &none);
    assert!(
        matches!(steps.last(), Some(TraceStep::Loop { target, .. }) if target == "schedule:ping"),
        "{steps:?}"
    );
    // Without an instant the dry run stops at the first schedule, as before.
    let steps = p.trace("1");
    assert!(matches!(steps.last(), Some(TraceStep::Stop { .. })));
}

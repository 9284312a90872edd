//! The call walker against every row of config.md's "On the wire" table.

mod common;

use std::path::PathBuf;

use common::compile_ok;
use vaxel_plan::{Action, Event, Plan, SoundId, Walk};

const PLAN: &str = r#"
[[user]]
id = "admin"
voicemail = true
[[message]]
id = "early-busy"
answer = false
repeat = 2
sound = "high-load.wav"
then = "busy"
[[message]]
id = "early-hangup"
sound = "high-load.wav"
then = "hangup"
[[message]]
id = "answered-hangup"
answer = true
sound = "closed.wav"
then = "hangup"
[[message]]
id = "answered-busy"
answer = true
sound = "closed.wav"
then = "busy"
[[message]]
id = "early-then-answered"
sound = "high-load.wav"
then = "message:answered-busy"
[[message]]
id = "early-then-early"
sound = "high-load.wav"
then = "message:early-hangup"
[[message]]
id = "answered-then-early"
answer = true
sound = "closed.wav"
then = "message:early-busy"
[[message]]
id = "to-voicemail"
answer = true
sound = "closed.wav"
then = "voicemail:admin"
[[queue]]
id = "q"
[[did]]
number = "1"
route = "busy"
[[did]]
number = "2"
route = "hangup"
[[did]]
number = "3"
route = "message:early-busy"
[[did]]
number = "4"
route = "message:answered-hangup"
[[did]]
number = "5"
route = "message:answered-busy"
[[did]]
number = "6"
route = "message:early-then-answered"
[[did]]
number = "7"
route = "message:early-then-early"
[[did]]
number = "8"
route = "queue:q"
[[did]]
number = "9"
route = "message:to-voicemail"
[[did]]
number = "10"
route = "message:answered-then-early"
[[did]]
number = "11"
route = "message:early-hangup"
"#;

fn plan() -> Plan<PathBuf> {
    compile_ok(PLAN)
}

fn start(p: &Plan<PathBuf>, number: &str) -> (Walk, Vec<Action>) {
    let mut w = Walk::new(p.route_number(number).unwrap().node);
    let a = w.handle(p, Event::Start);
    (w, a)
}

fn sound_of(p: &Plan<PathBuf>, message: &str) -> SoundId {
    p.messages.iter().find(|m| m.id == message).unwrap().sound
}

#[test]
fn busy_before_answer_is_486() {
    let p = plan();
    let (w, a) = start(&p, "1");
    assert_eq!(a, vec![Action::Reject(486)]);
    assert!(w.is_ended());
    assert!(!w.is_answered());
}

#[test]
fn hangup_before_answer_is_480() {
    let p = plan();
    let (w, a) = start(&p, "2");
    assert_eq!(a, vec![Action::Reject(480)]);
    assert!(w.is_ended());
}

#[test]
fn unanswered_message_is_early_media_then_next() {
    let p = plan();
    let (mut w, a) = start(&p, "3");
    let sound = sound_of(&p, "early-busy");
    assert_eq!(
        a,
        vec![Action::EarlyMedia, Action::Play { sound, times: 3 }]
    );
    assert!(!w.is_answered());
    assert!(w.is_early_media());
    // busy after early media is still before the answer: 486.
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Reject(486)]);
    assert!(w.is_ended());
    assert_eq!(p.node_name(w.node()), "busy");
}

#[test]
fn early_media_then_hangup_is_480() {
    let p = plan();
    let (mut w, a) = start(&p, "11");
    assert_eq!(a.len(), 2);
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Reject(480)]);
}

#[test]
fn answered_message_then_hangup_is_bye() {
    let p = plan();
    let (mut w, a) = start(&p, "4");
    let sound = sound_of(&p, "answered-hangup");
    assert_eq!(a, vec![Action::Answer, Action::Play { sound, times: 1 }]);
    assert!(w.is_answered());
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Hangup]);
    assert!(w.is_ended());
}

#[test]
fn busy_after_answer_is_busy_tone() {
    let p = plan();
    let (mut w, _) = start(&p, "5");
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::BusyTone]);
    assert!(w.is_ended());
}

#[test]
fn early_media_then_answering_message() {
    let p = plan();
    let (mut w, a) = start(&p, "6");
    assert_eq!(a[0], Action::EarlyMedia);
    let sound = sound_of(&p, "answered-busy");
    assert_eq!(
        w.handle(&p, Event::PlaybackDone),
        vec![Action::Answer, Action::Play { sound, times: 1 }]
    );
    assert!(w.is_answered());
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::BusyTone]);
}

#[test]
fn early_media_is_sent_once_along_a_chain() {
    let p = plan();
    let (mut w, a) = start(&p, "7");
    assert_eq!(a[0], Action::EarlyMedia);
    let sound = sound_of(&p, "early-hangup");
    assert_eq!(
        w.handle(&p, Event::PlaybackDone),
        vec![Action::Play { sound, times: 1 }]
    );
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Reject(480)]);
}

#[test]
fn answered_call_plays_unanswered_message_without_183() {
    let p = plan();
    let (mut w, a) = start(&p, "10");
    assert_eq!(a[0], Action::Answer);
    let sound = sound_of(&p, "early-busy");
    assert_eq!(
        w.handle(&p, Event::PlaybackDone),
        vec![Action::Play { sound, times: 3 }]
    );
    assert!(!w.is_early_media());
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::BusyTone]);
}

#[test]
fn later_kinds_are_unsupported() {
    let p = plan();
    let route = p.route_number("8").unwrap();
    let (w, a) = start(&p, "8");
    assert_eq!(
        a,
        vec![Action::Unsupported {
            node: route.node,
            what: "queue"
        }]
    );
    assert!(w.is_ended());
    assert!(!w.is_answered());

    let (mut w, _) = start(&p, "9");
    let a = w.handle(&p, Event::PlaybackDone);
    assert!(matches!(
        a.as_slice(),
        [Action::Unsupported {
            what: "voicemail",
            ..
        }]
    ));
    assert!(
        w.is_answered(),
        "engine sends BYE since the call is answered"
    );
}

#[test]
fn unknown_number_has_no_route() {
    assert!(plan().route_number("404").is_none());
}

#[test]
fn events_out_of_turn_do_nothing() {
    let p = plan();
    let mut w = Walk::new(p.route_number("4").unwrap().node);
    assert!(w.handle(&p, Event::PlaybackDone).is_empty());
    assert_eq!(w.handle(&p, Event::Start).len(), 2);
    assert!(w.handle(&p, Event::Start).is_empty());
    assert_eq!(w.handle(&p, Event::PlaybackDone), vec![Action::Hangup]);
    assert!(w.handle(&p, Event::PlaybackDone).is_empty());
}

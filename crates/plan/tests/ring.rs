//! Ringing users and numbers, and call forwarding: what the walker asks the engine to do when
//! a call reaches `user:` or `number:`, and where it goes when nobody answers.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::compile_ok;
use vaxel_plan::{Action, Event, Plan, RingOutcome, RingTarget, Walk};

const PLAN: &str = r#"
[[user]]
id = "anna"
extension = "1001"
[[user]]
id = "bertil"
extension = "1002"
forward = { no_answer = "voicemail:bertil", after = "20s" }
[[user]]
id = "cecilia"
extension = "1003"
forward = { busy = "user:anna", no_answer = "message:sorry" }
[[user]]
id = "david"
extension = "1004"
forward = { unconditional = "user:anna" }
[[user]]
id = "erik"
extension = "1005"
forward = { unconditional = "user:fia" }
[[user]]
id = "fia"
extension = "1006"
forward = { unconditional = "user:erik" }
[[message]]
id = "sorry"
answer = true
sound = "closed.wav"
then = "hangup"
[[message]]
id = "welcome"
answer = true
sound = "closed.wav"
then = "user:anna"
[[did]]
number = "4610"
route = "user:anna"
[[did]]
number = "4611"
route = "number:+4687654321"
[[did]]
number = "4612"
route = "message:welcome"
"#;

fn plan() -> Plan<PathBuf> {
    compile_ok(PLAN)
}

fn start(p: &Plan<PathBuf>, number: &str) -> (Walk, Vec<Action>) {
    let route = p.route_number(number).expect("number routes");
    let mut w = Walk::new(route.node);
    let a = w.handle(p, Event::Start);
    (w, a)
}

fn user(p: &Plan<PathBuf>, id: &str) -> usize {
    p.users
        .iter()
        .position(|u| u.id == id)
        .expect("user exists")
}

#[test]
fn a_user_rings_for_the_default_time_without_a_no_answer_forward() {
    let p = plan();
    let (w, a) = start(&p, "1001");
    assert_eq!(
        a,
        [Action::Ring {
            target: RingTarget::User(user(&p, "anna")),
            timeout: vaxel_plan::USER_RING_TIMEOUT,
        }]
    );
    assert!(!w.is_ended() && !w.is_answered());
}

#[test]
fn answered_means_bridged_and_nothing_more_to_do() {
    let p = plan();
    let (mut w, _) = start(&p, "4610");
    assert_eq!(w.handle(&p, Event::Answered), []);
    assert!(w.is_bridged() && w.is_answered());
    // Late events do nothing.
    assert_eq!(w.handle(&p, Event::RingFailed(RingOutcome::Busy)), []);
    assert_eq!(w.handle(&p, Event::Timer), []);
}

#[test]
fn without_forwards_the_caller_gets_the_status() {
    let p = plan();
    for (outcome, status) in [
        (RingOutcome::Busy, 486),
        (RingOutcome::NoAnswer, 480),
        (RingOutcome::Unavailable(404), 404),
    ] {
        let (mut w, _) = start(&p, "1001");
        assert_eq!(
            w.handle(&p, Event::RingFailed(outcome)),
            [Action::Reject(status)]
        );
        assert!(w.is_ended());
    }
}

#[test]
fn no_answer_forward_sets_the_ring_time_and_is_followed() {
    let p = plan();
    let (mut w, a) = start(&p, "1002");
    assert_eq!(
        a,
        [Action::Ring {
            target: RingTarget::User(user(&p, "bertil")),
            timeout: Duration::from_secs(20),
        }]
    );
    let a = w.handle(&p, Event::RingFailed(RingOutcome::NoAnswer));
    assert!(
        matches!(
            a.as_slice(),
            [Action::Unsupported {
                what: "voicemail",
                ..
            }]
        ),
        "{a:?}"
    );
    assert_eq!(p.node_name(w.node()), "voicemail:bertil");
}

#[test]
fn an_unreachable_phone_counts_as_no_answer_but_busy_does_not() {
    let p = plan();
    let (mut w, _) = start(&p, "1002");
    let a = w.handle(&p, Event::RingFailed(RingOutcome::Unavailable(480)));
    assert!(
        matches!(a.as_slice(), [Action::Unsupported { .. }]),
        "{a:?}"
    );
    let (mut w, _) = start(&p, "1002");
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::Busy)),
        [Action::Reject(486)]
    );
}

#[test]
fn busy_forward_rings_someone_else() {
    let p = plan();
    let (mut w, a) = start(&p, "1003");
    // The default no-answer delay applies to the no_answer forward.
    assert!(matches!(
        a.as_slice(),
        [Action::Ring { timeout, .. }] if *timeout == Duration::from_secs(20)
    ));
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::Busy)),
        [Action::Ring {
            target: RingTarget::User(user(&p, "anna")),
            timeout: vaxel_plan::USER_RING_TIMEOUT,
        }]
    );
    // Anna does not answer either: her own (absent) forwards decide.
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::NoAnswer)),
        [Action::Reject(480)]
    );
}

#[test]
fn no_answer_forward_to_a_message_answers_and_plays() {
    let p = plan();
    let (mut w, _) = start(&p, "1003");
    let a = w.handle(&p, Event::RingFailed(RingOutcome::NoAnswer));
    assert!(
        matches!(
            a.as_slice(),
            [Action::Answer, Action::Play { times: 1, .. }]
        ),
        "{a:?}"
    );
}

#[test]
fn unconditional_forward_never_rings_the_user() {
    let p = plan();
    let (_, a) = start(&p, "1004");
    assert_eq!(
        a,
        [Action::Ring {
            target: RingTarget::User(user(&p, "anna")),
            timeout: vaxel_plan::USER_RING_TIMEOUT,
        }]
    );
}

#[test]
fn an_unconditional_forward_loop_ends_the_call() {
    let p = plan();
    let (w, a) = start(&p, "1005");
    assert_eq!(a, [Action::Reject(480)]);
    assert!(w.is_ended());
}

#[test]
fn numbers_ring_through_a_trunk() {
    let p = plan();
    let (mut w, a) = start(&p, "4611");
    assert_eq!(
        a,
        [Action::Ring {
            target: RingTarget::Number("+4687654321".to_string()),
            timeout: vaxel_plan::NUMBER_RING_TIMEOUT,
        }]
    );
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::Unavailable(503))),
        [Action::Reject(503)]
    );
}

#[test]
fn a_call_answered_before_ringing_hears_a_busy_tone_or_a_bye() {
    let p = plan();
    let (mut w, a) = start(&p, "4612");
    assert!(matches!(
        a.as_slice(),
        [Action::Answer, Action::Play { .. }]
    ));
    let a = w.handle(&p, Event::PlaybackDone);
    assert!(matches!(a.as_slice(), [Action::Ring { .. }]), "{a:?}");
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::Busy)),
        [Action::BusyTone]
    );
    let (mut w, _) = start(&p, "4612");
    w.handle(&p, Event::PlaybackDone);
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::NoAnswer)),
        [Action::Hangup]
    );
}

#[test]
fn a_trunk_presents_its_caller_id() {
    let src = format!(
        "{PLAN}\n[[trunk]]\nid = \"op\"\nuri = \"sip:192.0.2.1\"\ncaller_id = \"+46812345678\"\n"
    );
    let p = compile_ok(&src);
    assert_eq!(p.trunks[0].caller_id.as_deref(), Some("+46812345678"));
    let bad = format!("{PLAN}\n[[trunk]]\nid = \"op\"\ncaller_id = \"reception\"\n");
    let errors = common::errors(&bad);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`reception` is not a phone number")),
        "{errors:?}"
    );
}

#[test]
fn an_outside_number_from_a_phone_rings_the_trunk_and_failures_go_back_as_they_are() {
    let p = plan();
    let mut w = Walk::external("0701234567");
    assert_eq!(
        w.handle(&p, Event::Start),
        [Action::Ring {
            target: RingTarget::Number("0701234567".to_string()),
            timeout: vaxel_plan::NUMBER_RING_TIMEOUT,
        }]
    );
    assert_eq!(
        w.handle(&p, Event::RingFailed(RingOutcome::Busy)),
        [Action::Reject(486)]
    );
}

#[test]
fn server_digest_lists_the_challenges_in_order() {
    let p = plan();
    assert_eq!(p.server.digest, ["SHA-256", "MD5"]);
    let p = compile_ok(&format!("[server]\ndigest = [\"md5\"]\n{PLAN}"));
    assert_eq!(p.server.digest, ["MD5"]);
    let errors = common::errors(&format!(
        "[server]\ndigest = [\"SHA-1\", \"MD5\", \"MD5\"]\n{PLAN}"
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unknown digest algorithm `SHA-1`")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("`MD5` is listed twice")),
        "{errors:?}"
    );
}

//! IVR menus in the walker: barge-in, the two retry counts, extension dialling, timers.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{compile_ok, errors};
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;
use vaxel_plan::{Action, Event, Override, Plan, SoundId, Walk, WalkContext};

const PLAN: &str = r##"
[[user]]
id = "admin"
extension = "1000"
voicemail = true
[[user]]
id = "anna"
extension = "1001"
[[user]]
id = "reception"
extension = "100"
[[user]]
id = "lab"
extension = "4610"
[[queue]]
id = "support"
number = "2001"
[[message]]
id = "info"
sound = "closed.wav"
then = "ivr:main"
[[message]]
id = "bye"
answer = true
sound = "closed.wav"
then = "hangup"
[[ivr]]
id = "main"
prompt = "main-menu.wav"
invalid_prompt = "high-load.wav"
timeout = "5s"
retries = 2
choices = { "1" = "message:bye", "2" = "ivr:sub", "9" = "busy", "#" = "hangup" }
on_timeout = "queue:support"
on_invalid = "voicemail:admin"
[[ivr]]
id = "sub"
prompt = "hold-music.wav"
retries = 0
choices = { "0" = "ivr:main" }
on_timeout = "hangup"
on_invalid = "busy"
[[ivr]]
id = "dial"
prompt = "main-menu.wav"
extensions = true
digit_timeout = "4s"
choices = { "2" = "message:bye", "9" = "busy" }
on_invalid = "hangup"
on_timeout = "hangup"
[[schedule]]
id = "office"
open = ["mon-fri 08:00-17:00"]
when_open = "ivr:main"
when_closed = "message:bye"
[[did]]
number = "461"
route = "ivr:main"
[[did]]
number = "462"
route = "ivr:dial"
[[did]]
number = "463"
route = "message:info"
[[did]]
number = "464"
route = "schedule:office"
"##;

fn plan() -> Plan<PathBuf> {
    compile_ok(PLAN)
}

struct Call<'p> {
    plan: &'p Plan<PathBuf>,
    walk: Walk,
}

impl Call<'_> {
    fn send(&mut self, e: Event) -> Vec<Action> {
        self.walk.handle(self.plan, e)
    }
    fn at(&self) -> String {
        self.plan.node_name(self.walk.node())
    }
    /// Lets the prompt end: the timeout timer starts.
    fn prompt_ends(&mut self, timeout: u64) {
        assert_eq!(
            self.send(Event::PlaybackDone),
            [Action::SetTimer(Duration::from_secs(timeout))]
        );
    }
}

fn call<'p>(plan: &'p Plan<PathBuf>, number: &str) -> (Call<'p>, Vec<Action>) {
    let mut c = Call {
        plan,
        walk: Walk::new(plan.route_number(number).unwrap().node),
    };
    let a = c.send(Event::Start);
    (c, a)
}

fn sound(p: &Plan<PathBuf>, file: &str) -> SoundId {
    let prompts = p.ivrs.iter().map(|i| (i.prompt_file.as_str(), i.prompt));
    let messages = p.messages.iter().map(|m| (m.sound_file.as_str(), m.sound));
    let invalid = p
        .ivrs
        .iter()
        .filter_map(|i| Some((i.invalid_prompt_file.as_deref()?, i.invalid_prompt.unwrap())));
    prompts
        .chain(messages)
        .chain(invalid)
        .find(|(f, _)| *f == file)
        .unwrap()
        .1
}

fn play(p: &Plan<PathBuf>, file: &str) -> Action {
    Action::Play {
        sound: sound(p, file),
        times: 1,
    }
}

fn rings(a: &[Action]) -> bool {
    matches!(
        a,
        [
            ..,
            Action::Ring {
                target: vaxel_plan::RingTarget::User(_),
                ..
            }
        ]
    )
}

fn unsupported(a: &[Action], kind: &str) -> bool {
    matches!(a, [.., Action::Unsupported { what, .. }] if *what == kind)
}

#[test]
fn entering_a_menu_answers_and_plays_the_prompt() {
    let p = plan();
    let (c, a) = call(&p, "461");
    assert_eq!(a, [Action::Answer, play(&p, "main-menu.wav")]);
    assert!(c.walk.is_answered());
    assert!(!c.walk.is_ended());
    assert!(c.walk.wants_digits());
    assert_eq!(c.at(), "ivr:main");
}

#[test]
fn a_choice_during_the_prompt_barges_in() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    assert_eq!(
        c.send(Event::Digit('1')),
        [Action::StopPlayback, play(&p, "closed.wav")]
    );
    assert_eq!(c.at(), "message:bye");
    // Keys mean nothing in a message: the engine stops reading for them only in menus.
    assert!(!c.walk.wants_digits());
    assert_eq!(c.send(Event::PlaybackDone), [Action::Hangup]);
}

#[test]
fn a_choice_after_the_prompt_cancels_the_timer() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    c.prompt_ends(5);
    assert_eq!(
        c.send(Event::Digit('9')),
        [Action::CancelTimer, Action::BusyTone]
    );
    assert!(c.walk.is_ended());
    // `#` is a choice of its own when the menu takes no extensions.
    let (mut c, _) = call(&p, "461");
    assert_eq!(
        c.send(Event::Digit('#')),
        [Action::StopPlayback, Action::Hangup]
    );
}

#[test]
fn invalid_key_plays_the_invalid_prompt_then_the_menu_again() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    c.prompt_ends(5);
    assert_eq!(
        c.send(Event::Digit('7')),
        [Action::CancelTimer, play(&p, "high-load.wav")]
    );
    // No timer runs while the invalid prompt plays.
    assert!(c.send(Event::Timer).is_empty());
    assert_eq!(c.send(Event::PlaybackDone), [play(&p, "main-menu.wav")]);
    c.prompt_ends(5);
    assert_eq!(
        c.send(Event::Digit('1')),
        [Action::CancelTimer, play(&p, "closed.wav")]
    );
}

#[test]
fn invalid_keys_past_the_retries_go_to_on_invalid() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    let invalid = play(&p, "high-load.wav");
    // Barge-in works during the invalid prompt too.
    assert_eq!(
        c.send(Event::Digit('7')),
        [Action::StopPlayback, invalid.clone()]
    );
    assert_eq!(c.send(Event::Digit('8')), [Action::StopPlayback, invalid]);
    let a = c.send(Event::Digit('*'));
    assert_eq!(a[0], Action::StopPlayback);
    assert!(unsupported(&a, "voicemail"), "{a:?}");
    assert_eq!(c.at(), "voicemail:admin");
}

#[test]
fn timeouts_past_the_retries_go_to_on_timeout() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    for _ in 0..2 {
        c.prompt_ends(5);
        assert_eq!(c.send(Event::Timer), [play(&p, "main-menu.wav")]);
    }
    c.prompt_ends(5);
    let a = c.send(Event::Timer);
    assert!(unsupported(&a, "queue"), "{a:?}");
    assert_eq!(c.at(), "queue:support");
}

/// Two invalid keys and two timeouts: the menu is offered five times, and the next of
/// either kind leaves by its own way.
fn two_of_each(p: &Plan<PathBuf>) -> Call<'_> {
    let (mut c, _) = call(p, "461");
    for _ in 0..2 {
        c.prompt_ends(5);
        assert_eq!(c.send(Event::Digit('7')).len(), 2);
        assert_eq!(c.send(Event::PlaybackDone), [play(p, "main-menu.wav")]);
        c.prompt_ends(5);
        assert_eq!(c.send(Event::Timer), [play(p, "main-menu.wav")]);
    }
    c.prompt_ends(5);
    c
}

#[test]
fn invalid_and_timeout_counts_are_kept_apart() {
    let p = plan();
    let mut c = two_of_each(&p);
    assert_eq!(c.at(), "ivr:main");
    assert!(unsupported(&c.send(Event::Timer), "queue"));

    let mut c = two_of_each(&p);
    let a = c.send(Event::Digit('0'));
    assert_eq!(a[0], Action::CancelTimer);
    assert!(unsupported(&a, "voicemail"));
}

#[test]
fn entering_a_menu_again_starts_its_counts_afresh() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    for _ in 0..2 {
        assert_eq!(c.send(Event::Digit('7')).len(), 2);
    }
    // 2 -> ivr:sub: already answered, so just its prompt.
    assert_eq!(
        c.send(Event::Digit('2')),
        [Action::StopPlayback, play(&p, "hold-music.wav")]
    );
    assert_eq!(c.at(), "ivr:sub");
    assert_eq!(
        c.send(Event::Digit('0')),
        [Action::StopPlayback, play(&p, "main-menu.wav")]
    );
    // Back in main with fresh counts: two more invalid keys are offered again.
    for _ in 0..2 {
        assert_eq!(c.send(Event::Digit('7')).len(), 2);
        assert_eq!(c.at(), "ivr:main");
    }
    assert!(unsupported(&c.send(Event::Digit('7')), "voicemail"));
}

#[test]
fn retries_zero_offers_the_menu_once() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    c.send(Event::Digit('2'));
    assert_eq!(
        c.send(Event::Digit('5')),
        [Action::StopPlayback, Action::BusyTone]
    );
    let (mut c, _) = call(&p, "461");
    c.send(Event::Digit('2'));
    c.prompt_ends(5);
    assert_eq!(c.send(Event::Timer), [Action::Hangup]);
}

#[test]
fn extension_ended_by_hash() {
    let p = plan();
    let (mut c, _) = call(&p, "462");
    c.prompt_ends(5);
    // The new timer replaces the menu timeout: no CancelTimer needed.
    for d in ['1', '0', '0'] {
        assert_eq!(
            c.send(Event::Digit(d)),
            [Action::SetTimer(Duration::from_secs(4))]
        );
    }
    let a = c.send(Event::Digit('#'));
    assert_eq!(a[0], Action::CancelTimer);
    assert!(rings(&a), "{a:?}");
    assert_eq!(c.at(), "user:reception");
}

#[test]
fn extension_ended_by_the_inter_digit_timeout() {
    let p = plan();
    let (mut c, _) = call(&p, "462");
    // Dialling may start during the prompt.
    assert_eq!(
        c.send(Event::Digit('1')),
        [
            Action::StopPlayback,
            Action::SetTimer(Duration::from_secs(4))
        ]
    );
    c.send(Event::Digit('0'));
    c.send(Event::Digit('0'));
    let a = c.send(Event::Timer);
    assert!(rings(&a), "{a:?}");
    assert_eq!(c.at(), "user:reception");
}

#[test]
fn a_complete_extension_goes_at_once() {
    let p = plan();
    let (mut c, _) = call(&p, "462");
    c.prompt_ends(5);
    for d in ['1', '0', '0'] {
        c.send(Event::Digit(d));
    }
    let a = c.send(Event::Digit('1'));
    assert_eq!(a[0], Action::CancelTimer);
    assert!(rings(&a), "{a:?}");
    assert_eq!(c.at(), "user:anna");
    // A queue number too.
    let (mut c, _) = call(&p, "462");
    for d in "2001".chars() {
        c.send(Event::Digit(d));
    }
    assert_eq!(c.at(), "queue:support");
}

#[test]
fn a_choice_key_that_starts_an_extension_waits_for_more_digits() {
    let p = plan();
    let (mut c, _) = call(&p, "462");
    c.prompt_ends(5);
    // Queue number 2001 starts with 2: wait, then take the choice.
    assert_eq!(
        c.send(Event::Digit('2')),
        [Action::SetTimer(Duration::from_secs(4))]
    );
    assert_eq!(c.send(Event::Timer), [play(&p, "closed.wav")]);
    assert_eq!(c.at(), "message:bye");
    // `#` takes it at once.
    let (mut c, _) = call(&p, "462");
    c.send(Event::Digit('2'));
    assert_eq!(
        c.send(Event::Digit('#')),
        [Action::CancelTimer, play(&p, "closed.wav")]
    );
    // Nothing starts with 9: the choice goes at once.
    let (mut c, _) = call(&p, "462");
    c.prompt_ends(5);
    assert_eq!(
        c.send(Event::Digit('9')),
        [Action::CancelTimer, Action::BusyTone]
    );
}

#[test]
fn unknown_extensions_are_invalid() {
    let p = plan();
    let prompt = play(&p, "main-menu.wav");
    // Nothing starts with 5: invalid at once (no invalid prompt in this menu).
    let (mut c, _) = call(&p, "462");
    c.prompt_ends(5);
    assert_eq!(
        c.send(Event::Digit('5')),
        [Action::CancelTimer, prompt.clone()]
    );
    // 1002 continues nothing and is nobody's.
    c.prompt_ends(5);
    for d in "100".chars() {
        c.send(Event::Digit(d));
    }
    assert_eq!(
        c.send(Event::Digit('2')),
        [Action::CancelTimer, prompt.clone()]
    );
    // `10#` is too short, and the third invalid goes to on_invalid.
    c.prompt_ends(5);
    c.send(Event::Digit('1'));
    c.send(Event::Digit('0'));
    assert_eq!(
        c.send(Event::Digit('#')),
        [Action::CancelTimer, Action::Hangup]
    );
    assert!(c.walk.is_ended());
}

#[test]
fn a_did_is_not_an_extension() {
    let p = plan();
    // 461 starts extension 4610 and is a DID: dialled whole, it is still invalid.
    let (mut c, _) = call(&p, "462");
    for d in "461".chars() {
        assert!(matches!(
            c.send(Event::Digit(d)).last(),
            Some(Action::SetTimer(_))
        ));
    }
    assert_eq!(
        c.send(Event::Digit('#')),
        [Action::CancelTimer, play(&p, "main-menu.wav")]
    );
    assert_eq!(c.at(), "ivr:dial");
    for d in "4610".chars() {
        c.send(Event::Digit(d));
    }
    assert_eq!(c.at(), "user:lab");
}

#[test]
fn menus_without_extensions_never_collect() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    c.prompt_ends(5);
    // 1 is a choice in main even though extensions start with 1.
    assert_eq!(
        c.send(Event::Digit('1')),
        [Action::CancelTimer, play(&p, "closed.wav")]
    );
}

#[test]
fn digits_and_timers_outside_a_menu_are_ignored() {
    let p = plan();
    let (mut c, a) = call(&p, "463");
    assert_eq!(a, [Action::EarlyMedia, play(&p, "closed.wav")]);
    assert!(c.send(Event::Digit('1')).is_empty());
    assert!(c.send(Event::Timer).is_empty());
    assert_eq!(c.at(), "message:info");
    // The message ends: the menu answers the call in early media.
    assert_eq!(
        c.send(Event::PlaybackDone),
        [Action::Answer, play(&p, "main-menu.wav")]
    );
    assert!(!c.walk.is_early_media());
    c.send(Event::Digit('9'));
    assert!(c.walk.is_ended());
    assert!(c.send(Event::Digit('1')).is_empty());
    assert!(c.send(Event::Timer).is_empty());
    // Before the start, too.
    let mut w = Walk::new(p.route_number("461").unwrap().node);
    assert!(w.handle(&p, Event::Digit('1')).is_empty());
    assert_eq!(w.handle(&p, Event::Start).len(), 2);
}

#[test]
fn stale_reports_change_nothing() {
    let p = plan();
    let (mut c, _) = call(&p, "461");
    // A timer cannot run during the prompt; a playback report while waiting is late.
    assert!(c.send(Event::Timer).is_empty());
    c.prompt_ends(5);
    assert!(c.send(Event::PlaybackDone).is_empty());
    assert_eq!(c.send(Event::Timer), [play(&p, "main-menu.wav")]);
}

#[test]
fn a_menu_after_a_schedule_with_handle_at() {
    let p = plan();
    let tz = TimeZone::get("Europe/Stockholm").unwrap();
    let none = |_: &str| Vec::<Override>::new();
    let at = |h: i8| -> Timestamp {
        date(2026, 8, 12)
            .at(h, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
    };
    let ctx = WalkContext {
        at: at(10),
        tz: &tz,
        overrides: &none,
    };
    let mut w = Walk::new(p.route_number("464").unwrap().node);
    assert_eq!(
        w.handle_at(&p, Event::Start, &ctx),
        [Action::Answer, play(&p, "main-menu.wav")]
    );
    assert_eq!(w.decisions().len(), 1);
    assert!(w.decisions()[0].1.open);
    assert_eq!(
        w.handle_at(&p, Event::PlaybackDone, &ctx),
        [Action::SetTimer(Duration::from_secs(5))]
    );
    assert_eq!(
        w.handle_at(&p, Event::Digit('1'), &ctx),
        [Action::CancelTimer, play(&p, "closed.wav")]
    );
    // Closed at 18:00: the message, no menu.
    let ctx = WalkContext { at: at(18), ..ctx };
    let mut w = Walk::new(p.route_number("464").unwrap().node);
    w.handle_at(&p, Event::Start, &ctx);
    assert_eq!(p.node_name(w.node()), "message:bye");
    assert!(w.handle_at(&p, Event::Digit('1'), &ctx).is_empty());
}

#[test]
fn ivr_keys_are_read_and_checked() {
    let p = plan();
    let main = &p.ivrs[0];
    assert_eq!(main.invalid_prompt_file.as_deref(), Some("high-load.wav"));
    assert_eq!(main.digit_timeout, Duration::from_secs(3));
    assert_eq!(p.ivrs[2].digit_timeout, Duration::from_secs(4));
    assert_eq!(p.ivrs[1].invalid_prompt, None);
    let e = errors(
        r#"
[[ivr]]
id = "m"
prompt = "main-menu.wav"
invalid_prompt = "nope.wav"
digit_timeout = "3 s"
"#,
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("cannot load sound `nope.wav`"), "{e:?}");
    assert!(e[1].contains("bad duration for `digit_timeout`"), "{e:?}");
}

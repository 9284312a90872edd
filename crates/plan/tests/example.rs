mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{FixtureLoader, compile_ok, example, fixtures};
use vaxel_plan::{MemberKind, Node, Role, RouteKind, Strategy, Transport, compile, load_file};

#[test]
fn example_compiles_with_all_sections() {
    let p = example();
    assert_eq!(p.server.name, "Exempel AB");
    assert_eq!(p.server.country_code.as_deref(), Some("46"));
    assert_eq!(p.server.sip.len(), 2);
    assert_eq!(p.server.sip[1].transport, Transport::Tcp);
    assert_eq!(p.server.rtp_ports, (20000, 29999));
    assert_eq!(p.server.sounds_dir, PathBuf::from("sounds"));
    assert_eq!(p.trunks[0].id, "operator");
    assert!(p.trunks[0].allow[0].contains("127.0.0.1".parse().unwrap()));
    assert_eq!(p.users.len(), 3);
    assert_eq!(p.users[0].roles, vec![Role::FlowAdmin]);
    let fwd = p.users[2].forward.as_ref().unwrap();
    assert_eq!(fwd.after, Duration::from_secs(20));
    assert_eq!(p.node_name(fwd.no_answer.unwrap()), "voicemail:bertil");
    let support = &p.queues[0];
    assert_eq!(support.strategy, Strategy::LongestIdle);
    assert_eq!(support.max_wait, Duration::from_secs(300));
    assert_eq!(support.members.len(), 3);
    assert_eq!(support.members[0].wrapup, Duration::from_secs(10));
    assert!(support.members[1].paused);
    assert_eq!(
        support.members[2].kind,
        MemberKind::External("+46701234567".into())
    );
    assert_eq!(p.node_name(support.failover), "message:high-load");
    assert_eq!(
        p.sound(support.music.unwrap()),
        Path::new("sounds/hold-music.wav")
    );
    let ivr = &p.ivrs[0];
    assert_eq!(ivr.choices.len(), 3);
    assert_eq!(p.node_name(ivr.on_invalid), "ivr:main");
    let sched = &p.schedules[0];
    assert_eq!(sched.open.len(), 2);
    assert_eq!(sched.closed_on[0].to_string(), "2026-12-24");
    assert_eq!(p.flows[0].did, Some(0));
    assert_eq!(p.flows[0].objects.len(), 5);
    assert_eq!(p.flows[0].supervisors, vec![1]);
    // The closed message compiled into a node pointing at admin's voicemail.
    let closed = p.route_number("46101022290").unwrap();
    let Node::Schedule { index: 0 } = p.node(closed.node) else {
        panic!("DID should route to the schedule");
    };
    let Node::Message {
        answer,
        repeat,
        then,
        ..
    } = p.node(sched.when_closed)
    else {
        panic!("when_closed should be a message");
    };
    assert!(*answer);
    assert_eq!(*repeat, 1);
    assert!(matches!(p.node(*then), Node::Voicemail { user: 0 }));
}

#[test]
fn each_sound_is_loaded_once() {
    let src = common::example_source().replace(
        "failover = \"busy\"",
        "failover = \"busy\"\nmusic = \"hold-music.wav\"",
    );
    let mut loader = FixtureLoader::default();
    let p = compile(&src, Path::new("example.toml"), &mut loader).unwrap();
    assert_eq!(loader.loaded.len(), 4);
    assert_eq!(p.queues[0].music, p.queues[1].music);
    assert_eq!(p.sounds().len(), 4);
}

#[test]
fn summary_line() {
    assert_eq!(
        example().summary(),
        "example.toml: ok — 2 DIDs, 3 users, 2 messages, 2 queues, 1 IVR, 1 schedule, 1 flow, 4 sounds"
    );
}

#[test]
fn route_numbers() {
    let p = example();
    for n in ["46101022290", "+46101022290", "0101022290", "0046101022290"] {
        let r = p.route_number(n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(r.kind, RouteKind::Did { index: 0 }, "{n}");
        assert_eq!(r.name, "Huvudnummer");
        assert_eq!(p.node_name(r.node), "schedule:office-hours");
    }
    let r = p.route_number("+46101022291").unwrap();
    assert_eq!(p.node_name(r.node), "queue:support");
    let r = p.route_number("1001").unwrap();
    assert_eq!(r.kind, RouteKind::Extension { user: 1 });
    assert_eq!(r.name, "Anna Andersson");
    assert_eq!(p.node_name(r.node), "user:anna");
    let r = p.route_number("2001").unwrap();
    assert_eq!(r.kind, RouteKind::QueueNumber { queue: 0 });
    assert_eq!(p.node_name(r.node), "queue:support");
    assert_eq!(
        p.route_number("1000;phone-context=x").unwrap().name,
        "Admin System"
    );
    for n in ["46101022299", "101022290", "", "+", "abc", "0701234567"] {
        assert!(p.route_number(n).is_none(), "{n}");
    }
}

#[test]
fn national_form_needs_country_code() {
    let p = compile_ok("[[did]]\nnumber = \"46101022290\"\nroute = \"busy\"\n");
    assert!(p.route_number("0101022290").is_none());
    assert!(p.route_number("+46101022290").is_some());
}

#[test]
fn trace_of_both_dids() {
    let p = example();
    let lines: Vec<String> = p
        .trace("46101022290")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "DID 46101022290 'Huvudnummer' -> schedule:office-hours"
    );
    assert!(lines[1].starts_with(
        "schedule:office-hours: schedule 'Öppettider', open mon,tue,wed,thu,fri 08:00-17:00; sat 10:00-13:00, closed on Swedish public holidays, closed 2026-12-24, 2026-12-31; open -> ivr:main, closed -> message:closed"
    ), "{}", lines[1]);
    assert!(lines[1].contains("not walked by this version"));

    let lines: Vec<String> = p
        .trace("0101022291")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines[0],
        "0101022291 = DID 46101022291 'Supportlinjen' -> queue:support"
    );
    assert!(lines[1].starts_with(
        "queue:support: queue 'Support' (longest-idle, 3 members, max wait 5m) failover -> message:high-load"
    ), "{}", lines[1]);

    let lines: Vec<String> = p.trace("999").iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec!["999: no DID, extension or queue number -> 404 Not Found"]
    );
}

#[test]
fn trace_follows_messages() {
    let src = common::example_source()
        .replace(
            "route = \"schedule:office-hours\"",
            "route = \"message:high-load\"",
        )
        .replace("then = \"hangup\"", "then = \"message:closed\"");
    let p = compile(
        &src,
        Path::new("example.toml"),
        &mut FixtureLoader::default(),
    )
    .unwrap();
    let lines: Vec<String> = p
        .trace("46101022290")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        vec![
            "DID 46101022290 'Huvudnummer' -> message:high-load",
            "message:high-load 'Hög belastning' (early media with 183 Session Progress, plays high-load.wav once) -> message:closed",
            "message:closed 'Stängt' (answered, plays closed.wav 2 times) -> voicemail:admin",
            "voicemail:admin: voicemail box of 'Admin System' [not walked by this version: the engine answers 480, or BYE once answered]",
        ]
    );
}

#[test]
fn trace_ends_at_busy_and_hangup() {
    let p = compile_ok(
        r#"
[[message]]
id = "m"
sound = "closed.wav"
answer = true
then = "busy"
[[did]]
number = "461"
route = "message:m"
[[did]]
number = "462"
route = "hangup"
"#,
    );
    let lines: Vec<String> = p.trace("461").iter().map(ToString::to_string).collect();
    assert_eq!(lines[2], "busy: busy tone for a few seconds, then BYE");
    let lines: Vec<String> = p.trace("462").iter().map(ToString::to_string).collect();
    assert_eq!(lines[1], "hangup: 480 Temporarily Unavailable");
}

#[test]
fn minimal_config_uses_defaults() {
    let p = compile_ok("");
    let s = &p.server;
    assert_eq!(s.name, "vaxel");
    assert_eq!(s.timezone, "Europe/Stockholm");
    assert_eq!(s.country_code, None);
    let sip: Vec<String> = s.sip.iter().map(ToString::to_string).collect();
    assert_eq!(sip, vec!["udp://0.0.0.0:5060", "tcp://0.0.0.0:5060"]);
    assert_eq!(s.media_address.to_string(), "127.0.0.1");
    assert_eq!(s.rtp_ports, (20000, 29999));
    assert_eq!(s.http, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(s.data_dir, PathBuf::from("data"));
    assert_eq!(s.sounds_dir, PathBuf::from("sounds"));
    assert!(!s.media_realtime);
    assert_eq!(
        p.summary(),
        "v.toml: ok — 0 DIDs, 0 users, 0 messages, 0 queues, 0 IVRs, 0 schedules, 0 flows, 0 sounds"
    );
}

#[test]
fn load_file_resolves_dirs_against_config_dir() {
    let path = fixtures().join("example.toml");
    let p = load_file(&path, &mut FixtureLoader::default()).unwrap();
    assert_eq!(p.server.sounds_dir, fixtures().join("sounds"));
    assert_eq!(p.server.data_dir, fixtures().join("data"));
    assert_eq!(p.file(), path);
}

#[test]
fn load_file_missing_is_one_diagnostic() {
    let e = load_file(
        Path::new("/nonexistent/vaxel.toml"),
        &mut FixtureLoader::default(),
    )
    .unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .starts_with("/nonexistent/vaxel.toml:1:1: error: cannot read config file: "),
        "{}",
        e[0]
    );
}

#[test]
fn schedule_accepts_toml_dates_and_overnight_periods() {
    let p = compile_ok(
        r#"[[schedule]]
id = "s"
open = ["fri 22:00-02:00", "mon,wed 09:00-12:00"]
closed_on = [2026-12-24, "2026-12-31"]
when_open = "hangup"
when_closed = "busy"
"#,
    );
    let s = &p.schedules[0];
    assert_eq!(s.closed_on.len(), 2);
    assert_eq!(s.closed_on[0].to_string(), "2026-12-24");
    assert!(
        s.open[0].covers(5, 60),
        "Saturday 01:00 is inside Friday's night period"
    );
    assert!(s.open[1].covers(2, 9 * 60));
    assert!(!s.open[1].covers(1, 9 * 60));
}

//! Issue 3 end to end: opening hours. `vaxel run --now` puts the switchboard in and out of
//! its hours (and the clock runs on past closing time), Swedish holidays are closed, the
//! one-day override set with `vaxel override` (or the HTTP API) changes the day, survives a
//! restart and expires after its date; `vaxel trace` explains the bundled config.
//!
//! The DID goes to `schedule:office`: open -> `message:open` (answered: 200, a 1 s sound,
//! BYE), closed -> `message:closed` (early media: 183, the sound, 480). The wire tells the
//! two apart, and vaxel's log line `schedule decided ... verdict=...` says why.

mod issue3_support;

use std::time::{Duration, Instant};

use issue3_support::{Layout, Switchboard, TestDir, repo_root, vaxel_cmd, write_wav};
use vaxel_media::Codec;

const OFFICE: &str = "4610000100";

fn config(l: &Layout) -> String {
    std::fs::create_dir_all(&l.sounds_dir).unwrap();
    write_wav(&l.sounds_dir.join("short.wav"), 500.0, 1000);
    format!(
        r#"{}
[[message]]
id = "open"
answer = true
sound = "short.wav"
then = "hangup"

[[message]]
id = "closed"
answer = false
sound = "short.wav"
then = "hangup"

[[schedule]]
id = "office"
name = "Kontoret"
open = ["mon-fri 08:00-17:00"]
holidays = "se"
when_open = "message:open"
when_closed = "message:closed"

[[did]]
number = "{OFFICE}"
route = "schedule:office"
"#,
        l.server_and_trunk()
    )
}

/// Which way a call went, seen on the wire, and the verdict vaxel logged.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Way {
    Open,
    Closed,
}

/// Calls the office DID; returns the way (checked on the wire) and the logged verdict.
fn call_office(sb: &Switchboard) -> (Way, String) {
    let ua = sb.ua();
    let mut call = ua.invite(OFFICE, &[Codec::Pcma]).unwrap();
    let fin = call.wait_final(Duration::from_secs(15)).unwrap();
    let way = match fin.status {
        200 => {
            call.ack().unwrap();
            call.wait_bye_and_ok(Duration::from_secs(15)).unwrap();
            Way::Open
        }
        480 => {
            call.ack().unwrap();
            assert!(
                call.answer().is_some(),
                "closed way without early media (no 183 with SDP)"
            );
            Way::Closed
        }
        s => panic!("unexpected final response {s} {}", fin.reason),
    };
    let lines = sb.wait_call_line(call.call_id(), &["schedule decided"]);
    let line = lines
        .iter()
        .find(|l| l.contains("schedule decided"))
        .unwrap()
        .clone();
    assert!(
        line.contains("schedule=schedule:office"),
        "decision of another schedule: {line}"
    );
    let verdict = line
        .split("verdict=")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let logged = if verdict.starts_with("open") {
        Way::Open
    } else if verdict.starts_with("closed") {
        Way::Closed
    } else {
        panic!("no verdict in {line}")
    };
    assert_eq!(
        logged, way,
        "the log says {verdict:?}, the wire says {way:?}"
    );
    (way, verdict)
}

fn start(dir: &TestDir, now: &str) -> Switchboard {
    Switchboard::start(dir, Some(now), config)
}

/// `vaxel override --config F ARGS...`; panics unless it exits 0. Returns stdout.
fn override_ok(sb: &Switchboard, args: &[&str]) -> String {
    let config = sb.config().display().to_string();
    let mut all = vec!["override", "--config", &config];
    all.extend_from_slice(args);
    let (code, out, err) = vaxel_cmd(&all);
    assert_eq!(code, 0, "vaxel {all:?} failed:\n{out}\n{err}");
    out
}

/// Does `vaxel override --list` output have a line for schedule office starting `what`
/// (`DATE HOURS`)?
fn listed(list: &str, what: &str) -> bool {
    list.lines()
        .any(|l| l.trim_start().starts_with(&format!("office {what}")))
}

#[test]
fn weekday_hours_open_and_evening_closed() {
    let dir = TestDir::new("hours");
    let sb = start(&dir, "2026-08-12T10:00:00+02:00"); // a Wednesday
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Open, "{verdict}");
    assert!(verdict.contains("within opening hours"), "{verdict}");
    sb.stop();

    let sb = start(&dir, "2026-08-12T18:00:00+02:00");
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Closed, "{verdict}");
    assert!(verdict.contains("outside the opening hours"), "{verdict}");
    sb.stop();
}

/// The clock starts at `--now` and runs on: a call just before 17:00 goes the open way,
/// one after 17:00 the closed way.
#[test]
fn closing_time_passes_while_running() {
    let dir = TestDir::new("closing");
    let sb = start(&dir, "2026-08-12T16:59:50+02:00");
    let up = sb.spawned.elapsed();
    assert!(
        up < Duration::from_secs(8),
        "vaxel took {up:?} to come up: the first call would no longer be before 17:00"
    );
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Open, "a call at about 16:59:5x: {verdict}");
    // 17:00:04 on the switchboard's clock.
    let at = sb.spawned + Duration::from_secs(14);
    if let Some(wait) = at.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Closed, "a call after 17:00: {verdict}");
    assert!(verdict.contains("outside the opening hours"), "{verdict}");
    sb.stop();
}

/// Swedish public holidays (and the eves offices close on) are closed on weekdays.
#[test]
fn swedish_holidays_are_closed() {
    let dir = TestDir::new("holidays");
    for (now, name) in [
        ("2026-12-25T10:00:00+01:00", "juldagen"),
        ("2026-06-19T10:00:00+02:00", "midsommarafton"),
        ("2026-04-06T10:00:00+02:00", "annandag påsk"),
    ] {
        let sb = start(&dir, now);
        let (way, verdict) = call_office(&sb);
        assert_eq!(way, Way::Closed, "{now}: {verdict}");
        assert!(verdict.contains(name), "{now}: {verdict}");
        sb.stop();
    }
}

/// An override closes an open day; it is kept in SQLite with who and when, survives a
/// restart, shows in `--list` and `vaxel trace`, and `--remove` reopens the day.
#[test]
fn override_closes_day_survives_restart_and_is_removed() {
    let dir = TestDir::new("override");
    let now = "2026-08-12T10:00:00+02:00";
    let sb = start(&dir, now);
    assert_eq!(call_office(&sb).0, Way::Open);

    override_ok(&sb, &["office", "2026-08-12", "closed"]);
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Closed, "{verdict}");
    assert!(verdict.contains("override"), "{verdict}");

    let list = override_ok(&sb, &["--list"]);
    assert!(listed(&list, "2026-08-12 closed"), "--list: {list}");
    let layout = sb.layout.clone();
    sb.stop();

    // Kept in the database with who set it and when (the switchboard's clock).
    let db = rusqlite::Connection::open(layout.data_dir.join("vaxel.db")).unwrap();
    let (hours, by, at): (Option<String>, String, String) = db
        .query_row(
            "SELECT hours, set_by, set_at FROM schedule_override \
             WHERE schedule_id = 'office' AND date = '2026-08-12'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    drop(db);
    assert!(
        hours.is_none() || hours.as_deref() == Some("closed"),
        "hours {hours:?}"
    );
    assert!(!by.is_empty(), "set_by empty");
    assert!(
        at.starts_with("2026-08-12T08:"),
        "set_at {at} not the switchboard's clock"
    );

    // `vaxel trace` reads the same database.
    let config = layout.config.display().to_string();
    let (code, out, err) = vaxel_cmd(&["trace", "--config", &config, "--did", OFFICE, "--at", now]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("is closed") && out.contains("override"),
        "trace does not show the override:\n{out}"
    );

    // Restart on the same data: still closed.
    let sb = Switchboard::restart(&layout, Some(now));
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Closed, "after a restart: {verdict}");
    let list = override_ok(&sb, &["--list"]);
    assert!(
        listed(&list, "2026-08-12 closed"),
        "--list after restart: {list}"
    );

    override_ok(&sb, &["--remove", "office", "2026-08-12"]);
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Open, "after --remove: {verdict}");
    let list = override_ok(&sb, &["--list"]);
    assert!(
        !listed(&list, "2026-08-12"),
        "--list after --remove: {list}"
    );
    // Removing it again is an error.
    let (code, out, err) = vaxel_cmd(&[
        "override",
        "--config",
        &config,
        "--remove",
        "office",
        "2026-08-12",
    ]);
    assert_ne!(code, 0, "second --remove succeeded: {out}{err}");
    sb.stop();
}

/// Override hours open a day the schedule is closed (Saturday); set and replaced over the
/// HTTP API too; a past date and an unknown schedule are refused.
#[test]
fn override_hours_open_a_closed_day() {
    let dir = TestDir::new("override-hours");
    let sb = start(&dir, "2026-08-15T12:00:00+02:00"); // a Saturday
    assert_eq!(call_office(&sb).0, Way::Closed);

    override_ok(&sb, &["office", "2026-08-15", "10:00-14:00"]);
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Open, "{verdict}");
    assert!(verdict.contains("override"), "{verdict}");

    // PUT replaces the day's hours: 13:00-14:00 leaves 12:00 closed.
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], sb.layout.http));
    let (status, body) = http_request(
        http,
        "PUT",
        "/api/overrides/office/2026-08-15",
        Some(r#"{"hours":"13:00-14:00"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (way, verdict) = call_office(&sb);
    assert_eq!(way, Way::Closed, "{verdict}");
    let (status, body) = http_request(http, "GET", "/api/overrides", None);
    assert_eq!(status, 200);
    assert!(body.contains("13:00-14:00"), "GET /api/overrides: {body}");
    let (status, body) = http_request(http, "DELETE", "/api/overrides/office/2026-08-15", None);
    assert!((200..300).contains(&status), "DELETE: {status} {body}");

    let config = sb.config().display().to_string();
    for args in [
        ["office", "2026-08-14", "closed"],      // yesterday
        ["no-such", "2026-08-20", "closed"],     // unknown schedule
        ["office", "2026-08-20", "25:00-26:00"], // bad hours
    ] {
        let mut all = vec!["override", "--config", &config];
        all.extend_from_slice(&args);
        let (code, out, err) = vaxel_cmd(&all);
        assert_ne!(code, 0, "vaxel {all:?} accepted: {out}{err}");
    }
    sb.stop();
}

/// An override expires by itself after its date: set for today at 23:59:52, gone from the
/// list once the switchboard's clock has passed midnight.
#[test]
fn override_expires_after_its_date() {
    let dir = TestDir::new("override-expiry");
    let sb = start(&dir, "2026-08-12T23:59:50+02:00");
    override_ok(&sb, &["office", "2026-08-12", "closed"]);
    override_ok(&sb, &["office", "2026-08-13", "09:00-10:00"]);
    let list = override_ok(&sb, &["--list"]);
    assert!(
        listed(&list, "2026-08-12 closed"),
        "--list before midnight: {list}"
    );
    let at = sb.spawned + Duration::from_secs(14);
    if let Some(wait) = at.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let list = override_ok(&sb, &["--list"]);
    assert!(
        !listed(&list, "2026-08-12"),
        "yesterday's override still listed after midnight: {list}"
    );
    assert!(
        listed(&list, "2026-08-13 09:00-10:00"),
        "today's override gone: {list}"
    );
    sb.stop();
}

/// One HTTP/1.1 request with `Connection: close`: (status, body).
fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Vaxel-User: e2e\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The bundled config/vaxel.toml (copied with its data_dir in a temp dir, so overrides a
/// developer set on their own switchboard cannot change the trace).
fn bundled_config(dir: &TestDir) -> String {
    let text = std::fs::read_to_string(repo_root().join("config/vaxel.toml")).unwrap();
    let sounds = repo_root().join("sounds").display().to_string();
    let data = dir.path().join("data").display().to_string();
    let text = text
        .replace("data_dir = \"../data\"", &format!("data_dir = {data:?}"))
        .replace(
            "sounds_dir = \"../sounds\"",
            &format!("sounds_dir = {sounds:?}"),
        );
    assert!(
        text.contains(&data),
        "config/vaxel.toml no longer has data_dir = \"../data\""
    );
    let path = dir.path().join("vaxel.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn trace(config: &str, at: &str, digits: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "trace",
        "--config",
        config,
        "--did",
        "46101022290",
        "--at",
        at,
    ];
    if let Some(d) = digits {
        args.extend(["--digits", d]);
    }
    let (code, out, err) = vaxel_cmd(&args);
    assert_eq!(code, 0, "vaxel {args:?}:\n{out}\n{err}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn trace_bundled_config_open_weekday_follows_menu_to_support() {
    let dir = TestDir::new("trace-open");
    let config = bundled_config(&dir);
    let lines = trace(&config, "2026-08-12T10:00:00+02:00", Some("2"));
    let out = lines.join("\n");
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
    };
    let sched = find("schedule:office-hours 'Öppettider' is open: within opening hours");
    assert!(lines[sched].ends_with("-> ivr:main"), "{out}");
    let menu = find("ivr:main 'Huvudmeny'");
    let press = find("caller presses 2, then nothing for 3s -> queue:support");
    let queue = find("queue:support: queue 'Support'");
    assert!(
        sched < menu && menu < press && press < queue,
        "order:\n{out}"
    );
    assert!(!out.contains("not used"), "{out}");

    // `2#` takes the choice at once.
    let out = trace(&config, "2026-08-12T10:00:00+02:00", Some("2#")).join("\n");
    assert!(out.contains("caller presses 2# -> queue:support"), "{out}");
}

#[test]
fn trace_bundled_config_closed_evening_plays_closed_message() {
    let dir = TestDir::new("trace-closed");
    let config = bundled_config(&dir);
    let lines = trace(&config, "2026-08-12T18:00:00+02:00", Some("2"));
    let out = lines.join("\n");
    assert!(
        out.contains("schedule:office-hours 'Öppettider' is closed: outside the opening hours -> message:closed"),
        "{out}"
    );
    assert!(out.contains("message:closed 'Stängt'"), "{out}");
    assert!(
        !out.contains("ivr:main"),
        "a closed call reached the menu:\n{out}"
    );
    assert!(out.contains("keys 2 not used"), "{out}");

    let out = trace(&config, "2026-12-25T10:00:00+01:00", None).join("\n");
    assert!(
        out.contains("juldagen") && out.contains("-> message:closed"),
        "{out}"
    );
}

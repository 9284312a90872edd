//! The process around the calls: SIGTERM with a call up, SIGHUP reloads (good and broken
//! configs), `vaxel check` and `vaxel trace`, /health and /metrics, the call records in
//! SQLite, and the trunk allow list.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{Vaxel, did, http_get, vaxel_cmd};
use vaxel_testua::{Codec, Ua};

const WAIT: Duration = Duration::from_secs(10);

/// Calls `number` and returns the final status, ACKing it (and hanging up a 2xx).
fn final_status(ua: &Ua, number: &str) -> u16 {
    let mut call = ua.invite(number, &[Codec::Pcma]).expect("INVITE");
    let r = call.wait_final(WAIT).expect("final response");
    call.ack().expect("ACK");
    if r.status < 300 {
        call.bye().expect("BYE");
    }
    r.status
}

/// The value of a Prometheus sample `name` (no labels) in a /metrics body.
fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok())?
    })
}

#[test]
fn sigterm_during_a_call_sends_bye_and_exits_0() {
    let mut vaxel = Vaxel::start("sigterm");
    let ua = vaxel.ua();
    let mut call = ua
        .invite(did::ANSWERED_TWICE, &[Codec::Pcmu])
        .expect("INVITE");
    call.wait_status(200, WAIT).expect("200");
    call.ack().expect("ACK");
    call.rtp().wait_count(10, WAIT).expect("prompt starts");
    let sent = Instant::now();
    vaxel.signal("TERM");
    call.wait_bye_and_ok(WAIT)
        .unwrap_or_else(|e| panic!("no BYE after SIGTERM: {e}\n{}", vaxel.log()));
    let st = vaxel.wait_exit(Duration::from_secs(10));
    let log = vaxel.log();
    match st {
        Some(st) => assert!(st.success(), "exit {st} after SIGTERM\n{log}"),
        None => panic!("still running 10 s after SIGTERM\n{log}"),
    }
    eprintln!("exited {:?} after SIGTERM", sent.elapsed());
}

#[test]
fn sigterm_when_idle_exits_0_quickly() {
    let vaxel = Vaxel::start("sigterm-idle");
    let started = Instant::now();
    vaxel.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "an idle switchboard should stop at once, took {:?}",
        started.elapsed()
    );
}

const NEW_DID: &str = "4610000077";

#[test]
fn sighup_reload_adds_a_did() {
    let vaxel = Vaxel::start("reload");
    let ua = vaxel.ua();
    assert_eq!(final_status(&ua, NEW_DID), 404);
    let text = format!(
        "{}\n[[did]]\nnumber = \"{NEW_DID}\"\nname = \"new\"\nroute = \"busy\"\n",
        vaxel.layout.config()
    );
    std::fs::write(&vaxel.layout.config, text).expect("rewrite config");
    vaxel.signal("HUP");
    vaxel.wait_http("/metrics", "counted the reload", |b| {
        metric(b, "vaxel_reloads_total") == Some(1.0)
    });
    assert_eq!(
        final_status(&ua, NEW_DID),
        486,
        "the new DID routes to busy"
    );
    assert_eq!(final_status(&ua, did::HANGUP), 480, "old DIDs still route");
    vaxel.stop();
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one() {
    let vaxel = Vaxel::start("reload-broken");
    let ua = vaxel.ua();
    let broken = format!(
        "{}\n[[did]]\nnumber = \"{NEW_DID}\"\nname = \"broken\"\nroute = \"message:does-not-exist\"\n",
        vaxel
            .layout
            .config()
            .replace("route = \"busy\"", "route = \"hangup\"")
    );
    std::fs::write(&vaxel.layout.config, broken).expect("rewrite config");
    vaxel.signal("HUP");
    vaxel.wait_http("/metrics", "counted the refused reload", |b| {
        metric(b, "vaxel_reloads_failed_total") == Some(1.0)
    });
    let log = vaxel.log();
    assert!(
        log.contains("does-not-exist"),
        "the refusal names the error:\n{log}"
    );
    assert_eq!(
        final_status(&ua, did::BUSY),
        486,
        "the old config keeps serving (busy not changed to hangup)"
    );
    assert_eq!(
        final_status(&ua, NEW_DID),
        404,
        "the broken DID was not taken"
    );
    let body = vaxel.wait_http("/metrics", "has metrics", |_| true);
    assert_eq!(metric(&body, "vaxel_reloads_total"), Some(0.0));
    vaxel.stop();
}

#[test]
fn check_accepts_the_bundled_config() {
    let file = common::repo_root().join("config/vaxel.toml");
    let (code, out, err) = vaxel_cmd(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        out.trim().lines().count(),
        1,
        "one-line summary, got:\n{out}"
    );
}

#[test]
fn check_reports_errors_with_file_line_col_and_exits_1() {
    let dir = common::TestDir::new("check-broken");
    let path = dir.path().join("broken.toml");
    let text = r#"# a config with two dangling destinations
[server]
name = "broken"

[[did]]
number = "4611111111"
route = "message:nope"

[[did]]
number = "4622222222"
route = "queue:nobody"
"#;
    std::fs::write(&path, text).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let (code, out, err) = vaxel_cmd(&["check", p]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let all = format!("{out}{err}");
    let errors: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with(&format!("{p}:")) && l.contains(": error: "))
        .collect();
    let on_line = |n: u32| {
        errors.iter().any(|l| {
            let mut parts = l[p.len() + 1..].splitn(3, ':');
            parts.next() == Some(&n.to_string())
                && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
        })
    };
    assert!(
        on_line(7),
        "an error at {p}:7:COL for message:nope in:\n{all}"
    );
    assert!(
        on_line(11),
        "an error at {p}:11:COL for queue:nobody in:\n{all}"
    );
}

#[test]
fn trace_prints_the_path_of_a_call() {
    let dir = common::TestDir::new("trace");
    let layout = common::Layout::new(dir.path());
    let path = layout.config.clone();
    std::fs::write(&path, layout.config()).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let (code, out, err) = vaxel_cmd(&["trace", "--config", p, "--did", did::EARLY_ONCE]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for want in ["message:early-once", "hangup"] {
        assert!(out.contains(want), "trace lacks {want:?}:\n{out}");
    }
    let (code, out, err) = vaxel_cmd(&["trace", "--config", p, "--did", did::BUSY]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("busy"), "{out}");
}

#[test]
fn health_and_metrics_over_http() {
    let vaxel = Vaxel::start("http");
    let (status, body) = http_get(vaxel.http(), "/health").expect("GET /health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ok"), "{body}");
    let ua = vaxel.ua();
    assert_eq!(final_status(&ua, did::BUSY), 486);
    assert_eq!(final_status(&ua, did::HANGUP), 480);
    let body = vaxel.wait_http("/metrics", "counted two calls", |b| {
        metric(b, "vaxel_calls_total").is_some_and(|n| n >= 2.0)
    });
    for name in ["vaxel_calls_active", "vaxel_sip_messages_received_total"] {
        assert!(
            metric(&body, name).is_some(),
            "/metrics lacks {name}:\n{body}"
        );
    }
    let (status, _) = http_get(vaxel.http(), "/no-such-page").expect("GET");
    assert_eq!(status, 404);
    vaxel.stop();
}

#[test]
fn invite_from_outside_the_trunk_gets_403() {
    let vaxel = Vaxel::start("trunk");
    let outsider =
        Ua::bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), vaxel.sip()).expect("bind 127.0.0.2");
    assert_eq!(final_status(&outsider, did::BUSY), 403);
    assert_eq!(final_status(&outsider, did::ANSWERED_ONCE), 403);
    assert_eq!(
        final_status(&vaxel.ua(), did::BUSY),
        486,
        "insiders still get through"
    );
    vaxel.stop();
}

/// One row of the cdr table.
#[derive(Debug)]
struct Cdr {
    callee: String,
    outcome: String,
    status: Option<i64>,
    answered_at: Option<String>,
    ended_at: String,
    end_reason: String,
}

#[test]
fn call_records_land_in_sqlite() {
    let vaxel = Vaxel::start("cdr");
    let ua = vaxel.ua();
    let mut ids = Vec::new();
    // busy, hangup, unknown: rejected before an answer.
    for n in [did::BUSY, did::HANGUP, did::UNKNOWN] {
        let mut call = ua.invite(n, &[Codec::Pcma]).expect("INVITE");
        call.wait_final(WAIT).expect("final");
        call.ack().expect("ACK");
        ids.push((call.call_id().to_string(), n));
    }
    // Answered, the caller hangs up.
    let mut call = ua
        .invite(did::ANSWERED_ONCE, &[Codec::Pcma])
        .expect("INVITE");
    call.wait_status(200, WAIT).expect("200");
    call.ack().expect("ACK");
    call.rtp().wait_count(5, WAIT).expect("RTP");
    assert_eq!(call.bye().expect("BYE").status, 200);
    ids.push((call.call_id().to_string(), did::ANSWERED_ONCE));
    // Early media, cancelled.
    let mut call = ua.invite(did::EARLY_ONCE, &[Codec::Pcmu]).expect("INVITE");
    call.wait_status(183, WAIT).expect("183");
    assert_eq!(call.cancel().expect("CANCEL").status, 200);
    call.wait_status(487, WAIT).expect("487");
    call.ack().expect("ACK");
    ids.push((call.call_id().to_string(), did::EARLY_ONCE));

    // SIGTERM flushes the call-record writer; read the database once the process is gone.
    let mut vaxel = vaxel;
    vaxel.signal("TERM");
    let st = vaxel.wait_exit(Duration::from_secs(10));
    let log = vaxel.log();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}\n{log}");
    let db_path = vaxel.layout.data_dir.join("vaxel.db");
    let db = rusqlite::Connection::open(&db_path).expect("open cdr db");
    let rows: Vec<(String, Cdr)> = {
        let mut stmt = db
            .prepare("SELECT call_id, callee, outcome, status, answered_at, ended_at, end_reason, started_at, caller, source, route FROM cdr")
            .expect("cdr table with the contract's columns");
        stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Cdr {
                    callee: r.get(1)?,
                    outcome: r.get(2)?,
                    status: r.get(3)?,
                    answered_at: r.get(4)?,
                    ended_at: r.get(5)?,
                    end_reason: r.get(6)?,
                },
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    let find = |id: &str| -> Vec<&Cdr> {
        rows.iter()
            .filter(|(c, _)| c == id)
            .map(|(_, r)| r)
            .collect()
    };
    let expected: [(&str, Option<i64>, bool); 5] = [
        ("rejected", Some(486), false),
        ("rejected", Some(480), false),
        ("rejected", Some(404), false),
        ("answered", Some(200), true),
        ("cancelled", Some(487), false),
    ];
    let mut problems = Vec::new();
    for ((id, number), (outcome, status, answered)) in ids.iter().zip(expected) {
        let found = find(id);
        let [row] = found.as_slice() else {
            problems.push(format!("{number}: {} rows for Call-ID {id}", found.len()));
            continue;
        };
        if row.outcome != outcome || row.status != status || row.answered_at.is_some() != answered {
            problems.push(format!(
                "{number}: expected outcome {outcome}, status {status:?}, answered {answered}; got {row:?}"
            ));
        }
        if !row.callee.contains(&number[2..])
            || row.ended_at.is_empty()
            || row.end_reason.is_empty()
        {
            problems.push(format!("{number}: incomplete row {row:?}"));
        }
    }
    assert_eq!(rows.len(), ids.len(), "one row per call: {rows:#?}\n{log}");
    assert!(
        problems.is_empty(),
        "{}\nall rows: {rows:#?}",
        problems.join("\n")
    );
}

//! Every SIPp scenario in tests/sipp, over UDP and over TCP, against a fresh vaxel.
//! SIPp is required: a machine without it fails these tests (CI installs sip-tester).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::{Vaxel, did, free_sip_port, free_udp_pair};

fn scenario(name: &str) -> PathBuf {
    common::repo_root()
        .join("tests/sipp")
        .join(format!("{name}.xml"))
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

/// Runs scenario `name` dialling `number` over `transport` ("u1" or "t1"); fails with
/// SIPp's error and message logs when SIPp exits non-zero.
fn run(name: &str, number: &str, transport: &str) {
    let vaxel = Vaxel::start(&format!("sipp-{name}-{transport}"));
    let dir = vaxel.dir.path().to_path_buf();
    let err_log = dir.join("sipp-errors.log");
    let msg_log = dir.join("sipp-messages.log");
    let mut last = None;
    // SIPp binds its ports itself; if one was taken in the meantime, pick others.
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new("sipp")
            .current_dir(&dir)
            .arg(vaxel.sip().to_string())
            .arg("-sf")
            .arg(scenario(name))
            .args(["-s", number, "-m", "1", "-i", "127.0.0.1"])
            .args(["-p", &free_sip_port().to_string()])
            .args(["-mp", &free_udp_pair().to_string()])
            .args(["-cp", &free_sip_port().to_string()])
            .args(["-t", transport])
            .args(["-timeout", "60s", "-timeout_error", "-max_retrans", "10"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&err_log)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&msg_log)
            .arg("-nostdin")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run sipp ({e}); install it (Debian: apt-get install sip-tester)")
            });
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let bind_problem = stderr.contains("bind") || stdout.contains("Unable to bind");
        if out.status.success() {
            eprintln!(
                "sipp {name} over {transport}: ok in {:?}",
                started.elapsed()
            );
            vaxel.stop();
            return;
        }
        last = Some((out.status, stdout, stderr));
        if !bind_problem {
            break;
        }
    }
    let (status, stdout, stderr) = last.expect("ran sipp");
    let tail: Vec<&str> = stdout.lines().rev().take(30).collect();
    panic!(
        "sipp {name} ({number}) over {transport} failed: {status}\n\
         ---- sipp error log ----\n{}\n---- sipp messages ----\n{}\n---- sipp stderr ----\n{stderr}\n---- sipp screen (tail) ----\n{}",
        read(&err_log),
        read(&msg_log),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    );
}

macro_rules! scenarios {
    ($($test:ident: $name:literal, $number:expr, $transport:literal;)*) => {
        $(
            #[test]
            fn $test() {
                run($name, $number, $transport);
            }
        )*
    };
}

scenarios! {
    busy_udp: "busy", did::BUSY, "u1";
    busy_tcp: "busy", did::BUSY, "t1";
    hangup_udp: "hangup", did::HANGUP, "u1";
    hangup_tcp: "hangup", did::HANGUP, "t1";
    not_found_udp: "not_found", did::UNKNOWN, "u1";
    not_found_tcp: "not_found", did::UNKNOWN, "t1";
    no_codec_udp: "no_codec", did::ANSWERED_ONCE, "u1";
    no_codec_tcp: "no_codec", did::ANSWERED_ONCE, "t1";
    early_media_udp: "early_media", did::EARLY_ONCE, "u1";
    early_media_tcp: "early_media", did::EARLY_ONCE, "t1";
    message_answered_udp: "message_answered", did::ANSWERED_ONCE, "u1";
    message_answered_tcp: "message_answered", did::ANSWERED_ONCE, "t1";
    caller_bye_udp: "caller_bye", did::ANSWERED_ONCE, "u1";
    caller_bye_tcp: "caller_bye", did::ANSWERED_ONCE, "t1";
    cancel_early_udp: "cancel_early", did::EARLY_ONCE, "u1";
    cancel_early_tcp: "cancel_early", did::EARLY_ONCE, "t1";
}

/// Every scenario file has a test above (a new scenario must be wired in here too).
#[test]
fn every_scenario_is_run() {
    let mut names: Vec<String> = std::fs::read_dir(common::repo_root().join("tests/sipp"))
        .expect("tests/sipp")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".xml").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "busy",
            "caller_bye",
            "cancel_early",
            "early_media",
            "hangup",
            "message_answered",
            "no_codec",
            "not_found"
        ]
    );
}

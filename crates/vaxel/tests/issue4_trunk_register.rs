//! A `[[trunk]]` with `register = true` registers at the operator: SIPp plays the operator's
//! registrar (tests/sipp/issue4/trunk_registrar.xml), challenges with 401 (MD5, qop=auth),
//! checks our digest with its own `verifyauth`, grants 12 s and expects the refresh, signed
//! on the same nonce, before they run out. vaxel is driven only from the outside.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Vaxel, free_sip_port, free_udp_pair, repo_root};

fn scenario() -> PathBuf {
    repo_root().join("tests/sipp/issue4/trunk_registrar.xml")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

#[test]
fn a_registering_trunk_answers_the_challenge_and_refreshes() {
    registers("udp");
}

/// The same over a TCP connection vaxel opens (`transport=tcp` in the trunk's uri).
#[test]
fn a_tcp_trunk_registers_and_refreshes_over_its_connection() {
    registers("tcp");
}

fn registers(transport: &str) {
    let operator = free_sip_port();
    let work = common::TestDir::new(&format!("trunk-register-sipp-{transport}"));
    let err_log = work.path().join("sipp-errors.log");
    let msg_log = work.path().join("sipp-messages.log");
    // The registrar first, so the first REGISTER finds it (a lost one is retransmitted anyway).
    let sipp = Command::new("sipp")
        .current_dir(work.path())
        .arg("-sf")
        .arg(scenario())
        .args(["-m", "1", "-i", "127.0.0.1", "-p", &operator.to_string()])
        .args(["-mp", &free_udp_pair().to_string()])
        .args(["-t", if transport == "tcp" { "t1" } else { "u1" }])
        .args(["-timeout", "40s", "-timeout_error"])
        .arg("-trace_err")
        .arg("-error_file")
        .arg(&err_log)
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&msg_log)
        .arg("-nostdin")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run sipp ({e}); install it (Debian: apt-get install sip-tester)")
        });
    std::thread::sleep(Duration::from_millis(300));

    let vaxel = Vaxel::start_with("trunk-register", |l| {
        format!(
            r#"{server}
[[trunk]]
id = "operator"
allow = ["127.0.0.1/32"]
uri = "sip:127.0.0.1:{operator}{param}"
username = "vaxel-trunk"
password = "trunk-secret"
register = true
"#,
            server = l.server_section(),
            param = if transport == "tcp" {
                ";transport=tcp"
            } else {
                ""
            },
        )
    });

    let started = Instant::now();
    let out = sipp.wait_with_output().expect("sipp ran");
    let log = vaxel.stop();
    assert!(
        out.status.success(),
        "the operator's registrar (SIPp) failed: {}\n---- errors ----\n{}\n---- messages ----\n{}\n\
         ---- sipp stderr ----\n{}\n---- vaxel ----\n{log}",
        out.status,
        read(&err_log),
        read(&msg_log),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("registered and refreshed in {:?}", started.elapsed());
    let registered = log
        .lines()
        .filter(|l| l.contains("trunk registered") && l.contains("operator"))
        .count();
    assert_eq!(registered, 1, "logged once, not per refresh:\n{log}");
    assert!(!log.contains("trunk registration failed"), "{log}");
    if transport == "tcp" {
        let msgs = read(&msg_log);
        assert!(msgs.contains("Via: SIP/2.0/TCP"), "{msgs}");
    }
}

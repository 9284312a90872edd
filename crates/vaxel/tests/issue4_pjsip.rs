//! Two real softphones through the B2BUA: PJSIP (pjsua2-python, null audio device) registers
//! Anna and Bertil with digest, Anna calls Bertil, and each must hear the other's tone.
//! The phones are tests/pjsip/two_phones.py, which prints a JSON summary and exits 0 only if
//! both registered, the call was confirmed and ended on both sides, and each recording holds
//! the other side's tone (Goertzel filter) and not its own. CI installs the bindings
//! (`pip install pjsua2-python`, see .ci/run); without them these tests fail, they do not skip.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/env.rs"]
mod env;
#[path = "support/vaxel.rs"]
mod vaxel;
use env::{TestDir, repo_root};
use vaxel::Vaxel;

/// Users and numbers of the test. No trunk allows 127.0.0.1 (nor the phones' 127.0.0.2-5):
/// an INVITE from a trunk address would skip the 407 that phones must answer.
const CONFIG: &str = r#"
[[trunk]]
id = "operator"
allow = ["127.0.0.9/32"]

[[user]]
id = "anna"
name = "Anna"
extension = "1001"
password = "secret-1001"

[[user]]
id = "bertil"
name = "Bertil"
extension = "1002"
password = "secret-1002"

[[did]]
number = "4610100100"
route = "user:bertil"
"#;

/// Fails (never skips) when the pjsua2 bindings are missing.
fn require_pjsua2() {
    let ok = Command::new("python3")
        .args(["-c", "import pjsua2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 cannot import pjsua2: install the PJSIP bindings with `pip install pjsua2-python` (.ci/run does)"
    );
}

/// Everything one run of the phones left behind, for a failure message.
fn phone_files(dir: &Path) -> String {
    let mut out = String::new();
    for name in ["pjsip.log", "pjsip-anna.log", "pjsip-bertil.log"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            out.push_str(&format!("--- {name}\n{text}\n"));
        }
    }
    out
}

/// Runs two_phones.py against `v` (killed after 60 s; the script's own limit is 30 s) and
/// asserts it passed. Returns its JSON summary line.
fn two_phones(dir: &Path, v: &Vaxel, extra: &[&str]) -> String {
    let out_dir = dir.join("phones");
    let mut child = Command::new("python3")
        .arg(repo_root().join("tests/pjsip/two_phones.py"))
        .arg("--registrar")
        .arg(v.sip.to_string())
        .args(["--anna-password", "secret-1001"])
        .args(["--bertil-password", "secret-1002"])
        .arg("--dir")
        .arg(&out_dir)
        .args(["--timeout", "30"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait python3").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!(
        "two_phones.py {extra:?}: {}\n{stdout}\n{stderr}",
        out.status
    );
    if !out.status.success() {
        panic!(
            "two_phones.py {extra:?} failed ({}):\n{stdout}\n--- stderr\n{stderr}\n{}--- vaxel\n{}",
            out.status,
            phone_files(&out_dir),
            v.log_text()
        );
    }
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        summary.contains(r#""verdict": "pass""#),
        "no passing summary: {stdout}"
    );
    summary
}

/// The call ran from Anna's INVITE to her BYE, and vaxel stops cleanly afterwards.
fn answered_then_caller_bye(dir: &TestDir, v: Vaxel) {
    // The call record is written when the call ends; give the engine a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut cdrs = v.cdrs();
    while cdrs.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        cdrs = v.cdrs();
    }
    let log = v.stop();
    assert_eq!(
        cdrs,
        ["answered|200|caller-bye|user:bertil"],
        "one answered call ended by the caller\n{log}\n(files in {})",
        dir.path().display()
    );
}

#[test]
fn two_pjsip_phones_register_call_and_hear_each_other() {
    require_pjsua2();
    let dir = TestDir::new("pjsip");
    let v = Vaxel::start(dir.path(), "", CONFIG);
    let summary = two_phones(dir.path(), &v, &[]);
    // pjsip offers speex, iLBC, GSM and G.722 before G.711: both legs must settle on G.711.
    let g711 = summary.matches(r#""codec": "PCMU/8000""#).count()
        + summary.matches(r#""codec": "PCMA/8000""#).count();
    assert_eq!(g711, 2, "both phones on PCMU or PCMA: {summary}");
    answered_then_caller_bye(&dir, v);
}

#[test]
fn a_pcmu_phone_and_a_pcma_phone_hear_each_other_through_transcoding() {
    require_pjsua2();
    let dir = TestDir::new("pjsip-transcode");
    let v = Vaxel::start(dir.path(), "", CONFIG);
    // Own addresses, so the phones' RTP ports never meet the other test's.
    two_phones(
        dir.path(),
        &v,
        &[
            "--transcode",
            "--anna-ip",
            "127.0.0.4",
            "--bertil-ip",
            "127.0.0.5",
        ],
    );
    answered_then_caller_bye(&dir, v);
}

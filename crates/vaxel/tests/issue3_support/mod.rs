//! Harness of the issue 3 end-to-end tests (schedules, overrides, IVR menus, DTMF): a private
//! temp dir with generated short sounds, free ports, `vaxel run --config F [--now T]` with
//! its log in a file, SIPp runs, and an RTP sender for telephone-events and in-band tones.
//! Everything drives vaxel from the outside, as config.md's "How outside tests run vaxel"
//! says. Kept apart from `common/` (another test suite's harness) on purpose.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use vaxel_media::{Codec, RtpSender, g711};
use vaxel_testua::Ua;

#[path = "../support/env.rs"]
mod env;
pub use env::*;

/// Writes a 16-bit mono 8 kHz WAV of a sine at `hz` lasting `ms` (0 Hz: silence).
pub fn write_wav(path: &Path, hz: f32, ms: u32) {
    let n = 8 * ms;
    let mut data = Vec::with_capacity(n as usize * 2);
    for i in 0..n {
        let v = if hz > 0.0 {
            (6000.0 * (2.0 * std::f32::consts::PI * hz * i as f32 / 8000.0).sin()) as i16
        } else {
            0
        };
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).expect("write wav");
}

/// A block of 200 RTP ports above the range the other suite uses; vaxel skips ports another
/// process holds, so a rare overlap is harmless.
fn rtp_range() -> (u16, u16) {
    static N: AtomicU32 = AtomicU32::new(0);
    let slot = (std::process::id().wrapping_mul(13) + N.fetch_add(1, Ordering::Relaxed) * 7) % 40;
    let low = 56000 + slot as u16 * 200;
    (low, low + 199)
}

/// Ports and paths of one switchboard.
#[derive(Debug, Clone)]
pub struct Layout {
    /// SIP port (UDP and TCP).
    pub sip: u16,
    /// HTTP port.
    pub http: u16,
    /// The temp dir.
    pub dir: PathBuf,
    /// data_dir (SQLite lives here).
    pub data_dir: PathBuf,
    /// sounds_dir (the generated sounds).
    pub sounds_dir: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// RTP port range.
    pub rtp: (u16, u16),
}

impl Layout {
    /// Fresh ports; paths inside `dir`.
    pub fn new(dir: &Path) -> Layout {
        Layout {
            sip: free_sip_port(),
            http: free_tcp_port(),
            dir: dir.to_path_buf(),
            data_dir: dir.join("data"),
            sounds_dir: dir.join("sounds"),
            config: dir.join("vaxel.toml"),
            rtp: rtp_range(),
        }
    }

    /// The `[server]` section and a trunk allowing 127.0.0.1.
    pub fn server_and_trunk(&self) -> String {
        format!(
            r#"[server]
name = "issue3 e2e"
timezone = "Europe/Stockholm"
country_code = "46"
sip = ["udp://127.0.0.1:{sip}", "tcp://127.0.0.1:{sip}"]
media_address = "127.0.0.1"
rtp_ports = "{lo}-{hi}"
http = "127.0.0.1:{http}"
data_dir = {data:?}
sounds_dir = {sounds:?}

[[trunk]]
id = "operator"
allow = ["127.0.0.1/32"]
"#,
            sip = self.sip,
            http = self.http,
            lo = self.rtp.0,
            hi = self.rtp.1,
            data = self.data_dir.display().to_string(),
            sounds = self.sounds_dir.display().to_string(),
        )
    }
}

/// A running `vaxel run`; killed on drop if the test did not stop it.
pub struct Switchboard {
    child: Option<Child>,
    /// Ports and paths.
    pub layout: Layout,
    /// Where stdout and stderr go.
    pub log_path: PathBuf,
    /// When the process was spawned (its wall clock started at `--now` about then).
    pub spawned: Instant,
}

static STARTS: AtomicU32 = AtomicU32::new(0);

impl Switchboard {
    /// Writes `config(&layout)` with fresh ports and starts vaxel (with `--now`), retrying
    /// with other ports if it does not come up.
    pub fn start(dir: &TestDir, now: Option<&str>, config: impl Fn(&Layout) -> String) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let layout = Layout::new(dir.path());
            std::fs::write(&layout.config, config(&layout)).expect("write config");
            match Switchboard::spawn(layout, now) {
                Ok(s) => return s,
                Err(log) => last = log,
            }
        }
        panic!("vaxel did not come up; its log:\n{last}");
    }

    /// Starts vaxel again on the config and data of `layout` (a restart).
    pub fn restart(layout: &Layout, now: Option<&str>) -> Self {
        Switchboard::spawn(layout.clone(), now)
            .unwrap_or_else(|log| panic!("vaxel did not come up again; its log:\n{log}"))
    }

    fn spawn(layout: Layout, now: Option<&str>) -> Result<Switchboard, String> {
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let log_path = layout.dir.join(format!("vaxel-{n}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new(VAXEL);
        cmd.args(["run", "--config"]).arg(&layout.config);
        if let Some(now) = now {
            cmd.args(["--now", now]);
        }
        let spawned = Instant::now();
        let child = cmd
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn vaxel");
        let mut s = Switchboard {
            child: Some(child),
            layout,
            log_path,
            spawned,
        };
        if s.wait_ready(Duration::from_secs(30)) {
            Ok(s)
        } else {
            s.kill();
            Err(s.log())
        }
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let ua = Ua::new(self.sip()).expect("probe UA");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if ua
                .request("OPTIONS", "", "", Duration::from_millis(250))
                .is_ok()
            {
                return true;
            }
        }
        false
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIP address.
    pub fn sip(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.layout.sip))
    }

    /// A test UA towards this switchboard.
    pub fn ua(&self) -> Ua {
        Ua::new(self.sip()).expect("test UA")
    }

    /// The config file.
    pub fn config(&self) -> &Path {
        &self.layout.config
    }

    /// Everything vaxel logged so far (plain text: NO_COLOR is set; escapes are stripped
    /// anyway).
    pub fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log_path).unwrap_or_default())
    }

    /// The log lines of one call (tracing puts `call_id=...` in every line of its span).
    pub fn call_log(&self, call_id: &str) -> Vec<String> {
        let key = format!("call_id={call_id} ");
        let key2 = format!("call_id={call_id}}}");
        self.log()
            .lines()
            .filter(|l| l.contains(&key) || l.contains(&key2))
            .map(str::to_string)
            .collect()
    }

    /// Waits until the call's log has a line containing every one of `parts`; returns the
    /// call's log. Panics with the whole log otherwise.
    pub fn wait_call_line(&self, call_id: &str, parts: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.call_log(call_id);
            if lines.iter().any(|l| parts.iter().all(|p| l.contains(p))) {
                return lines;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no log line of call {call_id} with {parts:?}; the call's lines:\n{}\n---- whole log ----\n{}",
                    lines.join("\n"),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the call has ended (its "call ended" line) and returns its log lines.
    pub fn wait_call_ended(&self, call_id: &str) -> Vec<String> {
        self.wait_call_line(call_id, &["call ended"])
    }

    /// SIGTERM; asserts exit 0 within 10 s (the contract). Returns the log.
    pub fn stop(mut self) -> String {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        let child = self.child.as_mut().expect("running");
        let status = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break Some(st);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        match status {
            Some(st) => {
                self.child = None;
                assert!(
                    st.success(),
                    "vaxel exited with {st} after SIGTERM; log:\n{log}"
                );
            }
            None => panic!("vaxel still running 10 s after SIGTERM; log:\n{log}"),
        }
        log
    }
}

impl Drop for Switchboard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "---- vaxel log {} (last {} lines) ----\n{}",
                self.log_path.display(),
                tail.len(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// Drops ANSI colour escapes (`ESC [ ... m`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the `vaxel` binary to completion: (exit code, stdout, stderr).
pub fn vaxel_cmd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(VAXEL)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run vaxel");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A SIPp scenario of this suite (tests/sipp/issue3/NAME.xml).
pub fn scenario(name: &str) -> PathBuf {
    repo_root()
        .join("tests/sipp/issue3")
        .join(format!("{name}.xml"))
}

/// The outcome of one SIPp call.
#[derive(Debug)]
pub struct SippRun {
    /// The Call-ID SIPp used (find the call in vaxel's log with it).
    pub call_id: String,
    /// SIPp exited 0 (the scenario ran to its end).
    pub ok: bool,
    /// Everything useful for a failure message: status, error log, messages, screen.
    pub report: String,
}

/// Runs one call of scenario `name` to `number` over UDP with `-key` pairs `keys`.
pub fn sipp(sb: &Switchboard, name: &str, number: &str, keys: &[(&str, &str)]) -> SippRun {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let tag = format!("i3-{name}-{}-{run}", std::process::id());
    let dir = sb.layout.dir.clone();
    let err_log = dir.join(format!("{tag}-errors.log"));
    let msg_log = dir.join(format!("{tag}-messages.log"));
    let mut last = None;
    for attempt in 0..3 {
        // SIPp puts %u (call number, always 1 here) after our tag; the attempt keeps it unique.
        let cid_str = format!("{tag}-{attempt}-%u@%s");
        let call_id = format!("{tag}-{attempt}-1@127.0.0.1");
        let mut cmd = Command::new("sipp");
        cmd.current_dir(&dir)
            .arg(sb.sip().to_string())
            .arg("-sf")
            .arg(scenario(name))
            .args(["-s", number, "-m", "1", "-i", "127.0.0.1"])
            .args(["-cid_str", &cid_str])
            .args(["-p", &free_sip_port().to_string()])
            .args(["-mp", &free_udp_pair().to_string()])
            .args(["-t", "u1"])
            .args(["-timeout", "60s", "-timeout_error", "-max_retrans", "10"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&err_log)
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&msg_log)
            .arg("-nostdin");
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run sipp ({e}); install it (Debian: apt-get install sip-tester)")
        });
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let tail: Vec<&str> = stdout.lines().rev().take(25).collect();
        let report = format!(
            "sipp {name} ({number}, keys {keys:?}) exited {}\n---- sipp errors ----\n{}\n---- sipp messages ----\n{}\n---- sipp stderr ----\n{stderr}\n---- sipp screen (tail) ----\n{}",
            out.status,
            read(&err_log),
            read(&msg_log),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        );
        let bind_problem = stderr.contains("bind") || stdout.contains("Unable to bind");
        let res = SippRun {
            call_id,
            ok: out.status.success(),
            report,
        };
        if res.ok || !bind_problem {
            return res;
        }
        last = Some(res);
    }
    last.expect("ran sipp")
}

/// The RFC 4733 event code of a key.
pub fn event_code(key: char) -> u8 {
    match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => key as u8 - b'A' + 12,
        _ => panic!("no DTMF key {key:?}"),
    }
}

/// The row and column frequencies of a key.
pub fn dtmf_freqs(key: char) -> (f32, f32) {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const PAD: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    for (r, row) in PAD.iter().enumerate() {
        if let Some(c) = row.find(key) {
            return (ROWS[r], COLS[c]);
        }
    }
    panic!("no DTMF key {key:?}");
}

/// What a caller sends on its RTP stream, 20 ms per packet, paced in real time.
pub struct RtpOut {
    sock: UdpSocket,
    to: SocketAddr,
    audio: RtpSender,
    codec: Codec,
    /// Sample position of the audio (continuous phase across packets).
    pos: u64,
    next: Instant,
}

impl RtpOut {
    /// A sender of `codec` audio to `to` (the address in vaxel's SDP).
    pub fn new(to: SocketAddr, codec: Codec) -> RtpOut {
        RtpOut::from_socket(UdpSocket::bind("127.0.0.1:0").expect("bind rtp"), to, codec)
    }

    /// [`RtpOut::new`] sending from `sock` (e.g. the address the caller's SDP named).
    pub fn from_socket(sock: UdpSocket, to: SocketAddr, codec: Codec) -> RtpOut {
        RtpOut {
            sock,
            to,
            audio: RtpSender::new(0x1234_5678, 1000, 160_000, codec.payload_type()),
            codec,
            pos: 0,
            next: Instant::now(),
        }
    }

    fn pace(&mut self) {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_millis(200) {
            // Far behind (a busy machine): do not burst, carry on from now.
            self.next = now;
        }
        self.next += Duration::from_millis(20);
    }

    /// Sends `ms` of audio: the two tones of `key` (each at about -7 dBm0), or silence.
    pub fn audio(&mut self, key: Option<char>, ms: u32) {
        for _ in 0..ms / 20 {
            let mut pcm = Vec::with_capacity(160);
            for _ in 0..160 {
                let t = self.pos as f32 / 8000.0;
                let v = match key {
                    Some(k) => {
                        let (lo, hi) = dtmf_freqs(k);
                        let tau = 2.0 * std::f32::consts::PI;
                        7000.0 * (tau * lo * t).sin() + 7000.0 * (tau * hi * t).sin()
                    }
                    None => 0.0,
                };
                pcm.push(v as i16);
                self.pos += 1;
            }
            let mut payload = Vec::with_capacity(160);
            g711::encode(self.codec, &pcm, &mut payload);
            let mut pkt = Vec::with_capacity(172);
            self.audio.write_packet(&payload, &mut pkt);
            self.pace();
            self.sock.send_to(&pkt, self.to).expect("send rtp");
        }
    }

    /// Sends one RFC 4733 key press on payload type `pt`: 100 ms of event packets (the
    /// first with the marker), three end packets, as phones do; the audio clock runs on.
    pub fn event(&mut self, pt: u8, key: char) {
        let code = event_code(key);
        let start_ts = self.audio.timestamp();
        let mut ev = RtpSender::new(self.audio.ssrc(), self.audio.seq(), start_ts, pt);
        for i in 1..=5u16 {
            let dur = 160 * i;
            let payload = [code, 10, (dur >> 8) as u8, dur as u8];
            let mut pkt = Vec::new();
            ev.write_with_samples(&payload, 0, &mut pkt);
            self.pace();
            self.sock.send_to(&pkt, self.to).expect("send rtp");
        }
        for _ in 0..3 {
            let dur = 800u16;
            let payload = [code, 0x80 | 10, (dur >> 8) as u8, dur as u8];
            let mut pkt = Vec::new();
            ev.write_with_samples(&payload, 0, &mut pkt);
            self.sock.send_to(&pkt, self.to).expect("send rtp");
        }
        // The audio stream carries on after the event's 100 ms, with the sequence numbers
        // the event used.
        let mut audio = RtpSender::new(
            self.audio.ssrc(),
            ev.seq(),
            start_ts.wrapping_add(800),
            self.codec.payload_type(),
        );
        std::mem::swap(&mut self.audio, &mut audio);
    }
}

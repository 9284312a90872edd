//! Shared harness for the binary's integration tests: a private temp dir, free ports, a
//! config in the contract's format, and a running `vaxel run --config` driven only from
//! the outside, as config.md ("How outside tests run vaxel") describes.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vaxel_testua::Ua;

#[path = "../support/env.rs"]
mod env;
pub use env::*;

/// DIDs of the test config (country code 46 first, as the contract wants).
pub mod did {
    /// Routed to `busy`: 486.
    pub const BUSY: &str = "4610000001";
    /// Routed to `hangup`: 480.
    pub const HANGUP: &str = "4610000002";
    /// `message:answered-twice`: 200, welcome.wav twice (repeat = 1), then BYE.
    pub const ANSWERED_TWICE: &str = "4610000003";
    /// `message:early-twice`: 183, welcome.wav twice as early media, then 480.
    pub const EARLY_TWICE: &str = "4610000004";
    /// `message:answered-once`: 200, welcome.wav once, then BYE.
    pub const ANSWERED_ONCE: &str = "4610000005";
    /// `message:early-once`: 183, welcome.wav once, then 480.
    pub const EARLY_ONCE: &str = "4610000006";
    /// In no config: 404.
    pub const UNKNOWN: &str = "4619999999";
}

/// The prompt every test message plays.
pub const PROMPT: &str = "welcome.wav";

/// A block of 200 RTP ports for one vaxel; instances rarely share one, and vaxel skips
/// ports another process holds anyway.
fn rtp_range() -> (u16, u16) {
    static N: AtomicU32 = AtomicU32::new(0);
    let slot = (std::process::id().wrapping_mul(7) + N.fetch_add(1, Ordering::Relaxed)) % 100;
    let low = 40000 + slot as u16 * 200;
    (low, low + 199)
}

/// Ports and paths one instance uses, for writing its config.
#[derive(Debug, Clone)]
pub struct Layout {
    /// SIP port (UDP and TCP).
    pub sip: u16,
    /// HTTP port.
    pub http: u16,
    /// data_dir.
    pub data_dir: PathBuf,
    /// The config file.
    pub config: PathBuf,
    rtp: (u16, u16),
}

impl Layout {
    /// Fresh free ports, and paths inside `dir`.
    pub fn new(dir: &Path) -> Layout {
        Layout {
            sip: free_sip_port(),
            http: free_tcp_port(),
            data_dir: dir.join("data"),
            config: dir.join("vaxel.toml"),
            rtp: rtp_range(),
        }
    }

    /// The `[server]` section.
    pub fn server_section(&self) -> String {
        format!(
            r#"[server]
name = "vaxel e2e"
timezone = "Europe/Stockholm"
country_code = "46"
sip = ["udp://127.0.0.1:{sip}", "tcp://127.0.0.1:{sip}"]
media_address = "127.0.0.1"
rtp_ports = "{lo}-{hi}"
http = "127.0.0.1:{http}"
data_dir = {data:?}
sounds_dir = {sounds:?}
"#,
            sip = self.sip,
            http = self.http,
            lo = self.rtp.0,
            hi = self.rtp.1,
            data = self.data_dir.display().to_string(),
            sounds = sounds_dir().display().to_string(),
        )
    }

    /// The standard test config: a trunk allowing `allow`, and the DIDs in [`did`].
    pub fn config_with_allow(&self, allow: &str) -> String {
        format!(
            r#"{server}
[[trunk]]
id = "operator"
allow = ["{allow}"]
uri = "sip:127.0.0.1:5080"

[[message]]
id = "answered-twice"
name = "Answered, twice"
answer = true
repeat = 1
sound = "{PROMPT}"
then = "hangup"

[[message]]
id = "early-twice"
name = "Early media, twice"
answer = false
repeat = 1
sound = "{PROMPT}"
then = "hangup"

[[message]]
id = "answered-once"
name = "Answered, once"
answer = true
repeat = 0
sound = "{PROMPT}"
then = "hangup"

[[message]]
id = "early-once"
name = "Early media, once"
answer = false
sound = "{PROMPT}"
then = "hangup"

[[did]]
number = "{busy}"
name = "busy"
route = "busy"

[[did]]
number = "{hangup}"
name = "hangup"
route = "hangup"

[[did]]
number = "{a2}"
name = "answered twice"
route = "message:answered-twice"

[[did]]
number = "{e2}"
name = "early twice"
route = "message:early-twice"

[[did]]
number = "{a1}"
name = "answered once"
route = "message:answered-once"

[[did]]
number = "{e1}"
name = "early once"
route = "message:early-once"
"#,
            server = self.server_section(),
            busy = did::BUSY,
            hangup = did::HANGUP,
            a2 = did::ANSWERED_TWICE,
            e2 = did::EARLY_TWICE,
            a1 = did::ANSWERED_ONCE,
            e1 = did::EARLY_ONCE,
        )
    }

    /// The standard test config, trunk allowing 127.0.0.1/32.
    pub fn config(&self) -> String {
        self.config_with_allow("127.0.0.1/32")
    }
}

/// A running `vaxel run`. Dropping it kills the process if a test did not stop it.
pub struct Vaxel {
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    /// Ports and paths.
    pub layout: Layout,
    /// The private directory (config, data).
    pub dir: TestDir,
}

impl Vaxel {
    /// Starts vaxel with the standard config and waits until it answers OPTIONS.
    pub fn start(name: &str) -> Vaxel {
        Vaxel::start_with(name, |l| l.config())
    }

    /// Starts vaxel with the config `write` returns and waits until it answers OPTIONS.
    pub fn start_with(name: &str, write: impl Fn(&Layout) -> String) -> Vaxel {
        let dir = TestDir::new(name);
        // A port can be taken between probing and binding; try a few layouts.
        let mut last_log = String::new();
        for _ in 0..3 {
            let layout = Layout::new(dir.path());
            std::fs::write(&layout.config, write(&layout)).expect("write config");
            let mut v = Vaxel::spawn(layout, &dir);
            if v.wait_ready(Duration::from_secs(30)) {
                return Vaxel {
                    child: v.child.take(),
                    log: v.log.clone(),
                    layout: v.layout.clone(),
                    dir,
                };
            }
            last_log = v.log();
            v.kill();
        }
        panic!("vaxel did not come up; its log:\n{last_log}");
    }

    fn spawn(layout: Layout, _dir: &TestDir) -> Spawned {
        let mut child = Command::new(VAXEL)
            .args(["run", "--config"])
            .arg(&layout.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vaxel");
        let log = Arc::new(Mutex::new(String::new()));
        for out in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        Spawned {
            child: Some(child),
            log,
            layout,
        }
    }

    /// The SIP address (UDP and TCP).
    pub fn sip(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.layout.sip))
    }

    /// The HTTP address.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.layout.http))
    }

    /// A fresh test UA on 127.0.0.1.
    pub fn ua(&self) -> Ua {
        Ua::new(self.sip()).expect("test UA")
    }

    /// Everything vaxel wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, ...).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM; asserts exit 0 within 10 s (the contract). Returns the log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let started = Instant::now();
        let st = self.wait_exit(Duration::from_secs(10));
        let log = self.log();
        match st {
            Some(st) => assert!(
                st.success(),
                "vaxel exited with {st} after SIGTERM; log:\n{log}"
            ),
            None => panic!("vaxel still running 10 s after SIGTERM; log:\n{log}"),
        }
        eprintln!("vaxel stopped {:?} after SIGTERM", started.elapsed());
        log
    }

    /// Polls GET `path` on the HTTP port until `pred` holds on the body, or panics.
    pub fn wait_http(&self, path: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let last = http_get(self.http(), path);
            if let Ok((200, body)) = &last {
                if pred(body) {
                    return body.clone();
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "GET {path}: never {what}; last: {last:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Vaxel {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "---- vaxel log (last {} lines) ----\n{}",
                tail.len(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// A process being started, not yet known to be ready.
struct Spawned {
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    layout: Layout,
}

impl Spawned {
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let sip = SocketAddr::from(([127, 0, 0, 1], self.layout.sip));
        let ua = Ua::new(sip).expect("probe UA");
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

    fn log(&self) -> String {
        // Give the reader threads a moment to drain the pipes of a process that died.
        std::thread::sleep(Duration::from_millis(100));
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GET over plain HTTP/1.1 with `Connection: close`; (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: vaxel-e2e\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Runs the `vaxel` binary with `args` to completion: (exit code, stdout, stderr).
pub fn vaxel_cmd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(VAXEL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vaxel");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

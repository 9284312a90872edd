//! The switchboard under test for the issue-4 end-to-end suites: started from a config on
//! free ports, ready when it answers OPTIONS, stopped with SIGTERM (exit 0 within 10 s), and
//! killed if a test panics. Included with `#[path]` next to `support/env.rs`.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::env::{VAXEL, free_sip_port, free_tcp_port, repo_root};

/// The switchboard under test, with a trunk whose operator (a SIPp) listens on `operator`.
pub struct Vaxel {
    child: Child,
    /// Its SIP address.
    pub sip: SocketAddr,
    log: PathBuf,
    dir: PathBuf,
}

impl Vaxel {
    /// Starts the release binary on free ports with `server_extra` added to `[server]` and
    /// `rest` (the other sections) after it; returns once it answers OPTIONS.
    pub fn start(dir: &Path, server_extra: &str, rest: &str) -> Vaxel {
        Vaxel::start_on(dir, free_sip_port(), free_tcp_port(), server_extra, rest)
    }

    /// [`Vaxel::start`] on given ports: a restart on the same ports and `dir` finds the same
    /// database (each start logs to a file of its own). A `sip = [...]` line in
    /// `server_extra` replaces the default UDP-only listen list (it must keep UDP on `sip`,
    /// where readiness is checked).
    pub fn start_on(dir: &Path, sip: u16, http: u16, server_extra: &str, rest: &str) -> Vaxel {
        let listen = if server_extra
            .lines()
            .any(|l| l.trim_start().starts_with("sip ="))
        {
            String::new()
        } else {
            format!("sip = [\"udp://127.0.0.1:{sip}\"]\n")
        };
        let config = format!(
            "[server]\nname = \"vaxel-test\"\n{listen}http = \"127.0.0.1:{http}\"\nrtp_ports = \"{lo}-{hi}\"\ndata_dir = {data:?}\nsounds_dir = {sounds:?}\n{server_extra}\n{rest}",
            lo = 30000 + (sip % 200) * 100,
            hi = 30000 + (sip % 200) * 100 + 99,
            data = dir.join("data").display().to_string(),
            sounds = repo_root().join("sounds").display().to_string(),
        );
        let path = dir.join("vaxel.toml");
        std::fs::write(&path, config).expect("config");
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let log = dir.join(format!("vaxel-{started}.log"));
        let err = std::fs::File::create(&log).expect("log");
        let child = Command::new(VAXEL)
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn vaxel");
        let v = Vaxel {
            child,
            sip: SocketAddr::from(([127, 0, 0, 1], sip)),
            log,
            dir: dir.to_path_buf(),
        };
        v.wait_ready();
        v
    }

    pub fn wait_ready(&self) {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            let opts = format!(
                "OPTIONS sip:{0} SIP/2.0\r\nVia: SIP/2.0/UDP {1};branch=z9hG4bKready\r\nFrom: <sip:t@t>;tag=1\r\nTo: <sip:{0}>\r\nCall-ID: ready@t\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                self.sip,
                s.local_addr().expect("addr"),
            );
            let _ = s.send_to(opts.as_bytes(), self.sip);
            if s.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("vaxel did not answer OPTIONS:\n{}", self.log_text());
    }

    /// The log without its colours.
    pub fn log_text(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                chars.by_ref().find(|c| c.is_ascii_alphabetic());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// SIGTERM, exit 0 within 10 s; returns the log.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "vaxel exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "vaxel did not stop within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log_text()
    }

    /// The call records, one line per call: outcome|status|end_reason|route.
    pub fn cdrs(&self) -> Vec<String> {
        let db = self.dir.join("data").join("vaxel.db");
        let conn = rusqlite::Connection::open(db).expect("open db");
        let mut stmt = conn
            .prepare("SELECT outcome, status, end_reason, route FROM cdr ORDER BY id")
            .expect("prepare");
        stmt.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?.unwrap_or_default()
            ))
        })
        .expect("query")
        .filter_map(Result::ok)
        .collect()
    }
}

impl Drop for Vaxel {
    /// A test that panics must not leave its switchboard running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

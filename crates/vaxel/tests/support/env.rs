//! What every end-to-end harness needs: the binary, the repo's paths, a private temp dir, and
//! free ports on 127.0.0.1. Included by each harness with `#[path]`.
#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The binary under test.
pub const VAXEL: &str = env!("CARGO_BIN_EXE_vaxel");

/// The bundled sounds, absolute.
pub fn sounds_dir() -> PathBuf {
    repo_root().join("sounds")
}

/// The workspace root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A private directory under the system temp dir; removed on drop unless the test failed
/// (then it is kept and its path printed, for the log and the database).
pub struct TestDir(PathBuf);

impl TestDir {
    /// A fresh directory whose name says which test made it.
    pub fn new(name: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "vaxel-e2e-{name}-{}-{n}-{:x}",
            std::process::id(),
            seed()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TestDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn seed() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}

/// A port free for both UDP and TCP on 127.0.0.1 right now (SIP listens on both).
pub fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    l.local_addr().expect("addr").port()
}

/// A free UDP port on 127.0.0.1 whose neighbour `port + 2` is free too (SIPp's media
/// port and the one it takes for video).
pub fn free_udp_pair() -> u16 {
    for _ in 0..200 {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = a.local_addr().expect("addr").port();
        if port < 65000
            && port % 2 == 0
            && UdpSocket::bind(("127.0.0.1", port + 2)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free UDP port pair");
}

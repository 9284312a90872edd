//! The RTP port pool: one even port per call from `rtp_ports`, returned when the call ends.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Free even ports of the configured range (RTCP would take the odd one above).
#[derive(Debug)]
pub struct PortPool {
    free: VecDeque<u16>,
}

impl PortPool {
    /// All even ports in `low..=high`.
    pub fn new(low: u16, high: u16) -> Self {
        let start = low + (low % 2);
        let free = (start..=high).step_by(2).collect();
        PortPool { free }
    }

    /// Free ports left.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Binds a socket on the next free port of `ip`. Ports another process holds are put at
    /// the back and skipped; `None` when the whole range is taken.
    pub fn bind(&mut self, ip: IpAddr) -> Option<(u16, UdpSocket)> {
        for _ in 0..self.free.len() {
            let port = self.free.pop_front()?;
            match UdpSocket::bind(SocketAddr::new(ip, port)) {
                Ok(sock) => return Some((port, sock)),
                Err(_) => self.free.push_back(port),
            }
        }
        None
    }

    /// Gives a port back (least recently used ports are handed out first).
    pub fn release(&mut self, port: u16) {
        self.free.push_back(port);
    }
}

/// Dissolves a UDP socket's connection (connect to AF_UNSPEC). The bound address stays when
/// the port was bound explicitly (the port pool's are); an ephemeral port is given up.
#[cfg(unix)]
pub(crate) fn disconnect(socket: &UdpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed sockaddr with family AF_UNSPEC, of its own size, on an open fd.
    let rc = unsafe {
        let mut sa: libc::sockaddr = std::mem::zeroed();
        sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
        libc::connect(
            socket.as_raw_fd(),
            &sa,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
pub(crate) fn disconnect(_socket: &UdpSocket) -> std::io::Result<()> {
    Err(std::io::Error::other("no disconnect here"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_even_ports_and_runs_dry() {
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        // A range high enough to be free on a test machine.
        let mut pool = PortPool::new(47001, 47005);
        assert_eq!(pool.available(), 2);
        let (a, _sa) = pool.bind(ip).expect("first");
        let (b, _sb) = pool.bind(ip).expect("second");
        assert_eq!((a % 2, b % 2), (0, 0));
        assert!(pool.bind(ip).is_none(), "range exhausted");
        pool.release(a);
        assert_eq!(pool.available(), 1);
    }
}

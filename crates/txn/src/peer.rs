//! Where a message came from and where its answer goes.

use std::net::SocketAddr;

/// The transport a message travelled on; reliable transports skip retransmission timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams: timers retransmit.
    Udp,
    /// A stream connection: no retransmissions, answers go back on the same connection.
    Tcp,
}

impl Transport {
    /// RFC 3261 §17: reliable transports make Timers E, G, I, J and K zero or unused.
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// The token used in a Via header.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// The far end of one hop: a transport, an address and, for streams, the connection it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport of the hop.
    pub transport: Transport,
    /// Remote socket address.
    pub addr: SocketAddr,
    /// For stream transports, the id of the connection the engine keeps; responses use it.
    pub conn: Option<u64>,
}

impl Peer {
    /// A peer reached over UDP.
    pub fn udp(addr: SocketAddr) -> Self {
        Peer {
            transport: Transport::Udp,
            addr,
            conn: None,
        }
    }

    /// A peer on an established stream connection.
    pub fn tcp(addr: SocketAddr, conn: u64) -> Self {
        Peer {
            transport: Transport::Tcp,
            addr,
            conn: Some(conn),
        }
    }
}

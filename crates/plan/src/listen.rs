//! SIP listen addresses: `udp://HOST:PORT`, `tcp://...`, `tls://...`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The SIP transport of a listen address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (accepted in config now, served by a later version).
    Tls,
}

/// One socket the switchboard listens on for SIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Listen {
    /// Transport protocol.
    pub transport: Transport,
    /// Local address and port.
    pub addr: SocketAddr,
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("`{s}` has no scheme (udp://, tcp:// or tls://)"))?;
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            other => return Err(format!("unknown transport `{other}`")),
        };
        let addr = rest
            .trim_end_matches('/')
            .parse()
            .map_err(|_| format!("`{rest}` is not IP:PORT (IPv6 in brackets: [::1]:5060)"))?;
        Ok(Listen { transport, addr })
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        write!(f, "{scheme}://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let l: Listen = "udp://127.0.0.1:5060".parse().unwrap();
        assert_eq!(l.transport, Transport::Udp);
        assert_eq!(l.addr.port(), 5060);
        let l: Listen = "tls://[::1]:5061".parse().unwrap();
        assert_eq!(l.transport, Transport::Tls);
        assert_eq!(l.to_string(), "tls://[::1]:5061");
        assert!("sctp://1.2.3.4:5060".parse::<Listen>().is_err());
        assert!("udp://1.2.3.4".parse::<Listen>().is_err());
        assert!("1.2.3.4:5060".parse::<Listen>().is_err());
    }
}

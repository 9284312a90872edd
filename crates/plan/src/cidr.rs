//! IPv4/IPv6 CIDR blocks for trunk `allow` lists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block like `192.0.2.0/24` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this block; IPv4-mapped IPv6 addresses match IPv4 blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(v: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(prefix.min(32))))
    }
}

fn mask128(v: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(prefix.min(128))))
    }
}

/// Why a CIDR did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The prefix is not a number or too long for the address family.
    #[error("bad prefix length `{0}`")]
    Prefix(String),
    /// Host bits are set below the prefix (`10.0.0.1/8`), which usually hides a typo.
    #[error("host bits set: did you mean `{0}`?")]
    HostBits(String),
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr_s, prefix_s) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_s
            .trim()
            .parse()
            .map_err(|_| CidrError::Address(addr_s.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_s {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(CidrError::Prefix(p.to_string())),
            },
        };
        let net = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask32(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask128(u128::from(v6), prefix).into()),
        };
        if net != addr {
            return Err(CidrError::HostBits(format!("{net}/{prefix}")));
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_blocks() {
        let c: Cidr = "192.0.2.0/24".parse().unwrap();
        assert!(c.contains(ip("192.0.2.77")));
        assert!(!c.contains(ip("192.0.3.1")));
        assert!(c.contains(ip("::ffff:192.0.2.5")));
        let host: Cidr = "127.0.0.1".parse().unwrap();
        assert_eq!(host.prefix(), 32);
        assert!(host.contains(ip("127.0.0.1")));
        assert!(!host.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!(!all.contains(ip("2001:db8::1")));
    }

    #[test]
    fn v6_blocks() {
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains(ip("2001:db8:1::5")));
        assert!(!c.contains(ip("2001:db9::1")));
    }

    #[test]
    fn rejects_bad() {
        assert!(
            matches!("10.0.0.1/8".parse::<Cidr>(), Err(CidrError::HostBits(s)) if s == "10.0.0.0/8")
        );
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::Address(_))
        ));
    }
}

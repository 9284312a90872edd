//! The Via header (RFC 3261 §20.42, RFC 3581 rport), tolerant of LWS around `/`.

use std::fmt;

use crate::error::{ErrorKind, ParseError};
use crate::lex::{is_lws, is_token, params, write_params};
use crate::uri::split_host_port;

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `SIP/2.0`.
    pub protocol: String,
    /// `UDP`, `TCP`, ... (unknown transports are kept).
    pub transport: String,
    /// sent-by host.
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, ...).
    pub params: Vec<(String, Option<String>)>,
}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError::new(ErrorKind::Header, msg)
}

impl Via {
    /// Parses one Via value.
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        let mut parts = s.splitn(3, '/');
        let (Some(name), Some(version), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err(format!("bad Via `{s}`")));
        };
        let (name, version) = (name.trim_matches(is_lws), version.trim_matches(is_lws));
        let rest = rest.trim_start_matches(is_lws);
        let t_end = rest
            .find(is_lws)
            .ok_or_else(|| err("Via without sent-by"))?;
        let transport = &rest[..t_end];
        if !is_token(name) || !is_token(version) || !is_token(transport) {
            return Err(err(format!("bad Via protocol in `{s}`")));
        }
        let rest = rest[t_end..].trim_start_matches(is_lws);
        let sb_end = rest
            .find(|c: char| c == ';' || is_lws(c))
            .unwrap_or(rest.len());
        let (host, port) =
            split_host_port(&rest[..sb_end]).map_err(|e| err(format!("Via sent-by: {e}")))?;
        let params = params(&rest[sb_end..]).map_err(|e| err(format!("Via: {e}")))?;
        Ok(Via {
            protocol: format!("{name}/{version}"),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The received parameter (brackets of an IPv6 value kept as sent).
    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// `None`: no rport; `Some(None)`: rport asked for; `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// Sets or replaces a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self
            .params
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = value,
            None => self.params.push((name.to_string(), value)),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.protocol, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

//! URIs: SIP and SIPS parsed into parts (RFC 3261 §19.1, RFC 5118 for IPv6); any other
//! scheme kept whole, so that a request with an unknown scheme still parses and gets 416.

use std::fmt;

use crate::error::{ErrorKind, ParseError};
use crate::lex::{params, unescape, write_params};

/// A URI. For schemes other than `sip`/`sips`, everything after `scheme:` is in `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// Lower-cased scheme.
    pub scheme: String,
    /// The user part as written (escapes kept).
    pub user: Option<String>,
    /// The password part as written.
    pub password: Option<String>,
    /// Host name, IPv4 address or `[IPv6]` reference (opaque part for other schemes).
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp`, `;lr`).
    pub params: Vec<(String, Option<String>)>,
    /// URI headers (`?Route=...`), as written.
    pub headers: Vec<(String, String)>,
}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError::new(ErrorKind::Uri, msg)
}

impl Uri {
    /// Parses a URI; LWS anywhere inside it is an error (RFC 4475 lwsruri, badaspec).
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| err(format!("`{s}` is not a URI")))?;
        let mut sc = scheme.chars();
        let scheme_ok = sc.next().is_some_and(|c| c.is_ascii_alphabetic())
            && sc.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return Err(err(format!("bad URI scheme in `{s}`")));
        }
        if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("URI `{s}` is empty or contains white space")));
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: rest.to_string(),
                port: None,
                params: vec![],
                headers: vec![],
            });
        }
        let (userinfo, hostpart) = match rest.find('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        if user.as_deref() == Some("") {
            return Err(err("empty user part"));
        }
        let (hostport, headers_str) = match hostpart.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (hostpart, None),
        };
        let (hostport, param_str) = match hostport.find(';') {
            Some(i) => (&hostport[..i], &hostport[i..]),
            None => (hostport, ""),
        };
        let (host, port) = split_host_port(hostport)?;
        let params = params(param_str).map_err(|e| err(format!("URI parameter: {e}")))?;
        let mut headers = Vec::new();
        if let Some(q) = headers_str {
            for h in q.split('&') {
                let (n, v) = h
                    .split_once('=')
                    .ok_or_else(|| err(format!("bad URI header `{h}`")))?;
                headers.push((n.to_string(), v.to_string()));
            }
        }
        Ok(Uri {
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        self.scheme == "sip" || self.scheme == "sips"
    }

    /// The user part with %HH escapes decoded: what a dial plan matches numbers against.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// A URI parameter: `None` if absent, `Some(None)` if present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// Splits `host[:port]`, with IPv6 references in brackets (RFC 5118).
pub(crate) fn split_host_port(s: &str) -> Result<(String, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let end = s
            .find(']')
            .ok_or_else(|| err(format!("unclosed IPv6 reference in `{s}`")))?;
        let inner = &s[1..end];
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(err(format!("bad IPv6 reference `{s}`")));
        }
        let rest = &s[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return Err(err(format!("junk after IPv6 reference in `{s}`"))),
        };
        (&s[..=end], port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty()
        || !(host.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(err(format!("bad host `{host}`")));
    }
    let port = match port {
        // Digits only: `str::parse` would also take a sign (`+5060`).
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(
            p.parse::<u16>()
                .map_err(|_| err(format!("bad port `{p}`")))?,
        ),
        Some(p) => return Err(err(format!("bad port `{p}`"))),
        None => None,
    };
    Ok((host.to_string(), port))
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if !self.is_sip() {
            return f.write_str(&self.host);
        }
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)?;
        for (i, (k, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

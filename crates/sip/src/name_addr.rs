//! `name-addr` / `addr-spec` values of From, To, Contact, Route (RFC 3261 §20.10).

use std::fmt;

use crate::error::{ErrorKind, ParseError};
use crate::lex::{is_lws, is_token_char, params, quoted, write_params};
use crate::uri::Uri;

/// A display name, a URI and header parameters (such as `tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters.
    pub params: Vec<(String, Option<String>)>,
}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError::new(ErrorKind::Header, msg)
}

impl NameAddr {
    /// Parses either form. Without `<>`, the URI ends at the first `;` and may not hold
    /// `,` or `?` (RFC 3261 §20: such URIs must be bracketed; RFC 4475 regbadct).
    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        let s = s.trim_matches(is_lws);
        let (display, after_display) = if s.starts_with('"') {
            let (d, rest) = quoted(s).ok_or_else(|| err("unterminated quoted display name"))?;
            let rest = rest.trim_start_matches(is_lws);
            if !rest.starts_with('<') {
                return Err(err("quoted display name without <URI>"));
            }
            (Some(d), rest)
        } else if let Some(lt) = s.find('<') {
            let d = s[..lt].trim_matches(is_lws);
            if !d.chars().all(|c| is_token_char(c) || is_lws(c)) {
                return Err(err(format!("display name `{d}` must be quoted")));
            }
            ((!d.is_empty()).then(|| d.to_string()), &s[lt..])
        } else {
            (None, s)
        };
        if let Some(inner) = after_display.strip_prefix('<') {
            let end = inner.find('>').ok_or_else(|| err("unclosed <"))?;
            let uri = Uri::parse(&inner[..end])?;
            let params = params(&inner[end + 1..]).map_err(err)?;
            return Ok(NameAddr {
                display,
                uri,
                params,
            });
        }
        let end = after_display
            .find(|c: char| c == ';' || is_lws(c))
            .unwrap_or(after_display.len());
        let uri_text = &after_display[..end];
        if uri_text.contains([',', '?']) {
            return Err(err(format!(
                "URI `{uri_text}` with `,` or `?` must be in <>"
            )));
        }
        let uri = Uri::parse(uri_text)?;
        let params = params(&after_display[end..]).map_err(err)?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    /// A header parameter: `None` if absent, `Some(None)` if present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Sets (or replaces) the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
        self.params.push(("tag".into(), Some(tag.into())));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            // quoted-pair for `"`, `\` and controls (intmeth); CR and LF cannot be quoted.
            let mut escaped = String::with_capacity(d.len() + 2);
            for c in d.chars().filter(|c| !matches!(c, '\r' | '\n')) {
                if c == '"' || c == '\\' || c.is_ascii_control() {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            write!(f, "\"{escaped}\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

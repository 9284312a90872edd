//! Parsing `Authorization` / `Proxy-Authorization` values: the `Digest` scheme and its
//! comma-separated auth-params (RFC 7235 §2.1), quoted strings with `\` escapes,
//! case-insensitive parameter names, and RFC 8187 `username*` for non-ASCII names.

use crate::digest::{Algorithm, Qop};
use crate::error::DigestError;

/// The client's answer to a digest challenge, parsed and checked for the parameters the
/// computation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username` (or the decoded `username*`).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce` as the server sent it.
    pub nonce: String,
    /// `uri`: the digest URI the client hashed.
    pub uri: String,
    /// `response`, lower-cased hex.
    pub response: String,
    /// `algorithm` (MD5 when absent, RFC 2617).
    pub algorithm: Algorithm,
    /// `qop`; `None` is the RFC 2069 form.
    pub qop: Option<Qop>,
    /// `nc` as sent (hashed as is); present whenever `qop` is.
    pub nc: String,
    /// `nc` as a number; 0 without qop.
    pub nc_value: u32,
    /// `cnonce`; present whenever `qop` is.
    pub cnonce: String,
    /// `opaque`, echoed from the challenge if the server sent one.
    pub opaque: Option<String>,
}

impl DigestCredentials {
    /// Parses a header value such as `Digest username="bob", realm="x", ...`. Schemes other
    /// than `Digest` are [`DigestError::UnknownScheme`] (the server answers with a fresh
    /// challenge, RFC 4475 regaut01).
    pub fn parse(value: &str) -> Result<DigestCredentials, DigestError> {
        let trimmed = value.trim_matches(is_lws);
        let scheme = trimmed.split(is_lws).next().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::UnknownScheme(scheme.to_string()));
        }
        let header = parse_auth_header(trimmed)?;
        let get = |name: &str| header.get(name);
        let need = |name: &'static str| get(name).ok_or(DigestError::Missing(name));
        if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(DigestError::Unsupported("userhash".into()));
        }
        let username = match (get("username"), get("username*")) {
            (Some(u), None) => u.to_string(),
            (None, Some(ext)) => decode_ext_value(ext)?,
            (Some(_), Some(_)) => {
                return Err(DigestError::Syntax("both username and username*".into()));
            }
            (None, None) => return Err(DigestError::Missing("username")),
        };
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => {
                Algorithm::parse(a).ok_or_else(|| DigestError::UnknownAlgorithm(a.to_string()))?
            }
        };
        let qop = match get("qop") {
            None => None,
            Some(q) => Some(Qop::parse(q).ok_or_else(|| DigestError::UnknownQop(q.to_string()))?),
        };
        let (nc, nc_value, cnonce) = if qop.is_some() {
            let nc = need("nc")?;
            let value = parse_nc(nc)?;
            (nc.to_string(), value, need("cnonce")?.to_string())
        } else {
            (String::new(), 0, get("cnonce").unwrap_or("").to_string())
        };
        Ok(DigestCredentials {
            username,
            realm: need("realm")?.to_string(),
            nonce: need("nonce")?.to_string(),
            uri: need("uri")?.to_string(),
            response: need("response")?.to_ascii_lowercase(),
            algorithm,
            qop,
            nc,
            nc_value,
            cnonce,
            opaque: get("opaque").map(str::to_string),
        })
    }
}

/// `nc`: eight hex digits in the RFC; up to eight accepted.
fn parse_nc(nc: &str) -> Result<u32, DigestError> {
    if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestError::BadNonceCount(nc.to_string()));
    }
    u32::from_str_radix(nc, 16).map_err(|_| DigestError::BadNonceCount(nc.to_string()))
}

/// RFC 8187 ext-value: `UTF-8'lang'percent-encoded`.
fn decode_ext_value(v: &str) -> Result<String, DigestError> {
    let bad = || DigestError::Syntax(format!("bad username* `{v}`"));
    let mut parts = v.splitn(3, '\'');
    let (Some(charset), Some(_lang), Some(encoded)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return Err(bad());
    }
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = b.get(i + 1..i + 3).and_then(crate::digest::hex_byte);
            out.push(h.ok_or_else(bad)?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// A credentials or challenge value split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader<'a> {
    /// The scheme as written (`Digest`).
    pub scheme: &'a str,
    /// `(lower-cased name, unquoted value)` pairs in order.
    pub params: Vec<(String, String)>,
}

impl AuthHeader<'_> {
    /// A parameter's value by (lower-case) name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a credentials or challenge value into its scheme and parameters. Repeated
/// parameters are an error (RFC 7235 §2.1).
pub fn parse_auth_header(value: &str) -> Result<AuthHeader<'_>, DigestError> {
    let value = value.trim_matches(is_lws);
    let scheme_end = value.find(is_lws).unwrap_or(value.len());
    let (scheme, mut rest) = value.split_at(scheme_end);
    if scheme.is_empty() || !scheme.chars().all(is_token_char) {
        return Err(DigestError::Syntax(format!("bad auth scheme `{scheme}`")));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c| is_lws(c) || c == ',');
        if rest.is_empty() {
            break;
        }
        let name_end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_end);
        // RFC 8187 `name*` extended parameters.
        let (name, after) = match after.strip_prefix('*') {
            Some(a) => (format!("{name}*"), a),
            None => (name.to_string(), after),
        };
        if name.is_empty() || name == "*" {
            return Err(DigestError::Syntax(format!(
                "expected a parameter at `{rest}`"
            )));
        }
        let after = after.trim_start_matches(is_lws);
        let after = after
            .strip_prefix('=')
            .ok_or_else(|| DigestError::Syntax(format!("parameter `{name}` without `=`")))?
            .trim_start_matches(is_lws);
        let (val, after) = if after.starts_with('"') {
            unquote(after)?
        } else {
            let end = after
                .find(|c: char| c == ',' || is_lws(c))
                .unwrap_or(after.len());
            let (v, a) = after.split_at(end);
            if v.is_empty() {
                return Err(DigestError::Syntax(format!("empty value for `{name}`")));
            }
            (v.to_string(), a)
        };
        let after = after.trim_start_matches(is_lws);
        if !(after.is_empty() || after.starts_with(',')) {
            return Err(DigestError::Syntax(format!("junk after `{name}`")));
        }
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(k, _)| *k == name) {
            return Err(DigestError::Duplicate(name));
        }
        params.push((name, val));
        rest = after;
    }
    Ok(AuthHeader { scheme, params })
}

/// Reads a quoted-string at the start of `s`: its unescaped content and what follows.
fn unquote(s: &str) -> Result<(String, &str), DigestError> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, s.get(i + 1..).unwrap_or(""))),
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(DigestError::Syntax("unterminated quoted string".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typical_header_with_odd_spacing_and_case() {
        let v = "Digest  USERNAME=\"bob\",realm=\"biloxi.com\" , Nonce=\"abc\", \
                 uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
                 response=\"6629FAE49393A05397450978507C4EF1\", algorithm=MD5, opaque=\"x\\\"y\"";
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!(c.username, "bob");
        assert_eq!(c.realm, "biloxi.com");
        assert_eq!(c.nonce, "abc");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc_value, 1);
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.opaque.as_deref(), Some("x\"y"));
    }

    #[test]
    fn quoted_value_may_hold_commas() {
        let v = r#"Digest username="a,b", realm="r", nonce="n", uri="sip:x", response="00""#;
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!(c.username, "a,b");
        assert_eq!(c.qop, None);
        assert_eq!(c.algorithm, Algorithm::Md5);
    }

    #[test]
    fn rejects_bad_input() {
        let e = DigestCredentials::parse("NoOneKnowsThisScheme opaque-data=here").unwrap_err();
        assert!(matches!(e, DigestError::UnknownScheme(_)));
        let e = DigestCredentials::parse(r#"Basic dXNlcjpwYXNz"#).unwrap_err();
        assert!(matches!(e, DigestError::UnknownScheme(_)));
        let e = DigestCredentials::parse(r#"Digest username="a"#).unwrap_err();
        assert!(matches!(e, DigestError::Syntax(_)));
        let e = DigestCredentials::parse(r#"Digest username="a", username="b""#).unwrap_err();
        assert!(matches!(e, DigestError::Duplicate(_)));
        let e = DigestCredentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="0", qop=auth, cnonce="c""#,
        )
        .unwrap_err();
        assert_eq!(e, DigestError::Missing("nc"));
        let e = DigestCredentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="0", qop=auth, nc=1234567890, cnonce="c""#,
        )
        .unwrap_err();
        assert!(matches!(e, DigestError::BadNonceCount(_)));
        let e = DigestCredentials::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="0", algorithm=SHA-1"#,
        )
        .unwrap_err();
        assert!(matches!(e, DigestError::UnknownAlgorithm(_)));
        let e = DigestCredentials::parse("Digest").unwrap_err();
        assert_eq!(e, DigestError::Missing("username"));
    }

    #[test]
    fn decodes_extended_username() {
        let v = "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", nonce=\"n\", \
                 uri=\"u\", response=\"0\"";
        assert_eq!(DigestCredentials::parse(v).unwrap().username, "Jäsøn Doe");
        let v = "Digest username*=UTF-8''%C3, realm=\"r\", nonce=\"n\", uri=\"u\", response=\"0\"";
        assert!(DigestCredentials::parse(v).is_err());
    }
}

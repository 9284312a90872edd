//! HTTP/SIP digest arithmetic (RFC 2617, RFC 7616, RFC 8760): the hash algorithms, H(A1),
//! H(A2) and the `response` value, plus the challenge a server sends. The client's
//! `Authorization` header is parsed by [`crate::DigestCredentials`].

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// `WWW-Authenticate`: the registrar's (UAS) challenge header, sent with 401.
pub const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
/// `Proxy-Authenticate`: the proxy's challenge header, sent with 407.
pub const PROXY_AUTHENTICATE: &str = "Proxy-Authenticate";
/// `Authorization`: the answer to a 401 challenge.
pub const AUTHORIZATION: &str = "Authorization";
/// `Proxy-Authorization`: the answer to a 407 challenge.
pub const PROXY_AUTHORIZATION: &str = "Proxy-Authorization";

/// A digest algorithm as named in the `algorithm` parameter. The `-sess` variants hash the
/// nonce and cnonce into H(A1); we compute them (they are in the test vectors) but do not offer
/// them in challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the RFC 2617 default, what most deployed phones answer with.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760 for SIP).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`: SHA-512/256, the SHA-512 variant truncated by its own IV.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm, for lookups by name.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ];

    /// The algorithm a token names (case-insensitive, as RFC 7616 §3.3 compares them).
    pub fn parse(token: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(token))
    }

    /// The token written in `algorithm=`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// The hash function, lower-case hex encoded (the form every digest value takes).
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data)),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hex(&Sha512_256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: method and URI are protected.
    Auth,
    /// `auth-int`: the body is protected as well.
    AuthInt,
}

impl Qop {
    /// The token as written in `qop=`.
    pub fn name(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// The qop a token names (case-insensitive).
    pub fn parse(token: &str) -> Option<Qop> {
        [Qop::Auth, Qop::AuthInt]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(token))
    }
}

/// Everything the `response` value is computed from. With `qop: None` it is the RFC 2069
/// form that old phones send (`nc`, `cnonce` unused unless the algorithm is `-sess`).
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// `username`, as the bytes of its UTF-8 form.
    pub username: &'a str,
    /// `realm`.
    pub realm: &'a str,
    /// The shared secret.
    pub password: &'a str,
    /// The request method (`REGISTER`, `INVITE`).
    pub method: &'a str,
    /// The `uri` parameter as the client sent it (not the Request-URI).
    pub uri: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// `qop`, or `None` for the RFC 2069 form.
    pub qop: Option<Qop>,
    /// `nc`, eight hex digits as sent.
    pub nc: &'a str,
    /// `cnonce`.
    pub cnonce: &'a str,
    /// H(entity-body), hex, for `auth-int`; ignored otherwise.
    pub body_hash: &'a str,
}

/// H(A1) for `username:realm:password` before any `-sess` step: what a server may store
/// instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The `response` value: H(H(A1):nonce:nc:cnonce:qop:H(A2)), or H(H(A1):nonce:H(A2)) without
/// qop.
pub fn compute_response(i: &ResponseInput<'_>) -> String {
    let alg = i.algorithm;
    let mut ha1 = ha1(alg, i.username, i.realm, i.password);
    if alg.is_session() {
        ha1 = alg.hash_hex(format!("{ha1}:{}:{}", i.nonce, i.cnonce).as_bytes());
    }
    let a2 = match i.qop {
        Some(Qop::AuthInt) => format!("{}:{}:{}", i.method, i.uri, i.body_hash),
        _ => format!("{}:{}", i.method, i.uri),
    };
    let ha2 = alg.hash_hex(a2.as_bytes());
    let kd = match i.qop {
        Some(q) => format!("{ha1}:{}:{}:{}:{}:{ha2}", i.nonce, i.nc, i.cnonce, q.name()),
        None => format!("{ha1}:{}:{ha2}", i.nonce),
    };
    alg.hash_hex(kd.as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths, so a wrong
/// `response` cannot be found one byte at a time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A `Digest` challenge, as sent in `WWW-Authenticate` or `Proxy-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection realm (the domain the phones are configured with).
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Algorithm offered.
    pub algorithm: Algorithm,
    /// Whether `qop="auth"` is offered (always, from [`crate::Authenticator`]).
    pub qop: bool,
    /// `stale=true`: the password was right but the nonce expired; retry without asking the
    /// user.
    pub stale: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm={}, nonce={}, algorithm={}",
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm
        )?;
        if self.qop {
            f.write_str(", qop=\"auth\"")?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// A quoted-string with `"` and `\` escaped; CR and LF are dropped (they cannot be quoted).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| !matches!(c, '\r' | '\n')) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Two hex digits (either case) as a byte; anything else (signs included) is `None`.
pub(crate) fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    match pair {
        [h, l] => u8::try_from(digit(*h)? * 16 + digit(*l)?).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Some(a));
            assert_eq!(Algorithm::parse(&a.name().to_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::parse("SHA-1"), None);
    }

    #[test]
    fn challenge_is_formatted_with_quotes_and_flags() {
        let c = Challenge {
            realm: "ex\"am".into(),
            nonce: "abc".into(),
            algorithm: Algorithm::Sha256,
            qop: true,
            stale: true,
        };
        assert_eq!(
            c.to_string(),
            r#"Digest realm="ex\"am", nonce="abc", algorithm=SHA-256, qop="auth", stale=true"#
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

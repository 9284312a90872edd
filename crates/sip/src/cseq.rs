//! The CSeq header value.

use std::fmt;

use crate::error::{ErrorKind, ParseError};
use crate::lex::{is_token_char, skip_ws, split_while, trim_ws};
use crate::method::Method;

/// Sequence number and method of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (RFC 3261 requires < 2^31 in requests; checked by the UAS checks).
    pub seq: u32,
    /// Method; must equal the request method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        let bad = |m: &'static str| ParseError::new(ErrorKind::HeaderValue, m);
        let (digits, rest) = split_while(trim_ws(s), |c| c.is_ascii_digit());
        let seq = digits.parse::<u32>().map_err(|_| bad("CSeq number malformed or too large"))?;
        let after = skip_ws(rest);
        if after.len() == rest.len() {
            return Err(bad("CSeq needs whitespace before the method"));
        }
        let (method, tail) = split_while(after, is_token_char);
        if method.is_empty() || !tail.is_empty() {
            return Err(bad("CSeq method malformed"));
        }
        Ok(CSeq {
            seq,
            method: Method::parse(method),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = CSeq::parse("0009 INVITE").unwrap();
        assert_eq!((c.seq, c.method.clone()), (9, Method::Invite));
        assert_eq!(c.to_string(), "9 INVITE");
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INVITE, 2 INVITE").is_err());
        assert!(CSeq::parse(" INVITE").is_err());
    }
}

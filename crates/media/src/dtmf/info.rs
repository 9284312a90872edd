//! DTMF in SIP INFO bodies, the way many phones and some trunks send it.
//!
//! - `application/dtmf-relay` (Cisco style): `Signal=5\r\nDuration=160\r\n`. Some phones
//!   send `Signal=10` / `Signal=11` for `*` / `#` (and 12-15 for A-D, the RFC 4733 codes).
//! - `application/dtmf`: the body is just the key, e.g. `5` (codes 10-15 accepted too).
//!
//! Case, spaces and LF-only line ends are tolerated; anything else yields `None`.

use super::{Digit, digit_from_event};

/// The digit carried by an INFO request, or `None` when the content type is not a DTMF one
/// or the body names no key.
///
/// `content_type` is the header value as received (parameters such as `; charset=...` are
/// ignored).
pub fn parse_info(content_type: &str, body: &[u8]) -> Option<Digit> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let body = std::str::from_utf8(body).ok()?;
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        body.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            if key.trim().eq_ignore_ascii_case("signal") {
                parse_key(value)
            } else {
                None
            }
        })
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        parse_key(body)
    } else {
        None
    }
}

/// One key written as the character itself or as its RFC 4733 event code.
fn parse_key(text: &str) -> Option<Digit> {
    let text = text.trim();
    let mut chars = text.chars();
    let first = chars.next()?;
    if chars.next().is_none() {
        let key = first.to_ascii_uppercase();
        return matches!(key, '0'..='9' | '*' | '#' | 'A'..='D').then_some(key);
    }
    text.parse::<u8>().ok().and_then(digit_from_event)
}

//! The message parser: start line, header lines (folding, compact names, odd LWS), body
//! framing by Content-Length, then a check of every header the core relies on, so that a
//! message that parses is one the transaction layer can trust.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::headers::Headers;
use crate::lex::{is_lws, is_token};
use crate::message::{Message, Request, Response, SipMessage};
use crate::method::Method;
use crate::uri::Uri;

/// Default largest message.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// Parses one UDP datagram: the body is framed by Content-Length (trailing octets are
/// ignored, RFC 4475 dblreq); without Content-Length it is the rest of the datagram.
pub fn parse(datagram: &[u8]) -> Result<Message, ParseError> {
    parse_with_limit(datagram, DEFAULT_MAX_MESSAGE)
}

/// [`parse`] with a size limit of its own.
pub fn parse_with_limit(datagram: &[u8], max: usize) -> Result<Message, ParseError> {
    if datagram.len() > max {
        return Err(ParseError::new(ErrorKind::TooLarge, "message too large"));
    }
    let (head, body_start) = split_head(datagram).unwrap_or((datagram, datagram.len()));
    let Head {
        start,
        headers,
        header_error,
    } = read_head(head)?;
    let rest = datagram.get(body_start..).unwrap_or(&[]);
    let is_response = has_sip_prefix(&start);
    let attach = |e: ParseError, headers: &Headers| {
        if is_response {
            e
        } else {
            e.with_request_headers(headers.clone())
        }
    };
    let body = match body_of(&headers, rest) {
        Ok(b) => b,
        Err(e) => return Err(attach(e, &headers)),
    };
    if is_response {
        let (version, status, reason) = status_line(&start)?;
        if let Some(e) = header_error {
            return Err(e);
        }
        let resp = Response {
            version,
            status,
            reason,
            headers,
            body,
        };
        validate(&resp, false)?;
        return Ok(Message::Response(resp));
    }
    let (method, uri, version) = match request_line(&start) {
        Ok(x) => x,
        Err(e) => return Err(attach(e, &headers)),
    };
    if let Some(e) = header_error {
        return Err(attach(e, &headers));
    }
    let req = Request {
        method,
        uri,
        version,
        headers,
        body,
    };
    if let Err(e) = validate(&req, true) {
        return Err(attach(e, &req.headers));
    }
    Ok(Message::Request(req))
}

/// Splits at the blank line that ends the headers (CRLF or bare LF): the head and where
/// the body starts, or `None` while there is no blank line (a datagram without one is all
/// headers, RFC 5118 quirks; a stream waits for more bytes).
pub(crate) fn split_head(data: &[u8]) -> Option<(&[u8], usize)> {
    let mut i = 0;
    while i < data.len() {
        if data.get(i) == Some(&b'\n') {
            match (data.get(i + 1), data.get(i + 2)) {
                (Some(b'\n'), _) => return Some((data.get(..i)?, i + 2)),
                (Some(b'\r'), Some(b'\n')) => return Some((data.get(..i)?, i + 3)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The start line and header fields of a message head.
pub(crate) struct Head {
    /// The start line, not yet parsed.
    pub start: String,
    /// Every header line that parsed.
    pub headers: Headers,
    /// The first header line that did not.
    pub header_error: Option<ParseError>,
}

/// Unfolds the head and splits it into the start line and header fields. A bad header
/// line is kept aside so that a 400 can still copy the good ones.
pub(crate) fn read_head(head: &[u8]) -> Result<Head, ParseError> {
    // Valid UTF-8 is the rule: the SIMD check, and the lossy copy only for the exceptions.
    let head = match std::str::from_utf8(head) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(head),
    };
    let lines = unfold(&head);
    let mut headers = Headers::with_capacity(lines.len());
    let mut lines = lines.into_iter();
    let start = lines
        .next()
        .ok_or_else(|| ParseError::new(ErrorKind::StartLine, "empty message"))?
        .into_owned();
    let mut header_error = None;
    for line in lines {
        match header_line(&line) {
            Ok((n, v)) => headers.push(n, v),
            Err(e) => {
                header_error.get_or_insert(e);
            }
        }
    }
    Ok(Head {
        start,
        headers,
        header_error,
    })
}

/// Lines without their CR, continuation lines (leading SP/HT) joined with one space. Lines
/// borrow the head; only a folded line is copied.
fn unfold(head: &str) -> Vec<Cow<'_, str>> {
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(16);
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                let trimmed = line.trim_start_matches(is_lws);
                if !trimmed.is_empty() {
                    let last = last.to_mut();
                    last.push(' ');
                    last.push_str(trimmed);
                }
            }
        } else if !line.is_empty() || out.is_empty() {
            out.push(Cow::Borrowed(line));
        }
    }
    out
}

fn header_line(line: &str) -> Result<(&str, &str), ParseError> {
    // A bare CR ends a line for some stacks: copied into a 400 or forwarded, it would
    // smuggle in a header of the sender's choosing.
    if line.contains('\r') {
        return Err(ParseError::new(
            ErrorKind::Header,
            "bare CR inside a header line",
        ));
    }
    let (name, value) = line.split_once(':').ok_or_else(|| {
        ParseError::new(
            ErrorKind::Header,
            format!("header line without colon: `{line}`"),
        )
    })?;
    let name = name.trim_end_matches(is_lws);
    if !is_token(name) {
        return Err(ParseError::new(
            ErrorKind::Header,
            format!("bad header name `{name}`"),
        ));
    }
    Ok((name, value.trim_matches(is_lws)))
}

fn request_line(line: &str) -> Result<(Method, Uri, String), ParseError> {
    let bad = || ParseError::new(ErrorKind::StartLine, format!("bad Request-Line `{line}`"));
    let mut parts = line.split(' ');
    let (Some(m), Some(u), Some(v), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !is_token(m) || !has_sip_prefix(v) || v.len() < 7 {
        return Err(bad());
    }
    let uri =
        Uri::parse(u).map_err(|e| ParseError::new(ErrorKind::Uri, format!("Request-URI: {e}")))?;
    if !uri.headers.is_empty() {
        return Err(ParseError::new(
            ErrorKind::Uri,
            "Request-URI carries escaped headers",
        ));
    }
    Ok((Method::parse(m), uri, v.to_string()))
}

/// `SIP/`, in any case: SIP-Version is case-insensitive (RFC 3261 §7.1).
fn has_sip_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

fn status_line(line: &str) -> Result<(String, u16, String), ParseError> {
    let bad = || ParseError::new(ErrorKind::StartLine, format!("bad Status-Line `{line}`"));
    let mut parts = line.splitn(3, ' ');
    let (Some(v), Some(code), reason) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..=699).contains(&status) {
        return Err(bad());
    }
    Ok((v.to_string(), status, reason.unwrap_or("").to_string()))
}

/// Content-Length: exactly one, a decimal number (RFC 4475 ncl, mcl01).
pub(crate) fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    let mut values = headers.get_all("Content-Length");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(
            ParseError::new(ErrorKind::ContentLength, "more than one Content-Length").fatal(),
        );
    }
    let v = first.trim_matches(is_lws);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            ErrorKind::ContentLength,
            format!("bad Content-Length `{v}`"),
        )
        .fatal());
    }
    v.parse::<usize>()
        .map(Some)
        .map_err(|_| ParseError::new(ErrorKind::ContentLength, "Content-Length too large").fatal())
}

fn body_of(headers: &Headers, rest: &[u8]) -> Result<Vec<u8>, ParseError> {
    match content_length(headers)? {
        None => Ok(rest.to_vec()),
        Some(n) => match rest.get(..n) {
            Some(b) => Ok(b.to_vec()),
            None => Err(ParseError::new(
                ErrorKind::ContentLength,
                format!(
                    "Content-Length {n} is larger than the {} body bytes received",
                    rest.len()
                ),
            )),
        },
    }
}

/// Every header the core relies on must parse; single-valued ones must not repeat.
fn validate<M: SipMessage>(m: &M, is_request: bool) -> Result<(), ParseError> {
    let h = m.headers();
    for name in ["Call-ID", "From", "To", "CSeq", "Max-Forwards"] {
        if h.count(name) > 1 {
            return Err(ParseError::new(
                ErrorKind::Required,
                format!("more than one {name}"),
            ));
        }
    }
    if h.values("Via").is_empty() {
        return Err(ParseError::new(ErrorKind::Required, "missing Via"));
    }
    m.vias()?;
    m.cseq()?;
    m.call_id()?;
    if is_request {
        m.from()?;
        m.to()?;
        m.max_forwards()?;
        m.contacts()?;
    }
    Ok(())
}

//! Requests, responses, typed access to the headers every SIP element needs, and the
//! serializer.

use crate::error::{ErrorKind, ParseError};
use crate::headers::{Headers, same_name};
use crate::lex::{is_lws, is_token};
use crate::method::Method;
use crate::name_addr::NameAddr;
use crate::reason::reason_phrase;
use crate::uri::Uri;
use crate::via::Via;

/// The CSeq header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (< 2^31, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parses `NUMBER LWS METHOD`.
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        let s = s.trim_matches(is_lws);
        let (num, method) = s
            .split_once(is_lws)
            .ok_or_else(|| hdr(format!("bad CSeq `{s}`")))?;
        let method = method.trim_matches(is_lws);
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || !is_token(method) {
            return Err(hdr(format!("bad CSeq `{s}`")));
        }
        let seq = num.parse::<u64>().unwrap_or(u64::MAX);
        if seq >= 1 << 31 {
            return Err(hdr("CSeq number out of range (must be below 2^31)"));
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::parse(method),
        })
    }
}

fn hdr(msg: impl Into<String>) -> ParseError {
    ParseError::new(ErrorKind::Header, msg)
}

fn missing(name: &str) -> ParseError {
    ParseError::new(ErrorKind::Required, format!("missing {name}"))
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// `SIP/2.0` (anything else gets 505).
    pub version: String,
    /// Header fields.
    pub headers: Headers,
    /// Body bytes (exactly Content-Length of them).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `SIP/2.0`.
    pub version: String,
    /// Status code, 100-699.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Typed access to the headers requests and responses share.
pub trait SipMessage {
    /// The header fields.
    fn headers(&self) -> &Headers;

    /// The topmost Via value (parsed once per message).
    fn top_via(&self) -> Result<&Via, ParseError> {
        let h = self.headers();
        h.parsed()
            .top_via
            .get_or_init(|| {
                let v = h
                    .values("Via")
                    .into_iter()
                    .next()
                    .ok_or_else(|| missing("Via"))?;
                Via::parse(v)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Every Via value, top first.
    fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let values = self.headers().values("Via");
        let mut out = Vec::with_capacity(values.len());
        if !values.is_empty() {
            out.push(self.top_via()?.clone());
        }
        for v in values.into_iter().skip(1) {
            out.push(Via::parse(v)?);
        }
        Ok(out)
    }

    /// Call-ID: one `word[@word]`, so never empty and never holding white space or a comma
    /// (two values).
    fn call_id(&self) -> Result<&str, ParseError> {
        let v = self
            .headers()
            .get("Call-ID")
            .map(|v| v.trim_matches(is_lws))
            .ok_or_else(|| missing("Call-ID"))?;
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c.is_control() || c == ',') {
            return Err(hdr(format!("bad Call-ID `{v}`")));
        }
        Ok(v)
    }

    /// CSeq.
    fn cseq(&self) -> Result<&CSeq, ParseError> {
        let h = self.headers();
        h.parsed()
            .cseq
            .get_or_init(|| CSeq::parse(h.get("CSeq").ok_or_else(|| missing("CSeq"))?))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// From (parsed once per message).
    fn from(&self) -> Result<&NameAddr, ParseError> {
        let h = self.headers();
        h.parsed()
            .from
            .get_or_init(|| NameAddr::parse(h.get("From").ok_or_else(|| missing("From"))?))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// To (parsed once per message).
    fn to(&self) -> Result<&NameAddr, ParseError> {
        let h = self.headers();
        h.parsed()
            .to
            .get_or_init(|| NameAddr::parse(h.get("To").ok_or_else(|| missing("To"))?))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Contact values; `*` (un-REGISTER all) yields an empty list.
    fn contacts(&self) -> Result<Vec<NameAddr>, ParseError> {
        let values = self.headers().values("Contact");
        if values.len() == 1 && values.first() == Some(&"*") {
            return Ok(Vec::new());
        }
        values.into_iter().map(NameAddr::parse).collect()
    }

    /// Max-Forwards; values beyond 255 are allowed (RFC 4475 scalar02 treats them as given).
    fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        match self.headers().get("Max-Forwards") {
            None => Ok(None),
            Some(v) => {
                let v = v.trim_matches(is_lws);
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(hdr("bad Max-Forwards"));
                }
                // All digits: only an overlarge value fails to parse.
                Ok(Some(v.parse::<u32>().unwrap_or(u32::MAX)))
            }
        }
    }

    /// Content-Type without parameters, lower-cased.
    fn content_type(&self) -> Option<String> {
        self.headers().get("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim_matches(is_lws)
                .to_ascii_lowercase()
        })
    }

    /// Expires in seconds; an overlarge value counts as 3600 (RFC 4475 scalar02).
    fn expires(&self) -> Option<u32> {
        let v = self.headers().get("Expires")?.trim_matches(is_lws);
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(v.parse::<u32>().unwrap_or(3600))
    }
}

impl SipMessage for Request {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl SipMessage for Response {
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl Request {
    /// A request with no headers yet.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            version: "SIP/2.0".into(),
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    /// The bytes on the wire, with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} {}", self.method, self.uri, self.version);
        serialize(&start, &self.headers, &self.body)
    }
}

impl Response {
    /// A response to `req` as RFC 3261 §8.2.6 builds it: Via, From, To, Call-ID and CSeq
    /// copied, the standard reason phrase.
    pub fn for_request(req: &Request, status: u16) -> Response {
        let mut headers = Headers::default();
        for (name, value) in req.headers.iter() {
            if ["Via", "From", "To", "Call-ID", "CSeq"]
                .iter()
                .any(|n| same_name(name, n))
            {
                headers.push(crate::headers::canonical(name), value);
            }
        }
        Response {
            version: "SIP/2.0".into(),
            status,
            reason: reason_phrase(status).into(),
            headers,
            body: Vec::new(),
        }
    }

    /// The bytes on the wire, with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} {}", self.version, self.status, self.reason);
        serialize(&start, &self.headers, &self.body)
    }
}

impl Message {
    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

fn serialize(start: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers.iter() {
        if same_name(n, "Content-Length") {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

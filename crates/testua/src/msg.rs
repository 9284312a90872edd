//! A deliberately small, independent SIP message reader: the test UA must not share the
//! parser under test, so it reads the server's messages with this forgiving code instead.

use crate::UaError;

/// Header fields in arrival order, looked up case-insensitively and by compact form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// RFC 3261 §7.3.3 compact forms (and a few from extensions), mapped to full names.
fn full_name(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "i" => "call-id",
        "f" => "from",
        "t" => "to",
        "v" => "via",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        "s" => "subject",
        "e" => "content-encoding",
        "o" => "event",
        "r" => "refer-to",
        "u" => "allow-events",
        _ => name,
    }
}

fn same_name(a: &str, b: &str) -> bool {
    full_name(a).eq_ignore_ascii_case(full_name(b))
}

impl Headers {
    /// The first value of `name` (full or compact form), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// Every value of `name`, one entry per header line (comma lists are not split).
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0
            .iter()
            .filter(move |(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Comma-separated tokens of every `name` header, trimmed (for Allow, Supported, ...).
    pub fn tokens(&self, name: &str) -> Vec<String> {
        self.all(name)
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

/// A request received from the server (e.g. its BYE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method token.
    pub method: String,
    /// Request-URI as written.
    pub uri: String,
    /// Header fields.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A response received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The method of the CSeq header (which request this answers).
    pub fn cseq_method(&self) -> Option<&str> {
        self.headers.get("CSeq")?.split_whitespace().nth(1)
    }

    /// The To tag, if any.
    pub fn to_tag(&self) -> Option<String> {
        tag_of(self.headers.get("To")?)
    }

    /// The message as text, for failure output.
    pub fn text(&self) -> String {
        let mut s = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        for (n, v) in &self.headers.0 {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

/// Either kind of SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl SipMessage {
    /// The Call-ID, if present.
    pub fn call_id(&self) -> Option<&str> {
        self.headers().get("Call-ID")
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            SipMessage::Request(r) => &r.headers,
            SipMessage::Response(r) => &r.headers,
        }
    }
}

/// The `tag` parameter of a From/To value.
pub fn tag_of(value: &str) -> Option<String> {
    let params = match value.rfind('>') {
        Some(i) => value.get(i + 1..)?,
        None => value,
    };
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("tag")
            .then(|| v.trim().to_string())
    })
}

/// The URI inside a name-addr (`"x" <sip:a@b>;p`) or an addr-spec with parameters.
pub fn uri_of(value: &str) -> &str {
    if let (Some(a), Some(b)) = (value.find('<'), value.find('>')) {
        if a < b {
            return value.get(a + 1..b).unwrap_or(value).trim();
        }
    }
    value.split(';').next().unwrap_or(value).trim()
}

/// Reads one SIP message from a datagram (or a complete stream frame). Tolerates LF-only
/// line ends and folded header lines; the body is whatever follows the blank line, cut
/// to Content-Length when that is present and smaller.
pub fn parse(buf: &[u8]) -> Result<SipMessage, UaError> {
    let (head, body) = split_head(buf).ok_or_else(|| UaError::Parse("no blank line".into()))?;
    let head = String::from_utf8_lossy(head);
    let mut lines: Vec<String> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        lines.push(line.to_string());
    }
    let mut it = lines.into_iter();
    let start = it
        .next()
        .ok_or_else(|| UaError::Parse("empty message".into()))?;
    let mut headers = Headers::default();
    for line in it {
        if line.is_empty() {
            continue;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| UaError::Parse(format!("header without colon: {line}")))?;
        headers.0.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut body = body.to_vec();
    if let Some(len) = headers
        .get("Content-Length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = code
            .parse()
            .map_err(|_| UaError::Parse(format!("bad status line: {start}")))?;
        Ok(SipMessage::Response(Response {
            status,
            reason: reason.to_string(),
            headers,
            body,
        }))
    } else {
        let mut parts = start.split_whitespace();
        let (Some(method), Some(uri)) = (parts.next(), parts.next()) else {
            return Err(UaError::Parse(format!("bad request line: {start}")));
        };
        Ok(SipMessage::Request(Request {
            method: method.to_string(),
            uri: uri.to_string(),
            headers,
            body,
        }))
    }
}

/// Splits at the first blank line (CRLFCRLF or LFLF).
fn split_head(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (i, n) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    Some((buf.get(..i)?, buf.get(i + n..)?))
}

/// The length of the first complete message in a stream buffer, once it is all there
/// (head plus Content-Length bytes of body; no Content-Length means no body).
pub fn stream_frame_len(buf: &[u8]) -> Option<usize> {
    let (head, _) = split_head(buf)?;
    let head_len = head.len()
        + if buf.get(head.len()) == Some(&b'\r') {
            4
        } else {
            2
        };
    let text = String::from_utf8_lossy(head);
    let len = text
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| same_name(n.trim(), "content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let total = head_len.checked_add(len)?;
    (buf.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_response_with_compact_headers_and_folding() {
        let raw = b"SIP/2.0 183 Session Progress\r\nv: SIP/2.0/UDP 1.2.3.4\r\nt: <sip:1@x>;tag=abc\r\nCSeq: 1\r\n INVITE\r\nl: 3\r\n\r\nv=0xyz";
        let SipMessage::Response(r) = parse(raw).unwrap() else {
            panic!("not a response")
        };
        assert_eq!(r.status, 183);
        assert_eq!(r.reason, "Session Progress");
        assert_eq!(r.to_tag().as_deref(), Some("abc"));
        assert_eq!(r.cseq_method(), Some("INVITE"));
        assert_eq!(r.body, b"v=0");
    }

    #[test]
    fn reads_request_and_uris() {
        let raw = b"BYE sip:a@b SIP/2.0\nCall-ID: x\nContact: \"A\" <sip:a@1.2.3.4:5;transport=udp>;q=1\n\n";
        let SipMessage::Request(r) = parse(raw).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(r.method, "BYE");
        assert_eq!(
            uri_of(r.headers.get("m").unwrap()),
            "sip:a@1.2.3.4:5;transport=udp"
        );
        assert_eq!(uri_of("sip:a@b;tag=1"), "sip:a@b");
        assert_eq!(tag_of("sip:a@b;tag=1").as_deref(), Some("1"));
        assert!(parse(b"garbage").is_err());
    }

    #[test]
    fn frames_stream_messages() {
        let m = b"SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nokSIP/2.0";
        assert_eq!(stream_frame_len(m), Some(m.len() - 7));
        assert_eq!(stream_frame_len(b"SIP/2.0 200 OK\r\nl: 5\r\n\r\nok"), None);
    }
}

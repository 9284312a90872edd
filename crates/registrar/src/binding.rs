//! One binding of a user to a contact, as plain data the engine can store in SQLite and load
//! back after a restart.

use std::fmt;
use std::net::SocketAddr;

use vaxel_sip::Uri;

use crate::error::RowError;

/// The transport a REGISTER arrived on; requests to the phone go back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// The token used in Via and `transport=` (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// The transport a token names (case-insensitive).
    pub fn parse(s: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered contact of a user.
///
/// `contact` is where the phone asked to be reached; `source` is where its REGISTER really came
/// from. Behind NAT the contact holds a private address, so requests to the phone go to
/// `source` over `transport` with `contact` as their Request-URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The user (address-of-record user part) the contact is bound to.
    pub user: String,
    /// The Contact URI as given (its URI parameters and escaped headers kept; Contact header
    /// parameters such as `expires` are not part of it).
    pub contact: String,
    /// The address the REGISTER came from.
    pub source: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// When the binding lapses (seconds on the caller's clock, unix time so it survives a
    /// restart).
    pub expires_at: u64,
    /// Call-ID of the REGISTER that last set it.
    pub call_id: String,
    /// CSeq of that REGISTER.
    pub cseq: u32,
    /// Preference `q` in thousandths (1000 = q=1.0, the default).
    pub q: u16,
}

/// A [`Binding`] as SQLite-friendly columns (text and 64-bit integers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRow {
    /// [`Binding::user`].
    pub user: String,
    /// [`Binding::contact`].
    pub contact: String,
    /// [`Binding::source`] as `ip:port` (`[v6]:port`).
    pub source: String,
    /// [`Binding::transport`] as its token.
    pub transport: String,
    /// [`Binding::expires_at`].
    pub expires_at: i64,
    /// [`Binding::call_id`].
    pub call_id: String,
    /// [`Binding::cseq`].
    pub cseq: i64,
    /// [`Binding::q`].
    pub q: i64,
}

impl Binding {
    /// Seconds left at `now` (0 once lapsed).
    pub fn expires_in(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// Whether it is still in force at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }

    /// The Contact value for a 200 to REGISTER: `<uri>;expires=N`, and `;q=` when not 1.
    pub fn contact_value(&self, now: u64) -> String {
        let mut v = format!("<{}>;expires={}", self.contact, self.expires_in(now));
        if self.q < 1000 {
            v.push_str(&format!(";q={}", format_q(self.q)));
        }
        v
    }

    /// The columns to store.
    pub fn to_row(&self) -> BindingRow {
        BindingRow {
            user: self.user.clone(),
            contact: self.contact.clone(),
            source: self.source.to_string(),
            transport: self.transport.as_str().to_string(),
            expires_at: i64::try_from(self.expires_at).unwrap_or(i64::MAX),
            call_id: self.call_id.clone(),
            cseq: i64::from(self.cseq),
            q: i64::from(self.q),
        }
    }

    /// A binding from stored columns.
    pub fn from_row(row: BindingRow) -> Result<Binding, RowError> {
        let bad = |what: &str| RowError(format!("{what} in binding of `{}`", row.user));
        Ok(Binding {
            source: row.source.parse().map_err(|_| bad("bad source"))?,
            transport: Transport::parse(&row.transport).ok_or_else(|| bad("bad transport"))?,
            expires_at: u64::try_from(row.expires_at).map_err(|_| bad("bad expires_at"))?,
            cseq: u32::try_from(row.cseq).map_err(|_| bad("bad cseq"))?,
            q: u16::try_from(row.q)
                .ok()
                .filter(|q| *q <= 1000)
                .ok_or_else(|| bad("bad q"))?,
            user: row.user,
            contact: row.contact,
            call_id: row.call_id,
        })
    }
}

/// `q` in thousandths as a qvalue (`0.5`, `0.125`).
fn format_q(q: u16) -> String {
    let s = format!("{}.{:03}", q / 1000, q % 1000);
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// Parses a qvalue (`0`, `0.5`, `1.000`) into thousandths.
pub(crate) fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let frac_val = format!("{frac:0<3}").parse::<u16>().ok()?;
    let q = whole + frac_val;
    (q <= 1000).then_some(q)
}

/// A key under which two contact URIs are equal in the sense of RFC 3261 §19.1.4: scheme and
/// host case-insensitive, user and parameters compared after %HH decoding. So `%00` and
/// `%00%00` stay distinct (RFC 4475 escnull).
pub(crate) fn contact_key(contact: &str) -> String {
    let Ok(uri) = Uri::parse(contact) else {
        return contact.to_string();
    };
    let mut params: Vec<String> = uri
        .params
        .iter()
        .map(|(k, v)| {
            let v = v.as_deref().map(percent_decode).unwrap_or_default();
            format!("{}={}", k.to_ascii_lowercase(), v.to_lowercase())
        })
        .collect();
    params.sort();
    let mut headers: Vec<String> = uri
        .headers
        .iter()
        .map(|(k, v)| format!("{}={v}", k.to_ascii_lowercase()))
        .collect();
    headers.sort();
    format!(
        "{}:{:?}:{:?}@{}:{:?};{}?{}",
        uri.scheme,
        uri.user_unescaped(),
        uri.password,
        uri.host.to_ascii_lowercase(),
        uri.port,
        params.join(";"),
        headers.join("&")
    )
}

/// %HH decoding; anything that is not a valid escape is kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let escaped = (c == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(crate::digest::hex_byte);
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Binding {
        Binding {
            user: "alice".into(),
            contact: "sip:alice@10.0.0.2:5060;transport=udp".into(),
            source: "[2001:db8::1]:40000".parse().unwrap(),
            transport: Transport::Udp,
            expires_at: 1_700_000_000,
            call_id: "abc@x".into(),
            cseq: 7,
            q: 500,
        }
    }

    #[test]
    fn row_round_trip() {
        let b = sample();
        let row = b.to_row();
        assert_eq!(row.source, "[2001:db8::1]:40000");
        assert_eq!(row.transport, "UDP");
        assert_eq!(Binding::from_row(row).unwrap(), b);
        let mut bad = sample().to_row();
        bad.transport = "SCTP".into();
        assert!(Binding::from_row(bad).is_err());
        let mut bad = sample().to_row();
        bad.q = 1001;
        assert!(Binding::from_row(bad).is_err());
    }

    #[test]
    fn contact_value_and_q() {
        assert_eq!(
            sample().contact_value(1_700_000_000 - 30),
            "<sip:alice@10.0.0.2:5060;transport=udp>;expires=30;q=0.5"
        );
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(format_q(125), "0.125");
        assert_eq!(format_q(0), "0");
    }

    #[test]
    fn contact_keys_follow_uri_equality() {
        assert_eq!(
            contact_key("sip:alice@EXAMPLE.com;Transport=UDP"),
            contact_key("SIP:%61lice@example.com;transport=udp")
        );
        assert_ne!(
            contact_key("sip:Alice@example.com"),
            contact_key("sip:alice@example.com")
        );
        assert_ne!(contact_key("sip:%00@h"), contact_key("sip:%00%00@h"));
        assert_ne!(contact_key("sip:a@h:5060"), contact_key("sip:a@h:5070"));
    }
}

//! SDP text to [`SessionDescription`]: strict about the fields we use, lenient about the rest
//! (LF-only line ends, blank lines, unknown line types and attributes are accepted).

use std::net::IpAddr;

use crate::SdpError;
use crate::model::{Direction, Fmtp, MediaDescription, Origin, RtpMap, SessionDescription};

/// A media section being built, with its own direction kept apart from the session's.
struct Section {
    media: MediaDescription,
    direction: Option<Direction>,
}

impl SessionDescription {
    /// Parse an SDP body (RFC 8866 / RFC 4566).
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut version_seen = false;
        let mut origin = None;
        let mut session_name = String::new();
        let mut connection = None;
        let mut direction = None;
        let mut attributes = Vec::new();
        let mut sections: Vec<Section> = Vec::new();

        for (idx, raw) in text.split('\n').enumerate() {
            let line_no = idx + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: &str| SdpError::BadLine {
                line: line_no,
                reason: reason.to_string(),
            };
            let (kind, value) = split_type(line).ok_or_else(|| bad("expected <letter>=<value>"))?;
            if !version_seen {
                if kind != 'v' {
                    return Err(SdpError::Missing('v'));
                }
                if value.trim() != "0" {
                    return Err(bad("unsupported SDP version"));
                }
                version_seen = true;
                continue;
            }
            match (kind, sections.last_mut()) {
                ('o', _) => origin = Some(parse_origin(value).ok_or_else(|| bad("bad o= line"))?),
                ('s', None) => session_name = value.to_string(),
                ('c', None) => connection = Some(parse_connection(value).map_err(bad)?),
                ('c', Some(s)) => {
                    s.media.connection = Some(parse_connection(value).map_err(bad)?);
                }
                ('m', _) => sections.push(Section {
                    media: parse_media(value).map_err(bad)?,
                    direction: None,
                }),
                ('a', None) => {
                    let (name, val) = split_attribute(value);
                    match Direction::from_attribute(name) {
                        Some(d) => direction = Some(d),
                        None => attributes.push((name.to_string(), val.map(str::to_string))),
                    }
                }
                ('a', Some(s)) => apply_media_attribute(s, value).map_err(bad)?,
                // i=, u=, e=, p=, b=, t=, r=, z=, k= and unknown letters: not needed for audio.
                _ => {}
            }
        }
        if !version_seen {
            return Err(SdpError::Missing('v'));
        }
        let origin = origin.ok_or(SdpError::Missing('o'))?;
        let session_direction = direction.unwrap_or_default();
        let media = sections
            .into_iter()
            .map(|s| MediaDescription {
                direction: s.direction.unwrap_or(session_direction),
                ..s.media
            })
            .collect();
        Ok(SessionDescription {
            origin,
            session_name,
            connection,
            direction: session_direction,
            media,
            attributes,
        })
    }
}

/// `x=value` with `x` a single ASCII letter.
fn split_type(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let kind = chars.next().filter(char::is_ascii_alphabetic)?;
    let value = chars.as_str().strip_prefix('=')?;
    Some((kind, value))
}

/// `name[:value]` of an `a=` line.
fn split_attribute(value: &str) -> (&str, Option<&str>) {
    match value.split_once(':') {
        Some((name, val)) => (name.trim(), Some(val.trim())),
        None => (value.trim(), None),
    }
}

fn parse_origin(value: &str) -> Option<Origin> {
    let mut it = value.split_ascii_whitespace();
    let origin = Origin {
        username: it.next()?.to_string(),
        session_id: it.next()?.to_string(),
        session_version: it.next()?.to_string(),
        net_type: it.next()?.to_string(),
        addr_type: it.next()?.to_string(),
        address: it.next()?.to_string(),
    };
    Some(origin)
}

/// `IN IP4 192.0.2.1` / `IN IP6 2001:db8::1` / multicast `IN IP4 224.2.1.1/127`.
fn parse_connection(value: &str) -> Result<IpAddr, &'static str> {
    let mut it = value.split_ascii_whitespace();
    let (Some(net), Some(addr_type), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err("c= needs <nettype> <addrtype> <address>");
    };
    if !net.eq_ignore_ascii_case("IN") {
        return Err("c= network type is not IN");
    }
    if !addr_type.eq_ignore_ascii_case("IP4") && !addr_type.eq_ignore_ascii_case("IP6") {
        return Err("c= address type is not IP4 or IP6");
    }
    let addr = addr.split('/').next().unwrap_or(addr);
    addr.parse()
        .map_err(|_| "c= address is not an IP address (host names are not supported)")
}

/// `audio 49170[/2] RTP/AVP 0 8 101`.
fn parse_media(value: &str) -> Result<MediaDescription, &'static str> {
    let mut it = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err("m= needs <media> <port> <proto> <fmt>...");
    };
    let port = port.split('/').next().unwrap_or(port);
    let port: u16 = port
        .parse()
        .map_err(|_| "m= port is not a number 0-65535")?;
    let formats_raw: Vec<String> = it.map(str::to_string).collect();
    // Non-numeric tokens belong to non-RTP media (e.g. `*` or `webrtc-datachannel`).
    let formats = formats_raw
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter(|pt| *pt <= 127)
        .collect();
    Ok(MediaDescription {
        kind: kind.to_string(),
        port,
        proto: proto.to_string(),
        formats,
        formats_raw,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: Direction::SendRecv,
        connection: None,
        attributes: Vec::new(),
    })
}

fn apply_media_attribute(s: &mut Section, value: &str) -> Result<(), &'static str> {
    let (name, val) = split_attribute(value);
    if let Some(d) = Direction::from_attribute(name) {
        s.direction = Some(d);
        return Ok(());
    }
    match (name, val) {
        ("rtpmap", Some(v)) => s.media.rtpmaps.push(parse_rtpmap(v)?),
        ("fmtp", Some(v)) => {
            let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
            let pt = pt
                .parse()
                .map_err(|_| "a=fmtp payload type is not a number")?;
            s.media.fmtps.push(Fmtp {
                pt,
                params: params.trim().to_string(),
            });
        }
        // Some phones send fractional ptime ("20.0"); keep the whole milliseconds.
        ("ptime", Some(v)) => {
            let whole = v.split('.').next().unwrap_or(v);
            s.media.ptime = Some(whole.parse().map_err(|_| "a=ptime is not a number")?);
        }
        _ => s
            .media
            .attributes
            .push((name.to_string(), val.map(str::to_string))),
    }
    Ok(())
}

/// `0 PCMU/8000` or `101 telephone-event/8000` or `96 opus/48000/2`.
fn parse_rtpmap(v: &str) -> Result<RtpMap, &'static str> {
    let (pt, enc) = v
        .split_once(' ')
        .ok_or("a=rtpmap needs <pt> <encoding>/<rate>")?;
    let pt: u8 = pt
        .parse()
        .map_err(|_| "a=rtpmap payload type is not a number")?;
    let mut parts = enc.trim().split('/');
    let name = parts.next().unwrap_or_default().to_string();
    // RFC 4475 bodies carry `a=rtpmap:31 LPC` without a rate; tolerate it as rate 0.
    let rate = match parts.next() {
        Some(r) => r
            .parse()
            .map_err(|_| "a=rtpmap clock rate is not a number")?,
        None => 0,
    };
    let channels = match parts.next() {
        Some(c) => Some(c.parse().map_err(|_| "a=rtpmap channels is not a number")?),
        None => None,
    };
    Ok(RtpMap {
        pt,
        name,
        rate,
        channels,
    })
}

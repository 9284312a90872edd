//! Writing vaxel's own SDP: answers to offers, and offers for calls vaxel places.

use std::fmt::Write as _;
use std::net::IpAddr;

use vaxel_media::Codec;

use crate::model::Direction;
use crate::negotiate::Negotiated;

/// Named events we accept and send with telephone-event (DTMF 0-9, *, #, A-D).
const TE_EVENTS: &str = "0-16";

fn ip_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// `v=`, `o=`, `s=`, `c=`, `t=` lines shared by offers and answers.
fn session_header(out: &mut String, local: IpAddr, session_id: u64, version: u64) {
    let t = ip_type(local);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "v=0\r\no=vaxel {session_id} {version} IN {t} {local}\r\ns=vaxel\r\nc=IN {t} {local}\r\nt=0 0\r\n"
    );
}

/// The `m=audio` section for `codecs` (+ telephone-event) with ptime and direction.
fn audio_section(
    out: &mut String,
    port: u16,
    codecs: &[(u8, Codec)],
    te: Option<u8>,
    direction: Direction,
) {
    let _ = write!(out, "m=audio {port} RTP/AVP");
    for (pt, _) in codecs {
        let _ = write!(out, " {pt}");
    }
    if let Some(te) = te {
        let _ = write!(out, " {te}");
    }
    out.push_str("\r\n");
    for (pt, codec) in codecs {
        let _ = write!(
            out,
            "a=rtpmap:{pt} {}/{}\r\n",
            codec.name(),
            codec.clock_rate()
        );
    }
    if let Some(te) = te {
        let _ = write!(
            out,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} {TE_EVENTS}\r\n"
        );
    }
    let _ = write!(out, "a=ptime:20\r\na={}\r\n", direction.as_str());
}

/// The SDP answer for a negotiated offer (RFC 3264 §6): the chosen codec and, if offered,
/// telephone-event; m-lines we did not take are repeated with port 0. A stream the offer
/// rejected (port 0) is answered with port 0 too.
pub fn answer(neg: &Negotiated, local: IpAddr, port: u16, session_id: u64, version: u64) -> String {
    let mut out = String::with_capacity(320);
    session_header(&mut out, local, session_id, version);
    let port = if neg.remote.port() == 0 { 0 } else { port };
    let lines = neg.declined.len().max(neg.media_index + 1);
    for i in 0..lines {
        match neg.declined.get(i).and_then(Option::as_ref) {
            Some(d) => {
                let _ = write!(out, "m={} 0 {} {}\r\n", d.kind, d.proto, d.format);
            }
            None => audio_section(
                &mut out,
                port,
                &[(neg.payload_type, neg.codec)],
                neg.telephone_event,
                neg.direction,
            ),
        }
    }
    out
}

/// An SDP offer for an outgoing call: `codecs` in preference order with their static
/// payload types, plus telephone-event on `telephone_event_pt` if given.
pub fn offer(
    codecs: &[Codec],
    telephone_event_pt: Option<u8>,
    local: IpAddr,
    port: u16,
    session_id: u64,
    version: u64,
) -> String {
    let mut out = String::with_capacity(320);
    session_header(&mut out, local, session_id, version);
    let list: Vec<(u8, Codec)> = codecs.iter().map(|c| (c.payload_type(), *c)).collect();
    audio_section(
        &mut out,
        port,
        &list,
        telephone_event_pt,
        Direction::SendRecv,
    );
    out
}

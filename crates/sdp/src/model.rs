//! The parsed form of an SDP body (RFC 8866), limited to what audio calls use.

use std::net::IpAddr;

/// `a=sendrecv` and friends: which way media flows (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Direction {
    /// Both ways (the default when no attribute is present).
    #[default]
    SendRecv,
    /// The description's owner only sends.
    SendOnly,
    /// The description's owner only receives.
    RecvOnly,
    /// No media either way (e.g. both sides on hold).
    Inactive,
}

impl Direction {
    /// The attribute name, as written after `a=`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parse an attribute name; `None` for attributes that are not directions.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction an answerer uses for an offer in this direction (RFC 3264 §6.1):
    /// sendonly becomes recvonly and vice versa.
    pub const fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// True if the owner of this direction sends media.
    pub const fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True if the owner of this direction receives media.
    pub const fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The `o=` line. Kept as text: peers send ids beyond `u64` and hostnames as addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name, `-` when none.
    pub username: String,
    /// Session id.
    pub session_id: String,
    /// Session version; a re-offer with the same version changes nothing.
    pub session_version: String,
    /// Network type, `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// Address or host name of the originator.
    pub address: String,
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type the mapping is for.
    pub pt: u8,
    /// Encoding name as written (compare case-insensitively).
    pub name: String,
    /// Clock rate in Hz.
    pub rate: u32,
    /// Audio channels, when given.
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <params>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// Payload type the parameters are for.
    pub pt: u8,
    /// Format-specific parameters, unparsed.
    pub params: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `application`, ...
    pub kind: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// Transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The numeric formats (RTP payload types) in the offerer's preference order.
    pub formats: Vec<u8>,
    /// The format tokens exactly as written (non-RTP media use names, not numbers).
    pub formats_raw: Vec<String>,
    /// `a=rtpmap` lines of this section.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines of this section.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime`, in milliseconds.
    pub ptime: Option<u32>,
    /// Effective direction: the section's own attribute, else the session's, else sendrecv.
    pub direction: Direction,
    /// The section's own `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// Other attributes as (name, value) pairs, in order.
    pub attributes: Vec<(String, Option<String>)>,
}

impl MediaDescription {
    /// The rtpmap for payload type `pt`, if the section has one.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.pt == pt)
    }

    /// The fmtp parameters for payload type `pt`, if any.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|f| f.pt == pt)
            .map(|f| f.params.as_str())
    }

    /// True for the RTP audio/video profiles we can speak (`RTP/AVP`, `RTP/AVPF`).
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }
}

/// A whole SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line.
    pub origin: Origin,
    /// `s=`, possibly empty (some peers omit it).
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute (the default for every section).
    pub direction: Direction,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
    /// Other session-level attributes as (name, value) pairs.
    pub attributes: Vec<(String, Option<String>)>,
}

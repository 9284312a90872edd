//! The validated model of a config file: what ops wrote, checked and typed.
//!
//! Destinations are already resolved to graph nodes ([`Dest`]); names stay for display.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::Date;

use crate::cidr::Cidr;
use crate::graph::{NodeId, SoundId};
use crate::listen::Listen;
use crate::period::Period;

/// A destination, resolved to the node a call goes to.
pub type Dest = NodeId;

/// `[server]`: where the switchboard listens and keeps its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Shown in logs and the web app.
    pub name: String,
    /// IANA time zone for schedules.
    pub timezone: String,
    /// Country calling code (digits), so national numbers `0...` match DIDs.
    pub country_code: Option<String>,
    /// SIP listen sockets.
    pub sip: Vec<Listen>,
    /// Address written into SDP.
    pub media_address: IpAddr,
    /// Inclusive RTP port range.
    pub rtp_ports: (u16, u16),
    /// Web app, JSON API and metrics.
    pub http: SocketAddr,
    /// Database, voicemail and call logs; relative paths are resolved against the config file's directory.
    pub data_dir: PathBuf,
    /// Sound files; relative paths are resolved against the config file's directory.
    pub sounds_dir: PathBuf,
    /// Digest algorithms phones are challenged with, one challenge each, in this order
    /// (clients take the first they know; some, like SIPp, only look at the first).
    pub digest: Vec<String>,
    /// Run the RTP threads under real-time scheduling, so other work on the host cannot
    /// delay their 20 ms deadlines (needs CAP_SYS_NICE; read at start, not on reload).
    pub media_realtime: bool,
    /// Hang up a bridged call when a leg that should send RTP has sent none for this long
    /// (a phone that lost power or network sends no BYE); `None` (the default, or "0s"):
    /// never. Legs on hold that send nothing are not counted.
    pub rtp_timeout: Option<std::time::Duration>,
}

/// `[[trunk]]`: an operator connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trunk {
    /// Unique id.
    pub id: String,
    /// Sources whose INVITEs are calls to our DIDs.
    pub allow: Vec<Cidr>,
    /// Where calls to external numbers go; with `register`, also the registrar.
    pub uri: Option<String>,
    /// Digest user name at the operator: answers its 401/407 challenges and, with
    /// `register`, names the account registered.
    pub username: Option<String>,
    /// Digest password at the operator.
    pub password: Option<String>,
    /// Keep a registration at `uri` (needs `username` and `password`), for operators that
    /// send calls only to a registered contact.
    pub register: Option<bool>,
    /// The number presented to the operator on outgoing calls (else the first DID): the
    /// callers' extensions mean nothing outside.
    pub caller_id: Option<String>,
}

/// A user's access rights in the web app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// `flow-admin`: may create and change flows.
    FlowAdmin,
    /// `flow-user`: may use the flows they supervise.
    FlowUser,
}

/// Call forwarding of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// Always forward, the phones do not ring.
    pub unconditional: Option<Dest>,
    /// Forward when busy.
    pub busy: Option<Dest>,
    /// Forward when nobody answers within `after`.
    pub no_answer: Option<Dest>,
    /// Ring time before `no_answer` (default 20s).
    pub after: Duration,
}

/// `[[user]]`: a person (or group mailbox) with phones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Unique id.
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// Internal number.
    pub extension: Option<String>,
    /// SIP digest password of the user's phones.
    pub password: Option<String>,
    /// Where voicemail is sent.
    pub email: Option<String>,
    /// Whether the user has a voicemail box (`voicemail:ID`): `voicemail = true`, or implied
    /// when the key is absent and the user's own `forward` goes to `voicemail:ID`.
    pub voicemail: bool,
    /// Web app rights.
    pub roles: Vec<Role>,
    /// Call forwarding.
    pub forward: Option<Forward>,
}

/// `[[message]]`: an announcement played to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Answer (200) before playing; else early media (183).
    pub answer: bool,
    /// Extra plays (0 = once).
    pub repeat: u32,
    /// The sound as written.
    pub sound_file: String,
    /// The loaded sound.
    pub sound: SoundId,
    /// Where the call goes afterwards.
    pub then: Dest,
    /// Free text for ops.
    pub description: Option<String>,
}

/// How a queue picks members to ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// `ring-all`
    RingAll,
    /// `longest-idle`
    LongestIdle,
    /// `round-robin`
    RoundRobin,
    /// `fewest-calls`
    FewestCalls,
    /// `least-talk-time`
    LeastTalkTime,
    /// `random`
    Random,
    /// `linear`
    Linear,
}

impl Strategy {
    /// The config names, in order.
    pub const NAMES: [&'static str; 7] = [
        "ring-all",
        "longest-idle",
        "round-robin",
        "fewest-calls",
        "least-talk-time",
        "random",
        "linear",
    ];

    /// Parses a config name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "ring-all" => Self::RingAll,
            "longest-idle" => Self::LongestIdle,
            "round-robin" => Self::RoundRobin,
            "fewest-calls" => Self::FewestCalls,
            "least-talk-time" => Self::LeastTalkTime,
            "random" => Self::Random,
            "linear" => Self::Linear,
            _ => return None,
        })
    }
}

/// Who a queue member is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// A user (index into `Plan::users`).
    User(usize),
    /// An external number (`+` and digits).
    External(String),
}

/// `[[queue.member]]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// User or external number.
    pub kind: MemberKind,
    /// 0 rings first; higher only when no lower one is free.
    pub penalty: u32,
    /// Paused from the start.
    pub paused: bool,
    /// Least time between calls.
    pub wrapup: Duration,
}

/// `[[queue]]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Internal number.
    pub number: Option<String>,
    /// Ring strategy (default ring-all).
    pub strategy: Strategy,
    /// Longest wait before failover (default 5m).
    pub max_wait: Duration,
    /// How long a member rings (default 20s).
    pub ring_timeout: Duration,
    /// Where calls go when the queue cannot answer them (default hangup).
    pub failover: Dest,
    /// Hold music.
    pub music: Option<SoundId>,
    /// Members, in file order.
    pub members: Vec<Member>,
}

/// `[[ivr]]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ivr {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The menu prompt.
    pub prompt: SoundId,
    /// The prompt file as written, for the dry run.
    pub prompt_file: String,
    /// Played before the menu is offered again after an invalid key ("invalid choice").
    pub invalid_prompt: Option<SoundId>,
    /// The invalid prompt file as written, for the dry run.
    pub invalid_prompt_file: Option<String>,
    /// Silence after the prompt that counts as no answer (default 5s).
    pub timeout: Duration,
    /// Longest pause between the digits of an extension (default 3s); `#` ends it early.
    pub digit_timeout: Duration,
    /// More offers after a timeout, and separately after an invalid key (default 2).
    pub retries: u32,
    /// Digit (`0`-`9`, `*`, `#`) -> destination, sorted by digit.
    pub choices: Vec<(char, Dest)>,
    /// After the last timeout (default hangup).
    pub on_timeout: Dest,
    /// After the last invalid digit (default hangup).
    pub on_invalid: Dest,
    /// Callers may dial an extension or queue number.
    pub extensions: bool,
}

/// Public holiday calendars a schedule can close on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holidays {
    /// Swedish public holidays.
    Se,
}

/// `[[schedule]]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Opening hours.
    pub open: Vec<Period>,
    /// Holiday calendar that closes the whole day.
    pub holidays: Option<Holidays>,
    /// Extra closed dates.
    pub closed_on: Vec<Date>,
    /// Destination while open.
    pub when_open: Dest,
    /// Destination while closed.
    pub when_closed: Dest,
}

/// `[[did]]`: a number of ours that the operator delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Did {
    /// Digits, country code first, no `+`.
    pub number: String,
    /// Display name (defaults to the number).
    pub name: String,
    /// Where calls to it go.
    pub route: Dest,
}

/// `[[flow]]`: what a group of supervisors may change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The DID (index into `Plan::dids`) whose graph the flow shows.
    pub did: Option<usize>,
    /// Destinations the supervisors may change.
    pub objects: Vec<Dest>,
    /// Supervisors (indices into `Plan::users`).
    pub supervisors: Vec<usize>,
}

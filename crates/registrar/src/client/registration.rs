//! vaxel registering itself at an operator's registrar (RFC 3261 §10.2), sans-IO: the caller
//! sends the REGISTERs it is given (adding the Via, see [`Registration`]), feeds back the
//! answers, transaction timeouts and the time, and re-arms one timer to
//! [`Registration::poll_timeout`].

use std::time::{Duration, Instant};

use thiserror::Error;
use vaxel_sip::{Method, Request, Response, SipMessage, Uri};

use super::challenge::{ChallengeError, DigestChallenge, NonceCounts, authorize, challenges};

/// The interval asked for when the config says nothing: an hour, what operators expect.
pub const DEFAULT_EXPIRES: u32 = 3600;
/// First wait after a failure; it doubles per failure up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
/// Longest wait between attempts: an operator outage is noticed within ten minutes of its end.
pub const RETRY_MAX: Duration = Duration::from_secs(600);
/// `stale=true` challenges answered in a row before we call it a server fault (a loop guard).
const MAX_STALE_RETRIES: u8 = 2;
/// A `Min-Expires` above a day is not an interval we follow.
const MAX_MIN_EXPIRES: u32 = 86_400;

/// What to register and how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// The registrar: the trunk's `uri` (`sip:192.0.2.1:5080`, `sip:op.example;transport=tcp`).
    /// Any user part is dropped from the Request-URI (RFC 3261 §10.2).
    pub registrar: String,
    /// Digest user name; also the user part of the address-of-record and of the Contact.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// Our Contact URI, where the operator sends calls (`sip:user@203.0.113.7:5060`).
    pub contact: String,
    /// Interval asked for in `Expires`; raised by a 423's `Min-Expires`.
    pub expires: u32,
    /// First wait after a failure.
    pub retry_first: Duration,
    /// Cap of the doubling wait.
    pub retry_max: Duration,
    /// `User-Agent` value, if any.
    pub user_agent: Option<String>,
}

impl RegistrationConfig {
    /// A config with the default interval and retry schedule.
    pub fn new(
        registrar: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
        contact: impl Into<String>,
    ) -> RegistrationConfig {
        RegistrationConfig {
            registrar: registrar.into(),
            username: username.into(),
            password: password.into(),
            contact: contact.into(),
            expires: DEFAULT_EXPIRES,
            retry_first: RETRY_FIRST,
            retry_max: RETRY_MAX,
            user_agent: None,
        }
    }
}

/// A config that cannot register anywhere; the plan check should have caught it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistrationError {
    /// The registrar URI does not parse or is not `sip:`/`sips:`.
    #[error("registrar `{uri}` is not a SIP URI: {why}")]
    BadRegistrar {
        /// The URI as configured.
        uri: String,
        /// What is wrong with it.
        why: String,
    },
    /// The contact does not parse or is not `sip:`/`sips:`.
    #[error("contact `{uri}` is not a SIP URI: {why}")]
    BadContact {
        /// The URI given.
        uri: String,
        /// What is wrong with it.
        why: String,
    },
    /// No user name: there would be no address-of-record.
    #[error("empty username")]
    EmptyUsername,
}

/// Why the last attempt failed, for the log line and the status page.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Failure {
    /// The transaction timed out (Timer F): the registrar is down or unreachable.
    #[error("no answer from the registrar")]
    Timeout,
    /// The engine could not send (name not resolved, transport not available).
    #[error("cannot reach the registrar: {0}")]
    Unreachable(String),
    /// A second 401/407 in one attempt, not `stale`: wrong username or password.
    #[error("the registrar refused our credentials ({status})")]
    CredentialsRefused {
        /// 401 or 407.
        status: u16,
    },
    /// A 401/407 whose challenge we cannot answer.
    #[error("unusable challenge: {0}")]
    BadChallenge(ChallengeError),
    /// A 423 without a usable `Min-Expires` above what we asked for.
    #[error("interval too brief for the registrar (Min-Expires {})", .min_expires.map_or("missing".to_string(), |m| m.to_string()))]
    IntervalTooBrief {
        /// The `Min-Expires` it sent, if readable.
        min_expires: Option<u32>,
    },
    /// Any other final response (403, 404, 500, 503, ...).
    #[error("the registrar answered {status} {reason}")]
    Rejected {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// A 2xx granting our contact an expiry of 0.
    #[error("the registrar kept no binding for our contact")]
    NoBinding,
}

/// Where the registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not started yet, or removed by [`Registration::unregister`].
    Unregistered,
    /// The first REGISTER of an attempt is out and no binding is known to exist.
    Registering,
    /// Bound until `until`; the refresh goes out before then (the state stays Registered
    /// while it is in flight).
    Registered {
        /// When the registrar forgets us unless refreshed.
        until: Instant,
    },
    /// The last attempt failed; the next one starts at `retry_at`.
    Failed {
        /// Start of the next attempt.
        retry_at: Instant,
        /// What went wrong.
        reason: Failure,
    },
}

/// The REGISTER in flight: its CSeq and the interval it asked for (0: un-REGISTER).
#[derive(Debug, Clone, Copy)]
struct InFlight {
    cseq: u32,
    expires: u32,
}

/// What one attempt (first REGISTER up to a final outcome) has seen so far.
#[derive(Debug, Clone, Copy, Default)]
struct Attempt {
    /// A 401/407 arrived in this attempt, so our last request answered a fresh challenge.
    challenged: bool,
    stale_retries: u8,
}

/// One registration towards one registrar. It builds whole REGISTER requests except the
/// `Via`, which the caller adds (it knows the transport, its address and draws the branch),
/// as the top header with a fresh branch for every request returned. The Call-ID and From tag
/// stay the same across refreshes, CSeq rises by one per request; the last challenge is
/// reused for refreshes (with a rising `nc`), so a registrar that keeps its nonces valid
/// needs one round trip per refresh.
#[derive(Debug, Clone)]
pub struct Registration {
    cfg: RegistrationConfig,
    request_uri: Uri,
    aor: String,
    contact: Uri,
    call_id: String,
    from_tag: String,
    cseq: u32,
    rng: u64,
    expires: u32,
    challenges: Vec<DigestChallenge>,
    counts: NonceCounts,
    state: RegistrationState,
    /// When [`Registration::handle_timeout`] next sends (None: waiting or done).
    due: Option<Instant>,
    in_flight: Option<InFlight>,
    attempt: Attempt,
    backoff: Duration,
    /// Until when the registrar may hold a binding of ours (for un-REGISTER).
    bound_until: Option<Instant>,
    leaving: bool,
}

impl Registration {
    /// A registration whose first REGISTER is due at `now`. `seed` stands in for randomness
    /// (Call-ID, From tag, cnonces), so tests are reproducible.
    pub fn new(
        now: Instant,
        cfg: RegistrationConfig,
        seed: u64,
    ) -> Result<Registration, RegistrationError> {
        let bad_registrar = |why: String| RegistrationError::BadRegistrar {
            uri: cfg.registrar.clone(),
            why,
        };
        let mut request_uri =
            Uri::parse(&cfg.registrar).map_err(|e| bad_registrar(e.to_string()))?;
        if !request_uri.is_sip() || request_uri.host.is_empty() {
            return Err(bad_registrar("not a sip: or sips: URI with a host".into()));
        }
        request_uri.user = None;
        request_uri.password = None;
        request_uri.headers.clear();
        let contact = Uri::parse(&cfg.contact)
            .ok()
            .filter(Uri::is_sip)
            .ok_or_else(|| RegistrationError::BadContact {
                uri: cfg.contact.clone(),
                why: "not a sip: or sips: URI".into(),
            })?;
        if cfg.username.is_empty() {
            return Err(RegistrationError::EmptyUsername);
        }
        let aor = format!(
            "{}:{}@{}",
            request_uri.scheme,
            escape_user(&cfg.username),
            request_uri.host
        );
        let mut rng = seed;
        let call_id = format!("{:016x}@vaxel", splitmix(&mut rng));
        let from_tag = format!("{:x}", splitmix(&mut rng));
        Ok(Registration {
            expires: cfg.expires,
            backoff: cfg.retry_first,
            cfg,
            request_uri,
            aor,
            contact,
            call_id,
            from_tag,
            cseq: 0,
            rng,
            challenges: Vec::new(),
            counts: NonceCounts::default(),
            state: RegistrationState::Unregistered,
            due: Some(now),
            in_flight: None,
            attempt: Attempt::default(),
            bound_until: None,
            leaving: false,
        })
    }

    /// Where the registration stands.
    pub fn state(&self) -> &RegistrationState {
        &self.state
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &RegistrationConfig {
        &self.cfg
    }

    /// The Call-ID of every REGISTER of this registration.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The address-of-record registered (`sip:user@registrar-host`).
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// Whether a REGISTER is out and its answer (or timeout) awaited.
    pub fn is_waiting(&self) -> bool {
        self.in_flight.is_some()
    }

    /// When [`Registration::handle_timeout`] has something to send; `None` while a
    /// request is in flight (the transaction layer reports its end) or after unregistering.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            None
        } else {
            self.due
        }
    }

    /// The REGISTER to send now, if one is due: the first, a refresh or a retry.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Request> {
        if self.in_flight.is_some() || self.due.is_none_or(|d| d > now) {
            return None;
        }
        self.due = None;
        self.attempt = Attempt::default();
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            self.state = RegistrationState::Registering;
        }
        Some(self.request(self.expires))
    }

    /// The answer to the REGISTER in flight; anything else (a stray or late answer, a
    /// provisional one) is ignored. Returns the request to send next, if any: the same
    /// REGISTER with credentials after a 401/407, or with a longer interval after a 423.
    pub fn handle_response(&mut self, now: Instant, resp: &Response) -> Option<Request> {
        let flight = self.in_flight?;
        let ours = resp
            .cseq()
            .is_ok_and(|c| c.seq == flight.cseq && c.method == Method::Register)
            && resp.call_id().is_ok_and(|id| id == self.call_id);
        if !ours || resp.status < 200 {
            return None;
        }
        self.in_flight = None;
        match resp.status {
            200..=299 => {
                self.on_success(now, resp, flight);
                None
            }
            401 | 407 => self.on_challenge(now, resp, flight),
            423 => self.on_too_brief(now, resp, flight),
            status => {
                let failure = Failure::Rejected {
                    status,
                    reason: resp.reason.clone(),
                };
                self.fail(now, failure, retry_after(resp));
                None
            }
        }
    }

    /// The transaction of the REGISTER in flight timed out (Timer F).
    pub fn handle_timeout_of_txn(&mut self, now: Instant) {
        if self.in_flight.take().is_some() {
            self.fail(now, Failure::Timeout, None);
        }
    }

    /// The request just returned could not be sent (or no request could be built for lack
    /// of a destination): fail this attempt and retry later, as after a timeout.
    pub fn handle_unreachable(&mut self, now: Instant, why: impl Into<String>) {
        self.in_flight = None;
        self.fail(now, Failure::Unreachable(why.into()), None);
    }

    /// Stops registering. If the registrar may still hold our binding, returns the
    /// un-REGISTER (`Expires: 0`) to send; its answer may still need credentials, so keep
    /// feeding answers until [`Registration::is_waiting`] is false.
    pub fn unregister(&mut self, now: Instant) -> Option<Request> {
        self.leaving = true;
        self.due = None;
        self.state = RegistrationState::Unregistered;
        if self.bound_until.is_none_or(|t| t <= now) {
            self.in_flight = None;
            return None;
        }
        self.attempt = Attempt::default();
        Some(self.request(0))
    }

    fn on_success(&mut self, now: Instant, resp: &Response, flight: InFlight) {
        if flight.expires == 0 {
            self.bound_until = None;
            self.state = RegistrationState::Unregistered;
            return;
        }
        let granted = self.granted(resp).unwrap_or(flight.expires);
        if granted == 0 {
            self.fail(now, Failure::NoBinding, None);
            return;
        }
        let until = now + Duration::from_secs(u64::from(granted));
        self.bound_until = Some(until);
        self.state = RegistrationState::Registered { until };
        self.due = Some(now + refresh_after(granted));
        self.backoff = self.cfg.retry_first;
    }

    fn on_challenge(&mut self, now: Instant, resp: &Response, flight: InFlight) -> Option<Request> {
        let found = match challenges(resp) {
            Ok(found) => found,
            Err(e) => {
                self.fail(now, Failure::BadChallenge(e), None);
                return None;
            }
        };
        if self.attempt.challenged {
            // Our answer to a challenge of this attempt was refused: only a stale nonce
            // excuses that.
            let stale = found.iter().any(|c| c.stale);
            if !stale || self.attempt.stale_retries >= MAX_STALE_RETRIES {
                let failure = Failure::CredentialsRefused {
                    status: resp.status,
                };
                self.fail(now, failure, None);
                return None;
            }
            self.attempt.stale_retries += 1;
        }
        self.attempt.challenged = true;
        self.challenges = found;
        Some(self.request(flight.expires))
    }

    fn on_too_brief(&mut self, now: Instant, resp: &Response, flight: InFlight) -> Option<Request> {
        let min = resp
            .headers
            .get("Min-Expires")
            .and_then(|v| v.trim().parse::<u32>().ok());
        match min {
            Some(m) if flight.expires != 0 && m > flight.expires && m <= MAX_MIN_EXPIRES => {
                self.expires = m;
                Some(self.request(m))
            }
            _ => {
                self.fail(now, Failure::IntervalTooBrief { min_expires: min }, None);
                None
            }
        }
    }

    fn fail(&mut self, now: Instant, reason: Failure, retry_after: Option<Duration>) {
        self.in_flight = None;
        // A refused or odd challenge is not reused: the next attempt starts clean.
        self.challenges.clear();
        self.counts.clear();
        if self.leaving {
            self.state = RegistrationState::Unregistered;
            self.due = None;
            return;
        }
        let wait = retry_after
            .map(|d| d.clamp(Duration::from_secs(1), self.cfg.retry_max))
            .unwrap_or(self.backoff);
        self.backoff = (self.backoff * 2).min(self.cfg.retry_max);
        let retry_at = now + wait;
        self.state = RegistrationState::Failed { retry_at, reason };
        self.due = Some(retry_at);
    }

    /// The expiry the 2xx grants our contact: its `expires` parameter (our contact, or the
    /// only one listed, as a registrar behind NAT may rewrite it), else `Expires`.
    fn granted(&self, resp: &Response) -> Option<u32> {
        let contacts = resp.contacts().unwrap_or_default();
        let mine = contacts
            .iter()
            .find(|c| same_contact(&c.uri, &self.contact))
            .or(match contacts.as_slice() {
                [only] => Some(only),
                _ => None,
            });
        mine.and_then(|c| c.param("expires").flatten())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .or_else(|| resp.expires())
    }

    /// A REGISTER with the next CSeq, signed with the challenges at hand.
    fn request(&mut self, expires: u32) -> Request {
        self.cseq = self.cseq.saturating_add(1);
        let mut r = Request::new(Method::Register, self.request_uri.clone());
        r.headers.push("Max-Forwards", "70");
        r.headers
            .push("From", format!("<{}>;tag={}", self.aor, self.from_tag));
        r.headers.push("To", format!("<{}>", self.aor));
        r.headers.push("Call-ID", self.call_id.clone());
        r.headers.push("CSeq", format!("{} REGISTER", self.cseq));
        r.headers.push("Contact", format!("<{}>", self.cfg.contact));
        r.headers.push("Expires", expires.to_string());
        if let Some(ua) = &self.cfg.user_agent {
            r.headers.push("User-Agent", ua.clone());
        }
        if !self.challenges.is_empty() {
            let cnonce = format!("{:016x}", splitmix(&mut self.rng));
            authorize(
                &mut r,
                &self.challenges,
                &self.cfg.username,
                &self.cfg.password,
                &cnonce,
                &mut self.counts,
            );
        }
        self.in_flight = Some(InFlight {
            cseq: self.cseq,
            expires,
        });
        r
    }
}

/// When to refresh a binding granted for `granted` seconds: 10 % (at least 10 s) before it
/// lapses, but never in the first half of its life.
pub fn refresh_after(granted: u32) -> Duration {
    let g = u64::from(granted);
    let margin = (g / 10).max(10);
    Duration::from_secs(g.saturating_sub(margin).max(g / 2).max(1))
}

/// `Retry-After: 120` (comments and parameters after the number ignored).
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers.get("Retry-After")?.trim();
    let digits = v.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether two contact URIs name the same place (RFC 3261 §19.1.4, without parameters).
fn same_contact(a: &Uri, b: &Uri) -> bool {
    let port = |u: &Uri| {
        u.port
            .unwrap_or(if u.scheme == "sips" { 5061 } else { 5060 })
    };
    a.scheme == b.scheme
        && a.user == b.user
        && a.host.eq_ignore_ascii_case(&b.host)
        && port(a) == port(b)
}

/// Escapes a user name for the user part of a SIP URI (RFC 3261 §25.1 `user`).
pub fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SplitMix64: a small generator for identifiers derived from the caller's seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_leaves_a_margin_but_not_more_than_half() {
        assert_eq!(refresh_after(3600), Duration::from_secs(3240));
        assert_eq!(refresh_after(60), Duration::from_secs(50));
        assert_eq!(refresh_after(12), Duration::from_secs(6));
        assert_eq!(refresh_after(1), Duration::from_secs(1));
    }

    #[test]
    fn user_names_are_escaped_for_the_uri() {
        assert_eq!(escape_user("4610001"), "4610001");
        assert_eq!(escape_user("a b@c"), "a%20b%40c");
        assert_eq!(escape_user("ä"), "%C3%A4");
    }

    #[test]
    fn contacts_compare_with_default_ports() {
        let a = Uri::parse("sip:u@Host.example").unwrap();
        let b = Uri::parse("sip:u@host.example:5060;transport=udp").unwrap();
        let c = Uri::parse("sip:u@host.example:5070").unwrap();
        assert!(same_contact(&a, &b));
        assert!(!same_contact(&a, &c));
    }

    #[test]
    fn bad_configs_are_refused() {
        let now = Instant::now();
        let cfg = |r: &str, c: &str, u: &str| RegistrationConfig::new(r, u, "p", c);
        let e = Registration::new(now, cfg("tel:+4610", "sip:u@h", "u"), 1).unwrap_err();
        assert!(matches!(e, RegistrationError::BadRegistrar { .. }));
        let e = Registration::new(now, cfg("sip:h", "mailto:x", "u"), 1).unwrap_err();
        assert!(matches!(e, RegistrationError::BadContact { .. }));
        let e = Registration::new(now, cfg("sip:h", "sip:u@h", ""), 1).unwrap_err();
        assert_eq!(e, RegistrationError::EmptyUsername);
    }
}

//! The call state of vaxel's back-to-back user agent (B2BUA), sans-IO.
//!
//! One [`Bridge`] is one bridged call: the caller's leg A (an INVITE the engine received and
//! holds the server transaction of) and the outgoing legs B0..Bn-1 (the INVITEs the engine
//! sent: a fork over a user's registered contacts, or one INVITE to a trunk). The engine turns
//! SIP transaction events into [`Event`]s, feeds them with the current time to
//! [`Bridge::handle`] and carries out the returned [`Action`]s: it builds and sends every SIP
//! message and moves the media. The bridge decides everything else: which branch wins
//! (RFC 3261 §16.7), what the caller is told, what is cancelled, acknowledged or hung up, what
//! outcome a failed attempt has, when the ring timeout and the RFC 4028 session timers fire.
//!
//! Like `quinn-proto` it owns no socket and reads no clock: the engine re-arms one timer to
//! [`Bridge::poll_timeout`] and sends [`Event::Tick`] when it fires, so every path is tested
//! on simulated time. Legs are plain indices; transactions, dialogs, SDP and RTP stay in the
//! engine. `docs/b2bua.md` has the state diagram and the rules.

#![warn(missing_docs)]

mod action;
mod answered;
mod bridge;
mod event;
mod leg;
mod outcome;
mod ringing;
mod session_timer;

pub use action::{Action, EndReason};
pub use bridge::{Bridge, State};
pub use event::{Event, Side};
pub use outcome::Outcome;

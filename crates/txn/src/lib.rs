//! SIP transactions (RFC 3261 §17, RFC 6026), client and server, and dialogs, sans-IO.
//!
//! The [`Core`] keeps every transaction in one table and is driven like quinn-proto: the
//! engine feeds it received messages and the current time, and drains transmissions
//! ([`Output::Send`]) and transaction-user events ([`TuEvent`]) with [`Core::poll_output`],
//! re-arming its single timer to [`Core::poll_timeout`]. Nothing here owns a socket or reads
//! a clock, so every timer is tested on simulated time. Call logic lives above, in the
//! engine; message syntax below, in `vaxel-sip`.

mod client;
mod core;
mod dialog;
mod invite_client;
mod key;
mod peer;
mod server;
mod timer;

pub use crate::core::{ClientTxn, Core, Output, ServerTxn, Stats, TuEvent, response_peer};
pub use dialog::{Dialog, DialogError};
pub use key::{KeyMethod, MAGIC_COOKIE, TxnKey};
pub use peer::{Peer, Transport};
pub use timer::{TimerConfig, TimerKind};

/// Errors the TU can make when driving the transaction layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxnError {
    /// The transaction ended (timed out, or was answered and terminated).
    #[error("no such transaction")]
    NoSuchTransaction,
    /// The transaction cannot take this now (e.g. a second final response).
    #[error("transaction is in the wrong state for this")]
    WrongState,
    /// A response without the headers a transaction needs.
    #[error("response lacks Call-ID or CSeq")]
    MalformedResponse,
    /// A request without a top Via carrying a branch (or an INVITE without a CSeq).
    #[error("request lacks a Via with a branch")]
    MalformedRequest,
}

/// A globally unique branch parameter from a random value supplied by the caller.
pub fn new_branch(random: u64) -> String {
    format!("{MAGIC_COOKIE}{random:016x}")
}

/// A tag (From/To) from a random value supplied by the caller.
pub fn new_tag(random: u64) -> String {
    format!("{random:x}")
}

//! vaxel's registrar: who may register, and where each user's phones are.
//!
//! It holds the SIP digest authentication of RFC 2617/7616 with the SIP algorithms of RFC 8760
//! (MD5, SHA-256, SHA-512-256; `qop=auth` and the RFC 2069 form of old phones), stateless
//! HMAC-sealed nonces with expiry (`stale=true`) and nonce-count replay refusal, a tracker that
//! blocks sources after repeated failures, and the binding table of RFC 3261 §10.3 (several
//! contacts per user, Expires limits with 423, `*`, Call-ID/CSeq ordering, the NAT source kept
//! beside the contact). It is sans-IO: time comes in as seconds (`now: u64`, unix time so
//! stored bindings survive a restart), nothing here opens a socket, reads a clock or draws
//! randomness (the engine passes the nonce secret). Storage is the engine's: bindings are plain
//! data ([`Binding::to_row`]) and every REGISTER reports its [`Change`]s.
//!
//! [`client`] is the other side of the same exchange: vaxel answering an operator's
//! challenges and keeping its trunks registered.

#![warn(missing_docs)]

mod auth;
mod binding;
mod bindings;
pub mod client;
mod credentials;
pub mod digest;
mod error;
mod failures;
pub mod nonce;

pub use auth::{AuthConfig, AuthOutcome, Authenticator, Credentials};
pub use binding::{Binding, BindingRow, Transport};
pub use bindings::{Change, RegisterResult, Registrar, RegistrarConfig};
pub use client::{
    DigestChallenge, NonceCounts, Registration, RegistrationConfig, RegistrationState,
};
pub use credentials::{AuthHeader, DigestCredentials, parse_auth_header};
pub use digest::{Algorithm, Challenge, Qop};
pub use error::{DigestError, RegisterError, RowError};
pub use failures::{BlockStarted, FailureConfig, FailureTracker};
pub use nonce::{NonceConfig, NonceManager};

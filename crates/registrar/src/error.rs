//! Typed errors: what was wrong with a client's credentials, or with a REGISTER.

use thiserror::Error;

/// Why an `Authorization` value could not be used. The server answers every one of these with
/// a fresh challenge; the variants are for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// A scheme other than `Digest` (RFC 4475 regaut01).
    #[error("unknown authorization scheme `{0}`")]
    UnknownScheme(String),
    /// The value does not follow the auth-param grammar.
    #[error("malformed credentials: {0}")]
    Syntax(String),
    /// A required parameter is absent.
    #[error("credentials without `{0}`")]
    Missing(&'static str),
    /// A parameter appears twice.
    #[error("parameter `{0}` given twice")]
    Duplicate(String),
    /// An `algorithm` we do not know.
    #[error("unknown digest algorithm `{0}`")]
    UnknownAlgorithm(String),
    /// A `qop` we do not know.
    #[error("unknown qop `{0}`")]
    UnknownQop(String),
    /// `nc` is not 1-8 hex digits.
    #[error("bad nonce count `{0}`")]
    BadNonceCount(String),
    /// A feature we do not implement (`userhash=true`).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Why a REGISTER was refused (RFC 3261 §10.3). [`RegisterError::status`] gives the response
/// code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegisterError {
    /// The request breaks the rules (bad Contact, `*` not alone or with a non-zero Expires,
    /// missing Call-ID/CSeq): 400.
    #[error("bad REGISTER: {0}")]
    BadRequest(String),
    /// An expiry below the minimum: 423 with `Min-Expires: min_expires`.
    #[error("registration interval too brief (minimum {min_expires} s)")]
    IntervalTooBrief {
        /// Value for the `Min-Expires` header.
        min_expires: u32,
    },
    /// Same Call-ID with a CSeq not above the stored one: an old or reordered request, 500.
    #[error("REGISTER out of order (same Call-ID, CSeq {got} not above {stored})")]
    OutOfOrder {
        /// CSeq in the request.
        got: u32,
        /// CSeq stored with the binding.
        stored: u32,
    },
    /// More contacts than a user may have: 403.
    #[error("too many contacts for one user (at most {max})")]
    TooManyContacts {
        /// The configured cap.
        max: usize,
    },
}

impl RegisterError {
    /// The SIP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::BadRequest(_) => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::OutOfOrder { .. } => 500,
            RegisterError::TooManyContacts { .. } => 403,
        }
    }
}

/// A stored binding row that does not decode (the engine's SQLite data was edited or is from
/// another version).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad binding row: {0}")]
pub struct RowError(pub String);

//! The client side of what the rest of this crate serves: vaxel as a user agent towards an
//! operator. [`challenges`] reads the `WWW-Authenticate`/`Proxy-Authenticate` of a 401/407
//! (several per realm under RFC 8760: the strongest we support wins), [`authorize`] signs a
//! request with `qop=auth` (or the RFC 2069 form when no qop is offered), counting nonces per
//! realm in [`NonceCounts`]; [`Registration`] keeps a trunk registered (401/407, 423,
//! refresh before expiry, backoff). Sans-IO like the server side: the caller supplies the
//! time and the randomness, sends the requests and feeds back the answers.

mod challenge;
mod registration;

pub use challenge::{
    ChallengeError, DigestAnswer, DigestChallenge, NonceCounts, authorize, challenges,
};
pub use registration::{
    DEFAULT_EXPIRES, Failure, RETRY_FIRST, RETRY_MAX, Registration, RegistrationConfig,
    RegistrationError, RegistrationState, escape_user, refresh_after,
};

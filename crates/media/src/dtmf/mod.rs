//! DTMF reception in the three ways phones and trunks send it, sans-IO.
//!
//! - [`EventReceiver`]: RFC 4733 telephone-event RTP packets (the normal case).
//! - [`parse_info`]: SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`).
//! - [`InbandDetector`]: tones inside the G.711 audio, for callers that offer no
//!   telephone-event (Goertzel filters with energy, twist, harmonic and duration checks).
//!
//! All three report a [`Digit`] once per key press; none of them reads a clock: RTP
//! timestamps and sample counts are the only notion of time.

mod goertzel;
mod inband;
mod info;
mod rfc4733;

pub use inband::InbandDetector;
pub use info::parse_info;
pub use rfc4733::{EventReceiver, digit_from_event};

/// One DTMF key: `'0'..='9'`, `'*'`, `'#'` or `'A'..='D'`.
///
/// A plain `char` because that is how the dial plan writes choices (`"1"`, `"#"`).
pub type Digit = char;

/// The 16 keys in RFC 4733 event-code order (0-9, `*`, `#`, A-D).
pub const DIGITS: [Digit; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

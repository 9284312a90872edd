//! RFC 4733 telephone-events: one digit per event, reported at the event's first packet.
//!
//! A sender repeats an event's packet every 50 ms or so while the key is held (same RTP
//! timestamp, growing duration) and sends the end packet three times. The timestamp names
//! the event, so the receiver remembers the last few (timestamp, event) pairs it has seen
//! and reports only pairs it has not: continuation packets, redundant end packets and end
//! packets that arrive late (after the next event began) fall on a remembered pair.

use super::{DIGITS, Digit};

/// How many recent events are remembered; late packets older than this are treated as new.
const REMEMBERED: usize = 8;

/// The telephone-event code of a DTMF key, or `None` for other events (flash, tones).
pub fn digit_from_event(code: u8) -> Option<Digit> {
    DIGITS.get(usize::from(code)).copied()
}

/// One event as remembered by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    timestamp: u32,
    event: u8,
    /// Largest duration seen for it (in timestamp units).
    duration: u16,
    /// An end packet has been seen.
    ended: bool,
}

/// Turns a stream of telephone-event payloads into digits, each reported exactly once.
///
/// Feed it every packet of the negotiated telephone-event payload type of one RTP stream
/// (one SSRC); call [`EventReceiver::reset`] when the stream changes.
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    /// Ring of recently seen events, newest at `next - 1`.
    seen: [Option<Seen>; REMEMBERED],
    next: usize,
    /// The most recent new event (by arrival), for long-event segment detection.
    latest: Option<usize>,
}

impl EventReceiver {
    /// A receiver that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget every event seen (new SSRC, re-INVITE to another stream).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Handle one telephone-event payload (`event(8) E|R|volume(6) duration(16)`).
    ///
    /// Returns the digit if this packet begins an event not seen before. Short payloads
    /// and non-DTMF events (code > 15) return `None`; the latter are still remembered so
    /// their repeats stay silent too.
    pub fn on_packet(&mut self, rtp_timestamp: u32, marker: bool, payload: &[u8]) -> Option<Digit> {
        let [event, flags, d0, d1, ..] = *payload else {
            return None;
        };
        let end = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([d0, d1]);

        if let Some(slot) = self.find(rtp_timestamp, event) {
            slot.duration = slot.duration.max(duration);
            slot.ended |= end;
            return None;
        }
        let continues_long_event = !marker && self.is_next_segment(rtp_timestamp, event);
        let index = self.remember(Seen {
            timestamp: rtp_timestamp,
            event,
            duration,
            ended: end,
        });
        self.latest = Some(index);
        if continues_long_event {
            return None;
        }
        digit_from_event(event)
    }

    fn find(&mut self, timestamp: u32, event: u8) -> Option<&mut Seen> {
        self.seen
            .iter_mut()
            .flatten()
            .find(|s| s.timestamp == timestamp && s.event == event)
    }

    /// RFC 4733 §2.5.1.3: an event longer than 0xFFFF timestamp units continues in a new
    /// segment whose timestamp is the old one plus the old duration, without the marker.
    fn is_next_segment(&self, timestamp: u32, event: u8) -> bool {
        let Some(prev) = self
            .latest
            .and_then(|i| self.seen.get(i).copied().flatten())
        else {
            return false;
        };
        // The previous segment may have lost its last packets; allow up to one second of
        // missing duration (8000 units at 8 kHz) beyond what was seen.
        let offset = timestamp.wrapping_sub(prev.timestamp);
        prev.event == event
            && !prev.ended
            && offset > 0
            && offset <= u32::from(prev.duration) + 8000
            && u32::from(prev.duration) + 8000 >= 0xFFFF
    }

    fn remember(&mut self, seen: Seen) -> usize {
        let index = self.next;
        if let Some(slot) = self.seen.get_mut(index) {
            *slot = Some(seen);
        }
        self.next = (index + 1) % REMEMBERED;
        index
    }
}

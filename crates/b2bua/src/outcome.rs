//! The outcome of an attempt no leg answered, chosen like RFC 3261 §16.7 picks a response.

/// Why no leg answered; the engine forwards the caller elsewhere on it or rejects with
/// [`Outcome::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A leg was busy (486, or 600 Busy Everywhere).
    Busy,
    /// Nothing final came: every leg timed out (or sent 408), or the ring timeout fired.
    NoAnswer,
    /// The legs refused otherwise: the best of their statuses, as received (a 6xx is final
    /// at once; else 4xx over 5xx, the first one of the best class).
    Unavailable(u16),
}

impl Outcome {
    /// The status to reject the caller with. Some statuses make no sense when relayed by a
    /// B2BUA and are mapped: a redirect's Contact and a challenge are addressed to us, not to
    /// the caller, and a 503 would tell the caller's side that *we* are overloaded (§16.7).
    pub fn status(&self) -> u16 {
        match *self {
            Outcome::Busy => 486,
            Outcome::NoAnswer => 480,
            Outcome::Unavailable(status) => match status {
                300..=399 => 480,
                401 | 407 | 503 => 500,
                400..=699 => status,
                _ => 500,
            },
        }
    }

    /// The outcome of a 6xx, which ends the search at once (§16.7: "global failure").
    pub(crate) fn global(status: u16) -> Outcome {
        if status == 600 {
            Outcome::Busy
        } else {
            Outcome::Unavailable(status)
        }
    }
}

/// Collects the finals of failed legs while others still ring.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    busy: bool,
    best: Option<u16>,
}

impl Verdict {
    /// A leg's final 3xx-5xx (6xx are handled by [`Outcome::global`]).
    pub(crate) fn failed(&mut self, status: u16) {
        match status {
            408 => {}
            486 => self.busy = true,
            _ if self.best.is_none_or(|best| rank(status) < rank(best)) => self.best = Some(status),
            _ => {}
        }
    }

    /// What the caller is told once every leg is done.
    pub(crate) fn outcome(&self) -> Outcome {
        match (self.busy, self.best) {
            (true, _) => Outcome::Busy,
            (false, Some(status)) => Outcome::Unavailable(status),
            (false, None) => Outcome::NoAnswer,
        }
    }
}

/// Lower is better: a 4xx says most about the callee, a 5xx about a server on the way, and a
/// redirect (or nonsense) least of all, since we do not follow it.
fn rank(status: u16) -> u8 {
    match status {
        400..=499 => 0,
        500..=599 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(statuses: &[u16]) -> Outcome {
        let mut v = Verdict::default();
        statuses.iter().for_each(|&s| v.failed(s));
        v.outcome()
    }

    #[test]
    fn best_status_wins() {
        assert_eq!(verdict(&[]), Outcome::NoAnswer);
        assert_eq!(verdict(&[408, 408]), Outcome::NoAnswer);
        assert_eq!(verdict(&[503, 404]), Outcome::Unavailable(404));
        assert_eq!(verdict(&[302, 503]), Outcome::Unavailable(503));
        assert_eq!(verdict(&[480, 404]), Outcome::Unavailable(480));
        assert_eq!(verdict(&[480, 486, 503]), Outcome::Busy);
        assert_eq!(verdict(&[408, 500]), Outcome::Unavailable(500));
    }

    #[test]
    fn statuses_for_the_caller() {
        assert_eq!(Outcome::Busy.status(), 486);
        assert_eq!(Outcome::NoAnswer.status(), 480);
        assert_eq!(Outcome::Unavailable(404).status(), 404);
        assert_eq!(Outcome::Unavailable(603).status(), 603);
        assert_eq!(Outcome::Unavailable(302).status(), 480);
        assert_eq!(Outcome::Unavailable(407).status(), 500);
        assert_eq!(Outcome::Unavailable(503).status(), 500);
        assert_eq!(Outcome::Unavailable(99).status(), 500);
        assert_eq!(Outcome::global(600), Outcome::Busy);
        assert_eq!(Outcome::global(603), Outcome::Unavailable(603));
    }
}

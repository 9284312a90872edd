//! Is a schedule open at an instant, and why: opening hours, holidays, closed dates and
//! one-day overrides, on the wall clock of the switchboard's time zone.
//!
//! Rules, in order, for the local date and time at the instant:
//! 1. A one-day [`Override`] for the local date replaces that whole day: its hours (or closed
//!    all day) decide, and periods, holidays and `closed_on` are ignored that day.
//! 2. A Swedish holiday or eve (with `holidays = "se"`) or a `closed_on` date closes the day.
//! 3. Otherwise the schedule is open iff one of its `open` periods covers the weekday and time.
//!
//! A period past midnight (`"fri 22:00-02:00"`) belongs to the day it starts on: Saturday 01:00
//! is open by Friday's period, even when Saturday is a holiday or has an override; and when
//! Friday is a holiday, closed, or has an override, Friday's period does not run at all, so
//! Saturday 01:00 is closed too (unless another period covers it).
//!
//! Daylight saving time needs no special case because only the wall clock counts: in the
//! spring-forward gap (02:00-03:00 does not exist) no instant reads 02:30; in the fall-back
//! hour both instants that read 02:30 evaluate as 02:30, as a person looking at a clock expects.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::holidays::swedish_holiday;
use crate::model::{Holidays, Schedule};
use crate::period::{Period, TimeOfDay};

/// The hours that apply on one date instead of the schedule (temporär styrning).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Override {
    /// The local date it applies to.
    pub date: Date,
    /// Open from the first to the second time that day (`24:00` = until midnight); None =
    /// closed all day. Hours whose end is not after their start never open.
    pub hours: Option<(TimeOfDay, TimeOfDay)>,
}

/// Parses override hours `HH:MM-HH:MM` within one day (end after start, `24:00` allowed).
pub fn parse_override_hours(s: &str) -> Result<(TimeOfDay, TimeOfDay), String> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err(format!("`{s}` is not HH:MM-HH:MM"));
    }
    let p: Period = format!("mon {s}").parse()?;
    if p.end <= p.start {
        return Err(format!(
            "`{s}` ends before it starts; an override covers one day (use 24:00 for midnight)"
        ));
    }
    Ok((p.start, p.end))
}

/// Why a schedule is open or closed at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Open within this period.
    Period {
        /// The period that covers the instant.
        period: Period,
        /// The instant is in the part after midnight of a period that began the day before.
        from_previous_day: bool,
    },
    /// Closed: no period covers the local weekday and time.
    NoPeriod,
    /// Closed all day: a Swedish holiday or eve (possibly the day before, whose period would
    /// have run past midnight).
    Holiday {
        /// The closed date.
        date: Date,
        /// Its Swedish name.
        name: &'static str,
    },
    /// Closed all day: the date is in `closed_on` (possibly the day before, as for holidays).
    ClosedOn {
        /// The closed date.
        date: Date,
    },
    /// A one-day override decides (possibly the day before's, which stopped a period from
    /// running past midnight).
    Override {
        /// The date of the override.
        date: Date,
        /// Its hours; None = closed all day.
        hours: Option<(TimeOfDay, TimeOfDay)>,
    },
}

/// Whether a schedule is open, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Calls go to `when_open` (else `when_closed`).
    pub open: bool,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Period {
                period,
                from_previous_day: false,
            } => write!(f, "within opening hours {period}"),
            Reason::Period {
                period,
                from_previous_day: true,
            } => write!(
                f,
                "within opening hours {period}, begun the day before and running past midnight"
            ),
            Reason::NoPeriod => write!(f, "outside the opening hours"),
            Reason::Holiday { date, name } => {
                write!(f, "{date} is {name}, a Swedish holiday: closed all day")
            }
            Reason::ClosedOn { date } => write!(f, "{date} is in closed_on: closed all day"),
            Reason::Override {
                date,
                hours: Some((start, end)),
            } => write!(f, "one-day override for {date}: open {start}-{end} only"),
            Reason::Override { date, hours: None } => {
                write!(f, "one-day override for {date}: closed all day")
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.open { "open" } else { "closed" };
        write!(f, "{state}: {}", self.reason)
    }
}

/// Why a whole day is closed (or replaced by an override); None for an ordinary day.
fn day_rule(schedule: &Schedule, date: Date, overrides: &[Override]) -> Option<Reason> {
    if let Some(o) = overrides.iter().find(|o| o.date == date) {
        return Some(Reason::Override {
            date,
            hours: o.hours,
        });
    }
    if schedule.holidays == Some(Holidays::Se) {
        if let Some(name) = swedish_holiday(date) {
            return Some(Reason::Holiday { date, name });
        }
    }
    schedule
        .closed_on
        .contains(&date)
        .then_some(Reason::ClosedOn { date })
}

/// Is `schedule` open at `at`, on the wall clock of `tz`, given the one-day `overrides` in
/// force (any date; only the local date and the day before matter). No allocation.
pub fn evaluate(
    schedule: &Schedule,
    tz: &TimeZone,
    at: Timestamp,
    overrides: &[Override],
) -> Verdict {
    let local = tz.to_datetime(at);
    let date = local.date();
    let minute =
        u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    let today = day_rule(schedule, date, overrides);
    if let Some(reason @ Reason::Override { hours, .. }) = today {
        let open = hours.is_some_and(|(s, e)| s.0 <= minute && minute < e.0);
        return Verdict { open, reason };
    }
    let day = u8::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
    let yesterday = (day + 6) % 7;
    // Why the day before's periods do not run; computed once, only if needed.
    let mut before: Option<Option<Reason>> = None;
    let mut blocked = None;
    for period in &schedule.open {
        let wraps = period.end <= period.start;
        let starts_today = period.days.contains(day)
            && minute >= period.start.0
            && (wraps || minute < period.end.0);
        if starts_today {
            match today {
                None => {
                    return Verdict {
                        open: true,
                        reason: Reason::Period {
                            period: *period,
                            from_previous_day: false,
                        },
                    };
                }
                Some(_) => continue,
            }
        }
        if wraps && period.days.contains(yesterday) && minute < period.end.0 {
            let rule = *before.get_or_insert_with(|| {
                date.yesterday()
                    .ok()
                    .and_then(|d| day_rule(schedule, d, overrides))
            });
            match rule {
                None => {
                    return Verdict {
                        open: true,
                        reason: Reason::Period {
                            period: *period,
                            from_previous_day: true,
                        },
                    };
                }
                Some(r) => blocked = blocked.or(Some(r)),
            }
        }
    }
    Verdict {
        open: false,
        reason: today.or(blocked).unwrap_or(Reason::NoPeriod),
    }
}

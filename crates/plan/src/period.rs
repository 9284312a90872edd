//! Opening-hours periods like `"mon-fri 08:00-17:00"` or `"fri 22:00-02:00"` (past midnight).

use std::fmt;
use std::str::FromStr;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of weekdays; bit 0 is Monday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Days(u8);

impl Days {
    /// Whether the day (0 = Monday .. 6 = Sunday) is in the set.
    pub fn contains(self, day: u8) -> bool {
        day < 7 && self.0 & (1 << day) != 0
    }

    fn insert(&mut self, day: u8) {
        self.0 |= 1 << (day % 7);
    }
}

/// A time of day in minutes since midnight; `24:00` (1440) is allowed as an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay(pub u16);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Open from `start` to `end` on each of `days`; when `end <= start` it runs into the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    /// Days the period starts on.
    pub days: Days,
    /// Opening time.
    pub start: TimeOfDay,
    /// Closing time (on the next day if not after `start`).
    pub end: TimeOfDay,
}

impl Period {
    /// Whether the period covers `minute` (since midnight) of `day` (0 = Monday).
    pub fn covers(&self, day: u8, minute: u16) -> bool {
        if self.start < self.end {
            self.days.contains(day) && (self.start.0..self.end.0).contains(&minute)
        } else {
            let yesterday = (day + 6) % 7;
            (self.days.contains(day) && minute >= self.start.0)
                || (self.days.contains(yesterday) && minute < self.end.0)
        }
    }
}

fn day_index(s: &str) -> Result<u8, String> {
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| format!("unknown day `{s}` (use mon, tue, wed, thu, fri, sat, sun)"))
}

fn parse_days(s: &str) -> Result<Days, String> {
    let mut days = Days::default();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    days.insert(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.insert(day_index(part)?),
        }
    }
    Ok(days)
}

fn parse_time(s: &str) -> Result<TimeOfDay, String> {
    let bad = || format!("`{s}` is not a time HH:MM");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(format!("`{s}` is not a time of day"));
    }
    Ok(TimeOfDay(h * 60 + m))
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        let (Some(days), Some(hours), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{s}` is not `DAYS HH:MM-HH:MM`"));
        };
        let days = parse_days(days)?;
        let (a, b) = hours
            .split_once('-')
            .ok_or_else(|| format!("`{hours}` is not HH:MM-HH:MM"))?;
        let (start, end) = (parse_time(a)?, parse_time(b)?);
        if start == end {
            return Err(format!("`{hours}` is an empty period"));
        }
        if start.0 == 24 * 60 {
            return Err("a period cannot start at 24:00".into());
        }
        Ok(Period { days, start, end })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = (0..7u8)
            .filter(|d| self.days.contains(*d))
            .filter_map(|d| DAY_NAMES.get(usize::from(d)).copied())
            .collect();
        write!(f, "{} {}-{}", names.join(","), self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_hours() {
        let p: Period = "mon-fri 08:00-17:00".parse().unwrap();
        assert!(p.covers(0, 8 * 60));
        assert!(p.covers(4, 17 * 60 - 1));
        assert!(!p.covers(4, 17 * 60));
        assert!(!p.covers(5, 9 * 60));
        assert_eq!(p.to_string(), "mon,tue,wed,thu,fri 08:00-17:00");
    }

    #[test]
    fn past_midnight() {
        let p: Period = "fri 22:00-02:00".parse().unwrap();
        assert!(p.covers(4, 23 * 60));
        assert!(p.covers(5, 60));
        assert!(!p.covers(5, 3 * 60));
        assert!(!p.covers(4, 60));
    }

    #[test]
    fn lists_and_wrapping_ranges() {
        let p: Period = "sat-mon,wed 00:00-24:00".parse().unwrap();
        for d in [5, 6, 0, 2] {
            assert!(p.covers(d, 0), "day {d}");
        }
        assert!(!p.covers(1, 600));
    }

    #[test]
    fn rejects_bad() {
        for s in [
            "mon-fri",
            "mon-fry 08:00-17:00",
            "mon 8-17",
            "mon 08:00-08:00",
            "mon 25:00-26:00",
            "mon 08:60-09:00",
            "mon 08:00-09:00 extra",
        ] {
            assert!(s.parse::<Period>().is_err(), "{s}");
        }
    }
}

//! Schedule evaluation: DST in Europe/Stockholm, Swedish holidays, closed dates, one-day
//! overrides and periods past midnight, all at fixed instants.

use jiff::Timestamp;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use vaxel_plan::{
    Holidays, NodeId, Override, Reason, Schedule, TimeOfDay, Verdict, evaluate,
    parse_override_hours, swedish_holidays,
};

fn stockholm() -> TimeZone {
    TimeZone::get("Europe/Stockholm").unwrap()
}

fn schedule(open: &[&str], holidays: bool, closed_on: &[Date]) -> Schedule {
    Schedule {
        id: "s".into(),
        name: "s".into(),
        open: open.iter().map(|p| p.parse().unwrap()).collect(),
        holidays: holidays.then_some(Holidays::Se),
        closed_on: closed_on.to_vec(),
        when_open: NodeId(0),
        when_closed: NodeId(1),
    }
}

fn utc(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The instant a Stockholm wall clock reads `hh:mm` on `d` (the earlier one in the fall-back hour).
fn local(d: Date, hh: i8, mm: i8) -> Timestamp {
    d.at(hh, mm, 0, 0)
        .to_zoned(stockholm())
        .unwrap()
        .timestamp()
}

fn at(s: &Schedule, t: Timestamp, overrides: &[Override]) -> Verdict {
    evaluate(s, &stockholm(), t, overrides)
}

fn open_at(s: &Schedule, t: Timestamp) -> bool {
    at(s, t, &[]).open
}

fn hours(s: &str) -> Option<(TimeOfDay, TimeOfDay)> {
    Some(parse_override_hours(s).unwrap())
}

#[test]
fn office_hours_on_an_ordinary_week() {
    let s = schedule(&["mon-fri 08:00-12:00", "mon-fri 13:00-17:00"], true, &[]);
    // Wed 2026-03-11 (CET, UTC+1).
    assert!(!open_at(&s, utc("2026-03-11T06:59:59Z")));
    assert!(open_at(&s, utc("2026-03-11T07:00:00Z")));
    assert!(!open_at(&s, utc("2026-03-11T11:30:00Z")), "lunch");
    assert!(open_at(&s, utc("2026-03-11T15:59:00Z")));
    assert!(!open_at(&s, utc("2026-03-11T16:00:00Z")));
    assert!(!open_at(&s, utc("2026-03-14T10:00:00Z")), "saturday");
    let v = at(&s, utc("2026-03-11T12:00:00Z"), &[]);
    assert_eq!(
        v.to_string(),
        "open: within opening hours mon,tue,wed,thu,fri 13:00-17:00"
    );
    assert_eq!(
        at(&s, utc("2026-03-14T10:00:00Z"), &[]).to_string(),
        "closed: outside the opening hours"
    );
    // Summer time (UTC+2): 08:00 local is 06:00 UTC.
    assert!(open_at(&s, utc("2026-06-10T06:00:00Z")));
    assert!(!open_at(&s, utc("2026-06-10T05:59:59Z")));
}

#[test]
fn spring_forward_2026_03_29() {
    // 01:00 UTC: 02:00 CET becomes 03:00 CEST; 02:00-02:59 does not exist that Sunday.
    let night = schedule(&["sun 01:00-03:00"], false, &[]);
    assert!(
        !open_at(&night, utc("2026-03-28T23:59:59Z")),
        "00:59:59 CET"
    );
    assert!(open_at(&night, utc("2026-03-29T00:00:00Z")), "01:00 CET");
    assert!(open_at(&night, utc("2026-03-29T00:59:59Z")), "01:59:59 CET");
    assert!(!open_at(&night, utc("2026-03-29T01:00:00Z")), "03:00 CEST");
    let gap = schedule(&["sun 02:00-03:00"], false, &[]);
    for t in [
        "2026-03-29T00:00:00Z",
        "2026-03-29T00:59:59Z",
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:30:00Z",
    ] {
        assert!(
            !open_at(&gap, utc(t)),
            "{t}: the gap hour never shows on a clock"
        );
    }
    let early = schedule(&["sun 03:00-04:00"], false, &[]);
    assert!(!open_at(&early, utc("2026-03-29T00:59:59Z")));
    assert!(open_at(&early, utc("2026-03-29T01:00:00Z")), "03:00 CEST");
    assert!(open_at(&early, utc("2026-03-29T01:59:59Z")));
    assert!(!open_at(&early, utc("2026-03-29T02:00:00Z")), "04:00 CEST");
    // A night shift over the short night: 22:00 CET to 06:00 CEST is 7 real hours.
    let shift = schedule(&["sat 22:00-06:00"], false, &[]);
    assert!(!open_at(&shift, utc("2026-03-28T20:59:59Z")));
    assert!(open_at(&shift, utc("2026-03-28T21:00:00Z")), "22:00 CET");
    assert!(
        open_at(&shift, utc("2026-03-29T03:59:59Z")),
        "05:59:59 CEST"
    );
    assert!(!open_at(&shift, utc("2026-03-29T04:00:00Z")), "06:00 CEST");
}

#[test]
fn fall_back_2026_10_25() {
    // 01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice.
    let twice = schedule(&["sun 02:00-03:00"], false, &[]);
    assert!(
        !open_at(&twice, utc("2026-10-24T23:59:59Z")),
        "01:59:59 CEST"
    );
    for t in [
        "2026-10-25T00:00:00Z", // 02:00 CEST
        "2026-10-25T00:30:00Z", // 02:30 CEST
        "2026-10-25T00:59:59Z", // 02:59:59 CEST
        "2026-10-25T01:00:00Z", // 02:00 CET
        "2026-10-25T01:30:00Z", // 02:30 CET
        "2026-10-25T01:59:59Z", // 02:59:59 CET
    ] {
        assert!(open_at(&twice, utc(t)), "{t} reads 02:xx on the wall");
    }
    assert!(!open_at(&twice, utc("2026-10-25T02:00:00Z")), "03:00 CET");
    let after = schedule(&["sun 03:00-09:00"], false, &[]);
    assert!(
        !open_at(&after, utc("2026-10-25T00:59:59Z")),
        "02:59:59 CEST"
    );
    assert!(
        !open_at(&after, utc("2026-10-25T01:00:00Z")),
        "02:00 CET, not 03:00"
    );
    assert!(open_at(&after, utc("2026-10-25T02:00:00Z")), "03:00 CET");
    assert!(open_at(&after, utc("2026-10-25T07:59:59Z")), "08:59:59 CET");
    assert!(!open_at(&after, utc("2026-10-25T08:00:00Z")), "09:00 CET");
    // A night shift over the long night: 22:00 CEST to 06:00 CET is 9 real hours.
    let shift = schedule(&["sat 22:00-06:00"], false, &[]);
    assert!(open_at(&shift, utc("2026-10-24T20:00:00Z")), "22:00 CEST");
    assert!(open_at(&shift, utc("2026-10-25T04:59:59Z")), "05:59:59 CET");
    assert!(!open_at(&shift, utc("2026-10-25T05:00:00Z")), "06:00 CET");
}

#[test]
fn every_swedish_holiday_2024_2030_is_closed_all_day() {
    let s = schedule(&["mon-sun 00:00-24:00"], true, &[]);
    let plain = schedule(&["mon-sun 00:00-24:00"], false, &[]);
    let mut day = date(2024, 1, 1);
    let mut closed_days = 0;
    while day.year() <= 2030 {
        let list = swedish_holidays(day.year());
        let holiday = list.iter().find(|(d, _)| *d == day);
        for (hh, mm) in [(0, 0), (12, 0), (23, 59)] {
            let t = local(day, hh, mm);
            assert!(open_at(&plain, t), "{day} {hh}:{mm} without holidays");
            let v = at(&s, t, &[]);
            match holiday {
                Some((d, name)) => assert_eq!(
                    v,
                    Verdict {
                        open: false,
                        reason: Reason::Holiday { date: *d, name }
                    },
                    "{day} {hh}:{mm}"
                ),
                None => assert!(v.open, "{day} {hh}:{mm}: {v}"),
            }
        }
        closed_days += usize::from(holiday.is_some());
        day = day.tomorrow().unwrap();
    }
    assert_eq!(closed_days, 7 * 16);
    assert_eq!(
        at(&s, local(date(2026, 12, 24), 10, 0), &[]).to_string(),
        "closed: 2026-12-24 is julafton, a Swedish holiday: closed all day"
    );
}

#[test]
fn closed_on_dates() {
    let s = schedule(&["mon-fri 08:00-17:00"], false, &[date(2026, 8, 14)]);
    let v = at(&s, local(date(2026, 8, 14), 10, 0), &[]);
    assert_eq!(
        v,
        Verdict {
            open: false,
            reason: Reason::ClosedOn {
                date: date(2026, 8, 14)
            }
        }
    );
    assert_eq!(
        v.to_string(),
        "closed: 2026-08-14 is in closed_on: closed all day"
    );
    assert!(open_at(&s, local(date(2026, 8, 13), 10, 0)));
    assert!(open_at(&s, local(date(2026, 8, 17), 10, 0)));
}

#[test]
fn overrides_replace_the_whole_day() {
    let s = schedule(&["mon-fri 08:00-17:00"], true, &[date(2026, 8, 14)]);
    let wed = date(2026, 8, 12);
    let short = [Override {
        date: wed,
        hours: hours("10:00-14:00"),
    }];
    for (hh, mm, open) in [
        (9, 59, false),
        (10, 0, true),
        (13, 59, true),
        (14, 0, false),
    ] {
        let v = at(&s, local(wed, hh, mm), &short);
        assert_eq!(v.open, open, "{hh}:{mm}");
        assert_eq!(
            v.reason,
            Reason::Override {
                date: wed,
                hours: hours("10:00-14:00")
            }
        );
    }
    assert_eq!(
        at(&s, local(wed, 15, 0), &short).to_string(),
        "closed: one-day override for 2026-08-12: open 10:00-14:00 only"
    );
    // An override for another date does not apply.
    assert!(open_at(&s, local(date(2026, 8, 13), 15, 0)));
    assert_eq!(
        at(&s, local(date(2026, 8, 13), 15, 0), &short).reason,
        Reason::Period {
            period: "mon-fri 08:00-17:00".parse().unwrap(),
            from_previous_day: false
        }
    );
    // Closed all day.
    let closed = [Override {
        date: wed,
        hours: None,
    }];
    let v = at(&s, local(wed, 10, 0), &closed);
    assert!(!v.open);
    assert_eq!(
        v.to_string(),
        "closed: one-day override for 2026-08-12: closed all day"
    );
    // It wins over a holiday, a closed_on date and a weekend.
    for d in [date(2026, 12, 24), date(2026, 8, 14), date(2026, 8, 15)] {
        let o = [Override {
            date: d,
            hours: hours("09:00-24:00"),
        }];
        assert!(at(&s, local(d, 23, 59), &o).open, "{d}");
        assert!(!at(&s, local(d, 8, 59), &o).open, "{d}");
    }
}

#[test]
fn periods_past_midnight_belong_to_their_start_day() {
    let s = schedule(&["fri 22:00-02:00", "sun 20:00-01:00"], true, &[]);
    let fri = date(2026, 9, 11);
    let sat = date(2026, 9, 12);
    assert!(!open_at(&s, local(fri, 21, 59)));
    assert!(open_at(&s, local(fri, 22, 0)));
    let v = at(&s, local(sat, 1, 0), &[]);
    assert!(v.open);
    assert_eq!(
        v.reason,
        Reason::Period {
            period: "fri 22:00-02:00".parse().unwrap(),
            from_previous_day: true
        }
    );
    assert!(!open_at(&s, local(sat, 2, 0)));
    assert!(!open_at(&s, local(fri, 1, 0)), "thursday runs no period");
    // Sunday -> Monday wraps around the week.
    let sun = date(2026, 9, 13);
    let mon = date(2026, 9, 14);
    assert!(open_at(&s, local(sun, 23, 0)));
    assert!(open_at(&s, local(mon, 0, 59)));
    assert!(!open_at(&s, local(mon, 1, 0)));
    assert!(!open_at(&s, local(sun, 0, 30)), "saturday runs no period");
}

#[test]
fn a_closed_start_day_closes_the_spill_over() {
    let s = schedule(&["fri 22:00-02:00"], true, &[date(2026, 9, 11)]);
    // Långfredagen 2026-04-03: Friday night does not run, so Saturday 01:00 is closed.
    let v = at(&s, local(date(2026, 4, 4), 1, 0), &[]);
    assert_eq!(
        v,
        Verdict {
            open: false,
            reason: Reason::Holiday {
                date: date(2026, 4, 3),
                name: "långfredagen"
            }
        }
    );
    // closed_on Friday 2026-09-11 likewise.
    assert_eq!(
        at(&s, local(date(2026, 9, 12), 1, 0), &[]).reason,
        Reason::ClosedOn {
            date: date(2026, 9, 11)
        }
    );
    // An override on the Friday replaces its period, spill-over included.
    let fri = date(2026, 9, 18);
    let o = [Override {
        date: fri,
        hours: hours("08:00-12:00"),
    }];
    let v = at(&s, local(date(2026, 9, 19), 1, 0), &o);
    assert!(!v.open);
    assert_eq!(
        v.reason,
        Reason::Override {
            date: fri,
            hours: hours("08:00-12:00")
        }
    );
    // Midsommarafton 2026-06-19 is a Friday: closed; the Saturday (midsommardagen) is closed
    // too, yet a holiday on the day after does not cut a period that began on an open day.
    assert!(!open_at(&s, local(date(2026, 6, 20), 1, 0)));
    let sat_holiday = schedule(&["fri 22:00-02:00"], true, &[date(2026, 9, 26)]);
    assert!(open_at(&sat_holiday, local(date(2026, 9, 26), 1, 0)));
    assert!(!open_at(&sat_holiday, local(date(2026, 9, 26), 22, 0)));
}

#[test]
fn override_hours_parse() {
    assert_eq!(
        parse_override_hours("10:00-14:00").unwrap(),
        (TimeOfDay(600), TimeOfDay(840))
    );
    assert_eq!(
        parse_override_hours("09:30-24:00").unwrap(),
        (TimeOfDay(570), TimeOfDay(1440))
    );
    for bad in [
        "",
        "10-14",
        "14:00-10:00",
        "10:00-10:00",
        "mon 10:00-14:00",
        "10:00 - 14:00",
    ] {
        assert!(parse_override_hours(bad).is_err(), "{bad}");
    }
}

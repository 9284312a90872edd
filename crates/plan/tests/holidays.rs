//! Swedish public holidays 2024-2030 against a table written by hand from Lag (1989:253) om
//! allmänna helgdagar (plus the eves offices close on), with Easter Sunday taken from the
//! published tables: 2024-03-31, 2025-04-20, 2026-04-05, 2027-03-28, 2028-04-16, 2029-04-01,
//! 2030-04-21.

use jiff::civil::{Date, date};
use vaxel_plan::{swedish_holiday, swedish_holidays};

/// (year, [långfredagen, påskdagen, annandag påsk, Kristi himmelsfärds dag, pingstdagen,
/// midsommarafton, midsommardagen, alla helgons dag] as (month, day)).
const MOVABLE: [(i16, [(i8, i8); 8]); 7] = [
    (
        2024,
        [
            (3, 29),
            (3, 31),
            (4, 1),
            (5, 9),
            (5, 19),
            (6, 21),
            (6, 22),
            (11, 2),
        ],
    ),
    (
        2025,
        [
            (4, 18),
            (4, 20),
            (4, 21),
            (5, 29),
            (6, 8),
            (6, 20),
            (6, 21),
            (11, 1),
        ],
    ),
    (
        2026,
        [
            (4, 3),
            (4, 5),
            (4, 6),
            (5, 14),
            (5, 24),
            (6, 19),
            (6, 20),
            (10, 31),
        ],
    ),
    (
        2027,
        [
            (3, 26),
            (3, 28),
            (3, 29),
            (5, 6),
            (5, 16),
            (6, 25),
            (6, 26),
            (11, 6),
        ],
    ),
    (
        2028,
        [
            (4, 14),
            (4, 16),
            (4, 17),
            (5, 25),
            (6, 4),
            (6, 23),
            (6, 24),
            (11, 4),
        ],
    ),
    (
        2029,
        [
            (3, 30),
            (4, 1),
            (4, 2),
            (5, 10),
            (5, 20),
            (6, 22),
            (6, 23),
            (11, 3),
        ],
    ),
    (
        2030,
        [
            (4, 19),
            (4, 21),
            (4, 22),
            (5, 30),
            (6, 9),
            (6, 21),
            (6, 22),
            (11, 2),
        ],
    ),
];

const MOVABLE_NAMES: [&str; 8] = [
    "långfredagen",
    "påskdagen",
    "annandag påsk",
    "Kristi himmelsfärds dag",
    "pingstdagen",
    "midsommarafton",
    "midsommardagen",
    "alla helgons dag",
];

const FIXED: [((i8, i8), &str); 8] = [
    ((1, 1), "nyårsdagen"),
    ((1, 6), "trettondedag jul"),
    ((5, 1), "första maj"),
    ((6, 6), "Sveriges nationaldag"),
    ((12, 24), "julafton"),
    ((12, 25), "juldagen"),
    ((12, 26), "annandag jul"),
    ((12, 31), "nyårsafton"),
];

/// The hand-written table for one year, sorted by date.
fn table(year: i16) -> Vec<(Date, &'static str)> {
    let (_, movable) = MOVABLE.iter().find(|(y, _)| *y == year).unwrap();
    let mut out: Vec<(Date, &str)> = movable
        .iter()
        .zip(MOVABLE_NAMES)
        .map(|((m, d), n)| (date(year, *m, *d), n))
        .chain(FIXED.iter().map(|((m, d), n)| (date(year, *m, *d), *n)))
        .collect();
    out.sort();
    out
}

#[test]
fn every_holiday_2024_2030_matches_the_law() {
    for year in 2024..=2030 {
        let mut got = swedish_holidays(year);
        got.sort();
        assert_eq!(got, table(year), "{year}");
    }
}

#[test]
fn every_day_2024_2030_is_classified_as_in_the_table() {
    let mut day = date(2024, 1, 1);
    let mut closed = 0;
    while day.year() <= 2030 {
        let want = table(day.year())
            .into_iter()
            .find(|(d, _)| *d == day)
            .map(|(_, n)| n);
        assert_eq!(swedish_holiday(day), want, "{day}");
        closed += usize::from(want.is_some());
        day = day.tomorrow().unwrap();
    }
    assert_eq!(closed, 7 * 16);
}

#[test]
fn weekday_rules_hold() {
    use jiff::civil::Weekday::*;
    for year in 2024..=2030 {
        for (d, name) in swedish_holidays(year) {
            let want = match name {
                "långfredagen" | "midsommarafton" => Some(Friday),
                "påskdagen" | "pingstdagen" => Some(Sunday),
                "annandag påsk" => Some(Monday),
                "Kristi himmelsfärds dag" => Some(Thursday),
                "midsommardagen" | "alla helgons dag" => Some(Saturday),
                _ => None,
            };
            if let Some(w) = want {
                assert_eq!(d.weekday(), w, "{name} {d}");
            }
        }
    }
}

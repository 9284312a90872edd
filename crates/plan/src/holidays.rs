//! Swedish public holidays (`holidays = "se"`), computed for any year without tables.
//!
//! The days a schedule with `holidays = "se"` is closed, from Lag (1989:253) om allmänna
//! helgdagar as in force since 2005:
//!
//! | name                  | date                                        |
//! |-----------------------|---------------------------------------------|
//! | nyårsdagen            | 1 January                                   |
//! | trettondedag jul      | 6 January                                   |
//! | långfredagen          | Friday before Easter Sunday                 |
//! | påskdagen             | Easter Sunday (Gregorian computus)          |
//! | annandag påsk         | Monday after Easter Sunday                  |
//! | första maj            | 1 May                                       |
//! | Kristi himmelsfärds dag | sixth Thursday after Easter Sunday (+39 days) |
//! | pingstdagen           | seventh Sunday after Easter Sunday (+49 days) |
//! | Sveriges nationaldag  | 6 June                                      |
//! | midsommarafton        | Friday before midsommardagen (eve)          |
//! | midsommardagen        | the Saturday in 20-26 June                  |
//! | alla helgons dag      | the Saturday in 31 October - 6 November     |
//! | julafton              | 24 December (eve)                           |
//! | juldagen              | 25 December                                 |
//! | annandag jul          | 26 December                                 |
//! | nyårsafton            | 31 December (eve)                           |
//!
//! The three eves are not public holidays, but § 2 of the law treats them like Sundays and
//! Swedish offices close on them. Every Sunday is a public holiday by law too; that is left to
//! the opening hours (`open` simply has no Sunday period). The rules are applied to every year,
//! also before 2005 (when annandag pingst, not 6 June, was the holiday).

use jiff::civil::{Date, Weekday};

/// Easter Sunday of `year` by the anonymous Gregorian algorithm (Meeus/Jones/Butcher); None
/// for years jiff cannot represent.
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Holidays at a fixed offset in days from Easter Sunday, all within the same year.
const EASTER_BASED: [(i16, &str); 5] = [
    (-2, "långfredagen"),
    (0, "påskdagen"),
    (1, "annandag påsk"),
    (39, "Kristi himmelsfärds dag"),
    (49, "pingstdagen"),
];

/// The holiday on a fixed calendar day, if any.
fn fixed(month: i8, day: i8) -> Option<&'static str> {
    Some(match (month, day) {
        (1, 1) => "nyårsdagen",
        (1, 6) => "trettondedag jul",
        (5, 1) => "första maj",
        (6, 6) => "Sveriges nationaldag",
        (12, 24) => "julafton",
        (12, 25) => "juldagen",
        (12, 26) => "annandag jul",
        (12, 31) => "nyårsafton",
        _ => return None,
    })
}

/// The holiday on a weekday-bound day (midsommar, alla helgons dag), if any.
fn floating(date: Date) -> Option<&'static str> {
    let (m, d, wd) = (date.month(), date.day(), date.weekday());
    match (m, wd) {
        (6, Weekday::Friday) if (19..=25).contains(&d) => Some("midsommarafton"),
        (6, Weekday::Saturday) if (20..=26).contains(&d) => Some("midsommardagen"),
        (10, Weekday::Saturday) if d == 31 => Some("alla helgons dag"),
        (11, Weekday::Saturday) if d <= 6 => Some("alla helgons dag"),
        _ => None,
    }
}

fn easter_based(date: Date) -> Option<&'static str> {
    // Easter-based days fall between 20 March and 13 June: skip the computus otherwise.
    if !(3..=6).contains(&date.month()) {
        return None;
    }
    let easter = easter_sunday(date.year())?;
    let offset = date.day_of_year() - easter.day_of_year();
    EASTER_BASED
        .iter()
        .find(|(o, _)| *o == offset)
        .map(|(_, name)| *name)
}

/// The Swedish name of the holiday or office-closing eve on `date`, or None on a working day.
///
/// When two coincide (Kristi himmelsfärds dag on 1 May, as in 2008; pingstdagen on 6 June)
/// the Easter-based name is returned; [`swedish_holidays`] lists both.
pub fn swedish_holiday(date: Date) -> Option<&'static str> {
    easter_based(date)
        .or_else(|| fixed(date.month(), date.day()))
        .or_else(|| floating(date))
}

/// Every holiday and eve of `year` with its Swedish name, sorted by date (empty for a year
/// jiff cannot represent). A day on which two coincide appears twice.
pub fn swedish_holidays(year: i16) -> Vec<(Date, &'static str)> {
    let Some(easter) = easter_sunday(year) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(18);
    for (offset, name) in EASTER_BASED {
        if let Ok(d) = easter.checked_add(jiff::Span::new().days(offset)) {
            out.push((d, name));
        }
    }
    for (m, d) in [
        (1, 1),
        (1, 6),
        (5, 1),
        (6, 6),
        (12, 24),
        (12, 25),
        (12, 26),
        (12, 31),
    ] {
        if let (Ok(date), Some(name)) = (Date::new(year, m, d), fixed(m, d)) {
            out.push((date, name));
        }
    }
    // The first Saturday after 19 June and after 30 October.
    let saturday_after = |m, d| {
        Date::new(year, m, d)
            .and_then(|d| d.nth_weekday(1, Weekday::Saturday))
            .ok()
    };
    if let Some(midsommar) = saturday_after(6, 19) {
        if let Ok(eve) = midsommar.yesterday() {
            out.push((eve, "midsommarafton"));
        }
        out.push((midsommar, "midsommardagen"));
    }
    if let Some(all_saints) = saturday_after(10, 30) {
        out.push((all_saints, "alla helgons dag"));
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_from_known_tables() {
        for (y, m, d) in [
            (1818, 3, 22),
            (1943, 4, 25),
            (2000, 4, 23),
            (2008, 3, 23),
            (2019, 4, 21),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(y), Some(date(y, m, d)), "{y}");
        }
    }

    #[test]
    fn coinciding_days_listed_twice() {
        // 2008: Easter 23 March, so Kristi himmelsfärds dag is 1 May.
        assert_eq!(
            swedish_holiday(date(2008, 5, 1)),
            Some("Kristi himmelsfärds dag")
        );
        let may1: Vec<_> = swedish_holidays(2008)
            .into_iter()
            .filter(|(d, _)| *d == date(2008, 5, 1))
            .map(|(_, n)| n)
            .collect();
        assert_eq!(may1, ["Kristi himmelsfärds dag", "första maj"]);
    }

    #[test]
    fn list_and_lookup_agree_1900_2200() {
        for year in 1900..=2200i16 {
            let list = swedish_holidays(year);
            assert!((16..=17).contains(&list.len()), "{year}: {}", list.len());
            let mut day = date(year, 1, 1);
            while day.year() == year {
                let listed = list.iter().find(|(d, _)| *d == day).map(|(_, n)| *n);
                assert_eq!(swedish_holiday(day), listed, "{day}");
                day = day.tomorrow().unwrap();
            }
        }
    }

    #[test]
    fn out_of_range_years_do_not_panic() {
        for y in [i16::MIN, -9999, 0, 9999, i16::MAX] {
            let _ = swedish_holidays(y);
        }
        assert!(swedish_holidays(i16::MAX).is_empty());
    }
}

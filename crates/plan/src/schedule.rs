//! Reader for `[[schedule]]`: opening hours, holidays, closed dates.

use std::collections::HashMap;

use jiff::civil::Date;
use toml::Spanned;
use toml::de::DeValue;

use crate::SoundLoader;
use crate::build::{Builder, Pass, check_unique};
use crate::model::{Holidays, Schedule};
use crate::period::Period;
use crate::read::{Table, wrong_type};

/// A strict `YYYY-MM-DD` calendar date.
fn parse_date(s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(format!("`{s}` is not a date YYYY-MM-DD"));
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i16>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return Err(format!("`{s}` is not a date YYYY-MM-DD"));
    };
    let m = i8::try_from(m).map_err(|_| format!("`{s}` has no such month"))?;
    let d = i8::try_from(d).map_err(|_| format!("`{s}` has no such day"))?;
    Date::new(y, m, d).map_err(|_| format!("`{s}` is not a day in the calendar"))
}

fn read_dates<L: SoundLoader>(b: &mut Builder<'_, '_, L>, t: &Table<'_, '_>) -> Vec<Date> {
    let Some(a) = t.array(&mut b.sink, "closed_on") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in a.iter() {
        let text = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Datetime(dt) => dt.to_string(),
            _ => {
                wrong_type(&mut b.sink, "closed_on", v, "a list of dates");
                continue;
            }
        };
        match parse_date(&text) {
            Ok(d) => out.push(d),
            Err(e) => b.sink.hint(
                &v.span(),
                format!("bad date in `closed_on`: {e}"),
                "write dates like \"2026-12-24\"",
            ),
        }
    }
    out
}

pub(crate) fn read_schedules<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    list: &[Table<'_, '_>],
) -> Vec<Schedule> {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "open",
        "holidays",
        "closed_on",
        "when_open",
        "when_closed",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "schedule", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let mut open = Vec::new();
        for v in t.str_list(&mut b.sink, "open") {
            match v.get_ref().parse::<Period>() {
                Ok(p) => open.push(p),
                Err(e) => b.sink.hint(
                    &v.span(),
                    format!("bad opening hours: {e}"),
                    "write periods like \"mon-fri 08:00-17:00\" or \"fri 22:00-02:00\"",
                ),
            }
        }
        let holidays = match t.str(&mut b.sink, "holidays") {
            None => None,
            Some(v) if v.get_ref() == "se" => Some(Holidays::Se),
            Some(v) => {
                b.sink.hint(
                    &v.span(),
                    format!("unknown holiday calendar `{}`", v.get_ref()),
                    "the only calendar is \"se\" (Swedish public holidays)",
                );
                None
            }
        };
        let closed_on = read_dates(b, t);
        let open_v = t.req_str(&mut b.sink, "when_open");
        let closed_v = t.req_str(&mut b.sink, "when_closed");
        let when_open = open_v.as_ref().and_then(|v| b.dest("when_open", v));
        let when_closed = closed_v.as_ref().and_then(|v| b.dest("when_closed", v));
        if let (Some(id), Some(o), Some(c)) = (&id, when_open, when_closed) {
            let pass = Pass {
                next: vec![o, c],
                label: format!("schedule:{}", id.get_ref()),
                span: open_v.map_or_else(|| t.span.clone(), |v| v.span()),
            };
            b.passes.insert(b.schedule_node(i), pass);
        }
        let (Some(id), Some(when_open), Some(when_closed)) = (id, when_open, when_closed) else {
            continue;
        };
        out.push(Schedule {
            name: name.unwrap_or_else(|| id.get_ref().clone()),
            id: id.into_inner(),
            open,
            holidays,
            closed_on,
            when_open,
            when_closed,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(parse_date("2026-12-24").is_ok());
        assert!(parse_date("2028-02-29").is_ok());
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("26-12-24").is_err());
        assert!(parse_date("2026-12-24T00:00").is_err());
    }
}

//! One-day schedule overrides (temporär styrning): kept in SQLite with who set them and when,
//! cached in memory for the switch, and expired by themselves after their date.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use jiff::civil::Date;
use rusqlite::{Connection, params};
use serde::Serialize;
use vaxel_plan::{Override, TimeOfDay};

use crate::db::{self, DbError};

/// The hours that apply on the override's date; `None` closes the whole day.
pub type Hours = Option<(TimeOfDay, TimeOfDay)>;

/// One stored override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideRow {
    /// Schedule id.
    pub schedule: String,
    /// The date it applies to (`YYYY-MM-DD`).
    pub date: String,
    /// `HH:MM-HH:MM`, or `closed`.
    pub hours: String,
    /// Who set it.
    pub set_by: String,
    /// When (RFC 3339).
    pub set_at: String,
}

/// Parses `HH:MM-HH:MM` (end may be `24:00`) or `closed`.
pub fn parse_hours(s: &str) -> Result<Hours, String> {
    if s.trim().eq_ignore_ascii_case("closed") {
        return Ok(None);
    }
    vaxel_plan::parse_override_hours(s.trim()).map(Some)
}

/// Writes hours back as `HH:MM-HH:MM` or `closed`.
pub fn format_hours(h: &Hours) -> String {
    match h {
        Some((a, b)) => format!(
            "{:02}:{:02}-{:02}:{:02}",
            a.0 / 60,
            a.0 % 60,
            b.0 / 60,
            b.0 % 60
        ),
        None => "closed".to_string(),
    }
}

/// Overrides on disk and in memory.
pub struct OverrideStore {
    conn: Mutex<Connection>,
    cache: RwLock<HashMap<String, Vec<Override>>>,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |source| DbError::Sqlite {
        path: path.join("vaxel.db"),
        source,
    }
}

impl OverrideStore {
    /// Opens the store, dropping overrides dated before `today`.
    pub fn open(data_dir: &Path, today: Date) -> Result<OverrideStore, DbError> {
        let conn = db::open(data_dir)?;
        conn.execute(
            "DELETE FROM schedule_override WHERE date < ?1",
            params![today.to_string()],
        )
        .map_err(sql(data_dir))?;
        let store = OverrideStore {
            conn: Mutex::new(conn),
            cache: RwLock::new(HashMap::new()),
        };
        store.reload_cache().map_err(sql(data_dir))?;
        Ok(store)
    }

    fn reload_cache(&self) -> rusqlite::Result<()> {
        let rows = self.list_rows()?;
        let mut map: HashMap<String, Vec<Override>> = HashMap::new();
        for r in rows {
            if let (Ok(date), Ok(hours)) = (r.date.parse::<Date>(), parse_hours(&r.hours)) {
                map.entry(r.schedule)
                    .or_default()
                    .push(Override { date, hours });
            }
        }
        if let Ok(mut c) = self.cache.write() {
            *c = map;
        }
        Ok(())
    }

    fn list_rows(&self) -> rusqlite::Result<Vec<OverrideRow>> {
        let Ok(conn) = self.conn.lock() else {
            return Ok(Vec::new());
        };
        let mut stmt = conn.prepare_cached("SELECT schedule_id, date, hours, set_by, set_at FROM schedule_override ORDER BY date, schedule_id")?;
        let rows = stmt.query_map([], |r| {
            Ok(OverrideRow {
                schedule: r.get(0)?,
                date: r.get(1)?,
                hours: r
                    .get::<_, Option<String>>(2)?
                    .unwrap_or_else(|| "closed".into()),
                set_by: r.get(3)?,
                set_at: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// Every override from `today` on.
    pub fn list(&self, today: Date) -> Vec<OverrideRow> {
        let today = today.to_string();
        self.list_rows()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.date >= today)
            .collect()
    }

    /// Sets (or replaces) the override of `schedule` on `date`.
    pub fn set(
        &self,
        schedule: &str,
        date: Date,
        hours: Hours,
        set_by: &str,
        set_at: &str,
    ) -> rusqlite::Result<()> {
        {
            let Ok(conn) = self.conn.lock() else {
                return Ok(());
            };
            let h = hours.map(|h| format_hours(&Some(h)));
            conn.execute(
                "INSERT INTO schedule_override (schedule_id, date, hours, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (schedule_id, date) DO UPDATE SET hours = ?3, set_by = ?4, set_at = ?5",
                params![schedule, date.to_string(), h, set_by, set_at],
            )?;
        }
        self.reload_cache()
    }

    /// Drops the override of `schedule` on `date`; false if there was none.
    pub fn remove(&self, schedule: &str, date: Date) -> rusqlite::Result<bool> {
        let n = {
            let Ok(conn) = self.conn.lock() else {
                return Ok(false);
            };
            conn.execute(
                "DELETE FROM schedule_override WHERE schedule_id = ?1 AND date = ?2",
                params![schedule, date.to_string()],
            )?
        };
        self.reload_cache()?;
        Ok(n > 0)
    }

    /// The overrides of one schedule, for the walker.
    pub fn for_schedule(&self, schedule: &str) -> Vec<Override> {
        self.cache
            .read()
            .ok()
            .and_then(|c| c.get(schedule).cloned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_and_print() {
        assert_eq!(
            format_hours(&parse_hours("10:00-14:00").expect("ok")),
            "10:00-14:00"
        );
        assert_eq!(parse_hours("closed").expect("ok"), None);
        assert_eq!(
            format_hours(&parse_hours("08:30-24:00").expect("ok")),
            "08:30-24:00"
        );
        assert!(parse_hours("14:00-10:00").is_err());
        assert!(parse_hours("25:00-26:00").is_err());
        assert!(parse_hours("10-14").is_err());
    }

    #[test]
    fn overrides_survive_reopen_and_expire_after_their_date() {
        let dir = std::env::temp_dir().join(format!("vaxel-ovr-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = |s: &str| s.parse::<Date>().expect("date");
        let store = OverrideStore::open(&dir, d("2026-12-01")).expect("open");
        store
            .set(
                "office-hours",
                d("2026-12-23"),
                parse_hours("10:00-14:00").expect("h"),
                "anna",
                "2026-12-01T09:00:00Z",
            )
            .expect("set");
        store
            .set(
                "office-hours",
                d("2026-12-24"),
                None,
                "anna",
                "2026-12-01T09:00:00Z",
            )
            .expect("set");
        assert_eq!(store.for_schedule("office-hours").len(), 2);
        drop(store);
        let store = OverrideStore::open(&dir, d("2026-12-24")).expect("reopen");
        let rows = store.list(d("2026-12-24"));
        assert_eq!(rows.len(), 1, "the 23rd has expired");
        assert_eq!(rows[0].hours, "closed");
        assert_eq!(rows[0].set_by, "anna");
        assert!(store.remove("office-hours", d("2026-12-24")).expect("rm"));
        assert!(!store.remove("office-hours", d("2026-12-24")).expect("rm"));
        assert!(store.for_schedule("office-hours").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

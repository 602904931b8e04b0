//! The five crontab fields, parsed into sets of values with crontab's numbering
//! (day-of-week 0-6 from Sunday, 7 folded into 0), and the day-matching rule of Vixie cron.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::cron_error::CronError;
use super::cron_syntax::{FIELDS, parse_field};

/// The parsed fields: bit `n` of a set means value `n` is selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CronFields {
    pub minutes: u64,
    pub hours: u64,
    pub days_of_month: u64,
    pub months: u64,
    /// Bits 0-6, Sunday = 0.
    pub days_of_week: u64,
    /// The day-of-month field starts with `*` (Vixie cron's test for "unrestricted").
    pub dom_star: bool,
    pub dow_star: bool,
    /// The hour field has no `*` and no step: such jobs keep their day across DST changes.
    pub fixed_hour: bool,
}

impl CronFields {
    /// Parses five fields; `tokens` are the fields with their byte offsets in the expression.
    pub fn parse(tokens: &[(usize, &str)]) -> Result<CronFields, CronError> {
        let mut sets = [0u64; 5];
        for (i, (offset, text)) in tokens.iter().enumerate() {
            sets[i] = parse_field(FIELDS[i], text, *offset)?;
        }
        let dow = sets[4];
        let fields = CronFields {
            minutes: sets[0],
            hours: sets[1],
            days_of_month: sets[2],
            months: sets[3],
            days_of_week: (dow | (dow >> 7)) & 0x7f,
            dom_star: tokens[2].1.starts_with('*'),
            dow_star: tokens[4].1.starts_with('*'),
            fixed_hour: !tokens[1].1.contains(['*', '/']),
        };
        fields.check_possible(tokens)?;
        Ok(fields)
    }

    /// Rejects day-of-month and month combinations that never occur (`0 0 30 2 *`), which
    /// would otherwise make a schedule that never fires.
    fn check_possible(&self, tokens: &[(usize, &str)]) -> Result<(), CronError> {
        if !self.dow_star && !self.dom_star {
            return Ok(());
        }
        let longest = (1..=12u32)
            .filter(|m| self.months & (1 << m) != 0)
            .map(|m| [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1])
            .max()
            .unwrap_or(31);
        let first_day = self.days_of_month.trailing_zeros();
        if first_day > longest {
            let (offset, text) = tokens[2];
            return Err(CronError::new(
                format!(
                    "day-of-month `{text}` never occurs in the months `{}`",
                    tokens[3].1
                ),
                offset,
                text.len(),
            )
            .with_hint(format!("those months have at most {longest} days")));
        }
        Ok(())
    }

    /// The day rule of Vixie cron and cronie: when both day fields are restricted, a day
    /// matches if either does; otherwise both must.
    pub fn day_matches(&self, dom: u32, dow: u32) -> bool {
        let by_dom = self.days_of_month & (1 << dom) != 0;
        let by_dow = self.days_of_week & (1 << dow) != 0;
        if self.dom_star || self.dow_star {
            by_dom && by_dow
        } else {
            by_dom || by_dow
        }
    }

    /// Whether a wall-clock time (to the minute, seconds zero) is one the fields select.
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        t.second() == 0
            && t.nanosecond() == 0
            && self.minutes & (1 << t.minute()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.months & (1 << t.month()) != 0
            && self.day_matches(t.day(), t.weekday().num_days_from_sunday())
    }
}

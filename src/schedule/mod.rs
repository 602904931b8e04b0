//! Time: 5-field cron expressions with a tested daylight-saving rule, durations, dates and
//! datetimes in a time zone, and spreadsheet (CSV) calendars.
//!
//! | module | owns |
//! |---|---|
//! | `cron`, `cron_error` | [`CronSchedule`]: parsing an expression, listing fire times |
//! | `cron_syntax`, `cron_fields` | one field's syntax; the five fields and Vixie cron's day rule |
//! | `cron_candidates` | wall-clock candidates from the `cron` crate |
//! | `cron_fires` | the daylight-saving rule applied to candidates |
//! | `local` | [`resolve_local`]: a local time to an instant; where offsets change |
//! | `time`, `time_error`, `duration`, `window` | dates, times, zones, durations, windows |
//! | `calendar`, `calendar_reader`, `calendar_cells` | CSV calendars with cell positions |

pub mod calendar;
mod calendar_cells;
mod calendar_reader;
pub mod cron;
mod cron_candidates;
mod cron_error;
mod cron_fields;
mod cron_fires;
mod cron_syntax;
mod duration;
mod local;
pub mod time;
mod time_error;
mod window;

pub use self::cron::{CronError, CronSchedule};
pub use calendar::{CalendarRow, Located, calendar_source, read_calendar};
pub use local::resolve_local;
pub use time::{
    TimeError, TimeWindow, format_duration, parse_date, parse_date_from, parse_duration,
    parse_local_datetime, parse_local_datetime_from, parse_time_of_day, parse_timezone,
    parse_window, parse_window_from,
};

//! Time: 5-field cron expressions with a tested daylight-saving rule, durations, dates and
//! datetimes in a time zone, and spreadsheet (CSV) calendars.

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
    TimeError, TimeWindow, format_duration, parse_date, parse_duration, parse_local_datetime,
    parse_time_of_day, parse_timezone, parse_window,
};

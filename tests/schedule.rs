//! Cron fire times, daylight saving, durations and calendars.

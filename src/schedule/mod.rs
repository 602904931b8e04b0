//! Time: 5-field cron expressions with a tested daylight-saving rule, durations, dates and datetimes in a time zone, and spreadsheet (CSV) calendars.

//! Cron fire times, daylight saving, durations and calendars.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use crier::diagnostic::SourceFile;
use crier::schedule::{
    CronError, CronSchedule, TimeWindow, format_duration, parse_date, parse_date_from,
    parse_duration, parse_local_datetime, parse_local_datetime_from, parse_time_of_day,
    parse_timezone, parse_window, parse_window_from, read_calendar, resolve_local,
};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

/// The first `n` fire times after `after`, as RFC 3339 UTC strings.
fn fires(expr: &str, zone: &str, after: &str, n: usize) -> Vec<String> {
    CronSchedule::parse(expr)
        .unwrap()
        .fire_times_after(tz(zone), utc(after))
        .take(n)
        .map(|t| t.with_timezone(&Utc).format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

// ---- daylight saving -------------------------------------------------------------------

#[test]
fn dst_table() {
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, &[&str])] = &[
        // Europe/Berlin, spring forward 2025-03-30 02:00 CET -> 03:00 CEST.
        ("0 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", &["2025-03-30T01:00Z", "2025-03-31T00:00Z"]),
        ("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", &["2025-03-30T01:00Z", "2025-03-31T00:30Z"]),
        ("0,30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", &["2025-03-30T01:00Z", "2025-03-31T00:00Z"]),
        ("0 2,3 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", &["2025-03-30T01:00Z", "2025-03-31T00:00Z"]),
        ("*/30 * * * *", "Europe/Berlin", "2025-03-30T00:29:00Z", &["2025-03-30T00:30Z", "2025-03-30T01:00Z", "2025-03-30T01:30Z"]),
        ("30 * * * *", "Europe/Berlin", "2025-03-30T00:00:00Z", &["2025-03-30T00:30Z", "2025-03-30T01:30Z"]),
        // Europe/Berlin, fall back 2025-10-26 03:00 CEST -> 02:00 CET.
        ("0 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", &["2025-10-26T00:00Z", "2025-10-27T01:00Z"]),
        ("*/30 * * * *", "Europe/Berlin", "2025-10-25T23:59:00Z", &["2025-10-26T00:00Z", "2025-10-26T00:30Z", "2025-10-26T01:00Z", "2025-10-26T01:30Z", "2025-10-26T02:00Z"]),
        // Starting inside the second pass of the repeated hour: the fixed job is done for the day.
        ("30 2 * * *", "Europe/Berlin", "2025-10-26T01:10:00Z", &["2025-10-27T01:30Z"]),
        ("30 2 * * *", "Europe/Berlin", "2025-10-26T00:10:00Z", &["2025-10-26T00:30Z", "2025-10-27T01:30Z"]),
        // America/New_York, 2025-03-09 02:00 EST -> 03:00 EDT and 2025-11-02 02:00 EDT -> 01:00 EST.
        ("30 2 * * *", "America/New_York", "2025-03-08T12:00:00Z", &["2025-03-09T07:00Z", "2025-03-10T06:30Z"]),
        ("30 1 * * *", "America/New_York", "2025-11-01T12:00:00Z", &["2025-11-02T05:30Z", "2025-11-03T06:30Z"]),
        ("0 * * * *", "America/New_York", "2025-11-02T04:30:00Z", &["2025-11-02T05:00Z", "2025-11-02T06:00Z", "2025-11-02T07:00Z"]),
        // America/Santiago changes at midnight: 2025-09-07 00:00 does not exist ...
        ("0 0 * * *", "America/Santiago", "2025-09-05T12:00:00Z", &["2025-09-06T04:00Z", "2025-09-07T04:00Z", "2025-09-08T03:00Z"]),
        ("0 * * * *", "America/Santiago", "2025-09-07T03:30:00Z", &["2025-09-07T04:00Z", "2025-09-07T05:00Z"]),
        // ... and 2025-04-05 23:00-23:59 happens twice.
        ("30 23 * * *", "America/Santiago", "2025-04-05T12:00:00Z", &["2025-04-06T02:30Z", "2025-04-07T03:30Z"]),
        ("*/30 * * * *", "America/Santiago", "2025-04-06T02:00:00Z", &["2025-04-06T02:30Z", "2025-04-06T03:00Z", "2025-04-06T03:30Z", "2025-04-06T04:00Z"]),
        // Australia/Lord_Howe moves by 30 minutes: 2025-10-05 02:00 -> 02:30 ...
        ("15 2 * * *", "Australia/Lord_Howe", "2025-10-03T12:00:00Z", &["2025-10-03T15:45Z", "2025-10-04T15:30Z", "2025-10-05T15:15Z"]),
        ("*/15 * * * *", "Australia/Lord_Howe", "2025-10-04T15:20:00Z", &["2025-10-04T15:30Z", "2025-10-04T15:45Z"]),
        // ... and 2025-04-06 01:30-01:59 happens twice.
        ("45 1 * * *", "Australia/Lord_Howe", "2025-04-05T00:00:00Z", &["2025-04-05T14:45Z", "2025-04-06T15:15Z"]),
        ("*/15 * * * *", "Australia/Lord_Howe", "2025-04-05T14:20:00Z", &["2025-04-05T14:30Z", "2025-04-05T14:45Z", "2025-04-05T15:00Z", "2025-04-05T15:15Z", "2025-04-05T15:30Z"]),
        // A weekly job across the 23-hour day keeps its wall-clock time.
        ("0 9 * * SUN", "Europe/Berlin", "2025-03-20T00:00:00Z", &["2025-03-23T08:00Z", "2025-03-30T07:00Z", "2025-04-06T07:00Z"]),
        ("0 3 * * 0", "Europe/Berlin", "2025-03-20T00:00:00Z", &["2025-03-23T02:00Z", "2025-03-30T01:00Z", "2025-04-06T01:00Z"]),
        ("0 2 * * 7", "Europe/Berlin", "2025-03-20T00:00:00Z", &["2025-03-23T01:00Z", "2025-03-30T01:00Z", "2025-04-06T00:00Z"]),
    ];
    for (expr, zone, after, expected) in table {
        assert_eq!(
            fires(expr, zone, after, expected.len()),
            *expected,
            "`{expr}` in {zone} after {after}"
        );
    }
}

#[test]
fn fire_times_carry_the_local_offset() {
    let fire = CronSchedule::parse("0 2 * * *")
        .unwrap()
        .fire_times_after(tz("Europe/Berlin"), utc("2025-03-29T12:00:00Z"))
        .next()
        .unwrap();
    assert_eq!(fire.to_rfc3339(), "2025-03-30T03:00:00+02:00");
}

#[test]
fn fire_times_are_strictly_after_the_start() {
    assert_eq!(
        fires("0 9 * * *", "UTC", "2025-01-01T09:00:00Z", 1),
        ["2025-01-02T09:00Z"]
    );
    assert_eq!(
        fires("0 9 * * *", "UTC", "2025-01-01T08:59:59.5Z", 1),
        ["2025-01-01T09:00Z"]
    );
}

// ---- crontab semantics -----------------------------------------------------------------

#[test]
fn day_fields_are_ored_when_both_restricted() {
    // The 13th of the month or any Friday.
    let got = fires("0 12 13 * FRI", "UTC", "2025-06-01T00:00:00Z", 4);
    assert_eq!(
        got,
        [
            "2025-06-06T12:00Z",
            "2025-06-13T12:00Z",
            "2025-06-20T12:00Z",
            "2025-06-27T12:00Z"
        ]
    );
    let got = fires("0 12 1 * MON", "UTC", "2025-06-01T00:00:00Z", 3);
    assert_eq!(
        got,
        [
            "2025-06-01T12:00Z",
            "2025-06-02T12:00Z",
            "2025-06-09T12:00Z"
        ]
    );
    // A day field starting with `*` is unrestricted: then both must match.
    let got = fires("0 12 */2 * MON", "UTC", "2025-06-01T00:00:00Z", 2);
    assert_eq!(got, ["2025-06-09T12:00Z", "2025-06-23T12:00Z"]);
}

#[test]
fn steps_ranges_names_and_macros() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "5/20 * * * *",
            "2025-01-01T00:00:00Z",
            &[
                "2025-01-01T00:05Z",
                "2025-01-01T00:25Z",
                "2025-01-01T00:45Z",
                "2025-01-01T01:05Z",
            ],
        ),
        (
            "0 9-17/4 * * *",
            "2025-01-01T00:00:00Z",
            &[
                "2025-01-01T09:00Z",
                "2025-01-01T13:00Z",
                "2025-01-01T17:00Z",
                "2025-01-02T09:00Z",
            ],
        ),
        (
            "0 0 1 jan,Jul *",
            "2025-01-01T00:00:00Z",
            &["2025-07-01T00:00Z", "2026-01-01T00:00Z"],
        ),
        (
            "0 0 * * sat-sun",
            "2025-01-01T00:00:00Z",
            &[
                "2025-01-04T00:00Z",
                "2025-01-05T00:00Z",
                "2025-01-11T00:00Z",
            ],
        ),
        (
            "0 0 * * 5-7",
            "2025-01-01T00:00:00Z",
            &[
                "2025-01-03T00:00Z",
                "2025-01-04T00:00Z",
                "2025-01-05T00:00Z",
                "2025-01-10T00:00Z",
            ],
        ),
        ("@yearly", "2025-01-01T00:00:00Z", &["2026-01-01T00:00Z"]),
        ("@annually", "2025-01-01T00:00:00Z", &["2026-01-01T00:00Z"]),
        ("@monthly", "2025-01-01T00:00:00Z", &["2025-02-01T00:00Z"]),
        ("@weekly", "2025-01-01T00:00:00Z", &["2025-01-05T00:00Z"]),
        ("@daily", "2025-01-01T00:00:00Z", &["2025-01-02T00:00Z"]),
        ("@midnight", "2025-01-01T00:00:00Z", &["2025-01-02T00:00Z"]),
        ("@HOURLY", "2025-01-01T00:00:00Z", &["2025-01-01T01:00Z"]),
        ("0 0 29 2 *", "2025-01-01T00:00:00Z", &["2028-02-29T00:00Z"]),
    ];
    for (expr, after, expected) in cases {
        assert_eq!(
            fires(expr, "UTC", after, expected.len()),
            *expected,
            "`{expr}`"
        );
    }
}

#[test]
fn keeps_its_source() {
    assert_eq!(CronSchedule::parse("@daily").unwrap().source(), "@daily");
}

// ---- parse errors ----------------------------------------------------------------------

fn cron_error(expr: &str) -> CronError {
    CronSchedule::parse(expr).unwrap_err()
}

#[test]
fn parse_errors_are_precise() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, Option<&str>, usize, usize)] = &[
        ("61 * * * *", "minute `61` is out of range 0-59", None, 0, 2),
        ("0 24 * * *", "hour `24` is out of range 0-23", None, 2, 2),
        ("0 0 0 * *", "day-of-month `0` is out of range 1-31", None, 4, 1),
        ("0 0 * 13 *", "month `13` is out of range 1-12", None, 6, 2),
        ("0 0 * * 8", "day-of-week `8` is out of range 0-7", None, 8, 1),
        ("0 0 * * 1-99", "day-of-week `99` is out of range 0-7", None, 10, 2),
        ("0 0 1 2 3 4", "expected 5 fields (minute hour day-of-month month day-of-week), found 6",
            Some("crier uses the standard 5-field crontab; remove the seconds field"), 0, 1),
        ("0 0 *", "expected 5 fields (minute hour day-of-month month day-of-week), found 3",
            Some("for example `0 9 * * MON` is 09:00 every Monday"), 0, 5),
        ("0 9 * * MOM", "unknown day `MOM`, did you mean `MON`?", Some("days are 0-7 or `SUN`..`SAT`"), 8, 3),
        ("0 9 * JUNE *", "unknown month `JUNE`, did you mean `JUN`?", Some("months are 1-12 or `JAN`..`DEC`"), 6, 4),
        ("0 9 * * XYZZY", "unknown day `XYZZY`", Some("days are 0-7 or `SUN`..`SAT`"), 8, 5),
        ("@reboot", "`@reboot` is not supported",
            Some("crier schedules by the clock; use a trigger to act when crier starts"), 0, 7),
        ("@dayly", "unknown macro `@dayly`", Some("did you mean `@daily`?"), 0, 6),
        ("@daily 5", "unexpected `5` after `@daily`", Some("`@daily` stands for a whole expression (`0 0 * * *`)"), 7, 1),
        ("", "cron expression is empty", Some("write 5 fields, e.g. `0 9 * * MON` for 09:00 every Monday"), 0, 0),
        ("0 17-9 * * *", "hour range `17-9` goes backwards",
            Some("ranges go from low to high; split a wrap-around into two: `17-23,0-9`"), 2, 4),
        ("*/0 * * * *", "step `0` in the minute field must be at least 1", None, 2, 1),
        ("*/x * * * *", "step `x` in the minute field is not a number", Some("steps are written `*/15` or `0-30/5`"), 2, 1),
        ("1,,2 * * * *", "minute field `1,,2` has an empty list item", Some("list items are separated by single commas: `1,15,30`"), 0, 4),
        ("0 0 L * *", "day-of-month `L` is not a number", Some("day-of-month values are 1-31"), 4, 1),
        ("0 0 ? * *", "day-of-month `?` is not a number", Some("day-of-month values are 1-31"), 4, 1),
        ("0 0 * * 1-", "a day-of-week value is missing", Some("day-of-week values are 0-7 or `SUN`..`SAT`"), 10, 1),
        ("0 0 * 1.5 *", "month `1.5` is not a number", Some("month values are 1-12 or `JAN`..`DEC`"), 6, 3),
        ("0 0 30 2 *", "day-of-month `30` never occurs in the months `2`", Some("those months have at most 29 days"), 4, 2),
    ];
    for (expr, message, hint, offset, len) in cases {
        let e = cron_error(expr);
        assert_eq!(e.message, *message, "`{expr}`");
        assert_eq!(e.hint.as_deref(), *hint, "`{expr}`");
        assert_eq!((e.offset, e.len), (*offset, *len), "`{expr}`");
    }
}

#[test]
fn parse_error_offsets_count_from_the_expression_start() {
    let e = cron_error("  0 0 * JAN-XX *");
    assert_eq!(e.message, "unknown month `XX`");
    assert_eq!((e.offset, e.len), (12, 2));
    let e = cron_error("0 0 * * SAT-MON");
    assert_eq!(e.to_string(), "day-of-week range `SAT-MON` goes backwards");
    assert_eq!(
        e.hint.as_deref(),
        Some("ranges go from low to high; split a wrap-around into two: `6-7,0-1`")
    );
}

// ---- properties ------------------------------------------------------------------------

const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "UTC",
];

/// One random field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, or a list of two of those.
fn field(min: u32, max: u32) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let item = (0u32..6, min..=max, min..=max, 1u32..8).prop_map(move |(kind, a, b, n)| {
        let (lo, hi) = (a.min(b), a.max(b));
        match kind {
            0 => "*".to_owned(),
            1 => format!("*/{n}"),
            2 => format!("{a}"),
            3 => format!("{lo}-{hi}"),
            4 => format!("{lo}-{hi}/{n}"),
            _ => format!("{lo}/{n}"),
        }
    });
    prop::collection::vec(item, 1..=2).prop_map(|items| items.join(","))
}

fn expression() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    (
        field(0, 59),
        field(0, 23),
        field(1, 31),
        field(1, 12),
        field(0, 7),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
}

fn offset_at(zone: Tz, t: DateTime<Utc>) -> i32 {
    use chrono::Offset;
    zone.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// A deterministic runner: fixed seed, no failure files.
fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn fire_times_increase_and_match_their_expression() {
    use proptest::prelude::*;
    // Start instants from 2024 to 2027, so every zone's changes are crossed often.
    let start = 1_704_067_200i64..1_798_761_600;
    let strategy = (expression(), 0..ZONES.len(), start);
    runner(300)
        .run(&strategy, |(expr, zone, start)| {
            let schedule = CronSchedule::parse(&expr);
            prop_assume!(schedule.is_ok());
            let schedule = schedule.unwrap();
            let zone = tz(ZONES[zone]);
            let after = DateTime::from_timestamp(start, 0).unwrap();
            let mut previous = after;
            for fire in schedule.fire_times_after(zone, after).take(60) {
                let fire = fire.with_timezone(&Utc);
                prop_assert!(fire > previous, "`{expr}`: {fire} after {previous}");
                let local = fire.with_timezone(&zone).naive_local();
                if !schedule.matches(local) {
                    // The documented gap case: a fixed-hour job fires as the clocks spring forward.
                    let sprang =
                        offset_at(zone, fire - TimeDelta::seconds(1)) < offset_at(zone, fire);
                    prop_assert!(
                        schedule.has_fixed_hour() && sprang,
                        "`{expr}` in {zone} fired at {local} ({fire})"
                    );
                }
                previous = fire;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn wildcard_hour_jobs_fire_at_every_matching_instant() {
    // Every quarter hour of a year in Lord Howe: each instant whose wall-clock time matches.
    let zone = tz("Australia/Lord_Howe");
    let schedule = CronSchedule::parse("*/15 * * * *").unwrap();
    let after = utc("2025-01-01T00:00:00Z");
    let until = utc("2026-01-01T00:00:00Z");
    let got: Vec<_> = schedule
        .fire_times_after(zone, after)
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t < until)
        .collect();
    let expected: Vec<_> = (1..)
        .map(|i| after + TimeDelta::minutes(i))
        .take_while(|t| *t < until)
        .filter(|t| schedule.matches(t.with_timezone(&zone).naive_local()))
        .collect();
    assert_eq!(got, expected);
}

// ---- cross-check against croner ---------------------------------------------------------

/// Expressions both crates read alike. (croner ORs the day fields unless one is exactly
/// `*`, where crontab tests for a leading `*`; so no `*/n` day field beside a restricted one.)
const CROSS_CHECKED: [&str; 22] = [
    "0 9 * * MON-FRI",
    "*/15 * * * *",
    "5 4 * * SUN",
    "0 0 1,15 * 3",
    "30 6 13 * FRI",
    "0 */6 * * *",
    "15 14 1 * *",
    "0 22 * * 1-5",
    "23 0-20/2 * * *",
    "0 0 28 2 *",
    "0 0 * * 7",
    "0 8-18/3 * JAN,JUN *",
    "59 23 31 DEC *",
    "0 0 */10 * *",
    "0 0 1-7 * MON",
    "@weekly",
    "@monthly",
    "@yearly",
    "0 9 * * 1,3,5",
    "1-5/2 3 * * *",
    "0 12 */2 * *",
    "45 23 * 2 0,6",
];

fn croner_fires(
    expr: &str,
    zone: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let cron = croner::Cron::new(expr).parse().unwrap();
    let mut out = Vec::new();
    let mut t = after.with_timezone(&zone);
    while let Ok(next) = cron.find_next_occurrence(&t, false) {
        if next.with_timezone(&Utc) >= until {
            break;
        }
        out.push(next.with_timezone(&Utc));
        t = next;
    }
    out
}

fn crier_fires(
    expr: &str,
    zone: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    CronSchedule::parse(expr)
        .unwrap()
        .fire_times_after(zone, after)
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t < until)
        .collect()
}

#[test]
fn agrees_with_croner_over_a_year_in_utc() {
    let (after, until) = (utc("2024-12-31T12:00:00Z"), utc("2026-01-01T00:00:00Z"));
    for expr in CROSS_CHECKED {
        let ours = crier_fires(expr, Tz::UTC, after, until);
        assert!(!ours.is_empty(), "`{expr}`");
        assert_eq!(ours, croner_fires(expr, Tz::UTC, after, until), "`{expr}`");
    }
}

#[test]
fn agrees_with_croner_in_zones_between_changes() {
    // Stretches without a daylight-saving change, where croner and crier must agree.
    let stretches = [
        (
            "Europe/Berlin",
            "2025-04-01T00:00:00Z",
            "2025-10-25T00:00:00Z",
        ),
        (
            "America/New_York",
            "2025-03-10T12:00:00Z",
            "2025-11-01T00:00:00Z",
        ),
        (
            "America/Santiago",
            "2025-04-07T12:00:00Z",
            "2025-09-06T00:00:00Z",
        ),
        (
            "Australia/Lord_Howe",
            "2025-04-07T12:00:00Z",
            "2025-10-04T00:00:00Z",
        ),
        (
            "Asia/Kolkata",
            "2025-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        ),
    ];
    for (zone, after, until) in stretches {
        let (zone, after, until) = (tz(zone), utc(after), utc(until));
        for expr in CROSS_CHECKED {
            let ours = crier_fires(expr, zone, after, until);
            assert_eq!(
                ours,
                croner_fires(expr, zone, after, until),
                "`{expr}` in {zone}"
            );
        }
    }
}

#[test]
fn a_year_of_a_thousand_daily_jobs_fires_each_once_a_day() {
    // 1,000 jobs over a year across both daylight-saving changes: 365,000 fires. How fast
    // is measured by `cargo bench --bench playbooks`, never asserted here.
    let zone = tz("Europe/Berlin");
    let (after, until) = (utc("2024-12-31T23:59:30Z"), utc("2026-01-01T00:00:00Z"));
    let mut count = 0;
    for i in 0..1000 {
        let expr = format!("{} {} * * *", i % 60, (i / 60) % 24);
        let schedule = CronSchedule::parse(&expr).unwrap();
        count += schedule
            .fire_times_after(zone, after)
            .take_while(|t| t.with_timezone(&Utc) < until)
            .count();
    }
    assert_eq!(count, 365_000);
}

// ---- durations, dates, times, zones, windows ---------------------------------------------

#[test]
fn durations_parse_and_format() {
    let cases = [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("7d", 604_800),
        ("1w", 604_800),
        ("1h30m", 5400),
        ("1w2d3h4m5s", 788_645),
        ("0s", 0),
    ];
    for (text, seconds) in cases {
        let d = parse_duration(text).unwrap();
        assert_eq!(d, TimeDelta::seconds(seconds), "`{text}`");
        assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
    }
    assert_eq!(format_duration(TimeDelta::seconds(5400)), "1h30m");
    assert_eq!(format_duration(TimeDelta::seconds(90)), "1m30s");
    assert_eq!(format_duration(TimeDelta::days(7)), "1w");
    assert_eq!(format_duration(TimeDelta::zero()), "0s");
}

#[test]
fn bad_durations_say_why() {
    let hint = Some("durations are a number and a unit: `90s`, `15m`, `2h`, `7d`, `1w`");
    #[rustfmt::skip]
    let cases: &[(&str, &str, Option<&str>, usize, usize)] = &[
        ("", "duration is empty", hint, 0, 1),
        ("0", "duration `0` has no unit after `0`", hint, 0, 1),
        ("5", "duration `5` has no unit after `5`", hint, 0, 1),
        ("5 m", "duration `5 m` contains a space", hint, 1, 1),
        ("-3d", "duration `-3d` is negative", hint, 0, 1),
        ("1y", "unknown duration unit `y` in `1y`",
            Some("years and months vary in length; use days (`365d`) or a date"), 1, 1),
        ("1h30", "duration `1h30` has no unit after `30`", hint, 2, 2),
        ("30m1h", "units in duration `30m1h` must go from largest to smallest, each once", hint, 3, 2),
        ("h", "expected a number in duration `h`", hint, 0, 1),
        ("99999999999999w", "duration `99999999999999w` is too long", hint, 0, 15),
    ];
    for (text, message, hint, offset, len) in cases {
        let e = parse_duration(text).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.hint.as_deref(), e.offset, e.len),
            (*message, *hint, *offset, *len),
            "`{text}`"
        );
    }
}

#[test]
fn dates_and_times_of_day() {
    assert_eq!(
        parse_date("2026-12-01").unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    );
    assert_eq!(parse_time_of_day("08:30").unwrap().to_string(), "08:30:00");
    assert_eq!(
        parse_time_of_day("23:00:15").unwrap().to_string(),
        "23:00:15"
    );
    let e = parse_date("2026-02-30").unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        ("`2026-02-30` is not a day of the calendar", 8, 2)
    );
    assert_eq!(e.hint.as_deref(), Some("that month has 28 days"));
    let e = parse_date("2026-13-01").unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("month `13` is out of range 01-12", 5)
    );
    let e = parse_date("1/12/2026").unwrap_err();
    assert_eq!(e.message, "expected a date, found `1/12/2026`");
    assert_eq!(
        e.hint.as_deref(),
        Some("dates are written `YYYY-MM-DD`, like `2026-12-01`")
    );
    let e = parse_time_of_day("24:00").unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        ("hour `24` is out of range 00-23", 0, 2)
    );
    let e = parse_time_of_day("8:30").unwrap_err();
    assert_eq!(e.message, "expected a time of day, found `8:30`");
    let e = parse_time_of_day("08:61").unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("minute `61` is out of range 00-59", 3)
    );
}

#[test]
fn local_datetimes_follow_the_dst_rule() {
    let berlin = tz("Europe/Berlin");
    let at = |s: &str| parse_local_datetime(s, berlin).unwrap().to_rfc3339();
    assert_eq!(at("2026-12-01 08:30"), "2026-12-01T08:30:00+01:00");
    assert_eq!(at("2026-12-01T08:30:15"), "2026-12-01T08:30:15+01:00");
    assert_eq!(at("2026-07-01 08:30:00"), "2026-07-01T08:30:00+02:00");
    // In the spring-forward gap: the first instant after it.
    assert_eq!(at("2025-03-30 02:30"), "2025-03-30T03:00:00+02:00");
    // In the repeated hour: the first occurrence.
    assert_eq!(at("2025-10-26 02:30"), "2025-10-26T02:30:00+02:00");
    // RFC 3339 with an offset is an instant, shown in the zone.
    assert_eq!(at("2026-12-01T08:30:00Z"), "2026-12-01T09:30:00+01:00");
    assert_eq!(at("2026-12-01T08:30:00-05:00"), "2026-12-01T14:30:00+01:00");
    let e = parse_local_datetime("2026-12-01 25:00", berlin).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        ("hour `25` is out of range 00-23", 11, 2)
    );
    let e = parse_local_datetime("tomorrow", berlin).unwrap_err();
    assert_eq!(e.message, "expected a date and time, found `tomorrow`");
    let e = parse_local_datetime("2026-12-01T08:30+25:00", berlin).unwrap_err();
    assert_eq!(
        e.message,
        "`08:30+25:00` is not a valid time with a UTC offset"
    );
}

#[test]
fn resolve_local_in_half_hour_and_midnight_gaps() {
    let naive = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    let lord_howe = resolve_local(naive("2025-10-05 02:10"), tz("Australia/Lord_Howe"));
    assert_eq!(lord_howe.to_rfc3339(), "2025-10-05T02:30:00+11:00");
    let santiago = resolve_local(naive("2025-09-07 00:00"), tz("America/Santiago"));
    assert_eq!(santiago.to_rfc3339(), "2025-09-07T01:00:00-03:00");
    let santiago = resolve_local(naive("2025-04-05 23:30"), tz("America/Santiago"));
    assert_eq!(santiago.to_rfc3339(), "2025-04-05T23:30:00-03:00");
}

#[test]
fn time_zones_by_name() {
    assert_eq!(parse_timezone("Europe/Berlin").unwrap(), Tz::Europe__Berlin);
    assert_eq!(parse_timezone("Europe/Kiev").unwrap().name(), "Europe/Kiev");
    assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
    let e = parse_timezone("Europe/Berln").unwrap_err();
    assert_eq!(e.message, "unknown time zone `Europe/Berln`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `Europe/Berlin`?"));
    let e = parse_timezone("europe/paris").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `Europe/Paris`?"));
    let e = parse_timezone("Mars/Olympus").unwrap_err();
    assert_eq!(
        e.hint.as_deref(),
        Some("time zones are IANA names, like `Europe/Berlin` or `UTC`")
    );
}

#[test]
fn windows() {
    let berlin = tz("Europe/Berlin");
    let window = |s: &str| {
        let TimeWindow { from, until } = parse_window(s, berlin).unwrap();
        (from.to_rfc3339(), until.to_rfc3339())
    };
    assert_eq!(
        window("2026-12-31 18:00 .. 2027-01-01 12:00"),
        (
            "2026-12-31T18:00:00+01:00".into(),
            "2027-01-01T12:00:00+01:00".into()
        )
    );
    assert_eq!(
        window("2026-12-24..2026-12-26"),
        (
            "2026-12-24T00:00:00+01:00".into(),
            "2026-12-27T00:00:00+01:00".into()
        )
    );
    assert_eq!(
        window("2026-12-25"),
        (
            "2026-12-25T00:00:00+01:00".into(),
            "2026-12-26T00:00:00+01:00".into()
        )
    );
    assert_eq!(
        window("2026-12-24 .. 2026-12-24 12:00"),
        (
            "2026-12-24T00:00:00+01:00".into(),
            "2026-12-24T12:00:00+01:00".into()
        )
    );
    let e = parse_window("2027-01-01 12:00 .. 2026-12-31 18:00", berlin).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        (
            "window ends before it starts: `2026-12-31 18:00` is not after `2027-01-01 12:00`",
            20,
            16
        )
    );
    let e = parse_window("2026-12-31 18:00 .. 2027-01-32", berlin).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        ("`2027-01-32` is not a day of the calendar", 28, 2)
    );
    let e = parse_window("2026-12-31 18:00", berlin).unwrap_err();
    assert_eq!(e.message, "expected a window, found `2026-12-31 18:00`");
    let e = parse_window("2026-12-31 18:00 ..", berlin).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("window is missing a time", 19)
    );
}

// ---- calendars ---------------------------------------------------------------------------

fn calendar(text: &str) -> SourceFile {
    SourceFile::new("posts.csv", text)
}

fn located(value: &crier::schedule::Located<String>) -> (&str, usize, usize) {
    (value.value.as_str(), value.line, value.column)
}

#[test]
fn reads_a_calendar_with_positions() {
    let text = "\u{feff}text,at,to,media\n\
                \"Line one,\nline \"\"two\"\"\",2026-12-01 09:00, brand_x ; brand_y;,a.png\n\
                Héllo,2026-12-02 09:00,brand_x,\n";
    let rows = read_calendar(&calendar(text)).unwrap();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.line, 2);
    assert_eq!(located(&first.text), ("Line one,\nline \"two\"", 2, 2));
    assert_eq!(located(&first.at), ("2026-12-01 09:00", 3, 15));
    let to: Vec<_> = first.to.iter().map(located).collect();
    assert_eq!(to, [("brand_x", 3, 33), ("brand_y", 3, 43)]);
    let media: Vec<_> = first.media.iter().map(located).collect();
    assert_eq!(media, [("a.png", 3, 52)]);
    let second = &rows[1];
    assert_eq!(second.line, 4);
    assert_eq!(located(&second.at), ("2026-12-02 09:00", 4, 7));
    assert_eq!(located(&second.to[0]), ("brand_x", 4, 24));
    assert!(second.media.is_empty());
}

#[test]
fn media_column_is_optional() {
    let rows = read_calendar(&calendar("at,to,text\n2026-12-01 09:00,a,hi\n")).unwrap();
    assert_eq!(rows[0].text.value, "hi");
    assert!(rows[0].media.is_empty());
}

#[test]
fn reports_every_bad_cell() {
    let text = "at,to,text\n\
                ,brand_x,hello\n\
                2026-12-01 09:00, ; ,\"\"\n\
                2026-12-01 09:00,brand_x\n\
                \"multi\nline\",brand_x,hi,extra\n";
    let errors = read_calendar(&calendar(text)).unwrap_err();
    let rendered: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        rendered,
        [
            "error: empty `at` cell\n  ——▶ posts.csv:2:1\n  |\n2 | ,brand_x,hello\n  | ^\n  = hint: write when to post, like `2026-12-01 09:00`\n",
            "error: empty `to` cell\n  ——▶ posts.csv:3:18\n  |\n3 | 2026-12-01 09:00, ; ,\"\"\n  |                  ^^^\n  = hint: name one or more accounts, separated by `;`\n",
            "error: empty `text` cell\n  ——▶ posts.csv:3:22\n  |\n3 | 2026-12-01 09:00, ; ,\"\"\n  |                      ^^\n  = hint: write the text of the post\n",
            "error: row has 2 fields, the header has 3\n  ——▶ posts.csv:4:25\n  |\n4 | 2026-12-01 09:00,brand_x\n  |                         ^\n  = hint: put text with commas in double quotes: `\"Hello, world\"`\n",
            "error: row has 4 fields, the header has 3\n  ——▶ posts.csv:6:18\n  |\n6 | line\",brand_x,hi,extra\n  |                  ^^^^^\n  = hint: put text with commas in double quotes: `\"Hello, world\"`\n",
        ]
    );
}

#[test]
fn header_problems_with_suggestions() {
    let errors = read_calendar(&calendar("at,too,txt,media,media\n")).unwrap_err();
    let summary: Vec<_> = errors
        .iter()
        .map(|e| {
            let p = e.position.unwrap();
            (e.message.as_str(), e.hint.as_deref(), p.line, p.column)
        })
        .collect();
    let header_hint =
        Some("the first row names the columns: `at,to,text,media` (`media` is optional)");
    assert_eq!(
        summary,
        [
            ("unknown column `too`", Some("did you mean `to`?"), 1, 4),
            ("unknown column `txt`", Some("did you mean `text`?"), 1, 8),
            ("column `media` appears twice", None, 1, 18),
            ("missing column `to`", header_hint, 1, 1),
            ("missing column `text`", header_hint, 1, 1),
        ]
    );
    let errors = read_calendar(&calendar("")).unwrap_err();
    assert_eq!(errors[0].message, "calendar is empty");
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let bytes = b"at,to,text\n2026-12-01 09:00,brand_x,caf\xe9\n";
    let errors = crier::schedule::calendar_source("posts.csv", bytes).unwrap_err();
    let error = &errors[0];
    assert_eq!(error.message, "calendar is not valid UTF-8");
    assert_eq!(error.position.map(|p| (p.line, p.column)), Some((2, 29)));
    let ok = crier::schedule::calendar_source("posts.csv", b"at,to,text\n").unwrap();
    assert!(read_calendar(&ok).unwrap().is_empty());
}

#[test]
fn crlf_blank_lines_and_a_lone_cell() {
    let text = "at,to,text\r\n\r\n2026-12-01 09:00,brand_x,\"a\r\nb\"\r\n2026-12-02 09:00,brand_y,c\r\noops\r\n";
    let errors = read_calendar(&calendar(text)).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message, "row has 1 field, the header has 3");
    assert_eq!(errors[0].position.map(|p| (p.line, p.column)), Some((6, 5)));
    let rows = read_calendar(&calendar(&text.replace("oops\r\n", ""))).unwrap();
    let lines: Vec<_> = rows
        .iter()
        .map(|r| (r.line, r.to[0].line, r.to[0].column))
        .collect();
    assert_eq!(lines, [(3, 3, 18), (5, 5, 18)]);
    assert_eq!(rows[0].text.value, "a\r\nb");
}

#[test]
fn fixed_hour_jobs_agree_with_croner_across_changes() {
    // croner moves a time in a gap to the first valid instant and takes the first of a
    // repeated time, as crier does for fixed-hour jobs: so they agree all year round.
    let fixed = [
        "0 2 * * *",
        "30 2 * * *",
        "0,30 2 * * *",
        "*/10 2 * * *",
        "15 1,2,3 * * *",
        "45 1 * * *",
        "0 0 * * *",
        "30 23 * * *",
        "0 9 * * SUN",
        "0 2 1-10 * SAT",
    ];
    let (after, until) = (utc("2024-12-31T12:00:00Z"), utc("2026-01-01T00:00:00Z"));
    for zone in ZONES {
        let zone = tz(zone);
        for expr in fixed {
            let ours = crier_fires(expr, zone, after, until);
            assert_eq!(
                ours,
                croner_fires(expr, zone, after, until),
                "`{expr}` in {zone}"
            );
        }
    }
}

#[test]
fn days_count_from_day_one() {
    let kyiv = tz("Europe/Kyiv");
    let day_one = NaiveDate::from_ymd_opt(2027, 12, 30);
    let at = |s: &str| {
        parse_local_datetime_from(s, kyiv, day_one)
            .unwrap()
            .to_rfc3339()
    };
    assert_eq!(at("day 1 10:00"), "2027-12-30T10:00:00+02:00");
    // Across the year's end, and the calendar dates still work beside them.
    assert_eq!(at("day 4 08:30:15"), "2028-01-02T08:30:15+02:00");
    assert_eq!(at("2026-12-01 08:30"), "2026-12-01T08:30:00+02:00");
    assert_eq!(
        parse_date_from("day 3", day_one).unwrap(),
        NaiveDate::from_ymd_opt(2028, 1, 1).unwrap()
    );
    // A day alone in a window is that whole day.
    let window = parse_window_from("day 2", kyiv, day_one).unwrap();
    assert_eq!(window.from.to_rfc3339(), "2027-12-31T00:00:00+02:00");
    assert_eq!(window.until.to_rfc3339(), "2028-01-01T00:00:00+02:00");
    let window = parse_window_from("day 1 18:00 .. day 3", kyiv, day_one).unwrap();
    assert_eq!(window.until.to_rfc3339(), "2028-01-02T00:00:00+02:00");

    let error = |s: &str, day_one| {
        let e = parse_local_datetime_from(s, kyiv, day_one).unwrap_err();
        (e.message, e.offset, e.len)
    };
    assert_eq!(
        error("day 0 10:00", day_one),
        ("expected a day number, found `0`".to_owned(), 4, 1)
    );
    assert_eq!(
        error("day three 10:00", day_one),
        ("expected a day number, found `three`".to_owned(), 4, 5)
    );
    assert_eq!(
        error("day 2", day_one),
        ("`day 2` has no time of day".to_owned(), 0, 5)
    );
    assert_eq!(
        error("day 2 25:00", day_one),
        ("hour `25` is out of range 00-23".to_owned(), 6, 2)
    );
    let e = parse_local_datetime_from("day 2 10:00", kyiv, None).unwrap_err();
    assert_eq!(
        (e.message.as_str(), e.offset, e.len),
        (
            "`day 2` counts from `day_one`, and crier.yaml sets none",
            0,
            5
        )
    );
    assert!(e.hint.unwrap().contains("day_one: first-run"));
    // Without the word, a date is a date.
    assert!(parse_date("day 2").is_err());
}

//! Wall-clock time in a time zone: turning a local date and time into one instant under
//! crier's daylight-saving rule, and finding where a zone's UTC offset changes.
//!
//! The rule, shared by cron schedules and one-off times: a local time that falls into a
//! spring-forward gap resolves to the first valid instant after the gap; a local time that
//! occurs twice (fall-back) resolves to its first occurrence.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local wall-clock time in `tz` stands for, under the daylight-saving rule.
pub fn resolve_local(naive: NaiveDateTime, tz: Tz) -> DateTime<Tz> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => gap_end(naive, tz),
    }
}

/// The UTC offset of `tz` at `instant`, in seconds east of UTC.
pub(crate) fn offset_seconds(tz: Tz, instant: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The first instant whose wall-clock time is at or after `naive`: for a time inside a
/// gap, the instant the gap ends. Found by bisection over the seconds around `naive`
/// (UTC offsets stay within -12h..+15h, and wall-clock time only moves forward near a gap).
fn gap_end(naive: NaiveDateTime, tz: Tz) -> DateTime<Tz> {
    let wall = |t: i64| {
        let instant = DateTime::from_timestamp(t, 0).unwrap_or_default();
        instant.naive_utc() + TimeDelta::seconds(offset_seconds(tz, instant).into())
    };
    let center = naive.and_utc().timestamp();
    let (mut lo, mut hi) = (center - 16 * 3600, center + 16 * 3600);
    // Invariant: wall(lo) < naive <= wall(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall(mid) >= naive {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    tz.from_utc_datetime(
        &DateTime::from_timestamp(hi, 0)
            .unwrap_or_default()
            .naive_utc(),
    )
}

/// The first instant in `(from, to]` where the offset of `tz` differs from `offset`, if any.
///
/// Probes once a day and bisects to the second inside the day where it changed, so two
/// changes less than a day apart that cancel out are not seen (no zone has had those in
/// its modern rules).
pub(crate) fn next_offset_change(
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    offset: i32,
) -> Option<DateTime<Utc>> {
    let mut lo = from;
    while lo < to {
        let hi = (lo + TimeDelta::days(1)).min(to);
        if offset_seconds(tz, hi) != offset {
            let (mut a, mut b) = (lo.timestamp(), hi.timestamp());
            // Invariant: offset at a is `offset`, offset at b is not.
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                let at = DateTime::from_timestamp(mid, 0).unwrap_or_default();
                if offset_seconds(tz, at) == offset {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            return DateTime::from_timestamp(b, 0);
        }
        lo = hi;
    }
    None
}

//! The calendar: what goes out by month, by week or as a list, computed as `crier plan`
//! computes it (`ops::views::plan`), in the brand's time zone with the viewer's beside it.
//! Each post is coloured by its playbook and marked: needs approval, delayed by rules (which
//! rule, until when), rejected by rules (why), paused, and sent or failed for the past. A
//! post opens its detail: the text as it goes out on each account, its length against that
//! network's limit, its images, and a preview shaped like the network's post.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Viewer, hue, query, when};
use crate::ops::views;
use crate::playbook::plan::Plan;
use crate::preview::{Planned, PlannedKind};
use crate::store::{PauseView, RunState, to_millis};
use crate::text::TextTemplates;

/// Posts a month's day shows before "+N more" (the list view shows them all).
const MONTH_DAY: usize = 5;
/// Posts a week's day shows before "+N more".
const WEEK_DAY: usize = 40;
/// Posts one page of the list shows.
const LIST_PAGE: usize = 200;
/// Days the list view covers.
const LIST_DAYS: i64 = 31;

#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    playbook: Option<String>,
    /// The list view's page: how many posts earlier pages showed.
    #[serde(default)]
    skip: Option<usize>,
}

#[derive(Serialize)]
pub(super) struct Mark {
    kind: &'static str,
    detail: Option<String>,
}

#[derive(Serialize)]
struct Chip {
    time: String,
    viewer_time: Option<String>,
    playbook: String,
    item: String,
    hue: u8,
    href: String,
    marks: Vec<Mark>,
}

#[derive(Serialize)]
struct Day {
    date: String,
    day: u32,
    label: String,
    in_period: bool,
    today: bool,
    posts: Vec<Chip>,
    more: usize,
    more_href: String,
}

#[derive(Serialize)]
struct ViewLink {
    name: &'static str,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct Hooked {
    playbook: String,
    item: String,
    hook: String,
    hue: u8,
}

#[derive(Serialize)]
struct CalendarPage {
    view: &'static str,
    date: String,
    period: String,
    views: Vec<ViewLink>,
    prev: String,
    next: String,
    today: String,
    account: String,
    network: String,
    playbook: String,
    accounts: Vec<String>,
    networks: Vec<&'static str>,
    playbooks: Vec<String>,
    weekdays: [&'static str; 7],
    weeks: Vec<Vec<Day>>,
    days: Vec<Day>,
    count: usize,
    more_href: Option<String>,
    hooked: Vec<Hooked>,
}

/// Midnight of `date` in `tz`, as an instant (the first instant of the day where a
/// daylight-saving change skips midnight).
fn midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut at = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..4 {
        if let Some(local) = tz.from_local_datetime(&at).earliest() {
            return local.with_timezone(&Utc);
        }
        at += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let index = date.year() * 12 + date.month0() as i32 + months;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(date)
}

/// What the filters select of the posts of a window.
struct Filters<'a> {
    account: &'a str,
    network: &'a str,
    playbook: &'a str,
}

impl Filters<'_> {
    fn keep(&self, plan: &Plan, line: &Planned) -> bool {
        (self.playbook.is_empty() || line.playbook == self.playbook)
            && (self.account.is_empty() || line.to.iter().any(|a| a == self.account))
            && (self.network.is_empty()
                || line.to.iter().any(|a| {
                    plan.accounts
                        .get(a)
                        .is_some_and(|acc| acc.network.name() == self.network)
                }))
    }
}

/// What the calendar marks a post with, besides its time and playbook.
pub(super) struct Marker<'a> {
    plan: &'a Plan,
    now: DateTime<Utc>,
    pauses: Vec<PauseView>,
    /// The runs of the window's past, by playbook, item and fire time.
    past: HashMap<(String, String, i64), RunState>,
}

impl<'a> Marker<'a> {
    pub(super) fn new(
        viewer: &'a Viewer,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Marker<'a>, crate::store::StoreError> {
        let now = Utc::now();
        let store = &viewer.desk.store;
        let mut past = HashMap::new();
        if from < now {
            let until = until.min(now);
            for run in store.run_marks(to_millis(from), to_millis(until))? {
                past.insert((run.playbook, run.item, run.fire_at), run.state);
            }
        }
        Ok(Marker {
            plan: &viewer.desk.plan,
            now,
            pauses: store.pauses(to_millis(now))?,
            past,
        })
    }

    pub(super) fn marks(&self, line: &Planned) -> Vec<Mark> {
        let mut marks = Vec::new();
        if line.kind != PlannedKind::Post {
            marks.push(Mark {
                kind: "milestone",
                detail: serde_json::to_value(line.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
            });
        }
        if let Some(approval) = &line.approval {
            marks.push(Mark {
                kind: "approval",
                detail: Some(approval.clone()),
            });
        }
        if let Some(rule) = &line.rule
            && let Some(delay) = rule.split("; ").find(|part| part.contains("delayed from"))
        {
            marks.push(Mark {
                kind: "delayed",
                detail: Some(format!("{delay}; {}", line.at.format("%Y-%m-%d %H:%M"))),
            });
        }
        if let Some(rejected) = &line.rejected {
            marks.push(Mark {
                kind: "rejected",
                detail: Some(rejected.clone()),
            });
        }
        if let Some(condition) = &line.condition {
            marks.push(Mark {
                kind: "condition",
                detail: Some(condition.clone()),
            });
        }
        let at = line.at.with_timezone(&Utc);
        if at >= self.now {
            let campaign = self.plan.campaigns.iter().any(|c| c.name == line.playbook);
            if let Some(pause) = self.pauses.iter().find(|p| {
                line.to
                    .iter()
                    .any(|account| p.scope.covers(account, &line.playbook, campaign))
            }) {
                marks.push(Mark {
                    kind: "paused",
                    detail: Some(pause.reason.clone()),
                });
            }
        } else {
            let key = (line.playbook.clone(), line.item.clone(), to_millis(at));
            match self.past.get(&key) {
                Some(RunState::Succeeded) => marks.push(Mark {
                    kind: "sent",
                    detail: None,
                }),
                Some(RunState::Failed) => marks.push(Mark {
                    kind: "failed",
                    detail: None,
                }),
                _ => {}
            }
        }
        marks
    }
}

fn chip(line: &Planned, viewer: &Viewer, marker: &Marker, back: &str) -> Chip {
    let (brand, viewer_tz) = viewer.zones();
    let shown = when(line.at.with_timezone(&Utc), brand, viewer_tz);
    Chip {
        time: shown.at.get(11..).unwrap_or(&shown.at).to_string(),
        viewer_time: shown.viewer,
        playbook: line.playbook.clone(),
        item: line.item.clone(),
        hue: hue(&line.playbook),
        href: format!(
            "/calendar/post{}",
            query(&[
                ("playbook", &line.playbook),
                ("item", &line.item),
                ("at", &line.at.to_rfc3339()),
                ("back", back),
            ])
        ),
        marks: marker.marks(line),
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_key(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize]
}

pub async fn page(viewer: Viewer, Query(q): Query<CalendarQuery>) -> Response {
    let plan = viewer.desk.plan.clone();
    let tz = plan.timezone;
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let view: &'static str = match q.view.as_deref() {
        Some("week") => "week",
        Some("list") => "list",
        _ => "month",
    };
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => date,
            Err(_) => {
                return viewer.frame.fail(
                    StatusCode::BAD_REQUEST,
                    format!("date `{text}` is not a day written YYYY-MM-DD"),
                );
            }
        },
        None => today,
    };
    let filters = Filters {
        account: q.account.as_deref().unwrap_or(""),
        network: q.network.as_deref().unwrap_or(""),
        playbook: q.playbook.as_deref().unwrap_or(""),
    };
    // The period shown, and the days of its grid (whole weeks for a month).
    let (first, last_excl, grid_first, grid_last_excl, prev, next) = match view {
        "month" => {
            let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
            let next = add_months(first, 1);
            let grid_first = monday_of(first);
            let grid_last_excl = monday_of(next - Duration::days(1)) + Duration::days(7);
            (
                first,
                next,
                grid_first,
                grid_last_excl,
                add_months(first, -1),
                next,
            )
        }
        "week" => {
            let first = monday_of(date);
            let next = first + Duration::days(7);
            (first, next, first, next, first - Duration::days(7), next)
        }
        _ => {
            let next = date + Duration::days(LIST_DAYS);
            (
                date,
                next,
                date,
                next,
                date - Duration::days(LIST_DAYS),
                next,
            )
        }
    };
    let from = midnight(tz, grid_first);
    let until = midnight(tz, grid_last_excl);
    let planned = match planned_in(&viewer, &plan, from, until).await {
        Ok(planned) => planned,
        Err(failed) => return failed,
    };
    let marker = match Marker::new(&viewer, from, until) {
        Ok(marker) => marker,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let back = viewer.frame.here.clone();
    let mut hooked = Vec::new();
    let mut by_day: HashMap<NaiveDate, Vec<&Planned>> = HashMap::new();
    let mut count = 0;
    for line in &planned {
        if !filters.keep(&plan, line) {
            continue;
        }
        if let Some(hook) = &line.on_hook {
            hooked.push(Hooked {
                playbook: line.playbook.clone(),
                item: line.item.clone(),
                hook: hook.clone(),
                hue: hue(&line.playbook),
            });
            continue;
        }
        let day = line.at.with_timezone(&tz).date_naive();
        if day >= first && day < last_excl {
            count += 1;
        }
        by_day.entry(day).or_default().push(line);
    }
    let link = |view: &str, date: NaiveDate, skip: usize| {
        format!(
            "/calendar{}",
            query(&[
                ("view", view),
                ("date", &date.format("%Y-%m-%d").to_string()),
                ("account", filters.account),
                ("network", filters.network),
                ("playbook", filters.playbook),
                (
                    "skip",
                    &if skip > 0 {
                        skip.to_string()
                    } else {
                        String::new()
                    }
                ),
            ])
        )
    };
    let lang = viewer.frame.lang;
    let day_label = |day: NaiveDate| {
        format!(
            "{} {} {}",
            super::i18n::text(lang, &format!("weekday.{}", weekday_key(day.weekday())))
                .unwrap_or(""),
            day.day(),
            super::i18n::text(lang, &format!("month.{}", day.month())).unwrap_or("")
        )
    };
    let make_day = |day: NaiveDate, cap: usize| {
        let lines = by_day.get(&day).map(Vec::as_slice).unwrap_or(&[]);
        Day {
            date: day.format("%Y-%m-%d").to_string(),
            day: day.day(),
            label: day_label(day),
            in_period: day >= first && day < last_excl,
            today: day == today,
            posts: lines
                .iter()
                .take(cap)
                .map(|line| chip(line, &viewer, &marker, &back))
                .collect(),
            more: lines.len().saturating_sub(cap),
            more_href: link("list", day, 0),
        }
    };
    let mut weeks = Vec::new();
    let mut days = Vec::new();
    let mut more_href = None;
    if view == "list" {
        let skip = q.skip.unwrap_or(0);
        let mut shown = 0;
        let mut passed = 0;
        let mut day = first;
        while day < last_excl && shown < LIST_PAGE {
            let lines = by_day.get(&day).map(Vec::as_slice).unwrap_or(&[]);
            let take: Vec<_> = lines
                .iter()
                .skip(skip.saturating_sub(passed))
                .take(LIST_PAGE - shown)
                .collect();
            passed += lines.len();
            if !take.is_empty() {
                shown += take.len();
                days.push(Day {
                    date: day.format("%Y-%m-%d").to_string(),
                    day: day.day(),
                    label: day_label(day),
                    in_period: true,
                    today: day == today,
                    posts: take
                        .iter()
                        .map(|line| chip(line, &viewer, &marker, &back))
                        .collect(),
                    more: 0,
                    more_href: String::new(),
                });
            }
            day += Duration::days(1);
        }
        if skip + shown < count {
            more_href = Some(link("list", first, skip + shown));
        }
    } else {
        let cap = if view == "month" { MONTH_DAY } else { WEEK_DAY };
        let mut day = grid_first;
        while day < grid_last_excl {
            let week: Vec<Day> = (0..7)
                .map(|offset| make_day(day + Duration::days(offset), cap))
                .collect();
            weeks.push(week);
            day += Duration::days(7);
        }
    }
    let period = match view {
        "month" => format!(
            "{} {}",
            super::i18n::text(lang, &format!("month.{}", first.month())).unwrap_or(""),
            first.year()
        ),
        _ => format!(
            "{} – {}",
            first.format("%Y-%m-%d"),
            (last_excl - Duration::days(1)).format("%Y-%m-%d")
        ),
    };
    let mut networks: Vec<&'static str> =
        plan.accounts.values().map(|a| a.network.name()).collect();
    networks.sort_unstable();
    networks.dedup();
    let mut playbooks: Vec<String> = plan
        .campaigns
        .iter()
        .map(|c| c.name.clone())
        .chain(plan.contests.iter().map(|c| c.name.clone()))
        .collect();
    playbooks.sort();
    playbooks.dedup();
    let page = CalendarPage {
        view,
        date: date.format("%Y-%m-%d").to_string(),
        period,
        views: ["month", "week", "list"]
            .into_iter()
            .map(|name| ViewLink {
                name,
                href: link(name, date, 0),
                current: name == view,
            })
            .collect(),
        prev: link(view, prev, 0),
        next: link(view, next, 0),
        today: link(view, today, 0),
        account: filters.account.to_string(),
        network: filters.network.to_string(),
        playbook: filters.playbook.to_string(),
        accounts: plan.accounts.keys().cloned().collect(),
        networks,
        playbooks,
        weekdays: WEEKDAYS,
        weeks,
        days,
        count,
        more_href,
        hooked,
    };
    viewer.frame.render(
        StatusCode::OK,
        "calendar.html",
        "calendar.title",
        page,
        None,
        None,
    )
}

#[derive(Deserialize)]
pub struct PostQuery {
    playbook: String,
    item: String,
    at: String,
    #[serde(default)]
    back: Option<String>,
}

#[derive(Serialize)]
struct Version {
    account: String,
    network: &'static str,
    network_title: &'static str,
    text: String,
    length: usize,
    limit: Option<usize>,
    unit: &'static str,
    over: bool,
}

#[derive(Serialize)]
struct PostPage {
    playbook: String,
    item: String,
    time: String,
    viewer_time: Option<String>,
    iso: String,
    back: String,
    marks: Vec<Mark>,
    condition: Option<String>,
    images: Vec<Image>,
    versions: Vec<Version>,
}

/// An image of a post: its name in the playbook and where the dashboard serves it.
#[derive(Serialize)]
struct Image {
    name: String,
    src: String,
}

pub async fn post(viewer: Viewer, Query(q): Query<PostQuery>) -> Response {
    let plan = viewer.desk.plan.clone();
    let at = match DateTime::parse_from_rfc3339(&q.at) {
        Ok(at) => at.with_timezone(&Utc),
        Err(error) => {
            return viewer.frame.fail(
                StatusCode::BAD_REQUEST,
                format!("at `{}` is not an RFC 3339 time: {error}", q.at),
            );
        }
    };
    // A post delayed by the limits is listed at the time it goes out, after its fire.
    let from = at - Duration::days(1);
    let until = at + Duration::seconds(1);
    let planned = match planned_in(&viewer, &plan, from, until).await {
        Ok(planned) => planned,
        Err(failed) => return failed,
    };
    let lines: Vec<&Planned> = planned
        .iter()
        .filter(|l| l.playbook == q.playbook && l.item == q.item && l.at.with_timezone(&Utc) == at)
        .collect();
    if lines.is_empty() {
        return viewer.frame.fail(
            StatusCode::NOT_FOUND,
            format!(
                "{}/{} does not go out at {}",
                q.playbook,
                q.item,
                at.with_timezone(&plan.timezone).format("%Y-%m-%d %H:%M")
            ),
        );
    }
    let marker = match Marker::new(&viewer, from, until) {
        Ok(marker) => marker,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let mut marks = Vec::new();
    let mut versions = Vec::new();
    for line in &lines {
        marks.extend(marker.marks(line));
        for account in &line.to {
            let Some(network) = plan.accounts.get(account).map(|a| a.network) else {
                continue;
            };
            let limit = network.text_limit();
            let length = network.count(&line.text);
            versions.push(Version {
                account: account.clone(),
                network: network.name(),
                network_title: network.profile().title,
                text: line.text.clone(),
                length,
                limit: limit.map(|l| l.max),
                unit: limit.map_or("", |l| l.unit),
                over: limit.is_some_and(|l| length > l.max),
            });
        }
    }
    marks.dedup_by(|a, b| a.kind == b.kind && a.detail == b.detail);
    let images = super::images::media(&plan, &q.playbook, &q.item)
        .iter()
        .enumerate()
        .map(|(n, name)| Image {
            name: name.clone(),
            src: super::images::address(&q.playbook, &q.item, n),
        })
        .collect();
    let (brand, viewer_tz) = viewer.zones();
    let shown = when(at, brand, viewer_tz);
    let page = PostPage {
        playbook: q.playbook.clone(),
        item: q.item.clone(),
        time: shown.at,
        viewer_time: shown.viewer,
        iso: shown.iso,
        back: super::session::local(q.back.as_deref().unwrap_or("/calendar")),
        marks: marks
            .into_iter()
            .filter(|m| m.kind != "condition")
            .collect(),
        condition: lines[0].condition.clone(),
        images,
        versions,
    };
    viewer.frame.render(
        StatusCode::OK,
        "post.html",
        "calendar.title",
        page,
        None,
        None,
    )
}

/// What goes out between `from` and `until`, the texts rendered off the async workers (see
/// `AppState::render_off_the_runtime`).
async fn planned_in(
    viewer: &Viewer,
    plan: &Arc<Plan>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Planned>, Response> {
    let plan = plan.clone();
    let rendered = viewer
        .state
        .render_off_the_runtime(move || views::plan(&plan, &TextTemplates::new(), from, until))
        .await;
    match rendered {
        Ok(Ok(planned)) => Ok(planned),
        Ok(Err(error)) => Err(viewer.frame.fail(StatusCode::BAD_REQUEST, error)),
        Err(problem) => Err(viewer.frame.fail(
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            problem.detail,
        )),
    }
}

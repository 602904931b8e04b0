//! The incident report: timeline, durations (detect, acknowledge, respond, resolve), approvals
//! and a per-minute mention chart with level changes, as Markdown, JSON or one self-contained
//! HTML file (inline SVG, no scripts, no external assets).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    /// `crier`, `crisis:<plan>` or a person's name.
    pub actor: String,
    /// `signal`, `level`, `step`, `notify`, `ack`, `approval`, `post`, `resolve`.
    pub kind: String,
    pub detail: String,
}

/// Who decided an approval step, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub at: i64,
    pub step: String,
    /// `approved`, `rejected`, or `timeout:<escalate|proceed|abort>`.
    pub decision: String,
    pub by: String,
    pub note: Option<String>,
}

/// The level an incident entered at a time (chart markers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelMark {
    pub at: i64,
    pub level: String,
}

/// Mentions in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCount {
    pub at: i64,
    pub total: u64,
    pub negative: u64,
}

/// Everything a report shows. Durations are derived, not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReport {
    pub id: i64,
    pub plan: String,
    /// When the signal started: the start of the first minute whose counts met a level's
    /// condition (the time to detect measures from it).
    pub signal_at: i64,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    /// The first public post of the incident.
    pub responded_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub level: String,
    pub levels: Vec<LevelMark>,
    pub approvals: Vec<ApprovalRecord>,
    pub timeline: Vec<TimelineEntry>,
    pub mentions: Vec<MinuteCount>,
    /// The plan's time zone: the report's times are in it.
    #[serde(default = "utc")]
    pub timezone: String,
}

/// A report format of `crier incident report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Html,
    Json,
}

impl ReportFormat {
    pub fn parse(name: &str) -> Option<ReportFormat> {
        match name {
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "html" => Some(ReportFormat::Html),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }
}

fn utc() -> String {
    "UTC".into()
}

/// `1h 05m 30s`, `4m 00s`, `12s`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl IncidentReport {
    fn zone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// `2026-12-03 09:12:00 EET`, in the plan's zone.
    fn time(&self, at: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(at)
            .map(|t| {
                t.with_timezone(&self.zone())
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .unwrap_or_else(|| at.to_string())
    }

    /// `09:12`, in the plan's zone.
    fn clock(&self, at: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(at)
            .map(|t| t.with_timezone(&self.zone()).format("%H:%M").to_string())
            .unwrap_or_default()
    }

    /// `(label, value)` of each duration, `None` when it has not happened.
    pub fn durations(&self) -> [(&'static str, Option<i64>); 4] {
        [
            ("Time to detect", Some(self.opened_at - self.signal_at)),
            (
                "Time to acknowledge",
                self.acknowledged_at.map(|t| t - self.opened_at),
            ),
            (
                "Time to respond",
                self.responded_at.map(|t| t - self.opened_at),
            ),
            (
                "Time to resolve",
                self.resolved_at.map(|t| t - self.opened_at),
            ),
        ]
    }

    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Markdown => self.markdown(),
            ReportFormat::Html => self.html(),
            ReportFormat::Json => {
                let mut json = serde_json::to_value(self).expect("a report serializes");
                let durations: serde_json::Map<_, _> = self
                    .durations()
                    .iter()
                    .map(|(label, ms)| {
                        let key = label.to_lowercase().replace(' ', "_") + "_ms";
                        (key, ms.map_or(serde_json::Value::Null, Into::into))
                    })
                    .collect();
                json["durations"] = durations.into();
                let json = crate::store::json_times::with_rfc3339_times(
                    json,
                    crate::store::json_times::INCIDENT_TIMES,
                    self.zone(),
                );
                serde_json::to_string_pretty(&json).expect("a report serializes") + "\n"
            }
        }
    }

    fn status(&self) -> String {
        match (&self.resolved_at, &self.resolved_by) {
            (Some(at), Some(by)) => format!("resolved {} by {by}", self.time(*at)),
            (Some(at), None) => format!("resolved {}", self.time(*at)),
            _ => "open".into(),
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Incident {} — {}\n", self.id, self.plan);
        let _ = writeln!(out, "- Level: {}", self.level);
        let _ = writeln!(out, "- Opened: {}", self.time(self.opened_at));
        let _ = writeln!(out, "- Status: {}", self.status());
        if let (Some(at), Some(by)) = (self.acknowledged_at, &self.acknowledged_by) {
            let _ = writeln!(out, "- Acknowledged: {} by {by}", self.time(at));
        }
        let _ = writeln!(out, "\n## Durations\n\n| Measure | Value |\n|---|---|");
        for (label, ms) in self.durations() {
            let value = ms.map_or_else(|| "—".into(), duration);
            let _ = writeln!(out, "| {label} | {value} |");
        }
        let _ = writeln!(out, "\n## Approvals\n");
        if self.approvals.is_empty() {
            let _ = writeln!(out, "None.");
        } else {
            let _ = writeln!(
                out,
                "| Time | Step | Decision | By | Note |\n|---|---|---|---|---|"
            );
            for a in &self.approvals {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    self.time(a.at),
                    md_cell(&a.step),
                    a.decision,
                    md_cell(&a.by),
                    md_cell(a.note.as_deref().unwrap_or(""))
                );
            }
        }
        let _ = writeln!(out, "\n## Mentions per minute\n");
        let peak = self.mentions.iter().max_by_key(|m| (m.total, -m.at));
        let total: u64 = self.mentions.iter().map(|m| m.total).sum();
        let negative: u64 = self.mentions.iter().map(|m| m.negative).sum();
        let _ = writeln!(out, "{total} mentions, {negative} negative.");
        if let [first, second, ..] = &self.mentions[..]
            && second.at - first.at > 60_000
        {
            let _ = writeln!(
                out,
                "Counted per {} minutes: the incident ran long.",
                (second.at - first.at) / 60_000
            );
        }
        if let Some(peak) = peak {
            let _ = writeln!(
                out,
                "Peak: {} at {} ({} negative).",
                peak.total,
                self.time(peak.at),
                peak.negative
            );
        }
        let _ = writeln!(
            out,
            "\n## Timeline\n\n| Time | Actor | Event | Detail |\n|---|---|---|---|"
        );
        for e in &self.timeline {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                self.time(e.at),
                md_cell(&e.actor),
                e.kind,
                md_cell(&e.detail)
            );
        }
        out
    }

    /// The chart: total (grey) and negative (red) mentions per minute, dashed lines at level
    /// changes with their names.
    pub fn svg_chart(&self) -> String {
        self.svg_chart_labelled("Mentions per minute", "No mentions")
    }

    /// [`Self::svg_chart`] with its label and its text for no mentions in another language.
    pub fn svg_chart_labelled(&self, label: &str, no_mentions: &str) -> String {
        const W: f64 = 880.0;
        const H: f64 = 240.0;
        const PAD: f64 = 36.0;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
            escape(label)
        );
        let (Some(first), Some(last)) = (self.mentions.first(), self.mentions.last()) else {
            let _ = write!(
                svg,
                "<text x=\"20\" y=\"40\">{}</text></svg>",
                escape(no_mentions)
            );
            return svg;
        };
        let span = (last.at - first.at).max(60_000) as f64;
        let max = self
            .mentions
            .iter()
            .map(|m| m.total)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let x = |at: i64| PAD + (at - first.at) as f64 / span * (W - 2.0 * PAD);
        let y = |n: u64| H - PAD - n as f64 / max * (H - 2.0 * PAD);
        let _ = write!(
            svg,
            "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/><text x=\"4\" y=\"{t}\" font-size=\"11\">{max}</text><text x=\"4\" y=\"{b}\" font-size=\"11\">0</text>",
            b = H - PAD,
            r = W - PAD,
            t = PAD + 4.0,
        );
        for (pick, colour) in [(0usize, "#9aa0a6"), (1, "#d93025")] {
            let points: Vec<String> = self
                .mentions
                .iter()
                .map(|m| {
                    let n = if pick == 0 { m.total } else { m.negative };
                    format!("{:.1},{:.1}", x(m.at), y(n))
                })
                .collect();
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
                points.join(" ")
            );
        }
        for mark in &self.levels {
            let mx = x(mark.at.clamp(first.at, last.at));
            // A mark in the right half is labelled to its left, so the label stays inside.
            let (tx, anchor) = if mx > W / 2.0 {
                (mx - 3.0, "end")
            } else {
                (mx + 3.0, "start")
            };
            let _ = write!(
                svg,
                "<line x1=\"{mx:.1}\" y1=\"{PAD}\" x2=\"{mx:.1}\" y2=\"{b}\" stroke=\"#1a73e8\" stroke-dasharray=\"4 3\"/><text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"11\" fill=\"#1a73e8\" text-anchor=\"{anchor}\">{} {}</text>",
                escape(&mark.level),
                self.clock(mark.at),
                b = H - PAD,
                ty = PAD - 6.0,
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{ly}\" font-size=\"11\">{}</text><text x=\"{rx}\" y=\"{ly}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            self.clock(first.at),
            self.clock(last.at),
            ly = H - PAD + 16.0,
            rx = W - PAD,
        );
        svg.push_str("</svg>");
        svg
    }

    pub fn html(&self) -> String {
        let mut out = String::new();
        let title = format!("Incident {} — {}", self.id, escape(&self.plan));
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#202124}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #dadce0;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#f1f3f4}}.legend span{{margin-right:1em}}</style></head><body>\n<h1>{title}</h1>\n<p>Level <b>{}</b> · opened {} · {}</p>\n",
            escape(&self.level),
            self.time(self.opened_at),
            escape(&self.status()),
        );
        out.push_str("<h2>Durations</h2><table><tr><th>Measure</th><th>Value</th></tr>");
        for (label, ms) in self.durations() {
            let value = ms.map_or_else(|| "—".into(), duration);
            let _ = write!(out, "<tr><td>{label}</td><td>{value}</td></tr>");
        }
        out.push_str("</table>\n<h2>Mentions per minute</h2>\n<p class=\"legend\"><span style=\"color:#9aa0a6\">■ total</span><span style=\"color:#d93025\">■ negative</span><span style=\"color:#1a73e8\">┆ level change</span></p>\n");
        out.push_str(&self.svg_chart());
        out.push_str("\n<h2>Approvals</h2>");
        if self.approvals.is_empty() {
            out.push_str("<p>None.</p>");
        } else {
            out.push_str("<table><tr><th>Time</th><th>Step</th><th>Decision</th><th>By</th><th>Note</th></tr>");
            for a in &self.approvals {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    self.time(a.at),
                    escape(&a.step),
                    escape(&a.decision),
                    escape(&a.by),
                    escape(a.note.as_deref().unwrap_or(""))
                );
            }
            out.push_str("</table>");
        }
        out.push_str("\n<h2>Timeline</h2><table><tr><th>Time</th><th>Actor</th><th>Event</th><th>Detail</th></tr>");
        for e in &self.timeline {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                self.time(e.at),
                escape(&e.actor),
                escape(&e.kind),
                escape(&e.detail)
            );
        }
        out.push_str("</table>\n</body></html>\n");
        out
    }
}

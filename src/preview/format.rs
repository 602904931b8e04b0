//! The output formats of `crier plan`: a table for people, JSON lines for programs, CSV for
//! spreadsheets, iCalendar for calendar apps.

use std::io::{self, Write};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::Planned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Ics,
}

pub fn write(format: Format, planned: &[Planned], out: &mut dyn Write) -> io::Result<()> {
    if format == Format::Table {
        return table(planned, out);
    }
    let mut writer = Writer::new(format, out);
    for line in planned {
        writer.line(line)?;
    }
    writer.finish()
}

/// Writes a plan line by line as the lines come: JSON, CSV and iCalendar write each line
/// at once and keep nothing; the table keeps every line until `finish`, as its columns are
/// as wide as their widest cell.
pub struct Writer<'w> {
    sink: Sink<'w>,
    started: bool,
    table: Vec<Planned>,
}

enum Sink<'w> {
    Table(&'w mut dyn Write),
    Json(&'w mut dyn Write),
    Csv(Box<::csv::Writer<&'w mut dyn Write>>),
    Ics(&'w mut dyn Write),
}

impl<'w> Writer<'w> {
    /// Nothing is written before the first line or `finish`.
    pub fn new(format: Format, out: &'w mut dyn Write) -> Writer<'w> {
        let sink = match format {
            Format::Table => Sink::Table(out),
            Format::Json => Sink::Json(out),
            Format::Csv => Sink::Csv(Box::new(::csv::Writer::from_writer(out))),
            Format::Ics => Sink::Ics(out),
        };
        Writer {
            sink,
            started: false,
            table: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.started, true) {
            return Ok(());
        }
        match &mut self.sink {
            Sink::Csv(writer) => {
                writer.write_record(["at", "playbook", "item", "kind", "to", "text"])?;
            }
            Sink::Ics(out) => {
                for line in ICS_HEADER {
                    out.write_all(fold(line).as_bytes())?;
                }
            }
            Sink::Table(_) | Sink::Json(_) => {}
        }
        Ok(())
    }

    pub fn line(&mut self, p: &Planned) -> io::Result<()> {
        self.start()?;
        match &mut self.sink {
            Sink::Table(_) => {
                self.table.push(p.clone());
                Ok(())
            }
            Sink::Json(out) => json_line(p, *out),
            Sink::Csv(writer) => csv_line(p, writer),
            Sink::Ics(out) => ics_event(p, *out),
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.start()?;
        match self.sink {
            Sink::Table(out) => table(&self.table, out),
            Sink::Json(_) => Ok(()),
            Sink::Csv(mut writer) => writer.flush(),
            Sink::Ics(out) => out.write_all(fold("END:VCALENDAR").as_bytes()),
        }
    }
}

fn local_time(item: &Planned) -> String {
    match &item.on_hook {
        Some(hook) => format!("on hook {hook}"),
        None => item.at.format("%Y-%m-%d %H:%M %:z").to_string(),
    }
}

fn table(planned: &[Planned], out: &mut dyn Write) -> io::Result<()> {
    if planned.is_empty() {
        return writeln!(out, "nothing is planned in this window");
    }
    let rows: Vec<[String; 5]> = planned
        .iter()
        .map(|p| {
            let first_line = p.text.lines().next().unwrap_or_default();
            let mut text: String = first_line.chars().take(72).collect();
            if first_line.chars().count() > 72 || p.text.lines().nth(1).is_some() {
                text.push('…');
            }
            if let Some(reason) = &p.rejected {
                text = format!("[✗ {reason}] {text}");
            } else if let Some(rule) = &p.rule {
                text = format!("[rules: {rule}] {text}");
            }
            if let Some(approval) = &p.approval {
                text = format!("[{approval}] {text}");
            }
            if let Some(condition) = &p.condition {
                text = format!("[{condition}] {text}");
            }
            [
                local_time(p),
                p.playbook.clone(),
                p.item.clone(),
                p.to.join(", "),
                text,
            ]
        })
        .collect();
    let headers = ["AT", "PLAYBOOK", "ITEM", "TO", "TEXT"];
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 4 {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        text.trim_end().to_string()
    };
    writeln!(out, "{}", line(headers))?;
    for row in &rows {
        writeln!(
            out,
            "{}",
            line([&row[0], &row[1], &row[2], &row[3], &row[4]])
        )?;
    }
    writeln!(out, "\n{} item(s)", planned.len())
}

fn json_line(p: &Planned, out: &mut dyn Write) -> io::Result<()> {
    let mut object = serde_json::json!({
        "at": p.at.to_rfc3339(),
        "playbook": p.playbook,
        "item": p.item,
        "kind": p.kind,
        "to": p.to,
        "text": p.text,
    });
    // A post fired by a hook has no time of its own.
    if let Some(hook) = &p.on_hook {
        object.as_object_mut().map(|o| o.remove("at"));
        object["on_hook"] = hook.as_str().into();
    }
    // Only on lines a posting rule touched, so other lines stay as they were.
    if let Some(rule) = &p.rule {
        object["rule"] = rule.as_str().into();
    }
    if let Some(approval) = &p.approval {
        object["approval"] = approval.as_str().into();
    }
    if let Some(condition) = &p.condition {
        object["condition"] = condition.as_str().into();
    }
    if let Some(reason) = &p.rejected {
        object["rejected"] = reason.as_str().into();
    }
    writeln!(out, "{object}")
}

fn csv_line(p: &Planned, writer: &mut ::csv::Writer<&mut dyn Write>) -> io::Result<()> {
    let kind = serde_json::to_value(p.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    writer.write_record([
        local_or_hook(p),
        p.playbook.clone(),
        p.item.clone(),
        kind,
        p.to.join(";"),
        marked_text(p),
    ])?;
    Ok(())
}

const ICS_HEADER: [&str; 5] = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//crier//plan//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
];

/// RFC 5545: one VEVENT per item, times in UTC (unambiguous in every calendar app), a UID
/// stable across runs so re-importing updates events instead of duplicating them.
fn ics_event(p: &Planned, out: &mut dyn Write) -> io::Result<()> {
    // A calendar has no place for posts without a time.
    if p.on_hook.is_some() {
        return Ok(());
    }
    let utc = p.at.with_timezone(&Utc);
    let stamp = utc.format("%Y%m%dT%H%M%SZ").to_string();
    let end = (utc + chrono::TimeDelta::minutes(15))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let digest = Sha256::digest(format!(
        "{}\u{1f}{}\u{1f}{}",
        p.playbook,
        p.item,
        utc.to_rfc3339()
    ));
    let uid: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let lines = [
        "BEGIN:VEVENT".to_string(),
        format!("UID:{uid}@crier"),
        format!("DTSTAMP:{stamp}"),
        format!("DTSTART:{stamp}"),
        format!("DTEND:{end}"),
        format!(
            "SUMMARY:{}",
            escape(&format!("{}: {} → {}", p.playbook, p.item, p.to.join(", ")))
        ),
        format!("DESCRIPTION:{}", escape(&marked_text(p))),
        "END:VEVENT".into(),
    ];
    for line in lines {
        out.write_all(fold(&line).as_bytes())?;
    }
    Ok(())
}

/// The RFC 3339 time, or `on hook NAME` for a post a hook fires.
fn local_or_hook(p: &Planned) -> String {
    match &p.on_hook {
        Some(hook) => format!("on hook {hook}"),
        None => p.at.to_rfc3339(),
    }
}

/// The text, preceded by why it is rejected when the posting rules reject it.
fn marked_text(p: &Planned) -> String {
    match &p.rejected {
        Some(reason) => format!("[{reason}] {}", p.text),
        None => p.text.clone(),
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets (never inside a UTF-8 character), CRLF-terminated.
fn fold(line: &str) -> String {
    let mut folded = String::new();
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            folded.push_str("\r\n ");
            width = 1;
        }
        folded.push(c);
        width += c.len_utf8();
    }
    folded.push_str("\r\n");
    folded
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_long_lines_on_character_boundaries() {
        let line = format!("DESCRIPTION:{}", "й".repeat(60));
        let folded = fold(&line);
        for part in folded.split("\r\n").filter(|p| !p.is_empty()) {
            assert!(part.len() <= 75, "{part}");
        }
        assert_eq!(folded.replace("\r\n ", "").trim_end(), line);
    }
}

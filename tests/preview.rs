//! `crier plan` streamed: the same lines, in the same order, as the collected preview,
//! made one at a time.

use chrono::{TimeDelta, TimeZone, Utc};
use crier::preview::{self, Format, Writer};
use crier::text::TextTemplates;

fn written(format: Format, lines: &[preview::Planned]) -> String {
    let mut out = Vec::new();
    preview::write(format, lines, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The quickstart has posting rules with limits, quiet hours and a blackout, approvals,
/// a contest and calendar posts: every way a line can be delayed, split or rejected.
#[test]
fn the_streamed_quickstart_equals_the_collected_one_over_40_days() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let texts = TextTemplates::new();
    let validated = crier::playbook::load::load_and_validate_with(
        &root,
        &crier::script::ScriptEngine::new(),
        &texts,
    )
    .unwrap();
    let plan = validated.plan.expect("the quickstart is valid");
    let day_one = plan.day_one.expect("the quickstart counts days").date;
    let from = plan
        .timezone
        .from_local_datetime(&day_one.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let until = from + TimeDelta::days(40);
    let collected = preview::preview(&plan, &texts, from, until);
    assert!(collected.len() >= 40, "{}", collected.len());
    assert!(
        collected.iter().any(|line| line.rule.is_some()),
        "the rules touch some lines"
    );
    let mut streamed = Vec::new();
    preview::stream(&plan, &texts, from, until, &mut |line| {
        streamed.push(line.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(streamed, collected);
    for format in [Format::Json, Format::Csv, Format::Ics] {
        let mut out = Vec::new();
        let mut writer = Writer::new(format, &mut out);
        preview::stream(&plan, &texts, from, until, &mut |line| writer.line(line)).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            written(format, &collected),
            "{format:?}"
        );
    }
}

/// A year of 1,000 weekly posts through `crier plan --format json`: every fire, in time
/// order, one line each.
#[test]
fn a_year_of_a_thousand_cron_items_streams() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  demo: { network: console }\n",
    )
    .unwrap();
    let mut campaign = String::from("kind: campaign\nname: weekly\nposts:\n");
    for i in 0..1_000 {
        campaign.push_str(&format!(
            "  - {{ id: p{i:04}, cron: \"{} 9 * * 1\", to: demo, text: \"post {i}\" }}\n",
            i % 60
        ));
    }
    std::fs::write(dir.path().join("weekly.yaml"), campaign).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["plan", dir.path().to_str().unwrap(), "--format", "json"])
        .args(["--from", "2027-01-01 00:00", "--until", "2028-01-01 00:00"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // 2027 has 52 Mondays.
    assert_eq!(stdout.lines().count(), 52_000);
    let times: Vec<String> = stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["at"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(times[0], "2027-01-04T09:00:00+00:00");
    assert_eq!(times[51_999], "2027-12-27T09:59:00+00:00");
}

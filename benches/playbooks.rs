//! Benchmarks for the playbook language's speed goals (measured here, never asserted in tests):
//! validating 1,000 playbook files, and `plan` over a year for 1,000 cron items.
//! Run: `cargo bench --bench playbooks`.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{TimeZone, Utc};
use crier::playbook::load::load_and_validate;
use crier::preview::preview;
use crier::text::TextTemplates;
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: &str = "timezone: Europe/Kyiv\naccounts:\n  brand_mastodon: { network: console }\n  brand_bluesky: { network: console }\n";

/// 1,000 campaign files of four posts each: one-offs, a cron rule, a condition.
fn thousand_files(dir: &Path) {
    std::fs::write(dir.join("crier.yaml"), CONFIG).unwrap();
    for i in 0..1000 {
        let text = format!(
            r#"kind: campaign
name: campaign-{i}
vars: {{ product: "Product {i}", discount: {d} }}
posts:
  - id: teaser
    at: 2027-01-{day:02} 10:00
    to: [brand_mastodon, brand_bluesky]
    text: "Something is coming: {{{{ product }}}}"
  - id: launch
    at: 2027-02-{day:02} 10:00
    to: brand_mastodon
    text: "{{{{ product }}}} is here, -{{{{ discount }}}}%"
  - id: weekly
    cron: "0 12 * * MON-FRI"
    to: [brand_bluesky]
    when: 'metrics("brand_mastodon").followers > 100 && vars.discount >= 10'
    text: "{{{{ product }}}}: -{{{{ discount }}}}% today only"
    missed: once
    max_late: 2h
  - id: reminder
    at: 2027-03-{day:02} 09:30
    to: brand_mastodon
    text: "Last call for {{{{ product }}}}"
"#,
            d = i % 90,
            day = i % 28 + 1
        );
        std::fs::write(dir.join(format!("campaign-{i:04}.yaml")), text).unwrap();
    }
}

/// One campaign with 1,000 cron items at different minutes, hours and days.
fn thousand_cron_items(dir: &Path) {
    std::fs::write(dir.join("crier.yaml"), CONFIG).unwrap();
    let mut text = String::from("kind: campaign\nname: year\nvars: { product: Jacket }\nposts:\n");
    let days = ["MON-FRI", "SAT,SUN", "*", "MON", "1-5"];
    for i in 0..1000 {
        let _ = write!(
            text,
            "  - id: item-{i}\n    cron: \"{} {} * * {}\"\n    to: brand_mastodon\n    text: \"{{{{ product }}}} #{i}\"\n",
            i % 60,
            i % 24,
            days[i % days.len()]
        );
    }
    std::fs::write(dir.join("year.yaml"), text).unwrap();
}

fn benches(c: &mut Criterion) {
    let files = tempfile::tempdir().unwrap();
    thousand_files(files.path());
    let mut group = c.benchmark_group("playbooks");
    group.sample_size(10);
    group.bench_function("validate 1,000 playbook files", |b| {
        b.iter(|| {
            let validated = load_and_validate(files.path()).unwrap();
            assert!(validated.plan.is_some());
        })
    });

    let year = tempfile::tempdir().unwrap();
    thousand_cron_items(year.path());
    let plan = load_and_validate(year.path()).unwrap().plan.unwrap();
    let texts = TextTemplates::new();
    let from = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2028, 1, 1, 0, 0, 0).unwrap();
    group.bench_function("plan a year of 1,000 cron items", |b| {
        b.iter(|| {
            let planned = preview(&plan, &texts, from, until);
            assert!(planned.len() > 100_000);
        })
    });
    group.finish();
}

criterion_group!(playbook_benches, benches);
criterion_main!(playbook_benches);

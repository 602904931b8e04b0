//! Benchmarks for the contests' speed goals (measured here, never asserted in
//! tests): a draw over 1,000,000 entries, and eligibility over 100,000 entries with three
//! rhai rules, one-per-author, a hashtag, excluded accounts and denied words.
//! Run: `cargo bench --bench contest`.

use chrono::{TimeDelta, TimeZone, Utc};
use crier::contest::{Entry, draw, judge};
use crier::script::ScriptEngine;
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n";
const CONTEST: &str = r##"kind: contest
name: giveaway
account: brand
announce: { at: 2026-12-01 10:00, text: "Reply with #win" }
entries:
  from: replies
  hashtag: "#win"
  closes: 2026-12-07 20:00
  one_per: author
  eligible:
    follows_us: 'entry.author.follows_us'
    not_new: 'entry.author.age_days >= 30'
    no_links: '!entry.text.contains("http")'
  exclude: ["@staff"]
  deny_words: [spam]
draw: { at: 2026-12-07 21:00, winners: 3, reserves: 2 }
"##;

fn benches(c: &mut Criterion) {
    let keys: Vec<String> = (0..1_000_000).map(|i| format!("mastodon:{i}")).collect();
    let seed = draw::sha256_hex(b"bench");
    let mut group = c.benchmark_group("contest");
    group.sample_size(10);
    group.bench_function("draw 1,000,000 entries", |b| {
        b.iter(|| draw::draw(&seed, &keys, 3, 2))
    });

    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("giveaway.yaml"), CONTEST).unwrap();
    let plan = crier::playbook::load::load_and_validate(dir.path())
        .unwrap()
        .plan
        .unwrap();
    let contest = &plan.contests[0];
    let t = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
    let entries: Vec<Entry> = (0..100_000)
        .map(|i| Entry {
            network: "mastodon".into(),
            id: i.to_string(),
            author_id: (i % 90_000).to_string(),
            author: format!("@fan{}", i % 90_000),
            followers: Some(100),
            account_created: Some(t - TimeDelta::days(i64::from(i % 400))),
            follows_us: Some(i % 7 != 0),
            bot: Some(false),
            text: if i % 13 == 0 {
                "me please".into()
            } else {
                "#win for me".into()
            },
            at: t + TimeDelta::seconds(i64::from(i)),
            in_reply_to: Some("announce".into()),
            edited_after_close: None,
            deleted_before_close: false,
            checked_at_close: false,
        })
        .collect();
    let scripts = ScriptEngine::new();
    let announcement = vec!["announce".to_string()];
    group.bench_function("eligibility over 100,000 entries", |b| {
        b.iter(|| judge(contest, &scripts, &entries, &announcement))
    });
    group.finish();
}

criterion_group!(contest_benches, benches);
criterion_main!(contest_benches);

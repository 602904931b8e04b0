//! The crisis plans' speed goal (measured, never asserted in tests): mention events through
//! the keyword filter, the lexicon, the incremental windows and the plan's conditions, the
//! conditions evaluated once per virtual minute as `every: 1m` does (goal: at least 200,000
//! events per second).
//!
//! Run: `cargo bench --bench crisis`.

use std::time::Duration;

use crier::crisis::{CrisisSignals, KeywordFilter, Lexicon};
use crier::script::{ConditionContext, ConditionInput, ScriptEngine};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TEXTS: &[&str] = &[
    "@acme the app is down again, I can't log in. Terrible.",
    "Love the new acme update, great work!",
    "acme не працює вже годину, жахливо",
    "Спасибо acme, всё отлично работает",
    "When does the acme spring sale start?",
    "Опять acme лежит, позор",
    "not bad, acme, not bad at all",
    "unrelated chatter about the weather",
];

/// 100,000 mentions over 200 virtual minutes (500 a minute, a loud crisis).
fn events() -> Vec<(i64, String, &'static str)> {
    (0..100_000u64)
        .map(|i| {
            let at = 1_796_282_100_000 + (i as i64) * 120;
            let text = TEXTS[(i.wrapping_mul(2_654_435_761) % TEXTS.len() as u64) as usize];
            (at, format!("@user{}", i % 5_000), text)
        })
        .collect()
}

fn mentions(c: &mut Criterion) {
    let engine = ScriptEngine::new();
    let levels: Vec<_> = [
        r#"mentions("30m").negative >= 5 && spike("negative", "30m", "7d") > 3.0"#,
        r#"mentions("30m").negative >= 20 && mentions("30m").authors >= 10"#,
        r#"zscore("negative", "30m", "7d") > 3.0 || rate("negative", "10m") > 2.0"#,
    ]
    .iter()
    .map(|s| engine.compile(s, ConditionContext::CrisisWhen).unwrap())
    .collect();
    let events = events();
    let mut group = c.benchmark_group("crisis");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function(
        "100k mentions: filter, classify, windows, conditions each minute",
        |b| {
            b.iter(|| {
                let mut signals = CrisisSignals::new(
                    KeywordFilter::new(&["acme", "акме"]),
                    Box::new(Lexicon::builtin()),
                    Duration::from_secs(7 * 86_400),
                );
                let mut minute = events[0].0 / 60_000;
                let mut holding = 0u32;
                for (at, author, text) in &events {
                    if at / 60_000 != minute {
                        minute = at / 60_000;
                        signals.advance(*at);
                        let input = ConditionInput::new().with_signals(signals.source());
                        for level in &levels {
                            holding += u32::from(engine.evaluate(level, &input).unwrap());
                        }
                    }
                    signals.observe(*at, author, text);
                }
                holding
            })
        },
    );
    group.finish();
}

criterion_group!(benches, mentions);
criterion_main!(benches);

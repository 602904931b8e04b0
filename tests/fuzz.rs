//! The fuzz targets of `fuzz/` as property tests, so the stable toolchain runs them on every
//! `cargo test`: arbitrary input to the playbook loader, the cron parser, the CSV calendar
//! reader, the condition checker and the text checker must give a result or diagnostics,
//! never a panic or a hang. `CRIER_FUZZ_CASES` raises the number of cases (64 by default).

use crier::diagnostic::SourceFile;
use crier::playbook::load::load_path;
use crier::playbook::validate::validate;
use crier::schedule::{CronSchedule, calendar_source, read_calendar};
use crier::script::{ConditionContext, ScriptEngine};
use crier::text::TextTemplates;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("CRIER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// Runs `check` on `cases()` inputs from `strategy`.
fn fuzz<S: Strategy>(strategy: S, check: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&strategy, |value| {
            check(value);
            Ok(())
        })
        .unwrap();
}

/// Text built from the characters a syntax cares about, so inputs reach past the first
/// character; mixed with arbitrary strings and bytes.
fn shaped(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[{alphabet}]{{0,{max}}}")).unwrap(),
        any::<String>(),
    ]
}

const YAML: &str = "a-z:\\-\\[\\]{}#&*!|>'\"%@`, \\n\\t0-9.";

/// Loads and validates `files` (name, bytes) written to a fresh folder.
fn load_folder(files: &[(&str, &[u8])]) {
    let dir = tempfile::TempDir::new().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let loaded = load_path(dir.path()).expect("the folder loads");
    let _ = validate(loaded, &ScriptEngine::new(), &TextTemplates::new());
}

#[test]
fn playbook_loader_never_panics() {
    fuzz(
        (
            shaped(YAML, 300),
            proptest::collection::vec(any::<u8>(), 0..200),
        ),
        |(text, bytes)| {
            let playbook = format!("kind: campaign\nname: x\n{text}");
            load_folder(&[
                ("crier.yaml", text.as_bytes()),
                ("a.yaml", playbook.as_bytes()),
                ("b.yaml", &bytes),
            ]);
        },
    );
}

#[test]
fn cron_parser_never_panics() {
    fuzz(shaped("0-9*/,\\-A-Z a-z?#LW", 40), |expr| {
        let _ = CronSchedule::parse(&expr);
    });
}

#[test]
fn calendar_reader_never_panics() {
    fuzz(
        prop_oneof![
            shaped("a-z0-9,;\"\\n\\r :\\-", 200)
                .prop_map(|t| format!("at,to,text\n{t}").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..200),
        ],
        |bytes| {
            if let Ok(source) = calendar_source("posts.csv", &bytes) {
                let _ = read_calendar(&source);
            }
        },
    );
}

#[test]
fn condition_checker_never_panics() {
    let engine = ScriptEngine::new();
    let contexts = [
        ConditionContext::CampaignWhen,
        ConditionContext::ContestEligible,
        ConditionContext::RulesRequire,
        ConditionContext::CrisisWhen,
    ];
    fuzz(
        (
            shaped("a-z0-9.()\\[\\]{}\"'+\\-*/%<>=!&| ,:\\n", 120),
            0..contexts.len(),
        ),
        |(source, context)| {
            let _ = engine.compile(&source, contexts[context]);
        },
    );
}

#[test]
fn text_checker_and_renderer_never_panic() {
    let texts = TextTemplates::new();
    fuzz(
        shaped("a-z0-9{}%#()\\[\\]|~+*.,'\" =<>!\\-", 160),
        |source| {
            if texts.check(&source, &["product", "n"]).is_ok() {
                let context = serde_json::json!({ "product": "Boots", "n": 100000 });
                let _ = texts.render(&source, &context);
            }
        },
    );
}

#[test]
fn source_files_of_any_text_render_their_diagnostics() {
    fuzz(shaped(YAML, 200), |text| {
        let source = SourceFile::new("x.yaml", text.as_str());
        let (_, diagnostics) = crier::playbook::yaml::parse_documents(&source, 0);
        for diagnostic in diagnostics {
            let _ = diagnostic.to_string();
        }
    });
}

/// Loops nested up to four deep over sizes that come from data (so the load-time check cannot
/// judge them), around growing bodies: every render ends, within the budget or with its
/// reason.
#[test]
fn any_nesting_of_loops_renders_within_the_budget() {
    let body = prop_oneof![
        Just("{{ i }}".to_owned()),
        Just("{{ range(n) | join(\",\") }}".to_owned()),
        Just("{{ \"x\" * 1000 }}".to_owned()),
        Just("{% set s = range(n) | list %}".to_owned()),
    ];
    let texts = TextTemplates::new();
    // minijinja refuses a `range` of more than 100,000 items by itself.
    fuzz((1usize..5, body, 0u32..=100_000), |(depth, body, n)| {
        let source = format!(
            "{}{body}{}",
            "{% for i in range(n) %}".repeat(depth),
            "{% endfor %}".repeat(depth)
        );
        match texts.render(&source, &serde_json::json!({ "n": n })) {
            Ok(text) => assert!(text.len() <= crier::text::MAX_TEXT_BYTES),
            Err(error) => assert!(
                error.message.contains("(the limit for one text)"),
                "{source}: {error:?}"
            ),
        }
    });
}

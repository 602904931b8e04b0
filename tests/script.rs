//! Conditions (rhai): every context's variables and functions, compile errors with positions,
//! the sandbox's limits, per-evaluation data. Text templates (minijinja): rendering, filters,
//! load-time checks with positions.

use std::sync::Arc;
use std::time::Duration;

use chrono::{FixedOffset, TimeZone};
use crier::script::{
    AccountMetrics, ConditionContext, ConditionInput, MentionCounts, MetricsSource, ScriptEngine,
    ScriptError, Sentiment, SignalSource,
};
use serde_json::json;

use ConditionContext::{CampaignWhen, ContestEligible, CrisisWhen, RulesRequire};

fn engine() -> ScriptEngine {
    ScriptEngine::new()
}

fn compile_error(source: &str, context: ConditionContext) -> ScriptError {
    engine()
        .compile(source, context)
        .expect_err("condition should not compile")
}

/// The error expected at `line`:`column`; an unknown name is underlined whole, anything
/// else by one caret.
fn error(message: &str, hint: Option<&str>, line: usize, column: usize) -> ScriptError {
    let unknown_name = message
        .strip_prefix("unknown variable `")
        .and_then(|rest| rest.strip_suffix('`'));
    ScriptError {
        message: message.into(),
        hint: hint.map(str::to_owned),
        line,
        column,
        len: unknown_name.map_or(1, |name| name.chars().count()),
    }
}

fn eval(
    source: &str,
    context: ConditionContext,
    input: &ConditionInput,
) -> Result<bool, ScriptError> {
    let engine = engine();
    let condition = engine.compile(source, context).expect("condition compiles");
    engine.evaluate(&condition, input)
}

fn now() -> ConditionInput {
    // Thursday 2026-12-03 09:15:00 +02:00
    let at = FixedOffset::east_opt(2 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 12, 3, 9, 15, 0)
        .unwrap();
    ConditionInput::new().with_now(&at)
}

struct Brand;

impl MetricsSource for Brand {
    fn metrics(&self, account: &str) -> Result<Option<AccountMetrics>, String> {
        if account == "broken" {
            return Err("the store is locked".into());
        }
        Ok((account == "brand").then_some(AccountMetrics {
            followers: 150,
            posts: 12,
            likes: 40,
            reposts: 3,
            replies: 7,
        }))
    }
}

struct Outage;

impl SignalSource for Outage {
    fn mentions(&self, window: Duration) -> MentionCounts {
        let scale = (window.as_secs() / 1800) as i64;
        MentionCounts {
            total: 30 * scale,
            negative: 22 * scale,
            positive: 3 * scale,
            neutral: 5 * scale,
            authors: 17 * scale,
        }
    }

    fn spike(&self, sentiment: Sentiment, window: Duration, baseline: Duration) -> f64 {
        assert_eq!((window.as_secs(), baseline.as_secs()), (1800, 7 * 86_400));
        if sentiment == Sentiment::Negative {
            4.5
        } else {
            1.0
        }
    }

    fn zscore(&self, sentiment: Sentiment, _: Duration, _: Duration) -> f64 {
        if sentiment == Sentiment::Negative {
            3.2
        } else {
            0.1
        }
    }

    fn rate(&self, sentiment: Sentiment, window: Duration) -> f64 {
        let count = self.mentions(window);
        let n = match sentiment {
            Sentiment::Total => count.total,
            Sentiment::Negative => count.negative,
            Sentiment::Positive => count.positive,
            Sentiment::Neutral => count.neutral,
        };
        n as f64 / (window.as_secs() as f64 / 60.0)
    }
}

mod contexts {
    use super::*;

    #[test]
    fn now_has_every_field() {
        let input = now();
        let source = r#"now.iso == "2026-12-03T09:15:00+02:00" && now.hour == 9 && now.minute == 15
            && now.weekday == "THU" && now.day == 3 && now.month == 12 && now.year == 2026
            && now.timestamp == 1796282100"#;
        for context in ConditionContext::ALL {
            assert_eq!(eval(source, context, &input), Ok(true), "{context:?}");
        }
    }

    #[test]
    fn campaign_when_sees_vars_post_and_metrics() {
        let input = now()
            .with_json(
                "vars",
                &json!({ "product": "Winter Jacket", "discount": 30 }),
            )
            .with_json(
                "post",
                &json!({ "id": "daily-deal", "text": "-30% today", "to": ["brand", "demo"] }),
            )
            .with_metrics(Arc::new(Brand));
        let ok = |source| eval(source, CampaignWhen, &input);
        assert_eq!(
            ok(r#"metrics("brand").followers > 100 && vars.discount >= 10"#),
            Ok(true)
        );
        assert_eq!(
            ok(
                r#"metrics("brand").posts == 12 && metrics("brand").likes == 40 && metrics("brand").reposts == 3 && metrics("brand").replies == 7"#
            ),
            Ok(true)
        );
        assert_eq!(
            ok(r#"metrics("nobody").followers == 0 && metrics("nobody").likes == 0"#),
            Ok(true)
        );
        // A snapshot that cannot be read is an error, never zeros.
        let failed = ok(r#"metrics("broken").followers == 0"#)
            .unwrap_err()
            .message;
        assert!(
            failed.contains("cannot read the metrics of `broken`: the store is locked"),
            "{failed}"
        );
        assert_eq!(
            ok(
                r#"post.id == "daily-deal" && "demo" in post.to && post.text.contains("30%") && vars.product.starts_with("Winter")"#
            ),
            Ok(true)
        );
    }

    #[test]
    fn metrics_without_a_source_are_zero() {
        let input = now()
            .with_json("vars", &json!({}))
            .with_json("post", &json!({}));
        assert_eq!(
            eval(r#"metrics("brand").followers == 0"#, CampaignWhen, &input),
            Ok(true)
        );
    }

    #[test]
    fn contest_eligible_sees_entry_and_contest() {
        let input = now()
            .with_json("contest", &json!({ "name": "december-giveaway" }))
            .with_json(
                "entry",
                &json!({
                    "id": "e1", "network": "mastodon", "text": "#warmwinter me please",
                    "at": "2026-12-03T09:13:30+02:00",
                    "author": { "handle": "@bo@fosstodon.org", "followers": 80, "age_days": 400,
                                "follows_us": true, "mentions": ["@brand"] }
                }),
            );
        let ok = |source| eval(source, ContestEligible, &input);
        assert_eq!(ok("entry.author.follows_us"), Ok(true));
        assert_eq!(ok("entry.author.age_days >= 30"), Ok(true));
        assert_eq!(ok(r#"!entry.text.contains("http")"#), Ok(true));
        assert_eq!(
            ok(
                r#"entry.id == "e1" && entry.network == "mastodon" && entry.at.starts_with("2026-12-03")
                && entry.author.handle.ends_with(".org") && entry.author.followers < 100
                && entry.author.mentions.some(|m| m == "@brand") && contest.name == "december-giveaway""#
            ),
            Ok(true)
        );
    }

    #[test]
    fn rules_require_sees_post_and_counts_graphemes() {
        let post = |text: &str| {
            now().with_json(
                "post",
                &json!({ "text": text, "account": "brand", "campaign": "winter-sale",
                         "network": { "name": "bluesky", "max_chars": 5 } }),
            )
        };
        let fits = "post.text.graphemes() <= post.network.max_chars";
        // Five user-perceived characters, many more bytes and chars.
        assert_eq!(eval(fits, RulesRequire, &post("👍🏽é👨‍👩‍👧ab")), Ok(true));
        assert_eq!(eval(fits, RulesRequire, &post("abcdef")), Ok(false));
        assert_eq!(
            eval(
                r##"post.text.to_lower().contains("#") && post.text.len() == 3 && post.account == "brand"
                    && post.campaign == "winter-sale" && post.network.name == "bluesky""##,
                RulesRequire,
                &post("#AB")
            ),
            Ok(true)
        );
    }

    #[test]
    fn crisis_when_sees_signal_and_mention_functions() {
        let input = now()
            .with_json("signal", &json!({ "negative": 22 }))
            .with_signals(Arc::new(Outage));
        let ok = |source| eval(source, CrisisWhen, &input);
        assert_eq!(
            ok(r#"mentions("30m").negative >= 5 && spike("negative", "30m", "7d") > 3.0"#),
            Ok(true)
        );
        assert_eq!(ok(r#"mentions("60m").negative < 3"#), Ok(false));
        assert_eq!(
            ok(
                r#"mentions("30m").total == 30 && mentions("30m").positive == 3 && mentions("30m").neutral == 5 && mentions("30m").authors == 17"#
            ),
            Ok(true)
        );
        assert_eq!(
            ok(r#"zscore("negative", "30m", "7d") > 3.0 && zscore("total", "1h", "1w") < 1.0"#),
            Ok(true)
        );
        assert_eq!(
            ok(r#"rate("negative", "30m") > 0.7 && rate("negative", "30m") < 0.8"#),
            Ok(true)
        );
        assert_eq!(ok("signal.negative == 22"), Ok(true));
    }

    #[test]
    fn per_evaluation_data_without_recompiling() {
        let engine = engine();
        let condition = engine
            .compile(r#"mentions("30m").negative >= 20"#, CrisisWhen)
            .unwrap();
        let quiet = now().with_json("signal", &json!({}));
        let loud = quiet.clone().with_signals(Arc::new(Outage));
        assert_eq!(engine.evaluate(&condition, &quiet), Ok(false));
        assert_eq!(engine.evaluate(&condition, &loud), Ok(true));
        assert_eq!(engine.evaluate(&condition, &quiet), Ok(false));
    }

    #[test]
    fn engine_is_shared_across_threads() {
        let engine = Arc::new(engine());
        let condition = Arc::new(engine.compile("vars.n > 1", CampaignWhen).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let (engine, condition) = (Arc::clone(&engine), Arc::clone(&condition));
                std::thread::spawn(move || {
                    let input = now()
                        .with_json("vars", &json!({ "n": n }))
                        .with_json("post", &json!({}));
                    engine.evaluate(&condition, &input)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, [Ok(false), Ok(false), Ok(true), Ok(true)]);
    }
}

mod compile_errors {
    use super::*;

    #[test]
    fn unknown_variable_with_hint_and_position() {
        assert_eq!(
            compile_error("entry.author.follows_us && folows_us", ContestEligible),
            error(
                "unknown variable `folows_us`",
                Some("variables available here: `now`, `entry`, `contest`"),
                1,
                28
            )
        );
        assert_eq!(
            compile_error("vars.discount > 10 && varz.product == \"x\"", CampaignWhen),
            error(
                "unknown variable `varz`",
                Some("did you mean `vars`?"),
                1,
                23
            )
        );
    }

    #[test]
    fn variables_of_other_contexts_are_unknown() {
        assert_eq!(
            compile_error("entry.text.len() > 3", RulesRequire),
            error(
                "unknown variable `entry`",
                Some("variables available here: `now`, `post`"),
                1,
                1
            )
        );
        assert_eq!(
            compile_error("vars.x == 1", CrisisWhen).message,
            "unknown variable `vars`"
        );
    }

    #[test]
    fn unknown_variable_in_a_multi_line_expression() {
        let source = "post.text.graphemes() <= post.network.max_chars\n  && post.text.contains(\"#\")\n  && posst.account == \"brand\"";
        assert_eq!(
            compile_error(source, RulesRequire),
            error(
                "unknown variable `posst`",
                Some("did you mean `post`?"),
                3,
                6
            )
        );
    }

    #[test]
    fn unknown_function_with_hint_and_position() {
        assert_eq!(
            compile_error("mention(\"30m\").negative >= 5", CrisisWhen),
            error(
                "unknown function `mention`",
                Some("did you mean `mentions`?"),
                1,
                1
            )
        );
        assert_eq!(
            compile_error(
                "signal.total > 1 &&\n  mentons(\"30m\").total > 3",
                CrisisWhen
            ),
            error(
                "unknown function `mentons`",
                Some("did you mean `mentions`?"),
                2,
                3
            )
        );
    }

    #[test]
    fn unknown_method_with_hint_and_position() {
        assert_eq!(
            compile_error("post.text.contans(\"#\")", RulesRequire),
            error(
                "unknown function `contans`",
                Some("did you mean `contains`?"),
                1,
                11
            )
        );
        assert_eq!(
            compile_error("post.text.grapheme() < 5", RulesRequire),
            error(
                "unknown function `grapheme`",
                Some("did you mean `graphemes`?"),
                1,
                11
            )
        );
    }

    #[test]
    fn functions_of_other_contexts_are_unknown() {
        assert_eq!(
            compile_error("metrics(\"brand\").followers > 1", CrisisWhen),
            error(
                "unknown function `metrics`",
                Some("`metrics` is only available in campaign `when:` conditions"),
                1,
                1
            )
        );
        assert_eq!(
            compile_error(
                "post.text.len() > 1 && mentions(\"1h\").total > 1",
                CampaignWhen
            )
            .message,
            "unknown function `mentions`"
        );
    }

    #[test]
    fn literal_windows_and_sentiments_are_checked() {
        assert_eq!(
            compile_error("mentions(\"30x\").total > 1", CrisisWhen),
            error(
                "invalid window `30x`",
                Some("a window is a number and a unit (s, m, h, d, w), like `30m`, `2h` or `7d`"),
                1,
                10
            )
        );
        assert_eq!(
            compile_error("spike(\"negative\", \"30m\", \"week\") > 3.0", CrisisWhen),
            error(
                "invalid window `week`",
                Some("a window is a number and a unit (s, m, h, d, w), like `30m`, `2h` or `7d`"),
                1,
                26
            )
        );
        assert_eq!(
            compile_error("spike(\"negtive\", \"30m\", \"7d\") > 3.0", CrisisWhen),
            error(
                "unknown sentiment `negtive`",
                Some("did you mean `negative`?"),
                1,
                7
            )
        );
        assert_eq!(
            compile_error("rate(\"angry\", \"5m\") > 1.0", CrisisWhen),
            error(
                "unknown sentiment `angry`",
                Some("one of `total`, `negative`, `positive`, `neutral`"),
                1,
                6
            )
        );
    }

    #[test]
    fn windows_from_values_are_checked_at_evaluation() {
        let input = now().with_json("signal", &json!({ "window": "soon" }));
        assert_eq!(
            eval("mentions(signal.window).total > 1", CrisisWhen, &input),
            Err(error("invalid window `soon`", None, 1, 1))
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        assert_eq!(
            compile_error("post.text.len() >", RulesRequire),
            error("condition is incomplete", None, 1, 18)
        );
        assert_eq!(
            compile_error("post.text.len() > )", RulesRequire),
            error("unexpected `)`", None, 1, 19)
        );
        assert_eq!(
            compile_error("  ", RulesRequire),
            error("condition is empty", None, 1, 1)
        );
    }

    #[test]
    fn statements_are_not_conditions() {
        assert_eq!(
            compile_error("let x = 1; x", RulesRequire).message,
            "unexpected `let`"
        );
    }

    #[test]
    fn eval_and_printing_are_unavailable() {
        assert_eq!(
            compile_error("eval(\"true\")", RulesRequire),
            error("`eval` is not available in conditions", None, 1, 1)
        );
        assert_eq!(
            compile_error("print(\"hi\") == ()", RulesRequire).message,
            "`print` is not available in conditions"
        );
        assert_eq!(
            compile_error("debug(\"hi\") == ()", RulesRequire).message,
            "`debug` is not available in conditions"
        );
        // Not through a function pointer either.
        let input = now().with_json("post", &json!({}));
        assert!(eval("Fn(\"eval\").call(\"true\")", RulesRequire, &input).is_err());
    }

    #[test]
    fn obvious_non_bool_results_are_rejected() {
        let hint = Some("compare values, e.g. `post.text.len() > 0`");
        assert_eq!(
            compile_error("\"yes\"", RulesRequire),
            error(
                "condition must return true or false, got the text \"yes\"",
                hint,
                1,
                1
            )
        );
        assert_eq!(
            compile_error("42", RulesRequire),
            error(
                "condition must return true or false, got the number 42",
                hint,
                1,
                1
            )
        );
        assert_eq!(
            compile_error("40 + 2", RulesRequire).message,
            "condition must return true or false, got the number 42"
        );
        assert_eq!(
            compile_error("post", RulesRequire),
            error(
                "condition must return true or false, got the map `post`",
                hint,
                1,
                1
            )
        );
        assert_eq!(
            compile_error("[true]", RulesRequire).message,
            "condition must return true or false, got an array"
        );
    }
}

mod evaluation {
    use super::*;

    fn post(text: &str) -> ConditionInput {
        now().with_json(
            "post",
            &json!({ "text": text, "network": { "max_chars": 500 } }),
        )
    }

    #[test]
    fn non_bool_results_are_errors() {
        let hint = Some("compare values, e.g. `post.text.len() > 0`");
        assert_eq!(
            eval("post.text.len()", RulesRequire, &post("abc")),
            Err(error(
                "condition must return true or false, got the number 3",
                hint,
                0,
                0
            ))
        );
        assert_eq!(
            eval("post.text", RulesRequire, &post("abc")),
            Err(error(
                "condition must return true or false, got the text \"abc\"",
                hint,
                0,
                0
            ))
        );
    }

    #[test]
    fn missing_fields_are_errors() {
        assert_eq!(
            eval("post.txt == \"a\"", RulesRequire, &post("a")),
            Err(error("unknown field `txt`", None, 1, 6))
        );
    }

    #[test]
    fn type_errors_are_errors() {
        assert_eq!(
            eval(
                "post.text.len() > 1 && post.text",
                RulesRequire,
                &post("abc")
            ),
            Err(error("expected `bool`, got `string`", None, 1, 28))
        );
        assert_eq!(
            compile_error("post.text.len() > 1 && \"a\"", RulesRequire),
            error("expecting a boolean expression, not a string", None, 1, 24)
        );
    }

    #[test]
    fn operation_limit_stops_runaway_closures() {
        // rhai's own count misses work inside closures run by `map`; crier's does not.
        let source = format!("post.text.to_chars(){}.len() > 0", ".map(|c| c)".repeat(14));
        let result = eval(&source, RulesRequire, &post(&"x".repeat(9_000)));
        assert_eq!(
            result.unwrap_err().message,
            "condition exceeded the operation limit"
        );
    }

    #[test]
    fn operation_limit_stops_nested_closures() {
        let source = "post.text.to_chars().all(|a| post.text.to_chars().all(|b| post.text.to_chars().all(|c| a == b)))";
        let result = eval(source, RulesRequire, &post(&"x".repeat(5_000)));
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn string_size_limit_is_an_error() {
        assert_eq!(
            eval(
                "post.text + post.text == \"\"",
                RulesRequire,
                &post(&"x".repeat(40_000))
            ),
            Err(error(
                "condition exceeded the size limit (length of string)",
                None,
                1,
                11
            ))
        );
    }

    #[test]
    fn counters_restart_for_each_evaluation() {
        let engine = engine();
        let condition = engine
            .compile("post.text.to_chars().map(|c| c).len() > 0", RulesRequire)
            .unwrap();
        let input = post(&"x".repeat(5_000));
        for _ in 0..50 {
            assert_eq!(engine.evaluate(&condition, &input), Ok(true));
        }
    }
}

#[test]
#[ignore = "timing, run with --release"]
fn perf_simple_condition() {
    let engine = engine();
    let input = now()
        .with_json(
            "vars",
            &json!({ "product": "Winter Jacket", "discount": 30 }),
        )
        .with_json(
            "post",
            &json!({ "id": "daily-deal", "text": "-30% today", "to": ["brand"] }),
        )
        .with_metrics(Arc::new(Brand));
    for source in [
        r#"metrics("brand").followers > 100 && vars.discount >= 10"#,
        "true",
        "vars.discount >= 10",
        r#"metrics("brand").followers > 100"#,
        r#"metrics("brand") != ()"#,
        r#""abc".graphemes() > 0"#,
        r#"now.hour > 0"#,
        r#"post.id == "daily-deal""#,
    ] {
        let condition = engine.compile(source, CampaignWhen).unwrap();
        let n = 1_000_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(engine.evaluate(&condition, &input), Ok(true));
        }
        let elapsed = started.elapsed();
        println!(
            "{:>10.0} evaluations/s  {source}",
            n as f64 / elapsed.as_secs_f64()
        );
    }
    let mut raw = rhai::Engine::new();
    raw.register_fn("f", |_: &str| 1_i64);
    raw.register_fn("g", |_: &str| {
        let mut m = rhai::Map::new();
        m.insert("followers".into(), rhai::Dynamic::from_int(150));
        m
    });
    let mut raw_raw = rhai::Engine::new_raw();
    raw_raw.register_fn("f", |_: &str| 1_i64);
    for source in ["f(\"a\") > 0"] {
        let ast = raw_raw.compile_expression(source).unwrap();
        let n = 1_000_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(raw_raw.eval_ast::<bool>(&ast).unwrap());
        }
        println!(
            "{:>10.0} raw_raw evaluations/s  {source}",
            n as f64 / started.elapsed().as_secs_f64()
        );
    }
    for source in [
        "true",
        "m.followers > 100",
        "m2.followers > 100",
        "f(\"a\") > 0",
        "g(\"a\").followers > 0",
        "\"abc\".len() > 0",
    ] {
        let ast = raw.compile_expression(source).unwrap();
        let mut scope = rhai::Scope::new();
        let mut m = rhai::Map::new();
        m.insert("followers".into(), rhai::Dynamic::from_int(150));
        scope.push_constant("m", m.clone());
        scope.push_constant_dynamic("m2", rhai::Dynamic::from_map(m).into_shared());
        let n = 1_000_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(raw.eval_ast_with_scope::<bool>(&mut scope, &ast).unwrap());
        }
        let elapsed = started.elapsed();
        println!(
            "{:>10.0} raw evaluations/s  {source}",
            n as f64 / elapsed.as_secs_f64()
        );
    }
}

mod texts {
    use crier::text::{TextError, TextTemplates};
    use serde_json::json;

    fn error(
        message: &str,
        hint: Option<&str>,
        line: usize,
        column: usize,
        len: usize,
    ) -> TextError {
        TextError {
            message: message.into(),
            hint: hint.map(str::to_owned),
            line,
            column,
            len,
        }
    }

    fn render(source: &str, context: serde_json::Value) -> Result<String, TextError> {
        TextTemplates::new().render(source, &context)
    }

    fn check(source: &str, known: &[&str]) -> Result<(), TextError> {
        TextTemplates::new().check(source, known)
    }

    #[test]
    fn renders_variables() {
        assert_eq!(
            render(
                "{{ product }}: -{{ discount }}% today only",
                json!({ "product": "Winter Jacket", "discount": 30 })
            ),
            Ok("Winter Jacket: -30% today only".into())
        );
    }

    #[test]
    fn renders_the_same_source_many_times_with_different_contexts() {
        let texts = TextTemplates::new();
        for n in 0..100 {
            assert_eq!(
                texts.render("#{{ n }}", &json!({ "n": n })),
                Ok(format!("#{n}"))
            );
        }
    }

    #[test]
    fn texts_are_never_html_escaped() {
        assert_eq!(
            render(
                "<b>{{ t }}</b> see index.html",
                json!({ "t": "Tom & Jerry's" })
            ),
            Ok("<b>Tom & Jerry's</b> see index.html".into())
        );
    }

    #[test]
    fn mentions_filter() {
        let text = "Congratulations {{ winners | mentions }}!";
        assert_eq!(
            render(
                text,
                json!({ "winners": ["ann", "@bo@fosstodon.org", "cy"] })
            ),
            Ok("Congratulations @ann, @bo@fosstodon.org and @cy!".into())
        );
        assert_eq!(
            render(
                text,
                json!({ "winners": [{ "handle": "ann" }, { "author": { "handle": "@bo" } }] })
            ),
            Ok("Congratulations @ann and @bo!".into())
        );
        assert_eq!(
            render(text, json!({ "winners": ["ann"] })),
            Ok("Congratulations @ann!".into())
        );
        assert_eq!(
            render(text, json!({ "winners": [] })),
            Ok("Congratulations !".into())
        );
        assert_eq!(
            render(text, json!({ "winners": [42] }))
                .unwrap_err()
                .message,
            "invalid operation: `mentions` needs handles or maps with `handle`, got 42"
        );
    }

    #[test]
    fn hashtag_filter() {
        assert_eq!(
            render("{{ 'Winter Sale' | hashtag }}", json!({})),
            Ok("#WinterSale".into())
        );
        assert_eq!(
            render(
                "{{ name | hashtag }}",
                json!({ "name": "black friday: 2026!" })
            ),
            Ok("#BlackFriday2026".into())
        );
        assert_eq!(
            render("{{ 'зимовий розпродаж' | hashtag }}", json!({})),
            Ok("#ЗимовийРозпродаж".into())
        );
    }

    #[test]
    fn duration_filter() {
        assert_eq!(
            render("{{ 5400 | duration }}", json!({})),
            Ok("1h30m".into())
        );
        assert_eq!(
            render("{{ s | duration }}", json!({ "s": 90061 })),
            Ok("1d1h1m1s".into())
        );
        assert_eq!(render("{{ 0 | duration }}", json!({})), Ok("0s".into()));
        assert_eq!(render("{{ 45 | duration }}", json!({})), Ok("45s".into()));
    }

    #[test]
    fn built_in_filters_still_work() {
        assert_eq!(
            render(
                "{{ product | upper }} {{ tags | join(' ') }}",
                json!({ "product": "jacket", "tags": ["#a", "#b"] })
            ),
            Ok("JACKET #a #b".into())
        );
    }

    #[test]
    fn unknown_variable_at_render_is_an_error() {
        assert_eq!(
            render("Hi {{ prodcut }}!", json!({ "product": "x" })),
            Err(error("`prodcut` has no value", None, 1, 7, 7))
        );
    }

    #[test]
    fn check_accepts_known_names() {
        let text = "{% set total = winners | length %}{% for w in winners %}{{ loop.index }}. {{ w | mentions }}{% endfor %} {{ total }} {{ range(3) | list | length }} {{ product | hashtag }}";
        assert_eq!(check(text, &["winners", "product"]), Ok(()));
    }

    #[test]
    fn check_finds_unknown_variables() {
        assert_eq!(
            check(
                "{{ product }}: -{{ discount }}%\n{{ prodcut }}",
                &["product", "discount"]
            ),
            Err(error(
                "unknown variable `prodcut`",
                Some("did you mean `product`?"),
                2,
                4,
                7
            ))
        );
        assert_eq!(
            check("Hello {{ nobody }}", &["product"]),
            Err(error(
                "unknown variable `nobody`",
                Some("variables available here: `product`"),
                1,
                10,
                6
            ))
        );
    }

    #[test]
    fn loop_variables_are_only_known_inside_the_loop() {
        assert_eq!(
            check("{% for w in winners %}{{ w }}{% endfor %}", &["winners"]),
            Ok(())
        );
        assert_eq!(
            check(
                "{% for w in winners %}{{ w }}{% endfor %}{{ w }}",
                &["winners"]
            ),
            Err(error(
                "unknown variable `w`",
                Some("variables available here: `winners`"),
                1,
                45,
                1
            ))
        );
        assert_eq!(
            check("{{ loop.index }}", &["winners"]).unwrap_err().message,
            "unknown variable `loop`"
        );
    }

    #[test]
    fn check_finds_unknown_filters() {
        assert_eq!(
            check("Congratulations {{ winners | mention }}!", &["winners"]),
            Err(error(
                "unknown filter `mention`",
                Some("did you mean `mentions`?"),
                1,
                30,
                7
            ))
        );
        assert_eq!(
            check("{{ a }}\n  {{ a | upper | hashtg }}", &["a"]),
            Err(error(
                "unknown filter `hashtg`",
                Some("did you mean `hashtag`?"),
                2,
                18,
                6
            ))
        );
    }

    #[test]
    fn check_finds_unknown_tests_and_functions() {
        assert_eq!(
            check("{% if n is evn %}x{% endif %}", &["n"]),
            Err(error(
                "unknown test `evn`",
                Some("did you mean `even`?"),
                1,
                12,
                3
            ))
        );
        assert_eq!(
            check("{% for i in rang(3) %}{{ i }}{% endfor %}", &[]),
            Err(error(
                "unknown function `rang`",
                Some("did you mean `range`?"),
                1,
                13,
                4
            ))
        );
        assert_eq!(
            check("{{ debug() }}", &[]).unwrap_err().message,
            "unknown function `debug`"
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let fault = check("Hello\n{{ product }", &["product"]).unwrap_err();
        assert_eq!((fault.line, fault.column), (2, 12), "{fault:?}");
        assert!(
            fault.message.starts_with("syntax error: "),
            "{}",
            fault.message
        );
        let fault = render("{% if x %}never closed", json!({ "x": true })).unwrap_err();
        assert!(
            fault.message.starts_with("syntax error: "),
            "{}",
            fault.message
        );
        assert_eq!(fault.line, 1);
    }
}

/// Only the variables a condition reads are put in its scope; one read only inside a
/// closure (captured from outside) must still be there.
#[test]
fn variables_read_inside_closures_are_in_scope() {
    let engine = engine();
    let input = now()
        .with_json("vars", &json!({ "account": "brand" }))
        .with_json(
            "post",
            &json!({ "id": "p", "text": "t", "to": ["brand", "other"] }),
        );
    let condition = engine
        .compile(
            "post.to.filter(|a| a == vars.account).len() == 1",
            ConditionContext::CampaignWhen,
        )
        .unwrap();
    assert_eq!(engine.evaluate(&condition, &input), Ok(true));
    let condition = engine
        .compile(
            "now.hour >= 0 && post.id == \"p\"",
            ConditionContext::CampaignWhen,
        )
        .unwrap();
    assert_eq!(engine.evaluate(&condition, &input), Ok(true));
}

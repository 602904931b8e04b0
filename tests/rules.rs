//! Posting rules, the content part: deny words, `require:`, `append:`, UTM parameters and
//! each network's text limit; in the engine (a rejected post fails its run and sends
//! nothing) and in `crier plan`.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use crier::engine::{Engine, EngineParts};
use crier::playbook::plan::Plan;
use crier::playbook::raw::Network;
use crier::rules::{self, Rejection, Version};
use crier::script::ScriptEngine;
use crier::store::{HistoryFilter, RunState, SqliteStore, Store};
use crier::text::{Renderer, TextTemplates};
use tempfile::TempDir;

const CONFIG: &str =
    "timezone: UTC\naccounts:\n  demo: { network: console }\n  other: { network: console }\n";

fn plan_from(files: &[(&str, &str)]) -> (TempDir, Arc<Plan>) {
    crate::support::playbooks::valid_plan(CONFIG, files)
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

const BRAND: &str = r##"kind: rules
name: brand-guidelines
applies_to: all
content:
  deny_words: [cheap, Знижка]
  require:
    has_hashtag: 'post.text.contains("#")'
  append: " #warmwinter"
  utm: { source: "{{ network }}", medium: social, campaign: "{{ campaign }}" }
"##;

fn campaign(text: &str) -> String {
    format!(
        "kind: campaign\nname: sale\nposts:\n  - id: deal\n    at: 2026-12-01 10:00\n    to: [demo, other]\n    text: {text:?}\n"
    )
}

fn check(files: &[(&str, &str)], text: &str) -> Result<Vec<Version>, Rejection> {
    let (_dir, plan) = plan_from(files);
    rules::check_post(
        &plan,
        &ScriptEngine::new(),
        Renderer::Inline(&TextTemplates::new()),
        "sale",
        &["demo".to_string(), "other".to_string()],
        text,
        at(10, 0).with_timezone(&chrono_tz::UTC),
    )
    .expect("an inline render is never stopped")
}

// ---- deny words --------------------------------------------------------------------------

#[test]
fn deny_words_are_whole_words_in_any_case() {
    let words = vec!["cheap".to_string(), "art".to_string()];
    assert_eq!(rules::denied_word("So CHEAP today!", &words), Some("cheap"));
    assert_eq!(rules::denied_word("Cheap.", &words), Some("cheap"));
    assert_eq!(rules::denied_word("(cheap)", &words), Some("cheap"));
    assert_eq!(rules::denied_word("cheaper prices", &words), None);
    assert_eq!(rules::denied_word("Come to the party", &words), None);
    assert_eq!(rules::denied_word("smart start", &words), None);
    assert_eq!(rules::denied_word("pop art, finally", &words), Some("art"));
    assert_eq!(rules::denied_word("art_deco", &words), None);
}

#[test]
fn deny_words_in_cyrillic_text() {
    let words = vec!["Знижка".to_string()];
    assert_eq!(
        rules::denied_word("Велика знижка сьогодні", &words),
        Some("Знижка")
    );
    assert_eq!(rules::denied_word("ЗНИЖКА!", &words), Some("Знижка"));
    assert_eq!(rules::denied_word("Знижка", &words), Some("Знижка"));
    // Part of a longer word, before or after: not the word.
    assert_eq!(rules::denied_word("знижками", &words), None);
    assert_eq!(rules::denied_word("суперзнижка", &words), None);
    let words = vec!["знижка".to_string()];
    assert_eq!(rules::denied_word("Знижка 30%", &words), Some("знижка"));
}

#[test]
fn a_denied_word_rejects_the_post_naming_rule_and_word() {
    let error = check(&[("brand.yaml", BRAND)], "So cheap! #deal").unwrap_err();
    assert_eq!(
        error.to_string(),
        "rejected by rules `brand-guidelines`: the word `cheap` is denied"
    );
    let error = check(&[("brand.yaml", BRAND)], "Велика ЗНИЖКА #deal").unwrap_err();
    assert_eq!(error.rule, "brand-guidelines");
    assert_eq!(error.problem, "the word `Знижка` is denied");
}

// ---- append and require ------------------------------------------------------------------

#[test]
fn append_adds_the_text_once() {
    assert_eq!(rules::append("Warm", " #warmwinter"), "Warm #warmwinter");
    assert_eq!(
        rules::append("Warm", "\n\n#warmwinter"),
        "Warm\n\n#warmwinter"
    );
    assert_eq!(
        rules::append("Warm #warmwinter", " #warmwinter"),
        "Warm #warmwinter"
    );
}

#[test]
fn appends_of_several_rule_sets_follow_playbook_order() {
    let second = "kind: rules\nname: legal\napplies_to: [sale]\ncontent:\n  append: \"\\n(ad)\"\n";
    let versions = check(&[("a.yaml", BRAND), ("b.yaml", second)], "Jackets").unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].text, "Jackets #warmwinter\n(ad)");
    assert_eq!(versions[0].accounts, ["demo", "other"]);
    assert_eq!(versions[0].changed_by, ["brand-guidelines", "legal"]);
}

#[test]
fn rules_apply_by_account_or_campaign_only() {
    let only_other =
        "kind: rules\nname: other-only\napplies_to: [other]\ncontent:\n  append: \" #o\"\n";
    let versions = check(&[("r.yaml", only_other)], "Hi").unwrap();
    let texts: Vec<(&[String], &str)> = versions
        .iter()
        .map(|v| (&v.accounts[..], v.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (&["demo".to_string()][..], "Hi"),
            (&["other".to_string()][..], "Hi #o")
        ]
    );
    let elsewhere =
        "kind: rules\nname: elsewhere\napplies_to: [news]\ncontent:\n  deny_words: [hi]\n";
    assert_eq!(check(&[("r.yaml", elsewhere)], "Hi").unwrap()[0].text, "Hi");
}

#[test]
fn a_false_require_rejects_naming_the_condition() {
    let strict = "kind: rules\nname: strict\napplies_to: all\ncontent:\n  require:\n    short: 'post.text.graphemes() <= 5'\n    from_console: 'post.network.name == \"console\"'\n";
    assert!(check(&[("r.yaml", strict)], "Hello").is_ok());
    let error = check(&[("r.yaml", strict)], "Hello!").unwrap_err();
    assert_eq!(
        error.to_string(),
        "rejected by rules `strict`: `short` does not hold for `demo`"
    );
    // `require` sees the final text: the brand's append gives it its hashtag.
    assert!(check(&[("brand.yaml", BRAND)], "No tag").is_ok());
}

#[test]
fn a_failing_require_rejects_naming_the_condition() {
    let failing = "kind: rules\nname: strict\napplies_to: all\ncontent:\n  require:\n    broken: 'post.text.len() / 0 > 1'\n";
    let error = check(&[("r.yaml", failing)], "Hello").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("rejected by rules `strict`: `broken` could not be evaluated for `demo`"),
        "{error}"
    );
}

// ---- UTM ---------------------------------------------------------------------------------

fn utm() -> Vec<(String, String)> {
    vec![
        ("source".into(), "mastodon".into()),
        ("medium".into(), "social".into()),
    ]
}

#[test]
fn utm_is_added_to_links_without_a_query() {
    assert_eq!(
        rules::add_utm("See https://shop.example/jackets.", &utm()),
        "See https://shop.example/jackets?utm_source=mastodon&utm_medium=social."
    );
    assert_eq!(
        rules::add_utm("(http://a.example/x) and HTTPS://b.example", &utm()),
        "(http://a.example/x?utm_source=mastodon&utm_medium=social) and HTTPS://b.example?utm_source=mastodon&utm_medium=social"
    );
}

#[test]
fn utm_keeps_existing_query_strings_and_fragments() {
    assert_eq!(
        rules::add_utm("https://shop.example/p?a=1", &utm()),
        "https://shop.example/p?a=1&utm_source=mastodon&utm_medium=social"
    );
    assert_eq!(
        rules::add_utm("https://shop.example/p?a=1#sizes", &utm()),
        "https://shop.example/p?a=1&utm_source=mastodon&utm_medium=social#sizes"
    );
    assert_eq!(
        rules::add_utm("https://en.wikipedia.org/wiki/Coat_(clothing)", &utm()),
        "https://en.wikipedia.org/wiki/Coat_(clothing)?utm_source=mastodon&utm_medium=social"
    );
}

#[test]
fn utm_does_not_duplicate_a_parameter_already_present() {
    assert_eq!(
        rules::add_utm("https://shop.example/?utm_source=newsletter&a=1", &utm()),
        "https://shop.example/?utm_source=newsletter&a=1&utm_medium=social"
    );
    let both = "https://shop.example/?utm_medium=x&utm_source=y";
    assert_eq!(rules::add_utm(both, &utm()), both);
}

#[test]
fn utm_leaves_non_links_alone_and_encodes_values() {
    let text = "mail us: hi@shop.example, ftp://old.example, http:// nothing";
    assert_eq!(rules::add_utm(text, &utm()), text);
    assert_eq!(
        rules::add_utm(
            "https://s.example",
            &[("campaign".into(), "winter sale & more".into())]
        ),
        "https://s.example?utm_campaign=winter%20sale%20%26%20more"
    );
}

#[test]
fn utm_templates_see_network_and_campaign() {
    let versions = check(&[("brand.yaml", BRAND)], "Shop https://s.example/x?a=1 now").unwrap();
    assert_eq!(
        versions[0].text,
        "Shop https://s.example/x?a=1&utm_campaign=sale&utm_medium=social&utm_source=console now #warmwinter"
    );
}

// ---- text limits -------------------------------------------------------------------------

#[test]
fn bluesky_counts_graphemes_with_emoji_and_combining_marks() {
    // A family emoji (7 code points), a flag (2), é as e + U+0301: 3 graphemes.
    let text = "👨‍👩‍👧‍👦🇺🇦e\u{301}";
    assert_eq!(Network::Bluesky.count(text), 3);
    assert_eq!(Network::Telegram.count(text), (4 * 2 + 3) + 2 * 2 + 2);
    let limit = Network::Bluesky.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (300, "graphemes"));
    assert!(Network::Bluesky.count(&"👍🏽".repeat(300)) <= limit.max);
    assert!(Network::Bluesky.count(&"e\u{301}".repeat(301)) > limit.max);
}

#[test]
fn mastodon_counts_every_link_as_23() {
    let long = format!("https://shop.example/{}", "x".repeat(200));
    assert_eq!(Network::Mastodon.count(&format!("Go {long}")), 3 + 23);
    assert_eq!(Network::Mastodon.count("http://a.b"), 23);
    assert_eq!(Network::Mastodon.count("hi @ann@mastodon.social"), 7);
    assert_eq!(Network::Mastodon.text_limit().unwrap().max, 500);
    // Two links of 221 characters each count 46 in all: the text fits in 500.
    let text = format!("{} {long} {long}", "a".repeat(450));
    assert_eq!(Network::Mastodon.count(&text), 450 + 2 + 46);
}

#[test]
fn the_other_networks_limits() {
    let limits: Vec<Option<usize>> = [
        Network::Telegram,
        Network::Discord,
        Network::Slack,
        Network::Console,
        Network::Webhook,
    ]
    .into_iter()
    .map(|n| n.text_limit().map(|l| l.max))
    .collect();
    assert_eq!(limits, [Some(4096), Some(2000), Some(40_000), None, None]);
}

// ---- the engine and the plan ------------------------------------------------------------

#[test]
fn a_denied_post_is_rejected_with_the_rule_named_and_sends_nothing() {
    let (_dir, plan) = plan_from(&[
        ("brand.yaml", BRAND),
        ("sale.yaml", &campaign("Cheap jackets! #sale")),
    ]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = Engine::new(
        plan.clone(),
        "rev",
        EngineParts::new(store.clone()),
        at(9, 0),
    )
    .unwrap();
    engine.start(at(9, 0)).unwrap();
    assert_eq!(engine.fire_due(at(10, 0)).unwrap(), 1);
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, RunState::Rejected);
    assert_eq!(
        history[0].reason.as_deref(),
        Some("rejected by rules `brand-guidelines`: the word `cheap` is denied")
    );
    assert!(history[0].outbox.is_empty(), "{:?}", history[0].outbox);
    assert!(
        store
            .timeline()
            .unwrap()
            .iter()
            .all(|row| row.send.is_none())
    );
}

#[test]
fn an_accepted_post_goes_out_with_the_rules_applied() {
    let (_dir, plan) = plan_from(&[
        ("brand.yaml", BRAND),
        ("sale.yaml", &campaign("Jackets https://s.example")),
    ]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine = Engine::new(
        plan.clone(),
        "rev",
        EngineParts::new(store.clone()),
        at(9, 0),
    )
    .unwrap();
    engine.start(at(9, 0)).unwrap();
    engine.fire_due(at(10, 0)).unwrap();
    let history = store.history(&HistoryFilter::default()).unwrap();
    assert_ne!(history[0].state, RunState::Failed);
    let expected = "Jackets https://s.example?utm_campaign=sale&utm_medium=social&utm_source=console #warmwinter";
    let texts: Vec<(&str, &str)> = history[0]
        .outbox
        .iter()
        .map(|o| (o.account.as_str(), o.text.as_str()))
        .collect();
    assert_eq!(texts, [("demo", expected), ("other", expected)]);
    // Both accounts get the same text: one post step, as without rules.
    assert_eq!(history[0].steps.len(), 1);
    assert!(history[0].outbox.iter().all(|o| o.step == 0));
}

fn crier(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn plan_shows_rejected_and_changed_posts_with_the_rule() {
    let other = "kind: campaign\nname: news\nposts:\n  - id: plain\n    at: 2026-12-01 11:00\n    to: demo\n    text: \"Untouched\"\n";
    let sale = "kind: campaign\nname: sale\nposts:\n  - id: bad\n    at: 2026-12-01 10:00\n    to: demo\n    text: \"So cheap\"\n  - id: good\n    at: 2026-12-01 12:00\n    to: demo\n    text: \"Warm\"\n";
    let brand = BRAND.replace("applies_to: all", "applies_to: [sale]");
    let (dir, _plan) = plan_from(&[
        ("brand.yaml", &brand),
        ("sale.yaml", sale),
        ("news.yaml", other),
    ]);
    let path = dir.path().to_str().unwrap();
    let window = ["--from", "2026-12-01 00:00", "--until", "2026-12-02 00:00"];
    let json = crier(&[&["plan", path, "--format", "json"][..], &window[..]].concat());
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{json}");
    assert_eq!(lines[0]["item"], "bad");
    assert_eq!(lines[0]["rule"], "brand-guidelines");
    assert_eq!(
        lines[0]["rejected"],
        "rejected by rules `brand-guidelines`: the word `cheap` is denied"
    );
    assert_eq!(lines[1]["item"], "plain");
    assert_eq!(
        lines[1].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["at", "item", "kind", "playbook", "text", "to"],
        "a post no rule touches is shown as before"
    );
    assert_eq!(lines[2]["item"], "good");
    assert_eq!(lines[2]["text"], "Warm #warmwinter");
    assert_eq!(lines[2]["rule"], "brand-guidelines");
    assert!(lines[2].get("rejected").is_none());

    let table = crier(&[&["plan", path][..], &window[..]].concat());
    assert!(
        table.contains(
            "[✗ rejected by rules `brand-guidelines`: the word `cheap` is denied] So cheap"
        ),
        "{table}"
    );
    assert!(
        table.contains("[rules: brand-guidelines] Warm #warmwinter"),
        "{table}"
    );
    assert!(table.contains("  Untouched\n"), "{table}");
}

#[test]
fn a_text_over_a_network_limit_rejects_the_run_naming_the_account_and_the_count() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  demo: { network: console }\n  sky: { network: bluesky, handle: brand.bsky.social, app_password: env:CRIER_TEST_UNSET }\n",
    )
    .unwrap();
    let tag = "kind: rules\nname: tag\napplies_to: all\ncontent:\n  append: \" #warmwinter\"\n  utm: { source: \"{{ network }}\" }\n";
    std::fs::write(dir.path().join("tag.yaml"), tag).unwrap();
    let post = |text: &str| {
        format!(
            "kind: campaign\nname: sale\nposts:\n  - id: deal\n    at: 2026-12-01 10:00\n    to: [demo, sky]\n    text: {text:?}\n"
        )
    };
    let fire = |text: &str| {
        std::fs::write(dir.path().join("sale.yaml"), post(text)).unwrap();
        let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
        assert!(
            validated.diagnostics.is_empty(),
            "{:?}",
            validated.diagnostics
        );
        let plan = Arc::new(validated.plan.unwrap());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let mut engine =
            Engine::new(plan, "rev", EngineParts::new(store.clone()), at(9, 0)).unwrap();
        engine.start(at(9, 0)).unwrap();
        engine.fire_due(at(10, 0)).unwrap();
        store.history(&HistoryFilter::default()).unwrap().remove(0)
    };
    // 289 emoji + " #warmwinter" (12) = 301 graphemes: one over Bluesky's limit.
    let run = fire(&"🧥".repeat(289));
    assert_eq!(run.state, RunState::Rejected);
    assert_eq!(
        run.reason.as_deref(),
        Some(
            "rejected by rules `tag`: the text is 301 graphemes long for `sky` (bluesky), over the limit of 300"
        )
    );
    assert!(run.outbox.is_empty());

    // 251 + 1 + 36 (the whole link: Bluesky counts it all) + 12 = 300 fits; and each network gets its own `utm_source`, so its own post step.
    let run = fire(&format!("{} https://s.example", "🧥".repeat(251)));
    assert_ne!(run.state, RunState::Failed, "{:?}", run.reason);
    let sent: Vec<(usize, &str, &str)> = run
        .outbox
        .iter()
        .map(|o| (o.step, o.account.as_str(), o.text.as_str()))
        .collect();
    let jackets = "🧥".repeat(251);
    assert_eq!(
        sent,
        [
            (
                0,
                "demo",
                format!("{jackets} https://s.example?utm_source=console #warmwinter").as_str()
            ),
            (
                1,
                "sky",
                format!("{jackets} https://s.example?utm_source=bluesky #warmwinter").as_str()
            ),
        ]
    );
}

// Quiet hours and blackouts.

fn windows(quiet: &str, extra: &str) -> (TempDir, Arc<Plan>) {
    plan_from(&[
        (
            "hours.yaml",
            &format!(
                "kind: rules\nname: hours\ntimezone: Europe/Kyiv\napplies_to: all\nquiet_hours: {quiet}\n{extra}"
            ),
        ),
        ("sale.yaml", &campaign("hello")),
    ])
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn hold_at(plan: &Plan, when: &str) -> Option<rules::Hold> {
    rules::hold(plan, "sale", &["demo".to_string()], utc(when))
}

#[test]
fn quiet_hours_across_midnight_delay_to_their_end() {
    let (_dir, plan) = windows("{ from: \"23:00\", to: \"08:00\", then: delay }", "");
    // 23:30 and 02:00 in Kyiv (UTC+2) wait until 08:00 Kyiv, 06:00 UTC.
    for when in ["2026-12-01T21:30:00Z", "2026-12-02T00:00:00Z"] {
        let hold = hold_at(&plan, when).expect("inside quiet hours");
        assert_eq!(hold.until, utc("2026-12-02T06:00:00Z"), "{when}");
        assert_eq!(
            hold.to_string(),
            "delayed by rules `hours` (quiet hours 23:00–08:00) until 2026-12-02 06:00 UTC"
        );
    }
    // 08:00 itself and 22:59 are outside.
    assert_eq!(hold_at(&plan, "2026-12-02T06:00:00Z"), None);
    assert_eq!(hold_at(&plan, "2026-12-01T20:59:00Z"), None);
}

#[test]
fn quiet_hours_can_skip() {
    let (_dir, plan) = windows("{ from: \"22:00\", to: \"07:00\", then: skip }", "");
    let hold = hold_at(&plan, "2026-12-01T21:00:00Z").expect("inside");
    assert_eq!(
        hold.to_string(),
        "skipped by rules `hours`: quiet hours 22:00–07:00"
    );
}

#[test]
fn quiet_hours_ending_in_a_daylight_saving_gap_end_when_time_exists_again() {
    // Kyiv springs forward on 2027-03-28: 03:00 becomes 04:00, so 03:30 never happens.
    let (_dir, plan) = windows("{ from: \"23:00\", to: \"03:30\", then: delay }", "");
    let hold = hold_at(&plan, "2027-03-27T23:30:00Z").expect("01:30 Kyiv is inside");
    assert_eq!(hold.until, utc("2027-03-28T01:00:00Z")); // 04:00 Kyiv, UTC+3
    // In autumn 03:30 happens twice (04:00 falls back to 03:00): the first one ends them.
    let hold = hold_at(&plan, "2027-10-30T22:00:00Z").expect("01:00 Kyiv is inside");
    assert_eq!(hold.until, utc("2027-10-31T00:30:00Z")); // 03:30 Kyiv, still UTC+3
}

#[test]
fn blackouts_delay_and_chain_with_quiet_hours() {
    let (_dir, plan) = windows(
        "{ from: \"23:00\", to: \"08:00\", then: delay }",
        "blackout: [2026-12-31 18:00 .. 2027-01-01 12:00]\n",
    );
    // 20:00 on New Year's Eve: the blackout holds it until 12:00 on the 1st (10:00 UTC).
    let hold = hold_at(&plan, "2026-12-31T18:00:00Z").expect("in the blackout");
    assert_eq!(hold.until, utc("2027-01-01T10:00:00Z"));
    // 23:30: quiet hours end at 08:00, still in the blackout, which ends at 12:00.
    let hold = hold_at(&plan, "2026-12-31T21:30:00Z").expect("in both");
    assert_eq!(hold.until, utc("2027-01-01T10:00:00Z"));
    assert!(
        hold.to_string()
            .contains("blackout 2026-12-31 18:00 – 2027-01-01 12:00")
    );
}

/// The engine keeps a post held by quiet hours as a waiting run (stored, so it survives a
/// restart) and sends it when they end; a skipped one is recorded with the rule named.
#[test]
fn the_engine_holds_a_post_until_quiet_hours_end() {
    let (_dir, plan) = plan_from(&[
        (
            "hours.yaml",
            "kind: rules\nname: hours\napplies_to: all\nquiet_hours: { from: \"23:00\", to: \"08:00\", then: delay }\n",
        ),
        (
            "late.yaml",
            "kind: campaign\nname: late\nposts:\n  - { id: night, at: \"2026-12-01 23:30\", to: demo, text: late news }\n",
        ),
    ]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let fire = Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap();
    assert_eq!(engine.fire_due(fire).unwrap(), 1);
    let run = &store.history(&HistoryFilter::default()).unwrap()[0];
    assert_eq!(run.state, RunState::Waiting);
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("delayed by rules `hours`")
    );
    // Nothing to send during the night...
    let night = Utc.with_ymd_and_hms(2026, 12, 2, 3, 0, 0).unwrap();
    assert_eq!(engine.resume_waiting(night).unwrap(), 0);
    assert!(
        store
            .claim_outbox(&claim(to_millis(night)), 10)
            .unwrap()
            .is_empty()
    );
    // ...and a restart keeps it waiting; at 08:00 it goes out.
    drop(engine);
    let mut engine = Engine::new(plan, "rev", EngineParts::new(store.clone()), night).unwrap();
    engine.start(night).unwrap();
    let morning = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
    assert_eq!(engine.resume_waiting(morning).unwrap(), 1);
    let claimed = store.claim_outbox(&claim(to_millis(morning)), 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].post.text, "late news");
}

fn claim(now: i64) -> crier::store::Claim<'static> {
    crier::store::Claim {
        owner: "test",
        now,
        lease_until: now + 60_000,
        run: None,
        skip_accounts: &[],
    }
}

fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// `crier plan` lists a delayed post when it would go out, saying from when and why, and a
/// skipped one as never going out.
#[test]
fn plan_shows_delayed_and_skipped_posts() {
    let (dir, _plan) = plan_from(&[
        (
            "hours.yaml",
            "kind: rules\nname: hours\napplies_to: [late]\nquiet_hours: { from: \"23:00\", to: \"08:00\", then: delay }\n",
        ),
        (
            "strict.yaml",
            "kind: rules\nname: strict\napplies_to: [never]\nquiet_hours: { from: \"23:00\", to: \"08:00\", then: skip }\n",
        ),
        (
            "late.yaml",
            "kind: campaign\nname: late\nposts:\n  - { id: night, at: \"2026-12-01 23:30\", to: demo, text: late news }\n",
        ),
        (
            "never.yaml",
            "kind: campaign\nname: never\nposts:\n  - { id: night, at: \"2026-12-01 23:45\", to: demo, text: never }\n",
        ),
    ]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["plan", dir.path().to_str().unwrap(), "--format", "json"])
        .args(["--from", "2026-12-01", "--days", "2"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let late = lines
        .iter()
        .find(|l| l["playbook"] == "late")
        .expect("late");
    assert_eq!(late["at"], "2026-12-02T08:00:00+00:00", "{late}");
    assert_eq!(
        late["rule"],
        "hours: delayed from 2026-12-01 23:30 (quiet hours 23:00–08:00)"
    );
    let never = lines
        .iter()
        .find(|l| l["playbook"] == "never")
        .expect("never");
    assert_eq!(
        never["rejected"],
        "skipped by rules `strict`: quiet hours 23:00–08:00"
    );
}

//! Crisis plans: the lexicon in three languages with negation, keyword filtering, incremental
//! windows read by conditions, and the incident state machine on a virtual clock.

use std::time::Duration;

use crier::crisis::{
    Classifier, CrisisSignals, IncidentMachine, KeywordFilter, Lexicon, MentionWindows, Tone,
    Transition,
};
use crier::script::{ConditionContext, ConditionInput, ScriptEngine, Sentiment};

const MIN: i64 = 60_000;
const T0: i64 = 1_796_282_100_000;

mod classifier {
    use super::*;

    fn tone(text: &str) -> Tone {
        Lexicon::builtin().classify(text)
    }

    #[test]
    fn english() {
        assert_eq!(
            tone("The app is down again, this is terrible"),
            Tone::Negative
        );
        assert_eq!(tone("Great support, thanks!"), Tone::Positive);
        assert_eq!(tone("What time does the shop open?"), Tone::Neutral);
        assert_eq!(tone("Payments keep FAILING"), Tone::Negative);
    }

    #[test]
    fn ukrainian() {
        assert_eq!(
            tone("Застосунок не працює вже годину, жахливо"),
            Tone::Negative
        );
        assert_eq!(tone("Дякую, все чудово"), Tone::Positive);
        assert_eq!(tone("Коли відкриється магазин?"), Tone::Neutral);
        assert_eq!(tone("Жахливий сервіс"), Tone::Negative);
    }

    #[test]
    fn russian() {
        assert_eq!(tone("Ужасный сервис, верните деньги"), Tone::Negative);
        assert_eq!(tone("Спасибо, всё отлично работает"), Tone::Positive);
        assert_eq!(tone("Во сколько открывается магазин?"), Tone::Neutral);
    }

    #[test]
    fn negation() {
        assert_eq!(tone("not bad"), Tone::Positive);
        assert_eq!(tone("Honestly not bad at all"), Tone::Positive);
        assert_eq!(tone("not good"), Tone::Negative);
        assert_eq!(tone("this isn't great"), Tone::Negative);
        assert_eq!(tone("не погано"), Tone::Positive);
        assert_eq!(tone("не добре"), Tone::Negative);
        assert_eq!(tone("не плохо"), Tone::Positive);
        assert_eq!(tone("неплохо"), Tone::Positive);
        assert_eq!(tone("не хорошо"), Tone::Negative);
        // A negator reaches three words, not the whole sentence.
        assert_eq!(
            tone("no idea why but after the update it is bad"),
            Tone::Negative
        );
    }

    /// How people say a service is down: phrasings and inflections per language, and their
    /// negations, which must not count as complaints.
    #[test]
    fn outage_complaints_in_english() {
        for text in [
            "I can't log in since this morning",
            "can’t login again",
            "The app won't load",
            "site doesn't work",
            "everything is frozen",
            "checkout keeps timing out, timeout after timeout",
            "app is offline and unreachable",
            "Website not loading for me",
        ] {
            assert_eq!(tone(text), Tone::Negative, "{text}");
        }
        for text in [
            "no outage here, works fine",
            "not down for me",
            "never had a glitch",
        ] {
            assert_ne!(tone(text), Tone::Negative, "{text}");
        }
    }

    #[test]
    fn outage_complaints_in_ukrainian() {
        for text in [
            "додаток знову лежить",
            "Сайт впав",
            "нічого не завантажується",
            "застосунок гальмує і вилітає",
            "Додаток зависає при оплаті",
            "сервіс недоступний з ранку",
            "сторінка не відкривається",
            "Все лягло",
        ] {
            assert_eq!(tone(text), Tone::Negative, "{text}");
        }
        for text in [
            "додаток не лежить, все працює",
            "жодних збоїв, дякую",
            "жодних проблем",
            "не гальмує",
        ] {
            assert_ne!(tone(text), Tone::Negative, "{text}");
        }
    }

    #[test]
    fn outage_complaints_in_russian() {
        for text in [
            "сайт упал, ничего не грузится",
            "опять лежит",
            "всё тормозит и виснет",
            "Приложение вылетает",
            "сервис недоступен",
            "не загружается страница",
            "приложение не отвечает",
            "всё легло",
        ] {
            assert_eq!(tone(text), Tone::Negative, "{text}");
        }
        for text in [
            "сайт не упал, всё работает",
            "никаких сбоев",
            "никаких проблем",
            "не тормозит",
        ] {
            assert_ne!(tone(text), Tone::Negative, "{text}");
        }
    }

    #[test]
    fn stems_do_not_match_inside_short_english_words() {
        // "bad" is an exact word; "badge" is not negative.
        assert_eq!(tone("Got my badge today"), Tone::Neutral);
    }

    #[test]
    fn playbook_words_extend_or_replace() {
        let extended = Lexicon::for_plan(false, &["meltdown", "відключен*"], &["restored"]);
        assert_eq!(extended.classify("total meltdown"), Tone::Negative);
        assert_eq!(extended.classify("Відключення знову"), Tone::Negative);
        assert_eq!(extended.classify("service restored"), Tone::Positive);
        assert_eq!(extended.classify("terrible"), Tone::Negative);
        // A playbook word overrides the built-in score.
        let overridden = Lexicon::for_plan(false, &["fast"], &[] as &[&str]);
        assert_eq!(overridden.classify("too fast"), Tone::Negative);
        let replaced = Lexicon::for_plan(true, &["meltdown"], &[] as &[&str]);
        assert_eq!(replaced.classify("terrible"), Tone::Neutral);
        assert_eq!(replaced.classify("meltdown"), Tone::Negative);
    }

    #[test]
    fn keywords_are_unicode_aware() {
        let filter = KeywordFilter::new(&["Акме", "acme"]);
        assert!(filter.matches("Знову АКМЕ лежить"));
        assert!(filter.matches("@акме не працює"));
        assert!(!filter.matches("акмеу не працює"));
        assert!(!filter.matches("acmecorp is fine"));
        assert!(KeywordFilter::new(&["не працює"]).matches("Сайт НЕ ПРАЦЮЄ!"));
        assert!(filter.matches("@ACME help"));
        assert!(!filter.matches("unrelated"));
        assert!(KeywordFilter::new(&[] as &[&str]).matches("anything"));
    }

    /// A plan's signals lower-case a mention once for its keywords and its tone: what they
    /// count is what the filter and the lexicon say of the text as it came.
    #[test]
    fn signals_count_what_the_filter_and_the_lexicon_say() {
        let texts = [
            ("The App is DOWN, I CAN’T LOG IN", Some(Tone::Negative)),
            (
                "Застосунок НЕ ПРАЦЮЄ, ЖАХЛИВИЙ сервіс",
                Some(Tone::Negative),
            ),
            (
                "Приложение НЕ РАБОТАЕТ, но поддержка ОТЛИЧНАЯ, спасибо",
                Some(Tone::Positive),
            ),
            ("Down? Not BAD at all, it WORKS", Some(Tone::Positive)),
            ("Сайт лежить, ПРОБЛЕМИ з оплатою", Some(Tone::Negative)),
            ("ΣΑΣ down", Some(Tone::Negative)),
            ("Love the new update", None),
        ];
        let keywords = ["down", "не працює", "не работает", "лежить"];
        let mut signals = CrisisSignals::new(
            KeywordFilter::new(&keywords),
            Box::new(Lexicon::builtin()),
            Duration::from_secs(3600),
        );
        for (i, (text, expected)) in texts.into_iter().enumerate() {
            let as_came = KeywordFilter::new(&keywords)
                .matches(text)
                .then(|| tone(text));
            assert_eq!(as_came, expected, "{text}");
            assert_eq!(
                signals.observe(T0 + i as i64, "@a", text),
                expected,
                "{text}"
            );
        }
    }

    /// A keyword found inside a longer one counts only where it stands alone, and an
    /// occurrence that runs into a word does not hide one further on that stands alone.
    #[test]
    fn keywords_count_where_they_stand_alone() {
        let filter = KeywordFilter::new(&["down", "downtime"]);
        assert!(filter.matches("Downtime again"));
        assert!(!filter.matches("downtimes and downloads"));
        assert!(filter.matches("downloads are down!"));
        assert!(KeywordFilter::new(&["a-a"]).matches("xa-a-a"));
        assert!(!KeywordFilter::new(&["a-a"]).matches("xa-a-ax"));
    }
}

mod windows {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn counts_by_tone_and_distinct_authors() {
        let mut w = MentionWindows::new(secs(7 * 86_400));
        w.record(T0, "ann", Tone::Negative);
        w.record(T0 + 10 * MIN, "bob", Tone::Negative);
        w.record(T0 + 20 * MIN, "ann", Tone::Positive);
        w.record(T0 + 40 * MIN, "cid", Tone::Neutral);
        w.advance(T0 + 40 * MIN);
        let all = w.counts(secs(3600));
        assert_eq!(
            (
                all.total,
                all.negative,
                all.positive,
                all.neutral,
                all.authors
            ),
            (4, 2, 1, 1, 3)
        );
        let last_half = w.counts(secs(1800));
        assert_eq!((last_half.total, last_half.authors), (2, 2));
        w.advance(T0 + 75 * MIN);
        let later = w.counts(secs(1800));
        assert_eq!((later.total, later.authors), (0, 0));
        assert_eq!(w.counts(secs(3600)).total, 2);
    }

    #[test]
    fn spike_rate_and_zscore_against_the_baseline() {
        let mut w = MentionWindows::new(secs(86_400));
        // Baseline: one negative mention every 10 minutes for 6 hours (3 per 30 minutes).
        for i in 0..36 {
            w.record(T0 + i * 10 * MIN, &format!("a{i}"), Tone::Negative);
        }
        // Then 30 in the next 30 minutes.
        let start = T0 + 360 * MIN;
        for i in 0..30 {
            w.record(start + i * MIN, &format!("b{i}"), Tone::Negative);
        }
        w.advance(start + 29 * MIN);
        let (win, base) = (secs(1800), secs(86_400));
        let spike = w.spike_ratio(Sentiment::Negative, win, base);
        assert!((spike - 10.0).abs() < 0.01, "spike {spike}");
        assert!((w.per_minute(Sentiment::Negative, win) - 1.0).abs() < 1e-9);
        // A perfectly flat baseline: sigma floors at one, z = 30 - 3.
        let z = w.z_score(Sentiment::Negative, win, base);
        assert!((z - 27.0).abs() < 0.01, "z {z}");
        assert_eq!(w.spike_ratio(Sentiment::Positive, win, base), 0.0);
    }

    #[test]
    fn memory_is_bounded_by_retention_and_time_jumps_keep_totals_consistent() {
        let mut w = MentionWindows::new(secs(3600));
        for i in 0..5000 {
            w.record(T0 + i * MIN, "a", Tone::Neutral);
        }
        assert_eq!(w.counts(secs(3600)).total, 60);
        w.advance(T0 + 100_000 * MIN);
        assert_eq!(w.counts(secs(3600)).total, 0);
        w.record(T0 + 100_000 * MIN, "b", Tone::Negative);
        let c = w.counts(secs(600));
        assert_eq!((c.total, c.negative, c.authors), (1, 1, 1));
    }

    #[test]
    fn windows_survive_a_snapshot() {
        let mut w = MentionWindows::new(secs(86_400));
        for i in 0..50 {
            w.record(T0 + i * MIN, &format!("u{}", i % 7), Tone::Negative);
        }
        let saved = serde_json::to_string(&w).unwrap();
        let mut restored: MentionWindows = serde_json::from_str(&saved).unwrap();
        restored.record(T0 + 50 * MIN, "u1", Tone::Positive);
        w.record(T0 + 50 * MIN, "u1", Tone::Positive);
        assert_eq!(restored.counts(secs(1800)), w.counts(secs(1800)));
        assert_eq!(restored.counts(secs(1800)).authors, 7);
    }

    #[test]
    fn conditions_read_the_windows() {
        let engine = ScriptEngine::new();
        let when = engine
            .compile(
                r#"mentions("30m").negative >= 20 && spike("negative", "30m", "1d") > 3.0"#,
                ConditionContext::CrisisWhen,
            )
            .unwrap();
        let plan = crier::crisis::KeywordFilter::new(&["acme"]);
        let mut signals = CrisisSignals::new(plan, Box::new(Lexicon::builtin()), secs(86_400));
        let eval = |signals: &CrisisSignals| {
            let input = ConditionInput::new()
                .with_json("vars", &serde_json::json!({}))
                .with_signals(signals.source());
            engine.evaluate(&when, &input).unwrap()
        };
        for i in 0..120 {
            signals.observe(T0 + i * 5 * MIN, "calm", "acme is fine");
        }
        signals.advance(T0 + 600 * MIN);
        assert!(!eval(&signals));
        for i in 0..25 {
            let at = T0 + 600 * MIN + i * MIN;
            assert_eq!(
                signals.observe(at, &format!("u{i}"), "ACME down, terrible"),
                Some(Tone::Negative)
            );
            assert_eq!(signals.observe(at, "x", "other brand is down"), None);
        }
        assert!(eval(&signals));
    }
}

mod incidents {
    use super::*;

    const RESOLVE_FOR: i64 = 30 * MIN;

    #[test]
    fn opens_raises_only_upwards_and_resolves_after_for() {
        let mut m = IncidentMachine::new(Some(RESOLVE_FOR));
        assert_eq!(m.evaluate(T0, &[false, false], false), None);
        assert_eq!(
            m.evaluate(T0 + MIN, &[true, false], false),
            Some(Transition::Opened { level: 0 })
        );
        assert_eq!(
            m.evaluate(T0 + 2 * MIN, &[true, true], false),
            Some(Transition::Raised { from: 0, to: 1 })
        );
        // Levels never go down while open.
        assert_eq!(m.evaluate(T0 + 3 * MIN, &[true, false], false), None);
        assert_eq!(m.state.level, Some(1));
        // resolve.when holds 29 minutes, breaks, then holds the full 30.
        assert_eq!(m.evaluate(T0 + 10 * MIN, &[false, false], true), None);
        assert_eq!(m.evaluate(T0 + 39 * MIN, &[false, false], true), None);
        assert_eq!(m.evaluate(T0 + 40 * MIN, &[false, false], false), None);
        assert_eq!(m.evaluate(T0 + 41 * MIN, &[false, false], true), None);
        assert_eq!(m.evaluate(T0 + 70 * MIN, &[false, false], true), None);
        assert_eq!(
            m.evaluate(T0 + 71 * MIN, &[false, false], true),
            Some(Transition::Resolved)
        );
        assert_eq!(m.state.level, None);
    }

    #[test]
    fn a_signal_hovering_at_the_threshold_does_not_flap() {
        let mut m = IncidentMachine::new(Some(10 * MIN));
        let mut transitions = Vec::new();
        // The level holds on every other evaluation, resolve.when on the others: the resolve
        // clock restarts each time, so the one incident stays open.
        for i in 0..120 {
            let holds = i % 2 == 0;
            if let Some(t) = m.evaluate(T0 + i * MIN, &[holds], !holds) {
                transitions.push(t);
            }
        }
        assert_eq!(transitions, [Transition::Opened { level: 0 }]);
        // Calm for 10 minutes resolves it.
        for i in 120..=131 {
            if let Some(t) = m.evaluate(T0 + i * MIN, &[false], true) {
                transitions.push(t);
            }
        }
        assert_eq!(transitions.last(), Some(&Transition::Resolved));
        // A blip right after does not reopen it; one after 10 quiet minutes does.
        assert_eq!(m.evaluate(T0 + 132 * MIN, &[true], false), None);
        for i in 133..=142 {
            assert_eq!(m.evaluate(T0 + i * MIN, &[false], true), None);
        }
        assert_eq!(m.evaluate(T0 + 143 * MIN, &[false], true), None);
        assert_eq!(
            m.evaluate(T0 + 144 * MIN, &[true], false),
            Some(Transition::Opened { level: 0 })
        );
    }

    #[test]
    fn reopens_after_the_signal_has_dropped() {
        let mut m = IncidentMachine::new(Some(0));
        assert!(m.evaluate(T0, &[true], false).is_some());
        assert_eq!(
            m.evaluate(T0 + MIN, &[true], true),
            Some(Transition::Resolved)
        );
        assert_eq!(m.evaluate(T0 + 2 * MIN, &[true], false), None);
        assert_eq!(m.evaluate(T0 + 3 * MIN, &[false], false), None);
        assert_eq!(
            m.evaluate(T0 + 4 * MIN, &[true], false),
            Some(Transition::Opened { level: 0 })
        );
        assert!(m.resolve_by_hand(T0 + 5 * MIN));
        assert!(!m.resolve_by_hand(T0 + 6 * MIN));
    }

    #[test]
    fn without_resolve_when_only_a_person_resolves() {
        let mut m = IncidentMachine::new(None);
        m.evaluate(T0, &[true], false);
        for i in 1..100 {
            assert_eq!(m.evaluate(T0 + i * MIN, &[false], true), None);
        }
        assert!(m.resolve_by_hand(T0 + 100 * MIN));
    }

    #[test]
    fn the_state_survives_a_restart() {
        let mut m = IncidentMachine::new(Some(RESOLVE_FOR));
        m.evaluate(T0, &[true, true], false);
        m.evaluate(T0 + MIN, &[false, false], true);
        let saved = serde_json::to_string(&m.state).unwrap();
        let mut restored =
            IncidentMachine::restore(Some(RESOLVE_FOR), serde_json::from_str(&saved).unwrap());
        assert_eq!(restored.state.level, Some(1));
        assert_eq!(
            restored.evaluate(T0 + 31 * MIN, &[false, false], true),
            Some(Transition::Resolved)
        );
    }
}

mod drills {
    use super::*;
    use crier::crisis::runner::Action;
    use crier::crisis::{DrillDecision, DrillMention, IncidentReport, ReportFormat, drill};
    use crier::playbook::plan::Plan;
    use tempfile::TempDir;

    const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  lead: { notify: chat }\n  boss: { notify: chat }\n";

    fn plan(on_timeout: &str) -> (TempDir, Plan) {
        let playbook = format!(
            r#"kind: crisis
name: outage
watch:
  accounts: [brand]
  keywords: [acme]
  every: 1m
levels:
  - name: elevated
    when: 'mentions("10m").negative >= 5'
    do:
      - notify: duty
        text: "{{{{ signal.negative }}}} negative"
  - name: critical
    when: 'mentions("10m").negative >= 15'
    do:
      - notify: [lead, boss]
      - approve:
          by: [lead]
          timeout: 10m
          on_timeout: {on_timeout}
      - post:
          to: [brand]
          text: "We are on it."
resolve:
  when: 'mentions("10m").negative < 2'
  for: 15m
  do:
    - resume: campaigns
    - notify: duty
      text: "Resolved after {{{{ incident.duration }}}}"
"#
        );
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("outage.yaml"), playbook).unwrap();
        let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
        for d in &validated.diagnostics {
            eprintln!("{d}");
        }
        (dir, validated.plan.expect("a valid plan"))
    }

    /// `per_minute[i]` negative mentions in minute i (at second 30).
    fn negatives(per_minute: &[usize]) -> Vec<DrillMention> {
        let mut out = Vec::new();
        for (minute, n) in per_minute.iter().enumerate() {
            for k in 0..*n {
                out.push(DrillMention {
                    at: T0 + minute as i64 * MIN + 30_000,
                    author: format!("u{minute}-{k}"),
                    text: "acme is down, terrible".into(),
                });
            }
        }
        out
    }

    fn run(
        on_timeout: &str,
        per_minute: &[usize],
        decisions: &[DrillDecision],
    ) -> Vec<IncidentReport> {
        let (_dir, plan) = plan(on_timeout);
        drill(
            &plan.crises[0],
            &ScriptEngine::new(),
            &negatives(per_minute),
            decisions,
            T0,
            T0 + 120 * MIN,
        )
    }

    fn kinds(report: &IncidentReport) -> Vec<String> {
        report
            .timeline
            .iter()
            .map(|e| format!("{}@{} {}", e.kind, (e.at - T0) / MIN, e.detail))
            .collect()
    }

    /// 5 negatives a minute for 10 minutes, then silence.
    fn wave() -> Vec<usize> {
        let mut v = vec![0; 120];
        for n in v.iter_mut().take(10) {
            *n = 5;
        }
        v
    }

    #[test]
    fn detects_within_one_interval_and_escalates_through_levels() {
        let reports = run("proceed", &wave(), &[]);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        // Minute 0's five mentions (at 00:30) met the condition; the 01:00 evaluation saw them.
        assert_eq!(r.signal_at, T0);
        assert_eq!(r.opened_at, T0 + MIN);
        let marks: Vec<_> = r
            .levels
            .iter()
            .map(|m| (m.level.as_str(), (m.at - T0) / MIN))
            .collect();
        // 15 negatives in 10 minutes after minute 2 (seen at 03:00).
        assert_eq!(marks, [("elevated", 1), ("critical", 3)]);
        assert!(
            kinds(r).contains(&"notify@1 duty: 5 negative".to_string()),
            "{:#?}",
            kinds(r)
        );
    }

    #[test]
    fn approval_timeout_proceed_posts() {
        let r = &run("proceed", &wave(), &[])[0];
        assert_eq!(r.approvals[0].decision, "timeout:proceed");
        assert_eq!(r.responded_at, Some(T0 + 13 * MIN));
    }

    #[test]
    fn approval_timeout_abort_does_not_post() {
        let r = &run("abort", &wave(), &[])[0];
        assert_eq!(r.approvals[0].decision, "timeout:abort");
        assert_eq!(r.responded_at, None);
        assert!(!kinds(r).iter().any(|k| k.starts_with("post")));
    }

    #[test]
    fn approval_timeout_escalate_asks_more_people_then_their_answer_counts() {
        let decision = DrillDecision {
            at: T0 + 20 * MIN,
            action: Action::Decide {
                by: "boss".into(),
                approve: true,
                note: Some("ok".into()),
            },
        };
        let r = &run("escalate", &wave(), &[decision])[0];
        assert_eq!(r.approvals[0].decision, "timeout:escalate");
        assert!(
            kinds(r)
                .iter()
                .any(|k| k.starts_with("notify@13 duty, boss: approval needed")),
            "{:#?}",
            kinds(r)
        );
        assert_eq!(
            (r.approvals[1].decision.as_str(), r.approvals[1].by.as_str()),
            ("approved", "boss")
        );
        assert_eq!(r.acknowledged_by.as_deref(), Some("boss"));
        assert_eq!(r.responded_at, Some(T0 + 20 * MIN));
    }

    #[test]
    fn an_approval_in_time_posts_and_a_rejection_does_not() {
        let approve = DrillDecision {
            at: T0 + 5 * MIN,
            action: Action::Decide {
                by: "lead".into(),
                approve: true,
                note: None,
            },
        };
        let r = &run("abort", &wave(), &[approve])[0];
        assert_eq!(r.responded_at, Some(T0 + 5 * MIN));
        assert_eq!(r.acknowledged_at, Some(T0 + 5 * MIN));
        let reject = DrillDecision {
            at: T0 + 5 * MIN,
            action: Action::Decide {
                by: "lead".into(),
                approve: false,
                note: None,
            },
        };
        let r = &run("proceed", &wave(), &[reject])[0];
        assert_eq!(r.responded_at, None);
        // Someone who is not an approver cannot decide.
        let stranger = DrillDecision {
            at: T0 + 5 * MIN,
            action: Action::Decide {
                by: "duty".into(),
                approve: true,
                note: None,
            },
        };
        let r = &run("abort", &wave(), &[stranger])[0];
        assert_eq!(r.responded_at, None);
    }

    #[test]
    fn resolves_only_after_for() {
        let r = &run("proceed", &wave(), &[])[0];
        // The last negatives are at 09:30; below 2 in 10 minutes from the 19:00 evaluation
        // (minute 9's five leave the window then); held 15 minutes: 34:00.
        assert_eq!(r.resolved_at, Some(T0 + 34 * MIN));
        assert!(
            kinds(r).contains(&"notify@34 duty: Resolved after 33m 00s".to_string()),
            "{:#?}",
            kinds(r)
        );
    }

    /// Levels evaluated every 5 minutes: the signal still starts at the minute whose counts
    /// met the condition (minute 2: six negatives), not at the evaluation that saw it.
    #[test]
    fn time_to_detect_measures_from_the_first_minute_that_met_the_condition() {
        let playbook = r#"kind: crisis
name: outage
watch:
  accounts: [brand]
  keywords: [acme]
  every: 5m
levels:
  - name: elevated
    when: 'mentions("10m").negative >= 5'
    do:
      - notify: duty
"#;
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("outage.yaml"), playbook).unwrap();
        let plan = crier::cli::load_and_validate(dir.path())
            .unwrap()
            .plan
            .expect("a valid plan");
        let reports = drill(
            &plan.crises[0],
            &ScriptEngine::new(),
            &negatives(&[2, 2, 2, 1, 1]),
            &[],
            T0,
            T0 + 30 * MIN,
        );
        let r = &reports[0];
        assert_eq!((r.opened_at - T0) / MIN, 5);
        assert_eq!((r.signal_at - T0) / MIN, 2);
        assert_eq!(r.durations()[0], ("Time to detect", Some(3 * MIN)));
    }

    /// A month-long open incident: what each tick writes (the runner's state and the open
    /// report's chart) stays within a day's worth of points, and no mention is lost from it.
    #[test]
    fn a_long_open_incident_rewrites_a_bounded_chart() {
        use crier::crisis::runner::{CHART_POINTS, PlanRunner, RunnerState};
        let playbook = "kind: crisis\nname: outage\nwatch:\n  accounts: [brand]\n  keywords: [acme]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 1'\n    do:\n      - notify: duty\n";
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("outage.yaml"), playbook).unwrap();
        let plan = crier::cli::load_and_validate(dir.path())
            .unwrap()
            .plan
            .expect("a valid plan");
        let (engine, texts) = (ScriptEngine::new(), crier::text::TextTemplates::new());
        let mut runner = PlanRunner::new(
            &plan.crises[0],
            &engine,
            crier::text::Renderer::Inline(&texts),
            RunnerState::default(),
        );
        let step = 7 * MIN;
        let ticks = 30 * 24 * 60 * MIN / step;
        let mut largest = 0;
        for tick in 0..ticks {
            let now = T0 + tick * step;
            runner.observe(now - 1, "someone", "acme is down");
            runner.evaluate(now, 1);
            let report = runner.open_report().expect("still open");
            assert!(
                report.mentions.len() as i64 <= CHART_POINTS,
                "{}",
                report.mentions.len()
            );
            largest = largest.max(runner.state.series.len());
        }
        assert!(largest as i64 <= CHART_POINTS + 1, "{largest}");
        let report = runner.open_report().unwrap();
        assert_eq!(
            report.mentions.iter().map(|m| m.total).sum::<u64>(),
            ticks as u64
        );
        // Counted per 32 minutes: a month does not fit in 1,440 buckets of 16.
        assert_eq!(report.mentions[1].at - report.mentions[0].at, 32 * MIN);
        assert!(
            report
                .render(ReportFormat::Markdown)
                .contains("Counted per 32 minutes: the incident ran long."),
        );
    }

    #[test]
    fn a_hovering_signal_keeps_one_incident() {
        // Five ones in every eleven minutes: 10-minute windows hold 4 or 5 negatives, so the
        // elevated condition flips on and off for two hours while resolve.when never holds.
        let per_minute: Vec<usize> = (0..120)
            .map(|i| usize::from([0, 2, 4, 6, 8].contains(&(i % 11))))
            .collect();
        let reports = run("proceed", &per_minute, &[]);
        assert_eq!(reports.len(), 1, "{reports:#?}");
        assert_eq!(reports[0].resolved_at, None);
        assert_eq!(reports[0].levels.len(), 1);
    }

    #[test]
    fn reports_render_in_three_formats() {
        let r = &run("proceed", &wave(), &[])[0];
        let md = r.render(ReportFormat::Markdown);
        assert!(
            md.contains("| Time to detect | 1m 00s |")
                && md.contains("| Time to resolve | 33m 00s |"),
            "{md}"
        );
        let html = r.render(ReportFormat::Html);
        assert!(
            html.starts_with("<!DOCTYPE html>")
                && html.contains("<svg")
                && html.contains("critical")
        );
        // Each level's label reads inward from its mark, so one near the right edge is not cut.
        let svg = r.svg_chart();
        let labels: Vec<(f64, &str)> = svg
            .split("<text x=\"")
            .skip(1)
            .filter(|text| text.contains("fill=\"#1a73e8\""))
            .map(|text| {
                let x = text.split('"').next().unwrap().parse().unwrap();
                let anchor = text.split("text-anchor=\"").nth(1).unwrap();
                (x, anchor.split('"').next().unwrap())
            })
            .collect();
        assert!(!labels.is_empty(), "{svg}");
        for (x, anchor) in labels {
            assert_eq!(anchor, if x > 440.0 { "end" } else { "start" }, "{svg}");
        }
        // Self-contained: no scripts, and the only URL is the SVG namespace.
        assert!(!html.contains("<script"));
        assert_eq!(
            html.matches("http").count(),
            html.matches("http://www.w3.org/2000/svg").count()
        );
        let json: serde_json::Value = serde_json::from_str(&r.render(ReportFormat::Json)).unwrap();
        assert_eq!(json["durations"]["time_to_resolve_ms"], 33 * MIN);
        assert_eq!(json["levels"][1]["level"], "critical");
        // Times are RFC 3339 with the plan's offset, never epoch milliseconds.
        for time in [
            &json["opened_at"],
            &json["signal_at"],
            &json["resolved_at"],
            &json["levels"][1]["at"],
            &json["timeline"][0]["at"],
            &json["mentions"][0]["at"],
        ] {
            let text = time
                .as_str()
                .unwrap_or_else(|| panic!("not a string: {time}"));
            chrono::DateTime::parse_from_rfc3339(text).unwrap();
        }
        // The chart has every minute from an hour before the signal to the resolve, quiet
        // minutes as zeros.
        let minutes: Vec<i64> = r.mentions.iter().map(|m| (m.at - T0) / MIN).collect();
        assert_eq!(minutes, (-60..=34).collect::<Vec<_>>());
        assert_eq!(r.mentions.iter().map(|m| m.negative).sum::<u64>(), 50);
    }

    #[test]
    fn the_outage_drill_matches_its_expected_report() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/outage-drill");
        let validated = crier::playbook::load::load_and_validate(&root).unwrap();
        let plan = validated.plan.expect("the drill's playbooks are valid");
        let events = crier::engine::rehearse::read_events(&root.join("events.jsonl")).unwrap();
        assert!(events.len() >= 250, "a few hundred events");
        let from: chrono::DateTime<chrono::Utc> = "2027-03-03T07:00:00Z".parse().unwrap();
        // What `crier rehearse --incident-report` writes: the engine's own incidents.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rehearsal = runtime
            .block_on(crier::engine::rehearse::rehearsal(
                std::sync::Arc::new(plan),
                &events,
                from,
                from + chrono::TimeDelta::hours(2),
            ))
            .unwrap();
        let reports = rehearsal.incidents;
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!(
            r.levels
                .iter()
                .map(|l| l.level.as_str())
                .collect::<Vec<_>>(),
            ["elevated", "critical"]
        );
        assert_eq!(
            r.approvals
                .iter()
                .map(|a| (a.by.as_str(), a.decision.as_str()))
                .collect::<Vec<_>>(),
            [("pr_lead", "approved")]
        );
        assert!(r.responded_at.is_some() && r.resolved_at.is_some());
        let md = crier::crisis::render_reports(&reports, ReportFormat::Markdown);
        let expected_path = root.join("expected-report.md");
        if std::env::var_os("CRIER_BLESS").is_some() {
            std::fs::write(&expected_path, &md).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .expect("expected-report.md (CRIER_BLESS=1 writes it)");
        assert_eq!(md, expected);
    }
}

/// A crisis plan under `crier run`: mentions read from a fake Mastodon and a fake Telegram
/// open an incident; notifications reach a fake Slack; a reminder follows when nobody
/// acknowledges; the pause, the approval, the public post and the resolve go through the
/// CLI and the store; a restart in the middle repeats no notification and no post.
mod live {
    use std::path::Path;
    use std::process::Command;
    use std::time::{Duration, Instant};

    use crate::support::fake_mastodon::{FakeAccount, FakeMastodon, TOKEN as MASTODON_TOKEN};
    use crate::support::fake_slack::FakeSlack;
    use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram};
    use crier::crisis::IncidentReport;
    use crier::store::PauseScope;
    use serde_json::json;

    const TELEGRAM_TOKEN: &str = "123456:AAF-crisis_token-1a2b3c";
    const SLACK_SECRET: &str = "crisisSecret42";

    fn start(dir: &Path, slack: &FakeSlack) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["run", dir.to_str().unwrap()])
            .env("CRIER_LOG", "warn")
            .env("CRIER_TEST_MASTODON_TOKEN", MASTODON_TOKEN)
            .env("CRIER_TEST_TG_TOKEN", TELEGRAM_TOKEN)
            .env("CRIER_TEST_SLACK_HOOK", slack.url_with(SLACK_SECRET))
            .env("CRIER_ENTRIES_POLL_SECONDS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start crier run")
    }

    fn crier(dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .args(["--path", dir.to_str().unwrap()])
            .output()
            .unwrap()
    }

    fn wait_for(what: &str, done: &dyn Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn count(messages: &[String], needle: &str) -> usize {
        messages.iter().filter(|m| m.contains(needle)).count()
    }

    fn telegram_mention(message_id: i64, text: &str) -> serde_json::Value {
        let offset = text.encode_utf16().count() - BOT_USERNAME.len() - 1;
        json!({ "message": {
            "message_id": message_id,
            "from": { "id": 700 + message_id, "is_bot": false, "first_name": "Oksana" },
            "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat", "username": "brandchat" },
            "date": chrono::Utc::now().timestamp(),
            "text": text,
            "entities": [{ "type": "mention", "offset": offset, "length": BOT_USERNAME.len() + 1 }]
        }})
    }

    #[test]
    fn crier_run_runs_a_crisis_plan_against_fake_networks() {
        let mastodon = FakeMastodon::start();
        let telegram = FakeTelegram::start(TELEGRAM_TOKEN);
        let slack = FakeSlack::start(SLACK_SECRET);
        let config = format!(
            "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand_mastodon: {{ network: mastodon, server: {}, token: env:CRIER_TEST_MASTODON_TOKEN }}\n  brand_telegram: {{ network: telegram, token: env:CRIER_TEST_TG_TOKEN, chat: '@brand_channel', server: '{}' }}\n  oncall: {{ network: slack, webhook: env:CRIER_TEST_SLACK_HOOK }}\npeople:\n  duty: {{ notify: oncall }}\n  lead: {{ notify: oncall }}\n",
            mastodon.url(),
            telegram.url()
        );
        let plan = r#"kind: crisis
name: outage
watch:
  accounts: [brand_mastodon, brand_telegram]
  keywords: [down, "не працює"]
  every: 1s
ack: { timeout: 3s, reminders: 1 }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 3'
    do:
      - notify: duty
        text: "{{ signal.negative }} negative mentions in 30 min"
      - pause: campaigns
      - approve: { by: [lead], timeout: 1h, on_timeout: abort }
      - post:
          to: [brand_mastodon]
          text: "We know the app is down for some of you. Updates here."
resolve:
  when: 'mentions("30m").negative == 0'
  for: 1h
  do:
    - resume: campaigns
    - notify: [duty, lead]
      text: "Resolved after {{ incident.duration }}"
"#;
        let dir = crate::support::playbooks::folder(&config, &[("outage.yaml", plan)]);
        let path = dir.path();
        let mut child = start(path, &slack);

        let fan = |id: &str, name: &str| FakeAccount::new(id, &format!("{name}@other.example"));
        mastodon.add_mention(&fan("201", "ann"), "@brand the app is down, terrible", None);
        mastodon.add_mention(&fan("202", "bo"), "@brand down again, awful service", None);
        telegram.push_update(telegram_mention(
            50,
            "Додаток не працює, жахливо @brand_bot",
        ));
        // Not a keyword: read, but not counted.
        mastodon.add_mention(&fan("203", "cy"), "@brand love the new colours", None);

        wait_for("the alert in Slack", &|| {
            count(&slack.messages(), "negative mentions in 30 min") == 1
        });
        // The alert and the approval request go out together, in either order.
        let alert = slack
            .messages()
            .into_iter()
            .find(|m| m.contains("negative mentions in 30 min"))
            .unwrap();
        assert!(
            alert.starts_with("[outage] incident 1 (elevated): 3 negative mentions in 30 min"),
            "{alert}"
        );
        assert!(alert.contains("crier incident ack 1 --by NAME"), "{alert}");
        wait_for("the approval request", &|| {
            count(&slack.messages(), "approval needed for outage") == 1
        });
        wait_for("a reminder nobody acknowledged", &|| {
            count(&slack.messages(), "reminder: incident 1") == 1
        });

        // A stranger cannot act; the person on duty acknowledges.
        let stranger = crier(path, &["incident", "ack", "1", "--by", "mallory"]);
        assert!(!stranger.status.success());
        assert!(String::from_utf8_lossy(&stranger.stderr).contains("not one of the people"));
        let ack = crier(path, &["incident", "ack", "1", "--by", "duty"]);
        assert!(
            ack.status.success(),
            "{}",
            String::from_utf8_lossy(&ack.stderr)
        );
        assert!(String::from_utf8_lossy(&ack.stdout).contains("applied"));
        let again = crier(path, &["incident", "ack", "1", "--by", "lead"]);
        assert!(
            String::from_utf8_lossy(&again.stderr)
                .contains("already acknowledged at elevated by duty")
        );

        let status = Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["status", path.to_str().unwrap()])
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout);
        assert!(status.contains("open incidents"), "{status}");
        assert!(status.contains("1  outage at elevated since"), "{status}");
        assert!(
            status.contains("every campaign by crisis:outage"),
            "{status}"
        );

        // Campaigns are paused by the plan, in the store the kill switch reads.
        let store = crier::store::open("sqlite://crier.db", path).unwrap();
        let pauses = store.pauses(chrono::Utc::now().timestamp_millis()).unwrap();
        assert_eq!(pauses.len(), 1, "{pauses:?}");
        assert_eq!(pauses[0].scope, PauseScope::Campaigns);
        assert_eq!(pauses[0].by, "crisis:outage");

        // A restart while the approval waits: nothing is sent again.
        crate::support::service::stop(child);
        let before_restart = slack.messages();
        child = start(path, &slack);
        let not_approver = crier(path, &["incident", "approve", "1", "--by", "duty"]);
        assert!(String::from_utf8_lossy(&not_approver.stderr).contains("the approvers are lead"));
        let approve = crier(
            path,
            &[
                "incident",
                "approve",
                "1",
                "--by",
                "lead",
                "--note",
                "checked with engineering",
            ],
        );
        assert!(
            approve.status.success(),
            "{}",
            String::from_utf8_lossy(&approve.stderr)
        );
        wait_for("the public post", &|| {
            mastodon
                .statuses()
                .iter()
                .any(|s| s.text.starts_with("We know the app is down"))
        });
        let resolve = crier(
            path,
            &[
                "incident",
                "resolve",
                "1",
                "--by",
                "lead",
                "--note",
                "fixed by a rollback",
            ],
        );
        assert!(
            resolve.status.success(),
            "{}",
            String::from_utf8_lossy(&resolve.stderr)
        );
        wait_for("the resolve notice", &|| {
            count(&slack.messages(), "Resolved after") == 1
        });
        crate::support::service::stop(child);

        let messages = slack.messages();
        assert_eq!(&messages[..before_restart.len()], &before_restart[..]);
        assert_eq!(
            count(&messages, "negative mentions in 30 min"),
            1,
            "{messages:#?}"
        );
        assert_eq!(
            count(&messages, "approval needed for outage"),
            1,
            "{messages:#?}"
        );
        assert_eq!(count(&messages, "reminder: incident 1"), 1, "{messages:#?}");
        assert_eq!(
            mastodon
                .statuses()
                .iter()
                .filter(|s| s.text.starts_with("We know the app is down"))
                .count(),
            1
        );
        assert!(
            store
                .pauses(chrono::Utc::now().timestamp_millis())
                .unwrap()
                .is_empty()
        );

        let list = crier(path, &["incidents"]);
        let list = String::from_utf8_lossy(&list.stdout);
        assert!(list.contains("1  outage  elevated"), "{list}");
        assert!(list.contains("acknowledged by duty"), "{list}");
        assert!(list.contains("resolved"), "{list}");
        let json = crier(path, &["incident", "report", "1", "--format", "json"]);
        let mut value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        // Every time is RFC 3339 with an offset; read back as the stored report to check it.
        super::millis_again(&mut value);
        let report: IncidentReport = serde_json::from_value(value).unwrap();
        assert_eq!(report.acknowledged_by.as_deref(), Some("duty"));
        assert_eq!(report.resolved_by.as_deref(), Some("lead"));
        assert!(report.responded_at.is_some());
        assert_eq!(report.approvals.len(), 1);
        assert_eq!(report.approvals[0].by, "lead");
        assert_eq!(
            report.mentions.iter().map(|m| m.negative).sum::<u64>(),
            3,
            "the keyword-less mention is not counted"
        );
        let kinds: Vec<&str> = report.timeline.iter().map(|e| e.kind.as_str()).collect();
        for kind in [
            "signal", "level", "notify", "step", "ack", "approval", "post", "note", "resolve",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
        let html = crier(path, &["incident", "report", "1", "--format", "html"]);
        assert!(String::from_utf8_lossy(&html.stdout).contains("<svg"));
        let gone = crier(path, &["incident", "ack", "7", "--by", "duty"]);
        assert!(String::from_utf8_lossy(&gone.stderr).contains("there is no incident 7"));
    }
}

/// A report's JSON with each RFC 3339 time (which must carry an offset) back in epoch
/// milliseconds, as the report is stored.
fn millis_again(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            for (key, field) in object.iter_mut() {
                if key == "at" || key.ends_with("_at") {
                    assert!(field.is_string() || field.is_null(), "{key}: {field}");
                    if let Some(text) = field.as_str() {
                        let at = chrono::DateTime::parse_from_rfc3339(text)
                            .unwrap_or_else(|e| panic!("{key}: {text}: {e}"));
                        *field = at.timestamp_millis().into();
                    }
                } else {
                    millis_again(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(millis_again),
        _ => {}
    }
}

/// Acknowledgements on the virtual clock: a reminder after `ack.timeout`, then the plan's
/// other people; an acknowledgement stops both.
mod acks {
    use super::*;
    use crier::crisis::runner::Action;
    use crier::crisis::{DrillDecision, DrillMention, IncidentReport, drill};

    const PLAN: &str = r#"kind: crisis
name: outage
watch:
  accounts: [brand]
  keywords: [acme]
  every: 1m
ack: { timeout: 5m, reminders: 1 }
levels:
  - name: elevated
    when: 'mentions("10m").negative >= 5'
    do:
      - notify: duty
  - name: critical
    when: 'mentions("10m").negative >= 500'
    do:
      - notify: [lead, boss]
"#;
    const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  lead: { notify: chat }\n  boss: { notify: chat }\n";

    fn run(decisions: &[DrillDecision]) -> IncidentReport {
        let (_dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("outage.yaml", PLAN)]);
        let mentions: Vec<DrillMention> = (0..5)
            .map(|k| DrillMention {
                at: T0 + 30_000,
                author: format!("u{k}"),
                text: "acme is down, terrible".into(),
            })
            .collect();
        let mut reports = drill(
            &plan.crises[0],
            &ScriptEngine::new(),
            &mentions,
            decisions,
            T0,
            T0 + 30 * MIN,
        );
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    fn notifications(report: &IncidentReport) -> Vec<String> {
        report
            .timeline
            .iter()
            .filter(|e| e.kind == "notify")
            .map(|e| format!("{} {}", (e.at - T0) / MIN, e.detail))
            .collect()
    }

    #[test]
    fn nobody_acknowledges_a_reminder_then_the_other_people() {
        let report = run(&[]);
        let sent = notifications(&report);
        assert_eq!(sent.len(), 3, "{sent:#?}");
        assert_eq!(sent[0], "1 duty: outage is at elevated");
        assert_eq!(
            sent[1],
            "6 duty: reminder: incident 1 (outage, elevated) is not acknowledged after 5m 00s"
        );
        assert_eq!(
            sent[2],
            "11 lead, boss: escalated: nobody acknowledged incident 1 (outage, elevated) in 10m 00s"
        );
        assert_eq!(report.acknowledged_at, None);
    }

    #[test]
    fn an_acknowledgement_stops_the_reminders() {
        let ack = DrillDecision {
            at: T0 + 3 * MIN,
            action: Action::Ack { by: "duty".into() },
        };
        let report = run(&[ack]);
        assert_eq!(notifications(&report), ["1 duty: outage is at elevated"]);
        assert_eq!(report.acknowledged_by.as_deref(), Some("duty"));
        assert_eq!(report.acknowledged_at, Some(T0 + 3 * MIN));
        let (_, time) = report.durations()[1];
        assert_eq!(time, Some(2 * MIN), "time to acknowledge");
    }

    #[test]
    fn an_acknowledgement_after_the_reminder_stops_the_escalation() {
        let ack = DrillDecision {
            at: T0 + 8 * MIN,
            action: Action::Ack { by: "duty".into() },
        };
        let report = run(&[ack]);
        assert_eq!(
            notifications(&report).len(),
            2,
            "the alert and one reminder"
        );
    }
}

/// The engine's crisis tick on a virtual clock with a SQLite file: a restart mid-incident
/// keeps the incident, its windows and its pending approval, and sends nothing twice.
mod engine_ticks {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use crier::crisis::runner::RunnerState;
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::{HistoryFilter, NewMention, SqliteStore, Store};

    use super::{MIN, T0};

    const PLAN: &str = r#"kind: crisis
name: outage
watch:
  accounts: [brand]
  keywords: [acme]
  every: 1m
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 3'
    do:
      - notify: duty
      - approve: { by: [lead], timeout: 20m, on_timeout: proceed }
      - post: { to: [brand], text: "We are on it." }
"#;
    const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  lead: { notify: chat }\n";

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn runs(store: &dyn Store) -> Vec<String> {
        store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .map(|r| r.item)
            .collect()
    }

    fn state(store: &dyn Store) -> RunnerState {
        serde_json::from_str(&store.crisis_state("outage").unwrap().unwrap()).unwrap()
    }

    #[test]
    fn a_restart_mid_incident_keeps_it_and_sends_nothing_twice() {
        let (dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("outage.yaml", PLAN)]);
        let file = dir.path().join("crier.db");
        let open = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&file).unwrap()) };
        let store = open();
        let mentions: Vec<NewMention> = (0..3)
            .map(|k| NewMention {
                key: format!("console:{k}"),
                at: T0 + k * 10_000,
                author: format!("@fan{k}"),
                text: "acme is down, terrible".into(),
            })
            .collect();
        store
            .add_crisis_mentions("outage", "brand", &mentions, None, T0)
            .unwrap();
        let mut engine =
            Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), at(T0)).unwrap();
        engine.tick_crises(at(T0 + MIN)).unwrap();
        engine.tick_crises(at(T0 + MIN + 1_000)).unwrap();
        assert_eq!(
            runs(store.as_ref()).len(),
            2,
            "the alert and the approval request"
        );
        let before = state(store.as_ref());
        let open_incident = before.open.as_ref().expect("an incident is open");
        assert!(open_incident.pending.is_some());
        assert_eq!(before.signal["negative"], 3);
        drop(engine);
        drop(store);

        // A new process: the same incident, the windows rebuilt, the approval still waiting.
        let store = open();
        let mut engine = Engine::new(
            plan.clone(),
            "rev",
            EngineParts::new(store.clone()),
            at(T0 + 2 * MIN),
        )
        .unwrap();
        engine.tick_crises(at(T0 + 2 * MIN)).unwrap();
        let after = state(store.as_ref());
        assert_eq!(after.signal["negative"], 3, "windows survive the restart");
        assert_eq!(after.open.as_ref().unwrap().report.id, 1);
        assert_eq!(after.open.as_ref().unwrap().pending, open_incident.pending);
        assert_eq!(runs(store.as_ref()).len(), 2, "nothing sent again");
        assert_eq!(store.incidents().unwrap().len(), 1);

        // The approval times out and the plan proceeds: the post, once, however often it ticks.
        engine.tick_crises(at(T0 + 21 * MIN)).unwrap();
        engine.tick_crises(at(T0 + 21 * MIN)).unwrap();
        // Nobody acknowledged in 15 minutes (the default): a reminder went out too.
        let items = runs(store.as_ref());
        assert_eq!(items.len(), 4, "{items:?}");
        let reasons: Vec<String> = store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .filter_map(|r| r.reason)
            .collect();
        let posts = reasons
            .iter()
            .filter(|r| r.ends_with("public post"))
            .count();
        assert_eq!(posts, 1, "{reasons:?}");
        let report = state(store.as_ref()).open.unwrap().report;
        assert_eq!(report.approvals[0].decision, "timeout:proceed");
        assert!(report.responded_at.is_some());
    }
}

/// A plan edited while its incident waits for an approval: the queued steps, which were
/// positions in the old plan, are dropped and said so, never run as other steps.
#[test]
fn an_edited_plan_drops_the_queued_steps_of_its_open_incident() {
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::{HistoryFilter, SqliteStore, Store};
    use std::sync::Arc;

    let before = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 1'
    do:
      - approve: { by: [lead] }
      - post: { to: [brand], text: "We are on it." }
"#;
    let after = before.replace(
        "      - approve: { by: [lead] }\n",
        "      - notify: lead\n      - approve: { by: [lead] }\n",
    );
    let config = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  lead: { notify: chat }\n";
    let (_dir, old_plan) =
        crate::support::playbooks::valid_plan(config, &[("outage.yaml", before)]);
    let (_dir2, new_plan) =
        crate::support::playbooks::valid_plan(config, &[("outage.yaml", &after)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    crate::support::crisis::negative_mention(store.as_ref(), "brand", T0);
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let mut engine = Engine::new(old_plan, "old", EngineParts::new(store.clone()), at(T0)).unwrap();
    engine.tick_crises(at(T0 + MIN)).unwrap();
    let mut engine = Engine::new(new_plan, "new", EngineParts::new(store.clone()), at(T0)).unwrap();
    engine.tick_crises(at(T0 + 2 * MIN)).unwrap();
    let state: crier::crisis::runner::RunnerState =
        serde_json::from_str(&store.crisis_state("outage").unwrap().unwrap()).unwrap();
    let open = state.open.unwrap();
    assert!(open.queue.is_empty());
    assert!(open.pending.is_some(), "the approval still waits");
    let last = open.report.timeline.last().unwrap();
    assert_eq!(
        last.detail,
        "the plan's levels changed: 1 queued step(s) dropped"
    );
    // Only the first approval request was sent: nothing ran as another step.
    let runs = store.history(&HistoryFilter::default()).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
}

/// A crisis post the content rules refuse is never sent, and is not the response.
#[test]
fn a_refused_crisis_post_is_not_the_response() {
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::{SqliteStore, Store};
    use std::sync::Arc;

    let plan = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 1'
    do:
      - post: { to: [brand], text: "Cheap fix coming." }
"#;
    let rules = "kind: rules\nname: words\napplies_to: all\ncontent:\n  deny_words: [cheap]\n";
    let config = "timezone: UTC\naccounts:\n  brand: { network: console }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(
        config,
        &[("outage.yaml", plan), ("words.yaml", rules)],
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    crate::support::crisis::negative_mention(store.as_ref(), "brand", T0);
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let mut engine = Engine::new(plan, "rev", EngineParts::new(store.clone()), at(T0)).unwrap();
    assert_eq!(
        engine.tick_crises(at(T0 + MIN)).unwrap(),
        0,
        "nothing to send"
    );
    let row = store.incident(1).unwrap().unwrap();
    let report: crier::crisis::IncidentReport = serde_json::from_str(&row.report).unwrap();
    assert_eq!(report.responded_at, None);
    let refused = report.timeline.last().unwrap();
    assert!(
        refused.detail.starts_with("post to brand not sent"),
        "{refused:?}"
    );
    assert!(refused.detail.contains("cheap"), "{refused:?}");
}

/// Levels on the virtual clock: a higher level's steps do not wait for a lower level's
/// approval, a rejection drops only the rest of its own level, and each new level's
/// notifications need acknowledging again.
mod levels_and_acks {
    use super::*;
    use crier::crisis::runner::Action;
    use crier::crisis::{DrillDecision, DrillMention, IncidentReport, drill};

    const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  lead: { notify: chat }\n  boss: { notify: chat }\n";

    fn run(plan: &str, decisions: &[DrillDecision]) -> IncidentReport {
        let (_dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("outage.yaml", plan)]);
        // Five negative mentions in minute 0, five more in minute 10.
        let mentions: Vec<DrillMention> = (0..10)
            .map(|k| DrillMention {
                at: T0 + if k < 5 { 30_000 } else { 10 * MIN + 30_000 },
                author: format!("u{k}"),
                text: "acme is down, terrible".into(),
            })
            .collect();
        let mut reports = drill(
            &plan.crises[0],
            &ScriptEngine::new(),
            &mentions,
            decisions,
            T0,
            T0 + 40 * MIN,
        );
        reports.remove(0)
    }

    fn lines(report: &IncidentReport) -> Vec<String> {
        report
            .timeline
            .iter()
            .filter(|e| e.kind != "signal")
            .map(|e| format!("{} {} {}", (e.at - T0) / MIN, e.kind, e.detail))
            .collect()
    }

    #[test]
    fn a_higher_level_does_not_wait_for_a_lower_levels_approval() {
        let plan = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
ack: { timeout: 1h }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 5'
    do:
      - approve: { by: [lead] }
      - post: { to: [brand], text: "We are looking into it." }
  - name: critical
    when: 'mentions("30m").negative >= 10'
    do:
      - pause: campaigns
      - notify: boss
"#;
        let reject = DrillDecision {
            at: T0 + 20 * MIN,
            action: Action::Decide {
                by: "lead".into(),
                approve: false,
                note: Some("wrong tone".into()),
            },
        };
        let report = run(plan, &[reject]);
        let got = lines(&report);
        assert!(
            got.contains(&"11 step pause campaigns".to_string()),
            "{got:#?}"
        );
        assert!(
            got.contains(&"11 notify boss: outage is at critical".to_string()),
            "{got:#?}"
        );
        assert!(
            got.contains(&"20 approval rejected: wrong tone".to_string()),
            "{got:#?}"
        );
        assert!(
            !got.iter().any(|l| l.contains(" post ")),
            "the rejected level's post is dropped: {got:#?}"
        );
        assert_eq!(report.responded_at, None);
    }

    #[test]
    fn each_new_level_needs_acknowledging_again() {
        let plan = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
ack: { timeout: 5m, reminders: 1 }
levels:
  - name: elevated
    when: 'mentions("30m").negative >= 5'
    do:
      - notify: duty
  - name: critical
    when: 'mentions("30m").negative >= 10'
    do:
      - notify: [lead]
"#;
        let ack = DrillDecision {
            at: T0 + 3 * MIN,
            action: Action::Ack { by: "duty".into() },
        };
        let report = run(plan, &[ack]);
        let all = lines(&report);
        let notices: Vec<&String> = all.iter().filter(|l| l.contains(" notify ")).collect();
        assert_eq!(
            notices,
            [
                "1 notify duty: outage is at elevated",
                "11 notify lead: outage is at critical",
                "16 notify lead: reminder: incident 1 (outage, critical) is not acknowledged after 15m 00s",
            ]
        );
        // Everyone the plan names has been told by then.
        assert!(
            all.contains(
                &"21 step not acknowledged after 20m 00s; nobody else to tell".to_string()
            )
        );
        assert_eq!(report.acknowledged_by.as_deref(), Some("duty"));
    }
}

/// `crier rehearse` runs crisis plans through the engine of `crier run`: their notifications,
/// pauses and holding posts are in its output, and a pause holds the campaign posts it covers.
mod rehearsals {
    use chrono::{DateTime, Utc};
    use crier::engine::rehearse::{RehearsalEvent, RehearsalLine, rehearsal, render_text};

    const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  lead: { notify: chat }\n";

    const CRISIS: &str = r#"kind: crisis
name: outage
watch:
  accounts: [brand]
  keywords: [acme]
  every: 1m
levels:
  - name: critical
    when: 'mentions("10m").negative >= 3'
    do:
      - pause: campaigns
      - notify: duty
        text: "{{ signal.negative }} negative"
      - approve:
          by: [lead]
      - post:
          to: [brand]
          text: "We know acme is down. We are on it."
resolve:
  when: 'mentions("10m").negative < 1'
  for: 30m
  do:
    - resume: campaigns
"#;

    const CAMPAIGN: &str = "kind: campaign\nname: spring\nposts:\n  - { id: launch, at: \"2027-03-03 09:45\", to: brand, text: \"Spring sale!\" }\n";

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        format!("2027-03-03T{h:02}:{m:02}:00Z").parse().unwrap()
    }

    fn event(json: serde_json::Value) -> RehearsalEvent {
        serde_json::from_value(json).unwrap()
    }

    /// Three complaints from 09:20; `decisions` after them.
    fn events(decisions: &[serde_json::Value]) -> Vec<RehearsalEvent> {
        let mut events: Vec<RehearsalEvent> = (0..3)
            .map(|i| {
                event(serde_json::json!({
                    "at": format!("2027-03-03T09:2{i}:30Z"), "type": "mention",
                    "account": "brand", "author": format!("@u{i}"),
                    "text": "acme is down again, terrible"
                }))
            })
            .collect();
        events.extend(decisions.iter().cloned().map(event));
        events
    }

    async fn rehearse(
        events: &[RehearsalEvent],
        until: DateTime<Utc>,
    ) -> crier::engine::rehearse::Rehearsal {
        let (_dir, plan) = crate::support::playbooks::valid_plan(
            CONFIG,
            &[("outage.yaml", CRISIS), ("spring.yaml", CAMPAIGN)],
        );
        rehearsal(plan, events, utc(9, 0), until).await.unwrap()
    }

    fn of<'a>(lines: &'a [RehearsalLine], kind: &str) -> Vec<&'a RehearsalLine> {
        lines.iter().filter(|l| l.kind == kind).collect()
    }

    #[tokio::test]
    async fn a_crisis_pause_holds_the_campaign_posts_it_covers() {
        let approve = serde_json::json!({
            "at": "2027-03-03T09:30:00Z", "type": "approval", "incident": "outage",
            "by": "lead", "decision": "approve"
        });
        let rehearsal = rehearse(&events(&[approve]), utc(10, 0)).await;
        let lines = &rehearsal.lines;
        let text = render_text(lines);
        let pause = of(lines, "pause");
        assert_eq!(pause.len(), 1, "{text}");
        // The third complaint is at 09:22:30: the 09:23 evaluation opens the incident.
        assert_eq!(pause[0].at.to_utc(), utc(9, 23), "{text}");
        let held = of(lines, "held");
        assert_eq!(held.len(), 1, "{text}");
        assert_eq!(held[0].item.as_deref(), Some("launch"));
        assert!(
            held[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("by crisis:outage")),
            "{text}"
        );
        // The holding post is the one post that goes out; the team is told.
        let posts = of(lines, "post");
        assert_eq!(posts.len(), 1, "{text}");
        assert_eq!(posts[0].playbook.as_deref(), Some("outage"));
        assert_eq!(posts[0].at.to_utc(), utc(9, 30), "{text}");
        assert!(
            of(lines, "notify")
                .iter()
                .any(|n| n.text.as_deref().is_some_and(|t| t.contains("3 negative")))
        );
        assert!(
            text.contains("1 post(s) would go out, 1 held by a pause"),
            "{text}"
        );
        // The incident report is the engine's, the same one `--incident-report` writes.
        assert_eq!(rehearsal.incidents.len(), 1);
        assert_eq!(
            rehearsal.incidents[0].responded_at,
            Some(utc(9, 30).timestamp_millis())
        );
    }

    #[tokio::test]
    async fn a_resume_sends_the_held_campaign_post() {
        let approve = serde_json::json!({
            "at": "2027-03-03T09:30:00Z", "type": "approval", "incident": "outage",
            "by": "lead", "decision": "approve"
        });
        let rehearsal = rehearse(&events(&[approve]), utc(11, 0)).await;
        let lines = &rehearsal.lines;
        let text = render_text(lines);
        let resume = of(lines, "resume");
        assert_eq!(resume.len(), 1, "{text}");
        let launch: Vec<_> = of(lines, "post")
            .into_iter()
            .filter(|l| l.item.as_deref() == Some("launch"))
            .collect();
        assert_eq!(launch.len(), 1, "{text}");
        assert_eq!(launch[0].at, resume[0].at, "{text}");
        assert_eq!(
            launch[0].reason.as_deref(),
            Some("held by a pause from 09:45, sent when it lifted"),
            "{text}"
        );
        assert!(of(lines, "held").is_empty(), "{text}");
    }

    #[tokio::test]
    async fn an_incident_decision_with_nothing_to_decide_is_refused_with_the_reason() {
        let decisions = [
            // Before any incident.
            serde_json::json!({
                "at": "2027-03-03T09:05:00Z", "type": "approval", "incident": "outage",
                "by": "lead", "decision": "ack"
            }),
            // Not a plan of the playbooks.
            serde_json::json!({
                "at": "2027-03-03T09:06:00Z", "type": "approval", "incident": "outgae",
                "by": "lead", "decision": "ack"
            }),
            // Someone who is not the approver.
            serde_json::json!({
                "at": "2027-03-03T09:26:00Z", "type": "approval", "incident": "outage",
                "by": "duty", "decision": "approve"
            }),
        ];
        let lines = rehearse(&events(&decisions), utc(10, 0)).await.lines;
        let text = render_text(&lines);
        let refused: Vec<(String, String)> = of(&lines, "refused")
            .iter()
            .map(|l| {
                (
                    l.at.format("%H:%M").to_string(),
                    l.reason.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            refused,
            [
                ("09:05".into(), "outage has no open incident".into()),
                ("09:06".into(), "there is no crisis plan `outgae`".into()),
                (
                    "09:26".into(),
                    "duty may not decide incident 1's approval; the approvers are lead".into()
                ),
            ],
            "{text}"
        );
        // Nothing approved the post: it never goes out.
        assert!(of(&lines, "post").is_empty(), "{text}");
    }

    #[tokio::test]
    async fn an_incident_decision_without_crisis_plans_is_refused() {
        let (_dir, plan) =
            crate::support::playbooks::valid_plan(CONFIG, &[("spring.yaml", CAMPAIGN)]);
        let decision = event(serde_json::json!({
            "at": "2027-03-03T09:05:00Z", "type": "approval", "incident": "outage",
            "by": "lead", "decision": "resolve"
        }));
        let lines = rehearsal(plan, &[decision], utc(9, 0), utc(10, 0))
            .await
            .unwrap()
            .lines;
        let refused = of(&lines, "refused");
        assert_eq!(refused.len(), 1, "{}", render_text(&lines));
        assert_eq!(
            refused[0].reason.as_deref(),
            Some("there is no crisis plan `outage`")
        );
    }

    #[tokio::test]
    async fn a_decision_on_an_incident_that_waits_for_none_is_refused() {
        // The incident opens at 09:23 and asks for its approval at once.
        let decision = |minute: u32, by: &str, decision: &str| {
            serde_json::json!({
                "at": format!("2027-03-03T09:{minute:02}:00Z"), "type": "approval",
                "incident": "outage", "by": by, "decision": decision
            })
        };
        let decisions = [
            decision(24, "duty", "ack"),
            decision(25, "lead", "ack"),
            decision(30, "lead", "approve"),
            decision(31, "lead", "approve"),
        ];
        let lines = rehearse(&events(&decisions), utc(10, 0)).await.lines;
        let text = render_text(&lines);
        let refused: Vec<_> = of(&lines, "refused")
            .iter()
            .map(|l| l.reason.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            refused,
            [
                "incident 1 is already acknowledged at critical by duty",
                "incident 1 has no approval waiting",
            ],
            "{text}"
        );
        assert!(
            text.contains("refused  outage → lead: approve (incident 1 has no approval waiting)"),
            "{text}"
        );
        assert_eq!(of(&lines, "post").len(), 1, "{text}");
    }
}

/// A level's condition that cannot be evaluated is not "false": nothing opens or resolves
/// on it, the error is kept in the runner's state, and after a few failures in a row the
/// plan's people are told, once.
#[test]
fn a_failing_condition_is_kept_and_told_never_taken_for_false() {
    use crier::crisis::runner::{CONDITION_FAILURES_TO_ALERT, RunnerState};
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::{HistoryFilter, SqliteStore, Store};
    use std::sync::Arc;

    let plan = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
levels:
  - name: elevated
    when: 'mentions("30m").negative / (signal.total - signal.total) >= 1'
    do:
      - notify: lead
"#;
    let config = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  lead: { notify: chat }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(config, &[("outage.yaml", plan)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    crate::support::crisis::negative_mention(store.as_ref(), "brand", T0);
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let mut engine = Engine::new(plan, "rev", EngineParts::new(store.clone()), at(T0)).unwrap();
    let state = || -> RunnerState {
        serde_json::from_str(&store.crisis_state("outage").unwrap().unwrap()).unwrap()
    };
    let alerts = || {
        store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .filter(|run| run.item == "condition-failure")
            .collect::<Vec<_>>()
    };
    for minute in 1..CONDITION_FAILURES_TO_ALERT as i64 {
        engine.tick_crises(at(T0 + minute * MIN)).unwrap();
        assert!(alerts().is_empty(), "told too early");
    }
    let failure = state().condition_failure.expect("the failure is kept");
    assert_eq!(failure.failures, CONDITION_FAILURES_TO_ALERT - 1);
    assert!(
        failure.error.contains("level `elevated`"),
        "{}",
        failure.error
    );
    for minute in CONDITION_FAILURES_TO_ALERT as i64..CONDITION_FAILURES_TO_ALERT as i64 + 3 {
        engine.tick_crises(at(T0 + minute * MIN)).unwrap();
    }
    let told = alerts();
    assert_eq!(told.len(), 1, "told once per streak: {told:?}");
    assert_eq!(told[0].outbox[0].account, "chat");
    assert!(
        told[0].outbox[0]
            .text
            .contains("cannot evaluate its conditions"),
        "{}",
        told[0].outbox[0].text
    );
    assert!(
        state().open.is_none(),
        "nothing opened on a failed condition"
    );
    assert!(store.incidents().unwrap().is_empty());
}

/// `crier status` shows a crisis plan whose conditions fail.
#[test]
fn status_shows_a_crisis_plan_whose_conditions_fail() {
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::{SqliteStore, Store};
    use std::sync::Arc;

    let plan = r#"kind: crisis
name: outage
watch: { accounts: [brand], keywords: [acme], every: 1m }
levels:
  - name: elevated
    when: 'mentions("30m").negative / (signal.total - signal.total) >= 1'
    do:
      - notify: lead
"#;
    let config = "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  lead: { notify: chat }\n";
    let (dir, plan) = crate::support::playbooks::valid_plan(config, &[("outage.yaml", plan)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    crate::support::crisis::negative_mention(store.as_ref(), "brand", T0);
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let mut engine = Engine::new(plan, "rev", EngineParts::new(store.clone()), at(T0)).unwrap();
    engine.tick_crises(at(T0 + MIN)).unwrap();
    drop(engine);
    drop(store);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["status", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "crisis plan outage cannot evaluate its conditions (1 failed evaluation(s) in a row"
        ),
        "{stdout}"
    );
}

mod restore {
    use super::*;
    use crier::crisis::runner::{PlanRunner, REPLAY_PAGE, RunnerState};
    use crier::store::{
        CrisisStore, IncidentActionRow, IncidentRow, Millis, NewMention, SqliteStore, StoreResult,
        StoredMention,
    };
    use std::sync::Mutex;

    /// The crisis aggregate of a store, with the size of every answer about mentions.
    struct Counting {
        inner: SqliteStore,
        answers: Mutex<Vec<usize>>,
    }

    impl CrisisStore for Counting {
        fn crisis_state(&self, plan: &str) -> StoreResult<Option<String>> {
            self.inner.crisis_state(plan)
        }
        fn crisis_states(&self) -> StoreResult<Vec<(String, String)>> {
            self.inner.crisis_states()
        }
        fn crisis_cursor(&self, plan: &str, account: &str) -> StoreResult<Option<String>> {
            self.inner.crisis_cursor(plan, account)
        }
        fn add_crisis_mentions(
            &self,
            plan: &str,
            account: &str,
            mentions: &[NewMention],
            cursor: Option<&str>,
            now: Millis,
        ) -> StoreResult<usize> {
            self.inner
                .add_crisis_mentions(plan, account, mentions, cursor, now)
        }
        fn crisis_mentions(
            &self,
            plan: &str,
            after_seq: i64,
            since: Millis,
        ) -> StoreResult<Vec<StoredMention>> {
            let answer = self.inner.crisis_mentions(plan, after_seq, since)?;
            self.answers.lock().unwrap().push(answer.len());
            Ok(answer)
        }
        fn crisis_mentions_page(
            &self,
            plan: &str,
            after_seq: i64,
            since: Millis,
            limit: usize,
        ) -> StoreResult<Vec<StoredMention>> {
            let answer = self
                .inner
                .crisis_mentions_page(plan, after_seq, since, limit)?;
            self.answers.lock().unwrap().push(answer.len());
            Ok(answer)
        }
        fn incidents(&self) -> StoreResult<Vec<IncidentRow>> {
            self.inner.incidents()
        }
        fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
            self.inner.incident(id)
        }
        fn next_incident_id(&self) -> StoreResult<i64> {
            self.inner.next_incident_id()
        }
        fn add_incident_action(
            &self,
            incident: i64,
            action: &str,
            now: Millis,
        ) -> StoreResult<i64> {
            self.inner.add_incident_action(incident, action, now)
        }
        fn pending_incident_actions(&self, plan: &str) -> StoreResult<Vec<IncidentActionRow>> {
            self.inner.pending_incident_actions(plan)
        }
        fn incident_action(&self, id: i64) -> StoreResult<Option<IncidentActionRow>> {
            self.inner.incident_action(id)
        }
    }

    /// A restore rebuilds the windows from the stored mentions a page at a time, up to the
    /// last one the saved state had read: it never holds every stored mention at once.
    #[test]
    fn a_restore_replays_stored_mentions_a_page_at_a_time() {
        let config = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n";
        let playbook = "kind: crisis\nname: outage\nwatch:\n  accounts: [brand]\n  keywords: [acme]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'signal.total == 2400'\n    do:\n      - notify: duty\n";
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
        std::fs::write(dir.path().join("outage.yaml"), playbook).unwrap();
        let plan = crier::playbook::load::load_and_validate(dir.path())
            .unwrap()
            .plan
            .expect("a valid plan");
        let store = Counting {
            inner: SqliteStore::in_memory().unwrap(),
            answers: Mutex::new(Vec::new()),
        };
        let mentions: Vec<NewMention> = (0..2_500)
            .map(|i| NewMention {
                key: format!("console:{i}"),
                at: T0 + i * 500,
                author: format!("@fan{i}"),
                text: "acme is down".into(),
            })
            .collect();
        store
            .add_crisis_mentions("outage", "brand", &mentions, None, T0)
            .unwrap();
        let (engine, texts) = (ScriptEngine::new(), crier::text::TextTemplates::new());
        let state = RunnerState {
            mentions_read: 2_400,
            ..RunnerState::default()
        };
        let mut runner = PlanRunner::new(
            &plan.crises[0],
            &engine,
            crier::text::Renderer::Inline(&texts),
            state,
        );
        runner.replay_stored(&store, T0 - MIN).unwrap();
        let answers = store.answers.lock().unwrap().clone();
        assert!(
            answers.iter().all(|n| *n <= REPLAY_PAGE) && answers.len() == 3,
            "{answers:?}"
        );
        // Exactly the 2,400 mentions read before are in the windows.
        assert!(runner.evaluate(T0 + 2_500 * 500, 1));
    }
}

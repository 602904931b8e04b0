//! `TextTemplates`: the one minijinja environment, strict about undefined values, with a
//! thread-safe cache of compiled templates keyed by their source; each render runs through
//! `bounded` so that no text can take more than its budget.

use std::sync::RwLock;

use minijinja::machinery::{Vm, get_compiled_template, make_string_output};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::budget::MAX_STEPS;
use super::{TextError, bounded, check, filters};

/// Compiled templates kept before the cache is emptied (playbooks hold far fewer texts).
const CACHE_LIMIT: usize = 10_000;

/// Checks and renders post texts. Built once; share it (it is `Send + Sync`).
pub struct TextTemplates {
    /// Templates are added under their own source as name, so the environment is the cache.
    env: RwLock<Environment<'static>>,
    /// Where `render_unless_stopped` renders.
    pub(super) thread: super::worker::RenderThread,
}

impl Default for TextTemplates {
    fn default() -> Self {
        TextTemplates::new()
    }
}

impl std::fmt::Debug for TextTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTemplates").finish_non_exhaustive()
    }
}

impl TextTemplates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Texts are plain text whatever they end with ("see index.html").
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.set_recursion_limit(64);
        env.set_fuel(Some(MAX_STEPS));
        env.remove_global("debug");
        env.add_filter("mentions", filters::mentions);
        env.add_filter("hashtag", filters::hashtag);
        env.add_filter("duration", filters::duration);
        env.add_filter("join", filters::bounded_join);
        env.add_function("range", super::budget::bounded_range);
        bounded::register(&mut env);
        TextTemplates {
            env: RwLock::new(env),
            thread: Default::default(),
        }
    }

    /// Check at load: syntax, unknown variables (top-level names not in `known_variables`),
    /// unknown filters/tests/functions. All with positions inside the template and
    /// did-you-mean hints.
    pub fn check(&self, source: &str, known_variables: &[&str]) -> Result<(), TextError> {
        check::check(source, known_variables)
    }

    /// Renders `source` with `context` (a JSON object). Undefined values are errors, and so
    /// is a text over its budget (`MAX_STEPS`, `MAX_TEXT_BYTES`).
    pub fn render(&self, source: &str, context: &serde_json::Value) -> Result<String, TextError> {
        if is_literal(source) {
            return Ok(source.to_owned());
        }
        let to_text = |error: minijinja::Error| TextError::from_minijinja(&error, source);
        {
            let env = self.env.read().unwrap_or_else(|e| e.into_inner());
            if let Ok(template) = env.get_template(source) {
                return bounded_render(&env, &template, source, context);
            }
        }
        let mut env = self.env.write().unwrap_or_else(|e| e.into_inner());
        if env.templates().count() >= CACHE_LIMIT {
            env.clear_templates();
        }
        env.add_template_owned(source.to_owned(), source.to_owned())
            .map_err(to_text)?;
        let template = env.get_template(source).map_err(to_text)?;
        bounded_render(&env, &template, source, context)
    }
}

/// Whether `source` has no template syntax (`{{`, `{%`, `{#` all start with `{`) and fits
/// the budget: it renders to itself whatever the context, with nothing to compile or cache.
/// Most calendar rows are such texts.
pub fn is_literal(source: &str) -> bool {
    source.len() <= super::budget::MAX_TEXT_BYTES && !source.contains('{')
}

fn bounded_render(
    env: &Environment<'_>,
    template: &minijinja::Template<'_, '_>,
    source: &str,
    context: &serde_json::Value,
) -> Result<String, TextError> {
    let compiled = bounded::rewrite_compiled(get_compiled_template(template));
    let _range_items = super::budget::start();
    let _counts = bounded::start();
    let mut text = String::new();
    let mut output = make_string_output(&mut text);
    let root = minijinja::Value::from_serialize(context);
    Vm::new(env)
        .eval(
            &compiled.instructions,
            root,
            &compiled.blocks,
            &mut output,
            AutoEscape::None,
        )
        .map_err(|error| TextError::from_minijinja(&error, source))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::names::{BUILTIN_FILTERS, CRIER_FILTERS, FUNCTIONS, TESTS};
    use super::*;

    #[test]
    fn a_text_without_template_syntax_renders_to_itself() {
        let texts = TextTemplates::new();
        let context = serde_json::json!({});
        for source in [
            "Launch day: 50% off}",
            "two lines\nand a trailing newline\n",
            "",
            "%} #} }} -%}",
        ] {
            assert!(is_literal(source), "{source:?}");
            assert_eq!(texts.render(source, &context).unwrap(), source);
        }
        assert!(!is_literal("Hi {{ name }}"));
        assert!(!is_literal("{# a comment #}"));
        assert!(!is_literal(&"x".repeat(super::super::MAX_TEXT_BYTES + 1)));
    }

    #[test]
    fn every_listed_name_exists() {
        let texts = TextTemplates::new();
        let exists = |kind: &str, name: &str| {
            let source = format!("{{{{ name is {kind} }}}}");
            texts
                .render(&source, &serde_json::json!({ "name": name }))
                .unwrap()
        };
        for name in BUILTIN_FILTERS.iter().chain(CRIER_FILTERS) {
            assert_eq!(exists("filter", name), "True", "filter {name}");
        }
        for name in TESTS {
            assert_eq!(exists("test", name), "True", "test {name}");
        }
        assert_eq!(exists("filter", "nope"), "False");
        let env = texts.env.read().unwrap();
        let mut globals: Vec<&str> = env
            .globals()
            .map(|(name, _)| name)
            .filter(|name| !bounded::is_internal(name))
            .collect();
        let mut expected = FUNCTIONS.to_vec();
        globals.sort_unstable();
        expected.sort_unstable();
        assert_eq!(globals, expected);
    }

    const NESTED_RANGES: &str =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";

    fn render(source: &str) -> Result<String, TextError> {
        TextTemplates::new().render(source, &serde_json::json!({ "n": 100000 }))
    }

    #[test]
    fn nested_loops_stop_at_the_step_budget() {
        // `n` comes from data, so the load-time check cannot see the size of this loop.
        let source = "{% for i in range(n) %}{% for j in range(n) %}{% endfor %}{% endfor %}";
        let error = render(source).unwrap_err();
        assert_eq!(
            error.message,
            "the text takes more than 100000 steps to render (the limit for one text)"
        );
        assert_eq!(
            error.hint.as_deref(),
            Some("loop over fewer items, or move long lists out of the text")
        );
    }

    #[test]
    fn a_growing_join_stops_at_the_size_budget() {
        let source = "{{ (\"ab,\" * 100000) | split(\",\") | join(\"--\") }}";
        let error = render(source).unwrap_err();
        assert_eq!(
            error.message,
            "the text grows larger than 256 KiB while rendering (the limit for one text)"
        );
    }

    #[test]
    fn output_over_the_size_budget_fails() {
        let source = "{% for i in range(n) %}{{ \"x\" * 1000 }}{% endfor %}";
        let error = render(source).unwrap_err();
        assert!(error.message.contains("larger than 256 KiB"), "{error:?}");
    }

    #[test]
    fn texts_within_budget_render_as_before() {
        let source = "{% for i in range(3) %}{{ i }}{% endfor %} {{ [1, 2] | join(\"-\") }}";
        assert_eq!(render(source).unwrap(), "012 1-2");
        assert_eq!(render("{{ \"ab\" | join(\",\") }}").unwrap(), "a,b");
    }

    #[test]
    fn constant_loops_over_budget_are_found_at_load() {
        let texts = TextTemplates::new();
        let error = texts.check(NESTED_RANGES, &[]).unwrap_err();
        assert_eq!(
            error.message,
            "this loop takes at least 10000100000 steps to render, more than the 100000 a text may take"
        );
        assert_eq!((error.line, error.column, error.len), (1, 4, 3));
        let inner = "ok {% if true %}{% for c in [1, 2, 3] %}{% for i in range(0, 90000, 2) %}{{ i }}{% endfor %}{% endfor %}{% endif %}";
        let error = texts.check(inner, &[]).unwrap_err();
        assert_eq!((error.line, error.column), (1, 20));
        assert!(
            texts
                .check("{% for i in range(1000) %}{{ i }}{% endfor %}", &[])
                .is_ok()
        );
    }

    #[test]
    fn sequences_made_in_a_loop_count_against_the_step_budget() {
        // One instruction each turn, but a list of `n` items built every time.
        let source = "{% for i in range(n) %}{% set s = range(n) | list %}{% endfor %}";
        let error = render(source).unwrap_err();
        assert_eq!(
            error.message,
            "the text takes more than 100000 steps to render (the limit for one text)"
        );
        let fine = "{% for i in range(3) %}{{ range(4) | list | length }}{% endfor %}";
        assert_eq!(render(fine).unwrap(), "444");
    }

    /// Texts that would double a value every turn of a loop (memory, not steps): each fails
    /// with the budget's reason after a few turns, long before memory grows.
    #[test]
    fn values_that_double_stop_at_the_size_budget() {
        let ns = "{% set ns = namespace(s=\"x&\", l=[1]) %}";
        let doubling = [
            "{% set ns.s = ns.s ~ ns.s %}",
            "{% set ns.s = ns.s + ns.s %}",
            "{% set ns.s = ns.s * 2 %}",
            "{% set ns.s = ns.s | replace(\"x\", ns.s) %}",
            "{% set ns.s = ns.s | replace(\"\", \"yy\") %}",
            "{% set c %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = c %}",
            "{% set ns.s = ns.s | indent(ns.s | length, true) %}",
            "{% set ns.s = [ns.s, ns.s] | join %}",
            "{% set ns.l = ns.l + ns.l %}",
            "{% set ns.l = [ns.l, ns.l] %}",
            "{% set ns.l = ns.l * 2 %}",
            "{% set ns.s = ns.l | string %}{% set ns.l = [ns.l, ns.l] %}",
        ];
        for step in doubling {
            let source = format!("{ns}{{% for i in range(200) %}}{step}{{% endfor %}}ok");
            let error = render(&source).unwrap_err();
            assert!(
                error.message.contains("larger than 256 KiB")
                    || error.message.contains("more than 64 deep"),
                "{source}: {error:?}"
            );
            assert_eq!(
                error.hint.as_deref(),
                Some("loop over fewer items, or move long lists out of the text"),
                "{source}"
            );
        }
        let single = [
            "{{ \"x\" * 100000000 }}",
            "{{ \"a\\nb\" | indent(1000000000) }}",
            "{{ \"a\\nb\" | indent(width=1000000000) }}",
            "{{ [1] | batch(1000000000, 0) | list }}",
            "{{ [1] | slice(1000000000, 0) | list }}",
            "{% macro d(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s=\"x\") %}{% for i in range(60) %}{% set ns.s = d(ns.s) %}{% endfor %}",
            "{% for i in range(100000) %}{{ \"abc\" }}{% endfor %}",
            "{% for i in range(100000) %}abc{% endfor %}",
        ];
        for source in single {
            let error = render(source).unwrap_err();
            assert!(
                error.hint.as_deref() == Some(super::super::budget::OVER_BUDGET_HINT),
                "{source}: {error:?}"
            );
        }
        let spread = render("{{ \"a\" | indent(*[2]) }}").unwrap_err();
        assert!(spread.message.contains("spread"), "{spread:?}");
    }

    /// A value made and dropped again and again uses no memory but does work: that is
    /// bounded too.
    #[test]
    fn values_made_over_and_over_stop_at_the_work_budget() {
        let source = "{% set big = \"x\" * 200000 %}{% for i in range(100000) %}{% set t = big ~ \"y\" %}{% endfor %}";
        let error = render(source).unwrap_err();
        assert_eq!(
            error.message,
            "the text builds more than 16 MiB of values while rendering (the limit for one text)"
        );
    }

    #[test]
    fn the_checks_change_nothing_within_budget() {
        let texts = TextTemplates::new();
        let context = serde_json::json!({ "winners": ["ann", "bo"], "n": 3, "items": [1, 2, 3] });
        for (source, expected) in [
            ("Hi {{ winners | mentions }}!\n", "Hi @ann and @bo!\n"),
            (
                "{{ \"ab\" * n }} {{ [1] * 2 }} {{ n * 2 }} {{ 1.5 * 2 }}",
                "ababab [1, 1] 6 3.0",
            ),
            (
                "{{ \"a\\nb\" | indent(2) }}|{{ \"a-b\" | replace(\"-\", \"+\") }}",
                "a\n  b|a+b",
            ),
            (
                "{{ items | batch(2) | list }} {{ items | slice(2) | list }}",
                "[[1, 2], [3]] [[1, 2], [3]]",
            ),
            (
                "{% for i in items %}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}",
                "1,2,3",
            ),
            (
                "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(1) ~ m(2) }}",
                "<1><2>",
            ),
            ("{% set c %}{{ n }}{% endset %}{{ c ~ c }}", "33"),
            (
                "{% for x in [[1, [2]], [3]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}",
                "123",
            ),
            (
                "{{ (items | map(\"string\") | join(\"+\")) if n > 2 else \"no\" }}",
                "1+2+3",
            ),
        ] {
            assert_eq!(
                texts.render(source, &context).unwrap(),
                expected,
                "{source}"
            );
        }
        let missing = texts.render("a {{ nope }} b", &context).unwrap_err();
        assert_eq!(missing.message, "`nope` has no value");
        assert_eq!((missing.line, missing.column), (1, 6));
    }
}

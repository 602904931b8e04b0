//! `TextTemplates`: the one minijinja environment, strict about undefined values, with a
//! thread-safe cache of compiled templates keyed by their source.

use std::sync::RwLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use super::budget::{BoundedOutput, MAX_STEPS};
use super::{TextError, check, filters};

/// Compiled templates kept before the cache is emptied (playbooks hold far fewer texts).
const CACHE_LIMIT: usize = 10_000;

/// Checks and renders post texts. Built once; share it (it is `Send + Sync`).
pub struct TextTemplates {
    /// Templates are added under their own source as name, so the environment is the cache.
    env: RwLock<Environment<'static>>,
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
        TextTemplates {
            env: RwLock::new(env),
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
        let to_text = |error: minijinja::Error| TextError::from_minijinja(&error, source);
        {
            let env = self.env.read().unwrap_or_else(|e| e.into_inner());
            if let Ok(template) = env.get_template(source) {
                return bounded_render(&template, source, context);
            }
        }
        let mut env = self.env.write().unwrap_or_else(|e| e.into_inner());
        if env.templates().count() >= CACHE_LIMIT {
            env.clear_templates();
        }
        env.add_template_owned(source.to_owned(), source.to_owned())
            .map_err(to_text)?;
        let template = env.get_template(source).map_err(to_text)?;
        bounded_render(&template, source, context)
    }
}

fn bounded_render(
    template: &minijinja::Template<'_, '_>,
    source: &str,
    context: &serde_json::Value,
) -> Result<String, TextError> {
    let _metered = super::budget::start();
    let mut output = BoundedOutput::default();
    match template.render_captured_to(context, &mut output) {
        Ok(_) => Ok(String::from_utf8_lossy(&output.text).into_owned()),
        Err(_) if output.overflowed => Err(TextError::over_budget(super::budget::too_large())),
        Err(error) => Err(TextError::from_minijinja(&error, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::{BUILTIN_FILTERS, CRIER_FILTERS, FUNCTIONS, TESTS};
    use super::*;

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
        let mut globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
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
}

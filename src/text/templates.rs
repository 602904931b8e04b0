//! `TextTemplates`: the one minijinja environment, strict about undefined values, with a
//! thread-safe cache of compiled templates keyed by their source.

use std::sync::RwLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

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
        env.remove_global("debug");
        env.add_filter("mentions", filters::mentions);
        env.add_filter("hashtag", filters::hashtag);
        env.add_filter("duration", filters::duration);
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

    /// Renders `source` with `context` (a JSON object). Undefined values are errors.
    pub fn render(&self, source: &str, context: &serde_json::Value) -> Result<String, TextError> {
        let to_text = |error: minijinja::Error| TextError::from_minijinja(&error, source);
        {
            let env = self.env.read().unwrap_or_else(|e| e.into_inner());
            if let Ok(template) = env.get_template(source) {
                return template.render(context).map_err(to_text);
            }
        }
        let mut env = self.env.write().unwrap_or_else(|e| e.into_inner());
        if env.templates().count() >= CACHE_LIMIT {
            env.clear_templates();
        }
        env.add_template_owned(source.to_owned(), source.to_owned())
            .map_err(to_text)?;
        let template = env.get_template(source).map_err(to_text)?;
        template.render(context).map_err(to_text)
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
}

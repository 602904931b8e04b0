//! The functions crier adds to rhai (`metrics`, `mentions`, `spike`, `zscore`, `rate`,
//! `graphemes`) and how they reach the data of the evaluation that calls them.
//!
//! rhai 1.27 takes a per-run tag only in `call_fn_with_options`, which needs a script
//! function; `eval_ast_with_scope` always starts from the engine's default tag, and the engine
//! is immutable and shared. So `ScriptEngine::evaluate` installs the input's sources in a
//! thread-local slot for the duration of the (synchronous) evaluation, restoring the previous
//! ones afterwards, and these functions read them from there: no engine rebuild, no allocation.

use std::cell::RefCell;
use std::sync::Arc;

use rhai::{Engine, EvalAltResult};
use unicode_segmentation::UnicodeSegmentation;

use super::sources::{
    AccountMetrics, MentionCounts, MetricsSource, NoData, Sentiment, SignalSource,
};
use super::window::parse_window;

type Sources = (Arc<dyn MetricsSource>, Arc<dyn SignalSource>);

thread_local! {
    static CURRENT: RefCell<Option<Sources>> = const { RefCell::new(None) };
}

/// Makes `sources` the ones functions see until dropped; restores the previous ones.
pub(super) struct Installed(Option<Sources>);

pub(super) fn install(
    metrics: &Arc<dyn MetricsSource>,
    signals: &Arc<dyn SignalSource>,
) -> Installed {
    let sources = (Arc::clone(metrics), Arc::clone(signals));
    Installed(CURRENT.with(|slot| slot.borrow_mut().replace(sources)))
}

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|slot| *slot.borrow_mut() = previous);
    }
}

fn with_sources<R>(f: impl FnOnce(&Sources) -> R) -> R {
    CURRENT.with(|slot| match &*slot.borrow() {
        Some(sources) => f(sources),
        None => f(&(Arc::new(NoData), Arc::new(NoData))),
    })
}

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

fn window(text: &str) -> Result<std::time::Duration> {
    parse_window(text).ok_or_else(|| format!("invalid window `{text}`").into())
}

fn sentiment(text: &str) -> Result<Sentiment> {
    Sentiment::parse(text).ok_or_else(|| format!("unknown sentiment `{text}`").into())
}

/// Registers every crier function; `check` limits each context to its own.
pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("graphemes", |text: &str| {
        text.graphemes(true).count() as i64
    });
    // Results are small Rust values with getters, not maps: building a map on every
    // evaluation cost more than the rest of a typical condition.
    engine
        .register_type_with_name::<AccountMetrics>("metrics")
        .register_get("followers", |m: &mut AccountMetrics| m.followers)
        .register_get("posts", |m: &mut AccountMetrics| m.posts)
        .register_get("likes", |m: &mut AccountMetrics| m.likes)
        .register_get("reposts", |m: &mut AccountMetrics| m.reposts)
        .register_get("replies", |m: &mut AccountMetrics| m.replies);
    engine.register_fn("metrics", |account: &str| -> Result<AccountMetrics> {
        with_sources(|(metrics, _)| metrics.metrics(account))
            .map(Option::unwrap_or_default)
            .map_err(|error| format!("cannot read the metrics of `{account}`: {error}").into())
    });
    engine
        .register_type_with_name::<MentionCounts>("mentions")
        .register_get("total", |c: &mut MentionCounts| c.total)
        .register_get("negative", |c: &mut MentionCounts| c.negative)
        .register_get("positive", |c: &mut MentionCounts| c.positive)
        .register_get("neutral", |c: &mut MentionCounts| c.neutral)
        .register_get("authors", |c: &mut MentionCounts| c.authors);
    engine.register_fn("mentions", |w: &str| -> Result<MentionCounts> {
        let window = window(w)?;
        Ok(with_sources(|(_, signals)| signals.mentions(window)))
    });
    engine.register_fn("spike", |s: &str, w: &str, b: &str| -> Result<f64> {
        let (s, w, b) = (sentiment(s)?, window(w)?, window(b)?);
        Ok(with_sources(|(_, signals)| signals.spike(s, w, b)))
    });
    engine.register_fn("zscore", |s: &str, w: &str, b: &str| -> Result<f64> {
        let (s, w, b) = (sentiment(s)?, window(w)?, window(b)?);
        Ok(with_sources(|(_, signals)| signals.zscore(s, w, b)))
    });
    engine.register_fn("rate", |s: &str, w: &str| -> Result<f64> {
        let (s, w) = (sentiment(s)?, window(w)?);
        Ok(with_sources(|(_, signals)| signals.rate(s, w)))
    });
}

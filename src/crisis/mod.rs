//! Crisis plans: the mention stream of a plan (keyword filter, tone, windows) and its
//! incident state machine. Conditions read the windows through `script::SignalSource`.

mod classify;
pub mod collect;
mod drill;
mod incident;
mod report;
pub mod runner;
mod windows;

pub use classify::{Classifier, KeywordFilter, Lexicon, Tone};
pub use drill::{DrillDecision, DrillMention, drill, render_reports};
pub use incident::{IncidentMachine, IncidentState, Transition};
pub use report::{
    ApprovalRecord, IncidentReport, LevelMark, MinuteCount, ReportFormat, TimelineEntry, duration,
};
pub use windows::MentionWindows;

use std::sync::Arc;
use std::time::Duration;

use crate::playbook::plan::CrisisPlan;

/// One plan's view of the mention stream: which mentions count, their tone, the windows.
pub struct CrisisSignals {
    filter: KeywordFilter,
    classifier: Box<dyn Classifier>,
    /// Shared with the evaluations that read it; written in place once they are done.
    windows: Arc<MentionWindows>,
}

impl CrisisSignals {
    /// Windows keep `retention` (the longest baseline the plan's conditions read).
    pub fn new(
        filter: KeywordFilter,
        classifier: Box<dyn Classifier>,
        retention: Duration,
    ) -> Self {
        CrisisSignals {
            filter,
            classifier,
            windows: Arc::new(MentionWindows::new(retention)),
        }
    }

    /// The plan's keywords and lexicon (built-in unless replaced, plus its own words).
    pub fn for_plan(plan: &CrisisPlan, retention: Duration) -> Self {
        let lexicon = Lexicon::for_plan(
            plan.replace_builtin_lexicon,
            &plan.negative_words,
            &plan.positive_words,
        );
        CrisisSignals::new(
            KeywordFilter::new(&plan.keywords),
            Box::new(lexicon),
            retention,
        )
    }

    /// Whether a mention with this text counts for the plan (its keywords).
    pub fn matches(&self, text: &str) -> bool {
        self.filter.matches(text)
    }

    /// Counts one mention if it matches the keywords; returns its tone then.
    pub fn observe(&mut self, at: i64, author: &str, text: &str) -> Option<Tone> {
        // Lower-cased once, for the keywords and the tone.
        let lower = classify::lowercase(text);
        if !self.filter.matches_lowercased(&lower) {
            return None;
        }
        let tone = self.classifier.classify_lowercased(text, &lower);
        Arc::make_mut(&mut self.windows).record(at, author, tone);
        Some(tone)
    }

    /// Moves the windows' clock to `now` (before evaluating conditions).
    pub fn advance(&mut self, now: i64) {
        Arc::make_mut(&mut self.windows).advance(now);
    }

    pub fn windows(&self) -> &MentionWindows {
        &self.windows
    }

    /// What conditions read. Drop it before the next `observe`, or that copies the windows.
    pub fn source(&self) -> Arc<dyn crate::script::SignalSource> {
        self.windows.clone()
    }
}

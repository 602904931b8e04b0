//! The condition (rhai) checker on arbitrary text, in each context.
#![no_main]

use crier::script::{ConditionContext, ScriptEngine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (u8, &str)| {
    let contexts = [
        ConditionContext::CampaignWhen,
        ConditionContext::ContestEligible,
        ConditionContext::RulesRequire,
        ConditionContext::CrisisWhen,
    ];
    let (which, source) = data;
    let context = contexts[usize::from(which) % contexts.len()];
    let _ = ScriptEngine::new().compile(source, context);
});

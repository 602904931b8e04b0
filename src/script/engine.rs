//! `ScriptEngine` (the one sandboxed rhai engine) and `Condition` (a compiled expression).

use std::collections::BTreeSet;
use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, OptimizationLevel, Scope};

use super::error::{describe, not_bool};
use super::{ConditionContext, ConditionInput, ScriptError, check, functions, limits, scope};

/// Keywords switched off: no `eval`, no printing.
pub(crate) const DISABLED: &[&str] = &["eval", "print", "debug"];

/// The rhai engine conditions run on: built once, immutable, `Send + Sync`; share it in an `Arc`.
pub struct ScriptEngine {
    engine: Engine,
    /// Every function name the engine knows (built-ins and crier's), for the unknown-function check.
    functions: BTreeSet<String>,
}

/// A compiled condition: its AST, the field it belongs to and its source.
#[derive(Debug, Clone)]
pub struct Condition {
    ast: Arc<AST>,
    /// The variables it reads: only these are put in its scope.
    used: Arc<[String]>,
    context: ConditionContext,
    source: Arc<str>,
}

impl Condition {
    pub fn context(&self) -> ConditionContext {
        self.context
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it reads variable `name`: a value it does not read need not be built.
    pub fn reads(&self, name: &str) -> bool {
        self.used.iter().any(|used| used == name)
    }
}

impl Default for ScriptEngine {
    fn default() -> Self {
        ScriptEngine::new()
    }
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine").finish_non_exhaustive()
    }
}

impl ScriptEngine {
    pub fn new() -> Self {
        let mut engine = Engine::new();
        engine.set_optimization_level(OptimizationLevel::Simple);
        engine.set_strict_variables(true);
        engine.set_fail_on_invalid_map_property(true);
        engine.set_allow_looping(false);
        engine.set_allow_shadowing(false);
        for keyword in DISABLED {
            engine.disable_symbol(*keyword);
        }
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        limits::apply(&mut engine);
        functions::register(&mut engine);
        let functions = engine
            .collect_fn_metadata(None, |info| Some(info.metadata.name.to_string()), true)
            .into_iter()
            .collect();
        ScriptEngine { engine, functions }
    }

    /// Compiles `source` for `context`: syntax, variables (exactly the context's), functions
    /// (rhai built-ins and the context's own), literal windows and sentiments, and a result
    /// that is not obviously a non-bool.
    pub fn compile(
        &self,
        source: &str,
        context: ConditionContext,
    ) -> Result<Condition, ScriptError> {
        if source.trim().is_empty() {
            return Err(ScriptError::at(
                rhai::Position::new(1, 1),
                "condition is empty",
            ));
        }
        let mut scope = Scope::new();
        for name in context.variables() {
            // Not constants: the optimizer must not fold them away.
            scope.push_dynamic(*name, Dynamic::UNIT);
        }
        let ast = self
            .engine
            .compile_expression_with_scope(&scope, source)
            .map_err(|error| ScriptError::from_parse(&error, context))?;
        check::check(&ast, context, &self.functions)?;
        Ok(Condition {
            used: check::used_variables(&ast).into(),
            ast: Arc::new(ast),
            context,
            source: source.into(),
        })
    }

    /// Evaluates a compiled condition against `input`; errors and limit hits are `ScriptError`s.
    pub fn evaluate(
        &self,
        condition: &Condition,
        input: &ConditionInput,
    ) -> Result<bool, ScriptError> {
        let _installed = functions::install(&input.metrics, &input.signals);
        let _metered = limits::start();
        let result = scope::with_scope(input, &condition.used, |scope| {
            self.engine
                .eval_ast_with_scope::<Dynamic>(scope, &condition.ast)
        });
        let value = result.map_err(|error| ScriptError::from_eval(*error))?;
        value
            .as_bool()
            .map_err(|_| not_bool(rhai::Position::NONE, &describe(&value)))
    }
}

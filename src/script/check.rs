//! Static checks on a compiled condition: only known functions (and only this context's
//! crier functions), literal windows and sentiments that parse, and a result that is not
//! obviously something other than a bool.

use std::collections::BTreeSet;

use rhai::{AST, ASTNode, Expr, FnCallExpr, Position, Stmt};

use super::context::CONTEXT_FUNCTIONS;
use super::error::{describe, not_bool};
use super::sources::Sentiment;
use super::window::{WINDOW_HINT, parse_window};
use super::{ConditionContext, ScriptError};
use crate::diagnostic::did_you_mean;

/// rhai keywords that look like function calls.
const KEYWORD_CALLS: &[&str] = &[
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
];

/// Runs every check; the first failure is returned.
pub(super) fn check(
    ast: &AST,
    context: ConditionContext,
    builtins: &BTreeSet<String>,
) -> Result<(), ScriptError> {
    check_result(ast)?;
    let mut failure = None;
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos) | Expr::MethodCall(call, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => (call, *pos),
            _ => return true,
        };
        match check_call(call.0, call.1, context, builtins) {
            Ok(()) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// The names of the variables `ast` reads, each once, so an evaluation can put only those
/// in its scope.
pub(super) fn used_variables(ast: &AST) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Variable(var, ..))) = path.last() {
            let name = var.1.as_str();
            if !used.iter().any(|known| known == name) {
                used.push(name.to_owned());
            }
        }
        true
    });
    used
}

/// A constant or a bare map variable as the whole condition is never a bool.
fn check_result(ast: &AST) -> Result<(), ScriptError> {
    let Some(first) = ast.statements().first() else {
        return Err(ScriptError::at(Position::new(1, 1), "condition is empty"));
    };
    let Stmt::Expr(expr) = first else {
        return Ok(());
    };
    let position = expr.start_position();
    if let Some(value) = expr.get_literal_value(None)
        && !value.is_bool()
    {
        return Err(not_bool(position, &describe(&value)));
    }
    match &**expr {
        Expr::InterpolatedString(..) => Err(not_bool(position, "a string")),
        Expr::Array(..) => Err(not_bool(position, "an array")),
        Expr::Map(..) => Err(not_bool(position, "a map")),
        Expr::Variable(var, ..) => Err(not_bool(position, &format!("the map `{}`", var.1))),
        _ => Ok(()),
    }
}

fn check_call(
    call: &FnCallExpr,
    position: Position,
    context: ConditionContext,
    builtins: &BTreeSet<String>,
) -> Result<(), ScriptError> {
    if call.is_operator_call() {
        return Ok(());
    }
    let name = call.name.as_str();
    let own = context.functions();
    if CONTEXT_FUNCTIONS.contains(&name) && !own.contains(&name) {
        let owner = ConditionContext::ALL
            .into_iter()
            .find(|c| c.functions().contains(&name))
            .map_or("another field", ConditionContext::field);
        return Err(
            ScriptError::at(position, format!("unknown function `{name}`")).with_hint(Some(
                format!("`{name}` is only available in {owner} conditions"),
            )),
        );
    }
    let known =
        KEYWORD_CALLS.contains(&name) || builtins.contains(name) || name.starts_with("anon$");
    if !known {
        let candidates = own.iter().copied().chain(
            builtins
                .iter()
                .map(String::as_str)
                .filter(|b| !CONTEXT_FUNCTIONS.contains(b)),
        );
        return Err(
            ScriptError::at(position, format!("unknown function `{name}`"))
                .with_hint(did_you_mean(name, candidates)),
        );
    }
    match name {
        "mentions" => check_windows(call, &[0]),
        "spike" | "zscore" => check_sentiment(call).and_then(|()| check_windows(call, &[1, 2])),
        "rate" => check_sentiment(call).and_then(|()| check_windows(call, &[1])),
        _ => Ok(()),
    }
}

fn literal(call: &FnCallExpr, index: usize) -> Option<(&str, Position)> {
    match call.args.get(index)? {
        Expr::StringConstant(text, pos) => Some((text.as_str(), *pos)),
        _ => None,
    }
}

fn check_windows(call: &FnCallExpr, indexes: &[usize]) -> Result<(), ScriptError> {
    for &index in indexes {
        if let Some((text, pos)) = literal(call, index)
            && parse_window(text).is_none()
        {
            return Err(ScriptError::at(pos, format!("invalid window `{text}`"))
                .with_hint(Some(WINDOW_HINT.into())));
        }
    }
    Ok(())
}

fn check_sentiment(call: &FnCallExpr) -> Result<(), ScriptError> {
    match literal(call, 0) {
        Some((text, pos)) if Sentiment::parse(text).is_none() => {
            let hint = did_you_mean(text, Sentiment::NAMES)
                .unwrap_or_else(|| "one of `total`, `negative`, `positive`, `neutral`".to_string());
            Err(ScriptError::at(pos, format!("unknown sentiment `{text}`")).with_hint(Some(hint)))
        }
        _ => Ok(()),
    }
}

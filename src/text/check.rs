//! Load-time checks of a text template: syntax, then a walk of minijinja's AST for unknown
//! variables (loop and `set` variables are known in their scope), filters, tests and functions,
//! and loops whose work is known at load (constant ranges, literal lists) judged against the
//! rendering budget.

use std::collections::HashSet;

use minijinja::machinery::{Span, WhitespaceConfig, ast, parse};
use minijinja::syntax::SyntaxConfig;

use super::TextError;
use super::budget::{MAX_STEPS, MAX_TEXT_BYTES, OVER_BUDGET_HINT};
use super::names::{FUNCTIONS, TESTS, filters};
use crate::diagnostic::did_you_mean;

/// Checks `source`; the first fault found is returned.
pub(super) fn check(source: &str, known_variables: &[&str]) -> Result<(), TextError> {
    let tree = parse(source, "text", SyntaxConfig, WhitespaceConfig::default())
        .map_err(|error| TextError::from_minijinja(&error, source))?;
    let mut walker = Walker {
        source,
        known: known_variables,
        scopes: vec![HashSet::new()],
        fault: None,
    };
    walker.stmt(&tree);
    if let Some(fault) = walker.fault {
        return Err(fault);
    }
    match over_budget_loop(&tree) {
        Some((span, steps)) => Err(TextError::new(format!(
            "this loop takes at least {steps} steps to render, more than the {MAX_STEPS} a text may take"
        ))
        .with_hint(Some(OVER_BUDGET_HINT.into()))
        .at_bytes(source, span.start_offset as usize..span.start_offset as usize + 3)),
        None => Ok(()),
    }
}

/// The outermost loop whose known work alone is over the budget, with that work.
fn over_budget_loop(stmt: &ast::Stmt<'_>) -> Option<(Span, u64)> {
    let mut found = None;
    visit_loops(stmt, &mut |for_loop, span| {
        let steps = steps_of_loop(for_loop);
        if found.is_none() && steps > MAX_STEPS {
            found = Some((span, steps));
        }
    });
    found
}

fn visit_loops<'s>(stmt: &ast::Stmt<'s>, on_loop: &mut impl FnMut(&ast::ForLoop<'s>, Span)) {
    match stmt {
        ast::Stmt::ForLoop(f) => {
            on_loop(f, f.span());
            f.body.iter().for_each(|s| visit_loops(s, on_loop));
        }
        _ => children(stmt).iter().for_each(|s| visit_loops(s, on_loop)),
    }
}

/// A lower bound on the steps `stmts` take, counting only loops whose length is known.
fn steps_of(stmts: &[ast::Stmt<'_>]) -> u64 {
    stmts.iter().fold(0u64, |total, stmt| {
        let own = match stmt {
            ast::Stmt::ForLoop(f) => steps_of_loop(f),
            other => steps_of(children(other)).saturating_add(1),
        };
        total.saturating_add(own)
    })
}

fn steps_of_loop(f: &ast::ForLoop<'_>) -> u64 {
    let per_item = steps_of(&f.body).saturating_add(1);
    known_length(&f.iter).map_or(per_item, |items| items.saturating_mul(per_item))
}

/// The statements nested in `stmt` other than a loop's body.
fn children<'a, 's>(stmt: &'a ast::Stmt<'s>) -> &'a [ast::Stmt<'s>] {
    match stmt {
        ast::Stmt::Template(t) => &t.children,
        ast::Stmt::ForLoop(f) => &f.body,
        ast::Stmt::IfCond(i) if i.true_body.len() >= i.false_body.len() => &i.true_body,
        ast::Stmt::IfCond(i) => &i.false_body,
        ast::Stmt::WithBlock(w) => &w.body,
        ast::Stmt::SetBlock(s) => &s.body,
        ast::Stmt::AutoEscape(a) => &a.body,
        ast::Stmt::FilterBlock(f) => &f.body,
        ast::Stmt::Block(b) => &b.body,
        _ => &[],
    }
}

/// How many items a loop over `iter` sees, when that is known without data: `range` of
/// constants, a literal list, a constant string.
fn known_length(iter: &ast::Expr<'_>) -> Option<u64> {
    let constant = |expr: &ast::Expr<'_>| match expr {
        ast::Expr::Const(c) => i64::try_from(c.value.clone()).ok(),
        _ => None,
    };
    match iter {
        ast::Expr::List(list) => Some(list.items.len() as u64),
        ast::Expr::Const(c) => c.value.as_str().map(|text| text.chars().count() as u64),
        ast::Expr::Call(call) => {
            let ast::Expr::Var(var) = &call.expr else {
                return None;
            };
            if var.id != "range" {
                return None;
            }
            let args: Option<Vec<i64>> = call
                .args
                .iter()
                .map(|arg| match arg {
                    ast::CallArg::Pos(e) => constant(e),
                    _ => None,
                })
                .collect();
            let (start, stop, step) = match args?.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] if *step != 0 => (*start, *stop, *step),
                _ => return None,
            };
            let span = if step > 0 { stop - start } else { start - stop };
            Some((span.max(0) as u64).div_ceil(step.unsigned_abs()))
        }
        _ => None,
    }
}

struct Walker<'a, 's> {
    source: &'s str,
    known: &'a [&'a str],
    /// Names assigned by `for`, `set`, `with` and macros, innermost scope last.
    scopes: Vec<HashSet<&'s str>>,
    fault: Option<TextError>,
}

impl<'s> Walker<'_, 's> {
    fn fail(&mut self, span: Span, name: &str, message: String, hint: Option<String>) {
        if self.fault.is_none() {
            let start = span.start_offset as usize;
            let error = TextError::new(message)
                .with_hint(hint)
                .at_bytes(self.source, start..start + name.len());
            self.fault = Some(error);
        }
    }

    fn is_assigned(&self, name: &str) -> bool {
        self.scopes.iter().any(|scope| scope.contains(name))
    }

    fn assign(&mut self, target: &ast::Expr<'s>) {
        match target {
            ast::Expr::Var(var) => {
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(var.id);
                }
            }
            ast::Expr::List(list) => list.items.iter().for_each(|item| self.assign(item)),
            _ => {}
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.scopes.push(HashSet::new());
        f(self);
        self.scopes.pop();
    }

    fn body(&mut self, body: &[ast::Stmt<'s>]) {
        body.iter().for_each(|stmt| self.stmt(stmt));
    }

    fn variable(&mut self, var: &ast::Spanned<ast::Var<'s>>) {
        let id = var.id;
        if self.is_assigned(id)
            || self.known.contains(&id)
            || FUNCTIONS.contains(&id)
            || id == "loop" && self.scopes.len() > 1
        {
            return;
        }
        let assigned: Vec<&str> = self.scopes.iter().flatten().copied().collect();
        let candidates = self.known.iter().copied().chain(assigned);
        let hint = did_you_mean(id, candidates).or_else(|| match self.known {
            [] => None,
            known => {
                let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                Some(format!("variables available here: {}", list.join(", ")))
            }
        });
        self.fail(var.span(), id, format!("unknown variable `{id}`"), hint);
    }

    /// `"x" * 10000000`: text repeated past the budget, known at load.
    fn repetition(&mut self, b: &ast::Spanned<ast::BinOp<'s>>) {
        if !matches!(b.op, ast::BinOpKind::Mul) || self.fault.is_some() {
            return;
        }
        let constant = |e: &ast::Expr<'_>| match e {
            ast::Expr::Const(c) => Some(c.value.clone()),
            _ => None,
        };
        let (Some(left), Some(right)) = (constant(&b.left), constant(&b.right)) else {
            return;
        };
        let (text, count) = match (left.as_str(), right.as_str()) {
            (Some(text), None) => (text, i64::try_from(right).ok()),
            (None, Some(text)) => (text, i64::try_from(left).ok()),
            _ => return,
        };
        let bytes = count.map_or(0, |n| (n.max(0) as u64).saturating_mul(text.len() as u64));
        if bytes > MAX_TEXT_BYTES as u64 {
            let span = b.span();
            let range = span.start_offset as usize..span.end_offset as usize;
            self.fault = Some(
                TextError::new(format!(
                    "this repeats text to {bytes} bytes, more than the {} KiB a text may grow to",
                    MAX_TEXT_BYTES / 1024
                ))
                .with_hint(Some(OVER_BUDGET_HINT.into()))
                .at_bytes(self.source, range),
            );
        }
    }

    fn stmt(&mut self, stmt: &ast::Stmt<'s>) {
        if self.fault.is_some() {
            return;
        }
        match stmt {
            ast::Stmt::Template(t) => self.body(&t.children),
            ast::Stmt::EmitExpr(e) => self.expr(&e.expr),
            ast::Stmt::EmitRaw(_) => {}
            ast::Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                self.scoped(|w| {
                    w.assign(&f.target);
                    if let Some(filter) = &f.filter_expr {
                        w.expr(filter);
                    }
                    w.body(&f.body);
                });
                self.scoped(|w| w.body(&f.else_body));
            }
            ast::Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.scoped(|w| w.body(&i.true_body));
                self.scoped(|w| w.body(&i.false_body));
            }
            ast::Stmt::WithBlock(w) => self.scoped(|inner| {
                for (target, value) in &w.assignments {
                    inner.expr(value);
                    inner.assign(target);
                }
                inner.body(&w.body);
            }),
            ast::Stmt::Set(s) => {
                self.expr(&s.expr);
                self.assign(&s.target);
            }
            ast::Stmt::SetBlock(s) => {
                self.assign(&s.target);
                if let Some(filter) = &s.filter {
                    self.expr(filter);
                }
                self.scoped(|w| w.body(&s.body));
            }
            ast::Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.scoped(|w| w.body(&a.body));
            }
            ast::Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.scoped(|w| w.body(&f.body));
            }
            ast::Stmt::Block(b) => self.scoped(|w| w.body(&b.body)),
            ast::Stmt::Macro(m) => {
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(m.name);
                }
                self.macro_decl(m);
            }
            ast::Stmt::CallBlock(c) => {
                self.call(&c.call);
                self.macro_decl(&c.macro_decl);
            }
            ast::Stmt::Do(d) => self.call(&d.call),
            ast::Stmt::Import(_)
            | ast::Stmt::FromImport(_)
            | ast::Stmt::Extends(_)
            | ast::Stmt::Include(_)
                if self.fault.is_none() =>
            {
                let error = TextError::new("texts cannot use other templates")
                    .with_hint(Some("remove `include`, `import` and `extends`".into()));
                self.fault = Some(error);
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn macro_decl(&mut self, m: &ast::Macro<'s>) {
        m.defaults.iter().for_each(|d| self.expr(d));
        self.scoped(|w| {
            if let Some(scope) = w.scopes.last_mut() {
                scope.insert("caller");
            }
            m.args.iter().for_each(|arg| w.assign(arg));
            w.body(&m.body);
        });
    }

    fn args(&mut self, args: &[ast::CallArg<'s>]) {
        for arg in args {
            match arg {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn call(&mut self, call: &ast::Call<'s>) {
        match &call.expr {
            ast::Expr::Var(var) if !self.is_assigned(var.id) && !self.known.contains(&var.id) => {
                if !FUNCTIONS.contains(&var.id) {
                    let hint = did_you_mean(var.id, FUNCTIONS.iter().copied());
                    let message = format!("unknown function `{}`", var.id);
                    self.fail(var.span(), var.id, message, hint);
                }
            }
            other => self.expr(other),
        }
        self.args(&call.args);
    }

    fn expr(&mut self, expr: &ast::Expr<'s>) {
        if self.fault.is_some() {
            return;
        }
        match expr {
            ast::Expr::Var(var) => self.variable(var),
            ast::Expr::Const(_) => {}
            ast::Expr::Slice(s) => {
                self.expr(&s.expr);
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part);
                }
            }
            ast::Expr::UnaryOp(u) => self.expr(&u.expr),
            ast::Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
                self.repetition(b);
            }
            ast::Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|op| self.expr(&op.expr));
            }
            ast::Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(other) = &i.false_expr {
                    self.expr(other);
                }
            }
            ast::Expr::Filter(f) => {
                if let Some(inner) = &f.expr {
                    self.expr(inner);
                }
                if !filters().any(|known| known == f.name) {
                    let hint = did_you_mean(f.name, filters());
                    self.fail(
                        f.span(),
                        f.name,
                        format!("unknown filter `{}`", f.name),
                        hint,
                    );
                }
                self.args(&f.args);
            }
            ast::Expr::Test(t) => {
                self.expr(&t.expr);
                if !TESTS.contains(&t.name) {
                    let hint = did_you_mean(t.name, TESTS.iter().copied());
                    self.fail(t.span(), t.name, format!("unknown test `{}`", t.name), hint);
                }
                self.args(&t.args);
            }
            ast::Expr::GetAttr(g) => self.expr(&g.expr),
            ast::Expr::GetItem(g) => {
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
            }
            ast::Expr::Call(c) => self.call(c),
            ast::Expr::List(l) => l.items.iter().for_each(|item| self.expr(item)),
            ast::Expr::Map(m) => {
                m.keys.iter().for_each(|k| self.expr(k));
                m.values.iter().for_each(|v| self.expr(v));
            }
        }
    }
}

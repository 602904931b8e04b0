//! The rhai scope of one evaluation, reused per thread so evaluating allocates nothing for it.

use std::cell::RefCell;

use rhai::Scope;

use super::ConditionInput;

thread_local! {
    static SCRATCH: RefCell<Scope<'static>> = RefCell::new(Scope::new());
}

/// Runs `f` with a scope holding, as constants, those of `input`'s variables in `used`.
pub(super) fn with_scope<R>(
    input: &ConditionInput,
    used: &[String],
    f: impl FnOnce(&mut Scope<'static>) -> R,
) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scope) => {
            fill(&mut scope, input, used);
            let result = f(&mut scope);
            scope.clear();
            result
        }
        // A condition evaluated from inside another one's source: use a fresh scope.
        Err(_) => {
            let mut scope = Scope::new();
            fill(&mut scope, input, used);
            f(&mut scope)
        }
    })
}

fn fill(scope: &mut Scope<'static>, input: &ConditionInput, used: &[String]) {
    scope.clear();
    for (name, value) in &input.variables {
        if used.iter().any(|u| u == name.as_str()) {
            scope.push_constant_dynamic(name.clone(), value.clone());
        }
    }
}

//! The filters, tests and functions a text may use, for load-time checks and suggestions.

/// minijinja's built-in filters (default features).
pub(crate) const BUILTIN_FILTERS: &[&str] = &[
    "safe", "escape", "e", "lower", "upper", "title", "capitalize", "replace", "length", "count",
    "dictsort", "items", "reverse", "trim", "join", "split", "lines", "default", "d", "round",
    "abs", "int", "float", "attr", "first", "last", "min", "max", "sort", "list", "string", "bool",
    "batch", "slice", "sum", "indent", "select", "reject", "selectattr", "rejectattr", "map",
    "groupby", "unique", "chain", "zip", "pprint", "format",
];

/// Filters crier adds (see `filters`).
pub(crate) const CRIER_FILTERS: &[&str] = &["mentions", "hashtag", "duration"];

/// minijinja's built-in tests (`x is even`).
pub(crate) const TESTS: &[&str] = &[
    "undefined", "defined", "none", "safe", "escaped", "boolean", "odd", "even", "divisibleby",
    "number", "integer", "int", "float", "string", "sequence", "iterable", "mapping",
    "startingwith", "endingwith", "lower", "upper", "sameas", "eq", "equalto", "==", "ne", "!=",
    "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "true", "false",
    "filter", "test",
];

/// Global functions texts may call (`debug` is removed: it would print the whole context).
pub(crate) const FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

pub(crate) fn filters() -> impl Iterator<Item = &'static str> + Clone {
    BUILTIN_FILTERS.iter().chain(CRIER_FILTERS).copied()
}

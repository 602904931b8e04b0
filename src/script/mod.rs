//! Conditions: the one sandboxed rhai engine, compiled conditions, and the context each playbook field sees.

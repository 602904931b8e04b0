//! Conditions (rhai) and text templates (minijinja).

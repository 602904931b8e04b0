//! Text templates (minijinja): checking them at load and rendering post texts.

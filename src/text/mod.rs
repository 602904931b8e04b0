//! Text templates (minijinja): checking them at load and rendering post texts.
//!
//! Post texts are Jinja-like templates: `"{{ product }}: -{{ discount }}% today only"`,
//! `"Congratulations {{ winners | mentions }}!"`. [`TextTemplates::check`] finds syntax errors,
//! unknown variables, filters, tests and functions at load, with positions and did-you-mean
//! hints; [`TextTemplates::render`] renders with strict undefined values within a budget of
//! steps and size, caching each compiled template;
//! [`TextTemplates::render_unless_stopped`] renders on a thread of its own, for a caller that
//! must be able to stop waiting; a [`Renderer`] is how callers are handed one way or the other.

mod bounded;
mod budget;
mod check;
mod error;
mod filters;
mod names;
mod templates;
mod worker;

pub use budget::{MAX_STEPS, MAX_TEXT_BYTES};
pub use error::TextError;
pub use filters::{duration, hashtag, mentions};
pub use templates::{TextTemplates, is_literal};
pub use worker::{Renderer, StopFlag, Stopped};

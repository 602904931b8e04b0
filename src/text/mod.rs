//! Text templates (minijinja): checking them at load and rendering post texts.
//!
//! Post texts are Jinja-like templates: `"{{ product }}: -{{ discount }}% today only"`,
//! `"Congratulations {{ winners | mentions }}!"`. [`TextTemplates::check`] finds syntax errors,
//! unknown variables, filters, tests and functions at load, with positions and did-you-mean
//! hints; [`TextTemplates::render`] renders with strict undefined values, caching each
//! compiled template.

mod check;
mod error;
mod filters;
mod names;
mod templates;

pub use error::TextError;
pub use filters::{duration, hashtag, mentions};
pub use templates::TextTemplates;

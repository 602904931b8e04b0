//! YAML reading, kept behind one module so that swapping the parser is one module's change.
//! The parser (`yaml-rust2`, event API) feeds a tree whose nodes keep their positions; a serde
//! deserializer over that tree reports every structural error with its place.

mod builder;
mod de;
mod explain;
mod locate;
mod node;
mod spanned;

pub use builder::{MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_documents};
pub use de::{DeError, from_node, read_node};
pub use locate::position_inside;
pub use node::{Mark, Node, NodeKind, ScalarStyle};
pub use spanned::Spanned;

#[cfg(test)]
mod tests;

//! Contests: entries collected from the networks, eligibility with the rule that left each
//! entry out, a commit-reveal draw anyone can check (`draw`), and the lifecycle that
//! announces, freezes, commits, draws and tells the winners through the engine's outbox
//! (`lifecycle`).

pub mod collect;
pub mod draw;
pub mod entries;
pub mod lifecycle;

pub use draw::{ALGORITHM, Proof, Substitution, verify};
pub use entries::{Entry, Verdict, judge};

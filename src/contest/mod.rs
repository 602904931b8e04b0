//! Contests: entries collected from the networks, eligibility with the rule that left each
//! entry out, a commit-reveal draw anyone can check (`draw`), and the lifecycle that
//! announces, freezes, commits, draws and tells the winners through the engine's outbox
//! (`lifecycle`), and where a contest stands (`standings`).

pub mod collect;
pub mod draw;
pub mod entries;
pub mod lifecycle;
pub mod standings;

pub use draw::{ALGORITHM, Proof, Substitution, verify};
pub use entries::{Entry, Verdict, judge};
pub use standings::{Standings, standings};

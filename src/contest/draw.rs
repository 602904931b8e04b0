//! The draw, and its proof. Algorithm `crier-draw-v1`, simple enough to redo by hand or in
//! a few lines of any language (`docs/contest_verify.py` does):
//!
//! 1. The frozen list is the eligible entries' keys (`network:entry-id`), in the order they
//!    were frozen. `list_sha256` is the SHA-256 of the keys joined with `\n`, in hex.
//! 2. The seed is 32 random bytes, written as 64 lowercase hex characters. The commitment
//!    published when entries close is `seed_sha256`, the SHA-256 of those 64 characters.
//! 3. At the draw the seed is revealed. Each key gets the score
//!    `SHA-256(seed + "\n" + key)` in hex; the keys sorted by (score, key) ascending give
//!    the winners (the first `winners`) and then the reserves, in order.
//! 4. A disqualified winner is replaced by the first reserve not yet used; each
//!    replacement is listed in the proof.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "crier-draw-v1";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash that commits to the frozen list.
pub fn list_hash(keys: &[String]) -> String {
    sha256_hex(keys.join("\n").as_bytes())
}

/// A fresh seed from the operating system's randomness.
pub fn new_seed() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The keys ranked by their score under `seed`: winners first, then reserves.
pub fn rank(seed: &str, keys: &[String]) -> Vec<String> {
    let mut scored: Vec<([u8; 32], &String)> = keys
        .iter()
        .map(|key| {
            let mut hasher = Sha256::new();
            hasher.update(seed.as_bytes());
            hasher.update(b"\n");
            hasher.update(key.as_bytes());
            (hasher.finalize().into(), key)
        })
        .collect();
    // Bytes compare like their lowercase hex.
    scored.sort_unstable();
    scored.into_iter().map(|(_, key)| key.clone()).collect()
}

/// One replacement of a disqualified winner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Substitution {
    pub out: String,
    #[serde(rename = "in")]
    pub replacement: Option<String>,
    pub reason: String,
    pub at: String,
    /// The person who decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Everything needed to check a draw: what was committed, what was revealed, the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub algorithm: String,
    pub contest: String,
    /// When the list was frozen (entries closed).
    pub frozen_at: String,
    pub entries: Vec<String>,
    pub list_sha256: String,
    pub seed_sha256: String,
    /// Revealed at the draw; absent before.
    pub seed: Option<String>,
    pub winners_wanted: usize,
    pub reserves_wanted: usize,
    pub winners: Vec<String>,
    pub reserves: Vec<String>,
    #[serde(default)]
    pub substitutions: Vec<Substitution>,
}

/// The first `winners` and the next `reserves` of the ranking.
pub fn draw(
    seed: &str,
    keys: &[String],
    winners: usize,
    reserves: usize,
) -> (Vec<String>, Vec<String>) {
    let ranked = rank(seed, keys);
    let winners_list: Vec<String> = ranked.iter().take(winners).cloned().collect();
    let reserves_list: Vec<String> = ranked
        .iter()
        .skip(winners)
        .take(reserves)
        .cloned()
        .collect();
    (winners_list, reserves_list)
}

/// Recomputes a proof; every way it does not hold, in words (empty when it holds).
pub fn verify(proof: &Proof) -> Vec<String> {
    let mut problems = Vec::new();
    if proof.algorithm != ALGORITHM {
        problems.push(format!(
            "unknown algorithm `{}` (this crier knows `{ALGORITHM}`)",
            proof.algorithm
        ));
        return problems;
    }
    let list = list_hash(&proof.entries);
    if list != proof.list_sha256 {
        problems.push(format!(
            "the entry list is not the one committed: its SHA-256 is {list}, the commitment says {}",
            proof.list_sha256
        ));
    }
    let Some(seed) = &proof.seed else {
        problems.push("the seed is not revealed yet: the draw has not happened".into());
        return problems;
    };
    let seed_hash = sha256_hex(seed.as_bytes());
    if seed_hash != proof.seed_sha256 {
        problems.push(format!(
            "the revealed seed is not the one committed: its SHA-256 is {seed_hash}, the commitment says {}",
            proof.seed_sha256
        ));
    }
    let (winners, reserves) = draw(
        seed,
        &proof.entries,
        proof.winners_wanted,
        proof.reserves_wanted,
    );
    // The published result is the draw with each substitution applied in order.
    let mut expected_winners = winners;
    let mut unused_reserves: std::collections::VecDeque<String> = reserves.clone().into();
    for (index, substitution) in proof.substitutions.iter().enumerate() {
        let Some(position) = expected_winners.iter().position(|w| *w == substitution.out) else {
            problems.push(format!(
                "substitution {} removes `{}`, who was not a winner then",
                index + 1,
                substitution.out
            ));
            continue;
        };
        let next = unused_reserves.pop_front();
        if next != substitution.replacement {
            problems.push(format!(
                "substitution {} brings in {:?}, but the next reserve was {:?}",
                index + 1,
                substitution.replacement,
                next
            ));
        }
        match next {
            Some(reserve) => expected_winners[position] = reserve,
            None => {
                expected_winners.remove(position);
            }
        }
    }
    if expected_winners != proof.winners {
        problems.push(format!(
            "the winners do not follow from the seed and the list: expected {:?}, the proof says {:?}",
            expected_winners, proof.winners
        ));
    }
    let expected_reserves: Vec<String> = unused_reserves.into_iter().collect();
    if expected_reserves != proof.reserves {
        problems.push(format!(
            "the reserves do not follow from the seed and the list: expected {:?}, the proof says {:?}",
            expected_reserves, proof.reserves
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ranking_is_by_score_then_key_and_depends_on_the_seed() {
        let keys: Vec<String> = (0..50).map(|i| format!("mastodon:{i}")).collect();
        let a = rank("aa", &keys);
        assert_eq!(a, rank("aa", &keys));
        assert_ne!(a, rank("ab", &keys));
        let mut sorted = a.clone();
        sorted.sort();
        let mut all = keys.clone();
        all.sort();
        assert_eq!(sorted, all, "a permutation");
        let score = |k: &str| sha256_hex(format!("aa\n{k}").as_bytes());
        assert!(a.windows(2).all(|w| score(&w[0]) <= score(&w[1])));
    }
}

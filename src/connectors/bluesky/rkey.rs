//! Record keys and `at://` URIs.
//!
//! Bluesky has no idempotency key, but `createRecord` takes the record key (`rkey`) of the new
//! record, and a repository holds one record per key. crier therefore names each post with a
//! key derived from its idempotency key: sending the same post twice asks for the same key, so
//! the second `createRecord` is refused instead of posting a duplicate, and
//! `com.atproto.repo.getRecord` with that key answers "does this post exist?".
//!
//! The key is a valid TID (the key type `app.bsky.feed.post` declares; the Bluesky app view
//! does not show posts under other keys): 13 base32-sortable characters encoding a 64-bit
//! number whose top bit is 0, then 53 bits of microseconds since 1970, then a 10-bit clock id.
//! Here the microseconds are 2023-01-01 plus 45 bits of a SHA-256 of the idempotency key, and
//! the clock id is 10 more bits of it: 55 bits in all, so two keys of one account never meet in
//! practice. The time a TID implies is therefore in 2023 and says nothing about the post (the
//! spec says TIDs are not to be trusted as times; Bluesky sorts posts by `createdAt`).

use sha2::{Digest, Sha256};

/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// 2023-01-01T00:00:00Z in microseconds.
const EPOCH_2023_MICROS: u64 = 1_672_531_200_000_000;
const OFFSET_BITS: u32 = 45;

/// The record key of the post with `idempotency_key`.
pub fn record_key(idempotency_key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"crier bluesky rkey\0")
        .chain_update(idempotency_key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let hash = u64::from_be_bytes(first);
    let micros = EPOCH_2023_MICROS + (hash >> (64 - OFFSET_BITS));
    let clock_id = hash & 0x3ff;
    encode_tid((micros << 10) | clock_id)
}

fn encode_tid(value: u64) -> String {
    (0..13)
        .rev()
        .map(|digit| BASE32_SORTABLE[((value >> (5 * digit)) & 0x1f) as usize] as char)
        .collect()
}

/// Whether `key` has TID syntax.
pub fn is_tid(key: &str) -> bool {
    key.len() == 13
        && key.bytes().enumerate().all(|(i, b)| {
            let allowed: &[u8] = if i == 0 {
                b"234567abcdefghij"
            } else {
                BASE32_SORTABLE
            };
            allowed.contains(&b)
        })
}

/// `at://{repo}/{collection}/{rkey}`: the id of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtUri {
    /// A DID, or a handle.
    pub repo: String,
    pub collection: String,
    pub rkey: String,
}

impl AtUri {
    /// Reads an `at://` URI of a record, or a post's address in the Bluesky app
    /// (`https://bsky.app/profile/{handle or DID}/post/{rkey}`).
    pub fn parse(id: &str) -> Option<AtUri> {
        let id = id.trim();
        if let Some(rest) = id.strip_prefix("at://") {
            let mut parts = rest.split('/');
            let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || [repo, collection, rkey].iter().any(|p| p.is_empty()) {
                return None;
            }
            return Some(AtUri {
                repo: repo.into(),
                collection: collection.into(),
                rkey: rkey.into(),
            });
        }
        let rest = id
            .strip_prefix("https://bsky.app/profile/")
            .or_else(|| id.strip_prefix("http://bsky.app/profile/"))?;
        let rest = rest.split(['?', '#']).next()?.trim_end_matches('/');
        let mut parts = rest.split('/');
        let (repo, kind, rkey) = (parts.next()?, parts.next()?, parts.next()?);
        if kind != "post" || parts.next().is_some() || repo.is_empty() || rkey.is_empty() {
            return None;
        }
        Some(AtUri {
            repo: repo.into(),
            collection: POST_COLLECTION.into(),
            rkey: rkey.into(),
        })
    }

    pub fn post(repo: &str, rkey: &str) -> AtUri {
        AtUri {
            repo: repo.into(),
            collection: POST_COLLECTION.into(),
            rkey: rkey.into(),
        }
    }

    /// The post's address in the Bluesky app.
    pub fn web_url(&self, handle: &str) -> String {
        let actor = if handle.is_empty() {
            &self.repo
        } else {
            handle
        };
        format!("https://bsky.app/profile/{actor}/post/{}", self.rkey)
    }
}

impl std::fmt::Display for AtUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at://{}/{}/{}", self.repo, self.collection, self.rkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_encoding_matches_the_spec() {
        assert_eq!(encode_tid(0), "2222222222222");
        // The spec's example, 3jzfcijpj2z2a, decodes to this number.
        let example = "3jzfcijpj2z2a".bytes().fold(0u64, |acc, b| {
            (acc << 5) | BASE32_SORTABLE.iter().position(|&c| c == b).unwrap() as u64
        });
        assert_eq!(encode_tid(example), "3jzfcijpj2z2a");
    }

    #[test]
    fn record_keys_are_stable_distinct_past_tids() {
        let a = record_key("run-1/step-2/brand_bluesky");
        assert_eq!(a, record_key("run-1/step-2/brand_bluesky"));
        assert_ne!(a, record_key("run-1/step-3/brand_bluesky"));
        for n in 0..1000 {
            let key = record_key(&format!("key-{n}"));
            assert!(is_tid(&key), "{key}");
            let value = key.bytes().fold(0u64, |acc, b| {
                (acc << 5) | BASE32_SORTABLE.iter().position(|&c| c == b).unwrap() as u64
            });
            let micros = value >> 10;
            assert!(micros >= EPOCH_2023_MICROS);
            assert!(micros < EPOCH_2023_MICROS + (1 << OFFSET_BITS));
        }
    }

    #[test]
    fn parses_at_uris_and_app_addresses() {
        let uri = AtUri::parse("at://did:plc:abc/app.bsky.feed.post/3kabc").unwrap();
        assert_eq!(uri, AtUri::post("did:plc:abc", "3kabc"));
        assert_eq!(uri.to_string(), "at://did:plc:abc/app.bsky.feed.post/3kabc");
        assert_eq!(
            AtUri::parse("https://bsky.app/profile/ann.bsky.social/post/3kabc"),
            Some(AtUri::post("ann.bsky.social", "3kabc"))
        );
        assert_eq!(AtUri::parse("at://did:plc:abc/app.bsky.feed.post"), None);
        assert_eq!(AtUri::parse("https://bsky.app/profile/ann/feed/x"), None);
        assert_eq!(AtUri::parse("12345"), None);
    }
}

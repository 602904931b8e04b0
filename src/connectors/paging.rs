//! Reading a feed of mentions page by page from a stored cursor: the one loop that contest
//! entries and crisis mentions share. Each page goes to `save`, which stores what it carries
//! together with (or before) the cursor after it, before the next page is read: a restart
//! reads a page again rather than skip one. Reading stops at an empty page, at a cursor
//! that does not move, after `max_pages`, or at the first error.
//!
//! The page itself, as the connectors whose cursor is a number (the newest comment's time,
//! the last update's id) make it: the cursor read back ([`numeric_cursor`]), and the
//! mentions after it oldest first with the cursor moved on ([`oldest_first`]).

use std::future::Future;

use super::{Mention, MentionPage, SendError};

/// A stored cursor that is a number; `feed` names it in the error when it is not one (`a
/// Threads replies cursor`).
pub fn numeric_cursor(cursor: Option<&str>, feed: &str) -> Result<Option<i64>, SendError> {
    cursor
        .map(|cursor| {
            cursor
                .trim()
                .parse::<i64>()
                .map_err(|_| SendError::Permanent {
                    reason: format!("`{cursor}` is not {feed}"),
                })
        })
        .transpose()
}

/// Whether a mention made at `at` was read before, by a cursor at `after` (the newest time
/// read then, in the feed's unit). A mention made in the cursor's own second (or
/// millisecond) is read again: another one can arrive in that second after the read, and
/// skipping the second would lose it. The stores keep each mention once, by its id.
pub fn read_before(at: i64, after: Option<i64>) -> bool {
    after.is_some_and(|after| at < after)
}

/// `mentions` read after the numeric cursor `after`, oldest first (then by id), and the
/// cursor to read from next time: `newest`, the newest read, when it moved past `after`.
pub fn oldest_first(
    mut mentions: Vec<Mention>,
    newest: Option<i64>,
    after: Option<i64>,
) -> MentionPage {
    mentions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    MentionPage {
        mentions,
        cursor: newest.filter(|n| Some(*n) != after).map(|n| n.to_string()),
    }
}

/// What a round of reading feeds did: items new to the store (contest entries, crisis
/// mentions), and what went wrong (each error is logged too; the next round goes on from the
/// stored cursors).
#[derive(Debug, Default)]
pub struct Collected {
    pub new: usize,
    pub errors: Vec<String>,
}

/// Why a round of reading stopped early.
#[derive(Debug)]
pub enum PagingError<E> {
    /// The network could not be read (the next round tries again from the stored cursor).
    Read(SendError),
    /// A page could not be stored (nor the cursor after it).
    Save(E),
}

/// What a round of reading did: what `save` counted, and the error that stopped it.
#[derive(Debug)]
pub struct Paged<E> {
    pub saved: usize,
    pub pages: usize,
    pub error: Option<PagingError<E>>,
}

/// Reads pages from `cursor` with `read` (given the cursor to read from), handing each to
/// `save` (which answers how many of its items were new), until the feed has nothing more,
/// at most `max_pages`.
pub async fn read_pages<E, R, RF, S, SF>(
    mut cursor: Option<String>,
    max_pages: usize,
    mut read: R,
    mut save: S,
) -> Paged<E>
where
    R: FnMut(Option<String>) -> RF,
    RF: Future<Output = Result<MentionPage, SendError>>,
    S: FnMut(MentionPage) -> SF,
    SF: Future<Output = Result<usize, E>>,
{
    let mut paged = Paged {
        saved: 0,
        pages: 0,
        error: None,
    };
    while paged.pages < max_pages {
        let page = match read(cursor.clone()).await {
            Ok(page) => page,
            Err(error) => {
                paged.error = Some(PagingError::Read(error));
                break;
            }
        };
        paged.pages += 1;
        let count = page.mentions.len();
        let next = page.cursor.clone();
        let moved = next.is_some() && next != cursor;
        match save(page).await {
            Ok(saved) => paged.saved += saved,
            Err(error) => {
                paged.error = Some(PagingError::Save(error));
                break;
            }
        }
        if next.is_some() {
            cursor = next;
        }
        if count == 0 || !moved {
            break;
        }
    }
    paged
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn page(ids: &[&str], cursor: Option<&str>) -> MentionPage {
        MentionPage {
            mentions: ids
                .iter()
                .map(|id| {
                    serde_json::from_value(serde_json::json!({
                        "id": id, "author": { "id": "a", "handle": "@a" }, "text": "",
                        "created_at": "2027-01-01T00:00:00Z",
                    }))
                    .unwrap()
                })
                .collect(),
            cursor: cursor.map(str::to_owned),
        }
    }

    /// Runs `read_pages` over `pages` (answered in turn); returns what it did and the
    /// cursors it read from and saved, in order.
    fn run(
        pages: Vec<Result<MentionPage, SendError>>,
        fail_save_at: Option<usize>,
        max_pages: usize,
    ) -> (Paged<String>, Vec<String>) {
        let log = RefCell::new(Vec::new());
        let pages = RefCell::new(pages.into_iter());
        let paged = block_on(read_pages(
            Some("c0".to_string()),
            max_pages,
            |cursor| {
                log.borrow_mut().push(format!("read {cursor:?}"));
                let next = pages.borrow_mut().next().expect("a page is read too many");
                async move { next }
            },
            |page| {
                let saves = log
                    .borrow()
                    .iter()
                    .filter(|l| l.starts_with("save"))
                    .count();
                log.borrow_mut().push(format!("save {:?}", page.cursor));
                let answer = match fail_save_at {
                    Some(at) if at == saves => Err("refused".to_string()),
                    _ => Ok(page.mentions.len()),
                };
                async move { answer }
            },
        ));
        (paged, log.into_inner())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn pages_are_saved_one_by_one_until_the_feed_stops_moving() {
        let (paged, log) = run(
            vec![
                Ok(page(&["1", "2"], Some("c1"))),
                Ok(page(&["3"], Some("c2"))),
                Ok(page(&["4"], Some("c2"))),
            ],
            None,
            20,
        );
        assert_eq!((paged.saved, paged.pages), (4, 3));
        assert!(paged.error.is_none());
        assert_eq!(
            log,
            [
                "read Some(\"c0\")",
                "save Some(\"c1\")",
                "read Some(\"c1\")",
                "save Some(\"c2\")",
                "read Some(\"c2\")",
                "save Some(\"c2\")",
            ]
        );
        // An empty page ends the round, and so does the page limit.
        let (paged, _) = run(vec![Ok(page(&[], Some("c1")))], None, 20);
        assert_eq!((paged.saved, paged.pages), (0, 1));
        let (paged, _) = run(
            vec![Ok(page(&["1"], Some("c1"))), Ok(page(&["2"], Some("c2")))],
            None,
            2,
        );
        assert_eq!((paged.saved, paged.pages), (2, 2));
    }

    #[test]
    fn a_numeric_cursor_reads_back_and_moves_only_when_newer_was_read() {
        assert_eq!(numeric_cursor(None, "a feed cursor").unwrap(), None);
        assert_eq!(numeric_cursor(Some(" 42 "), "x").unwrap(), Some(42));
        let err = numeric_cursor(Some("abc"), "a Threads replies cursor").unwrap_err();
        assert_eq!(err.reason(), "`abc` is not a Threads replies cursor");
        let mut read = page(&["b", "a"], None).mentions;
        read[0].created_at = "2027-01-01T00:00:05Z".parse().unwrap();
        let sorted = oldest_first(read.clone(), Some(5), Some(1));
        let ids: Vec<&str> = sorted.mentions.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(sorted.cursor.as_deref(), Some("5"));
        assert_eq!(oldest_first(read, Some(5), Some(5)).cursor, None);
    }

    #[test]
    fn an_error_stops_the_round_and_nothing_after_it_is_read() {
        let (paged, log) = run(
            vec![
                Ok(page(&["1"], Some("c1"))),
                Err(SendError::Transient {
                    reason: "down".into(),
                }),
            ],
            None,
            20,
        );
        assert_eq!(paged.saved, 1);
        assert!(matches!(paged.error, Some(PagingError::Read(_))));
        assert_eq!(log.len(), 3);
        let (paged, log) = run(
            vec![Ok(page(&["1"], Some("c1"))), Ok(page(&["2"], Some("c2")))],
            Some(1),
            20,
        );
        assert_eq!(paged.saved, 1);
        assert!(matches!(paged.error, Some(PagingError::Save(ref e)) if e == "refused"));
        assert_eq!(log.len(), 4, "{log:?}");
    }
}

//! The rendering budget: how much work one text may take and how large it may grow, like the
//! limits on conditions (`script::limits`). A text over budget fails its own post with the
//! reason; the budget keeps every render short, so nothing else waits on it.

use std::cell::Cell;

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};

/// Template instructions one render may execute (minijinja's fuel). A post text with a loop
/// over a few hundred winners uses a few thousand; a render of the whole budget takes
/// milliseconds.
pub const MAX_STEPS: u64 = 100_000;

/// Bytes one rendered text (and any value built while rendering it) may reach. The longest
/// text a network takes is far smaller; e-mail bodies fit comfortably.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

thread_local! {
    /// Items `range` made in the current render on this thread. The step budget counts the
    /// template's own instructions; a filter like `list` or `sort` does its work in one of
    /// them, so what `range` makes (the only source of long sequences besides the playbook's
    /// own data) is counted against the budget too.
    static RANGE_ITEMS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one render's `range` items; dropping it restores an enclosing render's count.
pub(super) struct Metered(u64);

pub(super) fn start() -> Metered {
    Metered(RANGE_ITEMS.replace(0))
}

impl Drop for Metered {
    fn drop(&mut self) {
        RANGE_ITEMS.set(self.0);
    }
}

/// minijinja's `range`, its items counted against [`MAX_STEPS`].
pub(super) fn bounded_range(
    lower: isize,
    upper: Option<isize>,
    step: Option<isize>,
) -> Result<Value, Error> {
    let items = minijinja::functions::range(lower, upper, step)?;
    let count = items.try_iter()?.count() as u64;
    let total = RANGE_ITEMS.get().saturating_add(count);
    RANGE_ITEMS.set(total);
    if total > MAX_STEPS {
        return Err(Error::new(ErrorKind::InvalidOperation, out_of_steps()));
    }
    Ok(items)
}

/// Why a render went over budget, in the words every front end shows.
pub(super) fn out_of_steps() -> String {
    format!("the text takes more than {MAX_STEPS} steps to render (the limit for one text)")
}

pub(super) fn too_large() -> String {
    format!(
        "the text grows larger than {} KiB while rendering (the limit for one text)",
        MAX_TEXT_BYTES / 1024
    )
}

pub(super) fn too_deep() -> String {
    "the text nests values more than 64 deep while rendering (the limit for one text)".into()
}

pub(super) fn too_much_made() -> String {
    format!(
        "the text builds more than {} MiB of values while rendering (the limit for one text)",
        super::bounded::MAX_MADE_BYTES / (1024 * 1024)
    )
}

/// Every reason a render goes over budget.
pub(super) fn reasons() -> [String; 4] {
    [out_of_steps(), too_large(), too_deep(), too_much_made()]
}

pub(super) const OVER_BUDGET_HINT: &str =
    "loop over fewer items, or move long lists out of the text";

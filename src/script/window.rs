//! Windows of crisis functions (`"30m"`, `"7d"`): parsed at run time, checked at compile time.

use std::time::Duration;

/// A window like `90s`, `30m`, `2h`, `7d`, `1w` (`^\d+[smhdw]$`), or `None`.
pub fn parse_window(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u64 = digits.parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    count.checked_mul(seconds).map(Duration::from_secs)
}

/// The hint shown for a window that does not parse.
pub(crate) const WINDOW_HINT: &str =
    "a window is a number and a unit (s, m, h, d, w), like `30m`, `2h` or `7d`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_windows() {
        assert_eq!(parse_window("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_window("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_window("m"), None);
        assert_eq!(parse_window("30x"), None);
        assert_eq!(parse_window("-3m"), None);
        assert_eq!(parse_window(""), None);
    }
}

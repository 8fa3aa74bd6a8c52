//! The progress bar of long scans, drawn on stderr only when it is a terminal: indicatif
//! hides it otherwise, so `run`, scripts and redirects see nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many items a scan is short enough that a bar would only flicker.
pub const MIN_ITEMS: u64 = 4;

/// A bar of `len` items (the length may be set later), or a hidden one for fewer than
/// [`MIN_ITEMS`].
pub fn bar(len: Option<u64>) -> ProgressBar {
    if len.is_some_and(|len| len < MIN_ITEMS) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{wide_bar} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_items_get_no_bar() {
        assert!(bar(Some(MIN_ITEMS - 1)).is_hidden());
        // Not a terminal in tests: hidden too, but the length is kept for the count.
        let long = bar(Some(MIN_ITEMS));
        assert_eq!(long.length(), Some(MIN_ITEMS));
    }
}

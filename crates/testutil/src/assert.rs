//! Text assertions with readable failure messages (ripgrep's `eqnice!` idea).

/// Lines of context shown around the first difference.
const CONTEXT: usize = 3;

/// `None` if `expected == actual`, else a report: the first differing line (1-based) and a few
/// lines of context of both sides, each line prefixed by its number (`>` marks the difference).
pub fn text_diff(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let e: Vec<&str> = expected.split('\n').collect();
    let a: Vec<&str> = actual.split('\n').collect();
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let side = |lines: &[&str]| {
        let mut s = String::new();
        let from = first.saturating_sub(CONTEXT);
        let to = (first + CONTEXT + 1).min(lines.len());
        for (i, l) in lines.iter().enumerate().take(to).skip(from) {
            let mark = if i == first { '>' } else { ' ' };
            s.push_str(&format!("{mark}{:5} | {l:?}\n", i + 1));
        }
        if first >= lines.len() {
            s.push_str(&format!(">{:5} | <end of text>\n", lines.len() + 1));
        }
        s
    };
    let why = if first < e.len() && first < a.len() {
        format!("first difference at line {}", first + 1)
    } else if e.len() != a.len() {
        format!(
            "first difference at line {}: one side ends ({} vs {} lines)",
            first + 1,
            e.len(),
            a.len()
        )
    } else {
        "texts differ".to_string()
    };
    Some(format!(
        "{why}\n--- expected ({} bytes):\n{}--- actual ({} bytes):\n{}",
        expected.len(),
        side(&e),
        actual.len(),
        side(&a)
    ))
}

/// Asserts two texts (anything `AsRef<str>`) are equal; on mismatch panics with the first
/// differing line number and context of both sides instead of two unreadable blobs.
/// An optional format string and arguments are prepended to the message.
#[macro_export]
macro_rules! assert_text_eq {
    ($expected:expr, $actual:expr $(,)?) => {
        $crate::assert_text_eq!($expected, $actual, "texts differ")
    };
    ($expected:expr, $actual:expr, $($msg:tt)+) => {
        // `match` keeps temporaries (e.g. a `String` returned by a call) alive.
        match (&$expected, &$actual) {
            (expected, actual) => {
                let expected: &str = ::core::convert::AsRef::<str>::as_ref(expected);
                let actual: &str = ::core::convert::AsRef::<str>::as_ref(actual);
                if let ::core::option::Option::Some(diff) = $crate::text_diff(expected, actual) {
                    ::core::panic!("{}: {}", ::core::format_args!($($msg)+), diff);
                }
            }
        }
    };
}

/// Asserts `haystack` contains `needle` (both `AsRef<str>`); on failure prints both.
#[macro_export]
macro_rules! assert_contains {
    ($haystack:expr, $needle:expr $(,)?) => {
        match (&$haystack, &$needle) {
            (haystack, needle) => {
                let haystack: &str = ::core::convert::AsRef::<str>::as_ref(haystack);
                let needle: &str = ::core::convert::AsRef::<str>::as_ref(needle);
                if !haystack.contains(needle) {
                    ::core::panic!(
                        "text does not contain {:?}\n--- text ({} bytes):\n{}\n--- end",
                        needle,
                        haystack.len(),
                        haystack
                    );
                }
            }
        }
    };
}

/// `perf report`'s text without its random `# (Tip: …)` footer (and the `#`
/// line before it), newline-terminated: comparable run to run.
pub fn without_perf_tip(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.starts_with("# (Tip:"))
        .map(|i| i.saturating_sub(1))
        .unwrap_or(lines.len());
    let mut out = lines[..cut].join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::text_diff;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(text_diff("a\nb\n", "a\nb\n"), None);
        crate::assert_text_eq!("x\n", String::from("x\n"));
        crate::assert_contains!(String::from("hello world"), "lo w");
    }

    #[test]
    fn diff_names_first_differing_line() {
        let e = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let a = "1\n2\n3\n4\nFIVE\n6\n7\n8\n";
        let d = text_diff(e, a).unwrap();
        assert!(d.starts_with("first difference at line 5\n"), "{d}");
        assert!(d.contains(">    5 | \"5\""), "{d}");
        assert!(d.contains(">    5 | \"FIVE\""), "{d}");
        assert!(d.contains("     2 | \"2\""), "{d}");
        assert!(!d.contains("     1 | \"1\""), "{d}");
    }

    #[test]
    fn diff_reports_shorter_side() {
        let d = text_diff("a\nb\nc", "a\nb").unwrap();
        assert!(d.contains("line 3: one side ends (3 vs 2 lines)"), "{d}");
        assert!(d.contains("<end of text>"), "{d}");
    }

    #[test]
    #[should_panic(expected = "golden: first difference at line 2")]
    fn macro_panics_with_context() {
        crate::assert_text_eq!("a\nb\n", "a\nc\n", "golden");
    }

    #[test]
    #[should_panic(expected = "text does not contain \"zz\"")]
    fn contains_panics() {
        crate::assert_contains!("abc", "zz");
    }
}

//! The pid → comm table exactly as libtraceevent 1.7.1 keeps it, because
//! `trace-cmd report` output depends on its quirks:
//!
//! - registrations (saved_cmdlines lines, then the sched_switch/wakeup
//!   plugins' `tep_register_comm`) first go to a list that accepts
//!   duplicate pids, newest first;
//! - the first lookup of a non-zero pid (`find_cmdline`; pid 0 is answered
//!   `<idle>` before that) turns the list into an array, sorted by pid with
//!   glibc's stable merge sort, duplicates kept;
//! - lookups are glibc `bsearch`, so among duplicates the one the binary
//!   search meets first wins (which one depends on the array length);
//! - later registrations of a pid already present are ignored, new pids are
//!   inserted at their sorted place (`add_new_comm`).
//!
//! In a multi-buffer file all buffers share one `tep_handle` (trace-cmd 3.1.6
//! `tracecmd_buffer_instance_handle` copies the handle, including its
//! `pevent` pointer), hence one table for the whole file: a comm registered
//! by a sched_switch of the top buffer names the tasks of every buffer.
//!
//! Example (a recorder thread created during the trace): saved_cmdlines says
//! `22681 tk-rec-cpu1`; the first record is a sched_switch of the idle task
//! (pid 0, no table init) to `tracekit:22681`, whose plugin registers
//! `22681 tracekit` into the list; the next lookup builds the array with both
//! entries and bsearch meets `tracekit` — trace-cmd prints `tracekit-22681`.

/// libtraceevent's cmdline table.
#[derive(Debug, Clone, Default)]
pub struct CommTable {
    /// List phase: registrations in order (libtraceevent prepends, so the
    /// array is built from this reversed).
    list: Vec<(i32, Box<[u8]>)>,
    /// Array phase: sorted by pid, may hold duplicates.
    arr: Option<Vec<(i32, Box<[u8]>)>>,
    /// Direct-mapped cache of lookups: slot `pid & 255` → (pid, array
    /// index); cleared whenever the array changes.
    cache: Vec<(i32, usize)>,
}

const IDLE: &[u8] = b"<idle>";
const UNKNOWN: &[u8] = b"<...>";

impl CommTable {
    /// Loads a saved_cmdlines text like `tep_parse_saved_cmdlines`: the
    /// text ends at its first NUL, lines are `%d %m[^\n]`, empty lines are
    /// skipped and the first line that does not match stops the parsing.
    pub fn parse_saved_cmdlines(&mut self, text: &[u8]) {
        let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
        let text = text.get(..end).unwrap_or(&[]);
        for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            match scan_line(line) {
                Some((pid, comm)) => self.register(pid, comm),
                None => break,
            }
        }
    }

    /// `tep_register_comm` (no override).
    pub fn register(&mut self, pid: i32, comm: &[u8]) {
        let Some(arr) = self.arr.as_mut() else {
            self.list.push((pid, comm.into()));
            return;
        };
        if pid == 0 || bsearch(arr, pid).is_some() {
            return;
        }
        let key = (pid, Box::<[u8]>::from(comm));
        if arr.is_empty() {
            arr.push(key);
            return;
        }
        // bsearch with cmdline_slot_cmp over the first count-1 entries:
        // the entry after which the new pid goes.
        let slot = {
            let n = arr.len() - 1;
            let (mut l, mut u) = (0usize, n);
            let mut found = None;
            while l < u {
                let idx = (l + u) / 2;
                let cb = arr.get(idx).map_or(0, |e| e.0);
                let cb1 = arr.get(idx + 1).map_or(0, |e| e.0);
                let c = if pid < cb {
                    -1
                } else if pid > cb {
                    if pid <= cb1 {
                        0
                    } else {
                        1
                    }
                } else {
                    0
                };
                match c {
                    -1 => u = idx,
                    1 => l = idx + 1,
                    _ => {
                        found = Some(idx);
                        break;
                    }
                }
            }
            found
        };
        self.cache.clear();
        match slot {
            Some(i) => arr.insert(i + 1, key),
            None => {
                if arr.last().is_some_and(|l| pid > l.0) {
                    arr.push(key);
                } else {
                    arr.insert(0, key);
                }
            }
        }
    }

    /// `find_cmdline`: the comm trace-cmd prints for `pid`.
    pub fn lookup(&mut self, pid: i32) -> &[u8] {
        if pid == 0 {
            return IDLE;
        }
        let arr = self.arr.get_or_insert_with(|| {
            let mut a: Vec<(i32, Box<[u8]>)> = std::mem::take(&mut self.list);
            a.reverse();
            // `sort_by_key` is a stable merge sort, like glibc's msort.
            a.sort_by_key(|e| e.0);
            a
        });
        if self.cache.is_empty() {
            self.cache.resize(256, (0, usize::MAX));
        }
        let slot = (pid & 255) as usize;
        let hit = match self.cache.get(slot) {
            Some(&(p, i)) if p == pid && i != usize::MAX => Some(i),
            _ => None,
        };
        let idx = match hit {
            Some(i) => Some(i),
            None => {
                let r = bsearch(arr, pid);
                if let (Some(i), Some(c)) = (r, self.cache.get_mut(slot)) {
                    *c = (pid, i);
                }
                r
            }
        };
        match idx {
            Some(i) => arr.get(i).map_or(UNKNOWN, |e| &e.1),
            None => UNKNOWN,
        }
    }
}

/// glibc `bsearch` with `cmdline_cmp`.
fn bsearch(arr: &[(i32, Box<[u8]>)], pid: i32) -> Option<usize> {
    let (mut l, mut u) = (0usize, arr.len());
    while l < u {
        let idx = (l + u) / 2;
        let p = arr.get(idx)?.0;
        if pid < p {
            u = idx;
        } else if pid > p {
            l = idx + 1;
        } else {
            return Some(idx);
        }
    }
    None
}

/// `sscanf(line, "%d %m[^\n]s", &pid, &comm) == 2`.
fn scan_line(line: &[u8]) -> Option<(i32, &[u8])> {
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut i = line.iter().position(|&c| !is_space(c))?;
    let neg = match line.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let ds = i;
    let mut v: i64 = 0;
    while let Some(c) = line.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    if i == ds {
        return None;
    }
    // an out-of-range %d sets errno (ERANGE), which stops the parsing
    if neg {
        v = -v;
    }
    let pid = i32::try_from(v).ok()?;
    while line.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    let comm = line.get(i..)?;
    if comm.is_empty() {
        return None;
    }
    Some((pid, comm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_before_first_lookup_makes_a_duplicate() {
        let mut t = CommTable::default();
        t.parse_saved_cmdlines(b"22676 tracekit\n22681 tk-rec-cpu1\n");
        assert_eq!(t.lookup(0), b"<idle>");
        t.register(22681, b"tracekit");
        // array [22676 tracekit, 22681 tracekit, 22681 tk-rec-cpu1]:
        // bsearch meets index 1 first.
        assert_eq!(t.lookup(22681), b"tracekit");
        t.register(22681, b"other");
        assert_eq!(t.lookup(22681), b"tracekit");
    }

    #[test]
    fn registration_after_init_does_not_override() {
        let mut t = CommTable::default();
        t.parse_saved_cmdlines(b"5 a\n9 b\n");
        assert_eq!(t.lookup(5), b"a");
        t.register(9, b"c");
        t.register(7, b"x");
        t.register(1, b"y");
        t.register(12, b"z");
        assert_eq!(t.lookup(9), b"b");
        assert_eq!(t.lookup(7), b"x");
        assert_eq!(t.lookup(1), b"y");
        assert_eq!(t.lookup(12), b"z");
        assert_eq!(t.lookup(3), b"<...>");
    }

    #[test]
    fn saved_cmdlines_parsing_stops_at_a_bad_line() {
        let mut t = CommTable::default();
        t.parse_saved_cmdlines(b"1 a\n\n2b\n3\n4 d\n");
        assert_eq!(t.lookup(2), b"b");
        assert_eq!(t.lookup(4), b"<...>");
    }
}

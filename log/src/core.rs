//! The pure core of s6-log's line processing: splitting input into lines, selecting the
//! actions a line goes to, and formatting records. No system calls here.

use crate::script::{Action, Script, Selector};
use crate::timefmt::{ISO_LEN, LABEL_LEN};

/// The line limit s6-log uses by default, and the least it accepts (0 = none).
pub const DEFAULT_LINE_LIMIT: usize = 8192;
pub const MIN_LINE_LIMIT: usize = 48;

/// `-l N` as s6-log takes it: 0 stays 0 (unlimited), 1..47 become 48.
pub fn effective_limit(n: u32) -> usize {
    match n as usize {
        0 => 0,
        n => n.max(MIN_LINE_LIMIT),
    }
}

/// Where the next line of `buf` ends: `Some((line_len, consumed))`, consumed including the
/// separator (`\n` or NUL) if any; a line without separator is complete only once it reaches
/// `limit` bytes (0 = no limit).
pub fn next_line(buf: &[u8], limit: usize) -> Option<(usize, usize)> {
    // With a limit that `buf` goes beyond: the first `limit` bytes, and the byte after them.
    let (scan, beyond) = match buf.split_at_checked(limit) {
        Some((head, [after, ..])) if limit != 0 => (head, Some(*after)),
        _ => (buf, None),
    };
    match scan.iter().position(|&c| c == b'\n' || c == 0) {
        Some(i) => Some((i, i + 1)),
        // The separator right after exactly `limit` bytes belongs to this line.
        None => match beyond {
            Some(b'\n' | 0) => Some((limit, limit + 1)),
            Some(_) => Some((limit, limit)),
            None => None,
        },
    }
}

/// The size rule: after a write ending at a line boundary, rotate once
/// `bytes_in_current + tolerance >= s`.
pub fn size_rotation_due(
    written_ends_line: bool,
    cur_size: u64,
    tolerance: u32,
    size: u32,
) -> bool {
    written_ends_line && cur_size + tolerance as u64 >= size as u64
}

/// The stamps of one line, read once.
pub struct Stamps {
    pub label: [u8; LABEL_LEN],
    pub iso: [u8; ISO_LEN],
}

impl Default for Stamps {
    fn default() -> Stamps {
        Stamps {
            label: [b'@'; LABEL_LEN],
            iso: [b'0'; ISO_LEN],
        }
    }
}

/// Run the selection of `script` over one line (`line_nul` is the line plus a NUL, for
/// regexec), calling `act` for every action that gets it, in script order.
pub fn dispatch(script: &Script, line_nul: &[u8], mut act: impl FnMut(&Action)) {
    let mut selected = true;
    let mut acted = false;
    for g in &script.groups {
        for s in &g.selectors {
            match s {
                Selector::Plus(re) => {
                    if !selected && re.matches_cstr(line_nul) {
                        selected = true
                    }
                }
                Selector::Minus(re) => {
                    if selected && re.matches_cstr(line_nul) {
                        selected = false
                    }
                }
                Selector::Fallback => selected = !acted,
            }
        }
        if selected {
            for a in &g.actions {
                act(a);
            }
            acted = true;
        }
    }
}

/// Append `[label ][iso  ][prefix ]` to `out`.
pub fn push_head(out: &mut Vec<u8>, st: &Stamps, a: &Action) {
    if a.tai {
        out.extend_from_slice(&st.label);
        out.push(b' ');
    }
    if a.iso {
        out.extend_from_slice(&st.iso);
        out.extend_from_slice(b"  ");
    }
    if let Some(p) = &a.prefix {
        out.extend_from_slice(p);
        out.push(b' ');
    }
}

/// A whole record: head, line, newline.
pub fn push_record(out: &mut Vec<u8>, st: &Stamps, a: &Action, line: &[u8]) {
    push_head(out, st, a);
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// The alert line for `2` with alert size `e`: `s6-log: alert: ` + head + line (cut to `e`
/// bytes plus `...` when longer than `e + 3`) + newline.
pub fn push_alert(out: &mut Vec<u8>, st: &Stamps, a: &Action, e: u32, line: &[u8]) {
    out.extend_from_slice(b"s6-log: alert: ");
    push_head(out, st, a);
    let e = e as usize;
    match line.get(..e) {
        Some(head) if e != 0 && line.len() > e + 3 => {
            out.extend_from_slice(head);
            out.extend_from_slice(b"...");
        }
        _ => out.extend_from_slice(line),
    }
    out.push(b'\n');
}

/// The status-file contents: the record made exactly `size` bytes (cut, or its newline
/// repeated); `size` 0 keeps the record as is.
pub fn push_status(out: &mut Vec<u8>, st: &Stamps, a: &Action, size: u32, line: &[u8]) {
    let start = out.len();
    push_record(out, st, a, line);
    let size = size as usize;
    if size == 0 {
        return;
    }
    let len = out.len() - start;
    if len > size {
        out.truncate(start + size);
    } else {
        out.resize(start + size, b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{parse, ActionKind, DEFAULT_DIALECT};
    use std::ffi::OsString;

    #[test]
    fn splitting() {
        assert_eq!(next_line(b"ab\ncd", 0), Some((2, 3)));
        assert_eq!(next_line(b"ab\0cd", 0), Some((2, 3)));
        assert_eq!(next_line(b"abcd", 0), None);
        assert_eq!(next_line(b"abcdef", 4), Some((4, 4)));
        assert_eq!(next_line(b"abcd\nef", 4), Some((4, 5)));
        assert_eq!(next_line(b"abc", 4), None);
        assert_eq!(next_line(b"abcd", 4), None);
        assert_eq!(effective_limit(10), 48);
        assert!(size_rotation_due(true, 2096, 2000, 4096));
        assert!(!size_rotation_due(true, 2095, 2000, 4096));
        assert!(!size_rotation_due(false, 9999, 2000, 4096));
        assert_eq!(effective_limit(0), 0);
    }

    fn run(v: &[&str], line: &str) -> Vec<String> {
        let args: Vec<OsString> = v.iter().map(OsString::from).collect();
        let s = parse(&args, DEFAULT_DIALECT).unwrap();
        let mut l = line.as_bytes().to_vec();
        l.push(0);
        let mut got = Vec::new();
        dispatch(&s, &l, |a| {
            got.push(match &a.kind {
                ActionKind::Stdout => "1".to_string(),
                ActionKind::Alert(_) => "2".to_string(),
                _ => "x".to_string(),
            })
        });
        got
    }

    #[test]
    fn selection_is_never_reset_between_groups() {
        let s = ["-a", "1", "-b", "2"];
        assert!(run(&s, "a").is_empty());
        assert_eq!(run(&s, "b"), ["1"]);
        assert_eq!(run(&s, "c"), ["1", "2"]);
        let f = ["-a", "-b", "1", "f", "2"];
        assert_eq!(run(&f, "a"), ["2"]);
        assert_eq!(run(&f, "c"), ["1"]);
    }

    #[test]
    fn formats() {
        let a = crate::script::Action {
            kind: ActionKind::Stdout,
            tai: false,
            iso: false,
            prefix: Some(b"P".to_vec()),
        };
        let st = Stamps::default();
        let mut v = Vec::new();
        push_alert(&mut v, &st, &a, 3, b"abcdefg");
        assert_eq!(v, b"s6-log: alert: P abc...\n");
        v.clear();
        push_alert(&mut v, &st, &a, 3, b"abcdef");
        assert_eq!(v, b"s6-log: alert: P abcdef\n");
        v.clear();
        push_status(&mut v, &st, &a, 5, b"xyz");
        assert_eq!(v, b"P xyz");
        v.clear();
        push_status(&mut v, &st, &a, 8, b"xy");
        assert_eq!(v, b"P xy\n\n\n\n");
    }
}

//! Service-directory settings and textual labels: the parsers never panic, and `parse_uint`
//! agrees with a simple reference (first line, all ASCII digits, fits in u32).
#![no_main]

use common::servicedir::{parse_signal, parse_uint};
use common::signals;
use common::tai::parse_label;
use libfuzzer_sys::fuzz_target;

fn reference_uint(content: &[u8]) -> Option<u32> {
    // The significant part ends at the first newline or NUL.
    let line = content
        .split(|&c| c == b'\n' || c == 0)
        .next()
        .unwrap_or(&[]);
    if line.is_empty() || !line.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Leading zeros do not count towards overflow; more than 10 digits never fit in u32.
    let digits = &line[line.iter().position(|&c| c != b'0').unwrap_or(line.len())..];
    if digits.len() > 10 {
        return None;
    }
    let v = digits
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    u32::try_from(v).ok()
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(parse_uint(data), reference_uint(data));

    let sig = parse_signal(data);
    if let Some(s) = sig {
        assert!(s >= 0);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(s) = signals::parse(text) {
            assert!(s >= 0);
            // A name that parses and is in the table parses back from its printed form.
            let name = signals::name(s);
            if name != "???" {
                assert_eq!(signals::parse(name), Some(s));
            }
        }
        if let Some(t) = parse_label(text) {
            let h = text.strip_prefix('@').unwrap_or(text);
            assert_eq!(
                t.label().to_string(),
                format!("@{}", h.to_ascii_lowercase())
            );
        }
    }
    if let Some(i) = data.first() {
        let _ = signals::name(*i as i32 - 64);
    }
});

//! JSON output of our extensions (`s6-svstat --json`, `s6-rs status --json`).

use std::fmt::Write as _;

/// A JSON string literal (invalid UTF-8 bytes become U+FFFD).
pub fn string(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s += "\\\"",
            '\\' => s += "\\\\",
            '\n' => s += "\\n",
            '\r' => s += "\\r",
            '\t' => s += "\\t",
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::string(b"a\n\x01\\\""), "\"a\\n\\u0001\\\\\\\"\"");
        assert_eq!(super::string(b"\xff"), "\"\u{fffd}\"");
    }
}

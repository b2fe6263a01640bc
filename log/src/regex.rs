//! POSIX extended regular expressions through the C library (`regcomp`/`regexec`), as s6-log
//! uses them: Rust regex crates do not have POSIX ERE semantics (leftmost-longest, bracket
//! classes, back-references of the C library).

use std::ffi::CString;

/// A compiled `REG_EXTENDED | REG_NOSUB | REG_NEWLINE` expression.
pub struct Regex {
    re: Box<libc::regex_t>,
}

/// Why a pattern was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RegexError {
    /// The pattern does not compile (or contains a NUL byte).
    Invalid,
    /// The C library ran out of memory.
    NoMemory,
}

impl Regex {
    pub fn new(pattern: &[u8]) -> Result<Regex, RegexError> {
        let c = CString::new(pattern).map_err(|_| RegexError::Invalid)?;
        // SAFETY: regex_t is a plain C struct that regcomp initialises; all-zero is a valid
        // starting value.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `re` points to writable storage for a regex_t, `c` is NUL-terminated.
        let rc = unsafe {
            libc::regcomp(
                &mut *re,
                c.as_ptr(),
                libc::REG_EXTENDED | libc::REG_NOSUB | libc::REG_NEWLINE,
            )
        };
        match rc {
            0 => Ok(Regex { re }),
            libc::REG_ESPACE => Err(RegexError::NoMemory),
            _ => Err(RegexError::Invalid),
        }
    }

    /// Whether the NUL-terminated `line` (the terminator included in the slice) matches
    /// anywhere.
    pub fn matches_cstr(&self, line_nul: &[u8]) -> bool {
        debug_assert_eq!(line_nul.last(), Some(&0));
        if line_nul.last() != Some(&0) {
            return false;
        }
        // SAFETY: `re` was initialised by a successful regcomp; `line_nul` ends with a NUL,
        // so regexec reads a valid C string; REG_NOSUB needs no match array.
        unsafe {
            libc::regexec(
                &*self.re,
                line_nul.as_ptr() as *const libc::c_char,
                0,
                std::ptr::null_mut(),
                0,
            ) == 0
        }
    }

    /// Convenience for tests and cold paths: copies `line` to add the terminator.
    pub fn matches(&self, line: &[u8]) -> bool {
        let mut v = Vec::with_capacity(line.len() + 1);
        v.extend_from_slice(line);
        v.push(0);
        self.matches_cstr(&v)
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `re` was initialised by a successful regcomp and is freed once.
        unsafe { libc::regfree(&mut *self.re) }
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Regex")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ere_semantics() {
        let r = Regex::new(b"^(foo|bar)+$").unwrap();
        assert!(r.matches(b"foobar"));
        assert!(!r.matches(b"foox"));
        let d = Regex::new(b"[[:digit:]]{3}").unwrap();
        assert!(d.matches(b"a123b"));
        assert!(!d.matches(b"12"));
        assert!(Regex::new(b"").unwrap().matches(b"anything"));
        assert_eq!(Regex::new(b"[").unwrap_err(), RegexError::Invalid);
    }
}

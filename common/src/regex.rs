//! POSIX extended regular expressions through the C library (`regcomp`/`regexec`), the
//! dialect s6 uses for the ftrig tools (and s6-log for its selection directives), so that a
//! pattern means exactly what it means to s6 on the same libc.

use nix::errno::Errno;
use std::ffi::CString;
use std::mem::MaybeUninit;

/// A compiled extended regexp (`REG_EXTENDED | REG_NOSUB`). Freed on drop.
pub struct Regex {
    re: Box<libc::regex_t>,
}

impl Regex {
    /// Compile `pattern`. A NUL byte in it, or a pattern the C library rejects, is EINVAL
    /// (skalibs reports every regcomp failure that way).
    pub fn new(pattern: &[u8]) -> Result<Regex, Errno> {
        let c = CString::new(pattern).map_err(|_| Errno::EINVAL)?;
        let mut re: Box<MaybeUninit<libc::regex_t>> = Box::new(MaybeUninit::uninit());
        // SAFETY: `re` points to writable storage for a regex_t and `c` is NUL-terminated.
        let r = unsafe {
            libc::regcomp(
                re.as_mut_ptr(),
                c.as_ptr(),
                libc::REG_EXTENDED | libc::REG_NOSUB,
            )
        };
        if r != 0 {
            return Err(Errno::EINVAL);
        }
        // SAFETY: regcomp returned 0, so it initialised the regex_t.
        let re = unsafe { Box::from_raw(Box::into_raw(re).cast::<libc::regex_t>()) };
        Ok(Regex { re })
    }

    /// Whether the regexp matches somewhere in `text` (unanchored search; `^` and `$` are
    /// the start and end of `text`). The text stops at its first NUL byte, as in C.
    pub fn is_match(&self, text: &[u8]) -> bool {
        // `split` yields at least one piece: the text up to its first NUL, or all of it.
        let text = text.split(|&b| b == 0).next().unwrap_or(text);
        let Ok(c) = CString::new(text) else {
            return false;
        };
        // SAFETY: self.re was initialised by regcomp and not freed; `c` is NUL-terminated;
        // with nmatch 0 the match array is not accessed.
        let r = unsafe { libc::regexec(&*self.re, c.as_ptr(), 0, std::ptr::null_mut(), 0) };
        r == 0
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: self.re was initialised by regcomp and is freed only here.
        unsafe { libc::regfree(&mut *self.re) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_unanchored() {
        let r = Regex::new(b"a.*z").unwrap();
        assert!(!r.is_match(b"ab"));
        assert!(r.is_match(b"abxz"));
        assert!(r.is_match(b"xxazz"));
        let r = Regex::new(b"^(u|U)+$").unwrap();
        assert!(r.is_match(b"uU"));
        assert!(!r.is_match(b"suU"));
        assert!(Regex::new(b"a{1,").is_err());
        assert!(Regex::new(b"(").is_err());
        assert!(Regex::new(b"a\0b").is_err());
    }
}

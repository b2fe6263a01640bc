//! What every program of the family does the same way: messages with raw-byte operands,
//! environment edits, and chain-loading into the next program (skalibs' `xexec`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use common::cli::fatal_bytes;
use common::msg::exit;
use nix::errno::Errno;

/// `PROG: usage: USAGE`, exit 100.
pub fn usage(prog: &str, usage: &str) -> ! {
    common::msg::Prog::new(prog).usage(usage)
}

/// `PROG: fatal: PARTS...: ERRNO-TEXT`, exit `code`.
pub fn fatal_sys(prog: &str, code: i32, parts: &[&[u8]], e: Errno) -> ! {
    let text = common::msg::errno_text(e);
    let mut all: Vec<&[u8]> = parts.to_vec();
    all.push(b": ");
    all.push(text.as_bytes());
    fatal_bytes(prog, code, &all)
}

/// `PROG: warning: PARTS...: ERRNO-TEXT`.
pub fn warn_sys(prog: &str, parts: &[&[u8]], e: Errno) {
    let text = common::msg::errno_text(e);
    let mut all: Vec<&[u8]> = parts.to_vec();
    all.push(b": ");
    all.push(text.as_bytes());
    common::cli::warn_bytes(prog, &all);
}

/// `PROG: info: PARTS...`.
pub fn info(prog: &str, parts: &[&[u8]]) {
    common::cli::write_line_stderr(&[prog.as_bytes(), b": info: "], parts);
}

/// Set (`Some`) or unset (`None`) a variable of our own environment, before an exec.
pub fn setenv(name: &[u8], value: Option<&[u8]>) {
    let name = OsStr::from_bytes(name);
    // Names with '=' or NUL, or empty ones, cannot be in an environment: skip them (std
    // would panic).
    if name.is_empty() || name.as_bytes().iter().any(|&b| b == b'=' || b == 0) {
        return;
    }
    match value {
        Some(v) if !v.contains(&0) => std::env::set_var(name, OsStr::from_bytes(v)),
        Some(_) => {}
        None => std::env::remove_var(name),
    }
}

/// Exec `args` (PATH search, as skalibs' `xexec`), the standard fds our runtime reopened
/// closed again, except those in `keep`.
/// Failure: `PROG: fatal: unable to exec ARG0: REASON`, exit 127 (not found) or 126.
pub fn exec(prog: &str, args: &[OsString], keep: &[i32]) -> ! {
    let e = try_exec(args, keep);
    let name = args.first().map(|a| a.as_bytes()).unwrap_or(b"");
    let code = if e == Errno::ENOENT { 127 } else { 126 };
    fatal_sys(prog, code, &[b"unable to exec ", name], e)
}

/// The exec of [`exec`], returning its error (`common::exec`'s PATH search).
pub fn try_exec(args: &[OsString], keep: &[i32]) -> Errno {
    common::rt::close_reopened(keep);
    common::exec::exec(args)
}

/// skalibs' `uint0_oscan`: all octal digits, fitting in 32 bits.
pub fn octal_scan(s: &OsStr) -> Option<u32> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(8)?.checked_add((d - b'0') as u32)
    })
}

/// The value of an environment variable as bytes.
pub fn getenv(name: &[u8]) -> Option<Vec<u8>> {
    std::env::var_os(OsStr::from_bytes(name)).map(|v| v.as_bytes().to_vec())
}

/// `exit::USAGE`, re-exported for brevity.
pub const USAGE: i32 = exit::USAGE;
/// `exit::SYSTEM`.
pub const SYSTEM: i32 = exit::SYSTEM;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal() {
        assert_eq!(octal_scan(OsStr::new("0751")), Some(0o751));
        assert_eq!(octal_scan(OsStr::new("8")), None);
        assert_eq!(octal_scan(OsStr::new("")), None);
        assert_eq!(octal_scan(OsStr::new("-1")), None);
    }
}

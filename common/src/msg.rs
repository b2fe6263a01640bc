//! Messages and exit codes the way s6 prints them: `PROG: fatal: TEXT` / `PROG: warning: TEXT`
//! on stderr, one write per line, never panicking if stderr is gone.

use std::fmt::{self, Display, Write as _};

/// What `--version` prints, in every program.
pub const VERSION: &str = concat!(
    "s6-rs ",
    env!("CARGO_PKG_VERSION"),
    " (s6 2.15.1 compatible)"
);

/// s6's exit codes.
pub mod exit {
    /// Bad usage, or a fatal condition s6 reports as a usage-class error.
    pub const USAGE: i32 = 100;
    /// 2.15 `s6-svc`: the supervisor is not listening.
    pub const NOT_LISTENING: i32 = 102;
    /// Timed out (`s6-svwait`, `s6-svlisten1`, `s6-svc -w -T`).
    pub const TIMEOUT: i32 = 99;
    /// System call failure.
    pub const SYSTEM: i32 = 111;
    /// Internal error.
    pub const INTERNAL: i32 = 101;
    /// `s6-svstat`, `s6-svok`: no s6-supervise runs on the service directory.
    pub const NOT_SUPERVISED: i32 = 1;
    /// `s6-svc`: the service directory's `supervise/` is broken.
    pub const BROKEN: i32 = 1;
    /// `s6-svlisten1`: the service failed permanently or its supervisor died.
    pub const SERVICE_FAILED: i32 = 1;
    /// An exec failed: the program does not exist (127) or could not be run (126).
    pub const EXEC_NOENT: i32 = 127;
    pub const EXEC_FAILED: i32 = 126;
}

/// The program name as s6 prints it at the start of each message: `s6-svc`, or
/// `s6-supervise DIR` for the supervisor.
#[derive(Clone, Debug)]
pub struct Prog {
    name: String,
}

/// Write a whole line to fd 2 in one `write` (errors ignored: there is nobody to tell).
pub fn write_stderr(line: &str) {
    let _ = crate::fsio::write_all(standard_fd(2), line.as_bytes());
}

/// Write to fd 1, reporting failure (the CLI tools exit 111 when stdout fails).
pub fn write_stdout(text: &str) -> Result<(), nix::errno::Errno> {
    crate::fsio::write_all(standard_fd(1), text.as_bytes())
}

/// fd 1 or 2 itself, for a direct `write`. Not `std::io::stdout()`: its first use sets up
/// std's line buffer (a 1 KiB allocation, and the allocator's first mapping, in a client
/// that writes one line), which nothing here uses, since every write is made whole.
pub(crate) fn standard_fd(fd: std::os::fd::RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: as std's own Stdout/Stderr do, this names the descriptor without owning it:
    // rt::start reopens a closed one on /dev/null, and should a program close it later, a
    // write fails with EBADF (reported), it touches nothing else.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

impl Prog {
    pub fn new(name: impl Into<String>) -> Prog {
        Prog { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn line(&self, level: &str, msg: &dyn Display) -> String {
        let mut s = String::with_capacity(64);
        let _ = writeln!(s, "{}: {}{}", self.name, level, msg);
        s
    }

    pub fn warn(&self, msg: impl Display) {
        write_stderr(&self.line("warning: ", &msg));
    }

    pub fn fatal(&self, code: i32, msg: impl Display) -> ! {
        write_stderr(&self.line("fatal: ", &msg));
        crate::rt::exit(code)
    }

    /// `PROG: usage: USAGE`, exit 100.
    pub fn usage(&self, usage: &str) -> ! {
        crate::cli::write_line_stderr(&[self.name.as_bytes(), b": usage: "], &[usage.as_bytes()]);
        crate::rt::exit(exit::USAGE)
    }
}

/// `errno` text as glibc's `strerror` gives it (what Debian's s6 prints), whichever libc we
/// are linked with: see [`crate::strerror`]. nix's own table differs for a few values
/// (EBADF is "Bad file number" there).
pub struct StrError(pub nix::errno::Errno);

impl Display for StrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&errno_text(self.0))
    }
}

/// `errno`'s text as [`StrError`] prints it, without the formatting machinery: what a
/// message built from byte parts (`cli::fatal_bytes`...) takes.
pub fn errno_text(e: nix::errno::Errno) -> std::borrow::Cow<'static, str> {
    crate::strerror::text(e as i32)
}

/// Convert an `io::Error` to its errno (EIO when it has none).
pub fn errno_of(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shapes() {
        let p = Prog::new("s6-svc");
        assert_eq!(
            p.line("fatal: ", &"unable to control x: supervisor not listening"),
            "s6-svc: fatal: unable to control x: supervisor not listening\n"
        );
        assert_eq!(
            p.line("warning: ", &format_args!("invalid {}", "down-signal")),
            "s6-svc: warning: invalid down-signal\n"
        );
        assert_eq!(
            StrError(nix::errno::Errno::EBADF).to_string(),
            "Bad file descriptor"
        );
        assert_eq!(
            StrError(nix::errno::Errno::ENOENT).to_string(),
            "No such file or directory"
        );
    }
}

//! What the programs of this crate share: messages with raw-byte operands, exec'ing the
//! rest of the command line, and the notification-fd a service declares.

use common::msg::{errno_of, StrError};
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// `PROG: fatal: PARTS...`, exit `code`.
pub fn die(prog: &str, code: i32, parts: &[&[u8]]) -> ! {
    common::cli::fatal_bytes(prog, code, parts)
}

/// `PROG: fatal: unable to WHAT: ERRNO-TEXT`, exit `code`.
pub fn die_sys(prog: &str, code: i32, what: &[&[u8]], e: Errno) -> ! {
    let err = StrError(e).to_string();
    let mut parts: Vec<&[u8]> = vec![b"unable to "];
    parts.extend_from_slice(what);
    parts.push(b": ");
    parts.push(err.as_bytes());
    die(prog, code, &parts)
}

/// `PROG: warning: unable to WHAT: ERRNO-TEXT`.
pub fn warn_sys(prog: &str, what: &[&[u8]], e: Errno) {
    let err = StrError(e).to_string();
    let mut parts: Vec<&[u8]> = vec![b"unable to "];
    parts.extend_from_slice(what);
    parts.push(b": ");
    parts.push(err.as_bytes());
    common::cli::warn_bytes(prog, &parts);
}

/// Exec `argv` (PATH search) in place, or die as skalibs' `xexec` does: `unable to exec
/// PROG: ERR`, exit 127 when the program is not found, 126 otherwise. An empty `argv`
/// exits 0 (`xexec0`).
pub fn exec_or_die(prog: &str, argv: &[OsString]) -> ! {
    let Some(first) = argv.first() else {
        std::process::exit(0)
    };
    let e = std::process::Command::new(first).args(&argv[1..]).exec();
    let errno = errno_of(&e);
    let code = if errno == Errno::ENOENT { 127 } else { 126 };
    die_sys(prog, code, &[b"exec ", first.as_bytes()], errno)
}

/// Why the notification fd could not be determined (s6-notifyoncheck and
/// s6-notify-fd-from-socket share these messages).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotifFdError {
    #[error("notification-fd must be an unsigned integer")]
    BadOption,
    #[error("unable to read ./notification-fd: {}", StrError(*.0))]
    Read(Errno),
    #[error("invalid ./notification-fd")]
    Invalid,
    #[error("notification-fd sanity check failed: {}", StrError(*.0))]
    NotOpen(Errno),
}

impl NotifFdError {
    pub fn exit_code(&self) -> i32 {
        match self {
            NotifFdError::BadOption | NotifFdError::Invalid => 100,
            NotifFdError::Read(_) | NotifFdError::NotOpen(_) => 111,
        }
    }
}

/// The contents of `./notification-fd` up to the first newline, as a number. Pure.
pub fn parse_notification_fd(content: &[u8]) -> Option<u32> {
    let end = content
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(content.len());
    common::cli::uint0_scan(std::ffi::OsStr::from_bytes(&content[..end]))
}

/// The notification fd: the option's value if given, else `./notification-fd`; then it
/// must be open (`fcntl(F_GETFD)`).
pub fn notification_fd(opt: Option<&std::ffi::OsStr>) -> Result<i32, NotifFdError> {
    let fd = match opt {
        Some(v) => common::cli::uint0_scan(v).ok_or(NotifFdError::BadOption)?,
        None => {
            // s6 reads at most UINT_FMT (11) bytes.
            let mut buf = [0u8; 11];
            let n = common::fsio::read_prefix_nonblock(Path::new("notification-fd"), &mut buf)
                .map_err(NotifFdError::Read)?;
            parse_notification_fd(&buf[..n]).ok_or(NotifFdError::Invalid)?
        }
    };
    let fd = i32::try_from(fd).map_err(|_| NotifFdError::NotOpen(Errno::EBADF))?;
    // SAFETY: F_GETFD only queries the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(NotifFdError::NotOpen(Errno::last()));
    }
    Ok(fd)
}

/// `PROG: usage: USAGE`, exit 100.
pub fn exit_usage(prog: &str, usage: &str) -> ! {
    common::Prog::new(prog).usage(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_fd_file_contents() {
        assert_eq!(parse_notification_fd(b"3\n"), Some(3));
        assert_eq!(parse_notification_fd(b"3"), Some(3));
        assert_eq!(parse_notification_fd(b"12\nxx"), Some(12));
        assert_eq!(parse_notification_fd(b"abc\n"), None);
        assert_eq!(parse_notification_fd(b""), None);
        assert_eq!(parse_notification_fd(b" 3\n"), None);
    }
}

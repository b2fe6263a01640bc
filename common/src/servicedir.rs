//! Service-directory settings files, read the way s6-supervise reads them: at the moment they
//! are needed, non-blocking, at most 11 bytes (15 for signals), cut at the first newline.
//!
//! Every reader returns the value s6 would use together with the warning s6 would print, so
//! the programs decide where the warning goes and the rules stay in one place.

use crate::fsio;
use crate::signals;
use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};
use std::fmt;
use std::path::{Path, PathBuf};

/// Width of a decimal u32 (`UINT_FMT` in skalibs): the most s6 reads of a number file.
const UINT_READ: usize = 11;
const SIGNAL_READ: usize = 15;

/// A warning s6-supervise prints about a settings file (the value falls back to its default).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingWarning {
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("unable to open {0}: {desc}", desc = crate::msg::StrError(*.1))]
    Unreadable(&'static str, Errno),
    #[error("unable to access {0}: {desc}", desc = crate::msg::StrError(*.1))]
    Inaccessible(&'static str, Errno),
}

/// A value as s6 would use it, plus the warning s6 would print while reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub warning: Option<SettingWarning>,
}

impl<T> Setting<T> {
    fn ok(value: T) -> Self {
        Setting {
            value,
            warning: None,
        }
    }
    fn warn(value: T, w: SettingWarning) -> Self {
        Setting {
            value,
            warning: Some(w),
        }
    }
}

/// The bytes s6 considers: up to the first newline (or NUL, since it then reads a C string).
fn significant(content: &[u8]) -> &[u8] {
    content
        .split(|&c| c == b'\n' || c == 0)
        .next()
        .unwrap_or(content)
}

/// Parse the content of an unsigned-integer settings file (pure; `uint0_scan` rules): only
/// decimal digits, non-empty, fitting 32 bits. The caller passes at most 11 bytes.
pub fn parse_uint(content: &[u8]) -> Option<u32> {
    let s = significant(content);
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &c| {
        acc.checked_mul(10)?.checked_add((c - b'0') as u32)
    })
}

/// Parse the content of a signal settings file (pure; `sig0_scan` rules).
pub fn parse_signal(content: &[u8]) -> Option<i32> {
    std::str::from_utf8(significant(content))
        .ok()
        .and_then(signals::parse)
}

/// A service directory and the settings s6 reads from it.
#[derive(Clone, Debug)]
pub struct ServiceDir {
    path: PathBuf,
}

/// Result of reading a small settings file: `Ok(None)` when it does not exist.
fn read_small(path: &Path, max: usize) -> Result<Option<([u8; 16], usize)>, Errno> {
    let mut buf = [0u8; 16];
    let want = buf.get_mut(..max.min(16)).unwrap_or(&mut []);
    match fsio::read_prefix_nonblock(path, want) {
        Ok(n) => Ok(Some((buf, n))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

impl ServiceDir {
    pub fn new(path: impl Into<PathBuf>) -> ServiceDir {
        ServiceDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// An unsigned-integer file: `None` when absent, unreadable or invalid.
    pub fn uint(&self, name: &'static str) -> Setting<Option<u32>> {
        match read_small(&self.file(name), UINT_READ) {
            Ok(None) => Setting::ok(None),
            Ok(Some((buf, n))) => match parse_uint(buf.get(..n).unwrap_or(&[])) {
                Some(v) => Setting::ok(Some(v)),
                None => Setting::warn(None, SettingWarning::Invalid(name)),
            },
            Err(e) => Setting::warn(None, SettingWarning::Unreadable(name, e)),
        }
    }

    fn signal(&self, name: &'static str, default: i32) -> Setting<i32> {
        match read_small(&self.file(name), SIGNAL_READ) {
            Ok(None) => Setting::ok(default),
            Ok(Some((buf, n))) => match parse_signal(buf.get(..n).unwrap_or(&[])) {
                Some(v) => Setting::ok(v),
                None => Setting::warn(default, SettingWarning::Invalid(name)),
            },
            Err(e) => Setting::warn(default, SettingWarning::Unreadable(name, e)),
        }
    }

    /// Whether a flag file exists (`access(F_OK)`; errors other than ENOENT warn and count as absent).
    pub fn flag(&self, name: &'static str) -> Setting<bool> {
        match access(&crate::fsio::ShortPath(&self.file(name)), AccessFlags::F_OK) {
            Ok(()) => Setting::ok(true),
            Err(Errno::ENOENT) => Setting::ok(false),
            Err(e) => Setting::warn(false, SettingWarning::Inaccessible(name, e)),
        }
    }

    pub fn notification_fd(&self) -> Setting<Option<u32>> {
        self.uint(crate::layout::NOTIFICATION_FD)
    }

    pub fn lock_fd(&self) -> Setting<Option<u32>> {
        self.uint("lock-fd")
    }

    /// `timeout-kill` in ms; 0 (the default) means never.
    pub fn timeout_kill(&self) -> Setting<u32> {
        let s = self.uint("timeout-kill");
        Setting {
            value: s.value.unwrap_or(0),
            warning: s.warning,
        }
    }

    /// `timeout-finish` in ms; default 5000; 0 means unlimited (`None`). Values above
    /// `i32::MAX` are unlimited too (s6's conversion to a duration fails on them).
    pub fn timeout_finish(&self) -> Setting<Option<u32>> {
        let s = self.uint("timeout-finish");
        let v = match s.value.unwrap_or(5000) {
            0 => None,
            v if v > i32::MAX as u32 => None,
            v => Some(v),
        };
        Setting {
            value: v,
            warning: s.warning,
        }
    }

    /// `max-death-tally`: default 100, capped at 4096, 0 = do not record.
    pub fn max_death_tally(&self) -> Setting<u32> {
        let s = self.uint("max-death-tally");
        Setting {
            value: s
                .value
                .unwrap_or(crate::dtally::DEFAULT_MAX)
                .min(crate::dtally::MAX_MAX),
            warning: s.warning,
        }
    }

    /// `down-signal`: default SIGTERM.
    pub fn down_signal(&self) -> Setting<i32> {
        self.signal("down-signal", libc::SIGTERM)
    }

    /// `reload-signal` (2.15.1): default SIGHUP.
    pub fn reload_signal(&self) -> Setting<i32> {
        self.signal("reload-signal", libc::SIGHUP)
    }

    pub fn flag_newpidns(&self) -> Setting<bool> {
        self.flag("flag-newpidns")
    }

    pub fn flag_timeout_killpg(&self) -> Setting<bool> {
        self.flag("flag-timeout-killpg")
    }

    /// `nosetsid` is not recognised by s6 since 2.10: reported for completeness, never obeyed.
    pub fn nosetsid(&self) -> Setting<bool> {
        self.flag("nosetsid")
    }

    /// The `down` file exists (the service starts wanted down).
    pub fn down(&self) -> Result<bool, Errno> {
        match access(
            &crate::fsio::ShortPath(&self.file(crate::layout::DOWN)),
            AccessFlags::F_OK,
        ) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Why the notification fd of a program run from a service directory could not be
/// determined (s6-notifyoncheck, s6-notify-fd-from-socket and the like share these messages).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationFdError {
    #[error("notification-fd must be an unsigned integer")]
    BadOption,
    #[error("unable to read ./notification-fd: {}", crate::msg::StrError(*.0))]
    Read(Errno),
    #[error("invalid ./notification-fd")]
    Invalid,
    #[error("notification-fd sanity check failed: {}", crate::msg::StrError(*.0))]
    NotOpen(Errno),
}

impl NotificationFdError {
    /// 100 for a bad value, 111 for a system error.
    pub fn exit_code(&self) -> i32 {
        match self {
            NotificationFdError::BadOption | NotificationFdError::Invalid => 100,
            NotificationFdError::Read(_) | NotificationFdError::NotOpen(_) => 111,
        }
    }
}

/// The notification fd of a program running in its service directory: the option's value
/// (`uint0_scan`) if given, else `./notification-fd` (which must exist here, unlike for
/// s6-supervise); then the fd must be open (`fcntl(F_GETFD)`).
pub fn resolve_notification_fd(opt: Option<&std::ffi::OsStr>) -> Result<i32, NotificationFdError> {
    let fd = match opt {
        Some(v) => crate::cli::uint0_scan(v).ok_or(NotificationFdError::BadOption)?,
        None => {
            let mut buf = [0u8; UINT_READ];
            let n = fsio::read_prefix_nonblock(Path::new("notification-fd"), &mut buf)
                .map_err(NotificationFdError::Read)?;
            parse_uint(buf.get(..n).unwrap_or(&[])).ok_or(NotificationFdError::Invalid)?
        }
    };
    let fd = i32::try_from(fd).map_err(|_| NotificationFdError::NotOpen(Errno::EBADF))?;
    // SAFETY: F_GETFD only queries the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(NotificationFdError::NotOpen(Errno::last()));
    }
    Ok(fd)
}

impl fmt::Display for ServiceDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_fd_file_contents() {
        // ftrig's former parse_notification_fd cases: cut at the newline, digits only.
        assert_eq!(parse_uint(b"3\n"), Some(3));
        assert_eq!(parse_uint(b"3"), Some(3));
        assert_eq!(parse_uint(b"12\nxx"), Some(12));
        assert_eq!(parse_uint(b"abc\n"), None);
        assert_eq!(parse_uint(b""), None);
        assert_eq!(parse_uint(b" 3\n"), None);
    }

    #[test]
    fn notification_fd_option() {
        use std::ffi::OsStr;
        assert_eq!(
            resolve_notification_fd(Some(OsStr::new("x"))),
            Err(NotificationFdError::BadOption)
        );
        assert_eq!(resolve_notification_fd(Some(OsStr::new("2"))), Ok(2));
        assert_eq!(
            resolve_notification_fd(Some(OsStr::new("4000000"))).map_err(|e| e.exit_code()),
            Err(111)
        );
    }

    #[test]
    fn uint_rules() {
        assert_eq!(parse_uint(b"3"), Some(3));
        assert_eq!(parse_uint(b"3\n"), Some(3));
        assert_eq!(parse_uint(b"3\ngarbage"), Some(3));
        assert_eq!(parse_uint(b"00000000003"), Some(3));
        assert_eq!(parse_uint(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_uint(b"4294967296"), None);
        assert_eq!(parse_uint(b" 3"), None);
        assert_eq!(parse_uint(b"3x"), None);
        assert_eq!(parse_uint(b"3\r\n"), None);
        assert_eq!(parse_uint(b""), None);
        assert_eq!(parse_uint(b"\n"), None);
        assert_eq!(parse_uint(b"-1"), None);
    }

    #[test]
    fn signal_rules() {
        assert_eq!(parse_signal(b"SIGUSR1\n"), Some(10));
        assert_eq!(parse_signal(b"hup"), Some(1));
        assert_eq!(parse_signal(b"0"), Some(0));
        assert_eq!(parse_signal(b""), None);
        assert_eq!(parse_signal(b"\xff"), None);
    }

    #[test]
    fn files_and_defaults() {
        let d = std::env::temp_dir().join(format!("svdir-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let sd = ServiceDir::new(&d);
        assert_eq!(sd.notification_fd(), Setting::ok(None));
        assert_eq!(sd.timeout_finish().value, Some(5000));
        assert_eq!(sd.timeout_kill().value, 0);
        assert_eq!(sd.max_death_tally().value, 100);
        assert_eq!(sd.down_signal().value, libc::SIGTERM);
        assert_eq!(sd.reload_signal().value, libc::SIGHUP);
        assert_eq!(sd.down(), Ok(false));
        std::fs::write(d.join("notification-fd"), "3\n").unwrap();
        assert_eq!(sd.notification_fd().value, Some(3));
        std::fs::write(d.join("notification-fd"), "").unwrap();
        assert_eq!(
            sd.notification_fd(),
            Setting::warn(None, SettingWarning::Invalid("notification-fd"))
        );
        assert_eq!(
            SettingWarning::Invalid("notification-fd").to_string(),
            "invalid notification-fd"
        );
        // A 12+ byte file is cut to 11 bytes before parsing.
        std::fs::write(d.join("timeout-kill"), "000000000012").unwrap();
        assert_eq!(sd.timeout_kill().value, 1);
        std::fs::write(d.join("timeout-finish"), "0").unwrap();
        assert_eq!(sd.timeout_finish().value, None);
        std::fs::write(d.join("timeout-finish"), "3000000000").unwrap();
        assert_eq!(sd.timeout_finish().value, None);
        std::fs::write(d.join("max-death-tally"), "99999").unwrap();
        assert_eq!(sd.max_death_tally().value, 4096);
        std::fs::write(d.join("down-signal"), "bogus\n").unwrap();
        assert_eq!(
            sd.down_signal(),
            Setting::warn(15, SettingWarning::Invalid("down-signal"))
        );
        std::fs::write(d.join("down"), "").unwrap();
        assert_eq!(sd.down(), Ok(true));
        std::fs::create_dir(d.join("lock-fd")).unwrap();
        assert_eq!(
            sd.lock_fd().warning,
            Some(SettingWarning::Unreadable("lock-fd", Errno::EISDIR))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}

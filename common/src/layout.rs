//! Where things are: the names of the files and directories s6's programs share, relative to
//! a service directory or a scan directory, and how s6 joins them to a directory argument.
//!
//! Every other module and program spells these paths through this module; a path written as
//! a string literal elsewhere is a second copy of a protocol fact.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// The supervisor's own directory inside a service directory.
pub const SUPERVISE_DIR: &str = "supervise";
/// The name of a control FIFO inside [`SUPERVISE_DIR`] or [`SVSCAN_DIR`].
pub const CONTROL_NAME: &str = "control";
/// The supervisor's control FIFO (one command byte each, see [`crate::control`]).
pub const CONTROL: &str = "supervise/control";
/// Held (fcntl write lock) by the running s6-supervise: "is it supervised?".
pub const LOCK: &str = "supervise/lock";
/// The lock file handed to ./run on `lock-fd`.
pub const SERVICE_LOCK: &str = "supervise/service-lock";
/// The 35-byte status record (see [`crate::status`]), and its atomic-replacement temporary.
pub const STATUS: &str = "supervise/status";
pub const STATUS_TMP: &str = "supervise/status.new";
/// The death tally (see [`crate::dtally`]), and its atomic-replacement temporary.
pub const DEATH_TALLY: &str = "supervise/death_tally";
pub const DEATH_TALLY_TMP: &str = "supervise/death_tally.new";
/// The event fifodir (see [`crate::fifodir`], [`crate::event`]).
pub const EVENT_DIR: &str = "event";
/// Present: the service is not started with its supervisor ("normally down").
pub const DOWN: &str = "down";
/// ./run and ./finish.
pub const RUN: &str = "run";
pub const FINISH: &str = "finish";
/// The fd ./run writes its readiness line to.
pub const NOTIFICATION_FD: &str = "notification-fd";
/// A service's logger: a service directory inside the service directory.
pub const LOG_DIR: &str = "log";

/// s6-svscan's own directory inside a scan directory.
pub const SVSCAN_DIR: &str = ".s6-svscan";
/// s6-svscan's control FIFO.
pub const SVSCAN_CONTROL: &str = ".s6-svscan/control";
/// Held by the running s6-svscan.
pub const SVSCAN_LOCK: &str = ".s6-svscan/lock";
/// What s6-svscan execs into at the end, and when something unrecoverable happens.
pub const SVSCAN_FINISH: &str = ".s6-svscan/finish";
pub const SVSCAN_CRASH: &str = ".s6-svscan/crash";

/// `<dir>/<sub>` built the way s6 builds it: plain concatenation with one `/`, so that
/// `a/` gives `a//sub` and an empty `dir` gives `/sub` (never a path relative to the
/// current directory, as `Path::join` would give).
pub fn subpath(dir: &OsStr, sub: &str) -> PathBuf {
    let mut v = Vec::with_capacity(dir.len() + 1 + sub.len());
    v.extend_from_slice(dir.as_bytes());
    v.push(b'/');
    v.extend_from_slice(sub.as_bytes());
    PathBuf::from(OsString::from_vec(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpath_is_concatenation() {
        assert_eq!(
            subpath(OsStr::new("a/"), EVENT_DIR),
            PathBuf::from("a//event")
        );
        assert_eq!(subpath(OsStr::new(""), EVENT_DIR), PathBuf::from("/event"));
        assert_eq!(
            subpath(OsStr::new("/s"), STATUS),
            PathBuf::from("/s/supervise/status")
        );
    }

    #[test]
    fn names_live_under_their_directories() {
        for p in [
            CONTROL,
            LOCK,
            SERVICE_LOCK,
            STATUS,
            STATUS_TMP,
            DEATH_TALLY,
            DEATH_TALLY_TMP,
        ] {
            assert!(p.starts_with("supervise/"), "{p}");
        }
        for p in [SVSCAN_CONTROL, SVSCAN_LOCK, SVSCAN_FINISH, SVSCAN_CRASH] {
            assert!(p.starts_with(".s6-svscan/"), "{p}");
        }
    }
}

//! The supervisor locks (`supervise/lock`, `.s6-svscan/lock`): POSIX record (fcntl) write
//! locks over the whole file, which is what s6's clients probe with `F_GETLK`. An `flock`
//! lock would be invisible to them.

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("lock held by another process")]
    Busy,
    #[error("{}", crate::msg::StrError(*.0))]
    Io(Errno),
}

fn whole_file(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value (whole file from offset 0).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    fl
}

/// Open (creating with `mode`) and write-lock `path` without blocking. The returned fd holds
/// the lock for as long as it stays open in this process (close-on-exec).
pub fn acquire(path: &Path, mode: u32) -> Result<OwnedFd, LockError> {
    let fd = open(
        &crate::fsio::ShortPath(path),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
    .map_err(LockError::Io)?;
    let fl = whole_file(libc::F_WRLCK as libc::c_short);
    match fcntl(&fd, FcntlArg::F_SETLK(&fl)) {
        Ok(_) => Ok(fd),
        Err(Errno::EACCES | Errno::EAGAIN) => Err(LockError::Busy),
        Err(e) => Err(LockError::Io(e)),
    }
}

/// Take the whole-file write lock on an already open `fd` without blocking (for callers that
/// report the open and the lock failures apart, as s6-log does for `DIR/lock`).
pub fn try_lock_fd<F: std::os::fd::AsFd>(fd: F) -> Result<(), LockError> {
    let fl = whole_file(libc::F_WRLCK as libc::c_short);
    match fcntl(fd, FcntlArg::F_SETLK(&fl)) {
        Ok(_) => Ok(()),
        Err(Errno::EACCES | Errno::EAGAIN) => Err(LockError::Busy),
        Err(e) => Err(LockError::Io(e)),
    }
}

/// Whether some other process holds a lock on `path` (`F_GETLK` with a read-lock probe).
/// A missing file (or path component) means no.
pub fn is_locked(path: &Path) -> Result<bool, Errno> {
    is_locked_opened(open(
        &crate::fsio::ShortPath(path),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ))
}

/// [`is_locked`] of a path built by [`crate::cpath::CPath`] (a client's one call: no copy).
pub fn is_locked_at(path: &crate::cpath::CPath) -> Result<bool, Errno> {
    is_locked_opened(path.open(OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()))
}

/// The probe on what opening the lock file gave: a missing file is not locked.
fn is_locked_opened(opened: Result<OwnedFd, Errno>) -> Result<bool, Errno> {
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut fl = whole_file(libc::F_RDLCK as libc::c_short);
    fcntl(&fd, FcntlArg::F_GETLK(&mut fl))?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// "Is a supervisor running on this service directory?", as `s6-svok` decides it.
pub fn is_supervised(svdir: &Path) -> Result<bool, Errno> {
    is_locked(&svdir.join(crate::layout::LOCK))
}

/// "Is an s6-svscan running on this scan directory?"
pub fn is_scanned(scandir: &Path) -> Result<bool, Errno> {
    is_locked(&scandir.join(crate::layout::SVSCAN_LOCK))
}

/// A whole-file POSIX record lock on an open descriptor: shared (read) or exclusive (write),
/// waiting for it (`F_SETLKW`, EINTR retried) or not. The lock belongs to the process and
/// survives exec as long as some descriptor of the file stays open: s6-setlock's `fd_lock`.
pub fn lock_whole_fd<F: std::os::fd::AsFd>(
    fd: F,
    exclusive: bool,
    wait: bool,
) -> Result<(), LockError> {
    let kind = if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    };
    let fl = whole_file(kind as libc::c_short);
    loop {
        let r = if wait {
            fcntl(fd.as_fd(), FcntlArg::F_SETLKW(&fl))
        } else {
            fcntl(fd.as_fd(), FcntlArg::F_SETLK(&fl))
        };
        match r {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(Errno::EACCES | Errno::EAGAIN) => return Err(LockError::Busy),
            Err(e) => return Err(LockError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::{fork, ForkResult};

    #[test]
    fn lock_is_visible_to_other_processes_only() {
        let d = std::env::temp_dir().join(format!("lock-{}", std::process::id()));
        std::fs::create_dir_all(d.join("supervise")).unwrap();
        assert_eq!(is_supervised(&d), Ok(false));
        assert_eq!(is_supervised(&d.join("nonexistent")), Ok(false));
        let lockfile = d.join("supervise/lock");
        let held = acquire(&lockfile, 0o644).unwrap();
        // POSIX locks are per process: test from a child.
        // SAFETY: the child only calls async-signal-safe functions plus our probe, then _exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = match (is_supervised(&d), acquire(&lockfile, 0o644)) {
                    (Ok(true), Err(LockError::Busy)) => 0,
                    _ => 1,
                };
                // SAFETY: _exit in the forked child of a test, without running destructors.
                unsafe { libc::_exit(code) };
            }
            ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        drop(held);
        let f = d.join("file");
        std::fs::write(&f, "").unwrap();
        assert_eq!(is_supervised(&f), Err(Errno::ENOTDIR));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

//! Putting a service directory into a scan directory and taking it out again, with the
//! supervisor's start / exit awaited through its event fifodir: the procedures behind
//! `s6-svlink`, `s6-svunlink`, `s6-instance-create` and `s6-instance-delete`
//! (s6's `s6_supervise_link_names` / `s6_supervise_unlink_names`, for one service).

use crate::util::{b, cat};
use common::fifodir::{Listener, WaitOutcome, LISTENER_FIFO_MODE};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::Gid;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

/// The options of s6-svlink and s6-instance-create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// `-f`: set the mode of an existing `event/` too.
    pub force_event: bool,
    /// `-P`: `event/` public (01733) instead of 03730 with our egid.
    pub public_event: bool,
    /// `-d` / `-D`: a `down` file while the supervisor starts.
    pub down: bool,
    /// `-d`: remove that `down` file once the supervisor runs.
    pub remove_down: bool,
    /// s6-instance-create: the symlink target is used as given (relative), not resolved.
    pub keep_relative: bool,
}

impl LinkOptions {
    /// Apply one of the letters `d D f P`; false for any other.
    pub fn apply(&mut self, c: u8) -> bool {
        match c {
            b'd' => {
                self.down = true;
                self.remove_down = true;
            }
            b'D' => {
                self.down = true;
                self.remove_down = false;
            }
            b'f' => self.force_event = true,
            b'P' => self.public_event = true,
            _ => return false,
        }
        true
    }
}

/// Why [`svscan_running`] could not tell, and at which step (s6's messages differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockCheckError {
    /// `unable to open LOCK`.
    Open(Errno),
    /// `unable to check lock on LOCK`.
    Check(Errno),
}

/// Whether an s6-svscan holds `lock` (`SCANDIR/.s6-svscan/lock`), which must exist: s6
/// opens it before testing the lock.
pub fn svscan_running(lock: &Path) -> Result<bool, LockCheckError> {
    open(lock, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map(drop)
        .map_err(LockCheckError::Open)?;
    common::lock::is_locked(lock).map_err(LockCheckError::Check)
}

/// Whether `dir` is supervised and whether it has a `log/` subservice (which must be in the
/// same state: else EINVAL).
fn supervision_state(dir: &[u8]) -> Result<(bool, bool), Errno> {
    let supervised = common::lock::is_supervised(Path::new(OsStr::from_bytes(dir)))?;
    let log = cat(dir, b"/log");
    match std::fs::metadata(&log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((supervised, false)),
        Err(e) => Err(common::msg::errno_of(&e)),
        Ok(m) if !m.is_dir() => Err(Errno::ENOTDIR),
        Ok(_) => {
            if common::lock::is_supervised(&log)? != supervised {
                return Err(Errno::EINVAL);
            }
            Ok((supervised, true))
        }
    }
}

/// Wait until every listener has seen `event` (or the deadline passes: ETIMEDOUT).
fn wait_all(listeners: &[Listener], event: u8, deadline: Option<Instant>) -> Result<(), Errno> {
    if listeners.is_empty() {
        return Ok(());
    }
    let mut seen = vec![false; listeners.len()];
    let mut left = listeners.len();
    let r = common::fifodir::wait(listeners, deadline, |i, c| {
        if let Some(s) = seen.get_mut(i).filter(|s| c == event && !**s) {
            *s = true;
            left -= 1;
        }
        left == 0
    })?;
    match r {
        WaitOutcome::Done => Ok(()),
        WaitOutcome::TimedOut => Err(Errno::ETIMEDOUT),
    }
}

/// Create (truncate) an empty file.
fn touch(path: &Path) -> Result<(), Errno> {
    open(
        path,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )
    .map(drop)
}

fn register(dir: &[u8], opts: LinkOptions, gid: Option<Gid>) -> Result<Listener, Errno> {
    if opts.down {
        touch(&cat(dir, b"/down"))?;
    }
    let ev = cat(dir, b"/event");
    common::fifodir::make_with_mode(&ev, gid, opts.force_event)?;
    Listener::subscribe(&ev, LISTENER_FIFO_MODE)
}

/// s6's `s6_supervise_unlink`, the undo of a failed link: remove the link (and the down file
/// we made), and tell the new supervisors to exit (`x`, plus `d` / `o` once started).
fn undo_link(scandir: &[u8], name: &[u8], down: bool, kill: bool, stop: bool) {
    let base = cat(scandir, &[b"/", name].concat())
        .into_os_string()
        .into_encoded_bytes();
    if down {
        let _ = std::fs::remove_file(cat(&base, b"/down"));
    }
    let open_ctl = |p: &[u8]| {
        open(
            &cat(p, b"/supervise/control"),
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
    };
    let (fd, fdlog) = if kill {
        (
            open_ctl(&base),
            open_ctl(&cat(&base, b"/log").into_os_string().into_encoded_bytes()),
        )
    } else {
        (None, None)
    };
    let _ = std::fs::remove_file(cat(&base, b""));
    let (svc_cmd, log_cmd): (&[u8], &[u8]) = if stop { (b"xd", b"xo") } else { (b"x", b"x") };
    if let Some(fd) = fd {
        let _ = nix::unistd::write(&fd, svc_cmd);
    }
    if let Some(fd) = fdlog {
        let _ = nix::unistd::write(&fd, log_cmd);
    }
}

/// Link `servicedir` into `scandir` as `name`, make s6-svscan pick it up and wait until its
/// supervisor(s) run. Returns the number of supervisors waited for.
pub fn link(
    scandir: &[u8],
    servicedir: &[u8],
    name: &[u8],
    opts: LinkOptions,
    deadline: Option<Instant>,
) -> Result<usize, Errno> {
    let (supervised, logged) = supervision_state(servicedir)?;
    let gid = if opts.public_event {
        None
    } else {
        Some(nix::unistd::getegid())
    };
    let mut listeners = Vec::with_capacity(2);
    if !supervised {
        listeners.push(register(servicedir, opts, gid)?);
        if logged {
            let log = cat(servicedir, b"/log")
                .into_os_string()
                .into_encoded_bytes();
            listeners.push(register(&log, opts, gid)?);
        }
    }
    let lname = cat(scandir, &[b"/", name].concat());
    let target = if opts.keep_relative || servicedir.first() == Some(&b'/') {
        cat(servicedir, b"")
    } else {
        std::fs::canonicalize(cat(servicedir, b"")).map_err(|e| common::msg::errno_of(&e))?
    };
    if let Err(e) = std::os::unix::fs::symlink(&target, &lname) {
        let e = common::msg::errno_of(&e);
        if !supervised || e != Errno::EEXIST {
            return Err(e);
        }
    }
    if let Err(e) = common::control::send(Path::new(OsStr::from_bytes(scandir)), ".s6-svscan", b"a")
    {
        let e = match e {
            common::ControlError::NotListening => Errno::ENXIO,
            common::ControlError::Broken(e) | common::ControlError::Io(e) => e,
        };
        drop(listeners);
        undo_link(scandir, name, opts.down, false, false);
        return Err(e);
    }
    if let Err(e) = wait_all(&listeners, b's', deadline) {
        drop(listeners);
        undo_link(scandir, name, opts.down, true, true);
        return Err(e);
    }
    let n = listeners.len();
    drop(listeners);
    if opts.remove_down {
        let _ = std::fs::remove_file(cat(&lname.into_os_string().into_encoded_bytes(), b"/down"));
    }
    Ok(n)
}

/// Take `name` out of `scandir`: remove the link, make s6-svscan rescan and prune (`an`),
/// and, if `wait`, wait until its supervisor(s) have exited (a timeout just ends the wait).
pub fn unlink(
    scandir: &[u8],
    name: &[u8],
    wait: bool,
    deadline: Option<Instant>,
) -> Result<(), Errno> {
    let base = cat(scandir, &[b"/", name].concat())
        .into_os_string()
        .into_encoded_bytes();
    let mut listeners = Vec::with_capacity(2);
    if wait {
        let (supervised, logged) = supervision_state(&base)?;
        if supervised {
            let mut sub = |dir: &[u8]| {
                let ev = cat(dir, b"/event");
                if let Ok(real) = std::fs::canonicalize(&ev) {
                    if let Ok(l) = Listener::subscribe(&real, LISTENER_FIFO_MODE) {
                        listeners.push(l);
                    }
                }
            };
            sub(&base);
            if logged {
                sub(&cat(&base, b"/log").into_os_string().into_encoded_bytes());
            }
        }
    }
    let _ = std::fs::remove_file(cat(&base, b""));
    let _ = common::control::send(Path::new(OsStr::from_bytes(scandir)), ".s6-svscan", b"an");
    if wait {
        let _ = wait_all(&listeners, b'x', deadline);
    }
    Ok(())
}

/// Bytes of a path for messages.
pub fn pb(p: &Path) -> &[u8] {
    b(p.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_letters() {
        let mut o = LinkOptions::default();
        assert!(o.apply(b'd'));
        assert!(o.down && o.remove_down);
        assert!(o.apply(b'D'));
        assert!(o.down && !o.remove_down);
        assert!(!o.apply(b'x'));
    }
}

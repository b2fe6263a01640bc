//! The logdir protocol at the edge: initialisation and crash recovery, appending to
//! `current`, rotation (with or without a processor) as a resumable sequence of steps,
//! archiving and trimming. Every step that fails is retried later from that step.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::msg::StrError;
use common::tai::Tai64n;
use common::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fchmod, Mode};

use crate::script::{LogdirSpec, Processor};
use crate::timefmt;

/// A fatal error at initialisation: `unable to VERB PATH: ERR`, exit 111.
#[derive(Debug, thiserror::Error)]
#[error("unable to {verb} {}: {}", .path.display(), .err)]
pub struct InitError {
    pub verb: &'static str,
    pub path: PathBuf,
    pub err: InitCause,
}

#[derive(Debug)]
pub enum InitCause {
    Errno(Errno),
}

impl std::fmt::Display for InitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitCause::Errno(e) => write!(f, "{}", StrError(*e)),
        }
    }
}

fn init_err<'a>(verb: &'static str, path: &'a Path) -> impl FnOnce(Errno) -> InitError + 'a {
    move |e| InitError {
        verb,
        path: path.to_path_buf(),
        err: InitCause::Errno(e),
    }
}

/// Where a rotation stands (the next step to do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Fsync,
    Rename,
    OpenNew,
    Chmod,
    /// Without processor: archive `previous` as `.s`.
    ArchivePrevious,
    Spawn,
    /// The processor runs (pid).
    Running(i32),
    /// The processor succeeded: finish from here.
    FsyncProcessed,
    FsyncNewstate,
    UnlinkPrevious,
    RenameState,
    ArchiveProcessed,
}

pub struct Logdir {
    pub spec: LogdirSpec,
    dir: PathBuf,
    _lock: OwnedFd,
    current: Option<File>,
    cur_size: u64,
    /// Records not yet written to `current`: `buf[pos..]`.
    pub buf: Vec<u8>,
    pos: usize,
    /// `Some` while rotating.
    pub rotation: Option<Step>,
    /// When the failed write or rotation step is to be tried again.
    pub retry_at: Option<Instant>,
    /// `R`: the next periodic rotation.
    pub period_at: Option<Instant>,
    mask: u32,
}

/// `0666 & ~umask`.
fn file_mode(mask: u32) -> Mode {
    Mode::from_bits_truncate(mask)
}

fn xmode(mask: u32) -> Mode {
    Mode::from_bits_truncate(mask | 0o100)
}

fn errno(e: &std::io::Error) -> Errno {
    common::msg::errno_of(e)
}

fn unlink_soft(p: &Path) -> Result<(), Errno> {
    match nix::unistd::unlink(p) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `name` is an archive name: `@` + 24 hex digits + `.s` or `.u`.
pub fn is_archive_name(name: &[u8]) -> bool {
    match name {
        [b'@', hex @ .., b'.', b's' | b'u'] => {
            hex.len() == 24 && hex.iter().all(u8::is_ascii_hexdigit)
        }
        _ => false,
    }
}

/// Which archives to delete, oldest first, so that at most `nmax` remain and (when
/// `total_max` != 0) their total size is at most `total_max`. `archives` is sorted by name.
pub fn trim_plan(archives: &[(Vec<u8>, u64)], nmax: u32, total_max: u64) -> usize {
    let mut total: u64 = archives.iter().map(|a| a.1).sum();
    let mut count = archives.len();
    for (n, (_, size)) in archives.iter().enumerate() {
        if count <= nmax as usize && (total_max == 0 || total <= total_max) {
            return n;
        }
        total -= size;
        count -= 1;
    }
    archives.len()
}

impl Logdir {
    fn path(&self, name: &str) -> PathBuf {
        join(&self.dir, name)
    }

    /// Display name of the logdir, as the script gave it.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.spec.path)
    }

    /// Set the logdir up (steps 1-9 of the protocol), recovering from an earlier crash.
    pub fn init(spec: LogdirSpec, mask: u32, start: Instant) -> Result<Logdir, InitError> {
        let dir = PathBuf::from(OsStr::from_bytes(&spec.path));
        match nix::unistd::mkdir(&dir, Mode::from_bits_truncate(0o2700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(init_err("mkdir", &dir)(e)),
        }
        let lockp = join(&dir, "lock");
        let lock = open(
            &lockp,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        .map_err(init_err("open", &lockp))?;
        common::lock::try_lock_fd(&lock).map_err(|e| {
            init_err("lock", &lockp)(match e {
                common::lock::LockError::Busy => Errno::EBUSY,
                common::lock::LockError::Io(e) => e,
            })
        })?;
        let period_at =
            (spec.period_secs != 0).then(|| start + Duration::from_secs(spec.period_secs as u64));
        let mut ld = Logdir {
            spec,
            dir,
            _lock: lock,
            current: None,
            cur_size: 0,
            buf: Vec::new(),
            pos: 0,
            rotation: None,
            retry_at: None,
            period_at,
            mask,
        };
        let curp = ld.path("current");
        let clean = match nix::sys::stat::stat(&curp) {
            Ok(st) => st.st_mode & 0o100 != 0,
            Err(Errno::ENOENT) => false,
            Err(e) => return Err(init_err("stat", &curp)(e)),
        };
        if !clean {
            // s6 ignores these unlink errors.
            for f in ["state", "newstate"] {
                let _ = unlink_soft(&ld.path(f));
            }
            let processed = ld.path("processed");
            let done = match nix::sys::stat::stat(&processed) {
                Ok(st) => st.st_mode & 0o100 != 0,
                Err(Errno::ENOENT) => false,
                Err(e) => return Err(init_err("stat", &processed)(e)),
            };
            let dir_for_msg = ld.dir.clone();
            let finish_err = |what: &'static str| init_err(what, &dir_for_msg);
            if done {
                let _ = unlink_soft(&ld.path("previous"));
                ld.archive("processed", b's')
                    .map_err(finish_err("finish processed .s for logdir"))?;
            } else {
                let _ = unlink_soft(&processed);
                ld.archive("previous", b'u')
                    .map_err(finish_err("finish previous .u for logdir"))?;
            }
            ld.archive("current", b'u')
                .map_err(finish_err("finish current .u for logdir"))?;
            let statep = ld.path("state");
            open(
                &statep,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o666),
            )
            .map_err(init_err("open_trunc", &statep))?;
        }
        ld.open_current().map_err(init_err("open_append", &curp))?;
        Ok(ld)
    }

    fn open_current(&mut self) -> Result<(), Errno> {
        let curp = self.path("current");
        let fd = open(
            &curp,
            OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )?;
        fchmod(&fd, file_mode(self.mask))?;
        let f = File::from(fd);
        self.cur_size = f.metadata().map(|m| m.len()).unwrap_or(0);
        self.current = Some(f);
        Ok(())
    }

    /// "Archive NAME as .X": hard-link a single-link non-empty NAME to `@<now>.X`, unlink
    /// NAME, trim. A missing NAME is nothing to do; an empty one is just removed.
    fn archive(&self, name: &str, suffix: u8) -> Result<(), Errno> {
        let p = self.path(name);
        let st = match nix::sys::stat::stat(&p) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        if st.st_nlink == 1 && st.st_size > 0 {
            let label = timefmt::label(&Tai64n::now());
            let mut an = [0u8; 27];
            an[..25].copy_from_slice(&label);
            an[25] = b'.';
            an[26] = suffix;
            let dst = join(&self.dir, OsStr::from_bytes(&an));
            nix::unistd::linkat(
                nix::fcntl::AT_FDCWD,
                &p,
                nix::fcntl::AT_FDCWD,
                &dst,
                nix::fcntl::AtFlags::empty(),
            )?;
        }
        unlink_soft(&p)?;
        self.trim();
        Ok(())
    }

    /// Delete the oldest archives beyond `n` / `S` (failures are warnings).
    fn trim(&self) {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) => {
                crate::warn(&format!(
                    "unable to list {}: {}",
                    self.dir.display(),
                    StrError(errno(&e))
                ));
                return;
            }
        };
        let mut list: Vec<(Vec<u8>, u64)> = Vec::new();
        for ent in rd.flatten() {
            let name = ent.file_name();
            if !is_archive_name(name.as_bytes()) {
                continue;
            }
            let p = self.dir.join(&name);
            match std::fs::symlink_metadata(&p) {
                Ok(m) => list.push((name.as_bytes().to_vec(), m.size())),
                Err(e) => crate::warn(&format!(
                    "unable to stat {}: {}",
                    p.display(),
                    StrError(errno(&e))
                )),
            }
        }
        list.sort();
        let n = trim_plan(&list, self.spec.nmax, self.spec.total_max);
        for (name, _) in list.iter().take(n) {
            let p = self.dir.join(OsStr::from_bytes(name));
            if let Err(e) = std::fs::remove_file(&p) {
                crate::warn(&format!(
                    "unable to unlink {}: {}",
                    p.display(),
                    StrError(errno(&e))
                ));
            }
        }
    }

    /// Append a record (the driver formats it straight into this buffer).
    pub fn pending(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// Make room at the end of the buffer without moving data on every line.
    pub fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 65536 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Write what is buffered to `current` when possible. Returns true when a size-triggered
    /// rotation was started.
    pub fn flush(&mut self, now: Instant) -> bool {
        if self.rotation.is_some() || self.retry_at.is_some_and(|t| t > now) {
            return false;
        }
        self.retry_at = None;
        while self.pending() {
            let Some(cur) = self.current.as_ref() else {
                return false;
            };
            let chunk = write_chunk(
                self.buf.get(self.pos..).unwrap_or_default(),
                (self.spec.size as u64).saturating_sub(self.cur_size),
            );
            match nix::unistd::write(cur.as_fd(), chunk) {
                Ok(0) | Err(Errno::ENOSPC) | Err(Errno::EDQUOT) => {
                    self.retry_at = Some(now + self.retry_delay());
                    return false;
                }
                Ok(n) => {
                    self.pos += n;
                    self.cur_size += n as u64;
                    let last = self.pos.checked_sub(1).and_then(|i| self.buf.get(i));
                    let boundary = last == Some(&b'\n');
                    if crate::core::size_rotation_due(
                        boundary,
                        self.cur_size,
                        self.spec.tolerance,
                        self.spec.size,
                    ) {
                        self.compact();
                        self.rotate(now);
                        return true;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => {
                    // 2.15 retries silently every `r` ms.
                    self.retry_at = Some(now + self.retry_delay());
                    return false;
                }
            }
        }
        self.compact();
        false
    }

    fn retry_delay(&self) -> Duration {
        Duration::from_millis(self.spec.retry_ms as u64)
    }

    /// Start a rotation (SIGALRM, size, period); no-op if one is under way.
    pub fn rotate(&mut self, now: Instant) {
        if self.rotation.is_none() {
            self.rotation = Some(Step::Fsync);
            self.retry_at = None;
            self.advance(now);
        }
    }

    /// Run rotation steps until one waits (processor) or fails (retry later) or all are done.
    pub fn advance(&mut self, now: Instant) {
        while let Some(step) = self.rotation {
            if let Step::Running(_) = step {
                return;
            }
            match self.do_step(step) {
                Ok(next) => self.rotation = next,
                Err(msg) => {
                    crate::warn(&msg);
                    self.retry_at = Some(now + self.retry_delay());
                    return;
                }
            }
        }
        self.retry_at = None;
    }

    /// Whether a rotation step is waiting for its retry time.
    pub fn retry_due(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|t| t <= now)
    }

    fn do_step(&mut self, step: Step) -> Result<Option<Step>, String> {
        let d = &self.dir.clone();
        let fail = |what: &str, e: Errno| format!("unable to {what}: {}", StrError(e));
        let after_chmod = if self.spec.processor.is_some() {
            Step::Spawn
        } else {
            Step::ArchivePrevious
        };
        Ok(Some(match step {
            Step::Fsync => {
                if let Some(cur) = &self.current {
                    nix::unistd::fsync(cur.as_fd())
                        .map_err(|e| fail(&format!("fd_sync {}/current", d.display()), e))?;
                }
                Step::Rename
            }
            Step::Rename => {
                std::fs::rename(self.path("current"), self.path("previous")).map_err(|e| {
                    fail(
                        &format!("rename {0}/current to {0}/previous", d.display()),
                        errno(&e),
                    )
                })?;
                self.current = None;
                Step::OpenNew
            }
            Step::OpenNew => {
                self.open_current()
                    .map_err(|e| fail(&format!("open_append {}/current", d.display()), e))?;
                Step::Chmod
            }
            Step::Chmod => {
                let p = self.path("previous");
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(self.mask | 0o100))
                    .map_err(|e| fail(&format!("chmod {}", p.display()), errno(&e)))?;
                after_chmod
            }
            Step::ArchivePrevious => {
                self.archive("previous", b's').map_err(|e| {
                    fail(&format!("finish previous .s to logdir {}", d.display()), e)
                })?;
                return Ok(None);
            }
            Step::Spawn => match self.spawn() {
                Ok(pid) => Step::Running(pid),
                Err(e) => {
                    return Err(format!(
                        "unable to spawn processor for logdir {}: {}",
                        self.name(),
                        StrError(e)
                    ))
                }
            },
            Step::Running(pid) => Step::Running(pid),
            Step::FsyncProcessed => {
                let p = self.path("processed");
                let f = File::options()
                    .append(true)
                    .open(&p)
                    .map_err(|e| fail(&format!("open_append {}", p.display()), errno(&e)))?;
                nix::unistd::fsync(f.as_fd())
                    .map_err(|e| fail(&format!("fd_sync {}", p.display()), e))?;
                fchmod(&f, xmode(self.mask))
                    .map_err(|e| fail(&format!("fd_chmod {}", p.display()), e))?;
                Step::FsyncNewstate
            }
            Step::FsyncNewstate => {
                let p = self.path("newstate");
                match File::options().append(true).open(&p) {
                    Ok(f) => nix::unistd::fsync(f.as_fd())
                        .map_err(|e| fail(&format!("fd_sync {}", p.display()), e))?,
                    Err(e) => return Err(fail(&format!("open_append {}", p.display()), errno(&e))),
                }
                Step::UnlinkPrevious
            }
            Step::UnlinkPrevious => {
                let p = self.path("previous");
                // s6 words this failure "open_append" too.
                unlink_soft(&p).map_err(|e| fail(&format!("open_append {}", p.display()), e))?;
                Step::RenameState
            }
            Step::RenameState => {
                match std::fs::rename(self.path("newstate"), self.path("state")) {
                    Ok(()) => {}
                    Err(e) => {
                        return Err(fail(
                            &format!("rename {0}/newstate to {0}/state", d.display()),
                            errno(&e),
                        ))
                    }
                }
                Step::ArchiveProcessed
            }
            Step::ArchiveProcessed => {
                self.archive("processed", b's').map_err(|e| {
                    fail(&format!("finish processed .s to logdir {}", d.display()), e)
                })?;
                return Ok(None);
            }
        }))
    }

    /// Start the processor: cwd the logdir, fd 0 `previous`, fd 1 `processed`, fd 4
    /// `state`, fd 5 `newstate`.
    fn spawn(&self) -> Result<i32, Errno> {
        let ro = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let wr = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC;
        let m = Mode::from_bits_truncate(0o666);
        let prev = open(&self.path("previous"), ro, Mode::empty())?;
        let processed = open(&self.path("processed"), wr, m)?;
        let state = open(&self.path("state"), ro | OFlag::O_CREAT, m)?;
        let newstate = open(&self.path("newstate"), wr, m)?;
        // Move the state fds above 5 so the dup2s in the child cannot clobber each other.
        let state = dup_high(&state)?;
        let newstate = dup_high(&newstate)?;
        let (s4, s5) = (state.as_raw_fd(), newstate.as_raw_fd());
        let mut cmd = match &self.spec.processor {
            Some(Processor::Execline(c)) => {
                let mut cmd = Command::new("execlineb");
                cmd.arg("-Pc").arg(OsStr::from_bytes(c));
                cmd
            }
            Some(Processor::Shell(c)) => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c").arg(OsStr::from_bytes(c));
                cmd
            }
            None => return Err(Errno::EINVAL),
        };
        cmd.current_dir(&self.dir)
            .stdin(Stdio::from(prev))
            .stdout(Stdio::from(processed));
        let move_state_fds = move || {
            // SAFETY: dup2 on fd numbers touches no memory (at worst EBADF); s4 is an open fd
            // of ours, not 4 (see dup_high), that stays open until after spawn returns.
            if unsafe { libc::dup2(s4, 4) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: as above, for s5 and 5.
            if unsafe { libc::dup2(s5, 5) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        };
        // SAFETY: the closure, run between fork and exec, only calls dup2, which is
        // async-signal-safe, and allocates nothing.
        unsafe { cmd.pre_exec(move_state_fds) };
        let child = cmd.spawn().map_err(|e| errno(&e))?;
        drop(state);
        drop(newstate);
        Ok(child.id() as i32)
    }

    /// The processor `pid` ended with wait status `status` (true = exit 0). Returns the
    /// warning to print, if any.
    pub fn processor_done(&mut self, pid: i32, ok: bool, crashed: bool, now: Instant) -> bool {
        if self.rotation != Some(Step::Running(pid)) {
            return false;
        }
        if ok {
            self.rotation = Some(Step::FsyncProcessed);
            self.advance(now);
        } else {
            crate::warn(&format!(
                "processor {} in {}",
                if crashed { "crashed" } else { "failed" },
                self.name()
            ));
            self.rotation = Some(Step::Spawn);
            self.retry_at = Some(now + self.retry_delay());
        }
        true
    }

    /// At exit: fsync `current` and give it the user-x bit.
    /// On failure, the warning to print (s6's wording).
    pub fn finalize(&mut self) -> Result<(), String> {
        if let Some(cur) = &self.current {
            let d = self.dir.display();
            nix::unistd::fsync(cur.as_fd())
                .map_err(|e| format!("unable to fd_sync {d}/current: {}", StrError(e)))?;
            fchmod(cur, xmode(self.mask))
                .map_err(|e| format!("unable to fd_chmod {d}/current: {}", StrError(e)))?;
        }
        Ok(())
    }

    pub fn is_idle(&self) -> bool {
        self.rotation.is_none()
    }
}

/// What to write of `pending` (whole records) when `room` bytes are left before the
/// rotation size: the whole lines that fit, or the first line if none does, so that an
/// archive is not much bigger than `s` however much input arrived at once.
pub fn write_chunk(pending: &[u8], room: u64) -> &[u8] {
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if pending.len() <= room {
        return pending;
    }
    // `room` < `pending.len()` here.
    let fits = pending.get(..room).unwrap_or(pending);
    let end = fits
        .iter()
        .rposition(|&c| c == b'\n')
        .or_else(|| pending.iter().position(|&c| c == b'\n'));
    end.and_then(|i| pending.get(..=i)).unwrap_or(pending)
}

fn dup_high(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    let raw: RawFd = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn join(dir: &Path, name: impl AsRef<OsStr>) -> PathBuf {
    let mut v = dir.as_os_str().as_bytes().to_vec();
    v.push(b'/');
    v.extend_from_slice(name.as_ref().as_bytes());
    PathBuf::from(OsStr::from_bytes(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names() {
        assert!(is_archive_name(b"@400000006553f125075bcd15.s"));
        assert!(is_archive_name(b"@400000006553F125075bcd15.u"));
        assert!(!is_archive_name(b"@400000006553f125075bcd15.x"));
        assert!(!is_archive_name(b"current"));
    }

    #[test]
    fn chunks_stop_at_the_rotation_size() {
        assert_eq!(write_chunk(b"aa\nbb\ncc\n", 100), b"aa\nbb\ncc\n");
        assert_eq!(write_chunk(b"aa\nbb\ncc\n", 7), b"aa\nbb\n");
        assert_eq!(write_chunk(b"aaaa\nbb\n", 2), b"aaaa\n");
        assert_eq!(write_chunk(b"aa\nbb\n", 0), b"aa\n");
    }

    #[test]
    fn trimming() {
        let a = |n: &str, s| (n.as_bytes().to_vec(), s);
        let l = vec![a("@1", 100), a("@2", 100), a("@3", 100), a("@4", 100)];
        assert_eq!(trim_plan(&l, 10, 0), 0);
        assert_eq!(trim_plan(&l, 2, 0), 2);
        assert_eq!(trim_plan(&l, 10, 250), 2);
        assert_eq!(trim_plan(&l, 0, 0), 4);
    }
}

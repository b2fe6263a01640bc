//! The event fifodir (`<servicedir>/event`): s6-supervise writes one-byte events into every
//! subscriber FIFO there; listeners subscribe by creating such a FIFO (libftrigr's way).

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, OFlag};
use nix::sys::stat::{fchmodat, lstat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{chown, mkfifoat, unlinkat, write, Gid, UnlinkatFlags};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::tai::Tai64n;

/// Subscriber FIFO names start with this and are exactly [`FIFO_NAME_LEN`] bytes long.
pub const FIFO_PREFIX: &[u8] = b"ftrig1:@";
pub const FIFO_NAME_LEN: usize = 39;
/// Mode of a fifodir: `drwx-ws--T`.
pub const FIFODIR_MODE: u32 = 0o3730;
/// Mode of a "public" fifodir, where anyone may subscribe: `drwx-wx-wt` (`s6-mkfifodir`
/// without `-g`, `s6-svperms -e`).
pub const PUBLIC_FIFODIR_MODE: u32 = 0o1733;
/// Mode of a subscriber FIFO in 2.15 (`prw--w--w-`; 2.11 used 0600).
pub const LISTENER_FIFO_MODE: u32 = 0o622;

fn is_subscriber_name(name: &[u8]) -> bool {
    name.len() == FIFO_NAME_LEN && name.starts_with(FIFO_PREFIX)
}

/// Create the fifodir `path` (mode 03730, group `gid`) if it does not exist. Returns whether
/// it was created; an existing directory is left untouched.
pub fn make(path: &Path, gid: Gid) -> Result<bool, Errno> {
    let r = crate::fsio::mkdir_exact(path, 0o700);
    match r {
        Ok(()) => {
            chown(path, None, Some(gid))?;
            fchmodat(
                nix::fcntl::AT_FDCWD,
                path,
                Mode::from_bits_truncate(FIFODIR_MODE),
                FchmodatFlags::FollowSymlink,
            )?;
            Ok(true)
        }
        Err(Errno::EEXIST) => {
            let st = nix::sys::stat::stat(path)?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// skalibs' `ftrigw_fifodir_make`, as `s6-mkfifodir` uses it: create `path` as a fifodir,
/// group-restricted (mode 03730, group `gid`) or public (mode 01733, group unchanged) when
/// `gid` is `None`. An existing path must be a directory owned by the caller's real uid
/// (else ENOTDIR / EACCES) and is left untouched, unless `force`, which applies the group
/// and mode to it.
pub fn make_with_mode(path: &Path, gid: Option<Gid>, force: bool) -> Result<(), Errno> {
    let r = crate::fsio::mkdir_exact(path, 0o700);
    match r {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = nix::sys::stat::stat(path)?;
            if st.st_uid != nix::unistd::getuid().as_raw() {
                return Err(Errno::EACCES);
            }
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if !force {
                return Ok(());
            }
        }
        Err(e) => return Err(e),
    }
    if let Some(g) = gid {
        chown(path, None, Some(g))?;
    }
    let mode = if gid.is_some() {
        FIFODIR_MODE
    } else {
        PUBLIC_FIFODIR_MODE
    };
    fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        Mode::from_bits_truncate(mode),
        FchmodatFlags::FollowSymlink,
    )
}

/// Send `event` (one write) to every subscriber FIFO in `dir`. Readers that have gone away
/// (ENXIO on open, EPIPE on write) have their FIFO removed; a full FIFO loses the event for
/// that reader only. Errors are ignored, as s6-supervise does.
pub fn notify(dir: &Path, event: &[u8]) {
    let _ = try_notify(dir, event);
}

/// [`notify`], reporting a fifodir that cannot be opened or read (s6-ftrig-notify's
/// `unable to notify DIR`); what happens to each subscriber is still silent.
pub fn try_notify(dir: &Path, event: &[u8]) -> Result<(), Errno> {
    for_each_subscriber(dir, |dirfd, name| match open_subscriber(dirfd, name) {
        Ok(fd) => {
            if let Err(Errno::EPIPE) = write(&fd, event) {
                let _ = unlinkat(dirfd, name, UnlinkatFlags::NoRemoveDir);
            }
        }
        Err(Errno::ENXIO) => {
            let _ = unlinkat(dirfd, name, UnlinkatFlags::NoRemoveDir);
        }
        Err(_) => {}
    })
}

/// [`clean`], reporting a fifodir that cannot be opened or read (s6-cleanfifodir).
pub fn try_clean(dir: &Path) -> Result<(), Errno> {
    for_each_subscriber(dir, |dirfd, name| {
        if let Err(Errno::ENXIO) = open_subscriber(dirfd, name) {
            let _ = unlinkat(dirfd, name, UnlinkatFlags::NoRemoveDir);
        }
    })
}

/// Remove subscriber FIFOs nobody reads (s6-supervise's startup cleaning).
pub fn clean(dir: &Path) {
    let _ = try_clean(dir);
}

/// Open a subscriber FIFO for writing. `event/` is writable by its group, so an entry may be
/// a symlink or a (hard-linked) regular file planted to make the supervisor write elsewhere:
/// symlinks are not followed (ELOOP) and anything but a FIFO is refused (EINVAL), untouched.
/// s6 itself follows them; we do not copy that.
fn open_subscriber(dirfd: BorrowedFd<'_>, name: &std::ffi::CStr) -> Result<OwnedFd, Errno> {
    let fd = openat(
        dirfd,
        name,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )?;
    let st = nix::sys::stat::fstat(&fd)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
        return Err(Errno::EINVAL);
    }
    Ok(fd)
}

fn for_each_subscriber(
    dir: &Path,
    mut f: impl FnMut(BorrowedFd<'_>, &std::ffi::CStr),
) -> Result<(), Errno> {
    // getdents64 on a small stack buffer rather than opendir: glibc's DIR is a 32 KiB heap
    // buffer (a dirty heap page per supervisor) plus fcntl/dup calls on every event sent.
    let dirfd = open(
        &crate::fsio::ShortPath(dir),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // Collect names first: unlinking while iterating a directory stream may skip entries.
    let mut found: Vec<[u8; FIFO_NAME_LEN + 1]> = Vec::new();
    // 512 bytes: eight subscribers a call; a supervisor sends its events from deep in its
    // loop, and each stack page it ever touched stays its private memory.
    let mut buf = [0u64; 64];
    crate::fsio::for_each_dir_name(dirfd.as_fd(), &mut buf, |name| {
        let mut z = [0u8; FIFO_NAME_LEN + 1];
        if let Some(dst) = z
            .get_mut(..FIFO_NAME_LEN)
            .filter(|_| is_subscriber_name(name))
        {
            dst.copy_from_slice(name);
            found.push(z);
        }
    })?;
    for z in &found {
        if let Ok(n) = std::ffi::CStr::from_bytes_with_nul(z) {
            f(dirfd.as_fd(), n);
        }
    }
    Ok(())
}

fn random_suffix() -> [u8; 6] {
    const SET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut raw = [0u8; 6];
    // Raw getrandom: nix does not wrap it.
    // SAFETY: getrandom writes at most raw.len() bytes into the buffer.
    let n = unsafe { libc::getrandom(raw.as_mut_ptr().cast(), raw.len(), 0) };
    if n != raw.len() as isize {
        // Fall back on the clock and pid; uniqueness is still checked by mkfifo (EEXIST).
        let t = Tai64n::now();
        let seed = (t.nanos as u64) ^ ((std::process::id() as u64) << 20) ^ t.secs;
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (seed >> (i * 6)) as u8;
        }
    }
    raw.map(|b| SET.get(usize::from(b & 63)).copied().unwrap_or(b'_'))
}

/// A subscription to a fifodir: a FIFO `ftrig1:@<stamp>:<random>` held open for reading (and
/// for writing, so it never reports EOF). Dropping it closes and removes the FIFO.
pub struct Listener {
    dir: PathBuf,
    name: Vec<u8>,
    rfd: OwnedFd,
    _wfd: OwnedFd,
}

impl Listener {
    /// Subscribe to `dir` with a FIFO of mode `mode` (created under umask 0, dot-prefixed,
    /// opened, then renamed into view, so that writers never see a FIFO without a reader).
    pub fn subscribe(dir: &Path, mode: u32) -> Result<Listener, Errno> {
        let dfd = open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut tries = 0;
        loop {
            let name = format!("ftrig1:{}:", Tai64n::now().label()).into_bytes();
            let mut name = name;
            name.extend_from_slice(&random_suffix());
            let mut hidden = Vec::with_capacity(name.len() + 1);
            hidden.push(b'.');
            hidden.extend_from_slice(&name);
            let hidden_os = std::ffi::OsStr::from_bytes(&hidden);
            let r = crate::fsio::with_umask(Mode::empty(), || {
                mkfifoat(&dfd, hidden_os, Mode::from_bits_truncate(mode))
            });
            match r {
                Ok(()) => {}
                Err(Errno::EEXIST) if tries < 16 => {
                    tries += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let opened = (|| {
                let rfd = openat(
                    &dfd,
                    hidden_os,
                    OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let wfd = openat(
                    &dfd,
                    hidden_os,
                    OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                renameat(&dfd, hidden_os, &dfd, std::ffi::OsStr::from_bytes(&name))?;
                Ok((rfd, wfd))
            })();
            return match opened {
                Ok((rfd, wfd)) => Ok(Listener {
                    dir: dir.to_path_buf(),
                    name,
                    rfd,
                    _wfd: wfd,
                }),
                Err(e) => {
                    let _ = unlinkat(&dfd, hidden_os, UnlinkatFlags::NoRemoveDir);
                    Err(e)
                }
            };
        }
    }

    /// The FIFO's name inside the fifodir.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(std::ffi::OsStr::from_bytes(&self.name))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.rfd.as_fd()
    }

    /// Read whatever events are pending (non-blocking: 0 when none).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        loop {
            match nix::unistd::read(&self.rfd, buf) {
                Ok(n) => return Ok(n),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = nix::unistd::unlink(&self.path());
    }
}

/// Outcome of [`wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The callback said stop.
    Done,
    /// The deadline passed first.
    TimedOut,
}

/// Feed every event byte from `listeners` to `on_event(index, byte)` until it returns `true`
/// or `deadline` passes (`None`: no deadline). Bytes are delivered one by one, in order;
/// bytes read in the same chunk after the one that ended the wait are discarded.
pub fn wait(
    listeners: &[Listener],
    deadline: Option<Instant>,
    mut on_event: impl FnMut(usize, u8) -> bool,
) -> Result<WaitOutcome, Errno> {
    let mut poll = Poll::new().map_err(io_errno)?;
    for (i, l) in listeners.iter().enumerate() {
        let raw = l.rfd.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), Token(i), Interest::READABLE)
            .map_err(io_errno)?;
    }
    let mut events = Events::with_capacity(listeners.len().clamp(1, 64));
    let mut buf = [0u8; 256];
    loop {
        let Some(timeout) = crate::deadline::time_left(deadline) else {
            return Ok(WaitOutcome::TimedOut);
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_errno(e)),
        }
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(l) = listeners.get(i) else { continue };
            loop {
                let n = l.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                for &b in buf.get(..n).unwrap_or(&[]) {
                    if on_event(i, b) {
                        return Ok(WaitOutcome::Done);
                    }
                }
            }
        }
    }
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Whether `path` is a subscriber FIFO by type (used by tests and tools that inspect fifodirs).
pub fn is_fifo(path: &Path) -> bool {
    lstat(path)
        .map(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fifodir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn make_sets_mode_and_keeps_existing() {
        let d = tmp("make");
        assert_eq!(make(&d, nix::unistd::getegid()), Ok(true));
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o3730
        );
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1733)).unwrap();
        assert_eq!(make(&d, nix::unistd::getegid()), Ok(false));
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o1733
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn make_with_mode_public_group_and_force() {
        let d = tmp("makemode");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        make_with_mode(&d, None, false).unwrap();
        assert_eq!(mode(&d), PUBLIC_FIFODIR_MODE);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        make_with_mode(&d, None, false).unwrap();
        assert_eq!(mode(&d), 0o700);
        make_with_mode(&d, Some(nix::unistd::getegid()), true).unwrap();
        assert_eq!(mode(&d), FIFODIR_MODE);
        assert_eq!(
            make_with_mode(&d.join("a/b"), None, false),
            Err(Errno::ENOENT)
        );
        let f = d.join("file");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(make_with_mode(&f, None, false), Err(Errno::ENOTDIR));
        std::fs::remove_dir_all(&d).unwrap();
    }

    // svextras' former copy (`link::fifodir_make`): an existing public fifodir keeps its
    // mode when asked for a group one, unless forced.
    #[test]
    fn make_with_mode_existing_needs_force() {
        let d = tmp("makeforce");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        make_with_mode(&d, None, false).unwrap();
        make_with_mode(&d, Some(nix::unistd::getegid()), false).unwrap();
        assert_eq!(mode(&d), PUBLIC_FIFODIR_MODE);
        make_with_mode(&d, Some(nix::unistd::getegid()), true).unwrap();
        assert_eq!(mode(&d), FIFODIR_MODE);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn subscribe_notify_and_stale_cleanup() {
        let d = tmp("notify");
        make(&d, nix::unistd::getegid()).unwrap();
        let l = Listener::subscribe(&d, LISTENER_FIFO_MODE).unwrap();
        assert_eq!(l.name().len(), FIFO_NAME_LEN);
        assert!(l.name().starts_with(FIFO_PREFIX));
        assert!(is_fifo(&l.path()));
        assert_eq!(
            std::fs::metadata(l.path()).unwrap().permissions().mode() & 0o777,
            0o622
        );
        // A stale FIFO (no reader) is removed by the next notification.
        let stale = d.join("ftrig1:@400000006b0288e1244b9b7e:2UCImZ");
        nix::unistd::mkfifo(&stale, Mode::from_bits_truncate(0o600)).unwrap();
        // A dot-prefixed one is not a subscriber: left alone.
        let hidden = d.join(".ftrig1:@400000006b0288e1244b9b7e:2UCImZ");
        nix::unistd::mkfifo(&hidden, Mode::from_bits_truncate(0o600)).unwrap();
        notify(&d, b"dD");
        assert!(!stale.exists());
        assert!(hidden.exists());
        let mut buf = [0u8; 8];
        assert_eq!(l.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"dD");
        let p = l.path();
        drop(l);
        assert!(!p.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn notify_never_writes_through_planted_links_or_files() {
        let d = tmp("planted");
        make(&d, nix::unistd::getegid()).unwrap();
        let outside = d.with_extension("outside");
        std::fs::write(&outside, b"precious").unwrap();
        let link = d.join("ftrig1:@400000006921234512345678:abcdef");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let file = d.join("ftrig1:@400000006921234512345678:ghijkl");
        std::fs::write(&file, b"").unwrap();
        notify(&d, b"dD");
        clean(&d);
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert_eq!(std::fs::read(&file).unwrap(), b"");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_file(&outside).unwrap();
    }

    #[test]
    fn notify_reaches_many_subscribers_and_cleans_many_stale() {
        // More entries than one getdents64 buffer holds: every one is seen.
        let d = tmp("many");
        make(&d, nix::unistd::getegid()).unwrap();
        let ls: Vec<_> = (0..40)
            .map(|_| Listener::subscribe(&d, LISTENER_FIFO_MODE).unwrap())
            .collect();
        let stale: Vec<_> = (0..40)
            .map(|i| {
                let p = d.join(format!("ftrig1:@400000006b0288e1244b9b7e:{i:06}"));
                nix::unistd::mkfifo(&p, Mode::from_bits_truncate(0o600)).unwrap();
                p
            })
            .collect();
        notify(&d, b"u");
        for l in &ls {
            let mut buf = [0u8; 4];
            assert_eq!(l.read(&mut buf).unwrap(), 1);
            assert_eq!(buf[0], b'u');
        }
        assert!(stale.iter().all(|p| !p.exists()));
        drop(ls);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dirents_parses_records() {
        let mut b = Vec::new();
        for name in [&b"."[..], b"ftrig1:x", b"a"] {
            let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
            let mut r = vec![0u8; reclen];
            r[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
            r[19..19 + name.len()].copy_from_slice(name);
            b.extend_from_slice(&r);
        }
        let names: Vec<&[u8]> = crate::fsio::dirents(&b).collect();
        assert_eq!(names, vec![&b"."[..], b"ftrig1:x", b"a"]);
        assert_eq!(crate::fsio::dirents(&b[..10]).count(), 0);
    }

    #[test]
    fn wait_until_match_or_deadline() {
        let d = tmp("wait");
        make(&d, nix::unistd::getegid()).unwrap();
        let ls = vec![Listener::subscribe(&d, 0o600).unwrap()];
        notify(&d, b"sud");
        let mut seen = Vec::new();
        let r = wait(
            &ls,
            Some(Instant::now() + Duration::from_secs(5)),
            |_, b| {
                seen.push(b);
                b == b'u'
            },
        );
        assert_eq!(r, Ok(WaitOutcome::Done));
        assert_eq!(seen, b"su");
        let r = wait(
            &ls,
            Some(Instant::now() + Duration::from_millis(20)),
            |_, b| b == b'x',
        );
        assert_eq!(r, Ok(WaitOutcome::TimedOut));
        drop(ls);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

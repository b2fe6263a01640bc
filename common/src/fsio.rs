//! The two file operations the protocol relies on: reading a small file in one go, and
//! replacing a file atomically (`name.new` then `rename`, no fsync, as s6 does).

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{read, write};
use std::ffi::{CStr, CString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A path for nix's calls, made a C string on a 128-byte stack buffer (a heap one when it is
/// longer). nix copies a `Path` into a 1 KiB stack buffer per argument: in a daemon those
/// bytes sit at the tip of its deepest call chains, and every stack page a supervisor ever
/// touched stays private memory of it.
pub struct ShortPath<'a>(pub &'a Path);

impl nix::NixPath for ShortPath<'_> {
    fn is_empty(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    fn len(&self) -> usize {
        self.0.as_os_str().len()
    }

    fn with_nix_path<T, F>(&self, f: F) -> nix::Result<T>
    where
        F: FnOnce(&CStr) -> T,
    {
        let bytes = self.0.as_os_str().as_bytes();
        let mut buf = [0u8; 128];
        if let Some(dst) = buf.get_mut(..bytes.len()) {
            if bytes.len() < 128 {
                dst.copy_from_slice(bytes);
                let c = CStr::from_bytes_with_nul(buf.get(..=bytes.len()).unwrap_or(&[]))
                    .map_err(|_| Errno::EINVAL)?;
                return Ok(f(c));
            }
        }
        let c = CString::new(bytes).map_err(|_| Errno::EINVAL)?;
        Ok(f(&c))
    }
}

/// Call `f` with the name of every entry of the open directory `dir` (`.` and `..`
/// included), in the order getdents64 gives them (readdir's), read through `buf`: no heap
/// and no directory stream (glibc's `DIR` is a 32 KiB heap buffer). The daemons list their
/// directories this way; `buf`'s size is the caller's stack budget.
pub fn for_each_dir_name(
    dir: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u64],
    mut f: impl FnMut(&[u8]),
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: getdents64 writes at most the buffer's length into it.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                std::mem::size_of_val(buf),
            )
        };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        let len = usize::try_from(n)
            .unwrap_or(0)
            .min(std::mem::size_of_val(buf));
        // SAFETY: the kernel filled the first len bytes of buf (u64s: any byte is a valid u8).
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
        dirents(bytes).for_each(&mut f);
    }
}

/// The names in a buffer of `linux_dirent64` records (d_ino u64, d_off i64, d_reclen u16,
/// d_type u8, NUL-terminated d_name), as getdents64 returns them.
pub(crate) fn dirents(mut b: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let reclen = usize::from(u16::from_ne_bytes([*b.get(16)?, *b.get(17)?]));
        let rec = b.get(..reclen).filter(|_| reclen > 19)?;
        b = b.get(reclen..).unwrap_or(&[]);
        let name = rec.get(19..).unwrap_or(&[]);
        name.split(|&c| c == 0).next()
    })
}

/// Read at most `buf.len()` bytes from the start of `path`; returns how many were read.
pub fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize, Errno> {
    read_prefix_flags(path, buf, OFlag::O_RDONLY | OFlag::O_CLOEXEC)
}

/// Same, with the file opened non-blocking (settings files may be FIFOs planted by a user:
/// a supervisor must never block on them).
pub fn read_prefix_nonblock(path: &Path, buf: &mut [u8]) -> Result<usize, Errno> {
    read_prefix_flags(
        path,
        buf,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
    )
}

fn read_prefix_flags(path: &Path, buf: &mut [u8], flags: OFlag) -> Result<usize, Errno> {
    read_fd_prefix(&open(&ShortPath(path), flags, Mode::empty())?, buf)
}

/// [`read_prefix`] of a path built by [`crate::cpath::CPath`].
pub fn read_prefix_at(path: &crate::cpath::CPath, buf: &mut [u8]) -> Result<usize, Errno> {
    read_fd_prefix(
        &path.open(OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?,
        buf,
    )
}

/// Read what `fd` holds from where it stands until its end or until `buf` is full; returns
/// how many bytes were read.
pub fn read_fd_prefix<F: AsFd>(fd: F, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = fd.as_fd();
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match read(fd, rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Write `data` to `tmp` (a new file, 0666 & ~umask) in one write, then rename it over
/// `dst`. On failure the temporary file is removed and the error returned.
///
/// The new `tmp` is created with `O_EXCL | O_NOFOLLOW` (a stale one, found that way, is
/// unlinked and the create retried once), so that a symlink planted at `tmp` is never written
/// through (s6 opens it with `O_TRUNC` and follows it): the write goes to a fresh file in
/// `tmp`'s directory or fails.
pub fn write_atomic(tmp: &Path, dst: &Path, data: &[u8]) -> Result<(), Errno> {
    let create = || {
        open(
            &ShortPath(tmp),
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
    };
    let r = (|| {
        // Usually there is no stale `tmp`: unlink only when the exclusive create finds one.
        let fd = match create() {
            Err(Errno::EEXIST) => {
                match nix::unistd::unlink(&ShortPath(tmp)) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => return Err(e),
                }
                create()?
            }
            r => r?,
        };
        write_all(fd.as_fd(), data)?;
        drop(fd);
        nix::fcntl::renameat(
            nix::fcntl::AT_FDCWD,
            &ShortPath(tmp),
            nix::fcntl::AT_FDCWD,
            &ShortPath(dst),
        )
    })();
    if r.is_err() {
        let _ = nix::unistd::unlink(&ShortPath(tmp));
    }
    r
}

/// Write all of `data`, retrying on EINTR; a zero-length write is reported as ENOSPC.
pub fn write_all<F: AsFd>(fd: F, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match write(&fd, data) {
            Ok(0) => return Err(Errno::ENOSPC),
            Ok(n) => data = data.get(n..).unwrap_or(&[]),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Run `f` under umask `mask`, then put the old umask back. Our programs have one thread,
/// but this crate's unit tests run in threads of one process, whose umask they share: there
/// two such windows are kept from interleaving (each would restore the other's umask at the
/// wrong time).
pub(crate) fn with_umask<T>(mask: nix::sys::stat::Mode, f: impl FnOnce() -> T) -> T {
    #[cfg(test)]
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    #[cfg(test)]
    let _window = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let old = nix::sys::stat::umask(mask);
    let r = f();
    nix::sys::stat::umask(old);
    r
}

/// `mkdir` with exactly `mode` (umask 0 around it), as s6 creates its directories.
pub fn mkdir_exact(path: &Path, mode: u32) -> Result<(), Errno> {
    with_umask(nix::sys::stat::Mode::empty(), || {
        nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(mode))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_then_read() {
        let d = std::env::temp_dir().join(format!("fsio-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let dst = d.join("f");
        write_atomic(&d.join("f.new"), &dst, b"hello").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(read_prefix(&dst, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert!(!d.join("f.new").exists());
        // A failing write (directory missing) leaves nothing behind and reports the errno.
        assert_eq!(
            write_atomic(&d.join("no/x.new"), &d.join("no/x"), b"x"),
            Err(Errno::ENOENT)
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn atomic_write_never_follows_a_planted_temporary_symlink() {
        let d = std::env::temp_dir().join(format!("fsio-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let outside = d.join("outside");
        std::fs::write(&outside, b"precious").unwrap();
        std::os::unix::fs::symlink(&outside, d.join("f.new")).unwrap();
        write_atomic(&d.join("f.new"), &d.join("f"), b"status").unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"status");
        assert!(!std::fs::symlink_metadata(d.join("f")).unwrap().is_symlink());
        assert!(!d.join("f.new").exists());
        // A stale regular temporary file is replaced, not appended to.
        std::fs::write(d.join("f.new"), b"stale stale stale").unwrap();
        write_atomic(&d.join("f.new"), &d.join("f"), b"new").unwrap();
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"new");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

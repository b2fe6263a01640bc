//! The two file operations the protocol relies on: reading a small file in one go, and
//! replacing a file atomically (`name.new` then `rename`, no fsync, as s6 does).

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{read, write};
use std::os::fd::AsFd;
use std::path::Path;

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
    let fd = open(path, flags, Mode::empty())?;
    let mut got = 0;
    while got < buf.len() {
        match read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Write `data` to `tmp` (created 0666 & ~umask, truncated) in one write, then rename it
/// over `dst`. On failure the temporary file is removed and the error returned.
pub fn write_atomic(tmp: &Path, dst: &Path, data: &[u8]) -> Result<(), Errno> {
    let r = (|| {
        let fd = open(
            tmp,
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_TRUNC
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )?;
        write_all(fd.as_fd(), data)?;
        drop(fd);
        nix::fcntl::renameat(nix::fcntl::AT_FDCWD, tmp, nix::fcntl::AT_FDCWD, dst)
    })();
    if r.is_err() {
        let _ = nix::unistd::unlink(tmp);
    }
    r
}

/// Write all of `data`, retrying on EINTR; a zero-length write is reported as ENOSPC.
pub fn write_all<F: AsFd>(fd: F, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match write(&fd, data) {
            Ok(0) => return Err(Errno::ENOSPC),
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
}

//! `CPath`: a path built by concatenation, NUL-terminated, on the stack when it is short.
//!
//! Every client call (`s6-svok DIR`, `s6-svc -h DIR`, a chain-loader) builds one or two
//! paths from its arguments and hands them to a system call. Built as a `PathBuf` and then
//! converted by nix to a C string, each costs two allocations and two copies; skalibs builds
//! them in a stack buffer. A `CPath` is that stack buffer: it dereferences to a [`CStr`],
//! which nix's calls take as they are (no copy), and it still gives the bytes and a
//! [`Path`] for messages and std's calls. Paths longer than the inline buffer go to the
//! heap, so nothing is ever truncated.
//!
//! The bytes are taken as C takes them: a NUL inside a part ends the C string there (an
//! argument from `argv` or a name from a directory cannot hold one).

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::{CStr, OsStr};
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Inline capacity, NUL included: most service paths fit; a longer one costs one allocation.
const INLINE: usize = 192;

enum Buf {
    /// `bytes[..=len]` are initialised: the path and its NUL (len < INLINE).
    Inline {
        bytes: [MaybeUninit<u8>; INLINE],
        len: usize,
    },
    Heap(Vec<u8>),
}

/// A NUL-terminated path (see the module documentation).
pub struct CPath {
    buf: Buf,
}

impl CPath {
    /// The concatenation of `parts`, NUL-terminated.
    pub fn concat(parts: &[&[u8]]) -> CPath {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len < INLINE {
            // Not zeroed first: only the bytes written here are ever read (as_bytes, with_nul).
            let mut bytes = [MaybeUninit::<u8>::uninit(); INLINE];
            let mut free = bytes.as_mut_slice();
            for p in parts {
                let Some((dst, rest)) = std::mem::take(&mut free).split_at_mut_checked(p.len())
                else {
                    break; // cannot happen: the parts add up to len < INLINE
                };
                copy_part(dst, p);
                free = rest;
            }
            if let Some(nul) = free.first_mut() {
                nul.write(0);
            }
            return CPath {
                buf: Buf::Inline { bytes, len },
            };
        }
        let mut v = Vec::with_capacity(len + 1);
        for p in parts {
            v.extend_from_slice(p);
        }
        v.push(0);
        CPath { buf: Buf::Heap(v) }
    }

    /// `<dir>/<sub>` the way s6 joins them ([`crate::layout::subpath`]'s rule: plain
    /// concatenation with one `/`).
    pub fn sub(dir: &OsStr, sub: &str) -> CPath {
        CPath::concat(&[dir.as_bytes(), b"/", sub.as_bytes()])
    }

    /// `path` itself, NUL-terminated.
    pub fn new(path: &OsStr) -> CPath {
        CPath::concat(&[path.as_bytes()])
    }

    /// The bytes, without the terminator.
    pub fn as_bytes(&self) -> &[u8] {
        self.with_nul().split_last().map_or(&[], |(_, b)| b)
    }

    /// The bytes with the terminator.
    fn with_nul(&self) -> &[u8] {
        match &self.buf {
            Buf::Inline { bytes, len } => match bytes.get(..=*len) {
                // SAFETY: concat initialised bytes[..=len] (the invariant of Buf::Inline),
                // and MaybeUninit<u8> has the layout of u8.
                Some(init) => unsafe { &*(init as *const [MaybeUninit<u8>] as *const [u8]) },
                None => b"\0",
            },
            Buf::Heap(v) => v,
        }
    }

    /// The terminated bytes as C sees them, for a system call made here directly: no scan
    /// for an inner NUL (as [`CPath::as_c_str`] does), since the kernel stops at the first.
    pub(crate) fn as_ptr(&self) -> *const libc::c_char {
        self.with_nul().as_ptr().cast()
    }

    /// `open(2)` of this path (`O_CLOEXEC` is the caller's to give).
    pub fn open(&self, flags: OFlag, mode: Mode) -> Result<OwnedFd, Errno> {
        self.open_at_raw(libc::AT_FDCWD, flags, mode)
    }

    /// `openat(2)` of this path relative to the directory `dir`.
    pub fn open_at(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        flags: OFlag,
        mode: Mode,
    ) -> Result<OwnedFd, Errno> {
        use std::os::fd::AsRawFd;
        self.open_at_raw(dir.as_raw_fd(), flags, mode)
    }

    /// The system call itself: musl's `open` follows an `O_CLOEXEC` open with a second
    /// system call (`fcntl(F_SETFD)`, for kernels older than 2.6.23), one more in every
    /// client call for nothing on the kernels we run on.
    fn open_at_raw(&self, dir: libc::c_int, flags: OFlag, mode: Mode) -> Result<OwnedFd, Errno> {
        loop {
            // SAFETY: as_ptr is NUL-terminated (with_nul) and lives through the call.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_openat,
                    dir,
                    self.as_ptr(),
                    flags.bits(),
                    mode.bits(),
                )
            };
            if let Ok(fd) = libc::c_int::try_from(r) {
                if fd >= 0 {
                    // SAFETY: a descriptor openat just returned is ours alone.
                    return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
            match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(e),
            }
        }
    }

    /// `access(2)` of this path.
    pub fn access(&self, mode: nix::unistd::AccessFlags) -> Result<(), Errno> {
        // SAFETY: as_ptr is NUL-terminated (with_nul) and lives through the call.
        if unsafe { libc::access(self.as_ptr(), mode.bits()) } == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    }

    /// The C string: up to the first NUL, as a C program would see these bytes.
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_until_nul(self.with_nul()).unwrap_or(c"")
    }

    pub fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(self.as_bytes())
    }

    pub fn as_path(&self) -> &Path {
        Path::new(self.as_os_str())
    }
}

/// `dst.write_copy_of_slice(src)` for the few bytes of a path part: whole words, then one
/// last word that may overlap the one before (rewriting a few bytes with the same values).
/// A part costs a handful of moves, where a byte loop or musl's `memcpy` (byte by byte up
/// to an aligned destination) costs one per byte.
fn copy_part(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    let n = src.len();
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            put::<8>(dst, src, at);
            at += 8;
        }
        put::<8>(dst, src, n - 8);
    } else if n >= 4 {
        put::<4>(dst, src, 0);
        put::<4>(dst, src, n - 4);
    } else {
        for at in 0..n {
            put::<1>(dst, src, at);
        }
    }
}

/// `dst[at..at + N] = src[at..at + N]`, one move of N bytes (nothing if out of range).
#[inline(always)]
fn put<const N: usize>(dst: &mut [MaybeUninit<u8>], src: &[u8], at: usize) {
    let (Some(d), Some(s)) = (dst.get_mut(at..at + N), src.get(at..at + N)) else {
        return;
    };
    let Ok(s) = <[u8; N]>::try_from(s) else {
        return;
    };
    d.copy_from_slice(&s.map(MaybeUninit::new));
}

impl std::ops::Deref for CPath {
    type Target = CStr;
    fn deref(&self) -> &CStr {
        self.as_c_str()
    }
}

impl AsRef<Path> for CPath {
    fn as_ref(&self) -> &Path {
        self.as_path()
    }
}

impl std::fmt::Debug for CPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_os_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_stay_inline_and_end_with_nul() {
        let p = CPath::sub(OsStr::new("/s/a"), crate::layout::LOCK);
        assert!(matches!(p.buf, Buf::Inline { .. }));
        assert_eq!(p.as_bytes(), b"/s/a/supervise/lock");
        assert_eq!(p.as_c_str().to_bytes_with_nul(), b"/s/a/supervise/lock\0");
        assert_eq!(p.as_path(), Path::new("/s/a/supervise/lock"));
    }

    #[test]
    fn the_join_rule_is_s6s() {
        assert_eq!(
            CPath::sub(OsStr::new("a/"), "event").as_bytes(),
            b"a//event"
        );
        assert_eq!(CPath::sub(OsStr::new(""), "event").as_bytes(), b"/event");
        assert_eq!(
            CPath::sub(OsStr::new("x"), "down").as_bytes(),
            crate::layout::subpath(OsStr::new("x"), "down")
                .as_os_str()
                .as_bytes()
        );
    }

    #[test]
    fn parts_of_every_short_length_are_copied_exactly() {
        // copy_part's word, overlapping-word, half-word and byte cases, at every offset.
        let bytes: Vec<u8> = (1..=40).collect();
        for a in 0..=20 {
            for b in 0..=20 {
                let p = CPath::concat(&[&bytes[..a], b"/", &bytes[a..a + b]]);
                let want = [&bytes[..a], b"/", &bytes[a..a + b]].concat();
                assert_eq!(p.as_bytes(), want, "a={a} b={b}");
                assert_eq!(p.as_c_str().to_bytes_with_nul().len(), a + b + 2);
            }
        }
    }

    #[test]
    fn long_paths_go_to_the_heap_whole() {
        for n in [INLINE - 2, INLINE - 1, INLINE, INLINE + 1, 5000] {
            let dir = vec![b'd'; n];
            let p = CPath::concat(&[&dir, b"/x"]);
            assert_eq!(p.as_bytes().len(), n + 2, "n={n}");
            assert_eq!(p.as_c_str().to_bytes().len(), n + 2, "n={n}");
            assert!(p.as_bytes().ends_with(b"/x"));
        }
    }

    #[test]
    fn a_nul_inside_ends_the_c_string_as_in_c() {
        let p = CPath::concat(&[b"ab\0cd"]);
        assert_eq!(p.as_bytes(), b"ab\0cd");
        assert_eq!(p.as_c_str().to_bytes(), b"ab");
        let long = [&[b'x'; 300][..], b"\0y"].concat();
        assert_eq!(CPath::concat(&[&long]).as_c_str().to_bytes().len(), 300);
    }

    #[test]
    fn open_goes_to_the_path() {
        let dir = std::env::temp_dir();
        let p = CPath::sub(dir.as_os_str(), "s6rs-cpath-surely-missing");
        assert_eq!(
            p.open(OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .err(),
            Some(Errno::ENOENT)
        );
        let fd = CPath::new(dir.as_os_str()).open(
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        assert!(fd.is_ok());
        // C's view: the path ends at an inner NUL ("<dir>\0junk" opens <dir>).
        let p = CPath::concat(&[dir.as_os_str().as_bytes(), b"\0junk"]);
        assert!(p
            .open(
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty()
            )
            .is_ok());
    }

    #[test]
    fn empty_is_the_empty_c_string() {
        let p = CPath::concat(&[]);
        assert_eq!(p.as_bytes(), b"");
        assert_eq!(p.as_c_str(), c"");
    }
}

//! Plumbing shared by the programs of this crate (messages and exec are `common::cli` /
//! `common::exec`): skalibs' `string_quote`, the execline shebang, recursive copy and removal.

use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bytes of an OsStr / Path.
pub fn b(s: &(impl AsRef<OsStr> + ?Sized)) -> &[u8] {
    s.as_ref().as_bytes()
}

/// `a` + `b` as a path, byte for byte (no normalisation: `Path::join` would drop `a` for an
/// absolute `b`).
pub fn cat(a: &[u8], b: &[u8]) -> PathBuf {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    PathBuf::from(OsString::from(OsStr::from_bytes(&v)))
}

/// skalibs' `string_quote`: `"` + the bytes with `\a \b \t \n \v \f \r`, `\"`, `\\` escapes,
/// other control bytes and bytes >= 0x7f as `\0xHH` + `"`. The result reads back as the
/// same string in an execline script.
pub fn quote(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            7..=13 => {
                out.push(b'\\');
                if let Some(&letter) = b"abtnvfr".get((c - 7) as usize) {
                    out.push(letter);
                }
            }
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=31 | 127..=255 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\0x");
                for nibble in [c >> 4, c & 15] {
                    if let Some(&digit) = HEX.get(nibble as usize) {
                        out.push(digit);
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
    out
}

/// The absolute path of `execlineb` for the `#!` line of the scripts we write: s6 compiles
/// its installation prefix in; we look for it in PATH when writing (an absolute PATH entry
/// holding an executable `execlineb`), else use Debian's and s6-overlay's usual place.
pub fn execlineb_path() -> Vec<u8> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in path.as_bytes().split(|&c| c == b':') {
            if dir.first() != Some(&b'/') {
                continue;
            }
            let p = cat(dir, b"/execlineb");
            if let Ok(m) = std::fs::metadata(&p) {
                if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                    return p.into_os_string().into_encoded_bytes();
                }
            }
        }
    }
    b"/usr/bin/execlineb".to_vec()
}

fn io_errno(e: &std::io::Error) -> Errno {
    common::msg::errno_of(e)
}

/// skalibs' `hiercopy`: copy `src` to `dst` recursively (regular files, directories, FIFOs,
/// symlinks, device nodes, sockets), keeping modes, and owners where we may (`lchown`
/// failures are ignored, as for an unprivileged caller). An existing directory at `dst` is
/// merged into.
pub fn hiercopy(src: &Path, dst: &Path) -> Result<(), Errno> {
    let st = std::fs::symlink_metadata(src).map_err(|e| io_errno(&e))?;
    let ft = st.file_type();
    let mode = st.mode() & 0o7777;
    if ft.is_dir() {
        match std::fs::DirBuilder::new().mode(0o700).create(dst) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !std::fs::metadata(dst).map_err(|e| io_errno(&e))?.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
            }
            Err(e) => return Err(io_errno(&e)),
        }
        for ent in std::fs::read_dir(src).map_err(|e| io_errno(&e))? {
            let ent = ent.map_err(|e| io_errno(&e))?;
            let name = ent.file_name();
            hiercopy(&src.join(&name), &dst.join(&name))?;
        }
    } else if ft.is_file() {
        let data = std::fs::read(src).map_err(|e| io_errno(&e))?;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(dst)
            .map_err(|e| io_errno(&e))?;
        f.write_all(&data).map_err(|e| io_errno(&e))?;
    } else if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| io_errno(&e))?;
        std::os::unix::fs::symlink(target, dst).map_err(|e| io_errno(&e))?;
    } else {
        let kind = nix::sys::stat::SFlag::from_bits_truncate(st.mode() & libc::S_IFMT);
        nix::sys::stat::mknod(
            dst,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(mode),
            st.rdev(),
        )?;
    }
    let _ = std::os::unix::fs::lchown(dst, Some(st.uid()), Some(st.gid()));
    if !ft.is_symlink() {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_errno(&e))?;
    }
    Ok(())
}

/// `rm -rf PATH`, errors ignored (what s6 does when cleaning up).
pub fn rm_rf(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Create a file holding `data` (0666 & ~umask), truncating an existing one.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), Errno> {
    std::fs::write(path, data).map_err(|e| io_errno(&e))
}

/// The current umask (read by setting it twice).
pub fn current_umask() -> u32 {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(old);
    old.bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_skalibs() {
        assert_eq!(quote(b"alice"), b"\"alice\"");
        assert_eq!(quote(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(quote(b"t\tn\n"), b"\"t\\tn\\n\"");
        assert_eq!(quote(b"\x01\x7f\xe9"), b"\"\\0x01\\0x7f\\0xe9\"");
        assert_eq!(quote(b"${HOME}/service"), b"\"${HOME}/service\"");
        assert_eq!(quote(b""), b"\"\"");
    }

    #[test]
    fn cat_keeps_bytes() {
        assert_eq!(cat(b"/a", b"/b"), PathBuf::from("/a/b"));
        assert_eq!(cat(b"rel", b"/run"), PathBuf::from("rel/run"));
    }
}

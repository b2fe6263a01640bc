//! How every chain loader replaces itself with the rest of its command line: skalibs'
//! `execvep` (a `$PATH` search that does not fall back to `/bin/sh` on ENOEXEC, unlike
//! libc's `execvp`), the exit codes of `xexec` (127 for ENOENT, 126 otherwise), and the
//! environment edits made before the exec.
//!
//! The search uses the `$PATH` the tool was started with, even when the tool changes `PATH`
//! for prog (`s6-envdir` with a `PATH` file): callers take [`search_path`] before editing.

use nix::errno::Errno;
use std::ffi::{c_char, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The search path when `$PATH` is unset (skalibs' `SKALIBS_DEFAULTPATH`).
pub const DEFAULT_PATH: &[u8] = b"/usr/bin:/bin";

/// `$PATH` as the tool got it, or [`DEFAULT_PATH`].
pub fn search_path() -> Vec<u8> {
    match std::env::var_os("PATH") {
        Some(p) => p.as_bytes().to_vec(),
        None => DEFAULT_PATH.to_vec(),
    }
}

/// The exit code s6's `xexec` uses for an exec failure.
pub fn exit_code(e: Errno) -> i32 {
    if e == Errno::ENOENT {
        127
    } else {
        126
    }
}

/// Owned C strings and the NULL-terminated pointer array `execve` wants.
pub struct Argv {
    _strings: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl Argv {
    /// `None` if an argument holds a NUL byte (impossible for words that came from argv).
    pub fn new<I, S>(args: I) -> Option<Argv>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let strings = args
            .into_iter()
            .map(|a| CString::new(a.as_ref()).ok())
            .collect::<Option<Vec<CString>>>()?;
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Some(Argv {
            _strings: strings,
            ptrs,
        })
    }
}

/// skalibs' `execvep`: run `argv` (its first word is the file) with the current environment,
/// searching `path` when the file has no `/`. Returns only on failure, with the error s6
/// reports: the last "interesting" error met during the search (EACCES beats ENOENT).
pub fn execvep(argv: &Argv, path: &[u8]) -> Errno {
    execvep_raw(argv.ptrs.as_ptr(), path)
}

/// [`execvep`] on a NULL-terminated array of C strings (`argv[0]` is the file).
fn execvep_raw(argv: *const *const c_char, path: &[u8]) -> Errno {
    // SAFETY: callers pass a NULL-terminated array of valid C strings.
    let first = unsafe { *argv };
    if first.is_null() {
        return Errno::ENOENT;
    }
    // SAFETY: a non-null entry is a NUL-terminated string.
    let file = unsafe { std::ffi::CStr::from_ptr(first) }.to_bytes();
    if file.contains(&b'/') {
        // SAFETY: as above; the environment is libc's.
        unsafe { libc::execv(first, argv) };
        return Errno::last();
    }
    if file.is_empty() {
        return Errno::ENOENT;
    }
    let mut saved: Option<Errno> = None;
    // A path on the stack when it fits: no allocation on the way to the exec.
    let mut stack = [0u8; 512];
    let mut heap: Vec<u8> = Vec::new();
    for dir in path.split(|&b| b == b':') {
        if dir.is_empty() {
            continue;
        }
        let len = dir.len() + 1 + file.len() + 1;
        let buf: &mut [u8] = if len <= stack.len() {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap[..len]
        };
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + 1..len - 1].copy_from_slice(file);
        buf[len - 1] = 0;
        // SAFETY: buf is NUL-terminated with no inner NUL (dir comes from PATH, file from a
        // C string); argv is a NULL-terminated array of valid C strings.
        unsafe { libc::execv(buf.as_ptr() as *const c_char, argv) };
        let e = Errno::last();
        if e != Errno::ENOENT {
            saved = Some(e);
            if !matches!(
                e,
                Errno::EACCES | Errno::EPERM | Errno::EISDIR | Errno::ENOTDIR
            ) {
                break;
            }
        }
    }
    saved.unwrap_or(Errno::ENOENT)
}

/// Exec `args` with the `$PATH` in the environment now (or [`DEFAULT_PATH`]), or die as
/// [`exec_path_or_die`] does. Nothing is copied when `args` is a tail of the program's own
/// command line (what every chain loader execs).
pub fn exec_prog(prog: &str, args: &[OsString]) -> ! {
    // SAFETY: getenv of a constant name; the string is used before the environment changes.
    let p = unsafe { libc::getenv(c"PATH".as_ptr()) };
    let path: &[u8] = if p.is_null() {
        DEFAULT_PATH
    } else {
        // SAFETY: a non-null getenv result is a NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
    };
    exec_path_or_die(prog, args, path)
}

/// Exec `args`, searching `path`, or die as s6's `xexec` does: `PROG: fatal: unable to exec
/// NAME: ERR`, exit 127 (ENOENT) or 126.
pub fn exec_path_or_die(prog: &str, args: &[OsString], path: &[u8]) -> ! {
    let name: &[u8] = args.first().map(|a| a.as_bytes()).unwrap_or(b"");
    let err = match crate::rt::argv_tail(args) {
        Some(raw) => execvep_raw(raw, path),
        None => match Argv::new(args.iter().map(|a| a.as_bytes())) {
            Some(argv) => execvep(&argv, path),
            None => Errno::EINVAL,
        },
    };
    crate::cli::fatal_bytes(
        prog,
        exit_code(err),
        &[
            b"unable to exec ",
            name,
            b": ",
            crate::strerror::text(err as i32).as_bytes(),
        ],
    )
}

/// Set `name=value` in the environment prog will get. EINVAL for a name that is empty or
/// holds `=`, or bytes with a NUL.
pub fn setenv(name: &[u8], value: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name.contains(&b'=') {
        return Err(Errno::EINVAL);
    }
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    let v = CString::new(value).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both are valid C strings; the programs are single-threaded, so nothing reads
    // the environment concurrently.
    if unsafe { libc::setenv(n.as_ptr(), v.as_ptr(), 1) } == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Remove `name` from the environment prog will get.
pub fn unsetenv(name: &[u8]) -> Result<(), Errno> {
    if name.is_empty() || name.contains(&b'=') {
        return Err(Errno::EINVAL);
    }
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: a valid C string; single-threaded, as above.
    if unsafe { libc::unsetenv(n.as_ptr()) } == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Exec `argv` (its first word searched in `$PATH`) in place; returns why not. An empty
/// `argv`, or an argument holding a NUL byte, is EINVAL.
pub fn exec(argv: &[OsString]) -> Errno {
    match Argv::new(argv.iter().map(|a| a.as_bytes())) {
        Some(a) if !argv.is_empty() => execvep(&a, &search_path()),
        _ => Errno::EINVAL,
    }
}

/// [`exec`] with `set` added to (or replacing in) the environment prog gets.
pub fn exec_env(argv: &[OsString], set: &[(&OsStr, &OsStr)]) -> Errno {
    let path = search_path();
    for (k, v) in set {
        if let Err(e) = setenv(k.as_bytes(), v.as_bytes()) {
            return e;
        }
    }
    match Argv::new(argv.iter().map(|a| a.as_bytes())) {
        Some(a) if !argv.is_empty() => execvep(&a, &path),
        _ => Errno::EINVAL,
    }
}

/// `PROG: fatal: unable to exec NAME: ERR`, exit 127 (ENOENT) or 126.
pub fn die_exec(prog: &str, name: &OsStr, e: Errno) -> ! {
    crate::cli::fatal_sys_bytes(prog, exit_code(e), &[b"exec ", name.as_bytes()], e)
}

/// skalibs' `xexec`: exec `argv` or die (see [`die_exec`]); an empty `argv` dies with EINVAL.
pub fn exec_or_die(prog: &str, argv: &[OsString]) -> ! {
    if argv.is_empty() {
        die_exec(prog, OsStr::new(""), Errno::EINVAL)
    }
    exec_prog(prog, argv)
}

/// [`exec_or_die`] with environment additions, as [`exec_env`].
pub fn exec_env_or_die(prog: &str, argv: &[OsString], set: &[(&OsStr, &OsStr)]) -> ! {
    let e = exec_env(argv, set);
    let name = argv.first().map(OsString::as_os_str).unwrap_or_default();
    die_exec(prog, name, e)
}

/// skalibs' `xexec0`: as [`exec_or_die`], but an empty `argv` exits 0 (nothing to run).
pub fn exec0_or_die(prog: &str, argv: &[OsString]) -> ! {
    if argv.is_empty() {
        std::process::exit(0)
    }
    exec_prog(prog, argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_argv() {
        assert_eq!(exit_code(Errno::ENOENT), 127);
        assert_eq!(exit_code(Errno::EACCES), 126);
        assert_eq!(exit_code(Errno::ENOEXEC), 126);
        assert!(Argv::new([b"a\0b".as_slice()]).is_none());
        let a = Argv::new(["true", "x"]).unwrap();
        assert_eq!(a.ptrs.len(), 3);
        assert!(a.ptrs[2].is_null());
    }

    #[test]
    fn search_failures() {
        let a = Argv::new(["s6rs-no-such-prog"]).unwrap();
        assert_eq!(execvep(&a, b"/nonexistent:/alsonot"), Errno::ENOENT);
        assert_eq!(execvep(&a, b""), Errno::ENOENT);
        let a = Argv::new(["/nonexistent/prog"]).unwrap();
        assert_eq!(execvep(&a, b"/bin"), Errno::ENOENT);
        // A search directory too long for the stack buffer.
        let long = format!("/{}", vec!["x".repeat(100); 6].join("/"));
        let a = Argv::new(["s6rs-no-such-prog"]).unwrap();
        assert_eq!(execvep(&a, long.as_bytes()), Errno::ENOENT);
        // Not a tail of this test's own command line: copied, not borrowed.
        assert!(crate::rt::argv_tail(&[OsString::from("s6rs-surely-not-an-arg")]).is_none());
    }
}

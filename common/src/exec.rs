//! How every chain loader replaces itself with the rest of its command line: skalibs'
//! `execvep` (a `$PATH` search that does not fall back to `/bin/sh` on ENOEXEC, unlike
//! libc's `execvp`), the exit codes of `xexec` (127 for ENOENT, 126 otherwise), and the
//! environment edits made before the exec.
//!
//! The search uses the `$PATH` the tool was started with, even when the tool changes `PATH`
//! for prog (`s6-envdir` with a `PATH` file): callers take [`search_path`] before editing.

use nix::errno::Errno;
use std::ffi::{c_char, CString, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The search path when `$PATH` is unset (skalibs' `SKALIBS_DEFAULTPATH`).
pub const DEFAULT_PATH: &[u8] = b"/usr/bin:/bin";

/// `$PATH` as the tool got it, or [`DEFAULT_PATH`].
pub fn search_path() -> Vec<u8> {
    path_now().to_vec()
}

/// `$PATH` in the environment now, or [`DEFAULT_PATH`], borrowed: callers use it before
/// the environment is next edited (an edit may replace the string it points to).
fn path_now<'a>() -> &'a [u8] {
    // SAFETY: getenv of a constant name.
    let p = unsafe { libc::getenv(c"PATH".as_ptr()) };
    if p.is_null() {
        return DEFAULT_PATH;
    }
    // SAFETY: a non-null getenv result is a NUL-terminated string, left in place until the
    // environment is edited.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
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
    for dir in path.split(|&b| b == b':') {
        if dir.is_empty() {
            continue;
        }
        // dir/file, on the stack when it fits: no allocation on the way to the exec.
        let candidate = crate::cpath::CPath::concat(&[dir, b"/", file]);
        // SAFETY: candidate is NUL-terminated and lives through the call; argv is a
        // NULL-terminated array of valid C strings.
        unsafe { libc::execv(candidate.as_ptr(), argv) };
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
pub fn exec_prog<A: AsRef<OsStr>>(prog: &str, args: &[A]) -> ! {
    exec_path_or_die(prog, args, path_now())
}

/// Exec `args`, searching `path`, or die as s6's `xexec` does: `PROG: fatal: unable to exec
/// NAME: ERR`, exit 127 (ENOENT) or 126.
pub fn exec_path_or_die<A: AsRef<OsStr>>(prog: &str, args: &[A], path: &[u8]) -> ! {
    let name: &[u8] = args.first().map(|a| a.as_ref().as_bytes()).unwrap_or(b"");
    let err = match crate::rt::argv_tail(args) {
        Some(raw) => execvep_raw(raw, path),
        None => match Argv::new(args.iter().map(|a| a.as_ref().as_bytes())) {
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

extern "C" {
    /// The C library's environment (`execv` and `getenv` read it); both glibc and musl
    /// export it under this name.
    static mut environ: *const *const c_char;
}

/// The environment as edited by [`setenv`] / [`unsetenv`]: our own array, which `environ`
/// points to once it has been edited. The C library's `setenv` would do the same work
/// through its own `malloc` (musl's mallocng: thousands of instructions to set itself up
/// in a process that otherwise never calls it); the entries here are allocated by ours.
struct EnvTable {
    /// NULL-terminated: what `environ` points to.
    ptrs: Vec<*const c_char>,
    /// The `name=value\0` strings this table added: they must outlive the process's use of
    /// `environ`, so none is ever freed.
    owned: Vec<Box<[u8]>>,
}

/// The table and the pointers it holds are only touched under [`ENV`]'s lock.
struct EnvCell(Option<EnvTable>);
// SAFETY: the raw pointers point to strings that live as long as the process (the C
// runtime's environment strings, or the table's own boxes, never freed); they are only read
// or changed under the mutex.
unsafe impl Send for EnvCell {}

static ENV: std::sync::Mutex<EnvCell> = std::sync::Mutex::new(EnvCell(None));

/// Edit the environment: remove every `name=` entry, and add `name=value` in the first
/// one's place (at the end if there was none) when `value` is given.
fn edit_env(name: &[u8], value: Option<&[u8]>) -> Result<(), Errno> {
    if name.is_empty() || name.contains(&b'=') || name.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if value.is_some_and(|v| v.contains(&0)) {
        return Err(Errno::EINVAL);
    }
    let mut cell = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: reading the pointer value of environ (single-threaded program).
    let current = unsafe { environ };
    // Someone else (the C library's own setenv) moved environ since: start again from it.
    let owned = match cell.0.take() {
        Some(t) if t.ptrs.as_ptr() == current => {
            cell.0 = Some(t);
            Vec::new()
        }
        Some(t) => t.owned,
        None => Vec::new(),
    };
    let table = cell.0.get_or_insert_with(|| {
        // current is the C library's NULL-terminated array (or NULL).
        let mut n = 0;
        // SAFETY: entries before the terminator are readable, and so is the terminator.
        while !current.is_null() && !unsafe { *current.wrapping_add(n) }.is_null() {
            n += 1;
        }
        // Room for the usual few additions: one allocation for the whole table.
        let mut ptrs = Vec::with_capacity(n + 9);
        if n > 0 {
            // SAFETY: current holds n non-null entries (counted above).
            ptrs.extend_from_slice(unsafe { std::slice::from_raw_parts(current, n) });
        }
        ptrs.push(std::ptr::null());
        let mut owned = owned;
        owned.reserve(8);
        EnvTable { ptrs, owned }
    });
    let is_name = |entry: *const c_char| {
        // Compare `name=` with the entry's first bytes, without measuring the entry: a
        // mismatch (at the entry's NUL at the latest, since name holds none) stops the scan.
        for (i, &b) in name.iter().chain(b"=").enumerate() {
            // SAFETY: every byte before this one matched a non-NUL byte of name, so the
            // entry (a NUL-terminated string that lives as long as the process) goes on at
            // least to index i.
            if unsafe { *entry.wrapping_add(i) } as u8 != b {
                return false;
            }
        }
        true
    };
    let mut slot = None;
    let mut i = 0;
    while let Some(&entry) = table.ptrs.get(i) {
        if !entry.is_null() && is_name(entry) {
            if slot.is_none() {
                slot = Some(i);
                i += 1;
            } else {
                table.ptrs.remove(i);
            }
            continue;
        }
        i += 1;
    }
    match (value, slot) {
        (Some(v), slot) => {
            let mut entry = Vec::with_capacity(name.len() + v.len() + 2);
            entry.extend_from_slice(name);
            entry.push(b'=');
            entry.extend_from_slice(v);
            entry.push(0);
            let entry = entry.into_boxed_slice();
            let ptr = entry.as_ptr().cast::<c_char>();
            table.owned.push(entry);
            match slot.and_then(|i| table.ptrs.get_mut(i)) {
                Some(s) => *s = ptr,
                None => {
                    let end = table.ptrs.len().saturating_sub(1);
                    table.ptrs.insert(end, ptr);
                }
            }
        }
        (None, Some(i)) => {
            table.ptrs.remove(i);
        }
        (None, None) => {}
    }
    // SAFETY: single-threaded programs; the array is NULL-terminated and lives in the static
    // table (its buffer moves only under this lock, and environ is set again each time).
    unsafe { environ = table.ptrs.as_ptr() };
    Ok(())
}

/// Set `name=value` in the environment prog will get (replacing any `name=` entry in
/// place, as the C library's `setenv` does). EINVAL for a name that is empty or holds `=`,
/// or bytes with a NUL.
pub fn setenv(name: &[u8], value: &[u8]) -> Result<(), Errno> {
    edit_env(name, Some(value))
}

/// Remove `name` from the environment prog will get.
pub fn unsetenv(name: &[u8]) -> Result<(), Errno> {
    edit_env(name, None)
}

/// Exec `argv` (its first word searched in `$PATH`) in place; returns why not. An empty
/// `argv`, or an argument holding a NUL byte, is EINVAL.
pub fn exec<A: AsRef<OsStr>>(argv: &[A]) -> Errno {
    match Argv::new(argv.iter().map(|a| a.as_ref().as_bytes())) {
        Some(a) if !argv.is_empty() => execvep(&a, &search_path()),
        _ => Errno::EINVAL,
    }
}

/// [`exec`] with `set` added to (or replacing in) the environment prog gets.
pub fn exec_env<A: AsRef<OsStr>>(argv: &[A], set: &[(&OsStr, &OsStr)]) -> Errno {
    let path = search_path();
    for (k, v) in set {
        if let Err(e) = setenv(k.as_bytes(), v.as_bytes()) {
            return e;
        }
    }
    match Argv::new(argv.iter().map(|a| a.as_ref().as_bytes())) {
        Some(a) if !argv.is_empty() => execvep(&a, &path),
        _ => Errno::EINVAL,
    }
}

/// `PROG: fatal: unable to exec NAME: ERR`, exit 127 (ENOENT) or 126.
pub fn die_exec(prog: &str, name: &OsStr, e: Errno) -> ! {
    crate::cli::fatal_sys_bytes(prog, exit_code(e), &[b"exec ", name.as_bytes()], e)
}

/// skalibs' `xexec`: exec `argv` or die (see [`die_exec`]); an empty `argv` dies with EINVAL.
pub fn exec_or_die<A: AsRef<OsStr>>(prog: &str, argv: &[A]) -> ! {
    if argv.is_empty() {
        die_exec(prog, OsStr::new(""), Errno::EINVAL)
    }
    exec_prog(prog, argv)
}

/// [`exec_or_die`] with environment additions, as [`exec_env`].
pub fn exec_env_or_die<A: AsRef<OsStr>>(prog: &str, argv: &[A], set: &[(&OsStr, &OsStr)]) -> ! {
    let e = exec_env(argv, set);
    let name = argv.first().map(AsRef::as_ref).unwrap_or_default();
    die_exec(prog, name, e)
}

/// skalibs' `xexec0`: as [`exec_or_die`], but an empty `argv` exits 0 (nothing to run).
pub fn exec0_or_die<A: AsRef<OsStr>>(prog: &str, argv: &[A]) -> ! {
    if argv.is_empty() {
        crate::rt::exit(0)
    }
    exec_prog(prog, argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_edits() {
        let get = |n: &str| std::env::var_os(n).map(|v| v.into_encoded_bytes());
        setenv(b"S6RS_EXEC_TEST_A", b"1").unwrap();
        assert_eq!(get("S6RS_EXEC_TEST_A").as_deref(), Some(&b"1"[..]));
        setenv(b"S6RS_EXEC_TEST_A", b"two").unwrap();
        assert_eq!(get("S6RS_EXEC_TEST_A").as_deref(), Some(&b"two"[..]));
        setenv(b"S6RS_EXEC_TEST_AB", b"").unwrap();
        assert_eq!(get("S6RS_EXEC_TEST_AB").as_deref(), Some(&b""[..]));
        unsetenv(b"S6RS_EXEC_TEST_A").unwrap();
        assert_eq!(get("S6RS_EXEC_TEST_A"), None);
        // A prefix of another name is another name.
        assert_eq!(get("S6RS_EXEC_TEST_AB").as_deref(), Some(&b""[..]));
        unsetenv(b"S6RS_EXEC_TEST_AB").unwrap();
        unsetenv(b"S6RS_EXEC_TEST_NEVER_SET").unwrap();
        assert_eq!(setenv(b"A=B", b"x"), Err(Errno::EINVAL));
        assert_eq!(setenv(b"", b"x"), Err(Errno::EINVAL));
        assert_eq!(setenv(b"A", b"x\0y"), Err(Errno::EINVAL));
    }

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
        assert!(
            crate::rt::argv_tail(&[std::ffi::OsString::from("s6rs-surely-not-an-arg")]).is_none()
        );
    }
}

//! Replacing the process with the rest of the command line, as skalibs' `xexec` family
//! does for every s6 chain-loader: PATH search, and on failure `PROG: fatal: unable to exec
//! NAME: ERRNO-TEXT`, exit 127 when the program is not found (ENOENT), 126 otherwise.
//!
//! Unlike `std::process::Command::exec`, the signal mask and the signal dispositions are
//! left as they are (s6's chain-loaders do not touch them; `common::rt` leaves SIGPIPE as
//! inherited, and a handler installed by `common::signals::alt_ignore` is reset by exec).

use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The exit code of a failed exec: 127 for a program not found, 126 for anything else.
pub fn exit_code(e: Errno) -> i32 {
    if e == Errno::ENOENT {
        127
    } else {
        126
    }
}

fn cstrings<'a>(items: impl Iterator<Item = &'a [u8]>) -> Result<Vec<CString>, Errno> {
    items
        .map(|a| CString::new(a).map_err(|_| Errno::EINVAL))
        .collect()
}

/// Exec `argv` (argv[0] searched in PATH) in place; returns why not. An empty `argv`, or an
/// argument holding a NUL byte, is EINVAL.
pub fn exec(argv: &[OsString]) -> Errno {
    exec_env(argv, &[])
}

/// [`exec`] with the variables `set` added to (or replacing in) the environment.
pub fn exec_env(argv: &[OsString], set: &[(&OsStr, &OsStr)]) -> Errno {
    let Some(first) = argv.first() else {
        return Errno::EINVAL;
    };
    let Ok(args) = cstrings(argv.iter().map(|a| a.as_bytes())) else {
        return Errno::EINVAL;
    };
    let Ok(prog) = CString::new(first.as_bytes()) else {
        return Errno::EINVAL;
    };
    let r = if set.is_empty() {
        nix::unistd::execvp(&prog, &args)
    } else {
        let mut env: Vec<Vec<u8>> = std::env::vars_os()
            .filter(|(k, _)| !set.iter().any(|(name, _)| *name == k.as_os_str()))
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
            .collect();
        env.extend(
            set.iter()
                .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()),
        );
        match cstrings(env.iter().map(Vec::as_slice)) {
            Ok(env) => nix::unistd::execvpe(&prog, &args, &env),
            Err(e) => Err(e),
        }
    };
    match r {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

/// `PROG: fatal: unable to exec NAME: ERR`, exit 127 (ENOENT) or 126.
pub fn die_exec(prog: &str, name: &OsStr, e: Errno) -> ! {
    crate::cli::fatal_sys_bytes(prog, exit_code(e), &[b"exec ", name.as_bytes()], e)
}

/// skalibs' `xexec`: exec `argv` or die (see [`die_exec`]); an empty `argv` dies with EINVAL.
pub fn exec_or_die(prog: &str, argv: &[OsString]) -> ! {
    exec_env_or_die(prog, argv, &[])
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
    exec_or_die(prog, argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(exit_code(Errno::ENOENT), 127);
        assert_eq!(exit_code(Errno::EACCES), 126);
        assert_eq!(exit_code(Errno::ENOEXEC), 126);
    }

    #[test]
    fn refusals_return() {
        assert_eq!(exec(&[]), Errno::EINVAL);
        assert_eq!(
            exec(&[OsString::from("/nonexistent/s6-rs-test-prog")]),
            Errno::ENOENT
        );
        assert_eq!(exec(&[OsString::from("/")]), Errno::EACCES);
    }
}

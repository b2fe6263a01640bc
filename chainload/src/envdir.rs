//! `s6-envdir`: one environment variable per file of a directory, then exec prog.
//!
//! The value rules (first line, trailing blanks, NUL translation, the 4095-byte clamp and
//! the `-L` quirk) are [`value_of`], a pure function of the file's bytes.

use common::cli::{fatal_bytes, GetOpt, Opt};
use common::cpath::CPath;
use common::exec::{exec_path_or_die, search_path, setenv, unsetenv};
use common::msg::{exit, Prog};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-envdir";
pub const USAGE: &str = "s6-envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullchar ] dir prog...";
pub const HELP: &str = "\
s6-envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullchar ] dir prog...
Set one environment variable per file of dir (an empty file unsets it), then exec prog.
  -i              a missing dir is fatal (the default)
  -I              a missing dir is not an error
  -n              keep trailing blanks
  -f              the whole file is the value (minus one final newline)
  -L              no 4095-byte limit per file
  -c nullchar     NUL bytes become nullchar instead of newline";

/// Bytes read from each file without `-L`.
pub const MAX_VALUE: usize = 4095;

/// How file contents become values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRules {
    /// `-n`: keep trailing blanks (and, with -f, the final newline).
    pub no_chomp: bool,
    /// `-f`: the whole file.
    pub verbatim: bool,
    /// `-L`: no size limit.
    pub no_clamp: bool,
    /// What NUL bytes become (`-c`); 0 is refused (EINVAL).
    pub nullis: u8,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a, A = OsString> {
    pub insist: bool,
    pub rules: ValueRules,
    pub dir: &'a OsStr,
    pub prog: &'a [A],
}

#[derive(Debug, PartialEq, Eq)]
pub struct Usage;

pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Result<Request<'_, A>, Usage> {
    let mut insist = true;
    let mut rules = ValueRules {
        no_chomp: false,
        verbatim: false,
        no_clamp: false,
        nullis: b'\n',
    };
    let mut g = GetOpt::new(args, "IinfLc:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| Usage)? {
            Opt::Flag(b'I') => insist = false,
            Opt::Flag(b'i') => insist = true,
            Opt::Flag(b'n') => rules.no_chomp = true,
            Opt::Flag(b'f') => rules.verbatim = true,
            Opt::Flag(b'L') => rules.no_clamp = true,
            Opt::Arg(b'c', v) => rules.nullis = v.as_bytes().first().copied().unwrap_or(0),
            _ => return Err(Usage),
        }
    }
    let [dir, prog @ ..] = g.rest() else {
        return Err(Usage);
    };
    if prog.is_empty() {
        return Err(Usage);
    }
    Ok(Request {
        insist,
        rules,
        dir: dir.as_ref(),
        prog,
    })
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r')
}

fn trim_blanks(mut v: &[u8]) -> &[u8] {
    while let [head @ .., last] = v {
        if !is_blank(*last) {
            break;
        }
        v = head;
    }
    v
}

/// The value a file's contents give (`data`: what was read, at most [`MAX_VALUE`] bytes
/// unless `-L`), its NULs translated in place; `None`: unset the variable.
pub fn value_of<'d>(data: &'d mut [u8], rules: &ValueRules) -> Option<&'d [u8]> {
    if data.is_empty() {
        return None;
    }
    let len = if rules.verbatim {
        match data.split_last() {
            Some((b'\n', head)) if !rules.no_chomp => head.len(),
            _ => data.len(),
        }
    } else {
        match data.iter().position(|&c| c == b'\n') {
            Some(eol) if rules.no_chomp => eol,
            Some(eol) => trim_blanks(data.get(..eol).unwrap_or_default()).len(),
            // skalibs' unclamped reader drops an unterminated first line unless -n.
            None if rules.no_clamp && !rules.no_chomp => 0,
            None if rules.no_chomp => data.len(),
            None => trim_blanks(data).len(),
        }
    };
    let v = data.get_mut(..len).unwrap_or_default();
    for c in v.iter_mut() {
        if *c == 0 {
            *c = rules.nullis;
        }
    }
    Some(v)
}

/// Read a whole file (`-L`) into `buf` (reused across files).
fn read_all(fd: OwnedFd, buf: &mut Vec<u8>) -> Result<(), Errno> {
    use std::io::Read;
    buf.clear();
    std::fs::File::from(fd)
        .read_to_end(buf)
        .map(drop)
        .map_err(|e| common::msg::errno_of(&e))
}

/// Where an entry's bytes are read: a stack buffer of [`MAX_VALUE`] bytes, or (`-L`) a
/// growing one.
struct ValueBuffers {
    clamped: [u8; MAX_VALUE],
    whole: Vec<u8>,
}

/// Set (or unset) the variable the entry `name` of the open directory `dir` gives.
fn apply_entry(
    dir: BorrowedFd<'_>,
    name: &[u8],
    rules: &ValueRules,
    bufs: &mut ValueBuffers,
) -> Result<(), Errno> {
    let fd = CPath::new(OsStr::from_bytes(name))
        .open_at(
            dir,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(entry_error)?;
    // The descriptor is closed once read, before the environment is edited.
    let data = if rules.no_clamp {
        read_all(fd, &mut bufs.whole).map_err(entry_error)?;
        bufs.whole.as_mut_slice()
    } else {
        let n = common::fsio::read_fd_prefix(fd, &mut bufs.clamped).map_err(entry_error)?;
        bufs.clamped.get_mut(..n).unwrap_or_default()
    };
    match value_of(data, rules) {
        Some(v) => setenv(name, v),
        None => unsetenv(name),
    }
}

/// ENOENT of an entry becomes EIDRM (it went away while being read), so that only a
/// missing `dir` itself is ENOENT.
fn entry_error(e: Errno) -> Errno {
    if e == Errno::ENOENT {
        Errno::EIDRM
    } else {
        e
    }
}

/// Apply `dir` to the environment, its entries in the order the directory lists them.
/// Errors are the errno s6 reports (see [`entry_error`]).
pub fn apply_envdir(dir: &OsStr, rules: &ValueRules) -> Result<(), Errno> {
    if rules.nullis == 0 {
        return Err(Errno::EINVAL);
    }
    let dfd = CPath::new(dir).open(
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut listing = [0u64; 256];
    let mut bufs = ValueBuffers {
        clamped: [0; MAX_VALUE],
        whole: Vec::new(),
    };
    let mut result = Ok(());
    common::fsio::for_each_dir_name(dfd.as_fd(), &mut listing, |name| {
        // The first failure ends the work, as s6's loop does.
        if result.is_err() || name.first() == Some(&b'.') || name.contains(&b'=') {
            return;
        }
        result = apply_entry(dfd.as_fd(), name, rules, &mut bufs);
    })?;
    result
}

pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let req = match parse_args(&args) {
        Ok(r) => r,
        Err(Usage) => Prog::new(PROG).usage(USAGE),
    };
    // prog is looked up with the PATH we were given, not one the directory sets.
    let path = search_path();
    if let Err(e) = apply_envdir(req.dir, &req.rules) {
        if req.insist || e != Errno::ENOENT {
            fatal_bytes(
                PROG,
                exit::SYSTEM,
                &[
                    b"unable to envdir ",
                    req.dir.as_bytes(),
                    b": ",
                    common::strerror::text(e as i32).as_bytes(),
                ],
            );
        }
    }
    exec_path_or_die(PROG, req.prog, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: ValueRules = ValueRules {
        no_chomp: false,
        verbatim: false,
        no_clamp: false,
        nullis: b'\n',
    };

    fn v(data: &[u8], rules: ValueRules) -> Option<Vec<u8>> {
        let mut d = data.to_vec();
        value_of(&mut d, &rules).map(<[u8]>::to_vec)
    }

    #[test]
    fn default_rules() {
        assert_eq!(v(b"hello\nworld\n", DEF).unwrap(), b"hello");
        assert_eq!(v(b"trail \t \r\n2nd", DEF).unwrap(), b"trail");
        assert_eq!(v(b"  lead", DEF).unwrap(), b"  lead");
        assert_eq!(v(b"", DEF), None);
        assert_eq!(v(b"\n", DEF).unwrap(), b"");
        assert_eq!(v(b"   \n", DEF).unwrap(), b"");
        assert_eq!(v(b"a\0b\0\n", DEF).unwrap(), b"a\nb\n");
        assert_eq!(
            v(
                b"a\0b\0\n",
                ValueRules {
                    nullis: b'X',
                    ..DEF
                }
            )
            .unwrap(),
            b"aXbX"
        );
    }

    #[test]
    fn n_f_l_rules() {
        let n = ValueRules {
            no_chomp: true,
            ..DEF
        };
        let f = ValueRules {
            verbatim: true,
            ..DEF
        };
        let fnn = ValueRules {
            verbatim: true,
            no_chomp: true,
            ..DEF
        };
        assert_eq!(v(b"trail \t \r\n2nd", n).unwrap(), b"trail \t \r");
        assert_eq!(v(b"x\n\n", n).unwrap(), b"x");
        assert_eq!(v(b"hello\nworld\n", f).unwrap(), b"hello\nworld");
        assert_eq!(v(b"x\n\n", f).unwrap(), b"x\n");
        assert_eq!(v(b"a\0b\n", f).unwrap(), b"a\nb");
        assert_eq!(v(b"   \n", fnn).unwrap(), b"   \n");
        let l = ValueRules {
            no_clamp: true,
            ..DEF
        };
        assert_eq!(v(b"abc", l).unwrap(), b"");
        assert_eq!(v(b"abc \n", l).unwrap(), b"abc");
        assert_eq!(
            v(
                b"abc",
                ValueRules {
                    no_chomp: true,
                    ..l
                }
            )
            .unwrap(),
            b"abc"
        );
        assert_eq!(
            v(
                b"abc",
                ValueRules {
                    verbatim: true,
                    ..l
                }
            )
            .unwrap(),
            b"abc"
        );
    }

    /// A real directory longer than one getdents64 buffer: every variable is set (or
    /// unset, for an empty file), dot files and names with `=` are skipped, a value is the
    /// first line without trailing blanks, and a missing directory is ENOENT.
    #[test]
    fn applies_a_whole_directory() {
        let dir = std::env::temp_dir().join(format!("s6rs-envdir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let name = |i: usize| format!("S6RS_ENVDIR_TEST_{i:03}_WITH_A_LONGISH_NAME");
        for i in 0..150 {
            std::fs::write(dir.join(name(i)), format!("value {i} \t\nsecond line\n")).unwrap();
        }
        std::fs::write(dir.join(".S6RS_ENVDIR_TEST_DOT"), "x").unwrap();
        std::fs::write(dir.join("S6RS_ENVDIR=TEST"), "x").unwrap();
        std::fs::write(dir.join("S6RS_ENVDIR_TEST_EMPTY"), "").unwrap();
        setenv(b"S6RS_ENVDIR_TEST_EMPTY", b"set before").unwrap();
        apply_envdir(dir.as_os_str(), &DEF).unwrap();
        for i in 0..150 {
            assert_eq!(
                std::env::var(name(i)).as_deref(),
                Ok(format!("value {i}").as_str())
            );
        }
        assert!(std::env::var_os(".S6RS_ENVDIR_TEST_DOT").is_none());
        assert!(std::env::var_os("S6RS_ENVDIR_TEST_EMPTY").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(apply_envdir(dir.as_os_str(), &DEF), Err(Errno::ENOENT));
        assert_eq!(
            apply_envdir(OsStr::new("/dev/null"), &DEF),
            Err(Errno::ENOTDIR)
        );
    }

    #[test]
    fn parse() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        for bad in [&[][..], &["d"], &["-x", "d", "t"], &["-c"]] {
            assert_eq!(parse_args(&os(bad)), Err(Usage));
        }
        let a = os(&["-I", "-c", "", "d", "t"]);
        let r = parse_args(&a).unwrap();
        assert!(!r.insist);
        assert_eq!(r.rules.nullis, 0);
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a);
        }
    }
}

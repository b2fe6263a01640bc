//! Command-line plumbing shared by the client tools: skalibs' `subgetopt` (POSIX short
//! options, no permutation) over raw `OsString` arguments, skalibs' `uint0_scan`, and
//! messages whose operands are raw bytes (service paths need not be UTF-8).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// One option returned by [`GetOpt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt<'a> {
    /// An option letter without an argument.
    Flag(u8),
    /// An option letter with its argument (`-T 300` or `-T300`).
    Arg(u8, &'a OsStr),
}

/// skalibs' `subgetopt_r`: `opts` is a getopt string (`"no:uw"`). Parsing stops at the first
/// argument that does not start with `-`, at a lone `-` (an operand), or after `--`.
/// `--anything` is an error, as is an unknown letter or a missing option argument.
pub struct GetOpt<'a, A: AsRef<OsStr> = OsString> {
    args: &'a [A],
    opts: &'static [u8],
    ind: usize,
    pos: usize,
    done: bool,
}

impl<'a, A: AsRef<OsStr>> GetOpt<'a, A> {
    /// `args` excludes the program name: owned (`OsString`) or borrowed from `argv`
    /// ([`crate::rt::arguments`]).
    pub fn new(args: &'a [A], opts: &'static str) -> GetOpt<'a, A> {
        GetOpt {
            args,
            opts: opts.as_bytes(),
            ind: 0,
            pos: 0,
            done: false,
        }
    }

    /// The operands left once [`GetOpt::next_opt`] has returned `None`.
    pub fn rest(&self) -> &'a [A] {
        self.args.get(self.ind..).unwrap_or(&[])
    }

    /// The next option; `Some(Err(letter))` for an unknown letter or a missing argument.
    pub fn next_opt(&mut self) -> Option<Result<Opt<'a>, u8>> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_none() {
            self.done = true;
        }
        r
    }

    fn step(&mut self) -> Option<Result<Opt<'a>, u8>> {
        let args = self.args;
        let mut cur = args.get(self.ind)?.as_ref().as_bytes();
        if self.pos > 0 && self.pos >= cur.len() {
            self.ind += 1;
            self.pos = 0;
            cur = args.get(self.ind)?.as_ref().as_bytes();
        }
        if self.pos == 0 {
            if cur.first() != Some(&b'-') {
                return None;
            }
            self.pos = 1;
            match cur.get(1) {
                Some(b'-') => {
                    if cur.len() > 2 {
                        self.done = true;
                        return Some(Err(b'-'));
                    }
                    self.ind += 1;
                    self.pos = 0;
                    return None;
                }
                None => {
                    self.pos = 0;
                    return None;
                }
                Some(_) => {}
            }
        }
        let c = *cur.get(self.pos)?;
        self.pos += 1;
        let mut i = 0;
        let opts = self.opts;
        while let Some(&letter) = opts.get(i) {
            let takes_arg = opts.get(i + 1) == Some(&b':');
            if letter == c && letter != b':' {
                if takes_arg {
                    let tail = cur.get(self.pos..).unwrap_or(&[]);
                    self.ind += 1;
                    self.pos = 0;
                    if !tail.is_empty() {
                        return Some(Ok(Opt::Arg(c, OsStr::from_bytes(tail))));
                    }
                    let Some(a) = args.get(self.ind) else {
                        self.done = true;
                        return Some(Err(c));
                    };
                    let a = a.as_ref();
                    self.ind += 1;
                    return Some(Ok(Opt::Arg(c, a)));
                }
                return Some(Ok(Opt::Flag(c)));
            }
            i += if takes_arg { 2 } else { 1 };
        }
        self.done = true;
        Some(Err(c))
    }
}

/// skalibs' `uint0_scan` for 32-bit values: the whole string must be decimal digits and fit.
/// Our two extensions, on every program: `--help` or `--version` as the first argument
/// prints `help` (s6's usage line, then one line per option) or [`VERSION`](crate::msg::VERSION)
/// on stdout and exits 0. s6 rejects both as usage errors, so no script that works on s6
/// changes behaviour. Returns when the first argument is neither.
pub fn help_or_version<A: AsRef<OsStr>>(args: &[A], help: &str) {
    let text = match args.first().map(|a| a.as_ref().as_bytes()) {
        Some(b"--help") => help,
        Some(b"--version") => crate::msg::VERSION,
        _ => return,
    };
    let mut out = String::with_capacity(text.len() + 1);
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let code = match crate::msg::write_stdout(&out) {
        Ok(()) => 0,
        Err(_) => crate::msg::exit::SYSTEM,
    };
    crate::rt::exit(code)
}

pub fn uint0_scan(s: &OsStr) -> Option<u32> {
    uint640_scan(s).and_then(|v| u32::try_from(v).ok())
}

/// skalibs' `uint640_scan` as s6 uses it on options: the whole argument decimal digits,
/// fitting in 64 bits.
pub fn uint640_scan(s: &OsStr) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u64)
    })
}

/// Concatenate byte strings into one message line.
pub fn line(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 1);
    for p in parts {
        v.extend_from_slice(p);
    }
    v.push(b'\n');
    v
}

/// Write a whole message to stderr in one write (errors ignored).
pub fn write_stderr_bytes(b: &[u8]) {
    let _ = crate::fsio::write_all(crate::msg::standard_fd(2), b);
}

/// Write `head`, `parts` and a newline to stderr as one line, in one `writev` (errors
/// ignored: there is nobody to tell). No allocation and no formatting: this is every
/// client's error path, and its code and data stay in the few pages a client maps.
pub fn write_line_stderr(head: &[&[u8]], parts: &[&[u8]]) {
    write_line(crate::msg::standard_fd(2), head, parts);
}

/// [`write_line_stderr`] to any descriptor.
fn write_line(fd: std::os::fd::BorrowedFd<'_>, head: &[&[u8]], parts: &[&[u8]]) {
    use std::os::fd::AsRawFd;
    const MAX: usize = 16;
    let all = || head.iter().chain(parts).copied().chain([&b"\n"[..]]);
    let empty = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut iov = [empty; MAX];
    let mut count = 0;
    let mut total = 0;
    for (slot, part) in iov.iter_mut().zip(all()) {
        *slot = libc::iovec {
            iov_base: part.as_ptr() as *mut libc::c_void,
            iov_len: part.len(),
        };
        count += 1;
        total += part.len();
    }
    let mut written = 0;
    if count == head.len() + parts.len() + 1 {
        // SAFETY: iov[..count] describe live slices of head, parts and a constant.
        let r = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), count as libc::c_int) };
        written = usize::try_from(r).unwrap_or(0);
    }
    if written < total {
        // More parts than iovecs, a short write or EINTR: the rest, gathered, in one write.
        let rest: Vec<u8> = all().flatten().copied().skip(written).collect();
        let _ = crate::fsio::write_all(fd, &rest);
    }
}

/// `PROG: warning: PARTS...`
pub fn warn_bytes(prog: &str, parts: &[&[u8]]) {
    write_line_stderr(&[prog.as_bytes(), b": warning: "], parts);
}

/// `PROG: fatal: PARTS...`, then exit with `code`.
pub fn fatal_bytes(prog: &str, code: i32, parts: &[&[u8]]) -> ! {
    write_line_stderr(&[prog.as_bytes(), b": fatal: "], parts);
    crate::rt::exit(code)
}

/// `unable to WHAT: ERRNO-TEXT` as message parts (`what` concatenated), for the `_sys`
/// helpers below.
fn sys_parts<'a>(what: &[&'a [u8]], err: &'a str) -> Vec<&'a [u8]> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(what.len() + 3);
    parts.push(b"unable to ");
    parts.extend_from_slice(what);
    parts.push(b": ");
    parts.push(err.as_bytes());
    parts
}

/// `PROG: fatal: unable to WHAT: ERRNO-TEXT` (skalibs' `strerr_diefu*sys`), exit `code`.
pub fn fatal_sys_bytes(prog: &str, code: i32, what: &[&[u8]], e: nix::errno::Errno) -> ! {
    let err = crate::msg::errno_text(e);
    fatal_bytes(prog, code, &sys_parts(what, &err))
}

/// `PROG: warning: unable to WHAT: ERRNO-TEXT` (skalibs' `strerr_warnwu*sys`).
pub fn warn_sys_bytes(prog: &str, what: &[&[u8]], e: nix::errno::Errno) {
    let err = crate::msg::errno_text(e);
    warn_bytes(prog, &sys_parts(what, &err))
}

/// A command line from raw bytes, arguments split at NUL (none for empty input): how the
/// `argv_*` fuzz targets turn their input into arguments.
pub fn argv_from_nul_split(data: &[u8]) -> Vec<OsString> {
    use std::os::unix::ffi::OsStringExt;
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// Kept at its old path for the crates' unit tests (`features = ["testing"]`).
#[cfg(any(test, feature = "testing"))]
pub use crate::testing::{os_args, pseudo_random_argv};

#[cfg(test)]
mod tests {
    use super::*;

    /// What write_line puts on a pipe.
    fn line_through_pipe(head: &[&[u8]], parts: &[&[u8]]) -> Vec<u8> {
        use std::io::Read;
        use std::os::fd::AsFd;
        let (r, w) = nix::unistd::pipe().unwrap();
        write_line(w.as_fd(), head, parts);
        drop(w);
        let mut out = Vec::new();
        std::fs::File::from(r).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn write_line_joins_head_parts_and_newline() {
        assert_eq!(
            line_through_pipe(&[b"s6-svc", b": warning: "], &[b"unable to control ", b"x"]),
            b"s6-svc: warning: unable to control x\n"
        );
        assert_eq!(line_through_pipe(&[], &[]), b"\n");
        // More parts than one writev takes: the same line, gathered into one write.
        let many: Vec<Vec<u8>> = (0..40).map(|i| format!("<{i}>").into_bytes()).collect();
        let parts: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let mut want = b"p: ".to_vec();
        want.extend(many.concat());
        want.push(b'\n');
        assert_eq!(line_through_pipe(&[b"p: "], &parts), want);
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    type Parsed = Vec<Result<(u8, Option<String>), u8>>;

    fn all(args: &[OsString], opts: &'static str) -> (Parsed, usize) {
        let mut g = GetOpt::new(args, opts);
        let mut out = Vec::new();
        while let Some(o) = g.next_opt() {
            out.push(o.map(|o| match o {
                Opt::Flag(c) => (c, None),
                Opt::Arg(c, a) => (c, Some(a.to_string_lossy().into_owned())),
            }));
        }
        (out, g.rest().len())
    }

    #[test]
    fn getopt_like_skalibs() {
        let (o, rest) = all(&os(&["-ab", "-T", "300", "-T5", "x", "-c"]), "abcT:");
        assert_eq!(
            o,
            vec![
                Ok((b'a', None)),
                Ok((b'b', None)),
                Ok((b'T', Some("300".into()))),
                Ok((b'T', Some("5".into())))
            ]
        );
        assert_eq!(rest, 2);
        let (o, rest) = all(&os(&["-a", "--", "-b"]), "ab");
        assert_eq!((o.len(), rest), (1, 1));
        let (o, rest) = all(&os(&["-", "x"]), "ab");
        assert_eq!((o.len(), rest), (0, 2));
        let (o, _) = all(&os(&["--help"]), "ab");
        assert_eq!(o, vec![Err(b'-')]);
        let (o, _) = all(&os(&["-z"]), "ab");
        assert_eq!(o, vec![Err(b'z')]);
        let (o, _) = all(&os(&["-aT"]), "aT:");
        assert_eq!(o, vec![Ok((b'a', None)), Err(b'T')]);
        let (o, rest) = all(&os(&["-T", "-a", "b"]), "aT:");
        assert_eq!((o, rest), (vec![Ok((b'T', Some("-a".into())))], 1));
        let (o, _) = all(&os(&["-:"]), "aT:");
        assert_eq!(o, vec![Err(b':')]);
        let (o, rest) = all(&os(&[]), "a");
        assert_eq!((o.len(), rest), (0, 0));
    }

    #[test]
    fn uint_scan() {
        assert_eq!(uint0_scan(OsStr::new("0")), Some(0));
        assert_eq!(uint0_scan(OsStr::new("4294967295")), Some(u32::MAX));
        assert_eq!(uint0_scan(OsStr::new("4294967296")), None);
        assert_eq!(uint0_scan(OsStr::new("")), None);
        assert_eq!(uint0_scan(OsStr::new("12a")), None);
        assert_eq!(uint0_scan(OsStr::new("-1")), None);
        assert_eq!(uint0_scan(OsStr::new("+1")), None);
    }
}

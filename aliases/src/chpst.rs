//! `s6-alias-chpst` (`chpst`): runit's chpst as one command line of chain loaders, built
//! from the options (always in s6's fixed order) and exec'd in the same process.

use common::cli::{GetOpt, Opt};
use common::exec::exec_prog;
use common::msg::{exit, Prog, StrError};
use common::users::{self, NGROUPS_MAX};
use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

pub const PROG: &str = "s6-alias-chpst";
pub const USAGE: &str = "s6-alias-chpst [ -v ] [ -P ] [ -0 ] [ -1 ] [ -2 ] [ -u user ] [ -U user ] [ -b argv0 ] [ -e dir ] [ -n niceness ] [ -l lock | -L lock ] [ -m bytes ] [ -d bytes ] [ -o n ] [ -p n ] [ -f bytes ] [ -c bytes ] prog...";
pub const HELP: &str = "\
s6-alias-chpst [ -v ] [ -P ] [ -0 ] [ -1 ] [ -2 ] [ -u user ] [ -U user ] [ -b argv0 ] [ -e dir ] [ -n niceness ] [ -l lock | -L lock ] [ -m bytes ] [ -d bytes ] [ -o n ] [ -p n ] [ -f bytes ] [ -c bytes ] prog...
runit's chpst, as a chain of s6 programs (nice, s6-setsid, s6-envdir, s6-setlock,
s6-applyuidgid, s6-envuidgid, s6-softlimit, fdclose, exec -a, chroot).
  -u user[:group[:g...]] | -u :uid[:gid[:gidlist]]   run as that account
  -U user[:group] | -U :user[:group]                 set UID/GID/GIDLIST only
  -e dir          s6-envdir dir
  -n niceness     nice -n niceness
  -l lock / -L lock   wait for / fail on the lock
  -m -d -o -p -f -c   s6-softlimit limits
  -P              s6-setsid
  -0 -1 -2        close stdin / stdout / stderr
  -b argv0        run prog as argv0
  -/ dir          chroot into dir
  -v              print the command line before running it";

/// A user database lookup (`common::users::lookup_user`, or a fake in tests).
pub type UserLookup = dyn Fn(&[u8]) -> Result<Option<users::User>, Errno>;
/// A group database lookup (`common::users::lookup_group`, or a fake in tests).
pub type GroupLookup = dyn Fn(&[u8]) -> Result<Option<u32>, Errno>;

/// A `-u` value, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub uid: u32,
    /// `None`: no `-g` (numeric `:uid` alone).
    pub gid: Option<u32>,
    pub groups: Vec<u32>,
}

/// A refused `-u`.
#[derive(Debug, PartialEq, Eq)]
pub enum UserError {
    Usage,
    NoUser(Vec<u8>),
    NoGroup(Vec<u8>),
    UserDb(Errno),
    GroupDb(Errno),
    TooManyGroups,
}

/// `:uid[:gid[:gidlist]]` (the leading colon removed).
pub fn parse_numeric_user(s: &[u8]) -> Result<UserSpec, UserError> {
    let (uid, n) = users::u32_scan(s);
    if n == 0 {
        return Err(UserError::Usage);
    }
    let mut spec = UserSpec {
        uid,
        gid: None,
        groups: Vec::new(),
    };
    let s = &s[n..];
    if s.is_empty() {
        return Ok(spec);
    }
    if s[0] != b':' {
        return Err(UserError::Usage);
    }
    let s = &s[1..];
    let (gid, n) = users::u32_scan(s);
    if n == 0 {
        return Err(UserError::Usage);
    }
    spec.gid = Some(gid);
    let s = &s[n..];
    if s.is_empty() {
        return Ok(spec);
    }
    if s[0] != b':' {
        return Err(UserError::Usage);
    }
    let (list, read) = users::gid_scanlist(&s[1..], NGROUPS_MAX);
    if read == 0 {
        return Err(UserError::Usage);
    }
    spec.groups = list;
    Ok(spec)
}

/// `user[:group[:g2...]]`, looked up with `user`/`group`.
pub fn parse_symbolic_user(
    s: &[u8],
    user: &UserLookup,
    group: &GroupLookup,
) -> Result<UserSpec, UserError> {
    let find_group = |name: &[u8]| match group(name) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(UserError::NoGroup(name.to_vec())),
        Err(e) => Err(UserError::GroupDb(e)),
    };
    let mut parts = s.splitn(2, |&c| c == b':');
    let uname = parts.next().unwrap_or(b"");
    let pw = match user(uname) {
        Ok(Some(u)) => u,
        Ok(None) => return Err(UserError::NoUser(uname.to_vec())),
        Err(e) => return Err(UserError::UserDb(e)),
    };
    let Some(rest) = parts.next() else {
        return Ok(UserSpec {
            uid: pw.uid,
            gid: Some(pw.gid),
            groups: Vec::new(),
        });
    };
    let mut names = rest.splitn(2, |&c| c == b':');
    let gid = find_group(names.next().unwrap_or(b""))?;
    let mut groups = Vec::new();
    let mut tail = names.next().unwrap_or(b"");
    while !tail.is_empty() {
        if groups.len() >= NGROUPS_MAX {
            return Err(UserError::TooManyGroups);
        }
        let (name, next) = match tail.iter().position(|&c| c == b':') {
            Some(i) => (&tail[..i], &tail[i + 1..]),
            None => (tail, &b""[..]),
        };
        groups.push(find_group(name)?);
        tail = next;
    }
    Ok(UserSpec {
        uid: pw.uid,
        gid: Some(gid),
        groups,
    })
}

/// The parsed options (the last occurrence of each wins).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options<'a> {
    pub verbosity: u32,
    pub setsid: bool,
    pub close: [bool; 3],
    pub argv0: Option<&'a OsStr>,
    pub user: Option<UserSpec>,
    /// `-U`: the account (leading colon removed), -n, -B.
    pub envuser: Option<(&'a [u8], bool, bool)>,
    pub envdir: Option<&'a OsStr>,
    pub root: Option<&'a OsStr>,
    pub nice: i32,
    /// The lock file and whether to fail at once (`-L`).
    pub lock: Option<(&'a OsStr, bool)>,
    /// `-m -d -o -p -f -c`, in that order.
    pub limits: [Option<u64>; 6],
    pub prog: &'a [OsString],
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    User(UserError),
}

/// skalibs' `int0_scan`: an optional sign, then decimal digits, the whole word, fitting i32.
fn int_scan_all(v: &[u8]) -> Option<i32> {
    let (neg, digits) = match v.first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mag = digits.iter().try_fold(0i64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as i64)
    })?;
    let val = if neg { -mag } else { mag };
    i32::try_from(val).ok()
}

fn u64_scan_all(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u64)
    })
}

pub fn parse_args<'a>(
    args: &'a [OsString],
    user: &UserLookup,
    group: &GroupLookup,
) -> Result<Options<'a>, ParseError> {
    let mut o = Options::default();
    let mut g = GetOpt::new(args, "vP012u:U:b:e:/:n:l:L:m:d:o:p:f:c:");
    while let Some(opt) = g.next_opt() {
        match opt.map_err(|_| ParseError::Usage)? {
            Opt::Flag(b'v') => o.verbosity += 1,
            Opt::Flag(b'P') => o.setsid = true,
            Opt::Flag(c @ b'0'..=b'2') => o.close[(c - b'0') as usize] = true,
            Opt::Arg(b'b', v) => o.argv0 = Some(v),
            Opt::Arg(b'u', v) => {
                let v = v.as_bytes();
                let spec = match v.strip_prefix(b":") {
                    Some(num) => parse_numeric_user(num),
                    None => parse_symbolic_user(v, user, group),
                };
                o.user = Some(spec.map_err(|e| match e {
                    UserError::Usage => ParseError::Usage,
                    e => ParseError::User(e),
                })?);
            }
            Opt::Arg(b'U', v) => {
                let v = v.as_bytes();
                let (acc, numeric) = match v.strip_prefix(b":") {
                    Some(rest) => (rest, true),
                    None => (v, false),
                };
                o.envuser = Some((acc, numeric, acc.contains(&b':')));
            }
            Opt::Arg(b'e', v) => o.envdir = Some(v),
            Opt::Arg(b'/', v) => o.root = Some(v),
            Opt::Arg(b'n', v) => o.nice = int_scan_all(v.as_bytes()).ok_or(ParseError::Usage)?,
            Opt::Arg(b'l', v) => o.lock = Some((v, false)),
            Opt::Arg(b'L', v) => o.lock = Some((v, true)),
            Opt::Arg(c @ (b'm' | b'd' | b'o' | b'p' | b'f' | b'c'), v) => {
                let i = b"mdopfc".iter().position(|&x| x == c).unwrap_or(0);
                o.limits[i] = Some(u64_scan_all(v.as_bytes()).ok_or(ParseError::Usage)?);
            }
            _ => return Err(ParseError::Usage),
        }
    }
    o.prog = g.rest();
    Ok(o)
}

/// The command line chpst execs. `root` is the already resolved chroot directory.
pub fn build(o: &Options<'_>, root: Option<&[u8]>) -> Vec<OsString> {
    let w = |s: &str| OsString::from(s);
    let b = |s: &[u8]| OsString::from_vec(s.to_vec());
    let mut v: Vec<OsString> = Vec::new();
    if o.nice != 0 {
        v.extend([w("nice"), w("-n"), w(&o.nice.to_string()), w("--")]);
    }
    if o.setsid {
        v.extend([w("s6-setsid"), w("--")]);
    }
    if let Some(d) = o.envdir {
        v.extend([w("s6-envdir"), w("--"), d.to_os_string()]);
    }
    if let Some((f, nb)) = o.lock {
        v.extend([
            w("s6-setlock"),
            w(if nb { "-n" } else { "-N" }),
            w("--"),
            f.to_os_string(),
        ]);
    }
    if let Some(u) = &o.user {
        v.extend([w("s6-applyuidgid"), w("-u"), w(&u.uid.to_string())]);
        if let Some(g) = u.gid {
            v.extend([w("-g"), w(&g.to_string())]);
        }
        v.extend([w("-G"), b(&users::format_gidlist(&u.groups)), w("--")]);
    }
    if let Some((acc, numeric, both)) = o.envuser {
        v.push(w("s6-envuidgid"));
        if numeric {
            v.push(w("-n"));
        }
        if both {
            v.push(w("-B"));
        }
        v.extend([w("--"), b(acc)]);
    }
    if o.limits.iter().any(Option::is_some) {
        v.push(w("s6-softlimit"));
        for (i, l) in o.limits.iter().enumerate() {
            if let Some(n) = l {
                v.extend([
                    w(["-m", "-d", "-o", "-p", "-f", "-c"][i]),
                    w(&n.to_string()),
                ]);
            }
        }
        v.push(w("--"));
    }
    for (i, &c) in o.close.iter().enumerate() {
        if c {
            v.extend([w("fdclose"), w(&i.to_string())]);
        }
    }
    if let (Some(a), None) = (o.argv0, root) {
        v.extend([w("exec"), w("-a"), a.to_os_string(), w("--")]);
    }
    if let Some(r) = root {
        v.extend([w("chroot"), b(r)]);
    }
    v.extend_from_slice(o.prog);
    v
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let prog = Prog::new(PROG);
    let o = match parse_args(&args, &users::lookup_user, &users::lookup_group) {
        Ok(o) => o,
        Err(ParseError::Usage) => prog.usage(USAGE),
        Err(ParseError::User(e)) => match e {
            UserError::NoUser(n) => common::cli::fatal_bytes(
                PROG,
                exit::USAGE,
                &[b"user not found in user database: ", &n],
            ),
            UserError::NoGroup(n) => common::cli::fatal_bytes(
                PROG,
                exit::USAGE,
                &[b"group not found in group database: ", &n],
            ),
            UserError::UserDb(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to read user database: {}", StrError(e)),
            ),
            UserError::GroupDb(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to read group database: {}", StrError(e)),
            ),
            UserError::TooManyGroups => prog.fatal(
                exit::USAGE,
                "too many supplementary groups listed for the -u option",
            ),
            UserError::Usage => prog.usage(USAGE),
        },
    };
    let root = o.root.map(|r| match std::fs::canonicalize(r) {
        Ok(p) => p.into_os_string().into_vec(),
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to stralloc_catb: {}",
                StrError(common::msg::errno_of(&e))
            ),
        ),
    });
    if o.argv0.is_some() && root.is_some() {
        prog.warn("the -b option is ineffective when the -/ option is also given");
    }
    let argv = build(&o, root.as_deref());
    if o.verbosity > 0 {
        let mut parts: Vec<&[u8]> = vec![
            PROG.as_bytes(),
            b": info: executing the following command line:",
        ];
        for a in &argv {
            parts.push(b" ");
            parts.push(a.as_bytes());
        }
        common::cli::write_stderr_bytes(&common::cli::line(&parts));
    }
    if argv.is_empty() {
        std::process::exit(0)
    }
    exec_prog(PROG, &argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn user(n: &[u8]) -> Result<Option<users::User>, Errno> {
        Ok((n == b"nobody").then_some(users::User {
            uid: 65534,
            gid: 65534,
        }))
    }

    fn group(n: &[u8]) -> Result<Option<u32>, Errno> {
        Ok(match n {
            b"daemon" => Some(1),
            b"bin" => Some(2),
            b"sys" => Some(3),
            _ => None,
        })
    }

    fn line(args: &[&str]) -> String {
        let a = os(args);
        let o = parse_args(&a, &user, &group).unwrap();
        let v = build(&o, None);
        v.iter()
            .map(|x| x.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            line(&[
                "-v", "-P", "-0", "-1", "-2", "-u", "nobody", "-U", "nobody", "-b", "foo", "-e", "/tmp/e", "-n",
                "5", "-l", "/tmp/lk", "-m", "1000", "-d", "2000", "-o", "30", "-p", "40", "-f", "5000", "-c",
                "0", "true", "arg"
            ]),
            "nice -n 5 -- s6-setsid -- s6-envdir -- /tmp/e s6-setlock -N -- /tmp/lk \
             s6-applyuidgid -u 65534 -g 65534 -G  -- s6-envuidgid -- nobody \
             s6-softlimit -m 1000 -d 2000 -o 30 -p 40 -f 5000 -c 0 -- fdclose 0 fdclose 1 fdclose 2 \
             exec -a foo -- true arg"
        );
        assert_eq!(
            line(&[
                "-L",
                "/tmp/lk",
                "-U",
                ":nobody:daemon",
                "-u",
                ":5:6:7,8",
                "-c",
                "9",
                "true"
            ]),
            "s6-setlock -n -- /tmp/lk s6-applyuidgid -u 5 -g 6 -G 7,8 -- \
             s6-envuidgid -n -B -- nobody:daemon s6-softlimit -c 9 -- true"
        );
        assert_eq!(
            line(&["-u", ":1234", "t"]),
            "s6-applyuidgid -u 1234 -G  -- t"
        );
        assert_eq!(line(&["-n", "0", "t"]), "t");
        assert_eq!(line(&["-n", "-3", "t"]), "nice -n -3 -- t");
        assert_eq!(line(&[]), "");
        let a = os(&["-b", "x", "t"]);
        let o = parse_args(&a, &user, &group).unwrap();
        assert_eq!(build(&o, Some(b"/r")), os(&["chroot", "/r", "t"]));
    }

    #[test]
    fn users_and_errors() {
        let p = |s: &str| parse_symbolic_user(s.as_bytes(), &user, &group);
        assert_eq!(
            p("nobody:daemon:bin:sys").unwrap(),
            UserSpec {
                uid: 65534,
                gid: Some(1),
                groups: vec![2, 3]
            }
        );
        assert_eq!(p("x"), Err(UserError::NoUser(b"x".to_vec())));
        assert_eq!(p("nobody:zz"), Err(UserError::NoGroup(b"zz".to_vec())));
        assert_eq!(
            p("nobody:daemon:"),
            Ok(UserSpec {
                uid: 65534,
                gid: Some(1),
                groups: vec![]
            })
        );
        for bad in ["abc", "1:x", "1,2", "1:2:", "1:2:x"] {
            assert_eq!(
                parse_numeric_user(bad.as_bytes()),
                Err(UserError::Usage),
                "{bad}"
            );
        }
        for bad in [
            &["-r", "5", "t"][..],
            &["-t", "5", "t"],
            &["-x", "t"],
            &["-n", "x", "t"],
            &["-m", "1k", "t"],
            &["-u"],
        ] {
            assert_eq!(
                parse_args(&os(bad), &user, &group),
                Err(ParseError::Usage),
                "{bad:?}"
            );
        }
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a, &user, &group);
        }
    }
}

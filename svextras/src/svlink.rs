//! `s6-svlink` and `s6-svunlink`: add a service directory to a running s6-svscan's scan
//! directory (returning once its supervisor runs), or remove one (returning once its
//! supervisor has exited).

use crate::link::{self, LinkOptions};
use crate::util::{b, cat};
use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::cli::{uint0_scan, GetOpt, Opt};
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

pub const SVLINK: &str = "s6-svlink";
pub const SVLINK_USAGE: &str =
    "s6-svlink [ -d | -D ] [ -f ] [ -P ] [ -t timeout ] scandir servicedir [ name ]";
pub const SVLINK_HELP: &str = "\
s6-svlink [ -d | -D ] [ -f ] [ -P ] [ -t timeout ] scandir servicedir [ name ]
Link servicedir into the scan directory of a running s6-svscan (as name, default its
basename) and wait until it is supervised.
  -d          start the supervisor but not the service
  -D          same, and leave a ./down file in servicedir
  -f          also set the mode of an existing event/ fifodir
  -P          make event/ public (01733) instead of owned by our group (03730)
  -t timeout  give up after timeout milliseconds (exit 99)
";

pub const SVUNLINK: &str = "s6-svunlink";
pub const SVUNLINK_USAGE: &str = "s6-svunlink [ -X ] [ -t timeout ] scandir servicename";
pub const SVUNLINK_HELP: &str = "\
s6-svunlink [ -X ] [ -t timeout ] scandir servicename
Remove servicename from the scan directory of a running s6-svscan and wait until its
supervisor has exited.
  -X          do not wait
  -t timeout  stop waiting after timeout milliseconds (still exit 0)
";

/// Options and operands shared by s6-svlink and s6-instance-create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkArgs {
    pub opts: LinkOptions,
    pub timeout: u32,
    pub operands: Vec<OsString>,
}

/// `-d -D -f -P -t ms` then operands; `None` is a usage error. Pure.
pub fn parse_link_args(args: &[OsString]) -> Option<LinkArgs> {
    let mut g = GetOpt::new(args, "dDfPt:");
    let mut r = LinkArgs {
        opts: LinkOptions::default(),
        timeout: 0,
        operands: Vec::new(),
    };
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Flag(c) => {
                if !r.opts.apply(c) {
                    return None;
                }
            }
            Opt::Arg(b't', a) => r.timeout = uint0_scan(a)?,
            Opt::Arg(..) => return None,
        }
    }
    r.operands = g.rest().to_vec();
    (r.operands.len() >= 2).then_some(r)
}

/// `-X -t ms` then operands: (wait, timeout, operands); `None` is a usage error. Pure.
pub fn parse_unlink_args(args: &[OsString]) -> Option<(bool, u32, Vec<OsString>)> {
    let mut g = GetOpt::new(args, "Xt:");
    let (mut wait, mut timeout) = (true, 0);
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Flag(b'X') => wait = false,
            Opt::Arg(b't', a) => timeout = uint0_scan(a)?,
            _ => return None,
        }
    }
    let rest = g.rest().to_vec();
    (rest.len() >= 2).then_some((wait, timeout, rest))
}

/// The name part of a path as `basename(3)` gives it (trailing slashes ignored).
pub fn basename(p: &[u8]) -> &[u8] {
    let mut p = p;
    while let Some(trimmed) = p.strip_suffix(b"/").filter(|t| !t.is_empty()) {
        p = trimmed;
    }
    if p == b"/" {
        return p;
    }
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => p.get(i + 1..).unwrap_or_default(),
        None => p,
    }
}

/// A link name s6 accepts: not empty, not starting with `.` or `/`.
pub fn valid_link_name(n: &[u8]) -> bool {
    n.first().is_some_and(|&c| c != b'.' && c != b'/')
}

fn check_scandir(prog: &str, scan: &[u8]) {
    let lock = cat(scan, b"/.s6-svscan/lock");
    match link::svscan_running(&lock) {
        Ok(true) => {}
        Ok(false) => fatal_bytes(prog, 1, &[b"s6-svscan not running on ", scan]),
        Err(link::LockCheckError::Open(e)) => fatal_sys_bytes(prog, 111, &[b"open ", b(&lock)], e),
        Err(link::LockCheckError::Check(e)) => {
            fatal_sys_bytes(prog, 111, &[b"check lock on ", b(&lock)], e)
        }
    }
}

fn check_run(prog: &str, dir: &[u8]) {
    let run = cat(dir, b"/run");
    match std::fs::metadata(&run) {
        Err(e) => fatal_sys_bytes(prog, 111, &[b"stat ", b(&run)], common::msg::errno_of(&e)),
        Ok(m) if m.permissions().mode() & 0o100 == 0 => {
            fatal_bytes(prog, 100, &[b(&run), b" is not executable"])
        }
        Ok(_) => {}
    }
    match common::lock::is_supervised(&cat(dir, b"")) {
        Ok(true) => common::cli::warn_bytes(prog, &[b"supervisor already running on ", dir]),
        Ok(false) => {}
        Err(e) => fatal_sys_bytes(prog, 111, &[b"check supervision status of ", dir], e),
    }
}

fn check_servicedir(prog: &str, dir: &[u8]) {
    check_run(prog, dir);
    let log = cat(dir, b"/log");
    match std::fs::metadata(&log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => fatal_sys_bytes(prog, 111, &[b"stat ", b(&log)], common::msg::errno_of(&e)),
        Ok(m) if !m.is_dir() => fatal_bytes(prog, 100, &[b(&log), b" is not a directory"]),
        Ok(_) => check_run(prog, b(&log)),
    }
}

pub fn svlink_main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, SVLINK_HELP);
    let Some(a) = parse_link_args(&args) else {
        common::Prog::new(SVLINK).usage(SVLINK_USAGE)
    };
    let [scan, dir, ..] = a.operands.as_slice() else {
        common::Prog::new(SVLINK).usage(SVLINK_USAGE)
    };
    let (scan, dir) = (scan.as_bytes(), dir.as_bytes());
    let name = match a.operands.get(2) {
        Some(n) => n.as_bytes(),
        None => basename(dir),
    };
    if scan.is_empty() {
        fatal_bytes(SVLINK, 100, &[b"invalid scandir"]);
    }
    if dir.is_empty() {
        fatal_bytes(SVLINK, 100, &[b"invalid servicedir"]);
    }
    if !valid_link_name(name) {
        fatal_bytes(SVLINK, 100, &[b"invalid name"]);
    }
    check_scandir(SVLINK, scan);
    check_servicedir(SVLINK, dir);
    if let Err(e) = link::link(
        scan,
        dir,
        name,
        a.opts,
        common::deadline::from_ms(a.timeout),
    ) {
        let code = if e == Errno::ETIMEDOUT { 99 } else { 111 };
        fatal_sys_bytes(
            SVLINK,
            code,
            &[
                b"link servicedir ",
                dir,
                b" into scandir ",
                scan,
                b" with name ",
                name,
            ],
            e,
        );
    }
    common::rt::exit(0)
}

pub fn svunlink_main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, SVUNLINK_HELP);
    let Some((wait, timeout, ops)) = parse_unlink_args(&args) else {
        common::Prog::new(SVUNLINK).usage(SVUNLINK_USAGE)
    };
    let [scan, name, ..] = ops.as_slice() else {
        common::Prog::new(SVUNLINK).usage(SVUNLINK_USAGE)
    };
    let (scan, name) = (scan.as_bytes(), name.as_bytes());
    if !valid_link_name(name) {
        fatal_bytes(SVUNLINK, 100, &[b"invalid service name"]);
    }
    if let Err(e) = link::unlink(scan, name, wait, common::deadline::from_ms(timeout)) {
        fatal_sys_bytes(
            SVUNLINK,
            111,
            &[
                b"prepare unlinking of service ",
                name,
                b" in scandir ",
                scan,
            ],
            e,
        );
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as v;

    #[test]
    fn names() {
        assert_eq!(basename(b"svcs/web"), b"web");
        assert_eq!(basename(b"svcs/web/"), b"web");
        assert_eq!(basename(b"web"), b"web");
        assert_eq!(basename(b"/"), b"/");
        assert_eq!(basename(b"///"), b"/");
        assert_eq!(basename(b"/web//"), b"web");
        assert_eq!(basename(b""), b"");
        assert!(valid_link_name(b"a"));
        assert!(!valid_link_name(b".a"));
        assert!(!valid_link_name(b""));
        assert!(!valid_link_name(b"/a"));
    }

    #[test]
    fn parsing() {
        assert!(parse_link_args(&v(&["sc"])).is_none());
        assert!(parse_link_args(&v(&["-x", "sc", "d"])).is_none());
        assert!(parse_link_args(&v(&["-t", "x", "sc", "d"])).is_none());
        let a = parse_link_args(&v(&["-d", "-t", "50", "sc", "d", "n"])).unwrap();
        assert!(a.opts.down && a.opts.remove_down);
        assert_eq!(a.timeout, 50);
        assert_eq!(a.operands.len(), 3);
        assert!(!parse_unlink_args(&v(&["-X", "sc", "n"])).unwrap().0);
        assert!(parse_unlink_args(&v(&["sc"])).is_none());
    }
}

//! `s6-ipcserver`: build the `s6-ipcserver-socketbinder` [+ `s6-applyuidgid`] +
//! `s6-ipcserverd` command line and exec it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use common::cli::{uint0_scan, GetOpt, Opt};

use crate::util::{exec, octal_scan, usage};

const PROG: &str = "s6-ipcserver";
const USAGE: &str = "s6-ipcserver [ -q | -Q | -v ] [ -d | -D ] [ -P | -p ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -b backlog ] [ -a socketperms ] [ -G gid,gid,... ] [ -g gid ] [ -u uid ] [ -U ] path prog...";
const HELP: &str = "s6-ipcserver [ -q | -Q | -v ] [ -d | -D ] [ -P | -p ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -b backlog ] [ -a socketperms ] [ -G gid,gid,... ] [ -g gid ] [ -u uid ] [ -U ] path prog...
  -q / -Q / -v      quiet / normal / verbose
  -d / -D           replace / refuse an existing socket path
  -P / -p           do not / do look up client credentials
  -1                readiness newline on stdout
  -c N / -C N       total / per-uid connection limits
  -b N              listen backlog
  -a perms          octal socket mode
  -G -g -u / -U     run the server with these ids / those of $UID $GID $GIDLIST";

/// A comma-separated list of gids (skalibs' `gid_scanlist`); empty is allowed.
fn gid_list(s: &OsStr) -> Option<OsString> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some(OsString::new());
    }
    let mut out = Vec::new();
    for g in b.split(|&c| c == b',') {
        let n = uint0_scan(OsStr::from_bytes(g))?;
        if !out.is_empty() {
            out.push(',');
        }
        out.extend(n.to_string().chars());
    }
    Some(OsString::from(out.into_iter().collect::<String>()))
}

/// The command line to exec, or `None` for a usage error.
pub fn build_argv(args: &[OsString]) -> Option<Vec<OsString>> {
    let mut verbosity = 1;
    let (mut flag1, mut flag_u, mut lookup, mut reuse) = (false, false, true, true);
    let (mut uid, mut gid, mut gids): (u32, u32, Option<OsString>) = (0, 0, None);
    let (mut maxconn, mut localmaxconn, mut backlog, mut perms) = (0u32, 0u32, None, 0o777u32);
    let mut g = GetOpt::new(args, "qQvDd1UPpc:C:b:a:u:g:G:");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Flag(b'q') => verbosity = 0,
            Opt::Flag(b'Q') => verbosity = 1,
            Opt::Flag(b'v') => verbosity = 2,
            Opt::Flag(b'D') => reuse = false,
            Opt::Flag(b'd') => reuse = true,
            Opt::Flag(b'P') => lookup = false,
            Opt::Flag(b'p') => lookup = true,
            Opt::Flag(b'1') => flag1 = true,
            Opt::Flag(b'U') => {
                flag_u = true;
                uid = 0;
                gid = 0;
                gids = None;
            }
            Opt::Arg(b'c', v) => maxconn = uint0_scan(v)?.max(1),
            Opt::Arg(b'C', v) => localmaxconn = uint0_scan(v)?.max(1),
            Opt::Arg(b'b', v) => backlog = Some(uint0_scan(v)?.max(1)),
            Opt::Arg(b'a', v) => perms = octal_scan(v)?,
            Opt::Arg(b'u', v) => uid = uint0_scan(v)?,
            Opt::Arg(b'g', v) => gid = uint0_scan(v)?,
            Opt::Arg(b'G', v) => gids = Some(gid_list(v)?),
            _ => return None,
        }
    }
    let [path, prog @ ..] = g.rest() else {
        return None;
    };
    if prog.is_empty() {
        return None;
    }
    let mut v: Vec<OsString> = vec!["s6-ipcserver-socketbinder".into()];
    if !reuse {
        v.push("-D".into());
    }
    if let Some(b) = backlog {
        v.push("-b".into());
        v.push(b.to_string().into());
    }
    if perms != 0o777 {
        v.push("-a".into());
        v.push(format!("0{:o}", perms & 0o777).into());
    }
    v.push("--".into());
    v.push(path.clone());
    if flag_u || uid != 0 || gid != 0 || gids.is_some() {
        v.push("s6-applyuidgid".into());
        if flag_u {
            v.push("-Uz".into());
        }
        if uid != 0 {
            v.push("-u".into());
            v.push(uid.to_string().into());
        }
        if gid != 0 {
            v.push("-g".into());
            v.push(gid.to_string().into());
        }
        if let Some(l) = gids {
            v.push("-G".into());
            v.push(l);
        }
        v.push("--".into());
    }
    v.push("s6-ipcserverd".into());
    match verbosity {
        0 => v.push("-v0".into()),
        2 => v.push("-v2".into()),
        _ => {}
    }
    if flag1 {
        v.push("-1".into());
    }
    if !lookup {
        v.push("-P".into());
    }
    if maxconn != 0 {
        v.push("-c".into());
        v.push(maxconn.to_string().into());
    }
    if localmaxconn != 0 {
        v.push("-C".into());
        v.push(localmaxconn.to_string().into());
    }
    v.push("--".into());
    v.extend(prog.iter().cloned());
    Some(v)
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    match build_argv(rest) {
        Some(v) => exec(PROG, &v, &[]),
        None => usage(PROG, USAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn argv() {
        assert_eq!(
            build_argv(&a(&[
                "-1", "-v", "-a", "0700", "-C", "0", "-b0", "s", "p", "x"
            ]))
            .unwrap(),
            a(&[
                "s6-ipcserver-socketbinder",
                "-b",
                "1",
                "-a",
                "0700",
                "--",
                "s",
                "s6-ipcserverd",
                "-v2",
                "-1",
                "-C",
                "1",
                "--",
                "p",
                "x"
            ])
        );
        assert_eq!(
            build_argv(&a(&["-u", "5", "-G", "1,2", "-D", "-q", "-P", "s", "p"])).unwrap(),
            a(&[
                "s6-ipcserver-socketbinder",
                "-D",
                "--",
                "s",
                "s6-applyuidgid",
                "-u",
                "5",
                "-G",
                "1,2",
                "--",
                "s6-ipcserverd",
                "-v0",
                "-P",
                "--",
                "p"
            ])
        );
        assert!(build_argv(&a(&["s"])).is_none());
    }
}

//! `s6-ipcserver-access`: check the client described by `${PROTO}REMOTEEUID` /
//! `${PROTO}REMOTEEGID` against access rules, then exec the program (or the rule's exec
//! string through `execlineb -Pc`) with the rule's environment.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::accessrules::{check_uidgid, Decision, EnvModif, Params, Rules};
use common::cdb::Cdb;
use common::cli::{fatal_bytes, uint0_scan, GetOpt, Opt};
use nix::errno::Errno;

use crate::util::{exec, fatal_sys, getenv, info, setenv, usage, SYSTEM, USAGE as EXIT_USAGE};

const PROG: &str = "s6-ipcserver-access";
const USAGE: &str = "s6-ipcserver-access [ -v verbosity ] [ -e | -E ] [ -l localname ] [ -i rulesdir | -x rulesfile ] prog...";
const HELP: &str = "s6-ipcserver-access [ -v verbosity ] [ -e | -E ] [ -l localname ] [ -i rulesdir | -x rulesfile ] prog...
  -v N          0 quiet, 1 log allowed clients (default), 2 also denied ones
  -e / -E       set ${PROTO}LOCALPATH (default) / remove the IPC variables
  -l localname  the ${PROTO}LOCALPATH value (default: the socket's address)
  -i rulesdir   rules in a directory
  -x rulesfile  rules in a cdb (s6-accessrules-cdb-from-fs)";

/// Where the rules are, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesArg {
    None,
    Dir(OsString),
    Cdb(OsString),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub verbosity: u32,
    pub doenv: bool,
    pub localname: Option<OsString>,
    pub rules: RulesArg,
    pub prog: Vec<OsString>,
}

pub fn parse_args(args: &[OsString]) -> Option<Opts> {
    let mut o = Opts {
        verbosity: 1,
        doenv: true,
        localname: None,
        rules: RulesArg::None,
        prog: Vec::new(),
    };
    let mut g = GetOpt::new(args, "v:Eel:i:x:");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Arg(b'v', v) => o.verbosity = uint0_scan(v)?,
            Opt::Flag(b'E') => o.doenv = false,
            Opt::Flag(b'e') => o.doenv = true,
            Opt::Arg(b'l', v) => o.localname = Some(v.to_owned()),
            Opt::Arg(b'i', v) => o.rules = RulesArg::Dir(v.to_owned()),
            Opt::Arg(b'x', v) => o.rules = RulesArg::Cdb(v.to_owned()),
            _ => return None,
        }
    }
    let rest = g.rest();
    if rest.first().is_none_or(|p| p.is_empty()) {
        return None;
    }
    o.prog = rest.to_vec();
    Some(o)
}

/// The environment edits to make before the exec, in order: the rule's, then either
/// `${P}LOCALPATH=local` (`-e`) or the removal of the IPC variables (`-E`).
pub fn env_edits(
    params: &Params,
    proto: &[u8],
    doenv: bool,
    local: Option<&[u8]>,
) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut v: Vec<(Vec<u8>, Option<Vec<u8>>)> = params
        .env_entries()
        .map(|m| match m {
            EnvModif::Set(k, val) => (k.to_vec(), Some(val.to_vec())),
            EnvModif::Unset(k) => (k.to_vec(), None),
        })
        .collect();
    let var = |suffix: &[u8]| [proto, suffix].concat();
    if doenv {
        v.push((var(b"LOCALPATH"), Some(local.unwrap_or_default().to_vec())));
    } else {
        v.push((b"PROTO".to_vec(), None));
        for s in [
            &b"REMOTEEUID"[..],
            b"REMOTEEGID",
            b"REMOTEPATH",
            b"LOCALPATH",
            b"CONNNUM",
        ] {
            v.push((var(s), None));
        }
    }
    v
}

/// The path a socket on fd 0 is bound to (skalibs' `ipc_local`).
pub fn local_path() -> Result<Vec<u8>, Errno> {
    let addr: nix::sys::socket::UnixAddr = nix::sys::socket::getsockname(0)?;
    Ok(addr
        .path()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default())
}

fn id_var(proto: &[u8], suffix: &[u8]) -> u32 {
    let name = [proto, suffix].concat();
    let Some(v) = getenv(&name) else {
        fatal_bytes(PROG, EXIT_USAGE, &[&name, b" not set"])
    };
    match uint0_scan(std::ffi::OsStr::from_bytes(&v)) {
        Some(n) => n,
        None => fatal_bytes(PROG, EXIT_USAGE, &[b"invalid $", &name]),
    }
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let Some(o) = parse_args(rest) else {
        usage(PROG, USAGE)
    };
    let Some(proto) = getenv(b"PROTO") else {
        fatal_bytes(PROG, EXIT_USAGE, &[b"PROTO not set"])
    };
    let uid = id_var(&proto, b"REMOTEEUID");
    let gid = id_var(&proto, b"REMOTEEGID");
    let pid = std::process::id().to_string();
    let (decision, rulesname, kind): (Result<Decision, Errno>, &[u8], &[u8]) = match &o.rules {
        RulesArg::None => {
            if o.verbosity >= 2 {
                common::cli::warn_bytes(PROG, &[b"invoked without a ruleset!"]);
            }
            (Ok(Decision::Allow(Params::default())), b"", b"")
        }
        RulesArg::Dir(d) => (
            check_uidgid(Rules::Dir(Path::new(d)), uid, gid),
            d.as_bytes(),
            b"fs",
        ),
        RulesArg::Cdb(f) => {
            let c = match Cdb::open(Path::new(f)) {
                Ok(c) => c,
                Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to cdb_init ", f.as_bytes()], e),
            };
            (check_uidgid(Rules::Cdb(&c), uid, gid), f.as_bytes(), b"cdb")
        }
    };
    let params = match decision {
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to check ", kind, b" ruleset in ", rulesname],
            e,
        ),
        Ok(Decision::Allow(p)) => p,
        Ok(d) => {
            if o.verbosity >= 2 {
                let why = if d == Decision::Deny {
                    Errno::EACCES
                } else {
                    Errno::ENOENT
                };
                let text = common::msg::errno_text(why);
                info(
                    PROG,
                    &[
                        b"deny pid ",
                        pid.as_bytes(),
                        b" uid ",
                        uid.to_string().as_bytes(),
                        b" gid ",
                        gid.to_string().as_bytes(),
                        b": ",
                        text.as_bytes(),
                    ],
                );
            }
            common::rt::exit(1)
        }
    };
    if o.verbosity > 0 {
        info(
            PROG,
            &[
                b"allow pid ",
                pid.as_bytes(),
                b" uid ",
                uid.to_string().as_bytes(),
                b" gid ",
                gid.to_string().as_bytes(),
            ],
        );
    }
    let local = if o.doenv {
        Some(match &o.localname {
            Some(l) => l.as_bytes().to_vec(),
            None => match local_path() {
                Ok(p) => p,
                Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to ipc_local"], e),
            },
        })
    } else {
        None
    };
    for (k, v) in env_edits(&params, &proto, o.doenv, local.as_deref()) {
        setenv(&k, v.as_deref());
    }
    let exec_str = params.exec.split(|&b| b == 0).next().unwrap_or_default();
    if !exec_str.is_empty() {
        let argv: Vec<OsString> = vec![
            "execlineb".into(),
            "-Pc".into(),
            std::ffi::OsStr::from_bytes(exec_str).to_owned(),
        ];
        exec(PROG, &argv, &[])
    }
    exec(PROG, &o.prog, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn options() {
        let o = parse_args(&a(&["-v0", "-E", "-l0", "-i", "r", "-x", "c", "p"])).unwrap();
        assert_eq!(o.rules, RulesArg::Cdb("c".into()));
        assert!(!o.doenv);
        assert!(parse_args(&a(&["-i", "r"])).is_none());
        assert!(parse_args(&a(&[""])).is_none());
    }

    #[test]
    fn edits() {
        let p = Params {
            env: b"A=1\0B\0".to_vec(),
            exec: vec![],
        };
        let e = env_edits(&p, b"IPC", true, Some(b"/s"));
        assert_eq!(
            e.last().unwrap(),
            &(b"IPCLOCALPATH".to_vec(), Some(b"/s".to_vec()))
        );
        let e = env_edits(&p, b"TCP", false, None);
        assert_eq!(e.len(), 2 + 6);
        assert!(e.contains(&(b"TCPCONNNUM".to_vec(), None)));
        assert_eq!(e[0], (b"A".to_vec(), Some(b"1".to_vec())));
    }
}

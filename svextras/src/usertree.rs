//! `s6-usertree-maker`: write a service that runs a user's own supervision tree (an
//! s6-svscan as that user on `~/service`, or `-d`), plus a logger for it.

use crate::instance::default_logger;
use crate::scripts::{self, UserTree};
use crate::util::execlineb_path;
use common::cli::fatal_bytes;
use common::cli::{uint0_scan, GetOpt, Opt};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-usertree-maker";
pub const USAGE: &str = "s6-usertree-maker [ -d userscandir ] [ -p path ] [ -E envdir [ -e var ... ] ] [ -r service/logger[/pipeline] ] [ -l loguser ] [ -t stamptype ] [ -n nfiles ] [ -s filesize ] [ -S maxsize ] [ -P prefix ] user logdir dir";
pub const HELP: &str = "\
s6-usertree-maker [ -d userscandir ] [ -p path ] [ -E envdir [ -e var ... ] ] [ -r service/logger[/pipeline] ] [ -l loguser ] [ -t stamptype ] [ -n nfiles ] [ -s filesize ] [ -S maxsize ] [ -P prefix ] user logdir dir
Write at dir a service running user's supervision tree, logged to logdir.
  -d userscandir  the user's scan directory (default ${HOME}/service)
  -p path         PATH for the tree (default /usr/bin:/bin)
  -E envdir       read the user's environment from envdir; -e var imports var from it
  -r svc/logger[/pipeline]  write s6-rc source definitions instead
  -l -t -n -s -S -P  the logger's user, stamp type and archive settings
";

/// The defaults s6 is built with: the scan directory and skalibs' default PATH.
const DEFAULT_SCANDIR: &[u8] = b"${HOME}/service";
const DEFAULT_PATH: &[u8] = b"/usr/bin:/bin";
const VARS_MAX: usize = 64;

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let usage = || -> ! { common::Prog::new(PROG).usage(USAGE) };
    let mut t = UserTree {
        user: Vec::new(),
        scandir: DEFAULT_SCANDIR.to_vec(),
        path: DEFAULT_PATH.to_vec(),
        envdir: None,
        vars: Vec::new(),
    };
    let mut l = default_logger();
    let mut rc: Option<Vec<u8>> = None;
    let mut g = GetOpt::new(&args, "d:p:E:e:r:l:t:n:s:S:P:");
    while let Some(o) = g.next_opt() {
        let Ok(o) = o else { usage() };
        match o {
            Opt::Arg(b'd', a) => t.scandir = a.as_bytes().to_vec(),
            Opt::Arg(b'p', a) => t.path = a.as_bytes().to_vec(),
            Opt::Arg(b'E', a) => t.envdir = Some(a.as_bytes().to_vec()),
            Opt::Arg(b'e', a) => {
                if t.vars.len() >= VARS_MAX {
                    fatal_bytes(PROG, 100, &[b"too many -v variables"]);
                }
                if a.as_bytes().contains(&b'=') {
                    fatal_bytes(PROG, 100, &[b"invalid variable name: ", a.as_bytes()]);
                }
                t.vars.push(a.as_bytes().to_vec());
            }
            Opt::Arg(b'r', a) => rc = Some(a.as_bytes().to_vec()),
            Opt::Arg(b'l', a) => l.loguser = Some(a.as_bytes().to_vec()),
            Opt::Arg(b't', a) => l.stamptype = uint0_scan(a).unwrap_or_else(|| usage()),
            Opt::Arg(b'n', a) => l.nfiles = uint0_scan(a).unwrap_or_else(|| usage()),
            Opt::Arg(b's', a) => {
                l.filesize = common::cli::uint640_scan(a).unwrap_or_else(|| usage())
            }
            Opt::Arg(b'S', a) => {
                l.maxsize = common::cli::uint640_scan(a).unwrap_or_else(|| usage())
            }
            Opt::Arg(b'P', a) => l.prefix = Some(a.as_bytes().to_vec()),
            _ => usage(),
        }
    }
    let [user, logdir, dir, ..] = g.rest() else {
        usage()
    };
    let logdir = logdir.as_bytes();
    if logdir.first() != Some(&b'/') {
        fatal_bytes(PROG, 100, &[b"logdir must be absolute"]);
    }
    if t.scandir.first() != Some(&b'/') && !t.scandir.starts_with(b"${HOME}/") {
        fatal_bytes(
            PROG,
            100,
            &[b"userscandir must be absolute or start with ${HOME}/"],
        );
    }
    if l.stamptype > 3 {
        fatal_bytes(PROG, 100, &[b"stamptype must be 0, 1, 2 or 3"]);
    }
    let rc = match &rc {
        None => None,
        Some(r) => match scripts::parse_rc(r, true, true) {
            Ok(n) => Some(n),
            Err(e) => fatal_bytes(PROG, 100, &[e.text(true).as_bytes()]),
        },
    };
    t.user = user.as_bytes().to_vec();
    l.logdir = logdir.to_vec();
    let dir = dir.as_bytes();
    let execlineb = execlineb_path();
    let run = scripts::usertree_run(&execlineb, &t);
    match rc {
        Some(rc) => {
            let logger = rc.logger.clone().unwrap_or_default();
            // s6 makes this one under the caller's umask (s6-instance-maker: umask 0)
            match nix::unistd::mkdir(
                &crate::util::cat(dir, b""),
                nix::sys::stat::Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => common::cli::fatal_sys_bytes(PROG, 111, &[b"mkdir ", dir], e),
            }
            let sv = [dir, b"/", &rc.service].concat();
            scripts::write_service(PROG, &sv, &run, Some(&logger));
            let lg = [dir, b"/", &logger].concat();
            scripts::write_logger(
                PROG,
                &lg,
                &execlineb,
                &l,
                Some((&rc.service, rc.pipeline.as_deref())),
            );
        }
        None => {
            scripts::write_service(PROG, dir, &run, None);
            let lg = [dir, b"/log"].concat();
            scripts::write_logger(PROG, &lg, &execlineb, &l, None);
        }
    }
    common::rt::exit(0)
}

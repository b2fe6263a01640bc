//! `s6-alias`: the daemontools and runit names. Most exec the s6 program of the same job
//! (through PATH, argv[0] replaced, every other argument verbatim); `runsvdir` becomes
//! `s6-svscan -t0 DIR`, `svscanboot` `s6-svscanboot -c /dev/console -- /service`, and the
//! names s6 does not emulate refuse with a pointer to what to use instead.

use common::cli::{fatal_bytes, GetOpt, Opt};
use common::exec::exec_prog;
use common::msg::{exit, Prog};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-alias";
pub const USAGE: &str = "s6-alias [ -v ] cmdname options...";
pub const HELP: &str = "\
s6-alias [ -v ] cmdname options...
Run the s6 program behind a daemontools or runit name (also run as that name).
  -v              say which s6 program runs";

/// What an alias name does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Exec this s6 program with the same arguments.
    Exec(&'static str),
    /// `s6-svscan -t0 DIR`.
    Runsvdir,
    /// `s6-svscanboot -c /dev/console -- /service`.
    Svscanboot,
    /// Refuse, exit 100, with this message.
    Refuse(&'static str),
}

const NOBOOT_RUNIT: &str = "s6 does not provide a runit emulation. To boot on a s6 supervision tree, please consider the s6-linux-init package.";
const NOBOOT_RUNIT_INIT: &str = "s6 does not provide a runit-init emulation. To boot on a s6 supervision tree, please consider the s6-linux-init package.";
const NOBOOT_READPROCTITLE: &str = "s6 does not provide a readproctitle emulation. To boot on a s6 supervision tree, please consider the s6-linux-init package.";

/// s6's table, sorted by name.
pub const ALIASES: &[(&str, Action)] = &[
    ("chpst", Action::Exec("s6-alias-chpst")),
    ("envdir", Action::Exec("s6-envdir")),
    ("envuidgid", Action::Exec("s6-envuidgid")),
    ("fghack", Action::Exec("s6-fghack")),
    ("multilog", Action::Exec("s6-log")),
    ("pgrphack", Action::Exec("s6-setsid")),
    ("readproctitle", Action::Refuse(NOBOOT_READPROCTITLE)),
    ("runit", Action::Refuse(NOBOOT_RUNIT)),
    ("runit-init", Action::Refuse(NOBOOT_RUNIT_INIT)),
    ("runsv", Action::Exec("s6-supervise")),
    ("runsvchdir", Action::Refuse("s6 does not provide a runsvchdir emulation. To handle several different sets of services, please consider the s6-rc package.")),
    ("runsvdir", Action::Runsvdir),
    ("setlock", Action::Exec("s6-setlock")),
    ("setuidgid", Action::Exec("s6-setuidgid")),
    ("softlimit", Action::Exec("s6-softlimit")),
    ("supervise", Action::Exec("s6-supervise")),
    ("sv", Action::Exec("s6-alias-sv")),
    ("svc", Action::Exec("s6-svc")),
    ("svlogd", Action::Refuse("the s6-log program is similar to svlogd, but uses a different filtering syntax and does not use a config file in the logdir. Please see https://skarnet.org/software/s6/s6-log.html")),
    ("svok", Action::Exec("s6-svok")),
    ("svscan", Action::Exec("s6-svscan")),
    ("svscanboot", Action::Svscanboot),
    ("svstat", Action::Exec("s6-svstat")),
    ("tai64n", Action::Exec("s6-tai64n")),
    ("tai64nlocal", Action::Exec("s6-tai64nlocal")),
    ("utmpset", Action::Refuse("s6 does not provide a utmpset emulation. To handle utmp records, please consider the s6-linux-init package, along with the utmps package if necessary.")),
];

pub fn lookup(name: &[u8]) -> Option<Action> {
    ALIASES
        .binary_search_by(|(n, _)| n.as_bytes().cmp(name))
        .ok()
        .map(|i| ALIASES[i].1)
}

fn basename(p: &[u8]) -> &[u8] {
    // skalibs' sabasename: trailing slashes are not part of the name.
    let trimmed = match p.iter().rposition(|&c| c != b'/') {
        Some(i) => &p[..=i],
        None => return if p.is_empty() { b"." } else { b"/" },
    };
    trimmed.rsplit(|&c| c == b'/').next().unwrap_or(trimmed)
}

/// The command name, the verbosity and the alias's own argv (its name first).
#[derive(Debug, PartialEq, Eq)]
pub struct Call<'a> {
    pub name: Vec<u8>,
    pub verbosity: u32,
    pub argv: &'a [OsString],
}

#[derive(Debug, PartialEq, Eq)]
pub struct Usage;

/// `argv` includes argv[0].
pub fn parse_call(argv: &[OsString]) -> Result<Call<'_>, Usage> {
    let argv0 = argv.first().map(|a| a.as_bytes()).unwrap_or(b"");
    let base = basename(argv0);
    if base != PROG.as_bytes() {
        return Ok(Call {
            name: base.to_vec(),
            verbosity: 0,
            argv,
        });
    }
    let rest = argv.get(1..).unwrap_or(&[]);
    let mut verbosity = 0;
    let mut g = GetOpt::new(rest, "v");
    while let Some(o) = g.next_opt() {
        match o {
            Ok(Opt::Flag(b'v')) => verbosity += 1,
            _ => return Err(Usage),
        }
    }
    let argv = g.rest();
    let name = argv.first().ok_or(Usage)?.as_bytes().to_vec();
    Ok(Call {
        name,
        verbosity,
        argv,
    })
}

/// runsvdir's options (`P` only) and operands.
pub fn parse_runsvdir(argv: &[OsString]) -> Result<(bool, &[OsString]), Usage> {
    let mut setsid = false;
    let mut g = GetOpt::new(argv.get(1..).unwrap_or(&[]), "P");
    while let Some(o) = g.next_opt() {
        match o {
            Ok(Opt::Flag(b'P')) => setsid = true,
            _ => return Err(Usage),
        }
    }
    Ok((setsid, g.rest()))
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let prog = Prog::new(PROG);
    if basename(args.first().map(|a| a.as_bytes()).unwrap_or(b"")) == PROG.as_bytes() {
        common::cli::help_or_version(args.get(1..).unwrap_or(&[]), HELP);
    }
    let call = match parse_call(&args) {
        Ok(c) => c,
        Err(Usage) => prog.usage(USAGE),
    };
    let Some(action) = lookup(&call.name) else {
        fatal_bytes(PROG, exit::USAGE, &[b"unknown alias: ", &call.name])
    };
    match action {
        Action::Exec(target) => {
            if call.verbosity > 0 {
                common::cli::write_stderr_bytes(&common::cli::line(&[
                    PROG.as_bytes(),
                    b": info: the s6 version of ",
                    &call.name,
                    b" is ",
                    target.as_bytes(),
                ]));
            }
            let mut argv: Vec<OsString> = Vec::with_capacity(call.argv.len());
            argv.push(target.into());
            argv.extend_from_slice(call.argv.get(1..).unwrap_or(&[]));
            exec_prog(PROG, &argv)
        }
        Action::Refuse(msg) => prog.fatal(exit::USAGE, msg),
        Action::Svscanboot => {
            let argv: Vec<OsString> = ["s6-svscanboot", "-c", "/dev/console", "--", "/service"]
                .iter()
                .map(OsString::from)
                .collect();
            exec_prog(PROG, &argv)
        }
        Action::Runsvdir => {
            let (setsid, operands) = match parse_runsvdir(call.argv) {
                Ok(r) => r,
                Err(Usage) => prog.usage(USAGE),
            };
            if setsid {
                prog.warn("-P option ignored: s6-svscan does not run its supervisor processes (s6-supervise) in a new session. However, by default, it runs every service in a new session.");
            }
            if operands.len() >= 2 {
                prog.warn("s6-svscan does not support logging to a readproctitle process. To log the output of your supervision tree, please consider using the s6-linux-init package.");
            }
            if call.verbosity > 0 {
                let mut parts: Vec<&[u8]> =
                    vec![PROG.as_bytes(), b": info: executing command line:"];
                for o in operands {
                    parts.push(b" ");
                    parts.push(o.as_bytes());
                }
                common::cli::write_stderr_bytes(&common::cli::line(&parts));
            }
            let mut argv: Vec<OsString> = vec!["s6-svscan".into(), "-t0".into()];
            if let Some(dir) = operands.first() {
                argv.push(dir.clone());
            }
            exec_prog(PROG, &argv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(ALIASES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(lookup(b"pgrphack"), Some(Action::Exec("s6-setsid")));
        assert_eq!(lookup(b"runsvdir"), Some(Action::Runsvdir));
        assert_eq!(lookup(b"Sv"), None);
        assert_eq!(ALIASES.len(), 26);
    }

    #[test]
    fn calls() {
        let a = os(&["/usr/bin/runsvdir", "-P", "/etc/service"]);
        let c = parse_call(&a).unwrap();
        assert_eq!(
            (c.name.as_slice(), c.verbosity, c.argv),
            (b"runsvdir".as_slice(), 0, &a[..])
        );
        assert_eq!(parse_runsvdir(c.argv), Ok((true, &a[2..])));
        let a = os(&["s6-alias", "-vv", "envdir", "-x"]);
        let c = parse_call(&a).unwrap();
        assert_eq!(
            (c.name.as_slice(), c.verbosity, c.argv),
            (b"envdir".as_slice(), 2, &a[2..])
        );
        assert_eq!(parse_call(&os(&["s6-alias"])), Err(Usage));
        assert_eq!(parse_call(&os(&["s6-alias", "-x", "sv"])), Err(Usage));
        assert_eq!(parse_runsvdir(&os(&["runsvdir", "-x", "d"])), Err(Usage));
        assert_eq!(basename(b"/a/b/"), b"b");
        for a in common::cli::pseudo_random_argv(2000) {
            if let Ok(c) = parse_call(&a) {
                let _ = parse_runsvdir(c.argv);
            }
        }
    }
}

//! `s6-sudo`: exec `s6-ipcclient [-Q|-v...] [-p bindpath] [-l localname] -- path s6-sudoc
//! [-e] -t T -T T -- args...`.

use common::cli::{GetOpt, Opt};
use common::Prog;
use std::ffi::OsString;

const USAGE: &str = "s6-sudo [ -q | -Q | -v ] [ -p bindpath ] [ -l localname ] [ -e ] [ -t timeout ] [ -T timeoutrun ] path [ args... ]";
const HELP: &str = "s6-sudo [ -q | -Q | -v ] [ -p bindpath ] [ -l localname ] [ -e ] [ -t timeout ] [ -T timeoutrun ] path [ args... ]
  -q            quieter s6-ipcclient (repeatable)
  -Q            normal verbosity
  -v            more verbose s6-ipcclient (repeatable)
  -p bindpath   bind the client socket to bindpath
  -l localname  set IPCLOCALPATH to localname
  -e            do not send the environment
  -t timeout    connection timeout in ms (0: none)
  -T timeoutrun run timeout in ms (0: none)";

/// The command line s6-sudo execs, or `None` for a usage error.
pub fn build_argv(args: &[OsString]) -> Option<Vec<OsString>> {
    let mut verbosity: u32 = 1;
    let (mut t, mut tt) = (0u32, 0u32);
    let (mut bindpath, mut localname, mut noenv) = (None, None, false);
    let mut g = GetOpt::new(args, "qQvp:l:et:T:");
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Flag(b'q') => verbosity = verbosity.saturating_sub(1),
            Opt::Flag(b'Q') => verbosity = 1,
            Opt::Flag(b'v') => verbosity = verbosity.saturating_add(1),
            Opt::Flag(b'e') => noenv = true,
            Opt::Arg(b'p', a) => bindpath = Some(a),
            Opt::Arg(b'l', a) => localname = Some(a),
            Opt::Arg(b't', a) => t = common::cli::uint0_scan(a)?,
            Opt::Arg(b'T', a) => tt = common::cli::uint0_scan(a)?,
            _ => return None,
        }
    }
    let rest = g.rest();
    let (path, cargs) = rest.split_first()?;
    let verbosity = verbosity.min(4);
    let mut v: Vec<OsString> = vec!["s6-ipcclient".into()];
    if verbosity == 0 {
        v.push("-Q".into());
    }
    for _ in 1..verbosity {
        v.push("-v".into());
    }
    if let Some(p) = bindpath {
        v.push("-p".into());
        v.push(p.into());
    }
    if let Some(l) = localname {
        v.push("-l".into());
        v.push(l.into());
    }
    v.push("--".into());
    v.push(path.clone());
    v.push("s6-sudoc".into());
    if noenv {
        v.push("-e".into());
    }
    v.extend([
        "-t".into(),
        t.to_string().into(),
        "-T".into(),
        tt.to_string().into(),
    ]);
    v.push("--".into());
    v.extend(cargs.iter().cloned());
    Some(v)
}

pub fn main() -> ! {
    let prog = Prog::new("s6-sudo");
    let args = common::rt::args_os();
    let args = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(args, HELP);
    match build_argv(args) {
        Some(argv) => crate::exec_or_die(prog.name(), &argv),
        None => prog.usage(USAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Option<Vec<String>> {
        let a: Vec<OsString> = a.iter().map(OsString::from).collect();
        build_argv(&a).map(|v| v.into_iter().map(|s| s.into_string().unwrap()).collect())
    }

    #[test]
    fn s6rc_form() {
        assert_eq!(
            argv(&["-el0", "-t", "30000", "-T", "5", "--", "s", "up", "5"]).unwrap(),
            [
                "s6-ipcclient",
                "-l",
                "0",
                "--",
                "s",
                "s6-sudoc",
                "-e",
                "-t",
                "30000",
                "-T",
                "5",
                "--",
                "up",
                "5"
            ]
        );
    }

    #[test]
    fn verbosity_and_usage() {
        assert_eq!(argv(&["-q", "s"]).unwrap()[1], "-Q");
        let v = argv(&["-vvvvv", "s"]).unwrap();
        assert_eq!(v.iter().filter(|a| *a == "-v").count(), 3);
        assert_eq!(argv(&["-qQ", "s"]).unwrap()[1], "--");
        assert_eq!(argv(&[]), None);
        assert_eq!(argv(&["-t", "x", "s"]), None);
        assert_eq!(argv(&["-z", "s"]), None);
    }
}

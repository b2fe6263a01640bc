//! `s6-svdt` (print the death tally) and `s6-svdt-clear` (empty it).
//! Extension: `--help` as the first argument prints a summary on stdout and exits 0.

use common::cli::{fatal_bytes, GetOpt, Opt};
use common::dtally::{self, DeathRecord};
use common::msg::exit;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const PROG: &str = "s6-svdt";
pub const USAGE: &str = "s6-svdt [ -S | -s ] [ -n maxentries ] servicedir";
pub const CLEAR_PROG: &str = "s6-svdt-clear";
pub const CLEAR_USAGE: &str = "s6-svdt-clear servicedir";
/// `S6_MAX_DEATH_TALLY`: default and cap of `-n`.
pub const MAX_ENTRIES: u32 = 4096;

pub const HELP: &str = "\
s6-svdt [ -S | -s ] [ -n maxentries ] servicedir
Print the recorded deaths of the service, oldest first: @TAI64N then 'exitcode N' or
'signal SIGNAME' (-s: signal number; -S: name, the default). -n keeps the newest entries.
Exit: 0 ok; 100 usage; 111 system error.
";
pub const CLEAR_HELP: &str = "\
s6-svdt-clear servicedir
Empty the death tally of the service (atomically). Exit: 0 ok; 100 usage; 111 error.
";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub numeric: bool,
    pub max: u32,
    pub dir: OsString,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    Usage,
    Help,
}

/// Parse `s6-svdt`'s arguments (without the program name). Pure.
pub fn parse_args(args: &[OsString]) -> Result<Request, UsageError> {
    if args.first().map(|a| a.as_bytes()) == Some(b"--help") {
        return Err(UsageError::Help);
    }
    let mut numeric = false;
    let mut max = MAX_ENTRIES;
    let mut g = GetOpt::new(args, "Ssn:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| UsageError::Usage)? {
            Opt::Flag(b'S') => numeric = false,
            Opt::Flag(b's') => numeric = true,
            Opt::Arg(b'n', a) => max = common::cli::uint0_scan(a).ok_or(UsageError::Usage)?,
            _ => return Err(UsageError::Usage),
        }
    }
    let dir = g.rest().first().ok_or(UsageError::Usage)?.clone();
    Ok(Request {
        numeric,
        max: max.min(MAX_ENTRIES),
        dir,
    })
}

/// The output for `records` (pure).
pub fn format(records: &[DeathRecord], numeric: bool) -> String {
    let mut s = String::with_capacity(records.len() * 48);
    for r in records {
        s += &r.describe(numeric);
        s.push('\n');
    }
    s
}

/// Run `s6-svdt`; returns the exit code.
pub fn run(req: Request) -> i32 {
    if req.max == 0 {
        return 0;
    }
    let recs = dtally::read(Path::new(&req.dir), req.max as usize).unwrap_or_else(|e| {
        fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[
                b"unable to read death tally for service ",
                req.dir.as_bytes(),
                b": ",
                common::msg::errno_text(e).as_bytes(),
            ],
        )
    });
    if let Err(e) = common::msg::write_stdout(&format(&recs, req.numeric)) {
        fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[
                b"unable to write to stdout: ",
                common::msg::errno_text(e).as_bytes(),
            ],
        );
    }
    0
}

/// Entry point of `s6-svdt` / `svdt`.
pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let code = match parse_args(&args) {
        Ok(r) => run(r),
        Err(UsageError::Help) => {
            let _ = common::msg::write_stdout(HELP);
            0
        }
        Err(UsageError::Usage) => common::Prog::new(PROG).usage(USAGE),
    };
    common::rt::exit(code)
}

/// Entry point of `s6-svdt-clear` / `svdt-clear` (no option parsing, as s6).
pub fn clear_main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, CLEAR_HELP);
    let Some(dir) = args.first() else {
        common::Prog::new(CLEAR_PROG).usage(CLEAR_USAGE)
    };
    if dir.as_bytes() == b"--help" {
        let _ = common::msg::write_stdout(CLEAR_HELP);
        common::rt::exit(0);
    }
    if let Err(e) = dtally::clear(Path::new(dir)) {
        fatal_bytes(
            CLEAR_PROG,
            exit::SYSTEM,
            &[
                b"unable to clear death tally for service ",
                dir.as_bytes(),
                b": ",
                common::msg::errno_text(e).as_bytes(),
            ],
        );
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::tai::Tai64n;

    fn p(v: &[&str]) -> Result<Request, UsageError> {
        parse_args(&v.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn parsing() {
        assert_eq!(
            p(&["d"]).unwrap(),
            Request {
                numeric: false,
                max: 4096,
                dir: "d".into()
            }
        );
        assert!(!p(&["-s", "-S", "d"]).unwrap().numeric);
        assert!(p(&["-S", "-s", "d"]).unwrap().numeric);
        assert_eq!(p(&["-n", "1", "d"]).unwrap().max, 1);
        assert_eq!(p(&["-n", "99999", "d"]).unwrap().max, 4096);
        for bad in [&[][..], &["-Z", "x"], &["-n", "x", "y"], &["-n"]] {
            assert_eq!(p(bad), Err(UsageError::Usage));
        }
    }

    #[test]
    fn lines_as_observed() {
        let r1 = DeathRecord {
            stamp: Tai64n {
                secs: 0x400000006500000a,
                nanos: 2,
            },
            exitcode: 143,
            sig: 15,
        };
        let r2 = DeathRecord {
            stamp: Tai64n {
                secs: 0x4000000065000000,
                nanos: 1,
            },
            exitcode: 42,
            sig: 0,
        };
        assert_eq!(
            format(&[r2, r1], false),
            "@400000006500000000000001 exitcode 42\n@400000006500000a00000002 signal SIGTERM\n"
        );
        assert_eq!(format(&[r1], true), "@400000006500000a00000002 signal 15\n");
        assert_eq!(format(&[], true), "");
    }
    /// Deterministic pseudo-random command lines never panic the parsers.
    #[test]
    fn parsers_never_panic() {
        for args in common::cli::pseudo_random_argv(5000) {
            let _ = parse_args(&args);
        }
    }
}

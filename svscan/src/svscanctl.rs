//! `s6-svscanctl [ -zabhitqnN ] svscandir`: write command bytes to `.s6-svscan/control`.

use common::cli::{GetOpt, Opt};
use common::control::{self, ControlError};
use common::layout;
use common::msg::{exit, StrError};
use common::{Errno, Prog, SvscanCommand};
use std::ffi::OsString;
use std::path::Path;

pub const USAGE: &str = "s6-svscanctl [ -zabhitqnN ] svscandir";
/// `--help` (our extension, like `--version`; s6 rejects both).
pub const HELP: &str = "\
s6-svscanctl [ -zabhitqnN ] svscandir
Send commands to the s6-svscan running on svscandir (in the order given):
  -a  rescan                       -h  rescan and prune (as -a, then -n)
  -n  stop removed services, loggers with SIGHUP   -N  the same with SIGTERM
  -t  stop everything (loggers drain first), run .s6-svscan/finish   -i  the same
  -q  stop everything with SIGTERM  -b  exit at once, without waiting
  -z  reap zombies
Exit: 0 sent; 100 usage, or s6-svscan not listening; 111 system error.
";
/// At most this many command letters (s6's buffer).
const DATASIZE: usize = 64;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtlArgsError {
    #[error("usage")]
    Usage,
    #[error("too many commands")]
    TooMany,
}

/// The option string: one letter per command byte.
const OPTSTRING: &str = SvscanCommand::LETTERS;

/// Parse the arguments (without `argv[0]`) with s6's option string: returns the command bytes
/// and the scan directory.
pub fn parse(args: &[OsString]) -> Result<(Vec<u8>, OsString), CtlArgsError> {
    let mut data = Vec::new();
    let mut g = GetOpt::new(args, OPTSTRING);
    while let Some(o) = g.next_opt() {
        let Ok(Opt::Flag(c)) = o else {
            return Err(CtlArgsError::Usage);
        };
        if data.len() >= DATASIZE {
            return Err(CtlArgsError::TooMany);
        }
        data.push(c);
    }
    match g.rest().first() {
        Some(d) => Ok((data, d.clone())),
        None => Err(CtlArgsError::Usage),
    }
}

pub fn main() -> ! {
    let p = Prog::new("s6-svscanctl");
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let (data, dir) = match parse(&args) {
        Ok(x) => x,
        Err(CtlArgsError::Usage) => p.usage(USAGE),
        Err(CtlArgsError::TooMany) => p.fatal(exit::USAGE, "too many commands"),
    };
    let shown = dir.to_string_lossy();
    let r = if dir.is_empty() {
        // s6 opens "/.s6-svscan/control" and then fails to open "" as a directory.
        Err(ControlError::Io(Errno::ENOENT))
    } else {
        control::send(Path::new(&dir), layout::SVSCAN_DIR, &data)
    };
    match r {
        Ok(()) => common::rt::exit(0),
        Err(ControlError::NotListening) => p.fatal(
            exit::USAGE,
            format_args!("unable to control {shown}: supervisor not listening"),
        ),
        Err(ControlError::Broken(e)) => p.fatal(
            exit::USAGE,
            format_args!(
                "something is wrong with the {shown}/.s6-svscan directory. errno reported: {}",
                StrError(e)
            ),
        ),
        Err(ControlError::Io(e)) => p.fatal(
            exit::SYSTEM,
            format_args!("unable to control {shown}: {}", StrError(e)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<(Vec<u8>, OsString), CtlArgsError> {
        parse(&a.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn letters_in_order() {
        assert_eq!(
            p(&["-zabh", "-itqnN", "d"]).unwrap(),
            (b"zabhitqnN".to_vec(), OsString::from("d"))
        );
        assert_eq!(p(&["d"]).unwrap(), (vec![], OsString::from("d")));
        assert_eq!(p(&["-a", "--", "-d"]).unwrap().1, OsString::from("-d"));
        assert_eq!(p(&["-a", "-"]).unwrap().1, OsString::from("-"));
    }

    #[test]
    fn usage_errors() {
        for a in [&[][..], &["-Z", "x"], &["-p", "x"], &["-0", "x"], &["-a"]] {
            assert_eq!(p(a), Err(CtlArgsError::Usage), "{a:?}");
        }
        let many = format!("-{}", "a".repeat(65));
        assert_eq!(p(&[&many, "d"]), Err(CtlArgsError::TooMany));
        let ok = format!("-{}", "a".repeat(64));
        assert_eq!(p(&[&ok, "d"]).unwrap().0.len(), 64);
    }
}

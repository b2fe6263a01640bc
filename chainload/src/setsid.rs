//! `s6-setsid`: a new session, or a new process group (background or foreground), then
//! exec prog. 2.15's command line (skalibs `gol`: short options plus long ones).
//!
//! Deliberate difference (upstream bug): for `-g` s6 "ignores" SIGTTOU with a do-nothing
//! SA_RESTART handler, so a `tcsetpgrp` from a background group is interrupted and restarted
//! forever (100% CPU). We set SIGTTOU to SIG_IGN around the call and back to SIG_DFL before
//! the exec (what prog gets from s6 too: a caught signal is reset by exec).

use common::exec::exec_prog;
use common::msg::{exit, Prog, StrError};
use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-setsid";
pub const USAGE: &str = "s6-setsid [ -s | -b | -f | -g ] [ -i | -I | -q ] [ -d ctty ] prog...";
pub const HELP: &str = "\
s6-setsid [ -s | -b | -f | -g ] [ -i | -I | -q ] [ -d ctty ] prog...
Run prog as a session leader or process group leader.
  -s, --session                           new session (the default)
  -b, --background-process-group          new process group in the background
  -f, --foreground-process-group          new process group, made the terminal's foreground
  -g, --foreground-process-group-grab     as -f, even from a background group
  -i, --strict                            failures are fatal
  -I, --no-strict                         failures are warnings (the default)
  -q, --quiet                             failures are silent
  -d ctty, --ctty=ctty                    the terminal's fd (default: /dev/tty)";

pub const PGRP: u8 = 0x01;
pub const FG: u8 = 0x02;
pub const GRAB: u8 = 0x04;
pub const STRICT: u8 = 0x08;
pub const SILENT: u8 = 0x10;

/// A boolean option: its short letter (0: none), long name, bits cleared, bits set.
struct BoolOpt {
    short: u8,
    long: &'static str,
    clear: u8,
    set: u8,
}

const BOOLS: &[BoolOpt] = &[
    BoolOpt {
        short: b's',
        long: "session",
        clear: PGRP | FG | GRAB,
        set: 0,
    },
    BoolOpt {
        short: 0,
        long: "process-group",
        clear: 0,
        set: PGRP,
    },
    BoolOpt {
        short: b'b',
        long: "background-process-group",
        clear: FG | GRAB,
        set: PGRP,
    },
    BoolOpt {
        short: 0,
        long: "foreground",
        clear: 0,
        set: FG,
    },
    BoolOpt {
        short: b'f',
        long: "foreground-process-group",
        clear: GRAB,
        set: PGRP | FG,
    },
    BoolOpt {
        short: 0,
        long: "grab",
        clear: 0,
        set: GRAB,
    },
    BoolOpt {
        short: b'g',
        long: "foreground-process-group-grab",
        clear: 0,
        set: PGRP | FG | GRAB,
    },
    BoolOpt {
        short: b'I',
        long: "no-strict",
        clear: STRICT,
        set: 0,
    },
    BoolOpt {
        short: b'i',
        long: "strict",
        clear: 0,
        set: STRICT,
    },
    BoolOpt {
        short: b'q',
        long: "quiet",
        clear: 0,
        set: SILENT,
    },
];

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a, A = OsString> {
    pub flags: u8,
    /// `-d`: the terminal's fd.
    pub ctty: Option<u32>,
    pub prog: &'a [A],
}

/// Why the command line is refused (exit 100).
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    /// `unrecognized short option: X`
    Short(u8),
    /// `invalid option: ARG` (`--=x`)
    Invalid(OsString),
    /// `unrecognized boolean option: ARG`
    Boolean(OsString),
    /// `unrecognized option with argument: ARG`
    WithArg(OsString),
}

/// skalibs' `gol` over s6-setsid's option table.
pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Result<Request<'_, A>, ParseError> {
    let mut flags = 0u8;
    let mut ctty_arg: Option<&OsStr> = None;
    // What is left of the command line: options are taken off its front.
    let mut rest = args;
    while let Some((arg, after)) = rest.split_first() {
        let arg = arg.as_ref();
        let opts = match arg.as_bytes() {
            [b'-', opts @ ..] if !opts.is_empty() => opts,
            _ => break,
        };
        rest = after;
        if let [b'-', body @ ..] = opts {
            if body.is_empty() {
                break;
            }
            let mut name_value = body.splitn(2, |&c| c == b'=');
            let name = name_value.next().unwrap_or_default();
            match name_value.next() {
                Some(_) if name.is_empty() => return Err(ParseError::Invalid(arg.to_os_string())),
                Some(value) if name == b"ctty" => ctty_arg = Some(OsStr::from_bytes(value)),
                Some(_) => return Err(ParseError::WithArg(arg.to_os_string())),
                None => {
                    let b = BOOLS
                        .iter()
                        .find(|b| b.long.as_bytes() == body)
                        .ok_or_else(|| ParseError::Boolean(arg.to_os_string()))?;
                    flags = (flags & !b.clear) | b.set;
                }
            }
        } else {
            let mut letters = opts.iter();
            while let Some(&c) = letters.next() {
                if c == b'd' {
                    let attached = letters.as_slice();
                    if !attached.is_empty() {
                        ctty_arg = Some(OsStr::from_bytes(attached));
                    } else if let Some((next, after_next)) = rest.split_first() {
                        if next.as_ref().as_bytes() != b"--" {
                            ctty_arg = Some(next.as_ref());
                            rest = after_next;
                        }
                    }
                    break;
                }
                let b = BOOLS
                    .iter()
                    .find(|b| b.short != 0 && b.short == c)
                    .ok_or(ParseError::Short(c))?;
                flags = (flags & !b.clear) | b.set;
            }
        }
    }
    let prog = rest;
    if prog.is_empty() {
        return Err(ParseError::Usage);
    }
    let ctty = match ctty_arg {
        Some(v) => Some(common::users::u32_scan_all(v.as_bytes()).ok_or(ParseError::Usage)?),
        None => None,
    };
    Ok(Request { flags, ctty, prog })
}

fn failed(prog: &Prog, flags: u8, what: &str, e: Errno) {
    if flags & STRICT != 0 {
        prog.fatal(
            exit::SYSTEM,
            format_args!("unable to {what}: {}", StrError(e)),
        );
    }
    if flags & SILENT == 0 {
        prog.warn(format_args!("unable to {what}: {}", StrError(e)));
    }
}

fn set_sigttou(handler: libc::sighandler_t) {
    // SAFETY: SIG_IGN / SIG_DFL dispositions, no handler code involved.
    unsafe { libc::signal(libc::SIGTTOU, handler) };
}

pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let prog = Prog::new(PROG);
    let req = match parse_args(&args) {
        Ok(r) => r,
        Err(ParseError::Usage) => prog.usage(USAGE),
        Err(ParseError::Short(c)) => prog.fatal(
            exit::USAGE,
            format_args!("unrecognized short option: {}", c as char),
        ),
        Err(ParseError::Invalid(a)) => {
            common::cli::fatal_bytes(PROG, exit::USAGE, &[b"invalid option: ", a.as_bytes()])
        }
        Err(ParseError::Boolean(a)) => common::cli::fatal_bytes(
            PROG,
            exit::USAGE,
            &[b"unrecognized boolean option: ", a.as_bytes()],
        ),
        Err(ParseError::WithArg(a)) => common::cli::fatal_bytes(
            PROG,
            exit::USAGE,
            &[b"unrecognized option with argument: ", a.as_bytes()],
        ),
    };
    let flags = req.flags;
    let ctty: i32 = match req.ctty {
        Some(n) => n as i32,
        None if flags & (PGRP | FG) == PGRP | FG => {
            match nix::fcntl::open(
                "/dev/tty",
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) {
                // Kept open (close-on-exec) until the exec.
                Ok(fd) => std::os::fd::IntoRawFd::into_raw_fd(fd),
                Err(e) => prog.fatal(
                    exit::SYSTEM,
                    format_args!("unable to open /dev/tty: {}", StrError(e)),
                ),
            }
        }
        None => 0,
    };
    if flags & PGRP != 0 {
        if let Err(e) =
            nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))
        {
            failed(&prog, flags, "setpgid", e);
        }
        if flags & FG != 0 {
            if flags & GRAB != 0 {
                set_sigttou(libc::SIG_IGN);
            }
            let me = nix::unistd::getpid().as_raw();
            // SAFETY: tcsetpgrp on a plain fd number: at worst EBADF / ENOTTY.
            let r = unsafe { libc::tcsetpgrp(ctty, me) };
            let e = Errno::last();
            if flags & GRAB != 0 {
                set_sigttou(libc::SIG_DFL);
            }
            if r == -1 {
                failed(&prog, flags, "tcsetpgrp", e);
            }
        }
    } else if let Err(e) = nix::unistd::setsid() {
        failed(&prog, flags, "setsid", e);
    }
    exec_prog(PROG, req.prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn flags(v: &[&str]) -> u8 {
        parse_args(&os(v)).unwrap().flags
    }

    #[test]
    fn modes_and_precedence() {
        assert_eq!(flags(&["p"]), 0);
        assert_eq!(flags(&["-g", "p"]), PGRP | FG | GRAB);
        assert_eq!(flags(&["-gs", "p"]), 0);
        assert_eq!(flags(&["-f", "p"]), PGRP | FG);
        assert_eq!(flags(&["-gb", "p"]), PGRP);
        assert_eq!(flags(&["-iq", "p"]), STRICT | SILENT);
        assert_eq!(flags(&["-iI", "p"]), 0);
        assert_eq!(flags(&["--foreground", "p"]), FG);
        assert_eq!(flags(&["--process-group", "--grab", "p"]), PGRP | GRAB);
        let a = os(&["-gq", "-d", "3", "p"]);
        assert_eq!(parse_args(&a).unwrap().ctty, Some(3));
        let a = os(&["-d7", "p"]);
        assert_eq!(parse_args(&a).unwrap().ctty, Some(7));
        let a = os(&["--ctty=4", "p"]);
        assert_eq!(parse_args(&a).unwrap().ctty, Some(4));
        let a = os(&["-d", "--", "p"]);
        let r = parse_args(&a).unwrap();
        assert_eq!((r.ctty, r.prog), (None, &a[2..]));
    }

    #[test]
    fn errors() {
        for bad in [
            &[][..],
            &["-q"],
            &["-d", "x", "t"],
            &["-d", "-1", "t"],
            &["-d"],
        ] {
            assert_eq!(parse_args(&os(bad)), Err(ParseError::Usage), "{bad:?}");
        }
        assert_eq!(parse_args(&os(&["-x", "t"])), Err(ParseError::Short(b'x')));
        assert_eq!(
            parse_args(&os(&["--foo", "t"])),
            Err(ParseError::Boolean("--foo".into()))
        );
        assert_eq!(
            parse_args(&os(&["--ctty", "t"])),
            Err(ParseError::Boolean("--ctty".into()))
        );
        assert_eq!(
            parse_args(&os(&["--foo=1", "t"])),
            Err(ParseError::WithArg("--foo=1".into()))
        );
        assert_eq!(
            parse_args(&os(&["--=x", "t"])),
            Err(ParseError::Invalid("--=x".into()))
        );
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a);
        }
    }
}

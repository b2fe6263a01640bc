//! `s6-alias-sv` (`sv`): runit's sv on top of s6-svc, s6-svstat and s6-svwait, which it
//! spawns through PATH. The exit code is the number of services that failed.

use common::cli::{GetOpt, Opt};
use common::msg::{errno_text, exit, Prog};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::Command;

pub const PROG: &str = "s6-alias-sv";
pub const USAGE: &str = "s6-alias-sv [ -v ] [ -w sec ] command services...";
pub const HELP: &str = "\
s6-alias-sv [ -v ] [ -w sec ] command services...
runit's sv, on s6: status, up, down, once, pause, cont, hup, alarm, interrupt, quit, 1, 2,
term, kill, exit, start, stop, restart, reload, shutdown, try-restart, check, force-*.
  -v              wait for the plain commands to take effect, then print the status
  -w sec          how long to wait (default $SVWAIT, else 7)
Bare service names are looked up in $SVDIR (default /run/service).";

/// The default scan directory (s6-linux-init's, not runit's /service).
pub const DEFAULT_SVDIR: &[u8] = b"/run/service";
/// The default wait, seconds.
pub const DEFAULT_WAIT: u32 = 7;

const WARN_NOLOG: &str =
    "s6-svc only sends commands to a single service, even if it has a dedicated logger";
const WARN_NOKILL: &str =
    "s6-supervise pilots a kill signal via the timeout-kill file in the service directory";

/// What a command word does (s6's handler functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command_ {
    Status,
    /// A signal/command letter for s6-svc, never waiting.
    Simple(&'static str),
    /// Without -v `svc(simple)`, with -v `wait(waitfor, complex)` + status.
    Action {
        simple: &'static str,
        complex: &'static str,
        waitfor: u8,
    },
    Bail,
    Check,
    Reload,
    Restart,
    Start,
    Stop,
    Shutdown,
    TryRestart,
    /// Warn about the kill timeout, then the inner command.
    Force(&'static Command_),
}

use Command_ as C;

const DOWN: C = C::Action {
    simple: "-d",
    complex: "-d",
    waitfor: b'D',
};
const BAIL: C = C::Bail;
const TRY_RESTART: C = C::TryRestart;
const RELOAD: C = C::Reload;
const RESTART: C = C::Restart;
const SHUTDOWN: C = C::Shutdown;
const STOP: C = C::Stop;

/// s6's command table, sorted by word.
pub const COMMANDS: &[(&str, C)] = &[
    ("1", C::Simple("-1")),
    ("2", C::Simple("-2")),
    ("D", C::Force(&DOWN)),
    ("E", C::Force(&BAIL)),
    ("T", C::Force(&TRY_RESTART)),
    ("X", C::Force(&BAIL)),
    ("a", C::Simple("-a")),
    ("al", C::Simple("-a")),
    ("ala", C::Simple("-a")),
    ("alar", C::Simple("-a")),
    ("alarm", C::Simple("-a")),
    (
        "c",
        C::Action {
            simple: "-c",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    ("check", C::Check),
    (
        "co",
        C::Action {
            simple: "-c",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    (
        "con",
        C::Action {
            simple: "-c",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    (
        "cont",
        C::Action {
            simple: "-c",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    ("d", DOWN),
    ("do", DOWN),
    ("dow", DOWN),
    ("down", DOWN),
    ("e", C::Bail),
    ("ex", C::Bail),
    ("exi", C::Bail),
    ("exit", C::Bail),
    ("force-reload", C::Force(&RELOAD)),
    ("force-restart", C::Force(&RESTART)),
    ("force-shutdown", C::Force(&SHUTDOWN)),
    ("force-stop", C::Force(&STOP)),
    ("h", C::Simple("-h")),
    ("hu", C::Simple("-h")),
    ("hup", C::Simple("-h")),
    ("i", C::Simple("-i")),
    ("in", C::Simple("-i")),
    ("int", C::Simple("-i")),
    ("inte", C::Simple("-i")),
    ("inter", C::Simple("-i")),
    ("interr", C::Simple("-i")),
    ("interru", C::Simple("-i")),
    ("interrup", C::Simple("-i")),
    ("interrupt", C::Simple("-i")),
    ("k", C::Simple("-k")),
    ("ki", C::Simple("-k")),
    ("kil", C::Simple("-k")),
    ("kill", C::Simple("-k")),
    (
        "o",
        C::Action {
            simple: "-o",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    (
        "on",
        C::Action {
            simple: "-o",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    (
        "onc",
        C::Action {
            simple: "-o",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    (
        "once",
        C::Action {
            simple: "-o",
            complex: "-o",
            waitfor: b'U',
        },
    ),
    ("p", C::Simple("-p")),
    ("pa", C::Simple("-p")),
    ("pau", C::Simple("-p")),
    ("paus", C::Simple("-p")),
    ("pause", C::Simple("-p")),
    ("q", C::Simple("-q")),
    ("qu", C::Simple("-q")),
    ("qui", C::Simple("-q")),
    ("quit", C::Simple("-q")),
    ("reload", C::Reload),
    ("restart", C::Restart),
    ("s", C::Status),
    ("shutdown", C::Shutdown),
    ("st", C::Status),
    ("sta", C::Status),
    ("start", C::Start),
    ("stat", C::Status),
    ("statu", C::Status),
    ("status", C::Status),
    ("stop", C::Stop),
    (
        "t",
        C::Action {
            simple: "-t",
            complex: "-r",
            waitfor: b'R',
        },
    ),
    (
        "te",
        C::Action {
            simple: "-t",
            complex: "-r",
            waitfor: b'R',
        },
    ),
    (
        "ter",
        C::Action {
            simple: "-t",
            complex: "-r",
            waitfor: b'R',
        },
    ),
    (
        "term",
        C::Action {
            simple: "-t",
            complex: "-r",
            waitfor: b'R',
        },
    ),
    ("try-restart", C::TryRestart),
    (
        "u",
        C::Action {
            simple: "-u",
            complex: "-u",
            waitfor: b'U',
        },
    ),
    (
        "up",
        C::Action {
            simple: "-u",
            complex: "-u",
            waitfor: b'U',
        },
    ),
    ("x", C::Bail),
];

pub fn lookup(word: &[u8]) -> Option<C> {
    COMMANDS
        .binary_search_by(|(n, _)| n.as_bytes().cmp(word))
        .ok()
        .and_then(|i| COMMANDS.get(i))
        .map(|&(_, c)| c)
}

/// Why the command line is refused (exit 100).
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    UnknownCommand(OsString),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub wait: bool,
    pub secs: u32,
    pub command: C,
    pub services: &'a [OsString],
}

/// skalibs' `uint320_scan` side effect included: leading digits are stored even when the
/// whole word is not a number.
fn scan_secs(v: &[u8], secs: &mut u32) -> bool {
    let (n, len) = common::users::u32_scan(v);
    if len > 0 {
        *secs = n;
    }
    len > 0 && len == v.len()
}

/// `secs`: the SVWAIT default already applied.
pub fn parse_args(args: &[OsString], mut secs: u32) -> Result<Request<'_>, ParseError> {
    let mut wait = false;
    let mut g = GetOpt::new(args, "vw:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| ParseError::Usage)? {
            Opt::Flag(b'v') => wait = true,
            Opt::Arg(b'w', v) => {
                if !scan_secs(v.as_bytes(), &mut secs) {
                    return Err(ParseError::Usage);
                }
            }
            _ => return Err(ParseError::Usage),
        }
    }
    let [word, services @ ..] = g.rest() else {
        return Err(ParseError::Usage);
    };
    if services.is_empty() {
        return Err(ParseError::Usage);
    }
    let command =
        lookup(word.as_bytes()).ok_or_else(|| ParseError::UnknownCommand(word.clone()))?;
    Ok(Request {
        wait,
        secs,
        command,
        services,
    })
}

/// Whether a service argument is a path, used as is, rather than a name in $SVDIR.
pub fn is_path(a: &[u8]) -> bool {
    a.first() == Some(&b'/')
        || a.last() == Some(&b'/')
        || a == b"."
        || a == b".."
        || a.starts_with(b"./")
        || a.starts_with(b"../")
}

struct Sv {
    prog: Prog,
    wait: bool,
    ms: u32,
}

fn out(b: &[u8]) {
    let _ = common::fsio::write_all(std::io::stdout(), b);
}

impl Sv {
    /// Spawn the helper `name` through PATH with `args`, wait for it: 0 if it exited 0, else 1.
    fn spawn(&self, name: &str, args: &[&OsStr]) -> u32 {
        let mut cmd = Command::new(name);
        cmd.args(args);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                common::cli::warn_bytes(
                    PROG,
                    &[
                        b"unable to spawn ",
                        name.as_bytes(),
                        b": ",
                        errno_text(common::msg::errno_of(&e)).as_bytes(),
                    ],
                );
                return 1;
            }
        };
        match child.wait() {
            Ok(st) => u32::from(!st.success()),
            Err(e) => {
                common::cli::warn_bytes(
                    PROG,
                    &[
                        b"unable to wait for ",
                        name.as_bytes(),
                        b": ",
                        errno_text(common::msg::errno_of(&e)).as_bytes(),
                    ],
                );
                1
            }
        }
    }

    fn simple_svc(&self, dir: &OsStr, options: &str) -> u32 {
        self.spawn("s6-svc", &[OsStr::new(options), OsStr::new("--"), dir])
    }

    fn complex_svc(&self, dir: &OsStr, order: &str, waitfor: u8) -> u32 {
        let warg = OsString::from_vec(vec![b'-', b'w', waitfor]);
        let t = OsString::from(format!("-T{}", self.ms));
        self.spawn(
            "s6-svc",
            &[&warg, &t, OsStr::new(order), OsStr::new("--"), dir],
        )
    }

    fn status(&self, dir: &OsStr) -> u32 {
        let d = dir.as_bytes();
        out(&[d, b": "].concat());
        let mut e = self.spawn("s6-svstat", &[OsStr::new("--"), dir]);
        if d.len() < 5 || !d.ends_with(b"/log") {
            let log = OsString::from_vec([d, b"/log"].concat());
            match std::fs::metadata(&log) {
                Err(err) => {
                    let errno = common::msg::errno_of(&err);
                    if errno != nix::errno::Errno::ENOENT {
                        common::cli::warn_bytes(
                            PROG,
                            &[
                                b"unable to stat",
                                log.as_bytes(),
                                b": ",
                                errno_text(errno).as_bytes(),
                            ],
                        );
                        e = 1;
                    }
                }
                Ok(m) if m.is_dir() => {
                    out(&[log.as_bytes(), b": "].concat());
                    e |= self.spawn("s6-svstat", &[OsStr::new("--"), &log]);
                }
                Ok(_) => {}
            }
        }
        e
    }

    fn run(&self, cmd: C, dir: &OsStr) -> u32 {
        match cmd {
            C::Status => self.status(dir),
            C::Simple(o) => self.simple_svc(dir, o),
            C::Action {
                simple,
                complex,
                waitfor,
            } => {
                if self.wait {
                    let e = self.complex_svc(dir, complex, waitfor);
                    e | self.status(dir)
                } else {
                    self.simple_svc(dir, simple)
                }
            }
            C::Bail => {
                self.prog.warn(WARN_NOLOG);
                if self.wait {
                    let mut e = self.complex_svc(dir, "-d", b'D');
                    e |= self.status(dir);
                    e | self.simple_svc(dir, "-x")
                } else {
                    self.simple_svc(dir, "-xd")
                }
            }
            C::Check => {
                let Ok(st) = common::status::StatusRecord::read(Path::new(dir)) else {
                    return 1;
                };
                let warg = if st.want_up { "-U" } else { "-D" };
                let t = OsString::from(format!("-t{}", self.ms));
                let e = self.spawn("s6-svwait", &[OsStr::new(warg), &t, OsStr::new("--"), dir]);
                e | self.status(dir)
            }
            C::Reload => {
                self.simple_svc(dir, "-h");
                self.status(dir)
            }
            C::Restart => self.complex_svc(dir, "-ru", b'U') | self.status(dir),
            C::Start => self.complex_svc(dir, "-u", b'U') | self.status(dir),
            C::Stop => self.complex_svc(dir, "-d", b'D') | self.status(dir),
            C::Shutdown => {
                self.prog.warn(WARN_NOLOG);
                let mut e = self.complex_svc(dir, "-d", b'D');
                e |= self.status(dir);
                e | self.simple_svc(dir, "-x")
            }
            C::TryRestart => {
                let mut e = 0;
                if let Ok(st) = common::status::StatusRecord::read(Path::new(dir)) {
                    if st.want_up && st.pid != 0 && !st.finishing {
                        e = self.complex_svc(dir, "-r", b'U');
                    }
                }
                e | self.status(dir)
            }
            C::Force(inner) => {
                self.prog.warn(WARN_NOKILL);
                self.run(*inner, dir)
            }
        }
    }
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let prog = Prog::new(PROG);
    let svdir: Vec<u8> = std::env::var_os("SVDIR")
        .map(|v| v.into_vec())
        .unwrap_or_else(|| DEFAULT_SVDIR.to_vec());
    let mut secs = DEFAULT_WAIT;
    if let Some(x) = std::env::var_os("SVWAIT") {
        if !scan_secs(x.as_bytes(), &mut secs) {
            prog.warn("invalid SVWAIT value");
        }
    }
    let req = match parse_args(&args, secs) {
        Ok(r) => r,
        Err(ParseError::Usage) => prog.usage(USAGE),
        Err(ParseError::UnknownCommand(w)) => {
            common::cli::fatal_bytes(PROG, exit::USAGE, &[b"unknown command: ", w.as_bytes()])
        }
    };
    let sv = Sv {
        prog,
        wait: req.wait,
        ms: req.secs.wrapping_mul(1000),
    };
    let mut failed: u32 = 0;
    for a in req.services {
        let name = a.as_bytes();
        if name.is_empty() {
            continue;
        }
        if is_path(name) {
            failed += sv.run(req.command, a);
            continue;
        }
        let joined = OsString::from_vec([&svdir[..], b"/", name].concat());
        match std::fs::metadata(&joined) {
            Ok(m) if m.is_dir() => failed += sv.run(req.command, &joined),
            Ok(_) => failed += sv.run(req.command, a),
            Err(e) => {
                let errno = common::msg::errno_of(&e);
                if errno == nix::errno::Errno::ENOENT {
                    failed += sv.run(req.command, a);
                } else {
                    failed += 1;
                    common::cli::warn_bytes(
                        PROG,
                        &[
                            b"unable to stat ",
                            joined.as_bytes(),
                            b": ",
                            errno_text(errno).as_bytes(),
                        ],
                    );
                }
            }
        }
    }
    common::rt::exit(failed as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn table() {
        assert!(COMMANDS.windows(2).all(|w| w[0].0 < w[1].0));
        for bad in [
            "stat2",
            "upx",
            "ch",
            "Status",
            "r",
            "downs",
            "force-try-restart",
        ] {
            assert_eq!(lookup(bad.as_bytes()), None);
        }
        assert_eq!(lookup(b"interrupt"), Some(C::Simple("-i")));
    }

    #[test]
    fn parse() {
        for bad in [
            &[][..],
            &["status"],
            &["-v", "up"],
            &["-w", "3", "status"],
            &["-w", "abc", "s", "x"],
            &["-x", "s", "x"],
        ] {
            assert_eq!(parse_args(&os(bad), 7), Err(ParseError::Usage), "{bad:?}");
        }
        assert_eq!(
            parse_args(&os(&["foo", "x"]), 7),
            Err(ParseError::UnknownCommand("foo".into()))
        );
        let a = os(&["-v", "-w", "30", "stop", "app"]);
        let r = parse_args(&a, 7).unwrap();
        assert_eq!(
            (r.wait, r.secs, r.command, r.services),
            (true, 30, STOP, &a[4..])
        );
        let mut s = 7;
        assert!(!scan_secs(b"5x", &mut s));
        assert_eq!(s, 5);
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a, 7);
        }
    }

    #[test]
    fn paths() {
        for p in ["/a", "a/", ".", "..", "./a", "../a"] {
            assert!(is_path(p.as_bytes()), "{p}");
        }
        for n in ["a", "a/b", ".a", "..a"] {
            assert!(!is_path(n.as_bytes()), "{n}");
        }
    }
}

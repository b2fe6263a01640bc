//! `s6-svwait`, `s6-svlisten1` and `s6-svlisten` (2.15.1): wait for services to reach a
//! state, the latter two after spawning a program (typically an `s6-svc` command) once
//! they have subscribed, so that no event can be missed.
//!
//! All three subscribe in-process (no `s6-ftrigrd` helper). Beyond s6: `--help` as the
//! first argument prints a summary on stdout and exits 0.

use crate::listen::{self, Phase, Session, Want};
use common::cli::{fatal_bytes, GetOpt, Opt};
use common::msg::exit;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub const SVWAIT_USAGE: &str =
    "s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...";
pub const SVLISTEN1_USAGE: &str =
    "s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog...";
pub const SVLISTEN_USAGE: &str = "s6-svlisten [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir... \"\" prog...";

const HELP_STATES: &str = "  -u  up (default)      -U  up and ready (readiness notified)
  -d  down              -D  down and ready (./finish done)
  -r  restarted         -R  restarted and ready
  -t ms   give up after ms milliseconds (exit 99); 0 = never
Exit: 0 reached; 99 timed out; n = number of services that failed permanently or whose
supervisor died; 100 usage; 111 system error.
";

/// The program variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Svwait,
    Svlisten1,
    Svlisten,
}

impl Kind {
    pub fn prog(self) -> &'static str {
        match self {
            Kind::Svwait => "s6-svwait",
            Kind::Svlisten1 => "s6-svlisten1",
            Kind::Svlisten => "s6-svlisten",
        }
    }

    pub fn usage(self) -> &'static str {
        match self {
            Kind::Svwait => SVWAIT_USAGE,
            Kind::Svlisten1 => SVLISTEN1_USAGE,
            Kind::Svlisten => SVLISTEN_USAGE,
        }
    }

    fn optstring(self) -> &'static str {
        match self {
            Kind::Svwait => "UudDrRaot:",
            Kind::Svlisten1 => "uUdDrRt:",
            Kind::Svlisten => "uUdDrRaot:",
        }
    }

    pub fn help(self) -> String {
        let what = match self {
            Kind::Svwait => "Wait until the services reach a state (-a: all of them, default; -o: any).\n",
            Kind::Svlisten1 => "Subscribe to servicedir's events, spawn prog..., wait until the service reaches a state.\n",
            Kind::Svlisten => "Subscribe to the services' events, spawn prog..., wait until they reach a state\n(-a: all, default; -o: any). The servicedir list ends with an empty argument.\n",
        };
        format!("{}\n{what}{HELP_STATES}", self.usage())
    }
}

/// A parsed command line of one of the three programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub want: Want,
    /// `-o` (any) rather than `-a` (all).
    pub or: bool,
    /// `-t`, milliseconds; 0 = forever.
    pub timeout_ms: u32,
    pub dirs: Vec<OsString>,
    /// The program to spawn (`s6-svlisten1`, `s6-svlisten`); empty for `s6-svwait`.
    pub prog: Vec<OsString>,
    /// `s6-svlisten` only: `-o` given with `-r`/`-R` (a warning is printed, `-a` is used).
    pub or_downgraded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    Usage,
    /// `unterminated servicedir block` (s6-svlisten)
    Unterminated,
    Help,
}

/// Parse the arguments (without the program name). Pure.
pub fn parse_args(kind: Kind, args: &[OsString]) -> Result<Request, UsageError> {
    if args.first().map(|a| a.as_bytes()) == Some(b"--help") {
        return Err(UsageError::Help);
    }
    let mut want = Want::Up;
    let mut or = false;
    let mut timeout_ms = 0;
    let mut g = GetOpt::new(args, kind.optstring());
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| UsageError::Usage)? {
            Opt::Flag(b'a') => or = false,
            Opt::Flag(b'o') => or = true,
            Opt::Flag(c) => want = Want::from_letter(c).ok_or(UsageError::Usage)?,
            Opt::Arg(b't', a) => {
                timeout_ms = common::cli::uint0_scan(a).ok_or(UsageError::Usage)?
            }
            Opt::Arg(..) => return Err(UsageError::Usage),
        }
    }
    let rest = g.rest();
    let mut req = Request {
        want,
        or,
        timeout_ms,
        dirs: Vec::new(),
        prog: Vec::new(),
        or_downgraded: false,
    };
    match kind {
        Kind::Svwait => req.dirs = rest.to_vec(),
        Kind::Svlisten1 => {
            let Some((dir, prog)) = rest.split_first().filter(|(_, p)| !p.is_empty()) else {
                return Err(UsageError::Usage);
            };
            req.dirs = vec![dir.clone()];
            req.prog = prog.to_vec();
        }
        Kind::Svlisten => {
            if rest.len() < 3 {
                return Err(UsageError::Usage);
            }
            // An execline-style block: ends at the first empty argument; a leading space
            // in a block argument is stripped.
            let end = rest.iter().position(|a| a.is_empty());
            let Some(end) = end else {
                return Err(UsageError::Unterminated);
            };
            let (block, after) = rest.split_at(end);
            let prog = after.get(1..).unwrap_or(&[]);
            if prog.is_empty() {
                return Err(UsageError::Usage);
            }
            req.dirs = block
                .iter()
                .map(|a| match a.as_bytes().strip_prefix(b" ") {
                    Some(s) => OsString::from(std::ffi::OsStr::from_bytes(s)),
                    None => a.clone(),
                })
                .collect();
            req.prog = prog.to_vec();
            if want.is_restart() && or {
                req.or = false;
                req.or_downgraded = true;
            }
        }
    }
    Ok(req)
}

/// `s6-svlisten`'s servicedir-block arguments that are not execline-quoted (do not start
/// with a space), with their position in the block: s6 warns about them when
/// `EXECLINE_STRICT` is 1 and dies (100) when it is 2 or more. Empty when the command line
/// is a usage error before the block is read. Pure.
pub fn unquoted_block_args(args: &[OsString]) -> Vec<(usize, OsString)> {
    let mut g = GetOpt::new(args, Kind::Svlisten.optstring());
    while let Some(o) = g.next_opt() {
        if o.is_err() {
            return Vec::new();
        }
    }
    let rest = g.rest();
    if rest.len() < 3 {
        return Vec::new();
    }
    rest.iter()
        .take_while(|a| !a.is_empty())
        .enumerate()
        .filter(|(_, a)| !a.as_bytes().starts_with(b" "))
        .map(|(i, a)| (i, a.clone()))
        .collect()
}

fn execline_strict_checks(args: &[OsString]) {
    let strict = std::env::var_os("EXECLINE_STRICT")
        .and_then(|v| {
            // uint0_scan semantics, but s6 keeps 0 on a parse failure.
            common::cli::uint0_scan(&v)
        })
        .unwrap_or(0);
    if strict == 0 {
        return;
    }
    for (i, a) in unquoted_block_args(args) {
        let pos = i.to_string();
        let parts: [&[u8]; 4] = [
            b"unquoted argument ",
            a.as_bytes(),
            b" at block 1 position ",
            pos.as_bytes(),
        ];
        if strict >= 2 {
            fatal_bytes(Kind::Svlisten.prog(), exit::USAGE, &parts);
        }
        common::cli::warn_bytes(Kind::Svlisten.prog(), &parts);
    }
}

/// The phases this program waits through.
pub fn phases_for(kind: Kind, req: &Request) -> Vec<Phase> {
    let first = match kind {
        Kind::Svwait => Phase {
            up: false,
            ready: false,
            or: false,
        },
        Kind::Svlisten1 => Phase {
            up: false,
            ready: true,
            or: true,
        },
        Kind::Svlisten => Phase {
            up: false,
            ready: true,
            or: false,
        },
    };
    listen::phases(req.want, req.or || kind == Kind::Svlisten1, first)
}

/// Spawn `prog...` (PATH search); its exit status is ignored (it is reaped, or reparented,
/// when we exit).
fn spawn(name: &OsString, args: &[OsString]) -> Result<(), std::io::Error> {
    std::process::Command::new(name)
        .args(args)
        .spawn()
        .map(drop)
}

/// Run a parsed request; returns the exit code.
pub fn run(kind: Kind, req: Request) -> i32 {
    let prog = kind.prog();
    if kind == Kind::Svwait && req.dirs.is_empty() {
        return 0;
    }
    // parse_args gives s6-svlisten and s6-svlisten1 a non-empty prog.
    let prog_name = req.prog.first().cloned().unwrap_or_default();
    let prog_args = req.prog.get(1..).unwrap_or(&[]);
    if kind == Kind::Svlisten && req.dirs.is_empty() {
        // 2.15: an empty block just execs prog (exit 111 on failure, as s6-svlisten says).
        let errno = common::exec::exec(&req.prog);
        fatal_bytes(
            prog,
            exit::SYSTEM,
            &[
                b"unable to exec ",
                prog_name.as_bytes(),
                b": ",
                common::msg::errno_text(errno).as_bytes(),
            ],
        );
    }
    if req.or_downgraded {
        let l = if req.want == Want::RestartReady {
            "R"
        } else {
            "r"
        };
        common::cli::warn_bytes(
            prog,
            &[
                b"-o is unsupported when combined with -",
                l.as_bytes(),
                b"- using -a instead",
            ],
        );
    }
    let mut session = Session::start(&req.dirs, req.timeout_ms).unwrap_or_else(|e| e.die(prog));
    if !req.prog.is_empty() {
        if let Err(e) = spawn(&prog_name, prog_args) {
            drop(session);
            let errno = common::msg::errno_of(&e);
            fatal_bytes(
                prog,
                exit::SYSTEM,
                &[
                    b"unable to spawn ",
                    prog_name.as_bytes(),
                    b": ",
                    common::msg::errno_text(errno).as_bytes(),
                ],
            );
        }
    }
    let fails = session.run_all(prog, &phases_for(kind, &req));
    drop(session);
    if fails > 0 {
        if kind == Kind::Svlisten1 {
            fatal_bytes(
                prog,
                exit::SERVICE_FAILED,
                &[
                    req.dirs.first().map(|d| d.as_bytes()).unwrap_or_default(),
                    b" failed permanently or its supervisor died",
                ],
            );
        }
        fatal_bytes(
            prog,
            fails as i32,
            &[b"some services reported permanent failure or their supervisor died"],
        );
    }
    0
}

/// Shared entry point.
pub fn main(kind: Kind) -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, &kind.help());
    if kind == Kind::Svlisten {
        execline_strict_checks(&args);
    }
    let code = match parse_args(kind, &args) {
        Ok(req) => run(kind, req),
        Err(UsageError::Help) => {
            let _ = common::msg::write_stdout(&kind.help());
            0
        }
        Err(UsageError::Unterminated) => fatal_bytes(
            kind.prog(),
            exit::USAGE,
            &[b"unterminated servicedir block"],
        ),
        Err(UsageError::Usage) => common::Prog::new(kind.prog()).usage(kind.usage()),
    };
    common::rt::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: Kind, v: &[&str]) -> Result<Request, UsageError> {
        let a: Vec<OsString> = v.iter().map(OsString::from).collect();
        parse_args(kind, &a)
    }

    #[test]
    fn svwait_options() {
        let r = p(Kind::Svwait, &["-d", "-o", "-t", "100", "a", "b"]).unwrap();
        assert_eq!((r.want, r.or, r.timeout_ms), (Want::Down, true, 100));
        assert_eq!(r.dirs.len(), 2);
        let r = p(Kind::Svwait, &["a"]).unwrap();
        assert_eq!((r.want, r.or, r.timeout_ms), (Want::Up, false, 0));
        let r = p(Kind::Svwait, &["-oaUR"]).unwrap();
        assert_eq!((r.want, r.or), (Want::RestartReady, false));
        assert!(r.dirs.is_empty());
        assert_eq!(p(Kind::Svwait, &["-x", "a"]), Err(UsageError::Usage));
        assert_eq!(p(Kind::Svwait, &["-t", "x", "a"]), Err(UsageError::Usage));
        assert_eq!(p(Kind::Svwait, &["-t"]), Err(UsageError::Usage));
        assert_eq!(p(Kind::Svwait, &["--help"]), Err(UsageError::Help));
    }

    #[test]
    fn svlisten1_args() {
        let r = p(Kind::Svlisten1, &["-D", "svc", "s6-svc", "-d", "svc"]).unwrap();
        assert_eq!(r.want, Want::DownReady);
        assert_eq!(r.dirs, vec![OsString::from("svc")]);
        assert_eq!(r.prog.len(), 3);
        assert_eq!(p(Kind::Svlisten1, &["-u", "svc"]), Err(UsageError::Usage));
        assert_eq!(
            p(Kind::Svlisten1, &["-o", "svc", "x"]),
            Err(UsageError::Usage)
        );
    }

    #[test]
    fn svlisten_block() {
        let r = p(Kind::Svlisten, &["-u", "a", " b", "", "prog", "x"]).unwrap();
        assert_eq!(r.dirs, vec![OsString::from("a"), OsString::from("b")]);
        assert_eq!(r.prog, vec![OsString::from("prog"), OsString::from("x")]);
        assert_eq!(p(Kind::Svlisten, &["a", "b"]), Err(UsageError::Usage));
        assert_eq!(
            p(Kind::Svlisten, &["a", "b", "c"]),
            Err(UsageError::Unterminated)
        );
        assert_eq!(p(Kind::Svlisten, &["a", "b", ""]), Err(UsageError::Usage));
        let r = p(Kind::Svlisten, &["", "prog", "x"]).unwrap();
        assert!(r.dirs.is_empty());
        let r = p(Kind::Svlisten, &["-o", "-R", "a", "", "prog"]).unwrap();
        assert!(!r.or && r.or_downgraded);
    }

    #[test]
    fn execline_quoting() {
        let a: Vec<OsString> = ["-u", "a", " b", "", "prog", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(unquoted_block_args(&a), vec![(0, OsString::from("a"))]);
        let a: Vec<OsString> = ["-Z", "a", "", "p"].iter().map(OsString::from).collect();
        assert!(unquoted_block_args(&a).is_empty());
    }

    #[test]
    fn phases_per_program() {
        let r = p(Kind::Svwait, &["-o", "-r", "a", "b"]).unwrap();
        let ph = phases_for(Kind::Svwait, &r);
        assert_eq!(
            ph,
            vec![
                Phase {
                    up: false,
                    ready: false,
                    or: false
                },
                Phase {
                    up: true,
                    ready: false,
                    or: true
                }
            ]
        );
        let r = p(Kind::Svlisten1, &["-R", "a", "prog"]).unwrap();
        assert_eq!(
            phases_for(Kind::Svlisten1, &r),
            vec![
                Phase {
                    up: false,
                    ready: true,
                    or: true
                },
                Phase {
                    up: true,
                    ready: true,
                    or: true
                }
            ]
        );
        let r = p(Kind::Svlisten, &["-D", "a", "", "prog"]).unwrap();
        assert_eq!(
            phases_for(Kind::Svlisten, &r),
            vec![Phase {
                up: false,
                ready: true,
                or: false
            }]
        );
    }
    /// Deterministic pseudo-random command lines never panic the parsers.
    #[test]
    fn parsers_never_panic() {
        for args in common::cli::pseudo_random_argv(5000) {
            for k in [Kind::Svwait, Kind::Svlisten1, Kind::Svlisten] {
                let _ = parse_args(k, &args);
            }
            let _ = unquoted_block_args(&args);
        }
    }
}

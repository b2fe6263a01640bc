//! `s6-svc` (2.15.1): send commands to the supervisors of one or more service directories,
//! optionally waiting for a state (`-w`).
//!
//! Differences from s6, all deliberate:
//! * `-w` waits in-process instead of exec'ing `s6-svlisten` / `s6-svwait`: it subscribes to
//!   every dir's `event/` first (creating it if missing), reads the statuses, sends the
//!   commands, then waits. Messages and exit codes are those the exec'd programs would give
//!   (`s6-svwait: fatal: timed out` without commands, `s6-svlisten: ...` with commands; 99
//!   on timeout). The command-sending warnings keep the `s6-svc` name, as the inner `s6-svc`
//!   s6-svlisten spawns prints them. Unlike s6-svlisten, servicedirs starting with a space
//!   are not mangled (execline block unquoting).
//! * `--help` as the first argument prints a summary on stdout and exits 0.

use crate::listen::{self, Phase, Session, Want};
use common::cli::{fatal_bytes, warn_bytes, GetOpt, Opt};
use common::control::{self, ControlError, SignalCommand, SuperviseCommand};
use common::layout;
use common::msg::exit;
use common::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-svc";
pub const USAGE: &str = "s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -s signal | -abqhkti12pcyrlPCK ] [ -oduDUxOQ ] servicedirs...";
const OPTSTRING: &str = "s:abqhkti12pcyrlPCKoduDUxOQT:w:";
/// At most this many command letters (s6's 63-byte buffer minus the leading `-`).
pub const MAX_COMMANDS: usize = 62;

pub const HELP: &str = "\
s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -s signal | -abqhkti12pcyrlPCK ] [ -oduDUxOQ ] servicedirs...
Send commands to the s6-supervise processes of servicedirs (in command-line order).
  -a -b -q -h -k -t -i -1 -2 -y   send SIGALRM ABRT QUIT HUP KILL TERM INT USR1 USR2 WINCH
  -p -c        SIGSTOP (pause) / SIGCONT (continue)
  -P -C -K     SIGSTOP / SIGCONT / SIGKILL to the whole process group
  -s signal    send this signal (name or number; one of the above)
  -r           restart (send the down signal)   -l   send the reload signal
  -u -d        want up / want down               -U -D  same, and remove / create ./down
  -o           run once                          -O -Q  once at most (-Q: and create ./down)
  -x           make the supervisor exit when the service is down
  -w[uUdDrR]   wait until up, up+ready, down, down+ready, restarted, restarted+ready
  -T ms        give up waiting after ms milliseconds (exit 99)
Exit: 0 ok; 102 supervisor not listening; 1 broken supervise dir; 111 system error;
100 usage; with -w: 99 timeout, n = number of services that failed permanently.
";

/// A parsed `s6-svc` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a, A> {
    /// Command letters in command-line order (duplicates kept).
    pub commands: Commands,
    /// `-T`, milliseconds; 0 = no timeout.
    pub timeout_ms: u32,
    /// `-w` letter, if any (the last one wins).
    pub wait: Option<Want>,
    /// The tail of the command line.
    pub dirs: &'a [A],
}

/// Up to [`MAX_COMMANDS`] command letters, held inline: the few bytes of a control write
/// need no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Commands {
    bytes: [u8; MAX_COMMANDS],
    len: usize,
}

impl Commands {
    const fn new() -> Commands {
        Commands {
            bytes: [0; MAX_COMMANDS],
            len: 0,
        }
    }

    /// Append a letter; false (and nothing kept) when [`MAX_COMMANDS`] are already held.
    fn push(&mut self, letter: u8) -> bool {
        let Some(slot) = self.bytes.get_mut(self.len) else {
            return false;
        };
        *slot = letter;
        self.len += 1;
        true
    }
}

impl std::ops::Deref for Commands {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Why the command line was rejected (all exit 100).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// Print the usage line.
    Usage,
    /// `too many commands`
    TooManyCommands,
    /// `invalid signal: ARG`
    InvalidSignal(OsString),
    /// `ARG is not in the list of user-available signals`
    NotUserSignal(OsString),
    /// `invalid service path` (empty first servicedir)
    InvalidPath,
    /// `--help`
    Help,
}

/// Command letter of a signal `-s` accepts.
pub fn signal_letter(sig: i32) -> Option<u8> {
    SignalCommand::command_for_signal(sig).map(SuperviseCommand::to_byte)
}

/// Parse `s6-svc`'s arguments (without the program name). Pure.
pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Result<Request<'_, A>, UsageError> {
    if args.first().map(|a| a.as_ref().as_bytes()) == Some(b"--help") {
        return Err(UsageError::Help);
    }
    let mut commands = Commands::new();
    let mut timeout_ms = 0;
    let mut wait = None;
    let mut g = GetOpt::new(args, OPTSTRING);
    while let Some(o) = g.next_opt() {
        let letter = match o.map_err(|_| UsageError::Usage)? {
            Opt::Arg(b's', a) => {
                let sig = a
                    .to_str()
                    .and_then(common::signals::parse)
                    .ok_or_else(|| UsageError::InvalidSignal(a.to_owned()))?;
                signal_letter(sig).ok_or_else(|| UsageError::NotUserSignal(a.to_owned()))?
            }
            Opt::Arg(b'T', a) => {
                timeout_ms = common::cli::uint0_scan(a).ok_or(UsageError::Usage)?;
                continue;
            }
            Opt::Arg(b'w', a) => {
                let c = a.as_bytes().first().copied().unwrap_or(0);
                wait = Some(Want::from_letter(c).ok_or(UsageError::Usage)?);
                continue;
            }
            Opt::Arg(..) => return Err(UsageError::Usage),
            Opt::Flag(c) => c,
        };
        if !commands.push(letter) {
            return Err(UsageError::TooManyCommands);
        }
    }
    let dirs = g.rest();
    match dirs.first() {
        None => Err(UsageError::Usage),
        Some(d) if d.as_ref().is_empty() => Err(UsageError::InvalidPath),
        Some(_) => Ok(Request {
            commands,
            timeout_ms,
            wait,
            dirs,
        }),
    }
}

/// How one control write went, as `s6-svc` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendResult {
    Ok,
    NotListening,
    Broken(Errno),
    Io(Errno),
}

impl SendResult {
    /// The exit code s6-svc 2.15 uses for this failure (0 for success).
    pub fn code(self) -> i32 {
        match self {
            SendResult::Ok => 0,
            SendResult::NotListening => exit::NOT_LISTENING,
            SendResult::Broken(_) => exit::BROKEN,
            SendResult::Io(_) => exit::SYSTEM,
        }
    }

    /// The warning line (without `s6-svc: warning: ` and newline), if any.
    pub fn message(self, dir: &OsStr) -> Option<Vec<u8>> {
        self.with_message(dir, |parts| parts.concat())
    }

    /// `f` of the warning line's parts, if there is a warning.
    fn with_message<R>(self, dir: &OsStr, f: impl FnOnce(&[&[u8]]) -> R) -> Option<R> {
        let d = dir.as_bytes();
        match self {
            SendResult::Ok => None,
            SendResult::NotListening => Some(f(&[
                b"unable to control ",
                d,
                b": supervisor not listening",
            ])),
            SendResult::Broken(e) => Some(f(&[
                b"something is wrong with the ",
                d,
                b"/supervise directory: ",
                common::msg::errno_text(e).as_bytes(),
            ])),
            SendResult::Io(e) => Some(f(&[
                b"unable to control ",
                d,
                b": ",
                common::msg::errno_text(e).as_bytes(),
            ])),
        }
    }
}

/// `s6_svc_writectl(dir, "supervise", commands)`.
pub fn send_one(dir: &OsStr, commands: &[u8]) -> SendResult {
    if dir.is_empty() {
        // s6 opens "/supervise/control", then fails to open "" as a directory.
        return SendResult::Io(Errno::ENOENT);
    }
    match control::send(dir, layout::SUPERVISE_DIR, commands) {
        Ok(()) => SendResult::Ok,
        Err(ControlError::NotListening) => SendResult::NotListening,
        Err(ControlError::Broken(e)) => SendResult::Broken(e),
        Err(ControlError::Io(e)) => SendResult::Io(e),
    }
}

/// Send to every dir in order, warning for each failure; returns the code of the last failure.
pub fn send_all<A: AsRef<OsStr>>(dirs: &[A], commands: &[u8]) -> i32 {
    let mut code = 0;
    for d in dirs {
        let d = d.as_ref();
        let r = send_one(d, commands);
        if r != SendResult::Ok {
            warn_failure(r, d);
            code = r.code();
        }
    }
    code
}

/// Out of line: the frame of the loop above stays small.
#[cold]
#[inline(never)]
fn warn_failure(r: SendResult, dir: &OsStr) {
    r.with_message(dir, |parts| warn_bytes(PROG, parts));
}

/// `-wU`/`-wR` need `<first dir>/notification-fd`; without it the wait is downgraded to
/// `-wu`/`-wr` with a warning.
fn downgrade_readiness<A: AsRef<OsStr>>(req: &mut Request<'_, A>) {
    let want = match req.wait {
        Some(w @ (Want::UpReady | Want::RestartReady)) => w,
        _ => return,
    };
    let Some(first) = req.dirs.first() else {
        return;
    };
    let fname = layout::subpath(first.as_ref(), layout::NOTIFICATION_FD);
    match nix::unistd::access(&fname, nix::unistd::AccessFlags::F_OK) {
        Ok(()) => {}
        Err(Errno::ENOENT) => {
            req.wait = Some(if want == Want::UpReady {
                Want::Up
            } else {
                Want::Restart
            });
            warn_bytes(
                PROG,
                &[
                    fname.as_os_str().as_bytes(),
                    b" not present - ignoring request for readiness notification",
                ],
            );
        }
        Err(e) => fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[
                b"unable to access ",
                fname.as_os_str().as_bytes(),
                b": ",
                common::msg::errno_text(e).as_bytes(),
            ],
        ),
    }
}

/// Run a parsed request; returns the exit code.
pub fn run<A: AsRef<OsStr>>(mut req: Request<'_, A>) -> i32 {
    downgrade_readiness(&mut req);
    let Some(want) = req.wait else {
        return send_all(req.dirs, &req.commands);
    };
    let (prog, restart_first) = if req.commands.is_empty() {
        // s6-svwait: the first phase of -r waits for "all down".
        (
            "s6-svwait",
            Phase {
                up: false,
                ready: false,
                or: false,
            },
        )
    } else {
        // s6-svlisten: "all down and ready".
        (
            "s6-svlisten",
            Phase {
                up: false,
                ready: true,
                or: false,
            },
        )
    };
    let mut session = Session::start(req.dirs, req.timeout_ms).unwrap_or_else(|e| e.die(prog));
    if !req.commands.is_empty() {
        // The inner s6-svc's exit code is ignored by the listener.
        let _ = send_all(req.dirs, &req.commands);
    }
    let phases = listen::phases(want, false, restart_first);
    let fails = session.run_all(prog, &phases);
    drop(session);
    if fails > 0 {
        fatal_bytes(
            prog,
            fails as i32,
            &[b"some services reported permanent failure or their supervisor died"],
        );
    }
    0
}

/// Entry point of `s6-svc` / `svc`.
pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let code = match parse_args(&args) {
        Ok(req) => run(req),
        Err(e) => usage_exit(e),
    };
    common::rt::exit(code)
}

fn usage_exit(e: UsageError) -> ! {
    match e {
        UsageError::Usage => common::Prog::new(PROG).usage(USAGE),
        UsageError::Help => {
            let _ = common::msg::write_stdout(HELP);
            common::rt::exit(0)
        }
        UsageError::TooManyCommands => fatal_bytes(PROG, exit::USAGE, &[b"too many commands"]),
        UsageError::InvalidSignal(a) => {
            fatal_bytes(PROG, exit::USAGE, &[b"invalid signal: ", a.as_bytes()])
        }
        UsageError::NotUserSignal(a) => fatal_bytes(
            PROG,
            exit::USAGE,
            &[
                a.as_bytes(),
                b" is not in the list of user-available signals",
            ],
        ),
        UsageError::InvalidPath => fatal_bytes(PROG, exit::USAGE, &[b"invalid service path"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed request, owned (the parser borrows from its arguments).
    #[derive(Debug, PartialEq)]
    struct Owned {
        commands: Vec<u8>,
        timeout_ms: u32,
        wait: Option<Want>,
        dirs: Vec<OsString>,
    }

    fn p(v: &[&str]) -> Result<Owned, UsageError> {
        let r = parse_args(v)?;
        Ok(Owned {
            commands: r.commands.to_vec(),
            timeout_ms: r.timeout_ms,
            wait: r.wait,
            dirs: r.dirs.iter().map(OsString::from).collect(),
        })
    }

    #[test]
    fn letters_in_order_with_duplicates() {
        let r = p(&["-u", "-12", "-Ox", "-ud", "svc"]).unwrap();
        assert_eq!(r.commands, b"u12Oxud");
        assert_eq!(r.dirs, vec![OsString::from("svc")]);
        assert_eq!(r.wait, None);
        let r = p(&["-P", "-lC", "-K", "-Q", "a", "b"]).unwrap();
        assert_eq!(r.commands, b"PlCKQ");
        assert_eq!(r.dirs.len(), 2);
        assert_eq!(p(&["svc"]).unwrap().commands, b"");
    }

    #[test]
    fn signals_by_s() {
        for (spec, letter) in [
            ("USR1", b'1'),
            ("sigusr2", b'2'),
            ("SIGHUP", b'h'),
            ("9", b'k'),
            ("STOP", b'p'),
            ("cont", b'c'),
            ("WINCH", b'y'),
            ("15", b't'),
            ("ALRM", b'a'),
            ("ABRT", b'b'),
            ("IOT", b'b'),
            ("QUIT", b'q'),
            ("INT", b'i'),
        ] {
            assert_eq!(
                p(&["-s", spec, "-u", "d"]).unwrap().commands,
                vec![letter, b'u']
            );
        }
        for bad in ["FOO", "-1", ""] {
            assert_eq!(
                p(&["-s", bad, "d"]),
                Err(UsageError::InvalidSignal(bad.into()))
            );
        }
        for bad in ["PIPE", "SEGV", "0", "CHLD", "64", "65", "1000"] {
            assert_eq!(
                p(&["-s", bad, "d"]),
                Err(UsageError::NotUserSignal(bad.into()))
            );
        }
    }

    #[test]
    fn wait_and_timeout() {
        let r = p(&["-wU", "-T", "300", "-u", "d"]).unwrap();
        assert_eq!((r.wait, r.timeout_ms), (Some(Want::UpReady), 300));
        assert_eq!(p(&["-wdown", "d"]).unwrap().wait, Some(Want::Down));
        assert_eq!(p(&["-wu", "-wD", "d"]).unwrap().wait, Some(Want::DownReady));
        for bad in [
            &["-wz", "d"][..],
            &["-wx", "d"],
            &["-w", "", "d"],
            &["-T", "abc", "d"],
        ] {
            assert_eq!(p(bad), Err(UsageError::Usage));
        }
        assert_eq!(p(&["-T", "4294967295", "d"]).unwrap().timeout_ms, u32::MAX);
        assert_eq!(p(&["-T", "4294967296", "d"]), Err(UsageError::Usage));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(p(&[]), Err(UsageError::Usage));
        assert_eq!(p(&["-u"]), Err(UsageError::Usage));
        assert_eq!(p(&["-Z", "d"]), Err(UsageError::Usage));
        assert_eq!(p(&["-u", ""]), Err(UsageError::InvalidPath));
        assert!(p(&["-u", "d", ""]).is_ok());
        assert_eq!(p(&["--help"]), Err(UsageError::Help));
        assert_eq!(p(&["-u", "--help"]), Err(UsageError::Usage));
        assert_eq!(p(&["-u", "d", "--help"]).unwrap().dirs.len(), 2);
        let many = format!("-{}", "u".repeat(63));
        assert_eq!(p(&[&many, "d"]), Err(UsageError::TooManyCommands));
        let ok = format!("-{}", "u".repeat(62));
        assert_eq!(p(&[&ok, "d"]).unwrap().commands.len(), 62);
    }

    #[test]
    fn messages() {
        let d = OsStr::new("/x y/svc");
        assert_eq!(SendResult::Ok.message(d), None);
        assert_eq!(
            SendResult::NotListening.message(d).unwrap(),
            b"unable to control /x y/svc: supervisor not listening"
        );
        assert_eq!(
            SendResult::Broken(Errno::ENOTDIR).message(d).unwrap(),
            b"something is wrong with the /x y/svc/supervise directory: Not a directory"
        );
        assert_eq!(
            SendResult::Io(Errno::ENOENT).message(d).unwrap(),
            b"unable to control /x y/svc: No such file or directory"
        );
        assert_eq!(
            [
                SendResult::Ok.code(),
                SendResult::NotListening.code(),
                SendResult::Broken(Errno::ENOENT).code(),
                SendResult::Io(Errno::EACCES).code()
            ],
            [0, 102, 1, 111]
        );
    }
    /// Deterministic pseudo-random command lines never panic the parsers.
    #[test]
    fn parsers_never_panic() {
        for args in common::cli::pseudo_random_argv(5000) {
            let _ = parse_args(&args);
        }
    }
}

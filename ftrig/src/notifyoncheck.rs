//! `s6-notifyoncheck` (2.15.1): the last chain-loader of a service's `./run`, turning a
//! polling check into s6 readiness.
//!
//! The process forks; the parent execs prog (which so keeps the supervised pid, without the
//! notification fd); the child (the "checker", or a grandchild with `-d`) subscribes to the
//! service's `event/` fifodir for `d`, then runs the check until it succeeds (one `\n` on the
//! notification fd), the attempts run out, the global deadline passes or the service dies.
//! The checker is a small state machine ([`Checker`]) driven by a mio loop whose only
//! timeout is the machine's next deadline; it exits once readiness is reported, so an idle
//! ready service has no extra process and no wake-up.
//!
//! Measured (release build, `-w 10`, 1000 checks of a `/bin/sh` ./data/check): about
//! 0.13 ms of the checker's own CPU (utime+stime) per check, the fork/exec of the check
//! being most of it; after readiness the checker is gone and prog / s6-supervise see zero
//! context switches.

use common::cli::{fatal_bytes, fatal_sys_bytes, warn_sys_bytes};
use common::fifodir::{Listener, LISTENER_FIFO_MODE};
use common::gol::{self, Item, Spec};
use common::sigwake::SignalSet as Signals;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::{OsStr, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub const USAGE: &str = "s6-notifyoncheck [ -d ] [ -3 fd ] [ -s initialsleep ] [ -T globaltimeout ] [ -t localtimeout ] [ -w waitingtime ] [ -n tries ] [ -c \"checkprog...\" ] prog...";
const PROG: &str = "s6-notifyoncheck";
const CHILD_PROG: &str = "s6-notifyoncheck (child)";
/// The check run when `-c` is not given, relative to the service directory.
pub const DEFAULT_CHECK: &str = "./data/check";

const OPT_DOUBLEFORK: u8 = 0;
const OPT_NOTIF: u8 = 1;
const OPT_SLEEP: u8 = 2;
const OPT_GLOBAL: u8 = 3;
const OPT_LOCAL: u8 = 4;
const OPT_WAIT: u8 = 5;
const OPT_TRIES: u8 = 6;
const OPT_CHECK: u8 = 7;

/// The command line, values still raw: s6 checks them in a set order, with reading
/// `./notification-fd` in between.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawOptions {
    pub doublefork: bool,
    /// Indexed by `OPT_NOTIF..=OPT_CHECK`.
    pub values: [Option<OsString>; 8],
    pub prog: Vec<OsString>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    Fatal(String),
}

/// Parse the arguments (without argv[0]). Pure.
pub fn parse(args: &[OsString]) -> Result<RawOptions, ParseError> {
    let bools = [Spec::new(b'd', "doublefork", OPT_DOUBLEFORK)];
    let vals = [
        Spec::new(b'3', "notification-fd", OPT_NOTIF),
        Spec::new(b's', "initial-sleep", OPT_SLEEP),
        Spec::new(b'T', "global-timeout", OPT_GLOBAL),
        Spec::new(b't', "local-timeout", OPT_LOCAL),
        Spec::new(b'w', "waiting-time", OPT_WAIT),
        Spec::new(b'n', "tries", OPT_TRIES),
        Spec::new(b'c', "check-program", OPT_CHECK),
    ];
    let (items, ind) =
        gol::parse(args, &bools, &vals).map_err(|e| ParseError::Fatal(e.to_string()))?;
    let mut o = RawOptions::default();
    for it in items {
        match it {
            Item::Flag(_) => o.doublefork = true,
            Item::Arg(id, v) => o.values[id as usize] = Some(v.to_os_string()),
        }
    }
    o.prog = args[ind..].to_vec();
    if o.prog.is_empty() {
        return Err(ParseError::Usage);
    }
    Ok(o)
}

/// The checker's timing and attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub initial_sleep: Duration,
    pub global: Option<Duration>,
    pub local: Option<Duration>,
    pub waiting: Duration,
    /// `None`: unlimited.
    pub tries: Option<u32>,
}

/// Check the numeric options, in s6's order, with its messages (exit 100). Pure.
/// (2.15.1 names `waiting-time` for a bad `-n`; we name `tries`.)
pub fn timing(o: &RawOptions) -> Result<Timing, String> {
    let num = |id: u8, name: &str| -> Result<Option<u32>, String> {
        match &o.values[id as usize] {
            None => Ok(None),
            Some(v) => common::cli::uint0_scan(v)
                .map(Some)
                .ok_or_else(|| format!("{name} must be an unsigned integer")),
        }
    };
    let ms = |v: u32| Duration::from_millis(v.into());
    let nonzero = |v: Option<u32>| v.filter(|&v| v > 0).map(ms);
    let initial_sleep = ms(num(OPT_SLEEP, "initial-sleep")?.unwrap_or(10));
    let global = nonzero(num(OPT_GLOBAL, "global-timeout")?);
    let local = nonzero(num(OPT_LOCAL, "local-timeout")?);
    let waiting = ms(num(OPT_WAIT, "waiting-time")?.unwrap_or(1000));
    let tries = match num(OPT_TRIES, "tries")? {
        None => Some(7),
        Some(0) => None,
        Some(n) => Some(n),
    };
    Ok(Timing {
        initial_sleep,
        global,
        local,
        waiting,
        tries,
    })
}

/// What the checker is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting until this instant before spawning the next check.
    Sleeping(Instant),
    /// A check runs; the attempt is given up at the deadline, if any.
    Checking { pid: i32, until: Option<Instant> },
}

/// What the loop must do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Spawn the check now, then report [`Checker::spawned`] or [`Checker::spawn_failed`].
    Spawn,
    /// Write `\n` to the notification fd and exit 0.
    NotifyReady,
    /// SIGTERM this check (if any), then exit with this code.
    Exit {
        kill: Option<i32>,
        code: i32,
    },
}

/// The checker's state machine: pure, time is given to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checker {
    pub phase: Phase,
    /// Attempts still allowed after the current one (`None`: unlimited).
    remaining: Option<u32>,
    global_deadline: Option<Instant>,
    local: Option<Duration>,
    waiting: Duration,
}

impl Checker {
    /// `start` is when s6-notifyoncheck started (the global deadline counts from it).
    pub fn new(t: &Timing, start: Instant, now: Instant) -> Checker {
        Checker {
            phase: Phase::Sleeping(now + t.initial_sleep),
            remaining: t.tries.map(|n| n.saturating_sub(1)),
            global_deadline: t.global.map(|g| start + g),
            local: t.local,
            waiting: t.waiting,
        }
    }

    /// When the loop must wake up at the latest (`None`: only for events).
    pub fn deadline(&self) -> Option<Instant> {
        let own = match self.phase {
            Phase::Sleeping(t) => Some(t),
            Phase::Checking { until, .. } => until,
        };
        match (own, self.global_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn running(&self) -> Option<i32> {
        match self.phase {
            Phase::Checking { pid, .. } => Some(pid),
            Phase::Sleeping(_) => None,
        }
    }

    /// The current attempt failed: sleep before the next one, or give up.
    fn next_attempt(&mut self, now: Instant) -> Action {
        match self.remaining {
            Some(0) => Action::Exit {
                kill: None,
                code: 1,
            },
            r => {
                self.remaining = r.map(|n| n - 1);
                self.phase = Phase::Sleeping(now + self.waiting);
                Action::Nothing
            }
        }
    }

    /// Time passed (called whenever the loop wakes up).
    pub fn tick(&mut self, now: Instant) -> Action {
        if self.global_deadline.is_some_and(|g| now >= g) {
            return Action::Exit {
                kill: self.running(),
                code: 3,
            };
        }
        match self.phase {
            Phase::Sleeping(t) if now >= t => Action::Spawn,
            // The check ran too long: the attempt counts as failed; the check itself is
            // left running (as s6 does).
            Phase::Checking { until: Some(u), .. } if now >= u => self.next_attempt(now),
            _ => Action::Nothing,
        }
    }

    pub fn spawned(&mut self, pid: i32, now: Instant) {
        self.phase = Phase::Checking {
            pid,
            until: self.local.map(|l| now + l),
        };
    }

    pub fn spawn_failed(&mut self, now: Instant) -> Action {
        self.next_attempt(now)
    }

    /// A child exited; `success` = it exited 0. Abandoned checks are ignored.
    pub fn exited(&mut self, pid: i32, success: bool, now: Instant) -> Action {
        if self.running() != Some(pid) {
            return Action::Nothing;
        }
        if success {
            return Action::NotifyReady;
        }
        self.next_attempt(now)
    }

    /// The service died (`d` event).
    pub fn service_died(&self) -> Action {
        Action::Exit {
            kill: self.running(),
            code: 2,
        }
    }
}

pub fn main(args: &[OsString]) -> ! {
    let start = Instant::now();
    let o = match parse(args) {
        Ok(o) => o,
        Err(ParseError::Usage) => common::Prog::new(PROG).usage(USAGE),
        Err(ParseError::Fatal(t)) => fatal_bytes(PROG, 100, &[t.as_bytes()]),
    };
    let fd = common::servicedir::resolve_notification_fd(o.values[OPT_NOTIF as usize].as_deref())
        .unwrap_or_else(|e| fatal_bytes(PROG, e.exit_code(), &[e.to_string().as_bytes()]));
    let t = timing(&o).unwrap_or_else(|e| fatal_bytes(PROG, 100, &[e.as_bytes()]));
    match common::lock::is_supervised(Path::new(".")) {
        Ok(true) => {}
        Ok(false) => fatal_bytes(PROG, 100, &[b"s6-supervise not running."]),
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"sanity-check current service directory"], e),
    }
    let check: Vec<OsString> = match &o.values[OPT_CHECK as usize] {
        Some(c) => vec!["execlineb".into(), "-Pc".into(), c.clone()],
        None => vec![DEFAULT_CHECK.into()],
    };

    let (sync_r, sync_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .unwrap_or_else(|e| fatal_sys_bytes(PROG, 111, &[b"pipe"], e));
    let what: &[u8] = if o.doublefork { b"doublefork" } else { b"fork" };
    // SAFETY: the process is single-threaded here; both sides go on with ordinary code.
    match unsafe { fork() } {
        Err(e) => fatal_sys_bytes(PROG, 111, &[what], e),
        Ok(ForkResult::Parent { child }) => {
            if o.doublefork {
                // The intermediate process exits at once; reap it so prog inherits no zombie.
                let _ = waitpid(child, None);
            }
            drop(sync_w);
            // SAFETY: fd is the notification fd, checked open; prog must not keep it.
            unsafe { libc::close(fd) };
            let mut c = [0u8; 1];
            match nix::unistd::read(&sync_r, &mut c) {
                Ok(1) => {}
                _ => fatal_bytes(PROG, 111, &[b"unable to synchronize with child"]),
            }
            drop(sync_r);
            common::exec::exec0_or_die(PROG, &o.prog)
        }
        Ok(ForkResult::Child) => {}
    }
    if o.doublefork {
        // SAFETY: single-threaded, as above.
        match unsafe { fork() } {
            Err(e) => fatal_sys_bytes(CHILD_PROG, 111, &[b"doublefork"], e),
            Ok(ForkResult::Parent { .. }) => std::process::exit(0),
            Ok(ForkResult::Child) => {}
        }
    }
    drop(sync_r);
    let code = checker_main(fd, sync_w, &t, start, &check);
    std::process::exit(code)
}

const EVENTS: Token = Token(0);
const SIGNALS: Token = Token(1);

/// The checker process: subscribe, tell the parent, then poll.
fn checker_main(
    fd: i32,
    sync_w: std::os::fd::OwnedFd,
    t: &Timing,
    start: Instant,
    check: &[OsString],
) -> i32 {
    let p = CHILD_PROG;
    let io = |e: std::io::Error| common::msg::errno_of(&e);
    let listener = Listener::subscribe(Path::new("event"), LISTENER_FIFO_MODE)
        .unwrap_or_else(|e| fatal_sys_bytes(p, 111, &[b"ftrigr_subscribe to event fifodir"], e));
    let mut signals = Signals::new(&[libc::SIGCHLD])
        .unwrap_or_else(|e| fatal_sys_bytes(p, 111, &[b"trap SIGCHLD"], io(e)));
    let mut poll =
        Poll::new().unwrap_or_else(|e| fatal_sys_bytes(p, 111, &[b"create poll"], io(e)));
    let raw = listener.fd().as_raw_fd();
    let reg = poll
        .registry()
        .register(&mut SourceFd(&raw), EVENTS, Interest::READABLE)
        .and_then(|()| {
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)
        });
    if let Err(e) = reg {
        fatal_sys_bytes(p, 111, &[b"register with poll"], io(e));
    }
    if nix::unistd::write(&sync_w, b"\0") != Ok(1) {
        fatal_sys_bytes(p, 2, &[b"synchronize with parent"], Errno::last());
    }
    drop(sync_w);

    let mut checker = Checker::new(t, start, Instant::now());
    let mut events = Events::with_capacity(4);
    let mut buf = [0u8; 64];
    loop {
        let mut action = checker.tick(Instant::now());
        if action == Action::Spawn {
            let now = Instant::now();
            action = match spawn(check) {
                Ok(pid) => {
                    checker.spawned(pid, now);
                    Action::Nothing
                }
                Err(e) => {
                    warn_sys_bytes(p, &[b"spawn ", check[0].as_bytes()], e);
                    checker.spawn_failed(now)
                }
            };
        }
        if let Some(code) = perform(action, fd) {
            return code;
        }
        if action != Action::Nothing {
            continue;
        }
        let timeout = checker
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => fatal_sys_bytes(p, 111, &[b"iopause"], io(e)),
        }
        for ev in events.iter() {
            let action = match ev.token() {
                EVENTS => {
                    let mut died = false;
                    loop {
                        match listener.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => died |= buf[..n].contains(&b'd'),
                            Err(e) => fatal_sys_bytes(p, 111, &[b"read event fifo"], e),
                        }
                    }
                    if died {
                        checker.service_died()
                    } else {
                        Action::Nothing
                    }
                }
                _ => {
                    for _ in signals.pending() {}
                    reap(&mut checker)
                }
            };
            if let Some(code) = perform(action, fd) {
                return code;
            }
        }
    }
}

/// Reap dead children; the first one that decides something wins.
fn reap(checker: &mut Checker) -> Action {
    loop {
        let (pid, success) = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, code == 0),
            Ok(WaitStatus::Signaled(pid, ..)) => (pid, false),
            Ok(WaitStatus::StillAlive) | Err(_) => return Action::Nothing,
            Ok(_) => continue,
        };
        let a = checker.exited(pid.as_raw(), success, Instant::now());
        if a != Action::Nothing {
            return a;
        }
    }
}

/// Carry out a final action; returns the exit code when the checker must exit.
fn perform(action: Action, fd: i32) -> Option<i32> {
    match action {
        Action::Nothing | Action::Spawn => None,
        Action::NotifyReady => {
            // SAFETY: fd is the notification fd, open (checked at start) and ours.
            let _ = unsafe { libc::write(fd, b"\n".as_ptr().cast(), 1) };
            Some(0)
        }
        Action::Exit { kill: k, code } => {
            if let Some(pid) = k {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            Some(code)
        }
    }
}

fn spawn(check: &[OsString]) -> Result<i32, Errno> {
    let (first, rest) = check.split_first().ok_or(Errno::EINVAL)?;
    let child = std::process::Command::new(first)
        .args(rest)
        .spawn()
        .map_err(|e| common::msg::errno_of(&e))?;
    i32::try_from(child.id()).map_err(|_| Errno::EINVAL)
}

/// `OsStr` view of an option value, for messages.
pub fn value(o: &RawOptions, id: u8) -> Option<&OsStr> {
    o.values.get(id as usize)?.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as a;

    #[test]
    fn parse_and_timing() {
        let o = parse(&a(&[
            "-d",
            "-3",
            "4",
            "-w100",
            "--tries=3",
            "-c",
            "true",
            "prog",
            "-x",
        ]))
        .unwrap();
        assert!(o.doublefork);
        assert_eq!(value(&o, OPT_NOTIF), Some(OsStr::new("4")));
        assert_eq!(o.prog, a(&["prog", "-x"]));
        let t = timing(&o).unwrap();
        assert_eq!(t.waiting, Duration::from_millis(100));
        assert_eq!(t.tries, Some(3));
        assert_eq!(t.initial_sleep, Duration::from_millis(10));
        assert_eq!((t.global, t.local), (None, None));
        assert_eq!(parse(&a(&["-3", "2", "-w", "100"])), Err(ParseError::Usage));
        let bad = |opt: &str| timing(&parse(&a(&[opt, "x1", "true"])).unwrap()).unwrap_err();
        assert_eq!(bad("-s"), "initial-sleep must be an unsigned integer");
        assert_eq!(bad("-T"), "global-timeout must be an unsigned integer");
        assert_eq!(bad("-t"), "local-timeout must be an unsigned integer");
        assert_eq!(bad("-w"), "waiting-time must be an unsigned integer");
        assert_eq!(bad("-n"), "tries must be an unsigned integer");
        let t = timing(&parse(&a(&["-n", "0", "-T", "0", "p"])).unwrap()).unwrap();
        assert_eq!((t.tries, t.global), (None, None));
        for argv in common::cli::pseudo_random_argv(1000) {
            if let Ok(o) = parse(&argv) {
                let _ = timing(&o);
            }
        }
    }

    fn timing_of(tries: Option<u32>, global: Option<u64>, local: Option<u64>) -> Timing {
        Timing {
            initial_sleep: Duration::from_millis(10),
            global: global.map(Duration::from_millis),
            local: local.map(Duration::from_millis),
            waiting: Duration::from_millis(100),
            tries,
        }
    }

    #[test]
    fn attempts_then_give_up() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut c = Checker::new(&timing_of(Some(2), None, None), t0, t0);
        assert_eq!(c.deadline(), Some(ms(10)));
        assert_eq!(c.tick(ms(5)), Action::Nothing);
        assert_eq!(c.tick(ms(10)), Action::Spawn);
        c.spawned(100, ms(10));
        assert_eq!(c.deadline(), None);
        assert_eq!(c.exited(99, true, ms(20)), Action::Nothing);
        assert_eq!(c.exited(100, false, ms(20)), Action::Nothing);
        assert_eq!(c.deadline(), Some(ms(120)));
        assert_eq!(c.tick(ms(120)), Action::Spawn);
        c.spawned(101, ms(120));
        assert_eq!(
            c.exited(101, false, ms(130)),
            Action::Exit {
                kill: None,
                code: 1
            }
        );
    }

    #[test]
    fn success_death_and_deadlines() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut c = Checker::new(&timing_of(None, Some(700), Some(50)), t0, t0);
        assert_eq!(c.tick(ms(10)), Action::Spawn);
        c.spawned(7, ms(10));
        assert_eq!(c.deadline(), Some(ms(60)));
        // The attempt times out: the next one comes after the waiting time.
        assert_eq!(c.tick(ms(60)), Action::Nothing);
        assert_eq!(c.phase, Phase::Sleeping(ms(160)));
        assert_eq!(c.exited(7, true, ms(70)), Action::Nothing);
        assert_eq!(c.tick(ms(160)), Action::Spawn);
        c.spawned(8, ms(160));
        assert_eq!(
            c.service_died(),
            Action::Exit {
                kill: Some(8),
                code: 2
            }
        );
        assert_eq!(
            c.tick(ms(700)),
            Action::Exit {
                kill: Some(8),
                code: 3
            }
        );
        assert_eq!(c.exited(8, true, ms(180)), Action::NotifyReady);
        // Unlimited tries never give up.
        let mut c = Checker::new(&timing_of(None, None, None), t0, t0);
        for i in 0..1000 {
            assert_eq!(c.tick(ms(100_000 * i + 100_000)), Action::Spawn);
            c.spawned(1, ms(100_000 * i + 100_000));
            assert_eq!(
                c.exited(1, false, ms(100_000 * i + 100_000)),
                Action::Nothing
            );
        }
    }
}

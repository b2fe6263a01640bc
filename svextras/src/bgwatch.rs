//! `s6-background-watch`: keep a self-backgrounding daemon supervisable. Runs prog (which
//! forks the daemon, writes its pid to PIDFILE and exits), adopts the daemon as a child
//! subreaper, forwards signals to it and exits with its status.

use crate::util::b;
use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::gol::{self, Spec};
use common::sigwake::SignalSet as Signals;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

pub const PROG: &str = "s6-background-watch";
pub const USAGE: &str = "s6-background-watch [ -t timeout ] [ -d notif ] pidfile prog...";
pub const HELP: &str = "\
s6-background-watch [ -t timeout ] [ -d notif ] pidfile prog...
Run prog, which starts a daemon writing its pid to pidfile and exits; then watch the daemon
(forwarding signals to it) and exit with its status.
  -t, --timeout-ready=MS     kill prog if it has not exited after MS milliseconds
  -d, --notification-fd=FD   write a newline to FD once the daemon is known
";

const ARGS: &[Spec] = &[
    Spec::new(b't', "timeout-ready", 0),
    Spec::new(b'd', "notification-fd", 1),
];

/// The signals we catch and forward: every one a process may catch.
fn catchable() -> Vec<i32> {
    (1..32)
        .filter(|&s| !signal_hook::consts::FORBIDDEN.contains(&s))
        .collect()
}

/// The exit code for a wait status: the exit code, or 128 + the signal.
pub fn estatus(st: WaitStatus) -> Option<i32> {
    match st {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// The pid in a pidfile's content: its first line, all decimal digits. Pure.
pub fn parse_pid(content: &[u8]) -> Option<i32> {
    let line = content.split(|&c| c == b'\n').next().unwrap_or(b"");
    if line.is_empty() || !line.iter().all(u8::is_ascii_digit) {
        return None;
    }
    line.iter().try_fold(0i32, |a, &d| {
        a.checked_mul(10)?.checked_add((d - b'0') as i32)
    })
}

fn forward(pid: Pid, sig: i32) {
    if let Ok(s) = Signal::try_from(sig) {
        let _ = kill(pid, s);
    }
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let usage = || -> ! { common::Prog::new(PROG).usage(USAGE) };
    let p = match gol::parse_table(&args, &[], ARGS) {
        Ok(p) => p,
        Err(e) => fatal_bytes(PROG, 100, &[&e.to_bytes()]),
    };
    let ops = &args[p.operands..];
    if ops.len() < 2 {
        usage();
    }
    let timeout = p
        .value(0)
        .map(|t| common::cli::uint0_scan(t).unwrap_or_else(|| usage()));
    let notif = p
        .value(1)
        .map(|t| common::cli::uint0_scan(t).unwrap_or_else(|| usage()));
    if let Some(n) = notif {
        if n < 3 {
            fatal_bytes(PROG, 100, &[b"notification-fd cannot be 0, 1 or 2"]);
        }
        // SAFETY: fcntl on a plain descriptor number: only probes it and sets close-on-exec.
        if unsafe { libc::fcntl(n as i32, libc::F_GETFD) } == -1 {
            fatal_sys_bytes(PROG, 111, &[b"check notification-fd"], Errno::last());
        }
        // SAFETY: as above; the daemon's prog must not inherit the notification fd.
        if unsafe { libc::fcntl(n as i32, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
            fatal_sys_bytes(PROG, 111, &[b"coe notification-fd"], Errno::last());
        }
    }
    let pidfile = &ops[0];
    let prog = ops[1].as_bytes();
    let mut signals = match Signals::new(&catchable()) {
        Ok(s) => s,
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"trap all signals"], common::msg::errno_of(&e)),
    };
    let poll = Poll::new();
    let (mut poll, mut events) = match poll {
        Ok(p) => (p, Events::with_capacity(8)),
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"iopause"], common::msg::errno_of(&e)),
    };
    if let Err(e) = poll
        .registry()
        .register(&mut signals, Token(0), Interest::READABLE)
    {
        fatal_sys_bytes(PROG, 111, &[b"iopause"], common::msg::errno_of(&e));
    }
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer and changes nothing in memory.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == -1 {
        fatal_sys_bytes(
            PROG,
            111,
            &[b"prctl with PR_SET_CHILD_SUBREAPER"],
            Errno::last(),
        );
    }
    let child = match std::process::Command::new(&ops[1]).args(&ops[2..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            let e = common::msg::errno_of(&e);
            let code = if e == Errno::ENOEXEC { 126 } else { 127 };
            fatal_sys_bytes(PROG, code, &[b"spawn ", prog], e)
        }
    };
    let parent = Pid::from_raw(child.id() as i32);
    drop(child);
    let mut deadline = timeout.map(|t| Instant::now() + Duration::from_millis(t as u64));
    'parent: loop {
        let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => fatal_sys_bytes(PROG, 111, &[b"iopause"], common::msg::errno_of(&e)),
        }
        if events.is_empty() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Once: s6 2.15.1 repeats this in a loop until the parent is reaped.
                common::cli::warn_bytes(
                    PROG,
                    &[
                        prog,
                        b" (parent) did not exit before timeout-ready, killing it",
                    ],
                );
                let _ = kill(parent, Signal::SIGKILL);
                deadline = None;
            }
            continue;
        }
        for sig in signals.pending() {
            if sig != libc::SIGCHLD {
                forward(parent, sig);
                continue;
            }
            match waitpid(parent, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, 0)) => break 'parent,
                Ok(WaitStatus::Exited(_, c)) => {
                    let _ = std::fs::remove_file(pidfile);
                    let n = c.to_string();
                    fatal_bytes(PROG, c, &[prog, b" (parent) exited ", n.as_bytes()])
                }
                Ok(WaitStatus::Signaled(_, s, _)) => {
                    let _ = std::fs::remove_file(pidfile);
                    let n = (s as i32).to_string();
                    fatal_bytes(
                        PROG,
                        128 + s as i32,
                        &[prog, b" (parent) crashed with signal ", n.as_bytes()],
                    )
                }
                Ok(_) => {}
                Err(e) => fatal_sys_bytes(PROG, 111, &[b"wait"], e),
            }
        }
    }
    let mut buf = [0u8; 128];
    let n = match common::fsio::read_prefix_nonblock(std::path::Path::new(pidfile), &mut buf) {
        Ok(n) => n,
        Err(Errno::ENOENT) => fatal_sys_bytes(
            PROG,
            104,
            &[
                prog,
                b" (parent) exited but pidfile ",
                b(pidfile),
                b" does not exist",
            ],
            Errno::ENOENT,
        ),
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"open ", b(pidfile)], e),
    };
    let Some(daemon) = parse_pid(&buf[..n]) else {
        fatal_bytes(
            PROG,
            104,
            &[b"pidfile ", b(pidfile), b" does not contain a valid pid"],
        )
    };
    let daemon = Pid::from_raw(daemon);
    if let Err(e) = kill(daemon, None) {
        fatal_sys_bytes(PROG, 111, &[b"check daemon with a null signal"], e);
    }
    if let Some(n) = notif {
        // SAFETY: write/close on the descriptor checked above; nothing else uses it.
        unsafe {
            libc::write(n as i32, b"\n".as_ptr().cast(), 1);
            libc::close(n as i32);
        }
    }
    // The daemon may already be a zombie child of ours (its SIGCHLD came while the parent
    // was being waited for): reap before waiting for signals.
    let reap = || loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(st) if st.pid() == Some(daemon) => return estatus(st),
            Ok(_) => continue,
        }
    };
    if let Some(code) = reap() {
        std::process::exit(code);
    }
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => fatal_sys_bytes(PROG, 111, &[b"iopause"], common::msg::errno_of(&e)),
        }
        for sig in signals.pending() {
            if sig == libc::SIGCHLD {
                if let Some(code) = reap() {
                    std::process::exit(code);
                }
            } else {
                forward(daemon, sig);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids() {
        assert_eq!(parse_pid(b"123\n"), Some(123));
        assert_eq!(parse_pid(b"123"), Some(123));
        assert_eq!(parse_pid(b"12x\n"), None);
        assert_eq!(parse_pid(b"\n123"), None);
        assert_eq!(parse_pid(b""), None);
    }

    #[test]
    fn catchable_signals() {
        let s = catchable();
        assert!(s.contains(&libc::SIGTERM) && s.contains(&libc::SIGCHLD));
        assert!(!s.contains(&libc::SIGKILL) && !s.contains(&libc::SIGSTOP));
    }
}

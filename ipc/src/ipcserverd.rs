//! `s6-ipcserverd`: accept connections on the listening socket at fd 0 and run a program
//! for each, with the connection as its stdin and stdout and the client's credentials in
//! its environment.
//!
//! [`Conns`] is the pure bookkeeping (children and live connections per uid, allocated once
//! for `maxconn`); [`main`] is the `mio` loop over the socket and the signals.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::cli::{uint0_scan, GetOpt, Opt};
use common::msg::errno_text;
use common::sigwake::SignalSet as Signals;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::util::{fatal_sys, info, usage, warn_sys, SYSTEM, USAGE as EXIT_USAGE};

const PROG: &str = "s6-ipcserverd";
const USAGE: &str =
    "s6-ipcserverd [ -v verbosity ] [ -1 ] [ -P | -p ] [ -c maxconn ] [ -C localmaxconn ] prog...";
const HELP: &str =
    "s6-ipcserverd [ -v verbosity ] [ -1 ] [ -P | -p ] [ -c maxconn ] [ -C localmaxconn ] prog...
  -v N   0 quiet, 1 warnings (default), 2 log every connection
  -1     write a newline to stdout when ready
  -P     do not look up the client's credentials (-p: do, the default)
  -c N   at most N concurrent children (default 40)
  -C N   at most N concurrent children per uid (default 40)";

/// The cap on `-c` (s6 2.15).
pub const ABSOLUTE_MAXCONN: u32 = 16384;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub verbosity: u32,
    pub ready: bool,
    pub lookup: bool,
    pub maxconn: u32,
    pub localmaxconn: u32,
    pub prog: Vec<OsString>,
}

/// Parse the arguments after `argv[0]` and apply s6's limits; `None` is a usage error.
pub fn parse_args(args: &[OsString]) -> Option<Opts> {
    let mut o = Opts {
        verbosity: 1,
        ready: false,
        lookup: true,
        maxconn: 40,
        localmaxconn: 40,
        prog: Vec::new(),
    };
    let mut g = GetOpt::new(args, "Pp1c:C:v:");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Flag(b'P') => o.lookup = false,
            Opt::Flag(b'p') => o.lookup = true,
            Opt::Flag(b'1') => o.ready = true,
            Opt::Arg(b'c', v) => o.maxconn = uint0_scan(v)?,
            Opt::Arg(b'C', v) => o.localmaxconn = uint0_scan(v)?,
            Opt::Arg(b'v', v) => o.verbosity = uint0_scan(v)?,
            _ => return None,
        }
    }
    let rest = g.rest();
    if rest.first().is_none_or(|p| p.is_empty()) {
        return None;
    }
    o.prog = rest.to_vec();
    o.maxconn = o.maxconn.clamp(1, ABSOLUTE_MAXCONN);
    if !o.lookup || o.localmaxconn > o.maxconn {
        o.localmaxconn = o.maxconn;
    }
    Some(o)
}

/// The running children and the number of live connections of each uid.
#[derive(Debug)]
pub struct Conns {
    children: Vec<(i32, u32)>,
    per_uid: Vec<(u32, u32)>,
}

impl Conns {
    /// Room for `max` children, allocated once.
    pub fn new(max: usize) -> Conns {
        Conns {
            children: Vec::with_capacity(max),
            per_uid: Vec::with_capacity(max),
        }
    }

    /// Children running.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Live connections of `uid`.
    pub fn count(&self, uid: u32) -> u32 {
        self.per_uid
            .iter()
            .find(|(u, _)| *u == uid)
            .map_or(0, |(_, n)| *n)
    }

    /// Record a new child of `uid`; returns that uid's count, this one included.
    pub fn add(&mut self, pid: i32, uid: u32) -> u32 {
        self.children.push((pid, uid));
        match self.per_uid.iter_mut().find(|(u, _)| *u == uid) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.per_uid.push((uid, 1));
                1
            }
        }
    }

    /// Forget a reaped child; returns its uid, `None` if it was not ours.
    pub fn remove(&mut self, pid: i32) -> Option<u32> {
        let i = self.children.iter().position(|(p, _)| *p == pid)?;
        let (_, uid) = self.children.swap_remove(i);
        if let Some(j) = self.per_uid.iter().position(|(u, _)| *u == uid) {
            if let Some((_, count)) = self.per_uid.get_mut(j) {
                *count -= 1;
                if *count == 0 {
                    self.per_uid.swap_remove(j);
                }
            }
        }
        Some(uid)
    }

    /// The children's pids.
    pub fn pids(&self) -> impl Iterator<Item = i32> + '_ {
        self.children.iter().map(|(p, _)| *p)
    }
}

struct Server {
    o: Opts,
    conns: Conns,
    fmt_max: String,
}

impl Server {
    fn log_status(&self) {
        info(
            PROG,
            &[
                b"status: ",
                self.conns.len().to_string().as_bytes(),
                self.fmt_max.as_bytes(),
            ],
        );
    }

    fn killall(&self, sig: Signal) {
        for pid in self.conns.pids() {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to wait_nohang"], e),
                Ok(st) => {
                    let (pid, what, n) = match st {
                        WaitStatus::Exited(p, c) => (p, &b" exitcode "[..], c),
                        WaitStatus::Signaled(p, s, _) => (p, &b" signal "[..], s as i32),
                        _ => continue,
                    };
                    if let Some(uid) = self.conns.remove(pid.as_raw()) {
                        if self.o.verbosity >= 2 {
                            let uid = if self.o.lookup {
                                uid.to_string()
                            } else {
                                "?".to_owned()
                            };
                            info(
                                PROG,
                                &[
                                    b"end pid ",
                                    pid.as_raw().to_string().as_bytes(),
                                    b" uid ",
                                    uid.as_bytes(),
                                    what,
                                    n.to_string().as_bytes(),
                                ],
                            );
                            self.log_status();
                        }
                    }
                }
            }
        }
    }

    /// Serve one accepted connection (closed on return in this process).
    fn serve(&mut self, conn: OwnedFd, remote: &[u8]) {
        let (uid, gid) = if self.o.lookup {
            match nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials) {
                Ok(c) => (c.uid(), c.gid()),
                Err(e) => {
                    if self.o.verbosity > 0 {
                        warn_sys(PROG, &[b"unable to getpeereid"], e);
                    }
                    return;
                }
            }
        } else {
            (0, 0)
        };
        let num = self.conns.count(uid);
        if num >= self.o.localmaxconn {
            let (u, g, n) = if self.o.lookup {
                (uid.to_string(), gid.to_string(), num.to_string())
            } else {
                ("?".into(), "?".into(), "?".into())
            };
            // s6 prints this at every verbosity, with whatever errno was left over: 0 in
            // practice (`Success`).
            info(
                PROG,
                &[
                    b"deny ",
                    u.as_bytes(),
                    b":",
                    g.as_bytes(),
                    b" count ",
                    n.as_bytes(),
                    b"/",
                    self.o.localmaxconn.to_string().as_bytes(),
                    b": ",
                    errno_text(Errno::from_raw(0)).as_bytes(),
                ],
            );
            return;
        }
        // parse_args insists on a program.
        let Some((prog0, prog_args)) = self.o.prog.split_first() else {
            return;
        };
        let out = match conn.try_clone() {
            Ok(f) => f,
            Err(e) => {
                if self.o.verbosity > 0 {
                    warn_sys(
                        PROG,
                        &[b"unable to spawn ", prog0.as_bytes()],
                        common::msg::errno_of(&e),
                    );
                }
                return;
            }
        };
        let mut cmd = Command::new(prog0);
        cmd.args(prog_args)
            .stdin(Stdio::from(conn))
            .stdout(Stdio::from(out))
            .env("PROTO", "IPC")
            .env("IPCREMOTEPATH", std::ffi::OsStr::from_bytes(remote));
        if self.o.lookup {
            cmd.env("IPCREMOTEEUID", uid.to_string())
                .env("IPCREMOTEEGID", gid.to_string())
                .env("IPCCONNNUM", num.to_string());
        } else {
            cmd.env_remove("IPCREMOTEEUID")
                .env_remove("IPCREMOTEEGID")
                .env("IPCCONNNUM", "");
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                if self.o.verbosity > 0 {
                    warn_sys(
                        PROG,
                        &[b"unable to spawn ", prog0.as_bytes()],
                        common::msg::errno_of(&e),
                    );
                }
                return;
            }
        };
        drop(cmd);
        let pid = child.id() as i32;
        let n = self.conns.add(pid, uid);
        if self.o.verbosity >= 2 {
            let ug = if self.o.lookup {
                format!("{uid}:{gid}")
            } else {
                "?:?".to_owned()
            };
            let n = if self.o.lookup {
                n.to_string()
            } else {
                "?".to_owned()
            };
            info(
                PROG,
                &[
                    b"allow ",
                    ug.as_bytes(),
                    b" pid ",
                    pid.to_string().as_bytes(),
                    b" count ",
                    n.as_bytes(),
                    b"/",
                    self.o.localmaxconn.to_string().as_bytes(),
                ],
            );
            self.log_status();
        }
    }
}

/// Accept one connection (blocking, close-on-exec) and the path the client bound to.
fn accept(listener: RawFd) -> Result<(OwnedFd, Vec<u8>), Errno> {
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: sa and len are valid for writing and len is sa's size.
    let fd = unsafe {
        libc::accept4(
            listener,
            &mut sa as *mut libc::sockaddr_un as *mut libc::sockaddr,
            &mut len,
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let conn = unsafe { OwnedFd::from_raw_fd(fd) };
    let off = std::mem::size_of::<libc::sa_family_t>();
    let plen = (len as usize).saturating_sub(off).min(sa.sun_path.len());
    let path: Vec<u8> = sa
        .sun_path
        .iter()
        .take(plen)
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    Ok((conn, path))
}

/// Put /dev/null on `fd` (replacing what was there): fds 0-2 stay taken, so that no
/// connection ever lands on them.
fn null_on(fd: RawFd) {
    if let Ok(n) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        // SAFETY: dup2 onto a standard fd of our own.
        unsafe {
            libc::dup2(n.as_raw_fd(), fd);
        }
    }
}

const TOKEN_SIGNALS: Token = Token(0);
const TOKEN_LISTEN: Token = Token(1);

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let Some(o) = parse_args(rest) else {
        usage(PROG, USAGE)
    };
    match nix::sys::stat::fstat(std::io::stdin().as_fd()) {
        Ok(st)
            if st.st_mode & libc::S_IFMT == libc::S_IFSOCK && !common::rt::reopened_at_start(0) => {
        }
        Ok(_) => common::msg::Prog::new(PROG).fatal(EXIT_USAGE, "stdin is not a socket"),
        Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to fstat stdin"], e),
    }
    // SAFETY: F_SETFD on fd 0, which we just checked is open, touches no memory.
    unsafe { libc::fcntl(0, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: as above, F_GETFL.
    let fl = unsafe { libc::fcntl(0, libc::F_GETFL) };
    if fl >= 0 {
        // SAFETY: as above; F_SETFL only changes fd 0's status flags.
        unsafe { libc::fcntl(0, libc::F_SETFL, fl | libc::O_NONBLOCK) };
    }
    if o.ready {
        // SAFETY: fcntl F_GETFD on fd 1 only reads its flags.
        if common::rt::reopened_at_start(1) || unsafe { libc::fcntl(1, libc::F_GETFD) } < 0 {
            fatal_sys(
                PROG,
                EXIT_USAGE,
                &[b"called with option -1 but stdout said"],
                Errno::EBADF,
            );
        }
    } else {
        null_on(1);
    }
    // s6: sig_altignore(SIGPIPE): harmless to us, at its default in every child.
    if let Err(e) = common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE) {
        fatal_sys(PROG, SYSTEM, &[b"unable to ignore SIGPIPE"], e);
    }
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to create selfpipe"],
            common::msg::errno_of(&e),
        ),
    };
    let sigs = [
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGABRT,
    ];
    let mut signals = match Signals::new(&sigs) {
        Ok(s) => s,
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to trap signals"],
            common::msg::errno_of(&e),
        ),
    };
    if let Err(e) = poll
        .registry()
        .register(&mut signals, TOKEN_SIGNALS, Interest::READABLE)
    {
        fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to trap signals"],
            common::msg::errno_of(&e),
        );
    }
    let fmt_max = format!("/{}", o.maxconn);
    let mut s = Server {
        conns: Conns::new(o.maxconn as usize),
        o,
        fmt_max,
    };
    if s.o.verbosity >= 2 {
        info(PROG, &[b"starting"]);
        s.log_status();
    }
    if s.o.ready {
        let _ = common::fsio::write_all(std::io::stdout(), b"\n");
        null_on(1);
    }
    let mut events = Events::with_capacity(8);
    let mut registered = false;
    let mut listen_ready = false;
    let mut cont = true;
    while cont {
        let want = s.conns.len() < s.o.maxconn as usize;
        if want && !registered {
            if let Err(e) =
                poll.registry()
                    .register(&mut SourceFd(&0), TOKEN_LISTEN, Interest::READABLE)
            {
                fatal_sys(
                    PROG,
                    SYSTEM,
                    &[b"unable to iopause"],
                    common::msg::errno_of(&e),
                );
            }
            registered = true;
        } else if !want && registered {
            let _ = poll.registry().deregister(&mut SourceFd(&0));
            registered = false;
            listen_ready = false;
        }
        // While connections are known to be waiting, only look for signals (timeout 0)
        // between accepts, so that a flood of clients never delays a SIGTERM or a reap.
        let timeout = (want && listen_ready).then_some(std::time::Duration::ZERO);
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to iopause"],
                common::msg::errno_of(&e),
            );
        }
        let mut sig_event = false;
        for ev in events.iter() {
            match ev.token() {
                TOKEN_SIGNALS => sig_event = true,
                TOKEN_LISTEN => listen_ready = true,
                _ => {}
            }
        }
        if sig_event {
            for sig in signals.pending() {
                match sig {
                    libc::SIGCHLD => s.reap(),
                    libc::SIGTERM => {
                        if s.o.verbosity >= 2 {
                            info(PROG, &[b"received SIGTERM, quitting"]);
                        }
                        cont = false;
                    }
                    libc::SIGHUP => {
                        if s.o.verbosity >= 2 {
                            info(
                                PROG,
                                &[b"received SIGHUP, sending SIGTERM+SIGCONT to all connections"],
                            );
                        }
                        s.killall(Signal::SIGTERM);
                        s.killall(Signal::SIGCONT);
                    }
                    libc::SIGQUIT => {
                        if s.o.verbosity >= 2 {
                            info(PROG, &[b"received SIGQUIT, sending SIGTERM+SIGCONT to all connections and quitting"]);
                        }
                        cont = false;
                        s.killall(Signal::SIGTERM);
                        s.killall(Signal::SIGCONT);
                    }
                    libc::SIGABRT => {
                        if s.o.verbosity >= 2 {
                            info(PROG, &[b"received SIGABRT, sending SIGKILL to all connections and quitting"]);
                        }
                        cont = false;
                        s.killall(Signal::SIGKILL);
                    }
                    _ => {}
                }
            }
            continue;
        }
        if listen_ready && s.conns.len() < s.o.maxconn as usize {
            match accept(0) {
                Ok((conn, remote)) => s.serve(conn, &remote),
                Err(Errno::EAGAIN) => listen_ready = false,
                Err(Errno::EINTR | Errno::ECONNABORTED) => {}
                Err(e) => {
                    listen_ready = false;
                    if s.o.verbosity > 0 {
                        warn_sys(PROG, &[b"unable to accept"], e);
                    }
                }
            }
        }
    }
    if s.o.verbosity >= 2 {
        info(PROG, &[b"exiting"]);
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn limits() {
        let o = parse_args(&a(&["-c", "0", "-C", "9", "x"])).unwrap();
        assert_eq!((o.maxconn, o.localmaxconn), (1, 1));
        let o = parse_args(&a(&["-c", "99999", "x"])).unwrap();
        assert_eq!((o.maxconn, o.localmaxconn), (ABSOLUTE_MAXCONN, 40));
        let o = parse_args(&a(&["-P", "-c", "5", "-C", "2", "x"])).unwrap();
        assert_eq!(o.localmaxconn, 5);
        assert!(parse_args(&a(&[])).is_none());
        assert!(parse_args(&a(&[""])).is_none());
        assert!(parse_args(&a(&["-v", "x"])).is_none());
    }

    #[test]
    fn conns_count_per_uid() {
        let mut c = Conns::new(4);
        assert_eq!(c.add(10, 0), 1);
        assert_eq!(c.add(11, 0), 2);
        assert_eq!(c.add(12, 5), 1);
        assert_eq!(c.count(0), 2);
        assert_eq!(c.remove(10), Some(0));
        assert_eq!(c.count(0), 1);
        assert_eq!(c.remove(10), None);
        assert_eq!(c.remove(11), Some(0));
        assert_eq!(c.count(0), 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.pids().collect::<Vec<_>>(), [12]);
    }
}

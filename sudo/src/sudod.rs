//! `s6-sudod`: the server side, with the client's connection on fds 0 and 1 (as
//! s6-ipcserverd leaves it). Banner, one request message with the client's three fds, spawn,
//! confirmation byte; then wait for the program (send its wait status) or for the client's
//! hangup (kill the program unless `-d`).

use crate::proto::{self, RequestError};
use common::cli::{GetOpt, Opt};
use common::msg::{exit, StrError};
use common::sigwake::SignalSet as Signals;
use common::unixmsg::{self, Receiver};
use common::Prog;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use signal_hook::consts::SIGCHLD;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "s6-sudod [ -0 ] [ -1 ] [ -2 ] [ -d ] [ -t timeout ] args...";
const HELP: &str = "s6-sudod [ -0 ] [ -1 ] [ -2 ] [ -d ] [ -t timeout ] args...
  -0          give the program /dev/null as stdin instead of the client's
  -1          give the program /dev/null as stdout instead of the client's
  -2          give the program our stderr instead of the client's
  -d          -0 -1 -2, and do not kill the program when the client hangs up
  -t timeout  ms for the banner, the request and the confirmation (0: none)";

/// Parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub null_stdin: bool,
    pub null_stdout: bool,
    pub own_stderr: bool,
    pub detach: bool,
    pub timeout: u32,
    pub args: Vec<OsString>,
}

pub fn parse_args(args: &[OsString]) -> Option<Options> {
    let mut o = Options::default();
    let mut g = GetOpt::new(args, "012dt:");
    while let Some(x) = g.next_opt() {
        match x.ok()? {
            Opt::Flag(b'0') => o.null_stdin = true,
            Opt::Flag(b'1') => o.null_stdout = true,
            Opt::Flag(b'2') => o.own_stderr = true,
            Opt::Flag(b'd') => {
                o.null_stdin = true;
                o.null_stdout = true;
                o.own_stderr = true;
                o.detach = true;
            }
            Opt::Arg(b't', a) => o.timeout = common::cli::uint0_scan(a)?,
            _ => return None,
        }
    }
    o.args = g.rest().to_vec();
    Some(o)
}

fn die_sys(prog: &Prog, what: impl std::fmt::Display, e: Errno) -> ! {
    prog.fatal(
        exit::SYSTEM,
        format_args!("unable to {what}: {}", StrError(e)),
    )
}

/// Mark every inherited fd above 2 close-on-exec: the program gets the three it is given
/// and nothing else.
fn cloexec_above_stderr() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
    // SAFETY: close_range only changes fd flags here.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return;
    }
    // Older kernels: walk /proc/self/fd.
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: setting FD_CLOEXEC on an fd number; a closed one just fails.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Deadline-bounded socket timeouts where fds 0/1 are sockets (a pipe just blocks).
fn timeout_or_ignore(fd: BorrowedFd<'_>, send: bool, d: Option<Instant>) -> Result<(), Errno> {
    match unixmsg::set_socket_timeout(fd, send, d) {
        Err(Errno::ENOTSOCK) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_to_client(fd: BorrowedFd<'_>, bytes: &[u8], d: Option<Instant>) -> Result<(), Errno> {
    timeout_or_ignore(fd, true, d)?;
    common::fsio::write_all(fd, bytes).map_err(|e| {
        if e == Errno::EAGAIN {
            Errno::ETIMEDOUT
        } else {
            e
        }
    })
}

fn open_null(prog: &Prog, write: bool) -> OwnedFd {
    let f = if write {
        std::fs::OpenOptions::new().write(true).open("/dev/null")
    } else {
        std::fs::File::open("/dev/null")
    };
    match f {
        Ok(f) => f.into(),
        Err(e) => die_sys(
            prog,
            format_args!(
                "open /dev/null for {}",
                if write { "writing" } else { "reading" }
            ),
            common::msg::errno_of(&e),
        ),
    }
}

pub fn main() -> ! {
    let prog = Prog::new("s6-sudod");
    let args = common::rt::args_os();
    let args = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(args, HELP);
    let Some(opts) = parse_args(args) else {
        prog.usage(USAGE)
    };
    cloexec_above_stderr();
    // SAFETY: fds 0 and 1 are the client connection, open for our whole life.
    let (rd, wr) = unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1)) };
    let deadline =
        (opts.timeout > 0).then(|| Instant::now() + Duration::from_millis(opts.timeout as u64));

    if let Err(e) = write_to_client(wr, proto::BANNER_SERVER, deadline) {
        die_sys(&prog, "write banner to client", e);
    }
    let mut rx = Receiver::new(proto::MAX_REQUEST);
    let msg = match timeout_or_ignore(rd, false, deadline)
        .and_then(|()| unixmsg::recv_message(rd, &mut rx, deadline))
    {
        Ok(m) => m,
        Err(e) => die_sys(&prog, "read message from client", e),
    };
    drop(rx);
    if msg.fds.len() != 3 {
        prog.fatal(exit::USAGE, "client did not send 3 fds");
    }
    let send_einval = || {
        let _ = write_to_client(wr, &[libc::EINVAL as u8], deadline);
    };
    let header = match proto::decode_header(&msg.data) {
        Ok(h) => h,
        Err(e) => prog.fatal(exit::USAGE, e),
    };
    if opts.args.is_empty() && header.argc == 0 {
        prog.fatal(exit::USAGE, "client and server args both empty");
    }
    let mut fds = msg.fds.into_iter();
    let (Some(mut fd0), Some(mut fd1), Some(fd2)) = (fds.next(), fds.next(), fds.next()) else {
        prog.fatal(exit::USAGE, "client did not send 3 fds")
    };
    if opts.null_stdin {
        fd0 = open_null(&prog, false);
    }
    if opts.null_stdout {
        fd1 = open_null(&prog, true);
    }
    let stderr = if opts.own_stderr {
        drop(fd2);
        Stdio::inherit()
    } else {
        Stdio::from(fd2)
    };

    let parsed = header.args().and_then(|a| Ok((a, header.env()?)));
    let (client_args, client_env) = match parsed {
        Ok(x) => x,
        Err(e @ (RequestError::BadArgv | RequestError::BadEnvp)) => {
            send_einval();
            die_sys(&prog, e, Errno::EINVAL)
        }
        Err(e) => {
            send_einval();
            prog.fatal(exit::USAGE, e)
        }
    };
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = std::env::vars_os()
        .map(|(k, v)| (k.into_vec(), v.into_vec()))
        .collect();
    proto::merge_env(&mut env, &client_env);
    let mut argv: Vec<OsString> = opts.args.clone();
    argv.extend(client_args.into_iter().map(OsString::from_vec));

    // Trap SIGCHLD before the child exists, so that its death cannot be missed.
    let mut signals = match Signals::new(&[SIGCHLD]) {
        Ok(s) => s,
        Err(e) => die_sys(&prog, "trap SIGCHLD", common::msg::errno_of(&e)),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(
            env.into_iter()
                .map(|(k, v)| (OsString::from_vec(k), OsString::from_vec(v))),
        )
        .stdin(Stdio::from(fd0))
        .stdout(Stdio::from(fd1))
        .stderr(stderr);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => common::cli::fatal_bytes(
            prog.name(),
            exit::SYSTEM,
            &[
                b"unable to spawn ",
                argv[0].as_bytes(),
                b": ",
                common::strerror::text(common::msg::errno_of(&e) as i32).as_bytes(),
            ],
        ),
    };
    // The Command holds the child's copies of the client's fds: drop them now.
    drop(cmd);
    if let Err(e) = write_to_client(wr, &[0], deadline) {
        die_sys(&prog, "send confirmation to client", e);
    }

    const SIG: Token = Token(0);
    const CLIENT: Token = Token(1);
    let poll = Poll::new().and_then(|p| {
        p.registry()
            .register(&mut signals, SIG, Interest::READABLE)?;
        p.registry()
            .register(&mut SourceFd(&rd.as_raw_fd()), CLIENT, Interest::READABLE)?;
        Ok(p)
    });
    let mut poll = match poll {
        Ok(p) => p,
        Err(e) => die_sys(&prog, "iopause", common::msg::errno_of(&e)),
    };
    let mut events = Events::with_capacity(4);
    let mut client_gone = false;
    let wstat = 'wait: loop {
        if let Ok(Some(st)) = child.try_wait() {
            break 'wait st.into_raw();
        }
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            die_sys(&prog, "iopause", common::msg::errno_of(&e));
        }
        for ev in events.iter() {
            match ev.token() {
                SIG => for _ in signals.pending() {},
                CLIENT
                    if !client_gone
                        && (ev.is_error() || (ev.is_read_closed() && ev.is_write_closed())) =>
                {
                    if !opts.detach {
                        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGCONT);
                        std::process::exit(1);
                    }
                    client_gone = true;
                    let _ = poll.registry().deregister(&mut SourceFd(&rd.as_raw_fd()));
                }
                _ => {}
            }
        }
    };
    if !client_gone {
        if let Err(e) = write_to_client(wr, &(wstat as u32).to_be_bytes(), None) {
            die_sys(&prog, "write status to client", e);
        }
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let a: Vec<OsString> = ["-d", "-t30000", "--", "prog", "-x"]
            .iter()
            .map(OsString::from)
            .collect();
        let o = parse_args(&a).unwrap();
        assert!(o.detach && o.null_stdin && o.null_stdout && o.own_stderr);
        assert_eq!(o.timeout, 30000);
        assert_eq!(o.args, vec![OsString::from("prog"), OsString::from("-x")]);
        assert!(parse_args(&[OsString::from("-x")]).is_none());
    }
}

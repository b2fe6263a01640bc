//! `s6-sudoc`: the client side, on the socket s6-ipcclient put on fds 6 (read) and 7 (write).

use crate::proto;
use common::cli::{GetOpt, Opt};
use common::msg::{exit, StrError};
use common::unixmsg;
use common::Prog;
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

const USAGE: &str = "s6-sudoc [ -e ] [ -t timeoutconn ] [ -T timeoutrun ] [ args... ]";
const HELP: &str = "s6-sudoc [ -e ] [ -t timeoutconn ] [ -T timeoutrun ] [ args... ]
  -e              do not send the environment
  -t timeoutconn  ms to get the banner and the confirmation (0: none)
  -T timeoutrun   ms to wait for the exit status (0: none)";

/// Parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub send_env: bool,
    pub timeout_conn: u32,
    pub timeout_run: u32,
    pub args: Vec<OsString>,
}

pub fn parse_args(args: &[OsString]) -> Option<Options> {
    let mut o = Options {
        send_env: true,
        timeout_conn: 0,
        timeout_run: 0,
        args: Vec::new(),
    };
    let mut g = GetOpt::new(args, "et:T:");
    while let Some(x) = g.next_opt() {
        match x.ok()? {
            Opt::Flag(b'e') => o.send_env = false,
            Opt::Arg(b't', a) => o.timeout_conn = common::cli::uint0_scan(a)?,
            Opt::Arg(b'T', a) => o.timeout_run = common::cli::uint0_scan(a)?,
            _ => return None,
        }
    }
    o.args = g.rest().to_vec();
    Some(o)
}

fn deadline(ms: u32) -> Option<Instant> {
    (ms > 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

fn die_sys(prog: &Prog, what: &str, e: Errno) -> ! {
    prog.fatal(
        exit::SYSTEM,
        format_args!("unable to {what}: {}", StrError(e)),
    )
}

/// Make a descriptor blocking (the deadlines are socket timeouts).
fn set_blocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let fl = OFlag::from_bits_truncate(fl) & !OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(fl));
    }
}

pub fn main() -> ! {
    let prog = Prog::new("s6-sudoc");
    let args = common::rt::args_os();
    let args = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(args, HELP);
    let Some(opts) = parse_args(args) else {
        prog.usage(USAGE)
    };
    // SAFETY: fds 6 and 7 are the connection s6-ipcclient gave us, open for our lifetime
    // (an fd that is not open makes the system calls fail with EBADF, reported below).
    let rd = unsafe { BorrowedFd::borrow_raw(6) };
    // SAFETY: as above, for fd 7.
    let wr = unsafe { BorrowedFd::borrow_raw(7) };
    set_blocking(rd);
    set_blocking(wr);
    let conn_deadline = deadline(opts.timeout_conn);

    let mut banner = [0u8; 15];
    match unixmsg::read_exact_raw(rd, &mut banner, conn_deadline) {
        (0, _) => prog.fatal(
            exit::SYSTEM,
            "unable to connect to the s6-sudod server - check that you have appropriate permissions",
        ),
        (n, e) if n < banner.len() => die_sys(&prog, "read banner from s6-sudod", e.unwrap_or(Errno::EPIPE)),
        _ => {}
    }
    if &banner != proto::BANNER_SERVER {
        prog.fatal(
            exit::USAGE,
            "wrong banner - check that you are connecting to a s6-sudod server",
        );
    }

    let cargs: Vec<&[u8]> = opts.args.iter().map(|a| a.as_bytes()).collect();
    let env: Vec<Vec<u8>> = if opts.send_env {
        std::env::vars_os()
            .map(|(k, v)| {
                let mut s = k.as_bytes().to_vec();
                s.push(b'=');
                s.extend_from_slice(v.as_bytes());
                s
            })
            .collect()
    } else {
        Vec::new()
    };
    let data = proto::encode_request(&cargs, &env);
    if let Err(e) = unixmsg::send_all(wr, &data, &[0, 1, 2], conn_deadline) {
        die_sys(&prog, "send args to server", e);
    }
    // The server's program has our stdin and stdout now: let go of them, so that it alone
    // holds them (a reader sees EOF when it is done).
    // SAFETY: closing our own fd 0, which nothing else in this process uses.
    unsafe { libc::close(0) };
    // SAFETY: likewise for fd 1.
    unsafe { libc::close(1) };

    let mut c = [0u8; 1];
    match unixmsg::read_exact_raw(rd, &mut c, conn_deadline) {
        (1, _) => {}
        (_, e) => die_sys(
            &prog,
            "get confirmation from server",
            e.unwrap_or(Errno::EPIPE),
        ),
    }
    if c[0] != 0 {
        // s6 prints this doubled colon too.
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to start privileged program: server answered: : {}",
                StrError(Errno::from_raw(c[0] as i32))
            ),
        );
    }
    let mut st = [0u8; 4];
    match unixmsg::read_exact_raw(rd, &mut st, deadline(opts.timeout_run)) {
        (4, _) => {}
        (_, e) => die_sys(
            &prog,
            "get exit status from server",
            e.unwrap_or(Errno::EPIPE),
        ),
    }
    common::rt::exit(proto::exit_code_of(u32::from_be_bytes(st)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let a: Vec<OsString> = ["-e", "-t", "5", "-T0", "--", "-x", "y"]
            .iter()
            .map(OsString::from)
            .collect();
        let o = parse_args(&a).unwrap();
        assert!(!o.send_env);
        assert_eq!((o.timeout_conn, o.timeout_run), (5, 0));
        assert_eq!(o.args, vec![OsString::from("-x"), OsString::from("y")]);
        assert!(parse_args(&[OsString::from("-t")]).is_none());
    }
}

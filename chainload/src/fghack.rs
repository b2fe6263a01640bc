//! `s6-fghack`: run prog as a child holding 31 write ends of a pipe, and wait until every
//! process that inherited them (prog and whatever it left in the background) is gone.
//! Not a chain loader: it forks (the one program of the family that does).

use common::exec::{execvep, search_path, Argv};
use common::msg::{exit, Prog, StrError};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-fghack";
pub const USAGE: &str = "s6-fghack prog...";
pub const HELP: &str = "\
s6-fghack prog...
Run prog and wait until prog and every process it left behind have exited.";

/// Extra duplicates of the hackpipe's write end prog gets (s6's N).
const EXTRA_FDS: usize = 30;

/// Exit code for a prog killed by a signal (2.15: 128 + signal).
pub fn exit_code(st: WaitStatus) -> i32 {
    match st {
        WaitStatus::Exited(_, c) => c,
        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
        _ => exit::SYSTEM,
    }
}

fn read_retry(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let prog = Prog::new(PROG);
    if args.is_empty() {
        prog.usage(USAGE);
    }
    prog.warn("this program is obsolescent, please use s6-background-watch instead");
    let name = args[0].as_bytes();
    let (hack_r, hack_w) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!("unable to create hackpipe: {}", StrError(e)),
        ),
    };
    // prog inherits the write end and its duplicates (dup clears close-on-exec); the read
    // end stays close-on-exec.
    let _ = fcntl(&hack_w, FcntlArg::F_SETFD(FdFlag::empty()));
    let dups: Vec<OwnedFd> = (0..EXTRA_FDS)
        .filter_map(|_| nix::unistd::dup(hack_w.as_fd()).ok())
        .collect();
    let Some(argv) = Argv::new(args.iter().map(|a| a.as_bytes())) else {
        common::cli::fatal_bytes(
            PROG,
            exit::SYSTEM,
            &[b"unable to spawn ", name, b": Invalid argument"],
        )
    };
    let path = search_path();
    // Exec failures come back on this close-on-exec pipe (as an errno, 4 bytes).
    let (err_r, err_w) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => spawn_failed(name, e),
    };
    // SAFETY: single-threaded; the child only closes fds, execs, writes and _exits.
    let child = match unsafe { fork() } {
        Err(e) => spawn_failed(name, e),
        Ok(ForkResult::Child) => {
            drop(hack_r);
            drop(err_r);
            let e = execvep(&argv, &path) as i32;
            let _ = nix::unistd::write(&err_w, &e.to_ne_bytes());
            // SAFETY: leave the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(err_w);
    let mut ebuf = [0u8; 4];
    if let Ok(4) = read_retry(&err_r, &mut ebuf) {
        let _ = waitpid(child, None);
        spawn_failed(name, Errno::from_raw(i32::from_ne_bytes(ebuf)));
    }
    drop(err_r);
    drop(dups);
    drop(hack_w);
    let mut c = [0u8; 1];
    match read_retry(&hack_r, &mut c) {
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!("unable to read on hackpipe: {}", StrError(e)),
        ),
        Ok(0) => {}
        Ok(_) => common::cli::fatal_bytes(PROG, 102, &[name, b" wrote on hackpipe"]),
    }
    let st = loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to wait_pid: {}", StrError(e)),
            ),
            Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => break st,
            Ok(_) => continue,
        }
    };
    std::process::exit(exit_code(st))
}

fn spawn_failed(name: &[u8], e: Errno) -> ! {
    common::cli::fatal_bytes(
        PROG,
        exit::SYSTEM,
        &[
            b"unable to spawn ",
            name,
            b": ",
            common::strerror::text(e as i32).as_bytes(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn codes() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 7)), 7);
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            137
        );
    }
}

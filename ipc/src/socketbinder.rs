//! `s6-ipcserver-socketbinder`: bind a Unix socket on fd 0, then exec the server.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::cli::{uint0_scan, GetOpt, Opt};
use nix::errno::Errno;
use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::{umask, Mode};

use crate::util::{exec, fatal_sys, usage, SYSTEM};

const PROG: &str = "s6-ipcserver-socketbinder";
const USAGE: &str =
    "s6-ipcserver-socketbinder [ -d | -D ] [ -b backlog ] [ -M | -m ] [ -a perms ] [ -B ] path prog...";
const HELP: &str = "s6-ipcserver-socketbinder [ -d | -D ] [ -b backlog ] [ -M | -m ] [ -a perms ] [ -B ] path prog...
  -d          replace an existing path (default; takes path.lock)
  -D          refuse to bind over an existing path
  -b backlog  listen() backlog (0: do not listen)
  -M / -m     stream (default) / datagram socket
  -a perms    octal mode of the socket file (default 0777)
  -B          leave the socket blocking";

/// The longest socket path that can be bound (skalibs' `IPCPATH_MAX`).
pub const IPCPATH_MAX: usize = 107;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub reuse: bool,
    pub backlog: u32,
    pub dgram: bool,
    pub perms: u32,
    pub blocking: bool,
    pub path: OsString,
    pub prog: Vec<OsString>,
}

/// Parse the arguments after `argv[0]`; `None` is a usage error.
pub fn parse_args(args: &[OsString]) -> Option<Opts> {
    let mut o = Opts {
        reuse: true,
        backlog: libc::SOMAXCONN as u32,
        dgram: false,
        perms: 0o777,
        blocking: false,
        path: OsString::new(),
        prog: Vec::new(),
    };
    let mut g = GetOpt::new(args, "dDb:mMa:B");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Flag(b'd') => o.reuse = true,
            Opt::Flag(b'D') => o.reuse = false,
            Opt::Arg(b'b', v) => o.backlog = uint0_scan(v)?,
            Opt::Flag(b'm') => o.dgram = true,
            Opt::Flag(b'M') => o.dgram = false,
            Opt::Arg(b'a', v) => o.perms = crate::util::octal_scan(v)? & 0o7777,
            Opt::Flag(b'B') => o.blocking = true,
            _ => return None,
        }
    }
    let [path, prog @ ..] = g.rest() else {
        return None;
    };
    if prog.is_empty() {
        return None;
    }
    o.path = path.clone();
    o.prog = prog.to_vec();
    Some(o)
}

/// A socket address for `path`, refusing paths longer than [`IPCPATH_MAX`].
pub fn unix_addr(path: &Path) -> Result<UnixAddr, Errno> {
    if path.as_os_str().len() > IPCPATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    UnixAddr::new(path)
}

fn bind_socket(fd: &OwnedFd, o: &Opts) -> Result<Option<OwnedFd>, Errno> {
    let path = Path::new(&o.path);
    let addr = unix_addr(path)?;
    let mut lock = None;
    if o.reuse {
        let mut lockpath = o.path.clone();
        lockpath.push(".lock");
        lock = Some(
            common::lock::acquire(Path::new(&lockpath), 0o600).map_err(|e| match e {
                common::lock::LockError::Busy => Errno::EBUSY,
                common::lock::LockError::Io(e) => e,
            })?,
        );
        setsockopt(fd, sockopt::ReuseAddr, &true)?;
        match nix::unistd::unlink(path) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    bind(fd.as_raw_fd(), &addr)?;
    Ok(lock)
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    common::cli::help_or_version(args.get(1..).unwrap_or_default(), HELP);
    let Some(o) = parse_args(args.get(1..).unwrap_or_default()) else {
        usage(PROG, USAGE)
    };
    // The socket must become fd 0.
    let _ = nix::unistd::close(0);
    let mut flags = SockFlag::empty();
    if !o.blocking {
        flags |= SockFlag::SOCK_NONBLOCK;
    }
    let ty = if o.dgram {
        SockType::Datagram
    } else {
        SockType::Stream
    };
    let fd = match socket(AddressFamily::Unix, ty, flags, None) {
        Ok(fd) => fd,
        Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to create socket"], e),
    };
    let fd = if fd.as_raw_fd() == 0 {
        fd
    } else {
        // SAFETY: fd 0 is free (closed above) or ours to replace; dup2 onto it.
        match unsafe { libc::dup2(fd.as_raw_fd(), 0) } {
            // SAFETY: dup2 returned 0, a new descriptor we now own.
            0 => unsafe { OwnedFd::from_raw_fd(0) },
            _ => fatal_sys(PROG, SYSTEM, &[b"unable to create socket"], Errno::last()),
        }
    };
    let old = umask(Mode::from_bits_truncate(!o.perms & 0o777));
    let bound = bind_socket(&fd, &o);
    umask(old);
    let lock = match bound {
        Ok(l) => l,
        Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to bind to ", o.path.as_bytes()], e),
    };
    if o.backlog > 0 {
        let b = Backlog::new(o.backlog.min(i32::MAX as u32) as i32).unwrap_or(Backlog::MAXCONN);
        if let Err(e) = listen(&fd, b) {
            fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to listen to ", o.path.as_bytes()],
                e,
            )
        }
    }
    // fd 0 stays open across the exec (socket() made it without close-on-exec); the lock is
    // close-on-exec and released by it.
    std::mem::forget(fd);
    // The lock stays held until the exec releases it.
    std::mem::forget(lock);
    exec(PROG, &o.prog, &[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn options() {
        let o = parse_args(&a(&["-D", "-b0", "-m", "-a", "751", "-B", "p", "x", "y"])).unwrap();
        assert!(!o.reuse && o.dgram && o.blocking);
        assert_eq!((o.backlog, o.perms), (0, 0o751));
        assert_eq!(o.prog, a(&["x", "y"]));
        assert!(parse_args(&a(&["p"])).is_none());
        assert!(parse_args(&a(&["-a", "8", "p", "x"])).is_none());
        assert!(parse_args(&a(&["-b", "z", "p", "x"])).is_none());
    }
}

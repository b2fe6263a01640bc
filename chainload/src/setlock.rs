//! `s6-setlock`: take a POSIX record lock (fcntl, the kind `common::lock` and s6's
//! supervisor locks use) on a file, then exec prog, which holds it through the inherited fd.
//!
//! Deliberate difference (upstream bug): s6 2.15's `-d FD` locks, then `dup2`s the fd to FD
//! and closes the original, and closing any fd of a file drops the process's POSIX locks on
//! it: prog holds nothing. We move the descriptor first and lock it where prog will have it.

use common::cli::{fatal_bytes, GetOpt, Opt};
use common::exec::exec_prog;
use common::msg::exit;
use nix::errno::Errno;
use nix::sys::signal::{sigaction, signal, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::ffi::{c_char, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

pub const PROG: &str = "s6-setlock";
pub const USAGE: &str =
    "s6-setlock [ -r | -w ] [ -n | -N ] [ -t timeout ] [ -d fd ] lockfile prog...";
pub const HELP: &str = "\
s6-setlock [ -r | -w ] [ -n | -N ] [ -t timeout ] [ -d fd ] lockfile prog...
Take a POSIX lock on lockfile, then exec prog, which keeps it.
  -w              exclusive (write) lock (the default)
  -r              shared (read) lock
  -N              wait for the lock (the default)
  -n              fail at once if the lock is held
  -t timeout      give up waiting after timeout milliseconds (0: never)
  -d fd           give prog the locked descriptor as fd";

#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a, A = OsString> {
    pub nonblocking: bool,
    pub exclusive: bool,
    /// Milliseconds, 0 for none.
    pub timeout_ms: u32,
    pub dest: Option<u32>,
    pub file: &'a OsStr,
    pub prog: &'a [A],
}

#[derive(Debug, PartialEq, Eq)]
pub struct Usage;

pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> Result<Request<'_, A>, Usage> {
    let mut nonblocking = false;
    let mut exclusive = true;
    let mut timeout_ms = 0;
    let mut dest = None;
    let mut g = GetOpt::new(args, "nNrwt:d:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| Usage)? {
            Opt::Flag(b'n') => nonblocking = true,
            Opt::Flag(b'N') => nonblocking = false,
            Opt::Flag(b'r') => exclusive = false,
            Opt::Flag(b'w') => exclusive = true,
            Opt::Arg(b't', v) => timeout_ms = common::cli::uint0_scan(v).ok_or(Usage)?,
            Opt::Arg(b'd', v) => dest = Some(common::cli::uint0_scan(v).ok_or(Usage)?),
            _ => return Err(Usage),
        }
    }
    let [file, prog @ ..] = g.rest() else {
        return Err(Usage);
    };
    if prog.is_empty() {
        return Err(Usage);
    }
    Ok(Request {
        nonblocking,
        exclusive,
        timeout_ms,
        dest,
        file: file.as_ref(),
        prog,
    })
}

/// The timeout message, written by the SIGALRM handler (which may only call write/_exit).
static TIMEOUT_MSG: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static TIMEOUT_LEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    let p = TIMEOUT_MSG.load(Ordering::Relaxed);
    let n = TIMEOUT_LEN.load(Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: p/n describe a leaked buffer that lives forever; write is
        // async-signal-safe.
        unsafe { libc::write(2, p as *const libc::c_void, n) };
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(1) }
}

/// Arm a one-shot timer that ends the process with s6's timeout message.
fn arm_timeout(file: &[u8], ms: u32) -> Result<(), Errno> {
    let msg = common::cli::line(&[PROG.as_bytes(), b": fatal: lock ", file, b": timed out"]);
    let msg: &'static mut [u8] = Box::leak(msg.into_boxed_slice());
    TIMEOUT_LEN.store(msg.len(), Ordering::Relaxed);
    TIMEOUT_MSG.store(msg.as_mut_ptr(), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(on_alarm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: on_alarm only makes async-signal-safe calls (write, _exit) and reads atomics.
    unsafe { sigaction(Signal::SIGALRM, &action) }?;
    let it = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            // `as _`: the fields' types, which libc deprecates naming on musl.
            tv_sec: (ms / 1000) as _,
            tv_usec: ((ms % 1000) * 1000) as _,
        },
    };
    // SAFETY: `it` is a valid itimerval for the call; a null old value is allowed.
    if unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) } == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

fn disarm_timeout() {
    let zero = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let it = libc::itimerval {
        it_interval: zero,
        it_value: zero,
    };
    // SAFETY: a zero itimerval, valid for the call, disarms the timer; a null old value is
    // allowed.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
    // SAFETY: SIG_DFL installs no handler; it restores the disposition prog would have had.
    let _ = unsafe { signal(Signal::SIGALRM, SigHandler::SigDfl) };
}

fn open_raw(path: &CString, flags: libc::c_int) -> Result<i32, Errno> {
    // SAFETY: path is a valid C string. Not close-on-exec: prog inherits the lock fd.
    let fd = unsafe { libc::open(path.as_ptr() as *const c_char, flags, 0o666 as libc::c_uint) };
    if fd == -1 {
        Err(Errno::last())
    } else {
        Ok(fd)
    }
}

/// The lock (`common::lock`: whole file, POSIX record lock); busy is reported as EBUSY,
/// as s6 does.
fn lock(fd: i32, exclusive: bool, nonblocking: bool) -> Result<(), Errno> {
    // SAFETY: fd is open (ours) for the duration of the call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match common::lock::lock_whole_fd(fd, exclusive, !nonblocking) {
        Ok(()) => Ok(()),
        Err(common::lock::LockError::Busy) => Err(Errno::EBUSY),
        Err(common::lock::LockError::Io(e)) => Err(e),
    }
}

fn die_sys(code: i32, parts: &[&[u8]], e: Errno) -> ! {
    let text = common::strerror::text(e as i32);
    let mut all: Vec<&[u8]> = parts.to_vec();
    all.push(b": ");
    all.push(text.as_bytes());
    fatal_bytes(PROG, code, &all)
}

pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let req = match parse_args(&args) {
        Ok(r) => r,
        Err(Usage) => common::msg::Prog::new(PROG).usage(USAGE),
    };
    let file = req.file.as_bytes();
    let Ok(cpath) = CString::new(file) else {
        die_sys(exit::SYSTEM, &[b"unable to open ", file], Errno::EINVAL)
    };
    let create = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CREAT;
    let read = libc::O_RDONLY | libc::O_NONBLOCK;
    let mut fd = if req.exclusive {
        open_raw(&cpath, create).unwrap_or_else(|e| {
            die_sys(
                exit::SYSTEM,
                &[b"unable to open ", file, b" for writing"],
                e,
            )
        })
    } else {
        match open_raw(&cpath, read) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let c = open_raw(&cpath, create)
                    .unwrap_or_else(|e| die_sys(exit::SYSTEM, &[b"unable to create ", file], e));
                // SAFETY: c is ours, just opened.
                unsafe { libc::close(c) };
                open_raw(&cpath, read).unwrap_or_else(|e| {
                    die_sys(
                        exit::SYSTEM,
                        &[b"unable to open ", file, b" for reading"],
                        e,
                    )
                })
            }
            Err(e) => die_sys(
                exit::SYSTEM,
                &[b"unable to open ", file, b" for reading"],
                e,
            ),
        }
    };
    // Move first, lock second: the lock is then on the fd prog keeps (see the module doc).
    if let Some(dest) = req.dest {
        let dest = dest as i32;
        if dest >= 0 && dest != fd {
            // SAFETY: plain descriptor numbers; fd is ours.
            if unsafe { libc::dup2(fd, dest) } == -1 {
                die_sys(
                    exit::SYSTEM,
                    &[b"unable to move lock descriptor"],
                    Errno::last(),
                );
            }
            // SAFETY: the original descriptor is ours and no longer needed.
            unsafe { libc::close(fd) };
            fd = dest;
        }
    }
    let timed = req.timeout_ms > 0;
    if timed {
        if let Err(e) = arm_timeout(file, req.timeout_ms) {
            die_sys(exit::SYSTEM, &[b"unable to set timer"], e);
        }
    }
    let r = lock(fd, req.exclusive, req.nonblocking);
    if timed {
        disarm_timeout();
    }
    if let Err(e) = r {
        die_sys(1, &[b"unable to lock ", file], e);
    }
    exec_prog(PROG, req.prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parse() {
        let a = os(&["-nr", "-t", "400", "-d7", "lk", "p", "-x"]);
        let r = parse_args(&a).unwrap();
        assert_eq!(
            (r.nonblocking, r.exclusive, r.timeout_ms, r.dest, r.file),
            (true, false, 400, Some(7), OsStr::new("lk"))
        );
        assert_eq!(r.prog, &a[5..]);
        for bad in [
            &[][..],
            &["lk"],
            &["-x", "lk", "t"],
            &["-t", "x", "lk", "t"],
            &["-t", "-5", "lk", "t"],
        ] {
            assert_eq!(parse_args(&os(bad)), Err(Usage));
        }
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a);
        }
    }
}

//! A light program entry for `#![no_main]` binaries: what the Rust runtime's `main` shim
//! does that our programs rely on, without the rest (reading `/proc/self/maps` for the main
//! thread's stack guard, an alternate signal stack and SIGSEGV/SIGBUS handlers). Fewer
//! system calls at every start and fewer dirty pages in every long-lived supervisor.
//!
//! Arguments: `main` receives `argc`/`argv` and keeps them for [`args_os`]; std's own
//! `std::env::args_os` is empty in a `no_main` program on musl (glibc hands them to std
//! through `.init_array`, musl does not). The environment is libc's `environ` either way.
//! `std::process::exit` still flushes stdout.

use std::ffi::{c_char, c_int, CStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

static ARGC: AtomicIsize = AtomicIsize::new(-1);
static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The program's arguments, `argv[0]` first: those `main` was given in a binary started
/// through [`entry!`](crate::entry), std's otherwise (test harnesses, ordinary `main`s).
pub fn args_os() -> Vec<OsString> {
    let argc = ARGC.load(Ordering::Relaxed);
    let argv = ARGV.load(Ordering::Relaxed);
    if argc < 0 || argv.is_null() {
        return std::env::args_os().collect();
    }
    (0..argc as usize)
        .map_while(|i| {
            // SAFETY: argv holds argc pointers (the C runtime's own array, never freed);
            // a null entry ends it early.
            let p = unsafe { *argv.add(i) };
            (!p.is_null()).then(|| {
                // SAFETY: a non-null argv entry is a NUL-terminated string.
                OsString::from(std::ffi::OsStr::from_bytes(
                    unsafe { CStr::from_ptr(p) }.to_bytes(),
                ))
            })
        })
        .collect()
}

/// Argument `i` as raw bytes (`argv[0]` is 0), without allocating: `None` past the end, or
/// when `main`'s arguments were not kept (test harnesses).
pub fn arg(i: usize) -> Option<&'static [u8]> {
    let argc = usize::try_from(ARGC.load(Ordering::Relaxed)).ok()?;
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() || i >= argc {
        return None;
    }
    // SAFETY: i < argc, and argv holds argc pointers (the C runtime's array, never freed).
    let p = unsafe { *argv.add(i) };
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null argv entry is a NUL-terminated string that lives as long as the
    // process.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// `argv + (argc - args.len())`, NULL-terminated as the C runtime leaves it, when `args`
/// are exactly the last `args.len()` arguments `main` was given: the chain loaders exec a
/// tail of their own command line, and can hand it to `execve` without copying it.
pub fn argv_tail(args: &[std::ffi::OsString]) -> Option<*const *const c_char> {
    let argc = usize::try_from(ARGC.load(Ordering::Relaxed)).ok()?;
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() || args.is_empty() || args.len() > argc {
        return None;
    }
    let start = argc - args.len();
    for (i, a) in args.iter().enumerate() {
        if arg(start + i)? != a.as_bytes() {
            return None;
        }
    }
    // SAFETY: start < argc: within the array, whose entry argc is the NULL terminator.
    Some(unsafe { argv.add(start) } as *const *const c_char)
}

/// Drop `argv[0]`: the multi-call binary run as `s6-rs PROGRAM ARGS...` hands the program
/// `PROGRAM ARGS...`, as if it had been called by that name.
pub fn shift_args() {
    let argc = ARGC.load(Ordering::Relaxed);
    let argv = ARGV.load(Ordering::Relaxed);
    if argc > 0 && !argv.is_null() {
        // SAFETY: argc > 0, so argv + 1 is within (or one past the end of) the array.
        ARGV.store(unsafe { argv.add(1) }, Ordering::Relaxed);
        ARGC.store(argc - 1, Ordering::Relaxed);
    }
}

/// Keep `main`'s arguments for [`args_os`]. Called by the multi-call binary's `main` only.
#[doc(hidden)]
pub fn set_args(argc: c_int, argv: *const *const c_char) {
    ARGV.store(argv as *mut *const c_char, Ordering::Relaxed);
    ARGC.store(argc as isize, Ordering::Relaxed);
}

/// The Rust runtime's start-up, kept: closed fds 0-2 are reopened on `/dev/null`
/// (read-write, as std does), and SIGPIPE is ignored (so writes report EPIPE; children
/// started with `std::process::Command` get it back at its default, as before).
pub fn start(main: fn() -> !) -> ! {
    // SAFETY: poll/open/signal on fixed arguments, before any other code runs.
    unsafe {
        let mut pfds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        loop {
            if libc::poll(pfds.as_mut_ptr(), 3, 0) != -1 {
                for p in &pfds {
                    if p.revents & libc::POLLNVAL != 0 && !reopen_null() {
                        libc::abort();
                    }
                }
                break;
            }
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                nix::errno::Errno::EINVAL
                | nix::errno::Errno::EAGAIN
                | nix::errno::Errno::ENOMEM => {
                    for fd in 0..3 {
                        if libc::fcntl(fd, libc::F_GETFD) == -1
                            && nix::errno::Errno::last() == nix::errno::Errno::EBADF
                            && !reopen_null()
                        {
                            libc::abort();
                        }
                    }
                    break;
                }
                _ => libc::abort(),
            }
        }
        if libc::signal(libc::SIGPIPE, libc::SIG_IGN) == libc::SIG_ERR {
            libc::abort();
        }
    }
    main()
}

fn reopen_null() -> bool {
    // SAFETY: open of a constant NUL-terminated path.
    unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) != -1 }
}

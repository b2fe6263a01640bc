//! A light program entry for `#![no_main]` binaries: what the Rust runtime's `main` shim
//! does that our programs rely on, without the rest (reading `/proc/self/maps` for the main
//! thread's stack guard, an alternate signal stack and SIGSEGV/SIGBUS handlers). Fewer
//! system calls at every start and fewer dirty pages in every long-lived supervisor.
//!
//! Arguments: `main` receives `argc`/`argv` and keeps them for [`args_os`]; std's own
//! `std::env::args_os` is empty in a `no_main` program on musl (glibc hands them to std
//! through `.init_array`, musl does not). The environment is libc's `environ` either way.
//! `std::process::exit` still flushes stdout.

use std::ffi::{c_char, c_int, CStr, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicIsize, AtomicPtr, AtomicU8, Ordering};

static ARGC: AtomicIsize = AtomicIsize::new(-1);
static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Bit `fd` set: fd 0, 1 or 2 was closed when the program started and [`start`] reopened it
/// on `/dev/null`.
static REOPENED: AtomicU8 = AtomicU8::new(0);

/// Whether fd 0, 1 or 2 was closed at start (and is now `/dev/null`): a program that checks
/// its caller's descriptors (`s6-ipcserverd -1`) sees through the reopening.
pub fn reopened_at_start(fd: i32) -> bool {
    (0..3).contains(&fd) && REOPENED.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Close again the standard descriptors [`start`] reopened, except those in `keep` (which
/// the program has since reused): a chain-loading program hands its closed fds on closed.
pub fn close_reopened(keep: &[i32]) {
    for fd in 0..3 {
        if reopened_at_start(fd) && !keep.contains(&fd) {
            // SAFETY: closing a standard fd that this process opened on /dev/null itself.
            unsafe {
                libc::close(fd);
            }
        }
    }
    REOPENED.store(0, Ordering::Relaxed);
}

/// The program's arguments, `argv[0]` first: those `main` was given in the multi-call
/// binary, std's otherwise (test harnesses, ordinary `main`s).
pub fn args_os() -> Vec<OsString> {
    let argc = ARGC.load(Ordering::Relaxed);
    let argv = ARGV.load(Ordering::Relaxed);
    if argc < 0 || argv.is_null() {
        return std::env::args_os().collect();
    }
    // A null entry ends the list early.
    let mut args = Vec::with_capacity(argc as usize);
    args.extend(
        (0..argc as usize)
            .map_while(arg)
            .map(|a| OsString::from(OsStr::from_bytes(a))),
    );
    args
}

/// How many arguments [`Args`] holds without allocating.
const INLINE_ARGS: usize = 8;

/// The program's arguments after its name (`argv[1..]`, see [`arguments`]): a slice of
/// `&'static OsStr`, held inline for the usual few, on the heap for more.
pub enum Args {
    Inline([&'static OsStr; INLINE_ARGS], usize),
    Heap(Vec<&'static OsStr>),
}

impl std::ops::Deref for Args {
    type Target = [&'static OsStr];
    fn deref(&self) -> &[&'static OsStr] {
        match self {
            Args::Inline(a, n) => a.get(..*n).unwrap_or(&[]),
            Args::Heap(v) => v,
        }
    }
}

/// The program's arguments after its name (`argv[1..]`), borrowed from the C runtime's
/// array, which lives as long as the process: no copy of any argument, and no allocation
/// for up to 8 of them. What every program's parser reads ([`crate::cli::GetOpt`] takes
/// these as it takes `OsString`s).
pub fn arguments() -> Args {
    let argc = ARGC.load(Ordering::Relaxed);
    if argc < 0 || ARGV.load(Ordering::Relaxed).is_null() {
        // Not started by the multi-call `main` (a test harness): std's copy, kept for good.
        let owned: Vec<OsString> = std::env::args_os().skip(1).collect();
        let leaked: &'static [OsString] = owned.leak();
        return Args::Heap(leaked.iter().map(OsString::as_os_str).collect());
    }
    let n = (argc as usize).saturating_sub(1);
    if n > INLINE_ARGS {
        // A null entry ends the list early (arg).
        let mut v = Vec::with_capacity(n);
        v.extend((1..=n).map_while(arg).map(OsStr::from_bytes));
        return Args::Heap(v);
    }
    let mut inline = [OsStr::new(""); INLINE_ARGS];
    let mut len = 0;
    for (slot, a) in inline.iter_mut().zip((1..=n).map_while(arg)) {
        *slot = OsStr::from_bytes(a);
        len += 1;
    }
    Args::Inline(inline, len)
}

/// The basename of `argv[0]` as the C library took it at start-up (musl's and glibc's
/// `program_invocation_short_name`): what the multi-call binary dispatches on, without
/// measuring and scanning the whole path again. Empty if there was no `argv[0]`.
pub fn program_name() -> &'static [u8] {
    extern "C" {
        static program_invocation_short_name: *const c_char;
    }
    // SAFETY: a plain read of a pointer the C library sets once, before main.
    let p = unsafe { program_invocation_short_name };
    if p.is_null() {
        return b"";
    }
    // SAFETY: it points into argv[0], a NUL-terminated string that lives as long as the
    // process.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// Argument `i` as raw bytes (`argv[0]` is 0), without allocating: `None` past the end, or
/// when `main`'s arguments were not kept (test harnesses).
pub fn arg(i: usize) -> Option<&'static [u8]> {
    let argc = usize::try_from(ARGC.load(Ordering::Relaxed)).ok()?;
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() || i >= argc {
        return None;
    }
    // SAFETY: i < argc, and argv holds argc pointers (the C runtime's array, never freed),
    // so argv + i is inside it.
    let slot = unsafe { argv.add(i) };
    // SAFETY: slot points to an initialised entry of that array.
    let p = unsafe { *slot };
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
pub fn argv_tail<A: AsRef<OsStr>>(args: &[A]) -> Option<*const *const c_char> {
    let argc = usize::try_from(ARGC.load(Ordering::Relaxed)).ok()?;
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() || args.is_empty() || args.len() > argc {
        return None;
    }
    let start = argc - args.len();
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref().as_bytes();
        let b = arg(start + i)?;
        // Borrowed from argv (rt::arguments): the same bytes, no need to compare them.
        if b.as_ptr() == a.as_ptr() && b.len() == a.len() {
            continue;
        }
        if b != a {
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

/// The part of the Rust runtime's start-up our programs rely on: closed fds 0-2 are reopened
/// on `/dev/null` (read-write, as std does). SIGPIPE keeps the disposition it was inherited
/// with, as in s6's C programs (a tool writing to a closed pipe dies of it); a program that
/// must survive it (a daemon, a listener) says so with [`crate::signals::alt_ignore`].
pub fn start(main: fn() -> !) -> ! {
    if !sanitize_stdio() {
        std::process::abort();
    }
    main()
}

/// Open `/dev/null` on whichever of fds 0, 1, 2 is closed; false if that cannot be done.
fn sanitize_stdio() -> bool {
    let mut pfds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: pfds is an array of 3 initialised pollfd structs; timeout 0 never blocks.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), 3, 0) };
        if r != -1 {
            // Reopening in fd order fills the lowest closed slot each time.
            return pfds
                .iter()
                .filter(|p| p.revents & libc::POLLNVAL != 0)
                .all(|p| reopen_null(p.fd));
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            nix::errno::Errno::EINVAL | nix::errno::Errno::EAGAIN | nix::errno::Errno::ENOMEM => {
                return (0..3).filter(|&fd| !fd_is_open(fd)).all(reopen_null)
            }
            _ => return false,
        }
    }
}

fn fd_is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table; any integer is a valid argument.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    r != -1 || nix::errno::Errno::last() != nix::errno::Errno::EBADF
}

/// Open `/dev/null` on the lowest free fd, which is `fd`, and remember it.
fn reopen_null(fd: c_int) -> bool {
    // SAFETY: open of a constant NUL-terminated path.
    let ok = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) != -1 };
    if ok {
        REOPENED.fetch_or(1 << fd, Ordering::Relaxed);
    }
    ok
}

/// End the program with `code`: `_exit(2)`, without std's clean-up nor the C library's.
/// Neither has work to do for us: every output goes to its descriptor directly through
/// `common::fsio::write_all` (no std or C stdio buffer is ever left to flush) and nothing
/// registers an `atexit` handler. Saves std's once-guarded runtime teardown and libc's
/// stdio walk, a few hundred instructions per program run.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; no destructor, buffer or handler is left to run.
    unsafe { libc::_exit(code) }
}

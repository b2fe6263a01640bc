//! Starting ./run and ./finish the way s6 2.15 does: a new session, the supervisor's
//! environment, an empty signal mask with default dispositions, only fds 0-2 (plus the
//! notification and lock fds), and exec failures reported synchronously to the parent
//! through a close-on-exec pipe.
//!
//! Everything the child needs is prepared before it is created (`clone(CLONE_VM|CLONE_VFORK)`
//! as posix_spawn does, or `fork`); between its creation and `exec` the child
//! only makes async-signal-safe system calls.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// An fd to install at a fixed number in the child.
#[derive(Clone, Copy, Debug)]
pub struct FdMove {
    /// Open in the parent (close-on-exec).
    pub from: i32,
    /// Where the child gets it (without close-on-exec).
    pub to: i32,
    /// Take a POSIX write lock on it once installed (the service waits for it, as under
    /// s6-setlock, without making the supervisor wait).
    pub lock: bool,
}

/// What to spawn.
pub struct SpawnSpec<'a> {
    pub path: &'a CString,
    pub argv: &'a [CString],
    pub moves: &'a [FdMove],
    pub new_pidns: bool,
    /// Signals that were ignored when the supervisor started: they stay ignored in the child
    /// (as exec would keep them), the other caught ones go back to their default.
    pub ignored: &'a [i32],
}

/// Make a C string from arbitrary bytes (an interior NUL cuts the string, as C would).
pub fn cstring(b: &[u8]) -> CString {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    CString::new(b.get(..end).unwrap_or(&[])).unwrap_or_default()
}

pub fn cstring_os(s: &OsStr) -> CString {
    cstring(s.as_bytes())
}

/// The signals the supervisor catches: the child must get them back at their defaults.
const CAUGHT: [i32; 6] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGINT,
    libc::SIGPIPE,
];

/// Spawn; returns the child's pid, or the errno of the failed step (fork, pipe, or whatever
/// failed in the child before or at exec — in which case the child has been reaped).
pub fn spawn(spec: &SpawnSpec<'_>) -> Result<libc::pid_t, Errno> {
    // A program that does not exist fails exec with ENOENT: report that without forking
    // (./finish usually does not exist, and its spawn sits between a death and the down
    // event). Anything else, including a dangling interpreter, goes through exec as before.
    if nix::sys::stat::stat(spec.path.as_c_str()) == Err(Errno::ENOENT) {
        return Err(Errno::ENOENT);
    }
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // The child parks the error pipe above every target fd.
    let min_free = spec.moves.iter().map(|m| m.to).max().unwrap_or(2).max(2) + 1;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let args = ChildArgs {
        path: spec.path.as_ptr(),
        argv: argv.as_ptr(),
        moves: spec.moves,
        ignored: spec.ignored,
        err_w: err_w.as_raw_fd(),
        min_free,
    };
    let created = create_child(&args, spec.new_pidns);
    // Our copy of the write end goes now: end-of-file on the read end means "exec'd".
    drop(err_w);
    let pid = created?;
    match read_child_report(&err_r) {
        ChildReport::Execd | ChildReport::WaitingForLock => Ok(pid),
        ChildReport::Failed(errno) => {
            // The child is exiting: reap it now (it is not the tracked pid).
            reap(pid);
            Err(errno)
        }
    }
}

/// Create the child with every signal blocked (no handler may run in it before exec), in
/// the cheapest way the spec allows; the child runs [`child`]. Returns its pid.
fn create_child(a: &ChildArgs<'_>, new_pidns: bool) -> Result<libc::pid_t, Errno> {
    let mut old = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )?;
    let pid = if new_pidns {
        // SAFETY: a fork-like clone (no CLONE_VM, no stack: the child gets a copy of ours) in
        // a single-threaded process; nix has no wrapper for CLONE_NEWPID without a new stack.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        r as libc::pid_t
    } else if a.moves.iter().any(|m| m.lock) {
        // The child may wait for the service lock before exec: a plain fork, so that the
        // supervisor is not suspended meanwhile.
        // SAFETY: fork in a single-threaded process; the child runs `child` only.
        unsafe { libc::fork() }
    } else {
        // SAFETY: signals are blocked, and `a` outlives the call (it suspends us until the
        // child execs or exits).
        unsafe { vfork_spawn(a) }
    };
    if pid == 0 {
        // SAFETY: we are the child of a fork: `a` is our copy of the prepared data.
        unsafe { child(a) }
    }
    let created = if pid < 0 { Err(Errno::last()) } else { Ok(pid) };
    // Restoring the mask saved above cannot fail with a valid `how`.
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    created
}

/// What the child said on the error pipe before exec (or its closing).
enum ChildReport {
    /// Nothing: the pipe closed at exec.
    Execd,
    /// A zero errno: the child waits for the service lock, then execs.
    WaitingForLock,
    /// The errno of the step that failed; the child is exiting.
    Failed(Errno),
}

fn read_child_report(err_r: &OwnedFd) -> ChildReport {
    let mut buf = [0u8; 4];
    let mut got = 0usize;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match nix::unistd::read(err_r, rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    let errno = i32::from_ne_bytes(buf);
    match (got, errno) {
        (0, _) => ChildReport::Execd,
        (4, 0) => ChildReport::WaitingForLock,
        (_, 0) => ChildReport::Failed(Errno::EIO),
        (_, e) => ChildReport::Failed(Errno::from_raw(e)),
    }
}

fn reap(pid: libc::pid_t) {
    while waitpid(Pid::from_raw(pid), None) == Err(Errno::EINTR) {}
}

/// What the child needs, prepared by the parent (the child must not allocate).
struct ChildArgs<'a> {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    moves: &'a [FdMove],
    ignored: &'a [i32],
    err_w: i32,
    min_free: i32,
}

/// Stack of a vfork-style child: it only runs [`child`] (system calls on prepared data).
const CHILD_STACK: usize = 64 * 1024;

/// Start the child as posix_spawn does: `clone(CLONE_VM | CLONE_VFORK)` on a small stack of
/// its own. No page tables are copied and no copy-on-write faults follow on either side; the
/// parent is suspended until the child execs or exits (the error pipe then tells which).
/// Returns the child's pid, or -1 with errno set.
///
/// # Safety
/// Signals must be blocked (the child shares our memory until exec), and `a` must stay valid
/// until this returns, which it does since the call suspends us until the child execs or exits.
unsafe fn vfork_spawn(a: &ChildArgs<'_>) -> libc::pid_t {
    extern "C" fn run(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: arg is the parent's ChildArgs, alive while the parent is suspended.
        let a = unsafe { &*(arg as *const ChildArgs<'_>) };
        // SAFETY: we are the vfork-style child; `child` only makes system calls.
        unsafe { child(a) }
    }
    // SAFETY: an anonymous private mapping, no address hint.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            CHILD_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        // SAFETY: as for the caller's fork: single-threaded, the child runs `child` only.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: we are the child of a fork.
            unsafe { child(a) }
        }
        return pid;
    }
    // SAFETY: the stack grows down from the end of the mapping just made.
    let top = unsafe { stack.cast::<u8>().add(CHILD_STACK) };
    // SAFETY: CLONE_VM | CLONE_VFORK with a stack of our own: the parent is suspended until
    // the child execs or exits, so `a` and the stack stay valid for the child's whole life.
    let pid = unsafe {
        libc::clone(
            run,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            a as *const ChildArgs<'_> as *mut libc::c_void,
        )
    };
    let e = Errno::last();
    // SAFETY: unmapping the stack mapped above, no longer used (the child exec'd or exited).
    unsafe { libc::munmap(stack, CHILD_STACK) };
    Errno::set_raw(e as i32);
    pid
}

/// Report the current errno on `fd` and exit 127.
///
/// # Safety
/// Child side only (it `_exit`s).
unsafe fn fail(fd: i32) -> ! {
    let b = (Errno::last() as i32).to_ne_bytes();
    // SAFETY: writing a local buffer to our error pipe; nobody to tell if it fails.
    unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(common::msg::exit::EXEC_NOENT) }
}

/// The child between fork and exec: a new session, clean signals, the fds in place, the
/// locks taken, exec. Never returns.
///
/// # Safety
/// Child side of a fork or vfork-style clone only; makes async-signal-safe system calls.
unsafe fn child(a: &ChildArgs<'_>) -> ! {
    // SAFETY: setsid has no memory effects.
    if unsafe { libc::setsid() } < 0 {
        // SAFETY: child side.
        unsafe { fail(a.err_w) }
    }
    // SAFETY: child side.
    unsafe { child_reset_signals(a.ignored) };
    // SAFETY: child side.
    let err = unsafe { child_install_fds(a) };
    // SAFETY: child side.
    let detached = unsafe { child_take_locks(a.moves, err) };
    // SAFETY: path and argv are NUL-terminated, prepared by the parent and alive until exec.
    unsafe { libc::execv(a.path, a.argv) };
    if detached {
        // SAFETY: child side; the parent was already told the service started.
        unsafe { libc::_exit(common::msg::exit::EXEC_NOENT) }
    }
    // SAFETY: child side.
    unsafe { fail(err) }
}

/// Default dispositions for the signals the supervisor catches (those ignored when it
/// started stay ignored, as exec would keep them), and an empty mask.
///
/// # Safety
/// Child side only.
unsafe fn child_reset_signals(ignored: &[i32]) {
    for &s in CAUGHT.iter() {
        let disp = if ignored.contains(&s) {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        // SAFETY: installing SIG_IGN / SIG_DFL runs no code of ours.
        unsafe { libc::signal(s, disp) };
    }
    let empty = SigSet::empty();
    // SAFETY: sigprocmask with a valid set; nix's wrapper is not used in the child to stay
    // with plain system calls there.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, empty.as_ref(), std::ptr::null_mut()) };
}

/// Park the error pipe and every source fd above the targets (so that no dup2 overwrites an
/// fd still needed), then install each at its number. Returns the parked error pipe.
///
/// # Safety
/// Child side only.
unsafe fn child_install_fds(a: &ChildArgs<'_>) -> i32 {
    // SAFETY: fcntl on an fd the parent gave us.
    let err = unsafe { libc::fcntl(a.err_w, libc::F_DUPFD_CLOEXEC, a.min_free) };
    if err < 0 {
        // SAFETY: child side.
        unsafe { fail(a.err_w) }
    }
    let mut parked = [-1i32; 4];
    for (slot, m) in parked.iter_mut().zip(a.moves) {
        // SAFETY: fcntl on an fd the parent gave us.
        let fd = unsafe { libc::fcntl(m.from, libc::F_DUPFD_CLOEXEC, a.min_free) };
        if fd < 0 {
            // SAFETY: child side.
            unsafe { fail(err) }
        }
        *slot = fd;
    }
    for (&from, m) in parked.iter().zip(a.moves) {
        // SAFETY: dup2 between fds of ours.
        if unsafe { libc::dup2(from, m.to) } < 0 {
            // SAFETY: child side.
            unsafe { fail(err) }
        }
        if m.lock {
            // Any close of an fd on the file drops a POSIX lock: close the other copies now
            // (they are close-on-exec and would go at exec time, after the lock is taken).
            // SAFETY: closing our own copies.
            unsafe { libc::close(from) };
            // SAFETY: as above.
            unsafe { libc::close(m.from) };
        }
    }
    err
}

/// Take the write lock of every lock fd. When another instance holds one, tell the parent
/// the service is started (a zero errno) and wait for it, as under s6-setlock. Returns
/// whether the parent was told so.
///
/// # Safety
/// Child side only.
unsafe fn child_take_locks(moves: &[FdMove], err: i32) -> bool {
    let mut detached = false;
    for m in moves.iter().filter(|m| m.lock) {
        // SAFETY: flock is a plain C struct; all-zero is a valid value (whole file).
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: F_SETLK with a valid flock.
        if unsafe { libc::fcntl(m.to, libc::F_SETLK, &fl) } == 0 {
            continue;
        }
        let e = Errno::last();
        if e != Errno::EAGAIN && e != Errno::EACCES {
            // SAFETY: child side.
            unsafe { fail(err) }
        }
        if !detached {
            let b = 0i32.to_ne_bytes();
            // SAFETY: writing a local buffer to our error pipe, then closing it.
            unsafe { libc::write(err, b.as_ptr().cast(), b.len()) };
            // SAFETY: as above.
            unsafe { libc::close(err) };
            detached = true;
        }
        // SAFETY: F_SETLKW with a valid flock.
        while unsafe { libc::fcntl(m.to, libc::F_SETLKW, &fl) } < 0 {
            if Errno::last() != Errno::EINTR {
                // SAFETY: child side.
                unsafe { libc::_exit(common::msg::exit::SYSTEM) }
            }
        }
    }
    detached
}

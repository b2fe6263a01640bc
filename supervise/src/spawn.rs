//! Starting ./run and ./finish the way s6 2.15 does: a new session, the supervisor's
//! environment, an empty signal mask with default dispositions, only fds 0-2 (plus the
//! notification and lock fds), and exec failures reported synchronously to the parent
//! through a close-on-exec pipe.
//!
//! Everything the child needs is prepared before it is created (`clone(CLONE_VM|CLONE_VFORK)`
//! as posix_spawn does, or `fork`); between its creation and `exec` the child
//! only makes async-signal-safe system calls.

use nix::errno::Errno;
use std::ffi::{CString, OsStr};
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
    // SAFETY: stat of a NUL-terminated path into local storage.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::stat(spec.path.as_ptr(), &mut st) } < 0 && Errno::last() == Errno::ENOENT {
        return Err(Errno::ENOENT);
    }
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let path = spec.path.as_ptr();
    let moves = spec.moves;
    // The child parks the error pipe above every target fd.
    let min_free = moves.iter().map(|m| m.to).max().unwrap_or(2).max(2) + 1;

    let mut p = [-1i32; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Errno::last());
    }
    let (err_r, err_w) = (p[0], p[1]);

    // Block every signal across fork so no handler runs in the child before exec.
    // SAFETY: plain sigset manipulation on local storage.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }

    // SAFETY: fork/clone in a single-threaded process; the child only performs
    // async-signal-safe calls on data prepared above, then execs or _exits.
    let pid = unsafe {
        if spec.new_pidns {
            libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            ) as libc::pid_t
        } else if moves.iter().any(|m| m.lock) {
            // The child may wait for the service lock before exec: a plain fork, so that the
            // supervisor is not suspended meanwhile.
            libc::fork()
        } else {
            vfork_spawn(&ChildArgs {
                path,
                argv: argv.as_ptr(),
                moves,
                ignored: spec.ignored,
                err_w,
                min_free,
            })
        }
    };
    if pid == 0 {
        // SAFETY: child side, see above.
        unsafe { child(path, argv.as_ptr(), moves, spec.ignored, err_w, min_free) }
    }
    let fork_err = Errno::last();
    // SAFETY: restoring the mask saved above; closing our copy of the write end.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        libc::close(err_w);
    }
    if pid < 0 {
        // SAFETY: closing the read end we own.
        unsafe { libc::close(err_r) };
        return Err(fork_err);
    }
    let mut buf = [0u8; 4];
    let mut got = 0usize;
    loop {
        // SAFETY: reading into the remaining part of a local buffer.
        let r = unsafe { libc::read(err_r, buf.as_mut_ptr().add(got).cast(), buf.len() - got) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            break;
        }
        if r == 0 {
            break;
        }
        got += r as usize;
        if got == buf.len() {
            break;
        }
    }
    // SAFETY: closing the read end we own.
    unsafe { libc::close(err_r) };
    if got == 0 {
        return Ok(pid);
    }
    let errno = i32::from_ne_bytes(buf);
    if errno == 0 && got == buf.len() {
        // The child is waiting for the service lock before exec: it is started.
        return Ok(pid);
    }
    // The child reported a failure and is exiting: reap it now (it is not the tracked pid).
    let mut st = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r >= 0 || Errno::last() != Errno::EINTR {
            break;
        }
    }
    Err(Errno::from_raw(if errno == 0 { libc::EIO } else { errno }))
}

/// What the child needs, for [`vfork_spawn`].
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
        unsafe {
            let a = &*(arg as *const ChildArgs<'_>);
            child(a.path, a.argv, a.moves, a.ignored, a.err_w, a.min_free)
        }
    }
    let stack = libc::mmap(
        std::ptr::null_mut(),
        CHILD_STACK,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
        -1,
        0,
    );
    if stack == libc::MAP_FAILED {
        return libc::fork();
    }
    let pid = libc::clone(
        run,
        stack.cast::<u8>().add(CHILD_STACK).cast(),
        libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        a as *const ChildArgs<'_> as *mut libc::c_void,
    );
    let e = Errno::last();
    libc::munmap(stack, CHILD_STACK);
    Errno::set_raw(e as i32);
    pid
}

/// The child between fork and exec. Never returns.
unsafe fn child(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    moves: &[FdMove],
    ignored: &[i32],
    err_w: i32,
    min_free: i32,
) -> ! {
    let fail = |fd: i32| -> ! {
        let e = Errno::last() as i32;
        let b = e.to_ne_bytes();
        libc::write(fd, b.as_ptr().cast(), b.len());
        libc::_exit(127)
    };
    if libc::setsid() < 0 {
        fail(err_w);
    }
    for &s in CAUGHT.iter() {
        let disp = if ignored.contains(&s) {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        libc::signal(s, disp);
    }
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

    // Park the error pipe and every source fd above the targets, so no dup2 below
    // overwrites an fd still needed.
    let err = libc::fcntl(err_w, libc::F_DUPFD_CLOEXEC, min_free);
    if err < 0 {
        fail(err_w);
    }
    let mut parked = [-1i32; 4];
    for (i, m) in moves.iter().enumerate().take(parked.len()) {
        let fd = libc::fcntl(m.from, libc::F_DUPFD_CLOEXEC, min_free);
        if fd < 0 {
            fail(err);
        }
        parked[i] = fd;
    }
    for (i, m) in moves.iter().enumerate().take(parked.len()) {
        if libc::dup2(parked[i], m.to) < 0 {
            fail(err);
        }
        if m.lock {
            // Any close of an fd on the file drops a POSIX lock: close the other copies now
            // (they are close-on-exec and would go at exec time, after the lock is taken).
            libc::close(parked[i]);
            libc::close(m.from);
        }
    }
    let mut detached = false;
    for m in moves.iter().filter(|m| m.lock) {
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        if libc::fcntl(m.to, libc::F_SETLK, &fl) == 0 {
            continue;
        }
        let e = Errno::last();
        if e != Errno::EAGAIN && e != Errno::EACCES {
            fail(err);
        }
        // Another instance holds it: like s6-setlock, the service waits for the lock. Tell
        // the parent the service is started (a zero errno), so the supervisor does not wait.
        if !detached {
            let b = 0i32.to_ne_bytes();
            libc::write(err, b.as_ptr().cast(), b.len());
            libc::close(err);
            detached = true;
        }
        while libc::fcntl(m.to, libc::F_SETLKW, &fl) < 0 {
            if Errno::last() != Errno::EINTR {
                libc::_exit(111);
            }
        }
    }
    libc::execv(path, argv);
    if detached {
        libc::_exit(127)
    }
    fail(err)
}

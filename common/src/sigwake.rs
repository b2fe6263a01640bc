//! Caught signals as a `mio` source, with no heap: the daemons' signal handling.
//!
//! The handler is ours, installed with `sigaction` (`SA_RESTART`, empty mask, as
//! signal-hook's): it saves `errno`, sets the signal's flag in a static table, writes one
//! byte to a self-pipe that the daemon's `mio::Poll` watches, and restores `errno`; all of
//! it async-signal-safe. No registry: signal-hook's keeps a map of every handled signal and
//! copies it on each registration (a few KiB of heap in every process, a dirty page of every
//! supervisor), and `signal_hook_mio::Signals` adds a 6 KiB table. Here the state is 65
//! static flags and one pipe. A disposition inherited as `SIG_IGN` is still what
//! `sigaction` reads before [`SignalSet::new`] (the daemons look first, to restore it in
//! their children). There is nothing to chain to: an exec'd program starts with no handler.
//!
//! One [`SignalSet`] per process (the flags and the pipe's write end are process-wide).

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::fcntl::OFlag;

/// Signals 1 to 64 (Linux's real-time signals included); index 0 unused.
const NSIG: usize = 65;

#[allow(clippy::declare_interior_mutable_const)] // only used to initialise the static array
const CLEAR: AtomicBool = AtomicBool::new(false);
static PENDING: [AtomicBool; NSIG] = [CLEAR; NSIG];
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The signals that cannot be caught, or must not be (a fault's handler returning would
/// run the faulting instruction again): signal-hook's list, exactly (SIGBUS is allowed, as
/// there: s6-background-watch forwards it).
const FORBIDDEN: [i32; 5] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGSEGV,
];

/// The caught signals of this process, readable in `mio` when one has arrived.
pub struct SignalSet {
    read: OwnedFd,
    /// The caught signals, in the order given; `len` of them are used.
    signals: [u8; NSIG],
    len: usize,
}

impl SignalSet {
    /// Catch `signals` (each in 1..=64, none of SIGKILL, SIGSTOP, SIGILL, SIGFPE, SIGSEGV:
    /// an `InvalidInput` error, as signal-hook gives).
    pub fn new(signals: &[i32]) -> io::Result<SignalSet> {
        let valid = |&sig: &i32| {
            usize::try_from(sig).is_ok_and(|s| s > 0 && s < NSIG) && !FORBIDDEN.contains(&sig)
        };
        if signals.len() > NSIG || !signals.iter().all(valid) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // The write end lives as long as the process: handlers may run at any time.
        let old = WAKE_FD.swap(write.into_raw_fd(), Ordering::SeqCst);
        if old >= 0 {
            // A second set replaces the first one's pipe; the old write end is closed.
            // SAFETY: `old` came from `into_raw_fd` above (in an earlier call), owned by us.
            drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(old) });
        }
        for &sig in signals {
            catch(sig)?;
        }
        let mut set = [0u8; NSIG];
        for (slot, &sig) in set.iter_mut().zip(signals) {
            *slot = u8::try_from(sig).unwrap_or(0); // 1..=64: checked above
        }
        Ok(SignalSet {
            read,
            signals: set,
            len: signals.len(),
        })
    }

    /// The signals that arrived since the last call, in signal-number order (several
    /// deliveries of one signal before the call count once, as with any signal). Drains
    /// the self-pipe first, so a signal arriving during the scan wakes the poll again.
    pub fn pending(&mut self) -> impl Iterator<Item = i32> + '_ {
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&self.read, &mut buf), Ok(n) if n > 0) {}
        let caught = self.signals.get(..self.len).unwrap_or(&[]);
        caught.iter().map(|&sig| i32::from(sig)).filter(|&sig| {
            usize::try_from(sig)
                .ok()
                .and_then(|s| PENDING.get(s))
                .is_some_and(|f| f.swap(false, Ordering::SeqCst))
        })
    }
}

/// Install [`handler`] for `sig`.
fn catch(sig: i32) -> io::Result<()> {
    // SAFETY: sigaction is a plain C struct; all-zero is a valid value to fill in.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t of ours.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: a valid action for a signal number checked by the caller; the handler only
    // does async-signal-safe work (atomics, write(2), errno).
    if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The signal handler: flag, then wake the poll; `errno` as it found it.
extern "C" fn handler(sig: libc::c_int) {
    let errno = nix::errno::Errno::last_raw();
    if let Some(flag) = usize::try_from(sig).ok().and_then(|s| PENDING.get(s)) {
        flag.store(true, Ordering::SeqCst);
    }
    let fd: RawFd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 0u8;
        // SAFETY: write(2) of one byte from a live local into a non-blocking pipe; a full
        // pipe (EAGAIN) already wakes the reader, so the result does not matter.
        unsafe {
            libc::write(fd, std::ptr::addr_of!(byte).cast(), 1);
        }
    }
    nix::errno::Errno::set_raw(errno);
}

impl Source for SignalSet {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.read.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.read.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.read.as_raw_fd()).deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn raise(sig: i32) {
        // SAFETY: raise(3) of a signal this test catches.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
    }

    #[test]
    fn raised_signals_wake_the_poll_and_are_reported_once() {
        static SIGS: [i32; 2] = [libc::SIGUSR1, libc::SIGUSR2];
        let mut set = SignalSet::new(&SIGS).unwrap();
        let mut poll = mio::Poll::new().unwrap();
        poll.registry()
            .register(&mut set, Token(1), Interest::READABLE)
            .unwrap();
        raise(libc::SIGUSR2);
        raise(libc::SIGUSR2);
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(1)));
        assert_eq!(set.pending().collect::<Vec<_>>(), vec![libc::SIGUSR2]);
        assert_eq!(set.pending().count(), 0);
        raise(libc::SIGUSR1);
        assert_eq!(set.pending().collect::<Vec<_>>(), vec![libc::SIGUSR1]);
    }

    #[test]
    fn forbidden_and_out_of_range_signals_are_refused() {
        static KILL: [i32; 1] = [libc::SIGKILL];
        static BIG: [i32; 1] = [99];
        assert!(SignalSet::new(&KILL).is_err());
        assert!(SignalSet::new(&BIG).is_err());
    }
}

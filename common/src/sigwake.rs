//! Caught signals as a `mio` source, with no heap in steady state: the daemons' signal
//! handling.
//!
//! The handlers are signal-hook's (its registry chains, restores errno and keeps the
//! dispositions a process inherited as `SIG_IGN` visible to us before we register); the
//! action each runs is two async-signal-safe steps: set the signal's flag in a static table,
//! then write one byte to a self-pipe that the daemon's `mio::Poll` watches. Unlike
//! `signal_hook_mio::Signals`, nothing is sized for every possible signal on the heap (its
//! backend allocates a 6 KiB table per process): here the state is 65 static flags and one
//! pipe, which matters in a supervisor that runs once per service.
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

/// The caught signals of this process, readable in `mio` when one has arrived.
pub struct SignalSet {
    read: OwnedFd,
    /// The caught signals, in the order given; `len` of them are used.
    signals: [i32; NSIG],
    len: usize,
}

impl SignalSet {
    /// Catch `signals` (each in 1..=64, none of SIGKILL, SIGSTOP, SIGSEGV, SIGILL, SIGFPE,
    /// SIGBUS, which signal-hook refuses: an `InvalidInput` error).
    pub fn new(signals: &[i32]) -> io::Result<SignalSet> {
        let mut slots = [0usize; NSIG];
        for (slot, &sig) in slots.iter_mut().zip(signals) {
            *slot = usize::try_from(sig)
                .ok()
                .filter(|&s| s > 0 && s < NSIG && !signal_hook::consts::FORBIDDEN.contains(&sig))
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        }
        if signals.len() > NSIG {
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
        for (&sig, &slot) in signals.iter().zip(&slots) {
            // SAFETY: the action only stores to a static atomic and calls write(2) on a
            // raw fd, both async-signal-safe; it allocates nothing and takes no lock.
            unsafe { signal_hook::low_level::register(sig, move || wake(slot)) }?;
        }
        let mut set = [0; NSIG];
        for (slot, &sig) in set.iter_mut().zip(signals) {
            *slot = sig;
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
        caught.iter().copied().filter(|&sig| {
            usize::try_from(sig)
                .ok()
                .and_then(|s| PENDING.get(s))
                .is_some_and(|f| f.swap(false, Ordering::SeqCst))
        })
    }
}

/// The signal action: flag, then wake the poll.
fn wake(slot: usize) {
    if let Some(flag) = PENDING.get(slot) {
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

    #[test]
    fn raised_signals_wake_the_poll_and_are_reported_once() {
        static SIGS: [i32; 2] = [libc::SIGUSR1, libc::SIGUSR2];
        let mut set = SignalSet::new(&SIGS).unwrap();
        let mut poll = mio::Poll::new().unwrap();
        poll.registry()
            .register(&mut set, Token(1), Interest::READABLE)
            .unwrap();
        signal_hook::low_level::raise(libc::SIGUSR2).unwrap();
        signal_hook::low_level::raise(libc::SIGUSR2).unwrap();
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(1)));
        assert_eq!(set.pending().collect::<Vec<_>>(), vec![libc::SIGUSR2]);
        assert_eq!(set.pending().count(), 0);
        signal_hook::low_level::raise(libc::SIGUSR1).unwrap();
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
